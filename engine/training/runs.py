"""Run store: every training recorded in its own folder (settings, curves, metrics, a resumable
checkpoint, the kept model), plus the tf.distribute strategies. Importing it loads no TensorFlow."""
from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import secrets
import shutil
import socket
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.core.config import ConfigError, TrainConfig
from engine.core.fileio import atomic_path, json_safe

STATUSES = ("running", "finished", "stopped", "failed", "interrupted")
CHECKPOINT_STATE = "autoencoder_studio/state.json"  # training state, inside checkpoint.keras
CHECKPOINT_BEST = "autoencoder_studio/best_weights.npz"  # kept best weights when they differ from the current
_active: set[str] = set()  # paths of runs this process is training now
_active_lock = threading.Lock()


class RunError(ValueError):
    """A run cannot be read, deleted or resumed; the message says why."""


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

    def export_curves_csv(self, run_ids: list[str], path: str | Path, key: str = "val_loss") -> Path:
        """One column per run (headed by its id) of `key` per epoch; empty cells where a run has none."""
        runs = [self.get(i) for i in run_ids]
        columns = [run.history.get(key, []) for run in runs]
        path = Path(path)
        with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["epoch"] + [run.id for run in runs])
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
        if run.status == "running" and not _owner_alive(meta.get("owner") or {}, run):
            run.status = "interrupted"
        return run


def write_json(path: Path, value: Any) -> None:
    """JSON through a temporary file (NaN and infinities become null)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(json_safe(value), indent=1, allow_nan=False))


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

def write_checkpoint(model, path: Path, state: dict[str, Any], best_weights: list[np.ndarray] | None) -> None:
    """model.save (weights + optimizer state) with the training state inside the same zip, atomically."""
    with atomic_path(path) as tmp:
        model.save(tmp)
        with zipfile.ZipFile(tmp, "a") as archive:
            archive.writestr(CHECKPOINT_STATE, json.dumps(json_safe(state)))
            if best_weights is not None:
                buffer = io.BytesIO()
                np.savez(buffer, *best_weights)
                archive.writestr(CHECKPOINT_BEST, buffer.getvalue())


def restore_checkpoint(model, path: Path) -> dict[str, Any]:
    """Load a checkpoint's weights and optimizer state(s) into a freshly built and compiled `model`
    (no code is deserialised); returns the state with 'best_weights' added."""
    if not path.is_file() or not zipfile.is_zipfile(path):
        raise RunError(f"{path} is missing or not a complete checkpoint; the run cannot be resumed.")
    with zipfile.ZipFile(path) as archive:
        state = json.loads(archive.read(CHECKPOINT_STATE))
        best = _read_npz(archive.read(CHECKPOINT_BEST)) if CHECKPOINT_BEST in archive.namelist() else None
    for optimizer, variables in _optimizers(model):
        if not optimizer.built:
            optimizer.build(variables)
    try:
        model.load_weights(path)
    except Exception as exc:  # shape or structure mismatch: other data or another program version
        raise RunError(f"The checkpoint does not fit this model and data ({exc}); was the data changed?") from exc
    state["best_weights"] = best if best is not None else model.get_weights()
    return state


def _read_npz(raw: bytes) -> list[np.ndarray]:
    with np.load(io.BytesIO(raw), allow_pickle=False) as arrays:
        return [arrays[f"arr_{i}"] for i in range(len(arrays.files))]


def _optimizers(model) -> list[tuple[Any, list]]:
    """Each optimizer with the variables its train step applies it to (the order fixes its slots)."""
    from engine.models.generative import VAE, AAE

    if isinstance(model, (VAE, AAE)):  # their train_step applies it to encoder + decoder only
        found = [(model.optimizer, model.encoder.trainable_variables + model.decoder.trainable_variables)]
    else:
        found = [(model.optimizer, model.trainable_variables)]
    if getattr(model, "discriminator_optimizer", None) is not None:  # AAE
        found += [(model.discriminator_optimizer, model.discriminator.trainable_variables),
                  (model.generator_optimizer, model.encoder.trainable_variables)]
    return found


# ----------------------------------------------------------------------------- recording

class RunRecorder:
    """After every epoch: history.json, run.json (running + metrics), checkpoint.keras, checkpoint.json.
    At the end: model.keras (the kept best model) and the final status. `tracker` is the training's
    event streamer (history, best_epoch, best_val, best_weights, stopped_by_user, nan_message)."""

    def __init__(self, run: RunInfo, store: RunStore | None = None):
        self.run, self.store = run, store or RunStore(run.path.parent)
        self.model = self.tracker = None
        self.started = time.perf_counter()
        self.seconds_before = float(run.metrics.get("seconds") or 0.0)

    def begin(self, model, tracker) -> None:
        """Mark the run running in this process; removes temporary files a killed save left behind."""
        self.model, self.tracker = model, tracker
        for stray in self.run.path.glob(".*.tmp*"):
            stray.unlink(missing_ok=True)
        mark_active(self.run, True)
        self.run.status, self.run.message = "running", ""
        self.store.save(self.run)

    def keras_callbacks(self) -> list:
        """This recorder, a CSV log and (when the tensorboard package is installed) TensorBoard logs,
        as Keras callbacks to put after the streamer."""
        import keras

        callbacks = [keras.callbacks.LambdaCallback(on_epoch_end=self.epoch_ended),
                     keras.callbacks.CSVLogger(str(self.run.path / "log.csv"), append=True)]
        if tensorboard_available():
            callbacks.append(keras.callbacks.TensorBoard(str(self.run.path / "tensorboard"), update_freq="epoch",
                                                         write_graph=False, profile_batch=0))
        return callbacks

    def epoch_ended(self, epoch: int, logs=None) -> None:
        """Record an epoch the tracker accepted (not one cut short by a stop or a NaN)."""
        t = self.tracker
        if len(t.history.get("loss", [])) != epoch + 1:
            return
        state = {"epoch": epoch + 1, "best_epoch": t.best_epoch, "best_val": t.best_val,
                 "history": t.history, "saved": time.strftime("%Y-%m-%dT%H:%M:%S")}
        write_checkpoint(self.model, self.run.checkpoint_path, state,
                         None if t.best_epoch == epoch else t.best_weights)
        write_json(self.run.path / "checkpoint.json", state)
        self._update("running")

    def finished(self, model, code_activation: float | None) -> None:
        """Save the kept model and the final status (stopped / failed after a NaN / finished)."""
        t = self.tracker
        if t.best_weights is not None:
            from engine.models.files import save_model

            save_model(model, self.run.model_path)
        status = "failed" if t.nan_message else "stopped" if t.stopped_by_user else "finished"
        self._update(status, t.nan_message, mean_code_activation=code_activation)

    def failed(self, exc: BaseException) -> None:
        """Record an exception as the run's end."""
        self._update("failed", str(exc) or type(exc).__name__)

    def _update(self, status: str, message: str = "", **extra: Any) -> None:
        t = self.tracker
        self.run.status, self.run.message = status, message
        if t is not None:  # before begin() (e.g. a failed resume) the recorded curves and best stay
            self.run.history = dict(t.history)
            extra.update(best_val_loss=None if t.best_epoch is None else t.best_val, best_epoch=t.best_epoch)
        self.run.metrics = {**self.run.metrics, **extra, "epochs_done": len(self.run.history.get("loss", [])),
                            "seconds": round(self.seconds_before + time.perf_counter() - self.started, 3)}
        self.store.save(self.run)


