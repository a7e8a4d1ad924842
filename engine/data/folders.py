"""Folders of images: every image resized to one size (a Dataset, subfolders as classes), or random
full-resolution patches of them (for denoisers). Unreadable files are skipped and listed."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from engine.core.errors import DataError, ImageError
from engine.core.jobs import JobState
from engine.data import images
from engine.data.dataset import Dataset, split


_MAX_DATASET_BYTES = 8 << 30  # refuse image folders that would need more than 8 GiB


def load_image_folder(
    folder: str | os.PathLike,
    *,
    size: tuple[int, int] = (28, 28),
    color: str = "grey",
    validation_fraction: float = 0.1,
    seed: int = 0,
    max_files: int = 20000,
    state: JobState | None = None,
) -> Dataset:
    """Read every image under `folder` (recursively), resized to size=(h, w), grey or RGB.

    Unreadable files are skipped and listed in `skipped`. If the folder holds only
    subfolders (two or more) with images, each subfolder is a class: y = class index.
    Transparent pixels are composited over black. With `state`: progress, and Stopped when asked to stop.
    """
    found = read_image_files(folder, size=size, color=color, max_files=max_files, state=state, minimum=2)
    x_train, y_train, x_val, y_val = split(found.x, found.y, validation_fraction, seed)
    return Dataset(x_train, x_val, y_train, y_val, found.source, found.skipped, found.class_names)


@dataclass(frozen=True)
class ImageFiles:
    """Every readable image of a folder, in file-name order."""

    x: np.ndarray  # (n, h, w, c) float32 in [0, 1]
    names: tuple[str, ...]  # paths relative to the folder
    y: np.ndarray | None  # class index per image when subfolders are classes
    class_names: tuple[str, ...]
    skipped: tuple[str, ...]
    source: str


def read_image_files(folder: str | os.PathLike, *, size: tuple[int, int] = (28, 28), color: str = "grey",
                     max_files: int = 20000, state: JobState | None = None, minimum: int = 1) -> ImageFiles:
    """Read the images under `folder` (recursively, unsplit); see load_image_folder."""
    folder = Path(folder)
    _check_folder_args(folder, size, color)
    files, class_names, labels = _list_images(folder)
    total = len(files)
    if total > max_files:
        files, labels = files[:max_files], labels[:max_files]
    _check_memory(len(files), size, color)
    pixels, kept, skipped = _read_all(folder, files, lambda path: _read_one(path, size, color), state)
    if len(pixels) < minimum:
        raise _no_images_error(folder, len(pixels), skipped)
    y = np.asarray([labels[i] for i in kept], dtype=np.int64) if class_names else None
    source = f"Images from {folder}" + (f" (first {max_files} of {total} files)" if total > max_files else "")
    names = tuple(files[i].relative_to(folder).as_posix() for i in kept)
    return ImageFiles(np.stack(pixels).astype(np.float32), names, y, class_names, tuple(skipped), source)


def _check_folder_args(folder: Path, size: tuple[int, int], color: str) -> None:
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder. Choose the folder that holds your images.")
    if color not in ("grey", "rgb"):
        raise DataError(f"color must be 'grey' or 'rgb', got {color!r}.")
    if len(size) != 2 or any(int(s) < 1 or int(s) > 4096 for s in size):
        raise DataError(f"Image size must be two numbers from 1 to 4096 (height, width), got {size!r}.")


def _check_memory(n: int, size: tuple[int, int], color: str) -> None:
    needed = n * int(size[0]) * int(size[1]) * (3 if color == "rgb" else 1) * 4
    if needed > _MAX_DATASET_BYTES:
        raise DataError(f"{n} images of {size[0]}x{size[1]} would need {needed / 2**30:.1f} GiB of memory. "
                        "Choose a smaller image size or fewer files (max_files).")


def _list_images(folder: Path) -> tuple[list[Path], tuple[str, ...], list[int]]:
    """All image files, plus class names and per-file labels when subfolders are classes."""
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in images.IMAGE_SUFFIXES and p.is_file())
    top_level = [p for p in files if p.parent == folder]
    classes = sorted({p.relative_to(folder).parts[0] for p in files if p.parent != folder})
    if top_level or len(classes) < 2:
        return files, (), [0] * len(files)
    index = {name: i for i, name in enumerate(classes)}
    return files, tuple(classes), [index[p.relative_to(folder).parts[0]] for p in files]


def _read_all(
    folder: Path, files: Sequence[Path], read: Callable[[Path], np.ndarray], state: JobState | None
) -> tuple[list[np.ndarray], list[int], list[str]]:
    """`read(path)` for every file; unreadable ones are skipped with their reason."""
    pixels: list[np.ndarray] = []
    kept: list[int] = []
    skipped: list[str] = []
    state = state or JobState()
    for i, path in enumerate(files):
        state.check(f"Stopped while reading the images in {folder}.")
        try:
            pixels.append(read(path))
            kept.append(i)
        except ImageError as exc:
            skipped.append(f"{path.relative_to(folder).as_posix()}: {exc.reason}")
        if i % 100 == 99 or i == len(files) - 1:
            state.progress(i + 1, len(files), f"Reading images in {folder.name}")
    return pixels, kept, skipped


def _read_one(path: Path, size: tuple[int, int], color: str) -> np.ndarray:
    return images.resize_pixels(_composited(path, color), (int(size[0]), int(size[1])))


def _composited(path: Path, color: str) -> np.ndarray:
    image = images.read_image(path, mode=color)
    return image.pixels if image.alpha is None else image.pixels * image.alpha[..., None]


def load_patches(
    folder: str | os.PathLike,
    *,
    patch: int = 40,
    color: str = "grey",
    per_image: int = 32,
    validation_fraction: float = 0.1,
    seed: int = 0,
    max_files: int = 20000,
    state: JobState | None = None,
) -> Dataset:
    """Random patch x patch crops of every image under `folder`, at full resolution (for denoisers).

    Validation patches come from other images than training patches when there are two or more.
    """
    folder = Path(folder)
    _check_folder_args(folder, (patch, patch), color)
    files = _list_images(folder)[0][:max_files]
    _check_memory(len(files) * per_image, (patch, patch), color)
    rng = np.random.default_rng(seed)

    def crops(path: Path) -> np.ndarray:
        image = _composited(path, color)
        height, width = image.shape[:2]
        if height < patch or width < patch:
            raise ImageError(f"{path.name} is smaller than a patch", path=path,
                                    reason=f"{width}x{height} is smaller than the {patch}x{patch} patch")
        ys, xs = rng.integers(0, height - patch + 1, per_image), rng.integers(0, width - patch + 1, per_image)
        return np.stack([image[y:y + patch, x:x + patch] for y, x in zip(ys, xs)])

    stacks, _kept, skipped = _read_all(folder, files, crops, state)
    if not stacks:
        raise _no_images_error(folder, 0, skipped)
    if len(stacks) >= 2:  # split by image, so validation measures images the model never saw
        index = np.arange(len(stacks))
        train_idx, _, val_idx, _ = split(index, None, validation_fraction, seed)
        x_train = np.concatenate([stacks[i] for i in train_idx]).astype(np.float32)
        x_val = np.concatenate([stacks[i] for i in val_idx]).astype(np.float32)
    else:
        x_train, _, x_val, _ = split(stacks[0].astype(np.float32), None, validation_fraction, seed)
    source = f"{patch}x{patch} patches ({per_image} per image) from {len(stacks)} image(s) in {folder}"
    return Dataset(x_train, x_val, None, None, source, tuple(skipped))


def _no_images_error(folder: Path, readable: int, skipped: list[str]) -> DataError:
    if not skipped and not readable:
        return DataError(f"{folder} has no image files ({', '.join(images.IMAGE_SUFFIXES)}), also not in "
                         "subfolders. Choose a folder with images.")
    found = "No readable image" if not readable else "Only 1 readable image (at least 2 are needed)"
    first = "; ".join(skipped[:3]) + ("; ..." if len(skipped) > 3 else "")
    why = f": {len(skipped)} image file(s) were skipped ({first})" if skipped else ""
    return DataError(f"{found} in {folder}{why}. Check the files or choose a folder with more images.")
