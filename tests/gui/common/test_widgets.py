"""Canvas and image grid: what the user sees is what was sent (the loss plot: test_loss_plot.py)."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QTabWidget, QWidget

from gui.common.canvas import MplCanvas
from gui.common.image_grid import ImageGrid
from tests.gui.helpers import shown


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
    assert grid.shown_image(1, 3).shape == (28, 28)
    image = grid.image_artist(0, 0)
    assert image is grid.image_artist(1, 3)  # one mosaic holds every tile
    assert image.get_cmap().name == "gray"
    assert image.get_clim() == (0.0, 1.0)
    assert image.origin == "upper"
    assert grid.shown_row_title(1) == "reconstruction"
    assert grid.shown_caption(3) == "err 0.0123"


def test_image_grid_shows_rgb_images(grid):
    rgb = np.random.default_rng(1).random((3, 8, 10, 3))
    grid.set_images([rgb], ["colour"])
    np.testing.assert_allclose(grid.shown_image(0, 1), rgb[1])
    assert grid.shown_image(0, 1).shape == (8, 10, 3)
    assert grid.shown_caption(2) == ""


def test_image_grid_accepts_uint8_and_clips(grid):
    grid.set_images([np.full((2, 4, 4, 1), 255, np.uint8), np.full((2, 4, 4, 1), 2.0)], ["bytes", "too bright"])
    np.testing.assert_allclose(grid.shown_image(0, 1), 1.0)
    np.testing.assert_allclose(grid.shown_image(1, 0), 1.0)


def tile_pixel(grid, buffer, row, col, fx, fy):
    """RGBA of the rendered buffer at fraction (fx, fy) across / down tile (row, col)."""
    left, right, top, bottom = grid.tile_extent(row, col)
    x, y = grid.ax.transData.transform((left + fx * (right - left), top + fy * (bottom - top)))
    return buffer[int(buffer.shape[0] - y), int(x)]


def test_image_grid_shows_images_the_right_way_up(grid):
    image = np.zeros((1, 20, 20, 1))
    image[0, :5] = 1.0  # a white band at the top
    grid.set_images([image], ["top band"])
    grid.resize(300, 300)
    grid.draw()
    buffer = np.asarray(grid.buffer_rgba())
    assert tile_pixel(grid, buffer, 0, 0, 0.5, 0.1)[0] > 200
    assert tile_pixel(grid, buffer, 0, 0, 0.5, 0.9)[0] < 50


def test_image_grid_renders_each_tile_in_its_place(grid):
    """Tile (r, c) holds the value (r * 4 + c) / 12 and a white top-left corner: every tile upright."""
    rows = []
    for r in range(3):
        arr = np.zeros((4, 12, 12, 1))
        for c in range(4):
            arr[c] = (r * 4 + c) / 12
            arr[c, :3, :3] = 1.0
        rows.append(arr)
    grid.set_images(rows, ["a", "b", "c"], captions=list("wxyz"))
    grid.resize(600, 400)
    grid.draw()
    buffer = np.asarray(grid.buffer_rgba()).astype(int)
    for r in range(3):
        for c in range(4):
            np.testing.assert_allclose(grid.shown_image(r, c)[6, 6], (r * 4 + c) / 12)
            grey = tile_pixel(grid, buffer, r, c, 0.6, 0.6)[:3]
            assert np.all(np.abs(grey - round(255 * (r * 4 + c) / 12)) <= 2), (r, c, grey)
            assert tile_pixel(grid, buffer, r, c, 0.1, 0.1)[0] > 240  # the corner: top left
            assert tile_pixel(grid, buffer, r, c, 0.9, 0.1)[0] == tile_pixel(grid, buffer, r, c, 0.6, 0.6)[0]


def test_image_grid_reuses_artists_while_the_shape_holds(grid):
    a = np.zeros((3, 6, 6, 1))
    b = np.ones((3, 6, 6, 1))
    grid.set_images([a, a], ["in", "out"])
    first = grid.image_artist(1, 2)
    grid.set_images([b, b * 0.5], ["in", "out"], captions=["1", "2", "3"])
    assert grid.image_artist(1, 2) is first
    assert grid.rebuilds == 1
    np.testing.assert_allclose(grid.shown_image(1, 2), 0.5)
    np.testing.assert_allclose(grid.shown_image(0, 2), 1.0)
    assert grid.shown_caption(1) == "2"


def test_image_grid_rebuilds_when_the_shape_changes(grid):
    grid.set_images([np.zeros((3, 6, 6, 1))], ["in"])
    first = grid.image_artist(0, 0)
    grid.set_images([np.zeros((4, 6, 6, 1))] * 3, ["in", "noisy", "out"])  # more rows, columns
    assert grid.grid_shape() == (3, 4)
    assert grid.image_artist(0, 0) is not first
    grid.set_images([np.zeros((4, 6, 6, 3))] * 3, ["in", "noisy", "out"])  # grey -> colour
    assert grid.rebuilds == 3
    assert grid.shown_image(2, 3).shape == (6, 6, 3)
    assert len(grid.ax.images) == 1  # the old mosaics are gone
    grid.clear_images()
    assert grid.grid_shape() == (0, 0) and len(grid.ax.images) == 0 and len(grid.ax.texts) == 0


def test_image_grid_mixes_grey_and_colour_rows(grid):
    grey, rgb = np.full((2, 5, 5, 1), 0.25), np.random.default_rng(2).random((2, 5, 5, 3))
    grid.set_images([grey, rgb], ["grey", "colour"])
    np.testing.assert_allclose(grid.shown_image(0, 1), 0.25)
    assert grid.shown_image(0, 1).shape == (5, 5)
    np.testing.assert_allclose(grid.shown_image(1, 1), rgb[1])


def test_image_grid_rejects_bad_input(grid):
    with pytest.raises(ValueError):
        grid.set_images([np.zeros((2, 4, 4, 2))], ["two channels"])
    with pytest.raises(ValueError):
        grid.set_images([np.zeros((2, 4, 4, 1)), np.zeros((3, 4, 4, 1))], ["a", "b"])


def test_image_grid_reports_the_clicked_column(qtbot, grid):
    grid.set_images([np.zeros((3, 28, 28, 1)), np.zeros((3, 28, 28, 1))], ["in", "out"],
                    captions=["a", "b", "c"])
    shown(qtbot, grid, 400, 300)
    grid.draw()
    ratio = grid.devicePixelRatioF()

    def widget_pos(row, col, fx=0.5, fy=0.5):
        left, right, top, bottom = grid.tile_extent(row, col)
        x, y = grid.ax.transData.transform((left + fx * (right - left), top + fy * (bottom - top)))
        return QPoint(int(x / ratio), int(grid.height() - y / ratio))  # display pixels are y up

    for row, col in ((0, 2), (1, 0), (1, 1)):
        with qtbot.waitSignal(grid.clicked, timeout=1000) as blocker:
            qtbot.mouseClick(grid, Qt.MouseButton.LeftButton, pos=widget_pos(row, col, 0.8, 0.2))
        assert blocker.args == [col]
    with qtbot.assertNotEmitted(grid.clicked, wait=100):  # outside the images: no column
        qtbot.mouseClick(grid, Qt.MouseButton.LeftButton, pos=QPoint(2, 2))


def test_image_grid_texts_fit_in_the_figure(qtbot, grid):
    rows = [np.zeros((8, 28, 28, 1))] * 3
    grid.set_images(rows, ["original", "noisy input", "reconstructed"],
                    captions=[f"#{i} (3)\nerr 0.0{i}23" for i in range(8)])
    shown(qtbot, grid, 700, 300)
    grid.draw()
    renderer = grid.get_renderer()
    fig = grid.figure.bbox
    for text in grid.ax.texts:
        box = text.get_window_extent(renderer)
        assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= fig.x1 and box.y1 <= fig.y1, text.get_text()


def test_image_grid_row_titles_shrink_to_fit_short_rows_and_grow_back(qtbot, grid):
    grid.set_images([np.zeros((8, 28, 28, 1))] * 2, ["original", "reconstructed"])
    shown(qtbot, grid, 540, 150)  # rows ~50 px tall: "reconstructed" at 10 pt is ~75 px long

    def overlaps() -> list[str]:
        renderer = grid.get_renderer()
        out = []
        for row, title in enumerate(grid._titles):
            top, _, h, _ = grid._tiles[row][0]
            (_, y0), (_, y1) = grid.ax.transData.transform([(0, top - 0.5), (0, top + h - 0.5)])
            if title.get_window_extent(renderer).height > abs(y1 - y0) + 1:
                out.append(title.get_text())
        return out

    qtbot.waitUntil(lambda: not grid.is_dirty() and grid.full_draws > 0 and not overlaps(), timeout=5000)
    sizes = [t.get_fontsize() for t in grid._titles]
    assert sizes[0] == sizes[1] < 10  # made smaller for "reconstructed" to fit its row, both alike
    grid.resize(900, 500)
    qtbot.waitUntil(lambda: [t.get_fontsize() for t in grid._titles] == [10, 10], timeout=5000)  # room again


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
