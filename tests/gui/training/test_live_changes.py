"""Training tab: a running training's epochs and learning rate changed with Apply; a diverged run rolled
back to its best epoch with one click."""
from engine.core.events import EpochEnded, SettingsChanged
from tests.gui.helpers import click, use_array


def test_apply_changes_the_epochs_of_the_running_training(qtbot, window, tiny_npz):
    tab = window.training_tab
    use_array(tab, tiny_npz, epochs=2000)
    seen = []
    tab.runner.event_emitted.connect(seen.append)
    assert not tab.apply_button.isVisible()
    click(qtbot, tab.start_button)
    assert tab.apply_button.isVisible() and tab.epochs.isEnabled() and not tab.code_size.isEnabled()
    qtbot.waitUntil(lambda: any(isinstance(e, EpochEnded) for e in seen), timeout=120_000)
    assert window.status_label.text().startswith("Training: epoch ")  # not a stale "Training started."
    plot_height = tab.loss_plot.height()
    tab.epochs.setValue(4)
    tab.learning_rate.setValue(0.001)
    with qtbot.waitSignal(tab.runner.finished, timeout=120_000):
        click(qtbot, tab.apply_button)
        assert "they apply when the epoch under way ends" in window.status_label.text()
    [changed] = [e for e in seen if isinstance(e, SettingsChanged)]
    done = len(tab.loss_plot.line_data("loss")[0])
    assert done == max(4, changed.epoch + 1) and changed.learning_rate == 0.001  # not 2000
    assert f"Finished {done} epoch(s)" in window.status_label.text()
    qtbot.wait(50)  # layouts settle
    assert tab.loss_plot.height() == plot_height  # the shorter final line did not resize the plots
    assert tab.progress.maximum() == changed.total_epochs * tab._steps and tab.progress.value() == tab.progress.maximum()
    run = tab.store.runs()[0]
    assert run.config["epochs"] == done and run.config["learning_rate"] == 0.001
    assert window.session.train_config.epochs == done  # the model in use says what it was trained with
    assert not tab.apply_button.isVisible() and not tab.rollback_button.isVisible()  # a healthy run


def test_a_run_no_better_than_the_mean_rolls_back_with_one_click(qtbot, window, tiny_npz):
    tab = window.training_tab
    use_array(tab, tiny_npz, epochs=20)  # the check judges after 100 steps: 6 a epoch here
    tab.learning_rate.setValue(10.0)
    with qtbot.waitSignal(tab.runner.finished, timeout=120_000):
        click(qtbot, tab.start_button)
    assert "no better than predicting the mean sample" in window.status_label.text()
    run = tab.store.runs()[0]
    best = run.metrics["best_epoch"] + 1
    assert tab.rollback_button.isVisible()
    assert tab.rollback_button.text() == f"Roll back to epoch {best}, learning rate 1"
    with qtbot.waitSignal(tab.runner.finished, timeout=120_000):
        click(qtbot, tab.rollback_button)
    assert window.status_label.text().startswith(f"Rolled back to epoch {best} (learning rate 1)")
    rolled = tab.store.get(run.id)
    assert rolled.config["learning_rate"] == 1.0 and rolled.metrics["changes"][-1]["rolled_back_to"] == best
    assert tab.learning_rate.value() == 1.0  # the form shows the settings the run goes on with
    window.tabs.setCurrentWidget(window.runs_tab)
    from gui.tabs.runs.tab import COLUMNS

    warnings = window.runs_tab.table.item(0, COLUMNS.index("warnings"))
    assert "baseline" in warnings.text() and "mean sample" in warnings.toolTip()
