"""BM3D from the command line: `python main.py denoise IN OUT --model bm3d` (CBM3D on colour)."""
from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.cli.test_cli import MAIN, cli
from tests.paths import ROOT

pytest.importorskip("bm3d")


def test_help_lists_bm3d():
    done = subprocess.run([sys.executable, MAIN, "denoise", "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and re.search(r"classical\s+method:.*\bbm3d\b", " ".join(done.stdout.split()))


@pytest.mark.parametrize("colour", [False, True])
def test_denoise_with_bm3d(tmp_path, colour):
    from skimage import data

    pixels = data.astronaut()[60:124, 160:224] if colour else data.camera()[200:264, 220:284]
    Image.fromarray(pixels).save(tmp_path / "in.png")
    done = cli("denoise", tmp_path / "in.png", tmp_path / "out.png", "--model", "bm3d", "--add-noise", "25",
               runs=tmp_path / "runs")
    assert done.returncode == 0, done.stderr
    out = np.asarray(Image.open(tmp_path / "out.png"))
    assert out.shape == pixels.shape
    scores = dict(re.findall(r"^(\w[\w -]*): PSNR ([\d.]+) dB", done.stdout, re.M))
    label = "CBM3D" if colour else "BM3D"  # the table and the CLI name the colour variant
    assert float(scores[label]) > float(scores["Noisy"]) + 5, done.stdout
