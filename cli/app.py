"""The command line's entry point: parse, run one command, turn what went wrong into an exit status.

Importing this module is cheap (no TensorFlow, no NumPy): the heavy modules are imported by the
command that needs them, so `python main.py --help` answers at once.

Exit status, decided by the type of what was raised: 0 done; 2 a usage or configuration error (bad
option, unknown setting, JSON syntax error, an input file that does not exist: `ConfigError`,
`CliError`); 1 any other user error while working (unreadable data, a model or detector file that cannot
be opened, a failed export, training that diverged: `engine.core.errors.UserError`, `OSError`); 130
stopped with Ctrl-C (`engine.core.jobs.Stopped`). Every user error is one line on stderr starting with
"error: "; anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from cli.common import INTERRUPTED, CliError
from cli.parser import build_parser


def run(args: argparse.Namespace) -> int:
    """Run a parsed command; user errors become one "error: ..." line and an exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ log lines (a CUDA error on CPUs)
    from cli.commands import COMMANDS  # light too: each command imports what it needs

    if args.command in TENSORFLOW_COMMANDS:
        _import_tensorflow_quietly()

    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        _error("interrupted.")
        return INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - sorted by type below; anything else is a bug
        code = exit_status(exc)
        if code is None:
            raise
        _error(str(exc) or type(exc).__name__)
        return code


TENSORFLOW_COMMANDS = frozenset({"train", "denoise", "export", "score"})


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow with file descriptor 2 pointed at /dev/null: its C++ start-up lines (CUDA probing,
    absl's "before InitializeLog" warning) are written there before any setting can silence them, and a
    command's stderr should hold only its own lines. An import error still raises, once stderr is back."""
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            os.dup2(saved, 2)
    finally:
        os.close(saved)


def exit_status(exc: BaseException) -> int | None:
    """The exit status for what a command raised, by its type; None for a bug."""
    from engine.core.errors import ConfigError, UserError
    from engine.core.jobs import Stopped

    if isinstance(exc, CliError):
        return exc.code
    if isinstance(exc, Stopped):
        return INTERRUPTED
    if isinstance(exc, (ConfigError, json.JSONDecodeError)):
        return 2
    if isinstance(exc, (UserError, OSError)):  # OSError: disk full, permission denied, ...
        return 1
    return None


def main(argv: list[str]) -> int:
    """`argv` without the program name; returns the exit status (the GUI is not reachable from here)."""
    args = build_parser().parse_args(argv)
    if args.command is None:
        build_parser().print_help(sys.stderr)
        return 2
    return run(args)


def _error(message: str) -> None:
    line = " ".join(str(message).split())  # always one line
    print(f"error: {line}", file=sys.stderr, flush=True)
