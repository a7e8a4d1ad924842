"""Y limits for a live plot that change rarely: grow geometrically, shrink with hysteresis.

Y grows a few times over when a point falls outside (anchored on the side the data did not
leave) and shrinks only when the axis is over four times wider than the data needs; on a log
axis the same holds in decades. One YRange per matplotlib Axes (a loss plot's twin axes has its own).
"""
from __future__ import annotations

import math

import numpy as np

_Y_EDGE = 0.03  # a point closer than this (of the y span) to an edge counts as outside
_Y_GROW = 3.0  # a point outside: the y span grows at least this many times
_Y_SHRINK_TO = 1.5  # y shrinks to this many times the data span (at least a minimum width) ...
_Y_SHRINK_BEYOND = 4.0  # ... once it is more than this many times that (> GROW: no ping-pong)
_Y_PAD = 0.08  # of the data span on each side when y is fitted afresh (new data, scale change)


class YRange:
    """The finite y extremes seen on one axes, and the limits they call for."""

    def __init__(self, ax) -> None:
        self.ax = ax
        self.reset()

    def reset(self, from_zero: bool = False) -> None:
        """Forget the data; `from_zero`: non-negative data on a linear axis is fitted as if it reached 0, so a
        live loss falling from its first value needs no new limits (each costs a full redraw of the plot)."""
        self.from_zero = from_zero
        self.ymin = self.ymax = math.nan  # finite y extremes seen
        self.ypos = math.nan  # smallest positive y seen (log axis)
        self.fitted = False  # y limits fitted to data yet (the first data is fitted afresh)

    def add(self, y: float) -> None:
        if not math.isfinite(y):
            return
        self.ymin = y if math.isnan(self.ymin) else min(self.ymin, y)
        self.ymax = y if math.isnan(self.ymax) else max(self.ymax, y)
        if y > 0:
            self.ypos = y if math.isnan(self.ypos) else min(self.ypos, y)

    def is_log(self) -> bool:
        return self.ax.get_yscale() == "log"

    def target(self, fresh: bool) -> tuple[float, float]:
        log = self.is_log()
        lo_data, hi_data = (self.ypos, self.ymax) if log else (self.ymin, self.ymax)
        if math.isnan(lo_data) or math.isnan(hi_data):
            return (0.01, 1.0) if log else (0.0, 1.0)
        fwd, back = (math.log10, lambda v: 10.0**v) if log else (float, float)
        a, b = fwd(lo_data), fwd(hi_data)
        if self.from_zero and not log and a >= 0:
            a = 0.0
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
        if not log and self.ymin >= 0 and bottom < 0:
            bottom = max(bottom, -1.5 * _Y_EDGE * top)
        return (bottom, top)

    def apply(self, fresh: bool = False) -> bool:
        """Move the axes' y limits if the data needs it; True when they changed."""
        y = self.target(fresh or not self.fitted)
        self.fitted = not (math.isnan(self.ymin) or (self.is_log() and math.isnan(self.ypos)))
        if not np.allclose(self.ax.get_ylim(), y, rtol=1e-12, atol=1e-15):
            self.ax.set_ylim(y)
            return True
        return False
