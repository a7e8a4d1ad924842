"""Files saved by version 0.1 (tests/fixtures/v0_1) still open: models, runs (and resume), detectors."""
import shutil

import numpy as np
import pytest

from engine.core.config import TrainConfig
from engine.data.dataset import Dataset
from engine.anomaly.detector import data_for, score
from engine.anomaly.files import load_detector
from engine.models.files import load_model
from engine.models.builders import build_autoencoder, part
from engine.training.resume import plan_resume
from engine.training.runs import RunStore
from engine.training.fit import train
from tests.paths import FIXTURES

V0_1 = FIXTURES / "v0_1"
RUN_ID = "20261130-000000-dense-v01"


def images():
    x = np.load(V0_1 / "images.npy", allow_pickle=False)
    return Dataset(x[:32], x[32:], source="compat fixture")


@pytest.mark.parametrize("name, kind, input_shape", [
    ("dense.keras", None, (8, 8, 1)), ("conv_vae.keras", "vae", (8, 8, 1)), ("aae_mixture.keras", "aae", (3,)),
    ("transformer.keras", None, (8, 1)),
])
def test_saved_models_open_in_safe_mode(name, kind, input_shape):
    model = load_model(V0_1 / name)
    assert tuple(model.input_shape[1:]) == input_shape
    assert getattr(model, "kind", None) == kind
    x = np.random.default_rng(0).random((2,) + input_shape).astype(np.float32)
    assert np.asarray(model(x)).shape == (2,) + input_shape
    if kind == "aae":
        assert model.prior == "mixture" and model.n_classes == 2


def test_a_stopped_run_lists_and_resumes(tmp_path):
    shutil.copytree(V0_1 / "runs", tmp_path / "runs")
    store = RunStore(tmp_path / "runs")
    [run] = store.runs()
    assert run.id == RUN_ID and run.status == "stopped" and len(run.history["loss"]) == 2
    assert run.metrics["best_epoch"] == 1 and "dense code 4, 2/4 epochs" in run.label
    before = list(run.history["loss"])
    plan = plan_resume(run)  # as the Runs tab does
    assert plan.config.code_activation_used == "relu"  # what 0.1 trained; the default is linear now
    result = train(plan.config, images(), run=run, store=store, resume=True)
    assert len(result.history["loss"]) == 4 and result.history["loss"][:2] == pytest.approx(before)
    assert part(result.model, "encoder").get_layer("code").activation.__name__ == "relu"
    assert store.get(RUN_ID).status == "finished"


def test_a_saved_detector_opens_and_scores_as_before():
    detector = load_detector(V0_1 / "synthetic.aedet")
    assert detector.kind == "table" and detector.threshold == 0.75 and len(detector.names) == 10
    assert detector.score_kind == "error"  # saved before the score choice: the plain error it was made with
    expected = np.load(V0_1 / "synthetic_scores.npy", allow_pickle=False)
    np.testing.assert_allclose(score(detector.model, data_for(detector)).errors, expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("kind, setting, expected", [
    ("dense", None, "linear"), ("deep", None, "linear"), ("sparse", None, "relu"), ("dense", "relu", "relu"),
])
def test_code_activation_of_new_models(kind, setting, expected):
    model = build_autoencoder(TrainConfig(model_kind=kind, code_size=4, code_activation=setting), (16,))
    assert part(model, "encoder").get_layer("code").activation.__name__ == expected
