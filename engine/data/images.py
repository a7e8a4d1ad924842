"""Safe reading and writing of local image files (Pillow + numpy, no Qt, no TensorFlow).

Everything the engine reads comes back as float32 in [0, 1], shaped (H, W, C) with
C = 1 (grey) or 3 (RGB); transparency is split off into a separate (H, W) alpha plane.
Problems a user can cause (a broken, huge or unknown file) raise `ImageError` with a
message that names the file, says what is wrong and what to do.
"""
from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError, features

from engine.core.errors import ImageError
from engine.core.fileio import atomic_path, file_problem

MAX_PIXELS = 100_000_000
MODES = ("keep", "grey", "rgb")
IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif") + (
    (".webp",) if features.check("webp") else ()
)
WRITE_FORMATS = {".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP"}
_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
_GREY_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601, as Pillow's "L"


@dataclass(frozen=True)
class LoadedImage:
    """Decoded image: `pixels` float32 (H, W, C) in [0, 1], C in {1, 3}; `alpha` (H, W) or None."""

    pixels: np.ndarray
    alpha: np.ndarray | None
    bit_depth: int  # 8 or 16: precision of the source file
    source_mode: str  # Pillow mode of the file, e.g. "RGB", "P", "I;16"
    path: Path

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)."""
        return self.pixels.shape[0], self.pixels.shape[1]


def _fail(path: Path, reason: str, hint: str = "") -> ImageError:
    message = f"Cannot read {path.name}: {reason}."
    return ImageError(f"{message} {hint}".strip(), path=path, reason=reason)


def _megapixels_message(path: Path, width: int, height: int, max_pixels: int) -> str:
    return (
        f"{path.name} is {width} x {height} = {width * height / 1e6:.1f} megapixels; "
        f"the limit is {max_pixels / 1e6:g} megapixels. Shrink the image first or choose a smaller one."
    )


def _bomb_error(path: Path, exc: Exception, max_pixels: int) -> ImageError:
    """Pillow refused the size in the header (before our own check could run)."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    size = f" {int(found.group(1)) / 1e6:.1f} megapixels" if found else " too large"
    return ImageError(f"{path.name} is{size}; the limit is {max_pixels / 1e6:g} megapixels. "
                      "Shrink the image first or choose a smaller one.", path=path, reason="image too large")


def _check_file(path: Path) -> None:
    if not path.exists():
        raise _fail(path, "file not found", f"Check the path: {path}")
    if path.is_dir():
        raise _fail(path, "it is a folder, not an image file", "Choose an image file inside it.")
    if file_problem(path):  # a pipe, device or socket: reading it could wait forever
        raise _fail(path, "not a regular file (a pipe, device or socket)", "Choose an image file.")
    if path.stat().st_size == 0:
        raise _fail(path, "file is empty", "The file has 0 bytes; choose another file.")


