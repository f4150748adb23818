"""Lambda and custom-layer code read as dataflow programs, predicted and reported.

The fixtures of ``fixtures/custom_code/`` (made by its ``generate.py``) hold
Lambdas and custom classes written the ways projects write them; the classes'
source is next to them, found with ``--source``.  Nothing here imports
TensorFlow: the prediction is checked against what the function-lowering table
and the rules say, and against the real conversion in
``test_custom_code_conversion.py``.
"""

from __future__ import annotations

import ast
import base64
import json
import marshal
import os
import shutil
from functools import cache
from pathlib import Path

import pytest
from conftest import fixture, run_tflint

import tflint
from tflint.analyses import Analyses
from tflint.analyses.custom_code import builtin_equivalent, lower_program
from tflint.analyses.keras_prediction import LayerPrediction
from tflint.dataflow import Program, canonical, from_code, from_function_source
from tflint.diagnostics import Diagnostic
from tflint.loaders import load

SOURCE = fixture("custom_code/custom_layers.py").parent


def program_of(source: str) -> Program:
    """The program of ``def f(x): return EXPRESSION``, read from its compiled code."""
    code = compile(source, "<test>", "exec")
    function = next(c for c in code.co_consts if hasattr(c, "co_code"))
    return from_code(function)


@cache
def predictions(relative: str, with_source: bool = True) -> dict[str, LayerPrediction]:
    graph = load(str(fixture(relative)))
    analyses = Analyses(graph, sources=(str(SOURCE),) if with_source else ("/nonexistent",))
    prediction = analyses.keras_prediction()
    assert prediction is not None
    return {p.layer: p for p in prediction.layers}


@cache
def findings(relative: str) -> tuple[Diagnostic, ...]:
    config = tflint.Config(sources=[str(SOURCE)])
    return tuple(tflint.lint(str(fixture(relative)), config).diagnostics)


def finding(relative: str, code: str, layer: str) -> Diagnostic:
    matches = [d for d in findings(relative) if d.code == code and d.location.name == layer]
    assert len(matches) == 1, [(d.code, d.location.name, d.message) for d in findings(relative)]
    return matches[0]


# -- reading code -----------------------------------------------------------------------------


@pytest.mark.parametrize(("source", "expected"), [
    ("def f(x): return tf.where(x > 0, x, 0.2 * x)", "tf.where(x > 0, x, 0.2 * x)"),
    ("def f(x): return x * tf.nn.relu6(x + 3) / 6", "(x * tf.nn.relu6(x + 3)) / 6"),
    ("def f(x): return tf.reshape(x, [tf.shape(x)[0], -1])",
     "tf.reshape(x, [tf.shape(x)[0], -1])"),
    ("def f(x): return tf.math.cumprod(x, axis=1)", "tf.math.cumprod(x, axis=1)"),
    ("def f(x): return K.relu(x)[:, 1:]", "K.relu(x)[:, 1:]"),
    ("def f(t):\n    g = keras.ops.sigmoid(t)\n    return t * g", "t * keras.ops.sigmoid(t)"),
])
def test_bytecode_is_read_as_a_program(source: str, expected: str) -> None:
    program = program_of(source)
    assert program.understood, program.unknown
    assert program.render() == expected


@pytest.mark.parametrize(("source", "unknown"), [
    ("def f(x): return open('out', 'w').write('x')", "a call to open (not tensor math)"),
    ("def f(x):\n    if x is None:\n        return x\n    return x * 2", "Python construct"),
    ("def f(x): return helper(x)", "a call to helper (not tensor math)"),
])
def test_code_that_is_not_tensor_math_is_not_understood(source: str, unknown: str) -> None:
    program = program_of(source)
    assert not program.understood
    assert any(item.startswith(unknown) for item in program.unknown), program.unknown


def test_source_and_bytecode_give_the_same_program() -> None:
    text = "import tensorflow as tf\ndef f(x):\n    y = tf.sigmoid(x)\n    return x * y\n"
    tree = ast.parse(text)
    from_source = from_function_source(tree.body[1], {"tf": "tf"})  # type: ignore[arg-type]
    from_bytes = program_of(text.split("\n", 1)[1])
    assert from_source.steps == from_bytes.steps and from_source.result == from_bytes.result


def test_spellings_of_one_function_meet() -> None:
    names = ["tf.math.multiply", "tf.multiply", "keras.ops.multiply", "K.mul",
             "tf.keras.backend.mul"]
    assert {canonical(n) for n in names} == {"multiply"}
    assert canonical("os.system") is None and canonical("np.where") is None


