"""The heavy half of ``tflint compare``: what runs in child processes.

Every function here is called through :func:`tflint.isolation.run_isolated`
and imports TensorFlow or LiteRT itself; the lint path never imports this
module.  The parent sends paths and plain options and receives plain dicts.

:func:`analyse` loads the Keras model (safe mode), converts it when asked,
runs Keras (a ``tf.function``, graph mode) and the ``.tflite`` on the same
inputs, measures the error per output, and for a quantized model the error
of every op's output against the float model (all tensors kept with
``experimental_preserve_all_tensors``).  For calibrated quantizations
(int8) it re-quantizes the same calibration with the worst ops
kept in float (``denylisted_nodes``, as the TensorFlow quantization
debugger does) and measures what that buys.  :func:`time_keras` and
:func:`time_tflite` measure latency and peak memory, one engine and thread
count per process so that neither pollutes the other's memory figure.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from tflint.compare_metrics import ErrorStats, rank_layers, rerank_by_output, to_layer_rows

#: Evaluation samples when the caller does not say.
DEFAULT_SAMPLES = 16
#: Worst ops (by their own error) re-quantized in float to rank them by their effect on
#: the outputs.
DEFAULT_SCREEN = 6
#: Calibration samples drawn when there is no representative data.
CALIBRATION_SAMPLES = 32
#: Integer inputs without quantization are drawn from [0, INTEGER_INPUT_HIGH).
INTEGER_INPUT_HIGH = 8
#: Quantizations made from a calibrated model by the MLIR quantizer, which can keep
#: named ops in float.  (The converter quantizes 16x8 with its older calibrator, which has
#: no deny list.)
_CALIBRATED_MODES = ("int8",)


class InputsError(ValueError):
    """The ``--inputs`` file does not fit the model."""


# -- inputs -----------------------------------------------------------------------------------


def input_specs(model: Any) -> list[dict[str, Any]]:
    """Name, shape (batch included) and dtype of each Keras input."""
    specs = []
    for tensor in model.inputs:
        name = tensor.name.split(":")[0]
        specs.append({"name": name, "shape": [int(d) if d is not None else 1
                                               for d in tensor.shape],
                      "dtype": str(tensor.dtype).replace("tf.", "")})
    return specs


def make_inputs(specs: list[dict[str, Any]], samples: int, seed: int) -> list[dict[str, Any]]:
    """Seeded inputs: floats uniform in [-1, 1], integers in [0, INTEGER_INPUT_HIGH)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(samples):
        batch = {}
        for spec in specs:
            dtype = np.dtype(spec["dtype"])
            if np.issubdtype(dtype, np.floating):
                batch[spec["name"]] = rng.uniform(-1.0, 1.0, spec["shape"]).astype(dtype)
            elif dtype == np.bool_:
                batch[spec["name"]] = rng.integers(0, 2, spec["shape"]).astype(dtype)
            else:
                batch[spec["name"]] = rng.integers(0, INTEGER_INPUT_HIGH,
                                                   spec["shape"]).astype(dtype)
        batches.append(batch)
    return batches


