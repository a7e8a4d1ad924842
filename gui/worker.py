"""Run one engine job at a time on a QThread and deliver what it reports to the GUI thread.

A job is what engine.core.jobs describes, ``fn(state) -> result``: through its ``JobState`` it emits
events (from the worker thread, any number of times) and checks whether to stop; it returns a result
or raises, and the exception itself reaches the GUI (``failed(exc)``), never its text. Events travel
through a thread-safe FIFO; the worker wakes the GUI thread with
one argument-less queued signal only when the FIFO goes from empty to non-empty, so the Qt
event queue never floods whatever the job emits. The GUI thread drains the FIFO in short
time slices (the event loop keeps running) and the job is slowed down (backpressure) when the
GUI falls more than ``max_backlog`` events behind, so memory stays bounded and nothing is lost.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, QTimer, Signal, Slot
import shiboken6
from shiboken6 import isValid

from engine.core import runtime
from engine.core.jobs import Job, JobState
from gui import collector

_log = logging.getLogger(__name__)

_EMPTY = object()
_EVENT, _SUCCEEDED, _FAILED = "event", "succeeded", "failed"


class _Channel:
    """FIFO from one worker thread to the GUI thread, bounded by backpressure."""

    def __init__(self, max_backlog: int) -> None:
        self._items: deque[tuple] = deque()
        self._cond = threading.Condition()
        self._max_backlog = max(1, max_backlog)
        self._wakeup_pending = False

    def put(self, item: tuple, stop: threading.Event | None = None) -> bool:
        """Append an item; True when the receiver has to be woken up."""
        with self._cond:
            # Wait for the GUI to catch up, but never once a stop was requested: the GUI
            # thread may be blocked in wait() and a stopping job must be able to finish.
            while (
                stop is not None
                and len(self._items) >= self._max_backlog
                and not stop.is_set()
            ):
                self._cond.wait(0.05)
            self._items.append(item)
            if self._wakeup_pending:
                return False
            self._wakeup_pending = True
            return True

    def take(self) -> Any:
        """Next item, or _EMPTY (then the next put() wakes the receiver again)."""
        with self._cond:
            if not self._items:
                self._wakeup_pending = False
                return _EMPTY
            item = self._items.popleft()
            if len(self._items) < self._max_backlog:
                self._cond.notify_all()
            return item

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)


class _Worker(QObject):
    """Lives in the worker thread; runs the job and feeds the channel."""

    pending = Signal()  # the channel went from empty to non-empty

    def __init__(self, fn: Job, stop: threading.Event, channel: _Channel) -> None:
        super().__init__()
        self._fn = fn
        self._stop = stop
        self._channel = channel
        self._closed = False

    @Slot()
    def run(self) -> None:
        _lower_thread_priority()
        try:
            try:
                result = self._fn(JobState(self._on_event, self._stop))
            except BaseException as exc:  # noqa: BLE001 - nothing may escape the thread
                outcome: tuple = (_FAILED, exc)
            else:
                outcome = (_SUCCEEDED, result)
            self._closed = True
            if self._channel.put(outcome):
                self.pending.emit()
        except BaseException:  # noqa: BLE001
            _log.exception("job runner failed to deliver an outcome")
        finally:
            # quit() is thread-safe; exec() returns at once if quit came before it started.
            QThread.currentThread().quit()

    def _on_event(self, event: Any) -> None:
        if self._closed:  # a stray call after the job returned
            return
        if self._channel.put((_EVENT, event), self._stop):
            self.pending.emit()


def _is_expected(exc: BaseException) -> bool:
    """A user's error or a stop: shown to the user, not logged as a bug."""
    from engine.core.errors import UserError
    from engine.core.jobs import Stopped

    return isinstance(exc, (UserError, Stopped, OSError))


