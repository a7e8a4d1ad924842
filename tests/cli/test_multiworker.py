"""`main.py train --distribute multiworker` with two real workers on this machine: two CLI processes, each
with its TF_CONFIG naming both (127.0.0.1, free ports), as on two machines (each its own run store and
--out path). The first training shows that each worker trains on its own share of every epoch, that the
loss falls, that only the chief records, and that killing the other worker ends the chief with one
"error:" line (no traceback, no hang) saying how to resume; the second resumes the run on both workers.

Each worker runs the CLI (main.main) behind a small probe that logs the sample ids of each of its training
steps: that is what shows the sharding (with tf.data's auto-sharding off, both workers would train on the
same samples, in the same number of steps). The timeouts only bound a hang; nothing asserts how fast."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from tests.paths import ROOT

pytestmark = pytest.mark.timeout(900)

START_TIMEOUT = 300  # two TensorFlow start-ups on a loaded 2-core machine, then 3 epochs
LOST_TIMEOUT = 180  # the chief notices at once (broken connection) or after TF's 10 s heartbeat timeout
RUN_TIMEOUT = 300
N, ID_SCALE, BATCH = 120, 1000, 36  # 108 training samples (the loader keeps 12 for validation): 3 steps an epoch
PROBE = """
import os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
from cli.app import _import_tensorflow_quietly
_import_tensorflow_quietly()
import keras, numpy as np, tensorflow as tf
log = open(os.environ["AES_TEST_SEEN"], "a", buffering=1)
def seen(x):
    log.write(" ".join(str(i) for i in np.rint(np.asarray(x)[:, 0] * %d).astype(int)) + "\\n")
    return np.int32(0)
train_step = keras.Model.train_step
def logged(self, data):
    tf.py_function(seen, [data[0]], tf.int32)
    return train_step(self, data)
