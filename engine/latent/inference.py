"""A VAE's posterior, per image: the encoder's guess, refined by gradient steps, and its ELBO.

A VAE's encoder guesses q(z|x) = N(mean, exp(log_var)) in one pass ("amortised" inference).
On images unlike its training set the guess can be measurably off: for the app's latent-2
conv VAE on the MNIST test set the encoder's -ELBO is ~6 nats above that of a posterior fitted
to each image with the decoder fixed (benchmarks/vae_gap.py). `refine_posterior` starts from
the encoder's mean and log-variance and takes Adam steps on each image's own negative ELBO
(iterative / semi-amortised inference: Hjelm et al. 2016; Kim et al. 2018, test-time part).
The result is still a valid ELBO of the same model (a lower bound on log p(x)), only a tighter
one, at the price of `steps` decoder passes and their gradients per image.

`negative_elbo` gives the per-image figure for either posterior: BCE summed over pixels plus
KL to N(0, I), beta 1 (the loss the VAE trains on, at beta 1). Qt-free.
"""
from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

import numpy as np

from engine.core.errors import ConfigError
from engine.core.jobs import JobState
from engine.models.guards import checked_images, require_vae
from engine.models.predict import in_batches

DEFAULT_STEPS = 30
DEFAULT_LR = 0.02  # 30 steps: 0.02 137.0, 0.05 137.2, 0.1 137.7 nats (latent-2 conv VAE, 1k test images)
MAX_STEPS = 5000
LOG_VAR_RANGE = (-20.0, 10.0)  # keeps exp(log_var) finite whatever the steps do
_ADAM = (0.9, 0.999, 1e-8)
_REFINERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> {samples: compiled refiner}


@dataclass(frozen=True)
class Posterior:
    """Per-image diagonal Gaussian q(z|x): mean and log-variance, each (n, latent) float32."""

    mean: np.ndarray
    log_var: np.ndarray


@dataclass(frozen=True)
class ElboTerms:
    """Per-image figures in nats, each shape (n,): one-sample -ELBO, the same decoding the mean z,
    the sampled reconstruction term (BCE summed over pixels) and the KL term."""

    sampled: np.ndarray
    mean_z: np.ndarray
    reconstruction: np.ndarray
    kl: np.ndarray


def _steps(steps) -> int:
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 0 <= steps <= MAX_STEPS:
        raise ConfigError(f"Refinement steps must be a whole number from 0 to {MAX_STEPS}, got {steps!r}.")
    return int(steps)


def _positive(name: str, value, whole: bool = False):
    ok = isinstance(value, (int, np.integer)) if whole else isinstance(value, (int, float, np.number))
    if isinstance(value, bool) or not ok or not math.isfinite(float(value)) or value <= 0:
        raise ConfigError(f"{name} must be a positive {'whole ' if whole else ''}number, got {value!r}.")
    return value


def encode(model, x, batch_size: int = 256) -> Posterior:
    """The encoder's own posterior for images x (n, h, w, c) or one image (h, w, c)."""
    require_vae(model)
    x = checked_images(model, x)
    _positive("batch_size", batch_size, whole=True)
    if not len(x):
        empty = np.empty((0, model.latent_dim), np.float32)
        return Posterior(empty, empty.copy())
    mean, log_var = in_batches(lambda batch: model.encoder(batch, training=False), x, batch_size)
    return Posterior(mean, log_var)


def _refiner(model, samples: int):
    """A compiled function (x, mean, log_var, steps, lr, seed) -> refined (mean, log_var), Adam by hand
    inside one tf.while_loop so that a batch is one call; made once per model and sample count and
    traced once for every batch size."""
    cached = _REFINERS.setdefault(model, {})
    if samples not in cached:
        cached[samples] = _make_refiner(model, samples)
    return cached[samples]


