"""Blocking training around `keras.Model.fit` that streams events and honours a stop flag."""
from __future__ import annotations

import contextlib
import gc
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from engine.core.config import MODEL_LABELS, ConfigError, TrainConfig
from engine.core.events import (BatchEnded, EpochEnded, EventCallback, Failed, Finished, PreviewReady, Started,
                           ignore_event)
from engine.models.builders import build_autoencoder
from engine.training.runs import RunInfo, RunRecorder, RunStore, mean_code_activation, restore_checkpoint

BATCH_EVENT_INTERVAL_S = 0.1
STEPS_PER_EXECUTION = 16


class TrainingError(RuntimeError):
    """Training could not produce a model; the message says why and what to try."""


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


def train(config: TrainConfig, dataset, on_event: EventCallback = ignore_event,
          stop: threading.Event | None = None, *, run: RunInfo | None = None, store: RunStore | None = None,
          resume: bool = False, strategy: Any = None) -> TrainResult:
    """Train an autoencoder on `dataset` (an engine.data.dataset.Dataset); blocks until done or stopped.
    With `run` the training is recorded there (engine.training.runs) and `resume` continues it from its
    checkpoint; `strategy` (engine.training.runs.make_strategy) builds the model in its scope."""
    stop = stop or threading.Event()
    if run is None:
        if resume:
            raise ConfigError("Resuming needs the run to resume.")
        return _train(config, dataset, on_event, stop, None, False, strategy)
    recorder = RunRecorder(run, store)
    try:
        return _train(config, dataset, on_event, stop, recorder, resume, strategy)
    except BaseException as exc:
        recorder.failed(exc)
        raise


def _train(config: TrainConfig, dataset, on_event: EventCallback, stop: threading.Event,
           recorder: RunRecorder | None, resume: bool, strategy) -> TrainResult:
    x_train, x_val = _checked_arrays(dataset)
    keras.utils.set_random_seed(config.seed)
    batch_size, notes = _fitting_batch_size(config.batch_size, len(x_train))
    steps = math.ceil(len(x_train) / batch_size)
    unit_range = bool(x_train.min() >= 0 and x_train.max() <= 1)
    if config.loss == "bce" and not unit_range:
        raise ConfigError("Binary cross-entropy needs data in [0, 1]; this data is not. Choose mean squared error.")

    labels = _mixture_labels(config, dataset)
    n_classes = labels[2] if labels else None
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model = build_autoencoder(config, x_train.shape[1:], "sigmoid" if unit_range else "linear",
                                  n_classes=n_classes)
        compile_model(model, config, steps, distributed=strategy is not None)
        state = restore_checkpoint(model, recorder.run.checkpoint_path) if resume else None
    val_inputs = add_noise(x_val, config.noise_factor, seed=config.seed + 1) if config.denoising else x_val
    val_data = (val_inputs, x_val)
    if labels and labels[1] is not None:
        val_data += (labels[1],)
    n_preview = min(config.preview_count, len(x_val))
    streamer = _Streamer(on_event, stop, config, steps,
                         preview=(val_inputs[:n_preview].copy(), x_val[:n_preview].copy()))
    callbacks: list[keras.callbacks.Callback] = [streamer]
    if state is not None:
        streamer.restore(state)
    if recorder is not None:
        recorder.begin(model, streamer)
        callbacks += recorder.keras_callbacks()
    # TensorFlow and the model are hundreds of thousands of long-lived objects; a full
    # garbage collection that walks them holds the GIL for tens of ms and stalls the GUI.
    gc.collect()
    gc.freeze()
    description = _describe(config, dataset, batch_size, notes, strategy)
    if state is not None:
        description += f" Resumed after epoch {state['epoch']}."
    on_event(Started(config.epochs, steps, description))

    started = time.perf_counter()
    model.fit(
        _train_pipeline(x_train, batch_size, config.noise_factor, config.seed, labels[0] if labels else None),
        validation_data=tf.data.Dataset.from_tensor_slices(val_data).batch(max(batch_size, 256)),
        epochs=config.epochs, initial_epoch=state["epoch"] if state else 0, callbacks=callbacks, verbose=0,
        shuffle=False,
    )
    result = _finish(model, config, dataset, streamer, time.perf_counter() - started, on_event)
    if recorder is not None:
        recorder.finished(model, mean_code_activation(model, val_inputs))
    return result


