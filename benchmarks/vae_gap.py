"""How much of a VAE's test -ELBO is the encoder's fault: the inference (amortisation) gap.

For a trained VAE (.keras, loaded with safe_mode), on N test and N training images:
- amortised -ELBO: the encoder's posterior q(z|x), K posterior samples per image;
- optimised -ELBO: a Gaussian posterior per image (mean and log-variance) fitted by Adam to that
  image's ELBO with the decoder fixed, starting from the encoder's output (K samples per step):
  engine.latent.inference.refine_posterior, what the Sampling tab's "refine codes" does with fewer steps.
The difference is what any better encoder with the same diagonal Gaussian posterior could gain
at most; what is left is the decoder's and the prior's. Pixels / 255, BCE summed over pixels +
KL to N(0, I), as in benchmarks/vae_elbo.py.

Usage: python benchmarks/vae_gap.py MODEL.keras [--images 500] [--steps 200] [--samples 4]
Make a model with: python benchmarks/vae_elbo.py --latent 2 --no-aae --save-dir DIR
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"


def gap(model, x: np.ndarray, steps: int, samples: int, lr: float) -> tuple[float, float]:
    """(amortised -ELBO, optimised -ELBO), nats per image: the encoder's posterior, then the same
    refined by engine.latent.inference.refine_posterior (`samples` draws per step), each evaluated with
    4 independent posterior draws per image."""
    from engine.latent import inference

    refined = inference.refine_posterior(model, x, steps=steps, learning_rate=lr, samples=samples)
    guess = inference.encode(model, x)

    def averaged(posterior):
        return float(np.mean([inference.negative_elbo(model, x, posterior, seed=s).sampled.mean() for s in range(4)]))

    return averaged(guess), averaged(refined)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--mnist", type=Path, default=DEFAULT_MNIST)
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--lr", type=float, default=0.02)
    args = parser.parse_args(argv)

    from engine.models.generative import VAE
    from engine.models.files import load_model

    model = load_model(args.model)
    if not isinstance(model, VAE):
        raise SystemExit(f"{args.model} is not a VAE.")
    with np.load(args.mnist, allow_pickle=False) as f:
        x_test = f["x_test"][:args.images].astype(np.float32)[..., None] / 255.0
        x_train = f["x_train"][:args.images].astype(np.float32)[..., None] / 255.0
    print(f"{args.model.name}: latent {model.latent_dim}; {args.images} images each, {args.steps} Adam steps "
          f"(lr {args.lr:g}) per image posterior, {args.samples} samples per estimate", flush=True)
    for name, x in (("test", x_test), ("training", x_train)):
        started = time.perf_counter()
        amortised, optimised = gap(model, x, args.steps, args.samples, args.lr)
        print(f"  {name:8s} images: amortised -ELBO {amortised:.2f}, optimised posterior {optimised:.2f}, "
              f"inference gap {amortised - optimised:.2f} nats ({time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
