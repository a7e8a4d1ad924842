"""Training tab: choose data, model and hyperparameters; watch the run live; stop; save."""
from __future__ import annotations

import time

from PySide6.QtCore import QSettings, Qt, Signal, Slot
from PySide6.QtWidgets import (QCheckBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit,
                               QMessageBox, QProgressBar, QPushButton, QScrollArea, QSplitter, QVBoxLayout, QWidget)

from engine.core.config import (DATA_LABELS, GENERATIVE_KINDS, LATENT_RANGE, LOSS_LABELS, MODEL_LABELS, PRIOR_LABELS,
                           SEQUENCE_KINDS, VAE_KINDS, ConfigError, DataSpec, TrainConfig)
from engine.core.events import BatchEnded, EpochEnded, PreviewReady, Progress, Started
from engine.jobs import train_job
from gui.session import Session
from gui.widgets.forms import choice_combo, float_spin, int_spin, set_choice
from gui.widgets.image_grid import ImageGrid
from gui.widgets.loss_plot import LossPlot
from gui.worker import JobRunner

PATH_KINDS = {"mnist_file": "file", "folder": "folder", "patches": "folder", "array": "file"}
FILE_FILTERS = {"mnist_file": "MNIST files (*.npz *.gz *ubyte);;All files (*)",
                "array": "Arrays (*.npy *.npz);;All files (*)"}