def compile_model(model: keras.Model, config: TrainConfig, steps_per_epoch: int, distributed: bool = False) -> None:
    """Adam (optionally cosine-decayed), the chosen loss, XLA where it was measured to help.
    `distributed`: inside a tf.distribute scope, where (Keras 3.15 / TF 2.21) several steps per
    execution or XLA failed with "You must feed a value for placeholder tensor", so both are off."""

    def rate(initial: float) -> Any:
        if config.lr_schedule != "cosine":
            return initial
        return keras.optimizers.schedules.CosineDecay(initial, decay_steps=max(1, config.epochs * steps_per_epoch),
                                                      alpha=0.05)

    lr = rate(config.learning_rate)
    loss = "binary_crossentropy" if config.loss == "bce" else "mse"
    if config.generative:
        # VAE / AAE train with their own losses in train_step. Measured on 2 cores (dense VAE,
        # latent 20, batch 128, 55k MNIST): 16 steps per execution 6-10 -> 4.6-5.2 s per epoch;
        # XLA on top gave nothing more, so it is off.
        extra: dict[str, Any] = {}
        if config.model_kind == "aae":
            from engine.models.generative import DISCRIMINATOR_LR_RATIO, GENERATOR_LR_RATIO

            # The adversarial phases follow the same schedule, or a decayed reconstruction rate
            # lets them take over late in training and undo the reconstruction.
            extra = {"loss": loss,
                     "discriminator_optimizer": keras.optimizers.Adam(
                         rate(config.learning_rate * DISCRIMINATOR_LR_RATIO), beta_1=0.5),
                     "generator_optimizer": keras.optimizers.Adam(
                         rate(config.learning_rate * GENERATOR_LR_RATIO), beta_1=0.5)}
        model.compile(optimizer=keras.optimizers.Adam(lr),
                      steps_per_execution=1 if distributed else STEPS_PER_EXECUTION, **extra)
        return
    # Measured on 2 CPU cores (benchmarks/time_to_quality.py): for the dense kinds XLA and
    # 16 steps per execution cut the per-step overhead that dominates such small models
    # (1.4 s -> 0.8 s per MNIST epoch at batch 64); the conv model is slower with XLA.
    # Batch callbacks, and so the stop check, then run every 16 steps (a few ms).
    dense = config.model_kind in ("dense", "sparse", "deep") and not distributed
    model.compile(optimizer=keras.optimizers.Adam(lr), loss=loss, jit_compile=dense,
                  steps_per_execution=STEPS_PER_EXECUTION if dense else 1)


def add_noise(x: np.ndarray, factor: float, seed: int) -> np.ndarray:
    """Gaussian noise of std `factor`, clipped to [0, 1] (fixed noise, e.g. for validation)."""
    rng = np.random.default_rng(seed)
    return np.clip(x + factor * rng.standard_normal(x.shape, dtype=np.float32), 0.0, 1.0).astype(np.float32)


def _train_pipeline(x: np.ndarray, batch_size: int, noise_factor: float, seed: int,
                    labels: np.ndarray | None = None) -> tf.data.Dataset:
    """Shuffled batches gathered by index (cheap per step); fresh noise every epoch when denoising.
    Yields (inputs, targets), or (inputs, targets, labels) when `labels` are given (mixture-prior AAE)."""
    data = tf.constant(x)
    n = len(x)
    ds = tf.data.Dataset.range(n).shuffle(n, seed=seed, reshuffle_each_iteration=True).batch(batch_size)
    if labels is not None:
        classes = tf.constant(labels)
        ds = ds.map(lambda idx: (tf.gather(data, idx), tf.gather(classes, idx)), num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(lambda idx: tf.gather(data, idx), num_parallel_calls=tf.data.AUTOTUNE)
    if noise_factor > 0:
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)

        def noisy(batch, s):
            clean = batch[0] if labels is not None else batch
            noise = tf.random.stateless_normal(tf.shape(clean), seed=tf.stack([s, tf.constant(seed, tf.int64)]))
            inputs = tf.clip_by_value(clean + noise_factor * noise, 0.0, 1.0)
            return (inputs, clean, batch[1]) if labels is not None else (inputs, clean)

        ds = tf.data.Dataset.zip((ds, seeds)).map(noisy, num_parallel_calls=tf.data.AUTOTUNE)
    elif labels is not None:
        ds = ds.map(lambda clean, y: (clean, clean, y))
    else:
        ds = ds.map(lambda clean: (clean, clean))
    return ds.prefetch(tf.data.AUTOTUNE)


