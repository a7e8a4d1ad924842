"""The job model: how every long piece of work runs, in the GUI and on the command line alike.

A job is a plain function of one argument, a `JobState`, that returns its result: `job(state)`. Through
the state it reports progress and events and asks whether it should stop (after Orange3's
`concurrent.TaskState`). The GUI's runner calls it in a worker thread; the CLI calls it directly.
Results and failures come back as objects: a job ends by returning, by raising a `UserError`
(engine.core.errors), or by raising `Stopped` when it was asked to stop before it was done. Work that
keeps something useful when stopped (training keeps the best model) returns normally instead.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, TypeVar

from engine.core.events import EventCallback, Progress, ignore_event

T = TypeVar("T")


class Stopped(Exception):
    """The user asked the work to stop before it was done; nothing it was making was kept."""


class JobState:
    """What a running job is given: `emit(event)`, `progress(done, total, message)`, `should_stop()`,
    `check()` (raises Stopped), and the `stop_event` itself for code that waits on it (Keras callbacks)."""

    def __init__(self, on_event: EventCallback = ignore_event, stop: threading.Event | None = None):
        self._on_event = on_event
        self.stop_event = stop if stop is not None else threading.Event()

    def emit(self, event: Any) -> None:
        self._on_event(event)

    def progress(self, done: int, total: int, message: str = "") -> None:
        self._on_event(Progress(done, total, message))

    def note(self, message: str) -> None:
        """A line of progress with no count (e.g. "Loading data…")."""
        self._on_event(Progress(0, 0, message))

    def should_stop(self) -> bool:
        return self.stop_event.is_set()

    def check(self, message: str = "Stopped before the work was done.") -> None:
        """Raise Stopped when a stop was asked for."""
        if self.stop_event.is_set():
            raise Stopped(message)

    def request_stop(self) -> None:
        self.stop_event.set()

    def part(self, done_before: int, total: int, label: str = "") -> "JobState":
        """A state for one part of this job: its progress (k of its own n) is reported as done_before + k of
        `total`, its messages prefixed with `label`; it stops when this job does."""
        return _PartState(self, done_before, total, label)


class _PartState(JobState):
    def __init__(self, whole: JobState, done_before: int, total: int, label: str):
        super().__init__(whole._on_event, whole.stop_event)
        self._done_before, self._total, self._label = done_before, total, label

    def progress(self, done: int, total: int, message: str = "") -> None:
        text = f"{self._label}: {message}" if self._label and message else (self._label or message)
        self._on_event(Progress(self._done_before + done, self._total, text))


Job = Callable[[JobState], T]


def run_here(job: Job[T], state: JobState | None = None) -> T:
    """Run a job in this thread (tests, scripts); a default state ignores events and is never stopped."""
    return job(state if state is not None else JobState())
