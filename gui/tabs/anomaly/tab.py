"""Anomaly detection tab: train a detector on normal data, score everything, choose the score and a threshold."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal, Slot
from PySide6.QtWidgets import (QGridLayout, QLabel, QMessageBox,
                               QProgressBar, QPushButton, QSplitter, QVBoxLayout, QWidget)

from engine import jobs
from engine.anomaly import scores as anomaly
from engine.anomaly.detector import Detector, DetectorOutcome, Rescored, Scores, data_kind
from engine.core.config import MODEL_LABELS, TrainConfig
from engine.core.errors import ConfigError
from engine.core.events import BatchEnded, EpochEnded, Progress, Started
from gui.common.forms import scroll_column, set_choice
from gui.failures import failure_text, stopped
from gui.tabs.anomaly.file_actions import DetectorFileActions
from gui.tabs.anomaly.model_box import DetectorModelBox
from gui.tabs.anomaly.sources import AnomalySourceBox
from gui.tabs.anomaly.table_chooser import TableChooser
from gui.tabs.anomaly.views import DetectorViews
from gui.worker import JobRunner

SUGGESTIONS = anomaly.THRESHOLD_LABELS


class AnomalyTab(DetectorFileActions, QWidget):
    status_changed = Signal(str)

    def __init__(self, session=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.runner = JobRunner.for_tab(self)
        self.detector: Detector | None = None
        self.scores: Scores | None = None
        self._inspecting: TableChooser | None = None
        self._score_choice: str | None = None  # the score the user chose last (None: each data kind's default)
        self._epochs_total = 1  # of the detector training under way
        self._build()
        self._on_source_changed()

    # ----- layout -------------------------------------------------------------------
    def _build(self) -> None:
        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(self._controls())
        splitter.addWidget(self._views())
        splitter.setStretchFactor(1, 1)
        QVBoxLayout(self).addWidget(splitter)
        self._sync_enabled()

    def _controls(self) -> QWidget:
        self.data = d = AnomalySourceBox()
        d.source.currentIndexChanged.connect(self._on_source_changed)
        for chooser in (d.table_chooser, d.sequence_chooser):
            chooser.path_chosen.connect(lambda path, c=chooser: self._inspect(c, path))
        self.model_box = m = DetectorModelBox()
        # the controls users (and tests) reach through the tab
        self.source, self.table_chooser, self.sequence_chooser = d.source, d.table_chooser, d.sequence_chooser
        self.digit_boxes, self.normal_folder, self.score_folder = d.digit_boxes, d.normal_folder, d.score_folder
        self.window, self.stride, self.train_share = d.window, d.stride, d.train_share
        self.model_kind, self.code_size, self.filters, self.epochs = m.model_kind, m.code_size, m.filters, m.epochs
        self.batch_size, self.learning_rate, self.seed = m.batch_size, m.learning_rate, m.seed
        return scroll_column(self.data, self.model_box, min_width=310, actions=(self._buttons(),))

    def _buttons(self) -> QGridLayout:
        def button(text: str, slot, tip: str = "") -> QPushButton:
            b = QPushButton(text)
            b.setToolTip(tip)
            b.clicked.connect(slot)
            return b

        self.train_button = button("Train detector", self.start)
        self.stop_button = button("Stop", self.stop, "Stop training after the current batch; the best model so far "
                                                     "is scored.")
        self.open_button = button("Open detector…", self.open_dialog)
        self.save_button = button("Save detector…", self._save_dialog, "Model, scaler, score and threshold in one "
                                                                      "file.")
        self.score_button = button("Score another file…", self._score_dialog, "Score a new table / series file, or "
                                                                              "a folder of images, with this detector.")
        self.export_button = button("Export scored CSV…", self._export_dialog, "The original rows plus anomaly_score, "
                                                                               "anomaly_flag and anomaly_score_kind.")
        self.export_model_button = button("Export model…", self.show_export, "The detector's autoencoder as .keras, "
                                          "SavedModel, TFLite or ONNX, with its scaling built in and the threshold "
                                          "in the metadata.")
        grid = QGridLayout()
        for i, b in enumerate((self.train_button, self.stop_button, self.open_button, self.save_button,
                               self.score_button, self.export_button, self.export_model_button)):
            grid.addWidget(b, i // 2, i % 2)
        return grid

    def _views(self) -> QWidget:
        self.progress = QProgressBar()
        self.progress.setFormat("idle")
        self.progress.setValue(0)  # an empty bar that says so (a bar never set shows no text at all)
        self.progress_label = QLabel("Choose data and press Train detector. The synthetic demo needs nothing else.")
        self.progress_label.setWordWrap(True)
        self.progress_label.setMinimumHeight(2 * self.progress_label.fontMetrics().lineSpacing() + 4)
        self.views = v = DetectorViews()
        v.threshold_moved.connect(self._on_threshold_moved)
        v.sample_clicked.connect(self._on_sample_clicked)
        v.panel.apply_clicked.connect(self.apply_suggestion)
        v.panel.score_chosen.connect(self._on_score_chosen)
        # the views users (and tests) reach through the tab
        self.loss_plot, self.score_plot, self.roc_plot, self.most, p = (v.loss_plot, v.score_plot, v.roc_plot,
                                                                        v.most, v.panel)
        self.panel, self.threshold, self.suggestion, self.percentile = p, p.threshold, p.suggestion, p.percentile
        self.score = p.score  # the score combo
        self.mad_k, self.stats_label, self.confusion = p.mad_k, p.stats_label, p.confusion
        right = QWidget()
        column = QVBoxLayout(right)
        column.addWidget(self.progress)
        column.addWidget(self.progress_label)
        column.addWidget(self.views, 1)
        return right

    # ----- state --------------------------------------------------------------------
    @Slot()
    def _on_source_changed(self) -> None:
        source = self.source.currentData()
        self.data.show_source(source)
        self.model_box.offer(data_kind(source))
        if self.detector is None:  # else the combo shows the shown detector's score
            self.panel.show_score(data_kind(source), self._next_score(data_kind(source)))
        chooser = {"table": self.table_chooser, "sequence": self.sequence_chooser}.get(source)
        if chooser is not None and not self.runner.is_running():
            chooser.read()  # a restored path: show its columns before anything trains on them

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
        return self.model_box.train_config(data_kind(self.source.currentData()))

    def _next_score(self, kind: str) -> str:
        """The score a new detector for `kind` data uses: the user's last choice where it applies, else the default."""
        return self._score_choice if self._score_choice in anomaly.score_kinds(kind) else anomaly.default_score(kind)

    # ----- run ----------------------------------------------------------------------
    @Slot()
    def start(self) -> None:
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
        score_kind = self._next_score(data_kind(self.source.currentData()))
        self._run(jobs.train_detector_job(spec, config, score_kind), "train detector", "Training the detector…")
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

    def use_table(self, path: str) -> None:
        """Score or train on a CSV/TSV next (e.g. one dropped on the window): the table source, its columns read."""
        set_choice(self.source, "table")
        self.table_chooser.path.setText(path)
        self.table_chooser.read()

    def _inspect(self, chooser: TableChooser, path: str) -> None:
        if self.runner.is_running():
            chooser.show_error("Busy: the columns are read when the running job ends. Press Enter in the path.")
            return
        self._inspecting = chooser
        self._run(jobs.read_table_job(path), "read table", f"Reading {Path(path).name}…")

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
            self._epochs_total = event.total_epochs
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
            epochs = len(result.result.history.get("loss", []))
            if result.result.stopped_by_user:  # the bar shows how far training got, not the scoring's 100%
                self.progress.setRange(0, max(1, self._epochs_total))
                self.progress.setValue(epochs)
                self._end_progress(f"stopped after {epochs} epoch(s)")
            else:
                self._end_progress(f"done, {epochs} epoch(s)", full=True)
            self._show(result.detector, result.scores, result.result.message)
            self.views.setCurrentIndex(1)
        elif isinstance(result, Detector):
            self.detector = result
            self.status_changed.emit("Detector opened; scoring its data…")
            self._score(result)
        elif isinstance(result, Rescored):
            self._end_progress("done, scored again", full=True)
            self._show(result.detector, result.scores, f"Scored by the {anomaly.SCORE_LABELS[result.scores.score_kind]}"
                       f"; threshold kept at the {result.percentile:.1f}th percentile of the training errors.")
        elif isinstance(result, Scores):
            self._end_progress(f"done, {len(result.errors)} scored", full=True)
            self._show(self.detector, result, f"Scored {result.data.source}.")
            self.views.setCurrentIndex(1)
        elif self._inspecting is not None:  # a Table
            chooser, self._inspecting = self._inspecting, None
            self._end_progress("done, columns read", full=True)
            chooser.set_table(result, chooser.path.text().strip(), skip_index=True)  # ids and time stamps
            self.progress_label.setText(f"Read {result.source}: choose the columns, then press Train detector.")

    @Slot(object)
    def _on_failed(self, exc: BaseException) -> None:
        message = failure_text(exc)
        self._end_progress("stopped" if stopped(exc) else "failed")
        if self._inspecting is not None:
            chooser, self._inspecting = self._inspecting, None
            chooser.show_error(message)
        if self.detector is not None and self.scores is not None:  # a failed rescoring: the score shown stays
            self.panel.show_score(self.detector.kind, self.scores.score_kind)
        self.progress_label.setText(message)
        self.status_changed.emit(message)
        QMessageBox.warning(self, "Anomaly detection", message)

    def _end_progress(self, text: str, full: bool = False) -> None:
        """The bar after a job: how it ended (as the Training tab's), full when it is done."""
        bar = self.progress
        bar.setRange(0, max(1, bar.maximum()))
        bar.setValue(bar.maximum() if full else max(0, bar.value()))  # a busy bar's value is -1: no text
        bar.setFormat(f"{text}  %p%")

    @Slot()
    def _on_finished(self) -> None:
        self._sync_enabled()  # the bar was set by the outcome (or belongs to a follow-up job: scoring)

    def _score(self, detector: Detector, path: str = "", score_path: str = "") -> None:
        self._run(jobs.score_new_job(detector, path, score_path), "score", "Scoring…")

    # ----- showing results ----------------------------------------------------------
    def _show(self, detector: Detector, scores: Scores, message: str) -> None:
        self.detector, self.scores = detector, scores
        metrics = self.views.show_scores(detector, scores)
        notes = " ".join(scores.data.notes)
        self.progress_label.setText(f"{message} {scores.data.source}.{metrics} {notes}".strip())
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

    @Slot(str)
    def _on_score_chosen(self, score_kind: str) -> None:
        """The user chose a score: the next detectors use it, and the shown one is re-scored (no retraining)."""
        self._score_choice = score_kind
        if self.detector is None or self.scores is None or score_kind == self.scores.score_kind:
            return
        if self.runner.is_running():
            self.panel.show_score(self.detector.kind, self.scores.score_kind)
            self.status_changed.emit("The anomaly tab is busy; choose the score when the running job ends.")
            return
        self._run(jobs.rescore_job(self.detector, self.scores, score_kind), "rescore",
                  f"Scoring by the {anomaly.SCORE_LABELS[score_kind]}…")

    @Slot(float, bool)
    def _on_threshold_moved(self, value: float, from_plot: bool) -> None:
        if self.detector is not None and (from_plot or value != self.detector.threshold):
            self._set_threshold(value, from_plot)

    def _set_threshold(self, value: float, from_plot: bool = False) -> None:
        if self.detector is None or self.scores is None:
            return
        self.detector.threshold = float(value)
        self.views.show_threshold(float(value), self.scores, from_plot)

    @Slot(int)
    def _on_sample_clicked(self, index: int) -> None:
        if self.scores is None or not 0 <= index < len(self.scores.errors):
            return
        self.score_plot.highlight(index)
        self.status_changed.emit(f"Sample {index + 1}: score {self.scores.errors[index]:.6g}.")

    # ----- settings -----------------------------------------------------------------
    def save_settings(self, settings: QSettings) -> None:
        self.data.save_settings(settings)

    def restore_settings(self, settings: QSettings) -> None:
        self.data.restore_settings(settings)
