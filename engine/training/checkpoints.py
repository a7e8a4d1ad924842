"""A run's checkpoint: the model with its optimizer state, and the training state (epoch, history, best
epoch and its weights) inside the same .keras zip, written atomically; and restoring it into a freshly
built model, with no code deserialised."""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from engine.core.errors import RunError
from engine.core.fileio import atomic_path, json_safe


CHECKPOINT_STATE = "autoencoder_studio/state.json"  # training state, inside checkpoint.keras


CHECKPOINT_BEST = "autoencoder_studio/best_weights.npz"  # kept best weights when they differ from the current


def write_checkpoint(model, path: Path, state: dict[str, Any], best_weights: list[np.ndarray] | None) -> None:
    """model.save (weights + optimizer state) with the training state inside the same zip, atomically."""
    with atomic_path(path) as tmp:
        model.save(tmp)
        with zipfile.ZipFile(tmp, "a") as archive:
            archive.writestr(CHECKPOINT_STATE, json.dumps(json_safe(state)))
            if best_weights is not None:
                buffer = io.BytesIO()
                np.savez(buffer, *best_weights)
                archive.writestr(CHECKPOINT_BEST, buffer.getvalue())


def restore_checkpoint(model, path: Path) -> dict[str, Any]:
    """Load a checkpoint's weights and optimizer state(s) into a freshly built and compiled `model`
    (no code is deserialised); returns the state with 'best_weights' added."""
    if not path.is_file() or not zipfile.is_zipfile(path):
        raise RunError(f"{path} is missing or not a complete checkpoint; the run cannot be resumed.")
    with zipfile.ZipFile(path) as archive:
        state = json.loads(archive.read(CHECKPOINT_STATE))
        best = _read_npz(archive.read(CHECKPOINT_BEST)) if CHECKPOINT_BEST in archive.namelist() else None
    for optimizer, variables in optimizers_of(model):
        if not optimizer.built:
            optimizer.build(variables)
    try:
        model.load_weights(path)
    except Exception as exc:  # shape or structure mismatch: other data or another program version
        raise RunError(f"The checkpoint does not fit this model and data ({exc}); was the data changed?") from exc
    state["best_weights"] = best if best is not None else model.get_weights()
    return state


def _read_npz(raw: bytes) -> list[np.ndarray]:
    with np.load(io.BytesIO(raw), allow_pickle=False) as arrays:
        return [arrays[f"arr_{i}"] for i in range(len(arrays.files))]


def optimizers_of(model) -> list[tuple[Any, list]]:
    """Each optimizer with the variables its train step applies it to (the order fixes its slots)."""
    from engine.models.generative import VAE, AAE

    if isinstance(model, (VAE, AAE)):  # their train_step applies it to encoder + decoder only
        found = [(model.optimizer, model.encoder.trainable_variables + model.decoder.trainable_variables)]
    else:
        found = [(model.optimizer, model.trainable_variables)]
    if getattr(model, "discriminator_optimizer", None) is not None:  # AAE
        found += [(model.discriminator_optimizer, model.discriminator.trainable_variables),
                  (model.generator_optimizer, model.encoder.trainable_variables)]
    return found
