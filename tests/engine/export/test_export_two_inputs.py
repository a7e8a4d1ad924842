"""engine.export with a two-input model, the noise-level-aware denoiser (inputs `noisy` and `noise_level`):
every format round-trips with both inputs named, is verified like one-input models, and the options
that make no sense for it (a part, built-in scaling) are refused in one clear line."""
import json
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.timeout(180)

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from engine.core.errors import ConfigError, ExportError, ModelError  # noqa: E402
from engine.export import formats as export_formats  # noqa: E402
from engine.export import writer as export  # noqa: E402
from engine.export.formats import onnx_support  # noqa: E402
from engine.export.inputs import NOISE_LEVEL_MEANING, sample_feed  # noqa: E402
from engine.export.plans import plan_for_model, plan_for_model_file  # noqa: E402
from engine.export.preprocessing import Preprocessing  # noqa: E402
from engine.export.writer import export_model  # noqa: E402
from engine.models import guards  # noqa: E402
from engine.models.denoiser import build_unet_denoiser  # noqa: E402
from engine.models.files import load_model, save_model  # noqa: E402

TOL = {"keras": 1e-5, "savedmodel": 1e-5, "tflite": 1e-3, "onnx": 1e-4}
NAMES = ["noisy", "noise_level"]
PRE = Preprocessing.rescale(1 / 255)  # what the app does to a photo's pixels (and sigma) first


@pytest.fixture(scope="module")
def unet():
    """A tiny U-Net whose zero-initialised last layer got random weights: its output is not the input."""
    keras.utils.set_random_seed(3)
    model = build_unet_denoiser(3, (8, 16, 32), 1)
    layer = model.get_layer("noise")
    rng = np.random.default_rng(3)
    layer.set_weights([rng.normal(0, 0.2, w.shape).astype(np.float32) for w in layer.get_weights()])
    return model


def _feed(h=24, w=40, n=3, seed=1):
    """Images of another size than the writer's own samples, each with its own constant noise level."""
    rng = np.random.default_rng(seed)
    noisy = rng.uniform(0, 1, (n, h, w, 3)).astype(np.float32)
    level = np.broadcast_to(np.array([5, 30, 60][:n], np.float32).reshape(-1, 1, 1, 1) / 255, noisy.shape)
    return {"noisy": noisy, "noise_level": np.ascontiguousarray(level)}


def _app(model, feed):
    return np.asarray(model([feed["noisy"], feed["noise_level"]], training=False))


def _run(path, fmt, feed):
    """Run a written export by its input names, independently of engine.export's own readers;
    returns (output, the input names the file declares)."""
    if fmt == "keras":
        loaded = load_model(path)
        return np.asarray(loaded([feed[n] for n in NAMES])), [t.name for t in loaded.inputs]
    if fmt == "savedmodel":
        loaded = tf.saved_model.load(str(path))
        _args, kwargs = loaded.signatures["serving_default"].structured_input_signature
        out = loaded.signatures["serving_default"](**{k: tf.constant(v) for k, v in feed.items()})
        return np.asarray(next(iter(out.values()))), sorted(kwargs)
    if fmt == "onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(None, feed)[0], [i.name for i in session.get_inputs()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interpreter = tf.lite.Interpreter(model_path=str(path))
    runner = interpreter.get_signature_runner()
    rows = [runner(**{k: v[i:i + 1] for k, v in feed.items()}) for i in range(len(feed["noisy"]))]
    return np.concatenate([next(iter(r.values())) for r in rows]), sorted(runner.get_input_details())


