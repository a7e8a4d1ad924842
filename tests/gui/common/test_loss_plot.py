"""The loss plot: every line sent is drawn, blitted within limits, labels never cut off."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from engine.core.events import BatchEnded, EpochEnded
from gui.common.canvas import MplCanvas
from gui.common.loss_plot import LossPlot
from tests.gui.helpers import shown


def epoch(i, loss, val=None, improved=False, **extra):
    logs = {"loss": loss, **({} if val is None else {"val_loss": val}), **extra}
    return EpochEnded(epoch=i, total_epochs=10, logs=logs, seconds=0.1, improved=improved)


# -- LossPlot --------------------------------------------------------------------------------


def test_loss_plot_shows_epoch_losses(plot):
    plot.reset("run 1")
    plot.add_epoch(epoch(0, 0.5, 0.6, improved=True))
    plot.add_epoch(epoch(1, 0.4, 0.45, improved=True))
    plot.add_epoch(epoch(2, 0.3, 0.5, improved=False))
    xs, ys = plot.line_data("loss")
    np.testing.assert_allclose(xs, [1, 2, 3])
    np.testing.assert_allclose(ys, [0.5, 0.4, 0.3])
    xs, ys = plot.line_data("val_loss")
    np.testing.assert_allclose(ys, [0.6, 0.45, 0.5])
    np.testing.assert_allclose(plot.line_data("best")[0], [2])
    assert plot.ax.get_title() == "run 1"
    assert plot.ax.get_xlabel() == "epoch" and plot.ax.get_ylabel() == "loss"


def test_loss_plot_smooths_batches_in_fractional_epochs(plot):
    plot.add_batch(BatchEnded(epoch=0, step=5, steps_per_epoch=10, loss=1.0))
    plot.add_batch(BatchEnded(epoch=0, step=10, steps_per_epoch=10, loss=1.0))
    plot.add_batch(BatchEnded(epoch=1, step=5, steps_per_epoch=10, loss=0.0))
    plot.add_batch(BatchEnded(epoch=1, step=6, steps_per_epoch=10, loss=float("nan")))
    xs, ys = plot.line_data("batch")
    np.testing.assert_allclose(xs, [0.5, 1.0, 1.5])
    assert ys[0] == pytest.approx(1.0) and ys[1] == pytest.approx(1.0)  # bias-corrected EMA
    assert 0.0 < ys[2] < 1.0  # smoothed, not the raw 0.0


def test_loss_plot_gives_extra_keys_their_own_lines(plot):
    plot.add_epoch(epoch(0, 1.0, reconstruction_loss=0.8, kl_loss=0.2, learning_rate=1e-3))
    plot.add_epoch(epoch(1, 0.9, reconstruction_loss=0.7, kl_loss=0.25, learning_rate=1e-3))
    np.testing.assert_allclose(plot.line_data("kl_loss")[1], [0.2, 0.25])
    np.testing.assert_allclose(plot.line_data("reconstruction_loss")[0], [1, 2])
    assert "learning_rate" not in plot.line_names()
    legend = [t.get_text() for t in plot.ax.get_legend().get_texts()]
    assert {"train loss", "kl_loss", "reconstruction_loss"} <= set(legend)
    assert "validation loss" not in legend  # no data, no legend entry
    lines_before = len(plot.ax.lines)
    plot.add_epoch(epoch(2, 0.8, reconstruction_loss=0.6, kl_loss=0.2))
    assert len(plot.ax.lines) == lines_before  # artists are reused


def test_loss_plot_reset_and_load_history(plot):
    plot.add_epoch(epoch(0, 1.0, kl_loss=0.1))
    plot.add_batch(BatchEnded(0, 1, 10, 1.0))
    plot.load_history({"loss": [0.9, 0.5, 0.4], "val_loss": [1.0, 0.7, 0.8]}, title="saved run")
    np.testing.assert_allclose(plot.line_data("loss")[1], [0.9, 0.5, 0.4])
    np.testing.assert_allclose(plot.line_data("val_loss")[0], [1, 2, 3])
    assert plot.line_data("batch")[0].size == 0
    np.testing.assert_allclose(plot.line_data("best")[0], [2])  # min val_loss at epoch 2
    assert "kl_loss" not in plot.line_names()
    plot.reset()
    assert plot.line_data("loss")[0].size == 0


def test_loss_plot_log_scale_and_autoscale(plot, tmp_path):
    plot.add_epoch(epoch(0, 100.0))
    plot.add_epoch(epoch(1, 0.01))
    plot.set_log_scale(True)
    assert plot.is_log_scale()
    path = plot.save_png(tmp_path / "loss.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    low, high = plot.ax.get_ylim()
    assert 0 < low <= 0.01 and high >= 100.0
    plot.set_log_scale(False)
    assert not plot.is_log_scale()
    plot.save_png(tmp_path / "linear.png")
    low, high = plot.ax.get_ylim()
    assert low <= 0.01 and high >= 100.0


def shown_plot(qtbot, plot, total=10):
    """The plot on screen with two epochs drawn, everything settled; returns it."""
    plot.resize(640, 400)
    plot.set_total_epochs(total)
    plot.add_epoch(epoch(0, 0.6, 0.65, improved=True))
    plot.add_epoch(epoch(1, 0.3, 0.4))  # the best-epoch star stays on epoch 1 (x=1)
    plot.show()
    qtbot.waitExposed(plot)
    settle(qtbot, plot)
    return plot


def settle(qtbot, canvas):
    qtbot.waitUntil(lambda: not canvas.is_dirty() and canvas.full_draws > 0, timeout=3000)
    qtbot.wait(3 * MplCanvas.DRAW_INTERVAL_MS)  # the timer, a pending draw_idle and its paint


def screen_rgb(canvas, x, y, dy=0):
    """RGB the widget shows at data point (x, y) of canvas.ax (+dy pixels down): a grab, real pixels."""
    image = canvas.grab().toImage()
    ratio = canvas.devicePixelRatioF()
    px, py = canvas.ax.transData.transform((x, y))  # physical pixels, y up
    color = image.pixelColor(int(px / ratio), int(canvas.height() - py / ratio) + dy)
    return color.red(), color.green(), color.blue()


def is_orange(rgb):
    r, g, b = rgb
    return r > 200 and 90 < g < 170 and b < 90


def is_blue(rgb):
    r, g, b = rgb
    return r < 90 and 90 < g < 150 and b > 150


def test_loss_plot_blits_updates_within_the_limits(qtbot, plot):
    shown_plot(qtbot, plot)
    limits = (plot.ax.get_xlim(), plot.ax.get_ylim())
    full, blits = plot.full_draws, plot.blits
    assert is_orange(screen_rgb(plot, 2, 0.4)) and is_blue(screen_rgb(plot, 2, 0.3))

    plot.add_epoch(epoch(2, 0.35, 0.45))  # inside the limits
    qtbot.waitUntil(lambda: plot.blits == blits + 1, timeout=2000)
    qtbot.wait(3 * MplCanvas.DRAW_INTERVAL_MS)
    assert plot.full_draws == full  # no full redraw
    assert (plot.ax.get_xlim(), plot.ax.get_ylim()) == limits
    # The blitted frame shows the new points and still every earlier one.
    assert is_orange(screen_rgb(plot, 3, 0.45)) and is_blue(screen_rgb(plot, 3, 0.35))
    assert is_blue(screen_rgb(plot, 1, 0.6)) and is_blue(screen_rgb(plot, 2, 0.3))
    assert is_orange(screen_rgb(plot, 2, 0.4))
    np.testing.assert_allclose(plot.line_data("val_loss")[1], [0.65, 0.4, 0.45])

    plot.add_batch(BatchEnded(epoch=3, step=1, steps_per_epoch=30, loss=0.4))  # the batch curve's legend entry:
    qtbot.waitUntil(lambda: plot.full_draws == full + 1, timeout=2000)  # rendered with the figure, off-thread
    settle(qtbot, plot)
    blits = plot.blits
    started = time.monotonic()
    for step in range(2, 30):  # a burst of batches: one blit per timer interval at most
        plot.add_batch(BatchEnded(epoch=3, step=step, steps_per_epoch=30, loss=0.4))
    qtbot.waitUntil(lambda: plot.blits > blits, timeout=2000)
    qtbot.wait(int(2.5 * MplCanvas.DRAW_INTERVAL_MS))
    intervals = (time.monotonic() - started) * 1000 / MplCanvas.DRAW_INTERVAL_MS
    assert 1 <= plot.blits - blits <= intervals + 1, (plot.blits - blits, intervals)  # not one per batch
    assert plot.full_draws == full + 1
    around = [screen_rgb(plot, 3.5, 0.4, dy) for dy in (-1, 0, 1)]  # the thin, pale batch curve
    assert any(b - r > 40 for r, _, b in around), around


def legend_colors(plot):
    """Set of (r, g, b) the widget shows inside the legend's box."""
    image = plot.grab().toImage()
    ratio = plot.devicePixelRatioF()
    box = plot.ax.get_legend().get_window_extent(plot.get_renderer())
    seen = set()
    for x in range(int(box.x0 / ratio) + 1, int(box.x1 / ratio) - 1):
        for y in range(int(plot.height() - box.y1 / ratio) + 1, int(plot.height() - box.y0 / ratio) - 1):
            c = image.pixelColor(x, y)
            seen.add((c.red(), c.green(), c.blue()))
    return seen


