"""VAE / AAE: the maths, saving, training through engine.training.fit.train, and engine.latent.codes."""
import math
import subprocess
import sys
import threading

import numpy as np
import pytest

from engine.core.config import TrainConfig
from engine.core.errors import ConfigError
from engine.data.dataset import Dataset
from engine.core.events import EpochEnded, Finished, PreviewReady, Started
from tests.paths import ROOT
from engine.core.jobs import JobState

VAE_KEYS = {"loss", "reconstruction", "kl", "val_loss", "val_reconstruction", "val_kl"}
AAE_KEYS = {"loss", "discriminator", "generator", "val_loss", "val_discriminator", "val_generator"}


def tiny_labelled(n=64, shape=(12, 10, 1), classes=4, seed=0):
    """Four prototype images plus noise; labels say which prototype."""
    rng = np.random.default_rng(seed)
    base = rng.random((classes,) + shape).astype(np.float32)
    y = rng.integers(0, classes, n)
    x = np.clip(base[y] * 0.8 + 0.1 * rng.random((n,) + shape), 0, 1).astype(np.float32)
    return Dataset(x_train=x[: n - 16], x_val=x[n - 16:], y_train=y[: n - 16], y_val=y[n - 16:], source="synthetic")


@pytest.fixture(scope="module")
def trained():
    """One short training per kind, shared by the tests below (keeps the file fast)."""
    from engine.training.fit import train

    data = tiny_labelled()
    runs = {}
    for name, config in {
        "vae": TrainConfig(model_kind="vae", code_size=2, epochs=2, batch_size=16),
        "conv_vae": TrainConfig(model_kind="conv_vae", code_size=3, filters=4, epochs=2, batch_size=16),
        "aae": TrainConfig(model_kind="aae", code_size=2, epochs=2, batch_size=16, loss="mse"),
        "aae_mixture": TrainConfig(model_kind="aae", code_size=5, epochs=2, batch_size=16, prior="mixture"),
    }.items():
        events = []
        runs[name] = (train(config, data, JobState(events.append)), events)
    return data, runs


# ----------------------------------------------------------------------------- maths

def test_kl_matches_hand_computed_value():
    from engine.models.generative import kl_divergence

    z_mean = np.array([[1.0, 0.0], [0.0, 2.0]], np.float32)
    z_log_var = np.array([[0.0, 0.0], [math.log(2.0), 0.0]], np.float32)
    # sample 1: -0.5 * ((1 + 0 - 1 - 1) + (1 + 0 - 0 - 1)) = 0.5
    # sample 2: -0.5 * ((1 + ln 2 - 0 - 2) + (1 + 0 - 4 - 1)) = 0.5 * (1 - ln 2) + 2
    expected = [0.5, 0.5 * (1 - math.log(2.0)) + 2.0]
    np.testing.assert_allclose(np.asarray(kl_divergence(z_mean, z_log_var)), expected, rtol=1e-6)
    assert float(np.asarray(kl_divergence(np.zeros((1, 3)), np.zeros((1, 3))))[0]) == 0.0


def test_sampling_with_zero_variance_returns_the_mean_and_otherwise_spreads():
    from engine.models.generative import Sampling

    layer = Sampling(seed=1)
    mean = np.array([[0.5, -2.0, 3.0]] * 4, np.float32)
    for log_var in (np.full_like(mean, -np.inf), np.full_like(mean, -1e4)):
        np.testing.assert_array_equal(np.asarray(layer((mean, log_var))), mean)
    big = np.zeros((4000, 2), np.float32)
    z = np.asarray(layer((big + 1.0, big + math.log(4.0))))  # std 2
    assert abs(z.mean() - 1.0) < 0.15 and abs(z.std() - 2.0) < 0.15


