"""The 2-D latent manifold: decoded images tiled over the latent plane, on latent axes.

The tiles are one AxesImage drawn with origin "upper" (each image the right way up) and an
extent in latent coordinates whose y grows upward, as in the latent scatter: the engine's top
row of images is the highest latent y. Without a manifold the canvas says why.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QWidget

from gui.common.canvas import MplCanvas
from gui.common.image_grid import _as_display


def tile(images: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """(rows*cols, h, w[, 3]) display images -> one (rows*h, cols*w[, 3]) mosaic, row-major."""
    n, h, w = images.shape[:3]
    if n != rows * cols:
        raise ValueError(f"{n} images do not fill a {rows}x{cols} grid")
    grid = images.reshape(rows, cols, h, w, *images.shape[3:])
    grid = np.moveaxis(grid, 2, 1)  # (rows, h, cols, w, ...)
    return grid.reshape(rows * h, cols * w, *images.shape[3:])


class ManifoldView(MplCanvas):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, figsize=(4.0, 4.0), min_size=(200, 200))
        self.ax = self.figure.add_subplot()
        self._image = None
        self._message = self.ax.text(0.5, 0.5, "", ha="center", va="center", wrap=True,
                                     transform=self.ax.transAxes, color="0.3")
        self.grid_x = self.grid_y = np.zeros(0)
        self.show_message("No manifold yet.")

    def set_manifold(self, images: np.ndarray, grid_x: np.ndarray, grid_y: np.ndarray,
                     xlabel: str = "z[0]", ylabel: str = "z[1]") -> None:
        """Show len(grid_y) x len(grid_x) decoded images; row 0 of the images is the highest y."""
        grid_x, grid_y = np.asarray(grid_x, float), np.asarray(grid_y, float)
        shown = _as_display(images)
        mosaic = tile(shown, len(grid_y), len(grid_x))
        dx = (grid_x.max() - grid_x.min()) / max(1, len(grid_x) - 1) or 1.0
        dy = (grid_y.max() - grid_y.min()) / max(1, len(grid_y) - 1) or 1.0
        extent = (grid_x.min() - dx / 2, grid_x.max() + dx / 2, grid_y.min() - dy / 2, grid_y.max() + dy / 2)
        if self._image is None or self._image.get_array().shape != mosaic.shape:
            if self._image is not None:
                self._image.remove()
            self._image = self.ax.imshow(mosaic, cmap=None if mosaic.ndim == 3 else "gray", vmin=0.0, vmax=1.0,
                                         origin="upper", interpolation="nearest", extent=extent)
            self.invalidate_layout()
        else:
            self._image.set_data(mosaic)
            self._image.set_extent(extent)
        self.ax.set_xlim(extent[0], extent[1])
        self.ax.set_ylim(extent[2], extent[3])  # bottom < top: y grows upward
        self.ax.set_xlabel(xlabel)
        self.ax.set_ylabel(ylabel)
        self.ax.set_axis_on()
        self._message.set_text("")
        self.grid_x, self.grid_y = grid_x, grid_y
        self.request_draw()

    def show_message(self, text: str) -> None:
        if self._image is not None:
            self._image.remove()
            self._image = None
        self.grid_x = self.grid_y = np.zeros(0)
        self.ax.set_axis_off()
        self._message.set_text(text)
        self.invalidate_layout()
        self.request_draw()

    def message(self) -> str:
        return self._message.get_text()

    def has_manifold(self) -> bool:
        return self._image is not None

    def shown_tile(self, row: int, col: int) -> np.ndarray:
        """The displayed tile at (row, col), row 0 at the top of the screen."""
        if self._image is None:
            raise IndexError("no manifold shown")
        mosaic = np.ma.getdata(self._image.get_array())
        h, w = mosaic.shape[0] // len(self.grid_y), mosaic.shape[1] // len(self.grid_x)
        return np.array(mosaic[row * h:(row + 1) * h, col * w:(col + 1) * w])
