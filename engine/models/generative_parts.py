"""The encoder, decoder and discriminator networks of the VAE and AAE kinds (engine.models.generative
holds the model classes that train them)."""
from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers

from engine.core.config import TrainConfig
from engine.core.errors import ConfigError
from engine.models.generative import AAE, VAE

VAE_HIDDEN = 512  # the seed's 784-512-latent
CONV_VAE_HIDDEN = 256  # keras-io uses 16 (for latent 2); 16 would be narrower than a latent of 20 or more
AAE_HIDDEN = (512, 256)
DISCRIMINATOR_UNITS = (128, 128)


def build_generative(config: TrainConfig, input_shape, n_classes: int | None = None,
                     output_activation: str = "sigmoid") -> keras.Model:
    """The VAE or AAE for `config.model_kind` on samples of `input_shape`; code_size = latent size."""
    input_shape = tuple(int(d) for d in input_shape)
    latent = int(config.code_size)
    if config.model_kind == "vae":
        encoder, decoder = _dense_vae_parts(latent, input_shape)
    elif config.model_kind == "conv_vae":
        encoder, decoder = _conv_vae_parts(latent, input_shape, config.filters)
    elif config.model_kind == "aae":
        n = int(n_classes or 10)
        encoder, decoder = _aae_parts(latent, input_shape, output_activation)
        extra = n + 1 if config.prior == "mixture" else 0
        model = AAE(encoder, decoder, _discriminator(latent + extra), prior=config.prior, n_classes=n,
                    seed=config.seed, name="aae")
        model(np.zeros((1,) + input_shape, np.float32))  # build
        return model
    else:
        raise ConfigError(f"{config.model_kind!r} is not a generative model kind.")
    model = VAE(encoder, decoder, beta=config.beta, seed=config.seed, architecture=config.model_kind,
                name=config.model_kind)
    model(np.zeros((1,) + input_shape, np.float32))
    return model


def _dense_vae_parts(latent, input_shape):
    x_in = keras.Input(input_shape)
    x = layers.Flatten()(x_in) if len(input_shape) > 1 else x_in
    x = layers.Dense(VAE_HIDDEN, activation="relu")(x)
    z_mean = layers.Dense(latent, name="z_mean")(x)
    z_log_var = layers.Dense(latent, name="z_log_var")(x)
    encoder = keras.Model(x_in, [z_mean, z_log_var], name="encoder")
    z_in = keras.Input((latent,))
    y = layers.Dense(VAE_HIDDEN, activation="relu")(z_in)
    y = layers.Dense(math.prod(input_shape), activation="sigmoid")(y)
    if len(input_shape) > 1:
        y = layers.Reshape(input_shape)(y)
    return encoder, keras.Model(z_in, y, name="decoder")


def _conv_vae_parts(latent, input_shape, filters):
    if len(input_shape) != 3:
        raise ConfigError(f"The convolutional VAE needs images (height x width x channels); this data has samples "
                          f"of shape {input_shape}. Choose the dense Variational model for tables.")
    height, width, channels = input_shape
    pad_h, pad_w = (-height) % 4, (-width) % 4  # two stride-2 convolutions need sides divisible by 4
    f = int(filters)
    hidden = CONV_VAE_HIDDEN

    x_in = keras.Input(input_shape)
    x = layers.ZeroPadding2D(((0, pad_h), (0, pad_w)))(x_in) if pad_h or pad_w else x_in
    x = layers.Conv2D(f, 3, strides=2, activation="relu", padding="same")(x)
    x = layers.Conv2D(2 * f, 3, strides=2, activation="relu", padding="same")(x)
    map_shape = tuple(x.shape[1:])
    x = layers.Flatten()(x)
    x = layers.Dense(hidden, activation="relu")(x)
    z_mean = layers.Dense(latent, name="z_mean")(x)
    z_log_var = layers.Dense(latent, name="z_log_var")(x)
    encoder = keras.Model(x_in, [z_mean, z_log_var], name="encoder")

    z_in = keras.Input((latent,))
    y = layers.Dense(math.prod(map_shape), activation="relu")(z_in)
    y = layers.Reshape(map_shape)(y)
    y = layers.Conv2DTranspose(2 * f, 3, strides=2, activation="relu", padding="same")(y)
    y = layers.Conv2DTranspose(f, 3, strides=2, activation="relu", padding="same")(y)
    y = layers.Conv2DTranspose(channels, 3, activation="sigmoid", padding="same")(y)
    if pad_h or pad_w:
        y = layers.Cropping2D(((0, pad_h), (0, pad_w)))(y)
    return encoder, keras.Model(z_in, y, name="decoder")


def _aae_parts(latent, input_shape, output_activation):
    x_in = keras.Input(input_shape)
    x = layers.Flatten()(x_in) if len(input_shape) > 1 else x_in
    for units in AAE_HIDDEN:
        x = layers.Dense(units, activation="relu")(x)
    encoder = keras.Model(x_in, layers.Dense(latent, name="code")(x), name="encoder")
    z_in = keras.Input((latent,))
    y = z_in
    for units in reversed(AAE_HIDDEN):
        y = layers.Dense(units, activation="relu")(y)
    y = layers.Dense(math.prod(input_shape), activation=output_activation)(y)
    if len(input_shape) > 1:
        y = layers.Reshape(input_shape)(y)
    return encoder, keras.Model(z_in, y, name="decoder")


def _discriminator(input_size):
    z_in = keras.Input((input_size,))
    h = z_in
    for units in DISCRIMINATOR_UNITS:
        h = layers.Dense(units, activation="relu")(h)
    return keras.Model(z_in, layers.Dense(1, name="logit")(h), name="discriminator")
