"""Tests for the data loaders (engine.data): all bad inputs are generated inside tmp_path; no network."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.core.errors import DataError
from engine.core.events import Progress
from engine.core.jobs import JobState
from engine.data import folders, mnist
from engine.data.dataset import Dataset, split, to_unit_float
from engine.data.folders import load_image_folder
from engine.data.mnist import load_mnist
from tests.paths import ROOT, SHARED_DATA

SHARED_MNIST = SHARED_DATA / "mnist.npz"
EMBEDDED = ROOT / "resources" / "mnist_small.npz"


def mnist_arrays(n_train: int, n_test: int, fill: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(fill)
    return {
        "x_train": np.full((n_train, 28, 28), fill, dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train).astype(np.uint8),
        "x_test": np.full((n_test, 28, 28), fill, dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test).astype(np.uint8),
    }


def write_npz(path: Path, n_train: int, n_test: int, fill: int) -> Path:
    np.savez_compressed(path, **mnist_arrays(n_train, n_test, fill))
    return path


def write_idx(path: Path, arr: np.ndarray) -> Path:
    """Write an unsigned-byte IDX file (gzipped when the name ends in .gz)."""
    header = bytes([0, 0, 0x08, arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
    raw = header + arr.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
    return path


def idx_folder(folder: Path) -> dict[str, np.ndarray]:
    """All four MNIST IDX files, mixing gzipped, plain and dotted names."""
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 256, (5, 28, 28)), "y_train": np.arange(5),
              "x_test": rng.integers(0, 256, (3, 28, 28)), "y_test": np.array([7, 8, 9])}
    write_idx(folder / "train-images-idx3-ubyte.gz", arrays["x_train"])
    write_idx(folder / "train-labels-idx1-ubyte", arrays["y_train"])
    write_idx(folder / "t10k-images.idx3-ubyte", arrays["x_test"])
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", arrays["y_test"])
    return arrays


def save_png(path: Path, value: int, size: tuple[int, int] = (10, 12)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", size, value).save(path)
    return path


# --------------------------------------------------------------------------- split / scaling

def test_split_is_deterministic_and_keeps_pairs() -> None:
    x, y = np.arange(100) * 10, np.arange(100)
    x_train, y_train, x_val, y_val = split(x, y, 0.2, seed=3)
    assert len(x_train) == 80 and len(x_val) == 20
    np.testing.assert_array_equal(x_train, y_train * 10)
    np.testing.assert_array_equal(x_val, y_val * 10)
    assert sorted(np.concatenate([y_train, y_val]).tolist()) == list(range(100))
    again = split(x, y, 0.2, seed=3)
    np.testing.assert_array_equal(again[0], x_train)
    assert not np.array_equal(split(x, y, 0.2, seed=4)[0], x_train)


def test_split_edge_cases() -> None:
    x_train, y_train, x_val, y_val = split(np.array([1, 2]), None, 0.0, seed=0)
    assert len(x_train) == 1 and len(x_val) == 1 and y_train is None and y_val is None
    assert len(split(np.arange(10), None, 0.9, seed=0)[0]) == 1
    with pytest.raises(DataError, match="at least 2 samples"):
        split(np.array([1]), None, 0.5, seed=0)
    with pytest.raises(DataError, match="labels"):
        split(np.arange(4), np.arange(3), 0.5, seed=0)


def test_to_unit_float() -> None:
    np.testing.assert_allclose(to_unit_float(np.array([0, 51, 255], np.uint8)), [0, 0.2, 1])
    np.testing.assert_allclose(to_unit_float(np.array([0, 65535], np.uint16)), [0, 1])
    np.testing.assert_allclose(to_unit_float(np.array([0.0, 0.25, 1.0])), [0, 0.25, 1])
    np.testing.assert_allclose(to_unit_float(np.array([0.0, 5.0, 10.0])), [0, 0.5, 1])
    np.testing.assert_allclose(to_unit_float(np.array([-2.0, 0.0, 2.0])), [0, 0.5, 1])
    assert to_unit_float(np.array([1, 2], np.int32)).dtype == np.float32
    for bad in (np.nan, np.inf):
        with pytest.raises(DataError, match="NaN or infinite"):
            to_unit_float(np.array([0.0, bad]))


# --------------------------------------------------------------------------- MNIST

def test_idx_folder_and_single_file(tmp_path: Path) -> None:
    arrays = idx_folder(tmp_path / "mnist")
    for chosen in (tmp_path / "mnist", tmp_path / "mnist" / "t10k-images.idx3-ubyte"):
        ds = load_mnist(chosen, cache_path=tmp_path / "none.npz")
        assert ds.x_train.shape == (5, 28, 28, 1) and ds.x_val.shape == (3, 28, 28, 1)
        np.testing.assert_allclose(ds.x_train[..., 0], arrays["x_train"] / 255, atol=1e-7)
        np.testing.assert_array_equal(ds.y_val, [7, 8, 9])
        assert "IDX files" in ds.source and str(tmp_path / "mnist") in ds.source


def test_idx_missing_file(tmp_path: Path) -> None:
    idx_folder(tmp_path / "m")
    (tmp_path / "m" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="lacks t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path / "m")


def test_truncated_and_bad_idx(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((4, 28, 28)))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="truncated.*Download it again"):
        mnist.read_idx(path)
    path.write_bytes(b"\x50\x4b\x03\x04not idx at all")
    with pytest.raises(DataError, match="bad magic number"):
        mnist.read_idx(path)
    gz = tmp_path / "x.gz"
    gz.write_bytes(gzip.compress(b"\0\0\x08\x01" + b"\0\0\0\x05" + b"abcde")[:-6])
    with pytest.raises(DataError, match="x.gz"):
        mnist.read_idx(gz)
    np.testing.assert_array_equal(mnist.read_idx(write_idx(tmp_path / "ok.gz", np.arange(5))), np.arange(5))


def test_truncated_idx_in_chosen_folder_raises(tmp_path: Path) -> None:
    idx_folder(tmp_path / "m")
    labels = tmp_path / "m" / "train-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:-2])
    with pytest.raises(DataError, match="train-labels-idx1-ubyte is truncated"):
        load_mnist(tmp_path / "m", cache_path=write_npz(tmp_path / "cache.npz", 2, 2, 1))


def test_user_npz_in_keras_layout(tmp_path: Path) -> None:
    path = write_npz(tmp_path / "my mnist.npz", 4, 2, 255)
    ds = load_mnist(path)
    assert ds.x_train.shape == (4, 28, 28, 1) and ds.x_train.min() == 1.0
    assert ds.source == f"MNIST from {path}"
    assert ds.y_train.dtype == np.int64


def test_broken_user_file_raises_instead_of_falling_back(tmp_path: Path) -> None:
    cache = write_npz(tmp_path / "cache.npz", 2, 2, 1)
    broken = tmp_path / "mnist.npz"
    broken.write_bytes(write_npz(tmp_path / "tmp.npz", 4, 2, 3).read_bytes()[:300])
    with pytest.raises(DataError, match="mnist.npz is truncated or corrupt"):
        load_mnist(broken, cache_path=cache)
    np.savez(tmp_path / "other.npz", images=np.zeros((2, 28, 28)))
    with pytest.raises(DataError, match="missing x_train, y_train, x_test, y_test.*found images"):
        load_mnist(tmp_path / "other.npz", cache_path=cache)
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(DataError, match="not an MNIST file"):
        load_mnist(tmp_path / "notes.txt")
    with pytest.raises(DataError, match="does not exist"):
        load_mnist(tmp_path / "gone.npz")


def test_mnist_fallback_order(tmp_path: Path) -> None:
    user = write_npz(tmp_path / "user.npz", 3, 1, 10)
    cache = write_npz(tmp_path / "cache.npz", 4, 1, 20)
    embedded = write_npz(tmp_path / "embedded.npz", 5, 1, 30)
    assert len(load_mnist(user, cache_path=cache, embedded_path=embedded).x_train) == 3
    from_cache = load_mnist(cache_path=cache, embedded_path=embedded)
    assert len(from_cache.x_train) == 4 and from_cache.source == f"MNIST from Keras' cache ({cache})"
    fallback = load_mnist(cache_path=tmp_path / "missing.npz", embedded_path=embedded)
    assert len(fallback.x_train) == 5
    assert "embedded subset" in fallback.source and "Keras cache not found" in fallback.source
    assert "full download not requested" in fallback.source
    cache.write_bytes(b"garbage")
    broken_cache = load_mnist(cache_path=cache, embedded_path=embedded)
    assert len(broken_cache.x_train) == 5 and "Keras cache unusable" in broken_cache.source


def test_mnist_download_is_used_only_when_allowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    embedded = write_npz(tmp_path / "embedded.npz", 5, 1, 30)
    calls: list[int] = []

    def fake_download() -> dict[str, np.ndarray]:
        calls.append(1)
        return mnist_arrays(6, 2, 40)

    monkeypatch.setattr(mnist, "_download_mnist", fake_download)
    missing = tmp_path / "missing.npz"
    assert len(load_mnist(cache_path=missing, embedded_path=embedded).x_train) == 5 and not calls
    ds = load_mnist(cache_path=missing, embedded_path=embedded, allow_download=True)
    assert len(ds.x_train) == 6 and ds.source.startswith("MNIST downloaded by Keras") and calls

    def offline() -> dict[str, np.ndarray]:
        raise OSError("network unreachable")

    monkeypatch.setattr(mnist, "_download_mnist", offline)
    ds = load_mnist(cache_path=missing, embedded_path=embedded, allow_download=True)
    assert len(ds.x_train) == 5 and "download failed: OSError: network unreachable" in ds.source


def test_no_mnist_anywhere(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="No MNIST data available.*Keras cache not found"):
        load_mnist(cache_path=tmp_path / "a.npz", embedded_path=tmp_path / "b.npz")


def test_real_embedded_subset(tmp_path: Path) -> None:
    assert EMBEDDED.is_file() and EMBEDDED.stat().st_size < 2_000_000
    ds = load_mnist(cache_path=tmp_path / "no-cache.npz")
    assert ds.x_train.shape == (5000, 28, 28, 1) and ds.x_val.shape == (1000, 28, 28, 1)
    assert ds.x_train.dtype == np.float32 and ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0
    assert np.bincount(ds.y_train).tolist() == [500] * 10 and np.bincount(ds.y_val).tolist() == [100] * 10
    assert ds.sample_shape == (28, 28, 1)
    assert ds.summary().startswith("MNIST, embedded subset (resources/mnist_small.npz)")
    assert ds.summary().endswith(": 5000 training + 1000 validation samples of 28x28x1")
    with np.load(EMBEDDED, allow_pickle=False) as raw:
        assert sorted(raw.files) == ["x_test", "x_train", "y_test", "y_train"]
        assert raw["x_train"].dtype == np.uint8


@pytest.mark.skipif(not SHARED_MNIST.is_file(), reason="../shared/data/mnist.npz is absent")
def test_real_shared_mnist() -> None:
    ds = load_mnist(SHARED_MNIST)
    assert ds.x_train.shape == (60000, 28, 28, 1) and ds.x_val.shape == (10000, 28, 28, 1)
    assert 0.0 <= ds.x_val.min() and ds.x_val.max() <= 1.0
    assert np.bincount(ds.y_val, minlength=10).sum() == 10000
    assert ds.source == f"MNIST from {SHARED_MNIST}"


# --------------------------------------------------------------------------- image folders

def test_image_folder_skips_corrupt_files(tmp_path: Path) -> None:
    save_png(tmp_path / "a.png", 255)
    save_png(tmp_path / "sub" / "b.png", 0)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nrubbish")
    (tmp_path / "readme.txt").write_text("not an image suffix: ignored, not skipped")
    events: list[Progress] = []
    ds = load_image_folder(tmp_path, size=(8, 6), validation_fraction=0.5, state=JobState(events.append))
    assert ds.x_train.shape[1:] == (8, 6, 1) and len(ds.x_train) + len(ds.x_val) == 2
    values = sorted(float(x.mean()) for x in np.concatenate([ds.x_train, ds.x_val]))
    assert values == pytest.approx([0.0, 1.0], abs=1e-5)
    assert len(ds.skipped) == 1 and ds.skipped[0].startswith("broken.png: ")
    assert ds.y_train is None and ds.class_names == ()
    assert events and events[-1].done == events[-1].total == 3
    assert "1 file(s) skipped" in ds.summary()


def test_image_folder_one_good_one_corrupt(tmp_path: Path) -> None:
    save_png(tmp_path / "good.png", 128)
    (tmp_path / "bad.jpg").write_bytes(b"")
    with pytest.raises(DataError, match=r"Only 1 readable image.*bad.jpg: file is empty"):
        load_image_folder(tmp_path)


def test_image_folder_classes_and_rgb(tmp_path: Path) -> None:
    for name, value in (("cat/1.png", 10), ("cat/2.png", 20), ("dog/deep/3.png", 200), ("dog/4.png", 210)):
        save_png(tmp_path / name, value)
    ds = load_image_folder(tmp_path, size=(4, 5), color="rgb", validation_fraction=0.25, seed=1)
    assert ds.class_names == ("cat", "dog") and ds.x_train.shape[1:] == (4, 5, 3)
    x = np.concatenate([ds.x_train, ds.x_val])
    y = np.concatenate([ds.y_train, ds.y_val])
    np.testing.assert_array_equal(x.mean(axis=(1, 2, 3)) > 0.5, y == 1)


def test_image_folder_alpha_and_max_files(tmp_path: Path) -> None:
    for i in range(4):
        Image.new("LA", (3, 3), (255, 0 if i else 255)).save(tmp_path / f"{i}.png")
    ds = load_image_folder(tmp_path, size=(3, 3), max_files=3, validation_fraction=0.3)
    assert len(ds.x_train) + len(ds.x_val) == 3 and "first 3 of 4 files" in ds.source
    means = sorted(float(v) for v in np.concatenate([ds.x_train, ds.x_val]).mean(axis=(1, 2, 3)))
    assert means == pytest.approx([0.0, 0.0, 1.0], abs=1e-5)  # transparent white composited over black


def test_empty_and_wrong_folders(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=f"{tmp_path.name} has no image files"):
        load_image_folder(tmp_path)
    (tmp_path / "x.png").write_text("text")
    (tmp_path / "y.gif").write_bytes(b"GIF89a")
    with pytest.raises(DataError, match=r"No readable image.*2 image file\(s\) were skipped.*x.png"):
        load_image_folder(tmp_path)
    with pytest.raises(DataError, match="not a folder"):
        load_image_folder(tmp_path / "x.png")
    with pytest.raises(DataError, match="color"):
        load_image_folder(tmp_path, color="cmyk")
    with pytest.raises(DataError, match="GiB"):
        folders._check_memory(200, (4096, 4096), "rgb")  # 200 files of 4096x4096 RGB: 37.5 GiB


# --------------------------------------------------------------------------- array files


def test_dataset_summary_for_tables() -> None:
    ds = Dataset(np.zeros((3, 4), np.float32), np.zeros((1, 4), np.float32), source="T")
    assert ds.summary() == "T: 3 training + 1 validation samples of 4" and not ds.is_image
