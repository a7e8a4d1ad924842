"""The Denoise tab's file handling: what the user is told about an opened photograph, which dropped file
to open, the sample photographs' menu, and what a save keeps or asks first."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QMimeData
from PySide6.QtWidgets import QMenu, QMessageBox, QWidget

from engine.data.images import IMAGE_SUFFIXES, LoadedImage
from engine.data.samples import available_samples
from engine.denoise.files import same_file


def describe(image: LoadedImage) -> str:
    """Three lines: name, size, colour and depth."""
    h, w = image.size
    colour = "grey" if image.pixels.shape[-1] == 1 else "colour"
    extras = f", {image.bit_depth}-bit" + (", with alpha" if image.alpha is not None else "")
    megapixels = h * w / 1e6
    size = f"{megapixels:.1f}" if megapixels >= 1 else f"{megapixels:.2g}"
    return f"{image.path.name}\n{w} x {h} pixels ({size} MP)\n{colour}{extras}"


def dropped_path(mime: QMimeData) -> str | None:
    """The first local image file in dropped data (else the first local file: its reader says what is wrong)."""
    if not mime.hasUrls():
        return None
    for url in mime.urls():
        if url.isLocalFile() and Path(url.toLocalFile()).suffix.lower() in IMAGE_SUFFIXES:
            return url.toLocalFile()
    for url in mime.urls():
        if url.isLocalFile():
            return url.toLocalFile()
    return None


def fill_sample_menu(menu: QMenu, open_sample: Callable[[str], object]) -> None:
    """One action per sample photograph available offline."""
    samples = available_samples()
    for name, (label, _path) in samples.items():
        menu.addAction(label).triggered.connect(lambda _checked=False, n=name: open_sample(n))
    if not samples:
        menu.addAction("No samples (scikit-image's data files are missing)").setEnabled(False)


def may_replace(parent: QWidget, path: Path, opened: Path) -> bool:
    """True when `path` is free, or the user agrees to replace it (asked more gravely for the opened image)."""
    if not path.exists():
        return True
    if same_file(path, opened):
        question = (f"{path.name} is the image you opened. Replace the original with the denoised result? "
                    "This cannot be undone.")
    else:
        question = f"{path.name} already exists. Replace it?"
    answer = QMessageBox.question(parent, "Replace file?", question,
                                  QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


def saved_notes(image: LoadedImage | None, path: Path, bit_depth: int) -> list[str]:
    """What the written file kept: its depth and transparency."""
    notes = [f"{bit_depth}-bit"]
    if image is not None and image.alpha is not None:
        notes.append("no transparency (JPEG has none)" if path.suffix.lower() in (".jpg", ".jpeg")
                     else "transparency kept")
    if image is not None and image.bit_depth == 16 and bit_depth == 8:
        notes.append("16-bit needs PNG or TIFF")
    return notes
