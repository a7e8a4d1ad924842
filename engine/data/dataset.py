"""The Dataset every loader returns, and what loaders share: the train/validation split, scaling to
[0, 1] and label checks.

Images are float32 in [0, 1] shaped (n, h, w, c); table data stays (n, d). Problems the user can fix
raise `DataError`, whose message says what was wrong and what to do. Nothing here imports TensorFlow.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.core.errors import DataError


@dataclass(frozen=True)
class Dataset:
    """Training and validation samples plus where they came from."""

    x_train: np.ndarray
    x_val: np.ndarray
    y_train: np.ndarray | None = None
    y_val: np.ndarray | None = None
    source: str = ""  # where the data came from, with any note on why (e.g. a fallback)
    skipped: tuple[str, ...] = ()  # "file name: reason" for each file left out
    class_names: tuple[str, ...] = ()
    origin: str = ""  # where the data came from, alone (source without the notes); "" = source

    @property
    def where(self) -> str:
        """Where the data came from, in a few words (for labels)."""
        return self.origin or self.source

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Shape of one sample, e.g. (28, 28, 1) or (784,)."""
        return tuple(int(d) for d in self.x_train.shape[1:])

    @property
    def is_image(self) -> bool:
        """True for (n, h, w, c) image data, False for (n, d) table data."""
        return self.x_train.ndim == 4

    def summary(self) -> str:
        """One line: source, sample counts and sample shape (plus skipped files, if any)."""
        shape = "x".join(str(d) for d in self.sample_shape)
        text = (f"{self.source}: {len(self.x_train)} training + {len(self.x_val)} validation "
                f"samples of {shape}")
        if self.skipped:
            text += f"; {len(self.skipped)} file(s) skipped"
        return text


# --------------------------------------------------------------------------- helpers

def split(
    x: np.ndarray, y: np.ndarray | None, validation_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray | None]:
    """Shuffle deterministically and split into (x_train, y_train, x_val, y_val).

    Each part gets at least one sample; needs n >= 2.
    """
    n = len(x)
    if n < 2:
        raise DataError(f"Need at least 2 samples to make a training and a validation part, got {n}. "
                        "Add more data.")
    if not 0.0 <= validation_fraction < 1.0:
        raise DataError(f"validation_fraction must be in [0, 1), got {validation_fraction}.")
    if y is not None and len(y) != n:
        raise DataError(f"There are {n} samples but {len(y)} labels; they must match.")
    order = np.random.default_rng(seed).permutation(n)
    n_val = min(max(int(round(n * validation_fraction)), 1), n - 1)
    val, train = np.sort(order[:n_val]), order[n_val:]
    pick = (lambda idx: None) if y is None else (lambda idx: y[idx])
    return x[train], pick(train), x[val], pick(val)


def to_unit_float(x: np.ndarray) -> np.ndarray:
    """Scale an array to float32 in [0, 1].

    uint8 / 255, uint16 / 65535, bool -> 0/1. Anything else must be finite: values already
    in [0, 1] are kept, non-negative values are divided by the maximum, and data with
    negative values is stretched from min..max to [0, 1]. NaN or inf raise DataError.
    """
    return _scale(np.asarray(x))[0]


def _scale(x: np.ndarray) -> tuple[np.ndarray, str]:
    """to_unit_float plus a note saying how the values were scaled ('' for the usual cases)."""
    if x.dtype == np.uint8:
        return (x.astype(np.float32) / np.float32(255.0)), ""
    if x.dtype == np.uint16:
        return (x.astype(np.float32) / np.float32(65535.0)), ""
    if x.dtype == np.bool_:
        return x.astype(np.float32), ""
    if x.dtype.kind not in "iuf":
        raise DataError(f"Array has data type {x.dtype}, not numbers. Save it as a numeric array "
                        "(e.g. float32 or uint8).")
    values = x.astype(np.float64, copy=False)
    bad = int(np.count_nonzero(~np.isfinite(values))) if x.dtype.kind == "f" else 0
    if bad:
        raise DataError(f"The data contains {bad} NaN or infinite value(s). Clean or replace them "
                        "(e.g. np.nan_to_num) and save the file again.")
    if values.size == 0:
        return values.astype(np.float32), ""
    low, high = float(values.min()), float(values.max())
    if low >= 0 and high <= 1:
        return values.astype(np.float32), ""
    if low >= 0:
        return (values / high).astype(np.float32), f"values 0..{high:g} divided by {high:g}"
    span = (high - low) or 1.0
    return ((values - low) / span).astype(np.float32), f"values {low:g}..{high:g} scaled to 0..1"


def check_labels(y: np.ndarray | None, n: int, what: str) -> np.ndarray:
    """Validate labels: n integers (a (n, 1) column is flattened)."""
    if y is None:
        raise DataError(f"{what}: labels are missing.")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or len(y) != n:
        raise DataError(f"{what}: labels are shaped {y.shape} but there are {n} samples; "
                        f"labels must be one integer per sample, shaped ({n},).")
    if y.dtype.kind not in "iub" and not (y.dtype.kind == "f" and np.all(np.mod(y, 1) == 0)):
        raise DataError(f"{what}: labels must be whole numbers (class indices), got {y.dtype}.")
    return y.astype(np.int64)


# --------------------------------------------------------------------------- image folders


# --------------------------------------------------------------------------- array files


