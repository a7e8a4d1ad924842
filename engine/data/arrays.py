"""Array files: NumPy .npy and .npz (never unpickled), turned into a Dataset."""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from engine.core.errors import DataError
from engine.core.fileio import available_memory, file_problem, size_text
from engine.data.dataset import Dataset, _scale, check_labels, split


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """All arrays of an .npz, refusing pickles; DataError on any problem."""
    _check_file(path)
    _check_numpy_magic(path)
    _check_npz_headers(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except ValueError as exc:
        raise _value_error(path, exc, "Download or save it again.") from exc
    except (OSError, EOFError, KeyError) as exc:
        raise DataError(f"{path.name} is truncated or corrupt ({exc}). Download or save it again.") from exc
    except Exception as exc:  # zipfile.BadZipFile, zlib.error, ...
        raise DataError(f"{path.name} is truncated or corrupt ({type(exc).__name__}: {exc}). "
                        "Download or save it again.") from exc


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


def _check_file(path: Path) -> None:
    problem = file_problem(path)
    if problem:
        raise DataError(f"{problem} Choose a NumPy .npy or .npz file.")


def _check_header(f, data_bytes: int, name: str, memory: int | None) -> None:
    """Read the .npy header at f and refuse, before anything is allocated: object arrays, a header that
    promises more data than follows (damaged, or made to exhaust memory), or more than free memory holds
    (the array plus its float32 copy)."""
    try:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(f)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"{name} is damaged: its header cannot be read ({exc}). Save it again with np.save.") from exc
    if dtype.hasobject:
        raise DataError(_pickle_message(name))
    count = 1
    for n in shape:
        count *= int(n)
    nbytes = count * dtype.itemsize
    if nbytes > data_bytes - f.tell():
        raise DataError(f"{name} is damaged: its header promises an array of shape {tuple(shape)} ({dtype}, "
                        f"{size_text(nbytes)}) but the file holds {size_text(max(0, data_bytes - f.tell()))} of "
                        f"data. Save it again with np.save.")
    needed = nbytes + count * 4
    if memory is not None and needed > memory:
        raise DataError(f"{name} holds an array of shape {tuple(shape)} ({size_text(nbytes)}); loading it needs "
                        f"about {size_text(needed)} but {size_text(memory)} of memory is free. Use a part of the "
                        f"data (fewer samples), or free memory and try again.")


def _check_npz_headers(path: Path) -> None:
    memory = available_memory()
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.filename.endswith(".npy"):
                    with archive.open(info) as member:
                        _check_header(member, info.file_size, f"{path.name} ({info.filename})", memory)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise DataError(f"{path.name} is truncated or corrupt ({type(exc).__name__}: {exc}). "
                        "Download or save it again.") from exc


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


def _pickle_message(name: str) -> str:
    return (f"{name} contains pickled Python objects, which we do not load because unpickling can run arbitrary "
            "code. Convert it to a plain numeric array, e.g. np.save('data.npy', np.asarray(x, dtype='float32')).")


def _pickle_error(path: Path) -> DataError:
    return DataError(_pickle_message(path.name))


def _value_error(path: Path, exc: ValueError, what_to_do: str) -> DataError:
    """NumPy's ValueError from np.load: object arrays (its message names allow_pickle) or a damaged file."""
    if "pickle" in str(exc):
        return _pickle_error(path)
    return DataError(f"{path.name} is damaged ({exc}). {what_to_do}")


def _load_npy(path: Path) -> dict[str, np.ndarray]:
    _check_file(path)
    _check_numpy_magic(path)
    try:
        with open(path, "rb") as f:
            _check_header(f, os.fstat(f.fileno()).st_size, path.name, available_memory())
    except OSError as exc:
        raise DataError(f"Cannot read {path.name}: {exc}. Check the file and its permissions.") from exc
    try:
        return {"x": np.load(path, allow_pickle=False)}
    except ValueError as exc:
        raise _value_error(path, exc, "Save it again with np.save.") from exc
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


def _scale_together(x_train: np.ndarray, x_val: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """Scale both parts with the same factors so they stay comparable."""
    both, note = _scale(np.concatenate([x_train.reshape(len(x_train), -1), x_val.reshape(len(x_val), -1)]))
    return both[: len(x_train)].reshape(x_train.shape), both[len(x_train):].reshape(x_val.shape), note


ARRAY_SUFFIXES = (".npy", ".npz")
