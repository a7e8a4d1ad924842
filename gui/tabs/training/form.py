"""The Training tab's settings form: data, model and training boxes, built from the engine's limits
(engine.core.config), read back as a DataSpec and a TrainConfig, and kept in the settings."""
from __future__ import annotations

from PySide6.QtCore import QSettings, Slot
from PySide6.QtWidgets import (QCheckBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit,
                               QPushButton, QVBoxLayout, QWidget)

from engine.core.config import (DATA_LABELS, GENERATIVE_KINDS, LATENT_RANGE, LOSS_LABELS, MODEL_LABELS,
                                PRIOR_LABELS, SELF_SUPERVISED_KINDS, SEQUENCE_KINDS, VAE_KINDS, DataSpec, Limits,
                                TrainConfig)
from engine.core.errors import ConfigError
from gui.common import file_dialogs
from gui.common.forms import choice_combo, float_spin, int_spin, set_choice

PATH_KINDS = {"mnist_file": "file", "folder": "folder", "patches": "folder", "array": "file"}
FILE_FILTERS = {"mnist_file": "MNIST files (*.npz *.gz *ubyte);;All files (*)",
                "array": "Arrays (*.npy *.npz);;All files (*)"}
IMAGE_SIZE = Limits(4, 512, "Images are resized to this many pixels a side.")


class TrainingForm(QWidget):
    """Every setting of a training; `data_spec()` and `train_config()` read them (ConfigError when wrong)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        column = QVBoxLayout(self)
        for box in (self._data_box(), self._model_box(), self._training_box()):
            column.addWidget(box)
        for signal in (self.data_kind.currentIndexChanged, self.model_kind.currentIndexChanged,
                       self.denoising.toggled):
            signal.connect(self.sync_enabled)
        self.model_kind.currentIndexChanged.connect(self._on_model_kind_changed)
        self.sync_enabled()

    # ----- boxes --------------------------------------------------------------------
    def _data_box(self) -> QGroupBox:
        self.data_kind = choice_combo(DATA_LABELS, "mnist")
        self.data_kind.setToolTip("Where the training data comes from. The built-in MNIST subset works offline.")
        self.data_path = QLineEdit()
        self.data_path.setPlaceholderText("file or folder")
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.data_path, 1)
        path_row.addWidget(self.browse)
        self.image_size = int_spin(IMAGE_SIZE, 28)
        self.color = choice_combo({"grey": "Grey", "rgb": "Colour (RGB)"}, "grey")
        self.color.setToolTip("Keep images as grey or as RGB colour.")
        self.data_info = QLabel("Data is loaded when training starts.")
        self.data_info.setWordWrap(True)
        box = QGroupBox("Data")
        form = QFormLayout(box)
        for label, field in (("Source", self.data_kind), ("Path", path_row), ("Image / patch size", self.image_size),
                             ("Colour", self.color)):
            form.addRow(label, field)
        form.addRow(self.data_info)
        return box

    def _model_box(self) -> QGroupBox:
        d, lim = TrainConfig(), TrainConfig.LIMITS
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
        box = QGroupBox("Model")
        form = QFormLayout(box)
        for label, field in (("Kind", self.model_kind), (self.code_size_label, self.code_size),
                             ("Conv filters", self.filters), ("Layers (residual)", self.depth),
                             ("L1 weight", self.l1_weight), ("Beta (KL weight)", self.beta), ("Prior", self.prior)):
            form.addRow(label, field)
        form.addRow(self.denoising)
        form.addRow("Noise factor", self.noise_factor)
        return box

    def _training_box(self) -> QGroupBox:
        d, lim = TrainConfig(), TrainConfig.LIMITS
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
        box = QGroupBox("Training")
        form = QFormLayout(box)
        for label, widget in (("Epochs", self.epochs), ("Batch size", self.batch_size),
                              ("Learning rate", self.learning_rate), ("", self.cosine), ("Loss", self.loss),
                              ("Early stopping patience", self.patience), ("Validation fraction", self.validation),
                              ("Seed", self.seed), ("", self.distribute)):
            form.addRow(label, widget)
        return box

    # ----- what is enabled ------------------------------------------------------------
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
        elif kind in SELF_SUPERVISED_KINDS:  # a folder of noisy photos, 128-pixel crops, a U-Net's settings
            self.denoising.setChecked(False)
            set_choice(self.loss, "mse")
            if self.data_kind.currentData() not in ("folder", "patches"):
                set_choice(self.data_kind, "folder")
            for box, value, high in ((self.image_size, 128, None), (self.batch_size, 8, 32), (self.filters, 32, 64),
                                     (self.learning_rate, 1e-3, 1e-3)):
                if high is None and box.value() < 64 or high is not None and box.value() > high:
                    box.setValue(value)

    @Slot()
    def sync_enabled(self) -> None:
        kind = self.data_kind.currentData()
        self.data_path.setEnabled(kind in PATH_KINDS)
        self.browse.setEnabled(kind in PATH_KINDS)
        self.image_size.setEnabled(kind in ("folder", "patches"))
        self.color.setEnabled(kind in ("folder", "patches"))
        model = self.model_kind.currentData()
        self_supervised = model in SELF_SUPERVISED_KINDS
        self.filters.setEnabled(model in ("conv", "residual") or self_supervised)
        self.code_size.setEnabled(not self_supervised)
        self.validation.setEnabled(kind in ("folder", "patches", "array") and not self_supervised)
        self.denoising.setText("Add noise to clean images (the clean copies only score the previews)"
                               if self_supervised else "Denoising (train on noisy inputs, clean targets)")
        self.depth.setEnabled(model == "residual")
        self.l1_weight.setEnabled(model == "sparse")
        self.beta.setEnabled(model in VAE_KINDS)
        self.prior.setEnabled(model == "aae")
        self.loss.setEnabled(model not in VAE_KINDS and not self_supervised)  # the ELBO needs cross-entropy
        self._sync_code_size(model in GENERATIVE_KINDS)
        self.noise_factor.setEnabled(self.denoising.isChecked())

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
            path = file_dialogs.folder(self, "Choose a folder of images", "data", self.data_path.text())
        else:
            path = file_dialogs.open_file(self, "Choose a data file", "data", FILE_FILTERS.get(kind, "All files (*)"),
                                          self.data_path.text())
        if path:
            self.data_path.setText(path)

    # ----- settings <-> form ------------------------------------------------------------
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

    def save_settings(self, settings: QSettings) -> None:
        settings.setValue("training/config", self.train_config().to_dict())
        settings.setValue("training/data", {"kind": self.data_kind.currentData(), "path": self.data_path.text(),
                                            "image_size": self.image_size.value(), "color": self.color.currentData()})

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
        self.sync_enabled()
