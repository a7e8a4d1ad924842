"""The classical denoisers a deep one is compared with (scikit-image's non-local means, TV, wavelet, and
BM3D / CBM3D from the `bm3d` package), run on images of any size in overlapping tiles; the noise-level
estimate they are given, and how long each takes."""
from __future__ import annotations

import importlib.util
from typing import Callable, Sequence

import numpy as np

from engine.core.config import CLASSICAL_DENOISERS
from engine.core.errors import ConfigError
from engine.core.events import Progress
from engine.core.jobs import JobState
from engine.denoise.tiling import as_hwc, count_tiles, tiled_apply

CLASSICAL_TILE, CLASSICAL_OVERLAP = 1024, 32
# BM3D runs ~50x slower than the others, so in smaller tiles: progress moves and Cancel answers within seconds
# (grey) or about 20 s (colour). Its block matching reaches 19 + 8 pixels (39 x 39 search, 8 x 8 blocks), yet
# an overlap of 16 changed the PSNR of a 512 x 512 image by 0.001 dB (grey) and 0.005 dB (colour) against
# the whole-image result (sigma 25; 32: 0.000 and 0.006), for less repeated work. The tile side is picked
# per image from BM3D_TILES for the least estimated time (COSTS: each call also costs a fixed ~1-2 s).
BM3D_TILES, BM3D_OVERLAP = tuple(range(256, 385, 16)), 16

