"""What an export holds, decided in one place for every front end: which network (whole model, encoder
or decoder; a VAE's deterministic path), the input preprocessing, sample inputs to verify it on, and the
metadata written beside it, for a model trained or opened in the app, a model file, or a detector."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from engine.core.config import EXPORT_PARTS, TrainConfig
from engine.core.errors import ConfigError, ExportError
from engine.export.inputs import several_inputs
from engine.export.preprocessing import NO_PREPROCESSING, Preprocessing
from engine.models.guards import takes_noise_level

PLAN_SAMPLES = 8  # raw samples a plan offers for verification
ANOMALY_SCORE = ("mean squared reconstruction error per sample (after the preprocessing); flagged when above "
                 "the threshold")


@dataclass
class ExportPlan:
    """Everything an export needs besides the format, the part and the target."""

    model: keras.Model
    metadata: dict[str, Any]  # the caller's part of the metadata file (see metadata_for)
    preprocessing: Preprocessing  # what the app does to raw input
    samples: np.ndarray | None  # raw inputs to verify the export on (None: made up to fit the model)
    name: str  # a file name stem to suggest


def plan_for_model(model: keras.Model, config: TrainConfig | None = None, dataset=None) -> ExportPlan:
    """A model trained or opened in the app, with the data in use (its images arrive as raw 0-255 pixels).
    A model with several inputs (the noise-level-aware denoiser) is verified on made-up samples of its own."""
    several = several_inputs(model)
    image = takes_noise_level(model) or (not several and len(model.input_shape) == 4)
    pre = Preprocessing.rescale(1 / 255) if image else NO_PREPROCESSING
    samples = None
    if dataset is not None and not several and tuple(dataset.x_val.shape[1:]) == tuple(model.input_shape[1:]):
        samples = np.asarray(dataset.x_val[:PLAN_SAMPLES], np.float32) * (255.0 if image else 1.0)
    summary = dataset.summary() if dataset is not None else ""
    return ExportPlan(model, metadata_for(model, config, summary), pre, samples, model.name)


def plan_for_model_file(path: str | Path) -> ExportPlan:
    """A saved .keras model; a run folder's model.keras brings its run's settings and data summary."""
    from engine.models.files import load_model

    path = Path(path)
    model = load_model(path)
    info = _run_info_beside(path)
    config = None
    if isinstance(info.get("config"), dict):
        try:
            config = TrainConfig.from_dict(info["config"])
        except (ConfigError, TypeError):
            config = None
    data = info.get("data") if isinstance(info.get("data"), dict) else {}
    plan = plan_for_model(model, config)
    plan.metadata = metadata_for(model, config, str(data.get("summary", "")))
    return plan


def plan_for_detector(detector, scores=None) -> ExportPlan:
    """An anomaly detector (engine.anomaly.detector.Detector): its scaling is the preprocessing (pixels /
    255 for images), its threshold and score go into the metadata; `scores` give real raw samples."""
    d = detector
    pre = Preprocessing.from_scaler(d.scaler) if d.scaler is not None else Preprocessing.rescale(1 / 255)
    samples = None
    if scores is not None:
        inputs = scores.inputs[:PLAN_SAMPLES]
        samples = d.scaler.mean + inputs * d.scaler.scale if d.scaler is not None else inputs * 255.0
    source = scores.data.source if scores is not None else (d.spec.path or d.spec.source)
    metadata = metadata_for(d.model, d.config, source, d.metrics, d.threshold)
    metadata.update(anomaly_kind=d.kind, features=list(d.names), anomaly_score=ANOMALY_SCORE)
    kind = getattr(d, "score_kind", "error")
    metadata["anomaly_score_kind"] = kind
    if kind != "error":  # a blurred score: the exported model's output alone does not give it
        metadata.update(anomaly_score=f"{d.score_rule}; flagged when above the threshold",
                        anomaly_rule=f"a sample is anomalous when {d.score_rule} is above anomaly_threshold, the "
                                     "image being the model's input (after preprocessing) and the reconstruction "
                                     "its output")
    return ExportPlan(d.model, metadata, pre, samples, "detector")


def _run_info_beside(model_file: Path) -> dict[str, Any]:
    """run.json of the run folder a model file sits in (a run store's model.keras), else {}."""
    meta = model_file.parent / "run.json"
    try:
        info = json.loads(meta.read_text()) if meta.is_file() else {}
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def generative_kind(model) -> str:
    from engine.models.generative import AAE, VAE

    if isinstance(model, VAE):
        return "vae"
    if isinstance(model, AAE):
        return "aae"
    return ""


def _encoder_mean(model) -> keras.Model:
    """The deterministic encoder of a VAE / AAE: z_mean for a VAE (as engine.latent.codes.encode_means)."""
    enc = model.encoder
    if generative_kind(model) == "vae":
        return keras.Model(enc.input, enc.outputs[0], name="encoder_mean")
    return enc


def part_of(model: keras.Model, part: str) -> keras.Model:
    """The keras.Model to export for `part` ("model", "encoder", "decoder"), deterministic, one output."""
    if part not in EXPORT_PARTS:
        raise ExportError(f"Unknown part {part!r}; choose one of {', '.join(EXPORT_PARTS)}.")
    if not isinstance(model, keras.Model):
        raise ExportError(f"Only Keras models can be exported, not {type(model).__name__}.")
    if generative_kind(model):
        encoder = _encoder_mean(model)
        if part == "encoder":
            out = encoder
        elif part == "decoder":
            out = model.decoder
        else:
            inputs = keras.Input(tuple(encoder.input_shape[1:]), name="input")
            out = keras.Model(inputs, model.decoder(encoder(inputs)), name=f"{model.name}_deterministic")
    elif part == "model":
        out = model
    else:
        from engine.models.builders import decoder_of, encoder_of

        try:
            out = encoder_of(model) if part == "encoder" else decoder_of(model)
        except ConfigError as exc:
            raise ExportError(f"Model {model.name!r} has no separate {part} (e.g. the residual denoiser is one "
                              f"network); export the whole autoencoder instead.") from exc
    if len(out.outputs) != 1:
        raise ExportError(f"The {EXPORT_PARTS[part].lower()} has {len(out.outputs)} outputs; only one-output models can "
                          f"be exported.")
    return out


def metadata_for(model, config=None, dataset_summary: str = "", metrics: dict | None = None,
                 threshold: float | None = None) -> dict[str, Any]:
    """The caller's part of an export's metadata: model kind, data, training settings, metrics, threshold."""
    kind = getattr(config, "model_kind", None) or getattr(model, "architecture", None) \
        or getattr(model, "kind", None) or model.name
    out: dict[str, Any] = {"model_name": model.name, "model_kind": kind,
                           "parameters": int(model.count_params()) if model.built else None}
    if config is not None:
        out["training_config"] = config.to_dict() if hasattr(config, "to_dict") else dict(config)
    if dataset_summary:
        out["dataset"] = dataset_summary
    if metrics:
        out["metrics"] = {str(k): v for k, v in metrics.items()}
    if threshold is not None:
        out["anomaly_threshold"] = float(threshold)
        out["anomaly_rule"] = ("a sample is anomalous when the mean squared error between the model's input "
                               "(after preprocessing) and its output is above anomaly_threshold")
    return out
