"""Colour photographs through the grey noise-aware denoiser: the decorrelated (opponent) colour space."""
import numpy as np
import pytest

from engine.denoise import colour
from engine.denoise.noise_level import NoiseLevel
from engine.denoise.pipeline import load_bundled_denoiser
from engine.denoise.tiling import denoise_tiled


def test_the_transform_round_trips_and_keeps_every_channel_in_range():
    rgb = np.random.default_rng(0).random((50, 3)).astype(np.float32)
    np.testing.assert_allclose(colour.from_opponent(colour.to_opponent(rgb)), rgb, atol=1e-6)
    corners = np.array([[r, g, b] for r in (0, 1) for g in (0, 1) for b in (0, 1)], np.float32)
    opp = colour.to_opponent(corners)
    assert opp.min() >= -1e-6 and opp.max() <= 1 + 1e-6
    assert np.allclose(colour.to_opponent(np.full(3, 0.4, np.float32)), [0.4, 0.5, 0.5])  # grey: no chroma


def test_noise_levels_follow_the_transform():
    """White noise of sigma in R, G and B: luminance (a mean of three) has sigma / sqrt(3)."""
    std = colour.opponent_std(np.full((4, 4, 3), 0.1, np.float32))
    np.testing.assert_allclose(std[0, 0], 0.1 * np.sqrt((colour.OPPONENT ** 2).sum(axis=1)), rtol=1e-6)
    assert std[0, 0, 0] == pytest.approx(0.1 / np.sqrt(3), rel=1e-5)
    rng = np.random.default_rng(1)
    noise = rng.normal(0, [0.05, 0.1, 0.2], (200_000, 3)).astype(np.float32)
    measured = (colour.to_opponent(noise) - colour.to_opponent(np.zeros(3, np.float32))).std(axis=0)
    np.testing.assert_allclose(measured, colour.opponent_std(np.array([0.05, 0.1, 0.2], np.float32)), rtol=0.02)


def small_unet():
    from engine.models.denoiser import build_unet_denoiser

    model = build_unet_denoiser(1, (4, 8), 1)
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.3, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def test_a_grey_noise_aware_model_sees_a_colour_image_in_the_opponent_space():
    model = small_unet()
    rgb = np.random.default_rng(2).random((24, 40, 3)).astype(np.float32)
    level = NoiseLevel.gaussian([0.05, 0.1, 0.15])
    out = denoise_tiled(model, rgb, noise_level=level, clip=False)
    opp, std = colour.to_opponent(rgb), colour.opponent_std(level.map(rgb))
    expected = np.stack([denoise_tiled(model, opp[..., k], noise_level=NoiseLevel.gaussian(float(std[0, 0, k])),
                                       clip=False) for k in range(3)], axis=-1)
    np.testing.assert_allclose(out, colour.from_opponent(expected), atol=1e-5)


def test_the_bundled_model_is_better_on_colour_in_the_opponent_space_than_channel_by_channel():
    from skimage import data

    clean = data.astronaut()[100:228, 150:278].astype(np.float32) / 255
    noisy = clean + np.random.default_rng(3).normal(0, 25 / 255, clean.shape).astype(np.float32)
    model = load_bundled_denoiser(3)
    level = NoiseLevel.gaussian(25 / 255)

    def psnr(x):
        return 10 * np.log10(1 / np.mean((x - clean) ** 2))

    together = psnr(denoise_tiled(model, noisy, noise_level=level))
    apart = psnr(np.stack([denoise_tiled(model, noisy[..., c], noise_level=level) for c in range(3)], axis=-1))
    assert together > apart + 0.5, (together, apart)


def test_progress_of_a_colour_image_through_the_grey_noise_aware_model_ends_at_its_total():
    """One pass of tiles for the three decorrelated channels, not one per channel: the bar reaches its end."""
    from engine.core.jobs import JobState
    from engine.data.noise import NoiseConfig
    from engine.denoise.pipeline import MODEL_METHOD, denoise

    seen = []
    rgb = np.random.default_rng(4).random((70, 90, 3)).astype(np.float32)
    denoise(rgb, NoiseConfig("gaussian", 20.0), [MODEL_METHOD], small_unet(), state=JobState(seen.append), tile=32,
            overlap=8)
    tiles = [e for e in seen if "tile" in e.message]
    assert tiles and tiles[-1].done == tiles[-1].total == seen[-1].total
