"""What the command line's modules share: its own usage errors and exit statuses, and messages on stderr."""
from __future__ import annotations

import sys
from pathlib import Path

FAILED = 1  # a failure while running (the README promises 1)
INTERRUPTED = 130


class CliError(Exception):
    """A user error: `message` is printed as "error: message", `code` is the exit status."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


def tell(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def output_folder(out: Path, option: str) -> None:
    """Every command refuses an output in a folder that does not exist the same way: a usage error (2)."""
    if not out.parent.is_dir():
        raise CliError(f"Folder {out.parent} for {option} does not exist.")


def existing_path(path: str, what: str) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise CliError(f"{what} {path} does not exist.")
    return p
