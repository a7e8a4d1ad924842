"""gui.collector: garbage cycles holding Qt objects are collected on the GUI thread only. A QObject deleted by
a collection in a worker thread crashed the suite (a training's collection met a test's closed canvases)."""
from __future__ import annotations

import gc
import threading
import weakref

from PySide6.QtCore import QObject, Qt

from engine.core import runtime
from gui import collector


class _Node:
    pass


def _qobject_in_a_cycle(deleted_on: list[int]) -> None:
    """A parentless QObject that only the cycle collector can free; records the thread that deletes it."""
    obj = QObject()
    obj.destroyed.connect(lambda *_: deleted_on.append(threading.get_ident()), Qt.ConnectionType.DirectConnection)
    obj.myself = obj  # the cycle (a matplotlib canvas has one: canvas.figure.canvas)


def _busy_worker() -> None:
    """What a training thread does: allocates a great many container objects, asks the engine to collect."""
    junk = []
    for _ in range(20):
        junk.append([_Node() for _ in range(5_000)])
        for node in junk[-1]:
            node.me = node
        junk.pop(0) if len(junk) > 3 else None
    runtime.collect_garbage()


def test_a_qobject_in_a_garbage_cycle_is_deleted_on_the_gui_thread_not_in_a_busy_worker(qtbot):
    deleted_on: list[int] = []
    _qobject_in_a_cycle(deleted_on)
    worker = threading.Thread(target=_busy_worker)
    worker.start()
    worker.join()
    assert worker.ident not in deleted_on  # neither the automatic collector nor the engine's ran there
    qtbot.waitUntil(lambda: bool(deleted_on), timeout=5000)  # the collector's timer gets it on the GUI thread
    assert deleted_on == [threading.get_ident()]


def test_installing_turns_the_automatic_collector_off_and_returns_the_one_collector():
    first = collector.install()
    assert collector.install() is first and collector.installed() is first
    assert not gc.isenabled()


def test_the_generations_due_are_collected_as_the_automatic_collector_would():
    gc.collect()
    due = collector.installed()
    assert due.collect_due() is None  # nothing allocated since: nothing due
    threshold = gc.get_threshold()[0]
    keep = [_Node() for _ in range(threshold + 10)]
    assert gc.get_count()[0] > threshold
    assert due.collect_due() == 0 and gc.get_count()[0] < threshold
    del keep


def test_nothing_is_collected_while_tensorflow_is_imported(monkeypatch):
    """The import's ~360,000 objects are frozen when it ends; a collection before walked them (190 ms, GIL held)."""
    monkeypatch.setattr(runtime, "importing_tensorflow", lambda: True)
    keep = [_Node() for _ in range(gc.get_threshold()[0] + 10)]
    node = _Node()
    node.me = node
    left = weakref.ref(node)
    del node
    assert collector.installed().collect_due() is None
    collector.collect_before_job()
    assert left() is not None
    monkeypatch.setattr(runtime, "importing_tensorflow", lambda: False)
    collector.collect_before_job()
    assert left() is None
    del keep


def test_a_job_starts_after_what_earlier_work_left_is_collected_here(qtbot):
    from gui.worker import JobRunner

    runner = JobRunner()
    node = _Node()
    node.me = node
    left = weakref.ref(node)
    del node
    assert left() is not None
    runner.start(lambda state: None, "noop")
    assert left() is None  # collected in start(), on this thread: the job's own collection is left to it
    with qtbot.waitSignal(runner.finished, timeout=5000):
        pass


def test_the_app_opens_its_window_with_collections_on_the_gui_thread(tmp_path):
    """main.open_window (what `python main.py` and the benchmarks run) in a fresh interpreter, where no test
    fixture installed the collector."""
    import os
    import subprocess
    import sys

    from tests.paths import ROOT

    script = (
        "import gc, sys, threading\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from PySide6.QtCore import QSettings, QTimer\n"
        "import main\n"
        "from engine.core import runtime\n"
        f"app, window = main.open_window(['aes'], QSettings({str(tmp_path / 's.ini')!r}, QSettings.IniFormat))\n"
        "from gui import collector\n"
        "QTimer.singleShot(0, app.quit)\n"
        "app.exec()\n"
        "print('RESULT', collector.installed() is not None, gc.isenabled(),\n"
        "      runtime._collecting_thread == threading.get_ident(), gc.get_freeze_count() > 10_000)\n"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")]
    assert lines, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert lines[-1] == "RESULT True False True True"  # the start's objects frozen at the first turn
