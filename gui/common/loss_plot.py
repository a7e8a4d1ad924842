"""Live training curves: per-epoch losses, a smoothed batch loss and the best epoch.

Drawing is cheap while training: the curves and the legend are animated artists drawn over a cached
background (axes, grid, ticks, labels). An update whose points fit in the current axis limits
restores the background, draws the curves, pastes the legend's pixels (rendered again only when an
entry was added) and blits the axes (a few ms); only new limits, a title, a scale or a size render
the whole figure, in the render thread (gui.common.canvas). Limits change rarely: x spans the run's
known length ([0, total epochs]) or grows in 1-2-5 steps; y grows geometrically when a point falls
outside and shrinks only when the axis is over four times wider than the data needs (gui.common.y_range).
Terms on another scale than the loss (a VAE's KL divergence, an AAE's adversarial losses) get a second
y axis on the right, created when the first such key arrives.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import Bbox
from PySide6.QtWidgets import QWidget

from engine.core.events import BatchEnded, EpochEnded
from gui.common.canvas import MplCanvas, changes_figure, reads_figure
from gui.common.legend_layout import FONT_SIZE, legend_columns
from gui.common.y_range import YRange

# Keys in Keras logs that are not losses and would only squash the loss axis.
_NOT_PLOTTED = frozenset({"learning_rate", "lr"})
_LABELS = {"loss": "train loss", "val_loss": "validation loss"}
# Known extra log keys (without "val_"): their legend names; others are shown as they are.
_PRETTY = {"kl": "KL"}
# Keys on another scale than the loss, drawn against the right axis, with its label.
_SECONDARY = {"kl": "KL divergence", "discriminator": "adversarial loss", "generator": "adversarial loss"}
# Extra log keys: colours the fixed lines (blue, orange, red) do not use; "x" and "val_x" share one.
_EXTRA_COLORS = ("tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:gray")

_INSIDE_LEGEND_MAX = 5  # more entries than this: the legend goes below the plot, off the curves
_X_PAD = 0.04  # of the x span on each side, so end markers are not cut in half


def _nice_ceil(x: float) -> float:
    """Smallest of 1, 2, 5, 10, 20, 50, ... that is >= x (x > 0)."""
    decade = 10.0 ** math.floor(math.log10(x))
    return next((step * decade for step in (1, 2, 5) if step * decade >= x * (1 - 1e-9)), 10 * decade)


class LossPlot(MplCanvas):
    """Epoch x values are 1-based (end of epoch 1 at x=1); batch x = epoch + step/steps_per_epoch."""

    RENDER_OFF_THREAD = True  # full redraws in the render thread; the methods below queue meanwhile

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
        self._colors: dict[str, str] = {}  # base key (no "val_") -> colour
        self.ax2 = None  # the right y axis, while some key needs it
        self._figure_legend = None  # the legend below the plot, when there are many entries
        self._legend_handles: list = []
        self._legend_placement = 0  # columns of the legend below the plot; 0 = inside the axes
        self._ranges = {self.ax: YRange(self.ax)}
        self._series: dict[str, tuple[list[float], list[float]]] = {}
        self._ema, self._ema_count = 0.0, 0
        self._best: tuple[float, float] | None = None
        self._total: int | None = None  # epochs of the run, when known: x is fixed to [0, total]
        self._background, self._background_size = None, None  # figure without the animated artists, its size
        self._legend_pixels = None  # the legend as last rendered, pasted over the curves
        self._legend_where = None  # where those pixels were rendered (axes box, canvas size)
        self._needs_full_draw = True
        self._legend_stale = True  # the legend changed since its pixels were kept
        self.blits = 0  # data-only updates drawn by blitting (tests, profiling)
        self.mpl_connect("draw_event", self._on_draw_event)
        self.reset()

    # -- public API -----------------------------------------------------------------------
    @changes_figure
    def reset(self, title: str = "", total_epochs: int | None = None) -> None:
        """Forget all data (the artists stay; extra-key lines are removed); `total_epochs` fixes x at once
        (one full redraw for a new run, not a second when the run reports its length)."""
        for line in self._extra.values():
            line.remove()
        self._extra.clear()
        self._colors.clear()
        if self.ax2 is not None:
            self._ranges.pop(self.ax2, None)
            self.ax2.remove()
            self.ax2 = None
            self._relayout()
        self._series = {name: ([], []) for name in ("batch", "loss", "val_loss")}
        self._ema, self._ema_count, self._best = 0.0, 0, None
        self._total = max(1, int(total_epochs)) if total_epochs else None
        self._xmax = 0.0  # largest x seen
        self._ranges[self.ax].reset(from_zero=total_epochs is not None)  # a run starting: its loss will fall
        for line in self._fixed.values():
            line.set_data([], [])
        self.ax.set_title(title)
        self._needs_full_draw = True  # the title is part of the background
        self._update_legend()
        self._apply_limits(fresh=True)
        self._changed()

    @changes_figure
    def set_total_epochs(self, total: int | None) -> None:
        """Fix x to [0, total] for the run that is starting (None: grow x with the data)."""
        self._total = max(1, int(total)) if total else None
        self._changed()

    @changes_figure
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

    @changes_figure
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

    @changes_figure
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

    @changes_figure
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

    @changes_figure
    def set_log_scale(self, enabled: bool) -> None:
        if enabled == self.is_log_scale():
            return
        for ax in self._ranges:
            ax.set_yscale("log" if enabled else "linear")
            ax.set_autoscale_on(False)
        self._apply_limits(fresh=True)
        self._needs_full_draw = True
        self._changed()

    @reads_figure
    def is_log_scale(self) -> bool:
        return self.ax.get_yscale() == "log"

    @reads_figure
    def line_data(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(xs, ys) as plotted: 'loss', 'val_loss', 'batch', 'best' or an extra log key."""
        line = self._fixed.get(name) or self._extra.get(name)
        if line is None:
            raise KeyError(name)
        return np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)

    @reads_figure
    def legend_axes(self):
        """The axes holding the legend: the right one when there is one (it is drawn last)."""
        return self.ax2 if self.ax2 is not None else self.ax

    @reads_figure
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
        self._ranges[self._line(name).axes].add(y)
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
            validation = name.startswith("val_")
            base = name[4:] if validation else name
            color = self._colors.setdefault(base, _EXTRA_COLORS[len(self._colors) % len(_EXTRA_COLORS)])
            label = _PRETTY.get(base, base if validation else name)
            label = f"validation {label}" if validation else label
            ax = self.ax
            if base in _SECONDARY:
                ax = self._secondary_axes(_SECONDARY[base])
                label += " (right axis)"
            (line,) = ax.plot([], [], "--" if validation else "-", marker=".", lw=1.2, color=color, label=label,
                              animated=True)
            self._extra[name] = line
        return line

    def _secondary_axes(self, label: str):
        """The right y axis (made on first use) for terms on another scale than the loss."""
        if self.ax2 is None:
            self.ax2 = self.ax.twinx()
            self.ax2.set_yscale(self.ax.get_yscale())
            self.ax2.set_autoscale_on(False)
            self.ax2.set_ylabel(label)
            self._ranges[self.ax2] = YRange(self.ax2)
            self._relayout()
        elif label not in self.ax2.get_ylabel().split(" / "):
            self.ax2.set_ylabel(f"{self.ax2.get_ylabel()} / {label}")
        return self.ax2

    def _update_legend(self) -> None:
        # Rebuilt only when a line gets its first point, not per update; empty lines stay out.
        self._legend_handles = [ln for ln in (*self._fixed.values(), *self._extra.values()) if len(ln.get_xdata())]
        self._place_legend(self._legend_columns())

    def _legend_columns(self) -> int:
        labels = [h.get_label() for h in self._legend_handles]
        return legend_columns(labels, self.figure, self.get_renderer(), _INSIDE_LEGEND_MAX)

    def _place_legend(self, columns: int) -> None:
        """columns 0: inside the top axes, drawn over the curves; else under the plot, in the background."""
        for ax in self._ranges:
            if ax.get_legend() is not None:
                ax.get_legend().remove()
        if self._figure_legend is not None:
            self._figure_legend.remove()
            self._figure_legend = None
            self._relayout()
        self._legend_placement = columns
        handles = self._legend_handles
        if columns:  # many entries (VAE / AAE terms): off the curves; a new entry needs a full draw
            self._figure_legend = self.figure.legend(handles=handles, loc="outside lower center", ncols=columns,
                                                     fontsize=FONT_SIZE, frameon=False)
            self._relayout()
        elif handles:  # on the top axes: a saved PNG draws the right axis's lines after the left's
            legend = self.legend_axes().legend(handles=handles, loc="upper right", framealpha=1.0,
                                               fontsize=FONT_SIZE if len(handles) <= _INSIDE_LEGEND_MAX else "x-small")
            legend.set_animated(True)  # not part of the background: a new entry needs no full draw
        self._legend_stale = True

    def _relayout(self) -> None:
        self.invalidate_layout()
        self._needs_full_draw = True

    @reads_figure
    def legend_texts(self) -> list[str]:
        """The entries of the legend shown (in the plot or under it)."""
        legend = self._figure_legend or self.legend_axes().get_legend()
        return [] if legend is None else [t.get_text() for t in legend.get_texts()]

    def _changed(self) -> None:
        self.request_draw()

    # -- limits ---------------------------------------------------------------------------
    def _target_xlim(self) -> tuple[float, float]:
        hi = _nice_ceil(max(self._xmax, 1.0))
        if self._total is not None:
            hi = max(float(self._total), self._xmax)
        pad = _X_PAD * hi
        return (-pad, hi + pad)

    def _apply_limits(self, fresh: bool = False) -> bool:
        """Move the axis limits if the data needs it; True when they changed."""
        changed = False
        x = self._target_xlim()
        if not np.allclose(self.ax.get_xlim(), x, rtol=0, atol=1e-12):
            self.ax.set_xlim(x)
            changed = True
        for y_range in self._ranges.values():
            changed = y_range.apply(fresh) or changed
        if changed:
            self._needs_full_draw = True
        return changed

    def _before_draw(self) -> None:
        self._apply_limits()
        if self._legend_handles and self._legend_columns() != self._legend_placement:  # resized
            self._place_legend(self._legend_columns())

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
        """Draw the legend alone over the background and keep its (opaque) pixels, reused while its entries and
        place stay the same: a full redraw for new limits skips a third of its work. Leaves the background."""
        legend = self.legend_axes().get_legend()
        where = (tuple(self.legend_axes().bbox.bounds), self.get_width_height(physical=True))
        if legend is not None and not self._legend_stale and self._legend_pixels is not None \
                and where == self._legend_where:
            return
        self._legend_pixels = None
        self._legend_stale = False
        if legend is not None:
            under = self.copy_from_bbox(self.figure.bbox)
            legend.draw(renderer)
            self._legend_pixels = self.copy_from_bbox(legend.get_window_extent(renderer).padded(2))
            self._legend_where = where
            self.restore_region(under)

    def _after_render(self, renderer) -> None:
        """Render thread: the legend's pixels if they are stale (its text: 30-80 ms under load, on the GUI thread)."""
        self._render_legend(renderer)

    def _draw_curves(self, renderer) -> None:
        for line in self._curves():
            line.draw(renderer)
        if self._legend_pixels is not None:
            self.restore_region(self._legend_pixels)

    def _refresh(self) -> None:
        """Timer-driven and visible: blit when only the curves changed, else render everything."""
        self._apply_limits()
        if (self._needs_full_draw or self._background is None or self._legend_stale
                or self._background_size != self.get_width_height(physical=True)):
            self.draw_idle()  # a new legend too: its text is rendered in the render thread (_after_render)
            return
        self.restore_region(self._background)
        self._draw_curves(self.get_renderer())
        x0, y0, x1, y1 = self.ax.bbox.extents
        self.blit(Bbox.from_extents(x0 - 2, y0 - 2, x1 + 2, y1 + 2))
        self.blits += 1

    def save_png(self, path, dpi: float | None = None):
        path = super().save_png(path, dpi)
        self._needs_full_draw = True  # the screen buffer now holds the saved rendering
        self.request_draw()
        return path
