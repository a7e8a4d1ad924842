"""Every background job of the app, in one module.

A job is what `engine.core.jobs` describes: a plain function of one `JobState` that returns its result.
Each function here takes the job's inputs and returns such a function; the GUI's JobRunner runs it in a
worker thread, the CLI runs it in its own thread. Jobs only compose the capabilities (data, models,
training, latent, denoise, anomaly, export); heavy imports (TensorFlow) happen when a job runs.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from engine.core import runtime
from engine.core.config import SELF_SUPERVISED_KINDS, DataSpec, TrainConfig
from engine.core.jobs import Job, JobState
from engine.core.resources import bundled_denoiser_path
from engine.data.noise import NoiseConfig
from engine.data.sources import load_data


def _with_tensorflow(factory):
    """For the jobs that use TensorFlow: the job imports it first through engine.core.runtime, which keeps
    the import from stalling the GUI thread (whichever job, or the warm-up, comes first)."""

    @functools.wraps(factory)
    def make(*args, **kwargs) -> Job:
        job = factory(*args, **kwargs)

        def with_tensorflow(state: JobState):
            runtime.import_tensorflow()
            return job(state)

        return with_tensorflow

    return make

# ----------------------------------------------------------------------------- loading and opening


def data_job(spec: DataSpec) -> Job:
    return lambda state: load_data(spec)


@_with_tensorflow
def open_model_job(path: str | Path) -> Job:
    def job(state: JobState):
        from engine.models.files import load_model

        return load_model(path)

    return job


@_with_tensorflow
def warm_up_job() -> Job:
    """Import TensorFlow and create its runtime ahead of the first training."""

    def job(state: JobState) -> str:
        import keras
        import tensorflow as tf

        tf.constant(0.0) + 1.0  # creates the eager context and its thread pools here
        return f"TensorFlow {tf.__version__}, Keras {keras.__version__}"

    return job


# ----------------------------------------------------------------------------- training


@dataclass
class TrainOutcome:
    dataset: Any
    result: Any  # engine.training.fit.TrainResult
    run: Any = None  # the engine.training.runs.RunInfo that recorded it, if any
    chief: bool = True  # False on a multi-worker cluster's other workers: they record and save nothing


@_with_tensorflow
def train_job(spec: DataSpec, config: TrainConfig, store=None, resume=None, distribute: str = "default",
              rollback: bool = False, control=None) -> Job:
    """Load the data and train; with a run store (engine.training.runs.RunStore) the run is recorded there,
    and `resume` (a RunInfo of that store, see engine.training.resume) continues it from its checkpoint,
    or with `rollback` from its best epoch. `distribute` names a tf.distribute strategy ("default",
    "mirrored" or "multiworker"); `control` (engine.training.requests.TrainingControl) changes the epochs
    and learning rate while it runs."""

    def job(state: JobState) -> TrainOutcome:
        if config.model_kind in SELF_SUPERVISED_KINDS:  # noisy images only, not recorded in the run store
            from engine.denoise.selfsupervised import train_from_spec

            return TrainOutcome(*train_from_spec(spec, config, state, control))
        state.note("Loading data…")
        dataset = load_data(spec)
        state.note("Building the model (first start loads TensorFlow)…")
        from engine.training.distribute import is_chief, make_strategy, peer_loss_as_error, worker_copy
        from engine.training.fit import train

        strategy = make_strategy(distribute)
        if not is_chief(strategy):  # another worker of a cluster: it trains its share, the chief records
            with worker_copy(resume) as copy, peer_loss_as_error(strategy, copy, None, config.epochs):
                result = train(config, dataset, state, run=copy, resume=copy is not None, strategy=strategy,
                               rollback=rollback, control=control)
            return TrainOutcome(dataset, result, None, chief=False)
        run = resume
        if store is not None and run is None:
            run = store.create(config, {**spec.to_dict(), "summary": dataset.summary()})
        with peer_loss_as_error(strategy, run, store, config.epochs):
            result = train(config, dataset, state, run=run, store=store if run is not None else None,
                           resume=resume is not None, strategy=strategy, rollback=rollback, control=control)
        return TrainOutcome(dataset, result, run)

    return job


# ----------------------------------------------------------------------------- reconstruction


@dataclass
class Reconstructions:
    inputs: np.ndarray  # what the model saw
    outputs: np.ndarray
    targets: np.ndarray  # clean originals
    errors: np.ndarray  # per-sample MSE against the originals
    labels: np.ndarray | None


@_with_tensorflow
def reconstruct_job(model, dataset, noise_factor: float = 0.0, seed: int = 0, limit: int = 10000) -> Job:
    """Reconstruct (up to `limit`) validation samples and score each one."""

    def job(state: JobState) -> Reconstructions:
        from engine.data.noise import add_gaussian
        from engine.models.guards import check_fits
        from engine.models.predict import predict, reconstruction_errors

        targets = dataset.x_val[:limit]
        check_fits(model, targets.shape[1:])
        inputs = add_gaussian(targets, noise_factor, seed) if noise_factor > 0 else targets
        outputs = predict(model, inputs)
        labels = None if dataset.y_val is None else np.asarray(dataset.y_val[:limit])
        return Reconstructions(inputs, outputs, targets, reconstruction_errors(targets, outputs), labels)

    return job


@_with_tensorflow
def digits_job(model, dataset, indices: np.ndarray, noise_factor: float, seed: int) -> Job:
    """Reconstruct the chosen validation digits (original, noisy, denoised rows of the Digits view)."""
    subset = SimpleNamespace(x_val=dataset.x_val[indices],
                             y_val=None if dataset.y_val is None else dataset.y_val[indices])
    return reconstruct_job(model, subset, noise_factor, seed=seed)


# ----------------------------------------------------------------------------- latent space


@_with_tensorflow
def encode_view_job(model, dataset, limit: int = 10000, refine_steps: int = 0) -> Job:
    """Encode validation samples of a VAE / AAE and lay them on a plane -> engine.latent.codes.LatentView."""

    def job(state: JobState):
        from engine.latent.codes import encode_view

        return encode_view(model, dataset, state, limit, refine_steps)

    return job


@_with_tensorflow
def prior_samples_job(model, n: int, seed: int) -> Job:
    """n images decoded from draws of the model's prior."""

    def job(state: JobState) -> np.ndarray:
        from engine.latent.codes import decode, sample_prior

        return decode(model, sample_prior(model, n, seed))

    return job