def test_mixture_prior_draws_labelled_samples_from_their_component():
    from engine.core.config import TrainConfig as C
    from engine.models.generative import MIXTURE_STD
    from engine.models.generative_parts import build_generative

    model = build_generative(C(model_kind="aae", code_size=3, prior="mixture"), (6, 6, 1), n_classes=4)
    labels = np.array([0] * 500 + [2] * 500 + [-1] * 200, np.int32)
    z, condition = model._prior_and_condition(len(labels), labels)
    z, condition = np.asarray(z), np.asarray(condition)
    means = model.prior_means()
    assert means.shape == (4, 3) and np.allclose(np.linalg.norm(means[:, :2], axis=1), means[0, 0])
    np.testing.assert_allclose(z[:500].mean(0), means[0], atol=0.1)
    np.testing.assert_allclose(z[500:1000].mean(0), means[2], atol=0.1)
    assert abs(z[:1000].std(0)[2] - MIXTURE_STD) < 0.1
    assert (condition[:500].argmax(1) == 0).all() and (condition[1000:].argmax(1) == 4).all()  # 4 = unknown


# ----------------------------------------------------------------------------- training

@pytest.mark.parametrize("name", ["vae", "conv_vae", "aae", "aae_mixture"])
def test_train_gives_finite_logs_events_and_metadata(trained, name):
    data, runs = trained
    result, events = runs[name]
    keys = AAE_KEYS if name.startswith("aae") else VAE_KEYS
    assert set(result.history) == keys
    assert all(np.isfinite(v).all() and len(v) == 2 for v in result.history.values())
    kinds = [type(e) for e in events]
    assert kinds[0] is Started and kinds[-1] is Finished and kinds.count(EpochEnded) == 2
    assert set(next(e for e in events if isinstance(e, EpochEnded)).logs) == keys
    preview = next(e for e in events if isinstance(e, PreviewReady))
    assert preview.outputs.shape == preview.targets.shape and 0 <= preview.outputs.min() <= preview.outputs.max() <= 1
    meta = result.metadata
    assert meta["latent_size"] == result.config.code_size
    assert meta["prior"] == result.config.prior and ("beta" in meta)
    if name.startswith("vae"):
        # negative ELBO is BCE summed over 120 pixels: far above the per-pixel means of plain models
        assert result.history["reconstruction"][0] > 20 and result.history["kl"][0] >= 0


def test_aae_mixture_uses_the_labels(trained):
    from engine.training.pipeline import train_pipeline

    data, runs = trained
    result, _ = runs["aae_mixture"]
    assert result.model.n_classes == 4 and result.metadata["n_classes"] == 4
    x, y, labels = next(iter(train_pipeline(data.x_train, 8, 0.2, 0, data.y_train.astype(np.int32))))
    assert labels.shape == (8,) and x.shape == y.shape and not np.allclose(x, y)  # noisy inputs, clean targets
    # each label travels with its own image
    for img, lab in zip(np.asarray(y), np.asarray(labels)):
        assert data.y_train[np.argmin(np.abs(data.x_train - img).sum(axis=(1, 2, 3)))] == lab


