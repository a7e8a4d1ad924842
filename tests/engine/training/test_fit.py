"""Models build, train a step, round-trip through .keras; training streams events, stops, catches NaN."""
import threading

import keras
import numpy as np
import pytest

from engine.core.config import TrainConfig
from engine.core.errors import ConfigError, ModelError, TrainingError
from engine.core.events import BatchEnded, EpochEnded, Finished, PreviewReady, Started
from engine.core.jobs import JobState
from engine.data.dataset import Dataset
from engine.data.noise import add_gaussian as add_noise
from engine.models.builders import build_autoencoder, decoder_of, encoder_of
from engine.models.files import load_model, save_model
from engine.models.guards import check_fits
from engine.models.predict import predict
from engine.training.fit import train


def tiny_images(n=48, shape=(12, 10, 1), seed=0):
    rng = np.random.default_rng(seed)
    base = rng.random((4,) + shape).astype(np.float32)
    x = base[rng.integers(0, 4, n)] * 0.8 + 0.1 * rng.random((n,) + shape).astype(np.float32)
    return Dataset(x_train=x[: n - 12], x_val=x[n - 12:], source="synthetic")


@pytest.mark.parametrize("kind", ["dense", "sparse", "deep", "conv"])
@pytest.mark.parametrize("shape", [(28, 28, 1), (13, 10, 3)])
def test_each_model_builds_with_encoder_and_decoder(kind, shape):
    model = build_autoencoder(TrainConfig(model_kind=kind, code_size=8, filters=4), shape)
    x = np.random.default_rng(1).random((3,) + shape).astype(np.float32)
    out = np.asarray(model(x))
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    code = encoder_of(model)(x)
    assert np.allclose(np.asarray(decoder_of(model)(code)), out, atol=1e-6)


def test_dense_model_takes_table_rows_with_linear_output():
    model = build_autoencoder(TrainConfig(model_kind="deep", code_size=3), (7,), output_activation="linear")
    assert model.output_shape == (None, 7)
    with pytest.raises(ConfigError, match="dense model for tables"):
        build_autoencoder(TrainConfig(model_kind="conv"), (7,))


@pytest.mark.parametrize("kind", ["dense", "sparse", "deep", "conv"])
def test_train_then_save_load_gives_identical_outputs(kind, tmp_path):
    data = tiny_images()
    events = []
    result = train(TrainConfig(model_kind=kind, code_size=6, filters=4, epochs=2, batch_size=8), data, JobState(events.append))
    path = save_model(result.model, tmp_path / f"{kind}.keras")
    loaded = load_model(path)
    np.testing.assert_array_equal(predict(result.model, data.x_val), predict(loaded, data.x_val))
    assert not list(tmp_path.glob(".*tmp*")), "atomic save left a temporary file"
    kinds = [type(e) for e in events]
    assert kinds[0] is Started and kinds[-1] is Finished
    assert kinds.count(EpochEnded) == 2 and kinds.count(PreviewReady) == 2


def test_training_lowers_loss_and_keeps_best_epoch():
    data = tiny_images(n=96)
    result = train(TrainConfig(epochs=6, batch_size=16, code_size=8, learning_rate=1e-2), data)
    val = result.history["val_loss"]
    assert val[-1] < val[0]
    assert result.best_epoch == int(np.argmin(val))
    assert result.best_val_loss == pytest.approx(min(val))
    restored = float(result.model.evaluate(data.x_val, data.x_val, verbose=0))
    assert restored == pytest.approx(min(val), rel=1e-3)


def test_preview_is_fixed_copies_and_shows_noisy_inputs_for_denoising():
    data = tiny_images()
    previews = []
    train(TrainConfig(epochs=2, batch_size=8, noise_factor=0.3, preview_count=5),
          data, JobState(lambda e: previews.append(e) if isinstance(e, PreviewReady) else None))
    first, second = previews
    np.testing.assert_array_equal(first.targets, data.x_val[:5])
    np.testing.assert_array_equal(first.inputs, second.inputs)  # same fixed validation noise
    assert not np.allclose(first.inputs, first.targets)
    assert first.inputs.min() >= 0 and first.inputs.max() <= 1
    assert not np.shares_memory(first.inputs, second.inputs)


def test_same_seed_same_run():
    data = tiny_images()
    config = TrainConfig(epochs=2, batch_size=8, noise_factor=0.2, seed=3)
    a, b = train(config, data), train(config, data)
    assert a.history["val_loss"] == pytest.approx(b.history["val_loss"], rel=1e-6)


