"""tf.distribute: MirroredStrategy over two logical CPUs trains and resumes through train(); clear refusals."""
import json
import subprocess
import sys
import textwrap

import pytest

from engine.core.errors import ConfigError
from engine.training.distribute import make_strategy
from tests.paths import ROOT


MIRRORED_SCRIPT = textwrap.dedent("""
    import json
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    from engine.core.config import TrainConfig
    from engine.data.dataset import Dataset
    from engine.training.distribute import make_strategy
    from engine.training.runs import RunStore
    from engine.training.fit import train

    rng = np.random.default_rng(0)
    base = rng.random((4, 8, 8, 1)).astype(np.float32)
    x = base[rng.integers(0, 4, 64)] * 0.8 + 0.1 * rng.random((64, 8, 8, 1)).astype(np.float32)
    strategy = make_strategy("mirrored")
    config = TrainConfig(model_kind="dense", code_size=8, epochs=3, batch_size=16, learning_rate=1e-2)
    store = RunStore({runs!r})
    run = store.create(config, {{}})
    data = Dataset(x[:48], x[48:], source="synthetic")
    first = train(config, data, run=run, store=store, strategy=strategy)
    result = train(config.replace(epochs=4), data, run=store.get(run.id), store=store, resume=True, strategy=strategy)
    print("RESULT" + json.dumps({{"replicas": strategy.num_replicas_in_sync, "history": result.history, "first": first.history,
                                  "status": store.get(run.id).status,
                                  "variable_type": type(result.model.trainable_variables[0]).__name__}}))
""")


def test_mirrored_strategy_trains_on_two_logical_cpus(tmp_path):
    script = MIRRORED_SCRIPT.format(runs=str(tmp_path / "runs"))
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT"):])
    assert out["replicas"] == 2
    loss = out["history"]["loss"]
    assert len(out["first"]["loss"]) == 3 and out["first"]["loss"][-1] < out["first"]["loss"][0]
    assert len(loss) == 4 and loss[:3] == out["first"]["loss"]  # resumed under the strategy too
    assert out["status"] == "finished"


def test_default_means_no_strategy_and_unknown_names_are_refused():
    assert make_strategy("default") is None
    with pytest.raises(ConfigError, match="Unknown distribution"):
        make_strategy("tpu-pod")


def test_mirrored_with_one_device_is_refused_clearly():
    import tensorflow as tf

    if len(tf.config.list_logical_devices("GPU")) >= 2 or len(tf.config.list_logical_devices("CPU")) >= 2:
        pytest.skip("this machine has two devices of one kind")
    with pytest.raises(ConfigError, match=r"at least 2 GPUs.*visible: .*CPU:0"):
        make_strategy("mirrored")


def test_multiworker_needs_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="TF_CONFIG environment variable"):
        make_strategy("multiworker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ConfigError, match="TF_CONFIG is not valid JSON"):
        make_strategy("multiworker")
