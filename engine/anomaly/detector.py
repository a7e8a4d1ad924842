"""Anomaly detectors: an autoencoder trained on normal data only, every sample scored by its
reconstruction error (plain, or blurred for images: the detector's score kind), a threshold, and the
data the detector scores (its own or a new file). `rescore` changes the score kind without retraining.
The detector's file format is engine.anomaly.files; the scored CSV engine.anomaly.scored_csv.
"""
from __future__ import annotations

import dataclasses
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
            # loss beat a conv AE and BCE scores in a sweep of code size, loss, epochs and input noise; 50 epochs
            # rather than 20 lifted the mean AUROC from 0.971 to 0.976 with the blurred score (the default's)
            "image": dict(code_size=16, epochs=50, batch_size=128, learning_rate=1e-3, loss="mse"),
            "sequence": dict(code_size=8, epochs=20, batch_size=32, learning_rate=1e-3, loss="mse")}[kind]
    # A ReLU code, as these detectors were measured with (the app's dense and deep default is linear since;
    # not measured for anomaly detection).
    base.update(model_kind=model_kind, lr_schedule="cosine", filters=32, validation_fraction=0.1,
                code_activation="relu")
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
    score_kind: str = "error"  # what `errors` are (engine.anomaly.scores.SCORE_LABELS)

    def error_maps(self, indices: np.ndarray) -> np.ndarray:
        """Per-pixel errors of the chosen images, as the score sees them (blurred for the blurred score)."""
        return anomaly.error_maps(self.inputs[indices], self.outputs[indices], self.score_kind)

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
    score_kind: str = "error"  # the score it flags by (engine.anomaly.scores.SCORE_LABELS); train_errors are in it
    train_scores: dict = field(default_factory=dict)  # training errors by score kind, for rescoring

    @property
    def score_rule(self) -> str:
        return anomaly.score_rule(self.score_kind)

    def suggestions(self, scores: Scores | None = None, percentile: float = DEFAULT_PERCENTILE,
                    k: float = 3.0) -> dict[str, float]:
        errors, labels = (scores.errors, scores.labels) if scores is not None else (None, None)
        return anomaly.suggested_thresholds(self.train_errors, errors, labels, percentile, k)


def score(model, data: AnomalyData, state: JobState | None = None, score_kind: str = "error") -> Scores:
    """Reconstruct and score every sample of `data` by `score_kind` (Stopped when the state asks to stop)."""
    from engine.models.guards import check_fits
    from engine.models.predict import predict

    check_fits(model, data.x_score.shape[1:])
    outputs = predict(model, data.x_score, BATCH, state or JobState(), "Scoring")
    if data.kind == "sequence":
        per_step = anomaly.step_errors(data.x_score, outputs)
        points = anomaly.point_scores(per_step, data.starts, len(data.series))
        return Scores(per_step.mean(axis=1), data.labels, data.x_score, outputs, data, point_scores=points)
    anomaly.check_score(score_kind, data.kind)
    errors = anomaly.sample_scores(data.x_score, outputs, score_kind)
    shares = anomaly.feature_shares(data.x_score, outputs) if data.kind == "table" else None
    return Scores(errors, data.labels, data.x_score, outputs, data, shares=shares, score_kind=score_kind)


def training_errors(model, data: AnomalyData, state: JobState | None = None, limit: int = 20000,
                    kinds: tuple[str, ...] = ("error",)) -> dict[str, np.ndarray]:
    """Scores of the normal training samples (up to `limit`, evenly spaced) by each score kind, from one
    reconstruction."""
    from engine.models.predict import predict

    x = data.train_samples
    if len(x) > limit:
        x = x[np.linspace(0, len(x) - 1, limit).astype(np.int64)]
    outputs = predict(model, x, BATCH, state or JobState(), "Scoring the training data")
    return {kind: anomaly.sample_scores(x, outputs, kind) for kind in kinds}


