"""Rows of small images (e.g. originals, noisy inputs, reconstructions) drawn as one mosaic.

All tiles are joined into one array with a small transparent gap and shown by a single AxesImage
(fixed 0..1 range, 'gray' colormap for grey rows, RGB otherwise, origin upper) in one axes; row
titles and per-column captions are text artists next to it. One image and a few texts draw in a few
milliseconds, where one axes per tile cost ~70 ms for 16 tiles. New images of the same shapes only
replace the mosaic's data; the artists are rebuilt when the shapes change.
"""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib as mpl
import numpy as np
from matplotlib.transforms import ScaledTranslation
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from gui.common.canvas import MplCanvas, changes_figure, reads_figure

_TITLE_PAD_PT = 4  # row titles: points left of the mosaic
_TITLE_MIN_PT = 6  # a row title shrinks (not below this) when its row is shorter than the title
_CAPTION_PAD_PT = 3  # captions: points below the mosaic


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
    RENDER_OFF_THREAD = True  # full redraws in the render thread; changes queue meanwhile

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, figsize=(6.0, 3.0))
        self.ax = self.figure.add_subplot()
        self.ax.set_axis_off()
        self._image = None  # the mosaic AxesImage
        self._titles: list = []  # Text per row
        self._captions: list = []  # Text per column, under the bottom row
        self._tiles: list[list[tuple[int, int, int, int]]] = []  # (top, left, height, width) per tile
        self._grey_rows: list[bool] = []
        self._colour = False
        self._mosaic_size = (0, 0)  # (height, width) in pixels of the mosaic
        self._pitch = (1, 1)  # (cell height + gap, cell width + gap)
        self._cell = (0, 0)
        self._shape: tuple | None = None
        self.rebuilds = 0  # how often the artists were recreated (for tests and profiling)
        self.mpl_connect("button_press_event", self._on_button_press)
        self.mpl_connect("draw_event", self._fit_row_titles)

    # -- public API -----------------------------------------------------------------------
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
        self._show(shown, list(row_titles), None if captions is None else list(captions))

    @changes_figure
    def _show(self, shown: list[np.ndarray], row_titles: list[str], captions: list[str] | None) -> None:
        shape = (len(shown), *(a.shape for a in shown))
        if shape != self._shape:
            self._build(shown)
            self._shape = shape
        if self._image is not None:
            self._image.set_data(self._mosaic(shown))
        for title, text in zip(self._titles, row_titles):
            title.set_text(text)
        for c, caption in enumerate(self._captions):
            caption.set_text(captions[c] if captions is not None else "")
        self.request_draw()

    @changes_figure
    def clear_images(self) -> None:
        self._remove_artists()
        self._shape = None
        self.request_draw()

    @reads_figure
    def shown_image(self, row: int, col: int) -> np.ndarray:
        """The array currently displayed at (row, col): (h, w) for grey, (h, w, 3) for RGB."""
        if self._image is None or not (0 <= row < len(self._tiles) and 0 <= col < len(self._tiles[row])):
            raise IndexError(f"no image at ({row}, {col})")
        top, left, h, w = self._tiles[row][col]
        tile = np.ma.getdata(self._image.get_array())[top:top + h, left:left + w]
        if not self._colour:
            return np.array(tile)
        return np.array(tile[..., 0] if self._grey_rows[row] else tile[..., :3])

    @reads_figure
    def shown_caption(self, col: int) -> str:
        return self._captions[col].get_text()

    @reads_figure
    def shown_row_title(self, row: int) -> str:
        return self._titles[row].get_text()

    @reads_figure
    def image_artist(self, row: int, col: int):
        """The AxesImage showing (row, col): one mosaic artist holds every tile."""
        if not (0 <= row < len(self._tiles) and 0 <= col < len(self._tiles[row])):
            raise IndexError(f"no image at ({row}, {col})")
        return self._image

    @reads_figure
    def tile_extent(self, row: int, col: int) -> tuple[float, float, float, float]:
        """(left, right, top, bottom) of the tile's pixels in the axes' data coordinates (y down)."""
        top, left, h, w = self._tiles[row][col]
        return (left - 0.5, left + w - 0.5, top - 0.5, top + h - 0.5)

    @reads_figure
    def grid_shape(self) -> tuple[int, int]:
        """(rows, columns) currently laid out."""
        return (len(self._tiles), len(self._tiles[0]) if self._tiles else 0)

    # -- internals ------------------------------------------------------------------------
    def _remove_artists(self) -> None:
        for artist in (self._image, *self._titles, *self._captions):
            if artist is not None:
                artist.remove()
        self._image, self._titles, self._captions, self._tiles = None, [], [], []
        self.invalidate_layout()

    def _build(self, shown: list[np.ndarray]) -> None:
        """New mosaic geometry, image artist and texts for these shapes."""
        self._remove_artists()
        self.rebuilds += 1
        n = len(shown[0]) if shown else 0
        if n == 0:
            return
        rows = len(shown)
        cell_h = max(a.shape[1] for a in shown)
        cell_w = max(a.shape[2] for a in shown)
        gap = max(1, round(0.08 * max(cell_h, cell_w)))
        self._cell = (cell_h, cell_w)
        self._pitch = (cell_h + gap, cell_w + gap)
        height, width = rows * cell_h + (rows - 1) * gap, n * cell_w + (n - 1) * gap
        self._mosaic_size = (height, width)
        self._grey_rows = [a.ndim == 3 for a in shown]
        self._colour = not all(self._grey_rows)
        self._tiles = [[(r * self._pitch[0], c * self._pitch[1], a.shape[1], a.shape[2]) for c in range(n)]
                       for r, a in enumerate(shown)]
        self._image = self.ax.imshow(
            self._mosaic(shown),
            cmap=None if self._colour else "gray",
            vmin=0.0,
            vmax=1.0,
            origin="upper",
            interpolation="nearest",
        )
        # Texts sit a few points off the mosaic, whatever its size on screen.
        dpi_scale = self.figure.dpi_scale_trans
        left_of = self.ax.transData + ScaledTranslation(-_TITLE_PAD_PT / 72, 0, dpi_scale)
        below = self.ax.transData + ScaledTranslation(0, -_CAPTION_PAD_PT / 72, dpi_scale)
        for r in range(rows):
            top, _, h, _ = self._tiles[r][0]
            self._titles.append(self.ax.text(-0.5, top + (h - 1) / 2, "", rotation=90, ha="right",
                                             va="center", transform=left_of))
        bottom = self._tiles[-1]
        for top, left, h, w in bottom:
            self._captions.append(self.ax.text(left + (w - 1) / 2, top + h - 0.5, "", ha="center", va="top",
                                               fontsize="small", multialignment="center", transform=below))

    def _fit_row_titles(self, event) -> None:
        """After a draw: row titles longer than their rows are drawn smaller, all at one size (rows of a small
        grid are short); when all fit, at the normal size. A changed size is drawn at the next redraw."""
        if self.is_saving() or not self._titles:
            return
        fitting = mpl.rcParams["font.size"]
        for title, row in zip(self._titles, self._tiles):
            top, _, h, _ = row[0]
            (_, y0), (_, y1) = self.ax.transData.transform([(0, top - 0.5), (0, top + h - 0.5)])
            length = title.get_window_extent(event.renderer).height / title.get_fontsize()  # pixels per point
            fitting = min(fitting, 0.95 * abs(y1 - y0) / max(length, 1e-6))
        fitting = max(_TITLE_MIN_PT, fitting)
        if any(abs(title.get_fontsize() - fitting) > 0.5 for title in self._titles):
            for title in self._titles:
                title.set_fontsize(fitting)
            self.invalidate_layout()
            self.request_draw()

    def _mosaic(self, shown: list[np.ndarray]) -> np.ndarray:
        """All tiles in one array; gaps are NaN (grey, masked: transparent) or alpha 0 (colour)."""
        height, width = self._mosaic_size
        if self._colour:
            mosaic = np.zeros((height, width, 4))
        else:
            mosaic = np.full((height, width), np.nan)
        for r, arr in enumerate(shown):
            for c, (top, left, h, w) in enumerate(self._tiles[r]):
                if self._colour:
                    mosaic[top:top + h, left:left + w, :3] = arr[c][..., np.newaxis] if arr.ndim == 3 else arr[c]
                    mosaic[top:top + h, left:left + w, 3] = 1.0
                else:
                    mosaic[top:top + h, left:left + w] = arr[c]
        return mosaic

    def _on_button_press(self, event) -> None:
        if self._image is None or event.inaxes is not self.ax or event.xdata is None:
            return
        x, y = event.xdata + 0.5, event.ydata + 0.5  # pixels from the mosaic's top-left corner
        row, col = int(y // self._pitch[0]), int(x // self._pitch[1])
        if not (0 <= row < len(self._tiles) and 0 <= col < len(self._tiles[row]) and x >= 0 and y >= 0):
            return
        top, left, h, w = self._tiles[row][col]
        if x - left < w and y - top < h:  # on the tile, not in the gap after it
            self.clicked.emit(col)
