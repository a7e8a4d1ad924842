"""Exporting models with several inputs, e.g. the noise-level-aware denoiser (engine.models.denoiser
.build_unet_denoiser: `noisy` and `noise_level`): their input names, shapes and meanings for the
metadata, the export options that make sense for them, sample inputs to verify an export on, and the
app's model run on them.

A "feed" is what an export is verified on: an array for a one-input model, else a dict
{input name: array}, in the model's input order, every array with the same number of samples.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from engine.core.errors import ExportError
from engine.models.guards import fits, shape_text, size_multiple, takes_noise_level
from engine.models.predict import in_batches, predict

NOISY_MEANING = "the noisy image, same shape as noise_level, 0-1 scale (pixels/255)"
NOISE_LEVEL_MEANING = "per-pixel noise standard deviation, same shape as noisy, 0-1 scale (sigma/255)"
SAMPLE_SIZE = 32  # sample images' height and width where the model takes any size (rounded up to its multiple)
SAMPLE_SIGMAS = (25.0, 10.0, 50.0, 5.0)  # the noise level of each sample image, 0-255 scale (a constant map)


def several_inputs(model) -> bool:
    return len(getattr(model, "inputs", None) or []) > 1


def input_names(model) -> list[str]:
    return [str(getattr(t, "name", "") or f"input_{i}").split(":")[0] for i, t in enumerate(model.inputs)]


def input_shapes(model) -> list[tuple[int | None, ...]]:
    """Each input's sample shape (without the batch axis)."""
    return [tuple(None if d is None else int(d) for d in t.shape[1:]) for t in model.inputs]


def _what(model) -> str:
    if takes_noise_level(model):
        return "This noise-level-aware denoiser"
    return f"Model {getattr(model, 'name', '')!r}"


def check_options(model, part: str, preprocessing_built_in: bool) -> None:
    """ExportError (one line, saying what to do) for a request that makes no sense for a model with
    several inputs: a part of it (it is one network), or the app's input scaling built into it."""
    if not several_inputs(model):
        return
    names = " and ".join(input_names(model))
    n = len(model.inputs)
    if part != "model":
        raise ExportError(f"{_what(model)} is one network with {n} inputs ({names}): it has no separate {part}. "
                          f"Export the whole model.")
    if preprocessing_built_in:
        raise ExportError(f"{_what(model)} takes {n} inputs ({names}), so the app's input scaling cannot be built "
                          f"into the export. Export it without the preprocessing built in (no --raw-input) and "
                          f"feed it values on a 0-1 scale (pixels/255, sigma/255), as its metadata describes.")


def inputs_metadata(model) -> dict[str, Any]:
    """What the metadata says about a model with several inputs: their names, shapes and meanings."""
    meanings = {"noisy": NOISY_MEANING, "noise_level": NOISE_LEVEL_MEANING} if takes_noise_level(model) else {}
    names = input_names(model)
    entries = [{"name": name, "shape": [None, *shape], "dtype": "float32", "is": meanings.get(name, "")}
               for name, shape in zip(names, input_shapes(model))]
    out: dict[str, Any] = {"input_names": names, "inputs": entries,
                           "input_is": f"{len(names)} inputs, fed by name: " + "; ".join(
                               f"{e['name']}" + (f" ({e['is']})" if e["is"] else "") for e in entries)}
    if takes_noise_level(model):
        out["noise_level"] = NOISE_LEVEL_MEANING
    return out


# ----------------------------------------------------------------------------- verification samples

def sample_feed(model, sample_inputs=None, count: int = 4, limit: int = 16) -> dict[str, np.ndarray]:
    """The feed an export of `model` (several inputs) is verified on. `sample_inputs`: None (made up:
    random images of SAMPLE_SIZE and constant noise levels SAMPLE_SIGMAS / 255 for a denoiser), a dict
    {input name: array}, a list of arrays in input order, or for a denoiser the noisy images alone."""
    names, shapes = input_names(model), input_shapes(model)
    if sample_inputs is None:
        arrays = _made_up(model, shapes, count)
    elif isinstance(sample_inputs, dict):
        missing = [n for n in names if n not in sample_inputs]
        if missing:
            raise ExportError(f"The sample inputs lack {', '.join(missing)}; the model takes {', '.join(names)}.")
        arrays = [sample_inputs[n] for n in names]
    elif isinstance(sample_inputs, (list, tuple)):
        if len(sample_inputs) != len(names):
            raise ExportError(f"The model takes {len(names)} inputs ({', '.join(names)}); got {len(sample_inputs)} "
                              f"sample arrays.")
        arrays = list(sample_inputs)
    elif takes_noise_level(model):
        noisy = np.asarray(sample_inputs, np.float32)
        arrays = [noisy, _levels(noisy.shape)]
    else:
        raise ExportError(f"The model takes {len(names)} inputs ({', '.join(names)}): give sample inputs for each.")
    arrays = [np.asarray(a, np.float32)[:limit] for a in arrays]
    for name, shape, a in zip(names, shapes, arrays):
        if not fits(shape, a.shape[1:]):
            raise ExportError(f"The sample inputs for {name} have shape {shape_text(a.shape[1:])}, but the model "
                              f"takes {shape_text(shape)}.")
    if len({len(a) for a in arrays}) != 1 or not len(arrays[0]):
        raise ExportError("The sample inputs need the same number (at least one) of samples for every input.")
    multiple = size_multiple(model)
    if takes_noise_level(model) and any(d % multiple for d in arrays[0].shape[1:3]):
        raise ExportError(f"The sample images are {shape_text(arrays[0].shape[1:3])} pixels; this denoiser takes "
                          f"heights and widths that are multiples of {multiple}.")
    return dict(zip(names, arrays))


def _made_up(model, shapes, count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    multiple = max(1, size_multiple(model))
    side = -(-SAMPLE_SIZE // multiple) * multiple
    sizes = [(count,) + tuple((side if i < 2 else 1) if d is None else d for i, d in enumerate(s)) for s in shapes]
    if takes_noise_level(model):
        return [rng.uniform(0, 1, sizes[0]).astype(np.float32), _levels(sizes[1])]
    return [rng.uniform(0, 1, size).astype(np.float32) for size in sizes]


def _levels(shape) -> np.ndarray:
    """A constant noise-level map per sample, SAMPLE_SIGMAS (0-255) on the 0-1 scale, in turn."""
    sigmas = np.resize(np.asarray(SAMPLE_SIGMAS, np.float32) / np.float32(255), shape[0])
    return np.broadcast_to(sigmas.reshape((-1,) + (1,) * (len(shape) - 1)), shape).astype(np.float32)


def predict_feed(model, feed) -> np.ndarray:
    """The model's outputs for a feed (in batches, inference mode), as engine.models.predict.predict."""
    if not isinstance(feed, dict):
        return predict(model, feed)
    names = input_names(model)
    arrays = [feed[n] for n in names] if set(names) == set(feed) else list(feed.values())
    return in_batches(lambda rows: model([a[rows] for a in arrays], training=False), np.arange(len(arrays[0])))
