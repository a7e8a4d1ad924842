"""What an export holds (engine.export.plans), for a model in the app, a model file and a detector."""
import json

import numpy as np
import pytest

from engine.anomaly.data import Scaler
from engine.core.config import DataSpec, TrainConfig
from engine.data.dataset import Dataset
from engine.export.plans import plan_for_detector, plan_for_model, plan_for_model_file
from engine.models.builders import build_autoencoder
from engine.models.files import save_model


@pytest.fixture(scope="module")
def image_model():
    return build_autoencoder(TrainConfig(code_size=3), (6, 6, 1))


def test_an_image_model_takes_raw_pixels_and_is_verified_on_the_datas_images(image_model):
    x = np.random.default_rng(0).random((20, 6, 6, 1)).astype(np.float32)
    plan = plan_for_model(image_model, TrainConfig(code_size=3), Dataset(x[:10], x[10:], source="tiny"))
    assert plan.preprocessing.kind == "rescale" and plan.preprocessing.scale == pytest.approx(1 / 255)
    np.testing.assert_allclose(plan.samples, x[10:18] * 255.0)
    assert plan.metadata["dataset"].startswith("tiny: 10 training") and plan.metadata["model_kind"] == "dense"
    assert plan.name == image_model.name
    other = Dataset(np.zeros((4, 8, 8, 1), np.float32), np.zeros((2, 8, 8, 1), np.float32), source="other")
    assert plan_for_model(image_model, None, other).samples is None  # data of another shape: made-up samples


def test_a_table_model_takes_its_input_as_it_is():
    model = build_autoencoder(TrainConfig(code_size=2, loss="mse"), (5,), "linear")
    x = np.random.default_rng(1).normal(size=(12, 5)).astype(np.float32)
    plan = plan_for_model(model, None, Dataset(x[:8], x[8:], source="rows"))
    assert plan.preprocessing.kind == "none" and np.array_equal(plan.samples, x[8:])


def test_a_model_file_in_a_run_folder_brings_its_runs_settings(image_model, tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    save_model(image_model, folder / "model.keras")
    config = TrainConfig(code_size=3, epochs=7)
    (folder / "run.json").write_text(json.dumps({"config": config.to_dict(),
                                                 "data": {**DataSpec().to_dict(), "summary": "MNIST: 5 samples"}}))
    plan = plan_for_model_file(folder / "model.keras")
    assert plan.metadata["training_config"]["epochs"] == 7 and plan.metadata["dataset"] == "MNIST: 5 samples"
    (folder / "run.json").write_text("{not json")
    assert "training_config" not in plan_for_model_file(folder / "model.keras").metadata  # a damaged run.json


def test_a_detector_exports_its_scaling_threshold_and_real_samples():
    model = build_autoencoder(TrainConfig(code_size=2, loss="mse"), (3,), "linear")
    scaler = Scaler(np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 2.0]))
    spec = type("Spec", (), {"path": "rows.csv", "source": "table"})()
    detector = type("Detector", (), dict(model=model, scaler=scaler, config=TrainConfig(code_size=2, loss="mse"),
                                         metrics={"auroc": 0.9}, threshold=0.75, kind="table",
                                         names=("a", "b", "c"), spec=spec))()
    plan = plan_for_detector(detector)
    assert plan.preprocessing.kind == "standardize" and plan.preprocessing.mean == (1.0, 2.0, 3.0)
    assert plan.samples is None and plan.metadata["dataset"] == "rows.csv"
    assert plan.metadata["anomaly_threshold"] == 0.75 and plan.metadata["features"] == ["a", "b", "c"]
    inputs = np.array([[0.0, 1.0, -1.0]], np.float32)
    scores = type("Scores", (), {"inputs": inputs, "data": type("D", (), {"source": "rows.csv: 1 row"})()})()
    with_scores = plan_for_detector(detector, scores)
    np.testing.assert_allclose(with_scores.samples, [[1.0, 4.0, 1.0]])  # raw values: mean + scaled x std
    assert with_scores.metadata["dataset"] == "rows.csv: 1 row"