def test_stop_is_honoured_quickly_and_keeps_partial_model():
    data = tiny_images(n=400)
    stop = threading.Event()
    batches = []

    def on_event(event):
        if isinstance(event, BatchEnded):
            batches.append(event)
        if isinstance(event, EpochEnded) and event.epoch == 1:
            stop.set()

    result = train(TrainConfig(model_kind="conv", filters=4, epochs=50, batch_size=4), data, JobState(on_event, stop))
    assert result.stopped_by_user
    assert len(result.history["loss"]) == 2  # the interrupted third epoch is not recorded
    assert "Stopped by you" in result.message
    assert max(b.epoch for b in batches) <= 2


def test_nan_loss_stops_with_clear_message():
    data = tiny_images()
    bad = Dataset(x_train=data.x_train, x_val=data.x_val, source="synthetic")
    events = []
    with pytest.raises(TrainingError, match="Lower the learning rate"):
        train(TrainConfig(epochs=3, batch_size=4, learning_rate=10.0, loss="mse", code_size=64),
              _exploding(bad), JobState(events.append))
    assert not any(isinstance(e, Finished) for e in events)  # the failure is the exception, said once


def _exploding(data):
    """Data that makes a huge learning rate diverge within an epoch."""
    return Dataset(x_train=data.x_train * 1e20, x_val=data.x_val * 1e20, source="huge values")


def test_batch_larger_than_data_is_used_with_a_note():
    data = tiny_images(n=20)
    events = []
    result = train(TrainConfig(epochs=1, batch_size=4096), data, JobState(events.append))
    assert "larger than the 8 training samples" in events[0].description
    assert len(result.history["loss"]) == 1


def test_bce_on_data_outside_unit_range_is_refused():
    data = _exploding(tiny_images())
    with pytest.raises(ConfigError, match="mean squared error"):
        train(TrainConfig(epochs=1), data)


def test_nan_in_data_is_refused():
    data = tiny_images()
    x = data.x_train.copy()
    x[0, 0, 0, 0] = np.nan
    with pytest.raises(ConfigError, match="NaN"):
        train(TrainConfig(epochs=1), Dataset(x_train=x, x_val=data.x_val, source="gaps"))


@pytest.mark.parametrize("changes, match", [
    ({"learning_rate": -1.0}, "learning_rate"), ({"epochs": 0}, "epochs"), ({"model_kind": "magic"}, "Unknown model"),
    ({"batch_size": 10**9}, "batch_size"), ({"noise_factor": float("nan")}, "noise_factor"),
])
def test_absurd_settings_are_refused(changes, match):
    with pytest.raises(ConfigError, match=match):
        TrainConfig(**changes)


def test_config_round_trips_and_rejects_unknown_keys():
    config = TrainConfig(model_kind="sparse", l1_weight=1e-4)
    assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError, match="Unknown setting"):
        TrainConfig.from_dict({"colour": 1})


def test_add_noise_is_clipped_and_seeded():
    x = np.full((4, 5, 5, 1), 0.5, np.float32)
    a, b = add_noise(x, 0.5, seed=1), add_noise(x, 0.5, seed=1)
    np.testing.assert_array_equal(a, b)
    assert a.min() >= 0 and a.max() <= 1 and a.std() > 0.1


def test_model_shape_mismatch_is_explained():
    model = build_autoencoder(TrainConfig(), (28, 28, 1))
    with pytest.raises(ModelError, match="takes samples of 28x28x1, but the data has 32x32x3"):
        check_fits(model, (32, 32, 3))


def test_lambda_layer_file_is_refused(tmp_path):
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda t: t * 2)(inputs))
    model.save(tmp_path / "lambda.keras")
    with pytest.raises(ModelError, match="Lambda layer"):
        load_model(tmp_path / "lambda.keras")


@pytest.mark.parametrize("content, match", [(b"", "not a valid .keras"), (b"garbage" * 10, "not a valid .keras")])
def test_garbage_model_files_are_refused(tmp_path, content, match):
    path = tmp_path / "bad.keras"
    path.write_bytes(content)
    with pytest.raises(ModelError, match=match):
        load_model(path)


def test_an_unreadable_model_file_is_called_unreadable_not_corrupt(tmp_path, monkeypatch):
    from engine.models import files

    good = save_model(build_autoencoder(TrainConfig(code_size=4), (6, 6, 1)), tmp_path / "locked.keras")

    def denied(*_args, **_kwargs):  # what a file without read permission gives (root reads everything)
        raise PermissionError(13, "Permission denied", str(good))

    monkeypatch.setattr(files, "open", denied, raising=False)
    with pytest.raises(ModelError, match=r"locked.keras cannot be read \(Permission denied\). Check the file's "
                                         r"permissions.") as caught:
        load_model(good)
    assert "corrupt" not in str(caught.value)


