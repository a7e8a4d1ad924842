"""Denoising quality and speed: the bundled denoiser against scikit-image's classical methods and BM3D.

Images: scikit-image's bundled photographs (none of them is in the denoiser's training set,
BSD train400), converted to grey and rounded to 8-bit levels; any that would need a download
(pooch) is skipped with a note. Noise: Gaussian, sigma on a 0-255 scale, one fixed seed per
(image, sigma), added the way the app adds it (engine.denoise.pipeline.add_noise: clipped to [0, 1]);
--unclipped adds plain x + sigma * N(0, 1) as in the DnCNN/BM3D papers.

Methods: the bundled model (resources/denoiser_dncnn.keras, blind: it is not told sigma) through
engine.denoise.pipeline.denoise_tiled; NL-means, TV Chambolle and wavelet BayesShrink from
engine.denoise.pipeline.CLASSICAL_METHODS and BM3D (`pip install bm3d`, when it imports), which are given
the true sigma (--estimate-sigma: estimated from the noisy image instead). Times are wall clock
per call, after one untimed warm-up call of the model (TensorFlow's first call costs seconds);
MP/s = all megapixels denoised / all seconds.

Prints mean PSNR / SSIM per method and sigma, MP/s, per-image PSNR at sigma 25, and the sigma-25
targets: bundled minus the best scikit-image method (>= 1 dB), bundled minus BM3D (>= 0 dB), time
bundled / BM3D (<= 0.5).

--memory: denoise a synthetic noisy --side x --side grey image (default 8000) with the bundled
model through denoise_tiled and print the peak resident memory (ru_maxrss; target <= 2 GB).

Usage: python benchmarks/denoise_quality.py [--images camera,astronaut,...] [--sigmas 15,25,50]
       [--max-side 0] [--methods model,nl_means,tv,wavelet,bm3d] [--unclipped] [--estimate-sigma]
       python benchmarks/denoise_quality.py --memory [--side 8000] [--tile 512]
"""
from __future__ import annotations

import argparse
import datetime
import os
import resource
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from engine.denoise import pipeline as denoise  # noqa: E402

IMAGES = ("camera", "astronaut", "coffee", "chelsea", "rocket", "moon", "coins", "clock")
LABELS = {"model": "bundled DnCNN", "nl_means": "NL-means", "tv": "TV Chambolle", "wavelet": "wavelet BayesShrink",
          "bm3d": "BM3D"}


def load_images(names: list[str], max_side: int) -> dict[str, np.ndarray]:
    from skimage import color, data

    from engine.data.images import resize_pixels

    images = {}
    for name in names:
        try:
            raw = getattr(data, name)()
        except AttributeError:
            print(f"  skipped {name}: skimage.data has no such image")
            continue
        except Exception as exc:  # noqa: BLE001 - ModuleNotFoundError (pooch), download errors, ...
            print(f"  skipped {name}: needs a download ({type(exc).__name__})")
            continue
        image = np.asarray(raw, dtype=np.float64)
        if image.ndim == 3:
            image = color.rgb2gray(image[..., :3] / 255.0 if raw.dtype == np.uint8 else image[..., :3])
        elif raw.dtype == np.uint8:
            image = image / 255.0
        image = np.round(np.clip(image, 0, 1) * 255) / 255  # an 8-bit grey photograph
        if max_side and max(image.shape) > max_side:
            scale = max_side / max(image.shape)
            image = resize_pixels(image, (round(image.shape[0] * scale), round(image.shape[1] * scale)))
        images[name] = image.astype(np.float32)[..., None]
    return images


def noisy_version(clean: np.ndarray, sigma: float, seed: int, unclipped: bool) -> np.ndarray:
    if unclipped:
        rng = np.random.default_rng(seed)
        return (clean + sigma / 255.0 * rng.standard_normal(clean.shape)).astype(np.float32)
    return denoise.add_noise(clean, denoise.NoiseConfig("gaussian", sigma=sigma, seed=seed))


