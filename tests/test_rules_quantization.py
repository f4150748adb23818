"""Quantization rules (TFL301-TFL314) on converted and hand-built models."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from conftest import FIXTURES, fixture, run_tflint

import tflint
from tflint.diagnostics import Diagnostic, Severity
from tflint.registry import load_rules

QUANT_CODES = sorted(r.code for r in load_rules() if r.__module__.startswith("tflint_rules.quant_"))


def findings(path: Path, code: str, **rule_options: object) -> list[Diagnostic]:
    config = tflint.Config(select=[code], rule_options={code: rule_options} if rule_options else {})
    result = tflint.lint(path, config)
    [file] = result.files
    assert file.error is None, file.error
    return file.diagnostics


def codes(path: Path) -> set[str]:
    result = tflint.lint(path, tflint.Config(select=QUANT_CODES))
    [file] = result.files
    assert file.error is None, file.error
    return {d.code for d in file.diagnostics}


def generator() -> ModuleType:
    path = FIXTURES / "generate_quantization.py"
    spec = importlib.util.spec_from_file_location("generate_quantization", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("generate_quantization", module)
    spec.loader.exec_module(module)
    return module


def test_every_quantization_rule_is_registered() -> None:
    assert QUANT_CODES == [f"TFL3{i:02d}" for i in range(1, 15)]


# -- TFL301 float-io-in-integer-model ---------------------------------------


def test_float_io_of_a_full_integer_model_is_information_by_default() -> None:
    found = findings(fixture("quantization/int8_float_io.tflite"), "TFL301")
    assert [d.severity for d in found] == [Severity.INFO, Severity.INFO]
    first, second = found
    assert first.message == ("input 'image' is float32 and quantized to int8 by QUANTIZE "
                             "inside the model")
    assert first.suggestion is not None
    assert "inference_input_type = tf.int8" in first.suggestion
    assert "q = round(x / " in first.suggestion
    assert second.message.startswith("output 'output_0' is float32, dequantized from int8")
    assert second.suggestion is not None and "x = " in second.suggestion


def test_integer_io_option_makes_it_a_warning() -> None:
    found = findings(fixture("quantization/int8_float_io.tflite"), "TFL301", **{"integer-io": True})
    assert [d.severity for d in found] == [Severity.WARNING, Severity.WARNING]


@pytest.mark.parametrize("name", ["quantization/int8_int8_io.tflite",
                                  "quantization/uint8_io.tflite",
                                  "quantization/int8_sin.tflite", "clean/mobile_cnn.tflite",
                                  "clean/mobile_cnn_int8.tflite"])
def test_integer_io_partial_or_float_models_are_not_reported(name: str) -> None:
    assert findings(fixture(name), "TFL301") == []


# -- TFL302 legacy-uint8-quantization ---------------------------------------


def test_legacy_uint8_model_is_reported_once() -> None:
    [diagnostic] = findings(fixture("quantization/uint8_legacy.tflite"), "TFL302")
    assert diagnostic.message == "1 op computes in legacy uint8 quantization: CONV_2D x1"


def test_uint8_io_around_an_int8_model_is_fine() -> None:
    assert findings(fixture("quantization/uint8_io.tflite"), "TFL302") == []


# -- TFL303 float-fallback-in-quantized-model -------------------------------


def test_float_island_lists_the_op_and_layer() -> None:
    [diagnostic] = findings(fixture("quantization/int8_sin.tflite"), "TFL303")
    assert diagnostic.location is not None and diagnostic.location.op_type == "SIN"
    assert diagnostic.message == ("1 op stays float32 in the int8 model: SIN in layer 'sine' "
                                  "(between DEQUANTIZE and QUANTIZE)")
    assert diagnostic.suggestion is not None and "TFLITE_BUILTINS_INT8" in diagnostic.suggestion


@pytest.mark.parametrize("name", ["quantization/int8_tanh.tflite",
                                  "quantization/dynamic_range.tflite",
                                  "quantization/float16.tflite", "clean/mobile_cnn.tflite"])
def test_fully_quantized_or_float_models_have_no_island(name: str) -> None:
    assert findings(fixture(name), "TFL303") == []


# -- TFL304 hybrid-op -------------------------------------------------------


def test_hybrid_ops_say_whether_xnnpack_takes_them() -> None:
    found = findings(fixture("quantization/dynamic_range.tflite"), "TFL304")
    by_op = {d.location.op_type: d for d in found if d.location is not None}
    assert set(by_op) == {"DEPTHWISE_CONV_2D", "CONV_2D", "FULLY_CONNECTED"}
    assert by_op["DEPTHWISE_CONV_2D"].severity is Severity.WARNING
    assert "XNNPACK does not take" in by_op["DEPTHWISE_CONV_2D"].message
    assert "(layers dw)" in by_op["DEPTHWISE_CONV_2D"].message
    for op in ("CONV_2D", "FULLY_CONNECTED"):
        assert by_op[op].severity is Severity.INFO
        assert "XNNPACK takes it" in by_op[op].message
    assert "(layers head)" in by_op["FULLY_CONNECTED"].message  # named after its weights


@pytest.mark.parametrize("name", ["quantization/float16.tflite", "quantization/int8_int8_io.tflite",
                                  "clean/mobile_cnn.tflite"])
def test_float16_int8_and_float_models_have_no_hybrid_op(name: str) -> None:
    assert findings(fixture(name), "TFL304") == []


@pytest.mark.runtime
def test_hybrid_claims_match_the_runtime() -> None:
    from ai_edge_litert.interpreter import Interpreter

    cpu_ops = _cpu_ops()
    interpreter = Interpreter(model_path=str(fixture("quantization/dynamic_range.tflite")))
    interpreter.allocate_tensors()
    assert cpu_ops(interpreter) == ["DEPTHWISE_CONV_2D"]


def _cpu_ops():  # type: ignore[no-untyped-def]
    path = FIXTURES / "generate_dynamic.py"
    spec = importlib.util.spec_from_file_location("generate_dynamic", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.cpu_ops


# -- TFL305 float16-weights, TFL306 int16-activations -----------------------


def test_float16_weights_are_summarised_once() -> None:
    [diagnostic] = findings(fixture("quantization/float16.tflite"), "TFL305")
    assert diagnostic.severity is Severity.INFO
    assert diagnostic.message.startswith("5 float16 weight tensors (")
    assert diagnostic.message.endswith(
        "are expanded to float32 by DEQUANTIZE ops; compute stays float32")
    assert findings(fixture("quantization/dynamic_range.tflite"), "TFL305") == []


def test_int16_activations_are_reported() -> None:
    [diagnostic] = findings(fixture("quantization/int16x8.tflite"), "TFL306")
    assert diagnostic.message.startswith(
        "6 ops run with int16 activations, which XNNPACK does not take")
    assert "CONV_2D x2" in diagnostic.message
    assert findings(fixture("quantization/int8_float_io.tflite"), "TFL306") == []


@pytest.mark.runtime
def test_int16_model_gets_no_xnnpack_partition() -> None:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(fixture("quantization/int16x8.tflite")))
    interpreter.allocate_tensors()
    ops = [op["op_name"] for op in interpreter._get_ops_details()]
    assert "DELEGATE" not in ops and "CONV_2D" in ops


# -- TFL313 requantize ------------------------------------------------------


def test_requantize_before_concatenation_names_both_layers() -> None:
    [diagnostic] = findings(fixture("quantization/concat_requantize.tflite"), "TFL313")
    assert diagnostic.severity is Severity.INFO
    assert diagnostic.message.startswith(
        "QUANTIZE requantizes the output of LOGISTIC in layer 'gate' from scale 0.00390625 to ")
    assert ("for CONCATENATION in layer 'cat' (LOGISTIC has a fixed output scale)"
            in diagnostic.message)
    assert findings(fixture("quantization/concat_same_scale.tflite"), "TFL313") == []


# -- hand-built malformed parameters: each file breaks exactly one rule -----

MALFORMED = {
    "malformed_missing_scale": "TFL307",
    "malformed_zero_scale": "TFL308",
    "malformed_negative_scale": "TFL308",
    "malformed_nan_scale": "TFL308",
    "malformed_zero_point_range": "TFL309",
    "malformed_scale_count": "TFL310",
    "malformed_channel_axis": "TFL310",
    "malformed_weight_zero_point": "TFL311",
    "malformed_bias_scale": "TFL312",
    "malformed_bias_type": "TFL312",
    "malformed_bias_unquantized": "TFL312",
    "malformed_concat_scales": "TFL314",
    "malformed_transpose_scales": "TFL314",
}


def test_every_malformed_fixture_is_tested() -> None:
    assert set(MALFORMED) == set(generator().MALFORMED)


@pytest.mark.parametrize(("name", "code"), sorted(MALFORMED.items()))
def test_malformed_parameter_is_reported_by_its_rule_only(name: str, code: str) -> None:
    assert codes(fixture(f"quantization/{name}.tflite")) == {code}


@pytest.mark.parametrize("name", ["wellformed_conv", "wellformed_concat", "wellformed_transpose"])
def test_wellformed_hand_built_models_are_clean(name: str) -> None:
    assert codes(fixture(f"quantization/{name}.tflite")) == set()


@pytest.mark.parametrize(("name", "expected"), [
    ("malformed_missing_scale",
     "the int8 output of CONV_2D has no quantization parameters"),
    ("malformed_zero_scale", "int8 tensor 'input' has scale 0 (zero)"),
    ("malformed_nan_scale", "the int8 output has a NaN scale"),
    ("malformed_zero_point_range",
     "the int8 output has zero point 200, outside [-128, 127]"),
    ("malformed_channel_axis",
     "int8 constant 'conv/weights' has 4 scales along dimension 3 of size 2 (shape [4, 3, 3, 2])"),
    ("malformed_weight_zero_point",
     "int8 constant 'conv/weights' of CONV_2D has zero point 5; int8 weights must be symmetric "
     "(zero point 0)"),
    ("malformed_bias_type",
     "bias 'conv/bias' of CONV_2D is int8, but int8 kernels need int32: the model does not load"),
    ("malformed_concat_scales",
     "CONCATENATION has input 'b' with scale 0.1, zero point 0 but output scale 0.05, "
     "zero point -3; the int8 kernel rejects it: the model does not load"),
])
def test_malformed_messages(name: str, expected: str) -> None:
    [diagnostic] = tflint.lint(fixture(f"quantization/{name}.tflite"),
                               tflint.Config(select=QUANT_CODES)).diagnostics
    assert diagnostic.message == expected
    assert diagnostic.suggestion


def test_bias_scale_mismatch_gives_the_factor_and_honours_the_tolerance() -> None:
    path = fixture("quantization/malformed_bias_scale.tflite")
    [diagnostic] = findings(path, "TFL312")
    assert diagnostic.severity is Severity.WARNING
    assert "off by a factor 0.5" in diagnostic.message
    assert findings(path, "TFL312", **{"bias-scale-tolerance": 0.6}) == []


def test_a_zero_bias_shared_between_convolutions_is_not_a_scale_mismatch() -> None:
    # The 16x8 converter gives both convolutions one all-zero bias tensor,
    # whose scale matches only the first.
    assert findings(fixture("quantization/int16x8.tflite"), "TFL312") == []


def test_error_rules_fail_the_cli_run() -> None:
    path = fixture("quantization/malformed_concat_scales.tflite")
    run = run_tflint("--select", "quantization", path)
    assert run.code == 1
    assert "error TFL314 CONCATENATION has input 'b'" in run.out


_RUN_ALL = """
import json, sys
import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType
resolver = getattr(OpResolverType, sys.argv[1])
results = {}
for path in sys.argv[2:]:
    try:
        interpreter = Interpreter(model_path=path, experimental_op_resolver_type=resolver)
        interpreter.allocate_tensors()
        for d in interpreter.get_input_details():
            interpreter.set_tensor(d["index"], np.ones(d["shape"], d["dtype"]))
        interpreter.invoke()
        results[path] = "runs"
    except (RuntimeError, ValueError):
        results[path] = "fails"
