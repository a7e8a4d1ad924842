"""Live training curves: per-epoch losses, a smoothed batch loss and the best epoch."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from PySide6.QtWidgets import QWidget

from engine.events import BatchEnded, EpochEnded
from gui.widgets.canvas import MplCanvas

# Keys in Keras logs that are not losses and would only squash the loss axis.
_NOT_PLOTTED = frozenset({"learning_rate", "lr"})
_LABELS = {"loss": "train loss", "val_loss": "validation loss"}


class LossPlot(MplCanvas):
    """Epoch x values are 1-based (end of epoch 1 at x=1); batch x = epoch + step/steps_per_epoch."""

    def __init__(self, parent: QWidget | None = None, *, smoothing: float = 0.9) -> None:
        super().__init__(parent)
        self.smoothing = smoothing
        self.ax = self.figure.add_subplot()
        self.ax.set_xlabel("epoch")
        self.ax.set_ylabel("loss")
        self.ax.grid(True, alpha=0.3)
        (batch,) = self.ax.plot([], [], lw=0.8, alpha=0.5, color="tab:blue",
                                label="batch loss (smoothed)")
        (loss,) = self.ax.plot([], [], "-o", ms=4, color="tab:blue", label=_LABELS["loss"])
        (val,) = self.ax.plot([], [], "--o", ms=5, color="tab:orange", label=_LABELS["val_loss"])
        (best,) = self.ax.plot([], [], "*", ms=14, color="tab:red", ls="none", label="best epoch")
        self._fixed = {"batch": batch, "loss": loss, "val_loss": val, "best": best}
        self._extra: dict[str, object] = {}  # extra log keys -> Line2D, created on first sight
        self._series: dict[str, tuple[list[float], list[float]]] = {}
        self._ema = 0.0
        self._ema_count = 0
        self._best: tuple[float, float] | None = None
        self._limits_stale = False
        self.reset()

    # -- public API -----------------------------------------------------------------------
    def reset(self, title: str = "") -> None:
        """Forget all data (the artists stay; extra-key lines are removed)."""
        for line in self._extra.values():
            line.remove()
        self._extra.clear()
        self._series = {name: ([], []) for name in ("batch", "loss", "val_loss")}
        self._ema, self._ema_count, self._best = 0.0, 0, None
        for line in self._fixed.values():
            line.set_data([], [])
        self.ax.set_title(title)
        self._update_legend()
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
        self._append("batch", x, smoothed)
        self._changed()

    def add_epoch(self, event: EpochEnded) -> None:
        """Add the epoch's logs: 'loss', 'val_loss' and any extra key (each gets its line)."""
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
        self.ax.set_yscale("log" if enabled else "linear")
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

    # -- internals ------------------------------------------------------------------------
    def _append(self, name: str, x: float, y: float) -> None:
        xs, ys = self._series.setdefault(name, ([], []))
        xs.append(x)
        ys.append(y)
        self._line(name).set_data(xs, ys)
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
            (line,) = self.ax.plot([], [], style, marker=".", lw=1.2, label=name)
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
            self.ax.legend(handles=handles, loc="upper right", fontsize="small")

    def _changed(self) -> None:
        self._limits_stale = True
        self.request_draw()

    def _before_draw(self) -> None:
        if self._limits_stale:
            self._limits_stale = False
            self.ax.relim()
            self.ax.autoscale_view()
