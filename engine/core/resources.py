"""What the product ships in resources/: the embedded MNIST subset and the bundled denoiser."""
from __future__ import annotations

from pathlib import Path

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
EMBEDDED_MNIST = RESOURCES / "mnist_small.npz"  # made by tools/make_mnist_subset.py
BUNDLED_DENOISER = RESOURCES / "denoiser_dncnn.keras"  # trained by tools/train_denoiser.py
