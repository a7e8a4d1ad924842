"""What a model takes and whether it fits: the shape checks every capability makes before it uses a model.

Each refusal says what the model takes and what to do: a ModelError when a model and its input do not
fit, a ConfigError when a request does not fit the model (e.g. sampling a model that is not a VAE).
Nothing here imports TensorFlow: the checks read the model's declared shapes and class.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from engine.core.errors import ConfigError, ModelError

if TYPE_CHECKING:
    import keras

_CHANNEL_KINDS = {1: "grey", 3: "colour", 4: "colour with alpha"}


# ----------------------------------------------------------------------------- shapes

def shape_text(shape: Sequence[int | None]) -> str:
    """"28x28x1", with "any" for a free dimension."""
    return "x".join("any" if d is None else str(d) for d in tuple(shape))


def fits(expected: Sequence[int | None], shape: Sequence[int]) -> bool:
    """True when a sample of `shape` fits a model input of `expected` (None = any size)."""
    expected, shape = tuple(expected), tuple(shape)
    return len(expected) == len(shape) and all(e is None or e == d for e, d in zip(expected, shape))


def input_shape(model) -> tuple | None:
    """The model's (single) input shape with the batch axis, or None when it has none or several."""
    try:
        shape = model.input_shape
    except (AttributeError, ValueError, RuntimeError):
        return None
    if isinstance(shape, list):
        shape = shape[0] if len(shape) == 1 else None
    return tuple(shape) if shape is not None else None


def sample_shape(model: keras.Model) -> tuple[int | None, ...]:
    """What one sample going into the model looks like (the input shape without the batch axis)."""
    return tuple(model.input_shape[1:])


def takes_text(model) -> str:
    """What the model takes, in words: "samples of 28x28x1", or each of several inputs by name and shape."""
    inputs = getattr(model, "inputs", None) or []
    if len(inputs) <= 1:
        return f"samples of {shape_text(sample_shape(model))}"
    named = [f"{getattr(t, 'name', '') or f'input {i + 1}'} ({shape_text(t.shape[1:])})" for i, t in enumerate(inputs)]
    if takes_noise_level(model):
        return f"a noisy image and its noise-level map: two inputs, {' and '.join(named)}"
    return f"{len(inputs)} inputs: {', '.join(named)}"


def check_fits(model: keras.Model, data_shape: tuple[int, ...]) -> None:
    """Raise ModelError when samples of `data_shape` cannot go through `model`."""
    if len(getattr(model, "inputs", None) or []) > 1:
        use = " Use it in the Denoise tab on photographs." if takes_noise_level(model) else ""
        raise ModelError(f"This model takes {takes_text(model)}, so it cannot reconstruct the data's samples of "
                         f"{shape_text(data_shape)} on their own.{use}")
    if not fits(sample_shape(model), data_shape):
        raise ModelError(f"This model takes samples of {shape_text(sample_shape(model))}, but the data has "
                         f"{shape_text(data_shape)}. Load matching data or train a new model on it.")


def fits_images(model, dataset) -> bool:
    """True when the model takes the dataset's validation images (an image autoencoder on its data)."""
    shape = input_shape(model)
    x = getattr(dataset, "x_val", None)
    if shape is None or x is None or len(shape) != 4 or np.ndim(x) != 4 or len(x) == 0:
        return False
    return fits(shape[1:], x.shape[1:])


# ----------------------------------------------------------------------------- image-to-image models

def fully_convolutional(model) -> bool:
    """True for a model taking images of any size: input (None, None, None, channels), or two such inputs
    for a noise-level-aware denoiser (takes_noise_level)."""
    shape = input_shape(model) if not takes_noise_level(model) else tuple(model.inputs[0].shape)
    return shape is not None and len(shape) == 4 and shape[1] is None and shape[2] is None and shape[3] is not None


def takes_noise_level(model) -> bool:
    """True for a noise-level-aware denoiser: inputs `noisy` and `noise_level` of the same shape
    (engine.models.denoiser.build_unet_denoiser; the level map is engine.denoise.noise_level.NoiseLevel)."""
    inputs = getattr(model, "inputs", None) or []
    names = [getattr(t, "name", "").split(":")[0] for t in inputs]
    return (len(inputs) == 2 and names[1].startswith("noise_level")
            and tuple(inputs[0].shape[1:]) == tuple(inputs[1].shape[1:]))


def model_channels(model) -> int:
    """Channels of the model's (single, image) input; ModelError for other models."""
    shapes = model.input_shape
    if isinstance(shapes, list) and takes_noise_level(model):
        shapes = shapes[:1]
    if isinstance(shapes, list):
        if len(shapes) != 1:
            raise ModelError(f"This model has {len(shapes)} inputs; a denoiser takes one image.")
        shapes = shapes[0]
    if len(shapes) != 4 or shapes[-1] is None:
        raise ModelError(f"This model takes inputs of {shape_text(shapes[1:])}, not images (height x width x "
                         "channels): it cannot denoise a photograph.")
    return int(shapes[-1])


