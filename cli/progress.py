"""Work on the command line: a job run in this thread with its events as Keras-style text on stderr, and
Ctrl-C as the stop request (a second Ctrl-C aborts)."""
from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Any, Iterator

from cli.common import tell


@contextmanager
def stop_on_sigint(stop: threading.Event) -> Iterator[None]:
    """The first Ctrl-C sets `stop` (the work ends at its next check); a second one aborts."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        tell("\nStopping after the current batch (press Ctrl-C again to abort)…")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class Reporter:
    """Engine events as Keras-style text on stderr: "Epoch 3/10", then per epoch
    "loss: 0.1234 - val_loss: 0.1200 - 2.1s"; a carriage-return bar only when stderr is a terminal."""

    BAR = 30

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.total_epochs = 0
        self.shown_epoch = -1
        self.bar_open = False
        self.last_message = ""

    def __call__(self, event: Any) -> None:
        from engine.core.events import BatchEnded, EpochEnded, Finished, HealthWarning, Progress, Started

        if isinstance(event, Started):
            self.total_epochs = event.total_epochs
            self._line(event.description)
        elif isinstance(event, BatchEnded):
            self._epoch_header(event.epoch)
            if self.tty:
                done = min(event.step, event.steps_per_epoch)
                self._bar(f"{done}/{event.steps_per_epoch} {self._gauge(done, event.steps_per_epoch)} "
                          f"- loss: {event.loss:.4f}")
        elif isinstance(event, EpochEnded):
            self.total_epochs = event.total_epochs
            self._epoch_header(event.epoch)
            self._line(f"{format_logs(event.logs)} - {event.seconds:.1f}s")
        elif isinstance(event, Finished):
            self._line(event.message)
        elif isinstance(event, HealthWarning):
            self._line(f"warning: {event.message}")
        elif isinstance(event, Progress):
            if event.total > 0:
                if self.tty:
                    self._bar(f"{event.message} {self._gauge(event.done, event.total)}")
            elif event.message and event.message != self.last_message:
                self.last_message = event.message
                self._line(event.message)

    def _epoch_header(self, epoch: int) -> None:
        if epoch != self.shown_epoch:
            self.shown_epoch = epoch
            self._line(f"Epoch {epoch + 1}/{self.total_epochs}")

    def _gauge(self, done: int, total: int) -> str:
        filled = int(self.BAR * done / max(total, 1))
        return "[" + "=" * filled + (">" if filled < self.BAR else "") + "." * max(0, self.BAR - filled - 1) + "]"

    def _bar(self, text: str) -> None:
        self.stream.write("\r" + text + "\033[K")
        self.stream.flush()
        self.bar_open = True

    def _line(self, text: str) -> None:
        if self.bar_open:
            self.stream.write("\r\033[K")
            self.bar_open = False
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.bar_open:
            self.stream.write("\n")
            self.stream.flush()
            self.bar_open = False


def format_logs(logs: dict[str, float]) -> str:
    """ "loss: 0.1234 - val_loss: 0.1200": loss first, then other training metrics, then validation ones."""
    keys = sorted(logs, key=lambda k: (k.startswith("val_"), k.removeprefix("val_") != "loss", k))
    return " - ".join(f"{k}: {logs[k]:.4f}" for k in keys)


def run_job(job):
    """Run an engine job (engine.core.jobs) in this thread, progress to stderr; Ctrl-C asks it to stop."""
    from engine.core.jobs import JobState

    reporter = Reporter()
    state = JobState(reporter)
    try:
        with stop_on_sigint(state.stop_event):
            return job(state)
    finally:
        reporter.close()
