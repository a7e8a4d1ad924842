"""Full redraws of the streaming canvases (loss plot, image previews) run in the render thread.

Under training load a full render cost 50-190 ms of Python on the GUI thread: a frozen window at Start and
at each new axis range. Here the render thread draws, the GUI thread keeps running its event loop, and the
changes made meanwhile wait for the render and then apply in order. Each test holds the render thread at
a gate (a figure draw that waits), so a render is known to be running while the test acts.
"""
from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import QTimer

from engine.core.events import BatchEnded
from gui.common.image_grid import ImageGrid
from gui.common.loss_plot import LossPlot
from tests.gui.common.test_loss_plot import epoch, settle, shown_plot
from tests.gui.helpers import shown


class Gate:
    """Replaces canvas.figure.draw: records the thread, then waits until let through (or raises, if asked)."""

    def __init__(self, monkeypatch, canvas, fail: bool = False) -> None:
        self.permits, self.entered, self.threads, self.fail = threading.Semaphore(0), threading.Event(), [], fail
        original = canvas.figure.draw

        def draw(renderer):
            self.threads.append(threading.get_ident())
            self.entered.set()
            assert self.permits.acquire(timeout=20), "the test never let the render through"
            if self.fail:
                self.fail = False
                raise RuntimeError("planted render failure")
            return original(renderer)

        monkeypatch.setattr(canvas.figure, "draw", draw)

    def wait_entered(self) -> None:
        assert self.entered.wait(10), "no render started"

    def allow(self, renders: int = 100) -> None:
        self.permits.release(renders)


@pytest.fixture
def gates():
    """Every gate is opened at the end of its test, failed or not: the render thread is shared."""
    made: list[Gate] = []
    yield made
    for gate in made:
        gate.allow()


def rendering(qtbot, monkeypatch, canvas, start, fail: bool = False, *, gates: list) -> Gate:
    """Hold the render thread, call start() (which must lead to a full redraw) and wait until it renders."""
    gate = Gate(monkeypatch, canvas, fail)
    gates.append(gate)
    start()
    qtbot.waitUntil(canvas.is_rendering, timeout=3000)
    gate.wait_entered()
    return gate


def finished(qtbot, canvas, gate: Gate) -> None:
    gate.allow()
    qtbot.waitUntil(lambda: not canvas.is_rendering() and not canvas._deferred, timeout=5000)
    settle(qtbot, canvas)


def test_a_full_redraw_renders_off_the_gui_thread_while_the_event_loop_runs(qtbot, plot, monkeypatch, gates):
    shown_plot(qtbot, plot)
    shown_renderer, full = plot.renderer, plot.full_draws
    gate = rendering(qtbot, monkeypatch, plot, lambda: plot.reset("second run", total_epochs=4), gates=gates)
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(10)
    qtbot.wait(300)  # the render is still held: the GUI thread must keep serving its events
    timer.stop()
    assert len(ticks) >= 10, f"only {len(ticks)} ticks of a 10 ms timer in 300 ms: the GUI thread was blocked"
    assert gate.threads and gate.threads[0] != threading.main_thread().ident
    assert plot.renderer is shown_renderer  # the old picture stays on screen until the new one is done
    finished(qtbot, plot, gate)
    assert plot.full_draws == full + 1 and plot.renderer is not shown_renderer
    assert plot.ax.get_title() == "second run"


def _run_calls(plot: LossPlot) -> None:
    plot.add_batch(BatchEnded(epoch=2, step=5, steps_per_epoch=10, loss=0.35))
    plot.add_epoch(epoch(2, 0.2, 0.3, improved=True))
    plot.reset("second run", total_epochs=4)
    plot.add_batch(BatchEnded(epoch=0, step=3, steps_per_epoch=10, loss=0.9))
    plot.add_epoch(epoch(0, 0.5, 0.6, improved=True))
    plot.set_log_scale(True)


def test_changes_during_a_render_wait_for_it_then_apply_in_order(qtbot, plot, monkeypatch, gates):
    shown_plot(qtbot, plot)
    title, xs = plot.ax.get_title(), list(plot._fixed["loss"].get_xdata())
    gate = rendering(qtbot, monkeypatch, plot, lambda: plot.add_epoch(epoch(2, 3.0, 0.4)), gates=gates)  # new y limits
    _run_calls(plot)
    # The figure is untouched while the render thread draws it.
    assert plot.ax.get_title() == title and list(plot._fixed["loss"].get_xdata()) == [*xs, 3.0]
    assert plot.ax.get_yscale() == "linear"
    finished(qtbot, plot, gate)
    reference = LossPlot()  # the same calls on a plot that renders nothing meanwhile
    qtbot.addWidget(reference)
    reference.add_epoch(epoch(0, 0.6, 0.65, improved=True))
    reference.add_epoch(epoch(1, 0.3, 0.4))
    reference.add_epoch(epoch(2, 3.0, 0.4))
    _run_calls(reference)
    assert plot.ax.get_title() == reference.ax.get_title() == "second run"
    assert plot.is_log_scale() and reference.is_log_scale()
    for name in reference.line_names():
        np.testing.assert_allclose(plot.line_data(name), reference.line_data(name), err_msg=name)
    assert plot.legend_texts() == reference.legend_texts()
    reference.draw()
    assert plot.ax.get_xlim() == pytest.approx(reference.ax.get_xlim())


