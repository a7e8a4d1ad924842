"""Training an autoencoder: `keras.Model.fit` with the app's callbacks, blocking until done or stopped.

The job's state (engine.core.jobs.JobState) carries the events out and the stop request in. Whatever
ends the training (the last epoch, Stop, early stopping, a NaN after good epochs), the model handed back
holds the best epoch's weights; with a run (engine.training.runs) every epoch is recorded and resumable.
"""
from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from engine.core import runtime
from engine.core.config import MODEL_LABELS, TrainConfig
from engine.core.errors import ConfigError, TrainingError
from engine.core.events import Finished, Started
from engine.core.jobs import JobState
from engine.data.noise import add_gaussian
from engine.models.builders import build_autoencoder
from engine.training import callbacks as cb
from engine.training import health
from engine.training.checkpoints import restore_checkpoint
from engine.training.control import ApplyChanges, roll_back
from engine.training.requests import TrainingControl
from engine.training.pipeline import as_tensor, compile_model, mixture_labels, release_traces, train_pipeline
from engine.training.recorder import RunRecorder, mean_code_activation
from engine.training.runs import RunInfo, RunStore


@dataclass
class TrainResult:
    model: keras.Model
    config: TrainConfig
    history: dict[str, list[float]]
    best_epoch: int | None
    best_val_loss: float | None
    stopped_by_user: bool
    message: str
    data_summary: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    diverged: bool = False  # the loss became NaN or infinite after the kept epoch: a failed run


def train(config: TrainConfig, dataset, state: JobState | None = None, *, run: RunInfo | None = None,
          store: RunStore | None = None, resume: bool = False, strategy: Any = None, rollback: bool = False,
          control: TrainingControl | None = None) -> TrainResult:
    """Train an autoencoder on `dataset` (an engine.data.dataset.Dataset); blocks until done or stopped.
    With `run` the training is recorded there and `resume` continues it from its checkpoint (`rollback`:
    from its best epoch, engine.training.resume.plan_rollback); `strategy`
    (engine.training.distribute.make_strategy) builds the model in its scope; `control` takes changes of
    the epochs and learning rate while it runs (engine.training.control)."""
    state = state or JobState()
    if run is None:
        if resume or rollback:
            raise ConfigError("Resuming needs the run to resume.")
        return _train(config, dataset, state, None, False, strategy, False, control)
    recorder = RunRecorder(run, store)
    try:
        return _train(config, dataset, state, recorder, resume or rollback, strategy, rollback, control)
    except BaseException as exc:
        recorder.failed(exc)
        raise


