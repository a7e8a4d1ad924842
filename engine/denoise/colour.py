"""Colour photographs through a grey denoiser: a decorrelated colour space.

The three channels of a photograph are strongly correlated; denoising R, G and B one by one ignores that.
As CBM3D does (Dabov et al. 2007, "Color image denoising via sparse 3D collaborative filtering with
grouping constraint in luminance-chrominance space"), the image is turned into one luminance and two
chrominance channels (the opponent transform), each is denoised with the noise level it really has there,
and the result is turned back. With white noise of the same sigma in R, G and B, the luminance (the mean
of the three) has sigma / sqrt(3): the detail-carrying channel is much less noisy, and the smooth
chrominance channels are easy. Measured on held-out colour photographs (benchmarks/README.md), a grey
U-Net this way beat the same-budget colour U-Net by about 0.9 dB and per-channel RGB by about 1.7 dB.
No TensorFlow.
"""
from __future__ import annotations

import numpy as np

# rows: luminance (mean), red - blue, (red + blue) / 2 - green; chrominance is shifted by 0.5 into [0, 1]
OPPONENT = np.array([[1 / 3, 1 / 3, 1 / 3], [1 / 2, 0.0, -1 / 2], [1 / 4, -1 / 2, 1 / 4]], np.float32)
OPPONENT_INVERSE = np.linalg.inv(OPPONENT.astype(np.float64)).astype(np.float32)
_OFFSET = np.array([0.0, 0.5, 0.5], np.float32)


def to_opponent(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) RGB in [0, 1] -> (..., 3) luminance / chrominance, each in [0, 1]."""
    return np.asarray(rgb, np.float32) @ OPPONENT.T + _OFFSET


def from_opponent(opp: np.ndarray) -> np.ndarray:
    """The inverse of to_opponent."""
    return (np.asarray(opp, np.float32) - _OFFSET) @ OPPONENT_INVERSE.T


def opponent_std(std_rgb: np.ndarray) -> np.ndarray:
    """Per-pixel noise standard deviations (..., 3) in RGB -> in the opponent channels (independent noise
    per RGB channel: variances add with the squared weights)."""
    return np.sqrt(np.square(np.asarray(std_rgb, np.float32)) @ np.square(OPPONENT).T)
