"""The Anomaly detection tab driven like a user: real buttons, real training on tiny data."""
import csv

import numpy as np
import pytest
from matplotlib.backend_bases import MouseEvent
from PySide6.QtCore import Qt

from gui.common.forms import set_choice


def show(qtbot, window, source, epochs=3):
    tab = window.anomaly_tab
    window.tabs.setCurrentWidget(tab)
    set_choice(tab.source, source)
    tab.epochs.setValue(epochs)
    return tab


def train(qtbot, tab, timeout=120_000):
    qtbot.mouseClick(tab.train_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not tab.runner.is_running(), timeout=timeout)


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def read_columns(qtbot, tab, chooser, path):
    chooser.path.setText(path)
    chooser.path.editingFinished.emit()
    qtbot.waitUntil(lambda: not tab.runner.is_running(), timeout=20_000)


def drag(canvas, ax, start, end):
    """Press on the threshold line at data y `start`, move to `end`, release (top axes)."""
    canvas.draw()
    x = np.mean(ax.get_xlim())
    for kind, y in (("button_press_event", start), ("motion_notify_event", end), ("button_release_event", end)):
        px, py = ax.transData.transform((x, y))
        MouseEvent(kind, canvas, px, py, button=1)._process()


def test_synthetic_demo_train_drag_threshold_save_and_export(qtbot, window, messages, tmp_path):
    tab = show(qtbot, window, "synthetic", epochs=6)
    train(qtbot, tab)
    assert not messages, messages
    assert tab.scores is not None and tab.score_plot.point_count() == 1050
    assert tab.roc_plot.curve_data()["auroc"] > 0.95
    assert len(tab.loss_plot.line_data("loss")[1]) > 0  # the live curves streamed in

    before = tab.stats_label.text()
    low = float(np.percentile(tab.scores.errors, 50))
    drag(tab.score_plot, tab.score_plot.ax, tab.detector.threshold, low)
    span = np.ptp(tab.score_plot.ax.get_ylim())
    assert abs(tab.detector.threshold - low) < span / 50  # within a few pixels of where the mouse let go
    assert tab.threshold.value() == pytest.approx(tab.detector.threshold, rel=1e-4)
    assert tab.stats_label.text() != before
    flagged = int(tab.confusion.item(0, 0).text()) + int(tab.confusion.item(1, 0).text())
    assert flagged == int((tab.scores.errors > tab.detector.threshold).sum())
    assert tab.roc_plot.point()[0] > 0.3  # half the normal rows flagged: the ROC point moved right

    set_choice(tab.suggestion, "max")
    tab.apply_suggestion()
    assert tab.detector.threshold == float(tab.detector.train_errors.max())
    # At "the largest training error" the row holding it is not flagged: the tab's count, its confusion
    # matrix and the exported CSV agree with each other row by row, and with the rule (score > threshold).
    errors = tab.scores.errors
    expected = np.zeros(len(errors), int)
    expected[np.argsort(errors, kind="stable")[np.searchsorted(np.sort(errors), tab.detector.threshold,
                                                                side="right"):]] = 1
    assert f"{expected.sum()} of 1050 flagged" in tab.stats_label.text()
    assert int(tab.confusion.item(0, 0).text()) + int(tab.confusion.item(1, 0).text()) == expected.sum()
    assert tab.export_csv(str(tmp_path / "at_max.csv"))
    with open(tmp_path / "at_max.csv") as f:
        assert [int(r[-2]) for r in list(csv.reader(f))[1:]] == expected.tolist()
    set_choice(tab.suggestion, "f1")
    tab.apply_suggestion()
    assert "F1 1.000" in tab.stats_label.text() or "F1 0.9" in tab.stats_label.text()

    assert tab.save_detector(str(tmp_path / "demo.aedet"))
    assert tab.export_csv(str(tmp_path / "scored.csv"))
    with open(tmp_path / "scored.csv") as f:
        rows = list(csv.reader(f))
    assert len(rows) == 1051 and rows[0][-2:] == ["anomaly_flag", "anomaly_score_kind"]

    threshold = tab.detector.threshold
    tab.detector = None
    tab.open_detector(str(tmp_path / "demo.aedet"))
    qtbot.waitUntil(lambda: not tab.runner.is_running() and tab.detector is not None and tab.scores is not None,
                    timeout=60_000)
    qtbot.waitUntil(lambda: not tab.runner.is_running(), timeout=60_000)
    assert tab.detector.threshold == pytest.approx(threshold)
    assert tab.threshold.value() == pytest.approx(threshold, rel=1e-5)