def _train(config: TrainConfig, dataset, state: JobState, recorder: RunRecorder | None, resume: bool,
           strategy, rollback: bool, control: TrainingControl | None) -> TrainResult:
    # What earlier trainings left (models since replaced, their graphs) goes first. A full collection that walked
    # TensorFlow's ~360,000 long-lived objects held the GIL for ~250 ms (2 cores) and stalled the GUI: they are
    # frozen once (engine.core.runtime), before this run's model exists, and this walks only what came after. (In
    # the app the GUI thread collects, as the job starts: a collection here could delete Qt objects, gui.collector.)
    runtime.collect_garbage()
    x_train, x_val = _checked_arrays(dataset)
    keras.utils.set_random_seed(config.seed)
    batch_size, notes = _fitting_batch_size(config.batch_size, len(x_train))
    steps = math.ceil(len(x_train) / batch_size)
    unit_range = health.check_data_range(config, x_train, x_val)

    labels = mixture_labels(config, dataset)
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model = build_autoencoder(config, x_train.shape[1:], "sigmoid" if unit_range else "linear",
                                  n_classes=labels[2] if labels else None)
        compile_model(model, config, steps, distributed=strategy is not None)
        checkpoint = restore_checkpoint(model, recorder.run.checkpoint_path) if resume else None
    val_inputs = add_gaussian(x_val, config.noise_factor, seed=config.seed + 1) if config.denoising else x_val
    val_data = (val_inputs, x_val) + ((labels[1],) if labels and labels[1] is not None else ())
    tracker = cb.Tracker(settings={"epochs": config.epochs, "learning_rate": config.learning_rate})
    resumed_after = None
    if checkpoint is not None:
        tracker.restore(checkpoint)
        resumed_after = checkpoint["epoch"]
        if rollback:
            resumed_after = roll_back(model, tracker, steps)
            tracker.changes.append({"after_epoch": checkpoint["epoch"], "rolled_back_to": resumed_after,
                                    "learning_rate": config.learning_rate})
    callbacks = _callbacks(config, state, tracker, steps, val_inputs, x_val,
                           health.health_checks(config, model, state.emit, tracker, x_train, x_val, steps))
    if control is not None:  # last: it may end the training once the other callbacks had the epoch
        callbacks.append(ApplyChanges(tracker, control, state.emit, steps))
    if recorder is not None:
        recorder.begin(model, tracker)
        callbacks += recorder.keras_callbacks()
    description = _describe(config, dataset, batch_size, notes, strategy)
    if resumed_after is not None:
        description += (f" Rolled back from epoch {checkpoint['epoch']} to epoch {resumed_after}, learning rate "
                        f"{config.learning_rate:g}." if rollback else f" Resumed after epoch {resumed_after}.")
    state.emit(Started(config.epochs, steps, description, data=dataset.summary(), resumed_after=resumed_after,
                       history=None if checkpoint is None else {k: list(v) for k, v in tracker.history.items()}))

    started = time.perf_counter()
    try:
        model.fit(
            train_pipeline(x_train, batch_size, config.noise_factor, config.seed, labels[0] if labels else None),
            validation_data=tf.data.Dataset.from_tensor_slices(tuple(as_tensor(v) for v in val_data)).batch(
                max(batch_size, 256)),
            epochs=TrainConfig.LIMITS["epochs"].high if control is not None else config.epochs,
            initial_epoch=resumed_after or 0, callbacks=callbacks, verbose=0, shuffle=False,
        )
    finally:
        release_traces(model)  # TensorFlow would keep what fit traced for good (pipeline.release_traces)
    result = _result(model, config, dataset, tracker, time.perf_counter() - started, state, resumed_after)
    if recorder is not None:
        recorder.finished(model, mean_code_activation(model, val_inputs))
    return result


def _callbacks(config: TrainConfig, state: JobState, tracker: cb.Tracker, steps: int, val_inputs: np.ndarray,
               x_val: np.ndarray, checks: list) -> list[keras.callbacks.Callback]:
    """The callbacks of one training, in the order their jobs depend on (see engine.training.callbacks)."""
    n_preview = min(config.preview_count, len(x_val))
    return [cb.StopOnRequest(tracker, state.stop_event), cb.BatchEvents(state.emit, steps), cb.History(tracker),
            cb.TerminateOnNaN(tracker, config.learning_rate), cb.KeepBest(tracker),
            cb.EpochEvents(state.emit, tracker, config.epochs, val_inputs[:n_preview].copy(),
                           x_val[:n_preview].copy()),
            *checks,
            cb.EarlyStopping(tracker, config.early_stopping_patience)]