def read_inputs(path: str, specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Samples from an ``.npz`` of arrays by input name: each array shaped as the input,
    or with one more leading dimension holding several samples."""
    import numpy as np

    try:
        archive = np.load(path, allow_pickle=False)
        arrays = {key: archive[key] for key in archive.files}
    except Exception as exc:  # numpy raises many kinds for a file that is no npz
        raise InputsError(f"cannot read the inputs: {exc}") from None
    names = [spec["name"] for spec in specs]
    missing = [n for n in names if n not in arrays]
    extra = sorted(set(arrays) - set(names))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"no array for input{'s' if len(missing) > 1 else ''} "
                         f"{', '.join(map(repr, missing))}")
        if extra:
            parts.append(f"array{'s' if len(extra) > 1 else ''} "
                         f"{', '.join(map(repr, extra))} name no input")
        raise InputsError(f"{'; '.join(parts)} (the model's inputs: {', '.join(names)})")
    counts = set()
    stacked = {}
    for spec in specs:
        array, shape = arrays[spec["name"]], tuple(spec["shape"])
        if tuple(array.shape) == shape:
            array = array[None]
        elif tuple(array.shape[1:]) != shape:
            raise InputsError(f"input {spec['name']!r} has shape {tuple(array.shape)}; the "
                              f"model expects {shape} or (N, {', '.join(map(str, shape))})")
        counts.add(len(array))
        stacked[spec["name"]] = array.astype(spec["dtype"])
    if len(counts) != 1 or 0 in counts:
        raise InputsError("the arrays hold different numbers of samples (or none)")
    return [{name: stacked[name][i] for name in names} for i in range(counts.pop())]


# -- Keras ------------------------------------------------------------------------------------


def _quiet_imports() -> tuple[Any, Any]:
    import contextlib
    import io
    import warnings

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import keras
        import tensorflow as tf
    tf.get_logger().setLevel("ERROR")
    return keras, tf


def load_keras(keras: Any, path: str, batch: int | None) -> Any:
    from tflint.convert import _with_batch

    model = keras.saving.load_model(path, compile=False, safe_mode=True)
    return _with_batch(keras, model, batch) if batch else model


def keras_runner(tf: Any, model: Any) -> Any:
    """The model as a graph-mode function of one batch (a dict by input name)."""
    names = [t.name.split(":")[0] for t in model.inputs]
    function = tf.function(lambda *args: model(list(args) if len(args) > 1 else args[0],
                                               training=False))

    def run(batch: dict[str, Any]) -> list[Any]:
        result = function(*[tf.constant(batch[n]) for n in names])
        outputs = result if isinstance(result, (list, tuple)) else [result]
        if isinstance(result, dict):
            outputs = list(result.values())
        return [o.numpy() for o in outputs]

    return run


# -- LiteRT -----------------------------------------------------------------------------------


class TfliteRunner:
    """A LiteRT interpreter fed by input name, its outputs in the Keras model's order."""

    def __init__(self, content: bytes | None = None, path: str | None = None,
                 threads: int = 1, preserve: bool = False,
                 names: list[str] | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_content=content, model_path=path,
                                       num_threads=threads,
                                       experimental_preserve_all_tensors=preserve)
        self.interpreter.allocate_tensors()
        inputs = self.interpreter.get_input_details()
        outputs = self.interpreter.get_output_details()
        self.input_index: dict[str, dict[str, Any]] = {}
        self.outputs = outputs
        signatures = self.interpreter.get_signature_list()
        if signatures:
            key = next(iter(signatures))
            runner = self.interpreter.get_signature_runner(key)
            by_index = {d["index"]: d for d in inputs}
            for name, detail in runner.get_input_details().items():
                self.input_index[name] = by_index[detail["index"]]
            out_by_index = {d["index"]: d for d in outputs}
            named = runner.get_output_details()
            ordered = [named[k] for k in sorted(named, key=_output_order)]
            self.outputs = [out_by_index[d["index"]] for d in ordered]
        for position, detail in enumerate(inputs):
            if names and position < len(names) and names[position] not in self.input_index:
                self.input_index.setdefault(names[position], detail)

    def run(self, batch: dict[str, Any]) -> list[Any]:
        import numpy as np

        for name, value in batch.items():
            detail = self.input_index[name]
            scale, zero = detail["quantization"]
            if scale and np.issubdtype(detail["dtype"], np.integer) \
                    and np.issubdtype(value.dtype, np.floating):
                info = np.iinfo(detail["dtype"])
                value = np.clip(np.round(value / scale + zero), info.min, info.max)
            self.interpreter.set_tensor(detail["index"], value.astype(detail["dtype"]))
        self.interpreter.invoke()
        return [dequantized(self.interpreter.get_tensor(d["index"]), d) for d in self.outputs]


def _output_order(name: str) -> tuple[int, str]:
    match = re.search(r"(\d+)$", name)
    return (int(match[1]) if match else 0, name)


def dequantized(array: Any, detail: dict[str, Any]) -> Any:
    import numpy as np

    scale, zero = detail["quantization"]
    if scale and np.issubdtype(array.dtype, np.integer):
        return (array.astype(np.float64) - zero) * scale
    return array.astype(np.float64)


def quantize_inputs(batch: dict[str, Any], runner: TfliteRunner) -> dict[str, Any]:
    """What a quantized input really holds, as floats: Keras then sees the same values."""
    import numpy as np

    result = {}
    for name, value in batch.items():
        detail = runner.input_index.get(name)
        scale, zero = detail["quantization"] if detail else (0.0, 0)
        if scale and detail and np.issubdtype(detail["dtype"], np.integer) \
                and np.issubdtype(value.dtype, np.floating):
            info = np.iinfo(detail["dtype"])
            q = np.clip(np.round(value / scale + zero), info.min, info.max)
            value = ((q - zero) * scale).astype(value.dtype)
        result[name] = value
    return result


# -- conversion -------------------------------------------------------------------------------


def _converter(tf: Any, model: Any) -> Any:
    return tf.lite.TFLiteConverter.from_keras_model(model)


def _calibration(model: Any, path: str | None, seed: int) -> tuple[list[list[Any]], str]:
    from tflint.convert import _samples

    if path is not None:
        samples, note = _samples(model, path)
        return [[s] for s in samples], note
    specs = input_specs(model)
    batches = make_inputs([{**s, "shape": [1, *s["shape"][1:]]} for s in specs],
                          CALIBRATION_SAMPLES, seed)
    return ([[b[s["name"]] for s in specs] for b in batches],
            f"calibrated on {CALIBRATION_SAMPLES} random samples (seed {seed})")


def calibrate(tf: Any, model: Any, mode: str, data: str | None, seed: int) -> tuple[bytes, str]:
    """A float model carrying the calibration statistics (the quantizer's input)."""
    samples, note = _calibration(model, data, seed)
    converter = _converter(tf, model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: iter(samples)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.experimental_mlir_quantizer = True
    converter._experimental_calibrate_only = True
    return _quietly(converter.convert), note


def quantize_calibrated(calibrated: bytes, mode: str, keep_float: list[str],
                        debug: bool = False) -> bytes:
    """The calibrated model quantized, the ops named by their output tensor kept float
    (``debug``: with a ``NumericVerify`` op after each quantized op)."""
    from tensorflow.lite.python import convert as lite_convert

    types = _inference_types()
    return bytes(lite_convert.mlir_quantize(
        calibrated, fully_quantize=False, inference_type=types[mode],
        enable_numeric_verify=debug, denylisted_nodes=keep_float or None))


def _inference_types() -> dict[str, Any]:
    from tensorflow.compiler.mlir.lite import types_pb2

    return {"int8": types_pb2.QUANTIZED_INT8}


def convert_plain(tf: Any, model: Any, mode: str, data: str | None = None,
                  seed: int = 0) -> tuple[bytes, str | None]:
    """A float32, dynamic-range, float16 or 16x8 conversion, and how it was calibrated."""
    converter = _converter(tf, model)
    note = None
    if mode != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if mode == "int16x8":
        samples, note = _calibration(model, data, seed)
        converter.representative_dataset = lambda: iter(samples)
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    return _quietly(converter.convert), note


def _quietly(convert: Any) -> bytes:
    """The converter's result, without the export's listing on standard output."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        return bytes(convert())


def plural_ops(count: int) -> str:
    return f"{count} op{'s' if count != 1 else ''}"


# -- errors -----------------------------------------------------------------------------------


def output_errors(reference: list[list[Any]], measured: list[list[Any]],
                  names: list[str]) -> list[dict[str, Any]]:
    """Per output, over every sample: max and mean abs error, SNR, relative error."""
    rows = []
    for position, name in enumerate(names):
        stats = ErrorStats()
        for ref, got in zip(reference, measured, strict=True):
            stats.add(ref[position], got[position].reshape(ref[position].shape))
        rows.append({"output": name, **stats.summary()})
    return rows


def layer_names_of(model: Any) -> list[str]:
    """The model's layers that hold no layers (a nested model's name would name every op
    inside it)."""
    names: list[str] = []

    def walk(layer: Any) -> None:
        inner = getattr(layer, "layers", None) or []
        if not inner:
            names.append(layer.name)
        for sublayer in inner:
            walk(sublayer)

    for layer in model.layers:
        walk(layer)
    return names


def output_layers(model: Any) -> list[str]:
    """The layer computing each output, looked for inside nested models."""
    result = []
    for tensor in model.outputs:
        history = getattr(tensor, "_keras_history", None)
        layer = history[0] if history else None
        while layer is not None and getattr(layer, "layers", None) and layer.outputs:
            index = history[2] if history and len(history) > 2 else 0
            inner = getattr(layer.outputs[min(index, len(layer.outputs) - 1)],
                            "_keras_history", None)
            if inner is None:
                break
            history, layer = inner, inner[0]
        result.append(layer.name if layer is not None else tensor.name.split(":")[0])
    return result


def op_layers(tensor_name: str, known: set[str]) -> list[str]:
    """Keras layers named in a TFLite tensor name (``model/conv_b_1/convolution;...``)."""
    found: list[str] = []
    for part in re.split(r"[;/]", tensor_name):
        for candidate in (part, re.sub(r"_\d+$", "", part)):
            if candidate in known and candidate not in found:
                found.append(candidate)
                break
    return found


def layer_wise_errors(debug_model: bytes,
                      batches: list[dict[str, Any]]) -> list[tuple[str, str, ErrorStats]]:
    """Each quantized op against the float op fed the same (dequantized) inputs.

    The quantizer's debug model pairs them with a ``NumericVerify`` op, as
    TensorFlow's quantization debugger runs it: the quantized output and the
    float output of the same inputs.  Per op: its output name, type and the
    error of its own.
    """
    runner = TfliteRunner(content=debug_model, preserve=True)
    interpreter = runner.interpreter
    details = interpreter.get_tensor_details()
    ops = [op for op in interpreter._get_ops_details() if op["op_name"] != "DELEGATE"]
    producer = {out: op for op in ops for out in op["outputs"]}
    verified = [(op["inputs"][0], op["inputs"][1]) for op in ops
                if op["op_name"] == "NumericVerify"]
    stats = [ErrorStats() for _ in verified]
    for batch in batches:
        runner.run(batch)
        for (quantized, reference), stat in zip(verified, stats, strict=True):
            want = interpreter.get_tensor(reference)
            got = dequantized(interpreter.get_tensor(quantized), details[quantized])
            stat.add(want, got.reshape(want.shape))
    return [(details[q]["name"], producer[q]["op_name"] if q in producer else "", stat)
            for (q, _), stat in zip(verified, stats, strict=True)]


def attach_layer_wise(rows: list[dict[str, Any]],
                      measured: list[tuple[str, str, ErrorStats]]) -> None:
    """Each row's own error, matched by the quantized tensor's name, else by op type in
    order (the quantizer renames a model output's tensor in its debug model)."""
    by_name = {name: (op, stat) for name, op, stat in measured}
    leftovers = []
    for row in rows:
        found = by_name.pop(row["quantized_tensor"], None)
        if found is None:
            leftovers.append(row)
        else:
            row["layer_wise"] = found[1].summary()
    remaining = [(op, stat) for name, (op, stat) in by_name.items()]
    for row in leftovers:
        index = next((i for i, (op, _) in enumerate(remaining) if op == row["op"]), None)
        if index is not None:
            row["layer_wise"] = remaining.pop(index)[1].summary()


def layer_errors(float_model: bytes, quantized: bytes, batches: list[dict[str, Any]],
                 layers: list[str], outputs: list[str]) -> list[dict[str, Any]]:
    """Every op output of the quantized model against the same tensor of the float one."""
    import numpy as np

    reference = TfliteRunner(content=float_model, preserve=True)
    measured = TfliteRunner(content=quantized, preserve=True)
    ref_tensors = {d["name"]: d for d in reference.interpreter.get_tensor_details()}
    details = measured.interpreter.get_tensor_details()
    ops = [op for op in measured.interpreter._get_ops_details() if op["op_name"] != "DELEGATE"]
    # A quantized output goes through a DEQUANTIZE whose float output keeps the float name.
    float_name: dict[int, str] = {}
    for op in ops:
        for out in op["outputs"]:
            if details[out]["name"] in ref_tensors:
                float_name[out] = details[out]["name"]
    for op in ops:
        if op["op_name"] == "DEQUANTIZE" and op["outputs"][0] in float_name:
            float_name.setdefault(op["inputs"][0], float_name[op["outputs"][0]])
    producer = {out: op for op in ops for out in op["outputs"]}
    graph_outputs = {d["index"] for d in measured.interpreter.get_output_details()}
    to_output = {op["inputs"][0]: op["outputs"][0] for op in ops
                 if op["op_name"] == "DEQUANTIZE" and op["outputs"][0] in graph_outputs}
    known = set(layers)
    rows: dict[int, dict[str, Any]] = {}
    stats: dict[int, ErrorStats] = {}
    candidates = [op for op in ops if op["op_name"] not in ("QUANTIZE", "DEQUANTIZE")]
    for batch in batches:
        reference.run(batch)
        measured.run(batch)
        for op in candidates:
            for out in op["outputs"]:
                name = float_name.get(out)
                if name is None or (out in rows and out not in stats):
                    continue
                got = measured.interpreter.get_tensor(out)
                want = reference.interpreter.get_tensor(ref_tensors[name]["index"])
                if not np.issubdtype(want.dtype, np.floating) or got.size != want.size:
                    continue
                stats.setdefault(out, ErrorStats()).add(
                    want, dequantized(got, details[out]).reshape(want.shape))
                if out not in rows:
                    scale = details[out]["quantization"][0]
                    named = op_layers(name, known)
                    output_index = to_output.get(out, out)
                    if not named and output_index in graph_outputs:
                        position = [d["index"] for d in measured.outputs].index(output_index) \
                            if output_index in [d["index"] for d in measured.outputs] else 0
                        named = [outputs[min(position, len(outputs) - 1)]]
                    rows[out] = {
                        "tensor": name, "quantized_tensor": details[out]["name"],
                        "op": op["op_name"], "op_index": op["index"],
                        "layers": named, "scale": float(scale) if scale else None,
                        "dtype": details[out]["dtype"].__name__,
                        "to_output": output_index in graph_outputs,
                        "inputs": [i for i in op["inputs"] if i in producer],
                    }
    for out, row in rows.items():
        row.update(stats[out].summary())
        row["input_tensors"] = [float_name.get(i) for i in row.pop("inputs")]
    return list(rows.values())


# -- the whole analysis -----------------------------------------------------------------------


def analyse(model_path: str, tflite_path: str | None, work: str,
            options: dict[str, Any]) -> dict[str, Any]:
    """Convert (when no ``.tflite`` is given), run both models, measure the errors."""
    import pickle

    import numpy as np

    keras, tf = _quiet_imports()
    mode = options.get("quantize", "none")
    seed = int(options.get("seed", 0))
    baseline = _current_rss_mb()
    model = load_keras(keras, model_path, options.get("batch_size"))
    specs = input_specs(model)
    names = [s["name"] for s in specs]
    if options.get("inputs"):
        batches = read_inputs(options["inputs"], specs)
    else:
        batches = make_inputs(specs, int(options.get("samples") or DEFAULT_SAMPLES), seed)
    if tflite_path is not None:  # its quantized inputs hold fewer values: Keras sees those
        given = TfliteRunner(path=tflite_path, names=names)
        batches = [quantize_inputs(b, given) for b in batches]
        del given
    # Keras runs first, at TensorFlow's default threads (all cores), before the converter
    # raises this process's peak memory.
    run_keras = keras_runner(tf, model)
    reference = [run_keras(b) for b in batches]
    keras_timing = None
    if options.get("timing") and int(options.get("runs") or 0) > 0:
        latency, done = _median_ms(lambda: run_keras(batches[0]), int(options["runs"]),
                                   float(options.get("budget", 3.0)))
        keras_timing = {"latency_ms": latency, "runs": done,
                        "peak_mb": max(0.0, _peak_rss_mb() - baseline)}
    output_names = output_layers(model)
    notes: list[str] = []
    calibrated = float_reference = None
    if mode in _CALIBRATED_MODES:
        calibrated, note = calibrate(tf, model, mode, options.get("representative_data"), seed)
        notes.append(f"{mode}: {note}")
        float_reference = calibrated
    elif mode != "none" and options.get("layer_errors", True):
        float_reference, _ = convert_plain(tf, model, "none")
    if tflite_path is None:
        tflite_path = str(Path(work) / "model.tflite")
        if calibrated is not None:
            content, kept_note = quantize_keeping_float(
                calibrated, mode, list(options.get("keep_float") or []), model)
            if kept_note:
                notes.append(kept_note)
        else:
            content, calibration = convert_plain(tf, model, mode,
                                                 options.get("representative_data"), seed)
            if calibration:
                notes.append(f"{mode}: {calibration}")
        Path(tflite_path).write_bytes(content)
    content = Path(tflite_path).read_bytes()
    runner = TfliteRunner(content=content, names=names)
    measured = [runner.run(b) for b in batches]
    with open(Path(work) / "inputs.pickle", "wb") as handle:
        pickle.dump(batches, handle)
    with open(Path(work) / "reference.pickle", "wb") as handle:
        pickle.dump((reference, output_names), handle)
    if calibrated is not None and options.get("keep_calibrated"):
        (Path(work) / "calibrated.tflite").write_bytes(calibrated)
    result: dict[str, Any] = {
        "tflite": tflite_path, "inputs": specs, "samples": len(batches), "notes": notes,
        "outputs": output_errors(reference, measured, output_names),
        "output_scale": [float(max(np.abs(r[i]).max() for r in reference))
                         for i in range(len(output_names))],
        "layers": [], "candidates": [], "layer_names": layer_names_of(model),
        "keras_timing": keras_timing,
    }
    if float_reference is None or not options.get("layer_errors", True):
        return result
    layers = layer_errors(float_reference, content, batches, result["layer_names"], output_names)
    if calibrated is not None:
        debug = _quietly(lambda: quantize_calibrated(calibrated, mode, [], debug=True))
        attach_layer_wise(layers, layer_wise_errors(debug, batches))
    result["layers"] = rank_layers(to_layer_rows(layers))
    if calibrated is None:
        return result
    candidates = int(options.get("candidates") or 0)
    screen = max(candidates, int(options.get("screen", DEFAULT_SCREEN) or 0))
    for position, row in enumerate(result["layers"][:screen]):
        # The error this op sends to the outputs, measured: the same calibration
        # quantized again with the op kept in float.
        requantized = quantize_calibrated(calibrated, mode, [row["tensor"]])
        path = Path(work) / f"candidate{position}.tflite"
        path.write_bytes(requantized)
        candidate = TfliteRunner(content=requantized, names=names)
        row["kept_float"] = {"path": str(path), "outputs": output_errors(
            reference, [candidate.run(b) for b in batches], output_names)}
    result["layers"] = rerank_by_output(result["layers"], result["outputs"])
    for row in result["layers"][:candidates]:
        kept = row.pop("kept_float")
        result["candidates"].append({"tensor": row["tensor"], "layers": row["layers"],
                                     "rank": row["rank"], **kept})
    for row in result["layers"]:
        row.pop("kept_float", None)
    return result


def quantize_keeping_float(calibrated: bytes, mode: str, layers: list[str],
                           model: Any) -> tuple[bytes, str | None]:
    """The calibrated model quantized with every op of the named layers (of the Keras
    ``model``) kept in float, and a note saying how many ops that keeps (None when no layer
    is named)."""
    kept = keep_float_nodes(calibrated, layers, set(layer_names_of(model)),
                            output_layers(model)) if layers else []
    content = quantize_calibrated(calibrated, mode, kept)
    if not kept:
        return content, None
    return content, f"kept in float: {plural_ops(len(kept))} of {', '.join(layers)}"


def selective_int8(tf: Any, model: Any, data: str | None, layers: list[str],
                   seed: int = 0) -> tuple[bytes, list[str]]:
    """An int8 conversion with the named layers kept in float, as ``compare --keep-float``
    makes it: calibrated once, then quantized by the MLIR quantizer with its deny list."""
    calibrated, note = calibrate(tf, model, "int8", data, seed)
    content, kept_note = quantize_keeping_float(calibrated, "int8", layers, model)
    return content, [f"int8: {note}", *([kept_note] if kept_note else [])]


def keep_float_nodes(calibrated: bytes, wanted: list[str], known: set[str],
                     outputs: list[str] | None = None) -> list[str]:
    """The output tensors (the quantizer's node names) of every op of the named layers.

    A layer computing a model output may have lost its name to the output's
    (``StatefulPartitionedCall:0``): its op is then found by the output's position in
    ``outputs``, the output layers in the model's order."""
    from ai_edge_litert.interpreter import Interpreter

    unknown = sorted(set(wanted) - known)
    if unknown:
        raise InputsError(f"no layer named {', '.join(map(repr, unknown))} in the model")
    interpreter = Interpreter(model_content=calibrated)
    details = interpreter.get_tensor_details()
    nodes = []
    for op in interpreter._get_ops_details():
        for out in op["outputs"]:
            if set(op_layers(details[out]["name"], known)) & set(wanted):
                nodes.append(details[out]["name"])
    runner = TfliteRunner(content=calibrated)
    for position, layer in enumerate(outputs or []):
        named = {n for n in nodes if layer in op_layers(n, known)}
        if layer in wanted and not named and position < len(runner.outputs):
            nodes.append(runner.outputs[position]["name"])
    if not nodes:
        raise InputsError(f"no op of layer {', '.join(map(repr, wanted))} in the conversion")
    return nodes


# -- timing -----------------------------------------------------------------------------------


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mb() -> float:
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1 << 20)
    except OSError:
        return _peak_rss_mb()


def _median_ms(run: Any, runs: int, budget: float) -> tuple[float, int]:
    import statistics
    import time

    timings: list[float] = []
    started = time.perf_counter()
    while len(timings) < runs and (len(timings) < 3 or time.perf_counter() - started < budget):
        start = time.perf_counter()
        run()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings) * 1000, len(timings)


