"""engine.export.writer: every format round-trips, preprocessing can be built in, writes are atomic."""
import json
import os
import warnings

import numpy as np
import pytest

from engine.core import fileio

pytestmark = pytest.mark.timeout(60)

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from engine.export import formats as export_formats  # noqa: E402
from engine.export import writer as export  # noqa: E402
from engine.core.config import EXPORT_SUFFIXES, TrainConfig  # noqa: E402
from engine.core.errors import ExportError  # noqa: E402
from engine.export.formats import onnx_support  # noqa: E402
from engine.export.plans import metadata_for, part_of  # noqa: E402
from engine.export.preprocessing import Preprocessing  # noqa: E402
from engine.export.writer import export_model  # noqa: E402
from engine.models.builders import build_autoencoder, decoder_of, encoder_of  # noqa: E402
from engine.models.files import load_model  # noqa: E402

TOL = {"keras": 1e-5, "savedmodel": 1e-5, "tflite": 1e-3, "onnx": 1e-4}
META_KEYS = {"app", "format", "part", "input_shape", "output_shape", "input_dtype", "preprocessing",
             "preprocessing_in_graph", "max_abs_diff", "created"}


@pytest.fixture(scope="module")
def dense():
    keras.utils.set_random_seed(1)
    return build_autoencoder(TrainConfig(model_kind="dense", code_size=3), (8,))


@pytest.fixture(scope="module")
def conv():
    keras.utils.set_random_seed(2)
    return build_autoencoder(TrainConfig(model_kind="conv", code_size=2, filters=4), (8, 8, 1))


def _samples(shape, n=3, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, (n,) + tuple(shape)).astype(np.float32)


def _run(path, fmt, x):
    """Run a written export independently of engine.export.writer's own verification."""
    if fmt == "keras":
        return np.asarray(load_model(path)(x))
    if fmt == "savedmodel":
        loaded = tf.saved_model.load(str(path))
        return np.asarray(loaded.serve(tf.constant(x)))
    if fmt == "onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(None, {session.get_inputs()[0].name: x})[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interpreter = tf.lite.Interpreter(model_path=str(path))
    inp = interpreter.get_input_details()[0]
    out = []
    for row in x:  # one at a time works for both any-batch and batch-1 files
        interpreter.resize_tensor_input(inp["index"], [1, *row.shape])
        interpreter.allocate_tensors()
        interpreter.set_tensor(inp["index"], row[None])
        interpreter.invoke()
        out.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))
    return np.concatenate(out)


def _part(model, part):
    return {"model": model, "encoder": encoder_of(model), "decoder": decoder_of(model)}[part]


ROUND_TRIPS = [("keras", "conv", "model"), ("keras", "conv", "encoder"), ("keras", "conv", "decoder"),
               ("keras", "dense", "model"), ("savedmodel", "dense", "model"), ("savedmodel", "dense", "encoder"),
               ("savedmodel", "dense", "decoder"), ("savedmodel", "conv", "model"), ("tflite", "conv", "model"),
               ("tflite", "dense", "decoder")]


@pytest.mark.parametrize("fmt,which,part", ROUND_TRIPS)
def test_round_trip(fmt, which, part, dense, conv, tmp_path):
    model = dense if which == "dense" else conv
    chosen = _part(model, part)
    x = _samples(chosen.input_shape[1:])
    report = export_model(model, fmt, part, tmp_path / "out", metadata={"kind": which}, sample_inputs=x)
    assert report.path == tmp_path / ("out" + EXPORT_SUFFIXES[fmt])
    assert report.format == fmt and report.part == part
    assert report.max_abs_diff <= TOL[fmt]
    got = _run(report.path, fmt, x)
    expected = np.asarray(chosen(x))
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=TOL[fmt])
    meta = json.loads(report.metadata_path.read_text())  # the shapes the exported file takes and gives
    assert meta["input_shape"][1:] == list(chosen.input_shape[1:])
    assert meta["output_shape"][1:] == list(chosen.output_shape[1:])
    fixed = any("batch size 1" in note for note in report.notes)
    assert meta["input_shape"][0] == meta["output_shape"][0] == (1 if fixed else None)
    if fmt == "savedmodel":
        assert report.metadata_path == report.path / "autoencoder_studio.json"
        assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary folder left beside it
    else:
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted([report.path.name, report.metadata_path.name])


