"""Anomaly tab widgets: score plot with a draggable threshold, ROC/PR curves, heatmaps, series view."""
from __future__ import annotations

import numpy as np
import pytest
from matplotlib.backend_bases import MouseEvent

from gui.tabs.anomaly.anomaly_views import HeatmapGrid, SeriesView
from gui.tabs.anomaly.roc_plot import RocPrPlot
from gui.tabs.anomaly.score_plot import ScorePlot


def mouse(canvas, name: str, x: float, y: float, button=1) -> None:
    """Deliver a matplotlib mouse event at display pixel (x, y), as a real press/move/release would."""
    event = MouseEvent(name, canvas, x, y, button=button)
    canvas.callbacks.process(event.name, event)


def drag(canvas, start: tuple[float, float], end: tuple[float, float]) -> None:
    mouse(canvas, "button_press_event", *start)
    mid = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
    mouse(canvas, "motion_notify_event", *mid, button=None)
    mouse(canvas, "motion_notify_event", *end, button=None)
    mouse(canvas, "button_release_event", *end)


def recorder(signal) -> list:
    seen = []
    signal.connect(seen.append)
    return seen


@pytest.fixture
def scores():
    rng = np.random.default_rng(0)
    errors = rng.uniform(0.1, 1.0, 40)
    errors[[5, 17]] = [3.0, 4.0]
    labels = np.zeros(40, int)
    labels[[5, 17, 30]] = 1
    train = rng.uniform(0.1, 1.0, 200)
    return errors, train, labels


@pytest.fixture
def score_plot(qtbot, scores):
    plot = ScorePlot()
    qtbot.addWidget(plot)
    errors, train, labels = scores
    plot.set_scores(errors, train, labels, threshold=2.0)
    plot.draw()  # lays the axes out, so pixel positions are final
    return plot


# -- ScorePlot -------------------------------------------------------------------------------
def test_score_plot_draws_every_point_and_the_threshold(score_plot, scores):
    errors, _, labels = scores
    assert score_plot.point_count() == 40
    xs, ys = score_plot._anomalous.get_data()
    np.testing.assert_array_equal(xs, [5, 17, 30])
    np.testing.assert_allclose(ys, errors[[5, 17, 30]])
    assert score_plot.threshold_lines() == (2.0, 2.0) and score_plot.threshold() == 2.0
    assert score_plot.ax.get_title() == "40 samples, 2 above threshold"
    legend = [t.get_text() for t in score_plot.ax.get_legend().get_texts()]
    assert legend[:2] == ["normal", "labelled anomalous"]
    train_values, edges = score_plot.histogram("train")
    scored_values, scored_edges = score_plot.histogram("scored")
    np.testing.assert_array_equal(edges, scored_edges)  # shared bins
    assert np.sum(train_values * np.diff(edges)) == pytest.approx(1.0)  # density


def test_set_threshold_restyles_flagged_points_without_signals(score_plot, scores):
    errors = scores[0]
    emitted = recorder(score_plot.threshold_dragged) + recorder(score_plot.threshold_released)
    assert score_plot.flagged_count() == 2
    score_plot.set_threshold(0.5)
    assert score_plot.flagged_count() == int(np.sum(errors > 0.5)) > 2
    assert score_plot.threshold_lines() == (0.5, 0.5)
    assert score_plot.ax.get_title() == f"40 samples, {np.sum(errors > 0.5)} above threshold"
    score_plot.set_threshold(10.0)  # outside the view: the axis grows to show the line
    assert score_plot.flagged_count() == 0
    assert score_plot.ax.get_ylim()[1] >= 10.0
    assert emitted == []


def test_dragging_the_threshold_line_in_the_top_axes(score_plot):
    dragged, released = recorder(score_plot.threshold_dragged), recorder(score_plot.threshold_released)
    to_px = score_plot.ax.transData.transform
    x, y = to_px((20, 2.0))
    _, target_y = to_px((20, 1.0))
    drag(score_plot, (x, y + 3), (x, target_y + 3))  # grabbed 3 px off the line: it moves with the mouse
    assert len(dragged) == 2 and dragged[-1] == pytest.approx(1.0, abs=0.02)
    assert released == [pytest.approx(1.0, abs=0.02)]
    assert score_plot.threshold() == pytest.approx(1.0, abs=0.02)
    assert score_plot.threshold_lines()[0] == pytest.approx(released[0])
    assert score_plot.threshold_lines()[1] == pytest.approx(released[0])
    assert score_plot.flagged_count() == int(np.sum(score_plot._errors > released[0]))


def test_dragging_the_threshold_line_in_the_histogram(score_plot):
    released = recorder(score_plot.threshold_released)
    to_px = score_plot.hist_ax.transData.transform
    x, y = to_px((2.0, 0.1))
    target_x, _ = to_px((0.6, 0.1))
    drag(score_plot, (x, y), (target_x, y))
    assert released == [pytest.approx(0.6, abs=0.02)]
    assert score_plot.threshold_lines()[0] == pytest.approx(released[0])


