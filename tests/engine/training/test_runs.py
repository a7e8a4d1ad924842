"""Run store: every training recorded (curves, metrics, checkpoints), compared, exported, deleted;
resumed after a stop or a kill -9 with the optimizer state intact; atomic checkpoints."""
import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from engine.core.config import TrainConfig
from engine.core.errors import ConfigError, RunError
from engine.data.dataset import Dataset
from engine.core.events import EpochEnded, Started
from engine.models.files import load_model
from engine.core.jobs import JobState
from engine.training.checkpoints import restore_checkpoint
from engine.training.fit import train
from engine.training.pipeline import compile_model
from engine.training.runs import RunInfo, RunStore, default_runs_dir, mark_active
from tests.paths import ROOT



def tiny(n=48, shape=(8, 8, 1), seed=0):
    rng = np.random.default_rng(seed)
    base = rng.random((4,) + shape).astype(np.float32)
    x = base[rng.integers(0, 4, n)] * 0.8 + 0.1 * rng.random((n,) + shape).astype(np.float32)
    return Dataset(x_train=x[: n - 12], x_val=x[n - 12:], y_train=np.arange(n - 12) % 3, y_val=np.arange(12) % 3,
                   source="synthetic")


def config(kind="dense", **changes):
    return TrainConfig(**{"model_kind": kind, "code_size": 4, "epochs": 2, "batch_size": 8, **changes})


def stop_after(epoch, stop):
    return lambda e: stop.set() if isinstance(e, EpochEnded) and e.epoch == epoch else None


def test_default_runs_dir_follows_env_and_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("AES_RUNS_DIR", str(tmp_path / "mine"))
    assert default_runs_dir() == tmp_path / "mine"
    monkeypatch.delenv("AES_RUNS_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_runs_dir() == tmp_path / "xdg" / "AutoencoderStudio" / "runs"
    assert RunStore().root == default_runs_dir()


def test_store_lists_newest_first_skips_corrupt_exports_and_deletes(tmp_path):
    store = RunStore(tmp_path)
    old = store.create(config(), {"kind": "array", "summary": "s"})
    new = store.create(config("sparse", epochs=3), {})
    for run, curve in ((old, [0.5, 0.4]), (new, [0.9, 0.6, 0.3])):
        run.history = {"loss": curve, "val_loss": curve}
        run.metrics = {"best_val_loss": min(curve)}
        run.created = "2026-01-0%dT10:00:00" % (1 if run is old else 2)
        run.status = "finished"
        store.save(run)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "run.json").write_text("{not json")
    (tmp_path / "empty").mkdir()
    assert [r.id for r in store.runs()] == [new.id, old.id]
    assert store.get(new.id).label == "2026-01-02 10:00 sparse code 4, 3 epochs, best val 0.3"
    out = store.export_curves_csv([old.id, new.id], tmp_path / "curves.csv")
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["epoch", f"{old.id} val_loss", f"{new.id} val_loss"]  # the header names its metric
    assert rows[1:] == [["1", "0.5", "0.9"], ["2", "0.4", "0.6"], ["3", "", "0.3"]]
    store.delete(old.id)
    assert not old.path.exists() and [r.id for r in store.runs()] == [new.id]
    with pytest.raises(RunError):
        store.get("no-such-run")


def test_running_run_cannot_be_deleted_and_a_dead_owner_means_interrupted(tmp_path):
    store = RunStore(tmp_path)
    run = store.create(config(), {})
    assert store.get(run.id).status == "running"
    with pytest.raises(RunError, match="still training"):
        store.delete(run.id)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    meta = json.loads((run.path / "run.json").read_text())
    meta["owner"]["pid"] = dead.pid
    (run.path / "run.json").write_text(json.dumps(meta))
    mark_active(run, False)  # as if this process had never trained it
    assert store.get(run.id).status == "interrupted"
    store.delete(run.id)


def test_recorded_trainings_write_curves_checkpoints_logs_and_code_activation(tmp_path):
    store = RunStore(tmp_path)
    data = tiny()
    activations = {}
    for kind, l1 in (("dense", 0.0), ("sparse", 0.5)):
        run = store.create(config(kind, l1_weight=l1), {"summary": data.summary()})
        result = train(config(kind, l1_weight=l1), data, run=run, store=store)
        run = store.get(run.id)
        assert run.status == "finished" and run.history == result.history
        assert run.metrics["best_epoch"] == result.best_epoch and run.metrics["epochs_done"] == 2
        assert run.metrics["best_val_loss"] == pytest.approx(result.best_val_loss)
        assert json.loads((run.path / "checkpoint.json").read_text())["epoch"] == 2
        assert len((run.path / "log.csv").read_text().strip().splitlines()) == 3  # header + 2 epochs
        np.testing.assert_allclose(np.asarray(load_model(run.model_path)(data.x_val)),
                                   np.asarray(result.model(data.x_val)), atol=1e-6)
        load_model(run.checkpoint_path)  # a checkpoint is also a complete, safe-mode loadable model
        activations[kind] = run.metrics["mean_code_activation"]
    assert activations["sparse"] < activations["dense"]


