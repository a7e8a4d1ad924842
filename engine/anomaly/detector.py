"""Anomaly detectors: train on normal data, score by reconstruction error, save and reload as one file.

A detector file (.aedet) is a zip holding `detector.json` (kind, threshold, scaler, table encoding,
settings), `model.keras` (opened with safe_mode=True) and `train_errors.npy` (allow_pickle=False).
"""
from __future__ import annotations

import csv
import io
import json
import tempfile
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.anomaly import scores as anomaly
from engine.anomaly.data import AnomalyData, AnomalySpec, Scaler, folder_labels, load_anomaly_data
from engine.core.config import SEQUENCE_KINDS, ConfigError, TrainConfig
from engine.data.dataset import Dataset, DataError, read_image_files
from engine.core.events import EventCallback, Progress, ignore_event
from engine.core.fileio import atomic_path

DETECTOR_SUFFIX = ".aedet"
FORMAT = "autoencoder-studio-detector"
MAX_UNPACKED_BYTES = 4 << 30
KIND_MODELS = {  # model kinds offered per data kind; the first is the default
    "table": ("deep", "dense", "sparse"),
    "image": ("deep", "dense", "conv"),
    "sequence": ("conv1d", "transformer"),
}
DEFAULT_PERCENTILE = 99.0
BATCH = 512


class DetectorFileError(ValueError):
    """A detector file could not be read or written; the message says why and what to do."""


def data_kind(source: str) -> str:
    return {"synthetic": "table", "table": "table", "mnist": "image", "folders": "image"}.get(source, "sequence")


def default_config(kind: str, model_kind: str | None = None, **changes: Any) -> TrainConfig:
    """Settings that work for each data kind (the Anomaly tab's defaults)."""
    model_kind = model_kind or KIND_MODELS[kind][0]
    base = {"table": dict(code_size=4, epochs=40, batch_size=32, learning_rate=1e-3, loss="mse"),
            # one-class MNIST (benchmarks/anomaly_mnist.py): a deep dense AE with a 16-unit code and an MSE
            # loss beat a conv AE and BCE scores in a sweep of code size, loss, epochs and input noise
            "image": dict(code_size=16, epochs=20, batch_size=128, learning_rate=1e-3, loss="mse"),
            "sequence": dict(code_size=8, epochs=20, batch_size=32, learning_rate=1e-3, loss="mse")}[kind]
    base.update(model_kind=model_kind, lr_schedule="cosine", filters=32, validation_fraction=0.1)
    base.update(changes)
    return TrainConfig(**base)


def check_config(kind: str, config: TrainConfig) -> None:
    if config.model_kind not in KIND_MODELS[kind]:
        allowed = ", ".join(KIND_MODELS[kind])
        raise ConfigError(f"A {config.model_kind} model does not fit {kind} data; choose one of {allowed}.")


@dataclass
class Scores:
    """Every scored sample's reconstruction error, with what the plots need to explain it."""

    errors: np.ndarray  # one score per sample (row, image or window)
    labels: np.ndarray | None
    inputs: np.ndarray  # what was scored (scaled rows, images, windows)
    outputs: np.ndarray  # reconstructions
    data: AnomalyData
    shares: np.ndarray | None = None  # tables: each feature's share of the row's error
    point_scores: np.ndarray | None = None  # sequences: a score per step of the series

    def error_maps(self, indices: np.ndarray) -> np.ndarray:
        return anomaly.error_maps(self.inputs[indices], self.outputs[indices])

    def top_features(self, row: int, count: int = 3) -> list[tuple[str, float]]:
        """The features that contribute most to a table row's error, with their shares."""
        if self.shares is None:
            return []
        order = np.argsort(-self.shares[row])[:count]
        return [(self.data.names[i], float(self.shares[row, i])) for i in order]


