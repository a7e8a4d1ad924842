"""Jobs behind the Denoise tab, Qt-free: open and save an image, denoise with the bundled
model (loaded once and reused while its file is unchanged), reconstruct MNIST digits; and the
shape checks that decide which models the tab can offer."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from engine.denoise.pipeline import BUNDLED_DENOISER, MODEL_METHOD, NoiseConfig
from engine.core.events import Progress

BUNDLED = "DnCNN (bundled)"  # method id of the bundled model; denoise_job shows model ids as labels


@dataclass
class Denoised:
    result: Any  # engine.denoise.pipeline.DenoiseResult
    bundled: Any  # the bundled model, loaded in the worker (kept for the next run)
    bundled_stamp: float


def open_image_job(path: str, max_pixels: int):
    def job(on_event, stop):
        from engine.data.images import read_image

        return read_image(path, max_pixels=max_pixels)

    return job


def photo_denoise_job(pixels: np.ndarray, noise: NoiseConfig, methods: list[str], model, model_name: str,
                 bundled: tuple[float, Any] | None):
    """Load the bundled model if needed (reused while its file is unchanged), then denoise."""

    def job(on_event, stop: threading.Event) -> Denoised:
        from engine.denoise.pipeline import denoise_job

        models, loaded, stamp = {}, None, 0.0
        if BUNDLED in methods:
            stamp = BUNDLED_DENOISER.stat().st_mtime if BUNDLED_DENOISER.is_file() else 0.0
            if bundled is not None and bundled[0] == stamp:
                loaded = bundled[1]
            else:
                on_event(Progress(0, 0, "Loading the bundled denoiser…"))
                from engine.denoise.pipeline import load_bundled_denoiser

                loaded = load_bundled_denoiser()
            models[BUNDLED] = loaded
        if MODEL_METHOD in methods:
            models[MODEL_METHOD] = model
        run = denoise_job(pixels, noise, methods, models or None, model_name)
        return Denoised(run(on_event, stop), loaded, stamp)

    return job


def save_image_job(path: Path, pixels: np.ndarray, bit_depth: int, alpha: np.ndarray | None):
    def job(on_event, stop):
        from engine.data.images import write_image

        return write_image(path, pixels, bit_depth=bit_depth, alpha=alpha)

    return job


def digits_job(model, dataset, indices: np.ndarray, noise_factor: float, seed: int):
    from engine.jobs import reconstruct_job

    subset = SimpleNamespace(x_val=dataset.x_val[indices],
                             y_val=None if dataset.y_val is None else dataset.y_val[indices])
    return reconstruct_job(model, subset, noise_factor, seed=seed)


def input_shape(model) -> tuple | None:
    try:
        shape = model.input_shape
    except (AttributeError, ValueError, RuntimeError):
        return None
    if isinstance(shape, list):
        shape = shape[0] if len(shape) == 1 else None
    return tuple(shape) if shape is not None else None


def fully_convolutional(model) -> bool:
    """True for a model taking images of any size: input (None, None, None, channels)."""
    shape = input_shape(model)
    return shape is not None and len(shape) == 4 and shape[1] is None and shape[2] is None and shape[3] is not None


def fits_images(model, dataset) -> bool:
    """True when the model takes the dataset's validation images (an image autoencoder on its data)."""
    shape = input_shape(model)
    x = getattr(dataset, "x_val", None)
    if shape is None or x is None or len(shape) != 4 or np.ndim(x) != 4 or len(x) == 0:
        return False
    return all(e is None or e == d for e, d in zip(shape[1:], x.shape[1:]))
