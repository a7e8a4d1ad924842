"""Denoise tab: open a photograph, add noise on purpose, denoise it several ways, compare
side by side with linked zoom, score, save (the Photo page's widgets are built by
gui.widgets.photo_view). A "Digits" page (gui.widgets.digits_view) shows a
denoising autoencoder trained in the Training tab on its validation digits."""
from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QMimeData, QSettings, Qt, Signal, Slot
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QFont
from PySide6.QtWidgets import (QFileDialog, QMenu, QMessageBox, QTableWidgetItem, QTabWidget, QVBoxLayout,
                               QWidget)

from engine.denoise.pipeline import BUNDLED_DENOISER, MODEL_METHOD, NoiseConfig
from engine.denoise.jobs_tmp import (BUNDLED, Denoised, fits_images, fully_convolutional, input_shape, open_image_job,
                                 photo_denoise_job, save_image_job)
from engine.denoise.files import (available_samples, clean_recent, kept_bit_depth, push_recent,
                               same_file, sample_path, suggested_name, with_image_suffix)
from engine.core.events import Progress
from engine.data.images import IMAGE_SUFFIXES, MAX_PIXELS, LoadedImage
from gui.session import Session
from gui.widgets.digits_view import DigitsView
from gui.widgets.image_panels import LazyDifference
from gui.widgets.photo_view import COLUMNS, METHODS, PhotoView
from gui.worker import JobRunner

NO_REFERENCE = "No clean reference: add noise to measure PSNR and SSIM."
SAVE_FILTERS = "PNG (*.png);;TIFF (*.tif *.tiff);;JPEG (*.jpg *.jpeg);;BMP (*.bmp)"


