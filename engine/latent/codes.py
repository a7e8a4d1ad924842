"""A generative model's latent space: encode, decode, sample the prior, lay codes on a 2-D plane, walk
between two codes.

Qt-free. Every function takes a trained VAE or AAE (engine.models.generative) and checks its input,
raising ConfigError (a ValueError) with a clear message. TensorFlow is only imported when a
model is used, so importing this module is cheap.

Orientation convention (manifold and Plane): x grows to the right and y grows upwards, as on
a plot with the origin at the bottom left. Images in a grid are listed row by row starting at
the TOP row (highest y), each row from left (lowest x) to right.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.core.errors import ConfigError
from engine.core.jobs import JobState
from engine.models.guards import checked_codes, checked_images, require_generative, require_vae
from engine.models.predict import in_batches

MANIFOLD_QUANTILES = (0.05, 0.95)
PLANE_MARGIN = 0.1  # bounds extend this share of the range beyond the points


def latent_dim(model) -> int:
    require_generative(model)
    return int(model.latent_dim)


def describe(model) -> str:
    """One line, e.g. "VAE, latent 2, beta 1" or "AAE, latent 8, mixture prior (10 classes)"."""
    require_generative(model)
    if model.kind == "vae":
        name = "Convolutional VAE" if getattr(model, "architecture", "vae") == "conv_vae" else "VAE"
        return f"{name}, latent {model.latent_dim}, beta {model.beta:g}"
    prior = f"mixture prior ({model.n_classes} classes)" if model.prior == "mixture" else "Gaussian prior"
    return f"AAE, latent {model.latent_dim}, {prior}"


def encode_means(model, x, batch_size: int = 256, refine_steps: int = 0) -> np.ndarray:
    """(n, latent) codes: the posterior mean z_mean for a VAE, the (deterministic) code for an AAE.
    refine_steps > 0 (VAE only): the mean after that many steps of per-image posterior refinement
    (engine.latent.inference.refine_posterior), a tighter ELBO than the encoder's one-pass guess."""
    require_generative(model)
    if model.kind == "vae" or refine_steps:  # a VAE's posterior is engine.latent.inference's (it refuses an AAE to refine)
        from engine.latent import inference

        return inference.refine_posterior(model, x, steps=refine_steps, batch_size=batch_size).mean
    x = checked_images(model, x)
    codes = in_batches(lambda batch: model.encoder(batch, training=False), x, batch_size)
    return codes if len(x) else np.empty((0, model.latent_dim), np.float32)


def decode(model, z, batch_size: int = 256) -> np.ndarray:
    """(n, h, w, c) float32 images in [0, 1] decoded from latent points z of shape (n, latent)."""
    require_generative(model)
    z = checked_codes(model, z)
    out = in_batches(lambda batch: model.decoder(batch, training=False), z, batch_size)
    if not len(z):
        out = np.empty((0,) + tuple(model.output_shape[1:]), np.float32)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def sample_prior(model, n: int, seed: int = 0, classes=None) -> np.ndarray:
    """(n, latent) draws from the model's prior: N(0, I) for a VAE and a Gaussian AAE, the mixture
    for a mixture AAE (component per sample from `classes` - an int or n ints - else at random)."""
    require_generative(model)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ConfigError(f"The number of samples must be a whole number >= 0, got {n!r}.")
    rng = np.random.default_rng(seed)
    d = int(model.latent_dim)
    eps = rng.standard_normal((n, d)).astype(np.float32)
    if model.kind == "vae" or model.prior == "gaussian":
        if classes is not None:
            raise ConfigError("Sampling by class needs an AAE with the mixture prior.")
        return eps
    k = int(model.n_classes)
    if classes is None:
        comp = rng.integers(0, k, n)
    else:
        comp = np.broadcast_to(np.asarray(classes, dtype=np.int64), (n,))
        if comp.size and (comp.min() < 0 or comp.max() >= k):
            raise ConfigError(f"Classes must be 0 to {k - 1} for this model's {k}-component prior.")
    return (model.prior_means()[comp] + model.prior_std * eps).astype(np.float32)


