"""Self-supervised denoising (Neighbor2Neighbor): the sub-sampler, the loss, training on noisy images only,
stopping, the time budget, reading a folder of noisy images, and the Training tab's model kind."""
import threading

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers
from PIL import Image

from engine.core.config import DataSpec, TrainConfig
from engine.core.errors import ConfigError, DataError
from engine.core.events import BatchEnded, EpochEnded, Finished, PreviewReady, Progress, SettingsChanged, Started
from engine.core.jobs import JobState
from engine.data.noise import add_gaussian
from engine.denoise.metrics import psnr
from engine.denoise.noise_level import NoiseLevel
from engine.denoise.noisy_crops import read_noisy_images
from engine.denoise.selfsupervised import (NEIGHBOUR_PAIRS, SelfSupervisedConfig, neighbour_losses, neighbour_masks,
                                           subsample, train_self_supervised)
from engine.denoise.tiling import denoise_tiled
from engine.models.denoiser import build_unet_denoiser
from engine.models.files import load_model, save_model
from engine.models.guards import fully_convolutional

TINY = dict(width=8, blocks=1, batch_size=4, patch=64, learning_rate=3e-3, minutes=0, previews=2, preview_size=32,
            validation_crops=4)


def smooth(h=96, w=96, phase=0.0):
    yy, xx = np.mgrid[0:h, 0:w] / 48.0
    return (0.5 + 0.3 * np.sin(3 * xx + phase) * np.cos(2 * yy)).astype(np.float32)[..., None]


def position(values, w):
    """(y, x) of the pixel each value came from, for images whose values are 10 * (y * w + x) + channel."""
    index = np.round(values / 10).astype(int)
    return index // w, index % w


