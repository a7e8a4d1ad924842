"""How a model is compiled and fed: the optimizer and loss (XLA and steps per execution where measured to
help), the tf.data pipeline of shuffled batches with fresh noise every epoch for denoisers, and giving back
what `fit` traced once a training is over."""
from __future__ import annotations

import logging
import types
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from engine.core.config import TrainConfig


STEPS_PER_EXECUTION = 16
# XLA only for trainings planned at least this long (epochs x steps per epoch). Measured on 2 CPU cores
# (dense, 55k MNIST, batch 64, 860 steps an epoch): compiling costs about 3 s per training (the step, the
# epoch's last short batch and the validation step are compiled apiece) and then saves 0.4-0.7 s an epoch,
# so it pays back after 4-7 epochs (3,500-6,000 steps). TensorFlow also never frees a compiled step (its
# XLA cache has no eviction): every XLA training kept 10-15 MB for good (benchmarks/memory.py).
XLA_MIN_STEPS = 5000

_log = logging.getLogger(__name__)


def compile_model(model: keras.Model, config: TrainConfig, steps_per_epoch: int, distributed: bool = False) -> None:
    """Adam (optionally cosine-decayed), the chosen loss, XLA where it was measured to help.
    `distributed`: inside a tf.distribute scope, where (Keras 3.15 / TF 2.21) several steps per
    execution or XLA failed with "You must feed a value for placeholder tensor", so both are off."""

    def rate(initial: float) -> Any:
        if config.lr_schedule != "cosine":
            return initial
        return keras.optimizers.schedules.CosineDecay(initial, decay_steps=max(1, config.epochs * steps_per_epoch),
                                                      alpha=0.05)

    lr = rate(config.learning_rate)
    loss = "binary_crossentropy" if config.loss == "bce" else "mse"
    if config.generative:
        # VAE / AAE train with their own losses in train_step. Measured on 2 cores (dense VAE,
        # latent 20, batch 128, 55k MNIST): 16 steps per execution 6-10 -> 4.6-5.2 s per epoch;
        # XLA on top gave nothing more, so it is off.
        extra: dict[str, Any] = {}
        if config.model_kind == "aae":
            from engine.models.generative import DISCRIMINATOR_LR_RATIO, GENERATOR_LR_RATIO

            # The adversarial phases follow the same schedule, or a decayed reconstruction rate
            # lets them take over late in training and undo the reconstruction.
            extra = {"loss": loss,
                     "discriminator_optimizer": keras.optimizers.Adam(
                         rate(config.learning_rate * DISCRIMINATOR_LR_RATIO), beta_1=0.5),
                     "generator_optimizer": keras.optimizers.Adam(
                         rate(config.learning_rate * GENERATOR_LR_RATIO), beta_1=0.5)}
        model.compile(optimizer=keras.optimizers.Adam(lr),
                      steps_per_execution=1 if distributed else STEPS_PER_EXECUTION, **extra)
        build_optimizers(model)
        return
    # Measured on 2 CPU cores (benchmarks/time_to_quality.py): for the dense kinds XLA and
    # 16 steps per execution cut the per-step overhead that dominates such small models
    # (1.4 s -> 0.8 s per MNIST epoch at batch 64); the conv model is slower with XLA.
    # Batch callbacks, and so the stop check, then run every 16 steps (a few ms).
    # XLA only where the training is long enough to pay its compile time back (XLA_MIN_STEPS).
    dense = config.model_kind in ("dense", "sparse", "deep") and not distributed
    model.compile(optimizer=keras.optimizers.Adam(lr), loss=loss,
                  jit_compile=dense and config.epochs * steps_per_epoch >= XLA_MIN_STEPS,
                  steps_per_execution=STEPS_PER_EXECUTION if dense else 1)
    build_optimizers(model)


def build_optimizers(model: keras.Model) -> None:
    """Create the optimizers' slots (Adam's moments) now, eagerly. Left to the first training step, they are
    created inside the traced step, which is then traced twice and keeps initialiser graphs (a conditional
    per slot) that TensorFlow 2.21 never frees; the numbers are the same either way."""
    from engine.training.checkpoints import optimizers_of

    for optimizer, variables in optimizers_of(model):
        if not optimizer.built:
            optimizer.build(variables)


