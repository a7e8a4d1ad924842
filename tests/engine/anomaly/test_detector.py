"""Anomaly detectors end to end on tiny data: train on normal samples, score, save, reload, export."""
import csv
import dataclasses
import zipfile

import numpy as np
import pytest

from engine.anomaly.data import AnomalySpec, Scaler, load_anomaly_data
from engine.core.config import TrainConfig
from engine.core.errors import ConfigError, DataError, DetectorFileError
from engine.data.dataset import Dataset
from engine.anomaly.detector import data_for, default_config, flags_of, score
from engine.anomaly.files import load_detector, save_detector
from engine.anomaly.scored_csv import write_scored_csv
from engine.core.jobs import JobState
from engine.jobs import score_new_job, train_detector_job


def run(job):
    return job(JobState())


@pytest.fixture(scope="module")
def synthetic():
    return run(train_detector_job(AnomalySpec("synthetic"), default_config("table", epochs=8)))


def strictly_above(errors, threshold):
    """The flags the app promises (score > threshold), by rank rather than by the app's own comparison."""
    order = np.argsort(errors, kind="stable")
    first_above = np.searchsorted(np.asarray(errors)[order], threshold, side="right")
    flags = np.zeros(len(errors), bool)
    flags[order[first_above:]] = True
    return flags


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        if header:
            writer.writerow(header)
        writer.writerows(rows)
    return path


def test_synthetic_demo_separates_anomalies(synthetic):
    assert synthetic.detector.metrics["auroc"] > 0.99
    scores = synthetic.scores
    assert scores.errors.shape == (1050,) and scores.shares.shape == (1050, 10)
    assert np.allclose(scores.shares.sum(axis=1), 1.0, atol=1e-5)
    # the default threshold is the 99th percentile of the normal training errors
    assert np.mean(synthetic.detector.train_errors > synthetic.detector.threshold) == pytest.approx(0.01, abs=0.005)


def test_scaler_fitted_on_normal_rows_only_and_constant_column():
    data = load_anomaly_data(AnomalySpec("synthetic"))
    normal = data.labels == 0
    assert np.abs(data.x_score[normal].mean(axis=0)).max() < 1e-5  # the anomalies do not move the mean
    scaler = Scaler.fit(np.array([[1.0, 5.0], [3.0, 5.0]]))
    assert scaler.scale.tolist() == [1.0, 1.0] and np.isfinite(scaler.transform([[2.0, 5.0]])).all()


def test_save_and_reload_reproduce_scores_and_threshold(synthetic, tmp_path):
    detector = dataclasses.replace(synthetic.detector, threshold=1.2345)  # the shared fixture stays as trained
    path = save_detector(detector, tmp_path / "demo")
    assert path.suffix == ".aedet"
    again = load_detector(path)
    assert again.threshold == 1.2345 and again.kind == "table"
    assert np.allclose(again.scaler.mean, synthetic.detector.scaler.mean)
    rescored = score(again.model, data_for(again))
    assert np.allclose(rescored.errors, synthetic.scores.errors, atol=1e-6)


def test_broken_and_foreign_detector_files_are_refused(tmp_path):
    bad = tmp_path / "bad.aedet"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DetectorFileError, match="not a detector file"):
        load_detector(bad)
    other = tmp_path / "other.aedet"
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("detector.json", '{"format": "something else"}')
    with pytest.raises(DetectorFileError, match="not an Autoencoder Studio detector"):
        load_detector(other)
    with pytest.raises(DetectorFileError, match="does not exist"):
        load_detector(tmp_path / "missing.aedet")


def test_scored_csv_has_rows_score_and_flag(synthetic, tmp_path):
    out = write_scored_csv(synthetic.scores, synthetic.detector.threshold, tmp_path / "scored.csv")
    with open(out) as f:
        rows = list(csv.reader(f))
    assert rows[0][-3:] == ["anomaly_score", "anomaly_flag", "anomaly_score_kind"] and len(rows) == 1051
    flags = [int(r[-2]) for r in rows[1:]]
    assert flags == strictly_above(synthetic.scores.errors, synthetic.detector.threshold).tolist()
    assert not list(tmp_path.glob(".*tmp*"))  # the temporary file was renamed, not left behind


