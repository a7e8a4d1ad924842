"""The reconstruction tab's error histogram: marks move without a new layout."""
import numpy as np

from gui.tabs.reconstruction.error_histogram import ErrorHistogram
from tests.gui.helpers import shown


def test_error_histogram_marks_without_a_new_layout(qtbot):
    histogram = shown(qtbot, ErrorHistogram(), 500, 220)
    errors = np.random.default_rng(0).gamma(2.0, 0.01, 500)
    histogram.set_errors(errors)
    histogram.draw()
    runs = histogram.layout_runs()
    histogram.mark(errors[:3])
    histogram.draw()
    np.testing.assert_allclose(histogram.marked(), errors[:3])
    assert histogram.layout_runs() == runs
    box = histogram.ax.get_tightbbox(histogram.get_renderer())
    assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= histogram.figure.bbox.x1