def _result(model, config: TrainConfig, dataset, t: cb.Tracker, seconds: float, state: JobState,
            resumed_after: int | None = None) -> TrainResult:
    """The outcome after fit returned (KeepBest has put the best weights back), with its one-line message."""
    if t.best_weights is None:
        if t.nan_message:
            raise TrainingError(t.nan_message)
        if not t.stopped_by_user:
            raise TrainingError("Training ended without finishing an epoch.")
        message = "Stopped before the first epoch ended: the model is only partly trained."
    else:
        best = f"kept the best model, epoch {t.best_epoch + 1} (validation loss {t.best_val:.4f})"
        if t.nan_message:
            message = f"{t.nan_message} Training stopped; {best}."
        elif t.stopped_by_user:
            message = f"Stopped by you after {t.epochs_done} epoch(s); {best}."
        elif t.early_stopped_at is not None:
            message = f"Early stopping after epoch {t.early_stopped_at + 1}; {best}."
        elif resumed_after:
            new = (f"epoch {t.epochs_done}" if t.epochs_done == resumed_after + 1
                   else f"epochs {resumed_after + 1}–{t.epochs_done}")
            how = (f"Rolled back to epoch {resumed_after} (learning rate {t.settings['learning_rate']:g})"
                   if any("rolled_back_to" in c for c in t.changes) else f"Resumed after epoch {resumed_after}")
            message = f"{how} and finished {new} in {seconds:.1f} s ({t.epochs_done} in all); {best}."
        else:
            message = f"Finished {t.epochs_done} epoch(s) in {seconds:.1f} s; {best}."
        if t.warnings:  # the best epoch may still be useless: say so beside "kept the best model"
            message += " Warning: " + t.warnings[0]
            if len(t.warnings) > 1:
                message += f" ({len(t.warnings) - 1} more warning(s) above and in the run's record.)"
    best_val = None if t.best_weights is None else t.best_val
    state.emit(Finished(t.history, t.best_epoch, best_val, t.stopped_by_user, seconds, message))
    config = config.replace(**t.settings) if t.settings else config  # as changed while it ran
    return TrainResult(model, config, t.history, t.best_epoch, best_val, t.stopped_by_user, message,
                       dataset.summary(), _metadata(model, config, dataset), diverged=bool(t.nan_message))


def _metadata(model, config: TrainConfig, dataset) -> dict[str, Any]:
    metadata = {"input_shape": list(dataset.x_train.shape[1:]), "config": config.to_dict()}
    if config.generative:
        metadata.update(latent_size=config.code_size, beta=config.beta if config.model_kind != "aae" else None,
                        prior="gaussian" if config.model_kind != "aae" else config.prior)
        if config.model_kind == "aae":
            metadata["n_classes"] = int(model.n_classes)
    return metadata


def _checked_arrays(dataset) -> tuple[np.ndarray, np.ndarray]:
    x_train = np.asarray(dataset.x_train, dtype=np.float32)
    x_val = np.asarray(dataset.x_val, dtype=np.float32)
    if len(x_train) == 0 or len(x_val) == 0:
        raise ConfigError("The data needs at least one training and one validation sample.")
    if x_train.shape[1:] != x_val.shape[1:]:
        raise ConfigError(f"Training samples {x_train.shape[1:]} and validation samples {x_val.shape[1:]} differ "
                          f"in shape.")
    if not (np.isfinite(x_train).all() and np.isfinite(x_val).all()):
        raise ConfigError("The data holds NaN or infinite values; clean or impute them first.")
    return x_train, x_val


def _fitting_batch_size(batch_size: int, n: int) -> tuple[int, str]:
    if batch_size <= n:
        return batch_size, ""
    return n, f"batch size {batch_size} is larger than the {n} training samples, so {n} is used"


def _describe(config: TrainConfig, dataset, batch_size: int, notes: str, strategy=None) -> str:
    kind = config.model_kind + (" denoising" if config.denoising else "")
    text = f"Training a {kind} autoencoder on {dataset.summary()}, batch {batch_size}"
    if config.generative:
        extra = f"beta {config.beta:g}" if config.model_kind != "aae" else f"{config.prior} prior"
        text = (f"Training a {MODEL_LABELS[config.model_kind]}{' denoising' if config.denoising else ''} model "
                f"(latent {config.code_size}, {extra}) on {dataset.summary()}, batch {batch_size}")
    if strategy is not None:
        text += f" on {strategy.num_replicas_in_sync} replicas ({type(strategy).__name__})"
    return f"{text} ({notes})." if notes else f"{text}."
