"""Runs tab (every training recorded, compared, reopened, deleted) and the export dialog, on tiny data."""
import csv
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from gui.common.forms import set_choice


def train_tiny(qtbot, window, tiny_npz, kind="dense", epochs=2, code=8, l1=None):
    tab = window.training_tab
    set_choice(tab.data_kind, "array")
    tab.data_path.setText(str(tiny_npz))
    set_choice(tab.model_kind, kind)
    tab.epochs.setValue(epochs)
    tab.code_size.setValue(code)
    if l1 is not None:
        tab.l1_weight.setValue(l1)
    qtbot.mouseClick(tab.start_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not tab.runner.is_running(), timeout=120_000)
    return tab


def test_every_training_is_a_run_to_compare_export_and_delete(qtbot, window, messages, tiny_npz, tmp_path):
    train_tiny(qtbot, window, tiny_npz, "dense")
    train_tiny(qtbot, window, tiny_npz, "sparse", l1=0.01)
    assert not messages, messages
    assert "Recorded as run" in window.training_tab.progress_label.text()
    runs = window.runs_tab
    window.tabs.setCurrentWidget(runs)
    qtbot.waitUntil(lambda: len(runs.runs) == 2, timeout=10_000)
    assert {r.config["model_kind"] for r in runs.runs} == {"dense", "sparse"}
    assert all(r.status == "finished" and len(r.history["val_loss"]) == 2 for r in runs.runs)
    runs.set_checked([r.id for r in runs.runs])
    assert len(runs.curves.curves) == 2  # both validation curves overlaid
    assert len(runs.curves.activations) == 2  # and each run's mean code activation
    out = tmp_path / "curves.csv"
    assert runs.export_curves(str(out))
    with open(out) as f:
        rows = list(csv.reader(f))
    assert len(rows) == 3 and len(rows[0]) >= 3  # header + 2 epochs; an epoch column and one per run
    assert all(name.endswith(" val_loss") for name in rows[0][1:])  # the header names its metric
    lines = runs.curves.curves_ax.get_lines()  # each run's bar has its line's colour
    from matplotlib.colors import to_hex

    assert [to_hex(c) for c in runs.curves.bar_colours] == [to_hex(line.get_color()) for line in lines]
    from gui.tabs.runs.tab import COLUMNS

    row = {name: runs.table.item(0, c).text() for c, name in enumerate(COLUMNS)}
    assert row["learning rate"] == f"{runs.runs[0].config['learning_rate']:g}" and row["epochs"] == "2/2"
    assert row["denoising"] == "no" and row["status"] == "finished"
    name_item = runs.table.item(0, COLUMNS.index("name"))
    name_item.setText("my baseline")  # as a double-click and typing would
    assert runs.runs[0].name == "my baseline" and runs.store.get(runs.runs[0].id).name == "my baseline"
    assert "my baseline" in [t.get_text() for t in runs.curves.curves_ax.get_legend().get_texts()]

    first = runs.runs[0]
    runs.table.selectRow(0)
    runs.open_selected()
    qtbot.waitUntil(lambda: not runs.runner.is_running(), timeout=30_000)
    assert first.id in window.session.model_origin
    assert runs.delete(first.id)
    assert [r.id for r in runs.runs] == [runs.runs[0].id] and not first.path.exists()