def _mixture_labels(config: TrainConfig, dataset):
    """(train_idx, val_idx, n_classes) for an AAE with the mixture prior and usable labels, else None."""
    if config.model_kind != "aae" or config.prior != "mixture":
        return None
    return _class_indices(getattr(dataset, "y_train", None), getattr(dataset, "y_val", None))


def _class_indices(y_train, y_val=None):
    """Map labels to 0..K-1 for the mixture prior: (train_idx, val_idx, K), or None when the labels
    are unusable (missing, or more than 256 distinct values). Unseen validation labels get -1."""
    if y_train is None:
        return None
    y_train = np.asarray(y_train).reshape(len(y_train), -1)
    if y_train.shape[1] != 1:
        return None
    y_train = y_train[:, 0]
    classes = np.unique(y_train)
    if len(classes) > 256 or len(classes) == 0:
        return None
    if np.issubdtype(y_train.dtype, np.integer) and classes.min() >= 0 and classes.max() < 256:
        def index(y):
            y = np.asarray(y).reshape(-1)
            return np.where((y >= 0) & (y <= classes.max()), y, -1).astype(np.int32)
        k = int(classes.max()) + 1
    else:
        def index(y):
            y = np.asarray(y).reshape(-1)
            pos = np.clip(np.searchsorted(classes, y), 0, len(classes) - 1)
            return np.where(classes[pos] == y, pos, -1).astype(np.int32)
        k = len(classes)
    return index(y_train), (None if y_val is None else index(y_val)), max(k, 1)


