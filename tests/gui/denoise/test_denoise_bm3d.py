"""BM3D in the Denoise tab: side by side with the others, a question before a long run, Cancel between tiles,
and listed as unavailable without the bm3d package."""
import threading

import pytest
from PIL import Image
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from gui.tabs.denoise import long_run
from tests.gui.helpers import click

bm3d = pytest.importorskip("bm3d")


def write_photo(path, side=64, colour=False):
    from skimage import data

    pixels = data.astronaut()[60:60 + side, 160:160 + side] if colour else data.camera()[200:200 + side, 220:220 + side]
    Image.fromarray(pixels).save(path)
    return path


def open_in(qtbot, tab, path):
    with qtbot.waitSignal(tab.runner.finished, timeout=30_000):
        assert tab.open_image(path)


def choose(tab, *methods):
    tab.noise_kind.setCurrentIndex(tab.noise_kind.findData("gaussian"))
    tab.sigma.setValue(25.0)
    for method, box in tab.method_boxes.items():
        box.setChecked(method in methods)


def answer_question(qtbot, button_text, seen, tries=250):
    """Click `button_text` on the long-run question if it shows within `tries` x 20 ms; its text goes into
    `seen`."""

    def click_when_shown(left=tries):
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox) or box.objectName() != "long_run_question":
            if left > 0:
                QTimer.singleShot(20, lambda: click_when_shown(left - 1))
            return
        seen.append(box.text())
        button = next(b for b in box.buttons() if b.text().replace("&", "") == button_text)
        button.click()

    QTimer.singleShot(0, click_when_shown)


@pytest.fixture
def tab(window):
    window.tabs.setCurrentWidget(window.denoise_tab)
    return window.denoise_tab


@pytest.fixture
def ten_minutes(monkeypatch):
    """BM3D estimated at 10 minutes on any image (instead of needing a huge one)."""
    real = long_run.estimate_seconds
    monkeypatch.setattr(long_run, "estimate_seconds", lambda m, shape: 600.0 if m == "bm3d" else real(m, shape))


def test_bm3d_beside_the_others(qtbot, tab, window, tmp_path):
    assert tab.method_boxes["bm3d"].isEnabled() and "CBM3D" in tab.method_boxes["bm3d"].text()
    open_in(qtbot, tab, write_photo(tmp_path / "photo.png", colour=True))
    choose(tab, "bm3d", "nl_means")
    with qtbot.waitSignal(tab.runner.finished, timeout=120_000):
        click(qtbot, tab.denoise_button)  # about a second: no question
    rows = tab.metrics()
    assert float(rows["CBM3D"]["PSNR (dB)"]) > float(rows["Non-local means"]["PSNR (dB)"]) > \
        float(rows["Noisy"]["PSNR (dB)"]) + 3
    assert tab.progress.format() == "done"


def test_a_long_run_asks_first_and_no_starts_nothing(qtbot, tab, window, tmp_path, ten_minutes):
    open_in(qtbot, tab, write_photo(tmp_path / "photo.png"))
    choose(tab, "bm3d", "tv")
    seen = []
    answer_question(qtbot, "Cancel", seen)
    click(qtbot, tab.denoise_button)
    assert seen == ["BM3D on this 0.0041-megapixel image will take about 10 minutes. Continue?"]
    assert not tab.runner.is_running() and tab.result is None and tab.denoise_button.isEnabled()
    assert window.status_label.text() == "Not started." and tab.progress.format() == "opened"

    answer_question(qtbot, "Continue", seen)
    with qtbot.waitSignal(tab.runner.finished, timeout=120_000):
        click(qtbot, tab.denoise_button)
    assert len(seen) == 2 and set(tab.result.outputs) == {"bm3d", "tv"}


def test_quick_runs_are_not_asked_about(qtbot, tab, tmp_path, ten_minutes):
    open_in(qtbot, tab, write_photo(tmp_path / "photo.png"))
    choose(tab, "tv", "nl_means")
    seen = []
    answer_question(qtbot, "Cancel", seen)  # if it asked
    with qtbot.waitSignal(tab.runner.finished, timeout=60_000, raising=False) as run:
        click(qtbot, tab.denoise_button)
    assert seen == [] and run.signal_triggered and tab.result is not None


def test_cancel_stops_bm3d_between_tiles(qtbot, tab, window, tmp_path, monkeypatch):
    from engine.denoise import classical

    monkeypatch.setattr(classical, "BM3D_TILES", (56,))  # 4 tiles of about a second each
    monkeypatch.setattr(classical, "BM3D_OVERLAP", 8)
    calls, real, cancelled = [], bm3d.bm3d, threading.Event()

    def counted(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:  # the second tile waits for the click: a fast machine cannot finish before it
            cancelled.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(bm3d, "bm3d", counted)
    open_in(qtbot, tab, write_photo(tmp_path / "photo.png", side=96))
    tiles = classical.count_tiles((96, 96), tile=56, overlap=8)
    choose(tab, "bm3d")
    click(qtbot, tab.denoise_button)
    qtbot.waitUntil(lambda: tab.progress.value() >= 1 and tab.progress.maximum() == tiles == 4, timeout=60_000)
    assert "BM3D: " in tab.progress_label.text() and f"of {tiles} tiles" in tab.progress_label.text()
    with qtbot.waitSignal(tab.runner.finished, timeout=30_000):
        click(qtbot, tab.cancel_button)
        cancelled.set()
    assert "Cancelled" in window.status_label.text() and tab.result is None
    assert 1 <= len(calls) < tiles


def test_without_the_package_bm3d_is_listed_as_unavailable(monkeypatch, qtbot, settings, messages):
    from gui.main_window import MainWindow
    from gui.tabs.denoise import photo_view

    monkeypatch.setattr(photo_view, "bm3d_support", lambda: (False, "BM3D needs the bm3d package: pip install bm3d"))
    window = MainWindow(settings)
    qtbot.addWidget(window)
    box = window.denoise_tab.method_boxes["bm3d"]
    assert not box.isEnabled() and box.text().endswith("not available") and "pip install bm3d" in box.toolTip()
    box.setChecked(True)
    assert "bm3d" not in window.denoise_tab.chosen_methods()
    window.close()
