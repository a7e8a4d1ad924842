"""Health checks while training, one small callback each: they warn, with a fix, before a run wastes the
user's time. Today: a model no better than the trivial baseline (predicting the mean sample), the
mark of a learning rate that is too high (every reconstruction the same blob)."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from engine.core.events import HealthWarning
from engine.training.callbacks import Tracker, Tracking, monitored

EPS = 1e-7


def baseline_loss(x_train: np.ndarray, x_val: np.ndarray, loss: str) -> float:
    """The validation loss of the trivial model that outputs the mean training sample, in the training
    loss (binary cross-entropy or mean squared error, averaged over every value)."""
    mean = np.asarray(x_train).mean(axis=0, dtype=np.float64).astype(np.float32)  # no float64 copy of the data
    target = np.asarray(x_val, np.float32)
    if loss == "bce":
        p = np.clip(mean, EPS, 1 - EPS)
        return float(-(target * np.log(p) + (1 - target) * np.log1p(-p)).mean(dtype=np.float64))
    return float(np.square(target - mean).mean(dtype=np.float64))


class NoBetterThanBaseline(Tracking):
    """Warns once when the validation loss has not beaten the mean-sample baseline for `patience` epochs."""

    def __init__(self, tracker: Tracker, emit: Callable[[Any], None], baseline: float, learning_rate: float,
                 patience: int = 2):
        super().__init__(tracker)
        self.emit, self.baseline, self.learning_rate, self.patience = emit, baseline, learning_rate, patience
        self._behind = 0
        self._warned = False

    def whole_epoch_ended(self, epoch, logs):
        val = monitored(logs)
        self._behind = self._behind + 1 if not val < self.baseline else 0
        if self._behind >= self.patience and not self._warned:
            self._warned = True
            message = (f"After {epoch + 1} epoch(s) the validation loss ({val:.4g}) is no better than predicting "
                       f"the mean sample ({self.baseline:.4g}): every reconstruction is about the same blob. "
                       f"Lower the learning rate (now {self.learning_rate:g}), e.g. to {self.learning_rate / 10:g}.")
            self.tracker.warnings.append(message)
            self.emit(HealthWarning("baseline", epoch, message))
