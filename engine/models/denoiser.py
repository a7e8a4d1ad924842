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


def build_unet_denoiser(channels: int = 1, filters: tuple[int, ...] = (32, 64, 128), blocks: int = 2) -> keras.Model:
    """A small noise-level-aware U-Net (after DRUNet, Zhang et al. 2021, and FFDNet, Zhang et al. 2018).

    Inputs: `noisy` (H, W, channels) and `noise_level` (H, W, channels): the noise standard deviation of
    each pixel and channel on a 0-1 scale (a constant map for white Gaussian noise), so one model covers
    every strength and the user can turn it up or down. The first layer is a 2x2 stride-2 convolution (a
    learned pixel-unshuffle), so every later operation runs on a quarter of the pixels or fewer; each level
    halves the size again; `blocks` residual blocks (two 3x3 convolutions) per level and side, no batch norm.
    Output = noisy - predicted noise (zero-initialised: training starts at the identity). Sizes are padded
    to multiples of 2 ** len(filters) by the tiler.
    """
    noisy = keras.Input((None, None, channels), name="noisy")
    level = keras.Input((None, None, channels), name="noise_level")
    x = layers.Concatenate()([noisy, level])

    def block(x, width):
        y = layers.Conv2D(width, 3, padding="same", activation="relu")(x)
        y = layers.Conv2D(width, 3, padding="same")(y)
        return layers.Add()([x, y])

    skips = []
    for width in filters:
        x = layers.Conv2D(width, 2, strides=2)(x)  # down: pixel-unshuffle and mix
        for _ in range(blocks if width != filters[-1] else 2 * blocks):
            x = block(x, width)
        skips.append(x)
    skips.pop()
    for width in reversed(filters[:-1]):
        x = layers.Conv2DTranspose(width, 2, strides=2)(x)
        x = layers.Add()([x, skips.pop()])
        for _ in range(blocks):
            x = block(x, width)
    noise = layers.Conv2DTranspose(channels, 2, strides=2, kernel_initializer="zeros", name="noise")(x)
    clean = layers.Subtract(name="denoised")([noisy, noise])
    return keras.Model([noisy, level], clean, name=f"unet_{channels}c_{'-'.join(map(str, filters))}x{blocks}")
