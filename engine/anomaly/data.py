"""Data for anomaly detection: what to train on (normal samples only) and what to score.

Sources: the seed deck's synthetic demo, a table (CSV/TSV), MNIST with chosen digits as normal,
a folder of normal images plus a folder to score, and a numeric series cut into sliding windows.
Tables and series are standardised with a scaler fitted on the normal training rows only.
No TensorFlow, no Qt.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.anomaly import scores as anomaly
from engine.core.errors import ConfigError, DataError
from engine.data.dataset import Dataset, split
from engine.core.jobs import JobState

SOURCES = ("synthetic", "table", "mnist", "folders", "sequence")
SOURCE_LABELS = {
    "synthetic": "Synthetic demo (1000 normal rows, 50 anomalies, 10-D)",
    "table": "Table (CSV / TSV)",
    "mnist": "MNIST digits (chosen digits are normal)",
    "folders": "Image folders (normal images, images to score)",
    "sequence": "Sequence (numeric columns over time, sliding windows)",
}
NORMAL_FOLDER_NAMES = ("good", "normal", "ok")  # MVTec-style test folders: good/ is normal, the rest not
MIN_NORMAL = 4


@dataclass(frozen=True)
class AnomalySpec:
    """Where the data comes from and how it is cut; frozen and JSON-friendly."""

    source: str = "synthetic"
    path: str = ""  # table / sequence file, the folder of normal images, or an MNIST file
    score_path: str = ""  # folders: the images to score
    features: tuple[str, ...] = ()  # table / sequence columns; empty = every numeric column
    label: str = ""  # label column ("" = none)
    one_hot: bool = False
    impute: bool = False
    digits: tuple[int, ...] = (0,)
    image_size: int = 28
    color: str = "grey"
    window: int = 32
    stride: int = 1
    train_share: float = 0.5  # sequence: the first share of the series is the (normal) training part
    validation_fraction: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ConfigError(f"Unknown anomaly data source {self.source!r}; choose one of {', '.join(SOURCES)}.")
        if self.source in ("table", "sequence", "folders") and not self.path:
            raise ConfigError("Choose a file for the table." if self.source != "folders"
                              else "Choose the folder of normal images.")
        if self.source == "folders" and not self.score_path:
            raise ConfigError("Choose the folder of images to score.")
        if self.source == "mnist":
            digits = set(self.digits)
            if not digits or not digits <= set(range(10)):
                raise ConfigError("Choose at least one digit (0-9) as normal.")
            if len(digits) == 10:
                raise ConfigError("With every digit normal there is nothing to detect: leave at least one digit "
                                  "out.")
        if not 4 <= self.window <= 4096:
            raise ConfigError(f"Window {self.window} is out of range; allowed 4 to 4096 steps.")
        if not 1 <= self.stride <= self.window:
            raise ConfigError(f"The step between windows must be 1 to the window length ({self.window}).")
        if not 0.05 <= self.train_share <= 1.0:
            raise ConfigError(f"Training share {self.train_share} is out of range; allowed 0.05 to 1.")
        if not 0.01 <= self.validation_fraction <= 0.5:
            raise ConfigError(f"Validation fraction {self.validation_fraction} is out of range; allowed 0.01-0.5.")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "AnomalySpec":
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: (tuple(v) if isinstance(v, list) else v) for k, v in values.items() if k in known}
        return cls(**values)


@dataclass(frozen=True)
class Scaler:
    """Standardisation fitted on normal training rows (scikit-learn's StandardScaler, kept as arrays)."""

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> "Scaler":
        from sklearn.preprocessing import StandardScaler

        fitted = StandardScaler().fit(np.asarray(x, np.float64))  # a constant column gets scale 1, not 0
        return cls(fitted.mean_.astype(np.float64), fitted.scale_.astype(np.float64))

    def transform(self, x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, np.float64) - self.mean) / self.scale).astype(np.float32)

    def to_dict(self) -> dict[str, list[float]]:
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_dict(cls, values: dict[str, list[float]]) -> "Scaler":
        return cls(np.asarray(values["mean"], np.float64), np.asarray(values["scale"], np.float64))


