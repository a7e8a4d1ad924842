"""Train the bundled blind Gaussian denoiser on the 400 BSD training crops.

Random 40x40 patches with flips and 90-degree rotations, noise sigma uniform in
[0, 55] on a 0-255 scale (blind over 0-50), MSE, Adam with cosine decay. Validation
PSNR at sigma 25 on held-out crops; the best weights are written atomically to
resources/denoiser_dncnn.keras whenever they improve. Stops after --minutes.

Usage: python tools/train_denoiser.py [--minutes 60] [--data ../shared/data/train400]
       [--resume resources/denoiser_dncnn.keras]
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from engine.denoise.pipeline import BUNDLED_DENOISER  # noqa: E402
from engine.models.denoiser import build_dncnn  # noqa: E402
from engine.data.images import read_image  # noqa: E402
from engine.core.fileio import atomic_path  # noqa: E402
from engine.models.files import save_model  # noqa: E402


def load_crops(folder: Path) -> np.ndarray:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".png")
    if not files:
        sys.exit(f"No PNG files in {folder}")
    return np.stack([read_image(p, mode="grey").pixels for p in files]).astype(np.float32)


def patches(images: np.ndarray, patch: int, batch: int, seed: int, max_sigma: float) -> tf.data.Dataset:
    data = tf.constant(images)
    n = len(images)

    def sample(s):
        seeds = tf.random.experimental.stateless_split(tf.stack([s, tf.constant(seed, tf.int64)]), 4)
        idx = tf.random.stateless_uniform([], seeds[0], 0, n, dtype=tf.int32)
        crop = tf.image.stateless_random_crop(data[idx], [patch, patch, 1], seeds[1])
        crop = tf.image.stateless_random_flip_left_right(crop, seeds[2])
        crop = tf.image.rot90(crop, tf.random.stateless_uniform([], seeds[2], 0, 4, dtype=tf.int32))
        sigma = tf.random.stateless_uniform([], seeds[3], 0.0, max_sigma / 255.0)
        noisy = crop + sigma * tf.random.stateless_normal(tf.shape(crop), seeds[3] + 1)
        return noisy, crop

    ds = tf.data.Dataset.random(seed=seed).map(sample, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def psnr(model: keras.Model, clean: np.ndarray, sigma: float, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    noisy = clean + sigma / 255.0 * rng.standard_normal(clean.shape).astype(np.float32)
    out = np.clip(np.asarray(model.predict(noisy, batch_size=4, verbose=0)), 0, 1)
    mse = np.mean((out - clean) ** 2, axis=(1, 2, 3))
    return float(np.mean(10 * np.log10(1.0 / mse)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "train400"))
    parser.add_argument("--out", default=str(BUNDLED_DENOISER))
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--depth", type=int, default=12)
    parser.add_argument("--filters", type=int, default=48)
    parser.add_argument("--patch", type=int, default=40)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--steps-per-epoch", type=int, default=200)
    parser.add_argument("--validation", type=int, default=16, help="crops held out for validation")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", default="")
    args = parser.parse_args()

    keras.utils.set_random_seed(args.seed)
    crops = load_crops(Path(args.data))
    train, val = crops[args.validation:], crops[:args.validation]
    print(f"{len(train)} training crops, {len(val)} validation crops of {crops.shape[1:]}", flush=True)
    model = keras.saving.load_model(args.resume, safe_mode=True) if args.resume else build_dncnn(args.depth, args.filters)
    # A resumed run only replaces the weights it started from when it beats them.
    best = {"psnr": psnr(model, val, 25.0) if args.resume else -math.inf}
    if args.resume:
        print(f"resumed from {args.resume}: val PSNR(25) {best['psnr']:.2f} dB", flush=True)
    # Estimate the number of epochs that fit in the time budget from a short timed run on a
    # throw-away copy (a fresh optimiser's first steps would disturb trained weights).
    probe_model = keras.models.clone_model(model)
    probe_model.compile(optimizer=keras.optimizers.Adam(args.lr), loss="mse")
    started = time.perf_counter()
    probe_model.fit(patches(train, args.patch, args.batch, args.seed + 99, 55.0), steps_per_epoch=20, epochs=1,
                    verbose=0)
    per_step = (time.perf_counter() - started) / 20
    del probe_model
    epochs = max(1, int(args.minutes * 60 / (per_step * args.steps_per_epoch * 1.08)))
    print(f"{per_step * 1000:.0f} ms per step: {epochs} epochs of {args.steps_per_epoch} steps in "
          f"{args.minutes:g} min", flush=True)
    total = epochs * args.steps_per_epoch
    # A resumed run warms the learning rate up, so that Adam's first steps stay small.
    warmup = min(500, total // 10) if args.resume else 0
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0 if warmup else args.lr, decay_steps=total - warmup, alpha=0.01,
        warmup_target=args.lr if warmup else None, warmup_steps=warmup)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="mse")
    log = []
    deadline = time.perf_counter() + args.minutes * 60

    def write_info() -> None:
        info = {"architecture": model.name, "parameters": int(model.count_params()),
                "best_val_psnr_sigma25": best["psnr"], "minutes": (time.perf_counter() - started) / 60,
                "args": vars(args), "log": log}
        with atomic_path(Path(args.out).with_suffix(".json")) as tmp:
            tmp.write_text(json.dumps(info, indent=1))

    class Keep(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            value = psnr(self.model, val, 25.0)
            log.append({"epoch": epoch + 1, "loss": float(logs["loss"]), "val_psnr_sigma25": value,
                        "minutes": (time.perf_counter() - started) / 60})
            mark = ""
            if value > best["psnr"]:
                best["psnr"] = value
                save_model(self.model, args.out)
                mark = "  saved"
            write_info()  # after every epoch, so a run stopped early still documents its weights
            print(f"epoch {epoch + 1}/{epochs} loss {logs['loss']:.6f} val PSNR(25) {value:.2f} dB{mark}", flush=True)
            if time.perf_counter() > deadline:
                print("time budget spent: stopping", flush=True)
                self.model.stop_training = True

    started = time.perf_counter()
    model.fit(patches(train, args.patch, args.batch, args.seed, 55.0), steps_per_epoch=args.steps_per_epoch,
              epochs=epochs, callbacks=[Keep()], verbose=0)
    write_info()
    print(f"best validation PSNR at sigma 25: {best['psnr']:.2f} dB -> {args.out}")


if __name__ == "__main__":
    main()
