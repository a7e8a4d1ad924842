"""BM3D / CBM3D beside the other classical denoisers: quality, tiling, progress, stopping, the time estimate,
and what happens without the bm3d package. Small images (64-128 pixels) keep it to seconds."""
import importlib.util
import threading

import numpy as np
import pytest

from engine.core.errors import ConfigError
from engine.core.events import Progress
from engine.core.jobs import JobState, Stopped
from engine.data.noise import NoiseConfig, add_noise
from engine.denoise import classical, pipeline
from engine.denoise.metrics import psnr

bm3d = pytest.importorskip("bm3d")


def photo(side=96, channels=1):
    """A crop of a real photograph (scikit-image's camera / astronaut), float32 (H, W, C) in [0, 1]."""
    from skimage import data

    if channels == 1:
        return (data.camera()[200:200 + side, 220:220 + side, None] / 255.0).astype(np.float32)
    return (data.astronaut()[60:60 + side, 160:160 + side] / 255.0).astype(np.float32)


@pytest.fixture
def small_tiles(monkeypatch):
    """BM3D in 56-pixel tiles (overlap 8): 4 tiles on a 96-pixel image (each call costs ~1 s, whatever its size)."""
    monkeypatch.setattr(classical, "BM3D_TILES", (56,))
    monkeypatch.setattr(classical, "BM3D_OVERLAP", 8)


@pytest.fixture
def counted(monkeypatch):
    """Counts calls into the bm3d package."""
    calls = []
    real = bm3d.bm3d

    def counting(*args, **kwargs):
        calls.append(np.shape(args[0]))
        return real(*args, **kwargs)

    monkeypatch.setattr(bm3d, "bm3d", counting)
    return calls


@pytest.mark.parametrize("channels", [1, 3])
def test_bm3d_improves_psnr_and_beats_nl_means(channels):
    clean = photo(96, channels)
    noisy = add_noise(clean, NoiseConfig("gaussian", sigma=25, seed=1))
    out = classical.classical_tiled("bm3d", noisy, 25 / 255)
    nl = classical.classical_tiled("nl_means", noisy, 25 / 255)
    assert out.shape == clean.shape and out.dtype == np.float32
    assert psnr(clean, out) > psnr(clean, noisy) + 6
    assert psnr(clean, out) > psnr(clean, nl) + 0.3, (psnr(clean, out), psnr(clean, nl))


def test_colour_goes_through_cbm3d_as_bm3d_rgb_does():
    noisy = add_noise(photo(64, 3), NoiseConfig("gaussian", sigma=25, seed=2))
    ours = classical.bm3d_denoise(noisy, 25 / 255)
    theirs = np.clip(bm3d.bm3d_rgb(noisy.astype(np.float64), sigma_psd=25 / 255), 0, 1)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    assert classical.method_label("bm3d", 3) == "CBM3D" and classical.method_label("bm3d", 1) == "BM3D"


def test_a_grey_picture_saved_as_rgb_is_denoised_as_grey():
    grey = add_noise(photo(64, 1), NoiseConfig("gaussian", sigma=25, seed=3))
    out = classical.bm3d_denoise(np.repeat(grey, 3, axis=-1), 25 / 255)  # bm3d_rgb: NaN (its chroma is flat)
    np.testing.assert_allclose(out, np.repeat(classical.bm3d_denoise(grey, 25 / 255), 3, axis=-1), atol=1e-6)


def test_a_flat_colour_channel_is_no_division_by_zero():
    noisy = add_noise(photo(64, 3), NoiseConfig("gaussian", sigma=25, seed=3))
    noisy[..., 2] = noisy[..., 0]  # R = B: the opponent channel R - B is flat
    out = classical.bm3d_denoise(noisy, 25 / 255)
    assert np.isfinite(out).all() and psnr(photo(64, 3)[..., 1], out[..., 1]) > psnr(photo(64, 3)[..., 1], noisy[..., 1])


@pytest.mark.parametrize("shape", [(5, 7, 3), (9, 30), (12, 40, 3), (8, 8)])
def test_images_smaller_than_its_blocks(shape):
    """The package refuses sides under 8 and crashes the process on exactly 8 x 8: they are padded to 16."""
    noisy = np.random.default_rng(0).random(shape).astype(np.float32)
    out = classical.bm3d_denoise(noisy, 0.1)
    assert out.shape == shape and np.isfinite(out).all() and out.std() < noisy.std()


def test_tiles_change_the_result_very_little(small_tiles):
    clean = photo(96, 1)
    noisy = add_noise(clean, NoiseConfig("gaussian", sigma=25, seed=4))
    tiled = classical.classical_tiled("bm3d", noisy, 25 / 255)
    whole = classical.bm3d_denoise(noisy, 25 / 255)
    assert abs(psnr(clean, tiled) - psnr(clean, whole)) < 0.15


