"""The residual convolutional denoiser (DnCNN-style, Zhang et al. 2017): it predicts the
noise and subtracts it. Fully convolutional, so it takes images of any size."""
from __future__ import annotations

import keras
from keras import layers


def build_dncnn(depth: int = 12, filters: int = 48, channels: int = 1, batch_norm: bool = True) -> keras.Model:
    """`depth` 3x3 conv layers; the middle ones with batch norm; output = input - predicted noise."""
    noisy = keras.Input((None, None, channels), name="noisy")
    x = layers.Conv2D(filters, 3, padding="same", activation="relu")(noisy)
    for _ in range(depth - 2):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=not batch_norm)(x)
        if batch_norm:
            x = layers.BatchNormalization(momentum=0.95, epsilon=1e-4)(x)
        x = layers.Activation("relu")(x)
    # Zero-initialised noise estimate: training starts at the identity (output = noisy input)
    # instead of far from it, which small, short trainings in the app otherwise never recover from.
    noise = layers.Conv2D(channels, 3, padding="same", kernel_initializer="zeros", name="noise")(x)
    clean = layers.Subtract(name="denoised")([noisy, noise])
    return keras.Model(noisy, clean, name=f"dncnn_{depth}x{filters}")
