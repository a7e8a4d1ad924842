"""Denoising quality and speed: the app's denoisers side by side, each run the way the app runs it.

Grey (default): scikit-image's bundled photographs (none of them is in the denoiser's training set),
converted to grey and rounded to 8-bit levels; any that would need a download (pooch) is skipped with a
note. Colour (--colour): the held-out colour photographs of ../shared/data/colour (tools/denoise_split.py
COLOUR_HELD_OUT: never seen in training). Noise: Gaussian, sigma on a 0-255 scale, one fixed seed per
(image, sigma), added the way the app adds it (engine.data.noise.add_noise: clipped to [0, 1]);
--unclipped adds plain x + sigma * N(0, 1) as in the DnCNN/BM3D papers.

Methods, one entry each in the list build_methods returns (a new column is one more Method):
the classical ones through the app's own engine.denoise.classical.classical_tiled (NL-means, TV
Chambolle, wavelet BayesShrink, and BM3D from the `bm3d` package, CBM3D on colour), told the true
sigma (--estimate-sigma: estimated from the noisy image, as the app does without added noise); and
"model", the bundled denoiser for the image's channels through engine.denoise.tiling.denoise_tiled,
told the same noise level. Times are wall clock per call, after one untimed warm-up call of the model
(TensorFlow's first call costs seconds); MP/s = all megapixels denoised / all seconds.

Prints mean PSNR / SSIM per method and sigma, seconds per image and MP/s, per-image PSNR at sigma 25,
and (grey, with the model) the sigma-25 targets: model minus the best scikit-image method (>= 1 dB),
model minus BM3D (>= 0 dB), time model / BM3D (<= 0.5).

--rates: the megapixels per second of each classical method on a 512 x 512 photograph (camera in grey,
astronaut in colour; sigma 25; CPU seconds of one process, tile overlaps counted): the figures of
engine.denoise.classical.RATES_MPS, which the app's time estimate uses.

--memory: denoise a synthetic noisy --side x --side grey image (default 8000) with the bundled
model through denoise_tiled and print the peak resident memory (ru_maxrss; target <= 2 GB).

Usage: python benchmarks/denoise_quality.py [--images camera,astronaut,...] [--sigmas 15 25 50]
       [--max-side 0] [--methods model,nl_means,tv,wavelet,bm3d] [--unclipped] [--estimate-sigma]
       python benchmarks/denoise_quality.py --colour [--sigmas 25] [--methods bm3d,nl_means] [--colour-dir DIR]
       python benchmarks/denoise_quality.py --rates
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
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from engine.data.noise import NoiseConfig, add_noise  # noqa: E402
from engine.denoise import classical  # noqa: E402
from engine.denoise.metrics import psnr, ssim  # noqa: E402

GREY_IMAGES = ("camera", "astronaut", "coffee", "chelsea", "rocket", "moon", "coins", "clock")
COLOUR_DIR = ROOT.parent / "shared" / "data" / "colour"
GREY_METHODS, COLOUR_METHODS = "model,nl_means,tv,wavelet,bm3d", "bm3d,nl_means"


@dataclass(frozen=True)
class Method:
    key: str  # what --methods names it
    label: str  # its row in the tables
    run: Callable[[np.ndarray, float | None], np.ndarray]  # (noisy (H, W, C), sigma 0-1 or None) -> denoised


# ----------------------------------------------------------------------------- images

def grey_images(names: list[str], max_side: int) -> dict[str, np.ndarray]:
    from skimage import color, data

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
        images[name] = shrunk(image.astype(np.float32)[..., None], max_side)
    return images


def colour_images(folder: Path, max_side: int) -> dict[str, np.ndarray]:
    from engine.data.images import read_image
    from tools.denoise_split import COLOUR_HELD_OUT

    images = {}
    for name in COLOUR_HELD_OUT:
        if not (folder / name).is_file():
            print(f"  skipped {name}: not in {folder}")
            continue
        images[Path(name).stem] = shrunk(read_image(folder / name, mode="rgb").pixels, max_side)
    return images


def shrunk(image: np.ndarray, max_side: int) -> np.ndarray:
    if not max_side or max(image.shape[:2]) <= max_side:
        return image
    from engine.data.images import resize_pixels

    scale = max_side / max(image.shape[:2])
    out = resize_pixels(image, (round(image.shape[0] * scale), round(image.shape[1] * scale)))
    return np.asarray(out, np.float32).reshape(out.shape[0], out.shape[1], image.shape[-1])


def noisy_version(clean: np.ndarray, sigma: float, seed: int, unclipped: bool) -> np.ndarray:
    if unclipped:
        rng = np.random.default_rng(seed)
        return (clean + sigma / 255.0 * rng.standard_normal(clean.shape)).astype(np.float32)
    return add_noise(clean, NoiseConfig("gaussian", sigma=sigma, seed=seed))


# ----------------------------------------------------------------------------- methods

def classical_method(name: str, channels: int) -> tuple[Method | None, str]:
    if name == "bm3d":
        available, why = classical.bm3d_support()
        if not available:
            return None, f"BM3D skipped: {why}"
        from importlib.metadata import version

        note = f"{classical.method_label(name, channels)}: bm3d {version('bm3d')}, profile 'np', both stages"
    else:
        note = ""

    def run(noisy, sigma, name=name):
        return classical.classical_tiled(name, noisy, sigma)

    return Method(name, classical.method_label(name, channels), run), note


def model_method(channels: int) -> tuple[Method | None, str]:
    from engine.core.resources import bundled_denoiser_path
    from engine.denoise.noise_level import NoiseLevel
    from engine.denoise.pipeline import load_bundled_denoiser
    from engine.denoise.tiling import denoise_tiled

    path = bundled_denoiser_path(channels)
    if not path.is_file():
        return None, f"bundled model skipped: {path} is missing"
    model = load_bundled_denoiser(channels)
    stamp = datetime.datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
    note = (f"bundled model: {path.name}, {model.name}, {model.count_params():,} parameters, "
            f"{path.stat().st_size / 1e6:.1f} MB, saved {stamp}")
    denoise_tiled(model, np.zeros((64, 64, channels), np.float32), noise_level=NoiseLevel.gaussian(0.1))  # warm-up

    def run(noisy, sigma):
        level = None if sigma is None else NoiseLevel.gaussian(sigma)
        return denoise_tiled(model, noisy, noise_level=level)

    return Method("model", f"bundled ({model.name})", run), note


def build_methods(wanted: list[str], channels: int) -> tuple[list[Method], list[str]]:
    """The methods to compare, in order; plus notes on what each is and on skipped ones."""
    methods, notes = [], []
    for key in wanted:
        if key == "model":
            method, note = model_method(channels)
        elif key in classical.CLASSICAL_METHODS:
            method, note = classical_method(key, channels)
        else:
            sys.exit(f"unknown method {key!r}; use model or one of {', '.join(classical.CLASSICAL_METHODS)}")
        methods += [method] if method is not None else []
        notes += [note] if note else []
    return methods, notes


# ----------------------------------------------------------------------------- quality

def quality(args: argparse.Namespace) -> None:
    sigmas = [float(s) for item in args.sigmas for s in item.split(",") if s.strip()]
    print("Loading images…", flush=True)
    if args.colour:
        images = colour_images(Path(args.colour_dir), args.max_side)
    else:
        images = grey_images([n.strip() for n in args.images.split(",") if n.strip()], args.max_side)
    if not images:
        sys.exit("no images to test")
    channels = 3 if args.colour else 1
    wanted = args.methods or (COLOUR_METHODS if args.colour else GREY_METHODS)
    methods, notes = build_methods([m.strip() for m in wanted.split(",") if m.strip()], channels)
    for note in notes:
        print("  " + note)
    print("  images: " + ", ".join(f"{n} {im.shape[1]}x{im.shape[0]}" for n, im in images.items()))
    scores: dict[tuple[str, float, str], tuple[float, float]] = {}  # (method, sigma, image) -> (psnr, ssim)
    seconds = {m.key: 0.0 for m in methods}
    megapixels = {m.key: 0.0 for m in methods}
    for s_index, sigma in enumerate(sigmas):
        for i_index, (name, clean) in enumerate(images.items()):
            noisy = noisy_version(clean, sigma, seed=1000 * i_index + s_index, unclipped=args.unclipped)
            scores[("noisy", sigma, name)] = (psnr(clean, np.clip(noisy, 0, 1)), ssim(clean, np.clip(noisy, 0, 1)))
            given = None if args.estimate_sigma else sigma / 255.0
            line = [f"sigma {sigma:g} {name:>12}:"]
            for method in methods:
                started = time.perf_counter()
                out = method.run(noisy, given)
                took = time.perf_counter() - started
                seconds[method.key] += took
                megapixels[method.key] += clean.shape[0] * clean.shape[1] / 1e6
                scores[(method.key, sigma, name)] = (psnr(clean, out), ssim(clean, out))
                line.append(f"{method.label} {scores[(method.key, sigma, name)][0]:.2f} dB {took:.1f} s")
            print("  " + "  ".join(line), flush=True)
    report(scores, seconds, megapixels, methods, sigmas, list(images), "colour" if args.colour else "grey")


def mean(scores, key, sigma, names, k):
    return statistics.fmean(scores[(key, sigma, n)][k] for n in names)


def report(scores, seconds, megapixels, methods: list[Method], sigmas, names, kind: str) -> None:
    runs = len(sigmas) * len(names)
    print(f"\nMean PSNR (dB) / SSIM over {len(names)} {kind} images; seconds per image and MP/s over all runs\n")
    print("| method | " + " | ".join(f"sigma {s:g}" for s in sigmas) + " | s / image | MP/s |")
    print("|---|" + "---|" * (len(sigmas) + 2))
    rows = [("noisy", "noisy")] + [(m.key, m.label) for m in methods]
    for key, label in rows:
        cells = [f"{mean(scores, key, s, names, 0):.2f} / {mean(scores, key, s, names, 1):.3f}" for s in sigmas]
        timed = key in seconds and seconds[key] > 0
        per_image = f"{seconds[key] / runs:.2f}" if timed else "-"
        speed = f"{megapixels[key] / seconds[key]:.3f}" if timed else "-"
        print(f"| {label} | " + " | ".join(cells) + f" | {per_image} | {speed} |")
    focus = 25.0 if 25.0 in sigmas else sigmas[len(sigmas) // 2]
    print(f"\nPSNR (dB) per image at sigma {focus:g}\n")
    print("| method | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for key, label in rows:
        print(f"| {label} | " + " | ".join(f"{scores[(key, focus, n)][0]:.2f}" for n in names) + " |")
    keys = [m.key for m in methods]
    if "model" not in keys:
        return
    model_psnr = mean(scores, "model", focus, names, 0)
    print(f"\nAt sigma {focus:g}:")
    scikit = [m for m in methods if m.key in ("nl_means", "tv", "wavelet")]
    if scikit:
        best = max(scikit, key=lambda m: mean(scores, m.key, focus, names, 0))
        gap = model_psnr - mean(scores, best.key, focus, names, 0)
        print(f"  model - best scikit-image method ({best.label}): {gap:+.2f} dB (target >= +1)")
    if "bm3d" in keys:
        label = classical.method_label("bm3d", 3 if kind == "colour" else 1)
        gap = model_psnr - mean(scores, "bm3d", focus, names, 0)
        ratio = seconds["model"] / seconds["bm3d"]
        print(f"  model - {label}: {gap:+.2f} dB (target >= 0); time model / {label} (all sigmas): {ratio:.2f} "
              "(target <= 0.5)")


# ----------------------------------------------------------------------------- rates

def rates(_args: argparse.Namespace) -> None:
    """Each classical method's cost per call and per megapixel (CPU seconds of this process), from one call on
    a 64 x 64 crop and one on the whole 512 x 512 photograph: the figures the app's time estimate uses."""
    from skimage import data

    photos = {1: data.camera()[..., None] / 255.0, 3: data.astronaut() / 255.0}
    print(f"{os.cpu_count()} CPUs; sigma 25; CPU seconds of this process\n")
    print("| method | channels | s, 64 x 64 | s, 512 x 512 | s per call | MP/s |\n|---|---|---|---|---|---|")
    found = {}
    for name, fn in classical.CLASSICAL_METHODS.items():
        if name == "bm3d" and not classical.bm3d_support()[0]:
            print("| BM3D | - | not installed | | | |")
            continue
        for channels, clean in photos.items():
            noisy = add_noise(clean.astype(np.float32), NoiseConfig("gaussian", sigma=25, seed=0))
            took = []
            for image in (noisy[:64, :64], noisy[:64, :64], noisy):  # the first call warms up
                started = time.process_time()
                fn(image, 25 / 255)
                took.append(time.process_time() - started)
            small, big = took[1], took[2]
            rate = (512 ** 2 - 64 ** 2) / 1e6 / max(big - small, 1e-9)
            overhead = max(0.0, small - 64 ** 2 / 1e6 / rate)
            found[(name, channels)] = (round(overhead, 2), float(f"{rate:.3g}"))
            print(f"| {classical.method_label(name, channels)} | {channels} | {small:.3f} | {big:.2f} | "
                  f"{overhead:.2f} | {rate:.3g} |", flush=True)
    print("\nCOSTS = {" + ", ".join(f"{k!r}: {v}" for k, v in found.items()) + "}")


