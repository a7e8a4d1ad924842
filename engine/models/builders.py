"""Builders for the autoencoder kinds. Every model is `decoder(encoder(x))` with the
encoder and decoder as named sub-models, so each can be used and exported alone."""
from __future__ import annotations

import math

import keras
from keras import layers

from engine.core.config import SEQUENCE_KINDS, TrainConfig
from engine.core.errors import ConfigError

DEEP_UNITS = (128, 64)
WIDE_DEEP_UNITS = (256, 64)  # for inputs of 512+ features (e.g. 28x28 images): measured better on one-class MNIST
WIDE_INPUT = 512


def deep_units(input_shape: tuple[int, ...]) -> tuple[int, int]:
    """Hidden layer widths of the deep dense model for samples of `input_shape`."""
    return WIDE_DEEP_UNITS if math.prod(input_shape) >= WIDE_INPUT else DEEP_UNITS


def build_autoencoder(config: TrainConfig, input_shape: tuple[int, ...], output_activation: str = "sigmoid",
                      n_classes: int | None = None) -> keras.Model:
    """The autoencoder for `config.model_kind` on samples of `input_shape` (`n_classes`: mixture-prior AAE only)."""
    input_shape = tuple(int(d) for d in input_shape)
    if config.generative:
        from engine.models.generative_parts import build_generative

        return build_generative(config, input_shape, n_classes, output_activation)
    if config.model_kind == "residual":
        return _residual(config, input_shape)
    if config.model_kind in SEQUENCE_KINDS:
        from engine.models.sequence import build_sequence_autoencoder

        return build_sequence_autoencoder(config, input_shape, output_activation)
    if config.model_kind == "conv":
        encoder, decoder = _conv_parts(config, input_shape, output_activation)
    else:
        hidden = deep_units(input_shape) if config.model_kind == "deep" else ()
        l1 = config.l1_weight if config.model_kind == "sparse" else 0.0
        encoder, decoder = _dense_parts(config.code_size, hidden, l1, input_shape, output_activation,
                                        code_activation=config.code_activation_used)
    inputs = keras.Input(input_shape, name="input")
    outputs = decoder(encoder(inputs))
    return keras.Model(inputs, outputs, name=f"{config.model_kind}_autoencoder")


def _residual(config: TrainConfig, input_shape) -> keras.Model:
    from engine.models.denoiser import build_dncnn

    if len(input_shape) != 3:
        raise ConfigError(f"The residual denoiser needs images; this data has samples of shape {input_shape}.")
    return build_dncnn(config.depth, config.filters, channels=input_shape[-1])


PART_NAMES = ("encoder", "decoder", "discriminator")  # the named sub-models, in data-flow order


def part(model: keras.Model, name: str) -> keras.Model | None:
    """The sub-model `name` of a model made here (VAE / AAE hold theirs as attributes), else None."""
    found = getattr(model, name, None)
    if isinstance(found, keras.Model):
        return found
    try:
        found = model.get_layer(name)
    except ValueError:
        return None
    return found if isinstance(found, keras.Model) else None


def named_parts(model: keras.Model) -> list[tuple[str, keras.Model]]:
    """The model's named sub-models in data-flow order, or [("", model)] for a single network."""
    found = [(name, p) for name in PART_NAMES if (p := part(model, name)) is not None]
    return found or [("", model)]


def encoder_of(model: keras.Model) -> keras.Model:
    return _required_part(model, "encoder")


def decoder_of(model: keras.Model) -> keras.Model:
    return _required_part(model, "decoder")


def _required_part(model: keras.Model, name: str) -> keras.Model:
    found = part(model, name)
    if found is None:
        raise ConfigError(f"Model {model.name!r} has no {name} part; it was not made by Autoencoder Studio.")
    return found


def _dense_parts(code_size, hidden, l1, input_shape, output_activation, code_activation="linear"):
    """A linear code by default: measured on full MNIST (784-32-784, Adam 3e-3, batch 64), a ReLU code let
    units die and reached the seed recipe's validation BCE 0.0928 at epoch 8, a linear one at epoch 3
    (benchmarks/time_to_quality.py). The sparse kind keeps ReLU (TrainConfig.code_activation)."""
    size = math.prod(input_shape)
    regularizer = keras.regularizers.L1(l1) if l1 > 0 else None

    x_in = keras.Input(input_shape)
    x = layers.Flatten()(x_in) if len(input_shape) > 1 else x_in
    for units in hidden:
        x = layers.Dense(units, activation="relu")(x)
    code = layers.Dense(code_size, activation=code_activation, activity_regularizer=regularizer, name="code")(x)
    encoder = keras.Model(x_in, code, name="encoder")

    z_in = keras.Input((code_size,))
    y = z_in
    for units in reversed(hidden):
        y = layers.Dense(units, activation="relu")(y)
    y = layers.Dense(size, activation=output_activation)(y)
    if len(input_shape) > 1:
        y = layers.Reshape(input_shape)(y)
    decoder = keras.Model(z_in, y, name="decoder")
    return encoder, decoder


def _conv_parts(config: TrainConfig, input_shape, output_activation):
    if len(input_shape) != 3:
        raise ConfigError(
            f"The convolutional model needs images (height x width x channels); this data has samples of shape "
            f"{input_shape}. Choose a dense model for tables."
        )
    height, width, channels = input_shape
    pad_h, pad_w = (-height) % 4, (-width) % 4  # two 2x poolings need sides divisible by 4
    f = config.filters

    x_in = keras.Input(input_shape)
    x = layers.ZeroPadding2D(((0, pad_h), (0, pad_w)))(x_in) if pad_h or pad_w else x_in
    x = layers.Conv2D(f, 3, activation="relu", padding="same")(x)
    x = layers.MaxPooling2D(2, padding="same")(x)
    x = layers.Conv2D(config.code_size, 3, activation="relu", padding="same")(x)
    code = layers.MaxPooling2D(2, padding="same", name="code")(x)
    encoder = keras.Model(x_in, code, name="encoder")

    z_in = keras.Input(tuple(code.shape[1:]))
    y = layers.Conv2D(f, 3, activation="relu", padding="same")(z_in)
    y = layers.UpSampling2D(2)(y)
    y = layers.Conv2D(f, 3, activation="relu", padding="same")(y)
    y = layers.UpSampling2D(2)(y)
    y = layers.Conv2D(channels, 3, activation=output_activation, padding="same")(y)
    if pad_h or pad_w:
        y = layers.Cropping2D(((0, pad_h), (0, pad_w)))(y)
    decoder = keras.Model(z_in, y, name="decoder")
    return encoder, decoder
