"""Convert a Keras model to ``.tflite`` with the real TFLite converter, in a child process.

``tflint --fix --convert`` uses it on the fixed model (and on the original,
when Keras can load that one safely).  The converter runs in its own process
(:mod:`tflint.isolation`) with a time limit; it writes a temporary file next
to the output, renamed into place only when the conversion succeeded, so a
failure leaves no half-written ``.tflite``.

The model is loaded with ``keras.saving.load_model(..., safe_mode=True)``:
a file that needs unsafe loading is never converted.  By default the batch
dimension is fixed to 1 (``batch_size``), which lets the converter fold the
shape arithmetic a dynamic batch needs into constants.
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tflint.convert_settings import DEFAULT_TIMEOUT

INSTALL_HINT = 'pip install "tflint[convert]"'
#: Samples drawn when int8 calibration has no representative data.
RANDOM_SAMPLES = 32


@dataclass
class ConvertOptions:
    quantize: str = "none"
    #: A ``.npy`` file of input samples for int8 calibration.
    representative_data: str | None = None
    #: Static batch size; ``None`` keeps the model's own (usually dynamic) batch.
    batch_size: int | None = 1
    timeout: float = DEFAULT_TIMEOUT
    #: Keras layers whose ops an int8 conversion keeps in float (the quantizer's deny list).
    keep_float: list[str] = field(default_factory=list)


@dataclass
class Converted:
    path: Path | None = None
    error: str | None = None
    #: The converter's own message when it failed.
    detail: str = ""
    notes: list[str] = field(default_factory=list)


def missing_extra() -> str | None:
    """Why conversion is impossible here (TensorFlow or Keras 3 not installed), if it is."""
    for module in ("tensorflow", "keras"):
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return f"--convert needs TensorFlow and Keras 3 ({module} is not installed): " \
                   f"{INSTALL_HINT}"
    return None


def convert_keras(model_path: str | os.PathLike[str], output: Path,
                  options: ConvertOptions) -> Converted:
    """Convert ``model_path`` to ``output``; the file exists afterwards only on success."""
    import tempfile

    # Imported here: the CLI reads this module's constants on every run.
    from tflint.isolation import run_isolated

    missing = missing_extra()
    if missing is not None:
        return Converted(error=missing)
    folder = output.parent if str(output.parent) else Path(".")
    handle, name = tempfile.mkstemp(dir=folder, prefix=f".{output.name}.", suffix=".tmp")
    os.close(handle)
    tmp = Path(name)
    try:
        outcome = run_isolated(convert_in_child, os.fspath(model_path), name, asdict(options),
                               timeout=options.timeout, what="converter")
        if not outcome.ok:
            return _failure(outcome.error or "converter failed", outcome.detail)
        if tmp.stat().st_size == 0:
            return Converted(error="converter wrote an empty model")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp made it private; the result is a normal file
        os.replace(tmp, output)
        return Converted(path=output, notes=list(outcome.value.get("notes", [])))
    finally:
        tmp.unlink(missing_ok=True)


_MLIR_ERROR = re.compile(r"error: (?:loc\(.*\)\): )?(.+)$")
#: Where the converter's message turns into an IR dump.
_IR_DUMP = "note: see current operation"


def _failure(error: str, detail: str) -> Converted:
    """The converter's own words, without its MLIR locations and IR dump."""
    if not error.startswith("converter failed: ConverterError"):
        return Converted(error=error, detail=detail)
    reasons: list[str] = []
    kept: list[str] = []
    for line in detail.splitlines():
        if _IR_DUMP in line:
            break
        if "note: loc(" in line:
            continue
        match = _MLIR_ERROR.search(line)
        if match and "loc(" in line and match[1] not in reasons:
            reasons.append(match[1].strip())
            continue
        if line.strip() and not line.lstrip().startswith("<unknown>:0: error: failed while"):
            kept.append(line.rstrip())
    summary = "; ".join(reasons) or error.split(": ", 2)[-1]
    if len(summary) > 300:
        summary = summary[:297] + "..."
    return Converted(error=f"converter failed: {summary}", detail="\n".join(kept))


# -- in the child process ------------------------------------------------------------------------


def convert_in_child(model_path: str, output: str, options: dict[str, Any]) -> dict[str, Any]:
    """Load, convert, write; runs in the child (imports TensorFlow)."""
    import contextlib
    import io
    import warnings

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import keras
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")
        model = keras.saving.load_model(model_path, compile=False, safe_mode=True)
        notes: list[str] = []
        if options.get("batch_size"):
            model = _with_batch(keras, model, int(options["batch_size"]))
        if options.get("keep_float"):
            from tflint.compare_child import selective_int8

            data, kept_notes = selective_int8(tf, model, options.get("representative_data"),
                                              list(options["keep_float"]))
            notes += kept_notes
        else:
            converter = tf.lite.TFLiteConverter.from_keras_model(model)
            notes += _quantization(tf, converter, model, options)
            data = converter.convert()
    Path(output).write_bytes(data)
    return {"size": len(data), "notes": notes}


def _with_batch(keras: Any, model: Any, batch: int) -> Any:
    """The same model (same weights) called on inputs with a static batch dimension."""
    if all(t.shape[0] is not None for t in model.inputs):
        return model
    inputs = [keras.Input(batch_shape=(batch, *t.shape[1:]), dtype=t.dtype,
                          name=t.name.split(":")[0]) for t in model.inputs]
    outputs = model(inputs if len(inputs) > 1 else inputs[0])
    return keras.Model(inputs, outputs, name=model.name)


def _quantization(tf: Any, converter: Any, model: Any, options: dict[str, Any]) -> list[str]:
    mode = options.get("quantize", "none")
    if mode == "none":
        return []
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if mode != "int8":
        return []
    samples, note = _samples(model, options.get("representative_data"))

    def representative_dataset() -> Any:
        for sample in samples:
            yield [sample]

    converter.representative_dataset = representative_dataset
    # Integer kernels only; inputs and outputs stay float32 (QUANTIZE/DEQUANTIZE at the ends).
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return [note]


def _samples(model: Any, path: str | None) -> tuple[list[Any], str]:
    import numpy as np

    if len(model.inputs) != 1:
        raise ValueError(f"int8 calibration supports single-input models; this one has "
                         f"{len(model.inputs)} inputs")
    shape = tuple(model.inputs[0].shape)
    dtype = model.inputs[0].dtype
    if path is None:
        rng = np.random.default_rng(0)
        data = rng.uniform(-1.0, 1.0, size=(RANDOM_SAMPLES, 1, *shape[1:])).astype(dtype)
        return list(data), f"int8 calibrated on {RANDOM_SAMPLES} random samples"
    array = np.load(path, allow_pickle=False)
    if tuple(array.shape[1:]) == tuple(shape[1:]):
        samples = [array[i:i + 1].astype(dtype) for i in range(len(array))]
    elif tuple(array.shape[1:]) == (1, *shape[1:]):
        samples = [array[i].astype(dtype) for i in range(len(array))]
    else:
        raise ValueError(f"representative data has shape {tuple(array.shape)}; expected "
                         f"(N, {', '.join(map(str, shape[1:]))})")
    if not samples:
        raise ValueError("representative data holds no samples")
    return samples, f"int8 calibrated on {len(samples)} samples from {Path(path).name}"
