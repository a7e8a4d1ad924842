"""A job started while TensorFlow's libraries load gets its thread once they are loaded.

Creating a thread waits for the dynamic loader's lock, which a dlopen() of libtensorflow_cc holds for half a
second (its static initialisers); the GUI thread waited there with the GIL held when Start was pressed at
that moment. `runtime.loading_libraries()` is faked here, so that the test controls when loading ends.
"""
from __future__ import annotations

import threading

import pytest

from gui import worker as worker_module
from gui.worker import JobRunner


@pytest.fixture
def loading(monkeypatch):
    """[True]: TensorFlow's libraries are loading until the test sets it to False."""
    state = [True]
    monkeypatch.setattr(worker_module.runtime, "loading_libraries", lambda: state[0])
    return state


def test_a_job_started_while_libraries_load_runs_once_they_are_loaded(qtbot, loading):
    runner = JobRunner()
    ran = threading.Event()
    finished = []
    runner.finished.connect(lambda: finished.append(True))
    assert runner.start(lambda state: ran.set() or "done", "deferred")
    qtbot.wait(150)
    assert not ran.is_set() and runner.is_running()  # no thread yet
    worker_module.live_threads()  # prunes ended jobs: one not started yet is not one of them
    loading[0] = False
    with qtbot.waitSignal(runner.succeeded, timeout=5000) as blocker:
        pass
    assert ran.is_set() and blocker.args == ["done"]
    qtbot.waitUntil(lambda: finished == [True] and not runner.is_running(), timeout=5000)
    qtbot.waitUntil(lambda: worker_module.live_threads() == [], timeout=5000)


def test_wait_on_a_job_not_started_yet_runs_it_stopped_and_delivers_its_outcome(qtbot, loading):
    runner = JobRunner()
    outcome = []
    runner.succeeded.connect(outcome.append)
    runner.start(lambda state: "stopped" if state.stop_event.is_set() else "ran on", "deferred")
    assert runner.wait(5000) is True
    assert outcome == ["stopped"] and not runner.is_running()
    assert worker_module.live_threads() == []
