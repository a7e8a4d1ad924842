"""The changes a user asks of a running training (more or fewer epochs, a new learning rate), from any
thread. Light on purpose, without Keras: the GUI thread creates one when Start is pressed, perhaps before
TensorFlow has been imported (engine.training.control applies them)."""
from __future__ import annotations

import threading
from typing import Any

from engine.core.config import TrainConfig
from engine.core.errors import ConfigError


class TrainingControl:
    """The changes asked for a running training; the newest of each setting wins."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, Any] = {}

    def request(self, *, epochs: int | None = None, learning_rate: float | None = None) -> None:
        """Ask for `epochs` in all and/or a new `learning_rate` from the next epoch; ConfigError when out of
        the settings' limits."""
        asked = {k: v for k, v in (("epochs", epochs), ("learning_rate", learning_rate)) if v is not None}
        for name, value in asked.items():
            limits = TrainConfig.LIMITS[name]
            if not limits.low <= value <= limits.high:
                raise ConfigError(f"{name.replace('_', ' ').capitalize()} must be between {limits.low:g} and "
                                  f"{limits.high:g}; got {value:g}.")
        with self._lock:
            self._pending.update(asked)

    def take(self) -> dict[str, Any]:
        with self._lock:
            pending, self._pending = self._pending, {}
        return pending
