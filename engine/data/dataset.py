"""Datasets: the Dataset type, image folders and array files (MNIST lives in engine.data.mnist).

Every loader returns a `Dataset` whose images are float32 in [0, 1] shaped (n, h, w, c)
(table data stays (n, d)). Problems the user can fix raise `DataError`, whose message says
what was wrong and what to do. Nothing here imports TensorFlow.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from engine.data import images
from engine.core.events import EventCallback, Progress, ignore_event

ARRAY_SUFFIXES = (".npy", ".npz")
_MAX_DATASET_BYTES = 8 << 30  # refuse image folders that would need more than 8 GiB


class DataError(ValueError):
    """A dataset cannot be loaded; the message says what was wrong and what to do."""


@dataclass(frozen=True)
class Dataset:
    """Training and validation samples plus where they came from."""

    x_train: np.ndarray
    x_val: np.ndarray
    y_train: np.ndarray | None = None
    y_val: np.ndarray | None = None
    source: str = ""
    skipped: tuple[str, ...] = ()  # "file name: reason" for each file left out
    class_names: tuple[str, ...] = ()

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Shape of one sample, e.g. (28, 28, 1) or (784,)."""
        return tuple(int(d) for d in self.x_train.shape[1:])

    @property
    def is_image(self) -> bool:
        """True for (n, h, w, c) image data, False for (n, d) table data."""
        return self.x_train.ndim == 4

    def summary(self) -> str:
        """One line: source, sample counts and sample shape (plus skipped files, if any)."""
        shape = "x".join(str(d) for d in self.sample_shape)
        text = (f"{self.source}: {len(self.x_train)} training + {len(self.x_val)} validation "
                f"samples of {shape}")
        if self.skipped:
            text += f"; {len(self.skipped)} file(s) skipped"
        return text


# --------------------------------------------------------------------------- helpers

def split(
    x: np.ndarray, y: np.ndarray | None, validation_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray | None]:
    """Shuffle deterministically and split into (x_train, y_train, x_val, y_val).

    Each part gets at least one sample; needs n >= 2.
    """
    n = len(x)
    if n < 2:
        raise DataError(f"Need at least 2 samples to make a training and a validation part, got {n}. "
                        "Add more data.")
    if not 0.0 <= validation_fraction < 1.0:
        raise DataError(f"validation_fraction must be in [0, 1), got {validation_fraction}.")
    if y is not None and len(y) != n:
        raise DataError(f"There are {n} samples but {len(y)} labels; they must match.")
    order = np.random.default_rng(seed).permutation(n)
    n_val = min(max(int(round(n * validation_fraction)), 1), n - 1)
    val, train = np.sort(order[:n_val]), order[n_val:]
    pick = (lambda idx: None) if y is None else (lambda idx: y[idx])
    return x[train], pick(train), x[val], pick(val)


def to_unit_float(x: np.ndarray) -> np.ndarray:
    """Scale an array to float32 in [0, 1].

    uint8 / 255, uint16 / 65535, bool -> 0/1. Anything else must be finite: values already
    in [0, 1] are kept, non-negative values are divided by the maximum, and data with
    negative values is stretched from min..max to [0, 1]. NaN or inf raise DataError.
    """
    return _scale(np.asarray(x))[0]


def _scale(x: np.ndarray) -> tuple[np.ndarray, str]:
    """to_unit_float plus a note saying how the values were scaled ('' for the usual cases)."""
    if x.dtype == np.uint8:
        return (x.astype(np.float32) / np.float32(255.0)), ""
    if x.dtype == np.uint16:
        return (x.astype(np.float32) / np.float32(65535.0)), ""
    if x.dtype == np.bool_:
        return x.astype(np.float32), ""
    if x.dtype.kind not in "iuf":
        raise DataError(f"Array has data type {x.dtype}, not numbers. Save it as a numeric array "
                        "(e.g. float32 or uint8).")
    values = x.astype(np.float64, copy=False)
    bad = int(np.count_nonzero(~np.isfinite(values))) if x.dtype.kind == "f" else 0
    if bad:
        raise DataError(f"The data contains {bad} NaN or infinite value(s). Clean or replace them "
                        "(e.g. np.nan_to_num) and save the file again.")
    if values.size == 0:
        return values.astype(np.float32), ""
    low, high = float(values.min()), float(values.max())
    if low >= 0 and high <= 1:
        return values.astype(np.float32), ""
    if low >= 0:
        return (values / high).astype(np.float32), f"values 0..{high:g} divided by {high:g}"
    span = (high - low) or 1.0
    return ((values - low) / span).astype(np.float32), f"values {low:g}..{high:g} scaled to 0..1"


