"""The Denoise tab's Digits page: what a denoising autoencoder trained in the app does to its
validation digits (original / noisy / denoised), with the noise factor and the number shown."""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QSettings, Signal, Slot
from PySide6.QtWidgets import (QDoubleSpinBox, QHBoxLayout, QLabel, QMessageBox, QPushButton, QSpinBox, QVBoxLayout,
                               QWidget)

from engine.jobs import digits_job
from engine.models.guards import fits_images
from gui.common.image_grid import ImageGrid
from gui.failures import failure_text
from gui.session import Session
from gui.worker import JobRunner


class DigitsView(QWidget):
    """Reconstructs the session's validation digits with the session's model when shown and out of date.

    `is_on_screen` says whether the page is the one the user sees (the view cannot tell on its
    own inside a QTabWidget that is itself hidden)."""

    status_changed = Signal(str)

    def __init__(self, session: Session, is_on_screen=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.runner = JobRunner.for_tab(self)
        self.is_on_screen = is_on_screen or self.isVisible
        self.digits = None  # engine.jobs.Reconstructions on show
        self._indices: np.ndarray | None = None
        self._stale = True
        self._noise = 0.0  # of the running job

        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.noise = QDoubleSpinBox()
        self.noise.setRange(0.0, 1.0)
        self.noise.setSingleStep(0.05)
        self.noise.setDecimals(2)
        self.noise.setValue(0.5)
        self.noise.setPrefix("noise factor ")
        self.noise.setToolTip("Std of the Gaussian noise added to the digits (0-1 scale); starts at the "
                              "factor the model was trained with.")
        self.noise.valueChanged.connect(self._on_settings_changed)
        self.count = QSpinBox()
        self.count.setRange(1, 20)
        self.count.setValue(10)
        self.count.setPrefix("show ")
        self.count.valueChanged.connect(self._on_count_changed)
        self.other = QPushButton("Other digits")
        self.other.setToolTip("Pick other validation samples at random.")
        self.other.clicked.connect(self._other_digits)
        row = QHBoxLayout()
        for widget in (self.noise, self.count, self.other):
            row.addWidget(widget)
        row.addStretch(1)
        self.grid = ImageGrid()
        column = QVBoxLayout(self)
        column.addWidget(self.note)
        column.addLayout(row)
        column.addWidget(self.grid, 1)

    # ----- state --------------------------------------------------------------------
    def fits(self) -> bool:
        """The session's model takes the session's images."""
        return self.session.model is not None and fits_images(self.session.model, self.session.dataset)

    def sync_enabled(self) -> None:
        """Controls on when there is something to show and no reconstruction is running. The view has
        its own runner, so the Photo page's jobs do not hold it up."""
        ready = self.fits() and not self.runner.is_running()
        for widget in (self.noise, self.count, self.other):
            widget.setEnabled(ready)

    def model_changed(self) -> None:
        """A new model: start from the noise factor it was trained with, at the first digits."""
        if (self.session.model is not None and self.session.train_config is not None
                and self.session.noise_factor > 0):
            self.noise.blockSignals(True)
            self.noise.setValue(self.session.noise_factor)
            self.noise.blockSignals(False)
        self.data_changed()

    def data_changed(self) -> None:
        self._indices = None
        self._stale = True
        self._describe()
        self.sync_enabled()
        self.refresh()

    def _describe(self) -> None:
        model, data = self.session.model, self.session.dataset
        if model is None:
            text = ("Train a denoising autoencoder in the Training tab (tick \"Denoising\", e.g. on the built-in "
                    "MNIST digits) and its validation digits show here: original, noisy, denoised.")
        elif data is None:
            text = "The current model has no data to show: load data in the Training or Reconstruction tab."
        elif not fits_images(model, data):
            text = (f"The current model does not take this data's images ({data.summary()}): train a model on "
                    "them in the Training tab.")
        else:
            trained = (f"trained with noise factor {self.session.noise_factor:g}" if self.session.noise_factor > 0
                       else "trained without noise (plain autoencoder)")
            text = f"{model.name}, {trained}, on {data.summary()}."
        self.note.setText(text)
        if not self.fits():
            self.digits = None
            self.grid.clear_images()

    @Slot()
    def _on_settings_changed(self) -> None:
        self._stale = True
        self.refresh()

    @Slot()
    def _on_count_changed(self) -> None:
        self._indices = None
        self._on_settings_changed()

    @Slot()
    def _other_digits(self) -> None:
        data = self.session.dataset
        if data is None or not len(data.x_val):
            return
        n = min(self.count.value(), len(data.x_val))
        self._indices = np.sort(np.random.default_rng().choice(len(data.x_val), size=n, replace=False))
        self._on_settings_changed()

    # ----- reconstructing -------------------------------------------------------------
    @Slot()
    @Slot(int)
    def refresh(self, *_args) -> None:
        """Reconstruct digits when the page is on screen and what it shows is out of date."""
        if not self._stale or self.runner.is_running() or not self.is_on_screen() or not self.fits():
            return
        data = self.session.dataset
        if self._indices is None or self._indices.max(initial=-1) >= len(data.x_val):
            self._indices = np.arange(min(self.count.value(), len(data.x_val)))
        self._stale = False
        self._noise = self.noise.value()
        self.runner.start(digits_job(self.session.model, data, self._indices, self._noise, seed=0), "digits")
        self.sync_enabled()

    @Slot(object)
    def _on_succeeded(self, recon) -> None:
        self.digits = recon
        rows, titles = [recon.targets, recon.outputs], ["original", "reconstructed"]
        if self._noise > 0:
            rows, titles = [recon.targets, recon.inputs, recon.outputs], ["original", "noisy", "denoised"]
        labels = recon.labels
        captions = [(f"{labels[i]}\n" if labels is not None else "") + f"err {recon.errors[i]:.4f}"
                    for i in range(len(recon.targets))]
        self.grid.set_images(rows, titles, captions)
        mean = float(np.mean(recon.errors)) if len(recon.errors) else math.nan
        self.status_changed.emit(f"Digits: mean error against the clean originals {mean:.5f}.")

    @Slot(object)
    def _on_failed(self, exc: BaseException) -> None:
        message = failure_text(exc)
        title = "Could not denoise the digits"
        self.status_changed.emit(f"{title}: {message}")
        QMessageBox.warning(self, title, message)

    @Slot()
    def _on_finished(self) -> None:
        self.sync_enabled()
        self.refresh()  # settings changed while it ran

    # ----- settings -----------------------------------------------------------------
    def save_settings(self, settings: QSettings) -> None:
        settings.setValue("denoise/digits_count", self.count.value())

    def restore_settings(self, settings: QSettings) -> None:
        self.count.setValue(int(settings.value("denoise/digits_count", 10)))
