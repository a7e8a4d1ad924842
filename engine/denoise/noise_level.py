"""How noisy an image is, as a noise-aware denoiser is told it: a standard deviation per pixel and channel
(FFDNet's noise-level map, Zhang et al. 2018). White Gaussian noise gives a constant per channel;
signal-dependent (Poisson-Gaussian) noise has variance gain * x + sigma^2, larger in bright parts.
`strength` scales the whole map: the user's "less / more denoising" control. No TensorFlow."""
from __future__ import annotations

from dataclasses import dataclass, replace
from statistics import NormalDist
from typing import Sequence

import numpy as np

from engine.core.errors import ConfigError

STRENGTH_RANGE = (0.0, 4.0)
SAMPLE_PIXELS = 1 << 20  # pixels per channel the estimate reads at most (tiles spread over a larger image)
_TILE = 256
TEXTURED = "few smooth areas: texture may be counted as noise"
_Z = 2.5  # how many standard deviations of pure noise a smooth block's statistics may stray


@dataclass(frozen=True)
class NoiseLevel:
    sigma: tuple[float, ...]  # Gaussian part per channel, 0-1 scale (one value: the same in every channel)
    gain: tuple[float, ...] = ()  # per channel: variance grows by gain * intensity; () = pure Gaussian
    strength: float = 1.0
    note: str = ""  # a caveat of the estimate, e.g. TEXTURED

    def __post_init__(self):
        values = list(self.sigma) + list(self.gain)
        if not self.sigma or any(not np.isfinite(v) or v < 0 for v in values):
            raise ConfigError(f"Noise levels must be finite and >= 0, got sigma {self.sigma}, gain {self.gain}.")
        if self.gain and len(self.gain) not in (1, len(self.sigma)) and len(self.sigma) != 1:
            raise ConfigError(f"Give one gain or one per channel: {len(self.gain)} gains for "
                              f"{len(self.sigma)} channels.")
        if not STRENGTH_RANGE[0] <= self.strength <= STRENGTH_RANGE[1]:
            raise ConfigError(f"Denoising strength must be between {STRENGTH_RANGE[0]:g} and {STRENGTH_RANGE[1]:g}, "
                              f"got {self.strength:g}.")

    @classmethod
    def gaussian(cls, sigma: float | Sequence[float]) -> "NoiseLevel":
        """White Gaussian noise of `sigma` (0-1 scale; one value or one per channel)."""
        values = (float(sigma),) if np.isscalar(sigma) else tuple(float(s) for s in sigma)
        return cls(values)

    def with_strength(self, strength: float) -> "NoiseLevel":
        return replace(self, strength=float(strength))

    def for_channels(self, channels: int) -> "NoiseLevel":
        """The same noise for a model that sees `channels` channels (1: the mean over the image's)."""
        if channels == len(self.sigma) or len(self.sigma) == 1 and not len(self.gain) > 1:
            return self
        if channels == 1:
            return replace(self, sigma=(float(np.sqrt(np.mean(np.square(self.sigma)))),),
                           gain=(float(np.mean(self.gain)),) if self.gain else ())
        raise ConfigError(f"A noise level for {len(self.sigma)} channels cannot describe {channels}.")

    def mean_sigma(self, intensity: float = 0.5) -> float:
        """The typical standard deviation (0-1 scale) at `intensity`, strength applied."""
        var = np.square(self.sigma) + (np.asarray(self.gain) * intensity if self.gain else 0.0)
        return float(self.strength * np.sqrt(np.mean(var)))

    def map(self, x: np.ndarray) -> np.ndarray:
        """The noise-level map for a batch or image x (..., H, W, C) float in [0, 1]: same shape, float32."""
        x = np.asarray(x, dtype=np.float32)
        sigma = np.asarray(self.sigma, np.float32)
        if not self.gain:
            return np.broadcast_to(sigma * np.float32(self.strength), x.shape).astype(np.float32)
        # the signal under the noise: a 5x5 local mean of the noisy pixels (noise averages out)
        from scipy.ndimage import uniform_filter

        size = [1] * (x.ndim - 3) + [5, 5, 1]
        signal = np.clip(uniform_filter(x, size=size, mode="reflect"), 0.0, 1.0)
        var = np.asarray(self.gain, np.float32) * signal + sigma ** 2
        return (np.sqrt(var) * np.float32(self.strength)).astype(np.float32)

    def describe(self) -> str:
        """E.g. "sigma 12.1 / 11.8 / 14.0 (of 255)" or "sigma 5.0 + signal-dependent (gain 0.010)"."""
        text = "sigma " + " / ".join(f"{255 * s:.1f}" for s in self.sigma) + " (of 255)"
        if self.gain and max(self.gain) > 0:
            text += " + signal-dependent (gain " + " / ".join(f"{g:.4f}" for g in self.gain) + ")"
        if self.strength != 1.0:
            text += f", strength {self.strength:g}x"
        return text + (f"; {self.note}" if self.note else "")

    def channel_sigmas(self, intensity: float = 0.5) -> tuple[float, ...]:
        """The standard deviation of each channel (0-1 scale) at `intensity`, strength applied."""
        channels = max(len(self.sigma), len(self.gain))
        sigma = np.broadcast_to(np.asarray(self.sigma, float), (channels,))
        gain = np.broadcast_to(np.asarray(self.gain or (0.0,), float), (channels,))
        return tuple(float(v) for v in self.strength * np.sqrt(sigma ** 2 + gain * intensity))

    def summary(self) -> str:
        """For people, on a 0-255 scale: "R 12.1, G 11.8, B 14.0 of 255", the signal-dependent range
        (" at mid-grey; signal-dependent: 4.0 in the shadows to 16.2 in the highlights") and the note."""
        values = self.channel_sigmas()
        names = ("R", "G", "B") if len(values) == 3 else tuple(str(i + 1) for i in range(len(values)))
        text = (f"{255 * values[0]:.1f} of 255" if len(values) == 1 else
                ", ".join(f"{n} {255 * v:.1f}" for n, v in zip(names, values)) + " of 255")
        if self.gain and max(self.gain) > 0:
            dark, bright = (255 * float(np.sqrt(np.mean(np.square(self.channel_sigmas(i))))) for i in (0.1, 0.9))
            text += f" at mid-grey; signal-dependent: {dark:.1f} in the shadows to {bright:.1f} in the highlights"
        return text + (f"; {self.note}" if self.note else "")


