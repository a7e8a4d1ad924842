"""Matplotlib canvas that redraws at most ~10 times a second, and only while it is visible.

Canvases that stream data while a model trains (loss plot, image previews) render the whole figure in a
thread of their own (`RENDER_OFF_THREAD`): a full render costs 50-190 ms of Python under training load,
which on the GUI thread was a frozen window. The GUI thread prepares the draw (limits, layout checks),
a single render thread draws the figure into a new Agg buffer, and the GUI thread then shows that
buffer and runs the canvas's draw_event handlers. While a render runs, the GUI thread does not touch
the figure: methods marked `@changes_figure` are queued and replayed in order once it is done, as is a
resize; methods marked `@reads_figure`, draw() and save_png() first wait for it to finish. Until the new
picture is shown, the last one stays on screen.

Constrained layout (about a third of a plain redraw) is computed only when it can change: the
first draw, a resize, a rebuild of the figure (`invalidate_layout()`), or when the text around the
axes changes size (titles, axis labels, the length of the tick labels about to be drawn, texts).
Every other draw reuses the axes positions of the last layout.
"""
from __future__ import annotations

import functools
import os
import threading
import traceback
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal, Slot
from PySide6.QtGui import QImage, QPainter, QPaintEvent, QResizeEvent, QShowEvent
from PySide6.QtWidgets import QSizePolicy, QWidget
from shiboken6 import isValid

os.environ.setdefault("QT_API", "PySide6")  # matplotlib must bind to the Qt we use

from matplotlib.backend_bases import DrawEvent  # noqa: E402
from matplotlib.backends.backend_agg import RendererAgg  # noqa: E402
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


_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()
_notifier: "_RenderNotifier | None" = None


class _RenderNotifier(QObject):
    """Carries "render done" from the render thread to the GUI thread. It lives as long as the application, so
    the render thread never emits on a canvas that the GUI thread may be deleting meanwhile."""

    done = Signal(object, int)  # a weak reference to the canvas, the render's number

    @Slot(object, int)
    def _deliver(self, canvas_ref, number: int) -> None:
        canvas = canvas_ref()
        if canvas is not None and isValid(canvas):
            canvas._on_render_done(number)


def _render_thread() -> ThreadPoolExecutor:
    """The one thread that renders figures (matplotlib serialises figure draws on a global lock anyway); made
    on the GUI thread, with its notifier."""
    global _executor, _notifier
    with _executor_lock:
        if _notifier is None or not isValid(_notifier):
            _notifier = _RenderNotifier(QCoreApplication.instance())
            _notifier.done.connect(_notifier._deliver)  # queued: emitted in the render thread
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="figure-render")
            _executor.submit(lambda: None)  # its thread now, with the window: not while TensorFlow loads
        return _executor


def changes_figure(method):
    """A canvas method that changes the figure: while a render is running it is queued, then replayed."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if self._render is not None:
            self._deferred.append((method, args, kwargs))
            return None
        return method(self, *args, **kwargs)
    return wrapper


def reads_figure(method):
    """A canvas method that reads the figure: it first lets a running render finish (and the queue run)."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        self.finish_render()
        return method(self, *args, **kwargs)
    return wrapper


class _Render:
    """One figure render in the render thread: its buffer, the size it was made for, and its outcome."""

    def __init__(self, number: int, renderer: RendererAgg, key: tuple) -> None:
        self.number, self.renderer, self.key = number, renderer, key
        self.future: Future | None = None
        self.thread: int | None = None  # the render thread's ident, while it draws


