"""The Anomaly tab's result views: the live training curves, the scores with the draggable threshold and
its panel, the ROC / PR curves and the most anomalous samples, all showing one detector's scores."""
from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from engine.anomaly import scores as anomaly
from gui.common.loss_plot import LossPlot
from gui.tabs.anomaly.anomaly_list import MostAnomalous
from gui.tabs.anomaly.roc_plot import RocPrPlot
from gui.tabs.anomaly.score_plot import ScorePlot
from gui.tabs.anomaly.threshold_panel import ThresholdPanel

INDEX_LABELS = {"image": "image", "table": "row", "sequence": "window"}
SCORE_AXES = {"error": "reconstruction error",
              "blurred_error": f"blurred reconstruction error (sigma {anomaly.BLUR_SIGMA:g})"}
NO_LABELS = ("ROC and precision-recall curves need labels: choose a label column (tables, sequences), MNIST, "
             "or good/ and other subfolders to score.")


class DetectorViews(QTabWidget):
    """Pages: Training, Scores and threshold, ROC / PR, Most anomalous. The user moves the threshold by
    dragging it or typing it (`threshold_moved`); `show_threshold` redraws every view for a threshold."""

    threshold_moved = Signal(float, bool)  # the value, True when it came from dragging the plot
    sample_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.loss_plot = LossPlot(smoothing=0.6)
        self.score_plot = ScorePlot()
        self.score_plot.threshold_dragged.connect(self._on_dragged)
        self.score_plot.threshold_released.connect(self._on_dragged)
        self.score_plot.sample_clicked.connect(self.sample_clicked)
        self.roc_plot = RocPrPlot()
        self.most = MostAnomalous()
        self.most.sample_selected.connect(self.sample_clicked)
        self.panel = ThresholdPanel()
        self.panel.threshold_typed.connect(lambda value: self.threshold_moved.emit(value, False))
        self.panel.log_scale.toggled.connect(self.score_plot.set_log_scale)
        scores_page = QWidget()
        column = QVBoxLayout(scores_page)
        column.addWidget(self.score_plot, 1)
        column.addWidget(self.panel)
        for page, title in ((self.loss_plot, "Training"), (scores_page, "Scores and threshold"),
                            (self.roc_plot, "ROC / PR"), (self.most, "Most anomalous")):
            self.addTab(page, title)

    @Slot(float)
    def _on_dragged(self, value: float) -> None:
        self.threshold_moved.emit(value, True)

    def show_scores(self, detector, scores) -> str:
        """Draw a detector's scores (its threshold and score kind included); returns the AUROC / AP sentence ("" without
        labels)."""
        self.panel.show_score(detector.kind, scores.score_kind)
        self.score_plot.set_scores(scores.errors, detector.train_errors, scores.labels, detector.threshold,
                                   index_label=INDEX_LABELS[scores.data.kind],
                                   score_label=SCORE_AXES[scores.score_kind])
        metrics = ""
        if anomaly.has_both_classes(scores.labels):
            found = anomaly.curves(scores.errors, scores.labels)
            self.roc_plot.set_curves(found.fpr, found.tpr, found.auroc, found.precision, found.recall,
                                     found.average_precision, found.positive_rate)
            metrics = f" AUROC {found.auroc:.3f}, average precision {found.average_precision:.3f}."
        else:
            self.roc_plot.show_message(NO_LABELS)
        self.most.show_scores(scores, detector.threshold)
        self.show_threshold(detector.threshold, scores)
        return metrics

    def show_threshold(self, value: float, scores, from_plot: bool = False) -> None:
        """Counts, confusion matrix, ROC point and flags at `value` (the plot's line too, unless dragged there)."""
        self.panel.show_value(value)
        if not from_plot:
            self.score_plot.set_threshold(value)
        stats = anomaly.threshold_stats(scores.errors, value, scores.labels)
        self.panel.show_stats(stats)
        if stats.has_labels:
            self.roc_plot.set_point(stats.fpr, stats.tpr, stats.tpr, stats.precision)
        self.most.set_threshold(value)
