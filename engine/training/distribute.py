"""Where a training runs: one device (the default), all GPUs (MirroredStrategy), or several machines
(MultiWorkerMirroredStrategy, from TF_CONFIG)."""
from __future__ import annotations

import json
import os

from engine.core.errors import ConfigError


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
        return tf.distribute.MultiWorkerMirroredStrategy()
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