def estimate_noise_sigma(pixels: np.ndarray) -> float:
    """Gaussian noise sigma (0-1 scale): Donoho's robust median of the diagonal Haar details.

    As skimage.restoration.estimate_sigma (which needs PyWavelets) does with its wavelet;
    on a centre crop of at most 1024 x 1024, averaged over channels."""
    image = as_hwc(pixels)
    h, w = image.shape[:2]
    top, left = max(0, (h - 1024) // 2), max(0, (w - 1024) // 2)
    crop = image[top:top + 1024, left:left + 1024].astype(np.float64)
    h2, w2 = crop.shape[0] // 2 * 2, crop.shape[1] // 2 * 2
    if h2 == 0 or w2 == 0:
        return 0.0
    crop = crop[:h2, :w2]
    detail = (crop[0::2, 0::2] - crop[0::2, 1::2] - crop[1::2, 0::2] + crop[1::2, 1::2]) / 2
    sigmas = []
    for c in range(detail.shape[-1]):
        values = np.abs(detail[..., c][detail[..., c] != 0])
        sigmas.append(float(np.median(values)) / 0.6744897501960817 if values.size else 0.0)
    return float(np.mean(sigmas))


def _per_image(fn: Callable[[np.ndarray, float], np.ndarray]) -> Callable[[np.ndarray, float | None], np.ndarray]:
    """Wrap fn(image 2-D or (H, W, 3) float64, sigma) into one taking (H, W[, C]) float and sigma or None."""

    def method(noisy: np.ndarray, sigma_estimate: float | None = None) -> np.ndarray:
        noisy = np.asarray(noisy)
        sigma = estimate_noise_sigma(noisy) if sigma_estimate is None else float(sigma_estimate)
        image = noisy[..., 0] if noisy.ndim == 3 and noisy.shape[-1] == 1 else noisy
        if min(image.shape[:2]) < 2 or sigma <= 0:
            return np.clip(noisy, 0, 1).astype(np.float32)
        out = np.clip(fn(image.astype(np.float64), sigma), 0.0, 1.0).astype(np.float32)
        return out.reshape(noisy.shape)

    method.__name__ = fn.__name__.lstrip("_")
    method.__doc__ = fn.__doc__
    return method


def _channel_axis(image: np.ndarray) -> int | None:
    return -1 if image.ndim == 3 else None


@_per_image
def _nl_means(image: np.ndarray, sigma: float) -> np.ndarray:
    """Non-local means (fast mode): 5x5 patches, search radius 6, h = 0.6 sigma.

    Chosen by a sweep (patch 5/7, radius 6/7/9/11, h 0.4-1.0 sigma) on three grey photographs
    at sigma 15, 25 and 50: best mean PSNR at every sigma."""
    from skimage.restoration import denoise_nl_means

    return denoise_nl_means(image, patch_size=5, patch_distance=6, h=0.6 * sigma, sigma=sigma, fast_mode=True,
                            channel_axis=_channel_axis(image))


@_per_image
def _tv_chambolle(image: np.ndarray, sigma: float) -> np.ndarray:
    """Total-variation denoising (Chambolle), weight = 0.7 sigma (same sweep, 0.5-1.6 sigma)."""
    from skimage.restoration import denoise_tv_chambolle

    return denoise_tv_chambolle(image, weight=0.7 * sigma, channel_axis=_channel_axis(image))


@_per_image
def _wavelet(image: np.ndarray, sigma: float) -> np.ndarray:
    """Wavelet BayesShrink, soft thresholds (db1; colour through YCbCr)."""
    if importlib.util.find_spec("pywt") is None:
        raise RuntimeError("Wavelet denoising needs the PyWavelets package: pip install PyWavelets")
    from skimage.restoration import denoise_wavelet

    colour = image.ndim == 3
    return denoise_wavelet(image, sigma=sigma, method="BayesShrink", mode="soft", rescale_sigma=True,
                           convert2ycbcr=colour, channel_axis=_channel_axis(image))


def bm3d_support() -> tuple[bool, str]:
    """(available, explanation): whether the `bm3d` package is installed; imports nothing."""
    if importlib.util.find_spec("bm3d") is None:
        return False, ("BM3D needs the bm3d package, which is not installed: install it with `pip install bm3d` "
                       "and restart the app. The other methods work without it.")
    return True, ("BM3D (Dabov et al. 2007, the bm3d package): block matching and collaborative 3-D filtering, "
                  "told the noise sigma; colour images go through its colour variant CBM3D. The reference "
                  "classical denoiser, and slow: about 0.016 megapixels per second grey, 0.007 in colour.")


# CBM3D's opponent colour transform and its inverse, as bm3d.rgb_to(..., "opp") has them
_OPP = np.array([[1 / 3, 1 / 3, 1 / 3], [0.5, 0, -0.5], [0.25, -0.5, 0.25]])
_OPP_INVERSE = np.array([[1, 1, 2 / 3], [1, 0, -4 / 3], [1, -1, 2 / 3]])


@_per_image
def _bm3d(image: np.ndarray, sigma: float) -> np.ndarray:
    """BM3D (the `bm3d` package, profile "np", both stages), told sigma; colour through CBM3D.

    CBM3D exactly as bm3d.bm3d_rgb does it: the opponent colour space, each channel scaled to [0, 1], block
    matching on the luminance, and sigma carried into every channel; except that a channel with no variation
    (a flat tile), which bm3d_rgb divides by zero, is kept as it is, and that a grey picture saved as RGB
    (three equal channels) goes through grey BM3D."""
    available, why = bm3d_support()
    if not available:
        raise ConfigError(why)
    h, w = image.shape[:2]
    if min(h, w) >= 16:
        return _bm3d_whole(image, sigma)
    # the package refuses images under its 8 x 8 blocks, and crashes on exactly 8 x 8
    pad = [(0, max(0, 16 - h)), (0, max(0, 16 - w))] + [(0, 0)] * (image.ndim - 2)
    return _bm3d_whole(np.pad(image, pad, mode="symmetric"), sigma)[:h, :w]


def _bm3d_whole(image: np.ndarray, sigma: float) -> np.ndarray:
    import bm3d

    if image.ndim == 2:
        return bm3d.bm3d(image, sigma_psd=sigma)
    if image.shape[-1] != 3:
        return np.stack([bm3d.bm3d(image[..., c], sigma_psd=sigma) for c in range(image.shape[-1])], axis=-1)
    if np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 0], image[..., 2]):
        # a grey picture saved as RGB: its noise is the same in every channel, which CBM3D (made for
        # independent noise per channel) would take for a third of what it is (measured: 3 dB worse)
        return np.repeat(bm3d.bm3d(image[..., 0], sigma_psd=sigma)[..., None], 3, axis=-1)
    opponent = image.reshape(-1, 3) @ _OPP.T
    low, span = opponent.min(axis=0), np.ptp(opponent, axis=0)
    span = np.where(span > 1e-9, span, 1.0)
    sigmas = sigma * np.sqrt(np.sum(_OPP ** 2, axis=1)) / span  # the noise of each scaled opponent channel
    out = bm3d.bm3d(((opponent - low) / span).reshape(image.shape), sigma_psd=list(sigmas))
    return ((out.reshape(-1, 3) * span + low) @ _OPP_INVERSE.T).reshape(image.shape)


nl_means, tv_chambolle, wavelet, bm3d_denoise = _nl_means, _tv_chambolle, _wavelet, _bm3d


CLASSICAL_METHODS: dict[str, Callable[[np.ndarray, float | None], np.ndarray]] = {
    "nl_means": nl_means,
    "tv": tv_chambolle,
    "wavelet": wavelet,
    "bm3d": bm3d_denoise,
}
COLOUR_LABELS = {"bm3d": "CBM3D"}  # a method's own name for its colour variant


def method_label(name: str, channels: int = 1) -> str:
    """What a classical method is called on an image of `channels` channels ("CBM3D" for BM3D on colour)."""
    return COLOUR_LABELS.get(name, CLASSICAL_DENOISERS[name]) if channels == 3 else CLASSICAL_DENOISERS[name]