@dataclass
class AnomalyData:
    """Normal training samples and everything to score, prepared for the model."""

    kind: str  # "table", "image" or "sequence"
    train: Dataset  # normal samples only, split into training and validation
    x_score: np.ndarray
    labels: np.ndarray | None  # 1 = anomalous, for x_score
    source: str
    names: tuple[str, ...] = ()  # feature names (table), channel names (sequence)
    sample_names: tuple[str, ...] = ()  # image file names
    scaler: Scaler | None = None
    encoding: dict | None = None  # engine.features.TableEncoding as a dict (tables) / columns (sequences)
    table: Any = None  # the engine.data.tables.Table read (tables and sequences), for the scored CSV
    series: np.ndarray | None = None  # (steps, channels), raw values (sequences)
    point_labels: np.ndarray | None = None  # per step (sequences)
    starts: np.ndarray | None = None  # window starts (sequences)
    notes: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)

    @property
    def train_samples(self) -> np.ndarray:
        """Every normal sample used for training (training and validation parts)."""
        return np.concatenate([self.train.x_train, self.train.x_val])


def load_anomaly_data(spec: AnomalySpec, state: JobState | None = None) -> AnomalyData:
    loaders = {"synthetic": _synthetic, "table": _table, "mnist": _mnist, "folders": _folders,
               "sequence": _sequence}
    return loaders[spec.source](spec, state or JobState())


# --------------------------------------------------------------------------- sources

def _synthetic(spec: AnomalySpec, _state: JobState) -> AnomalyData:
    x, labels = anomaly.synthetic_demo(spec.seed)
    names = tuple(f"x{i + 1}" for i in range(x.shape[1]))
    return _rows(x, labels, names, spec, "Synthetic demo: 1000 normal rows from N(0, 1), 50 anomalies from N(5, 1)",
                 notes=(), encoding=None, table=None)


def _table(spec: AnomalySpec, _state: JobState) -> AnomalyData:
    from engine.data import table_features as features
    from engine.data import tables

    table = tables.read_table(spec.path)
    options = features.TableOptions(features=tuple(spec.features), label=spec.label or None,
                                  one_hot=spec.one_hot, impute=spec.impute)
    labels = features.prepare(table, options).labels if spec.label else None
    fit_rows = None if labels is None else labels == 0  # imputation and categories from normal rows only
    prepared = features.prepare(table, options, fit_rows=fit_rows)
    source = f"{Path(spec.path).name}: {table.n_rows} rows, {len(prepared.feature_names)} feature(s)"
    return _rows(prepared.x, prepared.labels, prepared.feature_names, spec, source, notes=prepared.notes,
                 encoding=prepared.encoding.to_dict(), table=table)


def _rows(x, labels, names, spec: AnomalySpec, source: str, notes, encoding, table) -> AnomalyData:
    """Tables: train on the normal rows (all rows without labels), score every row."""
    normal = np.arange(len(x)) if labels is None else np.flatnonzero(labels == 0)
    if len(normal) < MIN_NORMAL:
        raise DataError(f"Training needs at least {MIN_NORMAL} normal rows; this table has {len(normal)}. "
                        "Add rows, or choose a label column whose normal value covers more rows.")
    notes = tuple(notes)
    if labels is None:
        notes += ("No label column: every row is used for training, so the detector assumes anomalies are rare.",)
    scaler = Scaler.fit(x[normal])
    x_scaled = scaler.transform(x)
    x_train, _, x_val, _ = split(x_scaled[normal], None, spec.validation_fraction, spec.seed)
    train = Dataset(x_train, x_val, source=source)
    return AnomalyData("table", train, x_scaled, labels, source, tuple(names), scaler=scaler, encoding=encoding,
                       table=table, notes=notes)


def _mnist(spec: AnomalySpec, _state: JobState) -> AnomalyData:
    from engine.data.mnist import load_mnist

    data = load_mnist(spec.path or None)  # a user's mnist.npz, else the cache or the built-in subset
    digits = sorted(set(spec.digits))
    normal = np.isin(data.y_train, digits)
    x_train, _, x_val, _ = split(data.x_train[normal], None, spec.validation_fraction, spec.seed)
    labels = (~np.isin(data.y_val, digits)).astype(np.int8)
    shown = ", ".join(map(str, digits))
    source = (f"MNIST: train on {int(normal.sum())} training images of digit(s) {shown}; score the "
              f"{len(data.x_val)} test images ({data.where})")
    names = tuple(f"#{i} ({d})" for i, d in enumerate(data.y_val))  # test image index (its digit)
    return AnomalyData("image", Dataset(x_train, x_val, source=source), data.x_val, labels, source,
                       sample_names=names, extra={"digits": digits, "digit_labels": np.asarray(data.y_val)})


