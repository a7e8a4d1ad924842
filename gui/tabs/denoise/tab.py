"""Denoise tab: open a photograph, add noise on purpose, denoise it several ways, compare
side by side with linked zoom, score, save (the Photo page's widgets are built by
gui.tabs.denoise.photo_view). A "Digits" page (gui.tabs.denoise.digits_view) shows a
denoising autoencoder trained in the Training tab on its validation digits."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QMimeData, QSettings, Qt, Signal, Slot
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QMenu, QMessageBox, QTabWidget, QVBoxLayout, QWidget

from engine.data.images import IMAGE_SUFFIXES, MAX_PIXELS, LoadedImage
from engine.data.noise import NoiseConfig
from engine.data.samples import sample_path
from engine.denoise.files import kept_bit_depth, suggested_name, with_image_suffix
from engine.denoise.pipeline import MODEL_METHOD
from engine.jobs import Denoised, open_image_job, photo_denoise_job, save_image_job
from engine.models.guards import fits_images, fully_convolutional
from engine.core.events import Progress
from gui.common import file_dialogs
from gui.common.recent_files import RecentFiles
from gui.failures import failure_text, stopped
from gui.session import Session
from gui.tabs.denoise import RECENT_KEY, files, long_run, results
from gui.tabs.denoise.digits_view import DigitsView
from gui.tabs.denoise.photo_view import PhotoView
from gui.worker import JobRunner

SAVE_FILTERS = "PNG (*.png);;TIFF (*.tif *.tiff);;JPEG (*.jpg *.jpeg);;BMP (*.bmp)"


class DenoiseTab(PhotoView):
    status_changed = Signal(str)
    image_opened = Signal(str)  # the path
    recent_changed = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.runner = JobRunner.for_tab(self)
        self.image: LoadedImage | None = None
        self.result = None  # engine.denoise.pipeline.DenoiseResult of the last run on this image
        self.recent_files = RecentFiles(RECENT_KEY)
        self.max_pixels = MAX_PIXELS  # larger images are refused before they are decoded
        self._pending: tuple[str, Any] | None = None  # what the running job is for
        self._bundled: tuple[tuple, Any] | None = None  # ((file, mtime), model) once loaded
        self._cancelling = False
        self._outcome = "idle"  # how the last job ended, for the bar: opened, done, saved, failed, cancelled
        self._started = 0.0
        self._last_dir = ""
        self._build()
        self.setAcceptDrops(True)
        session.model_changed.connect(self._on_model_changed)
        session.dataset_changed.connect(self._on_dataset_changed)
        self._on_model_changed()

    # ----- layout -------------------------------------------------------------------
    def _build(self) -> None:
        self.views = QTabWidget()
        self.views.setDocumentMode(True)
        self.views.addTab(self._build_photo_page(), "Photo")
        self.digits_view = DigitsView(self.session, is_on_screen=self._digits_on_screen)
        self.digits_view.status_changed.connect(self.status_changed)
        self.views.addTab(self.digits_view, "Digits")
        self.views.currentChanged.connect(self.digits_view.refresh)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.views)
        self._connect_photo_page()

    def _connect_photo_page(self) -> None:
        self.open_button.clicked.connect(self.open_dialog)
        self.fill_sample_menu(self.sample_menu)
        self.denoise_button.clicked.connect(self.denoise)
        self.cancel_button.clicked.connect(self.cancel)
        self.method_combo.currentIndexChanged.connect(self._show_result)
        self.view_combo.currentIndexChanged.connect(self._show_result)
        self.save_button.clicked.connect(self._save_dialog)
        self.metrics_table.itemSelectionChanged.connect(self._on_table_selection)
        for box in self.method_boxes.values():
            box.toggled.connect(self._sync_enabled)
        self.noise_kind.currentIndexChanged.connect(self._sync_enabled)
        self.strength_panel.attach(self)  # gui.tabs.denoise.strength: estimate, strength slider, live preview

    @property
    def recent(self) -> list[str]:
        """The recently opened images, newest first."""
        return self.recent_files.paths

    def fill_sample_menu(self, menu: QMenu) -> None:
        """One action per sample photograph available offline."""
        files.fill_sample_menu(menu, self.open_sample)

    # ----- state --------------------------------------------------------------------
    @Slot()
    def _sync_enabled(self) -> None:
        busy = self.runner.is_running()
        self.sync_noise_fields()
        for widget in (self.open_button, self.sample_button):
            widget.setEnabled(not busy)
        chosen = any(b.isChecked() and b.isEnabled() for b in self.method_boxes.values())
        self.denoise_button.setEnabled(not busy and self.image is not None and chosen)
        self.cancel_button.setEnabled(busy and self._pending is not None and self._pending[0] in ("denoise", "open"))
        have = self.result is not None
        self.method_combo.setEnabled(have)
        self.view_combo.setEnabled(have)
        self.save_button.setEnabled(have and not busy)
        if have:
            item = self.view_combo.model().item(self.view_combo.findData("diff_clean"))
            item.setEnabled(self.result.reference is not None)

    @Slot()
    def _on_model_changed(self) -> None:
        model = self.session.model
        self.offer_model(model, self.session.model_origin)
        self.offer_bundled()
        self.digits_view.model_changed()
        if (model is not None and self.image is None and not fully_convolutional(model)
                and fits_images(model, self.session.dataset)):
            self.views.setCurrentIndex(1)  # a digits autoencoder: show what it does
        self._sync_enabled()

    @Slot()
    def _on_dataset_changed(self) -> None:
        self.digits_view.data_changed()
        self._sync_enabled()

    # ----- opening ------------------------------------------------------------------
    @Slot()
    def open_dialog(self) -> None:
        patterns = " ".join(f"*{s}" for s in IMAGE_SUFFIXES)
        path = file_dialogs.open_file(self, "Open image", "image", f"Images ({patterns});;All files (*)",
                                      self._last_dir)
        if path:
            self.open_image(path)

    def open_image(self, path: str | os.PathLike, *, remember: bool = True) -> bool:
        """Read an image file in the background; False when busy (nothing started)."""
        if self.runner.is_running():
            self.status_changed.emit("Busy: wait for the running job or cancel it, then open the image again.")
            return False
        path = str(path)
        self._pending = ("open", (path, remember))
        self._cancelling = False
        self.progress.setRange(0, 0)
        self.progress.setFormat("opening…")
        self.progress_label.setText(f"Opening {Path(path).name}…")
        self.runner.start(open_image_job(path, self.max_pixels), "open image")
        self._sync_enabled()
        return True

    def open_sample(self, name: str) -> bool:
        try:
            path = sample_path(name)
        except ValueError as exc:  # not on this machine (scikit-image's data files are missing)
            QMessageBox.warning(self, "Sample image not available", str(exc))
            return False
        return self.open_image(path, remember=False)

    def drop_mime(self, mime: QMimeData) -> bool:
        """Open the first local image file in dropped data; True when one was found."""
        path = files.dropped_path(mime)
        if path is None:
            return False
        return self.open_image(path)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        if files.dropped_path(event.mimeData()) is not None and not self.runner.is_running():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt's name
        if self.drop_mime(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def _opened(self, image: LoadedImage, remember: bool) -> None:
        self.image, self.result = image, None
        if remember:  # not a sample: saving next to scikit-image's own files would be odd
            self._last_dir = str(image.path.parent)
            self.recent_files.push(image.path)
            self.recent_changed.emit()
        self.image_info.setText(files.describe(image))
        self.views.setCurrentIndex(0)
        results.show_opened(self, image)
        h, w = image.size
        self.progress_label.setText(f"Opened {image.path.name}.")
        self.status_changed.emit(f"Opened {image.path.name}: {w} x {h} pixels.")
        self.image_opened.emit(str(image.path))

    # ----- denoising ----------------------------------------------------------------
    def noise_config(self) -> NoiseConfig:
        return NoiseConfig(kind=self.noise_kind.currentData(), sigma=self.sigma.value(),
                           amount=self.amount.value() / 100.0, seed=self.seed.value())

    def chosen_methods(self) -> list[str]:
        return [m for m, box in self.method_boxes.items() if box.isChecked() and box.isEnabled()]

    @Slot()
    def denoise(self) -> bool:
        if self.image is None or self.runner.is_running():
            return False
        methods = self.chosen_methods()
        if not long_run.ready_to_run(self, methods):  # a method chosen; a long run (BM3D) agreed to
            return False
        model = self.session.model if MODEL_METHOD in methods else None
        name = f"Current model ({model.name})" if model is not None else ""
        self._pending = ("denoise", self.image)
        self._cancelling = False
        self._started = time.monotonic()
        self.progress.setRange(0, 0)
        self.progress.setFormat("starting…")
        self.progress_label.setText("Starting…")
        self.runner.start(photo_denoise_job(self.image.pixels, self.noise_config(), methods, model, name,
                                       self._bundled, strength=self.strength_panel.strength()), "denoise")
        self._sync_enabled()
        self.status_changed.emit(f"Denoising {self.image.path.name} with {len(methods)} method(s)…")
        return True

    @Slot()
    def cancel(self) -> None:
        if self.runner.is_running():
            self._cancelling = True
            self.runner.stop()
            self.progress_label.setText("Cancelling after the current tile…")

    @Slot(object)
    def _on_event(self, event) -> None:
        if not isinstance(event, Progress):
            return
        if event.total > 0:
            self.progress.setRange(0, event.total)
            self.progress.setValue(min(event.done, event.total))
            self.progress.setFormat(f"{event.done}/{event.total} tiles  %p%")
        else:
            self.progress.setRange(0, 0)
        if event.message:
            self.progress_label.setText(event.message)

    def _denoised(self, outcome: Denoised, image: LoadedImage) -> None:
        if outcome.bundled is not None:
            self._bundled = (outcome.bundled_stamp, outcome.bundled)
        if image is not self.image:  # another image was opened meanwhile (cannot happen while busy)
            return
        result = self.result = outcome.result
        results.show(self, result, image.path.name)
        self._sync_enabled()
        self._show_result()
        seconds = time.monotonic() - self._started
        if result.reference is not None:
            best = results.best_method(result)
            psnr = next(r.psnr for r in result.metrics if r.method == best)
            summary = f"best: {result.labels[best]}, {results.number(psnr, 2)} dB"
        else:
            summary = results.NO_REFERENCE
        self.status_changed.emit(f"Denoised {image.path.name} with {len(result.outputs)} method(s) in "
                                 f"{seconds:.1f} s; {summary}")

    def metrics(self) -> dict[str, dict[str, str]]:
        """The metrics table as {method label: {column: text}} (what the user reads)."""
        return results.table_text(self)

    @Slot()
    def _on_table_selection(self) -> None:
        items = self.metrics_table.selectedItems()
        if items:
            index = self.method_combo.findData(items[0].data(Qt.ItemDataRole.UserRole))
            if index >= 0:
                self.method_combo.setCurrentIndex(index)

    @Slot()
    def _show_result(self) -> None:
        results.show_chosen(self, self.result)

    def shown_image(self, panel: str) -> np.ndarray:
        """What panel `panel` ("original", "noisy" or "result") draws now."""
        return self.panels.shown_image(panel)

    # ----- saving -------------------------------------------------------------------
    @Slot()
    def _save_dialog(self) -> None:
        if self.result is None or self.image is None:
            return
        label = self.result.labels[self.method_combo.currentData()]
        folder = self._last_dir if os.access(self._last_dir or ".", os.W_OK) else str(Path.home())
        default = str(Path(folder) / suggested_name(self.image, label))
        path = file_dialogs.save_file(self, "Save result", "image", Path(default).name, SAVE_FILTERS,
                                      current=default if folder != str(Path.home()) else "",
                                      confirm_overwrite=False)  # asked below
        if path:
            self.save_result_to(path)

    def save_result_to(self, path: str | os.PathLike) -> bool:
        """Write the shown method's output to `path` in the background; False when not started."""
        if self.result is None or self.image is None or self.runner.is_running():
            return False
        path = with_image_suffix(path)
        if not files.may_replace(self, path, self.image.path):
            self.status_changed.emit("Not saved.")
            return False
        method = self.method_combo.currentData()
        bit_depth = kept_bit_depth(self.image, path)
        self._pending = ("save", (path, method, bit_depth))
        self.progress.setRange(0, 0)
        self.progress.setFormat("saving…")
        self.progress_label.setText(f"Saving {path.name}…")
        self.runner.start(save_image_job(path, self.result.outputs[method], bit_depth, self.image.alpha), "save image")
        self._sync_enabled()
        return True

    def _saved(self, path: Path, method: str, bit_depth: int) -> None:
        self._last_dir = str(path.parent)
        notes = files.saved_notes(self.image, path, bit_depth)
        label = self.result.labels.get(method, method) if self.result is not None else method
        self.progress_label.setText(f"Saved {path.name}.")
        self.status_changed.emit(f"Saved {label} to {path} ({', '.join(notes)}).")

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.offer_bundled()
        self._sync_enabled()
        self.digits_view.refresh()

    def _digits_on_screen(self) -> bool:
        return self.isVisible() and self.views.currentIndex() == 1

    # ----- job outcomes -------------------------------------------------------------
    @Slot(object)
    def _on_succeeded(self, outcome) -> None:
        pending, self._pending = self._pending or ("", None), None
        kind, payload = pending
        self._outcome = {"open": "opened", "denoise": "done", "save": "saved"}.get(kind, "idle")
        if kind == "open" and self._cancelling:  # reading cannot stop midway: drop what it read
            self._outcome = "cancelled"
            self.progress_label.setText("Cancelled.")
            self.status_changed.emit("Cancelled; the image was not opened.")
        elif kind == "open":
            self._opened(outcome, payload[1])
        elif kind == "denoise":
            self._denoised(outcome, payload)
        elif kind == "save":
            self._saved(*payload)

    @Slot(object)
    def _on_failed(self, exc: BaseException) -> None:
        pending, self._pending = self._pending or ("", None), None
        kind, payload = pending
        message = failure_text(exc)
        if self._cancelling or stopped(exc):
            self._outcome = "cancelled"
            self.progress_label.setText("Cancelled.")
            self.status_changed.emit("Cancelled; nothing changed.")
            return
        self._outcome = "failed"
        if kind == "open":
            path = payload[0]
            title = "Could not open the image"
            if not Path(path).exists():
                self.recent_files.forget(path)
                self.recent_changed.emit()
        else:
            title = {"denoise": "Could not denoise", "save": "Could not save the result"}.get(
                kind, "Something went wrong")
        self.progress_label.setText(f"{title}: {message}")
        self.status_changed.emit(f"{title}: {message}")
        QMessageBox.warning(self, title, message)

    @Slot()
    def _on_finished(self) -> None:
        self._cancelling = False
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if self._outcome in ("opened", "done", "saved") else 0)
        self.progress.setFormat(self._outcome)
        self._sync_enabled()

    # ----- settings -----------------------------------------------------------------
    def save_settings(self, settings: QSettings) -> None:
        self.save_photo_settings(settings)
        self.recent_files.save(settings)
        settings.setValue("denoise/last_dir", self._last_dir)
        self.digits_view.save_settings(settings)

    def restore_settings(self, settings: QSettings) -> None:
        self.recent_files.load(settings)
        try:
            self.restore_photo_settings(settings)
            self._last_dir = str(settings.value("denoise/last_dir", "") or "")
            self.digits_view.restore_settings(settings)
        except (TypeError, ValueError):
            pass  # settings from another version: keep the defaults
        self.recent_changed.emit()
        self._sync_enabled()
