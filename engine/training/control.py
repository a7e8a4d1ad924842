"""Changing a training while it runs: more or fewer epochs and a new learning rate, asked for from any
thread (engine.training.requests.TrainingControl), applied by the trainer at the end of the epoch under
way (ApplyChanges), and recorded in the run (the tracker's `changes` and `settings`). Also the roll-back
of a diverged run to its best epoch (`roll_back`), which continues with a lower learning rate."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from engine.core.errors import ConfigError
from engine.core.events import SettingsChanged
from engine.training.callbacks import Tracker, Tracking
from engine.training.checkpoints import optimizers_of
from engine.training.requests import TrainingControl


def set_learning_rate(model, old: float, new: float, total_steps: int) -> None:
    """Scale every optimizer's learning rate by new / old (an AAE's phases keep their ratios); a cosine
    schedule gets the new peak and `total_steps` as its length, and the train step is traced again."""
    import keras

    scale = new / old
    retrace = False
    for optimizer, _ in optimizers_of(model):
        rate = optimizer._learning_rate  # noqa: SLF001 - a schedule object or a variable; no public getter
        if isinstance(rate, keras.optimizers.schedules.CosineDecay):
            rate.initial_learning_rate *= scale
            rate.decay_steps = max(1, total_steps)
            retrace = True  # both are constants in the traced step
        else:
            optimizer.learning_rate = float(optimizer.learning_rate) * scale
    if retrace:
        model.make_train_function(force=True)


class ApplyChanges(Tracking):
    """At the end of each whole epoch: applies what `control` was asked for (emitting SettingsChanged and
    recording it), then ends the training when the epochs asked for are done. `fit` runs with a loop bound
    above any total (the epochs limit), so a total raised mid-run is honoured."""

    def __init__(self, tracker: Tracker, control: TrainingControl, emit: Callable[[Any], None], steps: int):
        super().__init__(tracker)
        self.control, self.emit, self.steps = control, emit, steps

    def whole_epoch_ended(self, epoch, logs):
        t, asked = self.tracker, self.control.take()
        done = epoch + 1
        changed: dict[str, Any] = {}
        if "epochs" in asked and asked["epochs"] != t.settings["epochs"]:
            changed["epochs"] = max(done, int(asked["epochs"]))
        rate = asked.get("learning_rate")
        if rate is not None and rate != t.settings["learning_rate"]:
            set_learning_rate(self.model, t.settings["learning_rate"], float(rate),
                              changed.get("epochs", t.settings["epochs"]) * self.steps)
            changed["learning_rate"] = float(rate)
        elif "epochs" in changed and _cosine(self.model):  # the schedule's length follows the epochs
            set_learning_rate(self.model, 1.0, 1.0, changed["epochs"] * self.steps)
        if changed:
            t.settings.update(changed)
            t.changes.append({"after_epoch": done, **changed})
            self.emit(SettingsChanged(epoch, t.settings["epochs"], t.settings["learning_rate"],
                                      describe_change(done, changed)))
        if done >= t.settings["epochs"]:
            self.model.stop_training = True


def _cosine(model) -> bool:
    import keras

    return isinstance(model.optimizer._learning_rate, keras.optimizers.schedules.CosineDecay)  # noqa: SLF001


def describe_change(done: int, changed: dict[str, Any]) -> str:
    parts = []
    if "epochs" in changed:
        parts.append(f"{changed['epochs']} epochs in all" if changed["epochs"] > done
                     else f"stopping here, after {done} epochs")
    if "learning_rate" in changed:
        parts.append(f"learning rate {changed['learning_rate']:g}")
    return f"After epoch {done}: " + ", ".join(parts) + "."


def roll_back(model, tracker: Tracker, steps: int) -> int:
    """Put a resumed run back to its best epoch: the best weights, the history up to it, fresh optimizer
    moments (those of the diverged epochs are useless) with the step count of that epoch. Returns the
    epochs done after the roll-back."""
    if tracker.best_epoch is None or tracker.best_weights is None:
        raise ConfigError("The run has no good epoch to roll back to; start a new run with a lower learning rate.")
    done = tracker.best_epoch + 1
    model.set_weights(tracker.best_weights)
    for optimizer, _ in optimizers_of(model):
        for variable in optimizer.variables:
            if variable is optimizer.iterations:
                variable.assign(done * steps)
            elif variable is not getattr(optimizer, "_learning_rate", None):
                variable.assign(np.zeros(variable.shape, variable.dtype))
    tracker.history = {key: values[:done] for key, values in tracker.history.items()}
    return done
