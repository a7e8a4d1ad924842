"""Tiled inference, synthetic noise, classical baselines, metrics and the denoise job."""
import math
import threading

import keras
import numpy as np
import pytest
from keras import layers

from engine.core.jobs import JobState, Stopped
from engine.data.noise import NoiseConfig, add_noise
from engine.denoise import classical, metrics, pipeline
from engine.denoise.noise_level import NoiseLevel
from engine.denoise.tiling import denoise_tiled
from engine.models import guards
from engine.core.events import Progress
from engine.core.errors import ModelError
from tests.paths import ROOT


def conv_model(channels=1, kernels=(3, 3, 3), filters=6, seed=0, out_channels=None):
    """Random 'same' conv net; its receptive field reaches sum((k - 1) // 2) pixels."""
    keras.utils.set_random_seed(seed)
    x_in = keras.Input((None, None, channels))
    x = x_in
    for k in kernels[:-1]:
        x = layers.Conv2D(filters, k, padding="same", activation="tanh",
                          bias_initializer=keras.initializers.RandomNormal(stddev=0.3))(x)
    x = layers.Conv2D(out_channels or channels, kernels[-1], padding="same")(x)
    return keras.Model(x_in, x)


def whole(model, image):
    return np.asarray(model(image[None].astype(np.float32), training=False))[0]


def rand(*shape, seed=0):
    return np.random.default_rng(seed).random(shape).astype(np.float32)


def smooth_image(h=64, w=64, channels=1):
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = 0.25 + 0.5 * (yy + xx) / 2 + 0.2 * (((yy - 0.5) ** 2 + (xx - 0.5) ** 2) < 0.08)
    return np.repeat(base[..., None], channels, axis=-1).astype(np.float32)


@pytest.fixture(scope="module")
def small_rf():
    return conv_model(kernels=(3, 3, 3))  # reaches 3 pixels


def test_one_tile_equals_whole_for_any_model():
    model = conv_model(kernels=(7, 5, 5, 3), filters=8)  # receptive field 9 > overlap 4
    image = rand(40, 57, 1)
    out = denoise_tiled(model, image, tile=64, overlap=4, clip=False)
    np.testing.assert_allclose(out, whole(model, image), atol=1e-4)


def test_many_tiles_have_no_seams_when_receptive_field_fits_the_overlap(small_rf):
    image = rand(97, 131, 1, seed=1)
    calls = []
    out = denoise_tiled(small_rf, image, tile=24, overlap=4, clip=False, state=JobState(lambda e: calls.append((e.done, e.total))))
    np.testing.assert_allclose(out, whole(small_rf, image), atol=1e-4)
    assert calls[-1][0] == calls[-1][1] > 20  # really tiled, progress reached the end
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_larger_receptive_field_than_overlap_still_close():
    model = conv_model(kernels=(5, 5, 5, 5), filters=4)  # reaches 8 pixels, overlap 4
    image = rand(70, 70, 1, seed=2)
    out = denoise_tiled(model, image, tile=30, overlap=4, clip=False)
    assert out.shape == image.shape and np.isfinite(out).all()
    assert np.max(np.abs(out - whole(model, image))) < 0.5


def test_colour_model_and_per_channel_grey_model(small_rf):
    colour = conv_model(channels=3, kernels=(3, 3), seed=3)
    image = rand(50, 45, 3, seed=4)
    np.testing.assert_allclose(denoise_tiled(colour, image, tile=20, overlap=2, clip=False), whole(colour, image),
                               atol=1e-4)
    per_channel = denoise_tiled(small_rf, image, tile=20, overlap=4, clip=False)
    expected = np.concatenate([whole(small_rf, image[..., c:c + 1]) for c in range(3)], axis=-1)
    np.testing.assert_allclose(per_channel, expected, atol=1e-4)
    flat = denoise_tiled(small_rf, image[..., 0], tile=20, overlap=4, clip=False)  # (H, W) in, (H, W) out
    np.testing.assert_allclose(flat, expected[..., 0], atol=1e-4)


def test_clip_and_dtype(small_rf):
    out = denoise_tiled(small_rf, rand(20, 20, 1) * 255)  # far out of range: output clipped
    assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1