FORMATS = ["keras", "savedmodel", "tflite", "onnx"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_round_trips_with_both_inputs_named(fmt, unet, tmp_path):
    if fmt == "onnx" and not onnx_support()[0]:
        pytest.skip(onnx_support()[1])
    report = export_model(unet, fmt, "model", tmp_path / "unet", metadata={"model_name": unet.name},
                          preprocessing=PRE, include_preprocessing=False)
    assert report.max_abs_diff <= TOL[fmt]
    feed = _feed()
    got, names = _run(report.path, fmt, feed)
    expected = _app(unet, feed)
    assert sorted(names) == sorted(NAMES)
    np.testing.assert_allclose(got, expected, atol=TOL[fmt])
    assert np.max(np.abs(expected - feed["noisy"])) > 0.05  # not the identity: the comparison means something
    louder = {**feed, "noise_level": feed["noise_level"] * 4}
    assert np.max(np.abs(_run(report.path, fmt, louder)[0] - expected)) > 1e-3  # the level input is wired in
    meta = json.loads(report.metadata_path.read_text())
    assert meta["input_names"] == NAMES and meta["noise_level"] == NOISE_LEVEL_MEANING
    assert [e["name"] for e in meta["inputs"]] == NAMES and "sigma/255" in meta["inputs"][1]["is"]
    assert meta["input_shape"] == [[None, None, None, 3]] * 2 and meta["output_shape"] == [None, None, None, 3]
    assert meta["preprocessing_in_graph"] is False and meta["max_abs_diff"] == report.max_abs_diff
    assert "noise_level" in meta["input_is"] and meta["model_name"] == unet.name


def test_the_model_file_plan_describes_the_denoiser(unet, tmp_path):
    save_model(unet, tmp_path / "u.keras")
    plan = plan_for_model_file(tmp_path / "u.keras")
    assert plan.preprocessing.kind == "rescale" and plan.samples is None
    digits = type("Data", (), {"x_val": np.zeros((4, 28, 28, 1), np.float32), "summary": lambda self: "digits"})()
    assert plan_for_model(unet, None, digits).samples is None  # the digits do not fit it: its own samples
    report = export_model(plan.model, "keras", "model", tmp_path / "out", metadata=plan.metadata,
                          preprocessing=plan.preprocessing, sample_inputs=plan.samples, include_preprocessing=False)
    assert report.max_abs_diff <= TOL["keras"] and any("sigma" in note for note in report.notes)


@pytest.mark.parametrize("part,built_in,words", [("encoder", False, "no separate encoder"),
                                                 ("decoder", False, "no separate decoder"),
                                                 ("model", True, "scaling cannot be built into")])
def test_meaningless_options_are_refused_in_one_line(part, built_in, words, unet, tmp_path):
    with pytest.raises(ExportError, match=words) as caught:
        export_model(unet, "keras", part, tmp_path / "out", metadata={}, preprocessing=PRE,
                     include_preprocessing=built_in)
    text = str(caught.value)
    assert "\n" not in text and "noisy and noise_level" in text
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["keras", "savedmodel"])  # a file, and a folder swapped in
def test_a_wrong_two_input_export_is_refused_and_nothing_is_written(fmt, unet, tmp_path, monkeypatch):
    reader = {"keras": "run_keras", "savedmodel": "run_savedmodel"}[fmt]
    real = getattr(export, reader)
    monkeypatch.setattr(export, reader, lambda path, feed: np.asarray(real(path, feed)) + np.float32(10 * TOL[fmt]))
    with pytest.raises(ExportError, match="differs from the app's model .* not written"):
        export_model(unet, fmt, "model", tmp_path / "out", metadata={}, include_preprocessing=False)
    assert list(tmp_path.iterdir()) == []


def test_a_batch_one_tflite_file_is_run_one_sample_at_a_time(unet, tmp_path, monkeypatch):
    def batch_one(graph):
        with tempfile.TemporaryDirectory() as folder:
            export_formats.save_tf(graph, Path(folder), 1)
            return tf.lite.TFLiteConverter.from_saved_model(folder).convert(), True

    monkeypatch.setattr(export, "tflite_bytes", batch_one)
    report = export_model(unet, "tflite", "model", tmp_path / "one", metadata={}, include_preprocessing=False)
    assert report.max_abs_diff <= TOL["tflite"] and any("batch size 1" in note for note in report.notes)
    meta = json.loads(report.metadata_path.read_text())
    assert meta["input_shape"] == [[1, None, None, 3]] * 2 and meta["output_shape"][0] == 1
    assert [e["shape"][0] for e in meta["inputs"]] == [1, 1]


def test_sample_inputs_in_every_form(unet):
    feed = _feed(16, 32, n=2)
    made = sample_feed(unet)  # made up: 32x32 images, a constant level per sample, 25/255 first
    assert list(made) == NAMES and made["noisy"].shape == made["noise_level"].shape == (4, 32, 32, 3)
    assert made["noise_level"][0].min() == made["noise_level"][0].max() == pytest.approx(25 / 255)
    for given in (feed, [feed["noisy"], feed["noise_level"]]):
        got = sample_feed(unet, given)
        assert all(np.array_equal(got[n], feed[n]) for n in NAMES)
    alone = sample_feed(unet, feed["noisy"])  # the images alone get a level map
    assert np.array_equal(alone["noisy"], feed["noisy"]) and alone["noise_level"].shape == feed["noisy"].shape
    with pytest.raises(ExportError, match="multiples of 8"):
        sample_feed(unet, np.zeros((2, 28, 28, 3)))
    with pytest.raises(ExportError, match="lack noise_level"):
        sample_feed(unet, {"noisy": feed["noisy"]})
    with pytest.raises(ExportError, match="noise_level have shape"):
        sample_feed(unet, [feed["noisy"], feed["noise_level"][..., :1]])
    with pytest.raises(ExportError, match="same number"):
        sample_feed(unet, [feed["noisy"], feed["noise_level"][:1]])


def test_other_places_describe_the_two_inputs(unet):
    with pytest.raises(ModelError, match="two inputs, noisy .* and noise_level .* Denoise tab") as caught:
        guards.check_fits(unet, (28, 28, 1))  # the Reconstruction tab after File > Open model
    assert "(None" not in str(caught.value)
    with pytest.raises(ConfigError, match="noise-level-aware denoiser"):
        guards.require_generative(unet)  # the Sampling tab
    assert guards.takes_text(unet).startswith("a noisy image and its noise-level map")
