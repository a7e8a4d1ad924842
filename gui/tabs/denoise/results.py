"""Showing a denoising result on the Photo page (gui.tabs.denoise.photo_view): the original, noisy and
result panels, the method and view choosers, and the metrics table with the best of each column in bold."""
from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem

from gui.tabs.denoise.image_panels import LazyDifference
from gui.tabs.denoise.photo_view import COLUMNS, PhotoView

NO_REFERENCE = "No clean original: PSNR and SSIM need one (add noise on purpose to score methods)."
NOISE_LEFT = "Noise left (of 255)"
NO_REFERENCE_COLUMNS = ("Method", NOISE_LEFT, "Seconds", "Megapixels/s")  # what can be measured without one
NOISE_LEFT_TIP = ("The noise estimated in each image from its smooth areas: a standard deviation on 0-255, at the "
                  "image's median brightness, root-mean-square over colour channels.\nLower is smoother, not "
                  "better: an over-smoothed result has none left and lost detail with it,\nso this column is not "
                  "ranked. Compare the results by eye.")


def number(value: float | None, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return "∞" if math.isinf(value) else f"{value:.{digits}f}"


def rate(value: float) -> str:
    """Three significant digits: tiny test images run at 0.00x megapixels per second."""
    return "—" if math.isnan(value) or math.isinf(value) else f"{value:.3g}"


def best_method(result) -> str:
    """The method with the highest PSNR (the first one run when nothing was scored)."""
    return result.best_by().get("psnr", next(iter(result.outputs)))


BEST_COLUMNS = {"PSNR (dB)": "psnr", "SSIM": "ssim", "Seconds": "seconds", "Megapixels/s": "seconds"}  # bolded


def show_opened(page: PhotoView, image) -> None:
    """A newly opened photograph alone, nothing denoised yet."""
    page.method_combo.blockSignals(True)
    page.method_combo.clear()
    page.method_combo.blockSignals(False)
    page.panels.set_layout(["original"])
    page.panels.set_image("original", image.pixels, title=image.path.name)
    page.metrics_table.setRowCount(0)
    page.metrics_note.setText("Press Denoise to compare the chosen methods.")


def show(page: PhotoView, result, image_name: str) -> None:
    """Lay out the panels for `result` and fill the choosers and the table (the best method chosen)."""
    reference = result.reference is not None
    page.panels.set_layout(["original", "noisy", "result"] if reference else ["original", "result"])
    if reference:
        page.panels.set_image("original", result.reference, title="Original (clean)")
        noisy_psnr = next((r.psnr for r in result.metrics if r.method == "noisy"), math.nan)
        page.panels.set_image("noisy", result.noisy,
                              title=f"Noisy: {result.noise.describe()}, {number(noisy_psnr, 2)} dB")
    else:
        page.panels.set_image("original", result.noisy, title=f"Input: {image_name}")
    page.method_combo.blockSignals(True)
    page.method_combo.clear()
    for method in result.outputs:
        page.method_combo.addItem(result.labels[method], method)
    page.method_combo.setCurrentIndex(max(0, page.method_combo.findData(best_method(result))))
    page.method_combo.blockSignals(False)
    if not reference and page.view_combo.currentData() == "diff_clean":
        page.view_combo.setCurrentIndex(0)
    fill_metrics(page, result)


def fill_metrics(page: PhotoView, result) -> None:
    """The table: PSNR, SSIM and times against the clean original; without one, the noise left and times."""
    reference = result.reference is not None
    columns = COLUMNS if reference else NO_REFERENCE_COLUMNS
    rows = ["noisy"] + list(result.outputs)
    metrics = {r.method: r for r in result.metrics}
    best = result.best_by()  # bold: the best value of each column, not a whole row
    table = page.metrics_table
    table.blockSignals(True)
    _set_columns(table, columns)
    table.setRowCount(len(rows))
    for r, method in enumerate(rows):
        row = metrics.get(method)
        seconds = result.seconds.get(method)
        left = result.noise_left.get(method)
        values = {"Method": result.labels.get(method, method) if reference or method != "noisy" else "Input",
                  "PSNR (dB)": number(row.psnr, 2) if row else "—",
                  "SSIM": number(row.ssim, 4) if row else "—",
                  NOISE_LEFT: number(left, 1) if left is not None else "—",
                  "Seconds": number(seconds, 2) if seconds is not None else "—",
                  "Megapixels/s": rate(result.megapixels_per_second(method)) if seconds is not None else "—"}
        for c, column in enumerate(columns):
            bold = column in BEST_COLUMNS and best.get(BEST_COLUMNS[column]) == method
            table.setItem(r, c, _cell(values[column], method, c, bold, NOISE_LEFT_TIP if column == NOISE_LEFT else ""))
    table.blockSignals(False)
    if not reference:
        page.metrics_note.setText(f"{NO_REFERENCE} Shown instead: the noise left in each result (lower is "
                                  "smoother, not better: not ranked) and the time.")
    else:
        page.metrics_note.setText(f"{result.verdict()} Against the clean original ({result.noise.describe()}, "
                                  f"seed {result.noise.seed}); the best of each column is in bold. Click a row to "
                                  f"show it.")


def _set_columns(table: QTableWidget, columns: tuple[str, ...]) -> None:
    if tuple(table.horizontalHeaderItem(c).text() if table.horizontalHeaderItem(c) else ""
             for c in range(table.columnCount())) == columns:
        return
    table.setColumnCount(len(columns))
    table.setHorizontalHeaderLabels(columns)
    header = table.horizontalHeader()
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    for c, name in enumerate(columns[1:], start=1):
        header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        table.horizontalHeaderItem(c).setToolTip(NOISE_LEFT_TIP if name == NOISE_LEFT else "")


def _cell(text: str, method: str, column: int, bold: bool, tip: str) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setData(Qt.ItemDataRole.UserRole, method)
    if column:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    if tip:
        item.setToolTip(tip)
    if bold:
        font = QFont(item.font())
        font.setBold(True)
        item.setFont(font)
    return item


def table_text(page: PhotoView) -> dict[str, dict[str, str]]:
    """The metrics table as {method label: {column: text}} (what the user reads)."""
    table = page.metrics_table
    names = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    return {table.item(r, 0).text(): {names[c]: table.item(r, c).text() for c in range(table.columnCount())}
            for r in range(table.rowCount())}


def show_chosen(page: PhotoView, result) -> None:
    """Draw the chosen method's output, or its difference from the clean or the noisy image."""
    method = page.method_combo.currentData()
    if result is None or method not in result.outputs:
        return
    output, label, view = result.outputs[method], result.labels[method], page.view_combo.currentData()
    metric = next((r for r in result.metrics if r.method == method), None)
    scored = f": {number(metric.psnr, 2)} dB, SSIM {number(metric.ssim, 3)}" if metric else ""
    if metric is None and method in result.noise_left:
        scored = f": noise left {number(result.noise_left[method], 1)} of 255"
    if view == "result" or (view == "diff_clean" and result.reference is None):
        page.panels.set_image("result", output, title=f"{label}{scored}")
        return
    against = result.reference if view == "diff_clean" else result.noisy
    difference = LazyDifference(output, against)
    top = max(1.0 / 255.0, difference.robust_max())
    what = "clean" if view == "diff_clean" else "noisy"
    page.panels.set_image("result", difference, title=f"|{label} − {what}|", cmap="magma", vmin=0.0,
                          vmax=top, colorbar=f"|result − {what}| (0-1 scale; top = 99.5th percentile)")
