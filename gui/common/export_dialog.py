"""Export a model (whole, encoder or decoder) as .keras, SavedModel, TFLite or ONNX; every export is
reloaded and compared with the app's model, and the dialog reports the largest difference."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout,
                               QLabel, QLineEdit, QMessageBox, QPushButton, QVBoxLayout, QWidget)

from engine.core.config import EXPORT_FORMATS, EXPORT_PARTS, EXPORT_SUFFIXES
from gui.common import file_dialogs
from gui.failures import failure_text
from gui.worker import JobRunner


class ExportDialog(QDialog):
    """Exports what an engine.export.plans.ExportPlan describes: a model with its metadata (kind, data,
    settings, metrics, threshold), the app's preprocessing and sample inputs to verify it on."""

    def __init__(self, plan, parent: QWidget | None = None, what: str = "the model in use"):
        super().__init__(parent)
        from engine.export.formats import onnx_support
        from engine.export.inputs import input_names, several_inputs

        self.plan = plan
        preprocessing, name = plan.preprocessing, plan.name
        self.report = None
        self.setWindowTitle(f"Export {what}")
        self.what = QLabel(f"Exporting {what}: {plan.model.name}.")
        self.what.setWordWrap(True)
        self.format = QComboBox()
        onnx_ok, onnx_reason = onnx_support()
        for key, label in EXPORT_FORMATS.items():
            self.format.addItem(label if key != "onnx" or onnx_ok else f"{label}: not available", key)
            if key == "onnx" and not onnx_ok:
                item = self.format.model().item(self.format.count() - 1)
                item.setEnabled(False)
                item.setToolTip(onnx_reason)
        self.onnx_note = QLabel("" if onnx_ok else f"ONNX: {onnx_reason}")
        self.onnx_note.setWordWrap(True)
        several = several_inputs(plan.model)  # e.g. the noise-level-aware denoiser: one network, two inputs
        self.part = QComboBox()
        for key, label in EXPORT_PARTS.items():
            if key == "model" or not several:
                self.part.addItem(label, key)
        can_build_in = preprocessing is not None and preprocessing.kind != "none" and not several
        self.raw_input = QCheckBox(_raw_label(preprocessing) if not several else
                                   f"The model takes {len(plan.model.inputs)} inputs ("
                                   f"{', '.join(input_names(plan.model))}) on its own scale; no scaling is built in "
                                   "(the metadata says what each input means)")
        self.raw_input.setChecked(can_build_in)
        self.raw_input.setEnabled(can_build_in)
        fmt = file_dialogs.remembered("export_format", "keras")  # the format and folder of the last export
        self.format.setCurrentIndex(max(0, self.format.findData(fmt)))
        if not self.format.model().item(self.format.currentIndex()).isEnabled():
            self.format.setCurrentIndex(0)
        self.path = QLineEdit(str(Path(file_dialogs.start_folder("export")) /
                                  f"{name}{EXPORT_SUFFIXES[self.format.currentData()]}"))
        self.path.returnPressed.connect(self.start_export)  # Enter exports; it does not open Browse
        browse = QPushButton("Browse…")
        browse.setAutoDefault(False)
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        self.format.currentIndexChanged.connect(self._fix_suffix)
        self.result = QLabel("Every export is reloaded and compared with the model in the app on sample inputs.")
        self.result.setWordWrap(True)
        form = QFormLayout()
        form.addRow(self.what)
        form.addRow("Format", self.format)
        form.addRow("", self.onnx_note)
        form.addRow("Part", self.part)
        form.addRow("", self.raw_input)
        form.addRow("Save to", row)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.ActionRole)
        self.export_button.setDefault(True)
        self.buttons.button(QDialogButtonBox.StandardButton.Close).setAutoDefault(False)
        self.export_button.clicked.connect(self.start_export)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.result)
        layout.addWidget(self.buttons)
        self.runner = JobRunner(self)
        self.runner.succeeded.connect(self._on_succeeded)
        self.runner.failed.connect(self._on_failed)
        self.runner.finished.connect(lambda: self.export_button.setEnabled(True))
        self.resize(640, 300)

    @Slot()
    def _fix_suffix(self) -> None:
        fmt = self.format.currentData()
        path = Path(self.path.text())
        stem = path.name.split(".")[0] or "model"
        self.path.setText(str(path.with_name(stem + EXPORT_SUFFIXES[fmt])))

    @Slot()
    def _browse(self) -> None:
        fmt = self.format.currentData()
        if fmt == "savedmodel":
            folder = file_dialogs.folder(self, "Folder to put the SavedModel folder in", "export", self.path.text())
            if folder:
                self.path.setText(str(Path(folder) / Path(self.path.text()).name))
            return
        path = file_dialogs.save_file(self, "Export to", "export", Path(self.path.text()).name,
                                      f"*{EXPORT_SUFFIXES[fmt]}", current=self.path.text())
        if path:
            self.path.setText(path)

    @Slot()
    def start_export(self) -> None:
        fmt, part, target = self.format.currentData(), self.part.currentData(), self.path.text().strip()
        if not target or self.runner.is_running():
            return
        from engine.jobs import export_job

        self.export_button.setEnabled(False)
        self.result.setText(f"Exporting and verifying {fmt}…")
        self.runner.start(export_job(self.plan, fmt, part, target, self.raw_input.isChecked()), "export")

    @Slot(object)
    def _on_succeeded(self, report) -> None:
        self.report = report
        file_dialogs.remember("export", str(report.path))
        file_dialogs.keep("export_format", report.format)
        notes = " ".join(report.notes)
        self.result.setText(f"Wrote {report.path}. Verified by reloading it: the largest difference from the app's "
                            f"model is {report.max_abs_diff:.2e}. Metadata: {report.metadata_path}. {notes}".strip())

    @Slot(object)
    def _on_failed(self, exc: BaseException) -> None:
        message = failure_text(exc)
        self.result.setText(f"Export failed: {message}")
        QMessageBox.warning(self, "Export failed", message)

    def done(self, result: int) -> None:
        self.runner.wait(30000)  # an export in flight finishes (atomically) before the dialog goes
        super().done(result)


def _raw_label(pre) -> str:
    if pre is None or pre.kind == "none":
        return "The model takes the same input the app gives it (no preprocessing to build in)"
    if pre.kind == "rescale":
        return f"Build the app's scaling into the model: it takes raw pixels 0-255 (x {pre.scale:.6g})"
    return "Build the app's standardisation (training scaler) into the model: it takes raw table values"
