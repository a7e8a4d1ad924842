"""Histogram of per-sample reconstruction errors with the shown samples marked."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from gui.common.canvas import MplCanvas


class ErrorHistogram(MplCanvas):
    error_clicked = Signal(float)  # a click inside the plot: the error under the pointer

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent, figsize=(5, 2.2), min_size=(240, 140))
        self.mpl_connect("button_press_event", self._clicked)
        self.ax = self.figure.add_subplot()
        self.ax.set_xlabel("reconstruction error (MSE per sample)")
        self.ax.set_ylabel("samples")
        self._bars = None
        self._marks = self.ax.vlines([], 0, 1, colors="tab:red", linewidth=1.2, label="shown samples",
                                     transform=self.ax.get_xaxis_transform())
        self._median = self.ax.axvline(np.nan, color="k", linestyle="--", linewidth=1, label="median")

    def set_errors(self, errors: np.ndarray) -> None:
        """Show the distribution of `errors` (rebuilt only when the model or data changes)."""
        if self._bars is not None:
            self._bars.remove()
        counts, edges = np.histogram(errors, bins=min(60, max(5, len(errors) // 10)))
        self._bars = self.ax.stairs(counts, edges, fill=True, color="tab:blue", alpha=0.6, label="all samples")
        self._median.set_xdata([np.median(errors)] * 2)
        pad = 0.02 * (edges[-1] - edges[0])  # the marks of the smallest and largest errors clear the frame
        self.ax.set_xlim(edges[0] - pad, edges[-1] + pad)
        self.ax.set_ylim(0, counts.max() * 1.1)
        self.ax.legend(loc="upper right", fontsize="small")
        self.request_draw()

    def mark(self, values: np.ndarray) -> None:
        self._marks.set_segments([[(v, 0), (v, 1)] for v in np.asarray(values, float)])
        self.request_draw()

    def marked(self) -> np.ndarray:
        return np.array([seg[0][0] for seg in self._marks.get_segments()])

    def _clicked(self, event) -> None:
        if event.inaxes is self.ax and event.xdata is not None and self._bars is not None:
            self.error_clicked.emit(float(event.xdata))
