"""Saving and opening models: atomic writes, `safe_mode=True`, clear reasons for refusals."""
from __future__ import annotations

import zipfile
from pathlib import Path

import keras

from engine.core.errors import ModelError
from engine.core.fileio import atomic_path, file_problem
from engine.models.generative import AAE, VAE
from engine.models.sequence import PositionEmbedding

# Importing engine.models.generative and engine.models.sequence registers the app's own classes (package
# "autoencoder_studio"), so keras.saving.load_model(..., safe_mode=True) can rebuild them in any process.
REGISTERED_CLASSES = (VAE, AAE, PositionEmbedding)


def save_model(model: keras.Model, path: str | Path) -> Path:
    """Save as .keras through a temporary file, so a crash never leaves half a file."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ModelError(f"Save models with the .keras extension (got {path.name!r}).")
    try:
        with atomic_path(path) as tmp:
            model.save(tmp)
    except (PermissionError, FileNotFoundError, OSError) as exc:
        raise ModelError(f"Could not write {path}: {exc.strerror or exc}. Choose another folder.") from exc
    return path


def load_model(path: str | Path) -> keras.Model:
    """Open a .keras file with safe_mode on; any failure becomes a ModelError saying why."""
    path = Path(path)
    problem = file_problem(path)
    if problem:
        raise ModelError(problem)
    if path.suffix != ".keras":
        raise ModelError(f"{path.name} is not a .keras file. Autoencoder Studio opens models saved in Keras' "
                         f".keras format (legacy .h5 files can hold unchecked code; re-save them as .keras).")
    try:  # is_zipfile says False for a file it cannot open: that is not a damaged file
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise ModelError(f"{path.name} cannot be read ({exc.strerror or exc}). Check the file's permissions.") from exc
    if not zipfile.is_zipfile(path):
        raise ModelError(f"{path.name} is not a valid .keras file (it is not a zip archive): "
                         f"it may be truncated or corrupt. Save the model again.")
    try:
        model = keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:  # Keras raises many types; the user needs one clear reason
        raise ModelError(_reason(path, exc)) from exc
    if not isinstance(model, keras.Model):
        raise ModelError(f"{path.name} holds a {type(model).__name__}, not a model.")
    return model


def _reason(path: Path, exc: Exception) -> str:
    text = str(exc)
    if "Lambda" in text or "safe_mode" in text:
        return (f"{path.name} was refused: it contains a Lambda layer, i.e. Python code that would run when the "
                f"model loads. Models are opened in Keras' safe mode so that a file cannot run code on your machine. "
                f"Rebuild the model without Lambda layers.")
    if "Could not locate" in text or "Unknown layer" in text or "not found" in text.lower():
        return f"{path.name} uses a layer or object that Autoencoder Studio does not know: {_first_line(text)}"
    if isinstance(exc, (zipfile.BadZipFile, OSError, KeyError)):
        return f"{path.name} is damaged ({type(exc).__name__}: {text}). Save the model again."
    return f"{path.name} could not be opened: {_first_line(text) if text else type(exc).__name__}"


def _first_line(text: str, limit: int = 240) -> str:
    """Keras' first line, cut short: its messages can carry a whole model config."""
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= limit else line[:limit].rstrip() + "…"