def estimate_noise_level(pixels: np.ndarray, *, max_pixels: int = SAMPLE_PIXELS) -> NoiseLevel:
    """The noise of an image from the image alone, per channel: Gaussian sigma and, when the data show it,
    signal-dependent gain (Poisson-Gaussian model, variance = gain * intensity + sigma^2; 0-1 scale).

    After Foi, Trimeche, Katkovnik and Egiazarian, "Practical Poissonian-Gaussian noise modeling and fitting
    for single-image raw-data" (IEEE TIP 17(10), 2008): one level of the orthonormal Haar transform, whose
    diagonal details carry the noise (blind to flat areas and linear ramps) and whose 2x2 means carry the
    signal; statistics in small blocks; only smooth blocks kept; blocks grouped into intensity level sets;
    a robust variance per level set; a weighted fit of var = gain * mean + sigma^2 with gain, sigma^2 >= 0
    (iteratively reweighted least squares, as an approximation of their maximum-likelihood fit). Smooth blocks are
    chosen as Liu, Tanaka and Okutomi ("Single-image noise level estimation for blind denoising", IEEE TIP
    22(12), 2013) choose weak-texture patches, by a threshold drawn from the current noise estimate and
    refined by iterating; here the test reads the horizontal, vertical and coarser diagonal details, which
    are independent of the diagonal ones the variance is measured on, so the selection does not bias it.
    Blocks near clipping (within 2.5 standard deviations of 0 or 1, or with clipped pixels) are left out
    instead of modelled. The gain is reported only when the fit shows real signal dependence (an F-test
    against a constant and a noticeable change across the intensities seen); otherwise pure Gaussian.
    Noise that is correlated between neighbouring pixels (demosaicing, JPEG) is underestimated, as by every
    finest-scale estimator. Large images are sampled in tiles spread over the frame (at most `max_pixels`).
    """
    image = _hwc(np.asarray(pixels))
    if image.ndim != 3 or not np.issubdtype(image.dtype, np.number):
        raise ConfigError(f"Cannot estimate the noise of an array of shape {np.shape(pixels)}: an image is "
                          "height x width [x channels].")
    tiles = _sample_tiles(image, max_pixels)
    if not tiles:
        return NoiseLevel((0.0,) * image.shape[-1])
    block = _block_size(tiles)
    fits = [_fit_channel([t[..., c] for t in tiles], block) for c in range(image.shape[-1])]
    sigma = tuple(float(np.sqrt(s2)) for (s2, _), _ in fits)
    gains = tuple(float(g) for (_, g), _ in fits)
    note = "" if all(smooth for _, smooth in fits) else TEXTURED
    return NoiseLevel(sigma, gains if any(g > 0 for g in gains) else (), note=note)


