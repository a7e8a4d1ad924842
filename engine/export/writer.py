"""Export a model (whole, encoder or decoder) as .keras, TF SavedModel, TFLite or ONNX.

Every export is written atomically (a temporary file or folder beside the target, renamed
into place only after it has been reloaded and compared with the app's model) and gets a
JSON metadata file: `<target>.json` beside a file, `autoencoder_studio.json` inside a
SavedModel folder. The app's input preprocessing (x / 255 for images, the training
scaler for tables) can be built into the exported graph so it takes raw input.

Generative models (VAE / AAE) are exported along their deterministic path: the encoder
gives the posterior mean (VAE) or the code (AAE), the whole model decodes that mean -
exactly what `model(x)` and `engine.latent.codes.encode_means` compute in the app.

Models with several inputs (the noise-level-aware denoiser: `noisy` and `noise_level`) are exported
whole, with their inputs named in the exported signature and described in the metadata; they are
verified on sample inputs for each (engine.export.inputs).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from engine.core.config import EXPORT_FORMATS, EXPORT_SUFFIXES
from engine.core.errors import ExportError
from engine.core.fileio import atomic_path, atomic_paths, json_safe, new_temp_folder, temp_prefix
from engine.export.formats import (onnx_bytes, onnx_support, run_keras, run_onnx, run_savedmodel, run_tflite, save_tf,
                                   tflite_bytes)
from engine.export.inputs import check_options, inputs_metadata, predict_feed, sample_feed, several_inputs
from engine.export.plans import generative_kind, part_of
from engine.export.preprocessing import NO_PREPROCESSING, Preprocessing, with_preprocessing
from engine.models.guards import fits, shape_text
from engine.models.predict import predict

# Largest accepted |exported - app| (times max(1, largest |output|)); above it nothing is written.
TOLERANCES = {"keras": 1e-5, "savedmodel": 1e-5, "tflite": 1e-3, "onnx": 1e-4}
METADATA_NAME = "autoencoder_studio.json"  # inside a SavedModel folder
APP = "Autoencoder Studio"
SAMPLE_LIMIT = 16  # verification uses at most this many samples
DEFAULT_SAMPLES = 4


# ----------------------------------------------------------------------------- export

@dataclass
class ExportReport:
    path: Path
    format: str
    part: str
    max_abs_diff: float
    metadata_path: Path
    seconds: float
    notes: tuple[str, ...] = field(default_factory=tuple)


def export_model(model: keras.Model, fmt: str, part: str, target: str | Path, *, metadata: dict,
                 preprocessing: Preprocessing | None = None, sample_inputs: np.ndarray | dict | None = None,
                 include_preprocessing: bool = True) -> ExportReport:
    """Export `part` of `model` as `fmt` to `target`, reload it, compare it with the app's model on
    `sample_inputs` (raw input if preprocessing is built in; whole-model input for the decoder, which
    is then fed their codes; for a model with several inputs see engine.export.inputs.sample_feed) and
    write the metadata. Raises ExportError; leaves nothing partial."""
    start = time.perf_counter()
    if fmt not in EXPORT_FORMATS:
        raise ExportError(f"Unknown format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}.")
    if fmt == "onnx":
        ok, reason = onnx_support()
        if not ok:
            raise ExportError(reason)
    pre = preprocessing or NO_PREPROCESSING
    notes: list[str] = []
    check_options(model, part, bool(include_preprocessing and pre.active))
    exported_part = part_of(model, part)
    gen = generative_kind(model)
    if gen == "vae":
        notes.append("Variational model: exported the deterministic path - the encoder outputs the posterior "
                     "mean z_mean (the log-variance output is dropped), the whole model decodes z_mean; "
                     "nothing is sampled.")
    elif gen == "aae":
        notes.append("Adversarial model: exported the encoder and decoder (deterministic); the discriminator is "
                     "not part of the export.")
    built_in = bool(include_preprocessing and pre.active and part != "decoder")
    if pre.active and part == "decoder":
        notes.append("The decoder takes codes, so no input preprocessing applies; its output is in the model's "
                     "scale.")
    elif pre.active and not include_preprocessing and several_inputs(model):
        notes.append("Preprocessing is not built in: feed every input on the model's scale (for a denoiser, "
                     "pixels / 255 and the noise sigma / 255; see the metadata's inputs).")
    elif pre.active and not include_preprocessing:
        notes.append("Preprocessing is not built in: apply the snippet in the metadata to raw input first.")
    graph = with_preprocessing(exported_part, pre) if built_in else exported_part

    feed, expected = _verification_data(model, exported_part, part, pre, sample_inputs, built_in)
    target = _target_path(target, fmt)
    meta = _metadata(metadata, fmt, part, graph, pre, built_in, notes)
    try:
        if fmt == "savedmodel":
            diff, meta_path = _export_savedmodel(graph, target, feed, expected, meta)
        else:
            diff, meta_path = _export_file(graph, fmt, target, feed, expected, meta, notes)
    except ExportError:
        raise
    except OSError as exc:
        raise ExportError(_os_reason(target, exc)) from exc
    return ExportReport(target, fmt, part, diff, meta_path, time.perf_counter() - start, tuple(notes))


def _target_path(target: str | Path, fmt: str) -> Path:
    if not str(target).strip():
        raise ExportError("Choose where to save the export.")
    path = Path(target).expanduser()
    suffix = EXPORT_SUFFIXES[fmt]
    if suffix and path.suffix != suffix:  # exact: engine.models.files opens only ".keras"
        path = path.with_name(path.name + suffix)
    if not path.parent.is_dir():
        raise ExportError(f"Folder {path.parent} does not exist. Choose an existing folder.")
    if fmt == "savedmodel":
        if path.exists() and not _replaceable_folder(path):
            raise ExportError(f"{path} already exists and is not an earlier SavedModel export (or an empty folder); "
                              f"it is left untouched. Choose a new folder name.")
    elif path.is_dir():
        raise ExportError(f"{path} is a folder. Choose a file name.")
    return path


def _replaceable_folder(path: Path) -> bool:
    """An existing SavedModel target may be replaced only if it is an empty folder or a SavedModel."""
    if not path.is_dir() or path.is_symlink():
        return False
    return not any(path.iterdir()) or (path / "saved_model.pb").is_file() or (path / METADATA_NAME).is_file()


def _os_reason(path: Path, exc: OSError) -> str:
    return f"Could not write {path}: {exc.strerror or exc}. Choose another folder (one you can write to)."


def _sample_input_shape(model: keras.Model) -> tuple[int, ...]:
    return tuple(16 if d is None else int(d) for d in model.input_shape[1:])


def _default_raw(shape: tuple[int, ...], pre: Preprocessing) -> np.ndarray:
    rng = np.random.default_rng(0)
    size = (DEFAULT_SAMPLES,) + shape
    if pre.kind == "rescale":
        return np.round(rng.uniform(0, 1, size) / pre.scale).astype(np.float32)  # 0..255 for scale 1/255
    if pre.kind == "standardize":
        mean, std = np.asarray(pre.mean), np.asarray(pre.std)
        return (mean + std * rng.standard_normal(size)).astype(np.float32)
    return rng.uniform(0, 1, size).astype(np.float32)


def _verification_data(model, exported_part, part, pre, sample_inputs, built_in):
    """(what the export is fed, what the app's model gives for it)."""
    if several_inputs(exported_part):  # whole and without preprocessing (check_options)
        feed = sample_feed(exported_part, sample_inputs, DEFAULT_SAMPLES, SAMPLE_LIMIT)
        return feed, predict_feed(model if part == "model" else exported_part, feed)
    if part == "decoder":
        enc = part_of(model, "encoder")
        samples = None if sample_inputs is None else np.asarray(sample_inputs)[:SAMPLE_LIMIT]
        if samples is not None and fits(tuple(exported_part.input_shape[1:]), samples.shape[1:]) \
                and not fits(tuple(enc.input_shape[1:]), samples.shape[1:]):
            codes = samples.astype(np.float32)
        else:
            if samples is None:
                samples = _default_raw(_sample_input_shape(enc), pre)
            elif not fits(tuple(enc.input_shape[1:]), samples.shape[1:]):
                raise ExportError(f"The sample inputs have shape {shape_text(samples.shape[1:])}, but the model "
                                  f"takes {shape_text(enc.input_shape[1:])} (or codes of "
                                  f"{shape_text(exported_part.input_shape[1:])}).")
            codes = predict(enc, pre.apply(samples))  # realistic codes: the app's encoder on its own input
        return codes, predict(exported_part, codes)
    shape = tuple(exported_part.input_shape[1:])
    if sample_inputs is None:
        raw = _default_raw(_sample_input_shape(exported_part), pre)
    else:
        raw = np.asarray(sample_inputs)[:SAMPLE_LIMIT]
        if not fits(shape, raw.shape[1:]):
            raise ExportError(f"The sample inputs have shape {shape_text(raw.shape[1:])}, but the model takes "
                              f"{shape_text(shape)}.")
    reference = model if part == "model" else exported_part  # the app's own model(x) for the whole model
    if not built_in:  # the samples are already what the model takes
        x = raw.astype(np.float32)
        return x, predict(reference, x)
    return raw.astype(np.float32), predict(reference, pre.apply(raw))


def _check(fmt: str, got: np.ndarray, expected: np.ndarray) -> float:
    got = np.asarray(got, np.float32)
    if got.shape != expected.shape:
        raise ExportError(f"The exported {EXPORT_FORMATS[fmt]} model gives outputs of shape {got.shape}, the app's "
                          f"{expected.shape}; nothing was written.")
    if not got.size:
        raise ExportError(f"The exported {EXPORT_FORMATS[fmt]} model could not be verified: there was no output "
                          "to compare; nothing was written.")
    diff = float(np.max(np.abs(got - expected)))
    limit = TOLERANCES[fmt] * max(1.0, float(np.max(np.abs(expected))))
    if not diff <= limit:  # NaN fails too
        raise ExportError(f"The exported {EXPORT_FORMATS[fmt]} model differs from the app's model by up to {diff:.3g} "
                          f"(allowed {limit:.1g}), so it was not written. Try another format.")
    return diff


def _export_file(graph, fmt, target, feed, expected, meta, notes: list[str]) -> tuple[float, Path]:
    meta_path = target.with_name(target.name + ".json")
    # the model is renamed in first and its description right after; the description names the model's
    # SHA-256, so a pair cut apart by a kill between the two renames can be told apart
    with atomic_paths(target, meta_path) as (tmp, tmp_meta):
        if fmt == "keras":
            graph.save(tmp)
            got = run_keras(tmp, feed)
        elif fmt == "tflite":
            data, fixed = tflite_bytes(graph)
            if fixed:
                note = ("This model converts to TensorFlow Lite's built-in ops only with a fixed batch: the "
                        ".tflite file takes one sample at a time (batch size 1).")
                notes.append(note)
                meta["notes"] = [*meta["notes"], note]
                for shape in _input_shapes(meta):
                    shape[0] = 1
                meta["output_shape"][0] = 1
            tmp.write_bytes(data)
            got = run_tflite(tmp, feed)
        else:
            tmp.write_bytes(onnx_bytes(graph, feed))
            got = run_onnx(tmp, feed)
        diff = _check(fmt, got, expected)
        _write_json(tmp_meta, {**meta, "max_abs_diff": diff, "sha256": _sha256(tmp)})
    return diff, meta_path


def _export_savedmodel(graph, target: Path, feed, expected, meta) -> tuple[float, Path]:
    tmp = new_temp_folder(target)
    try:
        save_tf(graph, tmp)
        diff = _check("savedmodel", run_savedmodel(tmp, feed), expected)
        with atomic_path(tmp / METADATA_NAME) as tmp_meta:
            _write_json(tmp_meta, {**meta, "max_abs_diff": diff})
        _swap_in(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return diff, target / METADATA_NAME


def _swap_in(new: Path, target: Path) -> None:
    """Rename the complete `new` folder to `target`; an old `target` is moved aside first and deleted
    after, so either the old or the new complete folder exists at every moment."""
    if not target.exists():
        os.replace(new, target)
        return
    old = Path(tempfile.mkdtemp(prefix=temp_prefix(target), suffix=".old", dir=target.parent))
    os.rmdir(old)  # only the unique name is wanted
    os.replace(target, old)
    try:
        os.replace(new, target)
    except BaseException:
        os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


# ----------------------------------------------------------------------------- metadata


def _metadata(caller: dict, fmt, part, graph, pre: Preprocessing, built_in: bool, notes) -> dict[str, Any]:
    several = several_inputs(graph)
    meta = _base_metadata(caller, fmt, part, graph, pre, built_in, notes, several)
    return {**meta, **inputs_metadata(graph)} if several else meta


def _input_shapes(meta: dict) -> list[list]:
    """The metadata's input shape lists: one, or one per input (and in its `inputs` entries)."""
    if "inputs" in meta:
        return [*meta["input_shape"], *(entry["shape"] for entry in meta["inputs"])]
    return [meta["input_shape"]]


def _base_metadata(caller, fmt, part, graph, pre, built_in, notes, several) -> dict[str, Any]:
    shape = [_shape_list(t.shape) for t in graph.inputs] if several else _shape_list(graph.input_shape)
    return {**(caller or {}), "app": APP, "format": fmt, "part": part,
            "input_shape": shape, "output_shape": _shape_list(graph.output_shape),
            "input_dtype": "float32", "preprocessing": {**pre.to_dict(), "snippet": pre.snippet()},
            "preprocessing_in_graph": built_in,
            "input_is": ("raw values (preprocessing is built in)" if built_in else
                         "codes from the encoder" if part == "decoder" else
                         "preprocessed values (apply preprocessing.snippet to raw input first)"
                         if pre.active else "the model's input"),
            "created": _dt.datetime.now(_dt.timezone.utc).astimezone().isoformat(timespec="seconds"),
            "notes": list(notes)}


def _shape_list(shape) -> list:
    return [None if d is None else int(d) for d in tuple(shape)]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(json_safe(data), indent=2, allow_nan=False), encoding="utf-8")
