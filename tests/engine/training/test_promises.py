"""What training promises, checked where the promise could break: the kept model is the best epoch's
(also after Stop, early stopping, a NaN and in the recorded run), not merely the last one.

Every run here damages the model on purpose right after a good epoch, so the best epoch is never the
last one: a training that forgot to restore the best weights scores the damaged model, and fails."""
import threading

import numpy as np
import pytest

from engine.training import fit as training
from engine.core.config import TrainConfig
from engine.data.dataset import Dataset
from engine.core.events import EpochEnded, Finished
from engine.models.files import load_model
from engine.training.runs import RunStore
from engine.core.jobs import JobState

CONFIG = TrainConfig(epochs=4, batch_size=8, code_size=8, learning_rate=3e-3, lr_schedule="constant")


def tiny_images(n=48, shape=(12, 10, 1), seed=0):
    rng = np.random.default_rng(seed)
    base = rng.random((4,) + shape).astype(np.float32)
    x = base[rng.integers(0, 4, n)] * 0.8 + 0.1 * rng.random((n,) + shape).astype(np.float32)
    return Dataset(x_train=x[: n - 12], x_val=x[n - 12:], source="synthetic")


def val_bce(model, x):
    """Binary cross-entropy of `model` on x, computed here (not by the training code)."""
    out = np.clip(np.asarray(model(x, training=False), np.float64), 1e-7, 1 - 1e-7)
    return float(np.mean(-(x * np.log(out) + (1 - x) * np.log(1 - out))))


@pytest.fixture
def built(monkeypatch):
    """The model the next training builds (captured from the builder the training calls)."""
    found = []
    real = training.build_autoencoder

    def capture(*args, **kwargs):
        found.append(real(*args, **kwargs))
        return found[-1]

    monkeypatch.setattr(training, "build_autoencoder", capture)
    return found


def damage(model, seed=0, scale=5.0):
    rng = np.random.default_rng(seed)
    model.set_weights([w + rng.normal(0, scale, w.shape).astype(w.dtype) for w in model.get_weights()])


class Sabotage:
    """on_event: after epoch `after` (0-based) ends, ruin the weights; with `stop`, ask to stop when epoch
    `stop_after` ends (the stop then lands in the next epoch, which is cut short)."""

    def __init__(self, built, after=1, how=damage, stop=None, stop_after=None):
        self.built, self.after, self.how = built, after, how
        self.stop, self.stop_after = stop, stop_after
        self.events = []

    def __call__(self, event):
        self.events.append(event)
        if isinstance(event, EpochEnded) and event.epoch == self.after:
            self.how(self.built[-1])
        if self.stop is not None and isinstance(event, EpochEnded) and event.epoch == self.stop_after:
            self.stop.set()


def assert_kept_the_best(result, data):
    val = result.history["val_loss"]
    assert result.best_epoch == int(np.argmin(val)) and result.best_epoch < len(val) - 1, val
    assert result.best_val_loss == pytest.approx(min(val))
    kept = val_bce(result.model, data.x_val)
    assert kept == pytest.approx(min(val), rel=1e-4), (kept, val)
    assert kept < 0.9 * val[-1]  # clearly not the last (damaged) epoch's model


def test_kept_model_scores_the_best_epoch_not_the_last(built):
    data = tiny_images()
    sabotage = Sabotage(built)
    result = training.train(CONFIG, data, JobState(sabotage))
    assert len(result.history["val_loss"]) == 4 and result.best_epoch == 1
    assert_kept_the_best(result, data)
    assert "kept the best model, epoch 2" in result.message
    [finished] = [e for e in sabotage.events if isinstance(e, Finished)]
    assert finished.best_epoch == 1 and finished.best_val_loss == pytest.approx(result.best_val_loss)


def test_stop_mid_epoch_keeps_the_best_epochs_weights(built):
    data = tiny_images()
    stop = threading.Event()
    sabotage = Sabotage(built, stop=stop, stop_after=2)
    result = training.train(CONFIG.replace(epochs=50), data, JobState(sabotage, stop))
    assert result.stopped_by_user and len(result.history["loss"]) == 3  # epoch 4 was cut short
    assert "Stopped by you after 3 epoch(s)" in result.message
    assert_kept_the_best(result, data)