def skipped_notes(skipped: tuple[str, ...]) -> tuple[str, ...]:
    """The note that lists unreadable files (none when every file was read)."""
    if not skipped:
        return ()
    more = f"; and {len(skipped) - 5} more" if len(skipped) > 5 else ""
    return (f"{len(skipped)} unreadable file(s) skipped: " + "; ".join(skipped[:5]) + more + ".",)


def _folders(spec: AnomalySpec, state: JobState) -> AnomalyData:
    from engine.data.folders import read_image_files

    size = (spec.image_size, spec.image_size)
    normal = read_image_files(spec.path, size=size, color=spec.color, state=state, minimum=MIN_NORMAL)
    scored = read_image_files(spec.score_path, size=size, color=spec.color, state=state)
    x_train, _, x_val, _ = split(normal.x, None, spec.validation_fraction, spec.seed)
    labels, notes = folder_labels(scored)
    skipped = normal.skipped + scored.skipped
    notes += skipped_notes(skipped)
    source = (f"{len(normal.x)} normal images from {Path(spec.path).name}; {len(scored.x)} images to score "
              f"from {Path(spec.score_path).name} ({spec.image_size}x{spec.image_size}, {spec.color})")
    return AnomalyData("image", Dataset(x_train, x_val, source=source, skipped=skipped), scored.x, labels, source,
                       sample_names=scored.names, notes=notes)


def folder_labels(scored) -> tuple[np.ndarray | None, tuple[str, ...]]:
    """Subfolders of the folder to score give labels when one of them is named good / normal / ok."""
    if scored.y is None:
        return None, ()
    normal = [i for i, name in enumerate(scored.class_names) if name.lower() in NORMAL_FOLDER_NAMES]
    if not normal:
        return None, (f"The images to score are in subfolders ({', '.join(scored.class_names)}); name the normal "
                      f"one 'good' or 'normal' to get ROC curves.",)
    labels = (~np.isin(scored.y, normal)).astype(np.int8)
    return labels, (f"Labels from subfolders: {scored.class_names[normal[0]]}/ is normal, the other "
                    f"{len(scored.class_names) - 1} subfolder(s) anomalous.",)


def _sequence(spec: AnomalySpec, _state: JobState) -> AnomalyData:
    from engine.data import table_features as features
    from engine.data import tables

    table = tables.read_table(spec.path)
    columns = [c for c in (spec.features or tuple(table.numeric_columns())) if c != spec.label]
    if not columns:
        raise DataError(f"{Path(spec.path).name} has no numeric column to use as a series. Choose columns with "
                        "numbers.")
    series = features.numeric_matrix(table, columns, impute=spec.impute)
    point_labels = None
    if spec.label:
        point_labels = features.prepare(table, features.TableOptions(features=tuple(columns[:1]), label=spec.label,
                                                                 impute=True)).labels
    steps = len(series)
    train_steps = int(round(steps * spec.train_share))
    if train_steps < spec.window + 1:
        raise DataError(f"The training part ({train_steps} of {steps} steps, the first "
                        f"{spec.train_share:.0%}) is shorter than a window of {spec.window} plus one step. "
                        f"Choose a shorter window or a larger training share.")
    scaler = Scaler.fit(series[:train_steps])
    scaled = scaler.transform(series)
    windows, starts = anomaly.sliding_windows(scaled, spec.window, spec.stride)
    in_train = starts + spec.window <= train_steps
    labels = None if point_labels is None else anomaly.window_labels(point_labels, starts, spec.window)
    if labels is not None:
        in_train &= labels == 0
    if in_train.sum() < MIN_NORMAL:
        raise DataError(f"Only {int(in_train.sum())} normal window(s) fit in the training part; need at least "
                        f"{MIN_NORMAL}. Use a smaller window or step, or a larger training share.")
    x_train, _, x_val, _ = split(windows[in_train], None, spec.validation_fraction, spec.seed)
    source = (f"{Path(spec.path).name}: {steps} steps x {len(columns)} column(s); windows of {spec.window} "
              f"every {spec.stride}; trained on the first {spec.train_share:.0%}")
    return AnomalyData("sequence", Dataset(x_train, x_val, source=source), windows, labels, source,
                       names=tuple(columns), scaler=scaler, encoding={"columns": list(columns)}, table=table,
                       series=series, point_labels=point_labels, starts=starts)