def manifold(model, n: int = 15, span=None):
    """Decode an n x n grid over a 2-D latent space -> (images (n*n, h, w, c), grid_x, grid_y).

    grid_x rises left to right, grid_y FALLS top to bottom; images[r * n + c] decodes
    (grid_x[c], grid_y[r]), so row 0 is the top (highest y) of a plane with y up.
    Default span: a VAE (and Gaussian AAE) uses Gaussian quantiles 5 % to 95 % (keras-io style);
    a mixture AAE spans its component means +- 2 std. `span` may be a half-width s (-s..s on both
    axes), (low, high) for both axes, or (x0, x1, y0, y1)."""
    require_generative(model)
    if model.latent_dim != 2:
        raise ConfigError(f"The manifold grid needs a 2-D latent space; this model's latent size is "
                          f"{model.latent_dim}. Use the latent plane (PCA) instead, or train with latent size 2.")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 2 <= n <= 100:
        raise ConfigError(f"The grid needs 2 to 100 points per side, got {n!r}.")
    if span is None:
        if model.kind == "aae" and model.prior == "mixture":
            reach = float(np.abs(model.prior_means()).max() + 2 * model.prior_std)
            xs = ys = np.linspace(-reach, reach, n)
        else:
            xs = ys = _normal_ppf(np.linspace(*MANIFOLD_QUANTILES, n))
    else:
        values = np.atleast_1d(np.asarray(span, dtype=np.float64))
        if values.size == 1:
            values = np.array([-abs(values[0]), abs(values[0])])
        if values.size == 2:
            values = np.concatenate([values, values])
        if values.size != 4 or not np.isfinite(values).all() or values[0] >= values[1] or values[2] >= values[3]:
            raise ConfigError(f"span must be s, (low, high) or (x0, x1, y0, y1) with low < high; got {span!r}.")
        xs, ys = np.linspace(values[0], values[1], n), np.linspace(values[2], values[3], n)
    grid_x = np.asarray(xs, np.float32)
    grid_y = np.asarray(ys, np.float32)[::-1].copy()  # top row first
    z = np.stack(np.meshgrid(grid_x, grid_y, indexing="xy"), axis=-1).reshape(-1, 2)
    return decode(model, z), grid_x, grid_y


def _normal_ppf(p: np.ndarray) -> np.ndarray:
    try:
        from scipy.stats import norm

        return norm.ppf(p)
    except ImportError:  # pragma: no cover - scipy comes with scikit-image
        from statistics import NormalDist

        return np.array([NormalDist().inv_cdf(float(v)) for v in p])


@dataclass
class Plane:
    """A 2-D view of the latent space: identity for latent 2, else a PCA of the encoded means."""

    method: str
    latent_dim: int
    bounds: tuple[float, float, float, float]  # x0, x1, y0, y1, with margins
    pca: Any = None

    def to_plane(self, z) -> np.ndarray:
        z = np.asarray(z, dtype=np.float64)
        z = z[None] if z.ndim == 1 else z
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ConfigError(f"Latent points must have shape (n, {self.latent_dim}); got {z.shape}.")
        if self.pca is not None:
            return self.pca.transform(z).astype(np.float32)
        if self.latent_dim == 1:
            return np.concatenate([z, np.zeros_like(z)], axis=1).astype(np.float32)
        return z.astype(np.float32)

    def from_plane(self, points) -> np.ndarray:
        """Latent points for plane points (n, 2); for PCA the inverse transform (the mean plus the
        first two components), so from_plane(to_plane(z)) == z only for z in that plane."""
        p = np.asarray(points, dtype=np.float64)
        p = p[None] if p.ndim == 1 else p
        if p.ndim != 2 or p.shape[1] != 2 or not np.isfinite(p).all():
            raise ConfigError(f"Plane points must be finite with shape (n, 2); got {p.shape}.")
        if self.pca is not None:
            return self.pca.inverse_transform(p).astype(np.float32)
        return (p[:, :1] if self.latent_dim == 1 else p).astype(np.float32)


def project_2d(means) -> Plane:
    """The Plane for a set of encoded means (n, latent)."""
    means = np.asarray(means, dtype=np.float64)
    if means.ndim != 2 or len(means) == 0 or means.shape[1] < 1:
        raise ConfigError(f"Latent means must have shape (n, latent) with n >= 1; got {means.shape}.")
    if not np.isfinite(means).all():
        raise ConfigError("The latent means hold NaN or infinite values.")
    d = means.shape[1]
    pca = None
    if d == 1:
        method = "latent dimension 1 (the vertical axis is unused)"
    elif d == 2:
        method = "latent dimensions 1 and 2"
    else:
        if len(means) < 2:
            raise ConfigError("A PCA of the latent means needs at least 2 samples.")
        from sklearn.decomposition import PCA

        pca = PCA(n_components=2).fit(means)
        method = f"PCA of the {d}-D latent means"
    plane = Plane(method, d, (-1.0, 1.0, -1.0, 1.0), pca)
    points = plane.to_plane(means)
    lo, hi = points.min(axis=0).astype(float), points.max(axis=0).astype(float)
    pad = np.maximum((hi - lo) * PLANE_MARGIN, 0.5 * PLANE_MARGIN)
    plane.bounds = (lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1])
    return plane