@_with_tensorflow
def manifold_job(model, n: int) -> Job:
    """The n x n grid decoded over a 2-D latent plane -> (images, grid_x, grid_y)."""

    def job(state: JobState):
        from engine.latent.codes import manifold

        return manifold(model, n)

    return job


@_with_tensorflow
def interpolation_job(model, pair: np.ndarray, steps: int, mode: str, refine_steps: int = 0) -> Job:
    """Images decoded along the path between the codes of two images."""

    def job(state: JobState) -> np.ndarray:
        from engine.latent.codes import encode_means, interpolate

        z = encode_means(model, pair, refine_steps=refine_steps)
        return interpolate(model, z[0], z[1], steps, mode)

    return job


# ----------------------------------------------------------------------------- photographs


def open_image_job(path: str | Path, max_pixels: int) -> Job:
    def job(state: JobState):
        from engine.data.images import read_image

        return read_image(path, max_pixels=max_pixels)

    return job


def save_image_job(path: Path, pixels: np.ndarray, bit_depth: int, alpha: np.ndarray | None) -> Job:
    def job(state: JobState):
        from engine.data.images import write_image

        return write_image(path, pixels, bit_depth=bit_depth, alpha=alpha)

    return job


@dataclass
class Denoised:
    result: Any  # engine.denoise.pipeline.DenoiseResult
    bundled: Any  # the bundled model, loaded in the worker (kept for the next run)
    bundled_stamp: tuple  # (file, modification time) of the loaded bundled model