def test_keras_messages_are_cut_short(tmp_path, monkeypatch):
    from engine.models import files

    good = save_model(build_autoencoder(TrainConfig(code_size=4), (6, 6, 1)), tmp_path / "m.keras")

    def refuse(*_args, **_kwargs):
        raise ValueError("Could not deserialize " + "{'class_name': 'Dense', 'config': {...}} " * 200)

    monkeypatch.setattr(files.keras.saving, "load_model", refuse)
    with pytest.raises(ModelError) as caught:
        load_model(good)
    assert len(str(caught.value)) < 400 and str(caught.value).endswith("…")


def test_broken_zip_and_wrong_suffix_are_refused(tmp_path):
    model = build_autoencoder(TrainConfig(code_size=4), (6, 6, 1))
    good = save_model(model, tmp_path / "good.keras")
    raw = good.read_bytes()
    broken = tmp_path / "broken.keras"
    broken.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ModelError):
        load_model(broken)
    with pytest.raises(ModelError, match="not a .keras file"):
        load_model(tmp_path / "good.h5") if (tmp_path / "good.h5").write_bytes(raw) else None
    with pytest.raises(ModelError, match="does not exist"):
        load_model(tmp_path / "missing.keras")


def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    model = build_autoencoder(TrainConfig(code_size=4), (6, 6, 1))
    path = save_model(model, tmp_path / "m.keras")
    before = path.read_bytes()

    def crash(self, filepath, *a, **k):
        open(filepath, "wb").write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(keras.Model, "save", crash)
    with pytest.raises(ModelError, match="No space left"):
        save_model(model, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras"]


def _photo_folder(folder, n=3, size=(50, 60), rgb=False):
    from PIL import Image
    folder.mkdir()
    yy, xx = np.mgrid[0:size[0], 0:size[1]]
    for i in range(n):
        smooth = 0.5 + 0.4 * np.sin(xx / (5 + i)) * np.cos(yy / 7)
        array = np.repeat(smooth[..., None], 3, axis=2) if rgb else smooth
        Image.fromarray((array * 255).astype(np.uint8)).save(folder / f"photo{i}.png")
    (folder / "tiny.png").write_bytes(b"")  # unreadable: skipped, not fatal
    return folder


def test_patches_come_from_full_resolution_images_split_by_image(tmp_path):
    from engine.data.folders import load_patches
    data = load_patches(_photo_folder(tmp_path / "photos"), patch=16, per_image=5, validation_fraction=0.34)
    assert data.x_train.shape[1:] == (16, 16, 1) and len(data.x_train) + len(data.x_val) == 15
    assert len(data.x_val) == 5  # one whole image held out
    assert any("tiny.png" in s for s in data.skipped)


def test_residual_denoiser_trains_on_patches_and_removes_noise(tmp_path):
    from engine.data.folders import load_patches
    data = load_patches(_photo_folder(tmp_path / "photos", n=4), patch=24, per_image=24)
    config = TrainConfig(model_kind="residual", depth=4, filters=8, noise_factor=0.1, loss="mse", epochs=8,
                         batch_size=16, learning_rate=3e-3)
    result = train(config, data)
    assert result.model.input_shape == (None, None, None, 1)  # any image size
    noisy = add_noise(data.x_val, 0.1, seed=5)
    before = np.mean((noisy - data.x_val) ** 2)
    after = np.mean((predict(result.model, noisy) - data.x_val) ** 2)
    assert after < before


def test_residual_needs_noise_and_mse():
    with pytest.raises(ConfigError, match="train it as a denoiser"):
        TrainConfig(model_kind="residual")


def test_tensorflow_stays_frozen_and_a_dropped_model_is_collected():
    """TensorFlow's objects are frozen once (engine.core.runtime), so that no full collection walks them and
    stalls the GUI for ~250 ms, at the start of a training or during it; the models are not frozen, so one
    that nothing holds any more is freed by the next collection, and trainings freeze nothing more."""
    import gc
    import weakref

    data = tiny_images()
    first = weakref.ref(train(TrainConfig(epochs=1, batch_size=8, code_size=4), data).model)
    frozen = gc.get_freeze_count()
    assert frozen > 100_000  # TensorFlow's objects: a full collection skips them
    gc.collect()
    assert first() is None
    train(TrainConfig(epochs=1, batch_size=8, code_size=4), data)
    assert gc.get_freeze_count() == frozen
