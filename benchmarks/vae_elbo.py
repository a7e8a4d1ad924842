"""VAE test negative ELBO (nats per image) on MNIST, and AAE sample quality, with the app's models.

Trains through engine.training.fit.train with a TrainConfig (the app's own models and pipeline) on
the MNIST training set (last 5,000 training images held out as validation for best-epoch
selection; the 10k test set is only used for the figures), pixels / 255, not binarised.

Negative ELBO = BCE summed over the 784 pixels + KL(q(z|x) || N(0, I)) with beta 1, averaged
over the 10,000 test images. "sampled" draws one z per image from the posterior (fixed seed):
the usual single-sample ELBO estimate, compared with the target. "mean z" decodes the
posterior mean instead (a deterministic figure, slightly lower). Both are printed for the
encoder's one-pass posterior and, with --refine-steps K (default 30), for the posterior refined
by K Adam steps on each image's own ELBO, decoder fixed (engine.latent.inference, the Sampling tab's
"refine codes"): still a valid ELBO of the same model, tighter where the encoder generalises
poorly (benchmarks/vae_gap.py measures that gap).

AAE: trained with the mixture prior and the labels (one Gaussian component per digit). Prior
samples of component k are decoded and classified by a logistic regression fitted on the MNIST
training pixels; the figure is the share classified as the intended digit.

Defaults (conv VAE, batch 64, Adam 2e-3 cosine over 15 epochs) were picked from short runs on the
2-core VM: ~40 s per epoch with another training sharing the cores, so ~10 min per latent size.
The dense VAE (784-512-latent, --kind vae) is ~5 s per epoch but plateaus higher (40 epochs:
latent 2 155.9, latent 20 102.0 nats sampled).

Usage: python benchmarks/vae_elbo.py [--latent 2,20] [--kind vae|conv_vae] [--epochs N]
       [--minutes M] [--samples N] [--batch-size B] [--lr LR] [--filters F] [--noise-factor S]
       [--aae-epochs N] [--aae-latent D] [--no-aae] [--save-dir DIR] [--refine-steps K]
       python benchmarks/vae_elbo.py --model SAVED.keras [...]   (figures for saved VAEs, no training)
Smoke test: python benchmarks/vae_elbo.py --epochs 1 --samples 5000 --aae-epochs 1
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.core.config import MODEL_LABELS, TrainConfig  # noqa: E402
from engine.data.dataset import Dataset  # noqa: E402
from engine.core.events import EpochEnded  # noqa: E402
from engine.core.jobs import JobState  # noqa: E402

DEFAULT_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"
TARGETS = {2: 140.0, 20: 95.0}  # nats per image, sampled negative ELBO on the test set
HELD_OUT = 5000


def load(path: Path, samples: int):
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    x = (arrays["x_train"].astype(np.float32) / 255.0)[..., None]
    y = arrays["y_train"].astype(np.int64)
    x_test = (arrays["x_test"].astype(np.float32) / 255.0)[..., None]
    n = min(samples, len(x) - HELD_OUT)
    data = Dataset(x_train=x[:n], x_val=x[-HELD_OUT:], y_train=y[:n], y_val=y[-HELD_OUT:],
                   source=f"MNIST ({n} train, {HELD_OUT} held out)")
    return data, x_test, arrays["y_test"].astype(np.int64)


def run_training(config: TrainConfig, data: Dataset, minutes: float):
    """engine.training.fit.train with a wall-clock budget (the stop flag, as the Stop button does)."""
    from engine.training.fit import train

    stop = threading.Event()
    timer = threading.Timer(minutes * 60, stop.set) if minutes > 0 else None
    last = {}

    def on_event(event):
        if isinstance(event, EpochEnded):
            last.update(epoch=event.epoch + 1, logs=event.logs)
            shown = ", ".join(f"{k} {v:.3f}" for k, v in sorted(event.logs.items()))
            print(f"    epoch {event.epoch + 1}/{event.total_epochs} ({event.seconds:.1f} s): {shown}", flush=True)

    started = time.perf_counter()
    if timer:
        timer.start()
    try:
        result = train(config, data, JobState(on_event, stop))
    finally:
        if timer:
            timer.cancel()
    return result, time.perf_counter() - started, last.get("epoch", 0)


def report(model, x_test: np.ndarray, target: float | None, refine_steps: int) -> tuple[float, float | None]:
    """Print the test -ELBO with the encoder's posterior and, if refine_steps, with the refined one;
    return (encoder figure, refined figure or None), one posterior draw per image (seed 0)."""
    from engine.latent import inference

    def verdict(value):
        return "" if target is None else f" (target <= {target:g}: {'met' if value <= target else 'MISSED'})"

    terms = inference.negative_elbo(model, x_test)
    sampled = float(terms.sampled.mean())
    print(f"  test -ELBO, encoder posterior, one sample: {sampled:.2f} nats{verdict(sampled)}")
    print(f"  test -ELBO, decoding the mean z: {terms.mean_z.mean():.2f} nats (reconstruction "
          f"{terms.reconstruction.mean():.2f} sampled + KL {terms.kl.mean():.2f})")
    if not refine_steps:
        return sampled, None
    started = time.perf_counter()
    posterior = inference.refine_posterior(model, x_test, steps=refine_steps)
    refined = inference.negative_elbo(model, x_test, posterior)
    value = float(refined.sampled.mean())
    print(f"  test -ELBO, posterior refined {refine_steps} steps per image (Adam {inference.DEFAULT_LR:g}, the "
          f"app's 'refine codes'), one sample: {value:.2f} nats{verdict(value)}; mean z {refined.mean_z.mean():.2f}, "
          f"KL {refined.kl.mean():.2f} ({time.perf_counter() - started:.0f} s)")
    return sampled, value


def vae_part(args, data, x_test):
    rows = []
    for latent in [int(v) for v in args.latent.split(",") if v.strip()]:
        config = TrainConfig(model_kind=args.kind, code_size=latent, epochs=args.epochs, batch_size=args.batch_size,
                             learning_rate=args.lr, lr_schedule="cosine", beta=1.0, filters=args.filters,
                             noise_factor=args.noise_factor, seed=0)
        noise = f", denoising (noise factor {args.noise_factor:g})" if args.noise_factor > 0 else ""
        print(f"\n== {MODEL_LABELS[args.kind]}, latent {latent}, filters {args.filters}{noise}: {args.epochs} epochs "
              f"max, batch {args.batch_size}, Adam {args.lr:g} cosine, budget {args.minutes:g} min", flush=True)
        result, seconds, epochs = run_training(config, data, args.minutes)
        if args.save_dir:
            from engine.models.files import save_model

            path = Path(args.save_dir) / f"{args.kind}_latent{latent}.keras"
            path.parent.mkdir(parents=True, exist_ok=True)
            save_model(result.model, path)
            print(f"  saved {path} (open it in the app: Model > Open)")
        target = TARGETS.get(latent)
        sampled, refined = report(result.model, x_test, target, args.refine_steps)
        print(f"  budget used: {epochs} epoch(s), {seconds:.0f} s, best epoch {(result.best_epoch or 0) + 1}; "
              f"{result.message}")
        rows.append((f"{args.kind} latent {latent}", sampled, refined, target, f"{epochs} epochs in {seconds:.0f} s"))
    return rows


def saved_part(args, x_test):
    """The figures for VAEs saved earlier (--save-dir, or the app's Save), without training."""
    from engine.latent import inference
    from engine.models.files import load_model

    rows = []
    for path in args.model:
        model = load_model(path)
        inference.require_vae(model)
        target = TARGETS.get(model.latent_dim)
        print(f"\n== {path}: {model.architecture}, latent {model.latent_dim} (trained earlier; no training now)",
              flush=True)
        sampled, refined = report(model, x_test, target, args.refine_steps)
        rows.append((f"{Path(path).name} latent {model.latent_dim}", sampled, refined, target, "saved model"))
    return rows


def aae_part(args, data, x_test, y_test):
    from sklearn.linear_model import LogisticRegression

    from engine.latent import codes as latent
    from engine.models.predict import predict

    config = TrainConfig(model_kind="aae", code_size=args.aae_latent, epochs=args.aae_epochs,
                         batch_size=args.aae_batch_size, learning_rate=args.aae_lr, prior="mixture", seed=0)
    print(f"\n== AAE, mixture prior, latent {args.aae_latent}, labels used: {args.aae_epochs} epochs max, "
          f"batch {args.aae_batch_size}, Adam {args.aae_lr:g} cosine, budget {args.minutes:g} min", flush=True)
    result, seconds, epochs = run_training(config, data, args.minutes)
    model = result.model

    started = time.perf_counter()
    n_fit = min(len(data.x_train), 10000)
    clf = LogisticRegression(max_iter=200)
    clf.fit(data.x_train[:n_fit].reshape(n_fit, -1), data.y_train[:n_fit])
    flat = x_test.reshape(len(x_test), -1)
    real_acc = float((clf.predict(flat) == y_test).mean())
    recon = predict(model, x_test, batch_size=500).reshape(len(x_test), -1)
    flat_p = np.clip(recon.astype(np.float64), 1e-7, 1 - 1e-7)
    recon_bce = float(np.mean(-(flat * np.log(flat_p) + (1 - flat) * np.log(1 - flat_p))))
    recon_acc = float((clf.predict(recon) == y_test).mean())
    per_class = args.aae_samples // model.n_classes
    intended = np.repeat(np.arange(model.n_classes), per_class)
    images = latent.decode(model, latent.sample_prior(model, len(intended), seed=1, classes=intended))
    predicted = clf.predict(images.reshape(len(images), -1))
    acc = float((predicted == intended).mean())
    by_class = " ".join(f"{k}:{(predicted[intended == k] == k).mean():.2f}" for k in range(model.n_classes))
    print(f"  classifier: logistic regression on {n_fit} training images ({time.perf_counter() - started:.0f} s); "
          f"accuracy on real test digits {real_acc:.3f}, on AAE reconstructions of them {recon_acc:.3f}")
    print(f"  prior samples decoded by class, classified as the intended digit: {acc:.3f} "
          f"({len(intended)} samples; per class {by_class})")
    print(f"  budget used: {epochs} epoch(s), {seconds:.0f} s; test reconstruction loss {recon_bce:.4f} "
          f"(per-pixel BCE, {recon_bce * 784:.1f} nats per image summed)")
    print("  caveats: a linear classifier is easy to satisfy with blurry class-average images and says nothing "
          "about diversity; a high score means samples land in the right class region, not that they look real.")
    return acc


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", type=Path, default=DEFAULT_MNIST)
    parser.add_argument("--latent", default="2,20", help="comma-separated latent sizes")
    parser.add_argument("--kind", choices=("vae", "conv_vae"), default="conv_vae")
    parser.add_argument("--epochs", type=int, default=15, help="epochs per latent size (the cosine schedule's length)")
    parser.add_argument("--minutes", type=float, default=15.0,
                        help="wall-clock cap per training (stops early, keeping the best epoch); 0 = none")
    parser.add_argument("--samples", type=int, default=55000, help="training images (at most 55,000)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--filters", type=int, default=32, help="the conv VAE's first convolution width")
    parser.add_argument("--noise-factor", type=float, default=0.0,
                        help="train as a denoising VAE: Gaussian noise of this std on the encoder's inputs, "
                             "the clean image as target (regularises the encoder); the test figure is on clean images")
    parser.add_argument("--aae-epochs", type=int, default=15)
    parser.add_argument("--aae-latent", type=int, default=8)
    parser.add_argument("--aae-batch-size", type=int, default=128)
    parser.add_argument("--aae-lr", type=float, default=1e-3)
    parser.add_argument("--aae-samples", type=int, default=2000)
    parser.add_argument("--no-aae", action="store_true")
    parser.add_argument("--save-dir", help="save each trained VAE here as <kind>_latent<N>.keras")
    parser.add_argument("--refine-steps", type=int, default=30,
                        help="also report the -ELBO with each test image's posterior refined this many Adam steps "
                             "(engine.latent.inference; the Sampling tab's 'refine codes'); 0 = encoder only")
    parser.add_argument("--model", nargs="+", type=Path,
                        help="evaluate these saved VAEs (.keras) instead of training (implies --no-aae)")
    args = parser.parse_args(argv)

    data, x_test, y_test = load(args.mnist, args.samples)
    import keras
    import tensorflow as tf

    print(f"VAE negative ELBO on the MNIST test set (10,000 images): {data.summary()}; "
          f"TF {tf.__version__}, Keras {keras.__version__}", flush=True)
    rows = saved_part(args, x_test) if args.model else vae_part(args, data, x_test)
    acc = None if args.no_aae or args.model else aae_part(args, data, x_test, y_test)

    print("\n== Summary (test -ELBO, nats per image, one posterior sample)")
    for name, sampled, refined, target, budget in rows:
        aim = f"target <= {target:g}" if target else "no target"
        tight = "" if refined is None else f", {refined:.2f} with {args.refine_steps}-step posterior refinement"
        print(f"  {name}: {sampled:.2f} with the encoder's posterior{tight}; {aim}; {budget}")
    if acc is not None:
        print(f"  AAE mixture latent {args.aae_latent}: {acc:.3f} of class-conditional prior samples classified as "
              f"intended")


if __name__ == "__main__":
    main()
