"""MNIST from, in order: a file the user picked (Keras' mnist.npz or the four IDX files),
Keras' cache, a download the user asked for, and the embedded subset in resources/."""
from __future__ import annotations

import gzip
import io
import os
import re
from pathlib import Path

import numpy as np

from engine.core.errors import DataError
from engine.core.resources import EMBEDDED_MNIST, RESOURCES
from engine.data.arrays import load_npz
from engine.data.dataset import Dataset, check_labels, to_unit_float

MNIST_KEYS = ("x_train", "y_train", "x_test", "y_test")
IDX_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
_IDX_NAME = re.compile(r"^(train|t10k)-(images|labels)[-.]idx([13])-ubyte(\.gz)?$", re.IGNORECASE)
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_MAX_GZIP_BYTES = 1 << 30  # refuse to inflate more than 1 GiB from one IDX file


def default_keras_cache() -> Path:
    """Where Keras keeps mnist.npz (KERAS_HOME or ~/.keras)."""
    home = os.environ.get("KERAS_HOME") or str(Path.home() / ".keras")
    return Path(home) / "datasets" / "mnist.npz"


def load_mnist(
    path: str | os.PathLike | None = None,
    *,
    allow_download: bool = False,
    cache_path: str | os.PathLike | None = None,
    embedded_path: str | os.PathLike | None = None,
) -> Dataset:
    """Load MNIST as (n, 28, 28, 1) float32; the test split becomes the validation part.

    Sources in order: `path` (the user's .npz or IDX file/folder: a broken one raises),
    Keras' cache, a Keras download (only if `allow_download`), the embedded subset.
    `Dataset.source` names the source used and, after a fallback, why.
    """
    if path is not None:
        return _mnist_from_user(Path(path))
    reasons: list[str] = []
    cache = Path(cache_path) if cache_path is not None else default_keras_cache()
    found = _try_keras_cache(cache, reasons)
    if found is None and allow_download:
        found = _try_download(reasons)
    elif found is None:
        reasons.append("full download not requested")
    if found is None:
        found = _try_embedded(Path(embedded_path) if embedded_path else EMBEDDED_MNIST, reasons)
    arrays, source = found
    return _mnist_dataset(arrays, source + (" — " + "; ".join(reasons) if reasons else ""), origin=source)


def _mnist_from_user(path: Path) -> Dataset:
    if not path.exists():
        raise DataError(f"{path} does not exist. Choose mnist.npz, one of the four MNIST IDX files, "
                        "or the folder that holds them.")
    if path.is_dir() or _IDX_NAME.match(path.name):
        folder = path if path.is_dir() else path.parent
        return _mnist_dataset(_read_idx_folder(folder), f"MNIST from IDX files in {folder}")
    if path.suffix.lower() == ".npz":
        return _mnist_dataset(_read_mnist_npz(path), f"MNIST from {path}")
    raise DataError(f"{path.name} is not an MNIST file. Choose mnist.npz (Keras' layout: x_train, y_train, "
                    f"x_test, y_test), one of the IDX files ({', '.join(IDX_NAMES.values())}, "
                    "optionally .gz), or their folder.")


def _try_keras_cache(cache: Path, reasons: list[str]) -> tuple[dict, str] | None:
    if not cache.is_file():
        reasons.append(f"Keras cache not found at {cache}")
        return None
    try:
        return _read_mnist_npz(cache), f"MNIST from Keras' cache ({cache})"
    except DataError as exc:
        reasons.append(f"Keras cache unusable: {exc}")
        return None


def _try_download(reasons: list[str]) -> tuple[dict, str] | None:
    try:
        arrays = _download_mnist()
    except Exception as exc:  # noqa: BLE001 - offline, no Keras, server errors: fall back
        reasons.append(f"download failed: {type(exc).__name__}: {exc}")
        return None
    return arrays, "MNIST downloaded by Keras"