def test_progress_counts_tiles_and_stop_ends_between_tiles(small_tiles, counted):
    noisy = add_noise(photo(96, 1), NoiseConfig("gaussian", sigma=25, seed=5))
    tiles = classical.count_tiles(noisy.shape, tile=56, overlap=8)
    assert tiles == 4 and classical.tile_count(noisy.shape) == tiles
    events = []
    classical.classical_tiled("bm3d", noisy, 25 / 255, state=JobState(events.append))
    assert [(e.done, e.total) for e in events] == [(k, tiles) for k in range(1, tiles + 1)]
    assert events[2].message == f"3 of {tiles} tiles" and len(counted) == tiles

    counted.clear()
    stop = threading.Event()

    def stop_after_two(event):
        if isinstance(event, Progress) and event.done == 2:
            stop.set()

    with pytest.raises(Stopped):
        classical.classical_tiled("bm3d", noisy, 25 / 255, state=JobState(stop_after_two, stop))
    assert len(counted) == 2  # the tile running when asked finished; no other started


def test_a_method_in_fewer_tiles_reports_the_same_steps(small_tiles):
    noisy = add_noise(photo(96, 1), NoiseConfig("gaussian", sigma=25, seed=6))
    steps = classical.tile_count(noisy.shape)
    events = []
    classical.classical_tiled("tv", noisy, 25 / 255, state=JobState(events.append))  # one 1024 tile
    assert [(e.done, e.total) for e in events] == [(steps, steps)]


def test_pipeline_progress_stays_within_its_total(small_tiles):
    events = []
    result = pipeline.denoise(photo(96, 1), NoiseConfig("gaussian", sigma=25, seed=7), ["tv", "bm3d"],
                              state=JobState(events.append))
    counts = [(e.done, e.total) for e in events if isinstance(e, Progress) and e.total > 0]
    total = counts[0][1]
    assert total == 2 * classical.tile_count((96, 96, 1)) == 8 and all(t == total for _, t in counts)
    assert [d for d, _ in counts] == sorted(d for d, _ in counts) and counts[-1][0] == total
    assert any(e.message == "BM3D: 3 of 4 tiles" for e in events)
    assert result.labels["bm3d"] == "BM3D" and psnr(result.reference, result.outputs["bm3d"]) > 27


def test_estimate_grows_with_image_size_and_colour():
    estimate = classical.estimate_seconds
    assert classical.tiling("bm3d", (512, 512)) == (272, 16)  # 4 tiles: the least work (9 of 256 would be 2.2x)
    assert classical.tiling("bm3d", (3000, 4000))[0] > 320  # a large image: large tiles, fewer calls
    sizes = [(64, 64), (512, 512), (1024, 1024), (3000, 4000)]
    grey = [estimate("bm3d", s) for s in sizes]
    assert grey == sorted(grey) and len(set(grey)) == len(grey)
    assert 8 < grey[3] / grey[2] < 16  # 11.4 times the pixels, and tiles' overlaps
    assert estimate("bm3d", (1024, 1024, 3)) > 2 * estimate("bm3d", (1024, 1024, 1)) > 0
    assert estimate("bm3d", (1024, 1024)) == estimate("bm3d", (1024, 1024, 1))
    assert estimate("bm3d", (3000, 4000)) > 20 * estimate("nl_means", (3000, 4000)) > 0
    assert estimate("model", (3000, 4000)) == 0.0  # a model's time is not estimated
    mp_per_s = 512 * 512 / 1e6 / estimate("bm3d", (512, 512))
    assert 0.5 * classical.COSTS[("bm3d", 1)][1] < mp_per_s < classical.COSTS[("bm3d", 1)][1]


def test_duration_in_words():
    assert [classical.duration_text(s) for s in (0.2, 7.4, 43, 130, 361, 5400, 9000)] == [
        "about 1 second", "about 7 seconds", "about 45 seconds", "about 2 minutes", "about 6 minutes",
        "about 1.5 hours", "about 2.5 hours"]


def test_without_the_package_bm3d_is_explained(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "bm3d" else real(name, *a))
    available, why = classical.bm3d_support()
    assert not available and "pip install bm3d" in why
    with pytest.raises(ConfigError, match="pip install bm3d"):
        classical.classical_tiled("bm3d", photo(64, 1), 0.1)
    assert classical.classical_tiled("tv", photo(64, 1), 0.1).shape == (64, 64, 1)  # the others still work
