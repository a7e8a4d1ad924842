"""Matplotlib canvas that redraws at most ~10 times a second, and only while it is visible.

Constrained layout (about a third of a plain redraw) is computed only when it can change: the
first draw, a resize, a rebuild of the figure (`invalidate_layout()`), or when the text around the
axes changes size (titles, axis labels, the length of the tick labels about to be drawn, texts).
Every other draw reuses the axes positions of the last layout.
"""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QTimer, Slot
from PySide6.QtGui import QResizeEvent, QShowEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

os.environ.setdefault("QT_API", "PySide6")  # matplotlib must bind to the Qt we use

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.layout_engine import ConstrainedLayoutEngine  # noqa: E402


class OnDemandConstrainedLayout(ConstrainedLayoutEngine):
    """Constrained layout that runs only when marked stale, instead of on every figure draw."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.stale = True
        self.runs = 0  # how often the layout was really computed (tests, profiling)

    def execute(self, fig):
        if not self.stale:
            return None
        self.stale = False
        self.runs += 1
        return super().execute(fig)


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
        engine = OnDemandConstrainedLayout() if layout == "constrained" else layout
        super().__init__(Figure(figsize=figsize, dpi=dpi, layout=engine))  # sets self.figure
        if parent is not None:
            self.setParent(parent)
        self.setMinimumSize(*min_size)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._dirty = False
        self._layout_signature_seen: object = None
        self.draws_requested = 0  # times the timer actually asked for a redraw (full or blit)
        self.full_draws = 0  # times the whole figure was rendered for the screen
        self._draw_timer = QTimer(self)
        self._draw_timer.setSingleShot(True)
        self._draw_timer.setInterval(self.DRAW_INTERVAL_MS)
        self._draw_timer.timeout.connect(self._on_draw_timer_timeout)

    # -- public API -----------------------------------------------------------------------
    def request_draw(self) -> None:
        """Mark the figure dirty; it is redrawn within ~100 ms if visible, else when shown."""
        self._dirty = True
        if not self._draw_timer.isActive():
            self._draw_timer.start()

    def is_dirty(self) -> bool:
        return self._dirty

    def invalidate_layout(self) -> None:
        """Recompute the constrained layout at the next draw (after adding/removing axes or texts)."""
        engine = self.figure.get_layout_engine()
        if isinstance(engine, OnDemandConstrainedLayout):
            engine.stale = True

    def layout_runs(self) -> int:
        """How often the constrained layout was computed (0 without one)."""
        engine = self.figure.get_layout_engine()
        return engine.runs if isinstance(engine, OnDemandConstrainedLayout) else 0

    def save_png(self, path: str | os.PathLike, dpi: float | None = None) -> Path:
        """Write the figure as PNG (not a screenshot: the full figure at its own dpi)."""
        path = Path(path)
        self._prepare_full_draw()
        self.figure.savefig(path, format="png", dpi=dpi if dpi is not None else "figure")
        return path

    def draw(self) -> None:
        self._prepare_full_draw()
        self.full_draws += 1
        super().draw()

    # -- hooks ----------------------------------------------------------------------------
    def _before_draw(self) -> None:
        """Hook for subclasses: cheap bookkeeping deferred until a draw (e.g. limits)."""

    def _refresh(self) -> None:
        """Bring the screen up to date (visible, dirty, throttled); subclasses may blit instead."""
        self.draw_idle()

    def _extra_layout_signature(self) -> object:
        """Hook for subclasses: anything else whose size affects the layout."""
        return None

    # -- internals ------------------------------------------------------------------------
    def _prepare_full_draw(self) -> None:
        self._before_draw()
        exact, lengths = self._layout_signature()
        engine = self.figure.get_layout_engine()
        seen = self._layout_signature_seen
        # Longer tick labels need room; shorter ones only leave a little space until the next layout.
        if (seen is None or exact != seen[0] or len(lengths) != len(seen[1])
                or any(n > m for n, m in zip(lengths, seen[1]))
                or (isinstance(engine, OnDemandConstrainedLayout) and engine.stale)):
            self._layout_signature_seen = (exact, lengths)
            self.invalidate_layout()

    def _layout_signature(self) -> tuple[tuple, tuple[int, ...]]:
        """What the space around the axes depends on, cheaply: (texts and scales, tick-label lengths).

        Tick labels are formatted for the view limits about to be drawn (a change from "0.1" to
        "0.125" widens the y tick labels, and the y label must move rather than be cut off).
        """
        exact: list[object] = [self._extra_layout_signature()]
        lengths: list[int] = []
        for ax in self.figure.axes:
            exact.append((ax.get_title("left"), ax.get_title(), ax.get_title("right"), ax.axison))
            for axis in (ax.xaxis, ax.yaxis):
                if not (ax.axison and axis.get_visible()):
                    continue
                lo, hi = sorted(axis.get_view_interval())
                for locator, formatter in ((axis.get_major_locator(), axis.get_major_formatter()),
                                           (axis.get_minor_locator(), axis.get_minor_formatter())):
                    try:
                        locs = [v for v in locator() if lo <= v <= hi]
                        labels = formatter.format_ticks(locs) if locs else []
                        offset = formatter.get_offset() if hasattr(formatter, "get_offset") else ""
                    except Exception:  # a locator/formatter that cannot run yet: just relayout
                        return (object(),), ()
                    lengths.append(max((len(s) for s in labels), default=0))
                    exact.append(offset)
                exact.append((axis.get_scale(), axis.label.get_text()))
            exact.append(tuple(t.get_text().count("\n") for t in ax.texts))
            lengths.extend(len(t.get_text()) for t in ax.texts)
        return tuple(exact), tuple(lengths)

    @Slot()
    def _on_draw_timer_timeout(self) -> None:
        if self._dirty and self.isVisible():
            self._dirty = False
            self.draws_requested += 1
            self._refresh()

    def resizeEvent(self, event: QResizeEvent) -> None:
        self.invalidate_layout()
        super().resizeEvent(event)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._on_draw_timer_timeout()  # catch up at once with what changed while hidden