# ----------------------------------------------------------------------------- memory

def memory(args: argparse.Namespace) -> None:
    from engine.core.events import Progress
    from engine.core.jobs import JobState
    from engine.denoise.pipeline import load_bundled_denoiser
    from engine.denoise.tiling import denoise_tiled

    def rss_mb() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux

    side = args.side
    model = load_bundled_denoiser(1)
    denoise_tiled(model, np.zeros((64, 64, 1), np.float32))  # warm-up
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

    def progress(event) -> None:
        if not isinstance(event, Progress) or event.total <= 0:
            return
        tenth = 10 * event.done // event.total
        if tenth not in marks:
            marks.add(tenth)
            print(f"  {event.done}/{event.total} tiles, {time.perf_counter() - started:.0f} s, "
                  f"peak RSS {rss_mb():.0f} MB", flush=True)

    out = denoise_tiled(model, image, tile=args.tile, overlap=args.overlap, state=JobState(progress))
    elapsed = time.perf_counter() - started
    print(f"denoised {side} x {side} in {elapsed:.0f} s ({side * side / 1e6 / elapsed:.2f} MP/s), "
          f"tile {args.tile}, overlap {args.overlap}; output {out.shape} {out.dtype}")
    print(f"peak RSS (ru_maxrss): {rss_mb():.0f} MB = {rss_mb() / 1024:.2f} GiB (target <= 2 GB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--colour", action="store_true", help="the held-out colour photographs (CBM3D, ...)")
    parser.add_argument("--colour-dir", default=str(COLOUR_DIR), help="where the colour photographs are")
    parser.add_argument("--images", default=",".join(GREY_IMAGES), help="grey: scikit-image photographs")
    parser.add_argument("--sigmas", nargs="+", default=["15", "25", "50"], help="e.g. 15 25 50 (or 15,25,50)")
    parser.add_argument("--methods", default="", help=f"comma-separated; default {GREY_METHODS} "
                        f"(--colour: {COLOUR_METHODS})")
    parser.add_argument("--max-side", type=int, default=0, help="downscale larger images to this side; 0 = native")
    parser.add_argument("--unclipped", action="store_true", help="x + sigma * N(0, 1) without clipping")
    parser.add_argument("--estimate-sigma", action="store_true", help="every method estimates sigma")
    parser.add_argument("--rates", action="store_true", help="MP/s of each classical method (the time estimate)")
    parser.add_argument("--memory", action="store_true", help="peak memory of an --side x --side denoise")
    parser.add_argument("--side", type=int, default=8000)
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--overlap", type=int, default=32)
    args = parser.parse_args()
    memory(args) if args.memory else rates(args) if args.rates else quality(args)


if __name__ == "__main__":
    main()
