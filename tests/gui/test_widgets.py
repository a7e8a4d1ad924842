"""Canvas, loss plot and image grid: what the user sees is what was sent."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QTabWidget, QWidget

from engine.events import BatchEnded, EpochEnded
from gui.widgets.canvas import MplCanvas
from gui.widgets.image_grid import ImageGrid
from gui.widgets.loss_plot import LossPlot


def epoch(i, loss, val=None, improved=False, **extra):
    logs = {"loss": loss, **({} if val is None else {"val_loss": val}), **extra}
    return EpochEnded(epoch=i, total_epochs=10, logs=logs, seconds=0.1, improved=improved)


# -- LossPlot --------------------------------------------------------------------------------
@pytest.fixture
def plot(qtbot):
    widget = LossPlot()
    qtbot.addWidget(widget)
    return widget


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
    assert low <= 0.01 and high >= 100.0
    plot.set_log_scale(False)
    assert not plot.is_log_scale()


# -- ImageGrid -------------------------------------------------------------------------------
@pytest.fixture
def grid(qtbot):
    widget = ImageGrid()
    qtbot.addWidget(widget)
    return widget


def test_image_grid_shows_grey_images(grid):
    rng = np.random.default_rng(0)
    originals = rng.random((4, 28, 28, 1))
    outputs = rng.random((4, 28, 28, 1))
    grid.set_images([originals, outputs], ["original", "reconstruction"],
                    captions=[f"err {e:.4f}" for e in (0.1, 0.2, 0.3, 0.0123)])
    assert grid.grid_shape() == (2, 4)
    np.testing.assert_allclose(grid.shown_image(0, 2), originals[2, ..., 0])
    np.testing.assert_allclose(grid.shown_image(1, 3), outputs[3, ..., 0])
    image = grid.image_artist(0, 0)
    assert image.get_cmap().name == "gray"
    assert image.get_clim() == (0.0, 1.0)
    assert image.origin == "upper"
    assert grid._axes[1][0].get_ylabel() == "reconstruction"
    assert grid.shown_caption(3) == "err 0.0123"


def test_image_grid_shows_rgb_images(grid):
    rgb = np.random.default_rng(1).random((3, 8, 10, 3))
    grid.set_images([rgb], ["colour"])
    np.testing.assert_allclose(grid.shown_image(0, 1), rgb[1])
    assert grid.shown_image(0, 1).shape == (8, 10, 3)


def test_image_grid_shows_images_the_right_way_up(grid, tmp_path):
    image = np.zeros((1, 20, 20, 1))
    image[0, :5] = 1.0  # a white band at the top
    grid.set_images([image], ["top band"])
    grid.resize(300, 300)
    grid.draw()
    buffer = np.asarray(grid.buffer_rgba())
    extent = grid.image_artist(0, 0).get_window_extent()
    height = buffer.shape[0]
    top_row = int(height - extent.y1) + 3  # renderer y runs bottom-up, the buffer top-down
    bottom_row = int(height - extent.y0) - 3
    column = int((extent.x0 + extent.x1) / 2)
    assert buffer[top_row, column, 0] > 200
    assert buffer[bottom_row, column, 0] < 50


def test_image_grid_reuses_artists_while_the_shape_holds(grid):
    a = np.zeros((3, 6, 6, 1))
    b = np.ones((3, 6, 6, 1))
    grid.set_images([a, a], ["in", "out"])
    first = grid.image_artist(1, 2)
    grid.set_images([b, b * 0.5], ["in", "out"])
    assert grid.image_artist(1, 2) is first
    assert grid.rebuilds == 1
    np.testing.assert_allclose(grid.shown_image(1, 2), 0.5)


def test_image_grid_rebuilds_when_the_shape_changes(grid):
    grid.set_images([np.zeros((3, 6, 6, 1))], ["in"])
    first = grid.image_artist(0, 0)
    grid.set_images([np.zeros((4, 6, 6, 1))] * 3, ["in", "noisy", "out"])  # more rows, columns
    assert grid.grid_shape() == (3, 4)
    assert grid.image_artist(0, 0) is not first
    grid.set_images([np.zeros((4, 6, 6, 3))] * 3, ["in", "noisy", "out"])  # grey -> colour
    assert grid.rebuilds == 3
    assert grid.shown_image(2, 3).shape == (6, 6, 3)


def test_image_grid_rejects_bad_input(grid):
    with pytest.raises(ValueError):
        grid.set_images([np.zeros((2, 4, 4, 2))], ["two channels"])
    with pytest.raises(ValueError):
        grid.set_images([np.zeros((2, 4, 4, 1)), np.zeros((3, 4, 4, 1))], ["a", "b"])


def test_image_grid_reports_the_clicked_column(qtbot, grid):
    grid.set_images([np.zeros((3, 6, 6, 1))], ["in"])
    grid.resize(400, 200)
    grid.show()
    qtbot.waitExposed(grid)
    grid.draw()
    x, y = grid._axes[0][2].transAxes.transform((0.5, 0.5))  # display pixels, y up
    ratio = grid.devicePixelRatioF()
    pos = QPoint(int(x / ratio), int(grid.height() - y / ratio))
    with qtbot.waitSignal(grid.clicked, timeout=1000) as blocker:
        qtbot.mouseClick(grid, Qt.MouseButton.LeftButton, pos=pos)
    assert blocker.args == [2]


# -- MplCanvas drawing policy ----------------------------------------------------------------
def test_hidden_canvas_does_not_draw_until_shown(qtbot):
    tabs = QTabWidget()
    qtbot.addWidget(tabs)
    front = QWidget()
    canvas = MplCanvas()
    tabs.addTab(front, "front")
    tabs.addTab(canvas, "plot")
    tabs.show()
    qtbot.waitExposed(tabs)
    assert not canvas.isVisible()

    canvas.request_draw()
    qtbot.wait(3 * MplCanvas.DRAW_INTERVAL_MS)
    assert canvas.draws_requested == 0 and canvas.is_dirty()

    tabs.setCurrentWidget(canvas)
    qtbot.waitUntil(lambda: canvas.draws_requested == 1, timeout=2000)
    assert not canvas.is_dirty()


def test_visible_canvas_coalesces_draw_requests(qtbot):
    canvas = MplCanvas()
    qtbot.addWidget(canvas)
    canvas.show()
    qtbot.waitExposed(canvas)
    for _ in range(50):
        canvas.request_draw()
    qtbot.waitUntil(lambda: canvas.draws_requested == 1, timeout=2000)
    qtbot.wait(2 * MplCanvas.DRAW_INTERVAL_MS)
    assert canvas.draws_requested == 1  # not dirty any more: no further draws


def test_canvas_has_a_sensible_minimum_size(qtbot):
    canvas = MplCanvas()
    qtbot.addWidget(canvas)
    assert canvas.minimumWidth() >= 200 and canvas.minimumHeight() >= 150
