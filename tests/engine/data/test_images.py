"""Tests for engine.data.images: every bad input is generated inside tmp_path."""
from __future__ import annotations

import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.data import images
from engine.data.images import read_image, resize_pixels, write_image
from engine.core.errors import ImageError
from tests.paths import ROOT



def png_header_only(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header claims width x height (its pixel data is bogus)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 8))
                     + chunk(b"IEND", b""))
    return path


def noise_png(path: Path, size: tuple[int, int] = (64, 48)) -> Path:
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


# --------------------------------------------------------------------------- bad files

def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ImageError, match="empty.png.*file is empty"):
        read_image(path)


def test_text_file_renamed_png(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("hello, I am not a picture\n" * 10)
    with pytest.raises(ImageError, match="notes.png.*not an image file or a format we read") as info:
        read_image(path)
    assert info.value.reason == "not an image file or a format we read"


def test_truncated_png(tmp_path: Path) -> None:
    good = noise_png(tmp_path / "good.png")
    cut = tmp_path / "cut.png"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ImageError, match="cut.png.*truncated or corrupt"):
        read_image(cut)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="file not found"):
        read_image(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="folder"):
        read_image(tmp_path)


def test_decompression_bomb_header_is_refused_before_decoding(tmp_path: Path) -> None:
    bomb = png_header_only(tmp_path / "bomb.png", 30000, 30000)
    with pytest.raises(ImageError, match=r"bomb.png is 900.0 megapixels; the limit is 100 megapixels"):
        read_image(bomb)


def test_large_header_uses_own_limit_with_size(tmp_path: Path) -> None:
    big = png_header_only(tmp_path / "photo.png", 12000, 10000)  # above Pillow's warning, below its error
    with pytest.raises(ImageError, match=r"photo.png is 12000 x 10000 = 120.0 megapixels; the limit is 100 "):
        read_image(big)


def test_max_pixels_argument(tmp_path: Path) -> None:
    path = noise_png(tmp_path / "small.png", (64, 48))
    with pytest.raises(ImageError, match=r"64 x 48 .* the limit is 0.001 megapixels"):
        read_image(path, max_pixels=1000)
    assert read_image(path, max_pixels=64 * 48).pixels.shape == (48, 64, 3)


