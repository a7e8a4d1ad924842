"""Views of what a detector flagged: the most anomalous images with error heatmaps, and a time series
with its anomalous windows shaded.

HeatmapGrid draws like gui.common.image_grid: the tiles are joined into mosaics in one axes (one
image for the input and reconstruction rows, one faint grey background and one 'inferno' overlay
for the heatmap row), origin upper, so 16 columns cost three images instead of 48 axes. New data
of the same shapes only replaces the mosaics' data.
"""
from __future__ import annotations

import textwrap
from collections.abc import Sequence

import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.patches import Rectangle
from matplotlib.transforms import ScaledTranslation
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from gui.common.canvas import MplCanvas
from gui.common.image_grid import _as_display  # one conversion for every image view

ROWS = ("input", "reconstruction", "error heatmap")
_TITLE_PAD_PT = 4
_CAPTION_PAD_PT = 3
_CAPTION_FONT_PT = 7.5
_HEAT_ALPHA = 0.75


class HeatmapGrid(MplCanvas):
    """Columns of input, reconstruction and error heatmap for the most anomalous samples.

    More than 8 samples are laid out in two bands of three rows, so the tiles stay large enough.
    """

    sample_clicked = Signal(int)  # column index (sample position in the given arrays)

    BAND_COLUMNS = 8

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, figsize=(6.0, 3.6), min_size=(260, 180))
        self.ax = self.figure.add_subplot()
        self.ax.set_axis_off()
        self._images = None  # AxesImage: input and reconstruction rows
        self._background = None  # AxesImage: grey input under the heatmap
        self._heat = None  # AxesImage: error maps
        self._colorbar = None
        self._titles: list = []
        self._captions: list = []
        self._caption_texts: list[str] = []
        self._message = self.ax.text(0.5, 0.5, "", ha="center", va="center", color="0.3",
                                     transform=self.ax.transAxes)
        self._colour = False
        self._n = 0
        self._columns = 1  # per band
        self._cell = (0, 0)
        self._pitch = (1, 1)
        self._band_pitch = 1
        self._size = (0, 0)
        self._shape: tuple | None = None
        self._wrap_chars: int | None = None
        self.rebuilds = 0
        self.mpl_connect("button_press_event", self._on_press)
        self.set_samples(np.zeros((0, 1, 1, 1)), np.zeros((0, 1, 1, 1)), np.zeros((0, 1, 1)), [])

    # -- public API -----------------------------------------------------------------------
    def set_samples(self, images: np.ndarray, reconstructions: np.ndarray, error_maps: np.ndarray,
                    captions: Sequence[str]) -> None:
        """Show n samples (up to 16); error maps (n, h, w) >= 0 share one colour scale."""
        inputs, recons = _as_display(images), _as_display(reconstructions)
        maps = np.nan_to_num(np.asarray(error_maps, float), nan=0.0)
        n = len(inputs)
        if len(recons) != n or len(maps) != n or len(captions) != n:
            raise ValueError(f"{n} images, {len(recons)} reconstructions, {len(maps)} error maps, "
                             f"{len(captions)} captions")
        if n and (recons.shape != inputs.shape or maps.shape != inputs.shape[:3]):
            raise ValueError(f"shapes differ: {inputs.shape}, {recons.shape}, {maps.shape}")
        if n == 0 or inputs.shape != self._shape:
            self._build(inputs)
            self._shape = inputs.shape if n else None
        self._message.set_text("" if n else "No samples")
        if n:
            grey = inputs if inputs.ndim == 3 else inputs @ np.array([0.299, 0.587, 0.114])
            self._images.set_data(self._mosaic({0: inputs, 1: recons}))
            self._background.set_data(self._mosaic({2: grey}))
            self._heat.set_data(self._mosaic({2: np.maximum(maps, 0.0)}))
            vmax = float(maps.max())
            self._heat.set_clim(0.0, vmax if vmax > 0 else 1.0)
        self._caption_texts = [str(c) for c in captions]
        self._wrap_chars = None  # wrapped for the column width at the next draw
        self.request_draw()

    def shown(self, row: str, col: int) -> np.ndarray:
        """The array displayed at (row, col); row is "input", "reconstruction" or "error heatmap"."""
        if row not in ROWS or not 0 <= col < self._n:
            raise IndexError(f"no image at ({row!r}, {col})")
        (h, w), (top, left) = self._cell, self._origin(ROWS.index(row), col)
        if row == "error heatmap":
            return np.array(np.ma.getdata(self._heat.get_array())[top:top + h, left:left + w])
        tile = np.ma.getdata(self._images.get_array())[top:top + h, left:left + w]
        return np.array(tile[..., :3] if self._colour else tile)

    def tile_extent(self, row: str, col: int) -> tuple[float, float, float, float]:
        """(left, right, top, bottom) of a tile in the axes' data coordinates (y grows downward)."""
        (h, w), (top, left) = self._cell, self._origin(ROWS.index(row), col)
        return (left - 0.5, left + w - 0.5, top - 0.5, top + h - 0.5)

    def caption(self, col: int) -> str:
        return self._caption_texts[col]

    def count(self) -> int:
        return self._n

    def message(self) -> str:
        return self._message.get_text()

    def heat_limits(self) -> tuple[float, float]:
        return tuple(float(v) for v in self._heat.get_clim()) if self._heat is not None else (0.0, 0.0)

    # -- internals ------------------------------------------------------------------------
    def _origin(self, row: int, col: int) -> tuple[int, int]:
        """(top, left) pixel of tile (row, col) in the mosaic."""
        band, c = divmod(col, self._columns)
        return band * self._band_pitch + row * self._pitch[0], c * self._pitch[1]

    def _remove_artists(self) -> None:
        if self._colorbar is not None:
            self._colorbar.ax.remove()
            self._colorbar = None
        for artist in (self._images, self._background, self._heat, *self._titles, *self._captions):
            if artist is not None:
                artist.remove()
        self._images = self._background = self._heat = None
        self._titles, self._captions = [], []
        self.invalidate_layout()

    def _build(self, inputs: np.ndarray) -> None:
        self._remove_artists()
        self.rebuilds += 1
        self._n = n = len(inputs)
        if n == 0:
            return
        h, w = inputs.shape[1:3]
        gap = max(1, round(0.1 * max(h, w)))
        bands = 1 if n <= self.BAND_COLUMNS else -(-n // self.BAND_COLUMNS)
        self._columns = -(-n // bands)
        self._cell, self._pitch = (h, w), (h + gap, w + gap)
        self._band_pitch = 3 * self._pitch[0] + round(0.9 * h)  # room for the captions between bands
        self._colour = inputs.ndim == 4
        self._size = (bands * self._band_pitch - round(0.9 * h) - gap, self._columns * self._pitch[1] - gap)
        height, width = self._size
        extent = (-0.5, width - 0.5, height - 0.5, -0.5)
        style = dict(origin="upper", interpolation="nearest", extent=extent)
        self._images = self.ax.imshow(np.full(self._size, np.nan), cmap="gray", vmin=0, vmax=1, **style)
        self._background = self.ax.imshow(np.full(self._size, np.nan), cmap="gray", vmin=0, vmax=1, **style)
        self._heat = self.ax.imshow(np.full(self._size, np.nan), cmap="inferno", vmin=0, vmax=1,
                                    alpha=_HEAT_ALPHA, **style)
        self.ax.set_xlim(-0.5, width - 0.5)
        self.ax.set_ylim(height - 0.5, -0.5)  # y down: row 0 on top, images right side up
        # A small colour bar beside the first heatmap row, in data coordinates so it follows the tiles.
        heat_top = self._origin(2, 0)[0]
        cax = self.ax.inset_axes([width - 0.5 + 0.25 * w, heat_top - 0.5, 0.12 * w, h], transform=self.ax.transData)
        self._colorbar = self.figure.colorbar(self._heat, cax=cax)
        self._colorbar.set_label("squared error", fontsize="x-small")
        self._colorbar.ax.tick_params(labelsize="x-small", length=2)
        self._colorbar.ax.yaxis.get_major_locator().set_params(nbins=3)
        dpi_scale = self.figure.dpi_scale_trans
        left_of = self.ax.transData + ScaledTranslation(-_TITLE_PAD_PT / 72, 0, dpi_scale)
        below = self.ax.transData + ScaledTranslation(0, -_CAPTION_PAD_PT / 72, dpi_scale)
        for band in range(bands):
            for r, title in enumerate(ROWS):
                top = self._origin(r, band * self._columns)[0]
                self._titles.append(self.ax.text(-0.5, top + (h - 1) / 2, title, ha="right", va="center",
                                                 fontsize="small", transform=left_of))
        for c in range(n):
            top, left = self._origin(2, c)
            self._captions.append(self.ax.text(left + (w - 1) / 2, top + h - 0.5, "", ha="center", va="top",
                                               fontsize=_CAPTION_FONT_PT, multialignment="center",
                                               transform=below))

    def _mosaic(self, rows: dict[int, np.ndarray]) -> np.ndarray:
        """The given rows' tiles in one array; elsewhere NaN (grey: transparent) or alpha 0 (RGB)."""
        h, w = self._cell
        colour = any(a.ndim == 4 for a in rows.values())
        mosaic = np.zeros((*self._size, 4)) if colour else np.full(self._size, np.nan)
        for r, arr in rows.items():
            for c in range(self._n):
                top, left = self._origin(r, c)
                tile = (slice(top, top + h), slice(left, left + w))
                if colour:
                    mosaic[tile + (slice(0, 3),)] = arr[c] if arr.ndim == 4 else arr[c][..., np.newaxis]
                    mosaic[tile + (3,)] = 1.0
                else:
                    mosaic[tile] = arr[c]
        return mosaic

    def _before_draw(self) -> None:
        """Wrap the captions to the width a column has on screen now."""
        if not self._captions:
            return
        pixels = abs(self.ax.transData.transform((self._pitch[1], 0))[0] - self.ax.transData.transform((0, 0))[0])
        chars = max(4, int(pixels / (0.65 * _CAPTION_FONT_PT * self.figure.dpi / 72)))
        if chars == self._wrap_chars:
            return
        self._wrap_chars = chars
        for text, caption in zip(self._captions, self._caption_texts):
            text.set_text("\n".join(textwrap.wrap(caption, chars, break_long_words=False)) or caption)

    def _on_press(self, event) -> None:
        if self._n == 0 or event.button != 1 or event.inaxes is not self.ax or event.xdata is None:
            return
        x, y = event.xdata + 0.5, event.ydata + 0.5  # pixels from the mosaic's top-left corner
        band, in_band = divmod(y, self._band_pitch)
        c, row = int(x // self._pitch[1]), int(in_band // self._pitch[0])
        col = int(band) * self._columns + c
        on_tile = (x >= 0 and y >= 0 and x - c * self._pitch[1] < self._cell[1]
                   and in_band - row * self._pitch[0] < self._cell[0])
        if on_tile and 0 <= c < self._columns and 0 <= col < self._n and row < len(ROWS):
            self.sample_clicked.emit(col)


class SeriesView(MplCanvas):
    """Channels on top, the per-step anomaly score below (shared x), anomalous windows shaded."""

    MAX_CHANNELS = 8
    ZOOM_WINDOWS = 10  # windows shown around a selected one on a long series

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, figsize=(6.0, 4.0), min_size=(320, 240))
        self.ax, self.score_ax = self.figure.subplots(2, 1, sharex=True, height_ratios=(3, 2))
        self._lines: list = []
        (self._score,) = self.score_ax.plot([], [], color="0.2", linewidth=1, label="score")
        self._threshold_line = self.score_ax.axhline(np.nan, color="red", linewidth=1.3, label="threshold")
        self._shades = [ax.add_collection(PolyCollection([], facecolors="tab:red", alpha=0.15, linewidths=0,
                                                         transform=ax.get_xaxis_transform(), zorder=0.5))
                        for ax in (self.ax, self.score_ax)]
        self._selection = []
        for ax in (self.ax, self.score_ax):
            patch = Rectangle((0, 0), 0, 1, facecolor="tab:red", alpha=0.4, edgecolor="darkred", linewidth=1.2,
                              transform=ax.get_xaxis_transform(), visible=False, zorder=0.6)
            self._selection.append(ax.add_patch(patch))
        self.ax.set_ylabel("value")
        self.score_ax.set_ylabel("anomaly score")
        self.score_ax.set_xlabel("time step")
        self._length = 0
        self._windows: list[tuple[int, int]] = []
        self._selected: tuple[int, int] | None = None
        self._window_length = 0
        self._threshold: float | None = None

    # -- public API -----------------------------------------------------------------------
    def set_series(self, values: np.ndarray, names: Sequence[str], point_scores: np.ndarray,
                   threshold: float | None) -> None:
        """Draw (T, C) values (up to 8 channels) and the (T,) per-step score."""
        values = np.asarray(values, float)
        values = values[:, np.newaxis] if values.ndim == 1 else values
        t, channels = values.shape
        shown = min(channels, self.MAX_CHANNELS)
        x = np.arange(t)
        while len(self._lines) > shown:
            self._lines.pop().remove()
        while len(self._lines) < shown:
            self._lines.append(self.ax.plot([], [], linewidth=1, color=f"C{len(self._lines)}")[0])
        for c, line in enumerate(self._lines):
            line.set_data(x, values[:, c])
            line.set_label(names[c] if c < len(names) else f"channel {c + 1}")
        self._score.set_data(x, np.asarray(point_scores, float).ravel())
        self._length = t
        self.ax.legend(handles=self._lines, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small",
                       borderaxespad=0)
        self.score_ax.legend(handles=[self._score, self._threshold_line], loc="upper left",
                             bbox_to_anchor=(1.01, 1.0), fontsize="small", borderaxespad=0)
        self.ax.set_title(f"{shown} of {channels} channels shown" if channels > shown else "", fontsize="medium")
        self._autoscale_y()
        self.set_threshold(threshold)
        self._show_range(0, t)
        self.select_window(None)
        self.invalidate_layout()

    def set_threshold(self, value: float | None) -> None:
        self._threshold = None if value is None else float(value)
        self._threshold_line.set_ydata([np.nan if value is None else value] * 2)
        self._autoscale_y()
        self.request_draw()

    def set_windows(self, starts: Sequence[int], length: int) -> None:
        """Shade [start, start + length) for each start on both axes (overlaps merged)."""
        self._window_length = int(length)
        self._windows = sorted((int(s), int(s) + int(length)) for s in starts)
        merged: list[list[int]] = []
        for start, end in self._windows:
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        verts = [[(s - 0.5, 0), (e - 0.5, 0), (e - 0.5, 1), (s - 0.5, 1)] for s, e in merged]
        for shade in self._shades:
            shade.set_verts(verts)
        self.request_draw()

    def select_window(self, start: int | None) -> None:
        """Shade one window more strongly; on a long series zoom to ~10 windows around it."""
        if start is None:
            self._selected = None
            for patch in self._selection:
                patch.set_visible(False)
            self._show_range(0, self._length)
            return
        length = self._window_length or max(1, self._length // 20)
        self._selected = (int(start), int(start) + length)
        for patch in self._selection:
            patch.set_x(start - 0.5)
            patch.set_width(length)
            patch.set_visible(True)
        span = self.ZOOM_WINDOWS * length
        if self._length > 1.5 * span:
            lo = int(np.clip(start + length / 2 - span / 2, 0, self._length - span))
            self._show_range(lo, lo + span)
        else:
            self._show_range(0, self._length)

    def shaded_windows(self) -> list[tuple[int, int]]:
        """(start, end) of each window set with set_windows, end exclusive, sorted."""
        return list(self._windows)

    def selected(self) -> tuple[int, int] | None:
        """(start, end) of the selected window."""
        return self._selected

    def channel_count(self) -> int:
        return len(self._lines)

    # -- internals ------------------------------------------------------------------------
    def _show_range(self, lo: float, hi: float) -> None:
        self.ax.set_xlim(lo - 0.5, max(hi, lo + 1) - 0.5)
        self.request_draw()

    def _autoscale_y(self) -> None:
        for ax, arrays in ((self.ax, [line.get_ydata() for line in self._lines]),
                           (self.score_ax, [self._score.get_ydata()])):
            data = np.concatenate([np.asarray(a, float) for a in arrays]) if arrays else np.empty(0)
            if ax is self.score_ax and self._threshold is not None:
                data = np.append(data, self._threshold)
            data = data[np.isfinite(data)]
            if not data.size:
                continue
            lo, hi = float(data.min()), float(data.max())
            pad = 0.05 * (hi - lo) if hi > lo else max(abs(hi), 1.0) * 0.1
            ax.set_ylim(lo - pad, hi + pad)
