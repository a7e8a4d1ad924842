"""Variational (VAE) and adversarial (AAE) autoencoders, written the Keras 3 way.

Both are `keras.Model` subclasses with their own `train_step`/`test_step`, holding the
encoder and decoder as named functional sub-models (reachable as `model.encoder` and
`model.decoder`). `model(x)` is a deterministic reconstruction (the decoded posterior
mean for a VAE), so every image-to-image feature of the app works on them too.
Everything is registered for `keras.saving.load_model(..., safe_mode=True)`.
"""
from __future__ import annotations


import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from engine.core.errors import ConfigError

PACKAGE = "autoencoder_studio"
MIXTURE_RADIUS = 3.0  # component means on this circle in latent dims 1 and 2
MIXTURE_STD = 0.5
DISCRIMINATOR_LR_RATIO = 1.0  # x the reconstruction learning rate
GENERATOR_LR_RATIO = 0.5  # from short MNIST runs (latent 2, 8): equal rates made the codes oscillate
_EPS = 1e-7


def kl_divergence(z_mean, z_log_var):
    """KL(N(mean, exp(log_var)) || N(0, I)) per sample, summed over latent dims: shape (n,)."""
    return -0.5 * ops.sum(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)


def bce_sum(targets, outputs):
    """Binary cross-entropy summed over all pixels of each sample: shape (n,)."""
    p = ops.clip(outputs, _EPS, 1.0 - _EPS)
    bce = -(targets * ops.log(p) + (1.0 - targets) * ops.log(1.0 - p))
    return ops.sum(ops.reshape(bce, (ops.shape(bce)[0], -1)), axis=1)


def _unpack(data):
    """(inputs, targets[, labels]) from what the pipeline yields; a bare x is its own target."""
    if isinstance(data, (tuple, list)):
        x = data[0]
        y = data[1] if len(data) > 1 else x
        labels = data[2] if len(data) > 2 else None
        return x, y, labels
    return data, data, None


@keras.saving.register_keras_serializable(package=PACKAGE)
class Sampling(layers.Layer):
    """z = mean + exp(log_var / 2) * eps, eps ~ N(0, I): the reparameterisation trick."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.built = True  # no weights

    def call(self, inputs):
        z_mean, z_log_var = inputs
        eps = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        # Written so that zero variance (log_var -> -inf) gives exactly the mean, never NaN.
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


class _Generative(keras.Model):
    """What VAE and AAE share: sub-model parts, shapes like a functional model's, the latent size."""

    kind = ""

    @property
    def latent_dim(self) -> int:
        return int(self.decoder.input_shape[-1])

    @property
    def input_shape(self):  # what engine.models.files.check_fits and engine.denoise.tiling read
        return self.encoder.input_shape

    @property
    def output_shape(self):
        return self.decoder.output_shape

    def build(self, input_shape=None):
        self.built = True  # the functional sub-models were built when they were made


@keras.saving.register_keras_serializable(package=PACKAGE)
class VAE(_Generative):
    """Variational autoencoder; loss = BCE summed over pixels + beta * KL (the negative ELBO at beta 1)."""

    kind = "vae"

    def __init__(self, encoder, decoder, beta=1.0, seed=None, architecture="vae", **kwargs):
        super().__init__(**kwargs)
        self.encoder, self.decoder = encoder, decoder
        self.beta = float(beta)
        self.seed = seed
        self.architecture = architecture
        self.sampler = Sampling(seed=seed, name="sampling")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]

    def call(self, inputs, training=False):
        z_mean, _ = self.encoder(inputs, training=training)
        return self.decoder(z_mean, training=training)

    def _elbo_terms(self, x, y, training):
        z_mean, z_log_var = self.encoder(x, training=training)
        z = self.sampler((z_mean, z_log_var))
        reconstruction = ops.mean(bce_sum(y, self.decoder(z, training=training)))
        kl = ops.mean(kl_divergence(z_mean, z_log_var))
        return reconstruction + self.beta * kl, reconstruction, kl

    def _report(self, loss, reconstruction, kl):
        self.loss_tracker.update_state(loss)
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        x, y, _ = _unpack(data)
        with tf.GradientTape() as tape:
            loss, reconstruction, kl = self._elbo_terms(x, y, training=True)
        variables = self.encoder.trainable_variables + self.decoder.trainable_variables
        self.optimizer.apply(tape.gradient(loss, variables), variables)
        return self._report(loss, reconstruction, kl)

    def test_step(self, data):
        x, y, _ = _unpack(data)
        return self._report(*self._elbo_terms(x, y, training=False))

    def get_config(self):
        return {**super().get_config(), "encoder": keras.saving.serialize_keras_object(self.encoder),
                "decoder": keras.saving.serialize_keras_object(self.decoder), "beta": self.beta,
                "seed": self.seed, "architecture": self.architecture}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for part in ("encoder", "decoder"):
            config[part] = keras.saving.deserialize_keras_object(config[part])
        return cls(**config)


