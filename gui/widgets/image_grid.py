"""Rows of small images (e.g. originals, noisy inputs, reconstructions) with persistent artists."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from gui.widgets.canvas import MplCanvas


def _as_display(images: np.ndarray) -> np.ndarray:
    """(n, h, w, c) or (n, h, w) -> float array in [0, 1]: (n, h, w) for grey, (n, h, w, 3) for RGB."""
    arr = np.asarray(images)
    if arr.ndim == 3:
        arr = arr[..., np.newaxis]
    if arr.ndim != 4 or arr.shape[-1] not in (1, 3):
        raise ValueError(f"expected images shaped (n, h, w, c) with c in {{1, 3}}, got {arr.shape}")
    if np.issubdtype(arr.dtype, np.integer):
        arr = arr / 255.0
    arr = np.clip(np.nan_to_num(np.asarray(arr, dtype=float), nan=0.0), 0.0, 1.0)
    return arr[..., 0] if arr.shape[-1] == 1 else arr


class ImageGrid(MplCanvas):
    """One row per image set, one column per sample; rebuilt only when the shapes change."""

    clicked = Signal(int)  # column index of the image the user clicked

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, figsize=(6.0, 3.0))
        self._axes: list[list] = []
        self._images: list[list] = []
        self._shape: tuple | None = None
        self.rebuilds = 0  # how often the axes were recreated (for tests and profiling)
        self.mpl_connect("button_press_event", self._on_button_press)

    def set_images(
        self,
        rows: Sequence[np.ndarray],
        row_titles: Sequence[str],
        captions: Sequence[str] | None = None,
    ) -> None:
        """Show rows of (n, h, w, c) images in [0, 1]; captions go under the bottom row."""
        shown = [_as_display(r) for r in rows]
        if len(row_titles) != len(shown):
            raise ValueError(f"{len(shown)} rows but {len(row_titles)} row titles")
        counts = {len(a) for a in shown}
        if len(counts) > 1:
            raise ValueError(f"every row needs the same number of images, got {sorted(counts)}")
        n = counts.pop() if counts else 0
        if captions is not None and len(captions) != n:
            raise ValueError(f"{n} columns but {len(captions)} captions")

        shape = (len(shown), *(a.shape for a in shown))
        if shape != self._shape:
            self._build(shown)
            self._shape = shape
        else:
            for row_images, arr in zip(self._images, shown):
                for image, data in zip(row_images, arr):
                    image.set_data(data)
        for r, title in enumerate(row_titles):
            if n:
                self._axes[r][0].set_ylabel(title)
        bottom = self._axes[-1] if self._axes else []
        for c, ax in enumerate(bottom):
            ax.set_xlabel(captions[c] if captions is not None else "", fontsize="small")
        self.request_draw()

    def clear_images(self) -> None:
        self.figure.clear()
        self._axes, self._images, self._shape = [], [], None
        self.request_draw()

    def shown_image(self, row: int, col: int) -> np.ndarray:
        """The array currently displayed at (row, col): (h, w) for grey, (h, w, 3) for RGB."""
        return np.array(np.ma.getdata(self._images[row][col].get_array()))

    def shown_caption(self, col: int) -> str:
        return self._axes[-1][col].get_xlabel()

    def image_artist(self, row: int, col: int):
        return self._images[row][col]

    def grid_shape(self) -> tuple[int, int]:
        """(rows, columns) currently laid out."""
        return (len(self._axes), len(self._axes[0]) if self._axes else 0)

    def _build(self, shown: list[np.ndarray]) -> None:
        self.figure.clear()
        self._axes, self._images = [], []
        self.rebuilds += 1
        n = len(shown[0]) if shown else 0
        if n == 0:
            return
        axes = self.figure.subplots(len(shown), n, squeeze=False)
        for r, arr in enumerate(shown):
            grey = arr.ndim == 3
            row_images = []
            for c in range(n):
                ax = axes[r][c]
                image = ax.imshow(
                    arr[c],
                    cmap="gray" if grey else None,
                    vmin=0.0,
                    vmax=1.0,
                    origin="upper",
                    interpolation="nearest",
                )
                ax.set_xticks([])
                ax.set_yticks([])
                row_images.append(image)
            self._images.append(row_images)
            self._axes.append(list(axes[r]))

    def _on_button_press(self, event) -> None:
        for row in self._axes:
            if event.inaxes in row:
                self.clicked.emit(row.index(event.inaxes))
                return