def test_table_with_text_and_gaps_then_imputed(qtbot, window, messages, tmp_path):
    rng = np.random.default_rng(0)
    rows = [[f"{a:.3f}", f"{b:.3f}", "shop", "ok"] for a, b in rng.normal(size=(40, 2))]
    rows[5][1] = ""  # a gap
    rows += [["8", "8", "web", "fraud"]]
    path = write_csv(tmp_path / "t.csv", ["amount", "hour", "channel", "status"], rows)
    tab = show(qtbot, window, "table")
    read_columns(qtbot, tab, tab.table_chooser, path)
    assert tab.table_chooser.features() == ("amount", "hour")  # the text column is not ticked
    tab.table_chooser.set_label("status")
    train(qtbot, tab)
    assert messages and "line 7" in messages[-1][1] and "imputing missing values" in messages[-1][1]
    assert tab.train_button.isEnabled()  # still usable
    tab.table_chooser.impute.setChecked(True)
    messages.clear()
    train(qtbot, tab)
    assert not messages, messages
    assert tab.scores.errors.shape == (41,) and tab.scores.labels.sum() == 1
    assert tab.most.order()[0] == 40  # the fraud row tops the list
    assert "(line 42)" in tab.most.table.item(0, 1).text()


@pytest.mark.parametrize("header, rows, expected", [
    (["a", "label"], [["1", "x"], ["2", "y"], ["3", "z"]], "3 different values"),
    (["a", "b"], [["1", "2"], ["3"]], "line 3"),
])
def test_bad_tables_give_clear_messages(qtbot, window, messages, tmp_path, header, rows, expected):
    path = write_csv(tmp_path / "bad.csv", header, rows)
    tab = show(qtbot, window, "table")
    read_columns(qtbot, tab, tab.table_chooser, path)
    if "label" in header:
        tab.table_chooser.set_checked(["a"])  # 1, 2, 3 only increases: not ticked by itself
        tab.table_chooser.set_label("label")
    train(qtbot, tab)
    assert messages and expected in messages[-1][1]
    assert tab.train_button.isEnabled() and tab.scores is None


def test_sequence_shorter_than_window_and_then_a_real_series(qtbot, window, messages, tmp_path):
    t = np.arange(300)
    values = np.sin(t / 4.0)
    values[250:254] += 5
    path = write_csv(tmp_path / "s.csv", ["time", "value"], [[i, f"{v:.4f}"] for i, v in enumerate(values)])
    tab = show(qtbot, window, "sequence", epochs=3)
    read_columns(qtbot, tab, tab.sequence_chooser, path)
    assert tab.sequence_chooser.features() == ("value",)  # the time stamp is not a signal: left unticked
    tab.window.setValue(400)
    train(qtbot, tab)
    assert messages and "window" in messages[-1][1]
    messages.clear()
    tab.window.setValue(16)
    tab.stride.setValue(2)
    tab.train_share.setValue(0.6)
    train(qtbot, tab)
    assert not messages, messages
    shaded = tab.most.series.shaded_windows()
    assert shaded and any(s <= 252 <= e for s, e in shaded)


def test_broken_detector_file_gives_a_message(qtbot, window, messages, tmp_path):
    bad = tmp_path / "broken.aedet"
    bad.write_bytes(b"PK\x03\x04 broken")
    tab = show(qtbot, window, "synthetic")
    tab.open_detector(str(bad))
    qtbot.waitUntil(lambda: not tab.runner.is_running(), timeout=20_000)
    assert messages and "broken.aedet" in messages[-1][1]
    assert tab.open_button.isEnabled() and tab.detector is None


def sequence_csv(tmp_path):
    t = np.arange(200)
    return write_csv(tmp_path / "s.csv", ["time", "value", "other", "is_anomaly"],
                     [[i, f"{np.sin(i / 4):.4f}", f"{np.cos(i / 5):.4f}", int(150 <= i < 154)] for i in t])