def mixture_means(n_classes: int, latent_dim: int) -> np.ndarray:
    """(n_classes, latent_dim) component means: a regular polygon of radius MIXTURE_RADIUS in
    latent dims 1 and 2 (evenly spaced on a line when the latent is 1-D), zero elsewhere."""
    means = np.zeros((n_classes, latent_dim), np.float32)
    if latent_dim == 1:
        means[:, 0] = np.linspace(-MIXTURE_RADIUS, MIXTURE_RADIUS, n_classes) if n_classes > 1 else 0.0
    else:
        angles = 2 * np.pi * np.arange(n_classes) / n_classes
        means[:, 0], means[:, 1] = MIXTURE_RADIUS * np.cos(angles), MIXTURE_RADIUS * np.sin(angles)
    return means


@keras.saving.register_keras_serializable(package=PACKAGE)
class AAE(_Generative):
    """Adversarial autoencoder (Makhzani et al. 2016): a discriminator on the code pushes the
    encoded distribution towards the prior. With the mixture prior the discriminator also
    sees the one-hot class (plus an "unknown" slot), so class k is mapped onto component k."""

    kind = "aae"

    def __init__(self, encoder, decoder, discriminator, prior="gaussian", n_classes=10, seed=None, **kwargs):
        super().__init__(**kwargs)
        if prior not in ("gaussian", "mixture"):
            raise ConfigError(f"Unknown prior {prior!r}; choose gaussian or mixture.")
        self.encoder, self.decoder, self.discriminator = encoder, decoder, discriminator
        self.prior, self.n_classes, self.seed = prior, int(n_classes), seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.reconstruction_loss = "bce"
        self.discriminator_optimizer = self.generator_optimizer = None
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.discriminator_tracker = keras.metrics.Mean(name="discriminator")
        self.generator_tracker = keras.metrics.Mean(name="generator")

    @property
    def metrics(self):
        return [self.loss_tracker, self.discriminator_tracker, self.generator_tracker]

    def prior_means(self) -> np.ndarray:
        if self.prior == "mixture":
            return mixture_means(self.n_classes, self.latent_dim)
        return np.zeros((1, self.latent_dim), np.float32)

    @property
    def prior_std(self) -> float:
        return MIXTURE_STD if self.prior == "mixture" else 1.0

    def compile(self, optimizer="adam", loss="binary_crossentropy", discriminator_optimizer=None,
                generator_optimizer=None, **kwargs):
        """`optimizer` trains the reconstruction; the two adversarial phases get their own Adam
        (beta_1 0.5, DISCRIMINATOR_ / GENERATOR_LR_RATIO x the learning rate) unless given."""
        loss = "binary_crossentropy" if loss is None else loss
        if loss not in ("binary_crossentropy", "bce", "mse", "mean_squared_error"):
            raise ConfigError(f"The AAE reconstruction loss must be binary cross-entropy or MSE, not {loss!r}.")
        self.reconstruction_loss = "bce" if loss in ("binary_crossentropy", "bce") else "mse"
        super().compile(optimizer=optimizer, **kwargs)
        lr = float(ops.convert_to_numpy(self.optimizer.learning_rate))
        self.discriminator_optimizer = discriminator_optimizer or keras.optimizers.Adam(lr * DISCRIMINATOR_LR_RATIO,
                                                                                        beta_1=0.5)
        self.generator_optimizer = generator_optimizer or keras.optimizers.Adam(lr * GENERATOR_LR_RATIO, beta_1=0.5)
        self.discriminator_optimizer.build(self.discriminator.trainable_variables)
        self.generator_optimizer.build(self.encoder.trainable_variables)

    def call(self, inputs, training=False):
        return self.decoder(self.encoder(inputs, training=training), training=training)

    def _reconstruction(self, y, outputs):
        if self.reconstruction_loss == "mse":
            return ops.mean(ops.square(y - outputs))
        p = ops.clip(outputs, _EPS, 1.0 - _EPS)
        return ops.mean(-(y * ops.log(p) + (1.0 - y) * ops.log(1.0 - p)))

    def _prior_and_condition(self, batch, labels):
        """Prior samples for a batch, and the discriminator's extra input (one-hot class)."""
        shape = (batch, self.latent_dim)
        eps = keras.random.normal(shape, seed=self.seed_generator)
        if self.prior == "gaussian":
            return eps, None
        unknown = self.n_classes
        if labels is None:
            labels = ops.full((batch,), unknown, "int32")
        labels = ops.cast(ops.reshape(labels, (-1,)), "int32")
        known = ops.logical_and(labels >= 0, labels < self.n_classes)
        random = keras.random.randint((batch,), 0, self.n_classes, seed=self.seed_generator, dtype="int32")
        component = ops.where(known, labels, random)
        means = ops.take(ops.convert_to_tensor(self.prior_means()), component, axis=0)
        condition = ops.one_hot(ops.where(known, labels, unknown), self.n_classes + 1)
        return means + MIXTURE_STD * eps, condition

    def _discriminate(self, z, condition, training):
        inputs = z if condition is None else ops.concatenate([z, ops.cast(condition, z.dtype)], axis=-1)
        return self.discriminator(inputs, training=training)

    def _adversarial(self, x, labels, training):
        batch = ops.shape(x)[0]
        real, condition = self._prior_and_condition(batch, labels)
        fake = self.encoder(x, training=training)
        real_logits = self._discriminate(real, condition, training)
        fake_logits = self._discriminate(fake, condition, training)
        bce = keras.losses.binary_crossentropy
        d_loss = (ops.mean(bce(ops.ones_like(real_logits), real_logits, from_logits=True))
                  + ops.mean(bce(ops.zeros_like(fake_logits), fake_logits, from_logits=True)))
        g_loss = ops.mean(bce(ops.ones_like(fake_logits), fake_logits, from_logits=True))
        return d_loss, g_loss

    def train_step(self, data):
        x, y, labels = _unpack(data)
        # 1. reconstruction: encoder + decoder
        with tf.GradientTape() as tape:
            reconstruction = self._reconstruction(y, self(x, training=True))
        ae_vars = self.encoder.trainable_variables + self.decoder.trainable_variables
        self.optimizer.apply(tape.gradient(reconstruction, ae_vars), ae_vars)
        # 2. discriminator: prior samples are "real", codes are "fake"
        with tf.GradientTape() as tape:
            d_loss, _ = self._adversarial(x, labels, training=True)
        d_vars = self.discriminator.trainable_variables
        self.discriminator_optimizer.apply(tape.gradient(d_loss, d_vars), d_vars)
        # 3. generator: the encoder learns to fool the discriminator
        with tf.GradientTape() as tape:
            _, g_loss = self._adversarial(x, labels, training=True)
        e_vars = self.encoder.trainable_variables
        self.generator_optimizer.apply(tape.gradient(g_loss, e_vars), e_vars)
        return self._report(reconstruction, d_loss, g_loss)

    def test_step(self, data):
        x, y, labels = _unpack(data)
        reconstruction = self._reconstruction(y, self(x, training=False))
        return self._report(reconstruction, *self._adversarial(x, labels, training=False))

    def _report(self, reconstruction, d_loss, g_loss):
        self.loss_tracker.update_state(reconstruction)
        self.discriminator_tracker.update_state(d_loss)
        self.generator_tracker.update_state(g_loss)
        return {m.name: m.result() for m in self.metrics}

    def get_config(self):
        serialize = keras.saving.serialize_keras_object
        return {**super().get_config(), "encoder": serialize(self.encoder), "decoder": serialize(self.decoder),
                "discriminator": serialize(self.discriminator), "prior": self.prior,
                "n_classes": self.n_classes, "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for part in ("encoder", "decoder", "discriminator"):
            config[part] = keras.saving.deserialize_keras_object(config[part])
        return cls(**config)


# ----------------------------------------------------------------------------- builders


