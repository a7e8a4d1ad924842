"""Anomaly detection tab: train a detector on normal data, score everything, choose a threshold."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal, Slot
from PySide6.QtWidgets import (QComboBox, QFileDialog, QFormLayout, QGridLayout, QGroupBox, QLabel, QMessageBox,
                               QProgressBar, QPushButton, QScrollArea, QSplitter, QTabWidget, QVBoxLayout, QWidget)

from engine.anomaly import scores as anomaly
from engine.core.config import MODEL_LABELS, ConfigError, TrainConfig
from engine.anomaly.detector import DETECTOR_SUFFIX, KIND_MODELS, Detector, DetectorOutcome, Scores, data_kind, default_config
from engine.core.events import BatchEnded, EpochEnded, Progress, Started
from gui.widgets.anomaly_list import MostAnomalous
from gui.widgets.anomaly_sources import AnomalySourceBox
from gui.widgets.forms import float_spin, int_spin, set_choice
from gui.widgets.loss_plot import LossPlot
from gui.widgets.roc_plot import RocPrPlot
from gui.widgets.score_plot import ScorePlot
from gui.widgets.table_chooser import TableChooser
from gui.widgets.threshold_panel import ThresholdPanel
from gui.worker import JobRunner

SUGGESTIONS = anomaly.THRESHOLD_LABELS


class AnomalyTab(QWidget):
    status_changed = Signal(str)

    def __init__(self, session=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.runner = JobRunner.for_tab(self)
        self.detector: Detector | None = None
        self.scores: Scores | None = None
        self._inspecting: TableChooser | None = None
        self._build()
        self._on_source_changed()

    # ----- layout -------------------------------------------------------------------
    def _build(self) -> None:
        self.data = AnomalySourceBox()
        self.data.source.currentIndexChanged.connect(self._on_source_changed)
        for chooser in (self.data.table_chooser, self.data.sequence_chooser):
            chooser.path_chosen.connect(lambda path, c=chooser: self._inspect(c, path))
        d = self.data  # the controls users (and tests) reach through the tab
        self.source, self.table_chooser, self.sequence_chooser = d.source, d.table_chooser, d.sequence_chooser
        self.digit_boxes, self.normal_folder, self.score_folder = d.digit_boxes, d.normal_folder, d.score_folder
        self.window, self.stride, self.train_share = d.window, d.stride, d.train_share

        lim = TrainConfig.LIMITS
        self.model_kind = QComboBox()
        self.code_size = int_spin(lim["code_size"], 4)
        self.filters = int_spin(lim["filters"], 32)
        self.epochs = int_spin(lim["epochs"], 40)
        self.batch_size = int_spin(lim["batch_size"], 32, step=16)
        self.learning_rate = float_spin(lim["learning_rate"], 1e-3, decimals=6, step=5e-4)
        self.seed = int_spin(lim["seed"], 0)
        self.model_kind.currentIndexChanged.connect(
            lambda: self.filters.setEnabled(self.model_kind.currentData() in ("conv", "conv1d", "transformer")))
        model_box = QGroupBox("Model")
        form = QFormLayout(model_box)
        for label, widget in (("Kind", self.model_kind), ("Code size", self.code_size), ("Filters / width",
                              self.filters), ("Epochs", self.epochs), ("Batch size", self.batch_size),
                              ("Learning rate", self.learning_rate), ("Seed", self.seed)):
            form.addRow(label, widget)

        self.train_button = QPushButton("Train detector")
        self.train_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop training after the current batch; the best model so far is scored.")
        self.stop_button.clicked.connect(self.stop)
        self.open_button = QPushButton("Open detector…")
        self.open_button.clicked.connect(self._open_dialog)
        self.save_button = QPushButton("Save detector…")
        self.save_button.setToolTip("Model, scaler and threshold in one file.")
        self.save_button.clicked.connect(self._save_dialog)
        self.score_button = QPushButton("Score another file…")
        self.score_button.setToolTip("Score a new table / series file, or a folder of images, with this detector.")
        self.score_button.clicked.connect(self._score_dialog)
        self.export_button = QPushButton("Export scored CSV…")
        self.export_button.setToolTip("The original rows plus anomaly_score and anomaly_flag.")
        self.export_button.clicked.connect(self._export_dialog)
        self.export_model_button = QPushButton("Export model…")
        self.export_model_button.setToolTip("The detector's autoencoder as .keras, SavedModel, TFLite or ONNX, with "
                                            "its scaling built in and the threshold in the metadata.")
        self.export_model_button.clicked.connect(self.show_export)
        buttons = QGridLayout()
        for i, b in enumerate((self.train_button, self.stop_button, self.open_button, self.save_button,
                               self.score_button, self.export_button, self.export_model_button)):
            buttons.addWidget(b, i // 2, i % 2)

        controls = QWidget()
        column = QVBoxLayout(controls)
        column.addWidget(self.data)
        column.addWidget(model_box)
        column.addLayout(buttons)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(controls)
        scroll.setMinimumWidth(310)

        self.progress = QProgressBar()
        self.progress.setFormat("idle")
        self.progress_label = QLabel("Choose data and press Train detector. The synthetic demo needs nothing else.")
        self.progress_label.setWordWrap(True)
        self.progress_label.setMinimumHeight(2 * self.progress_label.fontMetrics().lineSpacing() + 4)
        self.loss_plot = LossPlot(smoothing=0.6)
        self.score_plot = ScorePlot()
        self.score_plot.threshold_dragged.connect(self._on_threshold_dragged)
        self.score_plot.threshold_released.connect(self._on_threshold_dragged)
        self.score_plot.sample_clicked.connect(self._on_sample_clicked)
        self.roc_plot = RocPrPlot()
        self.most = MostAnomalous()
        self.most.sample_selected.connect(self._on_sample_clicked)
        self.views = QTabWidget()
        self.views.addTab(self.loss_plot, "Training")
        self.views.addTab(self._scores_page(), "Scores and threshold")
        self.views.addTab(self.roc_plot, "ROC / PR")
        self.views.addTab(self.most, "Most anomalous")
        right = QWidget()
        right_column = QVBoxLayout(right)
        right_column.addWidget(self.progress)
        right_column.addWidget(self.progress_label)
        right_column.addWidget(self.views, 1)

        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(scroll)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        QVBoxLayout(self).addWidget(splitter)
        self._sync_enabled()

    def _scores_page(self) -> QWidget:
        page = QWidget()
        column = QVBoxLayout(page)
        column.addWidget(self.score_plot, 1)
        self.panel = ThresholdPanel()
        self.panel.threshold_typed.connect(self._on_threshold_typed)
        self.panel.apply_clicked.connect(self.apply_suggestion)
        self.panel.log_scale.toggled.connect(self.score_plot.set_log_scale)
        column.addWidget(self.panel)
        p = self.panel  # the controls users (and tests) reach through the tab
        self.threshold, self.suggestion, self.percentile, self.mad_k = p.threshold, p.suggestion, p.percentile, p.mad_k
        self.stats_label, self.confusion = p.stats_label, p.confusion
        return page

    # ----- state --------------------------------------------------------------------
    @Slot()
    def _on_source_changed(self) -> None:
        source = self.source.currentData()
        self.data.show_source(source)
        kind = data_kind(source)
        current = self.model_kind.currentData()
        self.model_kind.clear()
        for key in KIND_MODELS[kind]:
            self.model_kind.addItem(MODEL_LABELS[key], key)
        set_choice(self.model_kind, current)
        defaults = default_config(kind)
        for box, value in ((self.code_size, defaults.code_size), (self.epochs, defaults.epochs),
                           (self.batch_size, defaults.batch_size), (self.learning_rate, defaults.learning_rate)):
            box.setValue(value)

    def _sync_enabled(self) -> None:
        running = self.runner.is_running()
        self.train_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.open_button.setEnabled(not running)
        self.save_button.setEnabled(not running and self.detector is not None)
        self.score_button.setEnabled(not running and self.detector is not None)
        self.export_button.setEnabled(not running and self.scores is not None)
        self.export_model_button.setEnabled(not running and self.detector is not None)

    def train_config(self) -> TrainConfig:
        kind = data_kind(self.source.currentData())
        return default_config(kind, self.model_kind.currentData(), code_size=self.code_size.value(),
                              filters=self.filters.value(), epochs=self.epochs.value(),
                              batch_size=self.batch_size.value(), learning_rate=self.learning_rate.value(),
                              seed=self.seed.value())

    # ----- run ----------------------------------------------------------------------
    @Slot()
    def start(self) -> None:
        from engine.anomaly.detector import train_detector_job

        if self.runner.is_running():
            self.status_changed.emit("The anomaly tab is busy; stop the running job first.")
            return
        try:
            spec, config = self.data.spec(self.seed.value()), self.train_config()
        except ConfigError as exc:
            QMessageBox.warning(self, "Check the settings", str(exc))
            return
        self.loss_plot.reset(f"Detector: {MODEL_LABELS[config.model_kind]}")
        self.views.setCurrentWidget(self.loss_plot)
        self._run(train_detector_job(spec, config), "train detector", "Training the detector…")
        self.status_changed.emit("Training the anomaly detector on the normal samples…")

    @Slot()
    def stop(self) -> None:
        if self.runner.is_running():
            self.runner.stop()
            self.progress_label.setText("Stopping after the current batch; the best model so far is scored…")

    def _run(self, job, name: str, message: str) -> None:
        self.progress.setRange(0, 0)
        self.progress.setFormat("working…")
        self.progress_label.setText(message)
        self.runner.start(job, name)
        self._sync_enabled()

    def _inspect(self, chooser: TableChooser, path: str) -> None:
        if self.runner.is_running():
            chooser.show_error("Busy: the columns are read when the running job ends. Press Enter in the path.")
            return
        from engine.data.tables import read_table

        self._inspecting = chooser
        self._run(lambda on_event, stop: read_table(path), "read table", f"Reading {Path(path).name}…")

    @Slot(object)
    def _on_event(self, event) -> None:
        if isinstance(event, Progress):
            if event.total:
                self.progress.setRange(0, event.total)
                self.progress.setValue(event.done)
                self.progress.setFormat(f"{event.message} %p%" if event.message else "%p%")
            elif event.message:
                self.progress_label.setText(event.message)
        elif isinstance(event, Started):
            self.loss_plot.set_total_epochs(event.total_epochs)
            self.progress.setRange(0, event.total_epochs)
            self.progress.setValue(0)
            self.progress.setFormat("epoch %v/%m")
            self.progress_label.setText(event.description)
        elif isinstance(event, BatchEnded):
            self.loss_plot.add_batch(event)
        elif isinstance(event, EpochEnded):
            self.loss_plot.add_epoch(event)
            self.progress.setValue(event.epoch + 1)

    @Slot(object)
    def _on_succeeded(self, result) -> None:
        if isinstance(result, DetectorOutcome):
            self.loss_plot.mark_best(result.result.best_epoch)
            self._show(result.detector, result.scores, result.result.message)
            self.views.setCurrentIndex(1)
        elif isinstance(result, Detector):
            self.detector = result
            self.status_changed.emit("Detector opened; scoring its data…")
            self._score(result)
        elif isinstance(result, Scores):
            self._show(self.detector, result, f"Scored {result.data.source}.")
            self.views.setCurrentIndex(1)
        elif self._inspecting is not None:  # a Table
            chooser, self._inspecting = self._inspecting, None
            chooser.set_table(result, chooser.path.text().strip(), skip_index=True)  # ids and time stamps
            self.progress_label.setText(f"Read {result.source}: choose the columns, then press Train detector.")

    @Slot(str, str)
    def _on_failed(self, message: str, _detail: str) -> None:
        if self._inspecting is not None:
            chooser, self._inspecting = self._inspecting, None
            chooser.show_error(message)
        self.progress_label.setText(message)
        self.status_changed.emit(message)
        QMessageBox.warning(self, "Anomaly detection", message)

    @Slot()
    def _on_finished(self) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if self.scores is not None else 0)
        self.progress.setFormat("idle")
        self._sync_enabled()

    def _score(self, detector: Detector, path: str = "", score_path: str = "") -> None:
        from engine.anomaly.detector import score_new_job

        self._run(score_new_job(detector, path, score_path), "score", "Scoring…")

    # ----- showing results ----------------------------------------------------------
    def _show(self, detector: Detector, scores: Scores, message: str) -> None:
        self.detector, self.scores = detector, scores
        index_label = {"image": "image", "table": "row", "sequence": "window"}[scores.data.kind]
        self.score_plot.set_scores(scores.errors, detector.train_errors, scores.labels, detector.threshold,
                                   index_label=index_label)
        if anomaly.has_both_classes(scores.labels):
            found = anomaly.curves(scores.errors, scores.labels)
            self.roc_plot.set_curves(found.fpr, found.tpr, found.auroc, found.precision, found.recall,
                                     found.average_precision, found.positive_rate)
            metrics = f" AUROC {found.auroc:.3f}, average precision {found.average_precision:.3f}."
        else:
            self.roc_plot.show_message("ROC and precision-recall curves need labels: choose a label column "
                                       "(tables, sequences), MNIST, or good/ and other subfolders to score.")
            metrics = ""
        self.most.show_scores(scores, detector.threshold)
        self._set_threshold(detector.threshold, from_plot=False)
        notes = " ".join(scores.data.notes)
        text = f"{message} {scores.data.source}.{metrics} {notes}".strip()
        self.progress_label.setText(text)
        self.status_changed.emit(f"Anomaly detection: {len(scores.errors)} samples scored.{metrics}")
        self._sync_enabled()

    @Slot()
    def apply_suggestion(self) -> None:
        if self.detector is None:
            return
        key = self.suggestion.currentData()
        try:
            found = self.detector.suggestions(self.scores, self.percentile.value(), self.mad_k.value())
        except ValueError as exc:
            self.status_changed.emit(str(exc))
            return
        if key not in found:
            QMessageBox.information(self, "Needs labels", "The F1-best threshold needs labels with both classes. "
                                    "Choose a percentile, the largest training error or median + k x MAD.")
            return
        self._set_threshold(found[key])
        self.status_changed.emit(f"Threshold set to {found[key]:.6g} ({SUGGESTIONS[key]}).")

    @Slot(float)
    def _on_threshold_dragged(self, value: float) -> None:
        self._set_threshold(value, from_plot=True)

    @Slot(float)
    def _on_threshold_typed(self, value: float) -> None:
        if self.detector is not None and value != self.detector.threshold:
            self._set_threshold(value)

    def _set_threshold(self, value: float, from_plot: bool = False) -> None:
        if self.detector is None or self.scores is None:
            return
        value = float(value)
        self.detector.threshold = value
        self.panel.show_value(value)
        if not from_plot:
            self.score_plot.set_threshold(value)
        stats = anomaly.threshold_stats(self.scores.errors, value, self.scores.labels)
        self.panel.show_stats(stats)
        if stats.has_labels:
            self.roc_plot.set_point(stats.fpr, stats.tpr, stats.tpr, stats.precision)
        self.most.set_threshold(value)

    @Slot(int)
    def _on_sample_clicked(self, index: int) -> None:
        if self.scores is None or not 0 <= index < len(self.scores.errors):
            return
        self.score_plot.highlight(index)
        self.status_changed.emit(f"Sample {index + 1}: score {self.scores.errors[index]:.6g}.")

    # ----- files --------------------------------------------------------------------
    @Slot()
    def _open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open detector", "", f"Detectors (*{DETECTOR_SUFFIX})")
        if path:
            self.open_detector(path)

    def open_detector(self, path: str) -> None:
        from engine.anomaly.detector import load_detector_job

        if not self.runner.is_running():
            self._run(load_detector_job(path), "open detector", f"Opening {Path(path).name}…")

    @Slot()
    def _save_dialog(self) -> None:
        if self.detector is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save detector", f"detector{DETECTOR_SUFFIX}",
                                              f"Detectors (*{DETECTOR_SUFFIX})")
        if path:
            self.save_detector(path)

    def save_detector(self, path: str) -> bool:
        from engine.anomaly.detector import DetectorFileError, save_detector

        if self.detector is None or self.runner.is_running():
            return False
        try:
            written = save_detector(self.detector, path)
        except DetectorFileError as exc:
            QMessageBox.warning(self, "Could not save the detector", str(exc))
            return False
        self.status_changed.emit(f"Detector saved to {written} (threshold {self.detector.threshold:.6g}).")
        return True

    @Slot()
    def _score_dialog(self) -> None:
        if self.detector is None:
            return
        if self.detector.kind == "image":
            path = QFileDialog.getExistingDirectory(self, "Choose a folder of images to score")
            if path:
                self.score_file(score_path=path)
        else:
            path, _ = QFileDialog.getOpenFileName(self, "Choose a table to score", "",
                                                  "Tables (*.csv *.tsv *.txt);;All files (*)")
            if path:
                self.score_file(path=path)

    def score_file(self, path: str = "", score_path: str = "") -> None:
        if self.detector is not None and not self.runner.is_running():
            self._score(self.detector, path, score_path)

    @Slot()
    def _export_dialog(self) -> None:
        if self.scores is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export scored data", "scored.csv", "CSV (*.csv)")
        if path:
            self.export_csv(path)

    def export_csv(self, path: str) -> bool:
        from engine.anomaly.detector import DetectorFileError, write_scored_csv

        if self.scores is None or self.detector is None:
            return False
        try:
            written = write_scored_csv(self.scores, self.detector.threshold, path)
        except DetectorFileError as exc:
            QMessageBox.warning(self, "Could not export", str(exc))
            return False
        self.status_changed.emit(f"Scored data written to {written}.")
        return True

    @Slot()
    def show_export(self) -> None:
        from engine.export.writer import Preprocessing, metadata_for
        from gui.widgets.export_dialog import ExportDialog

        d = self.detector
        if d is None:
            return
        if d.scaler is not None:
            pre = Preprocessing("standardize", mean=tuple(d.scaler.mean), std=tuple(d.scaler.scale))
            raw = None if self.scores is None else d.scaler.mean + self.scores.inputs[:8] * d.scaler.scale
        else:
            pre = Preprocessing("rescale", scale=1 / 255)
            raw = None if self.scores is None else self.scores.inputs[:8] * 255.0
        metadata = metadata_for(d.model, d.config, self.scores.data.source if self.scores else "", d.metrics,
                                d.threshold)
        metadata.update(anomaly_kind=d.kind, features=list(d.names), anomaly_score="mean squared reconstruction "
                        "error per sample (after the preprocessing); flagged when above the threshold")
        self.export_dialog = ExportDialog(d.model, metadata, pre, raw, "detector", self)
        self.export_dialog.show()

    # ----- settings -----------------------------------------------------------------
    def save_settings(self, settings: QSettings) -> None:
        self.data.save_settings(settings)

    def restore_settings(self, settings: QSettings) -> None:
        self.data.restore_settings(settings)
