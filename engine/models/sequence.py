"""Autoencoders for windows of a time series, shaped (window, channels).

Two kinds, both `decoder(encoder(x))` with named parts like the image models:
- "conv1d": strided Conv1D encoder to a short code sequence, Conv1DTranspose decoder;
- "transformer": a small transformer autoencoder (self-attention encoder, a pooled code vector,
  self-attention decoder over learned positions), as slide 14 suggests for sequential data.
The pooled code is what keeps the transformer from copying its input: every window has to pass
through `code_size` numbers.
"""
from __future__ import annotations

import keras
from keras import layers

from engine.core.config import TrainConfig
from engine.core.errors import ConfigError
from engine.models.generative import PACKAGE

HEADS = 4
BLOCKS = 2


@keras.saving.register_keras_serializable(package=PACKAGE)
class PositionEmbedding(layers.Layer):
    """Adds a learned vector per position to a (batch, steps, features) input."""

    def build(self, input_shape):
        self.positions = self.add_weight(shape=(int(input_shape[-2]), int(input_shape[-1])),
                                         initializer=keras.initializers.RandomNormal(stddev=0.02), name="positions")

    def call(self, x):
        return x + self.positions


def build_sequence_autoencoder(config: TrainConfig, input_shape: tuple[int, ...],
                               output_activation: str = "linear") -> keras.Model:
    if len(input_shape) != 2:
        raise ConfigError(f"The {config.model_kind} sequence model needs windows of a series (steps x channels); "
                          f"this data has samples of shape {input_shape}. Use a sequence source (numeric columns cut "
                          f"into sliding windows), or a dense or convolutional model for tables and images.")
    steps, channels = (int(d) for d in input_shape)
    if steps < 4:
        raise ConfigError(f"Windows of {steps} steps are too short for a sequence model; use at least 4.")
    parts = _transformer_parts if config.model_kind == "transformer" else _conv1d_parts
    encoder, decoder = parts(config, steps, channels, output_activation)
    inputs = keras.Input(input_shape, name="input")
    return keras.Model(inputs, decoder(encoder(inputs)), name=f"{config.model_kind}_autoencoder")


def _conv1d_parts(config: TrainConfig, steps: int, channels: int, output_activation: str):
    pad = (-steps) % 4  # two stride-2 convolutions
    f = config.filters
    x_in = keras.Input((steps, channels))
    x = layers.ZeroPadding1D((0, pad))(x_in) if pad else x_in
    x = layers.Conv1D(f, 5, strides=2, padding="same", activation="relu")(x)
    x = layers.Conv1D(f, 5, strides=2, padding="same", activation="relu")(x)
    code = layers.Conv1D(config.code_size, 3, padding="same", name="code")(x)
    encoder = keras.Model(x_in, code, name="encoder")

    z_in = keras.Input(tuple(code.shape[1:]))
    y = layers.Conv1DTranspose(f, 5, strides=2, padding="same", activation="relu")(z_in)
    y = layers.Conv1DTranspose(f, 5, strides=2, padding="same", activation="relu")(y)
    y = layers.Conv1D(channels, 3, padding="same", activation=output_activation)(y)
    if pad:
        y = layers.Cropping1D((0, pad))(y)
    decoder = keras.Model(z_in, y, name="decoder")
    return encoder, decoder


def _attention_block(x, width: int, name: str):
    """Pre-norm transformer block: self-attention and a feed-forward layer, each with a residual."""
    h = layers.LayerNormalization(epsilon=1e-5, name=f"{name}_norm1")(x)
    h = layers.MultiHeadAttention(HEADS, max(1, width // HEADS), name=f"{name}_attention")(h, h)
    x = layers.Add(name=f"{name}_add1")([x, h])
    h = layers.LayerNormalization(epsilon=1e-5, name=f"{name}_norm2")(x)
    h = layers.Dense(2 * width, activation="gelu", name=f"{name}_ff1")(h)
    h = layers.Dense(width, name=f"{name}_ff2")(h)
    return layers.Add(name=f"{name}_add2")([x, h])


def _transformer_parts(config: TrainConfig, steps: int, channels: int, output_activation: str):
    width = max(HEADS, config.filters)
    x_in = keras.Input((steps, channels))
    x = PositionEmbedding(name="encoder_positions")(layers.Dense(width, name="embed")(x_in))
    for i in range(BLOCKS):
        x = _attention_block(x, width, f"encoder{i}")
    x = layers.LayerNormalization(epsilon=1e-5)(x)
    code = layers.Dense(config.code_size, name="code")(layers.GlobalAveragePooling1D()(x))
    encoder = keras.Model(x_in, code, name="encoder")

    z_in = keras.Input((config.code_size,))
    y = layers.Dense(width)(z_in)
    y = layers.RepeatVector(steps)(y)
    y = PositionEmbedding(name="decoder_positions")(y)
    for i in range(BLOCKS):
        y = _attention_block(y, width, f"decoder{i}")
    y = layers.LayerNormalization(epsilon=1e-5)(y)
    y = layers.Dense(channels, activation=output_activation)(y)
    decoder = keras.Model(z_in, y, name="decoder")
    return encoder, decoder
