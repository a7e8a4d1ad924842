"""The job model: a job is job(state); the state carries events out and the stop request in."""
import threading

import pytest

from engine.core.events import Progress
from engine.core.jobs import JobState, Stopped, run_here


def test_state_emits_events_and_progress_in_order():
    seen = []
    state = JobState(seen.append)
    state.emit("started")
    state.progress(3, 10, "reading")
    state.note("thinking")
    assert seen == ["started", Progress(3, 10, "reading"), Progress(0, 0, "thinking")]


def test_check_raises_stopped_only_once_a_stop_is_asked_for():
    stop = threading.Event()
    state = JobState(stop=stop)
    state.check()  # nothing asked: goes on
    assert not state.should_stop()
    stop.set()  # e.g. the GUI thread's Stop button, a direct call
    assert state.should_stop() and state.stop_event is stop
    with pytest.raises(Stopped, match="half way"):
        state.check("Stopped half way.")


def test_request_stop_sets_the_shared_event():
    state = JobState()
    state.request_stop()
    assert state.stop_event.is_set()
    with pytest.raises(Stopped):
        state.check()


def test_a_part_reports_within_the_whole_and_stops_with_it():
    seen = []
    whole = JobState(seen.append)
    part = whole.part(10, 40, "TV")
    part.progress(3, 8, "3 of 8 tiles")
    part.progress(8, 8, "")
    part.emit("event")
    assert seen == [Progress(13, 40, "TV: 3 of 8 tiles"), Progress(18, 40, "TV"), "event"]
    whole.request_stop()
    assert part.should_stop()
    with pytest.raises(Stopped):
        part.check()


def test_run_here_gives_a_job_a_state_that_never_stops():
    assert run_here(lambda state: (state.should_stop(), 42)) == (False, 42)
    seen = []
    assert run_here(lambda state: state.emit(1) or "done", JobState(seen.append)) == "done" and seen == [1]
