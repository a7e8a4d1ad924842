"""Array files (.npy, .npz): shapes and layouts, pickles refused, damage told apart, headers checked against
the file and free memory before anything is allocated, special files refused before they are opened."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.core.errors import DataError
from engine.data.arrays import load_array_file
from engine.data.dataset import split
from tests.engine.data.test_loaders import mnist_arrays


def test_npy_shapes(tmp_path: Path) -> None:
    np.save(tmp_path / "imgs.npy", np.full((10, 6, 5), 255, np.uint8))
    ds = load_array_file(tmp_path / "imgs.npy", validation_fraction=0.2)
    assert ds.x_train.shape == (8, 6, 5, 1) and ds.x_val.shape == (2, 6, 5, 1) and ds.x_train.max() == 1.0
    np.save(tmp_path / "table.npy", np.linspace(0, 1, 40).reshape(10, 4))
    assert load_array_file(tmp_path / "table.npy").x_train.shape[1:] == (4,)
    np.save(tmp_path / "rgb.npy", np.zeros((4, 3, 3, 3), np.float32))
    assert load_array_file(tmp_path / "rgb.npy").sample_shape == (3, 3, 3)


def test_bad_array_files(tmp_path: Path) -> None:
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="pickle"):
        load_array_file(tmp_path / "obj.npy")
    np.savez(tmp_path / "obj.npz", x=np.array([[1], "a"], dtype=object))
    with pytest.raises(DataError, match="pickle"):
        load_array_file(tmp_path / "obj.npz")
    np.save(tmp_path / "chw.npy", np.zeros((4, 3, 8, 8)))
    with pytest.raises(DataError, match="channels-first"):
        load_array_file(tmp_path / "chw.npy")
    np.save(tmp_path / "flat.npy", np.zeros(5))
    with pytest.raises(DataError, match=r"\(5,\)"):
        load_array_file(tmp_path / "flat.npy")
    np.save(tmp_path / "nan.npy", np.array([[0.0, np.nan], [1.0, 0.5]]))
    with pytest.raises(DataError, match="NaN"):
        load_array_file(tmp_path / "nan.npy")
    (tmp_path / "text.npy").write_text("1,2,3")
    with pytest.raises(DataError, match="not a NumPy"):
        load_array_file(tmp_path / "text.npy")
    (tmp_path / "data.csv").write_text("1,2,3")
    with pytest.raises(DataError, match="unsupported file type '.csv'"):
        load_array_file(tmp_path / "data.csv")
    np.savez(tmp_path / "many.npz", a=np.zeros(3), b=np.zeros(3))
    with pytest.raises(DataError, match="holds arrays a, b"):
        load_array_file(tmp_path / "many.npz")


def test_npz_layouts(tmp_path: Path) -> None:
    np.savez(tmp_path / "k.npz", **mnist_arrays(6, 2, 255))
    ds = load_array_file(tmp_path / "k.npz")
    assert len(ds.x_train) == 6 and len(ds.x_val) == 2 and ds.y_val is not None
    x = np.arange(20, dtype=np.float32).reshape(10, 2) * 10  # 0..190: divided by its maximum
    np.savez(tmp_path / "xy.npz", x=x, y=np.arange(10))
    ds = load_array_file(tmp_path / "xy.npz", validation_fraction=0.3, seed=5)
    assert len(ds.x_val) == 3 and "divided by 190" in ds.source
    np.testing.assert_allclose(ds.x_train[:, 0] * 190, ds.y_train * 20, atol=1e-4)  # rows keep their labels
    np.savez(tmp_path / "one.npz", anything=np.ones((3, 4, 4)))
    assert load_array_file(tmp_path / "one.npz").x_train.shape[1:] == (4, 4, 1)
    np.savez(tmp_path / "badlabels.npz", x=np.ones((3, 4)), y=np.ones(7))
    ds = load_array_file(tmp_path / "badlabels.npz")
    assert ds.y_train is None and "labels ignored" in ds.source


def test_damaged_array_files_are_told_apart_from_pickles(tmp_path: Path) -> None:
    import pickle

    (tmp_path / "raw.npy").write_bytes(pickle.dumps([1, 2, 3]))  # a bare pickle with a NumPy name
    with pytest.raises(DataError, match="unpickling can run arbitrary code"):
        load_array_file(tmp_path / "raw.npy")
    np.save(tmp_path / "cut.npy", np.arange(1000, dtype=np.float32))
    whole = (tmp_path / "cut.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(whole[:60])  # inside the header
    with pytest.raises(DataError, match="cut.npy is damaged") as caught:
        load_array_file(tmp_path / "cut.npy")
    assert "pickle" not in str(caught.value)
    (tmp_path / "cut.npy").write_bytes(whole[:-8])  # two values short
    with pytest.raises(DataError, match=r"cut.npy is damaged: its header promises an array of shape \(1000,\) "
                                        r"\(float32, 4,000 bytes\) but the file holds 3,992 bytes of data"):
        load_array_file(tmp_path / "cut.npy")
    (tmp_path / "cut.npy").write_bytes(whole[:128])  # the header alone
    with pytest.raises(DataError, match="but the file holds 0 bytes of data"):
        load_array_file(tmp_path / "cut.npy")
    np.save(tmp_path / "long.npy", np.zeros((10, 4), np.float32))
    with open(tmp_path / "long.npy", "ab") as f:
        f.write(b"trailing bytes")  # more than the header promises is not damage
    assert load_array_file(tmp_path / "long.npy").x_train.shape[1:] == (4,)
    np.savez(tmp_path / "obj.npz", x=np.array([[1], "a"], dtype=object))
    with pytest.raises(DataError, match="unpickling can run arbitrary code"):
        load_array_file(tmp_path / "obj.npz")
    np.savez(tmp_path / "empty.npz")
    with pytest.raises(DataError, match=r"holds arrays \(none\)"):
        load_array_file(tmp_path / "empty.npz")
    (tmp_path / "photo.npy").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64))  # a JPEG, renamed
    with pytest.raises(DataError, match="photo.npy is not a NumPy"):
        load_array_file(tmp_path / "photo.npy")
    (tmp_path / "folder.npy").mkdir()
    with pytest.raises(DataError, match="folder.npy is a folder, not a file"):
        load_array_file(tmp_path / "folder.npy")


def test_version_2_array_files_load(tmp_path: Path) -> None:
    x = np.arange(12, dtype=np.float32).reshape(4, 3) / 11
    with open(tmp_path / "v2.npy", "wb") as f:
        np.lib.format.write_array(f, x, version=(2, 0))
    assert load_array_file(tmp_path / "v2.npy", validation_fraction=0.25).x_train.shape == (3, 3)


def test_the_checks_behind_the_header_check_still_refuse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Defence in depth: with the header checks out of the way, np.load itself still never unpickles."""
    from engine.data import arrays

    monkeypatch.setattr(arrays, "_check_header", lambda *a, **k: None)
    monkeypatch.setattr(arrays, "_check_npz_headers", lambda *a, **k: None)
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.savez(tmp_path / "obj.npz", x=np.array([[1], "a"], dtype=object))
    for name in ("obj.npy", "obj.npz"):
        with pytest.raises(DataError, match="unpickling can run arbitrary code"):
            load_array_file(tmp_path / name)


