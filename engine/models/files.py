"""Saving and opening models: atomic writes, `safe_mode=True`, clear reasons for refusals."""
from __future__ import annotations

import zipfile
from pathlib import Path

import keras
import numpy as np

from engine.core.fileio import atomic_path
from engine.models.generative import AAE, VAE
from engine.models.sequence import PositionEmbedding

# Importing engine.models.generative and engine.models.sequence registers the app's own classes (package
# "autoencoder_studio"), so keras.saving.load_model(..., safe_mode=True) can rebuild them in any process.
REGISTERED_CLASSES = (VAE, AAE, PositionEmbedding)


class ModelFileError(ValueError):
    """A model file could not be opened or saved; the message says why and what to do."""


def save_model(model: keras.Model, path: str | Path) -> Path:
    """Save as .keras through a temporary file, so a crash never leaves half a file."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ModelFileError(f"Save models with the .keras extension (got {path.name!r}).")
    try:
        with atomic_path(path) as tmp:
            model.save(tmp)
    except (PermissionError, FileNotFoundError, OSError) as exc:
        raise ModelFileError(f"Could not write {path}: {exc.strerror or exc}. Choose another folder.") from exc
    return path


def load_model(path: str | Path) -> keras.Model:
    """Open a .keras file with safe_mode on; any failure becomes a ModelFileError saying why."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path} does not exist or is not a file.")
    if path.suffix != ".keras":
        raise ModelFileError(f"{path.name} is not a .keras file. Autoencoder Studio opens models saved in Keras' "
                             f".keras format (legacy .h5 files can hold unchecked code; re-save them as .keras).")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path.name} is not a valid .keras file (it is not a zip archive): "
                             f"it may be truncated or corrupt. Save the model again.")
    try:
        model = keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:  # Keras raises many types; the user needs one clear reason
        raise ModelFileError(_reason(path, exc)) from exc
    if not isinstance(model, keras.Model):
        raise ModelFileError(f"{path.name} holds a {type(model).__name__}, not a model.")
    return model


def _reason(path: Path, exc: Exception) -> str:
    text = str(exc)
    if "Lambda" in text or "safe_mode" in text:
        return (f"{path.name} was refused: it contains a Lambda layer, i.e. Python code that would run when the "
                f"model loads. Models are opened in Keras' safe mode so that a file cannot run code on your machine. "
                f"Rebuild the model without Lambda layers.")
    if "Could not locate" in text or "Unknown layer" in text or "not found" in text.lower():
        return f"{path.name} uses a layer or object that Autoencoder Studio does not know: {text.splitlines()[0]}"
    if isinstance(exc, (zipfile.BadZipFile, OSError, KeyError)):
        return f"{path.name} is damaged ({type(exc).__name__}: {text}). Save the model again."
    return f"{path.name} could not be opened: {text.splitlines()[0] if text else type(exc).__name__}"


def sample_shape(model: keras.Model) -> tuple[int | None, ...]:
    return tuple(model.input_shape[1:])


def check_fits(model: keras.Model, data_shape: tuple[int, ...]) -> None:
    """Raise ModelFileError when samples of `data_shape` cannot go through `model`."""
    expected = sample_shape(model)
    ok = len(expected) == len(data_shape) and all(e is None or e == d for e, d in zip(expected, data_shape))
    if not ok:
        shown = "x".join("any" if e is None else str(e) for e in expected)
        raise ModelFileError(f"This model takes samples of {shown}, but the data has "
                             f"{'x'.join(map(str, data_shape))}. Load matching data or train a new model on it.")


def predict(model: keras.Model, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Model outputs in inference mode, in batches, as a new float32 array."""
    parts = [np.asarray(model(x[i:i + batch_size], training=False)) for i in range(0, len(x), batch_size)]
    return np.concatenate(parts).astype(np.float32) if parts else np.empty((0,) + x.shape[1:], np.float32)


def reconstruction_errors(x: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """Per-sample mean squared error between targets and reconstructions."""
    axes = tuple(range(1, x.ndim))
    return np.mean((x - outputs) ** 2, axis=axes).astype(np.float32)