def test_press_away_from_the_line_does_not_drag(score_plot):
    dragged = recorder(score_plot.threshold_dragged)
    x, y = score_plot.ax.transData.transform((20, 2.5))  # well above the line, on no point
    drag(score_plot, (x, y), (x, y - 40))
    assert dragged == [] and score_plot.threshold() == 2.0


def test_clicking_a_point_emits_its_index(score_plot, scores):
    clicked = recorder(score_plot.sample_clicked)
    x, y = score_plot.ax.transData.transform((17, scores[0][17]))
    mouse(score_plot, "button_press_event", x + 2, y - 2)
    mouse(score_plot, "button_release_event", x + 2, y - 2)
    assert clicked == [17]
    x, y = score_plot.ax.transData.transform((17, 2.6))  # empty space
    mouse(score_plot, "button_press_event", x, y)
    assert clicked == [17]
    score_plot.highlight(17)
    assert score_plot.highlighted() == 17
    np.testing.assert_allclose(score_plot._highlight.get_ydata(), [scores[0][17]])


def test_log_scale_with_zero_errors(qtbot):
    plot = ScorePlot()
    qtbot.addWidget(plot)
    errors = np.array([0.0, 0.0, 1e-5, 1e-3, 0.1, 2.0])
    plot.set_scores(errors, np.array([0.0, 1e-4, 1e-2]), None, threshold=0.05, index_label="window")
    plot.set_log_scale(True)
    plot.draw()
    assert plot.ax.get_yscale() == "log" and plot.hist_ax.get_xscale() == "log"
    low, high = plot.ax.get_ylim()
    assert 0 < low < 1e-5 and high > 2.0
    _, edges = plot.histogram("scored")
    assert np.all(edges > 0) and np.allclose(np.diff(np.log(edges)), np.log(edges[1] / edges[0]))
    assert np.all(np.asarray(plot._normal.get_ydata()) > 0)
    assert plot.flagged_count() == 2
    assert plot.ax.get_title() == "6 windows, 2 above threshold"
    plot.set_log_scale(False)
    plot.draw()
    assert plot.ax.get_yscale() == "linear" and plot.ax.get_ylim()[0] < 0


def test_clear_hides_the_axes_and_says_why(score_plot):
    score_plot.clear()
    assert score_plot.message() == "Train or load a detector to see scores"
    assert not score_plot.ax.get_visible() and score_plot.point_count() == 0
    score_plot.draw()


# -- RocPrPlot -------------------------------------------------------------------------------
def test_roc_pr_plot_curves_point_and_message(qtbot):
    plot = RocPrPlot()
    qtbot.addWidget(plot)
    plot.show_message("ROC and precision-recall curves need labels: choose a label column")
    assert not plot.curves_visible() and "need labels" in plot.message()
    assert plot.curve_data() == {} and plot.point() is None

    fpr, tpr = [0, 0.1, 0.5, 1], [0, 0.7, 0.9, 1]
    precision, recall = [0.5, 0.8, 1.0], [1.0, 0.6, 0.0]
    plot.set_curves(fpr, tpr, 0.953, precision, recall, 0.871, 0.1)
    assert plot.curves_visible() and plot.message() == ""
    data = plot.curve_data()
    np.testing.assert_allclose(data["fpr"], fpr)
    np.testing.assert_allclose(data["tpr"], tpr)
    np.testing.assert_allclose(data["precision"], precision)
    np.testing.assert_allclose(data["recall"], recall)
    assert data["positive_rate"] == pytest.approx(0.1)
    assert plot.roc_ax.get_title() == "ROC, AUROC 0.953"
    assert plot.pr_ax.get_title() == "Precision-recall, AP 0.871"

    plot.set_point(0.1, 0.7, 0.6, 0.8)
    assert plot.point() == pytest.approx((0.1, 0.7, 0.6, 0.8))
    plot.set_point(0.5, 0.9, 0.9, 0.55)
    assert plot.point() == pytest.approx((0.5, 0.9, 0.9, 0.55))
    assert len(plot.roc_ax.lines) == 3  # moved, not added
    plot.show_message("no labels")
    assert not plot.roc_ax.get_visible() and not plot.pr_ax.get_visible()