def test_a_read_during_a_render_waits_for_it_and_the_queued_changes(qtbot, plot, monkeypatch, gates):
    shown_plot(qtbot, plot)
    gate = rendering(qtbot, monkeypatch, plot, lambda: plot.reset("second run", total_epochs=4), gates=gates)
    plot.add_epoch(epoch(0, 0.5, 0.6))
    threading.Timer(0.2, gate.allow).start()  # the GUI thread is about to wait for the render
    xs, ys = plot.line_data("loss")
    assert not plot.is_rendering() and list(xs) == [1.0] and list(ys) == [0.5]


def test_a_resize_during_a_render_is_taken_after_it(qtbot, plot, monkeypatch, gates):
    shown_plot(qtbot, plot)
    size = tuple(plot.figure.get_size_inches())
    gate = rendering(qtbot, monkeypatch, plot, lambda: plot.add_epoch(epoch(2, 3.0, 0.4)), gates=gates)
    plot.resize(plot.width() + 120, plot.height() + 60)
    qtbot.wait(50)
    assert tuple(plot.figure.get_size_inches()) == size  # not changed under the render thread's feet
    gate.allow(1)  # that render is shown, the figure takes the new size, and a render at that size starts
    qtbot.waitUntil(lambda: len(gate.threads) == 2, timeout=5000)
    assert tuple(plot.figure.get_size_inches()) != size and plot.is_rendering()
    old = plot.renderer
    picture = plot.grab().toImage()  # meanwhile the last picture is painted, not a blank new buffer
    assert plot.renderer is old and old.get_canvas_width_height() != plot.get_width_height(physical=True)
    dark = sum(picture.pixelColor(x, y).lightness() < 100 for x in range(0, picture.width(), 3)
               for y in range(0, picture.height(), 3))
    assert dark > 20, "the canvas painted blank while its new picture was rendering"
    finished(qtbot, plot, gate)
    qtbot.waitUntil(lambda: plot.renderer.get_canvas_width_height() == plot.get_width_height(physical=True),
                    timeout=3000)
    assert tuple(plot.figure.get_size_inches()) != size
    assert plot._lastKey == (*plot.get_width_height(physical=True), plot.figure.dpi)


def test_a_failed_render_keeps_the_picture_and_applies_the_changes(qtbot, plot, monkeypatch, gates, capsys):
    shown_plot(qtbot, plot)
    shown_renderer = plot.renderer
    gate = rendering(qtbot, monkeypatch, plot, lambda: plot.add_epoch(epoch(2, 3.0, 0.4)), fail=True, gates=gates)
    plot.add_epoch(epoch(3, 0.2, 0.25))
    gate.allow()
    qtbot.waitUntil(lambda: not plot.is_rendering(), timeout=5000)
    assert "planted render failure" in capsys.readouterr().err  # reported, as matplotlib's idle draw does
    assert plot.renderer is shown_renderer
    assert list(plot.line_data("loss")[0]) == [1.0, 2.0, 3.0, 4.0]
    plot.reset("after the failure", total_epochs=4)  # and the next render works
    qtbot.waitUntil(lambda: plot.renderer is not shown_renderer and not plot.is_dirty(), timeout=5000)


def test_image_grid_rejects_bad_input_at_once_and_shows_good_input_after_a_render(qtbot, monkeypatch, gates):
    grid = shown(qtbot, ImageGrid(), 600, 300)
    first = np.full((3, 8, 8, 1), 0.25)
    grid.set_images([first], ["first"])
    settle(qtbot, grid)
    gate = rendering(qtbot, monkeypatch, grid, lambda: grid.set_images([first, first], ["a", "b"]),
                     gates=gates)  # a new shape
    with pytest.raises(ValueError, match="row titles"):
        grid.set_images([first], ["one", "two"])  # the caller hears of it now, not when the render ends
    second = np.linspace(0, 1, 2 * 16 * 16).reshape(2, 16, 16, 1)
    grid.set_images([second], ["second"], captions=["x", "y"])
    finished(qtbot, grid, gate)
    assert grid.grid_shape() == (1, 2) and grid.shown_row_title(0) == "second" and grid.shown_caption(1) == "y"
    np.testing.assert_allclose(grid.shown_image(0, 1), second[1, ..., 0])


def test_a_canvas_deleted_while_it_renders_is_left_alone_and_the_others_still_show_theirs(qtbot, plot, monkeypatch,
                                                                                          gates):
    import shiboken6

    doomed = LossPlot()
    shown_plot(qtbot, doomed)
    gate = rendering(qtbot, monkeypatch, doomed, lambda: doomed.reset("gone", total_epochs=4), gates=gates)
    future = doomed._render.future
    shiboken6.delete(doomed)  # its window closed and deleted while the render thread draws its figure
    gate.allow()
    qtbot.waitUntil(future.done, timeout=5000)
    qtbot.wait(50)  # the "done" notice arrives and finds the canvas gone
    shown_plot(qtbot, plot)  # the render thread and its notices still serve the others
    full = plot.full_draws
    plot.reset("still here", total_epochs=4)
    qtbot.waitUntil(lambda: plot.full_draws > full and not plot.is_rendering(), timeout=5000)
