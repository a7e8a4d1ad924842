"""The Denoise tab's "Train on noisy images…": train a denoiser on the noisy image itself, with no clean copy.

The method is Neighbor2Neighbor (engine.denoise.selfsupervised). It trains on the open image as Denoise will
see it: with the noise that "Noise to add" adds, if any; the clean original then only scores the previews.
A folder of more noisy images can be added. A dialog shows the live loss curve and previews; Stop and the time
budget end the training, and the best model so far is kept. The trained model becomes the current model (the
"Current model" method), the way an opened model does, and "Save model…" writes it as .keras.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (QDialog, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QMessageBox,
                               QProgressBar, QPushButton, QSpinBox, QSplitter, QVBoxLayout, QWidget)

from engine.core.errors import ConfigError, ModelError
from engine.core.events import BatchEnded, EpochEnded, PreviewReady, Progress, Started
from engine.denoise.pipeline import MODEL_METHOD
from gui.common import file_dialogs
from gui.common.image_grid import ImageGrid
from gui.common.loss_plot import LossPlot
from gui.failures import failure_text, stopped
from gui.worker import JobRunner

TITLE = "Self-supervised denoiser (Neighbor2Neighbor)"
TIP = ("Train a denoiser on noisy images alone, with no clean copies (Neighbor2Neighbor, Huang et al., CVPR 2021):\n"
       "on the open image as Denoise sees it (with the noise added on purpose, if any) and optionally a folder of\n"
       "more noisy images. The trained model becomes the current model.")


class SelfTrainButton(QPushButton):
    """The button on the Denoise tab's Photo page that opens the training dialog for the tab's image."""

    def __init__(self, tab: QWidget):
        super().__init__("Train on noisy images…")
        self.tab = tab
        self.dialog: SelfTrainDialog | None = None
        self.setToolTip(TIP)
        self.clicked.connect(self.open_dialog)
        if hasattr(tab, "image_opened"):  # enabled once there is an image to train on
            self.setEnabled(False)
            tab.image_opened.connect(self._on_image_opened)

    @Slot()
    def _on_image_opened(self) -> None:
        self.setEnabled(True)

    @Slot()
    def open_dialog(self) -> SelfTrainDialog | None:
        tab = self.tab
        if getattr(tab, "image", None) is None:
            tab.status_changed.emit("Open an image first: the denoiser trains on the image you will denoise.")
            return None
        if tab.runner.is_running():
            tab.status_changed.emit("Busy: wait for the running job or cancel it, then train.")
            return None
        if self.dialog is None:
            self.dialog = SelfTrainDialog(tab)
        self.dialog.describe_source()
        self.dialog.show()
        self.dialog.raise_()
        return self.dialog


class SelfTrainDialog(QDialog):
    """Settings, Start / Stop, the live loss curve and previews of one self-supervised training."""

    def __init__(self, tab: QWidget):
        super().__init__(tab)
        self.tab, self.session = tab, tab.session
        self.runner = JobRunner.for_tab(self)
        self.result = None  # engine.denoise.selfsupervised.SelfSupervisedResult of the last training
        self._clean = False  # the image has noise added on purpose: its clean original scores the previews
        self._started, self._budget = 0.0, 0.0
        self.setWindowTitle("Train a denoiser on noisy images")
        self.setModal(True)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self._controls())
        splitter.addWidget(self._live_view())
        splitter.setStretchFactor(1, 1)
        QVBoxLayout(self).addWidget(splitter)
        self.resize(1000, 620)
        self._sync_enabled()

    def _controls(self) -> QWidget:
        self.source = QLabel()
        self.source.setWordWrap(True)
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("optional: a folder of more noisy images")
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(self._browse)
        self.minutes = _spin(QDoubleSpinBox(), 0.1, 600.0, 10.0, "Training ends after this much time (or Stop); the "
                             "best model so far is kept.")
        self.minutes.setSuffix(" min")
        self.minutes.setDecimals(1)
        self.patch = _spin(QSpinBox(), 32, 256, 128, "Side of the random crops it trains on (a multiple of 16).")
        self.patch.setSingleStep(16)
        self.seed = _spin(QSpinBox(), 0, 2**31 - 1, 0, "Same seed, same training.")
        self.start_button, self.stop_button = QPushButton("Start"), QPushButton("Stop")
        self.save_button, self.close_button = QPushButton("Save model…"), QPushButton("Close")
        self.start_button.setDefault(True)
        self.stop_button.setToolTip("Stop after the current step and keep the best model so far.")
        for button, slot in ((self.start_button, self.start), (self.stop_button, self.stop),
                             (self.save_button, self.save_dialog), (self.close_button, self.close)):
            button.clicked.connect(slot)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(self.browse)
        form = QFormLayout()
        for label, field in (("Also", folder_row), ("Time budget", self.minutes), ("Crop size", self.patch),
                             ("Seed", self.seed)):
            form.addRow(label, field)
        buttons, closing = QHBoxLayout(), QHBoxLayout()
        for b in (self.start_button, self.stop_button):
            buttons.addWidget(b)
        for b in (self.save_button, self.close_button):
            closing.addWidget(b)
        panel = QWidget()
        column = QVBoxLayout(panel)
        column.addWidget(self.source)
        column.addLayout(form)
        column.addLayout(buttons)
        column.addLayout(closing)
        column.addStretch(1)
        panel.setMinimumWidth(300)
        return panel

    def _live_view(self) -> QWidget:
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setFormat("idle")
        self.status = QLabel("Press Start to train on the image.")
        self.status.setWordWrap(True)
        self.status.setMinimumHeight(2 * self.status.fontMetrics().lineSpacing() + 4)
        self.loss_plot = LossPlot(smoothing=0.6)
        self.preview = ImageGrid()
        plots = QSplitter(Qt.Orientation.Vertical)
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.preview)
        right = QWidget()
        column = QVBoxLayout(right)
        column.addWidget(self.progress)
        column.addWidget(self.status)
        column.addWidget(plots, 1)
        return right

    # ----- state ----------------------------------------------------------------------
    def describe_source(self) -> None:
        image, noise = self.tab.image, self.tab.noise_config()
        h, w = image.size
        added = (f", with the noise set under Noise to add ({noise.describe()}); the clean original only scores the "
                 f"previews" if noise.adds_noise else ", as it is (no noise added)")
        self.source.setText(f"Trains on {image.path.name} ({w} x {h}){added}. No clean copies are used to train.")

    def _sync_enabled(self) -> None:
        running = self.runner.is_running()
        for widget in (self.folder, self.browse, self.minutes, self.patch, self.seed, self.start_button,
                       self.close_button):
            widget.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.save_button.setEnabled(not running and self.result is not None)

    # ----- run --------------------------------------------------------------------------
    @Slot()
    def start(self) -> bool:
        from engine.denoise.selfsupervised import SelfSupervisedConfig
        from engine.jobs import self_train_job

        if self.runner.is_running() or self.tab.image is None:
            return False
        try:
            config = SelfSupervisedConfig(minutes=self.minutes.value(), patch=self.patch.value(),
                                          seed=self.seed.value())
        except ConfigError as exc:
            QMessageBox.warning(self, "Check the settings", str(exc))
            return False
        noise = self.tab.noise_config()
        self._clean = noise.adds_noise
        self.describe_source()
        self.loss_plot.reset(TITLE)
        self.preview.clear_images()
        self.progress.setValue(0)
        self.progress.setFormat("starting…")
        self._started, self._budget = time.monotonic(), config.minutes * 60
        self.runner.start(self_train_job(self.tab.image.pixels, noise, config, self.folder.text().strip()),
                          "self-supervised training")
        self._sync_enabled()
        return True

    @Slot()
    def stop(self) -> None:
        if self.runner.is_running():
            self.runner.stop()
            self.status.setText("Stopping after the current step…")

    @Slot(object)
    def _on_event(self, event) -> None:
        if isinstance(event, (Progress, Started)):
            self.status.setText(event.message if isinstance(event, Progress) else event.description)
        elif isinstance(event, BatchEnded):
            self.loss_plot.add_batch(event)
        elif isinstance(event, EpochEnded):
            self.loss_plot.add_epoch(event)
            self.status.setText(f"Epoch {event.epoch + 1}: loss {event.logs['loss']:.5f}, validation loss "
                                f"{event.logs['val_loss']:.5f}.")
        elif isinstance(event, PreviewReady):
            self.preview.set_images(*preview_rows(event, self._clean))
        if isinstance(event, (BatchEnded, EpochEnded)) and self._budget > 0:
            elapsed = time.monotonic() - self._started
            self.progress.setValue(min(1000, int(1000 * elapsed / self._budget)))
            self.progress.setFormat(f"{elapsed / 60:.1f} of {self._budget / 60:g} min")

    @Slot(object)
    def _on_succeeded(self, result) -> None:
        self.result = result
        epochs = len(result.history.get("loss", []))
        self.session.set_model(result.model, f"trained here on {self.tab.image.path.name}, self-supervised "
                                             f"(Neighbor2Neighbor), {epochs} epoch(s), {result.steps} steps")
        box = self.tab.method_boxes[MODEL_METHOD]
        if box.isEnabled():
            box.setChecked(True)
        self.loss_plot.mark_best(result.best_epoch)
        self.progress.setFormat("stopped" if result.stopped_by_user else "done")
        message = f"{result.message} It is now the current model: press Denoise to use it."
        self.status.setText(message)
        self.tab.status_changed.emit(message)

    @Slot(object)
    def _on_failed(self, exc: BaseException) -> None:
        self.progress.setFormat("stopped" if stopped(exc) else "failed")
        if stopped(exc):
            self.status.setText("Stopped before training began; the current model is unchanged.")
            return
        self.status.setText(f"Training failed: {failure_text(exc)}")
        QMessageBox.warning(self, "Training failed", failure_text(exc))

    @Slot()
    def _on_finished(self) -> None:
        self._sync_enabled()

    # ----- files and closing ---------------------------------------------------------
    @Slot()
    def _browse(self) -> None:
        path = file_dialogs.folder(self, "Choose a folder of noisy images", "data", self.folder.text())
        if path:
            self.folder.setText(path)

    @Slot()
    def save_dialog(self) -> None:
        if self.result is not None:
            path = file_dialogs.save_file(self, "Save model", "model", "self_supervised_denoiser.keras",
                                          "Keras model (*.keras)")
            if path:
                self.save_model_to(path)

    def save_model_to(self, path: str) -> bool:
        """Write the trained model as .keras (atomically); False, with a message, when it cannot."""
        from engine.models.files import save_model

        path = Path(path)
        path = path if path.suffix == ".keras" else path.with_name(path.name + ".keras")
        try:
            written = save_model(self.result.model, path)
        except ModelError as exc:
            QMessageBox.warning(self, "Could not save the model", str(exc))
            return False
        self.status.setText(f"Model saved to {written}.")
        self.tab.status_changed.emit(f"Model saved to {written}.")
        return True

    def reject(self) -> None:  # Close, Escape and the window's close button
        if self.runner.is_running():  # closing stops the training; what it had is kept (_on_succeeded)
            self.runner.wait(30_000)
        super().reject()


def preview_rows(event: PreviewReady, clean: bool):
    """Noisy crops over their denoised versions; with a clean original on top and PSNR captions, else how much
    was taken out (RMS on a 0-255 scale)."""
    if clean:
        mse = ((event.targets - event.outputs) ** 2).reshape(len(event.targets), -1).mean(axis=1)
        return ([event.targets, event.inputs, event.outputs], ["clean (only scores)", "noisy input", "denoised"],
                [f"{10 * np.log10(1 / max(e, 1e-12)):.2f} dB" for e in mse])
    removed = np.sqrt(((event.inputs - event.outputs) ** 2).reshape(len(event.inputs), -1).mean(axis=1))
    return [event.inputs, event.outputs], ["noisy input", "denoised"], [f"removed {255 * r:.1f}" for r in removed]


def _spin(box, low, high, value, tip: str):
    box.setRange(low, high)
    box.setValue(value)
    box.setToolTip(tip)
    return box