def _as_images(x: np.ndarray, what: str) -> np.ndarray:
    """(n, h, w) -> (n, h, w, 1); (n, d) and (n, h, w, c) with c in 1, 3, 4 pass."""
    if x.ndim == 3:
        return x[..., None]
    if x.ndim == 2:
        return x
    if x.ndim == 4 and x.shape[-1] in (1, 3, 4):
        return x
    if x.ndim == 4 and x.shape[1] in (1, 3, 4):
        raise DataError(f"{what} is shaped {x.shape}, which looks like channels-first (n, c, h, w). "
                        "Save it channels-last (n, h, w, c), e.g. with np.moveaxis(x, 1, -1).")
    if x.ndim == 4:
        raise DataError(f"{what} is shaped {x.shape}; images need 1 (grey), 3 (RGB) or 4 (RGBA) "
                        "channels in the last axis.")
    raise DataError(f"{what} is shaped {x.shape}; expected samples along axis 0 as (n, features), "
                    "(n, height, width) or (n, height, width, channels).")


def check_labels(y: np.ndarray | None, n: int, what: str) -> np.ndarray:
    """Validate labels: n integers (a (n, 1) column is flattened)."""
    if y is None:
        raise DataError(f"{what}: labels are missing.")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or len(y) != n:
        raise DataError(f"{what}: labels are shaped {y.shape} but there are {n} samples; "
                        f"labels must be one integer per sample, shaped ({n},).")
    if y.dtype.kind not in "iub" and not (y.dtype.kind == "f" and np.all(np.mod(y, 1) == 0)):
        raise DataError(f"{what}: labels must be whole numbers (class indices), got {y.dtype}.")
    return y.astype(np.int64)


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """All arrays of an .npz, refusing pickles; DataError on any problem."""
    if not path.is_file():
        raise DataError(f"{path} does not exist or is not a file.")
    _check_numpy_magic(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except ValueError as exc:
        if "pickle" in str(exc):
            raise _pickle_error(path) from exc
        raise DataError(f"{path.name} is damaged ({exc}). Download or save it again.") from exc
    except (OSError, EOFError, KeyError) as exc:
        raise DataError(f"{path.name} is truncated or corrupt ({exc}). Download or save it again.") from exc
    except Exception as exc:  # zipfile.BadZipFile, zlib.error, ...
        raise DataError(f"{path.name} is truncated or corrupt ({type(exc).__name__}: {exc}). "
                        "Download or save it again.") from exc


# --------------------------------------------------------------------------- image folders

def load_image_folder(
    folder: str | os.PathLike,
    *,
    size: tuple[int, int] = (28, 28),
    color: str = "grey",
    validation_fraction: float = 0.1,
    seed: int = 0,
    max_files: int = 20000,
    on_event: EventCallback = ignore_event,
) -> Dataset:
    """Read every image under `folder` (recursively), resized to size=(h, w), grey or RGB.

    Unreadable files are skipped and listed in `skipped`. If the folder holds only
    subfolders (two or more) with images, each subfolder is a class: y = class index.
    Transparent pixels are composited over black. Progress events go to `on_event`.
    """
    found = read_image_files(folder, size=size, color=color, max_files=max_files, on_event=on_event, minimum=2)
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
                     max_files: int = 20000, on_event: EventCallback = ignore_event, minimum: int = 1) -> ImageFiles:
    """Read the images under `folder` (recursively, unsplit); see load_image_folder."""
    folder = Path(folder)
    _check_folder_args(folder, size, color)
    files, class_names, labels = _list_images(folder)
    total = len(files)
    if total > max_files:
        files, labels = files[:max_files], labels[:max_files]
    _check_memory(len(files), size, color)
    pixels, kept, skipped = _read_all(folder, files, lambda path: _read_one(path, size, color), on_event)
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
    folder: Path, files: Sequence[Path], read: Callable[[Path], np.ndarray], on_event: EventCallback
) -> tuple[list[np.ndarray], list[int], list[str]]:
    """`read(path)` for every file; unreadable ones are skipped with their reason."""
    pixels: list[np.ndarray] = []
    kept: list[int] = []
    skipped: list[str] = []
    for i, path in enumerate(files):
        try:
            pixels.append(read(path))
            kept.append(i)
        except images.ImageError as exc:
            skipped.append(f"{path.relative_to(folder).as_posix()}: {exc.reason}")
        if i % 100 == 99 or i == len(files) - 1:
            on_event(Progress(i + 1, len(files), f"Reading images in {folder.name}"))
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
    on_event: EventCallback = ignore_event,
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
            raise images.ImageError(f"{path.name} is smaller than a patch", path=path,
                                    reason=f"{width}x{height} is smaller than the {patch}x{patch} patch")
        ys, xs = rng.integers(0, height - patch + 1, per_image), rng.integers(0, width - patch + 1, per_image)
        return np.stack([image[y:y + patch, x:x + patch] for y, x in zip(ys, xs)])

    stacks, _kept, skipped = _read_all(folder, files, crops, on_event)
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


# --------------------------------------------------------------------------- array files

