"""The residual denoiser builds for any image size and loads in safe mode."""
import numpy as np

from engine.models.denoiser import build_dncnn
from engine.models.files import load_model, save_model
from engine.models.predict import predict


def test_dncnn_is_residual_and_size_agnostic(tmp_path):
    model = build_dncnn(depth=4, filters=8)
    for shape in [(1, 17, 23, 1), (2, 40, 40, 1)]:
        x = np.random.default_rng(0).random(shape).astype(np.float32)
        assert predict(model, x).shape == shape
    noise_layer = model.get_layer("noise")
    for w in noise_layer.weights:
        w.assign(np.zeros(w.shape, np.float32))
    x = np.random.default_rng(1).random((1, 9, 11, 1)).astype(np.float32)
    np.testing.assert_allclose(predict(model, x), x, atol=1e-6)  # zero noise estimate: identity
    path = save_model(model, tmp_path / "d.keras")
    np.testing.assert_array_equal(predict(load_model(path), x), predict(model, x))
