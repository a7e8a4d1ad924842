"""Where a file dropped anywhere on the window goes: an image to Denoise, a folder or an array file to the
Training data, a CSV/TSV to Anomaly detection, a .keras model to open, a detector to the Anomaly tab."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData

TABLE_SUFFIXES = (".csv", ".tsv", ".txt")


def dropped_local_path(mime: QMimeData) -> Path | None:
    """The first local file or folder in dropped data."""
    for url in mime.urls() if mime.hasUrls() else []:
        if url.isLocalFile():
            return Path(url.toLocalFile())
    return None


def destination(path: Path) -> str | None:
    """"image", "training data", "table", "model", "detector", or None for a file the app does not take."""
    from engine.anomaly.files import DETECTOR_SUFFIX
    from engine.data.arrays import ARRAY_SUFFIXES
    from engine.data.images import IMAGE_SUFFIXES

    suffix = path.suffix.lower()
    if path.is_dir() or suffix in ARRAY_SUFFIXES:
        return "training data"
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in TABLE_SUFFIXES:
        return "table"
    if suffix == ".keras":
        return "model"
    if suffix == DETECTOR_SUFFIX:
        return "detector"
    return None
