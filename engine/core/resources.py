"""What the product ships in resources/: the embedded MNIST subset and the bundled denoisers."""
from __future__ import annotations

from pathlib import Path

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
EMBEDDED_MNIST = RESOURCES / "mnist_small.npz"  # made by tools/make_mnist_subset.py
# The bundled denoiser: one noise-level-aware grey U-Net (tools/train_denoiser.py); colour photographs go
# through it in a decorrelated (opponent) colour space, as CBM3D does (engine/denoise/colour.py).
BUNDLED_DENOISER = RESOURCES / "denoiser_unet.keras"
BUNDLED_DENOISERS = {1: BUNDLED_DENOISER}  # by the channels a model takes; tools/train_denoiser.py --channels 3
# trains an experimental colour model to RESOURCES / "denoiser_colour.keras" (not shipped: see benchmarks/README.md)


def bundled_denoiser_path(channels: int = 1) -> Path:
    """The bundled denoiser for images of `channels` channels: the same grey model for every image."""
    return BUNDLED_DENOISER