def test_best_weights_are_restored_for_aae(trained):
    import tensorflow as tf

    data, runs = trained
    result, _ = runs["aae"]
    val = tf.data.Dataset.from_tensor_slices((data.x_val, data.x_val)).batch(256)
    logs = result.model.evaluate(val, verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(result.best_val_loss, rel=1e-4)


def test_user_stop_works_for_vae():
    from engine.training.fit import train

    stop = threading.Event()
    result = train(TrainConfig(model_kind="vae", code_size=2, epochs=20, batch_size=8), tiny_labelled(),
                   JobState(lambda e: stop.set() if isinstance(e, EpochEnded) else None, stop))
    assert result.stopped_by_user and len(result.history["loss"]) == 1 and "Stopped by you" in result.message


def test_save_and_load_reproduce_encoder_means(trained, tmp_path):
    from engine.latent import codes as latent
    from engine.models.files import load_model, save_model

    data, runs = trained
    for name in ("vae", "conv_vae", "aae_mixture"):
        model = runs[name][0].model
        loaded = load_model(save_model(model, tmp_path / f"{name}.keras"))
        assert type(loaded) is type(model) and latent.describe(loaded) == latent.describe(model)
        np.testing.assert_allclose(latent.encode_means(loaded, data.x_val), latent.encode_means(model, data.x_val),
                                   rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(np.asarray(loaded(data.x_val)), np.asarray(model(data.x_val)), atol=1e-6)


def test_generative_models_work_as_image_models(trained):
    from engine.models.guards import check_fits
    from engine.models.predict import predict
    from engine.core.errors import ModelError
    from engine.models.builders import decoder_of, encoder_of

    data, runs = trained
    model = runs["vae"][0].model
    check_fits(model, (12, 10, 1))
    with pytest.raises(ModelError, match="takes samples of 12x10x1"):
        check_fits(model, (28, 28, 1))
    assert predict(model, data.x_val).shape == data.x_val.shape
    z_mean, _ = encoder_of(model)(data.x_val)
    np.testing.assert_allclose(np.asarray(decoder_of(model)(z_mean)), np.asarray(model(data.x_val)), atol=1e-6)


# ----------------------------------------------------------------------------- engine.latent.codes

def test_latent_functions_shapes_and_descriptions(trained):
    from engine.latent import codes as latent
    from engine.models import guards

    data, runs = trained
    vae, aae = runs["vae"][0].model, runs["aae_mixture"][0].model
    assert guards.is_generative(vae) and latent.latent_dim(vae) == 2
    assert latent.describe(vae) == "VAE, latent 2, beta 1"
    assert latent.describe(aae) == "AAE, latent 5, mixture prior (4 classes)"
    means = latent.encode_means(vae, data.x_val, batch_size=5)
    assert means.shape == (16, 2) and means.dtype == np.float32
    images = latent.decode(vae, latent.sample_prior(vae, 7, seed=0))
    assert images.shape == (7, 12, 10, 1) and images.dtype == np.float32 and 0 <= images.min() <= images.max() <= 1
    np.testing.assert_array_equal(latent.sample_prior(vae, 3, seed=4), latent.sample_prior(vae, 3, seed=4))
    z = latent.sample_prior(aae, 400, seed=0, classes=1)
    np.testing.assert_allclose(z.mean(0), aae.prior_means()[1], atol=0.1)
    with pytest.raises(ConfigError, match="2 coordinate"):
        latent.decode(vae, np.zeros((3, 5)))
    with pytest.raises(ConfigError, match="takes samples of 12x10x1"):
        latent.encode_means(vae, np.zeros((2, 28, 28, 1)))


def test_manifold_orientation_convention(trained):
    from engine.latent import codes as latent

    _, runs = trained
    vae = runs["vae"][0].model
    images, gx, gy = latent.manifold(vae, n=5)
    assert images.shape == (25, 12, 10, 1)
    assert np.all(np.diff(gx) > 0) and np.all(np.diff(gy) < 0)  # x rises left->right, row 0 is the top (high y)
    assert gx[0] == pytest.approx(-1.6449, abs=1e-3) and gy[0] == pytest.approx(1.6449, abs=1e-3)
    r, c = 1, 3
    np.testing.assert_allclose(images[r * 5 + c], latent.decode(vae, [[gx[c], gy[r]]])[0], atol=1e-6)
    with pytest.raises(ConfigError, match="2-D latent"):
        latent.manifold(runs["aae_mixture"][0].model)
    _, gx, gy = latent.manifold(vae, n=3, span=(0.0, 1.0, -2.0, 2.0))
    assert list(gx) == [0.0, 0.5, 1.0] and list(gy) == [2.0, 0.0, -2.0]


def test_plane_identity_and_pca_round_trip():
    from engine.latent.codes import project_2d

    rng = np.random.default_rng(0)
    plane = project_2d(rng.normal(size=(50, 2)))
    assert plane.method == "latent dimensions 1 and 2" and plane.pca is None
    z = rng.normal(size=(5, 2)).astype(np.float32)
    np.testing.assert_array_equal(plane.to_plane(z), z)
    means = rng.normal(size=(200, 6)) * [5, 3, 1, 0.5, 0.2, 0.1]
    plane = project_2d(means)
    assert plane.method == "PCA of the 6-D latent means"
    x0, x1, y0, y1 = plane.bounds
    points = plane.to_plane(means)
    assert x0 < points[:, 0].min() and points[:, 0].max() < x1 and y0 < points[:, 1].min() and points[:, 1].max() < y1
    in_span = plane.from_plane(rng.normal(size=(10, 2)))
    assert in_span.shape == (10, 6)
    np.testing.assert_allclose(plane.from_plane(plane.to_plane(in_span)), in_span, atol=1e-4)
    off_span = means[:10]
    assert np.abs(plane.from_plane(plane.to_plane(off_span)) - off_span).max() > 0.1  # the test can fail
    with pytest.raises(ConfigError, match="shape"):
        plane.to_plane(np.zeros((3, 4)))


def test_interpolation_linear_and_slerp(trained):
    from engine.latent import codes as latent

    a, b = np.array([1.0, 0.0, 0.0]), np.array([0.0, 2.0, 0.0])
    for mode in ("linear", "slerp"):
        path = latent.latent_path(a, b, steps=7, mode=mode)
        assert path.shape == (7, 3)
        np.testing.assert_array_equal(path[0], a)
        np.testing.assert_array_equal(path[-1], b)
    mid = latent.latent_path(np.array([1.0, 0.0]), np.array([0.0, 1.0]), steps=3, mode="slerp")[1]
    assert np.linalg.norm(mid) == pytest.approx(1.0)  # on the circle, not the chord
    parallel = latent.latent_path(a, 3 * a, steps=5, mode="slerp")
    np.testing.assert_allclose(parallel, latent.latent_path(a, 3 * a, steps=5), atol=1e-6)
    assert np.isfinite(latent.latent_path(a, -a, steps=5, mode="slerp")).all()
    with pytest.raises(ConfigError, match="linear"):
        latent.latent_path(a, b, mode="cubic")
    vae = trained[1]["vae"][0].model
    images = latent.interpolate(vae, [0.0, 0.0], [1.0, 1.0], steps=4, mode="slerp")
    assert images.shape == (4, 12, 10, 1)


def test_encode_view_job_returns_a_latent_view(trained):
    from engine.jobs import encode_view_job

    data, runs = trained
    view = encode_view_job(runs["conv_vae"][0].model, data, limit=10)(JobState())
    assert view.means.shape == (10, 3) and view.points.shape == (10, 2) and len(view.labels) == 10
    assert view.plane.method.startswith("PCA")


def test_require_generative_refuses_plain_models():
    from engine.latent import codes as latent
    from engine.models import guards
    from engine.models.builders import build_autoencoder

    plain = build_autoencoder(TrainConfig(code_size=4), (6, 6, 1))
    assert not guards.is_generative(plain)
    with pytest.raises(ConfigError, match="This is a dense autoencoder, not a VAE or AAE: train a variational"):
        guards.require_generative(plain)
    with pytest.raises(ConfigError, match="not a VAE or AAE"):
        latent.sample_prior(plain, 3)


def test_latent_module_imports_no_tensorflow():
    probe = "import engine.latent.codes, sys; print(sorted({m.split('.')[0] for m in sys.modules}))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "'tensorflow'" not in out.stdout and "'keras'" not in out.stdout and "'PySide6'" not in out.stdout


# ----------------------------------------------------------------------------- configuration

@pytest.mark.parametrize("changes, match", [
    ({"model_kind": "vae", "code_size": 0}, r"latent size .* from 1 to 256; got 0"),
    ({"model_kind": "aae", "code_size": 1000}, r"latent size .* from 1 to 256; got 1000"),
    ({"model_kind": "vae", "beta": -1.0}, r"beta = -1(\.0)? is out of range; allowed 0 to 100\. Weight of the KL term"),
    ({"model_kind": "conv_vae", "loss": "mse"}, "variational autoencoder needs binary cross-entropy"),
    ({"model_kind": "aae", "prior": "uniform"}, "Unknown prior 'uniform'; choose one of gaussian, mixture"),
])
def test_generative_settings_are_refused_clearly(changes, match):
    with pytest.raises(ConfigError, match=match):
        TrainConfig(**changes)


def test_generative_config_accepts_sensible_settings():
    config = TrainConfig(model_kind="aae", code_size=256, loss="mse", noise_factor=0.3, prior="mixture")
    assert config.generative and not TrainConfig().generative
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert TrainConfig(code_size=1000).code_size == 1000  # plain models keep their wider range


def test_nan_loss_stops_vae_with_clear_message():
    from engine.core.events import Finished
    from engine.training.fit import train
    from engine.core.errors import TrainingError

    events = []
    with pytest.raises(TrainingError, match="Lower the learning rate"):
        train(TrainConfig(model_kind="vae", code_size=8, epochs=3, batch_size=4, learning_rate=10.0,
                          lr_schedule="constant"), tiny_labelled(), JobState(events.append))
    assert not any(isinstance(e, Finished) for e in events)
