"""Fixtures for driving the real main window."""
import numpy as np
import pytest
from PySide6.QtCore import QSettings

from gui.main_window import MainWindow


@pytest.fixture(autouse=True)
def _gui_thread_collector(qapp):
    """Garbage cycles are collected on the GUI thread only, as in the app (main.py installs the same)."""
    from gui import collector

    return collector.install()


@pytest.fixture
def messages(monkeypatch):
    """Record message boxes instead of blocking on them; returns the list of (title, text)."""
    shown = []

    def record(_parent, title, text, *args, **kwargs):
        shown.append((title, text))

    from PySide6.QtWidgets import QMessageBox
    for name in ("warning", "information", "critical"):
        monkeypatch.setattr(QMessageBox, name, staticmethod(record))
    return shown


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)


@pytest.fixture
def window(qtbot, settings, messages):
    win = MainWindow(settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(win.training_tab.plots.is_built, timeout=60_000)  # built as the background import ends
    yield win
    win.close()


@pytest.fixture
def tiny_npz(tmp_path):
    """60 small grey images in an .npz, as a user might have."""
    rng = np.random.default_rng(0)
    base = rng.random((3, 12, 12)).astype(np.float32)
    x = np.clip(base[rng.integers(0, 3, 60)] + 0.05 * rng.standard_normal((60, 12, 12)), 0, 1).astype(np.float32)
    path = tmp_path / "tiny.npz"
    np.savez(path, x=x)
    return path
