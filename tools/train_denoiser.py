"""Train a bundled noise-level-aware denoiser (engine.models.denoiser.build_unet_denoiser).

Grey (--channels 1): the 400 BSD training crops (16 held out for validation) plus the luminance of the
colour training photographs. Colour (--channels 3): the colour photographs of ../shared/data/colour except
those held out (HELD_OUT: never seen in training, used for the benchmark's figures; VALIDATION: picks the
best weights). Random patches with flips and 90-degree rotations; noise per patch: white Gaussian with
sigma uniform in [0, 55] / 255 (the same in every channel, or with probability 0.2 different per channel),
or with probability 0.15 signal-dependent Poisson-Gaussian (variance a * x + b^2); the model is told the
true noise standard deviation of every pixel (its `noise_level` input). MSE, Adam, warm-up then cosine
decay over --total-steps.

Resumable and budgeted: each run trains for --minutes (wall time) and leaves a checkpoint with the
optimizer state (<out>.ckpt.keras); --resume continues from it at the step it reached, on the same
schedule. Every session's budget, steps and validation PSNR go to the log in <out>.json. The best weights
(validation PSNR at sigma 25) are written atomically to --out. On a GPU machine the same command runs
unchanged (raise --batch for speed; the schedule is in steps).

Usage: python tools/train_denoiser.py --channels 3 --minutes 60 [--resume] [--total-steps N]
       python tools/train_denoiser.py --channels 3 --finalize   (before committing the weights)
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from engine.core.fileio import atomic_path  # noqa: E402
from engine.core.resources import BUNDLED_DENOISER, RESOURCES  # noqa: E402
from engine.data.images import read_image  # noqa: E402
from engine.models.denoiser import build_unet_denoiser  # noqa: E402
from engine.models.files import save_model  # noqa: E402
from tools.denoise_split import COLOUR_HELD_OUT, COLOUR_VALIDATION, colour_photos  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def grid_crops(image: np.ndarray, size: int, stride: int) -> list[np.ndarray]:
    h, w = image.shape[:2]
    return [image[y:y + size, x:x + size] for y in range(0, h - size + 1, stride) for x in range(0, w - size + 1, stride)]


def _grey(path: Path) -> np.ndarray:
    pixels = read_image(path, mode="grey").pixels
    return pixels if pixels.ndim == 3 else pixels[..., None]


def training_crops(channels: int, crop: int) -> tuple[np.ndarray, np.ndarray]:
    """(training crops, validation images), float32 in [0, 1], (n, crop, crop, channels)."""
    photos = colour_photos(DATA / "colour")
    train_photos = [p for p in photos if p.name not in COLOUR_HELD_OUT + COLOUR_VALIDATION]
    crops: list[np.ndarray] = []
    if channels == 1:
        files = sorted((DATA / "train400").glob("*.png"))
        grey = [_grey(p) for p in files]
        val = np.stack(grey[:16])[:, :176, :176]  # sizes a multiple of the U-Net's 8
        crops += [c for g in grey[16:] for c in grid_crops(g, crop, crop // 2)]  # 180 x 180: one 176 crop each
        for p in train_photos:
            crops += grid_crops(_grey(p), crop, crop)
    else:
        for p in train_photos:
            crops += grid_crops(read_image(p, mode="rgb").pixels, crop, crop // 2)
        val = np.stack([read_image(p, mode="rgb").pixels[:256, :256] for p in photos if p.name in COLOUR_VALIDATION])
    return np.stack(crops).astype(np.float32), val.astype(np.float32)


def patches(crops: np.ndarray, patch: int, batch: int, seed: int) -> tf.data.Dataset:
    data = tf.constant(crops)
    n, channels = len(crops), crops.shape[-1]

    def sample(s):
        seeds = tf.random.experimental.stateless_split(tf.stack([s, tf.constant(seed, tf.int64)]), 8)
        idx = tf.random.stateless_uniform([], seeds[0], 0, n, dtype=tf.int32)
        clean = tf.image.stateless_random_crop(data[idx], [patch, patch, channels], seeds[1])
        clean = tf.image.stateless_random_flip_left_right(clean, seeds[2])
        clean = tf.image.rot90(clean, tf.random.stateless_uniform([], seeds[2], 0, 4, dtype=tf.int32))
        kind = tf.random.stateless_uniform([], seeds[3])
        sigma = tf.random.stateless_uniform([], seeds[4], 0.0, 55.0 / 255.0)
        per_channel = tf.random.stateless_uniform([1, 1, channels], seeds[4] + 1, 0.0, 55.0 / 255.0)
        gaussian = tf.where(kind < 0.2, per_channel, tf.fill([1, 1, channels], sigma)) * tf.ones_like(clean)
        a = tf.random.stateless_uniform([], seeds[5], 0.0, 0.02)
        b = tf.random.stateless_uniform([], seeds[5] + 1, 0.0, 20.0 / 255.0)
        poisson = tf.sqrt(a * clean + b * b)
        level = tf.where(kind > 0.85, poisson, gaussian)
        noisy = clean + level * tf.random.stateless_normal(tf.shape(clean), seeds[6])
        return (noisy, level), clean

    ds = tf.data.Dataset.random(seed=seed).map(sample, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def psnr(model: keras.Model, clean: np.ndarray, sigma: float, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    noisy = clean + sigma / 255.0 * rng.standard_normal(clean.shape).astype(np.float32)
    level = np.full_like(noisy, sigma / 255.0)
    out = np.clip(np.asarray(model.predict([noisy, level], batch_size=4, verbose=0)), 0, 1)
    mse = np.mean((out - clean) ** 2, axis=(1, 2, 3))
    return float(np.mean(10 * np.log10(1.0 / mse)))


def finalize(path: Path) -> None:
    trained = keras.saving.load_model(path, safe_mode=True, compile=False)
    bare = keras.models.clone_model(trained)
    bare.set_weights(trained.get_weights())
    save_model(bare, path)
    print(f"{path}: {path.stat().st_size / 1e6:.1f} MB without the optimizer state")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--channels", type=int, choices=(1, 3), default=1)
    parser.add_argument("--out", default="", help="default: the bundled model for --channels")
    parser.add_argument("--minutes", type=float, default=60.0, help="wall-time budget of this session")
    parser.add_argument("--total-steps", type=int, default=40000, help="length of the learning-rate schedule")
    parser.add_argument("--filters", default="32,64,128")
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--patch", type=int, default=64)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--steps-per-epoch", type=int, default=250)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for TensorFlow (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true", help="continue from <out>.ckpt.keras")
    parser.add_argument("--finalize", action="store_true", help="only rewrite --out without the optimizer state "
                        "(the file that ships: a third of the size)")
    args = parser.parse_args()
    if args.finalize:
        return finalize(Path(args.out or (BUNDLED_DENOISER if args.channels == 1 else RESOURCES / "denoiser_colour.keras")))
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    out = Path(args.out or (BUNDLED_DENOISER if args.channels == 1 else RESOURCES / "denoiser_colour.keras"))
    ckpt, info_path = out.with_suffix(".ckpt.keras"), out.with_suffix(".json")
    keras.utils.set_random_seed(args.seed)
    crops, val = training_crops(args.channels, max(args.patch, 176 if args.channels == 1 else 128))
    print(f"{len(crops)} training crops {crops.shape[1:]}, {len(val)} validation images", flush=True)
    info = json.loads(info_path.read_text()) if args.resume and info_path.is_file() else {}
    sessions = info.get("sessions", [])
    warmup = min(1000, args.total_steps // 20)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=args.total_steps - warmup, alpha=0.02, warmup_target=args.lr, warmup_steps=warmup)
    if args.resume:
        model = keras.saving.load_model(ckpt, safe_mode=True)
        best = info.get("best_val_psnr_sigma25", -math.inf)
        if info.get("total_steps") != args.total_steps or info.get("args", {}).get("lr") != args.lr:
            model.optimizer.learning_rate = schedule  # a longer or shorter plan: the same curve, re-spread
            print(f"schedule now {args.total_steps} steps, peak {args.lr:g}", flush=True)
    else:
        filters = tuple(int(f) for f in args.filters.split(","))
        model = build_unet_denoiser(args.channels, filters, args.blocks)
        model.compile(optimizer=keras.optimizers.Adam(schedule), loss="mse")
        best = -math.inf
    step = int(model.optimizer.iterations.numpy())
    first_epoch = step // args.steps_per_epoch
    epochs = args.total_steps // args.steps_per_epoch
    if first_epoch >= epochs:
        sys.exit(f"{ckpt} already reached the schedule's {args.total_steps} steps.")
    session = {"started_step": step, "minutes_budget": args.minutes, "batch": args.batch, "patch": args.patch,
               "threads": args.threads, "log": []}
    sessions.append(session)
    started = time.perf_counter()
    deadline = started + args.minutes * 60

    def write_info() -> None:
        info.update({"architecture": model.name, "parameters": int(model.count_params()), "channels": args.channels,
                     "best_val_psnr_sigma25": best, "total_steps": args.total_steps, "sessions": sessions,
                     "cpu_count": os.cpu_count(), "args": {k: v for k, v in vars(args).items() if k != "resume"}})
        session["minutes"] = (time.perf_counter() - started) / 60
        with atomic_path(info_path) as tmp:
            tmp.write_text(json.dumps(info, indent=1))

    class Keep(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            nonlocal best
            value = psnr(self.model, val, 25.0)
            steps = int(self.model.optimizer.iterations.numpy())
            session["log"].append({"epoch": epoch + 1, "step": steps, "loss": float(logs["loss"]),
                                   "val_psnr_sigma25": value, "minutes": (time.perf_counter() - started) / 60})
            mark = ""
            with atomic_path(ckpt) as tmp:
                self.model.save(tmp)
            if value > best:
                best = value
                save_model(self.model, out)
                mark = "  saved"
            write_info()
            print(f"epoch {epoch + 1}/{epochs} step {steps} loss {logs['loss']:.6f} val PSNR(25) {value:.2f} dB"
                  f"{mark}", flush=True)
            if time.perf_counter() > deadline:
                print("time budget spent: stopping (resume with --resume)", flush=True)
                self.model.stop_training = True

    model.fit(patches(crops, args.patch, args.batch, args.seed + step), steps_per_epoch=args.steps_per_epoch,
              initial_epoch=first_epoch, epochs=epochs, callbacks=[Keep()], verbose=0)
    write_info()
    print(f"best validation PSNR at sigma 25: {best:.2f} dB -> {out}")


if __name__ == "__main__":
    main()
