"""One-class MNIST AUROC (Ruff et al. 2018) for the Anomaly tab's default image detector.

For each digit d: train the app's default image detector (engine.anomaly.detector.default_config("image"))
through the same job the Anomaly tab runs, on the MNIST training images of digit d only (10% held out
for best-epoch selection), then score the 10,000 test images by reconstruction error with d normal
and every other digit anomalous. AUROC per digit and the mean. Anchors: Deep SVDD 0.948 (mean),
a deep convolutional autoencoder about 0.897; target mean >= 0.95.

Also prints the synthetic demo's AUROC (1000 N(0,1) rows, 50 N(5,1) rows, 10-D; default table detector).

Usage: python benchmarks/anomaly_mnist.py [--mnist PATH] [--digits 0,1,...] [--epochs N] [--kind dense|conv|deep]
       [--code-size N] [--seed S]
Smoke test: python benchmarks/anomaly_mnist.py --digits 0 --epochs 1
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.anomaly.data import AnomalySpec  # noqa: E402
from engine.anomaly.detector import default_config, train_detector  # noqa: E402

DEFAULT_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"
ANCHORS = {"Deep SVDD (Ruff et al. 2018)": 0.948, "deep convolutional AE (same paper)": 0.897}
TARGET = 0.95


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
    args = parser.parse_args()
    changes = {k: v for k, v in (("epochs", args.epochs), ("code_size", args.code_size)) if v is not None}
    config = default_config("image", args.kind, seed=args.seed, **changes)
    print(f"Image detector: {config.model_kind}, code {config.code_size}, {config.epochs} epochs, batch "
          f"{config.batch_size}, lr {config.learning_rate:g} ({config.lr_schedule}), loss {config.loss}; "
          f"score = mean squared reconstruction error per image")
    if not args.mnist.is_file():
        sys.exit(f"{args.mnist} not found: pass --mnist path/to/mnist.npz (Keras' cache format).")
    aurocs = {}
    for digit in (int(d) for d in args.digits.split(",")):
        metrics, seconds, outcome = run(AnomalySpec("mnist", path=str(args.mnist), digits=(digit,), seed=args.seed),
                                        config)
        aurocs[digit] = metrics["auroc"]
        print(f"  digit {digit}: AUROC {metrics['auroc']:.4f}  (AP {metrics['average_precision']:.3f}, "
              f"{len(outcome.scores.errors)} test images, {seconds:.0f} s)", flush=True)
    mean = sum(aurocs.values()) / len(aurocs)
    print(f"Mean AUROC over {len(aurocs)} digit(s): {mean:.4f}  (target >= {TARGET}: "
          f"{'met' if mean >= TARGET else 'missed'})")
    for name, value in ANCHORS.items():
        print(f"  anchor {name}: {value:.3f}")
    metrics, seconds, _ = run(AnomalySpec("synthetic", seed=args.seed), default_config("table", seed=args.seed))
    print(f"Synthetic demo (default table detector): AUROC {metrics['auroc']:.4f}, AP "
          f"{metrics['average_precision']:.4f} ({seconds:.0f} s)")


if __name__ == "__main__":
    main()