def fixed_size(model) -> tuple[int | None, int | None]:
    """The (height, width) the model requires, None where any size goes."""
    shape = model.input_shape[0] if isinstance(model.input_shape, list) else model.input_shape
    return shape[1], shape[2]


def size_multiple(model) -> int:
    """Input sizes must be multiples of this: the product of the model's downsampling strides."""
    try:
        layers = list(model._flatten_layers(include_self=False, recursive=True))
    except Exception:  # noqa: BLE001 - private API; fall back to the top-level layers
        layers = list(getattr(model, "layers", []))
    factor = 1
    for layer in layers:
        name = type(layer).__name__
        if "Transpose" in name or "UpSampling" in name:
            continue
        strides = getattr(layer, "strides", None)
        if strides is None and "Pooling" in name and "Global" not in name:
            strides = getattr(layer, "pool_size", None)
        if strides:
            values = [strides] if isinstance(strides, int) else list(strides)[:2]
            factor *= max(int(v) for v in values)
    return factor


def channel_plan(model, image_channels: int) -> bool:
    """True to denoise channel by channel; ModelError when the model cannot take the image."""
    wanted = model_channels(model)
    if wanted == image_channels:
        return False
    if wanted == 1 and image_channels == 3:
        return True
    target = {1: "grey", 3: "colour (RGB)"}.get(wanted, f"{wanted} channels")
    kind = _CHANNEL_KINDS.get(image_channels)
    raise ModelError(f"This model takes {wanted}-channel images; this image has {image_channels} "
                     f"({kind or 'channels'}). Convert the image to {target} or choose a model made for "
                     f"{kind or f'{image_channels}-channel'} images.")


# ----------------------------------------------------------------------------- generative models

def is_generative(model) -> bool:
    """True for a VAE or AAE made by Autoencoder Studio."""
    if model is None or getattr(model, "kind", None) not in ("vae", "aae"):
        return False
    from engine.models.generative import AAE, VAE

    return isinstance(model, (VAE, AAE))


def require_generative(model) -> None:
    """ConfigError, saying what the model is and what to do, unless it is a VAE or AAE."""
    if is_generative(model):
        return
    advice = "train a variational (VAE) or adversarial (AAE) autoencoder, or open one"
    if model is None:
        raise ConfigError(f"No model yet: {advice}.")
    name = str(getattr(model, "name", "") or "")
    if name.endswith("_autoencoder"):
        what = f"a {name[:-len('_autoencoder')]} autoencoder"
    elif takes_noise_level(model):
        what = "a noise-level-aware denoiser (inputs noisy and noise_level)"
    elif "dncnn" in name.lower() or "denoiser" in name.lower():
        what = "a denoiser"
    else:
        what = f"the model {name!r}" if name else "this model"
    raise ConfigError(f"This is {what}, not a VAE or AAE: {advice}.")


def require_vae(model) -> None:
    """ConfigError unless the model is a VAE (only a VAE has a posterior to refine and an ELBO)."""
    require_generative(model)
    if model.kind != "vae":
        raise ConfigError("Refining codes needs a VAE: an AAE's encoder gives one deterministic code per image, "
                          "with no posterior or ELBO to improve.")


def checked_images(model, x) -> np.ndarray:
    """x as float32 (n, h, w, c) the model takes (one sample gets a batch axis); ConfigError if not."""
    x = np.asarray(x, dtype=np.float32)
    expected = tuple(model.input_shape[1:])
    if x.shape == expected:
        x = x[None]
    if x.shape[1:] != expected:
        raise ConfigError(f"This model takes samples of {shape_text(expected)}, but got "
                          f"{shape_text(x.shape[1:]) or 'a scalar'}.")
    if not np.isfinite(x).all():
        raise ConfigError("The samples hold NaN or infinite values.")
    return x


def checked_codes(model, z) -> np.ndarray:
    """Latent points z as float32 (n, latent) for this model (one point gets a batch axis); ConfigError if not."""
    z = np.asarray(z, dtype=np.float32)
    d = int(model.latent_dim)
    if z.ndim == 1:
        z = z[None]
    if z.ndim != 2 or z.shape[1] != d:
        raise ConfigError(f"Latent points must have {d} coordinate(s) each (shape (n, {d})); got shape {z.shape}.")
    if not np.isfinite(z).all():
        raise ConfigError("Latent points hold NaN or infinite values.")
    return z
