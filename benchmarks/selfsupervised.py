"""Self-supervised denoising (Neighbor2Neighbor, engine.denoise.selfsupervised) against BM3D.

Images: the grey scikit-image photographs of benchmarks/denoise_quality.py, rounded to 8-bit levels (any that
would need a download is skipped). Noise: Gaussian, sigma 25 on a 0-255 scale, clipped to [0, 1] as the app
adds it, with the same seeds as denoise_quality.py's sigma-25 column (1000 * image index + 1). So its noisy
images are the same.

The model trains on the noisy images only, for --minutes of wall time (or --steps gradient steps, to replay
a CPU budget on faster hardware) with the CPU threads available. The clean images only score it. It is told
each image's noise level estimated from the noisy image (engine.denoise.noise_level) in training and at test
time; --true-sigma tells it sigma 25 instead. It denoises through engine.denoise.tiling.denoise_tiled, as in
the app. BM3D (`pip install bm3d`) is given the true sigma: bm3d.bm3d(z, sigma_psd=25/255), both stages.

Prints the training's epochs, PSNR per image and the means, and the gap: self-supervised minus BM3D
(target >= -0.5 dB). Writes nothing.

Usage: python benchmarks/selfsupervised.py [--minutes 30] [--steps 0] [--true-sigma] [--images camera,...]
       [--batch 8] [--patch 128] [--width 32] [--lr 1e-3] [--threads 0] [--no-bm3d]
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from engine.core.events import EpochEnded  # noqa: E402
from engine.core.jobs import JobState  # noqa: E402
from engine.data.noise import NoiseConfig, add_noise  # noqa: E402
from engine.denoise.metrics import psnr  # noqa: E402
from engine.denoise.noise_level import NoiseLevel, estimate_noise_level  # noqa: E402

# the same grey photographs as denoise_quality.py, loaded the same way
from denoise_quality import GREY_IMAGES as IMAGES, grey_images as load_images  # noqa: E402

SIGMA = 25.0


def import_bm3d():
    try:
        import bm3d
    except ImportError:
        print("BM3D skipped: `import bm3d` failed (pip install bm3d)")
        return None
    return bm3d


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0, help="training wall time (default 30)")
    parser.add_argument("--steps", type=int, default=0, help="train this many steps instead of --minutes")
    parser.add_argument("--true-sigma", action="store_true", help="tell the model sigma 25 (default: estimated)")
    parser.add_argument("--images", default=",".join(IMAGES))
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--patch", type=int, default=128)
    parser.add_argument("--width", type=int, default=32, help="U-Net filters: width, 2 width, 4 width")
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--gamma", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for TensorFlow (0: all)")
    parser.add_argument("--no-bm3d", action="store_true")
    args = parser.parse_args()

    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from engine.denoise.selfsupervised import SelfSupervisedConfig, train_self_supervised
    from engine.denoise.tiling import denoise_tiled

    images = load_images([n.strip() for n in args.images.split(",") if n.strip()], 0)
    if not images:
        sys.exit("no images")
    noisy = {name: add_noise(clean, NoiseConfig("gaussian", sigma=SIGMA, seed=1000 * index + 1))
             for index, (name, clean) in enumerate(images.items())}
    sigma = SIGMA / 255.0 if args.true_sigma else None
    per_epoch = min(args.steps, 100) if args.steps else 0
    config = SelfSupervisedConfig(
        minutes=0.0 if args.steps else args.minutes, epochs=math.ceil(args.steps / per_epoch) if args.steps else 100000,
        steps_per_epoch=per_epoch, batch_size=args.batch, patch=args.patch, learning_rate=args.lr, gamma=args.gamma,
        width=args.width, blocks=args.blocks, seed=args.seed, sigma=sigma)
    print(f"{len(images)} grey images, sigma {SIGMA:g}: " + ", ".join(f"{n} {im.shape[1]}x{im.shape[0]}"
                                                                     for n, im in images.items()))
    budget = f"{args.steps} steps" if args.steps else f"{args.minutes:g} minutes"
    print(f"Neighbor2Neighbor, {budget}, batch {args.batch}, crops {args.patch}, U-Net width {args.width} x "
          f"{args.blocks} blocks, lr {args.lr:g}, gamma {args.gamma:g}, TensorFlow threads "
          f"{args.threads or 'all'} of {os.cpu_count()} CPUs; noise level "
          f"{'true sigma 25' if args.true_sigma else 'estimated from each noisy image'}", flush=True)

    def show(event) -> None:
        if isinstance(event, EpochEnded):
            print(f"  epoch {event.epoch + 1}: loss {event.logs['loss']:.6f} val {event.logs['val_loss']:.6f} "
                  f"({event.seconds:.1f} s){'  *' if event.improved else ''}", flush=True)

    result = train_self_supervised(list(noisy.values()), config, JobState(show))
    print(f"{result.message} {result.steps / result.seconds:.2f} steps/s", flush=True)

    bm3d = None if args.no_bm3d else import_bm3d()
    rows = {}
    for name, clean in images.items():
        level = NoiseLevel.gaussian(SIGMA / 255.0) if args.true_sigma else estimate_noise_level(noisy[name])
        started = time.perf_counter()
        ours = denoise_tiled(result.model, noisy[name], noise_level=level)
        seconds = time.perf_counter() - started
        row = {"noisy": psnr(clean, np.clip(noisy[name], 0, 1)), "n2n": psnr(clean, ours), "level": 255 * level.mean_sigma(),
               "seconds": seconds}
        if bm3d is not None:
            out = np.clip(bm3d.bm3d(noisy[name][..., 0], sigma_psd=SIGMA / 255.0), 0, 1)[..., None]
            row["bm3d"] = psnr(clean, out)
        rows[name] = row
        print(f"  {name:>10}: noisy {row['noisy']:.2f}  self-supervised {row['n2n']:.2f} (told sigma "
              f"{row['level']:.1f}, {seconds:.1f} s)" + (f"  BM3D {row['bm3d']:.2f}" if "bm3d" in row else ""),
              flush=True)
    methods = ["noisy", "n2n"] + (["bm3d"] if bm3d is not None else [])
    labels = {"noisy": "noisy", "n2n": "self-supervised (Neighbor2Neighbor)", "bm3d": "BM3D (true sigma)"}
    print(f"\nPSNR (dB) at sigma {SIGMA:g}\n")
    print("| method | " + " | ".join(rows) + " | mean |")
    print("|---|" + "---|" * (len(rows) + 1))
    for method in methods:
        values = [rows[n][method] for n in rows]
        print(f"| {labels[method]} | " + " | ".join(f"{v:.2f}" for v in values) + f" | {statistics.fmean(values):.2f} |")
    if bm3d is not None:
        gap = statistics.fmean(r["n2n"] for r in rows.values()) - statistics.fmean(r["bm3d"] for r in rows.values())
        print(f"\nself-supervised - BM3D: {gap:+.2f} dB (target >= -0.5), after {budget} of training "
              f"({result.steps} steps, {result.seconds / 60:.1f} min)")


if __name__ == "__main__":
    main()