def test_stop_before_the_first_epoch_ends_says_so():
    data = tiny_images()
    stop = threading.Event()
    stop.set()
    result = training.train(CONFIG, data, JobState(stop=stop))
    assert result.stopped_by_user and result.best_epoch is None and result.best_val_loss is None
    assert result.message.startswith("Stopped before the first epoch ended")


@pytest.mark.parametrize("patience", [1, 2])
def test_early_stopping_ends_patience_epochs_after_the_best(built, patience):
    data = tiny_images()
    config = CONFIG.replace(epochs=10, early_stopping_patience=patience)
    result = training.train(config, data, JobState(Sabotage(built, after=1)))
    assert len(result.history["val_loss"]) == 2 + patience  # epochs 3.. are worse than epoch 2
    assert f"Early stopping after epoch {2 + patience}" in result.message
    assert_kept_the_best(result, data)


def test_without_patience_a_worse_run_goes_on_to_the_end(built):
    data = tiny_images()
    result = training.train(CONFIG.replace(epochs=6), data, JobState(Sabotage(built, after=1)))
    assert len(result.history["val_loss"]) == 6 and result.message.startswith("Finished 6 epoch(s)")


def nan_weights(model):
    model.set_weights([np.full_like(w, np.nan) for w in model.get_weights()])


def test_nan_after_good_epochs_stops_and_keeps_the_best(built, tmp_path):
    from engine.training.runs import RunStore

    data = tiny_images()
    sabotage = Sabotage(built, after=1, how=nan_weights)
    store = RunStore(tmp_path)
    run = store.create(CONFIG.replace(epochs=6), {})
    result = training.train(CONFIG.replace(epochs=6), data, JobState(sabotage), run=run, store=store)
    recorded = store.get(run.id)  # told apart from a run that failed outright
    assert recorded.status == "diverged" and "The loss became nan" in recorded.message
    assert len(result.history["loss"]) == 2 and result.best_epoch == 1
    assert "The loss became nan at epoch 3" in result.message and "kept the best model, epoch 2" in result.message
    assert np.isfinite(np.asarray(result.model(data.x_val))).all()
    assert val_bce(result.model, data.x_val) == pytest.approx(result.best_val_loss, rel=1e-4)
    assert result.diverged  # a model was kept, but the run failed (the CLI exits 1)


def test_nan_before_any_epoch_fails_with_advice():
    data = tiny_images()
    events = []
    x_train = data.x_train * 1e20  # a huge learning rate on huge values diverges in the first epoch
    with pytest.raises(training.TrainingError, match="Lower the learning rate"):
        training.train(CONFIG.replace(learning_rate=10.0, loss="mse", code_size=64), Dataset(
            x_train, data.x_val * 1e20, source="huge"), JobState(events.append))
    assert not any(isinstance(e, Finished) for e in events)


def test_recorded_run_saves_the_best_model_and_its_figures(built, tmp_path):
    data = tiny_images()
    store = RunStore(tmp_path)
    run = store.create(CONFIG, {"kind": "array", "summary": data.summary()})
    result = training.train(CONFIG, data, JobState(Sabotage(built)), run=run, store=store)
    saved = store.get(run.id)
    assert saved.status == "finished"
    assert saved.metrics["best_epoch"] == 1 and saved.metrics["best_val_loss"] == pytest.approx(result.best_val_loss)
    assert val_bce(load_model(saved.model_path), data.x_val) == pytest.approx(result.best_val_loss, rel=1e-4)


def test_epoch_logs_are_the_keras_figures(built):
    """The history the app shows is what Keras measured: val_loss equals the loss of the epoch's model."""
    data = tiny_images()
    seen = []

    def on_event(event):
        if isinstance(event, EpochEnded):
            seen.append((event.logs["val_loss"], val_bce(built[-1], data.x_val)))

    training.train(CONFIG.replace(epochs=2), data, JobState(on_event))
    assert len(seen) == 2
    for logged, measured in seen:
        assert logged == pytest.approx(measured, rel=1e-4)