@pytest.mark.parametrize(("source", "class_name", "config", "exact"), [
    ("def f(x): return tf.where(x > 0, x, 0.2 * x)", "LeakyReLU", {"negative_slope": 0.2}, True),
    ("def f(x): return tf.where(x < 0, x * 0.3, x)", "LeakyReLU", {"negative_slope": 0.3}, True),
    ("def f(x): return x * tf.sigmoid(x)", "Activation", {"activation": "silu"}, True),
    ("def f(x): return tf.maximum(x, 0)", "ReLU", {}, True),
    ("def f(x): return tf.nn.relu(x)", "ReLU", {}, True),
    ("def f(x): return tf.clip_by_value(x, 0, 6)", "ReLU", {"max_value": 6.0}, True),
    ("def f(x): return x * tf.nn.relu6(x + 3) / 6", "Activation", {"activation": "hard_silu"},
     True),
])
def test_builtin_equivalents_are_recognised(source: str, class_name: str, config: dict,
                                            exact: bool) -> None:
    found = builtin_equivalent(program_of(source), "keras3")
    assert found is not None
    assert (found.class_name, found.config, found.exact) == (class_name, config, exact)


@pytest.mark.parametrize("source", [
    "def f(x): return tf.where(x > 0, x, 0.2 * x * x)",   # not linear below zero
    "def f(x): return tf.where(x > 1, x, 0.2 * x)",       # another threshold
    "def f(x): return tf.clip_by_value(x, 0, 5)",          # another ceiling
    "def f(x): return x * tf.nn.relu6(x + 2) / 6",         # another offset
    "def f(x): return tf.maximum(x, 2.0 * x)",             # slope above 1: not leaky
])
def test_near_misses_are_not_equivalent(source: str) -> None:
    assert builtin_equivalent(program_of(source), "keras3") is None


def test_the_table_gives_dtype_and_batch_dependent_ops() -> None:
    leaky = program_of("def f(x): return tf.where(x > 0, x, 0.2 * x)")
    lowering, missing = lower_program(leaky, ["float32"], dynamic=False)
    assert missing == [] and lowering.ops == ["GREATER", "MUL", "SELECT"]
    assert lowering.cpu_ops == ["GREATER", "SELECT"]
    doubled = program_of("def f(x): return x * 2")
    assert lower_program(doubled, ["float32"], False)[0].cpu_ops == []
    assert lower_program(doubled, ["int32"], False)[0].cpu_ops == ["MUL"]
    reshape = program_of("def f(x): return tf.reshape(x, [tf.shape(x)[0], -1])")
    assert lower_program(reshape, ["float32"], False)[0].ops == ["RESHAPE"]
    dynamic = lower_program(reshape, ["float32"], True)[0]
    assert dynamic.ops == ["SHAPE", "STRIDED_SLICE", "PACK", "RESHAPE"]
    assert dynamic.cpu_ops == dynamic.ops


# -- prediction and rules on the fixtures -----------------------------------------------------


@pytest.mark.parametrize("relative", ["custom_code/lambda_activations.keras",
                                      "custom_code/lambda_activations.h5"])
def test_lambda_activations_are_predicted(relative: str) -> None:
    layers = predictions(relative)
    assert layers["leaky"].lowering.cpu_ops == ["GREATER", "SELECT"]
    assert layers["mask"].lowering.cpu_ops == ["GREATER", "CAST"]
    for name in ("swish", "relu_max", "clip6", "hswish"):
        assert layers[name].status == "ok", (name, layers[name].reason)
    assert layers["swish"].lowering.ops == ["LOGISTIC", "MUL"]
    leaky = finding(relative, "TFL121", "leaky")
    assert "computes tf.where(t > 0, t, 0.2 * t)" in leaky.message
    assert "GREATER, SELECT on the CPU; MUL on XNNPACK" in leaky.message
    slope = "negative_slope" if relative.endswith(".keras") else "alpha"
    assert leaky.fix is not None and leaky.fix.applicability == "safe"
    assert leaky.fix.action["with"] == {"class_name": "LeakyReLU",
                                        "config": {"name": "leaky", slope: 0.2}}
    clip = finding(relative, "TFL420", "clip6")
    assert clip.fix is not None and clip.fix.applicability == "safe"
    assert clip.fix.action["with"]["config"] == {"name": "clip6", "max_value": 6.0}
    mask = finding(relative, "TFL121", "mask")
    assert mask.fix is None  # no built-in computes it
    assert not [d for d in findings(relative) if d.code == "TFL103"]
    # Reading the code is not trusting it: the bytecode is still a security finding.
    assert {d.location.name for d in findings(relative) if d.code == "TFL601"} == {
        "leaky", "swish", "relu_max", "clip6", "hswish", "mask"}


@pytest.mark.parametrize("relative", ["custom_code/lambda_cumprod.keras",
                                      "custom_code/lambda_cumprod.h5",
                                      "custom_code/custom_flex.keras",
                                      "custom_code/custom_flex.h5"])
def test_cumprod_needs_select_tf_ops(relative: str) -> None:
    layer = "cumprod" if "lambda" in relative else "cumulative"
    assert predictions(relative)[layer].status == "flex"
    diagnostic = finding(relative, "TFL120", layer)
    assert "cumprod(" in diagnostic.message and "FlexCumprod" in diagnostic.message


@pytest.mark.parametrize("relative", ["custom_code/custom_layers.keras",
                                      "custom_code/custom_layers.h5"])