_TRACED = ("train_function", "test_function", "predict_function")


def release_traces(model: keras.Model) -> int:
    """Free the graphs `fit` / `evaluate` / `predict` traced for `model` (it still predicts, eagerly, and
    a later `fit` traces anew); returns how many graphs were taken apart. Call it once a training is over.

    TensorFlow 2.21 never frees some of them: a tf.function traced inside another (Keras' one_step_on_data
    inside multi_step_on_iterator) and the control-flow branches in it (the optimizer's variable
    initialisers) form reference cycles through C++ that the garbage collector cannot see, so each training
    kept about 800 graph operations and 16 runtime functions, whatever became of its model."""
    from tensorflow.python.framework.func_graph import FuncGraph, dismantle_func_graph

    roots = [getattr(model, name, None) for name in _TRACED]
    for name in _TRACED:
        if hasattr(model, name):
            setattr(model, name, None)
    try:
        graphs = _traced_graphs(roots, FuncGraph)
        _forget_custom_gradients({id(graph) for graph in graphs})
        for graph in graphs:
            dismantle_func_graph(graph)
    except Exception:  # noqa: BLE001 - TensorFlow internals changed: keep the memory, never fail a training
        _log.debug("could not release the traced graphs", exc_info=True)
        return 0
    return len(graphs)


def _forget_custom_gradients(graph_ids: set[int]) -> None:
    """Unregister the gradients tf.custom_gradient registered while tracing these graphs. Each trace of a
    train step registers one for good (the optimizer's all-reduce of the gradients, even on one device),
    and the registry entry holds the step's gradient tensors, the update ops behind them and the handles
    of the optimizer's variables, so neither the ops nor those variables' memory were ever freed."""
    from tensorflow.python.framework import ops

    registry = ops._gradient_registry._registry  # noqa: SLF001 - no public way to unregister
    for name, entry in list(registry.items()):
        if name.startswith("CustomGradient-") and _holds_tensor_of(entry.get("type"), graph_ids):
            registry.pop(name, None)


def _holds_tensor_of(function, graph_ids: set[int], depth: int = 3) -> bool:
    """Whether `function`'s closure (and the closures of the functions in it) holds a graph tensor of one
    of these graphs, directly or in a list or tuple."""
    for cell in getattr(function, "__closure__", None) or ():
        try:
            content = cell.cell_contents
        except ValueError:
            continue
        items = content if isinstance(content, (list, tuple)) else (content,)
        for item in items:
            if id(getattr(item, "graph", None)) in graph_ids and hasattr(item, "op"):
                return True
        if depth > 0 and isinstance(content, types.FunctionType) and _holds_tensor_of(content, graph_ids, depth - 1):
            return True
    return False


def _traced_graphs(roots: list, graph_type: type) -> list:
    """The graphs of the given (Keras-wrapped) tf.functions: theirs, those of the tf.functions in their
    Python closures, and the control-flow branches inside them. Functions only called from them (defined
    elsewhere, perhaps still in use) are left alone."""
    from tensorflow.python.ops.control_flow_v2_func_graphs import ControlFlowFuncGraph

    graphs: dict[int, Any] = {}
    seen: set[int] = set()
    pending = list(roots)
    while pending:
        item = pending.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, types.FunctionType):  # Keras' wrappers and the Python functions traced
            for cell in item.__closure__ or ():
                try:
                    content = cell.cell_contents
                except ValueError:  # an empty cell
                    continue
                if isinstance(content, types.FunctionType) or hasattr(content, "_list_all_concrete_functions"):
                    pending.append(content)
        elif hasattr(item, "_list_all_concrete_functions"):  # a tf.function
            pending.extend(item._list_all_concrete_functions())
            pending.append(getattr(item, "_concrete_variable_creation_fn", None))  # the first trace's
            pending.append(getattr(item, "_python_function", None))
        elif isinstance(item, graph_type):
            graphs[id(item)] = item
            for function in list(item._functions.values()):
                branch = getattr(function, "_cached_graph", None)
                if isinstance(branch, ControlFlowFuncGraph):
                    pending.append(branch)
        elif isinstance(getattr(item, "graph", None), graph_type):  # a ConcreteFunction
            pending.append(item.graph)
    return list(graphs.values())


