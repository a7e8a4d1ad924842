"""How a model is compiled and fed: the optimizer and loss (XLA and steps per execution where measured to
help), and the tf.data pipeline of shuffled batches with fresh noise every epoch for denoisers."""
from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from engine.core.config import TrainConfig


STEPS_PER_EXECUTION = 16


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


def train_pipeline(x: np.ndarray, batch_size: int, noise_factor: float, seed: int,
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


def mixture_labels(config: TrainConfig, dataset):
    """(train_idx, val_idx, n_classes) for an AAE with the mixture prior and usable labels, else None."""
    if config.model_kind != "aae" or config.prior != "mixture":
        return None
    return class_indices(getattr(dataset, "y_train", None), getattr(dataset, "y_val", None))


def class_indices(y_train, y_val=None):
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