def test_bad_mode_argument(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mode"):
        read_image(noise_png(tmp_path / "a.png"), mode="cmyk")


# --------------------------------------------------------------------------- modes

def test_sixteen_bit_png_keeps_full_precision(tmp_path: Path) -> None:
    values = np.array([[0, 1, 257, 1000], [30000, 65534, 65535, 12345]], dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    img = read_image(path)
    assert img.bit_depth == 16 and img.source_mode.startswith("I")
    assert img.pixels.dtype == np.float32 and img.pixels.shape == (2, 4, 1)
    np.testing.assert_array_equal(np.round(img.pixels[..., 0].astype(np.float64) * 65535), values)


def test_sixteen_bit_big_endian_and_int32_tiff(tmp_path: Path) -> None:
    values = np.array([[0, 3, 40000], [65535, 2, 1]], dtype=np.uint16)
    Image.fromarray(values.astype(">u2")).save(tmp_path / "be.tif")
    Image.fromarray(values.astype(np.int32)).save(tmp_path / "i32.tif")
    for name in ("be.tif", "i32.tif"):
        img = read_image(tmp_path / name)
        assert img.bit_depth == 16
        np.testing.assert_array_equal(np.round(img.pixels[..., 0].astype(np.float64) * 65535), values)


def test_rgba_returns_alpha(tmp_path: Path) -> None:
    arr = np.zeros((3, 5, 4), dtype=np.uint8)
    arr[..., 0], arr[..., 3] = 255, np.array([0, 64, 128, 192, 255], dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "rgba.png")
    img = read_image(tmp_path / "rgba.png")
    assert img.pixels.shape == (3, 5, 3) and img.alpha is not None and img.alpha.shape == (3, 5)
    np.testing.assert_allclose(img.alpha[0], [0, 64 / 255, 128 / 255, 192 / 255, 1.0], atol=1e-6)
    np.testing.assert_allclose(img.pixels[0, 0], [1, 0, 0])


def test_la_grey_with_alpha(tmp_path: Path) -> None:
    Image.merge("LA", [Image.new("L", (2, 2), 100), Image.new("L", (2, 2), 50)]).save(tmp_path / "la.png")
    img = read_image(tmp_path / "la.png")
    assert img.pixels.shape == (2, 2, 1)
    np.testing.assert_allclose(img.pixels[..., 0], 100 / 255, atol=1e-6)
    np.testing.assert_allclose(img.alpha, 50 / 255, atol=1e-6)


def test_palette_with_transparency(tmp_path: Path) -> None:
    im = Image.new("P", (4, 2), 1)
    im.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    im.putpixel((0, 0), 0)
    im.save(tmp_path / "pal.png", transparency=0)
    img = read_image(tmp_path / "pal.png")
    assert img.source_mode == "P" and img.alpha is not None
    assert img.alpha[0, 0] == 0.0 and img.alpha[1, 3] == 1.0
    np.testing.assert_allclose(img.pixels[1, 3], [0, 0, 1])


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg", quality=95)
    img = read_image(tmp_path / "cmyk.jpg")
    assert img.source_mode == "CMYK" and img.pixels.shape == (16, 16, 3)
    np.testing.assert_allclose(img.pixels.mean(axis=(0, 1)), [1, 0, 0], atol=0.03)


def test_one_bit_image(tmp_path: Path) -> None:
    im = Image.new("1", (3, 2), 0)
    im.putpixel((1, 0), 1)
    im.save(tmp_path / "bw.png")
    img = read_image(tmp_path / "bw.png")
    assert img.source_mode == "1" and img.bit_depth == 8
    np.testing.assert_array_equal(img.pixels[..., 0], [[0, 1, 0], [0, 0, 0]])


def test_animated_gif_uses_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=50, loop=0)
    with Image.open(tmp_path / "anim.gif") as check:
        assert check.n_frames == 3
    img = read_image(tmp_path / "anim.gif")
    np.testing.assert_allclose(img.pixels.mean(axis=(0, 1)), [1, 0, 0], atol=0.01)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    arr = np.zeros((20, 40, 3), dtype=np.uint8)
    arr[:, :20] = (255, 0, 0)  # left half red
    arr[:, 20:] = (0, 0, 255)  # right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise for display
    Image.fromarray(arr).save(tmp_path / "rot.jpg", exif=exif, quality=95)
    img = read_image(tmp_path / "rot.jpg")
    assert img.pixels.shape == (40, 20, 3)
    assert img.pixels[2, :, 0].mean() > 0.9 and img.pixels[-3, :, 2].mean() > 0.9  # red on top, blue below


def test_grey_and_rgb_conversion(tmp_path: Path) -> None:
    Image.new("RGB", (2, 2), (255, 0, 0)).save(tmp_path / "red.png")
    Image.new("L", (2, 2), 51).save(tmp_path / "grey.png")
    np.testing.assert_allclose(read_image(tmp_path / "red.png", mode="grey").pixels, 0.299, atol=1e-6)
    rgb = read_image(tmp_path / "grey.png", mode="rgb").pixels
    assert rgb.shape == (2, 2, 3)
    np.testing.assert_allclose(rgb, 0.2, atol=1e-6)
    assert read_image(tmp_path / "grey.png").pixels.shape == (2, 2, 1)


@pytest.mark.parametrize("suffix", [s for s in (".bmp", ".webp", ".tiff", ".jpeg") if s in images.IMAGE_SUFFIXES])
def test_other_formats(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"img{suffix}"
    Image.new("RGB", (6, 4), (0, 255, 0)).save(path, **({"lossless": True} if suffix == ".webp" else {}))
    img = read_image(path)
    assert img.pixels.shape == (4, 6, 3)
    np.testing.assert_allclose(img.pixels.mean(axis=(0, 1)), [0, 1, 0], atol=0.02)


def test_unicode_path(tmp_path: Path) -> None:
    folder = tmp_path / "données"
    folder.mkdir()
    Image.new("L", (5, 3), 255).save(folder / "图像.png")
    img = read_image(folder / "图像.png")
    assert img.path.name == "图像.png" and img.pixels.shape == (3, 5, 1) and img.pixels.min() == 1.0


# --------------------------------------------------------------------------- resize

def test_resize_is_anti_aliased_and_keeps_range() -> None:
    checker = (np.indices((64, 64)).sum(axis=0) % 2).astype(np.float32)
    small = resize_pixels(checker, (8, 8))
    assert small.shape == (8, 8) and small.dtype == np.float32
    np.testing.assert_allclose(small, 0.5, atol=0.05)  # nearest-neighbour would give 0 or 1
    rgb = resize_pixels(np.ones((10, 12, 3), dtype=np.float32), (5, 7))
    assert rgb.shape == (5, 7, 3)
    np.testing.assert_allclose(rgb, 1.0, atol=1e-5)
    edge = resize_pixels(np.kron(np.eye(2), np.ones((8, 8))).astype(np.float32), (40, 40))
    assert edge.min() >= 0.0 and edge.max() <= 1.0


# --------------------------------------------------------------------------- writing

def test_write_8_bit_round_trip(tmp_path: Path) -> None:
    pixels = np.random.default_rng(0).random((9, 7, 3)).astype(np.float32)
    write_image(tmp_path / "out.png", pixels)
    img = read_image(tmp_path / "out.png")
    assert img.bit_depth == 8
    np.testing.assert_allclose(img.pixels, pixels, atol=0.5 / 255 + 1e-6)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_write_16_bit_round_trip(tmp_path: Path, suffix: str) -> None:
    pixels = np.random.default_rng(0).random((9, 7)).astype(np.float32)
    write_image(tmp_path / f"out{suffix}", pixels, bit_depth=16)
    img = read_image(tmp_path / f"out{suffix}")
    assert img.bit_depth == 16
    np.testing.assert_allclose(img.pixels[..., 0], pixels, atol=0.5 / 65535 + 1e-7)
    assert np.abs(img.pixels[..., 0] - pixels).max() < 0.5 / 255 / 10  # far better than 8 bits


def test_write_alpha_round_trip_and_jpeg(tmp_path: Path) -> None:
    pixels = np.full((4, 4, 1), 0.5, dtype=np.float32)
    alpha = np.linspace(0, 1, 16, dtype=np.float32).reshape(4, 4)
    write_image(tmp_path / "a.png", pixels, alpha=alpha)
    img = read_image(tmp_path / "a.png")
    assert img.alpha is not None and img.pixels.shape == (4, 4, 1)
    np.testing.assert_allclose(img.alpha, alpha, atol=0.5 / 255 + 1e-6)
    write_image(tmp_path / "a.jpg", pixels, alpha=alpha)  # JPEG cannot hold alpha: dropped
    assert read_image(tmp_path / "a.jpg").alpha is None


def test_write_replaces_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "x.bmp"
    write_image(target, np.zeros((2, 2)))
    write_image(target, np.ones((2, 2)))
    assert read_image(target).pixels.min() == 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.bmp"]


def test_write_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match=r"unknown extension '.xyz'.*\.png"):
        write_image(tmp_path / "a.xyz", np.zeros((2, 2)))
    with pytest.raises(ImageError, match="NaN"):
        write_image(tmp_path / "a.png", np.full((2, 2), np.nan))
    with pytest.raises(ImageError, match="shaped"):
        write_image(tmp_path / "a.png", np.zeros((2, 2, 2)))
    with pytest.raises(ImageError, match="does not exist"):
        write_image(tmp_path / "missing" / "a.png", np.zeros((2, 2)))
    assert list(tmp_path.iterdir()) == []


def test_write_permission_error_leaves_no_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: Image.Image, fp: object, *args: object, **kwargs: object) -> None:
        Path(str(fp)).write_bytes(b"partial")
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Image.Image, "save", refuse)
    with pytest.raises(ImageError, match="read-only.*Choose another folder"):
        write_image(tmp_path / "out.png", np.zeros((2, 2)))
    assert list(tmp_path.iterdir()) == []


def test_write_to_read_only_folder(read_only_folder: Path) -> None:
    with pytest.raises(ImageError, match="read-only"):
        write_image(read_only_folder / "out.png", np.zeros((2, 2)))
    assert list(read_only_folder.iterdir()) == []


def test_engine_imports_no_qt_or_tensorflow() -> None:
    code = ("import sys, engine.data.images, engine.data.dataset; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'PySide6')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_pipe_named_like_an_image_is_refused_without_opening_it(tmp_path):
    import os

    os.mkfifo(tmp_path / "pipe.png")
    with pytest.raises(ImageError, match="not a regular file"):
        read_image(tmp_path / "pipe.png")
