"""The scored CSV row by row, on hand-made scores (no training): the flag column is score > threshold."""
import csv

import numpy as np
import pytest

from engine.anomaly.data import AnomalyData, Scaler
from engine.anomaly.detector import Scores, flags_of
from engine.anomaly.scored_csv import write_scored_csv
from engine.core.errors import DetectorFileError
from engine.data.dataset import Dataset
from engine.data.tables import parse_table_text

ERRORS = np.array([0.125, 0.5, 0.25, 0.5, 0.75], np.float32)


def rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_table_rows_keep_their_cells_and_gain_score_and_flag(tmp_path):
    table = parse_table_text("a,b\n1,x\n2,y\n3,z\n4,w\n5,v\n", "t.csv")
    x = np.zeros((5, 1), np.float32)
    data = AnomalyData("table", Dataset(x[:1], x[:1]), x, None, "t.csv", ("a",), table=table)
    out = write_scored_csv(Scores(ERRORS, None, x, x, data), 0.5, tmp_path / "scored.csv")
    got = rows(out)
    assert got[0] == ["a", "b", "anomaly_score", "anomaly_flag", "anomaly_score_kind"]
    assert [r[:2] for r in got[1:]] == [["1", "x"], ["2", "y"], ["3", "z"], ["4", "w"], ["5", "v"]]
    assert [r[2] for r in got[1:]] == ["0.125", "0.5", "0.25", "0.5", "0.75"]
    assert [r[3] for r in got[1:]] == ["0", "0", "0", "0", "1"]  # the two rows at 0.5 sit on the threshold


def test_images_are_named_and_labels_written(tmp_path):
    x = np.zeros((5, 2, 2, 1), np.float32)
    data = AnomalyData("image", Dataset(x[:1], x[:1]), x, np.array([0, 1, 0, 0, 1], np.int8), "folder",
                       sample_names=tuple(f"im{i}.png" for i in range(5)))
    got = rows(write_scored_csv(Scores(ERRORS, data.labels, x, x, data), 0.25, tmp_path / "s.csv"))
    assert got[0] == ["sample", "label_anomalous", "anomaly_score", "anomaly_flag", "anomaly_score_kind"]
    assert [(r[0], r[1], r[3]) for r in got[1:]] == [("im0.png", "0", "0"), ("im1.png", "1", "1"),
                                                      ("im2.png", "0", "0"), ("im3.png", "0", "1"),
                                                      ("im4.png", "1", "1")]
    unnamed = AnomalyData("image", Dataset(x[:1], x[:1]), x, None, "mnist")
    assert [r[0] for r in rows(write_scored_csv(Scores(ERRORS, None, x, x, unnamed), 1.0,
                                                tmp_path / "u.csv"))[1:]] == [f"#{i}" for i in range(5)]


def test_synthetic_rows_are_written_as_the_values_shown(tmp_path):
    x = np.array([[0.0, 1.0], [2.0, -1.0]], np.float32)
    labels = np.array([0, 1], np.int8)  # the demo knows which rows it made anomalous
    data = AnomalyData("table", Dataset(x[:1], x[:1]), x, labels, "demo", ("x1", "x2"),
                       scaler=Scaler(np.array([10.0, 20.0]), np.array([2.0, 1.0])))
    got = rows(write_scored_csv(Scores(np.array([0.1, 0.2], np.float32), labels, x, x, data), 0.1,
                                tmp_path / "d.csv"))
    assert got[0] == ["x1", "x2", "label_anomalous", "anomaly_score", "anomaly_flag", "anomaly_score_kind"]
    assert got[1][:3] == ["10", "21", "0"] and got[2][:3] == ["14", "19", "1"] and [got[1][4], got[2][4]] == ["0", "1"]


def test_sequence_steps_are_flagged_inside_flagged_windows(tmp_path):
    table = parse_table_text("v\n" + "\n".join(str(i) for i in range(10)) + "\n", "s.csv")
    windows = np.zeros((4, 4, 1), np.float32)
    data = AnomalyData("sequence", Dataset(windows[:1], windows[:1]), windows, None, "s.csv", table=table,
                       series=np.zeros((10, 1)), starts=np.array([0, 2, 4, 6]))
    scores = Scores(np.array([0.25, 0.5, 0.75, 0.5], np.float32), None, windows, windows, data,
                    point_scores=np.arange(10, dtype=np.float32))
    got = rows(write_scored_csv(scores, 0.5, tmp_path / "seq.csv"))
    assert [r[-2] for r in got[1:]] == ["0", "0", "0", "0", "1", "1", "1", "1", "0", "0"]
    assert [r[-3] for r in got[1:]] == [str(i) for i in range(10)]  # each step's own score
    assert {r[-1] for r in got[1:]} == {"error"}
    assert flags_of(scores, 0.5).sum() == 4


def test_an_unwritable_place_is_explained(tmp_path, read_only_folder):
    x = np.zeros((5, 1), np.float32)
    data = AnomalyData("table", Dataset(x[:1], x[:1]), x, None, "t", ("a",), scaler=Scaler(np.zeros(1), np.ones(1)))
    with pytest.raises(DetectorFileError, match="Could not write") as caught:
        write_scored_csv(Scores(ERRORS, None, x, x, data), 0.5, read_only_folder / "s.csv")
    assert "[Errno" not in str(caught.value)  # the reason in words, not the exception's repr
    assert list(read_only_folder.iterdir()) == []


def test_overlapping_flagged_windows_flag_every_step_they_cover():
    # three windows of four steps, three steps apart: windows 0-3 and 3-6 are flagged and overlap at step 3
    data = AnomalyData("sequence", Dataset(np.zeros((1, 4, 1)), np.zeros((1, 4, 1))), np.zeros((3, 4, 1)), None,
                       "s.csv", series=np.zeros((10, 1)), starts=np.array([0, 3, 6]))
    scores = Scores(np.array([0.6, 0.7, 0.1], np.float32), None, np.zeros((3, 4, 1)), np.zeros((3, 4, 1)), data)
    np.testing.assert_array_equal(flags_of(scores, 0.5), [1, 1, 1, 1, 1, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(flags_of(scores, 0.65), [0, 0, 0, 1, 1, 1, 1, 0, 0, 0])
    assert not flags_of(scores, 0.7).any()
