"""Changing a running training (engine.training.control): epochs and learning rate applied at the next
epoch and recorded in the run; and the roll-back of a diverged run to its best epoch with lr / 10."""
import numpy as np
import pytest

from engine.core.errors import ConfigError, RunError
from engine.core.events import EpochEnded, SettingsChanged
from engine.core.jobs import JobState
from engine.training import fit as training
from engine.training.requests import TrainingControl
from engine.training.resume import plan_rollback
from engine.training.runs import RunStore, mark_active
from tests.engine.training.test_promises import CONFIG, Sabotage, built, tiny_images, val_bce  # noqa: F401 - built: fixture


def test_a_request_is_checked_against_the_limits_and_taken_once():
    control = TrainingControl()
    with pytest.raises(ConfigError, match="Learning rate must be between"):
        control.request(learning_rate=50.0)
    with pytest.raises(ConfigError, match="Epochs must be between 1 and 10000"):
        control.request(epochs=0)
    control.request(epochs=5)
    control.request(learning_rate=0.01)
    control.request(epochs=7)  # the newest wins
    assert control.take() == {"epochs": 7, "learning_rate": 0.01} and control.take() == {}


class AskAfter:
    """on_event: after epoch `epoch` (0-based) ends, ask `control` for `changes` (as the GUI would)."""

    def __init__(self, control, epoch, **changes):
        self.control, self.epoch, self.changes, self.events = control, epoch, changes, []

    def __call__(self, event):
        self.events.append(event)
        if isinstance(event, EpochEnded) and event.epoch == self.epoch:
            self.control.request(**self.changes)


@pytest.mark.parametrize("more", [True, False], ids=["more", "fewer"])
def test_the_epochs_can_be_raised_or_lowered_while_it_runs_and_the_run_records_it(tmp_path, more):
    control = TrainingControl()
    ask = AskAfter(control, 0, epochs=5 if more else 2)
    store = RunStore(tmp_path)
    config = CONFIG.replace(epochs=3)
    run = store.create(config, {})
    result = training.train(config, tiny_images(), JobState(ask), run=run, store=store, control=control)
    # asked after epoch 1 ends: a request lands at the end of the epoch under way (epoch 1 or 2)
    expected = 5 if more else 2
    assert len(result.history["loss"]) == expected and result.message.startswith(f"Finished {expected} epoch(s)")
    [changed] = [e for e in ask.events if isinstance(e, SettingsChanged)]
    assert changed.total_epochs == expected and f"{expected} epochs in all" in changed.message or not more
    assert [e.total_epochs for e in ask.events if isinstance(e, EpochEnded)][-1] == expected
    recorded = store.get(run.id)
    assert recorded.config["epochs"] == expected and result.config.epochs == expected
    assert recorded.metrics["changes"][0]["epochs"] == expected


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_a_new_learning_rate_applies_from_the_next_epoch(schedule):
    """A rate of 1e-7 from epoch 2 on freezes the weights: every later epoch has the same mean loss (the
    same samples through the same model), where the old rate keeps lowering it."""
    config = CONFIG.replace(epochs=4, lr_schedule=schedule)
    control = TrainingControl()
    result = training.train(config, tiny_images(), JobState(AskAfter(control, 0, learning_rate=1e-7)),
                            control=control)
    unchanged = training.train(config, tiny_images(), JobState())
    frozen, moving = result.history["val_loss"], unchanged.history["val_loss"]
    assert abs(frozen[3] - frozen[2]) < 1e-6 and abs(moving[3] - moving[2]) > 1e-4, (frozen, moving)
    assert result.config.learning_rate == 1e-7


def test_a_diverged_run_rolls_back_to_its_best_epoch_with_a_tenth_of_the_learning_rate(built, tmp_path):  # noqa: F811
    data = tiny_images()
    store = RunStore(tmp_path)
    run = store.create(CONFIG, {"kind": "mnist"})
    first = training.train(CONFIG, data, JobState(Sabotage(built, after=1)), run=run, store=store)
    assert first.best_epoch == 1 and len(first.history["loss"]) == 4  # epochs 3 and 4 after the damage
    plan = plan_rollback(store.get(run.id))
    assert plan.done == 2 and plan.config.learning_rate == pytest.approx(CONFIG.learning_rate / 10)
    assert plan.config.epochs == 4  # the two thrown away, again
    events = []
    result = training.train(plan.config, data, JobState(events.append), run=plan.run, store=store, resume=True,
                            rollback=True)
    history = result.history["val_loss"]
    assert len(history) == 4 and history[:2] == first.history["val_loss"][:2]
    assert history[2] < 0.9 * first.history["val_loss"][2]  # from the best weights, not the damaged ones
    assert result.message.startswith("Rolled back to epoch 2 (learning rate 0.0003) and finished epochs 3–4")
    model = built[-1]
    steps = int(np.ceil(len(data.x_train) / CONFIG.batch_size))
    assert int(model.optimizer.iterations) == 4 * steps  # counted from the best epoch, not from epoch 4
    recorded = store.get(run.id)
    assert recorded.config["learning_rate"] == pytest.approx(3e-4) and len(recorded.history["loss"]) == 4
    assert recorded.metrics["changes"][0] == {"after_epoch": 4, "rolled_back_to": 2,
                                           "learning_rate": pytest.approx(3e-4)}
    assert val_bce(result.model, data.x_val) == pytest.approx(result.best_val_loss, rel=1e-4)


def test_a_run_with_no_good_epoch_cannot_roll_back(tmp_path):
    store = RunStore(tmp_path)
    run = store.create(CONFIG, {"kind": "mnist"})
    run.status = "failed"  # as a run that failed before its first epoch
    mark_active(run, False)
    with pytest.raises(RunError, match="no checkpoint"):
        plan_rollback(run)
    run.checkpoint_path.write_bytes(b"")
    with pytest.raises(RunError, match="no good epoch to roll back to"):
        plan_rollback(run)


def test_an_aae_keeps_the_ratios_of_its_three_learning_rates(built):  # noqa: F811
    from engine.models.generative import DISCRIMINATOR_LR_RATIO, GENERATOR_LR_RATIO

    config = CONFIG.replace(model_kind="aae", epochs=2, code_size=2)
    control = TrainingControl()
    training.train(config, tiny_images(), JobState(AskAfter(control, 0, learning_rate=1e-4)), control=control)
    model = built[-1]
    rates = [float(o.learning_rate) for o in (model.optimizer, model.discriminator_optimizer,
                                              model.generator_optimizer)]
    assert rates == pytest.approx([1e-4, 1e-4 * DISCRIMINATOR_LR_RATIO, 1e-4 * GENERATOR_LR_RATIO])