def test_custom_classes_are_read_from_the_source(relative: str) -> None:
    layers = predictions(relative)
    assert layers["leaky_act"].lowering.cpu_ops == ["GREATER", "SELECT"]
    assert layers["masked_act"].lowering.cpu_ops == ["GREATER", "CAST"]
    assert layers["hard_swish_act"].status == "ok" and layers["swish_act"].status == "ok"
    conv5 = layers["conv5"]  # Conv2D(activation=scaled_tanh), a registered function
    assert conv5.status == "ok" and conv5.lowering.ops[-3:] == ["MUL", "TANH", "MUL"]
    leaky = finding(relative, "TFL121", "leaky_act")
    assert "computes tf.where(inputs > 0, inputs, 0.15 * inputs)" in leaky.message
    assert leaky.fix is not None and leaky.fix.applicability == "safe"
    assert 0.15 in leaky.fix.action["with"]["config"].values()
    swish = finding(relative, "TFL420", "swish_act")
    assert swish.fix is not None and swish.fix.applicability == "safe"


def test_keras_ops_code_is_read() -> None:
    layers = predictions("custom_code/custom_ops.keras")
    assert layers["ops_leaky"].lowering.cpu_ops == ["GREATER", "SELECT"]
    assert layers["ops_square"].status == "ok"
    lambdas = predictions("custom_code/lambda_ops.keras")
    assert lambdas["ops_leaky"].lowering.cpu_ops == ["GREATER", "SELECT"]
    assert lambdas["ops_swish"].status == "ok"


def test_a_batch_reshape_is_predicted_and_left_to_tfl220() -> None:
    relative = "custom_code/lambda_batch_reshape.keras"
    reshape = predictions(relative)["batch_reshape"]
    assert reshape.lowering.cpu_ops == ["SHAPE", "STRIDED_SLICE", "PACK", "RESHAPE"]
    assert reshape.static_lowering is not None and reshape.static_lowering.cpu_ops == []
    assert [d.code for d in findings(relative) if d.location.name == "batch_reshape"
            and d.code.startswith("TFL2")] == ["TFL220"]
    assert not [d for d in findings(relative) if d.code in ("TFL121", "TFL222", "TFL103")]


def test_a_class_not_found_says_where_tflint_looked() -> None:
    layers = predictions("custom_code/custom_layers.keras", with_source=False)
    assert layers["leaky_act"].status == "opaque"
    assert "was not found in the source folders /nonexistent" in layers["leaky_act"].reason
    ghost = finding("custom_code/custom_unreadable.keras", "TFL103", "ghost")
    assert ("its class Ghost (registered as elsewhere>Ghost) was not found in the source "
            f"folders {os.path.relpath(SOURCE)}") in ghost.message
    loop = finding("custom_code/custom_unreadable.keras", "TFL103", "repeated")
    assert "does not read: the statement at line" in loop.message and "(for)" in loop.message


def test_an_unknown_function_is_named() -> None:
    diagnostic = finding("custom_code/lambda_opaque.keras", "TFL103", "bessel")
    assert diagnostic.message.endswith("no lowering data for tf.math.bessel_i0")


def test_bytecode_of_another_python_says_which_it_needs(tmp_path: Path) -> None:
    code = compile("lambda x: x * 2", "<test>", "eval").co_consts[0]
    raw = bytearray(marshal.dumps(code))
    raw[1:1] = bytes(4)  # one more 32-bit field before the bytecode: 3.8-3.10's layout
    function = {"class_name": "__lambda__",
                "config": {"code": base64.b64encode(bytes(raw)).decode()}}
    model = {"class_name": "Sequential", "config": {"name": "seq", "layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [1, 4], "dtype": "float32",
                                                "name": "x"}},
        {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
         "config": {"name": "double", "function": function}}]},
        "keras_version": "3.10.0", "backend": "tensorflow"}
    path = tmp_path / "old_lambda.json"
    path.write_text(json.dumps(model))
    run = run_tflint("--isolated", path)
    opaque = [line for line in run.out.splitlines() if " TFL103 " in line]
    assert len(opaque) == 1 and "compiled for Python 3.8-3.10" in opaque[0]
    assert "lint with Python 3.8-3.10" in opaque[0]
    assert any(" error TFL601 " in line and "3.8-3.10" in line for line in run.out.splitlines())


def test_linting_never_runs_the_lambda(tmp_path: Path) -> None:
    shutil.copy(fixture("custom_code/lambda_file_writer.keras"), tmp_path)
    run = run_tflint("--isolated", "--format", "json", "lambda_file_writer.keras", cwd=tmp_path)
    assert not (tmp_path / "LAMBDA_RAN").exists()
    (file,) = json.loads(run.out)["files"]
    by_code = {d["code"]: d for d in file["diagnostics"] if d["location"]["name"] == "writer"}
    assert by_code["TFL601"]["severity"] == "error"
    assert "a call to open (not tensor math)" in by_code["TFL103"]["message"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lambda_file_writer.keras"]