print(json.dumps(results))
"""


@pytest.mark.runtime
def test_runtime_behaviour_the_rules_describe() -> None:
    """Loads, fails or runs as the generator recorded, with and without XNNPACK."""
    expected = generator().RUNTIME
    paths = [str(fixture(f"quantization/{name}.tflite")) for name in expected]
    found = {}
    for column, resolver in enumerate(("AUTO", "BUILTIN_WITHOUT_DEFAULT_DELEGATES")):
        proc = subprocess.run([sys.executable, "-c", _RUN_ALL, resolver, *paths],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        results = json.loads(proc.stdout.splitlines()[-1])
        for name, path in zip(expected, paths, strict=True):
            found.setdefault(name, [None, None])[column] = results[path]
    assert {name: tuple(v) for name, v in found.items()} == expected
    # Every error-severity finding is about a model that fails somewhere,
    # except a missing scale, whose wrong outputs the next test shows.
    for name, code in MALFORMED.items():
        severities = {d.severity for d in tflint.lint(
            fixture(f"quantization/{name}.tflite"), tflint.Config(select=[code])).diagnostics}
        if Severity.ERROR in severities and name != "malformed_missing_scale":
            assert "fails" in expected[name], name


_OUTPUTS = """
import json, sys
import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType
resolver = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
outputs = {}
for path in sys.argv[1:]:
    interpreter = Interpreter(model_path=path, experimental_op_resolver_type=resolver)
    interpreter.allocate_tensors()
    for d in interpreter.get_input_details():
        values = np.arange(np.prod(d["shape"])).reshape(d["shape"]) % 7 - 3
        interpreter.set_tensor(d["index"], values.astype(d["dtype"]))
    interpreter.invoke()
    outputs[path] = interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).tolist()
print(json.dumps(outputs))
"""


@pytest.mark.runtime
def test_models_that_run_compute_what_the_messages_say() -> None:
    names = ["wellformed_conv", "malformed_missing_scale", "malformed_bias_scale",
             "wellformed_transpose", "malformed_transpose_scales"]
    paths = [str(fixture(f"quantization/{name}.tflite")) for name in names]
    proc = subprocess.run([sys.executable, "-c", _OUTPUTS, *paths],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(proc.stdout.splitlines()[-1])
    out = {name: results[path] for name, path in zip(names, paths, strict=True)}
    # TFL307: an output without parameters comes out as zeros.
    assert len({v for v in _flat(out["wellformed_conv"])}) > 1
    assert set(_flat(out["malformed_missing_scale"])) == {0}
    # TFL312: the kernels ignore the stored bias scale.
    assert out["malformed_bias_scale"] == out["wellformed_conv"]
    # TFL314: TRANSPOSE copies the integers, whatever the output's scale.
    assert out["malformed_transpose_scales"] == out["wellformed_transpose"]


def _flat(values: object) -> list[int]:
    if isinstance(values, list):
        return [x for v in values for x in _flat(v)]
    return [int(values)]  # type: ignore[call-overload]
