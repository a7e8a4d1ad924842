"""The score a detector flags by (plain or blurred reconstruction error): what the blur does, rescoring without
retraining, the detector file, the scored CSV and the export metadata."""
import csv
import json
import zipfile

import numpy as np
import pytest

from engine.anomaly import scores as anomaly
from engine.anomaly.data import AnomalySpec
from engine.anomaly.detector import data_for, default_config, rescore, score
from engine.anomaly.files import load_detector, save_detector
from engine.anomaly.scored_csv import write_scored_csv
from engine.core.errors import ConfigError, DataError, DetectorFileError
from tests.blob_images import write_blob_folders
from engine.core.jobs import JobState
from engine.jobs import score_new_job, train_detector_job


def blob_vs_noise(n=200, size=16, seed=0):
    """(inputs, reconstructions, labels): normal reconstructions miss by pixel noise, anomalous ones by a blob
    of the same mean squared error (so the plain error cannot tell them apart)."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, size, size, 1)).astype(np.float32)
    labels = (np.arange(n) % 2).astype(np.int8)
    yy, xx = np.mgrid[:size, :size]
    diffs = rng.normal(0.0, 0.1, (n, size, size, 1))
    for i in np.flatnonzero(labels):
        cy, cx = rng.uniform(4, size - 4, 2)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 1.5 ** 2))[..., None] * rng.choice([-1, 1])
        diffs[i] = blob * np.sqrt(np.mean(diffs[i - 1] ** 2) / np.mean(blob ** 2))  # its neighbour's energy
    return x, (x - diffs).astype(np.float32), labels


def auroc(errors, labels):
    return anomaly.curves(errors, labels).auroc


def test_the_blur_changes_the_score_and_finds_blobs_among_noise():
    x, outputs, labels = blob_vs_noise()
    plain, blurred = anomaly.sample_scores(x, outputs), anomaly.sample_scores(x, outputs, "blurred_error")
    assert plain == pytest.approx(anomaly.sample_scores(x, outputs, "error"))  # "error" is today's score
    assert not np.allclose(plain, blurred, rtol=0.2)
    assert auroc(plain, labels) < 0.7  # same energy: the plain error is a coin toss
    assert auroc(blurred, labels) > 0.95  # the blur averages pixel noise away and keeps the blob
    # the heatmaps show what the score sees: each blurred map's mean is the image's blurred score
    maps = anomaly.error_maps(x, outputs, "blurred_error")
    assert maps.shape == x.shape[:3] and maps.reshape(len(x), -1).mean(axis=1) == pytest.approx(blurred, rel=1e-5)


def test_blurred_error_is_for_images_and_the_default_for_them():
    assert anomaly.score_kinds("image") == ("error", "blurred_error")
    assert anomaly.score_kinds("table") == anomaly.score_kinds("sequence") == ("error",)
    assert anomaly.default_score("image") == "blurred_error"
    assert anomaly.default_score("table") == anomaly.default_score("sequence") == "error"
    with pytest.raises(ConfigError, match="does not apply to table data"):
        anomaly.check_score("blurred_error", "table")
    with pytest.raises(ValueError, match="needs images"):
        anomaly.sample_scores(np.zeros((3, 5)), np.ones((3, 5)), "blurred_error")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Normal images (faint noise) and images to score: good/ like them, blob/ with a bright blob."""
    root = tmp_path_factory.mktemp("images")
    write_blob_folders(root)
    return root


@pytest.fixture(scope="module")
def trained(folders):
    spec = AnomalySpec("folders", path=str(folders / "normal"), score_path=str(folders / "test"), image_size=16)
    return train_detector_job(spec, default_config("image", epochs=2, batch_size=8))(JobState())


def test_an_image_detector_scores_by_the_blur_and_keeps_both_training_errors(trained):
    detector, scores = trained.detector, trained.scores
    assert detector.score_kind == scores.score_kind == "blurred_error"
    assert set(detector.train_scores) == {"error", "blurred_error"}
    assert detector.train_errors is detector.train_scores["blurred_error"]
    assert scores.errors == pytest.approx(anomaly.sample_scores(scores.inputs, scores.outputs, "blurred_error"))
    assert detector.threshold == pytest.approx(np.percentile(detector.train_errors, 99.0))


