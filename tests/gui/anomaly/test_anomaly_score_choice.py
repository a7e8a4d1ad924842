"""The Anomaly tab's score combo: images default to the blurred error, choosing another score after training
re-scores the same reconstructions and redraws every plot, and the choice is saved with the detector."""
import numpy as np
import pytest
from PySide6.QtCore import Qt

from engine.anomaly import scores as anomaly
from gui.common.forms import set_choice
from tests.blob_images import write_blob_folders


def wait_idle(qtbot, tab):
    qtbot.waitUntil(lambda: not tab.runner.is_running(), timeout=120_000)


def drawn(tab):
    """What the user sees: the scores plotted (normal and labelled anomalous points), the training histogram,
    the axis name, the ROC's AUROC and the threshold line."""
    plot = tab.score_plot
    points = np.sort(np.concatenate([plot._normal.get_ydata(), plot._anomalous.get_ydata()]))
    return points, plot.histogram("train")[1], plot.ax.get_ylabel(), tab.roc_plot.curve_data()["auroc"], \
        plot.threshold_lines()[0]


def test_choosing_the_score_rescores_redraws_and_is_saved(qtbot, window, messages, tmp_path):
    from engine.anomaly.files import load_detector

    normal, test = write_blob_folders(tmp_path)
    tab = window.anomaly_tab
    window.tabs.setCurrentWidget(tab)
    set_choice(tab.source, "synthetic")
    blurred_index = tab.score.findData("blurred_error")
    assert not tab.score.model().item(blurred_index).isEnabled()  # tables: the plain error only
    assert tab.score.currentData() == "error" and "images only" in tab.score.toolTip()
    set_choice(tab.source, "folders")
    assert tab.score.model().item(blurred_index).isEnabled() and tab.score.currentData() == "blurred_error"
    tab.normal_folder.setText(str(normal))
    tab.score_folder.setText(str(test))
    tab.data.image_size.setValue(16)
    tab.epochs.setValue(2)
    tab.batch_size.setValue(8)
    qtbot.mouseClick(tab.train_button, Qt.LeftButton)
    wait_idle(qtbot, tab)
    assert not messages, messages
    assert tab.detector.score_kind == "blurred_error"
    before = drawn(tab)
    assert "blurred" in before[2]
    percentile = 100 * np.mean(tab.detector.train_errors <= tab.detector.threshold)

    set_choice(tab.score, "error")  # as the user picks it: the shown detector is re-scored
    wait_idle(qtbot, tab)
    assert not messages, messages
    assert tab.detector.score_kind == tab.scores.score_kind == "error"
    after = drawn(tab)
    plain = anomaly.sample_scores(tab.scores.inputs, tab.scores.outputs)
    assert after[0] == pytest.approx(np.sort(plain), rel=1e-5)  # the points moved to the plain errors
    assert not np.allclose(after[0], before[0])
    assert not np.allclose(after[1], before[1])  # the training histogram too
    assert after[2] == "reconstruction error"
    assert after[3] == pytest.approx(anomaly.curves(plain, tab.scores.labels).auroc)
    assert after[4] == pytest.approx(tab.detector.threshold) and tab.threshold.value() == pytest.approx(
        tab.detector.threshold, rel=1e-4)
    assert 100 * np.mean(tab.detector.train_errors <= tab.detector.threshold) == pytest.approx(percentile, abs=7)
    assert "reconstruction error" in tab.progress_label.text()

    assert tab.save_detector(str(tmp_path / "plain.aedet"))
    assert load_detector(tmp_path / "plain.aedet").score_kind == "error"
    set_choice(tab.score, "blurred_error")
    wait_idle(qtbot, tab)
    assert drawn(tab)[0] == pytest.approx(before[0], rel=1e-5)  # back to the blurred scores
    tab.detector = None
    tab.open_detector(str(tmp_path / "plain.aedet"))  # the opened detector shows its own score
    qtbot.waitUntil(lambda: not tab.runner.is_running() and tab.scores is not None
                    and tab.scores.score_kind == "error", timeout=60_000)
    assert tab.score.currentData() == "error" and drawn(tab)[2] == "reconstruction error"
