"""Garbage cycles are collected on the GUI thread only.

CPython's cyclic collector runs in whichever thread allocates when a generation passes its threshold, and
gc.collect() runs where it is called. A collection deletes the Qt objects caught in reference cycles (every
matplotlib canvas is one: canvas.figure <-> figure.canvas), and a QObject deleted off its thread crashes Qt:
"QObject::killTimer: Timers cannot be stopped from another thread", then a segfault (CI: a training
worker's collection met a test's closed canvases; `tests/gui/test_collector.py` makes it happen). The remedy
Kovid Goyal gave on the PyQt list (2011) and calibre uses: the automatic collector off, and a timer on the
GUI thread collecting the generations that are due, by the collector's own thresholds. Collections that
engine code asks for on a worker thread (engine.core.runtime.collect_garbage) are left to this thread; the
job runner collects before each job starts instead (gui.worker).
"""
from __future__ import annotations

import gc

from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer, Slot

from engine.core import runtime

INTERVAL_MS = 250  # an idle check costs microseconds; collections stay as frequent as the automatic ones

_installed: "GuiThreadCollector | None" = None


class GuiThreadCollector(QObject):
    """Collects, on the thread it lives in, what the automatic collector would have collected by now."""

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(INTERVAL_MS)
        self._timer.timeout.connect(self.collect_due)
        self._timer.start()

    @Slot()
    def collect_due(self) -> int | None:
        """Collect the oldest generation whose threshold is passed, once the youngest's is; the generation
        collected, or None."""
        counts, thresholds = gc.get_count(), gc.get_threshold()
        if thresholds[0] == 0 or counts[0] <= thresholds[0]:
            return None
        generation = next((g for g in (2, 1) if counts[g] > thresholds[g]), 0)
        return generation if self.collect(generation) else None

    def collect(self, generation: int = 2) -> bool:
        """Collect now, unless TensorFlow is being imported (its objects are frozen once it is done; walking
        them before took up to ~190 ms with the GIL held). True when it collected."""
        if runtime.importing_tensorflow():
            return False
        gc.collect(generation)
        return True


def install() -> GuiThreadCollector:
    """From now on, garbage cycles are collected on the calling thread (the GUI thread), and only there.
    Call it once the application object exists; later calls return the same collector."""
    global _installed
    app = QCoreApplication.instance()
    if app is None or app.thread() is not QThread.currentThread():
        raise RuntimeError("the collector is installed on the application's thread, once the application exists")
    if _installed is None:
        gc.disable()
        runtime.collect_only_on_this_thread()
        _installed = GuiThreadCollector(app)
    return _installed


def installed() -> GuiThreadCollector | None:
    return _installed


def collect_before_job() -> None:
    """What earlier work left (a replaced model and its graphs) goes before a job starts, collected here: the
    job's own collection (engine.core.runtime.collect_garbage) is left to this thread. Only new objects are
    walked (startup and TensorFlow's import are frozen): milliseconds. Nothing without the collector."""
    if _installed is not None:
        _installed.collect()
