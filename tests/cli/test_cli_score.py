"""`python main.py score` scores by the score saved in the detector file (plain or blurred error)."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from tests.cli.test_cli import cli


def write_images(folder, images):
    from PIL import Image

    folder.mkdir(parents=True)
    for i, image in enumerate(images):
        Image.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8)).save(folder / f"{i}.png")


@pytest.mark.parametrize("score_kind", ["blurred_error", "error"])
def test_score_uses_the_detectors_saved_score(tmp_path, score_kind):
    from engine.anomaly.data import AnomalySpec
    from engine.anomaly.detector import default_config, rescore, score_new, train_detector
    from engine.anomaly.files import load_detector, save_detector
    from engine.anomaly.scores import sample_scores

    rng = np.random.default_rng(0)
    write_images(tmp_path / "normal", rng.random((12, 12, 12)) * 0.3)
    write_images(tmp_path / "new", np.concatenate([rng.random((3, 12, 12)) * 0.3, np.ones((2, 12, 12))]))
    outcome = train_detector(AnomalySpec("folders", path=str(tmp_path / "normal"), score_path=str(tmp_path / "new"),
                                         image_size=12),
                             default_config("image", epochs=1, batch_size=4))
    detector = rescore(outcome.detector, outcome.scores, score_kind).detector
    path = save_detector(detector, tmp_path / "d.aedet")

    done = cli("score", path, tmp_path / "new", "--out", tmp_path / "scored.csv", runs=tmp_path / "runs")
    assert done.returncode == 0, done.stderr
    assert f"Score: {score_kind} (" in done.stdout
    with open(tmp_path / "scored.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["sample", "anomaly_score", "anomaly_flag", "anomaly_score_kind"]
    assert {r[-1] for r in rows[1:]} == {score_kind}
    expected = score_new(load_detector(path), score_path=str(tmp_path / "new"))
    assert [float(r[1]) for r in rows[1:]] == pytest.approx(sample_scores(expected.inputs, expected.outputs,
                                                                          score_kind), rel=1e-4, abs=1e-7)