def test_rescale_built_in_takes_raw_pixels(conv, tmp_path):
    raw = np.random.default_rng(3).integers(0, 256, (3, 8, 8, 1)).astype(np.float32)
    pre = Preprocessing.rescale(1 / 255)
    report = export_model(conv, "savedmodel", "model", tmp_path / "sm", metadata={}, preprocessing=pre,
                          sample_inputs=raw)
    got = _run(report.path, "savedmodel", raw)
    np.testing.assert_allclose(got, np.asarray(conv(raw / 255.0)), atol=1e-5)
    assert not np.allclose(got, np.asarray(conv(raw)), atol=1e-3)  # the scaling really is inside
    meta = json.loads(report.metadata_path.read_text())
    assert meta["preprocessing_in_graph"] is True and meta["preprocessing"]["kind"] == "rescale"


def test_encoder_with_rescale_not_built_in(conv, tmp_path):
    x = _samples((8, 8, 1))
    report = export_model(conv, "keras", "encoder", tmp_path / "enc.keras", metadata={},
                          preprocessing=Preprocessing.rescale(), sample_inputs=x, include_preprocessing=False)
    np.testing.assert_allclose(_run(report.path, "keras", x), np.asarray(encoder_of(conv)(x)), atol=1e-5)
    meta = json.loads(report.metadata_path.read_text())
    assert meta["preprocessing_in_graph"] is False and "snippet" in meta["preprocessing"]


def test_standardize_built_in_and_snippet(dense, tmp_path):
    from engine.anomaly.data import Scaler

    rng = np.random.default_rng(4)
    table = rng.normal(100.0, 20.0, (50, 8)) * np.arange(1, 9)
    scaler = Scaler.fit(table)
    pre = Preprocessing.from_scaler(scaler)
    raw = table[:4].astype(np.float32)
    report = export_model(dense, "keras", "model", tmp_path / "std", metadata={}, preprocessing=pre,
                          sample_inputs=raw)
    assert report.max_abs_diff <= 1e-5
    np.testing.assert_allclose(_run(report.path, "keras", raw), np.asarray(dense(scaler.transform(raw))),
                               atol=1e-5)
    scope = {"np": np, "raw": raw}
    exec(pre.snippet(), scope)  # the documented snippet applies it exactly
    np.testing.assert_allclose(scope["x"], scaler.transform(raw), atol=1e-6)


def test_metadata_file(dense, tmp_path):
    from engine.core.config import TrainConfig as Config

    caller = metadata_for(dense, Config(model_kind="dense", code_size=3), "8 features, 50 rows",
                          {"val_loss": np.float32(0.25)}, threshold=0.1)
    report = export_model(dense, "keras", "encoder", tmp_path / "m", metadata=caller)
    assert report.metadata_path == tmp_path / "m.keras.json"
    meta = json.loads(report.metadata_path.read_text())
    assert META_KEYS <= set(meta)
    assert meta["app"] == "Autoencoder Studio" and meta["part"] == "encoder" and meta["format"] == "keras"
    assert meta["input_shape"] == [None, 8] and meta["output_shape"] == [None, 3]
    assert meta["training_config"]["code_size"] == 3 and meta["anomaly_threshold"] == 0.1
    assert meta["metrics"]["val_loss"] == pytest.approx(0.25) and meta["dataset"] == "8 features, 50 rows"
    assert meta["max_abs_diff"] == report.max_abs_diff
    import hashlib  # the description names the file it describes

    assert meta["sha256"] == hashlib.sha256((tmp_path / "m.keras").read_bytes()).hexdigest()
    assert (tmp_path / "m.keras").stat().st_mode & 0o777 == 0o666 & ~fileio._UMASK  # not mkstemp's 0600


def test_a_savedmodel_folder_gets_normal_permissions(dense, tmp_path):
    export_model(dense, "savedmodel", "model", tmp_path / "sm", metadata={})
    assert (tmp_path / "sm").stat().st_mode & 0o777 == 0o777 & ~fileio._UMASK


@pytest.mark.parametrize("fmt", ["keras", "savedmodel"])
def test_read_only_folder(fmt, dense, read_only_folder):
    with pytest.raises(ExportError, match="Could not write .*Permission denied") as caught:
        export_model(dense, fmt, "model", read_only_folder / "out", metadata={})
    assert ".tmp" not in str(caught.value)  # the target's name, not the temporary file's
    assert list(read_only_folder.iterdir()) == []


