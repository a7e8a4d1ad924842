"""Where a plot's legend goes: inside the axes when it is short, else in columns under the plot.

A long legend (a VAE's or AAE's extra loss terms) inside the axes hides the curves; under the plot
it costs a few text lines of height. It goes there only when it fits: as many columns (up to 4)
as the figure's width holds, and no more than a share of the figure's height; otherwise (a very
small plot) it stays inside, smaller.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from matplotlib.font_manager import FontProperties

FONT_SIZE = "small"
_HANDLE_EM = 2.0 + 0.8  # matplotlib's default handlelength + handletextpad, in font sizes
_COLUMN_GAP_EM = 2.0  # default columnspacing
_LINE_EM = 1.45  # height of one legend row
_MAX_HEIGHT_SHARE = 0.3  # of the figure's height a legend under the plot may take


def legend_columns(labels: Sequence[str], figure, renderer, inside_max: int = 5, max_columns: int = 4) -> int:
    """0: put the legend inside the axes; n > 0: under the plot in n columns (entries fill columns first)."""
    n = len(labels)
    if n <= inside_max:
        return 0
    font = FontProperties(size=FONT_SIZE)
    em = font.get_size_in_points() * figure.dpi / 72
    widths = [renderer.get_text_width_height_descent(s, font, ismath=False)[0] + _HANDLE_EM * em for s in labels]
    for columns in range(min(max_columns, n), 0, -1):
        rows = math.ceil(n / columns)
        total = sum(max(widths[j:j + rows]) for j in range(0, n, rows)) + (columns - 1) * _COLUMN_GAP_EM * em
        if total <= 0.98 * figure.bbox.width:
            break
    else:
        return 0
    if rows * _LINE_EM * em > _MAX_HEIGHT_SHARE * figure.bbox.height:
        return 0
    return columns