def test_table_detector_and_scoring_a_file_with_other_columns(tmp_path):
    rng = np.random.default_rng(1)
    rows = [[f"{a:.3f}", f"{b:.3f}", "7", "shop", "normal"] for a, b in rng.normal(size=(60, 2))]
    rows += [["9", "9", "7", "shop", "fraud"], ["-8", "9", "7", "web", "fraud"]]
    path = write_csv(tmp_path / "t.csv", ["amount", "hour", "const", "channel", "kind"], rows)
    spec = AnomalySpec("table", path=str(path), label="kind")
    outcome = run(train_detector_job(spec, default_config("table", epochs=3, batch_size=16)))
    assert outcome.scores.labels.sum() == 2 and outcome.scores.errors.shape == (62,)
    assert outcome.detector.names == ("amount", "hour", "const")  # the text column is left out
    assert any("channel" in note for note in outcome.scores.data.notes)
    other = write_csv(tmp_path / "other.csv", ["amount", "const"], [["1", "7"]])
    with pytest.raises(DataError, match="hour"):
        run(score_new_job(outcome.detector, str(other)))
    same = write_csv(tmp_path / "new.csv", ["hour", "amount", "const", "extra"], [["0", "0", "7", "x"],
                                                                                    ["9", "9", "7", "y"]])
    new = run(score_new_job(outcome.detector, str(same)))
    assert new.errors.shape == (2,) and new.errors[1] > new.errors[0]


def test_sequence_detector_finds_the_spike(tmp_path):
    t = np.arange(400)
    values = np.sin(t / 5.0)
    values[300:306] += 4.0
    path = write_csv(tmp_path / "s.csv", ["value"], [[f"{v:.4f}"] for v in values])
    spec = AnomalySpec("sequence", path=str(path), window=16, stride=2, train_share=0.6)
    config = default_config("sequence", "conv1d", epochs=4, batch_size=16)
    outcome = run(train_detector_job(spec, config))
    scores = outcome.scores
    assert scores.point_scores.shape == (400,)
    assert 285 <= int(np.argmax(scores.point_scores)) <= 320
    flags = flags_of(scores, float(np.sort(scores.errors)[-3]))
    assert flags.shape == (400,) and flags[295:310].any()


def test_sequence_shorter_than_the_window_is_refused(tmp_path):
    path = write_csv(tmp_path / "short.csv", ["v"], [[str(i)] for i in range(10)])
    with pytest.raises(DataError, match="shorter than a window"):
        load_anomaly_data(AnomalySpec("sequence", path=str(path), window=32))


def test_model_kind_must_fit_the_data():
    with pytest.raises(ConfigError, match="does not fit table data"):
        run(train_detector_job(AnomalySpec("synthetic"), TrainConfig(model_kind="conv1d", loss="mse")))
    with pytest.raises(ConfigError, match="at least one digit"):
        AnomalySpec("mnist", digits=())


def test_transformer_sequence_detector_trains_and_round_trips(tmp_path):
    values = np.sin(np.arange(200) / 3.0)
    path = write_csv(tmp_path / "s.csv", ["a"], [[f"{v:.4f}"] for v in values])
    spec = AnomalySpec("sequence", path=str(path), window=12, stride=3, train_share=0.7)
    outcome = run(train_detector_job(spec, default_config("sequence", "transformer", epochs=2, batch_size=16,
                                                          code_size=4, filters=8)))
    history = outcome.result.history["loss"]
    assert len(history) == 2 and np.isfinite(history).all()
    again = load_detector(save_detector(outcome.detector, tmp_path / "t.aedet"))
    assert np.allclose(score(again.model, data_for(again)).errors, outcome.scores.errors, atol=1e-5)


