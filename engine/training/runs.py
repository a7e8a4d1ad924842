"""The run store: every training recorded in its own folder (settings, curves, metrics, a resumable
checkpoint, the kept model), listed newest first. Importing it loads no TensorFlow."""
from __future__ import annotations

import contextlib
import csv
import json
import os
import secrets
import shutil
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.core.errors import RunError
from engine.core.config import TrainConfig
from engine.core.fileio import atomic_path, write_json

STATUSES = ("running", "finished", "stopped", "failed", "diverged", "interrupted")  # diverged: NaN after kept epochs
NOTES_FILE = "notes.json"  # the user's name and note for a run; written only by annotate(), never while training
_active: set[str] = set()  # paths of runs this process is training now
_active_lock = threading.Lock()


def default_runs_dir() -> Path:
    """$AES_RUNS_DIR, else $XDG_DATA_HOME (or ~/.local/share)/AutoencoderStudio/runs."""
    if os.environ.get("AES_RUNS_DIR"):
        return Path(os.environ["AES_RUNS_DIR"]).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home).expanduser() / "AutoencoderStudio" / "runs"


@dataclass
class RunInfo:
    id: str
    path: Path
    status: str
    created: str
    config: dict[str, Any]
    data: dict[str, Any]
    history: dict[str, list[float]] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    name: str = ""  # the user's, for lists (RunStore.annotate)
    note: str = ""

    @property
    def label(self) -> str:
        """One line for lists: when, what, how far, how good."""
        kind = self.config.get("model_kind", "?")
        what = kind if kind == "residual" else f"{kind} code {self.config.get('code_size', '?')}"
        done, total = len(self.history.get("loss", [])), self.config.get("epochs", 0)
        epochs = f"{total} epochs" if done >= total else f"{done}/{total} epochs"
        best = self.metrics.get("best_val_loss")
        text = f"{self.created[:16].replace('T', ' ')} {what}, {epochs}"
        text += "" if best is None else f", best val {best:.4g}"
        return text if self.status == "finished" else f"{text} ({self.status})"

    @property
    def model_path(self) -> Path:
        return self.path / "model.keras"

    @property
    def checkpoint_path(self) -> Path:
        return self.path / "checkpoint.keras"


class RunStore:
    """Runs as folders under `root`: run.json, history.json, checkpoint.keras (+ .json), model.keras,
    log.csv and tensorboard/."""

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root is not None else default_runs_dir()

    def create(self, config: TrainConfig, data: dict[str, Any]) -> RunInfo:
        """A new run folder for `config`, marked running (by this process)."""
        self.root.mkdir(parents=True, exist_ok=True)
        while True:
            run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{config.model_kind}-{secrets.token_hex(2)}"
            try:
                (self.root / run_id).mkdir()
                break
            except FileExistsError:
                continue
        run = RunInfo(run_id, self.root / run_id, "running", time.strftime("%Y-%m-%dT%H:%M:%S"),
                      config.to_dict(), dict(data))
        mark_active(run, True)
        self.save(run)
        return run

    def runs(self) -> list[RunInfo]:
        """All readable runs, newest first; folders that are not (complete) runs are skipped."""
        if not self.root.is_dir():
            return []
        found = []
        for folder in self.root.iterdir():
            try:
                found.append(self._read(folder))
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return sorted(found, key=lambda r: (r.created, r.id), reverse=True)

    def get(self, run_id: str) -> RunInfo:
        """The run `run_id`; RunError when it is missing or unreadable."""
        try:
            return self._read(self.root / run_id)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RunError(f"Run {run_id} cannot be read from {self.root}: {exc}") from exc

    def delete(self, run_id: str) -> None:
        """Remove a run's folder; refused while it is training."""
        run = self.get(run_id)
        if is_active(run) or run.status == "running":
            raise RunError(f"Run {run_id} is still training; stop it before deleting it.")
        shutil.rmtree(run.path)

    def save(self, run: RunInfo) -> None:
        """Write run.json and history.json (atomically), stamped with this process as the owner;
        a run saved with an end status is no longer training here."""
        meta = {"id": run.id, "status": run.status, "created": run.created, "config": run.config, "data": run.data,
                "metrics": run.metrics, "message": run.message, "owner": _owner()}
        write_json(run.path / "history.json", run.history)
        write_json(run.path / "run.json", meta)
        if run.status != "running":
            mark_active(run, False)

    def annotate(self, run_id: str, *, name: str | None = None, note: str | None = None) -> RunInfo:
        """Give a run a name and/or a note (kept in notes.json beside run.json, so a training that is
        recording the run does not overwrite them)."""
        run = self.get(run_id)
        run.name = run.name if name is None else name.strip()
        run.note = run.note if note is None else note.strip()
        write_json(run.path / NOTES_FILE, {"name": run.name, "note": run.note})
        return run

    def export_curves_csv(self, run_ids: list[str], path: str | Path, key: str = "val_loss") -> Path:
        """One column per run of `key` per epoch, headed "<run id> <key>" (the run's name, when it has one,
        in brackets); empty cells where a run has none."""
        runs = [self.get(i) for i in run_ids]
        columns = [run.history.get(key, []) for run in runs]
        path = Path(path)
        with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["epoch"] + [f"{run.id} {key}" + (f" ({run.name})" if run.name else "") for run in runs])
            for epoch in range(max(map(len, columns), default=0)):
                writer.writerow([epoch + 1] + [repr(c[epoch]) if epoch < len(c) else "" for c in columns])
        return path

    def _read(self, folder: Path) -> RunInfo:
        meta = json.loads((folder / "run.json").read_text())
        history_file = folder / "history.json"
        history = json.loads(history_file.read_text()) if history_file.is_file() else {}
        run = RunInfo(str(meta["id"]), folder, str(meta["status"]), str(meta["created"]), dict(meta["config"]),
                      dict(meta.get("data") or {}), {k: list(v) for k, v in history.items()},
                      dict(meta.get("metrics") or {}), str(meta.get("message", "")))
        if run.status not in STATUSES:
            raise ValueError(f"unknown status {run.status!r}")
        notes_file = folder / NOTES_FILE
        if notes_file.is_file():
            with contextlib.suppress(ValueError, OSError):
                notes = json.loads(notes_file.read_text())
                run.name, run.note = str(notes.get("name", "")), str(notes.get("note", ""))
        if run.status == "running" and not _owner_alive(meta.get("owner") or {}, run):
            run.status = "interrupted"
        return run


def mark_active(run: RunInfo, active: bool) -> None:
    with _active_lock:
        (_active.add if active else _active.discard)(str(run.path.resolve()))


def is_active(run: RunInfo) -> bool:
    """True while this process trains `run`."""
    with _active_lock:
        return str(run.path.resolve()) in _active


def _process_start(pid: int) -> str | None:
    """The kernel's start time of process `pid` (Linux), to tell a reused process id apart."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _owner() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname(), "start": _process_start(os.getpid())}


def _owner_alive(owner: dict[str, Any], run: RunInfo) -> bool:
    """Whether the process that marked `run` running still trains it (unknown hosts count as alive)."""
    pid, host = owner.get("pid"), owner.get("host")
    if host is None or not isinstance(pid, int):
        return False
    if host != socket.gethostname():
        return True  # a run folder shared with another machine: cannot tell
    if pid == os.getpid():
        return is_active(run)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    start = _process_start(pid)
    return start is None or owner.get("start") in (None, start)


# ----------------------------------------------------------------------------- checkpoints


# ----------------------------------------------------------------------------- recording


# ----------------------------------------------------------------------------- distribution