keras.Model.train_step = logged
import main
sys.exit(main.main(["main.py", *sys.argv[1:]]))
""" % ID_SCALE


def free_ports(n: int) -> list[int]:
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    except OSError as exc:
        pytest.skip(f"no free TCP port on 127.0.0.1 for the workers: {exc}")
    finally:
        for s in sockets:
            s.close()


class Worker:
    """One CLI process of the cluster; its output goes to files (read while it runs)."""

    def __init__(self, folder: Path, index: int, hosts: list[str], args: list[str], tag: str):
        self.index, self.runs, self.out = index, folder / f"runs{index}", folder / f"model{index}.keras"
        self.stdout, self.stderr = folder / f"{tag}-out{index}.txt", folder / f"{tag}-err{index}.txt"
        self.seen = folder / f"{tag}-seen{index}.txt"
        tf_config = {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": index}}
        env = dict(os.environ, TF_CONFIG=json.dumps(tf_config), AES_RUNS_DIR=str(self.runs),
                   AES_TEST_SEEN=str(self.seen), CUDA_VISIBLE_DEVICES="")  # both on one GPU would not fit
        env.pop("TF_CPP_MIN_LOG_LEVEL", None)
        with open(self.stdout, "w") as out, open(self.stderr, "w") as err:
            self.process = subprocess.Popen([sys.executable, "-c", PROBE, "train", "--distribute", "multiworker",
                                             *args, "--out", str(self.out)], cwd=ROOT, env=env, stdout=out,
                                            stderr=err, start_new_session=True)

    def err(self) -> str:
        return self.stderr.read_text()

    def output(self) -> str:
        return f"--- worker {self.index} stdout:\n{self.stdout.read_text()}\n--- stderr:\n{self.err()[-4000:]}"

    def wait(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            pytest.fail(f"worker {self.index} still ran after {timeout} s (a hang)\n{self.output()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def steps(self) -> list[list[int]]:
        """The sample ids of each training step this worker ran (its replica's share of the batch)."""
        text = self.seen.read_text() if self.seen.is_file() else ""
        return [[int(i) for i in line.split()] for line in text.splitlines()]


def start_cluster(folder: Path, args: list[str], tag: str) -> list[Worker]:
    hosts = [f"127.0.0.1:{port}" for port in free_ports(2)]
    return [Worker(folder, index, hosts, args, tag) for index in (0, 1)]


def wait_for(worker: Worker, text: str, others: list[Worker], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in worker.err():
        if worker.process.poll() is not None or time.monotonic() > deadline:
            for w in [worker, *others]:
                w.stop()
            pytest.fail(f"{text!r} never came\n" + "\n".join(w.output() for w in [worker, *others]))
        time.sleep(0.05)


def files_of(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()[:16]
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def data(tmp_path) -> Path:
    """Four prototypes plus noise (an autoencoder learns them fast); column 0 is each sample's id / ID_SCALE."""
    rng = np.random.default_rng(0)
    prototypes = rng.random((4, 64)).astype(np.float32)
    x = prototypes[rng.integers(0, 4, N)] * 0.8 + 0.1 * rng.random((N, 64)).astype(np.float32)
    x[:, 0] = np.arange(N) / ID_SCALE
    np.save(tmp_path / "data.npy", x)
    return tmp_path / "data.npy"


def test_two_workers_shard_record_on_the_chief_and_resume_after_losing_one(tmp_path, data):
    from engine.training.runs import RunStore

    args = ["--data-path", str(data), "--kind", "dense", "--code-size", "8", "--batch-size", str(BATCH),
            "--lr", "0.01", "--epochs", "40", "--seed", "0"]
    chief, other = workers = start_cluster(tmp_path, args, "first")
    try:
        wait_for(chief, "Epoch 4/40", [other], START_TIMEOUT)  # 3 epochs recorded
        other.stop()  # SIGKILL, mid-run
        code = chief.wait(LOST_TIMEOUT)
    finally:
        for w in workers:
            w.stop()

    # (d) the chief ends with one line saying what happened and how to resume
    stderr = chief.err()
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert code == 1 and len(errors) == 1 and "Traceback" not in stderr, chief.output()
    [run] = RunStore(chief.runs).runs()
    assert re.match(r"error: Lost (worker 1|a worker) of the multi-worker cluster", errors[0]), errors[0]
    assert f"resume run {run.id}" in errors[0], errors[0]
    done = len(run.history["loss"])
    assert run.status == "failed" and done >= 3 and run.message == errors[0][len("error: "):]
    assert "on 2 replicas" in stderr.split("Epoch 1/")[0], stderr  # one replica on each worker

    # (a) every epoch, each worker trained on half of the training samples, the other half on the other one
    steps = -(-(N - N // 10) // BATCH)
    shares = [w.steps() for w in workers]
    for epoch in range(3):
        mine, theirs = ({i for step in s[epoch * steps:(epoch + 1) * steps] for i in step} for s in shares)
        assert len(mine) == len(theirs) == (N - N // 10) // 2, (epoch, sorted(mine), sorted(theirs))
        assert not mine & theirs, (epoch, sorted(mine & theirs))
    # (b) the loss falls
    assert run.history["loss"][2] < run.history["loss"][0], run.history
    # (c) the chief alone records: the other worker wrote no run and no model
    assert not other.runs.exists() or not any(other.runs.iterdir()), list(other.runs.rglob("*"))
    assert not chief.out.exists() and not other.out.exists()

    # resume on both workers; the other machine needs the run too: here a copy, as on a second machine
    shutil.copytree(run.path, other.runs / run.id)
    before = files_of(other.runs)
    total = done + 2
    chief, other = workers = start_cluster(tmp_path, ["--resume", run.id, "--epochs", str(total)], "again")
    try:
        codes = [w.wait(RUN_TIMEOUT) for w in workers]
    finally:
        for w in workers:
            w.stop()
    assert codes == [0, 0], "\n".join(w.output() for w in workers)
    resumed = RunStore(chief.runs).get(run.id)
    assert resumed.status == "finished" and len(resumed.history["loss"]) == total
    assert resumed.history["loss"][:done] == run.history["loss"]
    assert resumed.history["loss"][-1] < resumed.history["loss"][0]
    assert resumed.model_path.is_file() and chief.out.is_file()
    assert f"Run {run.id} (finished)" in chief.stdout.read_text()
    assert len(other.steps()) == 2 * steps  # the other worker trained the two epochs with the chief...
    assert files_of(other.runs) == before  # ...and only read its copy of the run
    assert "Run " not in other.stdout.read_text()
    assert not other.out.exists(), "the other worker wrote --out: only the chief saves (cli.commands.cmd_train " \
                                   "must skip --out when TrainOutcome.chief is False)"


def test_a_worker_resumes_from_a_private_copy_of_the_run(tmp_path):
    """What the other workers restore from and record in: a copy, gone afterwards, even after an error."""
    from engine.core.config import TrainConfig
    from engine.training.distribute import worker_copy
    from engine.training.runs import RunStore

    store = RunStore(tmp_path / "runs")
    run = store.create(TrainConfig(), {})
    (run.path / "checkpoint.keras").write_bytes(b"weights")
    before = files_of(run.path)
    with pytest.raises(RuntimeError), worker_copy(run) as copy:
        assert copy.id == run.id and copy.path != run.path
        assert (copy.path / "checkpoint.keras").read_bytes() == b"weights"
        (copy.path / "checkpoint.keras").write_bytes(b"newer")
        copy.history["loss"] = [1.0]
        raise RuntimeError("training failed")
    assert not copy.path.parent.exists()
    assert files_of(run.path) == before and run.history == {}
    with worker_copy(None) as nothing:
        assert nothing is None
