"""The loss plot's full redraws, the costly ones (each stalls the GUI thread): fewer of them during a run, and
cheaper (the legend's pixels reused)."""
from __future__ import annotations

import numpy as np

from engine.core.events import BatchEnded
from tests.gui.common.test_loss_plot import epoch, legend_colors, settle, shown_plot


def test_loss_plot_limits_redraw_reuses_the_legend_pixels(qtbot, plot, monkeypatch):
    shown_plot(qtbot, plot)
    legend = plot.ax.get_legend()
    before = legend_colors(plot)
    drawn = []
    original = type(legend).draw
    monkeypatch.setattr(type(legend), "draw", lambda self, renderer: drawn.append(1) or original(self, renderer))
    full = plot.full_draws
    plot.add_epoch(epoch(2, 3.0, 0.4))  # new y limits: a full redraw, same legend
    qtbot.waitUntil(lambda: plot.full_draws == full + 1, timeout=2000)
    settle(qtbot, plot)
    assert not drawn  # its kept pixels were pasted, not rendered again
    assert legend_colors(plot) == before  # and the screen shows the same legend
    plot.resize(700, 420)  # elsewhere now: rendered again
    settle(qtbot, plot)
    assert drawn and {(31, 119, 180), (255, 127, 14)} <= legend_colors(plot)


def test_loss_plot_reset_with_the_run_length_fixes_x_at_once(qtbot, plot):
    shown_plot(qtbot, plot, total=3)
    plot.reset("a new run", total_epochs=25)
    qtbot.waitUntil(lambda: not plot.is_dirty(), timeout=2000)
    settle(qtbot, plot)
    low, high = plot.ax.get_xlim()
    assert low <= 0 and 25 <= high < 27
    full = plot.full_draws
    plot.set_total_epochs(25)  # the run's Started event: nothing to redraw
    plot.add_batch(BatchEnded(epoch=0, step=1, steps_per_epoch=10, loss=0.7))
    settle(qtbot, plot)
    assert plot.ax.get_xlim() == (low, high)
    assert plot.full_draws <= full + 1  # at most the first data's y fit, not also a new x range


def test_loss_plot_live_run_fits_y_from_zero_once(plot):
    """A run started with its length: the falling loss never needs new limits (each is a full redraw)."""
    plot.reset("live", total_epochs=3)
    limits = set()
    for i in range(300):
        plot.add_batch(BatchEnded(epoch=i // 100, step=i % 100 + 1, steps_per_epoch=100,
                                  loss=0.09 + 0.6 * np.exp(-6 * i / 100)))
        plot._apply_limits()
        limits.add(plot.ax.get_ylim())
    limits.discard((0.0, 1.0))  # before the first point
    assert len(limits) == 1, limits
    low, high = limits.pop()
    assert -0.05 < low <= 0 and 0.69 < high < 0.8
    plot.load_history({"loss": [0.093, 0.0925, 0.0921]})  # a finished run is still fitted tightly
    plot._apply_limits()
    assert plot.ax.get_ylim()[0] > 0.08
