"""The detector file (.aedet): one zip holding `detector.json` (kind, score kind, threshold, scaler, table
encoding, settings), `model.keras` (opened with safe_mode=True), `train_errors.npy` (the training errors
by the detector's score) and `train_errors_<score>.npy` for its other scores (allow_pickle=False).
A file without a score kind (saved before the app offered a choice) scores by the plain error."""
from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from engine.anomaly.data import AnomalySpec, Scaler
from engine.anomaly.detector import Detector
from engine.anomaly.scores import SCORE_LABELS
from engine.core.config import TrainConfig
from engine.core.errors import ConfigError, DetectorFileError
from engine.core.fileio import atomic_path, file_problem


DETECTOR_SUFFIX = ".aedet"


FORMAT = "autoencoder-studio-detector"


MAX_UNPACKED_BYTES = 4 << 30


def save_detector(detector: Detector, path: str | Path) -> Path:
    """Write model + scaler + threshold + settings as one .aedet file, atomically."""
    path = Path(path)
    if path.suffix != DETECTOR_SUFFIX:
        path = path.with_name(path.name + DETECTOR_SUFFIX)
    meta = {"format": FORMAT, "version": 1, "kind": detector.kind, "threshold": float(detector.threshold),
            "spec": detector.spec.to_dict(), "config": detector.config.to_dict(),
            "scaler": detector.scaler.to_dict() if detector.scaler is not None else None,
            "encoding": detector.encoding, "names": list(detector.names), "metrics": detector.metrics,
            "score": detector.score_kind}
    arrays = {"train_errors.npy": detector.train_errors}
    arrays.update({f"train_errors_{kind}.npy": errors for kind, errors in detector.train_scores.items()
                   if kind != detector.score_kind})
    try:
        with tempfile.TemporaryDirectory() as folder, atomic_path(path) as tmp:
            model_file = Path(folder) / "model.keras"
            detector.model.save(model_file)
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr("detector.json", json.dumps(meta, indent=1))
                z.write(model_file, "model.keras")
                for name, values in arrays.items():
                    z.writestr(name, _npy(values))
    except OSError as exc:
        raise DetectorFileError(f"Could not write {path}: {exc.strerror or exc}. Choose another folder.") from exc
    return path


def load_detector(path: str | Path) -> Detector:
    """Open a .aedet file: the model in Keras safe mode, arrays without pickle; clear reasons on failure."""
    from engine.models.files import load_model
    from engine.core.errors import ModelError

    path = Path(path)
    problem = file_problem(path)
    if problem:
        raise DetectorFileError(problem)
    if not zipfile.is_zipfile(path):
        raise DetectorFileError(f"{path.name} is not a detector file (Autoencoder Studio saves detectors as "
                                f"{DETECTOR_SUFFIX} zip files); it may be another kind of file or damaged.")
    try:
        with zipfile.ZipFile(path) as z, tempfile.TemporaryDirectory() as folder:
            if sum(i.file_size for i in z.infolist()) > MAX_UNPACKED_BYTES:
                raise DetectorFileError(f"{path.name} unpacks to more than 4 GiB; it is not a detector file.")
            meta = json.loads(z.read("detector.json"))
            if meta.get("format") != FORMAT:
                raise DetectorFileError(f"{path.name} is a zip file but not an Autoencoder Studio detector.")
            score_kind = meta.get("score", "error")
            if score_kind not in SCORE_LABELS:
                raise DetectorFileError(f"{path.name} scores by {score_kind!r}, which this version of the app does "
                                        f"not know ({', '.join(SCORE_LABELS)}). Update the app or train it again.")
            train_scores = {kind: _load_npy(z, f"train_errors_{kind}.npy") for kind in SCORE_LABELS
                            if f"train_errors_{kind}.npy" in z.namelist()}
            train_scores[score_kind] = errors = _load_npy(z, "train_errors.npy")
            model_file = Path(folder) / "model.keras"
            model_file.write_bytes(z.read("model.keras"))
            model = load_model(model_file)
        return Detector(model, meta["kind"], float(meta["threshold"]), errors,
                        AnomalySpec.from_dict(meta["spec"]), TrainConfig.from_dict(meta["config"]),
                        Scaler.from_dict(meta["scaler"]) if meta.get("scaler") else None, meta.get("encoding"),
                        tuple(meta.get("names", ())), dict(meta.get("metrics", {})), score_kind, train_scores)
    except DetectorFileError:
        raise
    except ModelError as exc:
        raise DetectorFileError(f"The model inside {path.name} could not be opened: {exc}") from exc
    except (KeyError, ValueError, TypeError, zipfile.BadZipFile, OSError, ConfigError) as exc:
        raise DetectorFileError(f"{path.name} is damaged or from another version ({type(exc).__name__}: "
                                f"{exc}). Train and save the detector again.") from exc


def _npy(values) -> bytes:
    out = io.BytesIO()
    np.save(out, np.asarray(values, np.float32), allow_pickle=False)
    return out.getvalue()


def _load_npy(z: zipfile.ZipFile, name: str) -> np.ndarray:
    return np.load(io.BytesIO(z.read(name)), allow_pickle=False).astype(np.float32)
