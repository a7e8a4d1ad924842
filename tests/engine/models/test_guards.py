"""Shape checks (engine.models.guards) on stand-ins that declare their shapes, as Keras models do."""
from types import SimpleNamespace

import numpy as np
import pytest

from engine.core.errors import ConfigError, ModelError
from engine.models import guards


def model(shape, **extra):
    return SimpleNamespace(input_shape=shape, output_shape=shape, name="m", **extra)


def test_shapes_fit_where_every_fixed_dimension_matches():
    assert guards.fits((28, 28, 1), (28, 28, 1)) and guards.fits((None, None, 3), (480, 640, 3))
    assert not guards.fits((28, 28, 1), (28, 28)) and not guards.fits((None, None, 1), (8, 8, 3))
    assert guards.shape_text((None, 28, 1)) == "anyx28x1"
    guards.check_fits(model((None, 8, 8, 1)), (8, 8, 1))
    with pytest.raises(ModelError, match="takes samples of 8x8x1, but the data has 9x8x1"):
        guards.check_fits(model((None, 8, 8, 1)), (9, 8, 1))


def test_input_shape_of_one_input_and_fully_convolutional_models():
    assert guards.input_shape(model([(None, 4)])) == (None, 4)
    assert guards.input_shape(model([(None, 4), (None, 2)])) is None
    assert guards.input_shape(SimpleNamespace()) is None
    assert guards.fully_convolutional(model((None, None, None, 1)))
    assert not guards.fully_convolutional(model((None, 28, 28, 1))) and not guards.fully_convolutional(model((None, 9)))


def test_fits_images_needs_images_of_the_models_size():
    data = SimpleNamespace(x_val=np.zeros((3, 8, 8, 1)))
    assert guards.fits_images(model((None, 8, 8, 1)), data) and guards.fits_images(model((None, None, None, 1)), data)
    assert not guards.fits_images(model((None, 6, 6, 1)), data)
    assert not guards.fits_images(model((None, 64)), data)
    assert not guards.fits_images(model((None, 8, 8, 1)), SimpleNamespace(x_val=np.zeros((0, 8, 8, 1))))


def test_channel_plan_runs_grey_models_per_channel_and_refuses_the_rest():
    assert guards.channel_plan(model((None, None, None, 3)), 3) is False
    assert guards.channel_plan(model((None, None, None, 1)), 3) is True
    with pytest.raises(ModelError, match="takes 3-channel images; this image has 1 \\(grey\\)"):
        guards.channel_plan(model((None, None, None, 3)), 1)
    with pytest.raises(ModelError, match="not images"):
        guards.model_channels(model((None, 64)))
    with pytest.raises(ModelError, match="2 inputs"):
        guards.model_channels(model([(None, 8, 8, 1), (None, 8, 8, 1)]))


def test_size_multiple_multiplies_the_downsampling_strides():
    def layer(kind, **attributes):
        return type(kind, (SimpleNamespace,), {})(**attributes)

    layers = [layer("Conv2D", strides=(2, 2)), layer("Conv2D", strides=1), layer("MaxPooling2D", pool_size=(2, 2)),
              layer("Conv2DTranspose", strides=(2, 2)),  # upsamples: not counted
              layer("GlobalAveragePooling2D", pool_size=None)]
    m = model((None, None, None, 1), layers=layers)
    assert guards.size_multiple(m) == 4
    assert guards.fixed_size(model((None, 32, 48, 1))) == (32, 48)


def test_checked_images_and_codes():
    vae = model((None, 4, 4, 1), latent_dim=2)
    assert guards.checked_images(vae, np.zeros((4, 4, 1))).shape == (1, 4, 4, 1)  # one sample gets a batch axis
    with pytest.raises(ConfigError, match="takes samples of 4x4x1, but got 5x4x1"):
        guards.checked_images(vae, np.zeros((2, 5, 4, 1)))
    with pytest.raises(ConfigError, match="NaN"):
        guards.checked_images(vae, np.full((1, 4, 4, 1), np.nan))
    assert guards.checked_codes(vae, [0.5, 1.0]).shape == (1, 2)
    with pytest.raises(ConfigError, match="2 coordinate"):
        guards.checked_codes(vae, np.zeros((3, 3)))
    with pytest.raises(ConfigError, match="NaN"):
        guards.checked_codes(vae, [np.inf, 0.0])


def test_require_generative_says_what_the_model_is():
    with pytest.raises(ConfigError, match="No model yet"):
        guards.require_generative(None)
    with pytest.raises(ConfigError, match="This is a denoiser, not a VAE or AAE"):
        guards.require_generative(SimpleNamespace(name="dncnn_12x48"))
    with pytest.raises(ConfigError, match="the model 'mine'"):
        guards.require_generative(SimpleNamespace(name="mine", kind="vae"))  # says so, but is not the app's class
    assert not guards.is_generative(None)
