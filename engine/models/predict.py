"""Model outputs for many samples: in batches, in inference mode, stoppable between batches. The one
batching loop of the engine (scores, reconstructions, latent codes and export checks all use it)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import numpy as np

if TYPE_CHECKING:
    from engine.core.jobs import JobState

BATCH = 256


def in_batches(fn: Callable[[np.ndarray], Any], x: np.ndarray, batch_size: int = BATCH,
               state: JobState | None = None, what: str = "") -> np.ndarray | tuple[np.ndarray, ...]:
    """fn applied to x batch by batch, the parts joined as float32 (a tuple when fn returns several
    outputs). With `state`: progress after each batch (saying `what`), and Stopped when asked to stop."""
    if batch_size < 1:
        from engine.core.errors import ConfigError

        raise ConfigError(f"batch_size must be at least 1, got {batch_size}.")
    parts: list = []
    for start in range(0, len(x), batch_size):
        if state is not None:
            state.check(f"{what or 'The work'} was stopped.")
        out = fn(x[start:start + batch_size])
        parts.append(tuple(np.asarray(o, np.float32) for o in out) if isinstance(out, (list, tuple))
                     else np.asarray(out, np.float32))
        if state is not None and what:
            state.progress(min(len(x), start + batch_size), len(x), what)
    if not parts:
        return np.empty((0,) + x.shape[1:], np.float32)
    if isinstance(parts[0], tuple):
        return tuple(np.concatenate(p) for p in zip(*parts))
    return np.concatenate(parts)


def predict(model, x: np.ndarray, batch_size: int = BATCH, state: JobState | None = None,
            what: str = "") -> np.ndarray:
    """The model's outputs for x in inference mode, in batches, as a new float32 array."""
    out = in_batches(lambda batch: model(batch, training=False), x, batch_size, state, what)
    if len(x) == 0:
        return np.empty((0,) + tuple(x.shape[1:]), np.float32)
    return out


def reconstruction_errors(x: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """Per-sample mean squared error between targets and reconstructions."""
    axes = tuple(range(1, x.ndim))
    return np.mean((x - outputs) ** 2, axis=axes).astype(np.float32)