def time_keras(model_path: str, batch_size: int | None, inputs: str, threads: int,
               runs: int, budget: float) -> dict[str, Any]:
    import pickle

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    keras, tf = _quiet_imports()
    # Thread pools are fixed when TensorFlow's context starts: before the first op.
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    with open(inputs, "rb") as handle:
        batch = pickle.load(handle)[0]
    baseline = _current_rss_mb()
    model = load_keras(keras, model_path, batch_size)
    run = keras_runner(tf, model)
    for _ in range(2):
        run(batch)
    latency, done = _median_ms(lambda: run(batch), runs, budget)
    return {"latency_ms": latency, "runs": done, "peak_mb": max(0.0, _peak_rss_mb() - baseline)}


def time_tflite(path: str, inputs: str, threads: int, runs: int,
                budget: float) -> dict[str, Any]:
    import pickle

    with open(inputs, "rb") as handle:
        batch = pickle.load(handle)[0]
    from ai_edge_litert.interpreter import Interpreter  # noqa: F401  (import before baseline)

    baseline = _current_rss_mb()
    runner = TfliteRunner(path=path, threads=threads, names=list(batch))
    for _ in range(2):
        runner.run(batch)
    latency, done = _median_ms(lambda: runner.run(batch), runs, budget)
    return {"latency_ms": latency, "runs": done, "peak_mb": max(0.0, _peak_rss_mb() - baseline)}
