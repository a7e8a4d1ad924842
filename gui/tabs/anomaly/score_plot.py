"""Anomaly scores: reconstruction error by sample over histograms of training and scored errors.

The threshold is a red line in both axes (horizontal on top, vertical below); press within a few
pixels of either and drag to move it (`threshold_dragged` on every move, `threshold_released` at the
end). A click on a point of the top axes emits `sample_clicked(index)`. Points are a few Line2D
artists (one per label plus a red ring overlay for the flagged ones) updated with set_data, so
100,000 points stay cheap. On a log error axis exact zeros are drawn at a floor a decade below the
smallest positive error.
"""
from __future__ import annotations

import re

import numpy as np
from matplotlib.backend_tools import Cursors
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from gui.common.canvas import MplCanvas

_GRAB_PX = 6  # logical pixels: how close a press must be to the line or a point
_EMPTY_TEXT = "Train or load a detector to see scores"
_NORMAL, _ANOMALOUS, _FLAGGED = "tab:blue", "tab:orange", "tab:red"


class ScorePlot(MplCanvas):
    threshold_dragged = Signal(float)
    threshold_released = Signal(float)
    sample_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, figsize=(6.0, 4.5), min_size=(320, 260))
        self.ax, self.hist_ax = self.figure.subplots(2, 1, height_ratios=(3, 2))
        point = dict(linestyle="none", marker=".", markersize=3, markeredgewidth=0)
        (self._normal,) = self.ax.plot([], [], color=_NORMAL, label="normal", **point)
        (self._anomalous,) = self.ax.plot([], [], color=_ANOMALOUS, label="labelled anomalous", zorder=3,
                                          **{**point, "markersize": 5})
        (self._flagged,) = self.ax.plot([], [], linestyle="none", marker="o", markersize=6, markerfacecolor="none",
                                        markeredgecolor=_FLAGGED, markeredgewidth=0.7, label="above threshold",
                                        zorder=4)
        (self._highlight,) = self.ax.plot([], [], linestyle="none", marker="o", markersize=13, markerfacecolor="none",
                                          markeredgecolor="black", markeredgewidth=2, zorder=6)
        self._line = self.ax.axhline(np.nan, color="red", linewidth=1.5, label="threshold", zorder=5)
        self._train_stairs = self.hist_ax.stairs([0.0], [0.0, 1.0], color="0.45", fill=True, alpha=0.45,
                                                 label="training (normal) errors")
        self._scored_stairs = self.hist_ax.stairs([0.0], [0.0, 1.0], color=_NORMAL, linewidth=1.5,
                                                  label="scored errors")
        self._vline = self.hist_ax.axvline(np.nan, color="red", linewidth=1.5, label="threshold", zorder=5)
        self._message = self.figure.text(0.5, 0.5, "", ha="center", va="center", color="0.3", wrap=True)
        self.ax.set_ylabel("reconstruction error")
        self.hist_ax.set_title("error histograms", fontsize="medium")
        self.hist_ax.set_ylabel("density")
        self._errors = np.empty(0)  # as given
        self._train: np.ndarray | None = None
        self._labels: np.ndarray | None = None
        self._shown = np.empty(0)  # errors as drawn (clipped to the floor on a log axis)
        self._index_label = "sample"
        self._score_label = "reconstruction error"
        self._threshold = float("nan")
        self._highlighted: int | None = None
        self._log = False
        self._dragging = False
        self._drag_ax = None
        self._grab_offset = 0.0  # pixels from the mouse to the line at the press: no jump when grabbed
        self._hover_cursor = None
        self.mpl_connect("button_press_event", self._on_press)
        self.mpl_connect("motion_notify_event", self._on_motion)
        self.mpl_connect("button_release_event", self._on_release)
        self.clear()

    # -- public API -----------------------------------------------------------------------
    def set_scores(self, errors: np.ndarray, train_errors: np.ndarray | None, labels: np.ndarray | None,
                   threshold: float, index_label: str = "sample", score_label: str = "reconstruction error") -> None:
        """Errors by index (labels: 1 anomalous, 0 normal), histograms, and the threshold line; the error axes are
        named `score_label` (which score the errors are)."""
        self._errors = np.nan_to_num(np.asarray(errors, float).ravel(), nan=0.0, posinf=np.finfo(float).max)
        self._train = None if train_errors is None else np.asarray(train_errors, float).ravel()
        self._train = None if self._train is None else self._train[np.isfinite(self._train)]
        self._labels = None
        if labels is not None and len(labels) == len(self._errors):
            self._labels = np.asarray(labels).ravel().astype(int) != 0
        self._index_label = index_label
        self._score_label = score_label
        self.ax.set_ylabel(score_label)
        self._threshold = float(threshold)
        self._highlighted = None
        self._highlight.set_data([], [])
        for ax in (self.ax, self.hist_ax):
            ax.set_visible(True)
        self._message.set_text("")
        self.ax.set_xlabel(f"{index_label} index")
        self._normal.set_label("normal" if self._labels is not None else f"{index_label}s")
        self._redraw_data()
        self._make_legends()

    def clear(self) -> None:
        """No scores: hide the axes and say what to do."""
        self._errors, self._train, self._labels, self._shown = np.empty(0), None, None, np.empty(0)
        self._highlighted = None
        for artist in (self._normal, self._anomalous, self._flagged, self._highlight):
            artist.set_data([], [])
        for ax in (self.ax, self.hist_ax):
            ax.set_visible(False)
        self._message.set_text(_EMPTY_TEXT)
        self.invalidate_layout()
        self.request_draw()

    def set_threshold(self, value: float) -> None:
        """Move both lines and restyle the flagged points; emits nothing."""
        self._threshold = float(value)
        self._apply_threshold()
        if self._shown.size:
            lo, hi = self.ax.get_ylim()
            if not lo <= self._shown_value(self._threshold) <= hi:
                self._set_limits()  # a value typed elsewhere: keep the line in view

    def threshold(self) -> float:
        return self._threshold

    def set_log_scale(self, enabled: bool) -> None:
        """Logarithmic error axes (top y, bottom x with log-spaced bins)."""
        self._log = bool(enabled)
        self.ax.set_yscale("log" if self._log else "linear")
        self.hist_ax.set_xscale("log" if self._log else "linear")
        if self._errors.size:
            self._redraw_data()
        else:
            self._set_limits()
            self.request_draw()

    def is_log_scale(self) -> bool:
        return self._log

    def highlight(self, index: int | None) -> None:
        """Ring one sample (None: none)."""
        if index is None or not 0 <= index < self._shown.size:
            self._highlighted = None
            self._highlight.set_data([], [])
        else:
            self._highlighted = int(index)
            self._highlight.set_data([index], [self._shown[index]])
        self.request_draw()

    def highlighted(self) -> int | None:
        return self._highlighted

    def flagged_count(self) -> int:
        return len(self._flagged.get_xdata())

    def point_count(self) -> int:
        return len(self._normal.get_xdata()) + len(self._anomalous.get_xdata())

    def threshold_lines(self) -> tuple[float, float]:
        """Where the lines are drawn: (top y, bottom x)."""
        return float(self._line.get_ydata()[0]), float(self._vline.get_xdata()[0])

    def histogram(self, which: str) -> tuple[np.ndarray, np.ndarray]:
        """(values, edges) of the "train" or "scored" histogram as drawn."""
        stairs = self._train_stairs if which == "train" else self._scored_stairs
        data = stairs.get_data()
        return np.asarray(data.values), np.asarray(data.edges)

    def score_label(self) -> str:
        return self._score_label

    def message(self) -> str:
        return self._message.get_text()

    # -- internals ------------------------------------------------------------------------
    def _floor(self) -> float:
        """Smallest value drawn on a log axis: a decade below the smallest positive error."""
        values = [self._errors] + ([self._train] if self._train is not None else [])
        positive = np.concatenate([v[v > 0] for v in values])
        return float(positive.min()) / 10 if positive.size else 1e-12

    def _shown_value(self, value: float) -> float:
        return max(value, self._floor()) if self._log else value

    def _redraw_data(self) -> None:
        self._shown = np.maximum(self._errors, self._floor()) if self._log else self._errors
        index = np.arange(self._shown.size)
        if self._labels is None:
            self._normal.set_data(index, self._shown)
            self._anomalous.set_data([], [])
        else:
            self._normal.set_data(index[~self._labels], self._shown[~self._labels])
            self._anomalous.set_data(index[self._labels], self._shown[self._labels])
        self._set_limits()
        self._update_histograms()
        self._apply_threshold()

    def _set_limits(self) -> None:
        """One error range for the top y axis and the histogram's x axis, threshold included."""
        values = [self._shown] + ([self._train] if self._train is not None and self._train.size else [])
        data = np.concatenate(values) if any(v.size for v in values) else np.empty(0)
        if self._log:
            data = np.maximum(data, self._floor()) if data.size else data
            points = np.append(data, self._shown_value(self._threshold)) if np.isfinite(self._threshold) else data
            lo, hi = (points.min(), points.max()) if points.size else (1e-3, 1.0)
            if hi <= lo * 1.01:
                lo, hi = lo / 3, hi * 3
            lo, hi = lo / 1.4, hi * 1.4
        else:
            points = np.append(data, self._threshold) if np.isfinite(self._threshold) else data
            lo, hi = (points.min(), points.max()) if points.size else (0.0, 1.0)
            span = hi - lo if hi > lo else max(abs(hi), 1.0)
            lo, hi = lo - 0.05 * span, hi + 0.05 * span
        self.ax.set_ylim(lo, hi)
        self.hist_ax.set_xlim(lo, hi)
        n = self._shown.size
        self.ax.set_xlim(-0.5 - 0.01 * n, n - 0.5 + 0.01 * n if n else 1)

    def _update_histograms(self) -> None:
        lo, hi = self.hist_ax.get_xlim()
        n = max(self._shown.size, 0 if self._train is None else self._train.size)
        bins = int(np.clip(np.sqrt(max(n, 1)), 10, 80))
        edges = np.geomspace(lo, hi, bins + 1) if self._log else np.linspace(lo, hi, bins + 1)
        top = 0.0
        for stairs, data in ((self._train_stairs, self._train), (self._scored_stairs, self._shown)):
            if data is None or data.size == 0:
                stairs.set_data(np.zeros(bins), edges)
                stairs.set_visible(False)
                continue
            shown = np.clip(np.maximum(data, self._floor()) if self._log else data, edges[0], edges[-1])
            counts, _ = np.histogram(shown, edges)
            # Density per unit of the drawn axis: per decade on a log axis, so the shapes read right.
            widths = np.diff(np.log10(edges)) if self._log else np.diff(edges)
            density = counts / (counts.sum() * widths)
            stairs.set_data(density, edges)
            stairs.set_visible(True)
            top = max(top, float(density.max()))
        self.hist_ax.set_ylim(0, top * 1.1 if top > 0 else 1.0)
        self.hist_ax.set_xlabel(self._score_label)
        self.hist_ax.set_ylabel("density per decade" if self._log else "density")

    def _apply_threshold(self) -> None:
        """Lines, flagged rings and the title for the current threshold."""
        shown = self._shown_value(self._threshold) if np.isfinite(self._threshold) else np.nan
        self._line.set_ydata([shown, shown])
        self._vline.set_xdata([shown, shown])
        above = np.flatnonzero(self._errors > self._threshold) if np.isfinite(self._threshold) else np.empty(0, int)
        self._flagged.set_data(above, self._shown[above])
        n = self._errors.size
        self.ax.set_title(f"{n:,} {self._index_label}s, {above.size:,} above threshold", fontsize="medium")
        self.request_draw()

    def _layout_signature(self) -> tuple[tuple, tuple[int, ...]]:
        """The count in the title changes while dragging; only its number of digits can move the layout."""
        exact, lengths = super()._layout_signature()
        title = self.ax.get_title()
        masked = re.sub(r"\d", "0", title)
        exact = tuple(tuple(masked if v is title or v == title else v for v in item) if isinstance(item, tuple) else item
                      for item in exact)
        return exact, lengths

    def _make_legends(self) -> None:
        handles = [self._normal] + ([self._anomalous] if self._labels is not None else []) + [self._flagged, self._line]
        self.ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small",
                       markerscale=1.5, borderaxespad=0)
        hist_handles = ([self._train_stairs] if self._train is not None and self._train.size else []) + [
            self._scored_stairs, self._vline]
        self.hist_ax.legend(handles=hist_handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small",
                            borderaxespad=0)
        self.invalidate_layout()

    def _grab_px(self) -> float:
        return _GRAB_PX * self.device_pixel_ratio

    def _line_offset(self, event) -> float | None:
        """Pixels from the mouse to the threshold line along the error axis (None: not in an axes)."""
        if not np.isfinite(self._threshold) or not self._shown.size:
            return None
        value = self._shown_value(self._threshold)
        if event.inaxes is self.ax:
            return float(self.ax.transData.transform((0, value))[1] - event.y)
        if event.inaxes is self.hist_ax:
            return float(self.hist_ax.transData.transform((value, 0))[0] - event.x)
        return None

    def _near_line(self, event) -> bool:
        offset = self._line_offset(event)
        return offset is not None and abs(offset) <= self._grab_px()

    def _drag_value(self, event) -> float:
        """The threshold under the mouse, kept inside the error axis' limits."""
        if self._drag_ax is self.ax:
            value = self.ax.transData.inverted().transform((event.x, event.y + self._grab_offset))[1]
            lo, hi = sorted(self.ax.get_ylim())
        else:
            value = self.hist_ax.transData.inverted().transform((event.x + self._grab_offset, event.y))[0]
            lo, hi = sorted(self.hist_ax.get_xlim())
        return float(np.clip(value, lo, hi))

    def _nearest_point(self, event) -> int | None:
        if not self._shown.size:
            return None
        pixels = self.ax.transData.transform(np.column_stack([np.arange(self._shown.size), self._shown]))
        distance = np.hypot(pixels[:, 0] - event.x, pixels[:, 1] - event.y)
        best = int(np.argmin(distance))
        return best if distance[best] <= self._grab_px() else None

    def _on_press(self, event) -> None:
        if event.button != 1 or event.inaxes not in (self.ax, self.hist_ax):
            return
        if self._near_line(event):
            self._dragging = True
            self._drag_ax = event.inaxes
            self._grab_offset = self._line_offset(event)
            return
        if event.inaxes is self.ax:
            index = self._nearest_point(event)
            if index is not None:
                self.sample_clicked.emit(index)

    def _on_motion(self, event) -> None:
        if self._dragging:
            self._threshold = self._drag_value(event)
            self._apply_threshold()
            self.threshold_dragged.emit(self._threshold)
            return
        cursor = None
        if event.inaxes is not None and self._near_line(event):
            cursor = Cursors.RESIZE_VERTICAL if event.inaxes is self.ax else Cursors.RESIZE_HORIZONTAL
        if cursor != self._hover_cursor:
            self._hover_cursor = cursor
            self.set_cursor(cursor if cursor is not None else Cursors.POINTER)

    def _on_release(self, event) -> None:
        if event.button != 1 or not self._dragging:
            return
        self._dragging = False
        self._threshold = self._drag_value(event)
        self._apply_threshold()
        self.threshold_released.emit(self._threshold)
