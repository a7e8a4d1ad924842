"""scikit-image's sample photographs, offered offline (only the files that ship inside the package)."""
from __future__ import annotations

import importlib.util
from pathlib import Path


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
