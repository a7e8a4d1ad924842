"""Denoising one photograph with several methods side by side: noise added on purpose (optional), every
method run through overlapping tiles, and PSNR/SSIM against the clean original when there is one.

Nothing heavy at import time: Keras/TensorFlow and scikit-image's restoration module are imported by the
functions that need them, so the GUI can import this module while it starts.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from engine.core.config import CLASSICAL_DENOISERS
from engine.core.errors import ConfigError, ModelError
from engine.core.jobs import JobState
from engine.core.resources import bundled_denoiser_path
from engine.data.noise import NoiseConfig, add_noise
from engine.denoise.classical import (CLASSICAL_METHODS, classical_tiled, estimate_noise_sigma, method_label,
                                      tile_count)
from engine.denoise.metrics import MetricRow, compare
from engine.denoise.noise_level import NoiseLevel, default_noise_level, residual_noise
from engine.denoise.tiling import as_hwc, count_tiles, denoise_tiled
from engine.models.guards import channel_plan, fixed_size, model_channels, size_multiple, takes_noise_level

MODEL_METHOD = "model"  # method id of the one Keras model given to denoise()
BUNDLED = "bundled"  # method id of the bundled model (one grey U-Net; colour through a decorrelated space)
OLD_METHOD_IDS = {"DnCNN (bundled)": BUNDLED}  # ids saved by earlier versions
METHOD_LABELS = {**CLASSICAL_DENOISERS, MODEL_METHOD: "Denoiser model", BUNDLED: "Bundled U-Net"}


def load_bundled_denoiser(channels: int = 1):
    """The bundled noise-level-aware denoiser for `channels`-channel images, opened in safe mode."""
    from engine.models.files import load_model

    path = bundled_denoiser_path(channels)
    if not path.is_file():
        raise ModelError(f"The bundled denoiser {path.name} is missing from {path.parent}. Reinstall Autoencoder "
                         "Studio, or recreate it with `python tools/train_denoiser.py`.")
    return load_model(path)


@dataclass
class DenoiseResult:
    reference: np.ndarray | None  # the clean input when noise was added, else None
    noisy: np.ndarray  # what every method saw
    outputs: dict[str, np.ndarray]  # method id -> denoised image, float32 in [0, 1]
    labels: dict[str, str]  # method id -> display name
    seconds: dict[str, float]  # method id -> wall time
    metrics: list[MetricRow] = field(default_factory=list)  # "noisy" first, then methods; empty without reference
    noise: NoiseConfig = field(default_factory=lambda: NoiseConfig("none"))
    sigma: float = 0.0  # noise sigma (0-1 scale) given to the classical methods
    noise_level: NoiseLevel | None = None  # what noise-level-aware models were told
    noise_left: dict[str, float] = field(default_factory=dict)  # without reference: "noisy" and each method ->
    # the noise estimated in it (sigma on 0-255, engine.denoise.noise_level.residual_noise); lower is smoother,
    # not necessarily better (an over-smoothed result has none left), so best_by does not rank it

    def megapixels_per_second(self, method: str) -> float:
        seconds = self.seconds.get(method, 0.0)
        return self.noisy.shape[0] * self.noisy.shape[1] / 1e6 / seconds if seconds > 0 else math.inf

    def best_by(self) -> dict[str, str]:
        """The best method of each measure: {"psnr": .., "ssim": .. (highest, when measured), "seconds":
        .. (quickest)}; the noisy input is not a method. Ties go to the method run first. The noise left
        (no reference) is not ranked: the least is the smoothest, which may have lost detail."""
        methods = list(self.outputs)
        scored = {r.method: r for r in self.metrics if r.method in self.outputs}
        best: dict[str, str] = {}
        for name in ("psnr", "ssim"):
            values = {m: getattr(scored[m], name) for m in methods if m in scored
                      and not math.isnan(getattr(scored[m], name))}
            if values:
                best[name] = max(values, key=lambda m: values[m])
        timed = {m: self.seconds[m] for m in methods if m in self.seconds}
        if timed:
            best["seconds"] = min(timed, key=lambda m: timed[m])
        return best

    def verdict(self) -> str:
        """One line: the best method for this image by PSNR, by how much, and what it cost beside the rest."""
        best = self.best_by()
        if "psnr" not in best:
            return ""
        scored = {r.method: r for r in self.metrics if r.method in self.outputs}
        winner = best["psnr"]
        line = f"Best for this image: {self.labels[winner]}, {scored[winner].psnr:.2f} dB"
        others = sorted((m for m in scored if m != winner), key=lambda m: -scored[m].psnr)
        if others:
            line += f", {scored[winner].psnr - scored[others[0]].psnr:.2f} dB above {self.labels[others[0]]}"
        seconds = self.seconds.get(winner)
        if seconds is not None:
            line += f", in {seconds:.2f} s"
            quickest = best.get("seconds")
            if quickest is not None and quickest != winner and self.seconds[quickest] > 0:
                line += f" ({seconds / self.seconds[quickest]:.0f}x the time of {self.labels[quickest]})"
        return line + "."


def method_labels(pixels: np.ndarray, methods: Sequence[str], models: Mapping[str, Any],
                  model_name: str = "") -> dict[str, str]:
    """method id -> label for the methods asked for; ConfigError for unknown ones, ModelError for a model
    that cannot take the image (checked before any work)."""
    labels: dict[str, str] = {}
    for method in methods:
        if method in CLASSICAL_METHODS:
            labels[method] = method_label(method, as_hwc(pixels).shape[-1])  # CBM3D on colour
        elif method in models:
            labels[method] = ((model_name or METHOD_LABELS[MODEL_METHOD]) if method == MODEL_METHOD
                              else METHOD_LABELS.get(method, method))
            channel_plan(models[method], as_hwc(pixels).shape[-1])
        elif method == MODEL_METHOD:
            raise ConfigError("No denoising model is loaded: open one or choose another method.")
        else:
            raise ConfigError(f"Unknown denoising method {method!r}; choose from "
                              f"{', '.join(list(CLASSICAL_METHODS) + list(models))}.")
    if not labels:
        raise ConfigError("Choose at least one denoising method.")
    return labels


def denoise(pixels: np.ndarray, noise: NoiseConfig, methods: Sequence[str], model=None, model_name: str = "",
            *, noise_level: NoiseLevel | None = None, strength: float = 1.0, state: JobState | None = None,
            tile: int = 512, overlap: int = 32) -> DenoiseResult:
    """Add noise (optional), run each method, score against the clean input when noise was added.

    methods: ids from CLASSICAL_METHODS and/or MODEL_METHOD ("model", which runs `model`, shown as
    `model_name`). `model` may also be a mapping {name: model}: each of its names listed in `methods`
    runs that model. noise_level: what noise-level-aware models are told (default: the Gaussian sigma added
    on purpose, else an estimate from the noisy image, times `strength`). Without a clean reference, the noise
    left in each output is estimated instead of scored. Raises before any work for unknown methods or a model
    that cannot take the image; Stopped (engine.core.jobs) when asked to stop.
    """
    state = state or JobState()
    pixels = np.asarray(pixels, dtype=np.float32)
    models: dict[str, Any] = dict(model) if isinstance(model, Mapping) else (
        {MODEL_METHOD: model} if model is not None else {})
    labels = method_labels(pixels, methods, models, model_name)
    counts = _tile_counts(as_hwc(pixels).shape, labels, models, tile, overlap)
    total = sum(counts.values())
    state.progress(0, total, f"Adding noise ({noise.describe()})…" if noise.adds_noise else "Starting…")
    noisy = add_noise(pixels, noise) if noise.adds_noise else pixels
    state.check("Stopped before denoising started.")
    sigma = noise.sigma / 255.0 if noise.kind == "gaussian" and noise.adds_noise else estimate_noise_sigma(noisy)
    if noise_level is None and models:
        noise_level = default_noise_level(noisy, noise, strength)
    outputs: dict[str, np.ndarray] = {}
    seconds: dict[str, float] = {}
    done = 0
    for method, label in labels.items():
        part = state.part(done, total, label)
        state.progress(done, total, f"{label}…")
        started = time.perf_counter()
        if method in models:
            outputs[method] = denoise_tiled(models[method], noisy, noise_level=noise_level, tile=tile,
                                            overlap=overlap, state=part)
        else:
            outputs[method] = classical_tiled(method, noisy, sigma, state=part)
        seconds[method] = time.perf_counter() - started
        done += counts[method]
    metrics: list[MetricRow] = []
    noise_left: dict[str, float] = {}
    if noise.adds_noise:
        state.progress(total, total, "Scoring…")
        metrics = compare(pixels, {"noisy": noisy, **outputs})
    else:
        state.progress(total, total, "Estimating the noise left…")
        noise_left = {method: residual_noise(image) for method, image in {"noisy": noisy, **outputs}.items()}
    state.progress(total, total, "Done")
    return DenoiseResult(pixels if noise.adds_noise else None, noisy, outputs, {"noisy": "Noisy", **labels},
                         seconds, metrics, noise, sigma, noise_level, noise_left)


def _tile_counts(shape, labels: Mapping[str, str], models: Mapping[str, Any], tile: int,
                 overlap: int) -> dict[str, int]:
    """How many tiles each method runs (the progress total)."""
    counts = {}
    for method in labels:
        if method in models:
            m = models[method]
            counts[method] = count_tiles(shape, tile=tile, overlap=overlap, fixed=fixed_size(m),
                                         multiple=size_multiple(m), passes=_passes(m, shape[-1]))
        else:
            counts[method] = tile_count(shape)
    return counts


def _passes(model, channels: int) -> int:
    """How many times the tiles are run: once per channel for a grey model on a colour image, except a
    noise-aware one, which takes the three decorrelated channels in one pass (tiling.denoise_tiled)."""
    return channels if model_channels(model) == 1 and not takes_noise_level(model) else 1