def test_loss_plot_new_legend_entry_is_rendered_off_the_gui_thread(qtbot, plot, monkeypatch):
    """Rendering the legend's text took 30-80 ms under training load: on the GUI thread, a late frame."""
    from matplotlib.legend import Legend

    shown_plot(qtbot, plot)
    full, blits = plot.full_draws, plot.blits
    threads, real_draw = [], Legend.draw
    monkeypatch.setattr(Legend, "draw", lambda self, r: threads.append(threading.get_ident()) or real_draw(self, r))
    green = (44, 160, 44)  # tab:green, the first extra key's colour
    assert green not in legend_colors(plot)
    plot.add_epoch(epoch(2, 0.35, 0.45, kl_loss=0.5))  # a new line and legend entry
    qtbot.waitUntil(lambda: plot.full_draws == full + 1, timeout=2000)
    qtbot.wait(3 * MplCanvas.DRAW_INTERVAL_MS)
    assert plot.full_draws == full + 1 and plot.blits == blits
    assert len(threads) == 1 and threads[0] != threading.get_ident()  # once, in the render thread
    plot.add_epoch(epoch(3, 0.3, 0.4, kl_loss=0.4))  # the same entries: a blit, the legend's pixels kept
    qtbot.waitUntil(lambda: plot.blits == blits + 1, timeout=2000)
    assert len(threads) == 1 and plot.full_draws == full + 1
    assert "kl_loss" in [t.get_text() for t in plot.ax.get_legend().get_texts()]
    assert green in legend_colors(plot)  # the legend on screen has the new entry
    assert is_orange(screen_rgb(plot, 3, 0.45))


