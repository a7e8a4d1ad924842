"""The window shows before matplotlib is imported: the Training tab's plots are a LazyView, imported in a
background thread once shown and built when that is done (or at once when asked for sooner); the GUI thread
waits for a background import before importing what it may share."""
import sys
import threading
import uuid

import pytest
from PySide6.QtWidgets import QLabel

from gui import lazy_tab
from gui.lazy_tab import LazyTab, LazyView
from tests.gui.helpers import run_fresh


# In a fresh interpreter: which thread imported matplotlib, and what the window was like then.
OPEN_WINDOW = """
import json, sys, threading, time
seen = []
def audit(event, args):
    if event == "import" and args[0] == "matplotlib":
        seen.append(threading.current_thread().name)
sys.addaudithook(audit)
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
app = QApplication([])
from gui.main_window import MainWindow
window = MainWindow(QSettings(sys.argv[1], QSettings.IniFormat))
window.show()
app.processEvents()
shown = {"visible": window.isVisible(), "built": window.training_tab.plots.is_built(), "by_then": list(seen)}
end = time.time() + 90
while not window.training_tab.plots.is_built() and time.time() < end:
    app.processEvents()
    time.sleep(0.01)
print(json.dumps({"shown": shown, "built": window.training_tab.plots.is_built(), "importers": seen,
                  "grid": type(window.training_tab.preview).__name__}))
"""


def test_the_window_shows_first_and_its_plots_follow_imported_in_the_background(tmp_path):
    seen = run_fresh(OPEN_WINDOW, str(tmp_path / "settings.ini"), timeout=180)
    assert seen["shown"]["visible"] and not seen["shown"]["built"]
    assert "MainThread" not in seen["shown"]["by_then"]  # matplotlib was not imported to show the window
    assert seen["built"] and seen["grid"] == "ImageGrid"  # built without anyone asking for the plots
    assert seen["importers"] == ["import gui.tabs.training.live_plots"]


