"""Repeated trainings in one process do not pile up memory (issue 14, item 8; benchmarks/memory.py):
no XLA compile for short trainings, the optimizers' slots made before tracing, and what fit traced
(graphs, runtime functions, registered gradients) given back when a training is over."""
import gc
import weakref

import numpy as np
import pytest

from engine.core.config import DataSpec, TrainConfig
from engine.core.jobs import run_here
from engine.jobs import train_job
from engine.models.builders import build_autoencoder
from engine.training.pipeline import XLA_MIN_STEPS, compile_model, release_traces


@pytest.fixture
def array_spec(tmp_path):
    x = np.random.default_rng(0).random((80, 6, 5)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    return DataSpec(kind="array", path=str(tmp_path / "x.npy"), validation_fraction=0.25)


def traced_leftovers() -> tuple[int, int]:
    """Graph operations alive in the process, and gradients registered by tf.custom_gradient."""
    from tensorflow.python.framework import ops

    gc.collect()
    operations = sum(1 for o in gc.get_objects() if type(o).__name__ == "Operation")
    registered = sum(1 for name in list(ops._gradient_registry._registry) if name.startswith("CustomGradient-"))
    return operations, registered


def test_a_short_dense_training_is_not_compiled_with_xla_a_long_one_is():
    config = TrainConfig(epochs=2)
    short = build_autoencoder(config, (6, 5))
    compile_model(short, config, steps_per_epoch=XLA_MIN_STEPS // 2 - 1)
    long = build_autoencoder(config, (6, 5))
    compile_model(long, config, steps_per_epoch=XLA_MIN_STEPS // 2)
    assert short.jit_compile is False and long.jit_compile is True


@pytest.mark.parametrize("kind", ["dense", "conv", "vae", "aae"])
def test_the_optimizers_slots_exist_before_the_first_step(kind):
    config = TrainConfig(model_kind=kind, code_size=2, filters=2, loss="mse" if kind == "aae" else "bce")
    model = build_autoencoder(config, (8, 8, 1))
    compile_model(model, config, steps_per_epoch=3)
    assert model.optimizer.built and model.optimizer.variables


def test_repeated_trainings_leave_no_graph_or_registered_gradient_behind(array_spec):
    config = TrainConfig(epochs=1, batch_size=16, code_size=4)
    kept = run_here(train_job(array_spec, config))  # the app keeps the latest model (its session's)
    before = traced_leftovers()
    for _ in range(2):
        kept = run_here(train_job(array_spec, config))
    assert traced_leftovers() == before
    assert kept.result.model.train_function is None


def test_the_trained_model_is_freed_once_nothing_holds_it_and_the_next_training_starts(array_spec):
    """(Until then it is frozen with the heap: engine.training.fit keeps full collections off the GUI.)"""
    outcome = run_here(train_job(array_spec, TrainConfig(epochs=1, batch_size=16, code_size=4)))
    model = weakref.ref(outcome.result.model)
    del outcome
    run_here(train_job(array_spec, TrainConfig(epochs=1, batch_size=16, code_size=4)))
    gc.collect()
    assert model() is None


def test_a_released_model_still_predicts_and_trains_again(array_spec):
    outcome = run_here(train_job(array_spec, TrainConfig(epochs=1, batch_size=16, code_size=4)))
    model, x = outcome.result.model, outcome.dataset.x_val
    before = np.asarray(model(x))
    assert release_traces(model) == 0  # the job gave its graphs back already: nothing left to release
    np.testing.assert_array_equal(np.asarray(model(x)), before)
    model.fit(x, x, epochs=1, batch_size=8, verbose=0)  # traced anew
    assert release_traces(model) > 0
    assert np.isfinite(np.asarray(model(x))).all()
