"""The Anomaly tab's file actions: open and save a detector, score another file or folder, export the scored
CSV and the detector's model. A mixin of AnomalyTab (it uses the tab's detector, scores, runner and jobs)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QMessageBox

from engine import jobs
from engine.anomaly.files import DETECTOR_SUFFIX
from engine.core.errors import DetectorFileError
from gui.common import file_dialogs


class DetectorFileActions:
    """Needs from the tab: detector, scores, runner, status_changed, _run(job, name, message), _score(...)."""

    @Slot()
    def open_dialog(self) -> None:
        path = file_dialogs.open_file(self, "Open detector", "detector", f"Detectors (*{DETECTOR_SUFFIX})")
        if path:
            self.open_detector(path)

    def open_detector(self, path: str) -> None:
        if not self.runner.is_running():
            self._run(jobs.open_detector_job(path), "open detector", f"Opening {Path(path).name}…")

    @Slot()
    def _save_dialog(self) -> None:
        if self.detector is None:
            return
        path = file_dialogs.save_file(self, "Save detector", "detector", f"detector{DETECTOR_SUFFIX}",
                                      f"Detectors (*{DETECTOR_SUFFIX})")
        if path:
            self.save_detector(path)

    def save_detector(self, path: str) -> bool:
        from engine.anomaly.files import save_detector

        if self.detector is None or self.runner.is_running():
            return False
        written = self._written("Could not save the detector", lambda: save_detector(self.detector, path))
        if written:
            self.status_changed.emit(f"Detector saved to {written} (threshold {self.detector.threshold:.6g}).")
        return written is not None

    @Slot()
    def _score_dialog(self) -> None:
        if self.detector is None:
            return
        if self.detector.kind == "image":
            path = file_dialogs.folder(self, "Choose a folder of images to score", "data")
            if path:
                self.score_file(score_path=path)
        else:
            path = file_dialogs.open_file(self, "Choose a table to score", "table",
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
        path = file_dialogs.save_file(self, "Export scored data", "csv", "scored.csv", "CSV (*.csv)")
        if path:
            self.export_csv(path)

    def export_csv(self, path: str) -> bool:
        from engine.anomaly.scored_csv import write_scored_csv

        if self.scores is None or self.detector is None:
            return False
        written = self._written("Could not export", lambda: write_scored_csv(self.scores, self.detector.threshold,
                                                                             path))
        if written:
            self.status_changed.emit(f"Scored data written to {written}.")
        return written is not None

    def _written(self, failure: str, write):
        """What write() wrote, or None after telling the user why it could not."""
        try:
            return write()
        except DetectorFileError as exc:
            QMessageBox.warning(self, failure, str(exc))
            return None

    @Slot()
    def show_export(self) -> None:
        from engine.export.plans import plan_for_detector
        from gui.common.export_dialog import ExportDialog

        if self.detector is not None:
            self.export_dialog = ExportDialog(plan_for_detector(self.detector, self.scores), self,
                                              "the anomaly detector's model")
            self.export_dialog.show()
