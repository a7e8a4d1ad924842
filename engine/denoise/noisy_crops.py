"""What self-supervised denoising trains on (engine.denoise.selfsupervised): noisy images read from a folder at
full resolution, each image's noise level, random crops with flips and quarter turns, and the fixed crops
shown after every epoch. No TensorFlow."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from engine.core.errors import ConfigError, DataError, ImageError
from engine.core.jobs import JobState
from engine.denoise.noise_level import NoiseLevel, estimate_noise_level

LEVELS = 3  # the U-Net's down-sampling steps: the images it sees must be multiples of 2 ** LEVELS
MIN_PATCH = 32
MAX_BYTES = 4 << 30  # the images read at full size may fill at most 4 GiB


def multiple() -> int:
    """Training crops are multiples of this (their half goes through the U-Net)."""
    return 2 * 2 ** LEVELS


def read_noisy_images(folder: str | Path, color: str = "grey", max_files: int = 2000,
                      state: JobState | None = None) -> tuple[list[np.ndarray], list[str], list[str]]:
    """Every readable image under `folder` at full resolution, grey or RGB: (images, names, skipped).
    Unreadable files are skipped with their reason. DataError when no image can be used."""
    from engine.data.images import IMAGE_SUFFIXES, read_image

    folder, state = Path(folder), state or JobState()
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder. Choose the folder that holds your noisy images.")
    if color not in ("grey", "rgb"):
        raise DataError(f"color must be 'grey' or 'rgb', got {color!r}.")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())[:max_files]
    images, names, skipped, size = [], [], [], 0
    for path in files:
        state.check(f"Stopped while reading the images in {folder}.")
        name = path.relative_to(folder).as_posix()
        try:
            loaded = read_image(path, mode=color)
        except ImageError as exc:
            skipped.append(f"{name}: {exc.reason}")
            continue
        pixels = loaded.pixels if loaded.alpha is None else loaded.pixels * loaded.alpha[..., None]
        if min(pixels.shape[:2]) < MIN_PATCH:
            skipped.append(f"{name}: {pixels.shape[1]}x{pixels.shape[0]} is smaller than {MIN_PATCH}x{MIN_PATCH}")
            continue
        size += pixels.nbytes
        if size > MAX_BYTES:
            raise DataError(f"The images in {folder} need more than {MAX_BYTES >> 30} GiB of memory at full size "
                            f"(reached at {name}, the {len(images) + 1}th). Train on fewer or smaller images.")
        images.append(pixels)
        names.append(name)
    state.progress(len(files), len(files), f"Read {len(images)} image(s) in {folder.name}")
    if not images:
        why = f" ({'; '.join(skipped[:3])}{'; ...' if len(skipped) > 3 else ''})" if skipped else ""
        raise DataError(f"{folder} has no usable image{why}. Choose a folder of PNG, JPEG, TIFF or BMP images of at "
                        f"least {MIN_PATCH}x{MIN_PATCH} pixels.")
    return images, names, skipped


def as_images(images: Sequence[np.ndarray]) -> list[np.ndarray]:
    """(H, W, C) float32 copies; ConfigError when the images are missing, mixed or too small."""
    out = []
    for image in images:
        image = np.asarray(image, dtype=np.float32)
        out.append(image[..., None] if image.ndim == 2 else image)
    if not out:
        raise ConfigError("Give at least one noisy image to train on.")
    if any(im.ndim != 3 for im in out) or len({im.shape[-1] for im in out}) != 1:
        raise ConfigError("The images must all be grey or all colour, as (height, width[, channels]) arrays.")
    if max(min(im.shape[:2]) for im in out) < MIN_PATCH:
        raise ConfigError(f"The images are too small to train on: at least one must be {MIN_PATCH}x{MIN_PATCH}.")
    if any(not np.isfinite(im).all() for im in out):
        raise ConfigError("An image holds NaN or infinite values.")
    return out


def usable_patch(images: Sequence[np.ndarray], patch: int) -> tuple[int, list[int]]:
    """The crop side (`patch` rounded down to a multiple, smaller when no image is that large) and the
    indices of the images that hold such a crop."""
    side = max(MIN_PATCH, patch - patch % multiple())
    largest = max(min(im.shape[:2]) for im in images)
    side = min(side, largest - largest % multiple())
    return side, [i for i, im in enumerate(images) if min(im.shape[:2]) >= side]


def image_levels(images: Sequence[np.ndarray], sigma: float | None = None) -> list[NoiseLevel]:
    """The noise level of each image: white Gaussian of the known `sigma` (0-1 scale), or each image's own
    estimate (engine.denoise.noise_level: Gaussian or signal-dependent)."""
    if sigma is not None:
        return [NoiseLevel.gaussian(float(sigma)) for _ in images]
    return [estimate_noise_level(im) for im in images]


class Crops:
    """Random square crops of the images (weighted by their area) with random flips and quarter turns, and
    their noise-level maps (each pixel's noise std: what the U-Net is told)."""

    def __init__(self, images: Sequence[np.ndarray], levels: Sequence[NoiseLevel], side: int):
        self.images, self.side = list(images), side
        self.levels = [level.for_channels(im.shape[-1]) for im, level in zip(self.images, levels)]
        areas = np.array([im.shape[0] * im.shape[1] for im in self.images], dtype=np.float64)
        self.weights = areas / areas.sum()

    def sample(self, rng: np.random.Generator, n: int, augment: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(noisy crops, their level maps), each (n, side, side, channels) float32."""
        crops, levels = [], []
        for i in rng.choice(len(self.images), size=n, p=self.weights):
            image = self.images[i]
            y, x = rng.integers(0, image.shape[0] - self.side + 1), rng.integers(0, image.shape[1] - self.side + 1)
            crop = image[y:y + self.side, x:x + self.side]
            if augment:
                crop = np.rot90(crop[:, ::-1] if rng.random() < 0.5 else crop, k=int(rng.integers(4)))
            crops.append(crop)
            levels.append(self.levels[i].map(crop))
        return np.stack(crops).astype(np.float32), np.stack(levels).astype(np.float32)


def preview_crops(images: Sequence[np.ndarray], levels: Sequence[NoiseLevel], count: int, size: int,
                  references: Sequence[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fixed crops to show after every epoch: (noisy, level maps, clean or else noisy), one per image from its
    centre (then more across the first image), all `size` pixels or smaller, a multiple of 2 ** LEVELS."""
    side = min([size] + [min(im.shape[:2]) for im in images])
    side -= side % 2 ** LEVELS
    spots = [(i, 0.5, 0.5) for i in range(min(count, len(images)))]
    spots += [(0, (k + 1) / (count - len(spots) + 1), 0.3) for k in range(count - len(spots))]
    noisy, maps, clean = [], [], []
    for i, fy, fx in spots:
        y, x = int(fy * (images[i].shape[0] - side)), int(fx * (images[i].shape[1] - side))
        window = (slice(y, y + side), slice(x, x + side))
        noisy.append(images[i][window])
        maps.append(levels[i].for_channels(noisy[-1].shape[-1]).map(noisy[-1]))
        clean.append(np.reshape((references[i] if references is not None else images[i])[window], noisy[-1].shape))
    return tuple(np.stack(a).astype(np.float32) for a in (noisy, maps, clean))
