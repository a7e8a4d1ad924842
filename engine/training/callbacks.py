"""Small Keras callbacks, one job each (as in keras/src/callbacks/), and the Tracker they fill in.

`engine.training.fit` puts them in this order, which matters: at the end of a batch, a stop request and
a non-finite loss end the training; at the end of an epoch the history is written first, a non-finite
validation loss ends the training, then the best weights are kept, the epoch is reported, and early
stopping looks at the patience. An epoch cut short by a stop or a NaN is not recorded by any of them
(its averages would not compare with whole epochs).
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import keras
import numpy as np

from engine.core.events import BatchEnded, EpochEnded, PreviewReady

BATCH_EVENT_INTERVAL_S = 0.1  # at most ~10 batch events a second reach the GUI


@dataclass
class Tracker:
    """What one training found out so far; the result, the run recorder and the checkpoints read it."""

    history: dict[str, list[float]] = field(default_factory=dict)
    best_epoch: int | None = None  # 0-based
    best_val: float = math.inf
    best_weights: list[np.ndarray] | None = None
    stopped_by_user: bool = False
    nan_message: str = ""
    early_stopped_at: int | None = None
    warnings: list[str] = field(default_factory=list)  # health warnings (engine.training.health)
    warning_checks: list[str] = field(default_factory=list)  # the check behind each warning, e.g. "baseline"
    settings: dict[str, Any] = field(default_factory=dict)  # epochs and learning_rate in force (may change)
    changes: list[dict[str, Any]] = field(default_factory=list)  # mid-run changes and roll-backs, in order

    @property
    def interrupted(self) -> bool:
        """The epoch under way was cut short (a stop or a non-finite loss)."""
        return self.stopped_by_user or bool(self.nan_message)

    @property
    def epochs_done(self) -> int:
        return len(self.history.get("loss", []))

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint's history and best model (engine.training.checkpoints)."""
        self.history = {k: list(v) for k, v in state["history"].items()}
        self.best_epoch, self.best_weights = state["best_epoch"], state["best_weights"]
        self.best_val = math.inf if state["best_val"] is None else float(state["best_val"])


def monitored(logs) -> float:
    """The figure the best epoch is chosen by: the validation loss (the training loss when there is none)."""
    logs = logs or {}
    return float(logs.get("val_loss", logs.get("loss", math.nan)))


class Tracking(keras.callbacks.Callback):
    """A callback that reads or writes the training's Tracker, and leaves an epoch cut short alone."""

    def __init__(self, tracker: Tracker):
        super().__init__()
        self.tracker = tracker

    def on_epoch_end(self, epoch, logs=None):
        if not self.tracker.interrupted:
            self.whole_epoch_ended(epoch, logs or {})

    def whole_epoch_ended(self, epoch: int, logs: dict) -> None:
        """An epoch that ran to its end (no stop, no NaN); override."""


class StopOnRequest(Tracking):
    """Ends training after the current batch once `stop` is set (a direct call from any thread)."""

    def __init__(self, tracker: Tracker, stop: threading.Event):
        super().__init__(tracker)
        self.stop = stop

    def on_train_batch_end(self, batch, logs=None):
        if self.stop.is_set():
            self.tracker.stopped_by_user = True
            self.model.stop_training = True


class TerminateOnNaN(Tracking):
    """Ends training when the loss, or the validation loss, is no longer a finite number, with advice."""

    def __init__(self, tracker: Tracker, learning_rate: float):
        super().__init__(tracker)
        self.learning_rate = learning_rate
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = float((logs or {}).get("loss", math.nan))
        if not math.isfinite(loss):
            self._fail(f"The loss became {loss} at epoch {self._epoch + 1}, step {batch + 1}: training diverged.")

    def whole_epoch_ended(self, epoch, logs):
        val = monitored(logs)
        if not math.isfinite(val):
            self._fail(f"The validation loss became {val} at epoch {epoch + 1}.")

    def _fail(self, what: str) -> None:
        self.tracker.nan_message = f"{what} Lower the learning rate (now {self.learning_rate:g}) and train again."
        self.model.stop_training = True


class BatchEvents(keras.callbacks.Callback):
    """BatchEnded events with the mean loss since the previous one, at most every BATCH_EVENT_INTERVAL_S, and
    always for an epoch's last step (so the batch-loss line reaches the end of every epoch)."""

    def __init__(self, emit: Callable[[Any], None], steps: int):
        super().__init__()
        self.emit, self.steps = emit, steps
        self._epoch = 0
        self._last_time, self._last_step, self._last_mean = 0.0, 0, 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._last_step, self._last_mean = 0, 0.0

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        step = min(batch + 1, self.steps)  # steps_per_execution can overshoot the epoch's end
        if step <= self._last_step or (now - self._last_time < BATCH_EVENT_INTERVAL_S and step < self.steps):
            return
        loss = float((logs or {}).get("loss", math.nan))
        # Keras reports the running mean over the epoch; recover the mean since the last event.
        recent = (loss * step - self._last_mean * self._last_step) / (step - self._last_step)
        self._last_time, self._last_step, self._last_mean = now, step, loss
        self.emit(BatchEnded(self._epoch, step, self.steps, recent))


class History(Tracking):
    """Every whole epoch's logs, as floats, in the tracker."""

    def whole_epoch_ended(self, epoch, logs):
        for key, value in logs.items():
            self.tracker.history.setdefault(key, []).append(float(value))


class KeepBest(Tracking):
    """Copies the weights of the epoch with the lowest validation loss, and puts them back at the end."""

    def whole_epoch_ended(self, epoch, logs):
        val = monitored(logs)
        if val < self.tracker.best_val:
            self.tracker.best_val, self.tracker.best_epoch = val, epoch
            self.tracker.best_weights = [w.copy() for w in self.model.get_weights()]

    def on_train_end(self, logs=None):
        if self.tracker.best_weights is not None:
            self.model.set_weights(self.tracker.best_weights)


class EpochEvents(Tracking):
    """EpochEnded with the epoch's logs and time, then PreviewReady: the fixed preview samples reconstructed."""

    def __init__(self, emit: Callable[[Any], None], tracker: Tracker, total_epochs: int,
                 preview_inputs: np.ndarray, preview_targets: np.ndarray):
        super().__init__(tracker)
        self.emit, self.total_epochs = emit, total_epochs
        self.preview_inputs, self.preview_targets = preview_inputs, preview_targets
        self._started = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def whole_epoch_ended(self, epoch, logs):
        logs = {k: float(v) for k, v in logs.items()}
        improved = self.tracker.best_epoch == epoch
        total = self.tracker.settings.get("epochs", self.total_epochs)  # changed mid-run (engine.training.control)
        self.emit(EpochEnded(epoch, total, logs, time.perf_counter() - self._started, improved))
        outputs = np.asarray(self.model(self.preview_inputs, training=False))
        self.emit(PreviewReady(epoch, self.preview_inputs.copy(), outputs.copy(), self.preview_targets.copy()))


class EarlyStopping(Tracking):
    """Ends training `patience` epochs after the best one when none was better since (0 = never)."""

    def __init__(self, tracker: Tracker, patience: int):
        super().__init__(tracker)
        self.patience = patience

    def whole_epoch_ended(self, epoch, logs):
        t = self.tracker
        if not self.patience or t.best_epoch is None:
            return
        if epoch - t.best_epoch >= self.patience:
            t.early_stopped_at = epoch
            self.model.stop_training = True
