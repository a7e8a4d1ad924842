"""Each training callback alone, on a stand-in model: fast, and exact about its one job."""
import math
import threading

import numpy as np
import pytest

from engine.core.events import BatchEnded, EpochEnded, PreviewReady
from engine.training import callbacks as cb


class FakeModel:
    """What the callbacks touch: weights, stop_training, and a call for previews."""

    def __init__(self):
        self.weights = [np.zeros(2, np.float32)]
        self.stop_training = False

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.asarray(w).copy() for w in weights]

    def __call__(self, x, training=False):
        return np.asarray(x) * 0.5


def attach(callback, model=None):
    callback.set_model(model or FakeModel())
    return callback


def epochs(callbacks, model, val_losses, weights=None):
    for epoch, val in enumerate(val_losses):
        model.weights = [np.full(2, epoch, np.float32)] if weights is None else weights[epoch]
        for c in callbacks:
            c.on_epoch_begin(epoch)
        for c in callbacks:
            c.on_epoch_end(epoch, {"loss": val + 0.1, "val_loss": val})


def test_keep_best_copies_the_best_epoch_and_puts_it_back_at_the_end():
    tracker, model = cb.Tracker(), FakeModel()
    keep = attach(cb.KeepBest(tracker), model)
    epochs([keep], model, [0.5, 0.3, 0.4, 0.3])  # a tie is not better
    assert tracker.best_epoch == 1 and tracker.best_val == 0.3
    assert model.weights[0].tolist() == [3, 3]  # the last epoch's, until training ends
    keep.on_train_end()
    assert model.weights[0].tolist() == [1, 1]


def test_keep_best_without_a_best_leaves_the_model_alone():
    tracker, model = cb.Tracker(), FakeModel()
    model.weights = [np.full(2, 7.0)]
    attach(cb.KeepBest(tracker), model).on_train_end()
    assert tracker.best_weights is None and model.weights[0].tolist() == [7, 7]


def test_history_and_best_skip_an_epoch_cut_short():
    tracker, model = cb.Tracker(), FakeModel()
    parts = [attach(cb.History(tracker), model), attach(cb.KeepBest(tracker), model)]
    epochs(parts, model, [0.5])
    tracker.stopped_by_user = True
    epochs(parts, model, [0.1])
    assert tracker.history["val_loss"] == [0.5] and tracker.epochs_done == 1 and tracker.best_epoch == 0


def test_stop_on_request_ends_after_the_batch_it_sees():
    tracker, model, stop = cb.Tracker(), FakeModel(), threading.Event()
    c = attach(cb.StopOnRequest(tracker, stop), model)
    c.on_train_batch_end(0, {"loss": 1.0})
    assert not model.stop_training and not tracker.stopped_by_user
    stop.set()
    c.on_train_batch_end(1, {"loss": 1.0})
    assert model.stop_training and tracker.stopped_by_user and tracker.interrupted


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_terminate_on_nan_batch_and_validation(bad):
    tracker, model = cb.Tracker(), FakeModel()
    c = attach(cb.TerminateOnNaN(tracker, 0.5), model)
    c.on_epoch_begin(2)
    c.on_train_batch_end(4, {"loss": 0.3})
    assert not tracker.nan_message
    c.on_train_batch_end(5, {"loss": bad})
    assert model.stop_training and f"The loss became {bad} at epoch 3, step 6" in tracker.nan_message
    assert "Lower the learning rate (now 0.5)" in tracker.nan_message
    tracker2, model2 = cb.Tracker(), FakeModel()
    v = attach(cb.TerminateOnNaN(tracker2, 0.5), model2)
    v.on_epoch_end(0, {"loss": 0.2, "val_loss": 0.1})
    assert not tracker2.nan_message
    v.on_epoch_end(1, {"loss": 0.2, "val_loss": bad})
    assert model2.stop_training and "validation loss became" in tracker2.nan_message and "epoch 2" in tracker2.nan_message


