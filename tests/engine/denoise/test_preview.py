"""The live preview of a noise-aware denoiser on a region: what it shows is what the whole run gives there, at the
strength asked for; the estimate, the noise and the model are made once and reused."""
import keras
import numpy as np
import pytest
from keras import layers

from engine.core.jobs import JobState
from engine.data.noise import NoiseConfig, add_noise
from engine.denoise import pipeline, preview
from engine.denoise.noise_level import NoiseLevel, estimate_noise_level
from engine.denoise.tiling import denoise_tiled
from engine.models.guards import takes_noise_level


def aware_model(channels=3):
    """A toy noise-aware denoiser: a fixed 5x5 blur of the noisy input minus the noise-level map."""
    noisy = keras.Input((None, None, channels), name="noisy")
    level = keras.Input((None, None, channels), name="noise_level")
    blur = layers.DepthwiseConv2D(5, padding="same", use_bias=False,
                                  depthwise_initializer=keras.initializers.Constant(1 / 25))(noisy)
    return keras.Model([noisy, level], layers.Subtract()([blur, level]))


@pytest.fixture(scope="module")
def model():
    m = aware_model()
    assert takes_noise_level(m)
    return m


def picture(h=120, w=150):
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = 0.2 + 0.6 * xx + 0.1 * np.sin(9 * yy)
    return np.stack([base, base * 0.9, base * 0.8 + 0.1], axis=-1).astype(np.float32)


def test_the_region_lies_inside_the_image():
    assert preview.region_box((100, 200), None, 40) == (30, 80, 40, 40)
    assert preview.region_box((100, 200), (0, 0), 40) == (0, 0, 40, 40)
    assert preview.region_box((100, 200), (99, 199), (30, 50)) == (70, 150, 30, 50)
    assert preview.region_box((10, 20), (5, 5), 96) == (0, 0, 10, 20)  # smaller where the image is
    assert preview.region_box((1, 1), None) == (0, 0, 1, 1)


def test_the_preview_is_the_whole_run_there_at_the_strength_asked_for(model):
    image = picture()
    level = NoiseLevel.gaussian(20 / 255)
    box = preview.region_box(image.shape, (30, 120), 40)
    shown = preview.preview_region(model, image, box, level.with_strength(2.0))
    whole = denoise_tiled(model, image, noise_level=level.with_strength(2.0))
    top, left, h, w = box
    np.testing.assert_allclose(shown.output, whole[top:top + h, left:left + w], atol=1e-5)
    np.testing.assert_array_equal(shown.noisy, image[top:top + h, left:left + w])
    weaker = preview.preview_region(model, image, box, level.with_strength(0.5))
    np.testing.assert_allclose(weaker.output - shown.output, 1.5 * 20 / 255, atol=1e-5)
    assert shown.level.strength == 2.0 and shown.box == box


def test_the_job_estimates_once_adds_the_runs_noise_and_reuses_its_work(model, monkeypatch):
    monkeypatch.setattr(preview, "load_preview_model", lambda channels, state=None: model)
    image = picture()
    events = []
    noise = NoiseConfig("gaussian", sigma=25, seed=4)
    kept, shown = preview.run_preview(image, noise, 1.5, (60, 75), None, 32, state=JobState(events.append))
    estimated = [e for e in events if isinstance(e, preview.Estimated)]
    assert len(estimated) == 1 and estimated[0].level == estimate_noise_level(image)
    top, left, h, w = shown.box
    np.testing.assert_array_equal(shown.noisy, add_noise(image, noise)[top:top + h, left:left + w])  # the run's noise
    assert shown.level == NoiseLevel.gaussian(25 / 255).with_strength(1.5)
    events.clear()
    again, stronger = preview.run_preview(image, noise, 3.0, (60, 75), kept, 32, state=JobState(events.append))
    assert not [e for e in events if isinstance(e, preview.Estimated)] and again.noisy is kept.noisy
    np.testing.assert_allclose(shown.output - stronger.output, 1.5 * 25 / 255, atol=1e-5)
    _, as_is = preview.run_preview(image, NoiseConfig("none"), 1.0, None, again, 32, state=JobState())
    assert as_is.level == kept.estimate  # nothing added: the estimate of the image as opened
    other = picture() + 0.0
    fresh, _ = preview.run_preview(other, NoiseConfig("none"), 1.0, None, again, 32, state=JobState(events.append))
    assert fresh.image is other and [e for e in events if isinstance(e, preview.Estimated)]


def test_the_whole_run_is_told_the_strength(model):
    clean = picture(48, 40) * 0.5 + 0.4  # bright enough that nothing is clipped at 0
    result = pipeline.denoise(clean, NoiseConfig("gaussian", sigma=25, seed=1), ["model"], model=model, strength=2.0)
    assert result.noise_level == NoiseLevel.gaussian(25 / 255).with_strength(2.0)
    base = pipeline.denoise(clean, NoiseConfig("gaussian", sigma=25, seed=1), ["model"], model=model)
    difference = base.outputs["model"] - result.outputs["model"]
    np.testing.assert_allclose(difference[3:-3, 3:-3], 25 / 255, atol=1e-5)  # (a noisy corner may be clipped)