def test_channel_mismatch_is_explained(small_rf):
    colour = conv_model(channels=3, kernels=(3,))
    with pytest.raises(ValueError, match="takes 3-channel images; this image has 1"):
        denoise_tiled(colour, rand(10, 10, 1))
    with pytest.raises(ValueError, match="takes 1-channel images; this image has 4"):
        denoise_tiled(small_rf, rand(10, 10, 4))
    with pytest.raises(ValueError, match="same height and width"):
        denoise_tiled(keras.Sequential([keras.Input((None, None, 1)), layers.MaxPooling2D(2)]), rand(10, 10, 1))


@pytest.mark.parametrize("shape", [(1, 1, 1), (1, 9, 1), (2, 3, 1), (5, 1, 3), (7, 300, 1)])
def test_tiny_images(small_rf, shape):
    image = rand(*shape, seed=5)
    out = denoise_tiled(small_rf, image, tile=16, overlap=4, clip=False)
    assert out.shape == shape
    if shape[-1] == 1:
        np.testing.assert_allclose(out, whole(small_rf, image), atol=1e-4)


def test_models_with_fixed_size_or_downsampling():
    keras.utils.set_random_seed(0)
    fixed = keras.Sequential([keras.Input((8, 8, 1)), layers.Conv2D(4, 3, padding="same"),
                              layers.MaxPooling2D(2), layers.UpSampling2D(2), layers.Conv2D(1, 3, padding="same")])
    pooled = keras.Sequential([keras.Input((None, None, 1)), layers.Conv2D(4, 3, padding="same", strides=2),
                               layers.MaxPooling2D(2), layers.UpSampling2D(4), layers.Conv2D(1, 3, padding="same")])
    assert guards.size_multiple(fixed) == 2 and guards.size_multiple(pooled) == 4
    for model in (fixed, pooled):
        for shape in [(1, 1, 1), (5, 7, 1), (30, 21, 1)]:
            out = denoise_tiled(model, rand(*shape), tile=16, overlap=2)
            assert out.shape == shape and np.isfinite(out).all()


def test_stop_raises_stopped(small_rf):
    stop = threading.Event()
    stop.set()
    with pytest.raises(Stopped):
        denoise_tiled(small_rf, rand(64, 64, 1), tile=16, overlap=2, state=JobState(stop=stop))
    stop.clear()
    seen = []

    def progress(event):
        seen.append(event.done)
        stop.set()  # the user presses Stop while the first batch runs

    with pytest.raises(Stopped):
        denoise_tiled(small_rf, rand(64, 64, 1), tile=16, overlap=2, batch_size=2, state=JobState(progress, stop))
    assert seen == [2]


@pytest.mark.parametrize("kind", ["gaussian", "salt_pepper", "poisson", "speckle"])
def test_noise_is_reproducible_and_in_range(kind):
    image = smooth_image(40, 30, 3)
    a = add_noise(image, NoiseConfig(kind, sigma=25, amount=0.1, seed=1))
    b = add_noise(image, NoiseConfig(kind, sigma=25, amount=0.1, seed=1))
    c = add_noise(image, NoiseConfig(kind, sigma=25, amount=0.1, seed=2))
    assert a.dtype == np.float32 and a.shape == image.shape and 0 <= a.min() and a.max() <= 1
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c) and not np.array_equal(a, image)


def test_noise_strength_and_config_checks():
    grey = np.full((200, 200, 1), 0.5, np.float32)
    assert np.std(add_noise(grey, NoiseConfig("gaussian", sigma=25))) == pytest.approx(25 / 255, rel=0.05)
    sp = add_noise(grey, NoiseConfig("salt_pepper", amount=0.2))
    assert np.mean(sp != 0.5) == pytest.approx(0.2, abs=0.02)
    assert np.array_equal(add_noise(grey, NoiseConfig("none")), grey)
    for bad in [dict(kind="blur"), dict(sigma=-1), dict(sigma=300), dict(amount=1.5), dict(seed=-1), dict(sigma="x")]:
        with pytest.raises(ValueError):
            NoiseConfig(**bad)


@pytest.mark.parametrize("channels", [1, 3])
def test_classical_methods_improve_psnr(channels):
    clean = smooth_image(64, 64, channels)
    noisy = add_noise(clean, NoiseConfig("gaussian", sigma=25, seed=0))
    before = metrics.psnr(clean, noisy)
    for name, method in classical.CLASSICAL_METHODS.items():
        for sigma in (25 / 255, None):  # known sigma, and estimated
            out = method(noisy, sigma)
            assert out.shape == clean.shape and out.dtype == np.float32
            assert metrics.psnr(clean, out) > before + 3, (name, sigma)
    assert abs(classical.estimate_noise_sigma(noisy) - 25 / 255) < 0.02


