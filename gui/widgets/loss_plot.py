"""Live training curves: per-epoch losses, a smoothed batch loss and the best epoch.

Drawing is cheap while training: the curves and the legend are animated artists drawn over a cached
background (axes, grid, ticks, labels). An update whose points fit in the current axis limits
restores the background, draws the curves, pastes the legend's pixels (rendered again only when an
entry was added) and blits the axes (a few ms); only a limits change, a new title, a scale change or
a resize renders the whole figure.
Limits change rarely: x spans the run's known length ([0, total epochs], from set_total_epochs() or
the first EpochEnded) or grows in 1-2-5 steps; y grows geometrically when a point falls outside and
shrinks only when the axis is over four times wider than the data needs (hysteresis; in decades
on a log axis).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import Bbox
from PySide6.QtWidgets import QWidget

from engine.events import BatchEnded, EpochEnded
from gui.widgets.canvas import MplCanvas

# Keys in Keras logs that are not losses and would only squash the loss axis.
_NOT_PLOTTED = frozenset({"learning_rate", "lr"})
_LABELS = {"loss": "train loss", "val_loss": "validation loss"}
# Extra log keys: colours the fixed lines (blue, orange, red) do not use.
_EXTRA_COLORS = ("tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:gray")

_X_PAD = 0.04  # of the x span on each side, so end markers are not cut in half
_Y_EDGE = 0.03  # a point closer than this (of the y span) to an edge counts as outside
_Y_GROW = 3.0  # a point outside: the y span grows at least this many times
_Y_SHRINK_TO = 1.5  # y shrinks to this many times the data span (at least a minimum width) ...
_Y_SHRINK_BEYOND = 4.0  # ... once it is more than this many times that (> GROW: no ping-pong)
_Y_PAD = 0.08  # of the data span on each side when y is fitted afresh (new data, scale change)


def _nice_ceil(x: float) -> float:
    """Smallest of 1, 2, 5, 10, 20, 50, ... that is >= x (x > 0)."""
    decade = 10.0 ** math.floor(math.log10(x))
    for step in (1, 2, 5, 10):
        if step * decade >= x * (1 - 1e-9):
            return step * decade
    return 10 * decade


class LossPlot(MplCanvas):
    """Epoch x values are 1-based (end of epoch 1 at x=1); batch x = epoch + step/steps_per_epoch."""

    def __init__(self, parent: QWidget | None = None, *, smoothing: float = 0.9) -> None:
        super().__init__(parent)
        self.smoothing = smoothing
        self.ax = self.figure.add_subplot()
        self.ax.set_xlabel("epoch")
        self.ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # ticks on whole epochs
        self.ax.set_ylabel("loss")
        self.ax.grid(True, alpha=0.3)
        self.ax.set_autoscale_on(False)  # limits are managed here, with hysteresis
        (batch,) = self.ax.plot([], [], lw=0.8, alpha=0.5, color="tab:blue",
                                label="batch loss (smoothed)", animated=True)
        (loss,) = self.ax.plot([], [], "-o", ms=4, color="tab:blue", label=_LABELS["loss"], animated=True)
        (val,) = self.ax.plot([], [], "--o", ms=5, color="tab:orange", label=_LABELS["val_loss"],
                              animated=True)
        (best,) = self.ax.plot([], [], "*", ms=14, color="tab:red", ls="none", label="best epoch",
                               animated=True)
        self._fixed = {"batch": batch, "loss": loss, "val_loss": val, "best": best}
        self._extra: dict[str, object] = {}  # extra log keys -> Line2D, created on first sight
        self._series: dict[str, tuple[list[float], list[float]]] = {}
        self._ema = 0.0
        self._ema_count = 0
        self._best: tuple[float, float] | None = None
        self._total: int | None = None  # epochs of the run, when known: x is fixed to [0, total]
        self._background = None  # figure without the animated artists, from the last full draw
        self._background_size: tuple[int, int] | None = None
        self._legend_pixels = None  # the legend as last rendered, pasted over the curves
        self._needs_full_draw = True
        self._legend_stale = True  # the legend changed since its pixels were kept
        self.blits = 0  # data-only updates drawn by blitting (tests, profiling)
        self.mpl_connect("draw_event", self._on_draw_event)
        self.reset()

    # -- public API -----------------------------------------------------------------------
    def reset(self, title: str = "") -> None:
        """Forget all data (the artists stay; extra-key lines are removed)."""
        for line in self._extra.values():
            line.remove()
        self._extra.clear()
        self._series = {name: ([], []) for name in ("batch", "loss", "val_loss")}
        self._ema, self._ema_count, self._best = 0.0, 0, None
        self._total = None
        self._xmax = 0.0  # largest x seen
        self._ymin = self._ymax = math.nan  # finite y extremes seen
        self._ypos = math.nan  # smallest positive y seen (log axis)
        self._y_fitted = False  # y limits fitted to data yet (the first data is fitted afresh)
        for line in self._fixed.values():
            line.set_data([], [])
        self.ax.set_title(title)
        self._needs_full_draw = True  # the title is part of the background
        self._update_legend()
        self._apply_limits(fresh=True)
        self._changed()

    def set_total_epochs(self, total: int | None) -> None:
        """Fix x to [0, total] for the run that is starting (None: grow x with the data)."""
        self._total = max(1, int(total)) if total else None
        self._changed()

    def add_batch(self, event: BatchEnded) -> None:
        """Add one batch loss to the smoothed (bias-corrected EMA) batch curve."""
        if not math.isfinite(event.loss):
            return
        # Zero-started EMA with bias correction (as TensorBoard): the first value is exact.
        s = self.smoothing
        self._ema = s * self._ema + (1 - s) * event.loss
        self._ema_count += 1
        smoothed = self._ema / (1 - s**self._ema_count) if s > 0 else self._ema
        x = event.epoch + event.step / max(1, event.steps_per_epoch)
        # With steps_per_execution the last report can overshoot the epoch (step 944 of 938):
        # the point stays as reported, but it must not widen x past the epoch's end.
        self._append("batch", x, smoothed, x_extent=min(x, event.epoch + 1))
        self._changed()

    def add_epoch(self, event: EpochEnded) -> None:
        """Add the epoch's logs: 'loss', 'val_loss' and any extra key (each gets its line)."""
        if self._total is None and event.total_epochs:
            self._total = max(1, int(event.total_epochs))
        x = event.epoch + 1
        for key, value in event.logs.items():
            if key not in _NOT_PLOTTED:
                self._append(key, x, float(value))
        if event.improved:
            monitored = event.logs.get("val_loss", event.logs.get("loss"))
            if monitored is not None:
                self._set_best((x, float(monitored)))
        self._changed()

    def mark_best(self, epoch: int | None) -> None:
        """Put the best-epoch marker on a 0-based epoch (e.g. from Finished.best_epoch)."""
        xs, ys = self._series["val_loss"]
        if not ys:
            xs, ys = self._series["loss"]
        if epoch is None or (epoch + 1) not in xs:
            self._set_best(None)
        else:
            i = xs.index(epoch + 1)
            self._set_best((xs[i], ys[i]))
        self._changed()

    def load_history(self, history: Mapping[str, Sequence[float]], title: str | None = None) -> None:
        """Show a finished run's History.history (no batch curve)."""
        self.reset(self.ax.get_title() if title is None else title)
        lengths = [len(v) for k, v in history.items() if k not in _NOT_PLOTTED]
        self._total = max(lengths) if lengths and max(lengths) else None
        for key, values in history.items():
            if key in _NOT_PLOTTED:
                continue
            for i, value in enumerate(values):
                self._append(key, i + 1, float(value))
        monitored = history.get("val_loss")
        if monitored is None or len(monitored) == 0:
            monitored = history.get("loss")
        if monitored is not None and len(monitored):
            finite = [(v, i) for i, v in enumerate(monitored) if math.isfinite(v)]
            if finite:
                self.mark_best(min(finite)[1])
        self._changed()

    def set_log_scale(self, enabled: bool) -> None:
        if enabled == self.is_log_scale():
            return
        self.ax.set_yscale("log" if enabled else "linear")
        self.ax.set_autoscale_on(False)
        self._apply_limits(fresh=True)
        self._needs_full_draw = True
        self._changed()

    def is_log_scale(self) -> bool:
        return self.ax.get_yscale() == "log"

    def line_data(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(xs, ys) as plotted: 'loss', 'val_loss', 'batch', 'best' or an extra log key."""
        line = self._fixed.get(name) or self._extra.get(name)
        if line is None:
            raise KeyError(name)
        return np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)

    def line_names(self) -> list[str]:
        return [*self._fixed, *self._extra]

    # -- data -----------------------------------------------------------------------------
    def _append(self, name: str, x: float, y: float, x_extent: float | None = None) -> None:
        xs, ys = self._series.setdefault(name, ([], []))
        xs.append(x)
        ys.append(y)
        self._line(name).set_data(xs, ys)
        x_extent = x if x_extent is None else x_extent
        if math.isfinite(x_extent):
            self._xmax = max(self._xmax, x_extent)
        if math.isfinite(y):
            self._ymin = y if math.isnan(self._ymin) else min(self._ymin, y)
            self._ymax = y if math.isnan(self._ymax) else max(self._ymax, y)
            if y > 0:
                self._ypos = y if math.isnan(self._ypos) else min(self._ypos, y)
        if len(xs) == 1:
            self._update_legend()  # a line got its first point

    def _set_best(self, point: tuple[float, float] | None) -> None:
        had_point = self._best is not None
        self._best = point
        self._fixed["best"].set_data(*(([point[0]], [point[1]]) if point else ([], [])))
        if had_point != (point is not None):
            self._update_legend()

    def _line(self, name: str):
        line = self._fixed.get(name) or self._extra.get(name)
        if line is None:
            style = "--" if name.startswith("val_") else "-"
            color = _EXTRA_COLORS[len(self._extra) % len(_EXTRA_COLORS)]
            (line,) = self.ax.plot([], [], style, marker=".", lw=1.2, color=color, label=name, animated=True)
            self._extra[name] = line
        return line

    def _update_legend(self) -> None:
        # Rebuilt only when a line gets its first point, not per update; empty lines stay out.
        handles = [ln for ln in (*self._fixed.values(), *self._extra.values())
                   if len(ln.get_xdata())]
        legend = self.ax.get_legend()
        if legend is not None:
            legend.remove()
        if handles:
            legend = self.ax.legend(handles=handles, loc="upper right", fontsize="small", framealpha=1.0)
            legend.set_animated(True)  # not part of the background: a new entry needs no full draw
        self._legend_stale = True

    def _changed(self) -> None:
        self.request_draw()

    # -- limits ---------------------------------------------------------------------------
    def _target_xlim(self) -> tuple[float, float]:
        hi = _nice_ceil(max(self._xmax, 1.0))
        if self._total is not None:
            hi = max(float(self._total), self._xmax)
        pad = _X_PAD * hi
        return (-pad, hi + pad)

    def _target_ylim(self, fresh: bool) -> tuple[float, float]:
        log = self.is_log_scale()
        lo_data, hi_data = (self._ypos, self._ymax) if log else (self._ymin, self._ymax)
        if math.isnan(lo_data) or math.isnan(hi_data):
            return (0.01, 1.0) if log else (0.0, 1.0)
        fwd, back = (math.log10, lambda v: 10.0**v) if log else (float, float)
        a, b = fwd(lo_data), fwd(hi_data)
        span = b - a
        min_width = 0.2 if log else (0.1 * max(abs(a), abs(b)) or 1.0)  # decades on a log axis
        if not fresh:
            c0, c1 = (fwd(v) for v in self.ax.get_ylim())
            width = c1 - c0
            low_out, high_out = a < c0 + _Y_EDGE * width, b > c1 - _Y_EDGE * width
            if not (low_out or high_out):
                target = max(_Y_SHRINK_TO * span, min_width)
                if width <= _Y_SHRINK_BEYOND * target:
                    return self.ax.get_ylim()  # fits, and uses enough of the axis
                middle = (a + b) / 2
                return self._clamped(back(middle - target / 2), back(middle + target / 2), log)
            # Grow a few times over, anchored on the side the data did not leave, so that a
            # falling loss curve needs a handful of full redraws, not one per tick.
            new = max(_Y_GROW * width, span / (1 - 4 * _Y_EDGE), min_width)
            margin = 1.5 * _Y_EDGE * new
            if low_out and not high_out:
                top = b + margin
                bottom = top - new
            elif high_out and not low_out:
                bottom = a - margin
                top = bottom + new
            else:
                bottom = (a + b - new) / 2
                top = bottom + new
            return self._clamped(back(bottom), back(top), log)
        width = max(span / (1 - 2 * _Y_PAD), min_width)
        middle = (a + b) / 2
        return self._clamped(back(middle - width / 2), back(middle + width / 2), log)

    def _clamped(self, bottom: float, top: float, log: bool) -> tuple[float, float]:
        """Non-negative data (losses) never gets a linear axis reaching far below zero."""
        if not log and self._ymin >= 0 and bottom < 0:
            bottom = max(bottom, -1.5 * _Y_EDGE * top)
        return (bottom, top)

    def _apply_limits(self, fresh: bool = False) -> bool:
        """Move the axis limits if the data needs it; True when they changed."""
        changed = False
        x = self._target_xlim()
        if not np.allclose(self.ax.get_xlim(), x, rtol=0, atol=1e-12):
            self.ax.set_xlim(x)
            changed = True
        fresh = fresh or not self._y_fitted
        y = self._target_ylim(fresh)
        self._y_fitted = not (math.isnan(self._ymin) or (self.is_log_scale() and math.isnan(self._ypos)))
        if not np.allclose(self.ax.get_ylim(), y, rtol=1e-12, atol=1e-15):
            self.ax.set_ylim(y)
            changed = True
        if changed:
            self._needs_full_draw = True
        return changed

    def _before_draw(self) -> None:
        self._apply_limits()

    # -- drawing --------------------------------------------------------------------------
    def _curves(self) -> list:
        return [ln for ln in (*self._fixed.values(), *self._extra.values()) if len(ln.get_xdata())]

    def _on_draw_event(self, event) -> None:
        """After a full draw: keep the background and the legend's pixels, then draw the curves.

        The legend is opaque and drawn over the curves; rendering its text costs more than the
        curves, so a blit pastes the pixels kept here instead of drawing it again.
        """
        if self.is_saving() or event.renderer is not self.get_renderer():
            return  # savefig draws the animated artists itself
        self._background = self.copy_from_bbox(self.figure.bbox)
        self._background_size = self.get_width_height(physical=True)
        self._needs_full_draw = False
        self._render_legend(event.renderer)
        self._draw_curves(event.renderer)

    def _render_legend(self, renderer) -> None:
        """Draw the legend alone over the background and keep its pixels (the buffer is left as
        the background)."""
        self._legend_pixels = None
        self._legend_stale = False
        legend = self.ax.get_legend()
        if legend is not None:
            legend.draw(renderer)
            self._legend_pixels = self.copy_from_bbox(legend.get_window_extent(renderer).padded(2))
            self.restore_region(self._background)

    def _draw_curves(self, renderer) -> None:
        for line in self._curves():
            line.draw(renderer)
        if self._legend_pixels is not None:
            self.restore_region(self._legend_pixels)

    def _refresh(self) -> None:
        """Timer-driven and visible: blit when only the curves changed, else render everything."""
        self._apply_limits()
        if (self._needs_full_draw or self._background is None
                or self._background_size != self.get_width_height(physical=True)):
            self.draw_idle()
            return
        renderer = self.get_renderer()
        if self._legend_stale:
            self._render_legend(renderer)
        self.restore_region(self._background)
        self._draw_curves(renderer)
        x0, y0, x1, y1 = self.ax.bbox.extents
        self.blit(Bbox.from_extents(x0 - 2, y0 - 2, x1 + 2, y1 + 2))
        self.blits += 1

    def save_png(self, path, dpi: float | None = None):
        path = super().save_png(path, dpi)
        self._needs_full_draw = True  # the screen buffer now holds the saved rendering
        self.request_draw()
        return path