class _Streamer(keras.callbacks.Callback):
    """Turns Keras callbacks into engine events; checks the stop flag after every batch."""

    def __init__(self, on_event, stop, config: TrainConfig, steps: int, preview):
        super().__init__()
        self.on_event, self.stop, self.config, self.steps = on_event, stop, config, steps
        self.preview_inputs, self.preview_targets = preview
        self.history: dict[str, list[float]] = {}
        self.best_weights: list[np.ndarray] | None = None
        self.best_epoch: int | None = None
        self.best_val = math.inf
        self.stopped_by_user = False
        self.nan_message = ""
        self.early_stopped_at: int | None = None
        self._epoch = 0
        self._epoch_started = 0.0
        self._last_batch_event = 0.0
        self._last_step, self._last_mean = 0, 0.0

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a checkpoint's history and best model (engine.training.runs.restore_checkpoint)."""
        self.history = {k: list(v) for k, v in state["history"].items()}
        self.best_epoch, self.best_weights = state["best_epoch"], state["best_weights"]
        self.best_val = math.inf if state["best_val"] is None else float(state["best_val"])

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._epoch_started = time.perf_counter()
        self._last_step, self._last_mean = 0, 0.0

    def on_train_batch_end(self, batch, logs=None):
        loss = float((logs or {}).get("loss", math.nan))
        if not math.isfinite(loss):
            self.nan_message = (f"The loss became {loss} at epoch {self._epoch + 1}, step {batch + 1}: training diverged. "
                                f"Lower the learning rate (now {self.config.learning_rate:g}) and train again.")
            self.model.stop_training = True
        if self.stop.is_set():
            self.stopped_by_user = True
            self.model.stop_training = True
        now = time.perf_counter()
        if now - self._last_batch_event >= BATCH_EVENT_INTERVAL_S and min(batch + 1, self.steps) > self._last_step:
            # Keras reports the running mean over the epoch; recover the mean since the last event.
            step = min(batch + 1, self.steps)  # steps_per_execution can overshoot the epoch's end
            recent = (loss * step - self._last_mean * self._last_step) / (step - self._last_step)
            self._last_batch_event, self._last_step, self._last_mean = now, step, loss
            self.on_event(BatchEnded(self._epoch, step, self.steps, recent))

    def on_epoch_end(self, epoch, logs=None):
        if self.nan_message or self.stopped_by_user:
            return  # an interrupted epoch's averages are not comparable with whole ones
        logs = {k: float(v) for k, v in (logs or {}).items()}
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)
        val = logs.get("val_loss", logs.get("loss", math.nan))
        if not math.isfinite(val):
            self.nan_message = (f"The validation loss became {val} at epoch {epoch + 1}. "
                                f"Lower the learning rate (now {self.config.learning_rate:g}) and train again.")
            self.model.stop_training = True
            return
        improved = val < self.best_val
        if improved:
            self.best_val, self.best_epoch = val, epoch
            self.best_weights = [w.copy() for w in self.model.get_weights()]
        self.on_event(EpochEnded(epoch, self.config.epochs, logs, time.perf_counter() - self._epoch_started, improved))
        outputs = np.asarray(self.model(self.preview_inputs, training=False))
        self.on_event(PreviewReady(epoch, self.preview_inputs.copy(), outputs.copy(), self.preview_targets.copy()))
        patience = self.config.early_stopping_patience
        if patience and self.best_epoch is not None and epoch - self.best_epoch >= patience:
            self.early_stopped_at = epoch
            self.model.stop_training = True


def _finish(model, config, dataset, s: _Streamer, seconds: float, on_event) -> TrainResult:
    if s.best_weights is None:
        if s.nan_message:
            on_event(Failed(s.nan_message))
            raise TrainingError(s.nan_message)
        if not s.stopped_by_user:
            raise TrainingError("Training ended without finishing an epoch.")
        message = "Stopped before the first epoch ended: the model is only partly trained."
    else:
        model.set_weights(s.best_weights)
        best = f"kept the best model, epoch {s.best_epoch + 1} (validation loss {s.best_val:.4f})"
        done = len(s.history.get("loss", []))
        if s.nan_message:
            message = f"{s.nan_message} Training stopped; {best}."
        elif s.stopped_by_user:
            message = f"Stopped by you after {done} epoch(s); {best}."
        elif s.early_stopped_at is not None:
            message = f"Early stopping after epoch {s.early_stopped_at + 1}; {best}."
        else:
            message = f"Finished {done} epoch(s) in {seconds:.1f} s; {best}."
    on_event(Finished(s.history, s.best_epoch, None if s.best_weights is None else s.best_val,
                      s.stopped_by_user, seconds, message))
    metadata = {"input_shape": list(dataset.x_train.shape[1:]), "config": config.to_dict()}
    if config.generative:
        metadata.update(latent_size=config.code_size, beta=config.beta if config.model_kind != "aae" else None,
                        prior="gaussian" if config.model_kind != "aae" else config.prior)
        if config.model_kind == "aae":
            metadata["n_classes"] = int(model.n_classes)
    return TrainResult(model, config, s.history, s.best_epoch, None if s.best_weights is None else s.best_val,
                       s.stopped_by_user, message, dataset.summary(), metadata)


def _checked_arrays(dataset) -> tuple[np.ndarray, np.ndarray]:
    x_train = np.asarray(dataset.x_train, dtype=np.float32)
    x_val = np.asarray(dataset.x_val, dtype=np.float32)
    if len(x_train) == 0 or len(x_val) == 0:
        raise ConfigError("The data needs at least one training and one validation sample.")
    if x_train.shape[1:] != x_val.shape[1:]:
        raise ConfigError(f"Training samples {x_train.shape[1:]} and validation samples {x_val.shape[1:]} differ in shape.")
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