@dataclass
class Detector:
    model: Any  # keras.Model
    kind: str
    threshold: float
    train_errors: np.ndarray
    spec: AnomalySpec
    config: TrainConfig
    scaler: Scaler | None = None
    encoding: dict | None = None
    names: tuple[str, ...] = ()
    metrics: dict = field(default_factory=dict)

    def suggestions(self, scores: Scores | None = None, percentile: float = DEFAULT_PERCENTILE,
                    k: float = 3.0) -> dict[str, float]:
        errors, labels = (scores.errors, scores.labels) if scores is not None else (None, None)
        return anomaly.suggested_thresholds(self.train_errors, errors, labels, percentile, k)


def predict_in_batches(model, x: np.ndarray, stop: threading.Event | None = None,
                       on_event: EventCallback = ignore_event, what: str = "Scoring") -> np.ndarray:
    from engine.models.files import predict

    parts = []
    for start in range(0, len(x), BATCH):
        if stop is not None and stop.is_set():
            raise InterruptedError("Scoring was stopped.")
        parts.append(predict(model, x[start:start + BATCH], batch_size=BATCH))
        on_event(Progress(min(len(x), start + BATCH), len(x), what))
    return np.concatenate(parts) if parts else np.empty_like(x)


def score(model, data: AnomalyData, stop: threading.Event | None = None,
          on_event: EventCallback = ignore_event) -> Scores:
    """Reconstruct and score every sample of `data`."""
    from engine.models.files import check_fits

    check_fits(model, data.x_score.shape[1:])
    outputs = predict_in_batches(model, data.x_score, stop, on_event)
    if data.kind == "sequence":
        per_step = anomaly.step_errors(data.x_score, outputs)
        points = anomaly.point_scores(per_step, data.starts, len(data.series))
        return Scores(per_step.mean(axis=1), data.labels, data.x_score, outputs, data, point_scores=points)
    errors = anomaly.sample_scores(data.x_score, outputs)
    shares = anomaly.feature_shares(data.x_score, outputs) if data.kind == "table" else None
    return Scores(errors, data.labels, data.x_score, outputs, data, shares=shares)


def training_errors(model, data: AnomalyData, stop=None, limit: int = 20000) -> np.ndarray:
    """Reconstruction errors of the normal training samples (up to `limit`, evenly spaced)."""
    x = data.train_samples
    if len(x) > limit:
        x = x[np.linspace(0, len(x) - 1, limit).astype(np.int64)]
    return anomaly.sample_scores(x, predict_in_batches(model, x, stop, what="Scoring the training data"))


@dataclass
class DetectorOutcome:
    detector: Detector
    scores: Scores
    result: Any = None  # engine.training.fit.TrainResult


def train_detector_job(spec: AnomalySpec, config: TrainConfig):
    """Load the data, train on the normal samples (events stream as in the Training tab), score everything."""

    def job(on_event: EventCallback, stop: threading.Event) -> DetectorOutcome:
        on_event(Progress(0, 0, "Loading data…"))
        data = load_anomaly_data(spec, on_event)
        check_config(data.kind, config)
        on_event(Progress(0, 0, "Building the model (first start loads TensorFlow)…"))
        from engine.training.fit import train

        result = train(config, data.train, on_event, stop)
        detector = _detector(result.model, data, spec, config, training_errors(result.model, data))
        scores = score(result.model, data, None, on_event)  # a stop keeps the best model: still score it
        detector.metrics = summary_metrics(scores)
        return DetectorOutcome(detector, scores, result)

    return job


def _detector(model, data: AnomalyData, spec, config, train_errors) -> Detector:
    threshold = anomaly.percentile_threshold(train_errors, DEFAULT_PERCENTILE)
    return Detector(model, data.kind, threshold, train_errors, spec, config, data.scaler, data.encoding, data.names)


def summary_metrics(scores: Scores) -> dict[str, float]:
    if not anomaly.has_both_classes(scores.labels):
        return {}
    found = anomaly.curves(scores.errors, scores.labels)
    return {"auroc": found.auroc, "average_precision": found.average_precision}


# --------------------------------------------------------------------------- scoring new data

def score_new_job(detector: Detector, path: str = "", score_path: str = ""):
    """Score another file (tables, sequences) or folder (images) with a trained or loaded detector."""

    def job(on_event: EventCallback, stop: threading.Event) -> Scores:
        on_event(Progress(0, 0, "Reading the data to score…"))
        data = data_for(detector, path, score_path, on_event)
        scores = score(detector.model, data, stop, on_event)
        return scores

    return job


