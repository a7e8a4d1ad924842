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


def test_the_marks_of_the_extreme_errors_stay_off_the_frame(qtbot):
    histogram = shown(qtbot, ErrorHistogram(), 500, 220)
    errors = np.random.default_rng(1).gamma(2.0, 0.01, 500)
    histogram.set_errors(errors)
    histogram.mark([errors.min(), errors.max()])
    histogram.draw()
    frame = histogram.ax.bbox
    for x in histogram.ax.transData.transform([(e, 0) for e in histogram.marked()])[:, 0]:
        assert frame.x0 + 4 <= x <= frame.x1 - 4  # a few pixels inside, not drawn over the axes' frame
