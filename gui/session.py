"""What the tabs share: the current model, where it came from, the current data, and the data source the
user has chosen. Tabs talk through this object and its signals, never through each other."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

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
        self.data_choice: Callable[[], Any] | None = None  # -> the DataSpec chosen in the data settings

    def set_model(self, model: Any, origin: str, train_config: Any = None) -> None:
        self.model, self.model_origin, self.train_config = model, origin, train_config
        self.model_changed.emit()

    def set_dataset(self, dataset: Any) -> None:
        self.dataset = dataset
        self.dataset_changed.emit()

    def chosen_data(self):
        """The DataSpec the user has chosen (engine.core.config; ConfigError when the choice is incomplete)."""
        from engine.core.config import DataSpec

        return self.data_choice() if self.data_choice is not None else DataSpec()

    def save_model(self, path: str | Path) -> Path:
        """Save the model in use as a .keras file (ModelError saying why it could not be written)."""
        from engine.models.files import save_model

        path = Path(path)
        if path.suffix != ".keras":
            path = path.with_name(path.name + ".keras")
        return save_model(self.model, path)

    @property
    def noise_factor(self) -> float:
        return float(getattr(self.train_config, "noise_factor", 0.0) or 0.0)