class TrainingTab(QWidget):
    status_changed = Signal(str)

    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.runner = JobRunner.for_tab(self)
        self._store = None
        self._epoch_seconds: list[float] = []
        self._epoch_started = 0.0
        self._steps = 1
        self._build()
        self._sync_enabled()

    # ----- layout -------------------------------------------------------------------
    def _build(self) -> None:
        d, lim = TrainConfig(), TrainConfig.LIMITS
        self.data_kind = choice_combo(DATA_LABELS, "mnist")
        self.data_kind.setToolTip("Where the training data comes from. The built-in MNIST subset works offline.")
        self.data_path = QLineEdit()
        self.data_path.setPlaceholderText("file or folder")
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.data_path, 1)
        path_row.addWidget(self.browse)
        self.image_size = int_spin(type(lim["code_size"])(4, 512, "Images are resized to this many pixels a side."), 28)
        self.color = choice_combo({"grey": "Grey", "rgb": "Colour (RGB)"}, "grey")
        self.color.setToolTip("Keep images as grey or as RGB colour.")
        self.data_info = QLabel("Data is loaded when training starts.")
        self.data_info.setWordWrap(True)
        data_box = QGroupBox("Data")
        form = QFormLayout(data_box)
        form.addRow("Source", self.data_kind)
        form.addRow("Path", path_row)
        form.addRow("Image / patch size", self.image_size)
        form.addRow("Colour", self.color)
        form.addRow(self.data_info)

        # Sequence models train on windows of a series: the Anomaly tab's Sequence source makes those.
        self.model_kind = choice_combo({k: v for k, v in MODEL_LABELS.items() if k not in SEQUENCE_KINDS},
                                       d.model_kind)
        self.code_size = int_spin(lim["code_size"], d.code_size)
        self.filters = int_spin(lim["filters"], d.filters)
        self.depth = int_spin(lim["depth"], d.depth)
        self.l1_weight = float_spin(lim["l1_weight"], d.l1_weight, decimals=6, step=1e-5)
        self.denoising = QCheckBox("Denoising (train on noisy inputs, clean targets)")
        self.noise_factor = float_spin(lim["noise_factor"], 0.5, decimals=2, step=0.05)
        self.beta = float_spin(lim["beta"], d.beta, decimals=2, step=0.1)
        self.prior = choice_combo(PRIOR_LABELS, d.prior)
        self.prior.setToolTip("The distribution the adversarial autoencoder pushes its codes towards; samples "
                              "in the Sampling tab are drawn from it.")
        self.code_size_label = QLabel("Code size")
        model_box = QGroupBox("Model")
        form = QFormLayout(model_box)
        form.addRow("Kind", self.model_kind)
        form.addRow(self.code_size_label, self.code_size)
        form.addRow("Conv filters", self.filters)
        form.addRow("Layers (residual)", self.depth)
        form.addRow("L1 weight", self.l1_weight)
        form.addRow("Beta (KL weight)", self.beta)
        form.addRow("Prior", self.prior)
        form.addRow(self.denoising)
        form.addRow("Noise factor", self.noise_factor)

        self.epochs = int_spin(lim["epochs"], d.epochs)
        self.batch_size = int_spin(lim["batch_size"], d.batch_size, step=16)
        self.learning_rate = float_spin(lim["learning_rate"], d.learning_rate, decimals=6, step=5e-4)
        self.cosine = QCheckBox("Cosine learning-rate decay")
        self.cosine.setChecked(d.lr_schedule == "cosine")
        self.cosine.setToolTip("Lower the learning rate smoothly to 5% over the run; reaches a lower loss sooner.")
        self.loss = choice_combo(LOSS_LABELS, d.loss)
        self.loss.setToolTip("Binary cross-entropy suits images in [0, 1]; mean squared error suits any data.")
        self.patience = int_spin(lim["early_stopping_patience"], d.early_stopping_patience)
        self.patience.setSpecialValueText("off")
        self.validation = float_spin(lim["validation_fraction"], d.validation_fraction, decimals=2, step=0.05)
        self.validation.setMinimum(0.01)
        self.seed = int_spin(lim["seed"], d.seed)
        self.distribute = QCheckBox("Train on all visible GPUs (MirroredStrategy)")
        self.distribute.setToolTip("tf.distribute.MirroredStrategy: one model replica per GPU, gradients summed; the "
                                   "batch size is the global batch. Needs two or more GPUs.")
        train_box = QGroupBox("Training")
        form = QFormLayout(train_box)
        for label, widget in (("Epochs", self.epochs), ("Batch size", self.batch_size),
                              ("Learning rate", self.learning_rate), ("", self.cosine), ("Loss", self.loss),
                              ("Early stopping patience", self.patience), ("Validation fraction", self.validation),
                              ("Seed", self.seed), ("", self.distribute)):
            form.addRow(label, widget)

        self.start_button = QPushButton("Start training")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current batch and keep the best model so far.")
        self.stop_button.clicked.connect(self.stop)
        self.save_button = QPushButton("Save model…")
        self.save_button.clicked.connect(self._save_model)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.stop_button, self.save_button):
            buttons.addWidget(b)

        controls = QWidget()
        column = QVBoxLayout(controls)
        for box in (data_box, model_box, train_box):
            column.addWidget(box)
        column.addLayout(buttons)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(controls)
        scroll.setMinimumWidth(340)

        self.progress = QProgressBar()
        self.progress.setFormat("idle")
        self.progress.setValue(0)
        self.progress_label = QLabel("Press Start training to train on the built-in MNIST digits.")
        self.progress_label.setWordWrap(True)
        # Two lines always: a label that changes height would resize (and fully redraw) both plots.
        self.progress_label.setMinimumHeight(2 * self.progress_label.fontMetrics().lineSpacing() + 4)
        self.loss_plot = LossPlot(smoothing=0.6)  # batch points are already means over >= 0.1 s
        self.preview = ImageGrid()
        plots = QSplitter(Qt.Vertical)
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.preview)
        right = QWidget()
        right_column = QVBoxLayout(right)
        right_column.addWidget(self.progress)
        self.log_scale = QCheckBox("Log-scale loss axis")
        self.log_scale.toggled.connect(self.loss_plot.set_log_scale)
        label_row = QHBoxLayout()
        label_row.addWidget(self.progress_label, 1)
        label_row.addWidget(self.log_scale)
        right_column.addLayout(label_row)
        right_column.addWidget(plots, 1)

        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(scroll)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

        for signal in (self.data_kind.currentIndexChanged, self.model_kind.currentIndexChanged,
                       self.denoising.toggled):
            signal.connect(self._sync_enabled)
        self.model_kind.currentIndexChanged.connect(self._on_model_kind_changed)

    @Slot()
    def _on_model_kind_changed(self) -> None:
        """A residual denoiser only makes sense on noisy inputs with an MSE loss: set those up.
        A VAE's loss is the ELBO, which is built on binary cross-entropy."""
        kind = self.model_kind.currentData()
        if kind == "residual":
            self.denoising.setChecked(True)
            if self.noise_factor.value() > 0.4:
                self.noise_factor.setValue(0.1)  # sigma 25 on a 0-255 scale
            set_choice(self.loss, "mse")
        elif kind in VAE_KINDS:
            set_choice(self.loss, "bce")

    @Slot()
    def _sync_enabled(self) -> None:
        kind = self.data_kind.currentData()
        running = self.runner.is_running()
        self.data_path.setEnabled(kind in PATH_KINDS)
        self.browse.setEnabled(kind in PATH_KINDS)
        self.image_size.setEnabled(kind in ("folder", "patches"))
        self.color.setEnabled(kind in ("folder", "patches"))
        self.validation.setEnabled(kind in ("folder", "patches", "array"))
        model = self.model_kind.currentData()
        self.filters.setEnabled(model in ("conv", "residual"))
        self.depth.setEnabled(model == "residual")
        self.l1_weight.setEnabled(model == "sparse")
        self.beta.setEnabled(model in VAE_KINDS)
        self.prior.setEnabled(model == "aae")
        self.loss.setEnabled(model not in VAE_KINDS)  # the ELBO needs binary cross-entropy
        self._sync_code_size(model in GENERATIVE_KINDS)
        self.noise_factor.setEnabled(self.denoising.isChecked())
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.save_button.setEnabled(not running and self.session.model is not None)

    def _sync_code_size(self, generative: bool) -> None:
        """For VAE and AAE models the code is the latent space: say so, and allow its range."""
        lim = TrainConfig.LIMITS["code_size"]
        low, high = LATENT_RANGE if generative else (lim.low, lim.high)
        self.code_size_label.setText("Latent size" if generative else "Code size")
        self.code_size.setRange(int(low), int(high))
        self.code_size.setToolTip(
            f"Dimensions of the latent space (2 shows the latent plane as a manifold in the Sampling tab).\n"
            f"Allowed: {low} to {high}." if generative else f"{lim.help}\nAllowed: {lim.low:g} to {lim.high:g}.")

    @Slot()
    def _browse(self) -> None:
        kind = self.data_kind.currentData()
        if PATH_KINDS.get(kind) == "folder":
            path = QFileDialog.getExistingDirectory(self, "Choose a folder of images", self.data_path.text())
        else:
            path, _ = QFileDialog.getOpenFileName(self, "Choose a data file", self.data_path.text(),
                                                  FILE_FILTERS.get(kind, "All files (*)"))
        if path:
            self.data_path.setText(path)

    # ----- configs ------------------------------------------------------------------
    def data_spec(self) -> DataSpec:
        return DataSpec(kind=self.data_kind.currentData(), path=self.data_path.text().strip(),
                        image_size=self.image_size.value(), color=self.color.currentData(),
                        validation_fraction=self.validation.value(), seed=self.seed.value())

    def train_config(self) -> TrainConfig:
        return TrainConfig(
            model_kind=self.model_kind.currentData(), code_size=self.code_size.value(), epochs=self.epochs.value(),
            batch_size=self.batch_size.value(), learning_rate=self.learning_rate.value(), loss=self.loss.currentData(),
            noise_factor=self.noise_factor.value() if self.denoising.isChecked() else 0.0,
            l1_weight=self.l1_weight.value(), validation_fraction=self.validation.value(),
            early_stopping_patience=self.patience.value(), seed=self.seed.value(),
            lr_schedule="cosine" if self.cosine.isChecked() else "constant", filters=self.filters.value(),
            depth=self.depth.value(), beta=self.beta.value(), prior=self.prior.currentData())

    def apply_config(self, config: TrainConfig) -> None:
        set_choice(self.model_kind, config.model_kind)
        set_choice(self.loss, config.loss)
        set_choice(self.prior, config.prior)
        self._sync_code_size(config.generative)  # the latent range before the value
        for box, value in ((self.code_size, config.code_size), (self.epochs, config.epochs),
                           (self.batch_size, config.batch_size), (self.learning_rate, config.learning_rate),
                           (self.l1_weight, config.l1_weight), (self.validation, config.validation_fraction),
                           (self.patience, config.early_stopping_patience), (self.seed, config.seed),
                           (self.filters, config.filters), (self.depth, config.depth), (self.beta, config.beta)):
            box.setValue(value)
        self.denoising.setChecked(config.noise_factor > 0)
        if config.noise_factor > 0:
            self.noise_factor.setValue(config.noise_factor)
        self.cosine.setChecked(config.lr_schedule == "cosine")

    # ----- run ----------------------------------------------------------------------
    @Slot()
    def start(self) -> None:
        if self.runner.is_running():
            self.status_changed.emit("Training is already running; stop it first.")
            return
        try:
            spec, config = self.data_spec(), self.train_config()
        except ConfigError as exc:
            QMessageBox.warning(self, "Check the settings", str(exc))
            return
        self._begin(train_job(spec, config, self.store, distribute="mirrored" if self.distribute.isChecked()
                              else "default"), config, "Training started.")

    @property
    def store(self):
        """The run store every training is recorded in (created on first use)."""
        if self._store is None:
            from engine.training.runs import RunStore

            self._store = RunStore()
        return self._store

    def _begin(self, job, config: TrainConfig, message: str) -> None:
        self._config = config
        self._epoch_seconds.clear()
        self.loss_plot.reset(f"{MODEL_LABELS[config.model_kind]}")
        self.preview.clear_images()
        self.progress.setRange(0, 0)
        self.progress.setFormat("starting…")
        self.runner.start(job, "training")
        self._sync_enabled()
        self.status_changed.emit(message)

    def resume(self, run) -> bool:
        """Continue a recorded run from its last checkpoint, with its settings and data."""
        import dataclasses

        if self.runner.is_running():
            self.status_changed.emit("Training is already running; stop it first.")
            return False
        try:
            config = TrainConfig.from_dict(run.config)
            fields = {f.name for f in dataclasses.fields(DataSpec)}
            spec = DataSpec(**{k: v for k, v in run.data.items() if k in fields})
        except (ConfigError, TypeError) as exc:
            QMessageBox.warning(self, "Cannot resume", f"Run {run.id} has settings this version cannot use: {exc}")
            return False
        self.apply_config(config)
        self._begin(train_job(spec, config, self.store, resume=run), config, f"Resuming run {run.id}.")
        return True

    @Slot()
    def stop(self) -> None:
        if self.runner.is_running():
            self.runner.stop()
            self.progress_label.setText("Stopping after the current batch…")

    @Slot(object)
    def _on_event(self, event) -> None:
        if isinstance(event, Progress):
            self.progress_label.setText(event.message)
        elif isinstance(event, Started):
            self._steps = max(1, event.steps_per_epoch)
            self.progress.setRange(0, event.total_epochs * self._steps)
            self.progress.setValue(0)
            self.loss_plot.set_total_epochs(event.total_epochs)
            self.progress_label.setText(event.description)
            self.data_info.setText(event.description.split(" on ", 1)[-1])
            self._epoch_started = time.monotonic()
        elif isinstance(event, BatchEnded):
            self.loss_plot.add_batch(event)
            self._show_progress(event.epoch, event.step)
        elif isinstance(event, EpochEnded):
            self._epoch_seconds.append(event.seconds)
            self._epoch_started = time.monotonic()
            self.loss_plot.add_epoch(event)
            self._show_progress(event.epoch + 1, 0)
        elif isinstance(event, PreviewReady):
            self._show_preview(event)

    def _show_progress(self, epoch: int, step: int) -> None:
        total = self.progress.maximum()
        done = min(total, epoch * self._steps + step)
        self.progress.setValue(done)
        epochs = max(1, total // self._steps)
        shown_epoch = min(epochs, epoch + 1)
        eta = ""
        if self._epoch_seconds:
            per_epoch = sum(self._epoch_seconds) / len(self._epoch_seconds)
            left = max(0.0, (total - done) / self._steps * per_epoch)
            eta = f", about {_duration(left)} left"
        self.progress.setFormat(f"epoch {shown_epoch}/{epochs}  %p%{eta}")

    def _show_preview(self, event: PreviewReady) -> None:
        errors = ((event.targets - event.outputs) ** 2).reshape(len(event.targets), -1).mean(axis=1)
        if event.inputs.ndim != 4:  # tables have no picture to show
            return
        rows, titles = [event.targets, event.outputs], ["original", "reconstructed"]
        if self._config.denoising:
            rows.insert(1, event.inputs)
            titles.insert(1, "noisy input")
        self.preview.set_images(rows, titles, [f"{e:.4f}" for e in errors])

    @Slot(object)
    def _on_succeeded(self, outcome) -> None:
        result = outcome.result
        epochs = len(result.history.get("loss", []))
        origin = (f"trained here: {MODEL_LABELS[result.config.model_kind]}, {epochs} epoch(s), "
                  f"on {outcome.dataset.source.split(' — ')[0]}")
        self.session.set_dataset(outcome.dataset)
        self.session.set_model(result.model, origin, result.config)
        self.loss_plot.mark_best(result.best_epoch)
        message = result.message + (f" Recorded as run {outcome.run.id} (Runs tab)." if outcome.run else "")
        self.progress_label.setText(message)
        self.status_changed.emit(message)
        if outcome.dataset.skipped:
            QMessageBox.information(self, "Some files were skipped",
                                    f"{len(outcome.dataset.skipped)} file(s) could not be read and were skipped:\n\n"
                                    + "\n".join(outcome.dataset.skipped[:20]))

    @Slot(str, str)
    def _on_failed(self, message: str, _detail: str) -> None:
        self.progress_label.setText(f"Training failed: {message}")
        self.status_changed.emit(f"Training failed: {message}")
        QMessageBox.warning(self, "Training failed", message)

    @Slot()
    def _on_finished(self) -> None:
        self.progress.setRange(0, max(1, self.progress.maximum()))
        if self.progress.format() == "starting…":
            self.progress.setFormat("idle")
        self._sync_enabled()

    @Slot()
    def _save_model(self) -> None:
        if self.session.model is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save model", "autoencoder.keras", "Keras model (*.keras)")
        if path:
            self.save_model_to(path)

    def save_model_to(self, path: str) -> bool:
        from engine.models.files import ModelFileError, save_model

        if not path.endswith(".keras"):
            path += ".keras"
        try:
            save_model(self.session.model, path)
        except ModelFileError as exc:
            QMessageBox.warning(self, "Could not save the model", str(exc))
            return False
        self.status_changed.emit(f"Model saved to {path}.")
        return True

    # ----- settings -----------------------------------------------------------------
    def save_settings(self, settings: QSettings) -> None:
        settings.setValue("training/config", self.train_config().to_dict())
        settings.setValue("training/data", self.data_spec_values())

    def data_spec_values(self) -> dict:
        return {"kind": self.data_kind.currentData(), "path": self.data_path.text(),
                "image_size": self.image_size.value(), "color": self.color.currentData()}

    def restore_settings(self, settings: QSettings) -> None:
        try:
            values = settings.value("training/config")
            if isinstance(values, dict):
                self.apply_config(TrainConfig.from_dict(values))
            data = settings.value("training/data")
            if isinstance(data, dict):
                set_choice(self.data_kind, str(data.get("kind", "mnist")))
                self.data_path.setText(str(data.get("path", "")))
                self.image_size.setValue(int(data.get("image_size", 28)))
                set_choice(self.color, str(data.get("color", "grey")))
        except (ConfigError, TypeError, ValueError):
            pass  # settings from another version: keep the defaults
        self._sync_enabled()


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    return f"{seconds // 60} min {seconds % 60:02d} s"
