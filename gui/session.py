"""What the tabs share: the current model, where it came from, and the current data."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal


class Session(QObject):
    model_changed = Signal()
    dataset_changed = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.model: Any = None  # a keras.Model, only touched by the GUI when no job holds it
        self.model_origin = ""  # e.g. "trained here: dense on MNIST" or a file path
        self.train_config: Any = None  # TrainConfig of the run that made the model, if known
        self.dataset: Any = None

    def set_model(self, model: Any, origin: str, train_config: Any = None) -> None:
        self.model, self.model_origin, self.train_config = model, origin, train_config
        self.model_changed.emit()

    def set_dataset(self, dataset: Any) -> None:
        self.dataset = dataset
        self.dataset_changed.emit()

    @property
    def noise_factor(self) -> float:
        return float(getattr(self.train_config, "noise_factor", 0.0) or 0.0)