def test_metrics():
    x = smooth_image(32, 32, 3)
    assert metrics.psnr(x, x) == math.inf and metrics.ssim(x, x) == pytest.approx(1.0)
    assert metrics.psnr(x, x + 0.1) == pytest.approx(20.0)
    assert metrics.ssim(x, 1 - x) < 0.5
    assert math.isnan(metrics.ssim(x[:2, :2], x[:2, :2]))
    assert metrics.ssim(x[:5, :4], x[:5, :4]) == pytest.approx(1.0)
    rows = metrics.compare(x, {"a": x, "b": x + 0.1})
    assert [r.method for r in rows] == ["a", "b"] and rows[1].psnr == pytest.approx(20.0)
    with pytest.raises(ValueError, match="different shapes"):
        metrics.psnr(x, x[:, :10])


def test_denoise_runs_scores_and_reports_progress(small_rf):
    clean = smooth_image(48, 40, 3)
    events = []
    result = pipeline.denoise(clean, NoiseConfig("gaussian", sigma=20, seed=3), ["model", "tv", "wavelet"],
                              model=small_rf, model_name="mine", tile=32, overlap=4, state=JobState(events.append))
    assert set(result.outputs) == {"model", "tv", "wavelet"} and result.labels["model"] == "mine"
    assert [r.method for r in result.metrics] == ["noisy", "model", "tv", "wavelet"]
    by = {r.method: r for r in result.metrics}
    assert by["tv"].psnr > by["noisy"].psnr
    assert result.reference is clean and result.sigma == pytest.approx(20 / 255)
    assert all(result.seconds[m] >= 0 for m in result.outputs)
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress[-1].done == progress[-1].total > 0
    assert [e.done for e in progress] == sorted(e.done for e in progress)


def test_denoise_without_noise_and_bad_requests(small_rf):
    image = smooth_image(20, 20, 1)
    result = pipeline.denoise(image, NoiseConfig("none"), ["tv"])
    assert result.metrics == [] and result.reference is None and result.noisy is not None
    with pytest.raises(ValueError, match="No denoising model"):
        pipeline.denoise(image, NoiseConfig("none"), ["model"])
    with pytest.raises(ValueError, match="Unknown denoising method"):
        pipeline.denoise(image, NoiseConfig("none"), ["bm5d"])
    with pytest.raises(ValueError, match="3-channel"):
        pipeline.denoise(image, NoiseConfig("none"), ["model"], model=conv_model(channels=3, kernels=(3,)))
    stop = threading.Event()
    stop.set()
    with pytest.raises(Stopped):
        pipeline.denoise(image, NoiseConfig("gaussian"), ["model"], model=small_rf, state=JobState(stop=stop))


def test_bundled_denoiser_missing_is_explained(monkeypatch, tmp_path):
    monkeypatch.setattr(pipeline, "bundled_denoiser_path", lambda channels: tmp_path / "denoiser_unet.keras")
    with pytest.raises(ModelError, match="missing"):
        pipeline.load_bundled_denoiser()


@pytest.mark.parametrize("channels", [1, 3])
def test_bundled_denoiser_loads_and_denoises_grey_and_colour(channels):
    """One grey noise-level-aware model for both (colour through a decorrelated colour space); both remove
    most of sigma-25 noise."""
    model = pipeline.load_bundled_denoiser(channels)
    assert guards.model_channels(model) == 1 and guards.takes_noise_level(model)
    clean = smooth_image(48, 40, channels)
    noisy = clean + np.random.default_rng(0).normal(0, 25 / 255, clean.shape).astype(np.float32)
    out = denoise_tiled(model, noisy, noise_level=NoiseLevel.gaussian(25 / 255))
    assert out.shape == (48, 40, channels) and np.isfinite(out).all()
    assert np.mean((out - clean) ** 2) < 0.3 * np.mean((noisy - clean) ** 2)


def test_module_imports_no_tensorflow_or_qt():
    import subprocess
    import sys

    probe = "import engine.denoise.pipeline, sys; print(sorted({m.split('.')[0] for m in sys.modules}))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    loaded = out.stdout
    assert "'keras'" not in loaded and "'tensorflow'" not in loaded and "'PySide6'" not in loaded
