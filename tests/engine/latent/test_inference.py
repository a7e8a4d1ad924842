"""engine.latent.inference: the encoder's posterior, its per-image refinement, and the per-image -ELBO."""
import math

import numpy as np
import pytest

from engine.latent import inference
from engine.latent import codes as latent
from engine.core.config import TrainConfig
from engine.core.errors import ConfigError
from engine.core.jobs import JobState
from engine.data.dataset import Dataset


@pytest.fixture(scope="module")
def vae_and_images():
    """A small dense VAE trained on noisy copies of 4 prototype images, and 32 held-out images."""
    from engine.training.fit import train

    rng = np.random.default_rng(0)
    base = rng.random((4, 12, 12, 1)).astype(np.float32)
    y = rng.integers(0, 4, 400)
    x = np.clip(base[y] * 0.8 + 0.2 * rng.random((400, 12, 12, 1)), 0, 1).astype(np.float32)
    data = Dataset(x_train=x[:368], x_val=x[368:], y_train=y[:368], y_val=y[368:], source="synthetic")
    config = TrainConfig(model_kind="vae", code_size=2, epochs=10, batch_size=16, seed=0)
    return train(config, data).model, x[368:]


@pytest.fixture(scope="module")
def blind_vae(vae_and_images):
    """The trained decoder behind an untrained encoder: its one-pass guesses carry no information,
    so the gap between the encoder's posterior and the best one is large and known to be there."""
    from engine.models.generative import VAE
    from engine.models.builders import build_autoencoder

    model, _ = vae_and_images
    fresh = build_autoencoder(TrainConfig(model_kind="vae", code_size=2, seed=1), (12, 12, 1))
    return VAE(fresh.encoder, model.decoder, architecture="vae")