def build_methods(wanted: list[str]) -> tuple[dict, list[str]]:
    """method id -> fn(noisy (H, W, 1), sigma 0-1 or None) -> denoised; plus notes on skipped ones."""
    methods, notes = {}, []
    for name in wanted:
        if name == "model":
            path = denoise.bundled_denoiser_path()
            if not path.is_file():
                notes.append(f"bundled model skipped: {path} is missing")
                continue
            model = denoise.load_bundled_denoiser()
            stamp = datetime.datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
            notes.append(f"bundled model: {path.name}, {model.name}, {model.count_params():,} parameters, "
                         f"{path.stat().st_size / 1e6:.1f} MB, saved {stamp}")
            denoise.denoise_tiled(model, np.zeros((64, 64, 1), np.float32))  # warm-up, untimed
            methods[name] = lambda noisy, _sigma, model=model: denoise.denoise_tiled(model, noisy)
        elif name == "bm3d":
            try:
                import bm3d
            except ImportError:
                notes.append("BM3D skipped: `import bm3d` failed (pip install bm3d)")
                continue
            from importlib.metadata import version

            notes.append(f"BM3D: bm3d {version('bm3d')}, profile 'np', both stages, given sigma_psd")

            def run_bm3d(noisy, sigma, bm3d=bm3d):
                sigma = denoise.estimate_noise_sigma(noisy) if sigma is None else sigma
                return np.clip(bm3d.bm3d(noisy[..., 0], sigma_psd=sigma), 0, 1).astype(np.float32)[..., None]

            methods[name] = run_bm3d
        elif name in denoise.CLASSICAL_METHODS:
            methods[name] = denoise.CLASSICAL_METHODS[name]
        else:
            sys.exit(f"unknown method {name!r}; use model, bm3d or one of {', '.join(denoise.CLASSICAL_METHODS)}")
    return methods, notes


def quality(args: argparse.Namespace) -> None:
    names = [n.strip() for n in args.images.split(",") if n.strip()]
    sigmas = [float(s) for s in args.sigmas.split(",")]
    print("Loading images…", flush=True)
    images = load_images(names, args.max_side)
    if not images:
        sys.exit("no images to test")
    methods, notes = build_methods([m.strip() for m in args.methods.split(",") if m.strip()])
    for note in notes:
        print("  " + note)
    print("  images: " + ", ".join(f"{n} {im.shape[1]}x{im.shape[0]}" for n, im in images.items()))
    scores: dict[tuple[str, float, str], tuple[float, float]] = {}  # (method, sigma, image) -> (psnr, ssim)
    seconds = {m: 0.0 for m in methods}
    megapixels = {m: 0.0 for m in methods}
    for s_index, sigma in enumerate(sigmas):
        for i_index, (name, clean) in enumerate(images.items()):
            noisy = noisy_version(clean, sigma, seed=1000 * i_index + s_index, unclipped=args.unclipped)
            scores[("noisy", sigma, name)] = (denoise.psnr(clean, np.clip(noisy, 0, 1)),
                                              denoise.ssim(clean, np.clip(noisy, 0, 1)))
            given = None if args.estimate_sigma else sigma / 255.0
            line = [f"sigma {sigma:g} {name:>10}:"]
            for method, fn in methods.items():
                started = time.perf_counter()
                out = fn(noisy, given)
                seconds[method] += time.perf_counter() - started
                megapixels[method] += clean.shape[0] * clean.shape[1] / 1e6
                scores[(method, sigma, name)] = (denoise.psnr(clean, out), denoise.ssim(clean, out))
                line.append(f"{method} {scores[(method, sigma, name)][0]:.2f}")
            print("  " + "  ".join(line), flush=True)
    report(scores, seconds, megapixels, list(methods), sigmas, list(images))


def mean(scores, method, sigma, names, k):
    return statistics.fmean(scores[(method, sigma, n)][k] for n in names)


