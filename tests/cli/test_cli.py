"""The headless command line (engine/cli.py through main.py), run as subprocesses on tiny data."""
from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from tests.paths import ROOT

MAIN = str(ROOT / "main.py")
TIMEOUT = 180


def _env(runs: Path) -> dict[str, str]:
    env = dict(os.environ, AES_RUNS_DIR=str(runs), QT_QPA_PLATFORM="offscreen")
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the CLI quiets TensorFlow itself
    return env


def cli(*args: str, runs: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, MAIN, *map(str, args)], cwd=cwd, env=_env(runs), capture_output=True,
                          text=True, timeout=TIMEOUT)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error: ")]


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cli")
    x = np.random.default_rng(0).random((40, 8, 8)).astype(np.float32)
    np.savez(folder / "tiny.npz", x=x)
    return folder


@pytest.fixture(scope="module")
def trained(work):
    """One 2-epoch training through the CLI, shared by the tests that need a model or a run."""
    runs = work / "runs"
    done = cli("train", "--data-path", work / "tiny.npz", "--epochs", "2", "--batch-size", "16", "--code-size", "4",
               "--out", work / "m.keras", runs=runs)
    return done, runs


def test_train_writes_model_and_run(trained, work):
    done, runs = trained
    assert done.returncode == 0, done.stderr
    assert "Epoch 1/2" in done.stderr and "Epoch 2/2" in done.stderr
    assert re.search(r"^loss: \d+\.\d{4} - val_loss: \d+\.\d{4} - \d+\.\ds$", done.stderr, re.M)
    assert "\r" not in done.stderr  # no progress bar when stderr is not a terminal
    from engine.training.runs import RunStore

    [run] = RunStore(runs).runs()
    assert run.status == "finished"
    assert len(run.history["loss"]) == 2 and len(run.history["val_loss"]) == 2
    assert run.model_path.is_file()
    assert f"Run {run.id}" in done.stdout and str(run.path) in done.stdout
    assert Path(run.data["path"]).is_absolute()  # --resume works from any folder

    from engine.models.files import load_model

    model = load_model(work / "m.keras")
    assert tuple(model.input_shape[1:]) == (8, 8, 1)


