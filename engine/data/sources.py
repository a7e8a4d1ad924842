"""The Dataset a DataSpec describes: the one place that turns a data source's settings into data."""
from __future__ import annotations

from engine.core.config import DataSpec
from engine.data.dataset import Dataset


def load_data(spec: DataSpec) -> Dataset:
    """Load the data `spec` names (DataError or ImageError, saying what is wrong, when it cannot)."""
    from engine.data.arrays import load_array_file
    from engine.data.folders import load_image_folder, load_patches
    from engine.data.mnist import load_mnist

    if spec.kind == "mnist":
        return load_mnist()
    if spec.kind == "mnist_download":
        return load_mnist(allow_download=True)
    if spec.kind == "mnist_file":
        return load_mnist(spec.path)
    if spec.kind == "folder":
        return load_image_folder(spec.path, size=(spec.image_size, spec.image_size), color=spec.color,
                                 validation_fraction=spec.validation_fraction, seed=spec.seed)
    if spec.kind == "patches":
        return load_patches(spec.path, patch=spec.image_size, color=spec.color,
                            validation_fraction=spec.validation_fraction, seed=spec.seed)
    return load_array_file(spec.path, validation_fraction=spec.validation_fraction, seed=spec.seed)