def data_for(detector: Detector, path: str = "", score_path: str = "",
             on_event: EventCallback = ignore_event) -> AnomalyData:
    """The data a detector scores: a new file or folder when given, else its own source again."""
    spec = detector.spec
    if detector.kind == "table" and path:
        return _new_table(detector, path)
    if detector.kind == "sequence" and path:
        return _new_sequence(detector, path)
    if detector.kind == "image" and score_path:
        size = tuple(int(s) for s in detector.model.input_shape[1:3])
        color = "rgb" if detector.model.input_shape[-1] == 3 else "grey"
        found = read_image_files(score_path, size=size, color=color, on_event=on_event)
        labels, notes = folder_labels(found)
        empty = found.x[:0]
        return AnomalyData("image", Dataset(empty, empty), found.x, labels, found.source,
                           sample_names=found.names, notes=notes)
    return load_anomaly_data(spec, on_event)


def _new_table(detector: Detector, path: str) -> AnomalyData:
    from engine.data import table_features as features
    from engine.data import tables

    if detector.encoding is None:  # the synthetic demo has no file encoding
        raise DataError("This detector was trained on the synthetic demo; it can only score that demo again.")
    table = tables.read_table(path)
    encoding = features.TableEncoding.from_dict(detector.encoding)
    x, labels = features.apply_encoding(table, encoding)
    x_scaled = detector.scaler.transform(x)
    empty = x_scaled[:0]
    source = f"{Path(path).name}: {table.n_rows} rows scored"
    return AnomalyData("table", Dataset(empty, empty), x_scaled, labels, source, detector.names,
                       scaler=detector.scaler, encoding=detector.encoding, table=table)


def _new_sequence(detector: Detector, path: str) -> AnomalyData:
    from engine.data import table_features as features
    from engine.data import tables

    table = tables.read_table(path)
    columns = list(detector.encoding["columns"])
    missing = [c for c in columns if c not in table.names]
    if missing:
        raise DataError(f"{Path(path).name} lacks the column(s) {', '.join(missing)} that the detector was "
                        f"trained on ({', '.join(columns)}). Choose a file with those columns.")
    series = features.numeric_matrix(table, columns, impute=detector.spec.impute)
    windows, starts = anomaly.sliding_windows(detector.scaler.transform(series), detector.spec.window,
                                              detector.spec.stride)
    empty = windows[:0]
    return AnomalyData("sequence", Dataset(empty, empty), windows, None, f"{Path(path).name}: {len(series)} steps",
                       names=tuple(columns), scaler=detector.scaler, encoding=detector.encoding, table=table,
                       series=series, starts=starts)


# --------------------------------------------------------------------------- scored CSV

def flags_of(scores: Scores, threshold: float) -> np.ndarray:
    """Per exported row: a table row / image above the threshold, or a step inside a flagged window."""
    flagged = scores.errors > threshold
    if scores.data.kind != "sequence":
        return flagged
    steps = np.zeros(len(scores.data.series) + 1, np.int64)
    window = scores.inputs.shape[1]
    starts = scores.data.starts[flagged]
    np.add.at(steps, starts, 1)
    np.add.at(steps, starts + window, -1)
    return np.cumsum(steps)[:-1] > 0


def write_scored_csv(scores: Scores, threshold: float, path: str | Path) -> Path:
    """Original rows + anomaly_score + anomaly_flag, written atomically."""
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
    header += ["anomaly_score", "anomaly_flag"]
    try:
        with atomic_path(path) as tmp:
            with open(tmp, "w", newline="", encoding="utf-8") as f:
                writer = csv.writer(f)
                writer.writerow(header)
                for row, value, flag in zip(rows, values, flags):
                    writer.writerow(list(row) + [f"{float(value):.6g}", int(flag)])
    except OSError as exc:
        raise DetectorFileError(f"Could not write {path}: {exc.strerror or exc}. Choose another folder.") from exc
    return path


