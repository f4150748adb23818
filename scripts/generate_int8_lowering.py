"""Measure how a full-integer int8 conversion lowers the ops of the float lowering table.

    python scripts/generate_int8_lowering.py     # writes tflint/data/int8_lowering.json

The lowering table is measured in float32.  A conversion for Ethos-U, TFLite Micro or the
Edge TPU (optimizations DEFAULT, a representative dataset, ``TFLITE_BUILTINS_INT8``, int8
input and output) keeps some ops in float between a ``DEQUANTIZE`` and a ``QUANTIZE``, and
lowers a few differently.  Each probe here is one Keras layer between two 1x1 convolutions
(or two Dense layers for sequences), converted both ways with the installed TensorFlow; the
ops between the two are compared.  Per float op type the file records what the int8
conversion does with it: ``int8`` (an int8 op of the same type), ``float`` (the same op,
computing in float32) or ``rewritten`` (``int8_ops`` instead).  The conversions run in a
child process with a time limit; a probe it did not convert is left out.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tflint" / "data" / "int8_lowering.json"
SEED = 1234
TIMEOUT = 1200

#: Probe name -> (input kind, Keras layer expression in ``layers``/``keras``).
PROBES: dict[str, tuple[str, str]] = {
    "elu": ("image", "layers.Activation('elu')"),
    "selu": ("image", "layers.Activation('selu')"),
    "gelu": ("image", "layers.Activation('gelu')"),
    "gelu_exact": ("image", "layers.Activation(lambda x: keras.activations.gelu(x, False))"),
    "swish": ("image", "layers.Activation('swish')"),
    "hard_swish": ("image", "layers.Activation('hard_swish')"),
    "hard_sigmoid": ("image", "layers.Activation('hard_sigmoid')"),
    "sigmoid": ("image", "layers.Activation('sigmoid')"),
    "tanh": ("image", "layers.Activation('tanh')"),
    "softplus": ("image", "layers.Activation('softplus')"),
    "softsign": ("image", "layers.Activation('softsign')"),
    "exponential": ("image", "layers.Activation('exponential')"),
    "mish": ("image", "layers.Activation('mish')"),
    "leaky_relu": ("image", "layers.LeakyReLU()"),
    "prelu": ("image", "layers.PReLU()"),
    "relu_max": ("image", "layers.ReLU(max_value=3.0)"),
    "softmax": ("image", "layers.Softmax()"),
    "log_softmax": ("image", "layers.Activation('log_softmax')"),
    "layer_norm": ("image", "layers.LayerNormalization()"),
    "layer_norm_seq": ("sequence", "layers.LayerNormalization()"),
    "unit_norm": ("image", "layers.UnitNormalization()"),
    "batch_norm": ("sequence", "layers.BatchNormalization()"),
    "gap": ("image", "layers.GlobalAveragePooling2D(keepdims=True)"),
    "gmp": ("image", "layers.GlobalMaxPooling2D(keepdims=True)"),
    "gap_seq": ("sequence", "layers.GlobalAveragePooling1D(keepdims=True)"),
    "avg_pool": ("image", "layers.AveragePooling2D()"),
    "upsample_nearest": ("image", "layers.UpSampling2D()"),
    "upsample_bilinear": ("image", "layers.UpSampling2D(interpolation='bilinear')"),
    "rescaling": ("image", "layers.Rescaling(0.5, offset=-1.0)"),
    "square": ("image", "layers.Multiply()"),
    "dense_seq": ("sequence", "layers.Dense(8, activation='sigmoid')"),
    "attention": ("sequence", "layers.Attention()"),
    "mha": ("sequence", "layers.MultiHeadAttention(2, 4)"),
}


def _child(names: list[str], folder: str) -> None:
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import keras
    import tensorflow as tf

    for name in names:
        try:
            _convert_probe(keras, tf, name, folder)
        except Exception as exc:  # a probe this Keras cannot build or convert is left out
            print(f"{name}: {type(exc).__name__}: {exc}"[:300], file=sys.stderr, flush=True)


def _convert_probe(keras: Any, tf: Any, name: str, folder: str) -> None:
    import numpy as np
    from keras import layers

    keras.utils.set_random_seed(SEED)
    kind, expression = PROBES[name]
    shape = (8, 8, 4) if kind == "image" else (6, 8)
    inputs = keras.Input(shape, batch_size=1)
    pre = (layers.Conv2D(4, 1, name="pre") if kind == "image" else
           layers.Dense(8, name="pre"))(inputs)
    probe = eval(expression, {"layers": layers, "keras": keras})
    x = probe([pre, pre]) if name in ("square", "attention") else (
        probe(pre, pre) if name == "mha" else probe(pre))
    post = (layers.Conv2D(4, 1, name="post") if kind == "image" else
            layers.Dense(8, name="post"))(x)
    model = keras.Model(inputs, post)
    rng = np.random.default_rng(SEED)

    def samples() -> Any:
        for _ in range(4):
            yield [rng.standard_normal((1, *shape)).astype(np.float32)]

    for conversion in ("float32", "int8"):
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
        if conversion == "int8":
            full_int8(tf, converter, samples)
        Path(folder, f"{name}_{conversion}.tflite").write_bytes(converter.convert())


def full_int8(tf: Any, converter: Any, samples: Any) -> None:
    """Set ``converter`` to the conversion a device needs, the one the Keras-side
    prediction assumes: full-integer int8, int8 inputs and outputs, calibrated on
    ``samples``."""
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = samples
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8


def between(path: Path) -> list[tuple[str, str]]:
    """(op, dtype of its first input) of the ops after ``pre`` and before ``post`` (the
    last op)."""
    sys.path.insert(0, str(ROOT))
    from tflint.loaders.tflite import load_tflite

    nodes = [n for n in load_tflite(str(path)).nodes() if n.subgraph == 0]
    names = [";".join(t.name for t in n.outputs) for n in nodes]
    first = max(i for i, n in enumerate(names) if re.search(r"(^|/)pre(_\d+)?/", n))
    last = len(nodes) - 1  # ``post`` writes the model output, named after it
    return [(n.op_type, n.inputs[0].dtype or "") for n in nodes[first + 1:last]]


def classify(float_ops: list[tuple[str, str]],
             int8_ops: list[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """Per float op type of a probe: what the int8 conversion made of it."""
    kept = [(op, dtype) for op, dtype in int8_ops if op not in ("QUANTIZE", "DEQUANTIZE")]
    result: dict[str, dict[str, Any]] = {}
    float_types = [op for op, _ in float_ops]
    if [op for op, _ in kept] == float_types:
        for op, dtype in kept:
            verdict = "float" if dtype == "float32" else "int8"
            if result.get(op, {}).get("int8") != "float":
                result[op] = {"int8": verdict}
        return result
    if len(float_types) == 1:
        result[float_types[0]] = {"int8": "rewritten", "int8_ops": [op for op, _ in int8_ops]}
    return result


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        _child(sys.argv[3:], sys.argv[2])
        return 0
    import tensorflow as tf

    ops: dict[str, dict[str, Any]] = {}
    probes: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        try:
            subprocess.run([sys.executable, __file__, "--child", folder, *PROBES],
                           timeout=TIMEOUT, check=False, capture_output=True)
        except subprocess.TimeoutExpired:
            print(f"the conversions did not finish in {TIMEOUT} s", file=sys.stderr)
        for name in PROBES:
            if not Path(folder, f"{name}_int8.tflite").exists():
                print(f"{name}: not converted", file=sys.stderr)
                continue
            float_ops = between(Path(folder, f"{name}_float32.tflite"))
            int8_ops = between(Path(folder, f"{name}_int8.tflite"))
            probes[name] = {"layer": PROBES[name][1], "float": [op for op, _ in float_ops],
                            "int8": [f"{op}:{dtype}" for op, dtype in int8_ops]}
            for op, verdict in classify(float_ops, int8_ops).items():
                if ops.get(op, {}).get("int8") in ("float", "rewritten"):
                    continue  # the first probe that does not keep it int8 is kept
                ops[op] = {**verdict, "probe": name}
            print(f"{name}: {probes[name]['float']} -> {probes[name]['int8']}", file=sys.stderr)
    data = {
        "description": "How a full-integer int8 conversion (DEFAULT optimizations, a "
                       "representative dataset, TFLITE_BUILTINS_INT8, int8 input and output) "
                       "lowers each op of the float lowering table: int8, kept in float "
                       "between a DEQUANTIZE and a QUANTIZE, or rewritten; measured by "
                       "scripts/generate_int8_lowering.py",
        "tensorflow": tf.__version__,
        "ops": dict(sorted(ops.items())),
        "probes": probes,
    }
    OUT.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