def test_a_restored_sequence_source_trains_only_on_what_is_ticked(qtbot, window, messages, settings, tmp_path):
    """Quit with a sequence CSV chosen (value ticked, is_anomaly the label), relaunch: the columns are read
    again and ticked as they were, and the detector trains on exactly those."""
    from gui.main_window import MainWindow

    path = sequence_csv(tmp_path)
    tab = show(qtbot, window, "sequence", epochs=1)
    read_columns(qtbot, tab, tab.sequence_chooser, path)
    tab.sequence_chooser.set_checked(["value"])
    tab.sequence_chooser.set_label("is_anomaly")
    window.save_settings()
    again = MainWindow(settings)
    qtbot.addWidget(again)
    again.show()
    restored = again.anomaly_tab
    again.tabs.setCurrentWidget(restored)
    qtbot.waitUntil(lambda: restored.sequence_chooser.columns.count() == 4, timeout=20_000)
    qtbot.waitUntil(lambda: not restored.runner.is_running(), timeout=20_000)
    assert restored.sequence_chooser.features() == ("value",)
    assert restored.data.spec().features == ("value",) and restored.data.spec().label == "is_anomaly"
    again.close()


def test_nothing_trains_on_columns_that_are_not_shown_or_not_ticked(qtbot, window, messages, tmp_path):
    from engine.core.errors import ConfigError

    path = sequence_csv(tmp_path)
    tab = show(qtbot, window, "sequence", epochs=1)
    tab.sequence_chooser.path.setText(path)  # typed, not yet read: no column is shown
    with pytest.raises(ConfigError, match="have not been read yet"):
        tab.data.spec()
    read_columns(qtbot, tab, tab.sequence_chooser, path)
    tab.sequence_chooser.set_checked([])
    train(qtbot, tab)
    assert messages and "No column is ticked" in messages[-1][1] and tab.detector is None
    chooser = tab.sequence_chooser  # the label column cannot be ticked as a feature
    chooser.set_checked(["value", "is_anomaly"])
    chooser.set_label("is_anomaly")
    label_item = chooser.columns.item(3)
    assert chooser.features() == ("value",) and not label_item.flags() & Qt.ItemFlag.ItemIsEnabled
    chooser.set_label("")
    assert label_item.flags() & Qt.ItemFlag.ItemIsEnabled


def test_model_export_on_the_anomaly_tab_exports_the_detector_and_says_so(qtbot, window, messages):
    from engine.core.config import TrainConfig
    from engine.models.builders import build_autoencoder

    window.session.set_model(build_autoencoder(TrainConfig(code_size=4), (12, 12, 1)), "built for a test")
    tab = show(qtbot, window, "synthetic", epochs=1)
    train(qtbot, tab)
    window.show_export()  # Model > Export while the Anomaly tab is shown
    dialog = window.export_dialog
    qtbot.addWidget(dialog)
    assert dialog.plan.model is tab.detector.model and "anomaly detector" in dialog.windowTitle()
    dialog.close()
    window.tabs.setCurrentWidget(window.training_tab)
    window.show_export()
    other = window.export_dialog
    qtbot.addWidget(other)
    assert other.plan.model is window.session.model and "built for a test" in other.windowTitle()
    other.close()


def test_the_progress_bar_says_idle_then_how_the_last_job_ended(qtbot, window, messages, tmp_path):
    tab = show(qtbot, window, "synthetic", epochs=2)
    assert tab.progress.text() == "idle" and tab.progress.value() == tab.progress.minimum()  # not a blank bar
    train(qtbot, tab)
    assert tab.progress.text().startswith("done, 2 epoch(s)") and tab.progress.value() == tab.progress.maximum()
    tab.epochs.setValue(30)
    qtbot.mouseClick(tab.train_button, Qt.LeftButton)
    tab.stop()
    qtbot.waitUntil(lambda: not tab.runner.is_running(), timeout=120_000)
    assert tab.progress.text().startswith("stopped") and "idle" not in tab.progress.text()
    bad = tmp_path / "broken.aedet"
    bad.write_bytes(b"PK\x03\x04 broken")
    tab.open_detector(str(bad))
    qtbot.waitUntil(lambda: not tab.runner.is_running(), timeout=20_000)
    assert tab.progress.text().startswith("failed")


def test_every_threshold_suggestion_is_readable_at_1280x760(qtbot, window):
    from PySide6.QtWidgets import QStyle, QStyleOptionComboBox

    window.resize(1280, 760)
    tab = show(qtbot, window, "synthetic")
    tab.views.setCurrentIndex(1)  # Scores and threshold
    qtbot.waitUntil(lambda: tab.suggestion.isVisible())
    combo = tab.suggestion
    option = QStyleOptionComboBox()
    combo.initStyleOption(option)
    field = combo.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                         QStyle.SubControl.SC_ComboBoxEditField, combo)
    for i in range(combo.count()):
        assert combo.fontMetrics().horizontalAdvance(combo.itemText(i)) <= field.width(), combo.itemText(i)
