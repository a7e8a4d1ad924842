"""Noise added on purpose: to train denoisers (Gaussian, std `factor` on [0, 1] data) and to judge a
denoiser on a photograph that has a clean original (Gaussian, salt and pepper, Poisson, speckle).
Same seed, same noise. No TensorFlow."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.core.errors import ConfigError


NOISE_KINDS = ("none", "gaussian", "salt_pepper", "poisson", "speckle")
NOISE_NAMES = {"none": "None", "gaussian": "Gaussian", "salt_pepper": "Salt and pepper", "poisson": "Poisson",
               "speckle": "Speckle"}
NOISE_LABELS = {  # the names with what they mean
    "none": "None (denoise the image as it is)",
    "gaussian": "Gaussian",
    "salt_pepper": "Salt and pepper",
    "poisson": "Poisson (shot noise)",
    "speckle": "Speckle (multiplicative)",
}
_NOISE_CHUNK_VALUES = 1 << 21  # values per chunk when adding noise (bounds float64 temporaries)


@dataclass(frozen=True)
class NoiseConfig:
    """Noise to add on purpose, so that a clean reference exists and results can be scored.

    sigma: standard deviation on a 0-255 scale (gaussian, speckle); amount: share of
    pixels replaced (salt and pepper); seed: same seed, same noise.
    """

    kind: str = "gaussian"
    sigma: float = 25.0
    amount: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kind not in NOISE_KINDS:
            raise ConfigError(f"Unknown noise kind {self.kind!r}; choose one of {', '.join(NOISE_KINDS)}.")
        for name, value, low, high in (("sigma", self.sigma, 0.0, 255.0), ("amount", self.amount, 0.0, 1.0)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (low <= value <= high):
                raise ConfigError(f"Noise {name} = {value!r} is out of range; allowed {low:g} to {high:g}.")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or not 0 <= self.seed < 2**63:
            raise ConfigError(f"Noise seed must be a whole number >= 0, got {self.seed!r}.")

    @property
    def adds_noise(self) -> bool:
        return self.kind != "none" and (self.amount > 0 if self.kind == "salt_pepper" else
                                        self.sigma > 0 if self.kind in ("gaussian", "speckle") else True)

    def describe(self) -> str:
        if self.kind in ("gaussian", "speckle"):
            return f"{NOISE_NAMES[self.kind]} sigma {self.sigma:g}"
        if self.kind == "salt_pepper":
            return f"Salt and pepper {self.amount:.0%}"
        return NOISE_NAMES[self.kind]


def add_noise(pixels: np.ndarray, config: NoiseConfig) -> np.ndarray:
    """`pixels` plus noise from skimage.util.random_noise: a new float32 array in [0, 1].

    Noise is drawn in row chunks (each with its own generator seeded by (seed, chunk)) so
    that a huge image never needs full-size float64 temporaries; same seed, same noise.
    """
    pixels = np.asarray(pixels, dtype=np.float32)
    if not config.adds_noise:
        return pixels.copy()
    from skimage.util import random_noise

    kwargs: dict[str, Any] = {}
    if config.kind in ("gaussian", "speckle"):
        kwargs["var"] = (config.sigma / 255.0) ** 2
    elif config.kind == "salt_pepper":
        kwargs["amount"] = config.amount
    mode = {"salt_pepper": "s&p"}.get(config.kind, config.kind)
    levels = _poisson_levels(pixels) if config.kind == "poisson" else 0
    out = np.empty_like(pixels)
    row_values = max(1, int(np.prod(pixels.shape[1:])))
    rows = max(1, _NOISE_CHUNK_VALUES // row_values)
    for index, top in enumerate(range(0, pixels.shape[0], rows)):
        part = np.clip(pixels[top:top + rows], 0.0, 1.0).astype(np.float64)
        rng = np.random.default_rng([config.seed, index])
        if config.kind == "poisson":  # as random_noise does, but with the level count of the whole image
            noisy = rng.poisson(part * levels) / levels
        else:
            noisy = random_noise(part, mode=mode, rng=rng, clip=True, **kwargs)
        out[top:top + rows] = np.clip(noisy, 0.0, 1.0)
    return out


def _poisson_levels(pixels: np.ndarray) -> float:
    """random_noise's photon scale: the count of distinct values rounded up to a power of 2."""
    values: set[float] = set()
    step = max(1, _NOISE_CHUNK_VALUES // max(1, int(np.prod(pixels.shape[1:]))))
    for top in range(0, pixels.shape[0], step):
        values.update(np.unique(pixels[top:top + step]).tolist())
        if len(values) > 1 << 16:
            break
    return float(2 ** math.ceil(math.log2(max(len(values), 2))))


def add_gaussian(x: np.ndarray, factor: float, seed: int) -> np.ndarray:
    """Gaussian noise of std `factor` on [0, 1] data, clipped to [0, 1]: what a denoising autoencoder is
    trained and validated on (training draws fresh noise each epoch in its input pipeline, the same way)."""
    rng = np.random.default_rng(seed)
    return np.clip(x + factor * rng.standard_normal(x.shape, dtype=np.float32), 0.0, 1.0).astype(np.float32)
