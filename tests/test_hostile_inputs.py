"""Hostile inputs, gathered in one place (issue 14): every loader a user's file reaches, against every
kind of bad file a user or an attacker can hand it. Each must end in one UserError that names the file
and says what was wrong, never in another exception, a hang, a huge allocation or code run.

Other tests go deeper per item (tests/engine/core/test_fileio.py, tests/engine/data/test_arrays.py, the
tab tests); this one is the catalogue that grows with every new loader or new kind of bad file."""
from __future__ import annotations

import io
import os
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from engine.core.errors import UserError

RAN = []  # a pickle that ran code would append here


class _Evil:
    def __reduce__(self):
        return (RAN.append, ("pickle ran",))


def _npy_header(shape: tuple[int, ...]) -> bytes:
    header = f"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}".encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


def _png_bytes() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def _write(folder: Path, kind: str, suffix: str) -> Path:
    """A hostile file of `kind`, named with `suffix` (the loader's own file type)."""
    path = folder / f"{kind}{suffix}"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("this is not the file you are looking for\n")
    elif kind == "truncated":  # the start of a valid file of another kind, cut short
        path.write_bytes(_png_bytes()[:40])
    elif kind == "huge-header":  # an .npy header claiming 373 GiB
        path.write_bytes(_npy_header((100000, 1000000)) + b"\0" * 64)
    elif kind == "pickle":
        np.save(path, np.array([_Evil()], dtype=object), allow_pickle=True) if suffix == ".npy" \
            else path.write_bytes(pickle.dumps(_Evil()))
    elif kind == "zip-of-junk":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("config.json", "{not json")
    elif kind == "unreadable":
        path.write_bytes(_png_bytes())
        path.chmod(0)
    elif kind == "missing":
        pass
    else:
        raise AssertionError(kind)
    return path


KINDS = ("fifo", "folder", "empty", "text", "truncated", "huge-header", "pickle", "zip-of-junk", "unreadable",
         "missing")


def _load_array(path):
    from engine.data.arrays import load_array_file

    return load_array_file(path)


def _read_image(path):
    from engine.data.images import read_image

    return read_image(path)


def _read_table(path):
    from engine.data.tables import read_table

    return read_table(path)


def _load_model(path):
    from engine.models.files import load_model

    return load_model(path)


def _load_detector(path):
    from engine.anomaly.files import load_detector

    return load_detector(path)


def _load_images_folder(path):
    from engine.core.config import DataSpec
    from engine.data.sources import load_data

    return load_data(DataSpec(kind="folder", path=str(path), image_size=8))


LOADERS = {  # name: (loader, the file type it is given)
    "array file": (_load_array, ".npy"),
    "array archive": (_load_array, ".npz"),
    "image": (_read_image, ".png"),
    "table": (_read_table, ".csv"),
    "model": (_load_model, ".keras"),
    "detector": (_load_detector, ".aedet"),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("loader", list(LOADERS))
def test_every_loader_refuses_every_hostile_file_with_one_clear_message(tmp_path, loader, kind):
    if kind == "unreadable" and os.geteuid() == 0:
        pytest.skip("root reads files whatever their permissions")
    load, suffix = LOADERS[loader]
    path = _write(tmp_path, kind, suffix)
    with pytest.raises(UserError) as caught:
        load(path)
    message = str(caught.value)
    assert path.name in message or str(path) in message, message  # it names the file
    assert "Traceback" not in message and len(message) < 600, message  # one readable message
    assert not RAN  # no code from the file ran


def test_a_folder_of_hostile_images_trains_on_none_and_says_why(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for kind in ("empty", "text", "truncated"):
        _write(folder, kind, ".png")
    with pytest.raises(UserError, match="images"):
        _load_images_folder(folder)
