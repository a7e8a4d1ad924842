"""What the app does to raw input before its model (pixels / 255, or a table's standardisation), as a
value that can be applied in NumPy, written as a snippet, or built into an exported graph."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from engine.core.errors import ExportError
from engine.models.guards import shape_text


PRE_KINDS = ("none", "rescale", "standardize")


_SNIPPET_INLINE = 32  # longer mean/std vectors are read from the metadata in the snippet


@dataclass(frozen=True)
class Preprocessing:
    """What the app does to raw input before the model.

    kind "none"; "rescale" (images: x = raw * scale, e.g. scale 1/255); "standardize"
    (tables / series: x = (raw - mean) / std per feature, the last axis).
    """

    kind: str
    scale: float = 1.0
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in PRE_KINDS:
            raise ExportError(f"Unknown preprocessing {self.kind!r}; use one of {', '.join(PRE_KINDS)}.")
        object.__setattr__(self, "scale", float(self.scale))
        object.__setattr__(self, "mean", tuple(float(v) for v in np.ravel(np.asarray(self.mean, np.float64))))
        object.__setattr__(self, "std", tuple(float(v) for v in np.ravel(np.asarray(self.std, np.float64))))
        if self.kind == "rescale" and (not math.isfinite(self.scale) or self.scale == 0):
            raise ExportError(f"The rescale factor must be a finite, non-zero number; got {self.scale}.")
        if self.kind == "standardize":
            if not self.mean or len(self.mean) != len(self.std):
                raise ExportError(f"Standardisation needs one mean and one std per feature; got {len(self.mean)} "
                                  f"means and {len(self.std)} stds.")
            if not all(math.isfinite(v) for v in self.mean) or not all(math.isfinite(s) and s > 0 for s in self.std):
                raise ExportError("Standardisation needs finite means and positive, finite stds.")

    @classmethod
    def rescale(cls, scale: float = 1 / 255) -> "Preprocessing":
        return cls("rescale", scale=scale)

    @classmethod
    def from_scaler(cls, scaler) -> "Preprocessing":
        """From an engine.anomaly.data.Scaler (or anything with `.mean` and `.scale` arrays)."""
        return cls("standardize", mean=tuple(np.ravel(scaler.mean)), std=tuple(np.ravel(scaler.scale)))

    @property
    def active(self) -> bool:
        return self.kind != "none"

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """What the app feeds the model for `raw` input (float32), computed like the app does."""
        if self.kind == "rescale":
            return (np.asarray(raw, np.float32) * np.float32(self.scale)).astype(np.float32)
        if self.kind == "standardize":
            mean, std = np.asarray(self.mean, np.float64), np.asarray(self.std, np.float64)
            return ((np.asarray(raw, np.float64) - mean) / std).astype(np.float32)
        return np.asarray(raw, np.float32)

    def snippet(self) -> str:
        """A short NumPy snippet that applies it exactly to an array `raw`, giving the model input `x`."""
        if self.kind == "rescale":
            return f"x = np.asarray(raw, np.float32) * np.float32({self.scale!r})"
        if self.kind == "standardize":
            if len(self.mean) <= _SNIPPET_INLINE:
                values = f"mean = np.array({list(self.mean)!r})\nstd = np.array({list(self.std)!r})\n"
            else:
                values = ('pre = json.load(open(METADATA_JSON))["preprocessing"]\n'
                          'mean, std = np.array(pre["mean"]), np.array(pre["std"])\n')
            return values + "x = ((np.asarray(raw, np.float64) - mean) / std).astype(np.float32)  # per feature"
        return "x = np.asarray(raw, np.float32)  # no preprocessing"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "scale": self.scale, "mean": list(self.mean), "std": list(self.std)}


NO_PREPROCESSING = Preprocessing("none")


def with_preprocessing(model: keras.Model, pre: Preprocessing) -> keras.Model:
    """A model taking RAW input: the app's preprocessing as layers in front of `model`."""
    if pre is None or not pre.active:
        return model
    shape = tuple(model.input_shape[1:])
    inputs = keras.Input(shape, name="raw_input", dtype="float32")
    if pre.kind == "rescale":
        x = keras.layers.Rescaling(pre.scale, name="rescale")(inputs)
    else:
        if shape and shape[-1] is not None and shape[-1] != len(pre.mean) and len(pre.mean) != 1:
            raise ExportError(f"The standardisation has {len(pre.mean)} features but the model takes samples of "
                              f"shape {shape_text(shape)} (last axis {shape[-1]}).")
        x = keras.layers.Normalization(mean=np.asarray(pre.mean, np.float32),
                                       variance=np.square(np.asarray(pre.std, np.float32)),
                                       name="standardize")(inputs)
    return keras.Model(inputs, model(x), name=f"{model.name}_raw_input")
