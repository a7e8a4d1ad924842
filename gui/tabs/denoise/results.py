"""Showing a denoising result on the Photo page (gui.tabs.denoise.photo_view): the original, noisy and
result panels, the method and view choosers, and the metrics table with the best of each column in bold."""
from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QTableWidgetItem

from gui.tabs.denoise.image_panels import LazyDifference
from gui.tabs.denoise.photo_view import COLUMNS, PhotoView

NO_REFERENCE = "No clean reference: add noise to measure PSNR and SSIM."


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


BEST_COLUMNS = {1: "psnr", 2: "ssim", 3: "seconds", 4: "seconds"}  # table column -> the measure it shows


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
    rows = ["noisy"] + list(result.outputs) if result.reference is not None else list(result.outputs)
    metrics = {r.method: r for r in result.metrics}
    best = result.best_by()  # bold: the best value of each column, not a whole row
    table = page.metrics_table
    table.blockSignals(True)
    table.setRowCount(len(rows))
    for r, method in enumerate(rows):
        row = metrics.get(method)
        seconds = result.seconds.get(method)
        values = [result.labels.get(method, method),
                  number(row.psnr, 2) if row else "—",
                  number(row.ssim, 4) if row else "—",
                  number(seconds, 2) if seconds is not None else "—",
                  rate(result.megapixels_per_second(method)) if seconds is not None else "—"]
        for c, text in enumerate(values):
            table.setItem(r, c, _cell(text, method, c, bold=c in BEST_COLUMNS and best.get(BEST_COLUMNS[c]) == method,
                                      tip=NO_REFERENCE if row is None and c in (1, 2) and result.reference is None
                                      else ""))
    table.blockSignals(False)
    if result.reference is None:
        page.metrics_note.setText(NO_REFERENCE)
    else:
        page.metrics_note.setText(f"{result.verdict()} Against the clean original ({result.noise.describe()}, "
                                  f"seed {result.noise.seed}); the best of each column is in bold. Click a row to "
                                  f"show it.")


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
    return {table.item(r, 0).text(): {COLUMNS[c]: table.item(r, c).text() for c in range(table.columnCount())}
            for r in range(table.rowCount())}


def show_chosen(page: PhotoView, result) -> None:
    """Draw the chosen method's output, or its difference from the clean or the noisy image."""
    method = page.method_combo.currentData()
    if result is None or method not in result.outputs:
        return
    output, label, view = result.outputs[method], result.labels[method], page.view_combo.currentData()
    metric = next((r for r in result.metrics if r.method == method), None)
    scored = f": {number(metric.psnr, 2)} dB, SSIM {number(metric.ssim, 3)}" if metric else ""
    if view == "result" or (view == "diff_clean" and result.reference is None):
        page.panels.set_image("result", output, title=f"{label}{scored}")
        return
    against = result.reference if view == "diff_clean" else result.noisy
    difference = LazyDifference(output, against)
    top = max(1.0 / 255.0, difference.robust_max())
    what = "clean" if view == "diff_clean" else "noisy"
    page.panels.set_image("result", difference, title=f"|{label} − {what}|", cmap="magma", vmin=0.0,
                          vmax=top, colorbar=f"|result − {what}| (0-1 scale; top = 99.5th percentile)")
