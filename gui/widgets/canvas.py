"""Matplotlib canvas that redraws at most ~10 times a second, and only while it is visible."""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QTimer, Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

os.environ.setdefault("QT_API", "PySide6")  # matplotlib must bind to the Qt we use

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


class MplCanvas(FigureCanvasQTAgg):
    """A Figure on a Qt widget; call request_draw() after changing artists."""

    DRAW_INTERVAL_MS = 100

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        figsize: tuple[float, float] = (5.0, 3.5),
        dpi: float = 100,
        layout: str | None = "constrained",
        min_size: tuple[int, int] = (240, 180),
    ) -> None:
        super().__init__(Figure(figsize=figsize, dpi=dpi, layout=layout))  # sets self.figure
        if parent is not None:
            self.setParent(parent)
        self.setMinimumSize(*min_size)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._dirty = False
        self.draws_requested = 0  # times the timer actually asked matplotlib to redraw
        self._draw_timer = QTimer(self)
        self._draw_timer.setSingleShot(True)
        self._draw_timer.setInterval(self.DRAW_INTERVAL_MS)
        self._draw_timer.timeout.connect(self._on_draw_timer_timeout)

    def request_draw(self) -> None:
        """Mark the figure dirty; it is redrawn within ~100 ms if visible, else when shown."""
        self._dirty = True
        if not self._draw_timer.isActive():
            self._draw_timer.start()

    def is_dirty(self) -> bool:
        return self._dirty

    def save_png(self, path: str | os.PathLike, dpi: float | None = None) -> Path:
        """Write the figure as PNG (not a screenshot: the full figure at its own dpi)."""
        path = Path(path)
        self._before_draw()
        self.figure.savefig(path, format="png", dpi=dpi if dpi is not None else "figure")
        return path

    def draw(self) -> None:
        self._before_draw()
        super().draw()

    def _before_draw(self) -> None:
        """Hook for subclasses: cheap bookkeeping deferred until a draw (e.g. autoscaling)."""

    @Slot()
    def _on_draw_timer_timeout(self) -> None:
        if self._dirty and self.isVisible():
            self._dirty = False
            self.draws_requested += 1
            self.draw_idle()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._on_draw_timer_timeout()  # catch up at once with what changed while hidden
