"""How the GUI tells a failed job, decided by the exception's type (engine.core.errors, engine.core.jobs),
never by searching its text."""
from __future__ import annotations

from engine.core.jobs import Stopped


def stopped(exc: BaseException) -> bool:
    """The job ended because the user asked it to stop (nothing is wrong)."""
    return isinstance(exc, Stopped)


def failure_text(exc: BaseException) -> str:
    """What to show: a user error's own message (it says what was wrong and what to do), else the error."""
    return str(exc) or type(exc).__name__
