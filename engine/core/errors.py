"""Every error the user can fix, in one hierarchy.

A `UserError`'s message says what was wrong and what to do, in words that fit every front end (it names
no tab, button or command-line flag). The front ends decide by type: the CLI maps a `ConfigError` to exit
status 2 and any other `UserError` to 1; the GUI shows the message. Anything that is not a `UserError` is
a bug and keeps its traceback. Stopping is not an error: see `engine.core.jobs.Stopped`.
"""
from __future__ import annotations

import os
from pathlib import Path


class UserError(Exception):
    """Something the user can fix; the message says what and how."""


class ConfigError(UserError, ValueError):
    """A setting is out of range or does not fit the others."""


class DataError(UserError, ValueError):
    """Data cannot be loaded or used as asked."""


class ImageError(DataError):
    """An image file cannot be read or written. `path` is the file, `reason` the short cause (for lists)."""

    def __init__(self, message: str, *, path: str | os.PathLike | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.path = None if path is None else Path(path)
        self.reason = reason or message


class ModelError(UserError, ValueError):
    """A model cannot be opened or saved, or does not fit what it is given."""


class DetectorFileError(UserError, ValueError):
    """An anomaly detector file cannot be read or written."""


class ExportError(UserError, ValueError):
    """An export cannot be made; nothing was written."""


class RunError(UserError, ValueError):
    """A recorded run cannot be read, deleted or resumed."""


class TrainingError(UserError, RuntimeError):
    """Training could not produce a model."""
