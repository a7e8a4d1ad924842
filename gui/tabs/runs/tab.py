"""Runs tab: every training run kept in the local run store; compare, reopen, resume, delete, export."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QLabel, QMessageBox,
                               QPushButton, QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from engine.training.resume import resume_problem
from gui.common import file_dialogs
from gui.failures import failure_text
from gui.tabs.runs.run_curves import RunCurves
from gui.worker import JobRunner

COLUMNS = ("run", "name", "status", "best val loss", "epochs", "warnings", "model", "code", "learning rate",
           "denoising", "mean code activation", "data", "note")  # the figures people compare first
EDITABLE = {COLUMNS.index("name"): "name", COLUMNS.index("note"): "note"}  # double-click to rename or annotate
CURVE_KEYS = ("val_loss", "loss")
MAX_COLUMN_WIDTH = 200  # pixels
WARNING_COLOUR = QColor("#b35c00")  # the runs the health checks (engine.training.health) warned about


class RunsTab(QWidget):
    status_changed = Signal(str)
    resume_requested = Signal(object)  # a RunInfo: the Training tab resumes it

    def __init__(self, session, store=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self._store = store
        self.runner = JobRunner.for_tab(self)
        self.runs = []
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                   | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemChanged.connect(self._on_item_changed)
        self.table.itemSelectionChanged.connect(self._sync_enabled)
        self.key = QComboBox()
        for key in CURVE_KEYS:
            self.key.addItem(key.replace("_", " "), key)
        self.key.currentIndexChanged.connect(self._show_checked)
        self.folder = QLabel("")
        self.folder.setWordWrap(True)
        self.folder.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QHBoxLayout()
        self.refresh_button = self._button(buttons, "Refresh", self.refresh)
        self.open_button = self._button(buttons, "Open model", self.open_selected)
        self.resume_button = self._button(buttons, "Resume…", self.resume_selected)
        self.delete_button = self._button(buttons, "Delete…", self._delete_dialog)
        buttons.addStretch(1)
        curve_row = QHBoxLayout()
        curve_row.addWidget(QLabel("Curve to compare"))
        curve_row.addWidget(self.key)
        self.export_button = self._button(curve_row, "Export curves CSV…", self._export_dialog)
        curve_row.addStretch(1)
        self.curves = RunCurves()
        left = QWidget()
        column = QVBoxLayout(left)
        intro = QLabel("Every training run is kept here. Tick runs to overlay their curves; select one to open, "
                       "resume or delete it; double-click its name or note to change them.")
        intro.setWordWrap(True)
        column.addWidget(intro)
        column.addWidget(self.table, 1)
        column.addLayout(buttons)
        column.addLayout(curve_row)
        column.addWidget(self.folder)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.curves)
        splitter.setSizes([640, 520])
        QVBoxLayout(self).addWidget(splitter)
        self._sync_enabled()

    def _button(self, row: QHBoxLayout, text: str, slot) -> QPushButton:
        button = QPushButton(text)
        button.clicked.connect(slot)
        row.addWidget(button)
        return button

    @property
    def store(self):
        if self._store is None:
            from engine.training.runs import RunStore

            self._store = RunStore()
        return self._store

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        checked = set(self.checked_ids())
        self.runs = self.store.runs()
        self.folder.setText(f"Run store: {self.store.root}")
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.runs))
        for row, run in enumerate(self.runs):
            for col, text in enumerate(_cells(run)):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if col not in EDITABLE:
                    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                if col == COLUMNS.index("status") and run.message:
                    item.setToolTip(run.message)
                if col == COLUMNS.index("warnings") and text:
                    item.setToolTip("\n\n".join(run.metrics.get("warnings") or []))
                    item.setForeground(WARNING_COLOUR)
                if col == 0:
                    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                    item.setCheckState(Qt.CheckState.Checked if run.id in checked else Qt.CheckState.Unchecked)
                    item.setToolTip(str(run.path))
                self.table.setItem(row, col, item)
        self.table.blockSignals(False)
        self.table.resizeColumnsToContents()
        for col in range(self.table.columnCount()):  # long data summaries and notes: elided, whole in a tooltip
            self.table.setColumnWidth(col, min(self.table.columnWidth(col), MAX_COLUMN_WIDTH))
        self._show_checked()
        self._sync_enabled()

    def checked_ids(self) -> list[str]:
        return [self.runs[r].id for r in range(self.table.rowCount())
                if self.table.item(r, 0) is not None and self.table.item(r, 0).checkState() == Qt.CheckState.Checked]

    def set_checked(self, run_ids) -> None:
        wanted = set(run_ids)
        for r, run in enumerate(self.runs):
            self.table.item(r, 0).setCheckState(Qt.CheckState.Checked if run.id in wanted else Qt.CheckState.Unchecked)

    def selected_run(self):
        rows = {i.row() for i in self.table.selectedIndexes()}
        return self.runs[rows.pop()] if len(rows) == 1 else None

    @Slot(QTableWidgetItem)
    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if item.column() == 0:
            self._show_checked()
        elif item.column() in EDITABLE and item.row() < len(self.runs):
            self.annotate(self.runs[item.row()].id, **{EDITABLE[item.column()]: item.text()})

    def annotate(self, run_id: str, **fields: str) -> None:
        """Rename or annotate a run (RunStore.annotate), then show it."""
        from engine.core.errors import RunError

        try:
            self.store.annotate(run_id, **fields)
        except (RunError, OSError) as exc:
            QMessageBox.warning(self, "Could not change the run", str(exc))
        self.status_changed.emit(f"Run {run_id}: " + ", ".join(f"{k} set" for k in fields) + ".")
        self.refresh()

    @Slot()
    def _show_checked(self) -> None:
        ids = set(self.checked_ids())
        self.curves.show_runs([r for r in self.runs if r.id in ids], self.key.currentData())

    @Slot()
    def _sync_enabled(self) -> None:
        run = self.selected_run()
        busy = self.runner.is_running()
        self.open_button.setEnabled(run is not None and run.model_path.is_file() and not busy)
        self.resume_button.setEnabled(run is not None and resume_problem(run) is None)
        self.resume_button.setToolTip("" if run is None else (resume_problem(run) or "Continue this run from its "
                                                                                    "last checkpoint."))
        self.delete_button.setEnabled(run is not None and run.status != "running")

    @Slot()
    def open_selected(self) -> None:
        from engine.jobs import open_model_job

        run = self.selected_run()
        if run is not None and not self.runner.is_running():
            self._opening = run
            self.runner.start(open_model_job(str(run.model_path)), "open run model")
            self._sync_enabled()

    @Slot(object)
    def _on_succeeded(self, model) -> None:
        from engine.core.config import TrainConfig
        from engine.core.errors import ConfigError

        run = self._opening
        try:
            config = TrainConfig.from_dict(run.config)
        except (ConfigError, TypeError):
            config = None
        self.session.set_model(model, f"run {run.id}: {run.label}", config)
        self.status_changed.emit(f"Opened the model of run {run.id}.")

    @Slot(object)
    def _on_failed(self, exc: BaseException) -> None:
        QMessageBox.warning(self, "Could not open the run's model", failure_text(exc))

    @Slot()
    def _on_finished(self) -> None:
        self._sync_enabled()

    @Slot()
    def resume_selected(self) -> None:
        run = self.selected_run()
        if run is not None:
            self.resume_requested.emit(run)

    @Slot()
    def _delete_dialog(self) -> None:
        run = self.selected_run()
        if run is None:
            return
        answer = QMessageBox.question(self, "Delete run", f"Delete run {run.id} and its files?\n{run.path}")
        if answer == QMessageBox.StandardButton.Yes:
            self.delete(run.id)

    def delete(self, run_id: str) -> bool:
        try:
            self.store.delete(run_id)
        except (OSError, ValueError) as exc:
            QMessageBox.warning(self, "Could not delete the run", str(exc))
            return False
        self.status_changed.emit(f"Deleted run {run_id}.")
        self.refresh()
        return True

    @Slot()
    def _export_dialog(self) -> None:
        if not self.checked_ids():
            QMessageBox.information(self, "Export curves", "Tick the runs whose curves to export.")
            return
        path = file_dialogs.save_file(self, "Export curves", "csv", "runs.csv", "CSV (*.csv)")
        if path:
            self.export_curves(path)

    def export_curves(self, path: str) -> bool:
        try:
            written = self.store.export_curves_csv(self.checked_ids(), path, key=self.key.currentData())
        except (OSError, ValueError, KeyError) as exc:
            QMessageBox.warning(self, "Could not export", str(exc))
            return False
        self.status_changed.emit(f"Curves of {len(self.checked_ids())} run(s) written to {written}.")
        return True

    def save_settings(self, settings) -> None:
        settings.setValue("runs/key", self.key.currentData())

    def restore_settings(self, settings) -> None:
        index = self.key.findData(settings.value("runs/key", "val_loss"))
        self.key.setCurrentIndex(max(0, index))


def _cells(run) -> tuple[str, ...]:
    """One table row, in COLUMNS' order."""
    config, metrics = run.config, run.metrics
    best = metrics.get("best_val_loss")
    activation = metrics.get("mean_code_activation")
    noise = float(config.get("noise_factor") or 0.0)
    denoising = f"noise {noise:g}" if noise > 0 else "no"
    done, total = len(run.history.get("loss", [])), config.get("epochs", "?")
    lr = config.get("learning_rate")
    warnings = metrics.get("warning_checks") or (["yes"] if metrics.get("warnings") else [])
    return (run.id, run.name, run.status, "" if best is None else f"{best:.4g}", f"{done}/{total}",
            ", ".join(warnings), str(config.get("model_kind", "?")), str(config.get("code_size", "")),
            "" if lr is None else f"{float(lr):g}", denoising, "" if activation is None else f"{activation:.4g}",
            str(run.data.get("summary", run.data.get("kind", ""))), run.note)
