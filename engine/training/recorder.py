"""Recording a training in its run folder while it runs: after every epoch the curves, the status and a
resumable checkpoint; at the end the kept model and the final status."""
from __future__ import annotations

import importlib.util
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.core.errors import ConfigError
from engine.core.fileio import write_json
from engine.training.checkpoints import write_checkpoint
from engine.training.runs import RunInfo, RunStore, mark_active

if TYPE_CHECKING:
    from engine.training.callbacks import Tracker


class RunRecorder:
    """After every epoch: history.json, run.json (running + metrics), checkpoint.keras, checkpoint.json.
    At the end: model.keras (the kept best model) and the final status. It reads the training's
    engine.training.callbacks.Tracker (history, best epoch and weights, how it ended)."""

    def __init__(self, run: RunInfo, store: RunStore | None = None):
        self.run, self.store = run, store or RunStore(run.path.parent)
        self.model = self.tracker = None
        self.started = time.perf_counter()
        self.seconds_before = float(run.metrics.get("seconds") or 0.0)
        self.changes_before = list(run.metrics.get("changes") or [])  # of the run's earlier sessions

    def begin(self, model, tracker: Tracker) -> None:
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
        """Save the kept model and the final status (stopped / diverged after a NaN / finished)."""
        t = self.tracker
        if t.best_weights is not None:
            from engine.models.files import save_model

            save_model(model, self.run.model_path)
        status = "diverged" if t.nan_message else "stopped" if t.stopped_by_user else "finished"
        self._update(status, t.nan_message, mean_code_activation=code_activation)

    def failed(self, exc: BaseException) -> None:
        """Record an exception as the run's end."""
        self._update("failed", str(exc) or type(exc).__name__)

    def _update(self, status: str, message: str = "", **extra: Any) -> None:
        t = self.tracker
        self.run.status, self.run.message = status, message
        if t is not None:  # before begin() (e.g. a failed resume) the recorded curves and best stay
            self.run.history = dict(t.history)
            extra.update(best_val_loss=None if t.best_epoch is None else t.best_val, best_epoch=t.best_epoch,
                         warnings=list(t.warnings), warning_checks=list(t.warning_checks),
                         changes=self.changes_before + list(t.changes))
            self.run.config = {**self.run.config, **t.settings}  # epochs and learning rate as changed
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
    from engine.models.predict import in_batches

    try:
        encoder = encoder_of(model)
    except ConfigError:
        return None
    codes = in_batches(lambda batch: encoder(batch, training=False), x[:limit])
    codes = codes[0] if isinstance(codes, tuple) else codes  # a VAE's encoder: (mean, log-variance)
    return float(np.abs(codes.astype(np.float64)).mean()) if codes.size else None