@pytest.mark.parametrize("patience, stops_at", [(1, 2), (2, 3), (0, None)])
def test_early_stopping_counts_epochs_since_the_best(patience, stops_at):
    tracker, model = cb.Tracker(), FakeModel()
    parts = [attach(cb.KeepBest(tracker), model), attach(cb.EarlyStopping(tracker, patience), model)]
    for epoch, val in enumerate([0.5, 0.3, 0.4, 0.45, 0.5]):
        for c in parts:
            c.on_epoch_end(epoch, {"val_loss": val})
        if model.stop_training:
            break
    assert tracker.early_stopped_at == stops_at and model.stop_training == (stops_at is not None)


def test_epoch_events_report_logs_improvement_and_a_preview_copy():
    seen, tracker, model = [], cb.Tracker(), FakeModel()
    inputs, targets = np.ones((2, 3), np.float32), np.zeros((2, 3), np.float32)
    parts = [attach(cb.KeepBest(tracker), model), attach(cb.EpochEvents(seen.append, tracker, 5, inputs, targets),
                                                         model)]
    epochs(parts, model, [0.5, 0.6])
    ended = [e for e in seen if isinstance(e, EpochEnded)]
    previews = [e for e in seen if isinstance(e, PreviewReady)]
    assert [(e.epoch, e.improved, e.total_epochs) for e in ended] == [(0, True, 5), (1, False, 5)]
    assert ended[0].logs == {"loss": pytest.approx(0.6), "val_loss": 0.5}
    assert np.allclose(previews[0].outputs, 0.5) and not np.shares_memory(previews[0].inputs, inputs)


def test_batch_events_are_throttled_and_carry_the_recent_mean(monkeypatch):
    seen, clock = [], [0.0]
    monkeypatch.setattr(cb.time, "perf_counter", lambda: clock[0])
    c = attach(cb.BatchEvents(seen.append, steps=10))
    c.on_epoch_begin(0)
    clock[0] = 1.0
    c.on_train_batch_end(1, {"loss": 2.0})  # step 2: mean 2.0 over the first two steps
    clock[0] = 1.05
    c.on_train_batch_end(3, {"loss": 1.0})  # too soon: no event
    clock[0] = 1.2
    c.on_train_batch_end(5, {"loss": 1.5})  # step 6: (1.5 * 6 - 2.0 * 2) / 4 = 1.25
    clock[0] = 1.4
    c.on_train_batch_end(15, {"loss": 1.5})  # overshoot clipped to step 10
    assert [(e.step, e.loss) for e in seen] == [(2, 2.0), (6, 1.25), (10, 1.5)]
    assert all(isinstance(e, BatchEnded) and e.steps_per_epoch == 10 for e in seen)
    seen.clear()  # a fast epoch: its last step is reported even within the interval, so the line reaches its end
    c.on_epoch_begin(1)
    clock[0] = 2.0
    c.on_train_batch_end(4, {"loss": 1.0})
    clock[0] = 2.01
    c.on_train_batch_end(8, {"loss": 1.0})  # too soon
    clock[0] = 2.02
    c.on_train_batch_end(9, {"loss": 0.9})  # the epoch's last step: (0.9 * 10 - 1.0 * 5) / 5 = 0.8
    assert [(e.epoch, e.step) for e in seen] == [(1, 5), (1, 10)] and seen[-1].loss == pytest.approx(0.8)


def test_tracker_restores_a_checkpoint_state():
    t = cb.Tracker()
    t.restore({"history": {"loss": [1.0, 0.5]}, "best_epoch": 1, "best_weights": [np.ones(2)], "best_val": None})
    assert t.epochs_done == 2 and t.best_epoch == 1 and t.best_val == math.inf


def test_early_stopping_of_a_resumed_run_counts_from_the_recorded_best():
    """Resuming an early-stopped run to more epochs: its best epoch is already `patience` or more behind,
    so the first resumed epoch ends it again (the count is 'at least', not 'exactly', patience)."""
    tracker, model = cb.Tracker(), FakeModel()
    tracker.best_epoch, tracker.best_val = 2, 0.3  # recorded: best at epoch 3, stopped early at epoch 5 of 6
    stopper = attach(cb.EarlyStopping(tracker, 2), model)
    stopper.on_epoch_end(5, {"val_loss": 0.5})  # the first resumed epoch is 3 epochs after the best
    assert model.stop_training and tracker.early_stopped_at == 5
