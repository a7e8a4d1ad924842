"""Where a training runs: one device (the default), all GPUs (MirroredStrategy), or several machines
(MultiWorkerMirroredStrategy, from TF_CONFIG).

On a multi-worker cluster every worker trains the same model on its share of each batch (tf.data shards
the pipeline by batch: AutoShardPolicy.DATA, as nothing is read from files); only the chief (task
"chief", else worker 0) records the run and saves the model. A worker that dies ends the others'
training: its connections break at once, and one that hangs stops sending heartbeats to TensorFlow's
coordination service (held by the chief), which aborts the others' collective operations after its
heartbeat timeout (10 s by default). `peer_loss_as_error` turns that into a TrainingError that says how to
resume.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from engine.core.errors import ConfigError, TrainingError
from engine.training.runs import RunInfo, RunStore


def make_strategy(name: str = "default"):
    """None for "default"; a MirroredStrategy over 2+ GPUs (else 2+ logical CPUs) for "mirrored";
    a MultiWorkerMirroredStrategy for "multiworker" (needs TF_CONFIG). ConfigError when impossible."""
    if name in ("default", "", None):
        return None
    if name not in ("mirrored", "multiworker"):
        raise ConfigError(f"Unknown distribution {name!r}; choose default, mirrored or multiworker.")
    import tensorflow as tf

    if name == "multiworker":
        _check_tf_config(os.environ.get("TF_CONFIG"))
        return _multiworker_class()()
    gpus, cpus = tf.config.list_logical_devices("GPU"), tf.config.list_logical_devices("CPU")
    if len(gpus) >= 2:
        return tf.distribute.MirroredStrategy([d.name for d in gpus])
    if len(cpus) >= 2:
        return tf.distribute.MirroredStrategy([d.name for d in cpus])
    visible = ", ".join(d.name for d in gpus + cpus) or "none"
    raise ConfigError(f"Mirrored training needs at least 2 GPUs (or 2 logical devices of one kind); "
                      f"visible: {visible}. Use the default (one device) instead.")


def _check_tf_config(raw: str | None) -> None:
    if not raw:
        raise ConfigError("Multi-worker training needs the TF_CONFIG environment variable (the cluster's workers "
                          "and this worker's task) set before starting; it is not set. Use the default instead.")
    try:
        cluster = json.loads(raw)["cluster"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"TF_CONFIG is not valid JSON with a 'cluster' entry: {exc}") from exc
    if not cluster:
        raise ConfigError("TF_CONFIG names an empty cluster.")


@functools.cache
def _multiworker_class():
    """tf.distribute.MultiWorkerMirroredStrategy whose reduce() also takes a nest of values and scalars with an
    axis: Keras 3.15's fit reduces the first (inputs, targets) batch to build the model, and each step's
    scalar metrics with axis=0, which the plain strategy refuses (keras-team/keras#20585)."""
    import tensorflow as tf

    class MultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
        def reduce(self, reduce_op, value, axis):
            reduce_one = super().reduce

            def one(v):
                parts = v.values if isinstance(v, tf.distribute.DistributedValues) else (v,)
                scalar = all(getattr(p, "shape", None) is not None and p.shape.rank == 0 for p in parts)
                return reduce_one(reduce_op, v, None if scalar else axis)

            return tf.nest.map_structure(one, value)

    return MultiWorkerMirroredStrategy


def is_chief(strategy) -> bool:
    """Whether this process records the run and saves the model: always, except on the workers of a
    multi-worker cluster other than its chief."""
    return strategy is None or bool(strategy.extended.should_checkpoint)


@contextlib.contextmanager
def worker_copy(run: RunInfo | None) -> Iterator[RunInfo | None]:
    """For a worker that is not the chief: None for a new run (it records nothing); for a resumed run, a copy
    of `run` in a temporary folder, whose checkpoint it restores and where it records, deleted afterwards, so
    that the user's run (in a shared runs folder, or copied from the chief) is only read."""
    if run is None:
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="aes-worker-"))
    try:
        copy = folder / run.path.name
        shutil.copytree(run.path, copy, ignore=shutil.ignore_patterns("tensorboard", "log.csv", "model.keras"))
        yield dataclasses.replace(run, path=copy, config=dict(run.config), history=dict(run.history),
                                  metrics=dict(run.metrics))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def peer_loss_as_error(strategy, run: RunInfo | None = None, store: RunStore | None = None,
                       total_epochs: int | None = None) -> Iterator[None]:
    """Turn the error a lost worker of a multi-worker cluster raises into a TrainingError saying how to resume
    (and record that message in `run`, when this process records one)."""
    try:
        yield
    except Exception as exc:
        if strategy is None or not isinstance(strategy, _multiworker_class()) or not _peer_lost(exc):
            raise
        done = len(run.history.get("loss", [])) if run is not None else None
        where = "" if done is None else f" after epoch {done}" + (f" of {total_epochs}" if total_epochs else "")
        again = f"resume run {run.id}" if run is not None else "resume the chief's run"
        message = (f"Lost {_lost_task(exc, strategy)} of the multi-worker cluster ({_cause(exc)}); training "
                   f"stopped{where}. Start every worker again and {again} on each of them.")
        if run is not None and store is not None:  # the chief's record says so too
            run.message = message
            with contextlib.suppress(OSError):
                store.save(run)
        raise TrainingError(message) from exc


def _peer_lost(exc: BaseException) -> bool:
    """Whether TensorFlow raised `exc` because another task stopped answering (not a bug of this one)."""
    import tensorflow as tf

    lost = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.AbortedError,
            tf.errors.CancelledError)
    text = str(exc)
    return isinstance(exc, lost) or (isinstance(exc, tf.errors.OpError) and (
        "Collective ops is aborted" in text or "heartbeat" in text))


def _lost_task(exc: BaseException, strategy) -> str:
    """The other task the error names ("worker 1"), else "a worker"."""
    resolver = strategy.cluster_resolver
    me = (resolver.task_type, int(resolver.task_id or 0))
    for job, index in re.findall(r"/job:(\w+)/(?:replica:\d+/)?task:(\d+)", str(exc)):
        if (job, int(index)) != me:
            return f"{job} {index}"
    return "a worker"


def _cause(exc: BaseException) -> str:
    text = str(exc)
    if "heartbeat" in text:
        return "it stopped sending heartbeats"
    if re.search(r"connection|socket|unavailable", text, re.IGNORECASE):
        return "its connection broke"
    return type(exc).__name__
