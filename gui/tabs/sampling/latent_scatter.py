"""Latent means of a data set as a scatter on a plane, coloured by label; click or drag to pick.

`picked(x, y)` is emitted in plane coordinates on a press inside the axes and on every move
while the button is held. The pick marker is an animated artist: moving it restores the
background kept at the last full draw, draws the marker and blits (a few ms), so dragging over
thousands of points stays smooth. Labels with few classes get a discrete colour bar naming
them; many distinct values a continuous one; no labels, one colour.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.transforms import Bbox
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from gui.common.canvas import MplCanvas

_MAX_CLASSES = 20  # up to this many distinct labels get a discrete colour bar


class LatentScatter(MplCanvas):
    picked = Signal(float, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, figsize=(5.0, 4.0), min_size=(260, 220))
        self.ax = self.figure.add_subplot()
        self._scatter = None
        self._colorbar = None
        self._anchors: list = []
        (self._marker,) = self.ax.plot([], [], "P", ms=13, color="black", mec="white", mew=1.5,
                                       animated=True, zorder=5)
        self._message = self.ax.text(0.5, 0.5, "", ha="center", va="center", wrap=True,
                                     transform=self.ax.transAxes, color="0.3")
        self._background = None
        self._background_size = None
        self._only_marker = False  # the last change moved only the marker: a blit will do
        self._dragging = False
        self.blits = 0
        self.mpl_connect("button_press_event", self._on_press)
        self.mpl_connect("motion_notify_event", self._on_motion)
        self.mpl_connect("button_release_event", self._on_release)
        self.mpl_connect("draw_event", self._on_draw_event)
        self.show_message("No latent codes yet.")

    # -- public API -----------------------------------------------------------------------
    def set_points(self, points: np.ndarray, labels: np.ndarray | None, bounds, xlabel: str, ylabel: str,
                   class_names: Sequence[str] = (), title: str = "") -> None:
        """Scatter (n, 2) plane points; bounds = (xmin, xmax, ymin, ymax) of the plane shown."""
        self._remove_data_artists()
        points = np.asarray(points, float)
        kwargs = dict(s=6, alpha=0.7, linewidths=0, rasterized=True)
        if labels is None or len(labels) != len(points):
            self._scatter = self.ax.scatter(points[:, 0], points[:, 1], color="tab:blue", **kwargs)
        else:
            labels = np.asarray(labels).reshape(len(points), -1)[:, 0]
            classes = np.unique(labels)
            if len(classes) <= _MAX_CLASSES:
                index = np.searchsorted(classes, labels)
                base = "tab10" if len(classes) <= 10 else "tab20"
                cmap = ListedColormap([self._cmap_color(base, i) for i in range(len(classes))])
                norm = BoundaryNorm(np.arange(len(classes) + 1) - 0.5, len(classes))
                self._scatter = self.ax.scatter(points[:, 0], points[:, 1], c=index, cmap=cmap, norm=norm, **kwargs)
                self._colorbar = self.figure.colorbar(self._scatter, ax=self.ax, ticks=np.arange(len(classes)),
                                                      fraction=0.06, pad=0.02)
                names = [class_names[int(c)] if _is_index(c, class_names) else str(c) for c in classes]
                self._colorbar.ax.set_yticklabels(names)
                self._colorbar.ax.tick_params(length=0)
            else:
                self._scatter = self.ax.scatter(points[:, 0], points[:, 1], c=labels.astype(float),
                                                cmap="viridis", **kwargs)
                self._colorbar = self.figure.colorbar(self._scatter, ax=self.ax, fraction=0.06, pad=0.02)
            self._colorbar.set_label("label")
        x0, x1, y0, y1 = (float(v) for v in bounds)
        self.ax.set_xlim(x0, x1)
        self.ax.set_ylim(y0, y1)  # y grows upward, as in the manifold
        self.ax.set_xlabel(xlabel)
        self.ax.set_ylabel(ylabel)
        self.ax.set_title(title, fontsize="medium")
        self.ax.set_axis_on()
        self._message.set_text("")
        self._changed()

    def show_message(self, text: str) -> None:
        self._remove_data_artists()
        self.ax.set_axis_off()
        self.ax.set_title("")
        self._message.set_text(text)
        self._marker.set_data([], [])
        self._changed()

    def message(self) -> str:
        return self._message.get_text()

    def has_points(self) -> bool:
        return self._scatter is not None

    def set_marker(self, x: float | None, y: float | None = None) -> None:
        """Put the pick marker at (x, y); None hides it. Only the marker is redrawn."""
        self._marker.set_data(([], []) if x is None else ([x], [y]))
        if not self._dirty:
            self._only_marker = True
        self.request_draw()

    def marker_position(self) -> tuple[float, float] | None:
        xs, ys = self._marker.get_data()
        return (float(xs[0]), float(ys[0])) if len(xs) else None

    def set_anchors(self, anchors: Sequence[tuple[str, float, float]]) -> None:
        """Label a few plane points, e.g. the interpolation's ends: (text, x, y) each."""
        for artist in self._anchors:
            artist.remove()
        self._anchors = []
        for i, (text, x, y) in enumerate(anchors):  # labels on alternate sides: close ends stay readable
            self._anchors.append(self.ax.plot([x], [y], "o", ms=9, mfc="none", mec="black", mew=1.5)[0])
            self._anchors.append(self.ax.annotate(text, (x, y), xytext=(7, 5) if i % 2 == 0 else (-7, -5),
                                                  textcoords="offset points", ha="left" if i % 2 == 0 else "right",
                                                  va="bottom" if i % 2 == 0 else "top", fontweight="bold",
                                                  color="black"))
        self._changed()

    # -- internals ------------------------------------------------------------------------
    @staticmethod
    def _cmap_color(name: str, i: int):
        import matplotlib

        return matplotlib.colormaps[name](i)

    def _remove_data_artists(self) -> None:
        if self._colorbar is not None:
            self._colorbar.remove()
            self._colorbar = None
        if self._scatter is not None:
            self._scatter.remove()
            self._scatter = None
        self.invalidate_layout()

    def _changed(self) -> None:
        self._only_marker = False
        self.request_draw()

    def _refresh(self) -> None:
        only_marker, self._only_marker = self._only_marker, False
        if (not only_marker or self._background is None
                or self._background_size != self.get_width_height(physical=True)):
            self.draw_idle()
            return
        self.restore_region(self._background)
        self.ax.draw_artist(self._marker)
        x0, y0, x1, y1 = self.ax.bbox.extents
        self.blit(Bbox.from_extents(x0 - 12, y0 - 12, x1 + 12, y1 + 12))
        self.blits += 1

    def _on_draw_event(self, event) -> None:
        if self.is_saving() or event.renderer is not self.get_renderer():
            return
        self._background = self.copy_from_bbox(self.figure.bbox)
        self._background_size = self.get_width_height(physical=True)
        self._marker.draw(event.renderer)

    def _pick(self, event) -> None:
        if self._scatter is None or event.inaxes is not self.ax or event.xdata is None:
            return
        self.picked.emit(float(event.xdata), float(event.ydata))

    def _on_press(self, event) -> None:
        if event.button == 1:
            self._dragging = True
            self._pick(event)

    def _on_motion(self, event) -> None:
        if self._dragging:
            self._pick(event)

    def _on_release(self, _event) -> None:
        self._dragging = False


def _is_index(value, names: Sequence[str]) -> bool:
    try:
        return bool(names) and float(value) == int(value) and 0 <= int(value) < len(names)
    except (TypeError, ValueError):
        return False