def read_image(path: str | os.PathLike, *, mode: str = "keep", max_pixels: int = MAX_PIXELS) -> LoadedImage:
    """Read one local image file safely (first frame, EXIF orientation applied).

    mode: "keep" (grey stays grey, colour stays RGB), "grey" or "rgb".
    Images larger than `max_pixels` are refused before their pixels are decoded.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}.")
    path = Path(path)
    try:
        _check_file(path)
        pixels, alpha, bit_depth, source_mode = _decode(path, max_pixels)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _bomb_error(path, exc, max_pixels) from exc
    except UnidentifiedImageError as exc:
        raise _fail(path, "not an image file or a format we read",
                    f"Use one of: {', '.join(IMAGE_SUFFIXES)}.") from exc
    except PermissionError as exc:
        raise _fail(path, "permission denied", "Check the file's permissions.") from exc
    except (OSError, SyntaxError, EOFError, ValueError, IndexError, KeyError, TypeError) as exc:
        raise _fail(path, "file is truncated or corrupt", f"({exc})") from exc
    pixels = _convert_channels(pixels, mode)
    return LoadedImage(pixels=pixels, alpha=alpha, bit_depth=bit_depth, source_mode=source_mode, path=path)


def _decode(path: Path, max_pixels: int) -> tuple[np.ndarray, np.ndarray | None, int, str]:
    """Check the header size, then decode the first frame -> (pixels, alpha, bit depth, mode)."""
    with warnings.catch_warnings():
        # Our own max_pixels check replaces Pillow's warning; Pillow's hard error still applies.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(path) as im:
            width, height = im.size  # header only: nothing decoded yet
            if width * height > max_pixels:
                msg = _megapixels_message(path, width, height, max_pixels)
                raise ImageError(msg, path=path, reason="image too large")
            im.seek(0)
            im.load()
            return (*_to_arrays(_exif_transpose(im)), im.mode)


def _exif_transpose(im: Image.Image) -> Image.Image:
    """Apply the EXIF orientation; a broken EXIF block is ignored rather than fatal."""
    try:
        return ImageOps.exif_transpose(im)
    except (OSError, ValueError, KeyError, TypeError, SyntaxError):
        return im


def _to_arrays(im: Image.Image) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Pillow image -> (pixels (H, W, C) float32 [0, 1], alpha or None, bit depth)."""
    if im.mode in _SIXTEEN_BIT_MODES:
        return _sixteen_bit(np.asarray(im))[..., None], None, 16
    if im.mode in ("P", "L", "RGB") and "transparency" in im.info:
        im = im.convert("LA" if im.mode == "L" else "RGBA")
    elif im.mode == "P":
        im = im.convert("RGB")
    elif im.mode == "PA":
        im = im.convert("RGBA")
    elif im.mode == "1":
        im = im.convert("L")
    elif im.mode not in ("L", "LA", "RGB", "RGBA"):
        im = im.convert("RGBA" if "A" in im.mode else "RGB")  # CMYK, YCbCr, LAB, HSV, RGBX, ...
    arr = np.asarray(im, dtype=np.float32) / 255.0
    if arr.ndim == 2:
        arr = arr[..., None]
    if im.mode in ("LA", "RGBA"):
        return np.ascontiguousarray(arr[..., :-1]), np.ascontiguousarray(arr[..., -1]), 8
    return arr, None, 8