class MplCanvas(FigureCanvasQTAgg):
    """A Figure on a Qt widget; call request_draw() after changing artists."""

    DRAW_INTERVAL_MS = 100
    RENDER_OFF_THREAD = False  # a subclass whose mutators are @changes_figure may render in the render thread

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
        self._render: _Render | None = None  # the render running in the render thread, if any
        self._renders_started = 0
        self._deferred: list = []  # (method, args, kwargs) called while it runs, replayed after it
        self._resize_pending = False  # resized while a render ran: the figure takes the size after it
        self._preparing = False  # in _start_render's preparation (the picture on screen stays)
        if self.RENDER_OFF_THREAD:
            _render_thread()

    # -- public API -----------------------------------------------------------------------
    def request_draw(self) -> None:
        """Mark the figure dirty; it is redrawn within ~100 ms if visible, else when shown."""
        self._dirty = True
        if not self._draw_timer.isActive():
            self._draw_timer.start()

    def is_dirty(self) -> bool:
        """True while the screen does not show the figure as it is (or will be, once a render is shown)."""
        return self._dirty or self._render is not None

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
        self.finish_render()
        path = Path(path)
        self._prepare_full_draw()
        self.figure.savefig(path, format="png", dpi=dpi if dpi is not None else "figure")
        return path

    def draw(self) -> None:
        """Render the whole figure now, on this thread (a render running elsewhere is finished first)."""
        self.finish_render()
        self._prepare_full_draw()
        self.full_draws += 1
        super().draw()

    def draw_idle(self) -> None:
        if self.RENDER_OFF_THREAD:
            self._start_render()
        else:
            super().draw_idle()

    def is_rendering(self) -> bool:
        """True while the render thread draws this figure."""
        return self._render is not None

    def finish_render(self) -> None:
        """Wait for a running render, show it and replay the changes queued meanwhile (GUI thread; in the render
        thread, as the render reads its own figure, nothing)."""
        if self._render is not None and self._render.thread == threading.get_ident():
            return
        while self._render is not None:  # (showing one may start another: a resize made meanwhile)
            self._complete_render(self._render)

    # -- hooks ----------------------------------------------------------------------------
    def _before_draw(self) -> None:
        """Hook for subclasses: cheap bookkeeping deferred until a draw (e.g. limits)."""

    def _refresh(self) -> None:
        """Bring the screen up to date (visible, dirty, throttled); subclasses may blit instead."""
        self.draw_idle()

    def _after_render(self, renderer) -> None:
        """Hook for subclasses, in the render thread after the figure is drawn: more of the drawing the draw_event
        handlers would otherwise do on the GUI thread (the figure is the render's until it is shown)."""

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

    def _start_render(self) -> None:
        """Prepare on this thread, render the figure in the render thread; _complete_render shows it."""
        if self._render is not None:
            self._dirty = True  # drawn again once this render is shown
            return
        if self.width() <= 0 or self.height() <= 0:
            self._dirty = True  # rendered once it has a size
            return
        self._preparing = True
        try:
            self._prepare_full_draw()
        finally:
            self._preparing = False
        w, h = self.get_width_height(physical=True)
        self._renders_started += 1
        render = _Render(self._renders_started, RendererAgg(w, h, self.figure.dpi), (w, h, self.figure.dpi))
        self._render = render
        render.future = _render_thread().submit(self._render_figure, render, weakref.ref(self))

    def _render_figure(self, render: _Render, canvas_ref: weakref.ref) -> None:
        """Render thread: draw the figure into the render's own buffer; draw_event handlers run later, there."""
        render.thread = threading.get_ident()
        try:
            with self.callbacks.blocked(signal="draw_event"):
                self.figure.draw(render.renderer)
                self._after_render(render.renderer)
        finally:
            try:
                _notifier.done.emit(canvas_ref, render.number)
            except RuntimeError:  # the application is gone: nothing to show
                pass

    def _on_render_done(self, number: int) -> None:
        if self._render is not None and self._render.number == number:
            self._complete_render(self._render)

    def _complete_render(self, render: _Render) -> None:
        try:
            render.future.result()  # waits, without the GIL, if it is still running
            failed = False
        except Exception:  # noqa: BLE001 - as matplotlib's own idle draw: report it, keep the last picture
            traceback.print_exc()
            failed = True
        self._render = None
        if not failed:
            self.renderer, self._lastKey = render.renderer, render.key
            self.full_draws += 1
            self.callbacks.process("draw_event", DrawEvent("draw_event", self, render.renderer))
            self.update()
        deferred, self._deferred = self._deferred, []
        while deferred and self._render is None:
            method, args, kwargs = deferred.pop(0)
            try:
                method(self, *args, **kwargs)
            except Exception:  # noqa: BLE001 - its caller has returned: report it, replay the rest
                traceback.print_exc()
        self._deferred[:0] = deferred  # a replayed change started a render: the rest wait for it
        if self._resize_pending and self._render is None:  # the figure takes the widget's size, rendered anew
            self._resize_pending = False
            self.invalidate_layout()
            super().resizeEvent(QResizeEvent(self.size(), self.size()))
        if self._dirty and not self._draw_timer.isActive():
            self._draw_timer.start()

    @Slot()
    def _on_draw_timer_timeout(self) -> None:
        if self._render is not None:
            return  # the render's completion restarts the timer when something changed meanwhile
        if self._dirty and self.isVisible():
            self._dirty = False
            self.draws_requested += 1
            self._refresh()

    def get_renderer(self):
        render = self._render
        if render is not None and render.thread == threading.get_ident():
            return render.renderer  # the render thread measures text on its own buffer
        if (render is not None or self._preparing) and hasattr(self, "renderer"):
            return self.renderer  # the picture on screen stays, whatever its size, until the new one is done
        return super().get_renderer()

    def resizeEvent(self, event: QResizeEvent) -> None:
        if self._render is not None:  # the figure is being drawn: it takes the new size when that is done
            self._resize_pending = True
            return
        self.invalidate_layout()
        super().resizeEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        if not self.RENDER_OFF_THREAD or not hasattr(self, "renderer") \
                or self._lastKey == (*self.get_width_height(physical=True), self.figure.dpi):
            super().paintEvent(event)
            return
        # Resized, the new picture not rendered yet: the last one as it was, at the top left, the rest blank.
        painter = QPainter(self)
        try:
            painter.eraseRect(event.rect())
            buf = self.renderer.buffer_rgba()
            image = QImage(buf, buf.shape[1], buf.shape[0], QImage.Format.Format_RGBA8888)
            image.setDevicePixelRatio(self.device_pixel_ratio)
            painter.drawImage(0, 0, image)
        finally:
            painter.end()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._on_draw_timer_timeout()  # catch up at once with what changed while hidden
