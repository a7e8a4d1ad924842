"""Anomaly scores, thresholds and metrics (numpy / scikit-learn only)."""
import numpy as np
import pytest

from engine.anomaly import scores as anomaly
from engine.core.errors import DataError


def test_sample_scores_and_feature_shares():
    x = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 0.0]], np.float32)
    out = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]], np.float32)
    assert anomaly.sample_scores(x, out).tolist() == pytest.approx([0.0, 5.0 / 3.0])
    shares = anomaly.feature_shares(x, out)
    assert shares[0].tolist() == [0.0, 0.0, 0.0]  # a perfect row has no shares, not NaN
    assert shares[1].tolist() == pytest.approx([0.2, 0.8, 0.0])


def test_error_maps_average_channels():
    x = np.zeros((1, 2, 2, 3), np.float32)
    out = x.copy()
    out[0, 1, 0] = [1.0, 0.0, 0.0]
    maps = anomaly.error_maps(x, out)
    assert maps.shape == (1, 2, 2)
    assert maps[0, 1, 0] == pytest.approx(1.0 / 3.0) and maps[0, 0, 0] == 0.0


def test_threshold_suggestions_by_hand():
    train = np.arange(1.0, 101.0)  # 1..100
    assert anomaly.max_threshold(train) == 100.0
    assert anomaly.percentile_threshold(train, 50) == pytest.approx(50.5)
    # median 50.5; |x - median| has median 25 -> 50.5 + 2 * 1.4826 * 25
    assert anomaly.mad_threshold(train, 2.0) == pytest.approx(50.5 + 2 * 1.4826 * 25)
    found = anomaly.suggested_thresholds(train)
    assert set(found) == {"percentile", "max", "mad"}  # no labels: no F1


def test_best_f1_threshold_separates_perfectly_separable_scores():
    errors = np.array([0.1, 0.2, 0.3, 0.9, 1.0])
    labels = np.array([0, 0, 0, 1, 1])
    t = anomaly.best_f1_threshold(errors, labels)
    stats = anomaly.threshold_stats(errors, t, labels)
    assert (stats.tp, stats.fp, stats.fn, stats.tn) == (2, 0, 0, 3)
    assert stats.f1 == 1.0
    assert anomaly.threshold_stats(errors, anomaly.max_threshold(errors[:3]), labels).flagged == 2


def _brute_force_best_f1(errors, labels):
    """The highest F1 over every threshold that changes the flags (each score, and below the lowest)."""
    candidates = np.concatenate([[np.nextafter(errors.min(), -np.inf)], np.unique(errors)])
    return max(anomaly.threshold_stats(errors, t, labels).f1 for t in candidates)


@pytest.mark.parametrize("labels_by_rank", [
    [1, 0, 0, 0],  # the best cut is the highest score (the last one scikit-learn returns)
    [0, 0, 1, 1, 0, 0, 0, 1],  # the top two are normal: no flag is right at the first cuts
    [0, 0, 1, 1] + [0] * 92 + [1, 1],  # best F1 0.5 at precision = recall = 0.5
    [1, 1, 0],  # flagging everything is best
])
def test_best_f1_threshold_is_the_best_of_every_threshold(labels_by_rank):
    labels = np.array(labels_by_rank)
    errors = np.arange(len(labels), 0, -1, dtype=np.float64)  # rank 0 has the highest score
    t = anomaly.best_f1_threshold(errors, labels)
    assert anomaly.threshold_stats(errors, t, labels).f1 == pytest.approx(_brute_force_best_f1(errors, labels))


def test_best_f1_threshold_on_noisy_scores_matches_brute_force():
    rng = np.random.default_rng(3)
    for _ in range(5):
        labels = (rng.random(60) < 0.2).astype(np.int8)
        labels[:2] = (0, 1)
        errors = rng.normal(labels * 0.7, 1.0)  # overlapping classes, negative scores too
        t = anomaly.best_f1_threshold(errors, labels)
        assert anomaly.threshold_stats(errors, t, labels).f1 == pytest.approx(_brute_force_best_f1(errors, labels))


def test_best_f1_threshold_flags_a_best_score_of_zero():
    errors = np.array([0.0, 0.5, 1.0])  # flagging all three is best, so the lowest score, 0, must be flagged
    labels = np.array([1, 1, 0])
    t = anomaly.best_f1_threshold(errors, labels)
    assert anomaly.flags(errors, t).all() and t < 0.0