def _sixteen_bit(arr: np.ndarray) -> np.ndarray:
    """16-bit grey (also 32-bit int or float) -> float32 in [0, 1] at full precision.

    Integers in 0..65535 are divided by 65535, floats in [0, 1] are kept, anything
    else (signed or larger values) is stretched from its min..max to [0, 1].
    """
    is_float = arr.dtype.kind == "f"
    arr = np.nan_to_num(arr.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
    if low >= 0 and high <= (1.0 if is_float else 65535.0):
        return (arr if is_float else arr / 65535.0).astype(np.float32)
    span = high - low
    return ((arr - low) / span if span else np.zeros_like(arr)).astype(np.float32)


def _convert_channels(pixels: np.ndarray, mode: str) -> np.ndarray:
    channels = pixels.shape[-1]
    if mode == "grey" and channels == 3:
        return np.ascontiguousarray(np.clip(pixels @ _GREY_WEIGHTS, 0.0, 1.0)[..., None], dtype=np.float32)
    if mode == "rgb" and channels == 1:
        return np.repeat(pixels, 3, axis=-1)
    return pixels


def resize_pixels(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize (H, W) or (H, W, C) float pixels to size=(h, w), anti-aliased; float32 in [0, 1]."""
    height, width = int(size[0]), int(size[1])
    if height < 1 or width < 1:
        raise ValueError(f"size must be two positive numbers (height, width), got {size!r}.")
    pixels = np.asarray(pixels, dtype=np.float32)
    if pixels.shape[:2] == (height, width):
        return np.clip(pixels, 0.0, 1.0)
    planes = pixels[..., None] if pixels.ndim == 2 else pixels
    out = np.stack([_resize_plane(planes[..., c], width, height) for c in range(planes.shape[-1])], axis=-1)
    out = np.clip(out, 0.0, 1.0)
    return out[..., 0] if pixels.ndim == 2 else out


def _resize_plane(plane: np.ndarray, width: int, height: int) -> np.ndarray:
    image = Image.fromarray(np.ascontiguousarray(plane, dtype=np.float32))
    return np.asarray(image.resize((width, height), Image.Resampling.LANCZOS), dtype=np.float32)


def write_image(
    path: str | os.PathLike, pixels: np.ndarray, *, bit_depth: int = 8, alpha: np.ndarray | None = None
) -> Path:
    """Write float pixels in [0, 1] ((H, W), (H, W, 1) or (H, W, 3)) atomically; return the path.

    The format follows the extension (.png .tif .tiff .jpg .jpeg .bmp). bit_depth=16 is
    kept for grey PNG/TIFF without alpha; other cases are written with 8 bits. JPEG has no
    alpha channel, so `alpha` is dropped there.
    """
    path = Path(path)
    fmt = WRITE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ImageError(f"Cannot write {path.name}: unknown extension {path.suffix!r}. "
                         f"Use one of {', '.join(WRITE_FORMATS)}.", path=path, reason="unknown extension")
    if bit_depth not in (8, 16):
        raise ImageError(f"bit_depth must be 8 or 16, got {bit_depth!r}.", path=path)
    image = _to_pil(_check_pixels(pixels, path), alpha if fmt != "JPEG" else None, bit_depth, fmt, path)
    _save_atomic(image, path, fmt)
    return path


def _check_pixels(pixels: np.ndarray, path: Path) -> np.ndarray:
    arr = np.asarray(pixels, dtype=np.float32)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[-1] == 3)) or arr.size == 0:
        raise ImageError(f"Cannot write {path.name}: pixels must be shaped (H, W), (H, W, 1) or (H, W, 3), "
                         f"got {arr.shape}.", path=path)
    if not np.isfinite(arr).all():
        raise ImageError(f"Cannot write {path.name}: pixels contain NaN or infinite values.", path=path)
    return np.clip(arr, 0.0, 1.0)


def _to_pil(arr: np.ndarray, alpha: np.ndarray | None, bit_depth: int, fmt: str, path: Path) -> Image.Image:
    if bit_depth == 16 and arr.ndim == 2 and alpha is None and fmt in ("PNG", "TIFF"):
        return Image.fromarray(np.round(arr * 65535.0).astype(np.uint16))
    if alpha is not None:
        alpha = np.asarray(alpha, dtype=np.float32)
        if alpha.shape != arr.shape[:2]:
            raise ImageError(f"Cannot write {path.name}: alpha shape {alpha.shape} does not match "
                             f"the image {arr.shape[:2]}.", path=path)
        arr = np.dstack([arr if arr.ndim == 3 else arr[..., None], np.clip(np.nan_to_num(alpha), 0, 1)])
    return Image.fromarray(np.round(arr * 255.0).astype(np.uint8))


def _save_atomic(image: Image.Image, path: Path, fmt: str) -> None:
    try:
        with atomic_path(path) as tmp:
            image.save(tmp, format=fmt)
    except PermissionError as exc:
        raise ImageError(f"Cannot write {path.name}: the folder {path.parent} is read-only "
                         "(or you lack permission). Choose another folder.", path=path,
                         reason="folder is read-only") from exc
    except FileNotFoundError as exc:
        raise ImageError(f"Cannot write {path.name}: the folder {path.parent} does not exist. "
                         "Create it or choose another folder.", path=path, reason="folder not found") from exc
    except OSError as exc:
        raise ImageError(f"Cannot write {path.name}: {exc}. Check the disk space and the folder, "
                         "or choose another folder.", path=path, reason=str(exc)) from exc