def tiling(name: str, shape: Sequence[int]) -> tuple[int, int]:
    """(tile side, overlap) classical_tiled uses for method `name` on an image of `shape`."""
    if name != "bm3d":
        return CLASSICAL_TILE, CLASSICAL_OVERLAP
    return min(BM3D_TILES, key=lambda tile: (_seconds(name, shape, tile, BM3D_OVERLAP), tile)), BM3D_OVERLAP


def tile_count(shape) -> int:
    """How many steps of progress classical_tiled reports on an image of `shape`, whatever the method (the
    progress total): the tiles of the method run in the most tiles (BM3D); a method run in fewer, larger
    tiles reports each of its tiles as the matching share of these steps."""
    return max(count_tiles(shape, tile=tile, overlap=overlap)
               for tile, overlap in (tiling(name, shape) for name in CLASSICAL_METHODS))


def _in_steps(state: JobState, steps: int) -> JobState:
    """A state that reports progress k of n as k * steps // n of `steps` to `state` (and stops with it)."""

    def forward(event) -> None:
        if isinstance(event, Progress) and event.total > 0:
            state.progress(event.done * steps // event.total, steps, event.message)
        else:
            state.emit(event)

    return JobState(forward, state.stop_event)


def classical_tiled(name: str, noisy: np.ndarray, sigma_estimate: float | None = None, *,
                    state: JobState | None = None) -> np.ndarray:
    """A classical method on an image of any size: whole up to its tile size (1024 x 1024; BM3D 256-384),
    else in overlapping tiles (progress, cancellation between tiles and bounded memory; near-identical
    result). Progress goes in tile_count(shape) steps, the message says "k of n tiles"."""
    fn = CLASSICAL_METHODS[name]
    image = as_hwc(noisy)
    available, why = bm3d_support() if name == "bm3d" else (True, "")
    if not available:  # before any work
        raise ConfigError(why)
    sigma = estimate_noise_sigma(image) if sigma_estimate is None else sigma_estimate
    tile, overlap = tiling(name, image.shape)
    if state is not None:
        state = _in_steps(state, tile_count(image.shape))
    out = tiled_apply(lambda x: np.stack([fn(t, sigma) for t in x]), image, tile=tile, overlap=overlap,
                      batch_size=1, state=state)
    return out.reshape(np.shape(noisy))


# What one call of each method costs: (fixed seconds per call, megapixels per second), grey (1 channel) and
# colour (3), from `python benchmarks/denoise_quality.py --rates` (a 64 x 64 crop and the whole 512 x 512
# camera / astronaut photograph at sigma 25, CPU seconds) on the development machine: one core of an AMD EPYC
# VM shared with two training jobs. A slower machine takes longer: the estimate decides whether to ask first.
COSTS = {
    ("nl_means", 1): (0.0, 0.829), ("nl_means", 3): (0.0, 0.681), ("tv", 1): (0.0, 1.55), ("tv", 3): (0.0, 0.672),
    ("wavelet", 1): (0.0, 14.0), ("wavelet", 3): (0.0, 4.77), ("bm3d", 1): (0.74, 0.0172), ("bm3d", 3): (2.04, 0.0071),
}


def _seconds(name: str, shape: Sequence[int], tile: int, overlap: int) -> float:
    channels = shape[2] if len(shape) == 3 else 1
    cost = COSTS.get((name, 3 if channels == 3 else 1))
    if cost is None or shape[0] < 1 or shape[1] < 1:
        return 0.0
    per_call, rate = cost
    tiles = count_tiles(shape, tile=tile, overlap=overlap)
    seconds = tiles * per_call + tiles * min(shape[0], tile) * min(shape[1], tile) / 1e6 / rate
    return seconds * (channels if channels not in (1, 3) else 1)  # 2 or 4 channels: one grey pass each


def estimate_seconds(name: str, shape: Sequence[int]) -> float:
    """About how many seconds classical method `name` takes on an image of `shape` ((H, W) or (H, W, C)):
    per tile, a fixed cost per call and its pixels (overlaps included) over the method's rate (COSTS).
    0.0 for a method with no measured cost (a model: its speed depends on the model)."""
    return _seconds(name, shape, *tiling(name, shape))


def duration_text(seconds: float) -> str:
    """How long `seconds` is, in words: "about 8 seconds", "about 40 seconds", "about 6 minutes", "about 1.5
    hours" (to the second below 10 s, to 5 s below 90 s, to the minute below 90 minutes)."""
    if seconds < 10:
        return f"about {max(1, round(seconds))} second{'s' if round(seconds) > 1 else ''}"
    if seconds < 90:
        return f"about {5 * round(seconds / 5)} seconds"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60)} minutes"
    return f"about {seconds / 3600:.1f} hours"
