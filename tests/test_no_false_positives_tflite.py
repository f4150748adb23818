"""The dynamic-shape and quantization rules stay quiet on real architectures.

``keras.applications`` models (random weights, ``weights=None``) at small
input sizes, with a static batch of 1, are converted once per test session
in a child process (the test process never imports TensorFlow): float32,
full-int8 with int8 input/output, and for MobileNetV2 also full-int8 with
the converter's default float32 input/output.  Conversion takes one to two
minutes in all.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import tflint
from tflint.diagnostics import Severity
from tflint.loaders import load
from tflint.registry import load_rules

pytestmark = pytest.mark.tensorflow

OWN_RULES = sorted(r.code for r in load_rules()
                   if r.__module__.startswith(("tflint_rules.dynamic_", "tflint_rules.quant_")))

#: name -> (keras.applications constructor call, input shape)
ARCHITECTURES = {
    "mobilenet_v2": ("MobileNetV2(alpha=0.35, {common})", (96, 96, 3)),
    "mobilenet_v3_small": ("MobileNetV3Small(alpha=0.75, {common})", (96, 96, 3)),
}
VARIANTS = ("float32", "int8")
#: Findings that are true facts about a variant, with why they are expected.
EXPECTED_INFO: dict[str, dict[str, str]] = {
    "mobilenet_v2_int8_float_io": {
        "TFL301": "the converter's default keeps float32 input/output around the int8 graph; "
                  "that is exactly what TFL301 reports, as information",
    },
}

_CONVERT = """
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
import tensorflow as tf
import keras

out, name, call, shape = sys.argv[1], sys.argv[2], sys.argv[3], eval(sys.argv[4])
keras.utils.set_random_seed(1234)
inputs = keras.Input(shape, batch_size=1, name="image")
common = "input_tensor=inputs, weights=None, classes=10"
model = eval("keras.applications." + call.format(common=common))

def representative():
    rng = np.random.default_rng(1234)
    for _ in range(4):
        yield [rng.uniform(-1, 1, (1, *shape)).astype(np.float32)]

def convert(int8, io):
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if io:
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
    return converter.convert()

variants = {"float32": (False, False), "int8": (True, True)}
if name == "mobilenet_v2":
    variants["int8_float_io"] = (True, False)
for variant, (int8, io) in variants.items():
    with open(os.path.join(out, f"{name}_{variant}.tflite"), "wb") as handle:
        handle.write(convert(int8, io))
"""


@pytest.fixture(scope="session")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("applications")
    for name, (call, shape) in ARCHITECTURES.items():
        proc = subprocess.run(
            [sys.executable, "-c", _CONVERT, str(out), name, call, repr(shape)],
            capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
    return {p.stem: p for p in sorted(out.glob("*.tflite"))}


def test_every_variant_was_converted(converted: dict[str, Path]) -> None:
    expected = {f"{name}_{variant}" for name in ARCHITECTURES for variant in VARIANTS}
    assert expected | set(EXPECTED_INFO) == set(converted)
    for stem, path in converted.items():
        graph = load(str(path))
        assert len(graph) > 50, stem  # the whole network, not a stub
        [image] = graph.inputs
        assert image.shape == (1, 96, 96, 3)
        wanted = "int8" if stem.endswith("_int8") else "float32"
        assert image.dtype == wanted, (stem, image.dtype)


@pytest.mark.parametrize("stem", [f"{name}_{variant}" for name in ARCHITECTURES
                                  for variant in VARIANTS] + sorted(EXPECTED_INFO))
def test_no_findings_beyond_the_expected_facts(converted: dict[str, Path], stem: str) -> None:
    result = tflint.lint(converted[stem], tflint.Config(select=OWN_RULES))
    [file] = result.files
    assert file.error is None, file.error
    expected = EXPECTED_INFO.get(stem, {})
    unexpected = [f"{d.code} {d.message} ({d.location})" for d in file.diagnostics
                  if d.code not in expected]
    assert unexpected == []
    for diagnostic in file.diagnostics:
        assert diagnostic.severity is Severity.INFO, diagnostic
    # The expected facts are found: the rules did run on this model.
    assert {d.code for d in file.diagnostics} == set(expected)