def test_resume_from_the_runs_tab_continues_a_stopped_run(qtbot, window, messages, tiny_npz, monkeypatch):
    from engine.core.events import EpochEnded
    from engine.training.callbacks import EpochEvents

    stopped_clicked, real_end = threading.Event(), EpochEvents.whole_epoch_ended

    def held_after_the_second(self, epoch, logs):  # a fast machine cannot finish the 12 epochs before Stop
        real_end(self, epoch, logs)
        if epoch >= 1:
            stopped_clicked.wait(30)

    monkeypatch.setattr(EpochEvents, "whole_epoch_ended", held_after_the_second)

    tab = window.training_tab
    set_choice(tab.data_kind, "array")
    tab.data_path.setText(str(tiny_npz))
    set_choice(tab.model_kind, "dense")
    tab.epochs.setValue(12)
    epochs = []
    tab.runner.event_emitted.connect(lambda e: epochs.append(e.epoch) if isinstance(e, EpochEnded) else None)
    qtbot.mouseClick(tab.start_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: len(epochs) >= 2, timeout=120_000)
    with qtbot.waitSignal(tab.runner.finished, timeout=20_000):
        qtbot.mouseClick(tab.stop_button, Qt.LeftButton)
        stopped_clicked.set()
    runs = window.runs_tab
    window.tabs.setCurrentWidget(runs)
    qtbot.waitUntil(lambda: len(runs.runs) == 1, timeout=10_000)
    [stopped] = runs.runs
    assert stopped.status == "stopped" and not runs.resume_button.isEnabled()  # nothing selected yet
    curve_before = list(stopped.history["loss"])
    done_before = len(curve_before)
    assert 2 <= done_before < 12
    runs.table.selectRow(0)
    assert runs.resume_button.isEnabled()
    epochs.clear()
    with qtbot.waitSignal(tab.runner.finished, timeout=120_000):
        qtbot.mouseClick(runs.resume_button, Qt.LeftButton)
    assert window.tabs.currentWidget() is tab
    assert epochs[0] == done_before and epochs[-1] == 11  # continued after the last finished epoch
    resumed = tab.store.get(stopped.id)
    assert resumed.status == "finished" and len(resumed.history["loss"]) == 12
    assert resumed.history["loss"][:done_before] == curve_before  # the recorded curve is kept
    xs, ys = tab.loss_plot.line_data("loss")  # the live plot shows the whole run, not only the new epochs
    assert list(xs) == list(range(1, 13)) and list(ys[:done_before]) == pytest.approx(curve_before)
    assert f"Resumed after epoch {done_before} and finished epochs {done_before + 1}–12" in tab.progress_label.text()
    assert "(12 in all)" in tab.progress_label.text()
    assert not messages, messages


def test_export_dialog_writes_and_verifies_a_keras_file(qtbot, window, messages, tiny_npz, tmp_path):
    train_tiny(qtbot, window, tiny_npz, "dense")
    window.show_export()
    dialog = window.export_dialog
    qtbot.addWidget(dialog)
    assert "the model in use (trained here" in dialog.windowTitle()  # it says which model it exports
    set_choice(dialog.format, "tflite")
    target = tmp_path / "exported.tflite"
    dialog.path.setText(str(target))
    qtbot.keyClick(dialog.path, Qt.Key_Return)  # Enter exports (it used to open Browse)
    qtbot.waitUntil(lambda: dialog.report is not None or "failed" in dialog.result.text(), timeout=60_000)
    qtbot.waitUntil(lambda: not dialog.runner.is_running(), timeout=60_000)
    assert dialog.report is not None, dialog.result.text()
    assert target.is_file() and dialog.report.max_abs_diff <= 1e-4
    assert "largest difference" in dialog.result.text()
    dialog.close()
    window.show_export()  # the next export starts with the same format, in the same folder
    again = window.export_dialog
    qtbot.addWidget(again)
    assert again.format.currentData() == "tflite" and Path(again.path.text()).parent == tmp_path
    again.close()


def test_export_into_a_missing_folder_fails_clearly(qtbot, window, messages, tiny_npz, tmp_path):
    train_tiny(qtbot, window, tiny_npz, "dense", epochs=1)
    window.show_export()
    dialog = window.export_dialog
    qtbot.addWidget(dialog)
    set_choice(dialog.format, "keras")
    dialog.path.setText(str(tmp_path / "no" / "such" / "folder" / "m.keras"))
    dialog.start_export()
    qtbot.waitUntil(lambda: not dialog.runner.is_running(), timeout=60_000)
    assert dialog.report is None and "failed" in dialog.result.text().lower()
    assert messages
    dialog.close()