def test_subsampler_takes_two_different_adjacent_pixels_of_every_cell():
    b, h, w, c = 3, 8, 12, 2
    ys, xs = np.mgrid[0:h, 0:w]
    x = (10 * (ys * w + xs))[None, ..., None] + np.arange(c)[None, None, None, :] + np.zeros((b, 1, 1, 1))
    first, second = neighbour_masks([b, h // 2, w // 2], [1, 2])
    g1, g2 = (np.asarray(subsample(tf.constant(x, tf.float32), m)) for m in (first, second))
    assert g1.shape == g2.shape == (b, h // 2, w // 2, c)
    assert np.array_equal(g1[..., 1] - g1[..., 0], np.ones_like(g1[..., 0]))  # one pixel for all channels
    (y1, x1), (y2, x2) = position(g1[..., 0], w), position(g2[..., 0], w)
    cell_y, cell_x = np.mgrid[0:h // 2, 0:w // 2]
    for yy, xx in ((y1, x1), (y2, x2)):  # both pixels lie in their own 2x2 cell
        assert np.array_equal(yy // 2, np.broadcast_to(cell_y, yy.shape))
        assert np.array_equal(xx // 2, np.broadcast_to(cell_x, xx.shape))
    distance = np.abs(y1 - y2) + np.abs(x1 - x2)
    assert (distance == 1).all()  # different and adjacent: never the same pixel, never diagonal
    pairs = set(zip((2 * (y1 % 2) + x1 % 2).ravel().tolist(), (2 * (y2 % 2) + x2 % 2).ravel().tolist()))
    assert pairs == set(NEIGHBOUR_PAIRS)  # every ordered neighbour pair is drawn


def identity_model(scale=1.0):
    noisy, level = keras.Input((None, None, 1), name="noisy"), keras.Input((None, None, 1), name="noise_level")
    return keras.Model([noisy, level], layers.Rescaling(scale)(noisy))


def test_loss_is_zero_for_the_identity_on_a_noise_free_constant_image():
    y = tf.fill([2, 16, 16, 1], 0.4)
    level = tf.zeros_like(y)
    masks = neighbour_masks([2, 8, 8], [0, 0])
    rec, reg = neighbour_losses(identity_model(), y, level, masks)
    assert float(rec) == pytest.approx(0.0, abs=1e-12) and float(reg) == pytest.approx(0.0, abs=1e-12)
    unet = build_unet_denoiser(1, (4, 8, 16), 1)  # zero-initialised: the identity at the start of training
    assert [float(v) for v in neighbour_losses(unet, y, level, masks)] == pytest.approx([0.0, 0.0], abs=1e-10)


def test_loss_terms_match_their_formulas():
    rng = np.random.default_rng(0)
    y = tf.constant(rng.random((2, 16, 16, 1)), tf.float32)
    masks = neighbour_masks([2, 8, 8], [3, 4])
    g1, g2 = (np.asarray(subsample(y, m)) for m in masks)
    rec, reg = neighbour_losses(identity_model(0.5), y, tf.zeros_like(y), masks)
    # f(x) = x / 2: |f(g1 y) - g2 y|^2, and |f(g1 y) - g2 y - (g1 f(y) - g2 f(y))|^2 = |g2 y / 2|^2
    assert float(rec) == pytest.approx(np.mean((0.5 * g1 - g2) ** 2), rel=1e-5)
    assert float(reg) == pytest.approx(np.mean((0.5 * g2) ** 2), rel=1e-5)
    noise = tf.constant(0.1 * rng.standard_normal((4, 64, 64, 1)), tf.float32)  # identity on pure noise: 2 sigma^2
    rec, reg = neighbour_losses(identity_model(), noise, tf.zeros_like(noise), neighbour_masks([4, 32, 32], [5, 6]))
    assert float(rec) == pytest.approx(2 * 0.01, rel=0.05) and float(reg) == pytest.approx(0.0, abs=1e-10)


def test_short_training_on_noisy_images_only_lowers_the_error(tmp_path):
    clean = [smooth(), smooth(80, 112, phase=1.0)]
    noisy = [add_gaussian(c, 0.1, seed=k) for k, c in enumerate(clean)]
    events = []
    result = train_self_supervised(noisy, SelfSupervisedConfig(epochs=3, steps_per_epoch=15, **TINY),
                                   JobState(events.append))
    kinds = [type(e) for e in events if not isinstance(e, Progress)]
    assert kinds[0] is Started and kinds[-1] is Finished and kinds.count(EpochEnded) == 3
    assert kinds.count(PreviewReady) == 3 and BatchEnded in kinds
    assert set(result.history) >= {"loss", "val_loss"} and len(result.history["loss"]) == 3
    assert result.levels[0].mean_sigma() == pytest.approx(0.1, rel=0.2)  # estimated from the noisy image
    preview = [e for e in events if isinstance(e, PreviewReady)][-1]
    assert preview.inputs.shape == preview.outputs.shape == (2, 32, 32, 1)
    assert np.array_equal(preview.targets, preview.inputs)  # no clean copies: the previews show the noisy ones
    level = NoiseLevel.gaussian(0.1)
    before = np.mean([psnr(c, np.clip(n, 0, 1)) for c, n in zip(clean, noisy)])
    after = np.mean([psnr(c, denoise_tiled(result.model, n, noise_level=level)) for c, n in zip(clean, noisy)])
    assert after > before + 1.0, (before, after)
    path = save_model(result.model, tmp_path / "n2n.keras")  # an ordinary model file, opened in safe mode
    loaded = load_model(path)
    assert fully_convolutional(loaded)
    odd = noisy[1][:75, :101]
    assert np.allclose(denoise_tiled(loaded, odd, noise_level=level),
                       denoise_tiled(result.model, odd, noise_level=level), atol=1e-5)


def stop_after(batches: int, events: list):
    stop = threading.Event()

    def on_event(event):
        events.append(event)
        if isinstance(event, BatchEnded) and sum(isinstance(e, BatchEnded) for e in events) >= batches:
            stop.set()

    return JobState(on_event, stop)


def test_stop_in_the_first_epoch_keeps_the_last_weights():
    events = []
    config = SelfSupervisedConfig(epochs=50, steps_per_epoch=1000, **TINY)
    result = train_self_supervised([smooth() + 0.05], config, stop_after(2, events))
    assert result.stopped_by_user and result.best_epoch is None and 2 <= result.steps < 1000
    assert "Stopped" in result.message and isinstance(events[-1], Finished) and events[-1].stopped_by_user
    noisy = add_gaussian(smooth(), 0.1, 0)
    out = denoise_tiled(result.model, noisy, noise_level=NoiseLevel.gaussian(0.1))
    assert out.shape == noisy.shape and np.isfinite(out).all()
    assert not np.array_equal(out, np.clip(noisy, 0, 1))  # trained a little: no longer the identity


def test_stop_after_two_epochs_keeps_the_best_epoch(monkeypatch):
    copies = []  # every copy of the weights the training keeps (one per improved epoch)
    real = keras.Model.get_weights
    monkeypatch.setattr(keras.Model, "get_weights",
                        lambda model: copies.append([w.copy() for w in real(model)]) or copies[-1])
    stop, events = threading.Event(), []

    def on_event(event):
        events.append(event)
        if isinstance(event, BatchEnded) and event.epoch == 2:  # in the third epoch: cut it short
            stop.set()

    config = SelfSupervisedConfig(epochs=50, steps_per_epoch=20, **TINY)
    result = train_self_supervised([add_gaussian(smooth(), 0.1, 0)], config, JobState(on_event, stop))
    assert result.stopped_by_user and len(result.history["loss"]) == 2  # the third epoch is not counted
    assert result.best_epoch == int(np.argmin(result.history["val_loss"]))
    best = copies[-1]
    assert all(np.array_equal(a, b) for a, b in zip(real(result.model), best))
    assert "kept the best model" in result.message


def test_time_budget_ends_the_training():
    config = SelfSupervisedConfig(**{**TINY, "minutes": 0.05}, epochs=100000, steps_per_epoch=5)
    result = train_self_supervised([add_gaussian(smooth(), 0.1, 0)], config)
    assert not result.stopped_by_user and "Time budget reached" in result.message
    assert 3 <= result.seconds < 30


def test_bad_settings_and_images_are_refused():
    with pytest.raises(ConfigError, match="patch"):
        SelfSupervisedConfig(patch=8)
    with pytest.raises(ConfigError, match="sigma"):
        SelfSupervisedConfig(sigma=25.0)
    with pytest.raises(ConfigError, match="too small"):
        train_self_supervised([np.zeros((20, 20), np.float32)], SelfSupervisedConfig(**TINY))
    with pytest.raises(ConfigError, match="grey or all colour"):
        train_self_supervised([np.zeros((64, 64)), np.zeros((64, 64, 3))], SelfSupervisedConfig(**TINY))


def write_images(folder, n=2):
    folder.mkdir(exist_ok=True)
    for k in range(n):
        noisy = add_gaussian(smooth(72, 88, phase=k), 0.1, k)[..., 0]
        Image.fromarray(np.round(noisy * 255).astype(np.uint8)).save(folder / f"photo{k}.png")
    return folder


def test_a_folder_of_noisy_images_is_read_at_full_size_and_bad_files_are_listed(tmp_path):
    folder = write_images(tmp_path / "noisy")
    (folder / "broken.png").write_bytes(b"not an image")
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(folder / "tiny.png")
    images, names, skipped = read_noisy_images(folder, "grey")
    assert names == ["photo0.png", "photo1.png"] and images[0].shape == (72, 88, 1)
    assert len(skipped) == 2 and any("tiny.png" in s and "smaller" in s for s in skipped)
    assert any(s.startswith("broken.png:") for s in skipped)
    with pytest.raises(DataError, match="no usable image"):
        read_noisy_images(write_images(tmp_path / "empty", 0))
    with pytest.raises(DataError, match="not a folder"):
        read_noisy_images(tmp_path / "missing")


def test_training_settings_run_the_self_supervised_kind_with_mid_run_changes(tmp_path):
    from engine.jobs import train_job
    from engine.training.requests import TrainingControl

    folder = write_images(tmp_path / "noisy")
    config = TrainConfig(model_kind="n2n", epochs=4, batch_size=2, filters=4, learning_rate=3e-3, loss="mse",
                         preview_count=3)
    control = TrainingControl()
    events = []

    def on_event(event):
        events.append(event)
        if isinstance(event, EpochEnded) and event.epoch == 0:
            control.request(epochs=2)

    outcome = train_job(DataSpec(kind="folder", path=str(folder), image_size=32), config,
                        control=control)(JobState(on_event))
    result = outcome.result
    assert outcome.run is None and result.config.model_kind == "n2n" and len(result.history["loss"]) == 2
    assert any(isinstance(e, SettingsChanged) and e.total_epochs == 2 for e in events)
    assert "not recorded" in result.message and str(folder) in outcome.dataset.where
    assert [e for e in events if isinstance(e, PreviewReady)][-1].inputs.shape == (3, 72, 72, 1)  # the images are 72 high
    assert result.model.inputs[1].name.startswith("noise_level")
    with pytest.raises(ConfigError, match="folder of noisy images"):
        train_job(DataSpec(kind="mnist"), config)(JobState())


def test_the_photo_job_trains_on_the_noisy_photo_and_a_folder_with_the_clean_photo_only_scoring(tmp_path):
    from engine.data.noise import NoiseConfig, add_noise
    from engine.jobs import self_train_job

    photo = smooth(80, 96)
    noise = NoiseConfig("gaussian", sigma=25.0, seed=3)
    config = SelfSupervisedConfig(epochs=1, steps_per_epoch=3, **TINY)
    events = []
    result = self_train_job(photo, noise, config, str(write_images(tmp_path / "more")))(JobState(events.append))
    assert len(result.levels) == 3 and result.history["loss"]
    preview = [e for e in events if isinstance(e, PreviewReady)][0]
    centre = add_noise(photo, noise)[24:56, 32:64]  # the photo as Denoise sees it, its centre crop
    assert np.array_equal(preview.inputs[0], centre) and np.array_equal(preview.targets[0], photo[24:56, 32:64])
    assert np.array_equal(preview.targets[1], preview.inputs[1])  # a folder image has no clean copy