# -- HeatmapGrid -----------------------------------------------------------------------------
def half_white(n: int, size: int = 8, channels: int = 1) -> np.ndarray:
    images = np.zeros((n, size, size, channels))
    images[:, : size // 2] = 1.0  # top half white, bottom half black
    return images


def screen_rgb(canvas, ax, x: float, y: float) -> np.ndarray:
    """RGB of the rendered figure at data point (x, y) of `ax`."""
    buffer = np.asarray(canvas.buffer_rgba())
    px, py = ax.transData.transform((x, y))
    return buffer[int(buffer.shape[0] - py), int(px), :3].astype(int)


@pytest.mark.parametrize("channels", [1, 3])
def test_heatmap_grid_shows_images_right_side_up(qtbot, channels):
    grid = HeatmapGrid()
    qtbot.addWidget(grid)
    images = half_white(3, channels=channels)
    maps = np.zeros((3, 8, 8))
    maps[:, 6:, :] = 0.5  # errors at the bottom
    grid.set_samples(images, images * 0.9, maps, ["#1 err 0.1", "#2 err 0.2", "#3 err 0.3"])
    grid.draw()
    shown = grid.shown("input", 1)
    assert shown[0].min() == 1.0 and shown[-1].max() == 0.0
    np.testing.assert_allclose(grid.shown("error heatmap", 2), maps[2])
    assert grid.heat_limits() == (0.0, 0.5)
    # On screen: the first row of the tile is drawn at the top (white), the last at the bottom (black).
    left, right, top, bottom = grid.tile_extent("input", 0)
    middle = (left + right) / 2
    assert screen_rgb(grid, grid.ax, middle, top + 1).min() > 200
    assert screen_rgb(grid, grid.ax, middle, bottom - 1).max() < 60
    left, right, top, bottom = grid.tile_extent("error heatmap", 0)
    assert screen_rgb(grid, grid.ax, middle, bottom - 1).sum() > screen_rgb(grid, grid.ax, middle, top + 3).sum()
    assert [grid.caption(c) for c in range(3)] == ["#1 err 0.1", "#2 err 0.2", "#3 err 0.3"]


def test_heatmap_grid_click_and_empty(qtbot):
    grid = HeatmapGrid()
    qtbot.addWidget(grid)
    images = half_white(12)
    grid.set_samples(images, images, np.zeros((12, 8, 8)), [f"#{i}" for i in range(12)])
    grid.draw()
    clicked = recorder(grid.sample_clicked)
    for col in (2, 9):  # 12 samples: two bands of 6
        left, right, top, bottom = grid.tile_extent("reconstruction", col)
        mouse(grid, "button_press_event", *grid.ax.transData.transform(((left + right) / 2, (top + bottom) / 2)))
    assert clicked == [2, 9]
    grid.set_samples(np.zeros((0, 8, 8, 1)), np.zeros((0, 8, 8, 1)), np.zeros((0, 8, 8)), [])
    assert grid.count() == 0 and grid.message() == "No samples"
    with pytest.raises(IndexError):
        grid.shown("input", 0)
    grid.draw()


# -- SeriesView ------------------------------------------------------------------------------
def test_series_view_shades_and_selects_windows(qtbot):
    view = SeriesView()
    qtbot.addWidget(view)
    t = 2000
    values = np.stack([np.sin(np.arange(t) / 10 + k) for k in range(10)], axis=1)
    view.set_series(values, [f"s{k}" for k in range(10)], np.linspace(0, 1, t), threshold=0.8)
    assert view.channel_count() == 8 and "8 of 10" in view.ax.get_title()
    assert view._threshold_line.get_ydata()[0] == 0.8

    view.set_windows([100, 120, 1500], 40)
    assert view.shaded_windows() == [(100, 140), (120, 160), (1500, 1540)]
    assert len(view._shades[0].get_paths()) == 2  # overlapping windows are shaded once
    assert len(view._shades[1].get_paths()) == 2

    view.select_window(1500)
    assert view.selected() == (1500, 1540)
    low, high = view.ax.get_xlim()
    assert low <= 1500 and high >= 1540 and high - low < 600  # zoomed to ~10 windows
    assert view.score_ax.get_xlim() == (low, high)  # shared x
    view.select_window(None)
    assert view.selected() is None and view.ax.get_xlim()[1] >= t - 1


# -- drawing ---------------------------------------------------------------------------------
def test_every_widget_draws_with_data(qtbot, scores, tmp_path):
    errors, train, labels = scores
    plot = ScorePlot()
    plot.set_scores(errors, train, labels, 1.0)
    plot.highlight(3)
    roc = RocPrPlot()
    roc.set_curves([0, 0.2, 1], [0, 0.8, 1], 0.9, [0.3, 1.0], [1.0, 0.0], 0.8, 0.3)
    roc.set_point(0.2, 0.8, 0.8, 0.6)
    grid = HeatmapGrid()
    grid.set_samples(half_white(16, channels=3), half_white(16, channels=3), np.random.rand(16, 8, 8),
                     [f"#{i} err 0.{i}" for i in range(16)])
    series = SeriesView()
    series.set_series(np.random.rand(300, 2), ["a", "b"], np.random.rand(300), None)
    series.set_windows([10, 200], 20)
    series.select_window(200)
    for canvas in (plot, roc, grid, series):
        qtbot.addWidget(canvas)
        canvas.draw()
        assert canvas.full_draws == 1
    assert grid.save_png(tmp_path / "grid.png").stat().st_size > 0
