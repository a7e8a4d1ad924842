"""What a model is made of: layer rows with output shapes and parameters, Keras' summary text, and
Keras' own diagram (plot_model) when Graphviz is installed. No Qt."""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import keras

from engine.core.fileio import atomic_path
from engine.models.builders import named_parts


@dataclass(frozen=True)
class LayerRow:
    name: str
    kind: str  # the layer class, e.g. "Dense"
    output_shape: str  # e.g. "(None, 32)"
    params: int
    part: str  # "encoder", "decoder", "discriminator" or "" for top-level layers


def layer_rows(model: keras.Model) -> list[LayerRow]:
    """Every layer of the model, sub-models expanded, with its output shape and parameter count."""
    rows = []
    for part, sub in named_parts(model):
        for layer in sub.layers:
            if isinstance(layer, keras.layers.InputLayer):
                shape = layer.batch_shape if hasattr(layer, "batch_shape") else layer.output.shape
                rows.append(LayerRow(layer.name, "Input", _shape(shape), 0, part))
                continue
            try:
                shape = _shape(layer.output.shape)
            except (AttributeError, ValueError):
                shape = "?"
            rows.append(LayerRow(layer.name, type(layer).__name__, shape, int(layer.count_params()), part))
    return rows


def parameter_totals(model: keras.Model) -> tuple[int, int]:
    """(all parameters, trainable parameters), as the last lines of Keras' summary() count them."""
    trainable = sum(int(keras.ops.size(w)) for w in model.trainable_weights)
    return int(model.count_params()), trainable


def _shape(shape) -> str:
    if isinstance(shape, list | tuple) and shape and isinstance(shape[0], list | tuple):
        return ", ".join(_shape(s) for s in shape)
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def summary_text(model: keras.Model) -> str:
    """Keras' model.summary() with sub-models expanded, as plain text."""
    lines: list[str] = []
    try:
        model.summary(print_fn=lambda text, **_kw: lines.append(text), expand_nested=True, line_length=100)
    except ValueError:  # a subclassed model that was never built
        lines.append(f"{model.name}: not built yet")
    for name, part in named_parts(model):
        if part is not model and name and not any(name in line for line in lines[:3]):
            part.summary(print_fn=lambda text, **_kw: lines.append(text), line_length=100)
    return "\n".join(lines)


def graphviz_available() -> bool:
    """keras.utils.plot_model needs pydot and Graphviz's `dot` program."""
    try:
        import pydot  # noqa: F401
    except ImportError:
        return False
    return shutil.which("dot") is not None


def plot_model_png(model: keras.Model, path: str | Path) -> Path:
    """Keras' diagram (shapes, nested parts expanded) as PNG, written atomically; needs Graphviz."""
    path = Path(path)
    with atomic_path(path) as tmp:
        keras.utils.plot_model(model, to_file=str(tmp), show_shapes=True, expand_nested=True, dpi=96)
    return path