def load_array_file(path: str | os.PathLike, *, validation_fraction: float = 0.1, seed: int = 0) -> Dataset:
    """Load samples from .npy (samples along axis 0) or .npz.

    .npz keys: x_train/y_train/x_test/y_test (x_val/y_val also accepted), or x/y, or a
    single array. Without a test part the data is split by `validation_fraction`.
    Pickled (object) arrays are refused.
    """
    path = Path(path)
    if path.suffix.lower() not in ARRAY_SUFFIXES:
        raise DataError(f"{path.name}: unsupported file type {path.suffix or '(none)'!r}. Choose a NumPy "
                        ".npy or .npz file, or use an image folder.")
    arrays = _load_npy(path) if path.suffix.lower() == ".npy" else load_npz(path)
    x, y, x_val, y_val = _pick_arrays(arrays, path.name)
    notes: list[str] = []
    x, y = _prepare(x, y, f"{path.name}", notes)
    if x_val is None:
        x_train, y_train, x_val, y_val = split(x, y, validation_fraction, seed)
    else:
        x_val, y_val = _prepare(x_val, y_val, f"{path.name} (test part)", notes)
        x_train, y_train = x, y
        if x_val.shape[1:] != x_train.shape[1:]:
            raise DataError(f"{path.name}: training samples are {x_train.shape[1:]} but test samples are "
                            f"{x_val.shape[1:]}; they must have the same shape.")
    x_train, x_val, note = _scale_together(x_train, x_val)
    notes += [note] if note else []
    source = f"Arrays from {path}" + (f" ({'; '.join(notes)})" if notes else "")
    return Dataset(x_train, x_val, y_train, y_val, source)


def _check_numpy_magic(path: Path) -> None:
    try:
        with open(path, "rb") as f:
            head = f.read(6)
    except OSError as exc:
        raise DataError(f"Cannot read {path.name}: {exc}. Check the file and its permissions.") from exc
    if not head:
        raise DataError(f"{path.name} is empty (0 bytes). Choose another file.")
    if head[:1] == b"\x80":
        raise _pickle_error(path)
    if head != b"\x93NUMPY" and head[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise DataError(f"{path.name} is not a NumPy .npy/.npz file. Save your data with np.save or np.savez.")


def _pickle_error(path: Path) -> DataError:
    return DataError(f"{path.name} contains pickled Python objects, which we do not load because unpickling "
                     "can run arbitrary code. Convert it to a plain numeric array, e.g. "
                     "np.save('data.npy', np.asarray(x, dtype='float32')).")


def _load_npy(path: Path) -> dict[str, np.ndarray]:
    _check_numpy_magic(path)
    try:
        return {"x": np.load(path, allow_pickle=False)}
    except ValueError as exc:
        if "pickle" in str(exc) or "object" in str(exc).lower():
            raise _pickle_error(path) from exc
        raise DataError(f"{path.name} is damaged ({exc}). Save it again with np.save.") from exc
    except (OSError, EOFError) as exc:
        raise DataError(f"{path.name} is truncated or corrupt ({exc}). Save it again with np.save.") from exc


def _pick_arrays(arrays: dict[str, np.ndarray], name: str) -> tuple:
    """-> (x, y, x_val, y_val) from the known key layouts."""
    get = arrays.get
    if "x_train" in arrays:
        return get("x_train"), get("y_train"), _first(arrays, "x_test", "x_val"), _first(arrays, "y_test", "y_val")
    if "x" in arrays:
        return get("x"), get("y"), None, None
    if len(arrays) == 1:
        return next(iter(arrays.values())), None, None, None
    raise DataError(f"{name} holds arrays {', '.join(arrays) or '(none)'}; expected x_train (with optional "
                    "y_train, x_test, y_test), or x (with optional y), or a single array.")


def _first(arrays: dict[str, np.ndarray], *keys: str) -> np.ndarray | None:
    return next((arrays[k] for k in keys if k in arrays), None)


def _prepare(x: np.ndarray, y: np.ndarray | None, what: str, notes: list[str]) -> tuple:
    """Shape-check samples; labels that do not fit are dropped with a note."""
    x = np.asarray(x)
    if x.ndim == 0 or len(x) == 0:
        raise DataError(f"{what} holds no samples (shape {x.shape}). Save samples along axis 0.")
    x = _as_images(x, what)
    if y is None:
        return x, None
    try:
        return x, check_labels(y, len(x), what)
    except DataError as exc:
        notes.append(f"labels ignored: {exc}")
        return x, None


def _scale_together(x_train: np.ndarray, x_val: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """Scale both parts with the same factors so they stay comparable."""
    both, note = _scale(np.concatenate([x_train.reshape(len(x_train), -1), x_val.reshape(len(x_val), -1)]))
    return both[: len(x_train)].reshape(x_train.shape), both[len(x_train):].reshape(x_val.shape), note
