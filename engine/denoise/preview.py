"""A live preview of the bundled noise-aware denoiser on a small region of a photograph, so that the user can
judge a denoising strength before running the whole image (the noise-level map of FFDNet, Zhang et al. 2018,
scaled by the strength). No Qt; TensorFlow is imported only when the model is loaded.

The region is denoised with `CONTEXT` pixels of the image around it, as the tiler does, so for the model's
receptive field what the preview shows is what the whole-image run gives there. Noise added on purpose is
added to the whole image once (the very noise the run adds, same seed) up to `MAX_NOISY_PIXELS`; beyond, to
the region alone (the same kind and level of noise, another draw).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from engine.core.errors import ModelError
from engine.core.jobs import JobState
from engine.core.resources import bundled_denoiser_path
from engine.data.noise import NoiseConfig, add_noise
from engine.denoise.noise_level import NoiseLevel, default_noise_level, estimate_noise_level
from engine.denoise.tiling import denoise_tiled

REGION = 96  # pixels per side of the previewed region
CONTEXT = 32  # pixels of image the model also sees on each side (the tiler's overlap)
MAX_NOISY_PIXELS = 16_000_000  # larger images get noise added to the previewed region alone
_models: dict[tuple, Any] = {}  # (file, modification time) -> the bundled model: loaded once per process
_loading = threading.Lock()


@dataclass(frozen=True)
class Preview:
    box: tuple[int, int, int, int]  # (top, left, height, width) of the region in the image
    noisy: np.ndarray  # the region as the model saw it, float32, shaped like the image
    output: np.ndarray  # the model's output for it
    level: NoiseLevel  # what the model was told (strength applied)


@dataclass(frozen=True)
class Estimated:
    """Event: the noise estimated in the image as opened (sent before the model loads)."""
    level: NoiseLevel


@dataclass(frozen=True)
class PreviewState:
    """What one preview leaves for the next, so that moving the slider only reruns the model. The caller
    keeps it between jobs and passes it back; a job returns a new one and never changes the old."""
    image: Any = None  # the pixels the rest is for (compared by identity)
    estimate: NoiseLevel | None = None  # of the image as opened
    noise: NoiseConfig | None = None  # the noise `noisy` and `level` are for
    noisy: np.ndarray | None = None  # the whole image with that noise (None: none added, or too large)
    level: NoiseLevel | None = None  # what the model is told at strength 1 for that noise


def region_box(shape, centre: tuple[float, float] | None,
               size: int | tuple[int, int] = REGION) -> tuple[int, int, int, int]:
    """(top, left, height, width): a region of `size` (a side, or (height, width)) around centre (row,
    column; None: the image's centre), moved inside the image, smaller where the image is."""
    h, w = int(shape[0]), int(shape[1])
    size_h, size_w = (size, size) if np.isscalar(size) else size
    rh, rw = max(1, min(int(size_h), h)), max(1, min(int(size_w), w))
    cy, cx = (h / 2, w / 2) if centre is None else centre
    top = int(np.clip(round(cy - rh / 2), 0, h - rh))
    left = int(np.clip(round(cx - rw / 2), 0, w - rw))
    return top, left, rh, rw


def preview_region(model, image: np.ndarray, box: tuple[int, int, int, int], level: NoiseLevel,
                   noise: NoiseConfig | None = None, context: int = CONTEXT) -> Preview:
    """The model's output on `box` of `image` (the noisy image; or the clean one with `noise` to add to
    the region alone), told `level`, seeing `context` pixels around the box."""
    top, left, rh, rw = box
    h, w = image.shape[:2]
    y0, x0 = max(0, top - context), max(0, left - context)
    y1, x1 = min(h, top + rh + context), min(w, left + rw + context)
    crop = np.asarray(image[y0:y1, x0:x1], dtype=np.float32)
    if noise is not None and noise.adds_noise:
        crop = add_noise(crop, noise)
    out = denoise_tiled(model, crop, noise_level=level)
    inner = (slice(top - y0, top - y0 + rh), slice(left - x0, left - x0 + rw))
    return Preview(box, crop[inner].copy(), np.asarray(out[inner], dtype=np.float32).copy(), level)


def prepare(pixels: np.ndarray, noise: NoiseConfig, previous: PreviewState | None,
            state: JobState | None = None) -> PreviewState:
    """The estimate of the image and the noisy image with its noise level, reused from `previous` where
    they are for the same image and noise."""
    state = state or JobState()
    kept = previous if previous is not None and previous.image is pixels else PreviewState(image=pixels)
    if kept.estimate is None:
        kept = replace(kept, estimate=estimate_noise_level(pixels))
        state.emit(Estimated(kept.estimate))
    if kept.noise != noise or kept.level is None:
        if not noise.adds_noise:
            kept = replace(kept, noise=noise, noisy=None, level=kept.estimate)
        elif np.shape(pixels)[0] * np.shape(pixels)[1] <= MAX_NOISY_PIXELS:
            state.note(f"Adding noise ({noise.describe()})…")
            noisy = add_noise(pixels, noise)
            kept = replace(kept, noise=noise, noisy=noisy, level=default_noise_level(noisy, noise))
        else:  # the level of noise added to a large image: known for Gaussian, else from one noisy region
            top, left, rh, rw = region_box(np.shape(pixels), None, 512)
            sample = add_noise(pixels[top:top + rh, left:left + rw], noise)
            kept = replace(kept, noise=noise, noisy=None, level=default_noise_level(sample, noise))
    return kept


def load_preview_model(channels: int, state: JobState | None = None):
    """The bundled model for `channels`-channel images, loaded once per process while its file is unchanged
    (the previews run one at a time); ModelError when it is missing or does not take a noise level."""
    from engine.denoise.pipeline import load_bundled_denoiser
    from engine.models.guards import takes_noise_level

    path = bundled_denoiser_path(channels)
    if not path.is_file():  # said before TensorFlow is imported
        raise ModelError(f"The bundled denoiser {path.name} is missing from {path.parent}, so there is no preview. "
                         f"Recreate it with `python tools/train_denoiser.py --channels {channels}`.")
    stamp = (str(path), path.stat().st_mtime)
    with _loading:
        if stamp not in _models:
            (state or JobState()).note("Loading the bundled denoiser…")
            model = load_bundled_denoiser(channels)
            if not takes_noise_level(model):
                raise ModelError(f"The bundled denoiser {path.name} does not take a noise level, so its strength "
                                 "cannot be set.")
            for old in [k for k in _models if k[0] == stamp[0]]:
                del _models[old]
            _models[stamp] = model
        return _models[stamp]


def run_preview(pixels: np.ndarray, noise: NoiseConfig, strength: float, centre: tuple[float, float] | None,
                previous: PreviewState | None = None, size: int | tuple[int, int] = REGION,
                state: JobState | None = None) -> tuple[PreviewState, Preview]:
    """Estimate the image's noise (an Estimated event, once per image), add the noise to add (once per
    setting), load the bundled model (once), and denoise the region around `centre` at `strength`.
    (engine.jobs.denoise_preview_job runs it in the background.)"""
    state = state or JobState()
    kept = prepare(pixels, noise, previous, state)
    state.check("Stopped before the preview.")
    channels = 1 if np.ndim(pixels) == 2 else np.shape(pixels)[-1]
    model = load_preview_model(channels, state)
    state.check("Stopped before the preview.")
    box = region_box(np.shape(pixels), centre, size)
    source = kept.noisy if kept.noisy is not None else pixels
    added = noise if noise.adds_noise and kept.noisy is None else None
    return kept, preview_region(model, source, box, kept.level.with_strength(strength), added)
