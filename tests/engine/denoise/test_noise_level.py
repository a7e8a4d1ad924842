"""The noise of an image measured from the image alone (Gaussian per channel, Poisson-Gaussian), the noise-level
map a noise-aware denoiser is told, and the noise left in a result. No TensorFlow."""
import time

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from engine.core.errors import ConfigError
from engine.data.noise import NoiseConfig
from engine.denoise import pipeline
from engine.denoise.noise_level import (TEXTURED, NoiseLevel, default_noise_level, estimate_noise_level,
                                        residual_noise)


def scene(h=384, w=384, channels=3, seed=0):
    """Smooth shading, a bright disc, a band of stripes and a patch of fine random texture, in [0.1, 0.9]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = 0.15 + 0.65 * xx + 0.08 * np.sin(6 * yy) + 0.12 * (((yy - 0.5) ** 2 + (xx - 0.3) ** 2) < 0.04)
    base[: h // 4, w // 2:] += 0.08 * np.sin(xx[: h // 4, w // 2:] * 300)
    patch = base[h // 2: 3 * h // 4, : w // 3]
    patch += 0.3 * gaussian_filter(rng.standard_normal(patch.shape), 1.0)
    base = np.clip(base, 0.1, 0.9)
    return np.stack([base * (0.92 + 0.04 * c) + 0.02 * c for c in range(channels)], axis=-1).astype(np.float32)


def quantised(x):
    return (np.round(np.clip(x, 0, 1) * 255) / 255).astype(np.float32)


def test_gaussian_sigma_of_each_channel_is_recovered():
    clean = scene()
    sigmas = np.array([5.0, 15.0, 30.0])
    noisy = quantised(clean + np.random.default_rng(1).standard_normal(clean.shape) * sigmas / 255)
    level = estimate_noise_level(noisy)
    np.testing.assert_allclose(np.array(level.sigma) * 255, sigmas, rtol=0.15)
    assert level.gain == () and level.note == ""  # white noise: not reported as signal-dependent


def test_clipped_areas_are_left_out():
    """Blown highlights and crushed shadows hold no noise to see: most of the picture must not pull it down."""
    clean = scene()
    clean[:, :150] = 1.0
    clean[:, -150:] = 0.0
    noisy = quantised(clean + np.random.default_rng(11).standard_normal(clean.shape) * 12 / 255)
    np.testing.assert_allclose(np.array(estimate_noise_level(noisy).sigma) * 255, 12, rtol=0.15)


@pytest.mark.parametrize("gain, sigma", [(0.004, 10.0), (0.01, 5.0), (0.002, 3.0)])
def test_poisson_gaussian_gain_and_sigma_are_recovered(gain, sigma):
    """Photon counts (Poisson, variance = gain * intensity) plus read noise (Gaussian sigma)."""
    clean = scene(seed=2)
    rng = np.random.default_rng(3)
    noisy = quantised(rng.poisson(clean / gain) * gain + rng.standard_normal(clean.shape) * sigma / 255)
    level = estimate_noise_level(noisy)
    np.testing.assert_allclose(level.gain, gain, rtol=0.25)
    np.testing.assert_allclose(np.array(level.sigma) * 255, sigma, rtol=0.25, atol=0.5)
    assert "signal-dependent" in level.summary() and "signal-dependent" in level.describe()


def test_a_clean_image_measures_near_zero_and_texture_is_not_taken_for_noise():
    assert max(estimate_noise_level(quantised(scene())).sigma) * 255 < 0.5
    assert max(estimate_noise_level(np.full((64, 64), 0.5, np.float32)).sigma) == 0.0
    rng = np.random.default_rng(4)
    spectrum = np.fft.fft2(rng.standard_normal((256, 256)))
    f = np.hypot(*np.meshgrid(np.fft.fftfreq(256), np.fft.fftfreq(256)))
    fractal = np.real(np.fft.ifft2(spectrum / np.maximum(f, 1 / 256)))  # 1/f: like natural texture, everywhere
    fractal = quantised(0.15 + 0.7 * (fractal - fractal.min()) / np.ptp(fractal))
    level = estimate_noise_level(fractal)
    assert level.note == TEXTURED and TEXTURED in level.summary()  # says it cannot tell


@pytest.mark.parametrize("name", ["astronaut", "camera", "coffee", "brick"])
def test_photographs_clean_and_with_noise_added(name):
    """Real photographs: little noise of their own; sigma 15 added is measured as 15 (their own adds a bit)."""
    from engine.data.images import read_image
    from engine.data.samples import sample_path

    pixels = read_image(sample_path(name)).pixels
    assert max(estimate_noise_level(pixels).sigma) * 255 < 3.0
    noisy = quantised(pixels + np.random.default_rng(5).standard_normal(pixels.shape) * 15 / 255)
    level = estimate_noise_level(noisy)
    np.testing.assert_allclose(np.array(level.sigma) * 255, 15.0, rtol=0.1)
    assert level.gain == ()


def test_twelve_megapixels_take_a_fraction_of_a_second():
    rng = np.random.default_rng(6)
    image = np.tile(scene(375, 500), (8, 8, 1))
    image += rng.standard_normal(image.shape, dtype=np.float32) * np.float32(10 / 255)
    started = time.process_time()
    level = estimate_noise_level(image)
    assert time.process_time() - started < 0.5  # measured ~0.06 s: reads tiles, not all 12 MP
    np.testing.assert_allclose(np.array(level.sigma) * 255, 10.0, rtol=0.1)


def test_small_and_odd_images():
    rng = np.random.default_rng(7)
    small = quantised(scene(48, 64) + rng.standard_normal((48, 64, 3)) * 20 / 255)
    np.testing.assert_allclose(np.array(estimate_noise_level(small).sigma) * 255, 20, rtol=0.2)
    grey = estimate_noise_level(scene(96, 80, 1)[..., 0])
    assert len(grey.sigma) == 1
    assert estimate_noise_level(np.zeros((1, 1, 3), np.float32)).sigma == (0.0, 0.0, 0.0)
    with pytest.raises(ConfigError, match="height x width"):
        estimate_noise_level(np.zeros(10))


def test_the_map_is_a_standard_deviation_per_pixel_and_channel():
    x = np.zeros((2, 8, 6, 3), np.float32)
    x[:, :, 3:] = 0.81
    flat = NoiseLevel((0.1, 0.2, 0.3)).map(x)
    assert flat.shape == x.shape and flat.dtype == np.float32
    np.testing.assert_allclose(flat[0, 0, 0], [0.1, 0.2, 0.3], rtol=1e-6)
    np.testing.assert_allclose(NoiseLevel((0.1, 0.2, 0.3), strength=2.0).map(x), 2 * flat, rtol=1e-6)
    dependent = NoiseLevel((0.0,), (0.01,)).map(x[0])
    assert dependent.shape == (8, 6, 3)
    np.testing.assert_allclose(dependent[:, 0], 0.0, atol=1e-7)  # dark: no photon noise
    np.testing.assert_allclose(dependent[:, 5], np.sqrt(0.01 * 0.81), rtol=1e-5)  # away from the edge
    assert NoiseLevel((0.02,), (0.01,)).channel_sigmas(0.81) == pytest.approx((np.sqrt(0.0004 + 0.0081),))


@pytest.mark.parametrize("kwargs", [dict(sigma=(-0.1,)), dict(sigma=()), dict(sigma=(0.1,), gain=(float("nan"),)),
                                    dict(sigma=(0.1,), strength=5.0), dict(sigma=(0.1,), strength=float("nan")),
                                    dict(sigma=(0.1, 0.1, 0.1), gain=(0.1, 0.1))])
def test_invalid_levels_are_refused(kwargs):
    with pytest.raises(ConfigError):
        NoiseLevel(**kwargs)


def test_the_summary_is_for_people():
    assert NoiseLevel((12.1 / 255, 11.8 / 255, 14.0 / 255)).summary() == "R 12.1, G 11.8, B 14.0 of 255"
    assert NoiseLevel((10 / 255,)).with_strength(2).summary() == "20.0 of 255"
    text = NoiseLevel((0.0,), (0.004,)).summary()
    assert text == "11.4 of 255 at mid-grey; signal-dependent: 5.1 in the shadows to 15.3 in the highlights"


def test_the_noise_left_in_a_result():
    clean = scene(256, 256, 1)
    noisy = quantised(clean + np.random.default_rng(8).standard_normal(clean.shape) * 20 / 255)
    assert residual_noise(noisy) == pytest.approx(20, rel=0.15)
    smoothed = gaussian_filter(noisy, (2, 2, 0))
    assert residual_noise(smoothed) < 5 and residual_noise(clean) < 0.5


def test_what_a_model_is_told_by_default():
    clean = scene(128, 128)
    noisy = quantised(clean + np.random.default_rng(9).standard_normal(clean.shape) * 12 / 255)
    told = default_noise_level(noisy, NoiseConfig("gaussian", sigma=25), strength=1.5)
    assert told.sigma == (25 / 255,) and told.strength == 1.5
    measured = default_noise_level(noisy, NoiseConfig("none"), strength=0.5)
    assert measured.strength == 0.5 and np.allclose(np.array(measured.sigma) * 255, 12, rtol=0.15)


def test_without_a_clean_original_the_pipeline_measures_the_noise_left():
    clean = scene(96, 96, 1)
    noisy = quantised(clean + np.random.default_rng(10).standard_normal(clean.shape) * 20 / 255)
    result = pipeline.denoise(noisy, NoiseConfig("none"), ["tv"])
    assert set(result.noise_left) == {"noisy", "tv"} and result.metrics == []
    assert result.noise_left["noisy"] == pytest.approx(20, rel=0.2)
    assert result.noise_left["tv"] < 0.5 * result.noise_left["noisy"]
    assert set(result.best_by()) == {"seconds"}  # the noise left is not ranked
    scored = pipeline.denoise(clean, NoiseConfig("gaussian", sigma=20), ["tv"])
    assert scored.noise_left == {} and scored.metrics