@pytest.mark.parametrize("error", [OSError(5, "Input/output error"), EOFError("end of file"), KeyError("x.npy"),
                                   RuntimeError("zlib: invalid stored block lengths")])
@pytest.mark.parametrize("suffix", [".npy", ".npz"])
def test_a_read_error_while_loading_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error,
                                                 suffix) -> None:
    if suffix == ".npy" and isinstance(error, (KeyError, RuntimeError)):
        pytest.skip("np.load of an .npy raises these only from inside a zip")
    (np.save if suffix == ".npy" else np.savez)(tmp_path / f"x{suffix}", np.zeros((4, 3)))

    def failing_load(*args, **kwargs):
        raise error

    monkeypatch.setattr(np, "load", failing_load)
    with pytest.raises(DataError, match=f"x{suffix} is truncated or corrupt"):
        load_array_file(tmp_path / f"x{suffix}")


def test_a_file_that_cannot_be_opened_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.data import arrays

    np.save(tmp_path / "x.npy", np.zeros((4, 3)))

    def denied(*_args, **_kwargs):  # a file without read permission (root reads everything)
        raise PermissionError(13, "Permission denied", str(tmp_path / "x.npy"))

    monkeypatch.setattr(arrays, "open", denied, raising=False)
    with pytest.raises(DataError, match="Cannot read x.npy: .*Permission denied"):
        load_array_file(tmp_path / "x.npy")


