"""The controls under the scores plot: the score (plain or blurred error), the threshold, label-free and F1
suggestions, and what the threshold flags (counts and, with labels, the confusion matrix)."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QHBoxLayout, QHeaderView, QLabel, QPushButton,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from engine.anomaly.scores import BLUR_SIGMA, SCORE_LABELS, THRESHOLD_LABELS, ThresholdStats, score_kinds
from engine.core.config import Limits
from gui.common.forms import choice_combo, float_spin, set_choice


SCORE_TIP = ("What a sample's anomaly score is. Reconstruction error: the mean squared difference between the sample "
             "and its reconstruction. Blurred error (images only): the same after a Gaussian blur of both (sigma "
             f"{BLUR_SIGMA:g} pixel), so a thick stroke or blob that the model cannot rebuild counts more than "
             "scattered pixel noise; it separates one-class MNIST better. Tables and sequences use the plain error. "
             "Changing it after training re-scores the same reconstructions (no retraining), keeps the threshold at "
             "the same percentile of the training errors, and is saved with the detector.")


class ThresholdPanel(QWidget):
    """`threshold_typed(value)` when the user types a threshold, `apply_clicked()` for a suggestion,
    `score_chosen(kind)` when the user chooses a score."""

    threshold_typed = Signal(float)
    apply_clicked = Signal()
    score_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.score = choice_combo(SCORE_LABELS, "error")
        self.score.setToolTip(SCORE_TIP)
        self.score.currentIndexChanged.connect(lambda: self.score_chosen.emit(self.score.currentData()))
        self.threshold = QDoubleSpinBox()
        self.threshold.setDecimals(6)
        self.threshold.setRange(0.0, 1e12)
        self.threshold.setSingleStep(0.01)
        self.threshold.setToolTip("Samples scoring above this are flagged. Drag the red line in the plot, too.")
        self.threshold.valueChanged.connect(self.threshold_typed)
        self.suggestion = choice_combo(THRESHOLD_LABELS, "percentile")
        self.suggestion.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.suggestion.setMinimumContentsLength(14)
        self.suggestion.setMinimumWidth(self.suggestion.minimumSizeHint().width())  # the narrowest, in small windows
        self.suggestion.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)  # else every choice in full
        self.suggestion.setToolTip("How to suggest a threshold; Apply sets it.")
        self.percentile = float_spin(Limits(50.0, 100.0, "Percentile of the training errors."), 99.0, decimals=2,
                                     step=0.5)
        self.mad_k = float_spin(Limits(0.0, 20.0, "k in median + k x MAD."), 3.0, decimals=1, step=0.5)
        apply = QPushButton("Apply")
        apply.clicked.connect(self.apply_clicked)
        self.log_scale = QCheckBox("Log scale")
        self.stats_label = QLabel("")
        self.stats_label.setWordWrap(True)
        self.confusion = _confusion_table()
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        for widgets in ((QLabel("Score"), self.score),
                        (QLabel("Threshold"), self.threshold, QLabel("q"), self.percentile, QLabel("k"), self.mad_k),
                        (QLabel("Suggest"), self.suggestion, apply, self.log_scale)):
            row = QHBoxLayout()
            for w in widgets:
                row.addWidget(w)
            row.addStretch(1)
            column.addLayout(row)
        stats = QHBoxLayout()
        stats.addWidget(self.stats_label, 1)
        stats.addWidget(self.confusion)
        column.addLayout(stats)

    def show_score(self, data_kind: str, score_kind: str) -> None:
        """Offer the scores that apply to `data_kind` (the others greyed out) with `score_kind` chosen, without
        emitting score_chosen."""
        allowed = score_kinds(data_kind)
        self.score.blockSignals(True)
        for i in range(self.score.count()):
            self.score.model().item(i).setEnabled(self.score.itemData(i) in allowed)
        set_choice(self.score, score_kind if score_kind in allowed else allowed[0])
        self.score.blockSignals(False)

    def show_value(self, value: float) -> None:
        """Show a threshold set elsewhere (the plot, a suggestion) without emitting threshold_typed."""
        self.threshold.blockSignals(True)
        self.threshold.setValue(value)
        self.threshold.blockSignals(False)

    def show_stats(self, stats: ThresholdStats) -> None:
        self.stats_label.setText(stats.summary() + ".")
        self.confusion.setVisible(stats.has_labels)
        if stats.has_labels:
            for (r, c), n in {(0, 0): stats.tp, (0, 1): stats.fn, (1, 0): stats.fp, (1, 1): stats.tn}.items():
                self.confusion.setItem(r, c, QTableWidgetItem(str(n)))


def _confusion_table() -> QTableWidget:
    table = QTableWidget(2, 2)
    table.setHorizontalHeaderLabels(["flagged", "not flagged"])
    table.setVerticalHeaderLabels(["anomalous", "normal"])
    for header in (table.horizontalHeader(), table.verticalHeader()):
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    table.setFixedSize(230, 84)
    table.setToolTip("Confusion matrix at the current threshold (needs labels).")
    return table
