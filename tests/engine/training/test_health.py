"""Health checks while training (engine.training.health): each warns once, with its fix, when it should."""
import math

import numpy as np
import pytest

from engine.core.config import TrainConfig
from engine.core.events import HealthWarning
from engine.core.jobs import JobState
from engine.data.dataset import Dataset
from engine.training import callbacks as cb
from engine.training.fit import train
from engine.core.errors import ConfigError
from engine.training.health import (COLLAPSE_KL, MIN_SAMPLES, MIN_STEPS, DeadCodeUnits, NoBetterThanBaseline,
                                    Overfitting, PosteriorCollapse, baseline_loss, check_data_range, health_checks)


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
    result = train(TrainConfig(epochs=10, batch_size=8, code_size=8, learning_rate=10.0),
                   Dataset(x[:100], x[100:], source="t"), JobState(events.append))
    warnings = [e.check for e in events if isinstance(e, HealthWarning)]
    assert warnings.count("baseline") == 1 and "Warning: After" in result.message
    assert "Lower the learning rate" in result.message


def feed_logs(check, logs_per_epoch):
    check.set_model(FakeModel())
    for epoch, logs in enumerate(logs_per_epoch):
        check.on_epoch_end(epoch, logs)


def test_posterior_collapse_warns_after_three_epochs_of_a_kl_near_zero_and_suggests_a_lower_beta():
    seen, tracker = [], cb.Tracker()
    kls = [3.0, 0.05, 0.02, 0.5, 0.01, 0.01, 0.01, 0.01]  # broken by 0.5; then three in a row at epoch 6
    feed_logs(PosteriorCollapse(tracker, seen.append, beta=2.0), [{"loss": 1, "val_kl": k} for k in kls])
    assert [(w.check, w.epoch) for w in seen] == [("collapse", 6)] and tracker.warning_checks == ["collapse"]
    assert "0.01 nats" in seen[0].message and "Lower beta (now 2), e.g. to 0.5" in seen[0].message
    seen.clear()
    feed_logs(PosteriorCollapse(cb.Tracker(), seen.append, beta=1.0), [{"loss": 1, "val_kl": COLLAPSE_KL}] * 5)
    assert seen == []  # at the threshold is not below it


class Encoder:
    """Codes with the first `dead` of 4 units zero for every sample (and position)."""

    def __init__(self, dead, shape=(4,)):
        self.dead, self.shape = dead, shape

    def __call__(self, x, training=False):
        codes = np.ones((len(x), *self.shape), np.float32)
        codes[..., :self.dead] = 0
        codes[0, ..., self.dead:] = 0  # a unit zero for one sample only is alive
        return codes


@pytest.mark.parametrize("shape", [(4,), (3, 3, 4)], ids=["dense", "conv"])
def test_dead_code_units_warn_when_half_the_units_are_zero_for_every_sample(shape):
    x = np.zeros((10, 2), np.float32)
    seen, tracker = [], cb.Tracker()
    feed_logs(DeadCodeUnits(tracker, seen.append, Encoder(2, shape), x, 0.01, l1_weight=0.1), [{"loss": 1}] * 3)
    assert [(w.check, w.epoch) for w in seen] == [("dead units", 1)]
    assert seen[0].message.startswith("2 of 4 code units are zero for every validation sample")
    assert "Lower the learning rate (now 0.01) or the L1 weight (now 0.1)" in seen[0].message
    seen.clear()
    feed_logs(DeadCodeUnits(cb.Tracker(), seen.append, Encoder(1, shape), x, 0.01), [{"loss": 1}] * 3)
    assert seen == []  # one of four is not half


def test_overfitting_warns_when_validation_rises_three_epochs_in_a_row_while_training_falls():
    seen, tracker = [], cb.Tracker()
    tracker.best_epoch = 1
    train_losses = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5]
    val_losses = [1.0, 0.8, 0.85, 0.9, 0.95, 1.0]  # rises from epoch 2 on
    feed_logs(Overfitting(tracker, seen.append), [{"loss": t, "val_loss": v} for t, v in zip(train_losses, val_losses)])
    assert [(w.check, w.epoch) for w in seen] == [("overfitting", 4)]
    assert "(0.8 -> 0.95)" in seen[0].message and "The best epoch (2) is kept" in seen[0].message
    seen.clear()  # both rising (a learning rate too high, not overfitting): no warning
    feed_logs(Overfitting(cb.Tracker(), seen.append), [{"loss": v, "val_loss": v} for v in val_losses])
    feed_logs(Overfitting(cb.Tracker(), seen.append), [{"loss": t} for t in train_losses])  # no validation
    assert seen == []


def test_data_outside_the_unit_range_is_refused_for_cross_entropy_with_its_range_and_fix():
    inside, outside = np.full((4, 3), 0.5, np.float32), np.array([[-0.5, 0.2, 3.0]], np.float32)
    assert check_data_range(TrainConfig(), inside, inside) is True
    assert check_data_range(TrainConfig(loss="mse"), inside, outside) is False  # a linear output then
    with pytest.raises(ConfigError, match=r"runs from -0.5 to 3\. Choose mean squared error"):
        check_data_range(TrainConfig(), inside, outside)  # the validation data counts too
    with pytest.raises(ConfigError, match="variational autoencoder needs data in"):
        check_data_range(TrainConfig(model_kind="vae"), outside, inside)


def test_each_model_gets_the_checks_that_apply_to_it():
    import keras

    from engine.models.builders import build_autoencoder

    x = np.random.default_rng(0).random((40, 16)).astype(np.float32)

    def names(kind, **extra):
        config = TrainConfig(model_kind=kind, code_size=2, **extra)
        model = build_autoencoder(config, (16,)) if kind != "vae" else keras.Model()
        return [c.name for c in health_checks(config, model, print, cb.Tracker(), x, x[:n_val], 10)]

    n_val = 40
    assert names("dense") == ["overfitting", "baseline"]  # a linear code cannot die
    assert names("sparse") == names("dense", code_activation="relu") == ["overfitting", "baseline", "dead units"]
    assert names("vae") == ["overfitting", "collapse"]
    assert names("aae") == ["overfitting"]
    n_val = MIN_SAMPLES - 1
    assert names("sparse") == ["overfitting", "baseline"]  # too few samples to call a unit dead


def test_a_collapsed_vae_is_told_during_a_real_training():
    """A beta of 50 on tiny data drives the KL to zero within a few epochs."""
    rng = np.random.default_rng(0)
    x = (rng.random((96, 8, 8, 1)) > 0.5).astype(np.float32)
    events = []
    train(TrainConfig(model_kind="vae", epochs=8, batch_size=4, code_size=2, beta=50.0, learning_rate=0.01),
          Dataset(x[:80], x[80:], source="t"), JobState(events.append))
    assert "collapse" in [e.check for e in events if isinstance(e, HealthWarning)]


def test_no_check_judges_before_min_steps_of_training():
    """On tiny data a sound run still outputs about the mean after a few epochs of a few steps."""
    seen, steps = [], MIN_STEPS // 4  # so the fourth epoch is the first judged
    feed(NoBetterThanBaseline(cb.Tracker(), seen.append, baseline=0.5, learning_rate=0.1, steps=steps),
         [0.9] * 5)
    assert [w.epoch for w in seen] == [4]  # epochs 4 and 5 (0-based 3, 4) no better: two in a row