def test_a_failure_is_recorded_with_its_message(tmp_path):
    store = RunStore(tmp_path)
    data = Dataset(tiny().x_train * 5, tiny().x_val * 5)
    run = store.create(config(), {})
    with pytest.raises(ConfigError):
        train(config(), data, run=run, store=store)
    run = store.get(run.id)
    assert run.status == "failed" and "Binary cross-entropy" in run.message


def test_stop_then_resume_continues_epochs_history_and_optimizer(tmp_path):
    store = RunStore(tmp_path)
    data, cfg = tiny(), config(epochs=4)
    run = store.create(cfg, {})
    stop = threading.Event()
    first = train(cfg, data, JobState(stop_after(1, stop), stop), run=run, store=store)
    run = store.get(run.id)
    assert run.status == "stopped" and len(first.history["loss"]) == 2 and run.model_path.is_file()
    events = []
    result = train(cfg, data, JobState(events.append), run=run, store=store, resume=True)
    assert [e.epoch for e in events if isinstance(e, EpochEnded)] == [2, 3]
    started = next(e for e in events if isinstance(e, Started))
    assert "Resumed after epoch 2" in started.description and started.resumed_after == 2
    assert started.history == first.history  # the recorded epochs, to show the whole run
    assert result.message.startswith("Resumed after epoch 2 and finished epochs 3–4 in ")
    assert len(result.history["loss"]) == 4 and result.history["loss"][:2] == first.history["loss"]
    assert int(result.model.optimizer.iterations.numpy()) == 4 * 5  # 36 samples / batch 8 = 5 steps per epoch
    run = store.get(run.id)
    assert run.status == "finished" and run.history == result.history


