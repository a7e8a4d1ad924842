"""The Anomaly tab's model settings: the kinds that fit the data kind, with that kind's defaults
(engine.anomaly.detector.default_config), read back as a TrainConfig."""
from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QComboBox, QFormLayout, QGroupBox

from engine.anomaly.detector import KIND_MODELS, default_config
from engine.core.config import MODEL_LABELS, TrainConfig
from gui.common.forms import float_spin, int_spin, set_choice

WIDTH_KINDS = ("conv", "conv1d", "transformer")  # the kinds whose filters / width setting counts


class DetectorModelBox(QGroupBox):
    def __init__(self):
        super().__init__("Model")
        lim = TrainConfig.LIMITS
        self.model_kind = QComboBox()
        self.code_size = int_spin(lim["code_size"], 4)
        self.filters = int_spin(lim["filters"], 32)
        self.epochs = int_spin(lim["epochs"], 40)
        self.batch_size = int_spin(lim["batch_size"], 32, step=16)
        self.learning_rate = float_spin(lim["learning_rate"], 1e-3, decimals=6, step=5e-4)
        self.seed = int_spin(lim["seed"], 0)
        self.model_kind.currentIndexChanged.connect(self._sync_enabled)
        form = QFormLayout(self)
        for label, widget in (("Kind", self.model_kind), ("Code size", self.code_size),
                              ("Filters / width", self.filters), ("Epochs", self.epochs),
                              ("Batch size", self.batch_size), ("Learning rate", self.learning_rate),
                              ("Seed", self.seed)):
            form.addRow(label, widget)

    def offer(self, kind: str) -> None:
        """The model kinds and default settings for data of `kind` (table, image or sequence)."""
        current = self.model_kind.currentData()
        self.model_kind.clear()
        for key in KIND_MODELS[kind]:
            self.model_kind.addItem(MODEL_LABELS[key], key)
        set_choice(self.model_kind, current)
        defaults = default_config(kind)
        for box, value in ((self.code_size, defaults.code_size), (self.epochs, defaults.epochs),
                           (self.batch_size, defaults.batch_size), (self.learning_rate, defaults.learning_rate)):
            box.setValue(value)

    def train_config(self, kind: str) -> TrainConfig:
        return default_config(kind, self.model_kind.currentData(), code_size=self.code_size.value(),
                              filters=self.filters.value(), epochs=self.epochs.value(),
                              batch_size=self.batch_size.value(), learning_rate=self.learning_rate.value(),
                              seed=self.seed.value())

    @Slot()
    def _sync_enabled(self) -> None:
        self.filters.setEnabled(self.model_kind.currentData() in WIDTH_KINDS)
