"""Health checks while training (engine.training.health): a model no better than predicting the mean."""
import math

import numpy as np
import pytest

from engine.core.config import TrainConfig
from engine.core.events import HealthWarning
from engine.core.jobs import JobState
from engine.data.dataset import Dataset
from engine.training import callbacks as cb
from engine.training.fit import train
from engine.training.health import NoBetterThanBaseline, baseline_loss


def test_the_baseline_is_the_loss_of_the_mean_sample_by_hand():
    x_train = np.array([[0.0, 1.0], [1.0, 1.0]], np.float32)  # mean (0.5, 1.0)
    x_val = np.array([[1.0, 1.0]], np.float32)
    assert baseline_loss(x_train, x_val, "mse") == pytest.approx((0.25 + 0.0) / 2)
    # bce: -(log 0.5 + log(1 - 1e-7 clipped)) / 2
    assert baseline_loss(x_train, x_val, "bce") == pytest.approx(-(math.log(0.5) + math.log(1 - 1e-7)) / 2, rel=1e-5)


class FakeModel:
    stop_training = False


def feed(check, losses):
    check.set_model(FakeModel())
    for epoch, val in enumerate(losses):
        check.on_epoch_end(epoch, {"loss": val, "val_loss": val})


def test_it_warns_once_after_two_epochs_no_better_than_the_baseline():
    seen, tracker = [], cb.Tracker()
    feed(NoBetterThanBaseline(tracker, seen.append, baseline=0.5, learning_rate=10.0), [0.6, 0.5, 0.7, 0.9])
    assert [(w.check, w.epoch) for w in seen] == [("baseline", 1)] and tracker.warnings == [seen[0].message]
    assert "no better than predicting the mean sample (0.5)" in seen[0].message and "e.g. to 1" in seen[0].message
    seen.clear()
    feed(NoBetterThanBaseline(cb.Tracker(), seen.append, baseline=0.5, learning_rate=0.1), [0.6, 0.4, 0.6, 0.3])
    assert seen == []  # beaten in between: the count starts again


def test_a_learning_rate_of_10_is_told_no_better_than_the_mean():
    """Issue 14's case: it used to "finish" and "keep the best model" without a word."""
    rng = np.random.default_rng(0)
    base = rng.random((3, 12, 12)).astype(np.float32)
    x = np.clip(base[rng.integers(0, 3, 120)] + 0.05 * rng.standard_normal((120, 12, 12)), 0, 1)
    x = x.astype(np.float32)[..., None]
    events = []
    result = train(TrainConfig(epochs=3, batch_size=8, code_size=8, learning_rate=10.0),
                   Dataset(x[:100], x[100:], source="t"), JobState(events.append))
    warnings = [e for e in events if isinstance(e, HealthWarning)]
    assert len(warnings) == 1 and "Warning: After" in result.message and "Lower the learning rate" in result.message
