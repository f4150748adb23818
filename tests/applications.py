"""Real architectures converted once per test session, for the false-positive tests.

Untrained ``keras.applications`` models (``weights=None``) at 96x96 with a
static batch of 1 (MobileNetV2 alpha 0.35, MobileNetV3Small alpha 0.75, ten
classes) and the small ResNet-like model of ``fixtures/generate_fusion.py`` at
64x64 are converted with the real converter in one child process (the test
process never imports TensorFlow): float32, full int8 with int8 input/output,
and for MobileNetV2 also full int8 with the converter's default float32
input/output.  The conversions take about a minute in all.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

#: Model name -> variants it is converted in, as ``{name}_{variant}.tflite``.
VARIANTS: dict[str, tuple[str, ...]] = {
    "mobilenet_v2": ("float32", "int8", "int8_float_io"),
    "mobilenet_v3_small": ("float32", "int8"),
    "resnet_like": ("float32", "int8"),
}

_CONVERT = """
import json, os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
import tensorflow as tf
import keras

out, fixtures, variants = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
sys.path.insert(0, fixtures)
from generate_fusion import resnet_like

def mobilenet(constructor, alpha):
    inputs = keras.Input((96, 96, 3), batch_size=1, name="image")
    return constructor(alpha=alpha, input_tensor=inputs, weights=None, classes=10)

BUILD = {
    "mobilenet_v2": lambda: mobilenet(keras.applications.MobileNetV2, 0.35),
    "mobilenet_v3_small": lambda: mobilenet(keras.applications.MobileNetV3Small, 0.75),
    "resnet_like": resnet_like,
}
#: variant -> (full int8, int8 input/output)
OPTIONS = {"float32": (False, False), "int8": (True, True), "int8_float_io": (True, False)}

def representative(shape):
    def dataset():
        rng = np.random.default_rng(1234)
        for _ in range(4):
            yield [rng.uniform(-1, 1, (1, *shape)).astype(np.float32)]
    return dataset

def convert(model, int8, io):
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative(tuple(model.inputs[0].shape[1:]))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if io:
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
    return converter.convert()

for name, names in variants.items():
    keras.utils.set_random_seed(1234)
    model = BUILD[name]()
    for variant in names:
        with open(os.path.join(out, f"{name}_{variant}.tflite"), "wb") as handle:
            handle.write(convert(model, *OPTIONS[variant]))
"""


def convert_all(out: Path) -> dict[str, Path]:
    """Convert every model variant into OUT; its files by stem."""
    proc = subprocess.run(
        [sys.executable, "-c", _CONVERT, str(out), str(FIXTURES), json.dumps(VARIANTS)],
        capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {p.stem: p for p in sorted(out.glob("*.tflite"))}