def test_loss_plot_redraws_fully_when_the_limits_change(qtbot, plot):
    shown_plot(qtbot, plot)
    full, blits = plot.full_draws, plot.blits
    plot.add_epoch(epoch(2, 3.0, 0.4))  # far above the y range
    qtbot.waitUntil(lambda: plot.full_draws == full + 1, timeout=2000)
    qtbot.wait(3 * MplCanvas.DRAW_INTERVAL_MS)
    assert plot.blits == blits and plot.full_draws == full + 1
    assert plot.ax.get_ylim()[1] > 3.0
    assert is_blue(screen_rgb(plot, 3, 3.0)) and is_orange(screen_rgb(plot, 2, 0.4))

    plot.reset("a new run")  # a new title: full draw
    qtbot.waitUntil(lambda: plot.full_draws == full + 2, timeout=2000)
    assert plot.ax.get_title() == "a new run"


def test_loss_plot_hidden_does_not_draw_or_blit(qtbot, plot):
    shown_plot(qtbot, plot)
    full, blits = plot.full_draws, plot.blits
    plot.hide()
    plot.add_epoch(epoch(2, 0.35, 0.45))
    qtbot.wait(3 * MplCanvas.DRAW_INTERVAL_MS)
    assert (plot.full_draws, plot.blits) == (full, blits) and plot.is_dirty()
    plot.show()
    qtbot.waitUntil(lambda: plot.blits + plot.full_draws > blits + full, timeout=2000)
    qtbot.wait(3 * MplCanvas.DRAW_INTERVAL_MS)
    assert is_orange(screen_rgb(plot, 3, 0.45))