@pytest.mark.parametrize("test_shape", [(3, 4, 4), (3, 8, 8)])
def test_train_and_test_parts_of_different_shapes_are_refused(tmp_path: Path, test_shape) -> None:
    np.savez(tmp_path / "k.npz", x_train=np.zeros((5, 6, 6)), x_test=np.zeros(test_shape))
    h = test_shape[1]
    with pytest.raises(DataError, match=rf"training samples are \(6, 6, 1\) but test samples are \({h}, {h}, 1\)"):
        load_array_file(tmp_path / "k.npz")


def test_the_default_split_is_the_one_of_seed_0(tmp_path: Path) -> None:
    """Runs resume on the same split, so the default seed is part of what a saved run means."""
    x = np.arange(40, dtype=np.float32).reshape(20, 2) / 39
    np.save(tmp_path / "x.npy", x)
    _, _, x_val, _ = split(x, None, 0.1, 0)
    np.testing.assert_array_equal(load_array_file(tmp_path / "x.npy").x_val, x_val)


@pytest.mark.parametrize("name", ["pipe.npy", "pipe.npz"])
def test_a_pipe_named_like_an_array_is_refused_without_opening_it(tmp_path: Path, name: str) -> None:
    import os

    os.mkfifo(tmp_path / name)  # opening a FIFO for reading would wait for a writer forever
    with pytest.raises(DataError, match=r"is a pipe \(FIFO\), not a regular file"):
        load_array_file(tmp_path / name)


def _npy_claiming(shape: tuple, data: bytes) -> bytes:
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return buffer.getvalue() + data


def test_a_header_promising_more_than_the_file_holds_is_refused_before_allocating(tmp_path: Path) -> None:
    (tmp_path / "huge.npy").write_bytes(_npy_claiming((100_000, 500_000), bytes(800)))  # 373 GiB promised
    with pytest.raises(DataError, match=r"huge.npy is damaged: its header promises an array of shape "
                                        r"\(100000, 500000\) \(float64, 372.5 GiB\) but the file holds 800 bytes"):
        load_array_file(tmp_path / "huge.npy")
    import zipfile

    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as z:
        z.writestr("x.npy", _npy_claiming((100_000, 500_000), bytes(800)))
    with pytest.raises(DataError, match=r"huge.npz \(x.npy\) is damaged: its header promises"):
        load_array_file(tmp_path / "huge.npz")


def test_an_array_larger_than_free_memory_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.data import arrays

    np.save(tmp_path / "x.npy", np.zeros((1000, 100)))  # 800,000 bytes, plus a 400,000-byte float32 copy
    monkeypatch.setattr(arrays, "available_memory", lambda: 1_000_000)
    with pytest.raises(DataError, match=r"loading it needs about 1.1 MiB but 1,000,000 bytes of memory is free"):
        load_array_file(tmp_path / "x.npy")
    monkeypatch.setattr(arrays, "available_memory", lambda: 1_200_000)  # exactly enough
    assert load_array_file(tmp_path / "x.npy").x_train.shape[1:] == (100,)