def _lower_thread_priority(niceness: int = 10) -> None:
    """Let the GUI thread win the CPU over background work (Linux: per-thread nice value).

    TensorFlow's thread pools are created by the first TF call, made in a worker thread,
    so they inherit this priority too. QThread.setPriority has no effect for normal Linux
    threads. Measured by benchmarks/ui_latency.py: dense fit-phase p99 238 -> 89 ms.
    """
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except (AttributeError, OSError):  # not Linux, or not allowed: run at normal priority
        pass


@dataclass(eq=False)
class _Job:
    name: str
    thread: QThread
    worker: _Worker
    stop: threading.Event
    channel: _Channel
    started: bool = False  # its thread was started (start() may wait for TensorFlow's libraries to load)


# Every job whose thread has not been reaped yet. Holding the QThread and the worker here keeps
# them from being garbage-collected while the OS thread still runs, even if the JobRunner that
# started them is gone.
_jobs: list[_Job] = []


def _thread_done(thread: QThread) -> bool:
    # isRunning() turns False as soon as the thread enters its finishing phase; wait() in
    # _reap() then covers the last microseconds until the OS thread has really ended.
    return not isValid(thread) or not thread.isRunning()


def _reap(job: _Job) -> None:
    """Forget a job whose thread has ended and schedule its deletion."""
    if job in _jobs:
        _jobs.remove(job)
    if isValid(job.thread):
        job.thread.wait()  # returns at once: the thread has emitted finished or is finished
        job.thread.deleteLater()
    # The worker goes here, on the GUI thread, once its thread has ended. Deleted in its own thread (deleteLater
    # on `finished`), its ~QObject asked for the GIL while holding one of Qt's connection locks, and the suite
    # hung when the GUI thread, holding the GIL, waited for the same lock in QObject::connect.
    if isValid(job.worker):
        shiboken6.delete(job.worker)


def _prune() -> None:
    for job in [j for j in _jobs if j.started and _thread_done(j.thread)]:
        _reap(job)


def _launch(job: _Job) -> None:
    if not job.started:
        job.started = True
        job.thread.start()


def live_threads() -> list[QThread]:
    """QThreads started by any JobRunner that have not finished yet."""
    _prune()
    return [job.thread for job in _jobs]


def stop_all(timeout_ms: int = 5000) -> bool:
    """Ask every live job to stop and wait for its thread; True when all ended in time."""
    deadline = time.monotonic() + timeout_ms / 1000
    for job in list(_jobs):
        job.stop.set()
    ok = True
    for job in list(_jobs):
        _launch(job)  # a job not started yet runs too, and sees that it is to stop
        if not _wait_thread(job.thread, deadline):
            ok = False
    _prune()
    return ok


def _wait_thread(thread: QThread, deadline: float) -> bool:
    if _thread_done(thread):
        return True
    thread.quit()
    remaining_ms = max(0, int((deadline - time.monotonic()) * 1000))
    return bool(thread.wait(remaining_ms))