def test_encode_matches_the_encoder_and_zero_steps_change_nothing(vae_and_images):
    model, x = vae_and_images
    posterior = inference.encode(model, x, batch_size=7)  # batches of 7 cover 32 images
    mean, log_var = (np.asarray(t) for t in model.encoder(x, training=False))
    np.testing.assert_allclose(posterior.mean, mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(posterior.log_var, log_var, rtol=1e-5, atol=1e-6)
    same = inference.refine_posterior(model, x, steps=0, batch_size=7)  # the same batches: bit for bit
    np.testing.assert_array_equal(same.mean, posterior.mean)
    np.testing.assert_array_equal(same.log_var, posterior.log_var)
    np.testing.assert_array_equal(latent.encode_means(model, x, refine_steps=0),
                                  inference.encode(model, x, batch_size=256).mean)


def test_refinement_recovers_what_a_trained_encoder_knows(vae_and_images, blind_vae):
    model, x = vae_and_images
    trained = inference.negative_elbo(model, x).sampled.mean()
    blind = inference.negative_elbo(blind_vae, x).sampled.mean()
    assert blind > trained + 5  # the setting works: the blind encoder's guesses cost nats
    refined = inference.refine_posterior(blind_vae, x, steps=100, learning_rate=0.05, batch_size=10)
    assert refined.mean.shape == (len(x), 2) and np.isfinite(refined.mean).all()
    after = inference.negative_elbo(blind_vae, x, refined).sampled.mean()
    # Measured: trained encoder 86.4, blind 99.8, blind refined 86.5 nats.
    assert after < blind - 5 and after < trained + 1.5, (trained, blind, after)
    few = inference.negative_elbo(blind_vae, x, inference.refine_posterior(blind_vae, x, steps=10)).sampled.mean()
    assert after < few < blind  # more steps, tighter


def test_refinement_is_deterministic_and_batch_size_free(blind_vae, vae_and_images):
    _, x = vae_and_images
    one = inference.refine_posterior(blind_vae, x, steps=8, batch_size=10)
    again = inference.refine_posterior(blind_vae, x, steps=8, batch_size=10)
    np.testing.assert_array_equal(again.mean, one.mean)
    np.testing.assert_array_equal(again.log_var, one.log_var)
    # The seed of each batch depends on its position, so only the first batch matches across sizes.
    np.testing.assert_allclose(latent.encode_means(blind_vae, x[:10], refine_steps=8, batch_size=10), one.mean[:10],
                               rtol=1e-5, atol=1e-6)


def test_negative_elbo_terms_add_up_and_match_a_hand_computation(vae_and_images):
    model, x = vae_and_images
    x = x[:3]
    terms = inference.negative_elbo(model, x, seed=3)
    np.testing.assert_allclose(terms.sampled, terms.reconstruction + terms.kl, rtol=1e-10)
    posterior = inference.encode(model, x)
    # Hand computation for the mean-z figure: BCE summed over pixels + closed-form KL.
    out = np.clip(np.asarray(model.decoder(posterior.mean), np.float64), 1e-7, 1 - 1e-7)
    xf = x.astype(np.float64)
    bce = -(xf * np.log(out) + (1 - xf) * np.log(1 - out)).reshape(3, -1).sum(axis=1)
    m, lv = posterior.mean.astype(np.float64), posterior.log_var.astype(np.float64)
    kl = -0.5 * (1 + lv - m ** 2 - np.exp(lv)).sum(axis=1)
    np.testing.assert_allclose(terms.kl, kl, rtol=1e-5)
    np.testing.assert_allclose(terms.mean_z, bce + kl, rtol=1e-4)


def test_stop_between_batches_keeps_the_encoder_guess_for_the_rest(vae_and_images):
    model, x = vae_and_images
    progress = []

    def on_event(event):  # the first batch is done: the user stops
        progress.append((event.done, event.total))
        state.request_stop()

    state = JobState(on_event)
    refined = inference.refine_posterior(model, x, steps=10, batch_size=8, state=state)
    guess = inference.encode(model, x, batch_size=8)  # the same batches: bit for bit
    assert progress == [(8, len(x))]
    assert not np.allclose(refined.mean[:8], guess.mean[:8])
    np.testing.assert_array_equal(refined.mean[8:], guess.mean[8:])


def test_encode_view_reports_the_elbo_with_and_without_refinement(blind_vae, vae_and_images):
    _, x = vae_and_images
    data = Dataset(x_train=x, x_val=x, source="test")
    plain = latent.encode_view(blind_vae, data, refine_steps=0)
    tight = latent.encode_view(blind_vae, data, refine_steps=40)
    assert plain.refine_steps == 0 and tight.refine_steps == 40
    assert math.isfinite(plain.negative_elbo) and tight.negative_elbo < plain.negative_elbo - 2
    assert np.isclose(plain.negative_elbo, inference.negative_elbo(blind_vae, x).sampled.mean())
    assert not np.allclose(tight.means, plain.means)


@pytest.mark.parametrize("kwargs, match", [
    ({"steps": -1}, "whole number from 0 to 5000"),
    ({"steps": 10_000}, "whole number from 0 to 5000"),
    ({"steps": 2.5}, "whole number"),
    ({"learning_rate": 0.0}, "learning rate must be a positive"),
    ({"learning_rate": float("nan")}, "learning rate must be a positive"),
    ({"samples": 0}, "posterior samples must be a positive whole"),
])
def test_bad_settings_are_refused_clearly(vae_and_images, kwargs, match):
    model, x = vae_and_images
    with pytest.raises(ConfigError, match=match):
        inference.refine_posterior(model, x[:2], **kwargs)


def test_aae_plain_models_and_wrong_shapes_are_refused(vae_and_images):
    from engine.models.builders import build_autoencoder

    model, x = vae_and_images
    aae = build_autoencoder(TrainConfig(model_kind="aae", code_size=2), (12, 12, 1))
    with pytest.raises(ConfigError, match="needs a VAE: an AAE"):
        inference.refine_posterior(aae, x[:2])
    with pytest.raises(ConfigError, match="needs a VAE"):
        latent.encode_means(aae, x[:2], refine_steps=3)
    plain = build_autoencoder(TrainConfig(model_kind="dense", code_size=4), (12, 12, 1))
    with pytest.raises(ConfigError, match="not a VAE or AAE"):
        inference.negative_elbo(plain, x[:2])
    with pytest.raises(ConfigError, match="takes samples of 12x12x1"):
        inference.refine_posterior(model, np.zeros((2, 28, 28, 1), np.float32))
    with pytest.raises(ConfigError, match=r"posterior must have shape \(2, 2\)"):
        inference.negative_elbo(model, x[:2], inference.Posterior(np.zeros((3, 2), np.float32),
                                                                  np.zeros((3, 2), np.float32)))
