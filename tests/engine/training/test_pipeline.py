"""engine.training.pipeline.as_tensor: the data in TensorFlow, converted in chunks (each copy holds the GIL)."""
from __future__ import annotations

import numpy as np
import pytest

from engine.training.pipeline import as_tensor


@pytest.mark.parametrize("shape", [(37, 5, 3), (1, 4), (64, 2, 2, 1)])
@pytest.mark.parametrize("chunk_bytes", [1, 40, 100, 10**9])
def test_as_tensor_is_the_array_whatever_the_chunking(shape, chunk_bytes):
    x = np.random.default_rng(0).random(shape).astype(np.float32)
    t = as_tensor(x, chunk_bytes=chunk_bytes)
    assert t.shape == x.shape and t.dtype.name == "float32"
    np.testing.assert_array_equal(t.numpy(), x)


def test_as_tensor_keeps_integer_labels():
    y = np.arange(1000, dtype=np.int32)
    np.testing.assert_array_equal(as_tensor(y, chunk_bytes=64).numpy(), y)