def residual_noise(image: np.ndarray) -> float:
    """The noise left in an image (e.g. a denoised result), as one standard deviation on a 0-255 scale:
    the estimate above at the image's median intensity, root-mean-square over channels."""
    image = _hwc(np.asarray(image, dtype=np.float32))
    level = estimate_noise_level(image)
    step = max(1, int(np.sqrt(image.shape[0] * image.shape[1] / 65536)))
    median = float(np.median(image[::step, ::step])) if image.size else 0.5
    return 255.0 * level.mean_sigma(median)


def _sample_tiles(image: np.ndarray, max_pixels: int) -> list[np.ndarray]:
    """The whole image (cropped to even sides), or a grid of _TILE x _TILE tiles spread over it."""
    h, w = image.shape[:2]
    if h * w <= max_pixels or min(h, w) < _TILE:
        h2, w2 = h // 2 * 2, w // 2 * 2
        return [image[:h2, :w2].astype(np.float32)] if min(h2, w2) >= 4 else []
    count = max(1, max_pixels // (_TILE * _TILE))
    rows = max(1, min(h // _TILE, round(np.sqrt(count * h / w))))
    cols = max(1, min(w // _TILE, count // rows))
    tops = np.linspace(0, h - _TILE, rows).astype(int)
    lefts = np.linspace(0, w - _TILE, cols).astype(int)
    return [image[t:t + _TILE, l:l + _TILE].astype(np.float32) for t in tops for l in lefts]


def _block_size(tiles: list[np.ndarray]) -> int:
    """Haar coefficients per block side: 8 (16 x 16 pixels), 4 for small images (enough blocks to fit)."""
    blocks = sum((t.shape[0] // 16) * (t.shape[1] // 16) for t in tiles)
    return 8 if blocks >= 64 else 4 if min(min(t.shape[:2]) for t in tiles) >= 8 else 2


def _block_stats(plane: np.ndarray, block: int) -> np.ndarray | None:
    """Per block of `block` x `block` Haar coefficients: rows (mean, diagonal energy, horizontal/vertical
    variance, coarse diagonal energy, clipped share)."""
    a, b, c, d = plane[0::2, 0::2], plane[0::2, 1::2], plane[1::2, 0::2], plane[1::2, 1::2]
    ny, nx = a.shape[0] // block, a.shape[1] // block
    if ny == 0 or nx == 0:
        return None

    def blocks(x):
        return x[:ny * block, :nx * block].reshape(ny, block, nx, block).swapaxes(1, 2).reshape(ny * nx, -1)

    approx = (a + b + c + d) / 2  # orthonormal: white noise keeps its variance in every sub-band
    diag, horiz, vert = blocks((a - b - c + d) / 2), blocks((a + b - c - d) / 2), blocks((a - b + c - d) / 2)
    half = block // 2
    coarse = approx[:ny * block, :nx * block]
    coarse = (coarse[0::2, 0::2] - coarse[0::2, 1::2] - coarse[1::2, 0::2] + coarse[1::2, 1::2]) / 2
    coarse = coarse.reshape(ny, half, nx, half).swapaxes(1, 2).reshape(ny * nx, -1)
    raw = plane[:2 * ny * block, :2 * nx * block]
    clipped = ((raw <= 0.5 / 255) | (raw >= 1 - 0.5 / 255)).reshape(ny, 2 * block, nx, 2 * block)
    return np.stack([blocks(approx).mean(1) / 2, np.mean(diag ** 2, 1),
                     (horiz.var(1) + vert.var(1)) / 2, np.mean(coarse ** 2, 1),
                     clipped.mean(axis=(1, 3)).reshape(-1)])


def _fit_channel(planes: list[np.ndarray], block: int) -> tuple[float, float, bool]:
    """(sigma^2, gain, whether enough smooth blocks were found) of one channel; gain 0 when the noise does
    not depend on the signal. Without smooth blocks: the low-quantile start (texture may count as noise)."""
    parts = [s for s in (_block_stats(p, block) for p in planes) if s is not None]
    if not parts:
        return 0.0, 0.0, True
    mean, diag, texture, coarse, clipped = np.concatenate(parts, axis=1)
    dof = block * block
    limits = [1 + _Z * np.sqrt(2 / n) for n in (2 * (dof - 1), max(1, dof // 4))]
    ok = clipped < 0.02  # saturated areas have no noise left to see
    if ok.sum() < 3:
        return 0.0, 0.0, True
    # start from a low quantile of each level set's diagonal energy (textured blocks lie above it)
    fit = _fit_level_sets(mean[ok], diag[ok], dof, quantile=0.25)
    found = 0
    for _ in range(4):
        var = np.maximum(fit[0] + fit[1] * mean, 1e-12)
        spread = np.sqrt(var)
        smooth = (ok & (texture <= limits[0] * var) & (coarse <= limits[1] * var)
                  & (mean - _Z * spread > 0) & (mean + _Z * spread < 1))
        if smooth.sum() < 3:
            break
        found = int(smooth.sum())
        fit = _fit_level_sets(mean[smooth], diag[smooth], dof)
    s2, gain, flat, dependent = fit
    return (s2, gain) if dependent else (flat, 0.0), found >= max(3, 0.02 * ok.sum())


def _fit_level_sets(mean: np.ndarray, energy: np.ndarray, dof: int,
                    quantile: float = 0.5) -> tuple[float, float, float, bool]:
    """Level sets (equal-count intensity bins), a quantile of each one's diagonal energy made an unbiased
    variance (chi-square with `dof` degrees of freedom), a weighted fit of var = sigma^2 + gain * mean.
    Returns (sigma^2, gain, the constant fit's variance, whether the signal dependence is real)."""
    order = np.argsort(mean)
    k = int(np.clip(len(mean) // 30, 1, 12))
    groups = np.array_split(order, k)
    scale = _chi2_quantile(quantile, dof) / dof
    mu = np.array([mean[g].mean() for g in groups])
    v = np.array([np.quantile(energy[g], quantile) for g in groups]) / scale
    n = np.array([len(g) for g in groups], dtype=float)
    flat = float(np.sum(n * v) / np.sum(n))
    if k < 3 or mu[-1] - mu[0] < 0.1:
        return flat, 0.0, flat, False
    design = np.stack([np.ones_like(mu), mu], axis=1)
    fit = np.maximum(v, 1e-12)
    for _ in range(4):  # IRLS: a variance estimate's spread is proportional to the variance
        w = np.sqrt(n) / np.maximum(fit, 1e-12)
        coef = _nonnegative_fit(design * w[:, None], v * w)
        fit = design @ coef
    w = n / np.maximum(fit, 1e-12) ** 2
    linear_rss = float(np.sum(w * (v - fit) ** 2))
    constant_rss = float(np.sum(w * (v - np.sum(w * v) / np.sum(w)) ** 2))
    f_stat = (constant_rss - linear_rss) / max(linear_rss / (k - 2), 1e-30)
    lo, hi = fit[0], fit[-1]
    dependent = bool(coef[1] > 0 and f_stat > 12 and hi > 1.3 * max(lo, 1e-12) and hi > (0.5 / 255) ** 2)
    return float(coef[0]), float(coef[1]), flat, dependent


def _chi2_quantile(q: float, dof: int) -> float:
    """The q-quantile of chi-square with `dof` degrees of freedom (Wilson-Hilferty; within 0.5% from 4)."""
    z = NormalDist().inv_cdf(q)
    c = 2 / (9 * dof)
    return dof * (1 - c + z * np.sqrt(c)) ** 3


def _nonnegative_fit(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """argmin |a x - b| over x >= 0 for two unknowns: the free solution, else the better edge."""
    x = np.linalg.lstsq(a, b, rcond=None)[0]
    if np.all(x >= 0):
        return x
    edges = [np.array([max(0.0, a[:, 0] @ b / max(a[:, 0] @ a[:, 0], 1e-30)), 0.0]),
             np.array([0.0, max(0.0, a[:, 1] @ b / max(a[:, 1] @ a[:, 1], 1e-30))])]
    return min(edges, key=lambda e: float(np.sum((a @ e - b) ** 2)))


def default_noise_level(noisy: np.ndarray, noise, strength: float = 1.0) -> NoiseLevel:
    """What a noise-aware model is told unless the user says otherwise: the Gaussian sigma added on purpose
    (noise: an engine.data.noise.NoiseConfig), else the estimate from the noisy image; times `strength`."""
    if noise.kind == "gaussian" and noise.adds_noise:
        return NoiseLevel.gaussian(noise.sigma / 255.0).with_strength(strength)
    return estimate_noise_level(noisy).with_strength(strength)


def _hwc(image: np.ndarray) -> np.ndarray:
    """(H, W) as (H, W, 1). Not engine.denoise.tiling.as_hwc: the tiler imports this module."""
    return image[..., None] if image.ndim == 2 else image
