"""Reconstruction tab: test originals above the model's outputs, each with its error."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (QCheckBox, QDoubleSpinBox, QHBoxLayout, QLabel, QMessageBox, QPushButton,
                               QSplitter, QVBoxLayout, QWidget)

from engine.core.config import DataSpec
from engine.jobs import data_job, open_model_job, reconstruct_job
from engine.models.guards import takes_noise_level
from gui.common import file_dialogs
from gui.failures import failure_text
from gui.session import Session
from gui.tabs.reconstruction.error_histogram import ErrorHistogram
from gui.common.forms import SpinBox
from gui.common.image_grid import ImageGrid
from gui.worker import JobRunner


class ReconstructionTab(QWidget):
    status_changed = Signal(str)

    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.runner = JobRunner.for_tab(self)
        self.recon = None  # engine.jobs.Reconstructions for the current model and data
        self.order = np.arange(0)
        self.page = 0
        self._pending: str | None = None  # what the running job is for
        self._opened_by_user = False  # the model in use was opened here, and not reconstructed yet
        self._stale = False  # the shown reconstructions do not match the session's model and data
        self._rng = np.random.default_rng()
        self._fit_pending, self._fitted_layout = True, -1  # fit the grid's height at its next draw
        self._build()
        session.model_changed.connect(self._on_model_changed)
        session.dataset_changed.connect(self._on_data_changed)
        if session.model is not None:  # built after the session got a model (the main window builds tabs lazily)
            self._on_model_changed()
        elif session.dataset is not None:
            self._on_data_changed()
        self._sync_enabled()

    def _build(self) -> None:
        self.model_label = QLabel("No model yet: train one in the Training tab or open a .keras file.")
        self.model_label.setWordWrap(True)
        self.open_button = QPushButton("Open model…")
        self.open_button.clicked.connect(self.open_model_dialog)
        self.save_button = QPushButton("Save model…")
        self.save_button.clicked.connect(self._save_model)
        self.data_button = QPushButton("Use Training tab's data")
        self.data_button.setToolTip("Load the data chosen in the Training tab (source, path, size, colour) and "
                                    "reconstruct its validation samples.")
        self.data_button.clicked.connect(self._load_training_data)
        self.noise = QDoubleSpinBox()
        self.noise.setRange(0.0, 5.0)
        self.noise.setSingleStep(0.05)
        self.noise.setPrefix("input noise ")
        self.noise.setToolTip("Gaussian noise (std) added to the inputs before reconstructing, as when a "
                              "denoising model was trained; 0 shows plain reconstructions.")
        self.noise.valueChanged.connect(self._on_noise_changed)
        top = QHBoxLayout()
        top.addWidget(self.model_label, 1)
        for w in (self.data_button, self.open_button, self.save_button):
            top.addWidget(w)

        self.prev_button = QPushButton("◀ Previous")
        self.next_button = QPushButton("Next ▶")
        self.random_button = QPushButton("Random")
        self.worst_first = QCheckBox("Worst error first")
        self.worst_first.setToolTip("Sort samples by reconstruction error, largest first.")
        self.position = QLabel("")
        self.position.setToolTip("Which samples are shown, in the current order.")
        self.per_page = SpinBox()
        self.per_page.setRange(1, 20)
        self.per_page.setValue(10)
        self.per_page.setPrefix("show ")
        self.per_page.setToolTip("How many samples to show at once.")
        self.prev_button.clicked.connect(lambda: self._turn(-1))
        self.next_button.clicked.connect(lambda: self._turn(1))
        self.random_button.clicked.connect(self._random)
        self.worst_first.toggled.connect(self._reorder)
        self.per_page.valueChanged.connect(self._show_page)
        self.per_page.out_of_range.connect(self.status_changed)
        nav = QHBoxLayout()
        for w in (self.prev_button, self.next_button, self.position, self.random_button, self.worst_first,
                  self.per_page, self.noise):
            nav.addWidget(w)
        nav.addStretch(1)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.grid = ImageGrid()
        self.histogram = ErrorHistogram()
        self.histogram.error_clicked.connect(self.show_error)
        self.grid.mpl_connect("draw_event", self._fit_grid)
        self.plots = plots = QSplitter(Qt.Vertical)
        plots.addWidget(self.grid)
        plots.addWidget(self.histogram)
        plots.setStretchFactor(0, 3)
        plots.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(nav)
        layout.addWidget(self.summary)
        layout.addWidget(plots, 1)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._fit_pending = True

    def _fit_grid(self, _event=None) -> None:
        """After a draw with new rows or a new size: the grid as tall as its images are at its width (they keep
        their aspect, so more height would stay empty), at most 3/5 of the plots; the histogram gets the rest.
        Between fits the splitter stays where the user puts it."""
        if self.grid.rebuilds != self._fitted_layout:  # new rows or columns: another height suits them
            self._fit_pending, self._fitted_layout = True, self.grid.rebuilds
        if not self._fit_pending or self.grid.grid_shape()[1] == 0:
            return
        self._fit_pending = False
        ax, figure, height = self.grid.ax, self.grid.figure, self.grid.height()
        box, image = ax.get_position(original=True), ax.get_position()  # the layout's box, the images' part
        (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
        wider = box.width * figure.bbox.width * abs(y1 - y0) / abs(x1 - x0) - image.height * figure.bbox.height
        shown = ax.get_tightbbox(self.grid.get_renderer()).height  # the images, row titles and captions
        needed = (shown + max(0.0, wider)) * height / figure.bbox.height + 12  # + the layout's padding
        total = sum(self.plots.sizes())
        target = int(max(self.grid.minimumHeight(), min(needed, total * 3 // 5)))
        if abs(target - height) > 2:
            QTimer.singleShot(0, self.plots, lambda: self.plots.setSizes([target, total - target]))  # after the draw

    @Slot()
    def _sync_enabled(self) -> None:
        have = self.recon is not None and len(self.recon.targets) > 0
        busy = self.runner.is_running()
        for b in (self.prev_button, self.next_button, self.random_button, self.worst_first, self.per_page):
            b.setEnabled(have and not busy)
        self.open_button.setEnabled(not busy)
        self.data_button.setEnabled(not busy)
        self.save_button.setEnabled(self.session.model is not None and not busy)

    # ----- computing ----------------------------------------------------------------
    @Slot()
    def _on_model_changed(self) -> None:
        self.recon = None
        if self.session.model is None:
            return
        self.model_label.setText(f"Model: {self.session.model.name} — {self.session.model_origin}")
        if self.session.train_config is not None:  # trained here: show what it was trained for
            self.noise.blockSignals(True)
            self.noise.setValue(self.session.noise_factor)
            self.noise.blockSignals(False)
        self._stale = True
        self.refresh()

    @Slot()
    def _on_data_changed(self) -> None:
        self.recon = None
        self._stale = True
        if self.session.model is None:
            self.summary.setText(f"Data: {self.session.dataset.summary()}. Train or open a model to reconstruct it.")
        self.refresh()

    @Slot()
    def _on_noise_changed(self) -> None:
        self._stale = True
        self.refresh()

    @Slot()
    def _load_training_data(self) -> None:
        from engine.core.errors import ConfigError

        if self.runner.is_running():
            return
        try:
            spec = self.session.chosen_data()
        except ConfigError as exc:
            QMessageBox.warning(self, "Check the data settings", str(exc))
            return
        self._pending, self._stale = "data", True
        self.summary.setText("Loading data…")
        self.runner.start(data_job(spec), "load data")
        self._sync_enabled()

    @Slot()
    def _on_finished(self) -> None:
        self._sync_enabled()
        self.refresh()

    def refresh(self) -> None:
        """Reconstruct the current data with the current model (loading default MNIST if needed)."""
        if not self._stale or self.session.model is None or self.runner.is_running():
            return
        if takes_noise_level(self.session.model):  # a photo denoiser told the noise level: nothing to reconstruct
            self._stale = False
            self.summary.setText(f"{self.session.model.name} denoises photographs (it is told their noise level): "
                                 "use it in the Denoise tab.")
            return
        if self.session.dataset is None:
            self._pending = "data"
            self.summary.setText("Loading MNIST test digits…")
            self.runner.start(data_job(DataSpec()), "load data")
        else:
            self._pending, self._stale = "reconstruct", False
            self.summary.setText("Reconstructing…")
            self.runner.start(reconstruct_job(self.session.model, self.session.dataset, self.noise.value()),
                              "reconstruct")
        self._sync_enabled()

    @Slot(object)
    def _on_succeeded(self, result) -> None:
        pending, self._pending = self._pending, None
        if pending == "reconstruct" and self._stale:
            return  # the model, data or noise changed while it ran: its result is for the old ones (redone next)
        if pending == "open":
            path = self._opened_path
            self._opened_by_user = True  # a reconstruction of it that fails is a dialog: the user asked for it
            self.session.set_model(result, f"opened from {path}")
            self.status_changed.emit(f"Opened model {path}.")
        elif pending == "data":
            self.session.set_dataset(result)  # triggers a refresh once this job has finished
        else:
            self.recon, self._opened_by_user = result, False
            self.histogram.set_errors(result.errors)
            self._reorder()
            e = result.errors
            self.summary.setText(f"{len(e)} validation samples of {self.session.dataset.summary()}.  "
                                 f"Mean error {e.mean():.5f}, median {np.median(e):.5f}, worst {e.max():.5f}.")

    @Slot(object)
    def _on_failed(self, exc: BaseException) -> None:
        message = failure_text(exc)
        pending, self._pending = self._pending, None
        if pending == "reconstruct" and self._stale:
            return  # e.g. the old model on new data while a new model was on its way: not the user's problem
        self._stale = False  # do not retry by itself; a new model or data tries again
        title = {"open": "Could not open the model", "data": "Could not load data"}.get(pending,
                                                                                       "Could not reconstruct")
        self.summary.setText(f"{title}: {message}")
        self.status_changed.emit(f"{title}: {message}")
        asked, self._opened_by_user = pending == "open" or self._opened_by_user or self.isVisible(), False
        if asked:  # not a dialog over another tab for work nobody asked for there
            QMessageBox.warning(self, title, message)

    # ----- navigation ---------------------------------------------------------------
    @Slot()
    def _reorder(self) -> None:
        if self.recon is None:
            return
        errors = self.recon.errors
        self.order = np.argsort(-errors, kind="stable") if self.worst_first.isChecked() else np.arange(len(errors))
        self.page = 0
        self._show_page()

    def _turn(self, step: int) -> None:
        pages = max(1, -(-len(self.order) // self.per_page.value()))
        self.page = (self.page + step) % pages
        self._show_page()

    @Slot()
    def _random(self) -> None:
        if self.recon is None:
            return
        n = min(self.per_page.value(), len(self.order))
        self._show(self._rng.choice(len(self.order), size=n, replace=False))
        self.position.setText(f"{n} at random of {len(self.order)}")

    @Slot(float)
    def show_error(self, error: float) -> None:
        """Show the page holding the sample whose error is nearest to `error` (a click on the histogram)."""
        if self.recon is None or not len(self.order):
            return
        sample = int(np.argmin(np.abs(self.recon.errors - error)))
        self.page = int(np.flatnonzero(self.order == sample)[0]) // self.per_page.value()
        self._show_page()
        self.status_changed.emit(f"Sample #{sample}: error {self.recon.errors[sample]:.4f}.")

    @Slot()
    def _show_page(self) -> None:
        if self.recon is None:
            return
        k = self.per_page.value()
        shown = self.order[self.page * k:(self.page + 1) * k]
        self._show(shown)
        order = " (worst first)" if self.worst_first.isChecked() else ""
        self.position.setText(f"{self.page * k + 1}–{self.page * k + len(shown)} of {len(self.order)}{order}")
        self._sync_enabled()

    def _show(self, indices: np.ndarray) -> None:
        r = self.recon
        if r.targets.ndim != 4:
            self.grid.clear_images()
            return
        rows, titles = [r.targets[indices], r.outputs[indices]], ["original", "reconstructed"]
        if r.inputs is not r.targets:
            rows.insert(1, r.inputs[indices])
            titles.insert(1, "noisy input")
        label = (lambda i: f"#{i} ({r.labels[i]})") if r.labels is not None else (lambda i: f"#{i}")
        self.grid.set_images(rows, titles, [f"{label(i)}\nerr {r.errors[i]:.4f}" for i in indices])
        self.shown_indices = np.asarray(indices)
        self.histogram.mark(r.errors[indices])

    # ----- files --------------------------------------------------------------------
    @Slot()
    def open_model_dialog(self) -> None:
        path = file_dialogs.open_file(self, "Open model", "model", "Keras model (*.keras);;All files (*)")
        if path:
            self.open_model(path)

    def open_model(self, path: str) -> None:
        if self.runner.is_running():
            self.status_changed.emit("Busy; try again in a moment.")
            return
        self._pending, self._opened_path = "open", path
        self.summary.setText(f"Opening {path}…")
        self.runner.start(open_model_job(path), "open model")
        self._sync_enabled()

    @Slot()
    def _save_model(self) -> None:
        from engine.core.errors import ModelError

        path = file_dialogs.save_file(self, "Save model", "model", "autoencoder.keras", "Keras model (*.keras)")
        if not path:
            return
        try:
            written = self.session.save_model(path)
        except ModelError as exc:
            QMessageBox.warning(self, "Could not save the model", str(exc))
            return
        self.status_changed.emit(f"Model saved to {written}.")

    def save_settings(self, settings: QSettings) -> None:
        settings.setValue("reconstruction/per_page", self.per_page.value())
        settings.setValue("reconstruction/worst_first", self.worst_first.isChecked())

    def restore_settings(self, settings: QSettings) -> None:
        try:
            self.per_page.setValue(int(settings.value("reconstruction/per_page", 10)))
            self.worst_first.setChecked(str(settings.value("reconstruction/worst_first", "false")).lower() == "true")
        except (TypeError, ValueError):
            pass
