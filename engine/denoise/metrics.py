"""How good a denoised image is against its clean original: PSNR and SSIM."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from engine.denoise.tiling import as_hwc


@dataclass(frozen=True)
class MetricRow:
    method: str
    psnr: float  # dB; inf for an exact copy
    ssim: float  # nan where the image is too small for a 3x3 window


def psnr(clean: np.ndarray, test: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB for images in [0, 1]; inf when identical."""
    clean, test = _pair(clean, test)
    mse = float(np.mean((clean.astype(np.float64) - test.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def ssim(clean: np.ndarray, test: np.ndarray) -> float:
    """Structural similarity (scikit-image, 7x7 window or the largest that fits, data_range=1)."""
    from skimage.metrics import structural_similarity

    clean, test = _pair(clean, test)
    side = min(clean.shape[:2])
    if side < 3:
        return math.nan
    window = min(7, side if side % 2 else side - 1)
    if clean.shape[-1] == 1:
        return float(structural_similarity(clean[..., 0], test[..., 0], data_range=1.0, win_size=window))
    return float(structural_similarity(clean, test, data_range=1.0, channel_axis=-1, win_size=window))


def _pair(clean: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    clean, test = as_hwc(clean), as_hwc(test)
    if clean.shape != test.shape:
        raise ValueError(f"Cannot compare images of different shapes: {clean.shape} and {test.shape}.")
    return clean, test


def compare(clean: np.ndarray, results: Mapping[str, np.ndarray]) -> list[MetricRow]:
    """One MetricRow per result, in the order given."""
    return [MetricRow(name, psnr(clean, image), ssim(clean, image)) for name, image in results.items()]
