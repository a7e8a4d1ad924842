"""Runs tab view: the figures people compare are on screen at 1280 pixels, and curves of different scales
stay readable."""
from types import SimpleNamespace

import numpy as np

from gui.tabs.runs.run_curves import RunCurves, _spans_scales
from gui.tabs.runs.tab import COLUMNS


def fake_run(i, losses, **metrics):
    config = {"model_kind": "dense", "code_size": 8, "learning_rate": 0.003, "epochs": len(losses)}
    return SimpleNamespace(id=f"20261201-0000{i:02d}-dense-{i:04x}", name="", status="finished", config=config,
                           history={"loss": losses, "val_loss": losses}, note="a long note " * 10, message="",
                           metrics={"best_val_loss": min(losses), "best_epoch": 0, "mean_code_activation": 0.5,
                                    **metrics},
                           data={"summary": "a very long data summary, 60000 training images 28x28 grey " * 3},
                           path="/tmp/x")


def test_a_vae_beside_a_dense_run_gets_a_log_axis(qtbot):
    assert _spans_scales([np.array([170.0, 160.0]), np.array([0.09, 0.08])])
    assert not _spans_scales([np.array([0.2, 0.1]), np.array([0.09, 0.08])])
    assert not _spans_scales([np.array([170.0]), np.array([0.0, 0.08])])  # no log axis for a zero
    curves = RunCurves()
    curves.show_runs([fake_run(1, [170.0, 165.0]), fake_run(2, [0.09, 0.085])])
    assert curves.log_scale and curves.curves_ax.get_yscale() == "log"
    curves.show_runs([fake_run(1, [0.2, 0.15]), fake_run(2, [0.09, 0.085])])
    assert curves.curves_ax.get_yscale() == "linear"


def test_best_loss_epochs_and_warnings_are_visible_at_1280_pixels(qtbot, window, monkeypatch):
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    runs = window.runs_tab
    monkeypatch.setattr(type(runs.store), "runs", lambda store: [fake_run(1, [0.3, 0.2], warning_checks=["baseline"])])
    window.tabs.setCurrentWidget(runs)
    runs.refresh()
    table = runs.table
    for name in ("status", "best val loss", "epochs", "warnings"):
        col = COLUMNS.index(name)
        assert table.columnViewportPosition(col) + table.columnWidth(col) <= table.viewport().width(), name
    assert table.item(0, COLUMNS.index("best val loss")).text() == "0.2"
    data = table.item(0, COLUMNS.index("data"))
    assert table.columnWidth(COLUMNS.index("data")) <= 200 and data.toolTip() == data.text()  # whole in a tooltip
    qtbot.waitUntil(lambda: not window.warm_up.is_running(), timeout=120_000)  # TensorFlow loads after showing