@pytest.mark.parametrize("fmt", ["keras", "savedmodel"])
def test_unwritable_folder_simulated(fmt, dense, tmp_path, monkeypatch):
    """What the OS says for a read-only folder, also when the tests run as root."""
    import tempfile

    def denied(*_args, **_kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    monkeypatch.setattr(tempfile, "mkdtemp", denied)
    with pytest.raises(ExportError, match="Could not write .*Permission denied"):
        export_model(dense, fmt, "model", tmp_path / "out", metadata={})
    assert list(tmp_path.iterdir()) == []


READERS = {"keras": "run_keras", "savedmodel": "run_savedmodel", "tflite": "run_tflite"}


def _perturb_reader(monkeypatch, fmt, offset):
    """Make the written file, as read back, differ from the app's model by `offset` (a wrong export)."""
    real = getattr(export, READERS[fmt])
    monkeypatch.setattr(export, READERS[fmt], lambda path, x: np.asarray(real(path, x)) + np.float32(offset))


@pytest.mark.parametrize("fmt", ["keras", "savedmodel", "tflite"])
def test_a_wrong_export_is_refused_and_nothing_is_written(fmt, dense, tmp_path, monkeypatch):
    _perturb_reader(monkeypatch, fmt, 10 * TOL[fmt])
    with pytest.raises(ExportError, match="differs from the app's model .* not written"):
        export_model(dense, fmt, "model", tmp_path / "out", metadata={})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["keras", "savedmodel"])
def test_a_wrong_export_leaves_the_previous_export_untouched(fmt, dense, tmp_path, monkeypatch):
    first = export_model(dense, fmt, "model", tmp_path / "out", metadata={"run": 1})
    files = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    before = {p: p.read_bytes() for p in files}
    _perturb_reader(monkeypatch, fmt, 10 * TOL[fmt])
    with pytest.raises(ExportError, match="differs"):
        export_model(dense, fmt, "model", tmp_path / "out", metadata={"run": 2})
    assert sorted(p for p in tmp_path.rglob("*") if p.is_file()) == files
    assert all(p.read_bytes() == before[p] for p in files)
    assert json.loads(first.metadata_path.read_text())["run"] == 1


def test_an_export_giving_nan_is_refused(dense, tmp_path, monkeypatch):
    _perturb_reader(monkeypatch, "keras", np.nan)
    with pytest.raises(ExportError, match="differs"):
        export_model(dense, "keras", "model", tmp_path / "out", metadata={})
    assert list(tmp_path.iterdir()) == []


def test_a_small_difference_within_the_tolerance_is_accepted_and_reported(dense, tmp_path, monkeypatch):
    _perturb_reader(monkeypatch, "keras", 0.5 * TOL["keras"])
    report = export_model(dense, "keras", "model", tmp_path / "out", metadata={})
    assert report.max_abs_diff == pytest.approx(0.5 * TOL["keras"], rel=0.05)
    assert json.loads(report.metadata_path.read_text())["max_abs_diff"] == report.max_abs_diff


def test_the_tolerance_scales_with_the_outputs_and_includes_its_bound(monkeypatch):
    monkeypatch.setitem(export.TOLERANCES, "keras", 0.25)  # exact in binary: the bound itself is tested
    small, big = np.zeros((2, 3), np.float32), np.full((2, 3), 4.0, np.float32)
    assert export._check("keras", small + 0.25, small) == 0.25  # |diff| == limit passes
    with pytest.raises(ExportError):
        export._check("keras", small + 0.5, small)
    assert export._check("keras", big + 1.0, big) == 1.0  # limit 0.25 x max(1, 4)
    with pytest.raises(ExportError):
        export._check("keras", big + 1.5, big)
    with pytest.raises(ExportError, match="shape"):
        export._check("keras", np.zeros((2, 4), np.float32), small)
    with pytest.raises(ExportError, match="shape"):
        export._check("keras", np.zeros((2, 2), np.float32), small)  # smaller too
    with pytest.raises(ExportError, match="no output to compare"):
        export._check("keras", small[:0], small[:0])


@pytest.mark.parametrize("fmt", ["keras", "savedmodel"])
def test_failure_leaves_nothing(fmt, dense, tmp_path, monkeypatch):
    def refuse(*_args):
        raise ExportError("verification failed")

    monkeypatch.setattr(export, "_check", refuse)
    with pytest.raises(ExportError, match="verification failed"):
        export_model(dense, fmt, "model", tmp_path / "out", metadata={})
    assert list(tmp_path.iterdir()) == []


