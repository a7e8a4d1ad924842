"""Build resources/mnist_small.npz: a small, class-balanced, deterministic MNIST subset.

Usage: python tools/make_mnist_subset.py [--source PATH] [--out PATH]

Takes 500 training digits and 100 test digits per class (5000 + 1000) from a file in
Keras' layout (x_train, y_train, x_test, y_test; uint8) and saves them, still uint8 and
with the same keys, with np.savez_compressed. MNIST: Y. LeCun, C. Cortes, C. Burges
(CC BY-SA 3.0).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.core.fileio import atomic_path  # noqa: E402

DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "mnist.npz"
DEFAULT_OUT = ROOT / "resources" / "mnist_small.npz"


def balanced_indices(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """`per_class` indices of each class 0..9, chosen with a fixed seed, in original order."""
    rng = np.random.default_rng(seed)
    picks = []
    for digit in range(10):
        candidates = np.flatnonzero(labels == digit)
        if len(candidates) < per_class:
            raise SystemExit(f"Only {len(candidates)} samples of digit {digit}; need {per_class}.")
        picks.append(rng.choice(candidates, size=per_class, replace=False))
    return np.sort(np.concatenate(picks))


def make_subset(source: Path, out: Path, train_per_class: int, test_per_class: int, seed: int) -> None:
    """Write the subset of `source` to `out` atomically."""
    with np.load(source, allow_pickle=False) as full:
        train = balanced_indices(full["y_train"], train_per_class, seed)
        test = balanced_indices(full["y_test"], test_per_class, seed + 1)
        arrays = {
            "x_train": full["x_train"][train].astype(np.uint8),
            "y_train": full["y_train"][train].astype(np.uint8),
            "x_test": full["x_test"][test].astype(np.uint8),
            "y_test": full["y_test"][test].astype(np.uint8),
        }
    with atomic_path(out) as tmp:
        np.savez_compressed(tmp, **arrays)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--train-per-class", type=int, default=500)
    parser.add_argument("--test-per-class", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not args.source.is_file():
        raise SystemExit(f"{args.source} not found; pass --source with an mnist.npz in Keras' layout.")
    make_subset(args.source, args.out, args.train_per_class, args.test_per_class, args.seed)
    print(f"Wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