def test_loss_plot_saved_png_shows_every_line(qtbot, plot, tmp_path):
    from PySide6.QtGui import QImage

    shown_plot(qtbot, plot)
    blits = plot.blits
    plot.add_epoch(epoch(2, 0.35, 0.45))
    qtbot.waitUntil(lambda: plot.blits == blits + 1, timeout=2000)
    image = QImage(str(plot.save_png(tmp_path / "after_blit.png")))
    assert (image.width(), image.height()) == plot.get_width_height(physical=True)
    for x, y, check in ((3, 0.45, is_orange), (3, 0.35, is_blue), (2, 0.4, is_orange), (1, 0.6, is_blue)):
        px, py = plot.ax.transData.transform((x, y))
        color = image.pixelColor(int(px), int(image.height() - py))
        assert check((color.red(), color.green(), color.blue())), (x, y)
    assert {"train loss", "validation loss", "best epoch"} <= {t.get_text() for t in plot.ax.get_legend().get_texts()}
    settle(qtbot, plot)  # the screen is redrawn after the save and still shows the lines
    assert is_orange(screen_rgb(plot, 3, 0.45)) and is_blue(screen_rgb(plot, 1, 0.6))


def test_loss_plot_x_spans_the_known_run_length(plot):
    plot.set_total_epochs(20)
    plot.add_batch(BatchEnded(epoch=0, step=1, steps_per_epoch=10, loss=0.7))
    plot.draw()
    low, high = plot.ax.get_xlim()
    assert low <= 0 and 20 <= high < 21.5
    plot.add_epoch(epoch(4, 0.5))
    plot.draw()
    assert plot.ax.get_xlim() == (low, high)
    plot.reset()  # a new run: x grows in steps until its length is known
    plot.add_batch(BatchEnded(epoch=0, step=3, steps_per_epoch=10, loss=0.7))
    plot.draw()
    assert plot.ax.get_xlim()[1] == pytest.approx(1.04)
    plot.add_batch(BatchEnded(epoch=0, step=944, steps_per_epoch=938, loss=0.6))  # overshoots a bit
    plot.draw()
    assert plot.ax.get_xlim()[1] == pytest.approx(1.04)  # still the first epoch's range
    assert plot.line_data("batch")[0][-1] == pytest.approx(1 + 6 / 938)  # the point as reported
    plot.add_epoch(epoch(0, 0.5))  # EpochEnded carries total_epochs=10
    plot.draw()
    assert 10 <= plot.ax.get_xlim()[1] < 11


def test_loss_plot_y_limits_change_rarely_for_a_falling_loss(plot):
    """A typical curve (0.69 falling towards 0.09 over 300 updates) moves y a handful of times."""
    plot.set_total_epochs(3)
    changes, last = 0, None
    for i in range(300):
        x = i / 100
        plot.add_batch(BatchEnded(epoch=i // 100, step=i % 100 + 1, steps_per_epoch=100,
                                  loss=0.09 + 0.6 * np.exp(-6 * x)))
        plot._apply_limits()  # what every timer refresh does
        low, high = plot.ax.get_ylim()
        xs, ys = plot.line_data("batch")
        assert low <= ys.min() and ys.max() <= high  # every point always inside
        if (low, high) != last:
            changes, last = changes + 1, (low, high)
    assert changes <= 5
    assert low < 0.09 and high > 0.69 and high - low < 1.0
    # Hysteresis: jitter inside the range does not move the limits.
    for i in range(20):
        plot.add_batch(BatchEnded(epoch=2, step=i + 1, steps_per_epoch=100, loss=0.1 + 0.01 * (i % 2)))
        plot._apply_limits()
        assert plot.ax.get_ylim() == last


