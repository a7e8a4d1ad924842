"""Small immutable events the engine emits while it works; the GUI and CLI only read them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np


@dataclass(frozen=True)
class Started:
    total_epochs: int
    steps_per_epoch: int
    description: str  # one line saying what trains on what
    data: str = ""  # the data's summary (engine.data.dataset.Dataset.summary)
    resumed_after: int | None = None  # epochs already done when a recorded run continues
    history: dict | None = None  # and their History.history, to show the whole run from its first epoch


@dataclass(frozen=True)
class BatchEnded:
    epoch: int  # 0-based
    step: int  # steps done in this epoch
    steps_per_epoch: int
    loss: float


@dataclass(frozen=True)
class EpochEnded:
    epoch: int  # 0-based
    total_epochs: int
    logs: dict[str, float]  # 'loss', 'val_loss' and any extra metric
    seconds: float
    improved: bool


@dataclass(frozen=True)
class PreviewReady:
    epoch: int
    inputs: np.ndarray  # what the model saw (noisy for denoising), (n, h, w, c) in [0, 1]
    outputs: np.ndarray
    targets: np.ndarray  # clean originals


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    message: str = ""


@dataclass(frozen=True)
class Finished:
    history: dict[str, list[float]]
    best_epoch: int | None  # 0-based; None when no epoch finished
    best_val_loss: float | None
    stopped_by_user: bool
    seconds: float
    message: str


@dataclass(frozen=True)
class HealthWarning:
    """Training runs but is going wrong (engine.training.health): what, since which epoch, and the fix."""
    check: str  # e.g. "baseline"
    epoch: int  # 0-based
    message: str  # what is wrong and what to do


@dataclass(frozen=True)
class SettingsChanged:
    """A running training's epochs or learning rate changed (engine.training.control), from the next epoch."""
    epoch: int  # 0-based: the epoch after which it applies
    total_epochs: int
    learning_rate: float
    message: str


Event = (Started | BatchEnded | EpochEnded | PreviewReady | Progress | Finished
         | HealthWarning | SettingsChanged)  # a failure is the job's exception
EventCallback = Callable[[Any], None]


def ignore_event(_event: Any) -> None:
    """Default callback for headless use."""