def _download_mnist() -> dict[str, np.ndarray]:
    """The only network access: Keras downloads mnist.npz into its cache."""
    import keras  # lazy: the GUI must start without TensorFlow

    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    return _check_mnist_arrays({"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test},
                               "downloaded MNIST")


def _try_embedded(embedded: Path, reasons: list[str]) -> tuple[dict, str]:
    try:
        arrays = _read_mnist_npz(embedded)
    except DataError as exc:
        raise DataError("No MNIST data available: " + "; ".join(reasons + [f"embedded subset: {exc}"])
                        + ". Choose an MNIST file, or allow the download.") from exc
    shown = embedded.relative_to(RESOURCES.parent) if embedded.is_relative_to(RESOURCES.parent) else embedded
    return arrays, f"MNIST, embedded subset ({shown.as_posix()})"


def _mnist_dataset(arrays: dict[str, np.ndarray], source: str, origin: str = "") -> Dataset:
    return Dataset(
        x_train=to_unit_float(arrays["x_train"])[..., None],
        x_val=to_unit_float(arrays["x_test"])[..., None],
        y_train=arrays["y_train"],
        y_val=arrays["y_test"],
        source=source,
        class_names=tuple(str(d) for d in range(10)),
        origin=origin,
    )


def _read_mnist_npz(path: Path) -> dict[str, np.ndarray]:
    arrays = load_npz(path)
    missing = [k for k in MNIST_KEYS if k not in arrays]
    if missing:
        raise DataError(f"{path.name} is not in Keras' MNIST layout: missing {', '.join(missing)} "
                        f"(found {', '.join(arrays) or 'no arrays'}). It needs x_train, y_train, x_test, y_test.")
    return _check_mnist_arrays(arrays, path.name)


def _check_mnist_arrays(arrays: dict[str, np.ndarray], what: str) -> dict[str, np.ndarray]:
    checked: dict[str, np.ndarray] = {}
    for part in ("train", "test"):
        x = np.asarray(arrays[f"x_{part}"])
        if x.ndim != 3 or len(x) == 0:
            raise DataError(f"{what}: x_{part} is shaped {x.shape}; MNIST images must be (n, 28, 28).")
        checked[f"x_{part}"] = x
        checked[f"y_{part}"] = check_labels(arrays[f"y_{part}"], len(x), f"{what}: y_{part}")
    return checked


def _find_idx_files(folder: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for entry in sorted(folder.iterdir()):
        match = _IDX_NAME.match(entry.name)
        if match and entry.is_file():
            split_name = "train" if match.group(1).lower() == "train" else "test"
            found.setdefault(f"{split_name}_{match.group(2).lower()}", entry)
    missing = [IDX_NAMES[k] for k in IDX_NAMES if k not in found]
    if missing:
        raise DataError(f"{folder} lacks {', '.join(missing)} (optionally .gz). MNIST needs all four IDX "
                        f"files in one folder: {', '.join(IDX_NAMES.values())}.")
    return found


def _read_idx_folder(folder: Path) -> dict[str, np.ndarray]:
    files = _find_idx_files(folder)
    arrays = {key: read_idx(p) for key, p in files.items()}
    for part in ("train", "test"):
        x, y = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise DataError(f"{files[f'{part}_images'].name} holds {x.shape} and "
                            f"{files[f'{part}_labels'].name} holds {y.shape}: expected (n, 28, 28) images "
                            "and (n,) labels with the same n. Are the files from the same set?")
    return {"x_train": arrays["train_images"], "y_train": arrays["train_labels"],
            "x_test": arrays["test_images"], "y_test": arrays["test_labels"]}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Parse one IDX file (optionally gzipped) by its magic number and dimensions."""
    path = Path(path)
    data = _read_maybe_gzip(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES or not 1 <= data[3] <= 4:
        raise DataError(f"{path.name} is not an IDX file (bad magic number). Choose the original MNIST "
                        "files, e.g. train-images-idx3-ubyte.gz.")
    ndim, dtype = data[3], np.dtype(_IDX_DTYPES[data[2]])
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path.name} is truncated: the header is incomplete. Download it again.")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - header
    if actual != expected:
        state = "truncated" if actual < expected else "longer than its header says"
        raise DataError(f"{path.name} is {state}: dimensions {dims} need {expected} bytes of data, "
                        f"found {actual}. Download it again.")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def _read_maybe_gzip(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            raw = f.read()
        if raw[:2] != b"\x1f\x8b":
            return raw
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as gz:
            data = gz.read(_MAX_GZIP_BYTES + 1)
    except (OSError, EOFError) as exc:
        raise DataError(f"{path.name} cannot be read: {exc}. The file may be truncated or corrupt; "
                        "download it again.") from exc
    if len(data) > _MAX_GZIP_BYTES:
        raise DataError(f"{path.name} inflates to more than 1 GiB; that is not an MNIST file.")
    return data
