"""The export formats' writers and readers: build a SavedModel, TFLite flatbuffer or ONNX model
from a Keras graph, and run a written file again (engine.export.writer compares that output with the
app's model before the file is renamed into place). TensorFlow, tf2onnx and onnxruntime are
imported by the function that needs them. A model with several inputs (engine.export.inputs) keeps
their names in every format and is run with a dict {input name: array}."""
from __future__ import annotations

import importlib.util
import tempfile
import warnings
from pathlib import Path

import keras
import numpy as np

from engine.core.errors import ExportError
from engine.export.inputs import input_names, predict_feed, several_inputs

ONNX_OPSET = 17


def first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def onnx_support() -> tuple[bool, str]:
    """(available, explanation). Checks that the converter (tf2onnx) and onnxruntime (used to verify
    every ONNX export) are installed; imports nothing heavy."""
    missing = [name for name in ("tf2onnx", "onnx", "onnxruntime") if importlib.util.find_spec(name) is None]
    if missing:
        return False, (f"ONNX export needs the packages tf2onnx, onnx and onnxruntime (missing: {', '.join(missing)}). "
                       f"Install them with `pip install tf2onnx onnxruntime` (tf2onnx 1.17 works with TensorFlow "
                       f"2.21 / Keras 3) and restart the app, or export as SavedModel and convert it yourself with "
                       f"`python -m tf2onnx.convert --saved-model FOLDER --output model.onnx`.")
    return True, "ONNX export via tf2onnx (opset %d), verified with onnxruntime." % ONNX_OPSET


def input_specs(graph: keras.Model, batch: int | None = None) -> list:
    """One tf.TensorSpec per input, batch size `batch` (None: any): named "input" for a one-input model,
    else by the model's input names (so the exported signature takes e.g. `noisy` and `noise_level`)."""
    import tensorflow as tf

    if not several_inputs(graph):
        return [tf.TensorSpec((batch,) + tuple(graph.input_shape[1:]), tf.float32, name="input")]
    return [tf.TensorSpec((batch,) + tuple(t.shape[1:]), tf.float32, name=name)
            for name, t in zip(input_names(graph), graph.inputs)]


def save_tf(graph: keras.Model, folder: Path, batch: int | None = None) -> None:
    """`graph.export` (Keras 3: a TF SavedModel with a `serve` endpoint), batch size `batch` (None: any)."""
    specs = input_specs(graph, batch)
    spec = [{s.name: s for s in specs}] if several_inputs(graph) else specs
    try:
        graph.export(str(folder), format="tf_saved_model", verbose=False, input_signature=spec)
    except OSError:
        raise
    except Exception as exc:
        raise ExportError(f"Could not build the TensorFlow SavedModel: {first_line(exc)}") from exc


def tflite_bytes(graph: keras.Model) -> tuple[bytes, bool]:
    """(the .tflite flatbuffer, whether its batch size is fixed at 1). Any batch size is tried first;
    some graphs (UpSampling2D before a convolution) keep TF ops unless all shapes are static."""
    import tensorflow as tf

    error: Exception | None = None
    for batch in (None, 1):
        with tempfile.TemporaryDirectory(prefix="aes_tflite_") as folder:
            save_tf(graph, Path(folder), batch)
            try:
                return tf.lite.TFLiteConverter.from_saved_model(folder).convert(), batch is not None
            except Exception as exc:
                error = exc
    raise ExportError(f"TensorFlow Lite could not convert this model: {first_line(error)}. "
                      f"Export a SavedModel instead.") from error


def onnx_bytes(graph: keras.Model, feed) -> bytes:
    import tf2onnx

    spec = tuple(input_specs(graph))
    try:
        proto, _ = tf2onnx.convert.from_keras(graph, input_signature=spec, opset=ONNX_OPSET)
    except Exception as exc:
        raise ExportError(f"tf2onnx could not convert this model to ONNX: {first_line(exc)}. "
                          f"Export a SavedModel instead.") from exc
    return proto.SerializeToString()


def run_keras(path: Path, x: np.ndarray) -> np.ndarray:
    from engine.models.files import load_model
    from engine.core.errors import ModelError

    try:
        return predict_feed(load_model(path), x)
    except ModelError as exc:
        raise ExportError(f"The written .keras file could not be opened again: {exc}") from exc


def run_savedmodel(folder: Path, x: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    try:
        loaded = tf.saved_model.load(str(folder))  # keep a reference: serve() needs its variables alive
        if isinstance(x, dict):
            return np.asarray(loaded.serve({name: tf.constant(v) for name, v in x.items()}))
        return np.asarray(loaded.serve(tf.constant(x)))
    except Exception as exc:
        raise ExportError(f"The written SavedModel could not be run again: {first_line(exc)}") from exc


def run_tflite(path: Path, x: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    try:
        with warnings.catch_warnings():  # tf.lite.Interpreter's deprecation notice (LiteRT): still in TF 2.21
            warnings.simplefilter("ignore")
            interpreter = tf.lite.Interpreter(model_path=str(path))
        if isinstance(x, dict):
            return _run_tflite_named(interpreter, x)
        inp = interpreter.get_input_details()[0]
        fixed = int(inp["shape_signature"][0]) > 0  # -1: any batch size
        batches = [x[i:i + 1] for i in range(len(x))] if fixed else [x]
        interpreter.resize_tensor_input(inp["index"], list(batches[0].shape))
        interpreter.allocate_tensors()
        out = []
        for batch in batches:
            interpreter.set_tensor(inp["index"], batch.astype(np.float32))
            interpreter.invoke()
            out.append(np.array(interpreter.get_tensor(interpreter.get_output_details()[0]["index"])))
        return np.concatenate(out)
    except Exception as exc:
        raise ExportError(f"The written TFLite model could not be run again: {first_line(exc)}") from exc


def _run_tflite_named(interpreter, feed: dict) -> np.ndarray:
    """Run a .tflite file with several inputs through its signature, by input name."""
    runner = interpreter.get_signature_runner()
    details = runner.get_input_details()
    fixed = any(int(d["shape_signature"][0]) > 0 for d in details.values())  # -1: any batch size
    n = len(next(iter(feed.values())))
    out = []
    for rows in ([slice(i, i + 1) for i in range(n)] if fixed else [slice(0, n)]):
        result = runner(**{name: np.ascontiguousarray(v[rows], np.float32) for name, v in feed.items()})
        out.append(np.array(next(iter(result.values()))))
    return np.concatenate(out)


def run_onnx(path: Path, x) -> np.ndarray:
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]
        if isinstance(x, dict):
            arrays = [x[n] for n in names] if set(names) == set(x) else list(x.values())
        else:
            arrays = [x]
        return np.asarray(session.run(None, {n: a.astype(np.float32) for n, a in zip(names, arrays)})[0])
    except Exception as exc:
        raise ExportError(f"onnxruntime cannot run the ONNX file tf2onnx made from this model: {first_line(exc)} "
                          f"(tf2onnx 1.17 cannot express every TensorFlow op, e.g. the exact GELU of the transformer "
                          f"model). Export a SavedModel or TensorFlow Lite file instead.") from exc