def test_resume_continues_the_run(trained, work, tmp_path):
    done, shared = trained
    assert done.returncode == 0, done.stderr
    import shutil

    from engine.training.runs import RunStore

    runs = tmp_path / "runs"  # a copy: the shared run stays as trained for the other tests
    shutil.copytree(shared, runs)

    [run] = RunStore(runs).runs()
    again = cli("train", "--resume", run.id, "--epochs", "3", runs=runs, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "Epoch 3/3" in again.stderr and "Epoch 1/3" not in again.stderr
    resumed = RunStore(runs).get(run.id)
    assert len(resumed.history["loss"]) == 3 and resumed.status == "finished"
    refused = cli("train", "--resume", run.id, "--kind", "deep", runs=runs)
    assert refused.returncode == 2 and "--kind" in error_lines(refused.stderr)[0]


def test_rollback_continues_a_run_from_its_best_epoch_with_a_tenth_of_the_rate(trained, tmp_path):
    done, shared = trained
    assert done.returncode == 0, done.stderr
    import shutil

    from engine.training.runs import RunStore

    runs = tmp_path / "runs"
    shutil.copytree(shared, runs)
    [run] = RunStore(runs).runs()
    best = run.metrics["best_epoch"] + 1
    again = cli("train", "--rollback", run.id, runs=runs, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"Rolling run {run.id} back to epoch {best} (learning rate {run.config['learning_rate'] / 10:g})" \
        in again.stderr
    rolled = RunStore(runs).get(run.id)
    assert rolled.config["learning_rate"] == pytest.approx(run.config["learning_rate"] / 10)
    assert rolled.metrics["changes"][-1]["rolled_back_to"] == best
    refused = cli("train", "--rollback", run.id, "--lr", "0.1", runs=runs)
    assert refused.returncode == 2 and "--lr" in error_lines(refused.stderr)[0]


def test_on_diverge_rollback_retries_a_run_no_better_than_the_mean_with_lower_rates(tmp_path):
    rng = np.random.default_rng(0)
    prototypes = rng.random((3, 8, 8)).astype(np.float32)
    x = np.clip(prototypes[rng.integers(0, 3, 120)] + 0.05 * rng.standard_normal((120, 8, 8)), 0, 1)
    np.save(tmp_path / "x.npy", x.astype(np.float32))
    runs = tmp_path / "runs"
    done = cli("train", "--data-path", tmp_path / "x.npy", "--epochs", "12", "--batch-size", "8", "--lr", "10",
               "--on-diverge", "rollback", runs=runs)
    assert "warning: After" in done.stderr and "Rolling run" in done.stderr, done.stderr
    from engine.training.runs import RunStore

    [run] = RunStore(runs).runs()
    rates = [c["learning_rate"] for c in run.metrics["changes"] if "rolled_back_to" in c]
    assert rates[0] == pytest.approx(1.0) and rates == sorted(rates, reverse=True) and len(rates) <= 3
    assert run.config["learning_rate"] == pytest.approx(rates[-1])


def test_export_keras_verifies(trained, work):
    assert trained[0].returncode == 0, trained[0].stderr
    done = cli("export", work / "m.keras", "--format", "keras", "--out", work / "exported.keras", runs=work / "runs")
    assert done.returncode == 0, done.stderr
    diff = float(re.search(r"max abs difference (\S+)", done.stdout).group(1))
    assert diff <= 1e-5
    meta = Path(re.search(r"Metadata: (.+)", done.stdout).group(1).strip())
    assert meta.is_file() and json.loads(meta.read_text())["format"] == "keras"


@pytest.mark.parametrize("case", ["missing_data", "unknown_key", "bad_kind", "json_syntax", "bad_section"])
def test_train_user_errors(case, work, tmp_path):
    if case == "missing_data":
        args, code, words = ["--data-path", tmp_path / "nope.npz"], 2, ["nope.npz", "does not exist"]
    elif case == "unknown_key":
        (tmp_path / "c.json").write_text(json.dumps({"model": {"epochs": 1, "epochz": 3}}))
        args, code, words = ["--config", tmp_path / "c.json"], 2, ["epochz"]
    elif case == "bad_kind":
        args, code, words = ["--kind", "nonsense", "--data-path", work / "tiny.npz"], 2, ["nonsense", "dense", "conv"]
    elif case == "json_syntax":
        (tmp_path / "c.json").write_text('{"model": {"epochs": 1,}')
        args, code, words = ["--config", tmp_path / "c.json"], 2, ["not valid JSON", "line 1"]
    else:
        (tmp_path / "c.json").write_text(json.dumps({"training": {}}))
        args, code, words = ["--config", tmp_path / "c.json"], 2, ["training"]
    done = cli("train", *args, runs=tmp_path / "runs")
    assert done.returncode == code
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert all(w in lines[0] for w in words), lines[0]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "runs").exists()  # nothing was recorded


def test_unreadable_data_is_a_runtime_error(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not numpy at all")
    done = cli("train", "--data-path", tmp_path / "junk.npz", "--epochs", "1", runs=tmp_path / "runs")
    assert done.returncode == 1
    assert len(error_lines(done.stderr)) == 1 and "Traceback" not in done.stderr


def test_denoise_classical_with_added_noise(tmp_path):
    from PIL import Image

    pixels = (np.add.outer(np.arange(40), np.arange(48)) * 2).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "in.png")
    done = cli("denoise", tmp_path / "in.png", tmp_path / "out.png", "--model", "nl_means", "--add-noise", "25",
               "--seed", "1", runs=tmp_path / "runs")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out.png").is_file()
    with Image.open(tmp_path / "out.png") as out:
        assert out.size == (48, 40) and out.mode == "L"
    psnr = {m.group(1): float(m.group(2)) for m in re.finditer(r"^(.+): PSNR (\S+) dB, SSIM", done.stdout, re.M)}
    assert set(psnr) == {"Noisy", "Non-local means"} and psnr["Non-local means"] > psnr["Noisy"]


def test_denoise_keeps_16_bits(tmp_path):
    from PIL import Image

    pixels = (np.add.outer(np.arange(24), np.arange(32)) * 900).astype(np.uint16)
    Image.fromarray(pixels).save(tmp_path / "in16.png")
    done = cli("denoise", tmp_path / "in16.png", tmp_path / "out16.png", "--model", "tv", runs=tmp_path / "runs")
    assert done.returncode == 0, done.stderr
    with Image.open(tmp_path / "out16.png") as out:
        assert out.mode.startswith("I")


@pytest.mark.parametrize("args", [("denoise", "{t}/missing.png", "{t}/o.png"),
                                  ("denoise", "{t}/in.png", "{t}/o.xyz"),
                                  ("denoise", "{t}/in.png", "{t}/o.png", "--model", "nonsense"),
                                  ("score", "{t}/missing.aedet", "{t}/data.csv"),
                                  ("export", "{t}/missing.keras", "--out", "{t}/x.keras"),
                                  ("denoise", "{t}/in.png", "{t}/no/o.png", "--model", "tv"),
                                  ("export", "{bundled}", "--out", "{t}/no/x.keras")])
def test_missing_inputs_are_one_line_errors(args, tmp_path):
    from PIL import Image

    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "in.png")
    (tmp_path / "data.csv").write_text("a\n1\n")
    bundled = ROOT / "resources" / "denoiser_unet.keras"
    done = cli(*[a.format(t=tmp_path, bundled=bundled) for a in args], runs=tmp_path / "runs")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr


def test_score_table_detector(tmp_path):
    from engine.anomaly.data import AnomalySpec
    from engine.anomaly.detector import default_config, train_detector
    from engine.anomaly.files import save_detector

    rng = np.random.default_rng(0)
    table = tmp_path / "normal.csv"
    with open(table, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["a", "b", "c"])
        writer.writerows([[f"{v:.4f}" for v in row] for row in rng.normal(size=(48, 3))])
    outcome = train_detector(AnomalySpec("table", path=str(table)), default_config("table", epochs=2))
    detector = save_detector(outcome.detector, tmp_path / "t.aedet")

    done = cli("score", detector, table, "--out", tmp_path / "scored.csv", "--threshold", "0.5",
               runs=tmp_path / "runs")
    assert done.returncode == 0, done.stderr
    with open(tmp_path / "scored.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["a", "b", "c", "anomaly_score", "anomaly_flag", "anomaly_score_kind"]
    assert len(rows) == 49
    flagged = sum(int(r[-2]) for r in rows[1:])
    assert f"{flagged} of 48 rows flagged at threshold 0.5" in done.stdout

    # At a threshold equal to a row's score that row is not flagged: CLI and engine agree row by row.
    from engine.anomaly.scores import threshold_stats
    from engine.anomaly.detector import data_for, score
    from engine.anomaly.files import load_detector

    errors = score(load_detector(detector).model, data_for(load_detector(detector), str(table))).errors
    at = float(np.sort(errors)[len(errors) // 2])
    on_score = cli("score", detector, table, "--out", tmp_path / "at.csv", "--threshold", repr(at),
                   runs=tmp_path / "runs")
    assert on_score.returncode == 0, on_score.stderr
    with open(tmp_path / "at.csv", newline="") as f:
        flags = [int(r[-2]) for r in list(csv.reader(f))[1:]]
    expected = np.zeros(48, int)
    expected[np.argsort(errors, kind="stable")[np.searchsorted(np.sort(errors), at, side="right"):]] = 1
    assert flags == expected.tolist() and sum(flags) == 48 - (len(errors) // 2 + 1)
    assert threshold_stats(errors, at).flagged == sum(flags)
    assert f"{sum(flags)} of 48 rows flagged" in on_score.stdout

    on_folder = cli("score", detector, tmp_path, runs=tmp_path / "runs")  # a table detector needs a file
    assert on_folder.returncode == 2 and len(error_lines(on_folder.stderr)) == 1


def test_ctrl_c_stops_and_keeps_the_best_model(work, tmp_path):
    proc = subprocess.Popen([sys.executable, MAIN, "train", "--data-path", str(work / "tiny.npz"), "--epochs", "5000",
                             "--out", str(tmp_path / "kept.keras")], cwd=ROOT, env=_env(tmp_path / "runs"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []

    def read():
        for line in proc.stderr:
            seen.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + TIMEOUT
    while not any(line.startswith("Epoch 2/") for line in seen) and proc.poll() is None:
        assert time.monotonic() < deadline, "".join(seen)
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out = proc.stdout.read()
    assert proc.wait(TIMEOUT) == 130, "".join(seen)
    reader.join(10)
    assert "Stopped by you" in "".join(seen) and "Traceback" not in "".join(seen)
    assert (tmp_path / "kept.keras").is_file()
    from engine.training.runs import RunStore

    [run] = RunStore(tmp_path / "runs").runs()
    assert run.status == "stopped" and run.model_path.is_file() and f"Run {run.id}" in out
    # The kept model is the best epoch's (not the weights the stop interrupted): it scores the best val loss.
    from engine.data.arrays import load_array_file
    from engine.models.files import load_model

    x_val = load_array_file(work / "tiny.npz", validation_fraction=0.1, seed=0).x_val
    for path in (tmp_path / "kept.keras", run.model_path):
        out = np.clip(np.asarray(load_model(path)(x_val), np.float64), 1e-7, 1 - 1e-7)
        bce = float(np.mean(-(x_val * np.log(out) + (1 - x_val) * np.log(1 - out))))
        assert bce == pytest.approx(run.metrics["best_val_loss"], rel=1e-5)


_NO_HEAVY = ("import sys; sys.argv = ['main.py'] + sys.argv[1:]; import main\n"
             "try:\n    main.main()\nexcept SystemExit as e:\n    code = e.code\n"
             "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'PySide6', 'tensorflow', 'keras'})\n"
             "print('HEAVY', heavy, 'CODE', code)")


@pytest.mark.parametrize("command", [[], ["train"], ["denoise"], ["score"], ["export"]])
def test_help_is_light(command, tmp_path):
    done = subprocess.run([sys.executable, "-c", _NO_HEAVY, *command, "--help"], cwd=ROOT, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=60)
    assert "HEAVY [] CODE 0" in done.stdout, done.stdout + done.stderr
    assert "usage:" in done.stdout
    if command:
        assert "--help" in done.stdout and "--" in done.stdout.split("options:")[1]
    else:
        assert all(name in done.stdout for name in ("train", "denoise", "score", "export"))


def test_denoise_strength_scales_what_the_bundled_model_is_told(tmp_path):
    """--strength 3 smooths more than 1: the result is further from the noisy input."""
    from PIL import Image
    from skimage import data

    Image.fromarray(data.camera()[200:264, 220:284]).save(tmp_path / "in.png")
    outs = {}
    for strength in ("1", "3"):
        done = cli("denoise", tmp_path / "in.png", tmp_path / f"out{strength}.png", "--add-noise", "25",
                   "--strength", strength, runs=tmp_path / "runs")
        assert done.returncode == 0, done.stderr
        outs[strength] = np.asarray(Image.open(tmp_path / f"out{strength}.png"), np.float64)
    rough = {k: np.abs(np.diff(v, axis=1)).mean() for k, v in outs.items()}
    assert rough["3"] < 0.9 * rough["1"], rough
    bad = cli("denoise", tmp_path / "in.png", tmp_path / "bad.png", "--strength", "9", runs=tmp_path / "runs")
    assert bad.returncode != 0 and "strength" in bad.stderr.lower() and "Traceback" not in bad.stderr