@_with_tensorflow
def photo_denoise_job(pixels: np.ndarray, noise: NoiseConfig, methods: list[str], model, model_name: str,
                      bundled: tuple[tuple, Any] | None, noise_level=None, strength: float = 1.0) -> Job:
    """Load the bundled model if it is asked for (reused while its file is unchanged), then denoise (noise-aware
    models told `noise_level`, default the added or estimated one times `strength`)."""

    def job(state: JobState) -> Denoised:
        from engine.denoise.pipeline import BUNDLED, MODEL_METHOD, denoise, load_bundled_denoiser

        models, loaded, stamp = {}, None, ()
        if BUNDLED in methods:
            channels = 1 if np.ndim(pixels) == 2 else np.shape(pixels)[-1]
            path = bundled_denoiser_path(channels)
            stamp = (str(path), path.stat().st_mtime if path.is_file() else 0.0)
            if bundled is not None and bundled[0] == stamp:
                loaded = bundled[1]
            else:
                state.note("Loading the bundled denoiser…")
                loaded = load_bundled_denoiser(channels)
            models[BUNDLED] = loaded
        if MODEL_METHOD in methods:
            models[MODEL_METHOD] = model
        return Denoised(denoise(pixels, noise, methods, models or None, model_name, noise_level=noise_level,
                                strength=strength, state=state), loaded, stamp)

    return job


@_with_tensorflow
def self_train_job(pixels: np.ndarray, noise: NoiseConfig, config, folder: str = "") -> Job:
    """Train a self-supervised denoiser (engine.denoise.selfsupervised; `config` a SelfSupervisedConfig) on a
    photograph as it is denoised (with the noise added on purpose, if any: the clean original then only
    scores the previews), plus the noisy images of `folder`, if given -> SelfSupervisedResult."""

    def job(state: JobState):
        from engine.data.noise import add_noise
        from engine.denoise.selfsupervised import read_noisy_images, train_self_supervised

        image = np.asarray(pixels, dtype=np.float32)
        images = [add_noise(image, noise) if noise.adds_noise else image]
        if folder:
            grey = image.ndim == 2 or image.shape[-1] == 1
            images += read_noisy_images(folder, "grey" if grey else "rgb", state=state)[0]
        references = [image] + images[1:] if noise.adds_noise else None
        return train_self_supervised(images, config, state, references=references)

    return job


@_with_tensorflow
def denoise_preview_job(pixels: np.ndarray, noise: NoiseConfig, strength: float, centre, previous=None,
                        size=96) -> Job:
    """The bundled noise-aware model on a region at `strength` (engine.denoise.preview.run_preview)
    -> (PreviewState, Preview); an Estimated event first when the image is new."""

    def job(state: JobState):
        from engine.denoise.preview import run_preview

        return run_preview(pixels, noise, strength, centre, previous, size, state)

    return job


# ----------------------------------------------------------------------------- anomaly detection


@_with_tensorflow
def train_detector_job(spec, config: TrainConfig, score_kind: str | None = None) -> Job:
    """Train a detector on the normal samples of `spec` (an AnomalySpec), score everything (by `score_kind`,
    default the data kind's)."""

    def job(state: JobState):
        from engine.anomaly.detector import train_detector

        return train_detector(spec, config, state, score_kind)

    return job


@_with_tensorflow
def score_new_job(detector, path: str = "", score_path: str = "") -> Job:
    """Score another file (tables, sequences) or folder (images) with a detector."""

    def job(state: JobState):
        from engine.anomaly.detector import score_new

        return score_new(detector, path, score_path, state)

    return job


@_with_tensorflow
def rescore_job(detector, scores, score_kind: str) -> Job:
    """Score the same reconstructions by another score kind, no retraining (engine.anomaly.detector.rescore)."""

    def job(state: JobState):
        from engine.anomaly.detector import rescore

        return rescore(detector, scores, score_kind, state)

    return job


@_with_tensorflow
def open_detector_job(path: str | Path) -> Job:
    def job(state: JobState):
        from engine.anomaly.files import load_detector

        return load_detector(path)

    return job


def read_table_job(path: str | Path) -> Job:
    def job(state: JobState):
        from engine.data.tables import read_table

        return read_table(path)

    return job


# ----------------------------------------------------------------------------- export


@_with_tensorflow
def export_job(plan, fmt: str, part: str, target: str | Path, include_preprocessing: bool = True) -> Job:
    """Export `plan` (engine.export.plans.ExportPlan) and verify it -> engine.export.writer.ExportReport."""

    def job(state: JobState):
        from engine.export.writer import export_model

        return export_model(plan.model, fmt, part, target, metadata=dict(plan.metadata),
                            preprocessing=plan.preprocessing, sample_inputs=plan.samples,
                            include_preprocessing=include_preprocessing)

    return job
