"""Image folders for the anomaly score tests: normal images (faint noise), and images to score, good/ like them
and blob/ with a bright blob in the middle."""
from pathlib import Path

import numpy as np


def write_images(folder: Path, images) -> None:
    from PIL import Image

    folder.mkdir(parents=True)
    for i, image in enumerate(images):
        Image.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8)).save(folder / f"{i}.png")


def write_blob_folders(root: Path) -> tuple[Path, Path]:
    """root/normal and root/test (good/, blob/); returns (normal, test)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:16, :16]
    blob = np.exp(-((yy - 8) ** 2 + (xx - 8) ** 2) / 8.0)
    write_images(root / "normal", rng.random((16, 16, 16)) * 0.3)
    write_images(root / "test" / "good", rng.random((6, 16, 16)) * 0.3)
    write_images(root / "test" / "blob", rng.random((6, 16, 16)) * 0.3 + blob)
    return root / "normal", root / "test"