def _plain_rows(data: AnomalyData) -> list[list]:
    if data.kind == "image":
        return [[f"#{i}"] for i in range(len(data.x_score))]
    raw = data.scaler.mean + data.x_score.astype(np.float64) * data.scaler.scale  # synthetic: the values shown
    return [[f"{v:.6g}" for v in row] for row in raw]


# --------------------------------------------------------------------------- detector files

def save_detector(detector: Detector, path: str | Path) -> Path:
    """Write model + scaler + threshold + settings as one .aedet file, atomically."""
    path = Path(path)
    if path.suffix != DETECTOR_SUFFIX:
        path = path.with_name(path.name + DETECTOR_SUFFIX)
    meta = {"format": FORMAT, "version": 1, "kind": detector.kind, "threshold": float(detector.threshold),
            "spec": detector.spec.to_dict(), "config": detector.config.to_dict(),
            "scaler": detector.scaler.to_dict() if detector.scaler is not None else None,
            "encoding": detector.encoding, "names": list(detector.names), "metrics": detector.metrics}
    errors = io.BytesIO()
    np.save(errors, np.asarray(detector.train_errors, np.float32), allow_pickle=False)
    try:
        with tempfile.TemporaryDirectory() as folder, atomic_path(path) as tmp:
            model_file = Path(folder) / "model.keras"
            detector.model.save(model_file)
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr("detector.json", json.dumps(meta, indent=1))
                z.write(model_file, "model.keras")
                z.writestr("train_errors.npy", errors.getvalue())
    except OSError as exc:
        raise DetectorFileError(f"Could not write {path}: {exc.strerror or exc}. Choose another folder.") from exc
    return path


def load_detector(path: str | Path) -> Detector:
    """Open a .aedet file: the model in Keras safe mode, arrays without pickle; clear reasons on failure."""
    from engine.models.files import ModelFileError, load_model

    path = Path(path)
    if not path.is_file():
        raise DetectorFileError(f"{path} does not exist or is not a file.")
    if not zipfile.is_zipfile(path):
        raise DetectorFileError(f"{path.name} is not a detector file (Autoencoder Studio saves detectors as "
                                f"{DETECTOR_SUFFIX} zip files); it may be another kind of file or damaged.")
    try:
        with zipfile.ZipFile(path) as z, tempfile.TemporaryDirectory() as folder:
            if sum(i.file_size for i in z.infolist()) > MAX_UNPACKED_BYTES:
                raise DetectorFileError(f"{path.name} unpacks to more than 4 GiB; it is not a detector file.")
            meta = json.loads(z.read("detector.json"))
            if meta.get("format") != FORMAT:
                raise DetectorFileError(f"{path.name} is a zip file but not an Autoencoder Studio detector.")
            errors = np.load(io.BytesIO(z.read("train_errors.npy")), allow_pickle=False)
            model_file = Path(folder) / "model.keras"
            model_file.write_bytes(z.read("model.keras"))
            model = load_model(model_file)
        return Detector(model, meta["kind"], float(meta["threshold"]), errors.astype(np.float32),
                        AnomalySpec.from_dict(meta["spec"]), TrainConfig.from_dict(meta["config"]),
                        Scaler.from_dict(meta["scaler"]) if meta.get("scaler") else None, meta.get("encoding"),
                        tuple(meta.get("names", ())), dict(meta.get("metrics", {})))
    except DetectorFileError:
        raise
    except ModelFileError as exc:
        raise DetectorFileError(f"The model inside {path.name} could not be opened: {exc}") from exc
    except (KeyError, ValueError, TypeError, zipfile.BadZipFile, OSError, ConfigError) as exc:
        raise DetectorFileError(f"{path.name} is damaged or from another version ({type(exc).__name__}: "
                                f"{exc}). Train and save the detector again.") from exc


def load_detector_job(path: str):
    def job(on_event: EventCallback, stop: threading.Event) -> Detector:
        return load_detector(path)

    return job


def is_sequence_model(config: TrainConfig) -> bool:
    return config.model_kind in SEQUENCE_KINDS