def latent_path(z_a, z_b, steps: int = 10, mode: str = "linear") -> np.ndarray:
    """(steps, latent) points from z_a to z_b (both included). "slerp" follows the great circle
    (angle and length interpolated); for parallel, opposite or zero vectors it falls back to linear."""
    a, b = np.asarray(z_a, np.float64).reshape(-1), np.asarray(z_b, np.float64).reshape(-1)
    if a.shape != b.shape:
        raise ConfigError(f"Both ends need the same latent size; got {a.size} and {b.size}.")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ConfigError("Interpolation ends hold NaN or infinite values.")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 2 <= steps <= 1000:
        raise ConfigError(f"Interpolation needs 2 to 1000 steps, got {steps!r}.")
    if mode not in ("linear", "slerp"):
        raise ConfigError(f"Unknown interpolation {mode!r}; use 'linear' or 'slerp'.")
    t = np.linspace(0.0, 1.0, steps)[:, None]
    path = (1 - t) * a + t * b
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if mode == "slerp" and na > 1e-12 and nb > 1e-12:
        omega = np.arccos(np.clip(np.dot(a / na, b / nb), -1.0, 1.0))
        if np.sin(omega) > 1e-6:
            path = (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)
    path[0], path[-1] = a, b
    return path.astype(np.float32)


def interpolate(model, z_a, z_b, steps: int = 10, mode: str = "linear") -> np.ndarray:
    """(steps, h, w, c) images decoded along latent_path(z_a, z_b, steps, mode)."""
    require_generative(model)
    return decode(model, latent_path(checked_codes(model, z_a)[0], checked_codes(model, z_b)[0], steps, mode))


@dataclass
class LatentView:
    means: np.ndarray  # (n, latent) encoded validation samples
    labels: np.ndarray | None
    plane: Plane
    points: np.ndarray  # (n, 2) means on the plane
    refine_steps: int = 0  # posterior refinement steps per sample (VAE), 0 = the encoder's guess
    negative_elbo: float | None = None  # VAE: mean -ELBO of the samples under the posterior used, nats


def encode_view(model, dataset, state: JobState | None = None, limit: int = 10000,
                refine_steps: int = 0) -> LatentView:
    """Encode up to `limit` validation samples and lay them on a Plane; for a VAE also their mean -ELBO
    (refine_steps > 0: after posterior refinement, VAE only). A stop request ends encoding early; the
    view then covers the samples done so far."""
    from engine.latent import inference

    state = state or JobState()
    require_generative(model)
    if refine_steps:
        require_vae(model)
    x = np.asarray(dataset.x_val[:limit], dtype=np.float32)
    if len(x) == 0:
        raise ConfigError("The data has no validation samples to encode.")
    checked_images(model, x[:1])
    what = (f"Refining the codes ({refine_steps} steps per sample)…" if refine_steps
            else "Encoding the validation samples…")
    parts, elbos = [], []
    batch = 256 if refine_steps else 1024  # refining is slow: finer progress, quicker stops
    for i in range(0, len(x), batch):
        if state.should_stop() and parts:
            break
        xb = x[i:i + batch]
        if model.kind == "vae":
            posterior = inference.refine_posterior(model, xb, steps=refine_steps)
            parts.append(posterior.mean)
            elbos.append(inference.negative_elbo(model, xb, posterior).sampled)
        else:
            parts.append(encode_means(model, xb))
        state.progress(min(i + batch, len(x)), len(x), what)
    means = np.concatenate(parts)
    y = getattr(dataset, "y_val", None)
    labels = None if y is None else np.asarray(y[:len(means)])
    plane = project_2d(means)
    elbo = float(np.concatenate(elbos).mean()) if elbos else None
    return LatentView(means, labels, plane, plane.to_plane(means), refine_steps, elbo)
