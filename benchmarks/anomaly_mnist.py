"""One-class MNIST AUROC (Ruff et al. 2018) for the Anomaly tab's default image detector.

For each digit d: train the app's default image detector (engine.anomaly.detector.default_config("image"))
through the same job the Anomaly tab runs, on the MNIST training images of digit d only (10% held out
for best-epoch selection), then score the 10,000 test images with d normal and every other digit
anomalous. Each score the app offers for images (engine.anomaly.scores: the plain mean squared
reconstruction error and the blurred error) is computed from the same reconstructions, so one run
compares them side by side. AUROC per digit and the mean per score. Anchors: Deep SVDD 0.948 (mean),
a deep convolutional autoencoder about 0.897; targets: mean >= 0.95 (issue 5), >= 0.975 with the
default detector and score (issue 16).

Also prints the synthetic demo's AUROC (1000 N(0,1) rows, 50 N(5,1) rows, 10-D; default table detector).

Usage: python benchmarks/anomaly_mnist.py [--mnist PATH] [--digits 0,1,...] [--epochs N] [--kind dense|conv|deep]
       [--code-size N] [--seed S] [--sigmas 0.5,0.75,1.5,2]  (--sigmas: the blurred error at other blurs too)
Smoke test: python benchmarks/anomaly_mnist.py --digits 0 --epochs 1
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.anomaly import scores as anomaly  # noqa: E402
from engine.anomaly.data import AnomalySpec  # noqa: E402
from engine.anomaly.detector import default_config, train_detector  # noqa: E402

DEFAULT_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"
ANCHORS = {"Deep SVDD (Ruff et al. 2018)": 0.948, "deep convolutional AE (same paper)": 0.897}
TARGET = 0.95
TARGET_DEFAULT = 0.975  # issue 16: the default detector with its default score


def run(spec: AnomalySpec, config) -> tuple[dict, float, object]:
    started = time.perf_counter()
    outcome = train_detector(spec, config)
    return outcome.detector.metrics, time.perf_counter() - started, outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", type=Path, default=DEFAULT_MNIST)
    parser.add_argument("--digits", default="0,1,2,3,4,5,6,7,8,9")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--kind", default=None)
    parser.add_argument("--code-size", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sigmas", default="", help="also the blurred error at these blurs (comma separated)")
    args = parser.parse_args()
    changes = {k: v for k, v in (("epochs", args.epochs), ("code_size", args.code_size)) if v is not None}
    config = default_config("image", args.kind, seed=args.seed, **changes)
    print(f"Image detector: {config.model_kind}, code {config.code_size}, {config.epochs} epochs, batch "
          f"{config.batch_size}, lr {config.learning_rate:g} ({config.lr_schedule}), loss {config.loss}; "
          f"default score {anomaly.default_score('image')} (blur sigma {anomaly.BLUR_SIGMA:g})")
    if not args.mnist.is_file():
        sys.exit(f"{args.mnist} not found: pass --mnist path/to/mnist.npz (Keras' cache format).")
    columns = {kind: (kind, anomaly.BLUR_SIGMA) for kind in anomaly.score_kinds("image")}
    columns.update({f"blurred_error sigma {s:g}": ("blurred_error", s) for s in _floats(args.sigmas)})
    aurocs: dict[str, dict[int, float]] = {name: {} for name in columns}
    for digit in (int(d) for d in args.digits.split(",")):
        metrics, seconds, outcome = run(AnomalySpec("mnist", path=str(args.mnist), digits=(digit,), seed=args.seed),
                                        config)
        s = outcome.scores
        for name, (kind, sigma) in columns.items():
            errors = anomaly.sample_scores(s.inputs, s.outputs, kind, sigma)
            aurocs[name][digit] = anomaly.curves(errors, s.labels).auroc
        shown = ", ".join(f"{name} {values[digit]:.4f}" for name, values in aurocs.items())
        print(f"  digit {digit}: AUROC {shown}  ({len(s.errors)} test images, {seconds:.0f} s)", flush=True)
    for name, values in aurocs.items():
        mean = sum(values.values()) / len(values)
        default = name == anomaly.default_score("image")
        target = TARGET_DEFAULT if default else TARGET
        print(f"Mean AUROC over {len(values)} digit(s), {name}{' (the default score)' if default else ''}: "
              f"{mean:.4f}  (target >= {target}: {'met' if mean >= target else 'missed'})")
    for name, value in ANCHORS.items():
        print(f"  anchor {name}: {value:.3f}")
    metrics, seconds, _ = run(AnomalySpec("synthetic", seed=args.seed), default_config("table", seed=args.seed))
    print(f"Synthetic demo (default table detector): AUROC {metrics['auroc']:.4f}, AP "
          f"{metrics['average_precision']:.4f} ({seconds:.0f} s)")


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v.strip()]


if __name__ == "__main__":
    main()
