"""The headless command line, run as a user runs it: `python main.py COMMAND ...` in a subprocess."""
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def cli(*args, cwd, timeout=240):
    env = {**os.environ, "AES_RUNS_DIR": str(Path(cwd) / "runs"), "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    x = np.random.default_rng(0).random((40, 8, 8)).astype(np.float32)
    np.savez(folder / "tiny.npz", x=x)
    result = cli("train", "--data-path", "tiny.npz", "--epochs", "2", "--out", "m.keras", cwd=folder)
    return folder, result


def test_train_writes_the_model_and_a_run_with_keras_style_progress(trained):
    folder, result = trained
    assert result.returncode == 0, result.stderr
    assert "Epoch 2/2" in result.stderr + result.stdout
    assert (folder / "m.keras").is_file()
    runs = list((folder / "runs").iterdir())
    assert len(runs) == 1
    history = json.loads((runs[0] / "history.json").read_text())
    assert len(history["loss"]) == 2 and (runs[0] / "log.csv").is_file()


def test_export_verifies_and_writes_metadata(trained):
    folder, _ = trained
    result = cli("export", "m.keras", "--format", "keras", "--out", "exported.keras", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert (folder / "exported.keras").is_file() and (folder / "exported.keras.json").is_file()
    diff = float(result.stdout.split("max abs difference")[1].split()[0])
    assert diff <= 1e-5


@pytest.mark.parametrize("args, code, words", [
    (("train", "--kind", "nonsense"), 2, "nonsense"),
    (("train", "--data-path", "missing.npz"), 2, "missing.npz"),
    (("train", "--config", "bad_key.json"), 2, "bogus"),
    (("train", "--config", "broken.json"), 2, "not valid JSON"),
    (("denoise", "nothere.png", "out.png"), 2, "nothere.png"),
    (("score", "nothere.aedet", "x.csv"), 2, "nothere.aedet"),
])
def test_bad_input_exits_non_zero_with_one_clear_line(tmp_path, args, code, words):
    (tmp_path / "bad_key.json").write_text('{"model": {"bogus": 1}}')
    (tmp_path / "broken.json").write_text("{oops")
    result = cli(*args, cwd=tmp_path, timeout=120)
    assert result.returncode == code
    lines = error_lines(result)
    assert len(lines) == 1 and words in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_denoise_with_added_noise_prints_psnr(tmp_path):
    from PIL import Image
    from skimage import data

    Image.fromarray(data.camera()[:96, :96]).save(tmp_path / "cam.png")
    result = cli("denoise", "cam.png", "out.png", "--model", "nl_means", "--add-noise", "25", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.png").is_file() and "PSNR" in result.stdout


def test_score_writes_the_scored_csv(tmp_path):
    import threading

    from engine.anomaly_data import AnomalySpec
    from engine.detector import default_config, save_detector, train_detector_job

    rng = np.random.default_rng(0)
    rows = [[f"{a:.3f}", f"{b:.3f}"] for a, b in rng.normal(size=(30, 2))]
    with open(tmp_path / "t.csv", "w", newline="") as f:
        csv.writer(f).writerows([["a", "b"], *rows])
    outcome = train_detector_job(AnomalySpec("table", path=str(tmp_path / "t.csv")),
                                 default_config("table", epochs=2))(lambda e: None, threading.Event())
    save_detector(outcome.detector, tmp_path / "d.aedet")
    result = cli("score", "d.aedet", "t.csv", "--out", "scored.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "scored.csv") as f:
        scored = list(csv.reader(f))
    assert scored[0][-2:] == ["anomaly_score", "anomaly_flag"] and len(scored) == 31
    assert "flagged" in result.stdout


def test_help_imports_neither_qt_nor_tensorflow(tmp_path):
    code = ("import runpy, sys; sys.argv = ['main.py', '--help']\n"
            "try:\n    runpy.run_path(sys.argv[0] if False else %r, run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "print('LOADED', 'PySide6' in sys.modules, 'tensorflow' in sys.modules)") % str(ROOT / "main.py")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "LOADED False False" in result.stdout, result.stdout + result.stderr
