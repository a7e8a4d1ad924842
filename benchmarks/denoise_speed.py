"""Speed of the bundled denoiser on a 12-megapixel colour photograph (issue 15 item 7: >= 0.5 MP/s on 2 cores).

The photograph: scikit-image's astronaut and coffee, mirrored into a 4000 x 3000 RGB image (real photographic
content at the size of a phone photo), with Gaussian noise of sigma 25. It goes through the app's own path
(engine.denoise.pipeline.denoise: tiles, noise-level map, the colour model), timed twice in one process:
the first run includes loading the model and TensorFlow's tracing of the tile shape, the second is the
steady state a user meets from their second image on. Also prints the grey model on the grey version.

Usage: python benchmarks/denoise_speed.py [--width 4000 --height 3000] [--tile 512]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402


def photo(width: int, height: int) -> np.ndarray:
    from skimage import data

    tile = np.concatenate([data.astronaut()[:400, :512], data.coffee()[:400, :512]], axis=0)
    tile = np.concatenate([tile, tile[:, ::-1]], axis=1)
    tile = np.concatenate([tile, tile[::-1]], axis=0)
    reps = (-(-height // tile.shape[0]), -(-width // tile.shape[1]), 1)
    return (np.tile(tile, reps)[:height, :width] / 255.0).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=4000)
    parser.add_argument("--height", type=int, default=3000)
    parser.add_argument("--tile", type=int, default=512)
    args = parser.parse_args()
    from engine.data.noise import NoiseConfig
    from engine.denoise.pipeline import BUNDLED, denoise, load_bundled_denoiser

    clean = photo(args.width, args.height)
    megapixels = clean.shape[0] * clean.shape[1] / 1e6
    print(f"{args.width} x {args.height} ({megapixels:.1f} MP), {os.cpu_count()} CPUs, tile {args.tile}")
    for name, image in (("colour", clean), ("grey", clean.mean(axis=-1))):
        channels = 1 if image.ndim == 2 else 3
        started = time.perf_counter()
        model = load_bundled_denoiser(channels)
        loading = time.perf_counter() - started
        for run in ("first", "second"):
            result = denoise(image, NoiseConfig("gaussian", 25.0, seed=1), [BUNDLED], {BUNDLED: model},
                             tile=args.tile)
            seconds = result.seconds[BUNDLED]
            print(f"{name:6s} {run:6s} run: {seconds:6.1f} s, {megapixels / seconds:.2f} MP/s"
                  + (f" (model loaded in {loading:.1f} s before)" if run == "first" else "")
                  + f"; PSNR {result.metrics[-1].psnr:.2f} dB (noisy {result.metrics[0].psnr:.2f})", flush=True)
    print("target: >= 0.50 MP/s for the colour photo")


if __name__ == "__main__":
    main()