def test_threshold_defaults_are_the_99th_percentile_and_three_mads():
    train = np.arange(1.0, 101.0)
    assert anomaly.percentile_threshold(train) == pytest.approx(np.percentile(train, 99.0))
    assert anomaly.mad_threshold(train) == pytest.approx(50.5 + 3 * 1.4826 * 25)
    assert anomaly.suggested_thresholds(train) == {"percentile": anomaly.percentile_threshold(train),
                                                   "max": 100.0, "mad": anomaly.mad_threshold(train)}


def test_a_score_equal_to_the_threshold_is_not_flagged():
    errors = np.array([0.125, 0.5, 0.25, 0.5, 0.75], np.float32)
    labels = np.array([0, 1, 0, 0, 1])
    s = anomaly.threshold_stats(errors, 0.5, labels)
    assert (s.total, s.flagged, s.tp, s.fp, s.tn, s.fn) == (5, 1, 1, 0, 3, 1)
    assert (s.tpr, s.fpr, s.precision) == (0.5, 0.0, 1.0) and s.f1 == pytest.approx(2 / 3)
    assert anomaly.threshold_stats(errors, 0.75).flagged == 0  # "the largest error" flags nothing
    assert anomaly.threshold_stats(errors, 0.125).flagged == 4
    none = anomaly.threshold_stats(errors, 1.0, labels)
    assert (none.flagged, none.precision, none.tpr, none.f1) == (0, 0.0, 0.0, 0.0)  # no division by zero
    assert "0 of 5 flagged (0.0%)" in none.summary()


def test_threshold_stats_confusion_matrix():
    errors = np.array([0.5, 1.5, 2.5, 3.5])
    labels = np.array([0, 1, 0, 1])
    s = anomaly.threshold_stats(errors, 2.0, labels)
    assert (s.flagged, s.tp, s.fp, s.tn, s.fn) == (2, 1, 1, 1, 1)
    assert s.tpr == 0.5 and s.fpr == 0.5 and s.precision == 0.5
    assert "2 of 4 flagged" in s.summary()
    assert not anomaly.threshold_stats(errors, 2.0).has_labels


def test_curves_match_scikit_learn_and_need_both_classes():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    errors = rng.normal(size=200) + labels
    found = anomaly.curves(errors, labels)
    assert found.auroc == pytest.approx(roc_auc_score(labels, errors))
    assert 0.5 < found.auroc < 1.0 and found.positive_rate == pytest.approx(labels.mean())
    with pytest.raises(ValueError, match="both classes"):
        anomaly.curves(errors, np.zeros(200))


def test_most_anomalous_orders_highest_first():
    assert anomaly.most_anomalous(np.array([0.1, 5.0, 0.3, 2.0]), 3).tolist() == [1, 3, 2]
    assert len(anomaly.most_anomalous(np.array([1.0]), 5)) == 1


def test_sliding_windows_and_point_scores():
    series = np.arange(10, dtype=np.float32)[:, None]
    windows, starts = anomaly.sliding_windows(series, 4, 2)
    assert starts.tolist() == [0, 2, 4, 6]
    assert windows[1, :, 0].tolist() == [2, 3, 4, 5]
    per_step = np.zeros((4, 4), np.float32)
    per_step[1, 3] = 4.0  # step 5, covered by windows 1 and 2 -> mean (4 + 0) / 2
    points = anomaly.point_scores(per_step, starts, 10)
    assert points[5] == pytest.approx(2.0) and points[0] == 0.0
    assert anomaly.window_labels(np.array([0, 0, 0, 0, 0, 1, 0, 0, 0, 0]), starts, 4).tolist() == [0, 1, 1, 0]


def test_sequence_shorter_than_window_is_refused_clearly():
    with pytest.raises(DataError, match="shorter than the window of 32"):
        anomaly.sliding_windows(np.zeros((10, 2)), 32)


def test_synthetic_demo_is_the_seed_decks():
    x, labels = anomaly.synthetic_demo(0)
    assert x.shape == (1050, 10) and labels.sum() == 50
    assert abs(x[labels == 0].mean()) < 0.1 and abs(x[labels == 1].mean() - 5) < 0.2


def test_distinct_windows_skip_overlapping_neighbours():
    starts = np.arange(0, 20)  # windows of 5, stride 1
    errors = np.zeros(20)
    errors[[10, 11, 9, 2]] = [5.0, 4.0, 3.0, 1.0]
    assert anomaly.distinct_windows(errors, starts, 5, 3).tolist()[:2] == [10, 2]