def test_image_folders_with_good_and_defect_subfolders(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    normal, scored = tmp_path / "normal", tmp_path / "test"
    for folder in (normal, scored / "good", scored / "scratch"):
        folder.mkdir(parents=True)
    for i in range(12):
        Image.fromarray((rng.random((16, 16)) * 60).astype(np.uint8)).save(normal / f"n{i}.png")
    for i in range(3):
        Image.fromarray((rng.random((16, 16)) * 60).astype(np.uint8)).save(scored / "good" / f"g{i}.png")
        Image.fromarray(np.full((16, 16), 250, np.uint8)).save(scored / "scratch" / f"s{i}.png")
    (scored / "good" / "broken.png").write_bytes(b"not an image")
    spec = AnomalySpec("folders", path=str(normal), score_path=str(scored), image_size=16)
    outcome = run(train_detector_job(spec, default_config("image", epochs=2, batch_size=4)))
    data = outcome.scores.data
    assert data.labels.tolist() == [0, 0, 0, 1, 1, 1] and data.sample_names[0].startswith("good/")
    assert any("skipped" in note for note in data.notes)
    assert outcome.detector.metrics["auroc"] == 1.0  # bright squares are far from dark noise
    # scoring another folder lists what it could not read, and refuses a folder with nothing readable
    other = tmp_path / "other"
    other.mkdir()
    Image.fromarray(np.full((16, 16), 250, np.uint8)).save(other / "ok.png")
    whole = (other / "ok.png").read_bytes()
    (other / "cut.png").write_bytes(whole[: len(whole) // 2])
    rescored = data_for(outcome.detector, score_path=str(other))
    assert rescored.sample_names == ("ok.png",)
    assert any(note.startswith("1 unreadable file(s) skipped: cut.png") for note in rescored.notes)
    (other / "ok.png").unlink()
    with pytest.raises(DataError, match="cut.png"):
        data_for(outcome.detector, score_path=str(other))


def test_a_single_row_table_is_refused_clearly(tmp_path):
    path = write_csv(tmp_path / "one.csv", ["a", "b"], [["1", "2"]])
    with pytest.raises(DataError, match="at least 4 normal rows"):
        load_anomaly_data(AnomalySpec("table", path=str(path)))


def test_largest_training_error_flags_no_training_row(synthetic, tmp_path):
    """At the 'largest training error' suggestion the row holding that error is not flagged, and the tab's
    count, the flags and the scored CSV agree row by row."""
    from engine.anomaly.scores import threshold_stats

    detector, scores = synthetic.detector, synthetic.scores
    threshold = detector.suggestions(scores)["max"]
    assert np.count_nonzero(scores.errors == threshold) >= 1  # a scored row sits exactly on the threshold
    expected = strictly_above(scores.errors, threshold)
    assert threshold_stats(scores.errors, threshold, scores.labels).flagged == expected.sum()
    assert flags_of(scores, threshold).tolist() == expected.tolist()
    out = write_scored_csv(scores, threshold, tmp_path / "at_max.csv")
    with open(out) as f:
        rows = list(csv.reader(f))[1:]
    assert [int(r[-2]) for r in rows] == expected.astype(int).tolist()


def test_sequence_flags_cover_the_steps_of_flagged_windows_only():
    from engine.anomaly.data import AnomalyData
    from engine.anomaly.detector import Scores

    series = np.zeros((10, 1), np.float32)
    windows = np.zeros((4, 4, 1), np.float32)
    data = AnomalyData("sequence", Dataset(windows[:1], windows[:1]), windows, None, "test", series=series,
                       starts=np.array([0, 2, 4, 6]))
    scores = Scores(np.array([0.25, 0.5, 0.75, 0.5], np.float32), None, windows, windows, data)
    assert flags_of(scores, 0.5).astype(int).tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 0, 0]
    assert flags_of(scores, 0.25).astype(int).tolist() == [0, 0, 1, 1, 1, 1, 1, 1, 1, 1]
    assert not flags_of(scores, 0.75).any()


@pytest.mark.parametrize("kind, shape", [("image", (28, 28, 1)), ("table", (6,))])
def test_default_detectors_keep_the_relu_code_they_were_measured_with(kind, shape):
    from engine.models.builders import build_autoencoder, part

    model = build_autoencoder(default_config(kind), shape)
    assert part(model, "encoder").get_layer("code").activation.__name__ == "relu"
