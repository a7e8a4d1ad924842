"""Files around the Denoise tab, Qt-free: scikit-image's sample photographs (offline only),
the recent-images list and the name and bit depth of a saved result."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from engine.data.images import WRITE_FORMATS, LoadedImage

# name -> (menu label, file in skimage/data). Only files that ship inside the scikit-image
# package are offered: the others would need a download (pooch), which may be offline.
SAMPLE_IMAGES: dict[str, tuple[str, str]] = {
    "camera": ("Camera man (grey)", "camera.png"),
    "astronaut": ("Astronaut (colour)", "astronaut.png"),
    "coffee": ("Coffee cup (colour)", "coffee.png"),
    "chelsea": ("Chelsea the cat (colour)", "chelsea.png"),
    "rocket": ("Rocket (colour)", "rocket.jpg"),
    "moon": ("Moon surface (grey)", "moon.png"),
    "coins": ("Coins (grey)", "coins.png"),
    "page": ("Book page (grey)", "page.png"),
    "text": ("Handwritten text (grey)", "text.png"),
    "brick": ("Brick wall (grey)", "brick.png"),
    "grass": ("Grass (grey)", "grass.png"),
    "gravel": ("Gravel (grey)", "gravel.png"),
    "immunohistochemistry": ("Immunohistochemistry (colour)", "ihc.png"),
    "hubble_deep_field": ("Hubble deep field (colour)", "hubble_deep_field.jpg"),
    "retina": ("Retina (colour, 2 MP)", "retina.jpg"),
    "motorcycle": ("Motorcycle (colour)", "motorcycle_left.png"),
    "logo": ("scikit-image logo (colour + alpha)", "logo.png"),
}
RECENT_LIMIT = 8


def _skimage_data_dir() -> Path | None:
    """scikit-image's bundled data folder, found without importing scikit-image."""
    try:
        spec = importlib.util.find_spec("skimage")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def available_samples() -> dict[str, tuple[str, Path]]:
    """name -> (label, file) for the sample photographs present on this machine."""
    folder = _skimage_data_dir()
    if folder is None:
        return {}
    found = {name: (label, folder / file) for name, (label, file) in SAMPLE_IMAGES.items()}
    return {name: item for name, item in found.items() if item[1].is_file()}


def sample_path(name: str) -> Path:
    """The file of a sample photograph; ValueError naming the choices when it is not here."""
    samples = available_samples()
    if name not in samples:
        have = ", ".join(samples) or "none (scikit-image is not installed)"
        raise ValueError(f"No sample image called {name!r} on this machine; available: {have}.")
    return samples[name][1]


def push_recent(recent: list[str], path: str | os.PathLike, limit: int = RECENT_LIMIT) -> list[str]:
    """`recent` with `path` moved to the front (no duplicates, at most `limit`)."""
    text = str(Path(path).resolve()) if str(path) else ""
    items = [text] + [p for p in recent if p and p != text]
    return items[:limit]


def clean_recent(values: object, limit: int = RECENT_LIMIT) -> list[str]:
    """A recent list read back from settings (a string, a list or junk) as a list of paths."""
    if isinstance(values, str):
        values = [values] if values else []
    if not isinstance(values, (list, tuple)):
        return []
    out: list[str] = []
    for value in values:
        if isinstance(value, str) and value and value not in out:
            out.append(value)
    return out[:limit]


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
