"""Headless command line: `python main.py train|denoise|score|export ...` (no Qt anywhere).

Importing this module is cheap (no TensorFlow, no NumPy): the heavy modules are imported by the
subcommand that needs them, so `python main.py --help` answers at once.

Exit status: 0 done; 2 usage or configuration error (bad option, unknown setting, JSON syntax
error, an input file that does not exist); 1 a failure while working (unreadable data, a model or
detector file that cannot be opened, a failed export, training that diverged); 130 stopped with
Ctrl-C. Every user error is reported as one line on stderr starting with "error: ".
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, NoReturn

from engine.core.config import DATA_KINDS, LOSSES, MODEL_KINDS, ConfigError

COMMANDS = ("train", "denoise", "score", "export")
DISTRIBUTIONS = ("default", "mirrored", "multiworker")
EXPORT_FORMATS = ("keras", "savedmodel", "tflite", "onnx")  # engine.export.writer.FORMATS (not imported for --help)
EXPORT_PARTS = ("model", "encoder", "decoder")  # engine.export.writer.PARTS
CLASSICAL = ("nl_means", "tv", "wavelet")  # engine.denoise.pipeline.CLASSICAL_METHODS
CONFIG_SECTIONS = ("model", "data")
INTERRUPTED = 130
# user errors raised by the engine, by module and class (looked up only in modules already imported)
_RUNTIME_ERRORS = (("engine.data.dataset", "DataError"), ("engine.models.files", "ModelFileError"),
                   ("engine.anomaly.detector", "DetectorFileError"), ("engine.export.writer", "ExportError"),
                   ("engine.data.images", "ImageError"), ("engine.training.runs", "RunError"),
                   ("engine.training.fit", "TrainingError"))


class CliError(Exception):
    """A user error: `message` is printed as "error: message", `code` is the exit status."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


class Stopped(Exception):
    """The user pressed Ctrl-C."""


# ----------------------------------------------------------------------------- parser

