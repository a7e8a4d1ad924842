"""Anomaly scores from reconstruction errors: thresholds, counts at a threshold, ROC and PR curves.

A sample's score is its mean squared reconstruction error, plain ("error") or, for images, after a
Gaussian blur of input and reconstruction ("blurred_error"); `sample_scores` computes both. A sample
is flagged when its score is strictly above the threshold, so "the largest training error" flags no
training sample. Pure numpy, scipy.ndimage and scikit-learn; no TensorFlow, no Qt.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAD_TO_SIGMA = 1.4826  # MAD x this estimates the standard deviation of normal data
SCORE_LABELS = {"error": "reconstruction error", "blurred_error": "blurred error (images)"}
SCORE_RULES = {
    "error": "the mean squared reconstruction error of the sample",
    "blurred_error": "the mean squared difference between the image and its reconstruction after a Gaussian blur "
                     "of both (sigma {sigma:g} in pixels, each channel on its own)",
}
# One-class MNIST (benchmarks/anomaly_mnist.py, benchmarks/README.md): blurring the signed difference (input
# and reconstruction) by sigma 1 lifted the mean AUROC most (0.962 -> 0.971 at 20 epochs, 0.969 -> 0.976 at 50;
# sigma 0.5, 0.75, 1.5 and 2 scored lower or tied; blurring the squared error map keeps its mean: no change).
# Saved detectors store the score's name, not sigma: another blur needs a new name, or saved detectors would
# score differently from how their threshold was set.
BLUR_SIGMA = 1.0


# --------------------------------------------------------------------------- per-sample errors

def squared_errors(x: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """Elementwise squared error, float32."""
    return np.square(np.asarray(x, np.float32) - np.asarray(outputs, np.float32))


def score_kinds(data_kind: str) -> tuple[str, ...]:
    """The scores that apply to a data kind: the blur needs images; tables and sequences score plain errors."""
    return ("error", "blurred_error") if data_kind == "image" else ("error",)


def default_score(data_kind: str) -> str:
    """The score a new detector uses: the blurred error for images (higher one-class MNIST AUROC), else plain."""
    return "blurred_error" if data_kind == "image" else "error"


def check_score(score_kind: str, data_kind: str) -> None:
    from engine.core.errors import ConfigError

    if score_kind not in score_kinds(data_kind):
        allowed = ", ".join(score_kinds(data_kind))
        raise ConfigError(f"The score {score_kind!r} does not apply to {data_kind} data; choose {allowed}.")


def score_rule(score_kind: str) -> str:
    """A sentence saying what a score is (for exports' metadata and tooltips)."""
    return SCORE_RULES[score_kind].format(sigma=BLUR_SIGMA)


def sample_scores(x: np.ndarray, outputs: np.ndarray, score_kind: str = "error",
                  sigma: float = BLUR_SIGMA) -> np.ndarray:
    """Each sample's anomaly score: its mean squared reconstruction error, plain or blurred (images; `sigma`
    other than BLUR_SIGMA only for measuring)."""
    if not len(x):
        return np.empty(0, np.float32)
    sq = squared_errors(x, outputs) if score_kind == "error" else error_maps(x, outputs, score_kind, sigma)
    return sq.reshape(len(sq), -1).mean(axis=1)


def feature_shares(x: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """Each feature's share of a table row's squared error (rows sum to 1; a perfect row is all 0)."""
    sq = squared_errors(x, outputs).astype(np.float64)
    total = sq.sum(axis=1, keepdims=True)
    return np.divide(sq, total, out=np.zeros_like(sq), where=total > 0)


def error_maps(x: np.ndarray, outputs: np.ndarray, score_kind: str = "error", sigma: float = BLUR_SIGMA) -> np.ndarray:
    """Per-pixel squared error of (n, h, w, c) images, averaged over channels -> (n, h, w); for the blurred
    score the difference is blurred first, so a map's mean is the image's score either way."""
    if score_kind == "error":
        return squared_errors(x, outputs).mean(axis=-1)
    if score_kind != "blurred_error":
        raise ValueError(f"Unknown score {score_kind!r}; choose one of {', '.join(SCORE_LABELS)}.")
    return np.square(blurred(np.asarray(x, np.float32) - np.asarray(outputs, np.float32), sigma)).mean(axis=-1)


def blurred(images: np.ndarray, sigma: float = BLUR_SIGMA) -> np.ndarray:
    """(n, h, w, c) images, each channel blurred by a Gaussian of `sigma` pixels over height and width."""
    from scipy.ndimage import gaussian_filter1d

    if np.ndim(images) != 4:
        raise ValueError(f"The blurred score needs images (n, height, width, channels), got shape {np.shape(images)}.")
    out = gaussian_filter1d(np.asarray(images, np.float32), sigma, axis=1, mode="reflect")
    return gaussian_filter1d(out, sigma, axis=2, mode="reflect")


# --------------------------------------------------------------------------- sequences

def sliding_windows(series: np.ndarray, window: int, stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Windows (n, window, channels) of a (steps, channels) series and their start steps."""
    from engine.core.errors import DataError

    series = np.asarray(series, np.float32)
    steps = len(series)
    if window < 2:
        raise DataError(f"A window of {window} step(s) is too short; use at least 4.")
    if stride < 1:
        raise DataError(f"The step between windows must be at least 1, got {stride}.")
    if steps < window:
        raise DataError(f"The series has {steps} step(s), shorter than the window of {window}. "
                        f"Choose a window of at most {steps} steps, or a longer series.")
    starts = np.arange(0, steps - window + 1, stride)
    view = np.lib.stride_tricks.sliding_window_view(series, window, axis=0)  # (n, channels, window)
    return np.ascontiguousarray(view[starts].transpose(0, 2, 1)), starts


def step_errors(windows: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """(n, window) squared error of each step of each window, averaged over channels."""
    return squared_errors(windows, outputs).mean(axis=-1)


def point_scores(per_step: np.ndarray, starts: np.ndarray, steps: int) -> np.ndarray:
    """Score of every step of the series: the mean error of that step over the windows covering it."""
    window = per_step.shape[1]
    total = np.zeros(steps, np.float64)
    count = np.zeros(steps, np.float64)
    for offset in range(window):  # window-many vector adds, not one per window
        np.add.at(total, starts + offset, per_step[:, offset])
        np.add.at(count, starts + offset, 1.0)
    return np.divide(total, count, out=np.full(steps, np.nan), where=count > 0).astype(np.float32)


def window_labels(point_labels: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
    """A window is anomalous when any of its steps is."""
    cumulative = np.concatenate([[0], np.cumsum(np.asarray(point_labels, np.int64))])
    return ((cumulative[starts + window] - cumulative[starts]) > 0).astype(np.int8)


# --------------------------------------------------------------------------- thresholds

def percentile_threshold(train_errors: np.ndarray, percentile: float = 99.0) -> float:
    return float(np.percentile(_finite(train_errors), percentile))


def max_threshold(train_errors: np.ndarray) -> float:
    return float(np.max(_finite(train_errors)))


def mad_threshold(train_errors: np.ndarray, k: float = 3.0) -> float:
    """Median + k x MAD (scaled to a standard deviation): robust to anomalies among the training data."""
    e = _finite(train_errors)
    median = float(np.median(e))
    return median + k * MAD_TO_SIGMA * float(np.median(np.abs(e - median)))


def best_f1_threshold(errors: np.ndarray, labels: np.ndarray) -> float:
    """The threshold whose flags (score > threshold) give the highest F1 against the labels."""
    from sklearn.metrics import precision_recall_curve

    _require_both_classes(labels)
    precision, recall, cuts = precision_recall_curve(labels, errors)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(precision),
                   where=(precision + recall) > 0)[:-1]
    best = cuts[int(np.argmax(f1))]  # sklearn flags score >= cut; ours is score > threshold
    return float(np.nextafter(best, -np.inf))


def suggested_thresholds(train_errors: np.ndarray, errors: np.ndarray | None = None,
                         labels: np.ndarray | None = None, percentile: float = 99.0,
                         k: float = 3.0) -> dict[str, float]:
    """Label-free suggestions from the training errors, plus the F1-best one when labels exist."""
    out = {"percentile": percentile_threshold(train_errors, percentile),
           "max": max_threshold(train_errors),
           "mad": mad_threshold(train_errors, k)}
    if labels is not None and errors is not None and has_both_classes(labels):
        out["f1"] = best_f1_threshold(errors, labels)
    return out


THRESHOLD_LABELS = {
    "percentile": "percentile of training errors",
    "max": "largest training error",
    "mad": "median + k x MAD of training errors",
    "f1": "best F1 (uses the labels)",
}


# --------------------------------------------------------------------------- at a threshold

def flags(errors: np.ndarray, threshold: float) -> np.ndarray:
    """The rule, in one place: a sample is anomalous when its score is strictly above the threshold."""
    return np.asarray(errors) > threshold


@dataclass(frozen=True)
class ThresholdStats:
    threshold: float
    total: int
    flagged: int
    tp: int | None = None
    fp: int | None = None
    tn: int | None = None
    fn: int | None = None

    @property
    def has_labels(self) -> bool:
        return self.tp is not None

    @property
    def tpr(self) -> float:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def fpr(self) -> float:
        return _ratio(self.fp, self.fp + self.tn)

    @property
    def precision(self) -> float:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def f1(self) -> float:
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    def summary(self) -> str:
        text = f"{self.flagged} of {self.total} flagged ({100 * _ratio(self.flagged, self.total):.1f}%)"
        if self.has_labels:
            text += (f"; recall {self.tpr:.3f}, false positive rate {self.fpr:.3f}, precision {self.precision:.3f}, "
                     f"F1 {self.f1:.3f}")
        return text


def threshold_stats(errors: np.ndarray, threshold: float, labels: np.ndarray | None = None) -> ThresholdStats:
    """Counts at a threshold (and the confusion matrix when labels exist); cheap enough for every drag."""
    flagged = flags(errors, threshold)
    stats = ThresholdStats(float(threshold), int(flagged.size), int(np.count_nonzero(flagged)))
    if labels is None:
        return stats
    positive = np.asarray(labels) == 1
    tp = int(np.count_nonzero(flagged & positive))
    fp = int(np.count_nonzero(flagged & ~positive))
    fn = int(np.count_nonzero(~flagged & positive))
    return ThresholdStats(stats.threshold, stats.total, stats.flagged, tp, fp, int(flagged.size) - tp - fp - fn, fn)


@dataclass(frozen=True)
class Curves:
    fpr: np.ndarray
    tpr: np.ndarray
    auroc: float
    precision: np.ndarray
    recall: np.ndarray
    average_precision: float
    positive_rate: float


def curves(errors: np.ndarray, labels: np.ndarray) -> Curves:
    """ROC and precision-recall curves with AUROC and average precision (scikit-learn)."""
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

    _require_both_classes(labels)
    fpr, tpr, _ = roc_curve(labels, errors)
    precision, recall, _ = precision_recall_curve(labels, errors)
    return Curves(fpr, tpr, float(roc_auc_score(labels, errors)), precision, recall,
                  float(average_precision_score(labels, errors)), float(np.mean(np.asarray(labels) == 1)))


def most_anomalous(errors: np.ndarray, count: int) -> np.ndarray:
    """Indices of the `count` highest scores, highest first."""
    errors = np.asarray(errors)
    count = min(count, len(errors))
    if count <= 0:
        return np.empty(0, np.int64)
    top = np.argpartition(-errors, count - 1)[:count]
    return top[np.argsort(-errors[top], kind="stable")]


def distinct_windows(errors: np.ndarray, starts: np.ndarray, window: int, count: int) -> np.ndarray:
    """The highest-scoring windows that do not overlap a higher-scoring one already chosen, highest first."""
    chosen: list[int] = []
    taken = np.zeros(int(starts.max()) + window + 1 if len(starts) else 1, bool)
    for i in np.argsort(-np.asarray(errors), kind="stable"):
        start = int(starts[i])
        if not taken[start:start + window].any():
            chosen.append(int(i))
            taken[start:start + window] = True
            if len(chosen) == count:
                break
    return np.asarray(chosen, np.int64)


def has_both_classes(labels: np.ndarray | None) -> bool:
    return labels is not None and len(np.unique(labels)) == 2


def synthetic_demo(seed: int = 0, normal: int = 1000, anomalies: int = 50,
                   dims: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """The seed deck's demo: normal rows from N(0, 1), anomalies from N(5, 1) -> (x, labels)."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(0.0, 1.0, (normal, dims)), rng.normal(5.0, 1.0, (anomalies, dims))])
    labels = np.concatenate([np.zeros(normal, np.int8), np.ones(anomalies, np.int8)])
    return x.astype(np.float32), labels


def _require_both_classes(labels: np.ndarray) -> None:
    if not has_both_classes(labels):
        raise ValueError("ROC, precision-recall and the F1-best threshold need labels with both classes "
                         "(normal and anomalous).")


def _finite(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, np.float64)
    values = values[np.isfinite(values)]
    if not len(values):
        raise ValueError("There are no finite training errors to set a threshold from.")
    return values


def _ratio(a: int | None, b: int | None) -> float:
    return float(a) / b if a is not None and b else 0.0