def tensorboard_available() -> bool:
    """TensorFlow 2.21 no longer installs TensorBoard; its summaries need the `tensorboard` package."""
    return importlib.util.find_spec("tensorboard") is not None


def mean_code_activation(model, x: np.ndarray, limit: int = 1000) -> float | None:
    """Mean absolute code (encoder output; the latent means for VAE / AAE) over up to `limit`
    samples; None for models without an encoder (e.g. the residual denoiser)."""
    from engine.models.builders import encoder_of

    try:
        encoder = encoder_of(model)
    except ConfigError:
        return None
    total, count = 0.0, 0
    for i in range(0, min(len(x), limit), 256):
        code = encoder(x[i:min(i + 256, limit)], training=False)
        code = np.asarray(code[0] if isinstance(code, (list, tuple)) else code, dtype=np.float64)
        total, count = total + float(np.abs(code).sum()), count + code.size
    return total / count if count else None


# ----------------------------------------------------------------------------- distribution

def make_strategy(name: str = "default"):
    """None for "default"; a MirroredStrategy over 2+ GPUs (else 2+ logical CPUs) for "mirrored";
    a MultiWorkerMirroredStrategy for "multiworker" (needs TF_CONFIG). ConfigError when impossible."""
    if name in ("default", "", None):
        return None
    if name not in ("mirrored", "multiworker"):
        raise ConfigError(f"Unknown distribution {name!r}; choose default, mirrored or multiworker.")
    import tensorflow as tf

    if name == "multiworker":
        _check_tf_config(os.environ.get("TF_CONFIG"))
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus, cpus = tf.config.list_logical_devices("GPU"), tf.config.list_logical_devices("CPU")
    if len(gpus) >= 2:
        return tf.distribute.MirroredStrategy([d.name for d in gpus])
    if len(cpus) >= 2:
        return tf.distribute.MirroredStrategy([d.name for d in cpus])
    visible = ", ".join(d.name for d in gpus + cpus) or "none"
    raise ConfigError(f"Mirrored training needs at least 2 GPUs (or 2 logical devices of one kind); "
                      f"visible: {visible}. Use the default (one device) instead.")


def _check_tf_config(raw: str | None) -> None:
    if not raw:
        raise ConfigError("Multi-worker training needs the TF_CONFIG environment variable (the cluster's workers "
                          "and this worker's task) set before starting; it is not set. Use the default instead.")
    try:
        cluster = json.loads(raw)["cluster"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"TF_CONFIG is not valid JSON with a 'cluster' entry: {exc}") from exc
    if not cluster:
        raise ConfigError("TF_CONFIG names an empty cluster.")
