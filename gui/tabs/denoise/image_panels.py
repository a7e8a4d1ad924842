"""Images side by side with linked zoom and pan (one figure, axes sharing x and y).

Each panel holds a full-resolution source array and draws about four source pixels per
screen pixel of its axes (at most `DISPLAY_PIXELS`): a large image is shown decimated (every
n-th pixel; matplotlib's antialiasing smooths the rest) and, once zoomed in or enlarged,
the visible part is re-cut at a finer step, so drawing stays fast whatever the image size while zooming
still reaches single pixels. Coordinates are always the source's pixel coordinates, so
the panels stay aligned and the toolbar's cursor read-out names real pixels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from matplotlib.backends.backend_qtagg import NavigationToolbar2QT
from PySide6.QtCore import QTimer, Slot
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from gui.common.canvas import MplCanvas

DISPLAY_PIXELS = 4_000_000  # most source pixels one panel draws at a time
MIN_DISPLAY_PIXELS = 1 << 18  # always allowed, however small the window


class LazyDifference:
    """|a - b| (averaged over colour channels), computed only for the slices that are shown."""

    def __init__(self, a: np.ndarray, b: np.ndarray) -> None:
        if a.shape != b.shape:
            raise ValueError(f"Cannot compare images of different shapes: {a.shape} and {b.shape}.")
        self._a, self._b = a, b
        self.shape = a.shape[:2]
        self.ndim = 2

    def __getitem__(self, key) -> np.ndarray:
        diff = np.abs(np.asarray(self._a[key], np.float32) - np.asarray(self._b[key], np.float32))
        return diff.mean(axis=-1) if diff.ndim == 3 else diff

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self[:, :]
        return out if dtype is None else out.astype(dtype)

    def robust_max(self) -> float:
        """The 99.5th percentile of the difference (on a subsample of at most ~1 MP)."""
        step = max(1, math.ceil(math.sqrt(self.shape[0] * self.shape[1] / 1e6)))
        sample = self[::step, ::step]
        return float(np.percentile(sample, 99.5)) if sample.size else 0.0


class PanelToolbar(NavigationToolbar2QT):
    """Matplotlib's toolbar with what applies to images: Home, Back, Forward, Pan, Zoom, Save.

    Home always shows the whole image (matplotlib's Home is the first view the user zoomed
    from, and none exists before a zoom); Back and Forward recompute the layout afterwards
    instead of restoring axes positions saved before a resize.
    """

    toolitems = [t for t in NavigationToolbar2QT.toolitems if t[0] not in ("Subplots", "Customize")]

    def __init__(self, canvas: MplCanvas, parent: QWidget, panels: "ImagePanels") -> None:
        super().__init__(canvas, parent)
        self._owner = panels

    def home(self, *args) -> None:
        self.push_current()
        self._owner.show_all()
        self.push_current()
        self.set_history_buttons()

    def _update_view(self) -> None:
        super()._update_view()
        self.canvas.invalidate_layout()


@dataclass
class _Panel:
    name: str
    ax: Any
    artist: Any = None
    source: Any = None  # (H, W) or (H, W, 3) array, or a LazyDifference
    step: int = 0  # decimation of what is drawn
    window: tuple[int, int, int, int] = (0, 0, 0, 0)  # (top, bottom, left, right) drawn


class ImagePanels(QWidget):
    """A toolbar and a canvas with one axes per named panel; all panels zoom and pan together."""

    def __init__(self, parent: QWidget | None = None, *, hint: str = "") -> None:
        super().__init__(parent)
        self.canvas = MplCanvas(self, figsize=(9.0, 4.0), min_size=(320, 200))
        self.toolbar = PanelToolbar(self.canvas, self, self)
        self.toolbar.setIconSize(self.toolbar.iconSize() * 0.8)
        self.tool_row = QHBoxLayout()  # the toolbar, then whatever the owner adds beside it
        self.tool_row.setContentsMargins(0, 0, 0, 0)
        self.tool_row.addWidget(self.toolbar)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.tool_row)
        layout.addWidget(self.canvas, 1)
        self._panels: dict[str, _Panel] = {}
        self._size: tuple[int, int] | None = None  # (H, W) the axes' home view shows
        self._colorbar = None
        self._hint = None
        self._recut = QTimer(self)
        self._recut.setSingleShot(True)
        self._recut.setInterval(40)
        self._recut.timeout.connect(self._on_view_changed)
        self.show_hint(hint)

    # -- public API -----------------------------------------------------------------------
    def names(self) -> list[str]:
        return list(self._panels)

    def axes(self, name: str):
        return self._panels[name].ax

    def show_hint(self, text: str) -> None:
        """No panels, just a centred line of text (what to do to see something here)."""
        self._rebuild([])
        self._hint = self.canvas.figure.text(0.5, 0.5, text, ha="center", va="center", color="0.35",
                                             wrap=True)
        self.canvas.request_draw()

    def set_layout(self, names: Sequence[str]) -> None:
        """Panels left to right; existing panels are kept when the names do not change."""
        if list(names) != self.names():
            self._rebuild(list(names))

    def set_image(self, name: str, pixels, *, title: str = "", cmap: str | None = None,
                  vmin: float = 0.0, vmax: float = 1.0, colorbar: str | None = None) -> None:
        """Show `pixels` ((H, W), (H, W, 1), (H, W, 3) in [0, 1], or a LazyDifference) in panel `name`.

        Grey images use `cmap` (default grey); colorbar: a label puts a colour bar under the panels.
        """
        panel = self._panels[name]
        source = pixels[..., 0] if getattr(pixels, "ndim", 2) == 3 and pixels.shape[-1] == 1 else pixels
        grey = source.ndim == 2
        size = (int(source.shape[0]), int(source.shape[1]))
        if panel.artist is None:
            panel.artist = panel.ax.imshow(np.zeros((1, 1)), origin="upper", resample=True)
        panel.artist.set_cmap(cmap or "gray")
        if grey:
            panel.artist.set_clim(vmin, vmax)
        panel.source, panel.step = source, 0
        panel.ax.set_title(title, fontsize="medium")
        self._set_colorbar(panel.artist if colorbar else None, colorbar or "")
        if size != self._size:
            self._size = size
            self.show_all()
            self.toolbar.update()  # forget the views of the previous image
        self._cut(panel)
        self.canvas.request_draw()

    def clear_image(self, name: str) -> None:
        panel = self._panels[name]
        if panel.artist is not None:
            panel.artist.remove()
        panel.artist, panel.source, panel.step = None, None, 0
        panel.ax.set_title("")
        self.canvas.request_draw()

    def shown_image(self, name: str) -> np.ndarray:
        """The array panel `name` draws now: (h, w) for grey, (h, w, 3) for colour."""
        panel = self._panels[name]
        if panel.artist is None:
            raise LookupError(f"panel {name!r} shows no image")
        return np.array(np.ma.getdata(panel.artist.get_array()))

    def shown_step(self, name: str) -> int:
        """Decimation of panel `name`: 1 draws every pixel of the source."""
        return self._panels[name].step

    def title(self, name: str) -> str:
        return self._panels[name].ax.get_title()

    def show_all(self) -> None:
        """Show the whole image in every panel (what the toolbar's Home does)."""
        if self._size is None or not self._panels:
            return
        h, w = self._size
        ax = next(iter(self._panels.values())).ax
        ax.set_xlim(-0.5, w - 0.5)
        ax.set_ylim(h - 0.5, -0.5)
        self.canvas.request_draw()

    # -- internals ------------------------------------------------------------------------
    def _rebuild(self, names: list[str]) -> None:
        figure = self.canvas.figure
        self._colorbar = None
        figure.clear()
        self._hint = None
        self._panels.clear()
        self._size = None
        first = None
        for index, name in enumerate(names):
            ax = figure.add_subplot(1, len(names), index + 1, sharex=first, sharey=first)
            ax.set_axis_off()
            ax.set_autoscale_on(False)  # the views follow the user's zoom, never the data cut
            ax.callbacks.connect("xlim_changed", self._on_limits_changed)
            ax.callbacks.connect("ylim_changed", self._on_limits_changed)
            first = first or ax
            self._panels[name] = _Panel(name, ax)
        self.toolbar.update()
        self.canvas.invalidate_layout()
        self.canvas.request_draw()

    def _set_colorbar(self, artist, label: str) -> None:
        if self._colorbar is not None and (artist is None or self._colorbar.mappable is not artist):
            self._colorbar.remove()
            self._colorbar = None
            for panel in self._panels.values():
                panel.ax.set_anchor("C")  # the colour bar had anchored the panels to its side
            self.canvas.invalidate_layout()
        if artist is not None and self._colorbar is None:
            axes = [p.ax for p in self._panels.values()]
            self._colorbar = self.canvas.figure.colorbar(artist, ax=axes, location="bottom", shrink=0.4,
                                                         aspect=40, pad=0.02)
            self.canvas.invalidate_layout()
        if self._colorbar is not None:
            self._colorbar.set_label(label, fontsize="small")
            self._colorbar.ax.tick_params(labelsize="small")

    def _budget(self) -> int:
        """Source pixels one panel may draw: ~4 per screen pixel of its share of the canvas."""
        ratio = self.canvas.devicePixelRatioF()
        area = self.canvas.width() * self.canvas.height() * ratio * ratio / max(1, len(self._panels))
        return int(min(DISPLAY_PIXELS, max(MIN_DISPLAY_PIXELS, 4 * area)))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._on_limits_changed(None)  # a bigger window may show finer detail

    def _on_limits_changed(self, _ax) -> None:
        if any(p.source is not None and (p.step != 1 or p.window != (0, p.source.shape[0], 0, p.source.shape[1]))
               for p in self._panels.values()):  # only a cut view can change with the limits
            self._recut.start()

    @Slot()
    def _on_view_changed(self) -> None:
        changed = False
        for panel in self._panels.values():
            changed |= self._cut(panel)
        if changed:
            self.canvas.request_draw()

    def _cut(self, panel: _Panel) -> bool:
        """Draw the visible part of the source at the finest step within the display budget."""
        if panel.source is None:
            return False
        h, w = panel.source.shape[:2]
        budget = self._budget()
        if h * w <= budget:
            window, step = (0, h, 0, w), 1
        else:
            (x0, x1), (y1, y0) = sorted(panel.ax.get_xlim()), sorted(panel.ax.get_ylim(), reverse=True)
            top, bottom = max(0, math.floor(y0 + 0.5)), min(h, math.ceil(y1 + 0.5))
            left, right = max(0, math.floor(x0 + 0.5)), min(w, math.ceil(x1 + 0.5))
            if bottom <= top or right <= left:  # panned off the image: nothing to cut
                return False
            step = max(1, math.ceil(math.sqrt((bottom - top) * (right - left) / budget)))
            # Snap the window to the step grid so panning by a little does not recut at all.
            top, left = top // step * step, left // step * step
            bottom, right = min(h, -(-bottom // step) * step), min(w, -(-right // step) * step)
            window = (top, bottom, left, right)
        if window == panel.window and step == panel.step:
            return False
        top, bottom, left, right = window
        data = np.asarray(panel.source[top:bottom:step, left:right:step], dtype=np.float32)
        if data.ndim == 3:
            data = np.clip(data, 0.0, 1.0)  # colour is drawn as is: keep it in range
        panel.artist.set_data(data)
        rows, cols = data.shape[:2]
        panel.artist.set_extent((left - 0.5, left + cols * step - 0.5, top + rows * step - 0.5, top - 0.5))
        panel.window, panel.step = window, step
        return True
