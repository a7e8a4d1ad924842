"""Saving a denoised photograph: its suggested name, its extension and its bit depth (16 bits kept where
the input had them and the format can hold them)."""
from __future__ import annotations

import os
from pathlib import Path

from engine.data.images import WRITE_FORMATS, LoadedImage


def suggested_name(image: LoadedImage, method_label: str) -> str:
    """Default file name for a denoised result: <stem>_<method>.<png or tif>."""
    slug = "".join(ch if ch.isalnum() else "_" for ch in method_label.lower()).strip("_")
    while "__" in slug:
        slug = slug.replace("__", "_")
    suffix = ".tif" if image.path.suffix.lower() in (".tif", ".tiff") else ".png"
    return f"{image.path.stem}_{slug or 'denoised'}{suffix}"


def with_image_suffix(path: str | os.PathLike, default: str = ".png") -> Path:
    """`path` with a writable image extension (the default one appended when it has none we write)."""
    path = Path(path)
    return path if path.suffix.lower() in WRITE_FORMATS else path.with_name(path.name + default)


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when both paths name the same file (after resolving links and '..')."""
    try:
        if Path(a).exists() and Path(b).exists():
            return os.path.samefile(a, b)
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def kept_bit_depth(image: LoadedImage, path: str | os.PathLike) -> int:
    """16 where the input had 16 bits and the chosen format keeps it (PNG or TIFF), else 8."""
    fmt = WRITE_FORMATS.get(Path(path).suffix.lower())
    return 16 if image.bit_depth == 16 and fmt in ("PNG", "TIFF") else 8
