"""Fixtures of the shared widgets' tests."""
import pytest

from gui.common.loss_plot import LossPlot


@pytest.fixture
def plot(qtbot):
    """A LossPlot owned by the test."""
    widget = LossPlot()
    qtbot.addWidget(widget)
    return widget
