"""Anomaly detectors: an autoencoder trained on normal data only, every sample scored by its
reconstruction error, a threshold, and the data the detector scores (its own or a new file).
The detector's file format is engine.anomaly.files; the scored CSV engine.anomaly.scored_csv.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.anomaly import scores as anomaly
from engine.anomaly.data import AnomalyData, AnomalySpec, Scaler, folder_labels, load_anomaly_data, skipped_notes
from engine.core.config import TrainConfig
from engine.core.errors import ConfigError, DataError
from engine.core.jobs import JobState
from engine.data.dataset import Dataset
from engine.data.folders import read_image_files

KIND_MODELS = {  # model kinds offered per data kind; the first is the default
    "table": ("deep", "dense", "sparse"),
    "image": ("deep", "dense", "conv"),
    "sequence": ("conv1d", "transformer"),
}
DEFAULT_PERCENTILE = 99.0
BATCH = 512


def data_kind(source: str) -> str:
    return {"synthetic": "table", "table": "table", "mnist": "image", "folders": "image"}.get(source, "sequence")


def default_config(kind: str, model_kind: str | None = None, **changes: Any) -> TrainConfig:
    """Settings that work for each data kind (the defaults a front end offers)."""
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


def score(model, data: AnomalyData, state: JobState | None = None) -> Scores:
    """Reconstruct and score every sample of `data` (Stopped when the state asks to stop)."""
    from engine.models.guards import check_fits
    from engine.models.predict import predict

    check_fits(model, data.x_score.shape[1:])
    outputs = predict(model, data.x_score, BATCH, state or JobState(), "Scoring")
    if data.kind == "sequence":
        per_step = anomaly.step_errors(data.x_score, outputs)
        points = anomaly.point_scores(per_step, data.starts, len(data.series))
        return Scores(per_step.mean(axis=1), data.labels, data.x_score, outputs, data, point_scores=points)
    errors = anomaly.sample_scores(data.x_score, outputs)
    shares = anomaly.feature_shares(data.x_score, outputs) if data.kind == "table" else None
    return Scores(errors, data.labels, data.x_score, outputs, data, shares=shares)


def training_errors(model, data: AnomalyData, state: JobState | None = None, limit: int = 20000) -> np.ndarray:
    """Reconstruction errors of the normal training samples (up to `limit`, evenly spaced)."""
    from engine.models.predict import predict

    x = data.train_samples
    if len(x) > limit:
        x = x[np.linspace(0, len(x) - 1, limit).astype(np.int64)]
    return anomaly.sample_scores(x, predict(model, x, BATCH, state or JobState(), "Scoring the training data"))


@dataclass
class DetectorOutcome:
    detector: Detector
    scores: Scores
    result: Any = None  # engine.training.fit.TrainResult


def train_detector(spec: AnomalySpec, config: TrainConfig, state: JobState | None = None) -> DetectorOutcome:
    """Load the data, train on the normal samples (the training's events stream out), score everything."""
    from engine.training.fit import train

    state = state or JobState()
    state.note("Loading data…")
    data = load_anomaly_data(spec, state)
    check_config(data.kind, config)
    state.note("Building the model (first start loads TensorFlow)…")
    result = train(config, data.train, state)
    after = JobState(state.emit)  # a stop ends training with the best model so far: that model is still scored
    detector = _detector(result.model, data, spec, config, training_errors(result.model, data, after))
    scores = score(result.model, data, after)
    detector.metrics = summary_metrics(scores)
    return DetectorOutcome(detector, scores, result)


def _detector(model, data: AnomalyData, spec, config, train_errors) -> Detector:
    threshold = anomaly.percentile_threshold(train_errors, DEFAULT_PERCENTILE)
    return Detector(model, data.kind, threshold, train_errors, spec, config, data.scaler, data.encoding, data.names)


def summary_metrics(scores: Scores) -> dict[str, float]:
    if not anomaly.has_both_classes(scores.labels):
        return {}
    found = anomaly.curves(scores.errors, scores.labels)
    return {"auroc": found.auroc, "average_precision": found.average_precision}


# --------------------------------------------------------------------------- scoring new data

def score_new(detector: Detector, path: str = "", score_path: str = "", state: JobState | None = None) -> Scores:
    """Score another file (tables, sequences) or folder (images) with a trained or loaded detector."""
    state = state or JobState()
    state.note("Reading the data to score…")
    return score(detector.model, data_for(detector, path, score_path, state), state)


def data_for(detector: Detector, path: str = "", score_path: str = "",
             state: JobState | None = None) -> AnomalyData:
    """The data a detector scores: a new file or folder when given, else its own source again."""
    spec = detector.spec
    if detector.kind == "table" and path:
        return _new_table(detector, path)
    if detector.kind == "sequence" and path:
        return _new_sequence(detector, path)
    if detector.kind == "image" and score_path:
        size = tuple(int(s) for s in detector.model.input_shape[1:3])
        color = "rgb" if detector.model.input_shape[-1] == 3 else "grey"
        found = read_image_files(score_path, size=size, color=color, state=state)
        labels, notes = folder_labels(found)
        notes += skipped_notes(found.skipped)
        empty = found.x[:0]
        return AnomalyData("image", Dataset(empty, empty), found.x, labels, found.source,
                           sample_names=found.names, notes=notes)
    return load_anomaly_data(spec, state)


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
    """Per exported row: a table row / image flagged at the threshold, or a step inside a flagged window."""
    flagged = anomaly.flags(scores.errors, threshold)
    if scores.data.kind != "sequence":
        return flagged
    steps = np.zeros(len(scores.data.series) + 1, np.int64)
    window = scores.inputs.shape[1]
    starts = scores.data.starts[flagged]
    np.add.at(steps, starts, 1)
    np.add.at(steps, starts + window, -1)
    return np.cumsum(steps)[:-1] > 0