def test_savedmodel_over_existing_folder(dense, tmp_path, monkeypatch):
    target = tmp_path / "sm"
    export_model(dense, "savedmodel", "model", target, metadata={"run": 1})
    export_model(dense, "savedmodel", "encoder", target, metadata={"run": 2})
    assert (target / "saved_model.pb").is_file()
    assert json.loads((target / "autoencoder_studio.json").read_text())["run"] == 2
    assert _run(target, "savedmodel", _samples((8,))).shape == (3, 3)  # the encoder replaced the model
    assert [p.name for p in tmp_path.iterdir()] == ["sm"]

    real_replace = os.replace

    def failing_swap(src, dst):  # moving the old folder aside works, renaming the new one in fails
        if str(dst) == str(target) and ".tmp" in str(src):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(export.os, "replace", failing_swap)
    with pytest.raises(ExportError, match="No space left"):
        export_model(dense, "savedmodel", "decoder", target, metadata={"run": 3})
    assert json.loads((target / "autoencoder_studio.json").read_text())["run"] == 2  # the old one is back
    assert (target / "saved_model.pb").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["sm"]


def test_savedmodel_refuses_foreign_folder(dense, tmp_path):
    target = tmp_path / "photos"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="not an earlier SavedModel"):
        export_model(dense, "savedmodel", "model", target, metadata={})
    assert [p.name for p in target.iterdir()] == ["keep.txt"]


def test_onnx_round_trips_or_explains(dense, tmp_path):
    ok, reason = onnx_support()
    assert reason
    x = _samples((8,))
    if not ok:
        with pytest.raises(ExportError) as caught:
            export_model(dense, "onnx", "model", tmp_path / "m", metadata={}, sample_inputs=x)
        assert str(caught.value) == reason
        assert list(tmp_path.iterdir()) == []
        return
    report = export_model(dense, "onnx", "model", tmp_path / "m", metadata={}, sample_inputs=x)
    assert report.path.name == "m.onnx" and report.max_abs_diff <= 1e-4
    np.testing.assert_allclose(_run(report.path, "onnx", x), np.asarray(dense(x)), atol=1e-4)


def test_onnx_missing_converter_is_explained(dense, tmp_path, monkeypatch):
    real = export_formats.importlib.util.find_spec
    monkeypatch.setattr(export_formats.importlib.util, "find_spec",
                        lambda name, *a: None if name == "tf2onnx" else real(name, *a))
    ok, reason = onnx_support()
    assert not ok and "tf2onnx" in reason
    with pytest.raises(ExportError, match="tf2onnx"):
        export_model(dense, "onnx", "model", tmp_path / "m", metadata={})
    assert list(tmp_path.iterdir()) == []


def test_vae_exports_the_deterministic_path(tmp_path):
    keras.utils.set_random_seed(5)
    vae = build_autoencoder(TrainConfig(model_kind="vae", code_size=2), (4, 4, 1))
    x = _samples((4, 4, 1))
    report = export_model(vae, "keras", "model", tmp_path / "vae", metadata={}, sample_inputs=x)
    assert any("z_mean" in note for note in report.notes)
    np.testing.assert_allclose(_run(report.path, "keras", x), np.asarray(vae(x)), atol=1e-5)
    encoder = part_of(vae, "encoder")
    assert len(encoder.outputs) == 1
    np.testing.assert_allclose(np.asarray(encoder(x)), np.asarray(vae.encoder(x)[0]), atol=1e-6)


def test_bad_requests(dense, tmp_path):
    denoiser = build_autoencoder(TrainConfig(model_kind="residual", depth=3, filters=2, noise_factor=0.1,
                                             loss="mse"), (8, 8, 1))
    with pytest.raises(ExportError, match="no separate encoder"):
        part_of(denoiser, "encoder")
    with pytest.raises(ExportError, match="Unknown part"):
        part_of(dense, "middle")
    with pytest.raises(ExportError, match="Unknown format"):
        export_model(dense, "pickle", "model", tmp_path / "m", metadata={})
    with pytest.raises(ExportError, match="does not exist"):
        export_model(dense, "keras", "model", tmp_path / "missing" / "m", metadata={})
    with pytest.raises(ExportError, match="sample inputs"):
        export_model(dense, "keras", "model", tmp_path / "m", metadata={}, sample_inputs=np.zeros((2, 5)))
    with pytest.raises(ExportError):
        Preprocessing("standardize", mean=(1.0,), std=(0.0,))
    assert list(tmp_path.iterdir()) == []