class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one "error: ..." line (exit 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def build_parser(prog: str = "main.py") -> argparse.ArgumentParser:
    parser = _Parser(prog=prog, description="Autoencoder Studio: train, inspect and use autoencoders. Without a "
                     "command the desktop app opens; with one, it runs headless.",
                     epilog="Run `%(prog)s COMMAND --help` for a command's options.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    t = sub.add_parser("train", help="train an autoencoder (recorded in the run store)",
                       description="Train an autoencoder. Settings come from --config (a JSON object with optional "
                       '"model" (training settings) and "data" (data source) sections) and the flags below, which '
                       "override the file. The run is recorded in the run store. Ctrl-C stops after the current "
                       "batch and keeps the best model so far.")
    t.add_argument("--config", metavar="FILE.json", help="JSON settings file: {\"model\": {...}, \"data\": {...}}")
    t.add_argument("--kind", metavar="KIND", help=f"model kind: {', '.join(MODEL_KINDS)}")
    t.add_argument("--code-size", type=int, metavar="N", help="units in the code layer (latent size for VAE/AAE)")
    t.add_argument("--epochs", type=int, metavar="N", help="passes over the training data")
    t.add_argument("--batch-size", type=int, metavar="N", help="samples per gradient step")
    t.add_argument("--lr", type=float, metavar="RATE", help="learning rate (Adam)")
    t.add_argument("--loss", metavar="LOSS", help=f"loss: {', '.join(LOSSES)}")
    t.add_argument("--noise", type=float, metavar="FACTOR", help="input noise std for a denoising model (0 = off)")
    t.add_argument("--data", choices=DATA_KINDS, metavar="SOURCE",
                   help=f"data source: {', '.join(DATA_KINDS)} (default: array for a file given with --data-path, "
                        "folder for a folder, else mnist)")
    t.add_argument("--data-path", metavar="PATH", help="data file or folder")
    t.add_argument("--image-size", type=int, metavar="PX", help="image side for folder / patches data")
    t.add_argument("--color", choices=("grey", "rgb"), help="colour mode for folder / patches data")
    t.add_argument("--seed", type=int, metavar="N", help="random seed (model and data split)")
    t.add_argument("--distribute", choices=DISTRIBUTIONS, default=None,
                   help="tf.distribute strategy: default (one device), mirrored or multiworker (needs TF_CONFIG)")
    t.add_argument("--runs-dir", metavar="DIR", help="run store folder (default: $AES_RUNS_DIR or "
                   "~/.local/share/AutoencoderStudio/runs)")
    t.add_argument("--resume", metavar="RUN_ID", help="continue a recorded run from its last checkpoint (its own "
                   "settings and data; --epochs may raise the total)")
    t.add_argument("--out", metavar="MODEL.keras", help="also save the kept model to this .keras file")

    d = sub.add_parser("denoise", help="denoise an image (bit depth kept)",
                       description="Denoise one image with the bundled model, a .keras denoiser or a classical "
                       "method, and write the result (16-bit PNG/TIFF input stays 16-bit).")
    d.add_argument("input", metavar="IN", help="image to denoise (.png .jpg .tif .bmp ...)")
    d.add_argument("output", metavar="OUT", help="where to write the result (.png .tif .jpg .bmp)")
    d.add_argument("--model", default="bundled", metavar="METHOD",
                   help=f"bundled (default), a FILE.keras denoiser, or a classical method: {', '.join(CLASSICAL)}")
    d.add_argument("--add-noise", type=float, metavar="SIGMA",
                   help="first add Gaussian noise of this sigma (0-255 scale) and print PSNR/SSIM vs the input")
    d.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the added noise (default 0)")

    s = sub.add_parser("score", help="score data with an anomaly detector (.aedet)",
                       description="Score a table / series file (CSV, TSV) or a folder of images with a saved "
                       "anomaly detector and write the rows with anomaly_score and anomaly_flag columns.")
    s.add_argument("detector", metavar="DETECTOR.aedet", help="detector saved by the Anomaly tab")
    s.add_argument("data", metavar="DATA", help="CSV/TSV file (table or sequence detectors) or image folder")
    s.add_argument("--out", metavar="scored.csv", help="scored CSV to write (default: DATA's name + _scored.csv "
                   "in the current folder)")
    s.add_argument("--threshold", type=float, metavar="T", help="anomaly threshold (default: the detector's own)")

    e = sub.add_parser("export", help="export a model or detector (keras, savedmodel, tflite, onnx)",
                       description="Export a model (or a detector's model) and verify the export against it. "
                       "Writes a JSON metadata file beside it. For a detector the training scaler is the "
                       "input preprocessing and its threshold goes into the metadata.")
    e.add_argument("source", metavar="MODEL.keras|DETECTOR.aedet", help="model or detector file")
    e.add_argument("--format", dest="fmt", choices=EXPORT_FORMATS, default="keras", help="export format "
                   "(default keras)")
    e.add_argument("--part", choices=EXPORT_PARTS, default="model", help="whole model (default), encoder or decoder")
    e.add_argument("--out", required=True, metavar="TARGET", help="file (or folder, for savedmodel) to write")
    e.add_argument("--raw-input", action="store_true", help="build the input preprocessing (pixels / 255, or the "
                   "detector's standardisation) into the exported model so it takes raw values")
    return parser


# ----------------------------------------------------------------------------- entry point

def run(args: argparse.Namespace) -> int:
    """Run a parsed subcommand; user errors become one "error: ..." line and an exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter
    from cli import commands as cli_commands  # light too: each command imports what it needs

    handler = getattr(cli_commands, f"cmd_{args.command}")
    try:
        return handler(args)
    except Stopped as exc:
        _error(str(exc) or "stopped.")
        return INTERRUPTED
    except KeyboardInterrupt:
        _error("interrupted.")
        return INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - sorted below; anything else is a bug and keeps its traceback
        code = _user_error_code(exc)
        if code is None:
            raise
        _error(str(exc) or type(exc).__name__)
        return code


def main(argv: list[str]) -> int:
    """`argv` without the program name; returns the exit status (the GUI is not reachable from here)."""
    args = build_parser().parse_args(argv)
    if args.command is None:
        build_parser().print_help(sys.stderr)
        return 2
    return run(args)


def _user_error_code(exc: BaseException) -> int | None:
    if isinstance(exc, CliError):
        return exc.code
    if isinstance(exc, (ConfigError, json.JSONDecodeError)):
        return 2
    cancelled = getattr(sys.modules.get("engine.denoise.tiling"), "Cancelled", None)
    if cancelled is not None and isinstance(exc, cancelled):
        return INTERRUPTED
    for module, name in _RUNTIME_ERRORS:
        cls = getattr(sys.modules.get(module), name, None)
        if cls is not None and isinstance(exc, cls):
            return 1
    if isinstance(exc, OSError):  # disk full, permission denied, ...
        return 1
    return None


def _error(message: str) -> None:
    line = " ".join(str(message).split())  # always one line
    print(f"error: {line}", file=sys.stderr, flush=True)


def tell(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


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


def existing_path(path: str, what: str) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise CliError(f"{what} {path} does not exist.")
    return p


# ----------------------------------------------------------------------------- progress

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
        from engine.core.events import BatchEnded, EpochEnded, Failed, Finished, Progress, Started

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
        elif isinstance(event, Failed):
            self._line(event.message)
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
    """Run an engine job in this thread, progress to stderr; Ctrl-C stops it after the current step."""
    stop = threading.Event()
    reporter = Reporter()
    try:
        with stop_on_sigint(stop):
            return job(reporter, stop)
    finally:
        reporter.close()