def test_loss_plot_y_shrinks_when_the_data_needs_far_less(plot):
    plot.add_epoch(epoch(0, 1.0))
    plot._apply_limits()
    plot.add_epoch(epoch(1, 0.0))
    plot._apply_limits()
    assert plot.ax.get_ylim()[0] <= 0.0
    plot.load_history({"loss": [0.093, 0.0925, 0.0921]})  # a finished run is fitted afresh
    plot.draw()
    low, high = plot.ax.get_ylim()
    assert 0.08 < low < 0.0921 and 0.093 < high < 0.11


def test_loss_plot_labels_are_never_cut_off(qtbot, plot):
    plot.resize(500, 300)
    plot.show()
    qtbot.waitExposed(plot)
    plot.add_epoch(epoch(0, 0.5))
    plot.draw()
    for value in (0.6, 12345.678, 1e-5, 0.25):  # tick labels grow and shrink
        plot.add_epoch(epoch(1, value))
        for log in (False, True):
            plot.set_log_scale(log)
            plot.draw()
            renderer = plot.get_renderer()
            box = plot.ax.get_tightbbox(renderer)
            assert box.x0 >= 0 and box.y0 >= 0, (value, log)
            assert box.x1 <= plot.figure.bbox.x1 and box.y1 <= plot.figure.bbox.y1, (value, log)
        plot.reset("run")


def test_loss_plot_log_toggle_redraws_and_shows_the_lines(qtbot, plot):
    shown_plot(qtbot, plot)
    full = plot.full_draws
    plot.set_log_scale(True)
    qtbot.waitUntil(lambda: plot.full_draws == full + 1, timeout=2000)
    qtbot.wait(3 * MplCanvas.DRAW_INTERVAL_MS)
    assert plot.ax.get_yscale() == "log"
    assert is_orange(screen_rgb(plot, 2, 0.4)) and is_blue(screen_rgb(plot, 2, 0.3))
    blits = plot.blits
    plot.add_epoch(epoch(2, 0.35, 0.45))
    qtbot.waitUntil(lambda: plot.blits == blits + 1, timeout=2000)
    assert is_orange(screen_rgb(plot, 3, 0.45))


def test_canvas_lays_out_only_when_something_changes(qtbot):
    plot = shown(qtbot, LossPlot(), 500, 300)
    plot.add_epoch(epoch(0, 0.5, 0.6))
    plot.draw()
    runs = plot.layout_runs()
    assert runs >= 1
    plot.draw()
    plot.draw()
    assert plot.layout_runs() == runs  # plain redraws reuse the layout
    plot.resize(600, 350)  # a resize needs a new layout
    plot.draw()
    assert plot.layout_runs() == runs + 1
    plot.ax.set_title("a new title")
    plot.draw()
    assert plot.layout_runs() == runs + 2


def test_long_legend_goes_under_the_plot_when_it_fits(qtbot):
    """Eight entries (a VAE's terms) under the plot, off the curves; inside again on a tiny plot."""
    plot = shown(qtbot, LossPlot(), 900, 420)
    for e in range(3):
        terms = {"reconstruction": 150.0 - e, "kl": 5.0 + e}
        logs = {"loss": 155.0 - e, "val_loss": 156.0 - e, **terms, **{f"val_{k}": v + 1 for k, v in terms.items()}}
        plot.add_epoch(EpochEnded(e, 3, logs, 0.1, True))
    plot.draw()
    renderer = plot.get_renderer()
    assert len(plot.legend_texts()) == 7 and plot._figure_legend is not None
    box = plot._figure_legend.get_window_extent(renderer)
    assert 0 <= box.x0 and box.x1 <= plot.figure.bbox.width  # nothing cut off
    assert box.y1 <= plot.ax.get_tightbbox(renderer).y0 + 1  # below the axes and their labels
    low, high = plot.ax2.get_ylim()
    assert low <= 5.0 and 7.0 <= high and plot.ax2.get_ylabel() == "KL divergence"
    plot.resize(320, 200)  # no room under a tiny plot: back inside, smaller
    qtbot.waitUntil(lambda: plot._figure_legend is None, timeout=5000)
    plot.draw()
    assert plot.legend_axes().get_legend() is not None and len(plot.legend_texts()) == 7