@pytest.fixture
def slow_module(tmp_path, monkeypatch):
    """(name, gate): a module whose import waits for `gate` (a threading.Event) and then builds a QLabel."""
    name, gate = f"slow_view_{uuid.uuid4().hex}", threading.Event()
    (tmp_path / f"{name}.py").write_text(
        "import builtins\n"
        "from PySide6.QtWidgets import QLabel\n"
        f"builtins.__dict__['{name}_gate'].wait(30)\n"
        "DONE = True\n"
        "def build():\n"
        "    return QLabel('built')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(__import__("builtins").__dict__, f"{name}_gate", gate)
    yield name, gate
    gate.set()
    lazy_tab.wait_for_imports()
    sys.modules.pop(name, None)


def test_a_shown_lazy_view_builds_itself_once_the_import_is_done(qtbot, slow_module):
    name, gate = slow_module
    built = []
    view = LazyView(name, lambda m: built.append(m) or m.build(), "Loading plots…")
    qtbot.addWidget(view)
    view.show()
    qtbot.wait(100)
    assert not view.is_built() and view.findChild(QLabel).text() == "Loading plots…"  # waiting, not frozen
    gate.set()
    qtbot.waitUntil(view.is_built, timeout=10_000)
    assert len(built) == 1 and built[0].DONE and view.view.text() == "built"


def test_asked_for_sooner_it_waits_for_the_import_and_builds_once(qtbot, slow_module):
    name, gate = slow_module
    built = []
    view = LazyView(name, lambda m: built.append(m) or m.build())
    qtbot.addWidget(view)
    view.show()
    threading.Timer(0.3, gate.set).start()
    with qtbot.waitSignal(view.built, timeout=10_000):
        assert view.view.text() == "built"  # waited for the background import, then built
    qtbot.wait(100)  # the import's notice arrives after: nothing is built again
    assert len(built) == 1


def test_a_lazy_tab_waits_for_a_background_import_before_it_is_built(qtbot, slow_module):
    name, gate = slow_module
    view = LazyView(name, lambda m: m.build())
    qtbot.addWidget(view)
    view.show()
    seen = []
    tab = LazyTab(lambda: seen.append(name in sys.modules and getattr(sys.modules[name], "DONE", False))
                  or QLabel("tab"), lambda _tab: None)
    qtbot.addWidget(tab)
    threading.Timer(0.3, gate.set).start()
    assert tab.tab.text() == "tab" and seen == [True]  # the import had finished before the tab was built


def test_a_view_deleted_while_its_module_imports_is_left_alone(qtbot, slow_module):
    name, gate = slow_module
    built = []
    view = LazyView(name, lambda m: built.append(m) or m.build())
    view.show()
    view.deleteLater()
    qtbot.wait(50)
    gate.set()
    lazy_tab.wait_for_imports()
    qtbot.wait(100)  # the notice is dropped with the view
    assert built == []


def test_start_pressed_while_the_plots_import_starts_once_they_are_built_without_freezing(
        qtbot, settings, messages, tiny_npz, monkeypatch):
    from gui.main_window import MainWindow
    from tests.gui.helpers import click, use_array

    gate, real = threading.Event(), lazy_tab.importlib.import_module

    class SlowImports:  # the background import (not the GUI thread's) waits for the gate
        @staticmethod
        def import_module(name):
            if threading.current_thread() is not threading.main_thread():
                gate.wait(30)
            return real(name)

    monkeypatch.setattr(lazy_tab, "importlib", SlowImports)
    window = MainWindow(settings)
    qtbot.addWidget(window)
    window.show()
    tab = window.training_tab
    use_array(tab, tiny_npz, epochs=1)
    threading.Timer(1.0, gate.set).start()
    click(qtbot, tab.start_button)  # returns at once: the GUI does not wait for the import
    assert not tab.runner.is_running() and not tab.plots.is_built() and not gate.is_set()
    assert not tab.start_button.isEnabled() and tab.progress.format() == "starting…"
    with qtbot.waitSignal(tab.runner.finished, timeout=120_000):
        qtbot.waitUntil(tab.plots.is_built, timeout=30_000)
    assert window.session.model is not None and list(tab.loss_plot.line_data("loss")[0]) == [1]
    assert tab.start_button.isEnabled() and messages == []
    window.close()


def test_opened_on_another_tab_the_plots_and_then_tensorflow_still_load(qtbot, settings, messages, monkeypatch):
    from gui.main_window import MainWindow

    settings.setValue("window/tab", 2)  # quit on the Denoise tab last time
    window = MainWindow(settings)
    qtbot.addWidget(window)
    warmed = []
    monkeypatch.setattr(window, "_start_warm_up", lambda: warmed.append(window.training_tab.plots.is_built()))
    window.show()
    assert window.tabs.currentIndex() == 2 and not window.training_tab.isVisible()
    qtbot.waitUntil(lambda: warmed == [True], timeout=30_000)  # the plots, then TensorFlow's warm-up
    window.close()


def test_the_live_plots_come_in_two_short_steps_and_the_grid_at_once_when_asked(qtbot):
    from gui.common.image_grid import ImageGrid
    from gui.common.loss_plot import LossPlot
    from gui.tabs.training.live_plots import LivePlots

    plots = LivePlots(log_scale=True)
    qtbot.addWidget(plots)
    assert [type(plots.widget(i)) for i in range(plots.count())] == [LossPlot]  # the grid comes a moment later
    assert plots.loss_plot.is_log_scale()
    qtbot.waitUntil(lambda: plots.count() == 2, timeout=5_000)
    assert isinstance(plots.widget(1), ImageGrid) and plots.preview is plots.widget(1)
    asked = LivePlots(log_scale=False)
    qtbot.addWidget(asked)
    grid = asked.preview  # asked for before its moment: built now, once
    qtbot.wait(100)
    assert asked.count() == 2 and asked.widget(1) is grid