class JobRunner(QObject):
    """Owns at most one background job; lives in the GUI thread and re-emits what the job reports.

    Signals are emitted in the GUI thread: ``event_emitted`` for every event in order, then
    ``succeeded(result)`` or ``failed(exception)``, then always ``finished()``.
    """

    event_emitted = Signal(object)
    succeeded = Signal(object)
    failed = Signal(object)
    finished = Signal()

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        max_backlog: int = 1000,
        drain_budget_ms: float = 20.0,
        quit_timeout_ms: int = 10_000,
    ) -> None:
        super().__init__(parent)
        self._job: _Job | None = None
        self._max_backlog = max_backlog
        self._drain_budget_s = drain_budget_ms / 1000
        self._drain_scheduled = False
        self.quit_timeout_ms = quit_timeout_ms
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self._on_about_to_quit)

    @classmethod
    def for_tab(cls, tab: QObject) -> "JobRunner":
        """A runner owned by `tab`, wired to the tab's `_on_event`, `_on_succeeded`, `_on_failed`
        and `_on_finished` slots (those it has)."""
        runner = cls(tab)
        for signal, slot in ((runner.event_emitted, "_on_event"), (runner.succeeded, "_on_succeeded"),
                             (runner.failed, "_on_failed"), (runner.finished, "_on_finished")):
            if hasattr(tab, slot):
                signal.connect(getattr(tab, slot))
        return runner

    # -- public API -----------------------------------------------------------------------
    def start(self, fn: Job, name: str = "job") -> bool:
        """Start fn(state) on a new thread; False (and nothing done) if a job runs."""
        if self._job is not None:
            return False
        _prune()
        collector.collect_before_job()
        stop = threading.Event()
        channel = _Channel(self._max_backlog)
        thread = QThread()  # no parent: the module registry keeps it until it has ended
        thread.setObjectName(f"JobRunner:{name}")
        worker = _Worker(fn, stop, channel)
        worker.moveToThread(thread)
        worker.pending.connect(self._on_pending, Qt.ConnectionType.QueuedConnection)
        thread.started.connect(worker.run)
        thread.finished.connect(self._on_thread_finished, Qt.ConnectionType.QueuedConnection)
        job = _Job(name, thread, worker, stop, channel)
        self._job = job
        _jobs.append(job)
        self._launch_soon(job)
        return True

    def _launch_soon(self, job: _Job) -> None:
        """Start the job's thread now, or once TensorFlow's libraries are loaded: creating a thread meanwhile
        waits for the dynamic loader's lock, with the GIL held (a window frozen up to half a second)."""
        if job.started or job not in _jobs:
            return
        if runtime.loading_libraries():
            QTimer.singleShot(10, self, lambda: self._launch_soon(job))
        else:
            _launch(job)

    def stop(self) -> None:
        """Ask the running job to stop (a direct call: works while the worker is busy)."""
        if self._job is not None:
            self._job.stop.set()

    def is_running(self) -> bool:
        """True from start() until the job's outcome has been delivered."""
        return self._job is not None

    def job_name(self) -> str | None:
        return self._job.name if self._job is not None else None

    def wait(self, timeout_ms: int = 5000) -> bool:
        """Stop the job, wait for its thread and deliver what is left; False on timeout."""
        job = self._job
        if job is None:
            return True
        job.stop.set()
        _launch(job)
        if not _wait_thread(job.thread, time.monotonic() + timeout_ms / 1000):
            _log.warning("job %r did not stop within %d ms", job.name, timeout_ms)
            return False
        self._drain(budget_s=None)
        if job in _jobs:
            _reap(job)
        return True

    # -- slots ----------------------------------------------------------------------------
    @Slot()
    def _on_pending(self) -> None:
        self._drain_scheduled = False
        self._drain(budget_s=self._drain_budget_s)

    @Slot()
    def _on_thread_finished(self) -> None:
        _prune()

    @Slot()
    def _on_about_to_quit(self) -> None:
        if not self.wait(self.quit_timeout_ms):
            _log.error("job still running at exit; its thread may be killed")

    # -- delivery -------------------------------------------------------------------------
    def _drain(self, budget_s: float | None) -> None:
        """Deliver queued items in order; with a budget, yield to the event loop when it is spent."""
        deadline = None if budget_s is None else time.monotonic() + budget_s
        while (job := self._job) is not None:
            if deadline is not None and time.monotonic() > deadline:
                # The channel's wakeup flag is still set, so no new pending() will come:
                # continue from a zero-delay timer once the event loop had its turn.
                if not self._drain_scheduled:
                    self._drain_scheduled = True
                    QTimer.singleShot(0, self._on_pending)
                return
            item = job.channel.take()
            if item is _EMPTY:
                return
            kind = item[0]
            if kind == _EVENT:
                self.event_emitted.emit(item[1])
                continue
            self._job = None  # the outcome is the last item: the runner is free again
            if kind == _SUCCEEDED:
                self.succeeded.emit(item[1])
            else:
                if not isinstance(item[1], Exception) or not _is_expected(item[1]):
                    _log.error("job %r failed", job.name, exc_info=item[1])
                self.failed.emit(item[1])
            self.finished.emit()
            return