def _number(value: float, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return "∞" if math.isinf(value) else f"{value:.{digits}f}"


def _rate(value: float) -> str:
    """Three significant digits: tiny test images run at 0.00x megapixels per second."""
    return "—" if math.isnan(value) or math.isinf(value) else f"{value:.3g}"


def _describe(image: LoadedImage) -> str:
    h, w = image.size
    colour = "grey" if image.pixels.shape[-1] == 1 else "colour"
    extras = f", {image.bit_depth}-bit" + (", with alpha" if image.alpha is not None else "")
    megapixels = h * w / 1e6
    size = f"{megapixels:.1f}" if megapixels >= 1 else f"{megapixels:.2g}"
    return f"{image.path.name}\n{w} x {h} pixels ({size} MP)\n{colour}{extras}"


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
        self.recent: list[str] = []
        self.max_pixels = MAX_PIXELS  # larger images are refused before they are decoded
        self._pending: tuple[str, Any] | None = None  # what the running job is for
        self._bundled: tuple[float, Any] | None = None  # (file mtime, model) once loaded
        self._settings: QSettings | None = None
        self._cancelling = False
        self._outcome = "done"  # how the last job ended, for the progress bar: done, failed, cancelled
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
        self.open_button.clicked.connect(self._open_dialog)
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

    def fill_sample_menu(self, menu: QMenu) -> None:
        """One action per sample photograph available offline."""
        samples = available_samples()
        for name, (label, _path) in samples.items():
            action = menu.addAction(label)
            action.triggered.connect(lambda _checked=False, n=name: self.open_sample(n))
        if not samples:
            menu.addAction("No samples (scikit-image's data files are missing)").setEnabled(False)

    # ----- state --------------------------------------------------------------------
    @Slot()
    def _sync_enabled(self) -> None:
        busy = self.runner.is_running()
        kind = self.noise_kind.currentData()
        self.sigma.setEnabled(kind in ("gaussian", "speckle"))
        self.amount.setEnabled(kind == "salt_pepper")
        self.seed.setEnabled(kind != "none")
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
        box = self.method_boxes[MODEL_METHOD]
        if model is None:
            box.setEnabled(False)
            box.setChecked(False)
            box.setToolTip("No model yet: train one in the Training tab (e.g. the residual denoiser on a "
                           "folder of photos) or open a .keras file.")
        elif fully_convolutional(model):
            box.setEnabled(True)
            box.setText(f"Current model ({model.name})")
            box.setToolTip(f"{model.name} — {self.session.model_origin}")
        else:
            shape = input_shape(model)
            shown = "x".join("any" if s is None else str(s) for s in (shape or ())[1:]) or "unknown"
            box.setEnabled(False)
            box.setChecked(False)
            box.setText("Current model")
            box.setToolTip(f"The current model takes inputs of {shown}; denoising a photograph needs a fully "
                           "convolutional model (input of any height and width), e.g. the residual denoiser.")
        self._sync_bundled()
        self.digits_view.model_changed()
        if (model is not None and self.image is None and not fully_convolutional(model)
                and fits_images(model, self.session.dataset)):
            self.views.setCurrentIndex(1)  # a digits autoencoder: show what it does
        self._sync_enabled()

    def _sync_bundled(self) -> None:
        """Offer the bundled denoiser only when its file is there."""
        here = BUNDLED_DENOISER.is_file()
        box = self.method_boxes[BUNDLED]
        box.setEnabled(here)
        box.setToolTip("DnCNN-style residual denoiser shipped with the app (blind, Gaussian sigma 0-50)." if here
                       else f"The bundled denoiser {BUNDLED_DENOISER.name} is missing from {BUNDLED_DENOISER.parent}; "
                            "recreate it with `python tools/train_denoiser.py`.")

    @Slot()
    def _on_dataset_changed(self) -> None:
        self.digits_view.data_changed()
        self._sync_enabled()

    # ----- opening ------------------------------------------------------------------
    @Slot()
    def _open_dialog(self) -> None:
        patterns = " ".join(f"*{s}" for s in IMAGE_SUFFIXES)
        path, _ = QFileDialog.getOpenFileName(self, "Open image", self._last_dir,
                                              f"Images ({patterns});;All files (*)")
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
        except ValueError as exc:
            QMessageBox.warning(self, "Sample image not available", str(exc))
            return False
        return self.open_image(path, remember=False)

    def drop_mime(self, mime: QMimeData) -> bool:
        """Open the first local image file in dropped data; True when one was found."""
        path = self._dropped_path(mime)
        if path is None:
            return False
        return self.open_image(path)

    @staticmethod
    def _dropped_path(mime: QMimeData) -> str | None:
        if not mime.hasUrls():
            return None
        for url in mime.urls():
            if url.isLocalFile() and Path(url.toLocalFile()).suffix.lower() in IMAGE_SUFFIXES:
                return url.toLocalFile()
        for url in mime.urls():  # another extension: let the reader say what is wrong with it
            if url.isLocalFile():
                return url.toLocalFile()
        return None

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        if self._dropped_path(event.mimeData()) is not None and not self.runner.is_running():
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
            self.recent = push_recent(self.recent, image.path)
            self._store_recent()
        self.image_info.setText(_describe(image))
        self.views.setCurrentIndex(0)
        self.method_combo.blockSignals(True)
        self.method_combo.clear()
        self.method_combo.blockSignals(False)
        self.panels.set_layout(["original"])
        self.panels.set_image("original", image.pixels, title=image.path.name)
        self.metrics_table.setRowCount(0)
        self.metrics_note.setText("Press Denoise to compare the chosen methods.")
        h, w = image.size
        self.progress_label.setText(f"Opened {image.path.name}.")
        self.status_changed.emit(f"Opened {image.path.name}: {w} x {h} pixels.")
        self.image_opened.emit(str(image.path))

    def _store_recent(self) -> None:
        if self._settings is not None:
            self._settings.setValue("denoise/recent", self.recent)
        self.recent_changed.emit()

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
        if not methods:
            self.status_changed.emit("Choose at least one method.")
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
                                       self._bundled), "denoise")
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
        reference = result.reference is not None
        self.panels.set_layout(["original", "noisy", "result"] if reference else ["original", "result"])
        if reference:
            self.panels.set_image("original", result.reference, title="Original (clean)")
            noisy_psnr = next((r.psnr for r in result.metrics if r.method == "noisy"), math.nan)
            self.panels.set_image("noisy", result.noisy,
                                  title=f"Noisy: {result.noise.describe()}, {_number(noisy_psnr, 2)} dB")
        else:
            self.panels.set_image("original", result.noisy, title=f"Input: {image.path.name}")
        self.method_combo.blockSignals(True)
        self.method_combo.clear()
        for method in result.outputs:
            self.method_combo.addItem(result.labels[method], method)
        best = self._best_method()
        self.method_combo.setCurrentIndex(max(0, self.method_combo.findData(best)))
        self.method_combo.blockSignals(False)
        if not reference and self.view_combo.currentData() == "diff_clean":
            self.view_combo.setCurrentIndex(0)
        self._fill_metrics()
        self._sync_enabled()
        self._show_result()
        seconds = time.monotonic() - self._started
        if reference:
            label = result.labels[best]
            psnr = next(r.psnr for r in result.metrics if r.method == best)
            summary = f"best: {label}, {_number(psnr, 2)} dB"
        else:
            summary = NO_REFERENCE
        self.status_changed.emit(f"Denoised {image.path.name} with {len(result.outputs)} method(s) in "
                                 f"{seconds:.1f} s; {summary}")

    def _best_method(self) -> str:
        result = self.result
        scored = [r for r in result.metrics if r.method in result.outputs]
        if scored:
            return max(scored, key=lambda r: r.psnr).method
        return next(iter(result.outputs))

    def _fill_metrics(self) -> None:
        result = self.result
        rows = ["noisy"] + list(result.outputs) if result.reference is not None else list(result.outputs)
        metrics = {r.method: r for r in result.metrics}
        best = self._best_method() if metrics else None
        table = self.metrics_table
        table.blockSignals(True)
        table.setRowCount(len(rows))
        for r, method in enumerate(rows):
            row = metrics.get(method)
            seconds = result.seconds.get(method)
            values = [result.labels.get(method, method),
                      _number(row.psnr, 2) if row else "—",
                      _number(row.ssim, 4) if row else "—",
                      _number(seconds, 2) if seconds is not None else "—",
                      _rate(result.megapixels_per_second(method)) if seconds is not None else "—"]
            for c, text in enumerate(values):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, method)
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if row is None and c in (1, 2):
                    item.setToolTip(NO_REFERENCE if result.reference is None else "")
                if method == best:
                    font = QFont(item.font())
                    font.setBold(True)
                    item.setFont(font)
                table.setItem(r, c, item)
        table.blockSignals(False)
        if result.reference is None:
            self.metrics_note.setText(NO_REFERENCE)
        else:
            self.metrics_note.setText(f"Against the clean original ({result.noise.describe()}, seed "
                                      f"{result.noise.seed}); the best PSNR is in bold. Click a row to show it.")

    def metrics(self) -> dict[str, dict[str, str]]:
        """The metrics table as {method label: {column: text}} (what the user reads)."""
        table = self.metrics_table
        return {table.item(r, 0).text(): {COLUMNS[c]: table.item(r, c).text() for c in range(table.columnCount())}
                for r in range(table.rowCount())}

    @Slot()
    def _on_table_selection(self) -> None:
        items = self.metrics_table.selectedItems()
        if items:
            index = self.method_combo.findData(items[0].data(Qt.ItemDataRole.UserRole))
            if index >= 0:
                self.method_combo.setCurrentIndex(index)

    @Slot()
    def _show_result(self) -> None:
        result, method = self.result, self.method_combo.currentData()
        if result is None or method not in result.outputs:
            return
        output, label, view = result.outputs[method], result.labels[method], self.view_combo.currentData()
        metric = next((r for r in result.metrics if r.method == method), None)
        scored = f": {_number(metric.psnr, 2)} dB, SSIM {_number(metric.ssim, 3)}" if metric else ""
        if view == "result" or (view == "diff_clean" and result.reference is None):
            self.panels.set_image("result", output, title=f"{label}{scored}")
            return
        against = result.reference if view == "diff_clean" else result.noisy
        difference = LazyDifference(output, against)
        top = max(1.0 / 255.0, difference.robust_max())
        what = "clean" if view == "diff_clean" else "noisy"
        self.panels.set_image("result", difference, title=f"|{label} − {what}|", cmap="magma", vmin=0.0,
                              vmax=top, colorbar=f"|result − {what}| (0-1 scale; top = 99.5th percentile)")

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
        path, _ = QFileDialog.getSaveFileName(self, "Save result", default, SAVE_FILTERS,
                                              options=QFileDialog.Option.DontConfirmOverwrite)  # asked below
        if path:
            self.save_result_to(path)

    def save_result_to(self, path: str | os.PathLike) -> bool:
        """Write the shown method's output to `path` in the background; False when not started."""
        if self.result is None or self.image is None or self.runner.is_running():
            return False
        path = with_image_suffix(path)
        if path.exists():
            if same_file(path, self.image.path):
                question = (f"{path.name} is the image you opened. Replace the original with the denoised "
                            "result? This cannot be undone.")
            else:
                question = f"{path.name} already exists. Replace it?"
            answer = QMessageBox.question(self, "Replace file?", question,
                                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                          QMessageBox.StandardButton.No)
            if answer != QMessageBox.StandardButton.Yes:
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
        notes = [f"{bit_depth}-bit"]
        if self.image is not None and self.image.alpha is not None:
            notes.append("no transparency (JPEG has none)" if path.suffix.lower() in (".jpg", ".jpeg")
                         else "transparency kept")
        if self.image is not None and self.image.bit_depth == 16 and bit_depth == 8:
            notes.append("16-bit needs PNG or TIFF")
        label = self.result.labels.get(method, method) if self.result is not None else method
        self.progress_label.setText(f"Saved {path.name}.")
        self.status_changed.emit(f"Saved {label} to {path} ({', '.join(notes)}).")

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self._sync_bundled()
        self._sync_enabled()
        self.digits_view.refresh()

    def _digits_on_screen(self) -> bool:
        return self.isVisible() and self.views.currentIndex() == 1

    # ----- job outcomes -------------------------------------------------------------
    @Slot(object)
    def _on_succeeded(self, outcome) -> None:
        pending, self._pending = self._pending or ("", None), None
        kind, payload = pending
        self._outcome = "done"
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

    @Slot(str, str)
    def _on_failed(self, message: str, detail: str) -> None:
        pending, self._pending = self._pending or ("", None), None
        kind, payload = pending
        if self._cancelling or "Cancelled:" in detail:
            self._outcome = "cancelled"
            self.progress_label.setText("Cancelled.")
            self.status_changed.emit("Cancelled; nothing changed.")
            return
        self._outcome = "failed"
        if kind == "open":
            path = payload[0]
            title = "Could not open the image"
            if not Path(path).exists() and path in self.recent:
                self.recent.remove(path)
                self._store_recent()
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
        self.progress.setValue(1 if self._outcome == "done" else 0)
        self.progress.setFormat(self._outcome)
        self._sync_enabled()

    # ----- settings -----------------------------------------------------------------
    def save_settings(self, settings: QSettings) -> None:
        settings.setValue("denoise/noise_kind", self.noise_kind.currentData())
        settings.setValue("denoise/sigma", self.sigma.value())
        settings.setValue("denoise/amount", self.amount.value())
        settings.setValue("denoise/seed", self.seed.value())
        settings.setValue("denoise/methods", [m for m, b in self.method_boxes.items() if b.isChecked()])
        settings.setValue("denoise/view", self.view_combo.currentData())
        settings.setValue("denoise/recent", self.recent)
        settings.setValue("denoise/last_dir", self._last_dir)
        self.digits_view.save_settings(settings)

    def restore_settings(self, settings: QSettings) -> None:
        self._settings = settings
        self.recent = clean_recent(settings.value("denoise/recent", []))
        try:
            index = self.noise_kind.findData(str(settings.value("denoise/noise_kind", "gaussian")))
            if index >= 0:
                self.noise_kind.setCurrentIndex(index)
            self.sigma.setValue(float(settings.value("denoise/sigma", 25.0)))
            self.amount.setValue(float(settings.value("denoise/amount", 5.0)))
            self.seed.setValue(int(settings.value("denoise/seed", 0)))
            methods = settings.value("denoise/methods")
            if methods is not None:
                chosen = set(clean_recent(methods, limit=len(METHODS)))
                for method, box in self.method_boxes.items():
                    box.setChecked(method in chosen and box.isEnabled())
            index = self.view_combo.findData(str(settings.value("denoise/view", "result")))
            self.view_combo.setCurrentIndex(max(0, index))
            self._last_dir = str(settings.value("denoise/last_dir", "") or "")
            self.digits_view.restore_settings(settings)
        except (TypeError, ValueError):
            pass  # settings from another version: keep the defaults
        self.recent_changed.emit()
        self._sync_enabled()
