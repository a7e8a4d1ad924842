"""Jobs: plain callables `job(on_event, stop) -> result` that the GUI runs in a worker
thread and the CLI runs directly. Heavy imports (TensorFlow) happen inside the job."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from engine.core.config import DataSpec, TrainConfig
from engine.core.events import EventCallback, Progress

Job = Callable[[EventCallback, threading.Event], Any]


def load_data(spec: DataSpec):
    """The Dataset a DataSpec describes."""
    from engine.data import dataset as data
    from engine.data.mnist import load_mnist

    if spec.kind == "mnist":
        return load_mnist()
    if spec.kind == "mnist_download":
        return load_mnist(allow_download=True)
    if spec.kind == "mnist_file":
        return load_mnist(spec.path)
    if spec.kind == "folder":
        return data.load_image_folder(spec.path, size=(spec.image_size, spec.image_size), color=spec.color,
                                      validation_fraction=spec.validation_fraction, seed=spec.seed)
    if spec.kind == "patches":
        return data.load_patches(spec.path, patch=spec.image_size, color=spec.color,
                                 validation_fraction=spec.validation_fraction, seed=spec.seed)
    return data.load_array_file(spec.path, validation_fraction=spec.validation_fraction, seed=spec.seed)


@dataclass
class TrainOutcome:
    dataset: Any
    result: Any
    run: Any = None  # the engine.training.runs.RunInfo that recorded it, if any


def train_job(spec: DataSpec, config: TrainConfig, store=None, resume=None, distribute: str = "default") -> Job:
    """Load the data and train; with a run store (engine.training.runs.RunStore) the run is recorded there, and
    `resume` (a RunInfo of that store) continues a run from its last checkpoint. `distribute` names a
    tf.distribute strategy ("default", "mirrored" or "multiworker")."""

    def job(on_event: EventCallback, stop: threading.Event) -> TrainOutcome:
        on_event(Progress(0, 0, "Loading data…"))
        dataset = load_data(spec)
        on_event(Progress(0, 0, "Building the model (first start loads TensorFlow)…"))
        from engine.training.runs import make_strategy
        from engine.training.fit import train

        strategy = make_strategy(distribute)
        run = resume
        if store is not None and run is None:
            run = store.create(config, {**spec.to_dict(), "summary": dataset.summary()})
        result = train(config, dataset, on_event, stop, run=run, store=store if run is not None else None,
                       resume=resume is not None, strategy=strategy)
        return TrainOutcome(dataset, result, run)

    return job


@dataclass
class Reconstructions:
    inputs: np.ndarray  # what the model saw
    outputs: np.ndarray
    targets: np.ndarray  # clean originals
    errors: np.ndarray  # per-sample MSE against the originals
    labels: np.ndarray | None


def reconstruct_job(model, dataset, noise_factor: float = 0.0, seed: int = 0, limit: int = 10000) -> Job:
    """Reconstruct (up to `limit`) validation samples and score each one."""

    def job(on_event: EventCallback, stop: threading.Event) -> Reconstructions:
        from engine.models.files import check_fits, predict, reconstruction_errors
        from engine.training.fit import add_noise

        targets = dataset.x_val[:limit]
        check_fits(model, targets.shape[1:])
        inputs = add_noise(targets, noise_factor, seed) if noise_factor > 0 else targets
        outputs = predict(model, inputs)
        labels = None if dataset.y_val is None else np.asarray(dataset.y_val[:limit])
        return Reconstructions(inputs, outputs, targets, reconstruction_errors(targets, outputs), labels)

    return job


def data_job(spec: DataSpec) -> Job:
    def job(on_event: EventCallback, stop: threading.Event):
        return load_data(spec)

    return job


def warm_up_job() -> Job:
    """Import TensorFlow and create its runtime ahead of the first training."""

    def job(on_event: EventCallback, stop: threading.Event) -> str:
        import keras
        import tensorflow as tf

        tf.constant(0.0) + 1.0  # creates the eager context and its thread pools here
        return f"TensorFlow {tf.__version__}, Keras {keras.__version__}"

    return job


def sampling_job(model, dataset, limit: int = 10000) -> Job:
    """Encode the validation samples of a VAE / AAE for the Sampling tab -> engine.latent.codes.LatentView."""
    from engine.latent.codes import sampling_job as latent_job

    return latent_job(model, dataset, limit)


def open_model_job(path: str) -> Job:
    def job(on_event: EventCallback, stop: threading.Event):
        from engine.models.files import load_model

        return load_model(path)

    return job
