"""The most anomalous samples: images with their error heatmaps, table rows with the features that
explain them, or the windows highlighted on the series."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QSpinBox,
                               QStackedWidget, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from engine.anomaly import scores as anomaly
from gui.tabs.anomaly.anomaly_views import HeatmapGrid, SeriesView

IMAGES_SHOWN = 12
SERIES_SHOWN = 10  # distinct windows shaded on the series; more would cover it


class MostAnomalous(QWidget):
    """`show_scores(scores, threshold)` picks the view for the data kind; `sample_selected(index)` reports
    the sample the user clicked (an index into the scored samples)."""

    sample_selected = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.count = QSpinBox()
        self.count.setRange(1, 500)
        self.count.setValue(50)
        self.count.setToolTip("How many of the highest-scoring samples to list.")
        self.count.valueChanged.connect(self._refresh)
        self.caption = QLabel("Train or open a detector to list the most anomalous samples.")
        self.caption.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(self.caption, 1)
        self.count_label = QLabel("Show")
        top.addWidget(self.count_label)
        top.addWidget(self.count)

        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["rank", "row (file line)", "score", "top contributing features"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.cellClicked.connect(lambda row, _col: self._select(row))
        self.heatmaps = HeatmapGrid()
        self.heatmaps.sample_clicked.connect(self._select)
        self.series = SeriesView()
        self.series.setMinimumWidth(220)
        self.windows = QListWidget()
        self.windows.setFixedWidth(180)
        self.windows.currentRowChanged.connect(self._on_window_row)
        series_page = QWidget()
        row = QHBoxLayout(series_page)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.series, 1)
        row.addWidget(self.windows)
        self.pages = QStackedWidget()
        for page in (self.table, self.heatmaps, series_page):
            self.pages.addWidget(page)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.pages, 1)
        self._scores = None
        self._threshold = 0.0
        self._order = np.empty(0, np.int64)

    def show_scores(self, scores, threshold: float) -> None:
        self._scores, self._threshold = scores, threshold
        self._refresh()

    def set_threshold(self, threshold: float) -> None:
        """Cheap update while the threshold line is dragged: flags and the series' threshold line."""
        self._threshold = threshold
        if self._scores is None:
            return
        if self._scores.data.kind == "sequence":
            self.series.set_threshold(threshold)
        elif self._scores.data.kind == "table":
            self._flag_rows()
        self._caption()

    def order(self) -> np.ndarray:
        """Indices of the listed samples, most anomalous first."""
        return self._order

    @Slot()
    def _refresh(self) -> None:
        scores = self._scores
        if scores is None:
            return
        kind = scores.data.kind
        self.count.setVisible(kind == "table")
        self.count_label.setVisible(kind == "table")
        count = {"image": IMAGES_SHOWN, "sequence": SERIES_SHOWN}.get(kind, self.count.value())
        if kind == "sequence":  # distinct windows: overlapping neighbours of a listed window say nothing new
            self._order = anomaly.distinct_windows(scores.errors, scores.data.starts, scores.inputs.shape[1], count)
        else:
            self._order = anomaly.most_anomalous(scores.errors, count)
        if kind == "image":
            self._show_images(scores)
        elif kind == "sequence":
            self._show_windows(scores)
        else:
            self._show_rows(scores)
        self._caption()

    def _caption(self) -> None:
        scores = self._scores
        flagged = int(np.count_nonzero(scores.errors > self._threshold))
        what = {"image": "images", "table": "rows", "sequence": "windows"}[scores.data.kind]
        shown = len(self._order)
        self.caption.setText(f"The {shown} highest-scoring {what} of {len(scores.errors)}; {flagged} are above "
                             f"the threshold {self._threshold:.4g}. Click one to mark it in the Scores plot.")

    def _show_rows(self, scores) -> None:
        self.pages.setCurrentWidget(self.table)
        table = scores.data.table
        self.table.setHorizontalHeaderItem(1, QTableWidgetItem("row (file line)" if table is not None else "row"))
        self.table.setRowCount(len(self._order))
        for rank, index in enumerate(self._order):
            where = f"{index + 1} (line {table.line_of(int(index))})" if table is not None else str(index + 1)
            top = ", ".join(f"{name} {share:.0%}" for name, share in scores.top_features(int(index)))
            for col, text in enumerate((str(rank + 1), where, f"{scores.errors[index]:.4g}", top)):
                item = QTableWidgetItem(text)
                if col in (0, 2):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(rank, col, item)
        self.table.resizeColumnsToContents()
        self._flag_rows()

    def _flag_rows(self) -> None:
        for rank, index in enumerate(self._order):
            item = self.table.item(rank, 2)
            if item is not None:
                flagged = self._scores.errors[index] > self._threshold
                item.setForeground(Qt.GlobalColor.red if flagged else Qt.GlobalColor.black)

    def _show_images(self, scores) -> None:
        self.pages.setCurrentWidget(self.heatmaps)
        order = self._order
        names = scores.data.sample_names
        captions = [f"{names[i] if names else f'#{i}'}\nerror {scores.errors[i]:.4f}" for i in order]
        self.heatmaps.set_samples(scores.inputs[order], scores.outputs[order], scores.error_maps(order), captions)

    def _show_windows(self, scores) -> None:
        self.pages.setCurrentWidget(self.pages.widget(2))
        data = scores.data
        window = scores.inputs.shape[1]
        starts = data.starts[self._order]
        self.series.set_series(data.series, list(data.names), scores.point_scores, self._threshold)
        self.series.set_windows([int(s) for s in starts], window)
        self.windows.blockSignals(True)
        self.windows.clear()
        for rank, (index, start) in enumerate(zip(self._order, starts)):
            item = QListWidgetItem(f"{rank + 1}. steps {start}-{start + window - 1}: {scores.errors[index]:.3g}")
            if data.table is not None:
                item.setToolTip(f"File lines {data.table.line_of(int(start))}-"
                                f"{data.table.line_of(int(start + window - 1))}")
            self.windows.addItem(item)
        self.windows.blockSignals(False)

    @Slot(int)
    def _on_window_row(self, row: int) -> None:
        if 0 <= row < len(self._order):
            self.series.select_window(int(self._scores.data.starts[self._order[row]]))
            self.sample_selected.emit(int(self._order[row]))

    @Slot(int)
    def _select(self, position: int) -> None:
        if 0 <= position < len(self._order):
            self.sample_selected.emit(int(self._order[position]))
