"""The Denoise table's truth (issue 15, item 6): the best of each measure, and the line naming the best
method for this image and what it cost."""
import numpy as np

from engine.data.noise import NoiseConfig
from engine.denoise.metrics import MetricRow
from engine.denoise.pipeline import DenoiseResult


def result(rows, seconds):
    image = np.zeros((100, 100), np.float32)
    outputs = {m: image for m in seconds}
    labels = {"nlm": "Non-local means", "tv": "Total variation", "model": "Bundled"}
    return DenoiseResult(image, image, outputs, labels, seconds, [MetricRow("noisy", 20.0, 0.3)] + rows,
                         NoiseConfig("gaussian", sigma=25))


def test_each_measure_has_its_own_best_and_the_noisy_input_is_not_a_method():
    r = result([MetricRow("nlm", 29.3, 0.80), MetricRow("tv", 28.0, 0.85), MetricRow("model", 29.1, 0.79)],
               {"nlm": 0.9, "tv": 0.2, "model": 15.0})
    assert r.best_by() == {"psnr": "nlm", "ssim": "tv", "seconds": "tv"}
    assert r.verdict() == ("Best for this image: Non-local means, 29.30 dB, 0.20 dB above Bundled, in 0.90 s "
                           "(4x the time of Total variation).")


def test_a_nan_ssim_is_never_best_and_without_a_reference_there_is_no_verdict():
    r = result([MetricRow("nlm", 29.0, float("nan")), MetricRow("tv", 28.0, 0.5)], {"nlm": 1.0, "tv": 2.0})
    assert r.best_by() == {"psnr": "nlm", "ssim": "tv", "seconds": "nlm"}
    assert r.verdict().endswith("in 1.00 s.")  # the best is also the quickest: no comparison
    blind = result([], {"nlm": 1.0})
    blind.metrics = []
    assert blind.best_by() == {"seconds": "nlm"} and blind.verdict() == ""
