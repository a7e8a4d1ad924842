"""`python main.py export` on a two-input model (the noise-level-aware denoiser: `noisy`, `noise_level`):
every format is written and verified, and meaningless options fail in one line."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tests.paths import ROOT

pytestmark = pytest.mark.timeout(300)

MAIN = str(ROOT / "main.py")
TIMEOUT = 180


def cli(*args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, MAIN, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=TIMEOUT)


@pytest.fixture(scope="module")
def unet_file(tmp_path_factory) -> Path:
    keras = pytest.importorskip("keras")
    from engine.models.denoiser import build_unet_denoiser
    from engine.models.files import save_model

    keras.utils.set_random_seed(4)
    model = build_unet_denoiser(1, (8, 16, 32), 1)
    layer = model.get_layer("noise")  # zero-initialised: random weights, so the output is not the input
    rng = np.random.default_rng(4)
    layer.set_weights([rng.normal(0, 0.2, w.shape).astype(np.float32) for w in layer.get_weights()])
    return save_model(model, tmp_path_factory.mktemp("unet") / "unet.keras")


SUFFIX = {"keras": ".keras", "savedmodel": "", "tflite": ".tflite", "onnx": ".onnx"}
TOL = {"keras": 1e-5, "savedmodel": 1e-5, "tflite": 1e-3, "onnx": 1e-4}


def _check_output(fmt: str, stdout: str, folder: Path) -> None:
    diff = float(re.search(r"max abs difference (\S+)", stdout).group(1))
    assert diff <= TOL[fmt]
    assert (folder / ("x" + SUFFIX[fmt])).exists()
    meta = json.loads(Path(re.search(r"Metadata: (.+)", stdout).group(1).strip()).read_text())
    assert meta["format"] == fmt and meta["input_names"] == ["noisy", "noise_level"]
    assert "sigma/255" in meta["noise_level"] and meta["max_abs_diff"] == pytest.approx(diff, rel=1e-2, abs=1e-9)


def test_the_reported_command_exports_onnx(unet_file, tmp_path):
    """`python main.py export MODEL.keras --out x.onnx` (a TypeError before), in a process of its own."""
    from engine.export.formats import onnx_support

    ok, reason = onnx_support()
    done = cli("export", unet_file, "--out", tmp_path / "x.onnx", "--format", "onnx", cwd=tmp_path)
    assert "Traceback" not in done.stderr
    if not ok:  # the CLI says why, in one line, and writes nothing
        assert done.returncode == 1 and done.stderr.strip().splitlines()[-1] == f"error: {reason}"
        assert list(tmp_path.iterdir()) == []
        return
    assert done.returncode == 0, done.stderr
    _check_output("onnx", done.stdout, tmp_path)
    import onnxruntime as ort  # the exported file takes both inputs by name and gives the app's output

    from engine.models.files import load_model

    x = np.random.default_rng(5).uniform(0, 1, (2, 16, 24, 1)).astype(np.float32)
    level = np.full_like(x, 25 / 255)
    session = ort.InferenceSession(str(tmp_path / "x.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {"noisy": x, "noise_level": level})[0]
    np.testing.assert_allclose(got, np.asarray(load_model(unet_file)([x, level])), atol=TOL["onnx"])


@pytest.mark.parametrize("fmt", ["keras", "savedmodel", "tflite", "onnx"])
def test_export_writes_and_verifies_every_format(fmt, unet_file, tmp_path, monkeypatch, capsys):
    """In-process (cli.app.main, as test_app.py does): the same command without a new TensorFlow each time."""
    from cli.app import main
    from engine.export.formats import onnx_support

    if fmt == "onnx" and not onnx_support()[0]:
        pytest.skip(onnx_support()[1])
    monkeypatch.chdir(tmp_path)
    assert main(["export", str(unet_file), "--format", fmt, "--out", str(tmp_path / "x")]) == 0, capsys.readouterr()
    _check_output(fmt, capsys.readouterr().out, tmp_path)


@pytest.mark.parametrize("options,words", [(["--part", "encoder"], "no separate encoder"),
                                           (["--part", "decoder", "--format", "tflite"], "no separate decoder"),
                                           (["--raw-input"], "scaling cannot be built into")])
def test_meaningless_options_fail_in_one_line(options, words, unet_file, tmp_path, capsys):
    from cli.app import main

    assert main(["export", str(unet_file), "--out", str(tmp_path / "x"), *options]) == 1
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("error: ")
    assert words in errors[0] and "noisy and noise_level" in errors[0]
    assert list(tmp_path.iterdir()) == []