@pytest.mark.parametrize("kind", ["vae", "aae"])
def test_checkpoint_restores_every_optimizer_exactly(kind, tmp_path):
    store = RunStore(tmp_path)
    data = tiny()
    cfg = config(kind, prior="mixture") if kind == "aae" else config(kind)
    run = store.create(cfg, {})
    result = train(cfg, data, run=run, store=store)
    from engine.models.builders import build_autoencoder

    fresh = build_autoencoder(cfg, data.sample_shape, n_classes=getattr(result.model, "n_classes", None))
    compile_model(fresh, cfg, 5)
    state = restore_checkpoint(fresh, run.checkpoint_path)
    assert state["epoch"] == 2 and state["history"] == result.history
    names = ["optimizer"] + (["discriminator_optimizer", "generator_optimizer"] if kind == "aae" else [])
    for name in names:
        trained, restored = getattr(result.model, name), getattr(fresh, name)
        assert int(restored.iterations.numpy()) == 2 * 5
        for a, b in zip(trained.variables, restored.variables, strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    resumed = train(cfg.replace(epochs=3), data, run=store.get(run.id), store=store, resume=True)
    assert len(resumed.history["loss"]) == 3 and resumed.history["loss"][:2] == result.history["loss"]


def test_resume_without_a_checkpoint_is_refused(tmp_path):
    store = RunStore(tmp_path)
    run = store.create(config(), {})
    with pytest.raises(RunError, match="cannot be resumed"):
        train(config(), tiny(), run=run, store=store, resume=True)
    assert store.get(run.id).status == "failed"


KILLED_TRAINING = textwrap.dedent("""
    import time, numpy as np
    from engine.core.config import TrainConfig
    from engine.data.dataset import Dataset
    from engine.core.events import EpochEnded
    from engine.training.runs import RunStore
    from engine.core.jobs import JobState
    from engine.training.fit import train

    rng = np.random.default_rng(0)
    x = rng.random((40, 6, 6, 1)).astype(np.float32)
    store = RunStore({root!r})
    config = TrainConfig(model_kind="dense", code_size=4, epochs={epochs}, batch_size=8)
    run = store.create(config, {{}})
    print(run.id, flush=True)
    train(config, Dataset(x[:30], x[30:]),
          JobState(lambda e: time.sleep(0.3) if isinstance(e, EpochEnded) else None), run=run, store=store)
""")


def wait_for(predicate, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def checkpoint_epoch(run_path: Path) -> int:
    try:
        return json.loads((run_path / "checkpoint.json").read_text())["epoch"]
    except (OSError, ValueError):
        return 0


def test_kill_9_mid_training_then_resume(tmp_path):
    epochs = 20
    proc = subprocess.Popen([sys.executable, "-c", KILLED_TRAINING.format(root=str(tmp_path), epochs=epochs)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        run_id = proc.stdout.readline().strip()
        assert run_id, "the training subprocess did not start"
        assert wait_for(lambda: checkpoint_epoch(tmp_path / run_id) >= 2)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    store = RunStore(tmp_path)
    run = store.get(run_id)
    assert run.status == "interrupted"
    before = json.loads((run.path / "checkpoint.json").read_text())
    assert 2 <= before["epoch"] < epochs
    load_model(run.checkpoint_path)  # complete despite the kill
    rng = np.random.default_rng(0)
    x = rng.random((40, 6, 6, 1)).astype(np.float32)
    cfg = TrainConfig.from_dict(run.config)
    result = train(cfg, Dataset(x[:30], x[30:]), run=run, store=store, resume=True)
    assert len(result.history["loss"]) == epochs
    assert result.history["loss"][:before["epoch"]] == before["history"]["loss"]
    assert result.history["val_loss"][:before["epoch"]] == before["history"]["val_loss"]
    run = store.get(run_id)
    assert run.status == "finished" and len(run.history["loss"]) == epochs
    assert not list(run.path.glob(".*tmp*")), "a temporary file from the killed save was left"


REPEATED_SAVES = textwrap.dedent("""
    import sys
    from pathlib import Path
    import keras
    from engine.training.checkpoints import write_checkpoint

    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(256), keras.layers.Dense(64)])
    model.compile(optimizer="adam", loss="mse")
    path = Path(sys.argv[1])
    for i in range(100000):
        write_checkpoint(model, path, {{"epoch": i}}, model.get_weights())
        if i == 0:
            print("saved", flush=True)
""")


def test_kill_9_during_saves_leaves_a_complete_file(tmp_path):
    target = tmp_path / "checkpoint.keras"
    proc = subprocess.Popen([sys.executable, "-c", REPEATED_SAVES.format(), str(target)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout.readline().strip() == "saved"
        time.sleep(1.0)  # many saves later, very likely in the middle of one
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert load_model(target).count_params() > 0
    strays = [p for p in tmp_path.iterdir() if p != target]
    assert all(p.name.startswith(".checkpoint.") and ".tmp" in p.name for p in strays)
    run = RunInfo("r", tmp_path, "interrupted", "", {}, {})
    assert run.checkpoint_path == target  # readers look only at the fixed name, never at a temporary file


def test_run_store_imports_no_tensorflow():
    code = "import sys, engine.training.runs; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["False", "False"], done.stderr[-2000:]


def test_a_run_gets_a_name_and_a_note_that_recording_does_not_overwrite(tmp_path):
    store = RunStore(tmp_path)
    run = store.create(config(), {})
    store.annotate(run.id, name="baseline", note="lr 3e-3, before the data fix")
    run.history = {"loss": [0.5], "val_loss": [0.4]}
    store.save(run)  # the recorder writing its epoch
    again = store.get(run.id)
    assert (again.name, again.note) == ("baseline", "lr 3e-3, before the data fix")
    assert store.annotate(run.id, note="").note == "" and store.get(run.id).name == "baseline"
    path = store.export_curves_csv([run.id], tmp_path / "c.csv", key="val_loss")
    assert path.read_text().splitlines()[0] == f"epoch,{run.id} val_loss (baseline)"  # the header names its metric


def _compiled(shape=(8, 8, 1)):
    from engine.models.builders import build_autoencoder

    model = build_autoencoder(config(), shape)
    compile_model(model, config(), steps_per_epoch=5)
    return model


def test_checkpoint_keeps_the_best_weights_apart_from_the_current_ones(tmp_path):
    from engine.training.checkpoints import write_checkpoint

    model = _compiled()
    best = [np.full_like(w, 0.5) for w in model.get_weights()]  # the best epoch was an earlier one
    write_checkpoint(model, tmp_path / "a.keras", {"epoch": 3}, best)
    state = restore_checkpoint(_compiled(), tmp_path / "a.keras")
    assert state["epoch"] == 3 and all(np.array_equal(a, b) for a, b in zip(state["best_weights"], best))
    write_checkpoint(model, tmp_path / "b.keras", {"epoch": 3}, None)  # the best epoch is the current one
    state = restore_checkpoint(_compiled(), tmp_path / "b.keras")
    assert all(np.array_equal(a, b) for a, b in zip(state["best_weights"], model.get_weights()))


def test_a_damaged_or_foreign_checkpoint_is_refused(tmp_path):
    from engine.training.checkpoints import write_checkpoint

    (tmp_path / "junk.keras").write_bytes(b"not a zip at all")
    with pytest.raises(RunError, match="not a complete checkpoint"):
        restore_checkpoint(_compiled(), tmp_path / "junk.keras")
    write_checkpoint(_compiled((8, 8, 1)), tmp_path / "small.keras", {"epoch": 1}, None)
    with pytest.raises(RunError, match="does not fit this model and data"):
        restore_checkpoint(_compiled((12, 12, 1)), tmp_path / "small.keras")