def train_pipeline(x: np.ndarray, batch_size: int, noise_factor: float, seed: int,
                    labels: np.ndarray | None = None) -> tf.data.Dataset:
    """Shuffled batches gathered by index (cheap per step); fresh noise every epoch when denoising.
    Yields (inputs, targets), or (inputs, targets, labels) when `labels` are given (mixture-prior AAE)."""
    data = as_tensor(x)
    n = len(x)
    ds = tf.data.Dataset.range(n).shuffle(n, seed=seed, reshuffle_each_iteration=True).batch(batch_size)
    if labels is not None:
        classes = tf.constant(labels)
        ds = ds.map(lambda idx: (tf.gather(data, idx), tf.gather(classes, idx)), num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(lambda idx: tf.gather(data, idx), num_parallel_calls=tf.data.AUTOTUNE)
    if noise_factor > 0:
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)

        def noisy(batch, s):
            clean = batch[0] if labels is not None else batch
            noise = tf.random.stateless_normal(tf.shape(clean), seed=tf.stack([s, tf.constant(seed, tf.int64)]))
            inputs = tf.clip_by_value(clean + noise_factor * noise, 0.0, 1.0)
            return (inputs, clean, batch[1]) if labels is not None else (inputs, clean)

        ds = tf.data.Dataset.zip((ds, seeds)).map(noisy, num_parallel_calls=tf.data.AUTOTUNE)
    elif labels is not None:
        ds = ds.map(lambda clean, y: (clean, clean, y))
    else:
        ds = ds.map(lambda clean: (clean, clean))
    return ds.prefetch(tf.data.AUTOTUNE)


def as_tensor(x: np.ndarray, chunk_bytes: int = 8 << 20) -> tf.Tensor:
    """`tf.constant(x)` without holding the GIL for long: converting a NumPy array copies it with the GIL held
    (full MNIST, 172 MB: ~190 ms, which froze the window at Start). Chunks of `chunk_bytes` are converted one
    by one and joined by a concat op, which runs with the GIL released; a one-off ~0.3 s more for MNIST."""
    x = np.asarray(x)
    rows = max(1, chunk_bytes // max(1, x[:1].nbytes))
    if len(x) <= rows:
        return tf.constant(x)
    return tf.concat([tf.constant(x[i:i + rows]) for i in range(0, len(x), rows)], axis=0)


def mixture_labels(config: TrainConfig, dataset):
    """(train_idx, val_idx, n_classes) for an AAE with the mixture prior and usable labels, else None."""
    if config.model_kind != "aae" or config.prior != "mixture":
        return None
    return class_indices(getattr(dataset, "y_train", None), getattr(dataset, "y_val", None))


def class_indices(y_train, y_val=None):
    """Map labels to 0..K-1 for the mixture prior: (train_idx, val_idx, K), or None when the labels
    are unusable (missing, or more than 256 distinct values). Unseen validation labels get -1."""
    if y_train is None:
        return None
    y_train = np.asarray(y_train).reshape(len(y_train), -1)
    if y_train.shape[1] != 1:
        return None
    y_train = y_train[:, 0]
    classes = np.unique(y_train)
    if len(classes) > 256 or len(classes) == 0:
        return None
    if np.issubdtype(y_train.dtype, np.integer) and classes.min() >= 0 and classes.max() < 256:
        def index(y):
            y = np.asarray(y).reshape(-1)
            return np.where((y >= 0) & (y <= classes.max()), y, -1).astype(np.int32)
        k = int(classes.max()) + 1
    else:
        def index(y):
            y = np.asarray(y).reshape(-1)
            pos = np.clip(np.searchsorted(classes, y), 0, len(classes) - 1)
            return np.where(classes[pos] == y, pos, -1).astype(np.int32)
        k = len(classes)
    return index(y_train), (None if y_val is None else index(y_val)), max(k, 1)