def _make_refiner(model, samples: int):
    import tensorflow as tf

    from engine.models.generative import bce_sum, kl_divergence

    decoder = model.decoder
    beta1, beta2, eps = _ADAM
    low, high = LOG_VAR_RANGE

    def loss_fn(x, mean, log_var, seed):
        noise = tf.random.stateless_normal((samples,) + tuple(tf.unstack(tf.shape(mean))), seed=seed)
        z = mean[None] + tf.exp(0.5 * log_var)[None] * noise
        out = decoder(tf.reshape(z, (-1, tf.shape(mean)[1])), training=False)
        targets = tf.reshape(tf.repeat(x[None], samples, axis=0), tf.shape(out))
        reconstruction = tf.reduce_mean(tf.reshape(bce_sum(targets, out), (samples, -1)), axis=0)
        return tf.reduce_sum(reconstruction + kl_divergence(mean, log_var))  # images are independent

    @tf.function(reduce_retracing=True)
    def refine(x, mean, log_var, steps, lr, seed):
        state = [tf.zeros_like(mean), tf.zeros_like(mean), tf.zeros_like(log_var), tf.zeros_like(log_var)]

        def body(t, mean, log_var, m1, v1, m2, v2):
            with tf.GradientTape() as tape:
                tape.watch([mean, log_var])
                loss = loss_fn(x, mean, log_var, tf.stack([seed, t]))
            g_mean, g_log_var = tape.gradient(loss, [mean, log_var])
            tf1 = tf.cast(t + 1, tf.float32)
            m1 = beta1 * m1 + (1 - beta1) * g_mean
            v1 = beta2 * v1 + (1 - beta2) * tf.square(g_mean)
            m2 = beta1 * m2 + (1 - beta1) * g_log_var
            v2 = beta2 * v2 + (1 - beta2) * tf.square(g_log_var)
            scale = lr * tf.sqrt(1 - beta2 ** tf1) / (1 - beta1 ** tf1)
            mean = mean - scale * m1 / (tf.sqrt(v1) + eps)
            log_var = tf.clip_by_value(log_var - scale * m2 / (tf.sqrt(v2) + eps), low, high)
            return t + 1, mean, log_var, m1, v1, m2, v2

        _, mean, log_var, *_ = tf.while_loop(lambda t, *_: t < steps, body,
                                              [tf.constant(0), mean, log_var, *state])
        return mean, log_var

    return refine


def refine_posterior(model, x, steps: int = DEFAULT_STEPS, learning_rate: float = DEFAULT_LR, samples: int = 1,
                     seed: int = 0, batch_size: int = 500, state: JobState | None = None) -> Posterior:
    """The encoder's posterior for images x, then `steps` Adam steps (rate `learning_rate`) per image
    on that image's negative ELBO (`samples` posterior draws per step), the decoder fixed.

    steps=0 returns the encoder's posterior unchanged. Deterministic for a given seed.
    With `state`: a stop request is honoured between batches (the rest keep the encoder's guess), and
    progress is reported after each batch."""
    import tensorflow as tf

    steps = _steps(steps)
    _positive("The refinement learning rate", learning_rate)
    _positive("The number of posterior samples", samples, whole=True)
    _positive("batch_size", batch_size, whole=True)
    require_vae(model)
    x = checked_images(model, x)
    posterior = encode(model, x, batch_size=batch_size)
    if steps == 0 or len(posterior.mean) == 0:
        return posterior
    mean, log_var = posterior.mean.copy(), posterior.log_var.copy()
    refine = _refiner(model, int(samples))
    for i in range(0, len(x), batch_size):
        if state is not None and state.should_stop():
            break
        part = slice(i, i + batch_size)
        m, lv = refine(tf.constant(x[part]), tf.constant(mean[part]), tf.constant(log_var[part]),
                       tf.constant(steps), tf.constant(float(learning_rate), tf.float32),
                       tf.constant(int(seed) * 100003 + i, tf.int32))
        mean[part], log_var[part] = np.asarray(m), np.asarray(lv)
        if state is not None:
            state.progress(min(i + batch_size, len(x)), len(x), "Refining the codes…")
    return Posterior(mean, log_var)


def negative_elbo(model, x, posterior: Posterior | None = None, seed: int = 0, batch_size: int = 500) -> ElboTerms:
    """Per-image -ELBO of images x under `posterior` (default: the encoder's), in nats, with one
    posterior draw per image from a NumPy generator seeded `seed` (independent of any refinement)."""
    from engine.models.generative import bce_sum, kl_divergence
    require_vae(model)
    x = checked_images(model, x)
    if posterior is None:
        posterior = encode(model, x, batch_size=batch_size)
    if posterior.mean.shape != (len(x), model.latent_dim) or posterior.log_var.shape != posterior.mean.shape:
        raise ConfigError(f"The posterior must have shape ({len(x)}, {model.latent_dim}) for {len(x)} image(s), "
                          f"got {posterior.mean.shape} and {posterior.log_var.shape}.")
    rng = np.random.default_rng(seed)
    sampled, mean_z, recs, kls = [], [], [], []
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size].astype(np.float64)
        m = posterior.mean[i:i + batch_size].astype(np.float64)
        lv = posterior.log_var[i:i + batch_size].astype(np.float64)
        z = m + np.exp(0.5 * lv) * rng.standard_normal(m.shape)
        kl = np.asarray(kl_divergence(m, lv), np.float64)
        rec = np.asarray(bce_sum(xb, np.asarray(model.decoder(z.astype(np.float32)), np.float64)))
        rec_mean = np.asarray(bce_sum(xb, np.asarray(model.decoder(m.astype(np.float32)), np.float64)))
        sampled.append(rec + kl)
        mean_z.append(rec_mean + kl)
        recs.append(rec)
        kls.append(kl)
    if not sampled:
        empty = np.empty(0)
        return ElboTerms(empty, empty, empty, empty)
    cat = np.concatenate
    return ElboTerms(cat(sampled), cat(mean_z), cat(recs), cat(kls))
