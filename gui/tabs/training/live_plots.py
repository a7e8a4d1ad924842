"""The Training tab's live plots: the loss curves over the preview grid. In a module of their own because they
need matplotlib, which the tab imports in the background after the window shows (gui.lazy_tab.LazyView)."""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QSplitter

from gui.common.image_grid import ImageGrid
from gui.common.loss_plot import LossPlot

PREVIEW_AFTER_MS = 20  # the preview grid is built a moment after the loss plot: two short frames, not one long


class LivePlots(QSplitter):
    def __init__(self, log_scale: bool):
        super().__init__(Qt.Vertical)
        self.loss_plot = LossPlot(smoothing=0.6)  # batch points are already means over >= 0.1 s
        self.loss_plot.set_log_scale(log_scale)
        self.addWidget(self.loss_plot)
        self._preview: ImageGrid | None = None
        QTimer.singleShot(PREVIEW_AFTER_MS, self, lambda: self.preview)

    @property
    def preview(self) -> ImageGrid:
        if self._preview is None:
            self._preview = ImageGrid()
            self.addWidget(self._preview)
        return self._preview
