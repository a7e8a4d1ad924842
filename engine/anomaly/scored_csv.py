"""The scored CSV: the original rows (or image names) with anomaly_score, anomaly_flag and anomaly_score_kind
(which score the numbers are: "error" or "blurred_error", the same on every row), written atomically."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from engine.anomaly.data import AnomalyData
from engine.anomaly.detector import Scores, flags_of
from engine.core.errors import DetectorFileError
from engine.core.fileio import atomic_path


def write_scored_csv(scores: Scores, threshold: float, path: str | Path) -> Path:
    """Original rows + anomaly_score + anomaly_flag + anomaly_score_kind, written atomically."""
    path = Path(path)
    data = scores.data
    flags = flags_of(scores, threshold).astype(int)
    if data.table is not None:
        header = list(data.table.names)
        rows = data.table.cells.tolist()
        values = scores.point_scores if data.kind == "sequence" else scores.errors
    else:
        header = ["sample"] if data.kind == "image" else list(data.names)
        rows = ([[name] for name in data.sample_names] if data.sample_names and data.kind == "image"
                else _plain_rows(data))
        values = scores.errors
    if data.labels is not None and data.kind != "sequence" and data.table is None:
        header.append("label_anomalous")
        rows = [row + [int(label)] for row, label in zip(rows, data.labels)]
    header += ["anomaly_score", "anomaly_flag", "anomaly_score_kind"]
    try:
        with atomic_path(path) as tmp:
            with open(tmp, "w", newline="", encoding="utf-8") as f:
                writer = csv.writer(f)
                writer.writerow(header)
                for row, value, flag in zip(rows, values, flags):
                    writer.writerow(list(row) + [f"{float(value):.6g}", int(flag), scores.score_kind])
    except OSError as exc:
        raise DetectorFileError(f"Could not write {path}: {exc.strerror or exc}. Choose another folder.") from exc
    return path


def _plain_rows(data: AnomalyData) -> list[list]:
    if data.kind == "image":
        return [[f"#{i}"] for i in range(len(data.x_score))]
    raw = data.scaler.mean + data.x_score.astype(np.float64) * data.scaler.scale  # synthetic: the values shown
    return [[f"{v:.6g}" for v in row] for row in raw]