def report(scores, seconds, megapixels, methods, sigmas, names) -> None:
    print(f"\nMean PSNR (dB) / SSIM over {len(names)} grey images; MP/s over all runs\n")
    print("| method | " + " | ".join(f"sigma {s:g}" for s in sigmas) + " | MP/s |")
    print("|---|" + "---|" * (len(sigmas) + 1))
    for method in ["noisy"] + methods:
        cells = [f"{mean(scores, method, s, names, 0):.2f} / {mean(scores, method, s, names, 1):.3f}" for s in sigmas]
        speed = f"{megapixels[method] / seconds[method]:.3f}" if method in seconds and seconds[method] else "-"
        print(f"| {LABELS.get(method, method)} | " + " | ".join(cells) + f" | {speed} |")
    focus = 25.0 if 25.0 in sigmas else sigmas[len(sigmas) // 2]
    print(f"\nPSNR (dB) per image at sigma {focus:g}\n")
    print("| method | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for method in ["noisy"] + methods:
        print(f"| {LABELS.get(method, method)} | " + " | ".join(f"{scores[(method, focus, n)][0]:.2f}" for n in names)
              + " |")
    if "model" not in methods:
        return
    model_psnr = mean(scores, "model", focus, names, 0)
    print(f"\nAt sigma {focus:g}:")
    classical = [m for m in methods if m in denoise.CLASSICAL_METHODS]
    if classical:
        best = max(classical, key=lambda m: mean(scores, m, focus, names, 0))
        gap = model_psnr - mean(scores, best, focus, names, 0)
        print(f"  bundled - best scikit-image method ({LABELS[best]}): {gap:+.2f} dB (target >= +1)")
    if "bm3d" in methods:
        gap = model_psnr - mean(scores, "bm3d", focus, names, 0)
        ratio = seconds["model"] / seconds["bm3d"]
        print(f"  bundled - BM3D: {gap:+.2f} dB (target >= 0); time bundled / BM3D (all sigmas): {ratio:.2f} "
              "(target <= 0.5)")


def memory(args: argparse.Namespace) -> None:
    def rss_mb() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux

    side = args.side
    model = denoise.load_bundled_denoiser()
    denoise.denoise_tiled(model, np.zeros((64, 64, 1), np.float32))  # warm-up
    print(f"peak RSS after loading TensorFlow and the model: {rss_mb():.0f} MB", flush=True)
    image = np.empty((side, side, 1), np.float32)  # built in row chunks: no full-size temporaries
    x = np.arange(side, dtype=np.float32)
    rng = np.random.default_rng(0)
    for top in range(0, side, 256):
        y = np.arange(top, min(top + 256, side), dtype=np.float32)[:, None]
        rows = 0.5 + 0.3 * np.sin(x / 41.0) * np.cos(y / 67.0) + 0.15 * ((x // 300 + y // 300) % 2)
        image[top:top + len(y), :, 0] = np.clip(rows + rng.normal(0, 25 / 255, rows.shape), 0, 1)
    print(f"image {side} x {side} grey float32 ({image.nbytes / 2**20:.0f} MiB); "
          f"peak RSS so far {rss_mb():.0f} MB", flush=True)
    started = time.perf_counter()
    marks = set()

    def progress(done: int, total: int) -> None:
        tenth = 10 * done // total
        if tenth not in marks:
            marks.add(tenth)
            print(f"  {done}/{total} tiles, {time.perf_counter() - started:.0f} s, peak RSS {rss_mb():.0f} MB",
                  flush=True)

    out = denoise.denoise_tiled(model, image, tile=args.tile, overlap=args.overlap, on_progress=progress)
    elapsed = time.perf_counter() - started
    print(f"denoised {side} x {side} in {elapsed:.0f} s ({side * side / 1e6 / elapsed:.2f} MP/s), "
          f"tile {args.tile}, overlap {args.overlap}; output {out.shape} {out.dtype}")
    print(f"peak RSS (ru_maxrss): {rss_mb():.0f} MB = {rss_mb() / 1024:.2f} GiB (target <= 2 GB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", default=",".join(IMAGES))
    parser.add_argument("--sigmas", default="15,25,50")
    parser.add_argument("--methods", default="model,nl_means,tv,wavelet,bm3d")
    parser.add_argument("--max-side", type=int, default=0, help="downscale larger images to this side; 0 = native")
    parser.add_argument("--unclipped", action="store_true", help="x + sigma * N(0, 1) without clipping")
    parser.add_argument("--estimate-sigma", action="store_true", help="classical methods and BM3D estimate sigma")
    parser.add_argument("--memory", action="store_true", help="peak memory of an --side x --side denoise")
    parser.add_argument("--side", type=int, default=8000)
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--overlap", type=int, default=32)
    args = parser.parse_args()
    memory(args) if args.memory else quality(args)


if __name__ == "__main__":
    main()