@dataclass
class DetectorOutcome:
    detector: Detector
    scores: Scores
    result: Any = None  # engine.training.fit.TrainResult


def train_detector(spec: AnomalySpec, config: TrainConfig, state: JobState | None = None,
                   score_kind: str | None = None) -> DetectorOutcome:
    """Load the data, train on the normal samples (the training's events stream out), score everything by
    `score_kind` (default: engine.anomaly.scores.default_score for the data kind)."""
    from engine.training.fit import train

    state = state or JobState()
    state.note("Loading data…")
    data = load_anomaly_data(spec, state)
    check_config(data.kind, config)
    score_kind = score_kind or anomaly.default_score(data.kind)
    anomaly.check_score(score_kind, data.kind)
    state.note("Building the model (first start loads TensorFlow)…")
    result = train(config, data.train, state)
    after = JobState(state.emit)  # a stop ends training with the best model so far: that model is still scored
    train_scores = training_errors(result.model, data, after, kinds=anomaly.score_kinds(data.kind))
    detector = _detector(result.model, data, spec, config, train_scores, score_kind)
    scores = score(result.model, data, after, score_kind)
    detector.metrics = summary_metrics(scores)
    return DetectorOutcome(detector, scores, result)


def _detector(model, data: AnomalyData, spec, config, train_scores: dict, score_kind: str) -> Detector:
    threshold = anomaly.percentile_threshold(train_scores[score_kind], DEFAULT_PERCENTILE)
    return Detector(model, data.kind, threshold, train_scores[score_kind], spec, config, data.scaler,
                    data.encoding, data.names, score_kind=score_kind, train_scores=train_scores)


def summary_metrics(scores: Scores) -> dict[str, float]:
    if not anomaly.has_both_classes(scores.labels):
        return {}
    found = anomaly.curves(scores.errors, scores.labels)
    return {"auroc": found.auroc, "average_precision": found.average_precision}


# --------------------------------------------------------------------------- another score kind

@dataclass
class Rescored:
    detector: Detector  # a copy of the detector with the new score kind, training errors and threshold
    scores: Scores
    percentile: float  # where the threshold sat among the training errors, before and after


def rescore(detector: Detector, scores: Scores, score_kind: str, state: JobState | None = None) -> Rescored:
    """The same reconstructions scored by another kind, no retraining: the scores, the training errors (kept
    from training, else recomputed when `scores` hold the training data) and the threshold, moved to the same
    percentile of the new training errors."""
    anomaly.check_score(score_kind, detector.kind)
    train_scores = dict(detector.train_scores) or {detector.score_kind: detector.train_errors}
    if score_kind not in train_scores:
        if not len(scores.data.train_samples):
            raise DataError(f"This detector holds no training errors for the {anomaly.SCORE_LABELS[score_kind]} "
                            "(it was saved before the app offered that score), and the data scored has no training "
                            "samples to compute them from. Score the detector's own data, or train it again.")
        train_scores.update(training_errors(detector.model, scores.data, state, kinds=(score_kind,)))
    percentile = 100.0 * float(np.mean(detector.train_errors <= detector.threshold))
    new_scores = dataclasses.replace(scores, errors=anomaly.sample_scores(scores.inputs, scores.outputs, score_kind),
                                     score_kind=score_kind)
    threshold = anomaly.percentile_threshold(train_scores[score_kind], percentile)
    new = dataclasses.replace(detector, threshold=threshold, train_errors=train_scores[score_kind],
                              score_kind=score_kind, train_scores=train_scores, metrics=summary_metrics(new_scores))
    return Rescored(new, new_scores, percentile)


# --------------------------------------------------------------------------- scoring new data

def score_new(detector: Detector, path: str = "", score_path: str = "", state: JobState | None = None) -> Scores:
    """Score another file (tables, sequences) or folder (images) with a trained or loaded detector."""
    state = state or JobState()
    state.note("Reading the data to score…")
    return score(detector.model, data_for(detector, path, score_path, state), state, detector.score_kind)


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