def test_rescoring_uses_the_same_reconstructions_and_keeps_the_threshold_percentile(trained):
    detector, scores = trained.detector, trained.scores
    detector.threshold = float(np.percentile(detector.train_errors, 80.0))  # the fixture's own copy: restored below
    try:
        plain = rescore(detector, scores, "error")
    finally:
        detector.threshold = float(np.percentile(detector.train_errors, 99.0))
    assert plain.scores.outputs is scores.outputs  # no new reconstruction
    assert plain.scores.score_kind == plain.detector.score_kind == "error"
    assert plain.scores.errors == pytest.approx(anomaly.sample_scores(scores.inputs, scores.outputs))
    assert plain.detector.train_errors is detector.train_scores["error"]
    assert np.mean(plain.detector.train_errors <= plain.detector.threshold) == pytest.approx(0.8, abs=1 / 16)
    assert plain.detector.metrics["auroc"] == pytest.approx(auroc(plain.scores.errors, scores.labels))
    assert detector.score_kind == "blurred_error"  # the original is left as it was
    back = rescore(plain.detector, plain.scores, "blurred_error")
    assert back.scores.errors == pytest.approx(scores.errors)
    with pytest.raises(ConfigError):
        rescore(detector, scores, "no such score")


def test_the_score_round_trips_through_the_detector_file(trained, folders, tmp_path):
    plain = rescore(trained.detector, trained.scores, "error").detector
    for detector in (trained.detector, plain):
        again = load_detector(save_detector(detector, tmp_path / f"{detector.score_kind}.aedet"))
        assert again.score_kind == detector.score_kind and again.threshold == pytest.approx(detector.threshold)
        assert again.train_errors == pytest.approx(detector.train_errors)
        assert set(again.train_scores) == {"error", "blurred_error"}
        new = score_new_job(again, score_path=str(folders / "test"))(JobState())  # scoring new data uses it
        assert new.score_kind == detector.score_kind
        expected = trained.scores.errors if detector is trained.detector else rescore(
            trained.detector, trained.scores, "error").scores.errors
        assert new.errors == pytest.approx(expected, rel=1e-4, abs=1e-7)


def without_score(path, out):
    """A copy of a detector file as the app wrote it before the score choice: no "score", one errors file."""
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        meta = json.loads(src.read("detector.json"))
        del meta["score"]
        dst.writestr("detector.json", json.dumps(meta))
        for name in ("model.keras", "train_errors.npy"):
            dst.writestr(name, src.read(name))
    return out


def test_a_file_without_a_score_loads_as_the_plain_error(trained, folders, tmp_path):
    plain = rescore(trained.detector, trained.scores, "error").detector
    old = load_detector(without_score(save_detector(plain, tmp_path / "p.aedet"), tmp_path / "old.aedet"))
    assert old.score_kind == "error" and set(old.train_scores) == {"error"}
    scored = score(old.model, data_for(old), score_kind=old.score_kind)
    assert scored.errors == pytest.approx(anomaly.sample_scores(scored.inputs, scored.outputs))
    # an old file can move to the blurred score when its own training images are at hand, not otherwise
    own = score_new_job(old)(JobState())
    assert rescore(old, own, "blurred_error").detector.train_errors.shape == trained.detector.train_errors.shape
    other = score_new_job(old, score_path=str(folders / "test"))(JobState())
    with pytest.raises(DataError, match="no training errors for the blurred"):
        rescore(old, other, "blurred_error")


def test_an_unknown_score_in_a_file_is_refused(trained, tmp_path):
    path = save_detector(trained.detector, tmp_path / "d.aedet")
    bad = tmp_path / "future.aedet"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "detector.json":
                data = json.dumps({**json.loads(data), "score": "ssim"})
            dst.writestr(item, data)
    with pytest.raises(DetectorFileError, match="'ssim'"):
        load_detector(bad)


def test_the_scored_csv_names_the_score(trained, tmp_path):
    for rescored in (trained, rescore(trained.detector, trained.scores, "error")):
        out = write_scored_csv(rescored.scores, rescored.detector.threshold, tmp_path / "s.csv")
        with open(out, newline="") as f:
            rows = list(csv.reader(f))
        assert rows[0][-3:] == ["anomaly_score", "anomaly_flag", "anomaly_score_kind"]
        assert {r[-1] for r in rows[1:]} == {rescored.scores.score_kind}
        assert [float(r[-3]) for r in rows[1:]] == pytest.approx(rescored.scores.errors, rel=1e-5)


def test_the_export_metadata_says_which_score(trained):
    from engine.export.plans import plan_for_detector

    blurred = plan_for_detector(trained.detector, trained.scores).metadata
    assert blurred["anomaly_score_kind"] == "blurred_error" and "Gaussian blur" in blurred["anomaly_rule"]
    assert f"sigma {anomaly.BLUR_SIGMA:g}" in blurred["anomaly_score"]
    plain = plan_for_detector(rescore(trained.detector, trained.scores, "error").detector).metadata
    assert plain["anomaly_score_kind"] == "error" and "blur" not in plain["anomaly_rule"]
