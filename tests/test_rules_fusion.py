"""The fusion rules TFL401-TFL411 on real converted models and on hand-built ones.

Real fixtures come from ``fixtures/generate_fusion.py`` (each triggering model
has a close variant that must stay silent); the ``builder_*`` fixtures and
the models written here with its ``FlatModel`` cover what the converter
always fuses, and the pattern arrangements it never writes.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import FIXTURES, fixture, run_tflint

import tflint
from tflint.config import Config
from tflint.diagnostics import Diagnostic
from tflint.registry import load_rules

CODES = [f"TFL4{n:02d}" for n in range(1, 12)]


@dataclass(frozen=True)
class Expected:
    code: str
    severity: str
    op_type: str
    message: str
    suggestion: str


TRIGGERING: dict[str, list[Expected]] = {
    "activation_after_pad": [Expected(
        "TFL401", "warning", "RELU",
        "RELU after PAD in layer 'pad' is not fused into CONV_2D in layer 'conv'",
        "Conv2D(..., activation='relu'), then the ZeroPadding2D")],
    "batch_norm_after_pool": [Expected(
        "TFL402", "warning", "ADD",
        "batch norm (MUL, ADD) after MAX_POOL_2D in layer 'pool' is not folded into CONV_2D in "
        "layer 'conv'",
        "BatchNormalization right after 'conv', before the MaxPooling2D; every scale here is "
        "positive")],
    "hard_swish_expanded": [Expected(
        "TFL403", "warning", "MUL",
        "hard-swish of FULLY_CONNECTED in layer 'dense' is expanded into 3 ops (ADD, MUL, MUL)",
        "Activation('hard_swish')")],
    "leaky_relu_maximum": [Expected(
        "TFL404", "warning", "MAXIMUM",
        "leaky ReLU (alpha 0.2) of FULLY_CONNECTED in layer 'dense' is expanded into 2 ops "
        "(MUL, MAXIMUM)", "LeakyReLU(negative_slope=0.2)")],
    "leaky_relu_where": [Expected(
        "TFL404", "warning", "SELECT",
        "leaky ReLU (alpha 0.2) of FULLY_CONNECTED in layer 'dense' is expanded into 3 ops "
        "(GREATER, MUL, SELECT)", "LeakyReLU(negative_slope=0.2)")],
    "gelu_tanh_expanded": [Expected(
        "TFL405", "warning", "MUL",
        "GELU (tanh approximation) of FULLY_CONNECTED in layer 'dense' is expanded into 10 ops",
        "keras.activations.gelu(x, approximate=True)")],
    "gelu_erf_flex": [Expected(
        "TFL405", "warning", "MUL",
        "GELU (erf form) of 'x' is expanded into 5 ops; its FlexErf needs the Select TF ops "
        "delegate", "keras.activations.gelu(x, approximate=False)")],
    "layer_norm_int8": [Expected(
        "TFL406", "warning", "RSQRT",
        "LayerNorm of the model input is quantized to int8; XNNPACK takes no int8 RSQRT, "
        "SQUARED_DIFFERENCE", "denylisted_ops=['MEAN', 'SQUARED_DIFFERENCE', 'RSQRT']")],
    "silu_exp": [Expected(
        "TFL407", "warning", "DIV",
        "SiLU of FULLY_CONNECTED in layer 'dense' is written with EXP in 4 ops "
        "(NEG, EXP, ADD, DIV)", "keras.activations.silu")],
    "transpose_around_sin": [Expected(
        "TFL408", "warning", "TRANSPOSE",
        "TRANSPOSE [0, 3, 1, 2] and TRANSPOSE [0, 2, 3, 1] around SIN cancel out",
        "remove both transposes (the first is TRANSPOSE in layer 'to_channels_first')")],
    "transpose_around_sin_int8": [Expected(
        "TFL408", "warning", "TRANSPOSE",
        "TRANSPOSE [0, 3, 1, 2] and TRANSPOSE [0, 2, 3, 1] around DEQUANTIZE, SIN, QUANTIZE "
        "cancel out", "remove both transposes")],
    "reshape_around_sin": [Expected(
        "TFL409", "info", "RESHAPE",
        "RESHAPE to [1, 2, 4, 8] and RESHAPE back to [1, 8, 8] around SIN cancel out",
        "remove both reshapes (the first is RESHAPE in layer 'split')")],
    "fake_quant_float": [Expected(
        "TFL410", "warning", "DEQUANTIZE",
        "QUANTIZE to uint8 then DEQUANTIZE back to float32: a fake-quantization round trip",
        "optimizations=[tf.lite.Optimize.DEFAULT]")],
    "identity_reshape_dynamic": [Expected(
        "TFL411", "info", "RESHAPE", "RESHAPE to the same shape [?, 4, 6, 8] does nothing",
        "remove the Reshape layer")],
    # Hand-built: what the converter always fuses or removes.
    "builder_conv_relu": [Expected(
        "TFL401", "info", "RELU", "RELU is not fused into CONV_2D 'conv'",
        "XNNPACK fuses this pair at load time")],
    "builder_conv_mul_add": [Expected(
        "TFL402", "warning", "ADD", "batch norm (MUL, ADD) is not folded into CONV_2D 'conv'",
        "fold the scale and offset into the conv's weights and bias, as the TFLite converter")],
    "builder_transposes": [
        Expected("TFL408", "warning", "TRANSPOSE",
                 "TRANSPOSE [0, 3, 1, 2] and TRANSPOSE [0, 2, 3, 1] cancel out",
                 "remove both transposes"),
        Expected("TFL408", "warning", "TRANSPOSE",
                 "TRANSPOSE [0, 3, 1, 2] then TRANSPOSE [0, 3, 1, 2] make one TRANSPOSE "
                 "[0, 2, 3, 1]", "permute once, with perm [0, 2, 3, 1]")],
    "builder_reshape_chain": [Expected(
        "TFL409", "info", "RESHAPE",
        "3 reshapes in a row (RESHAPE, RESHAPE, RESHAPE), ending at [1, 8, 4]",
        "reshape once, straight to [1, 8, 4] (the run starts at RESHAPE 'reshape_0')")],
    "builder_dequantize_quantize": [
        Expected("TFL410", "warning", "QUANTIZE",
                 "DEQUANTIZE then QUANTIZE with the same int8 scale and zero point do nothing",
                 "remove both ops"),
        Expected("TFL410", "warning", "QUANTIZE",
                 "DEQUANTIZE then QUANTIZE requantize int8 to int8 through float",
                 "one QUANTIZE from int8 to int8")],
    "builder_identity_ops": [
        Expected("TFL411", "warning", "TRANSPOSE",
                 "TRANSPOSE with the identity permutation does nothing", "Permute"),
        Expected("TFL411", "warning", "ADD", "ADD of a constant zero does nothing", "offset 0"),
        Expected("TFL411", "warning", "SUB", "SUB of a constant zero does nothing", "remove"),
        Expected("TFL411", "warning", "MUL", "MUL by a constant one does nothing", "scale 1"),
        Expected("TFL411", "warning", "DIV", "DIV by a constant one does nothing", "remove"),
        Expected("TFL411", "warning", "CAST", "CAST from float32 to float32 does nothing",
                 "cast"),
        Expected("TFL411", "warning", "PAD", "PAD with all-zero paddings does nothing",
                 "ZeroPadding"),
        Expected("TFL411", "info", "RESHAPE", "RESHAPE to the same shape [1, 4, 4, 2] does nothing",
                 "Reshape layer")],
}
#: Close variants of the triggering models: nothing to report.
SILENT = [
    "activation_before_pad", "batch_norm_before_pool", "batch_norm_wrong_axis",
    "hard_swish_builtin", "leaky_relu_builtin", "maximum_not_leaky", "gelu_builtin",
    "layer_norm_float", "silu_logistic", "transpose_sin_no_cancel", "reshape_sin_other_shape",
    "fake_quant_free", "reshape_dynamic", "builder_conv_relu_shared", "builder_near_identity_ops",
]


def lint_fusion(path: str | Path) -> tflint.engine.FileResult:
    [file] = tflint.lint(str(path), Config(select=["fusion"])).files
    assert file.error is None, file.error
    return file


@pytest.mark.parametrize("name", sorted(TRIGGERING))
def test_fixture_triggers_its_rule(name: str) -> None:
    file = lint_fusion(fixture(f"fusion/{name}.tflite"))
    found = [(d.code, d.severity.value, d.location.op_type) for d in file.diagnostics]
    assert found == [(e.code, e.severity, e.op_type) for e in TRIGGERING[name]]
    for diagnostic, expected in zip(file.diagnostics, TRIGGERING[name], strict=True):
        assert diagnostic.message == expected.message
        assert expected.suggestion in diagnostic.suggestion


@pytest.mark.parametrize("name", SILENT)
def test_close_variant_is_silent(name: str) -> None:
    assert lint_fusion(fixture(f"fusion/{name}.tflite")).diagnostics == []


def test_every_fusion_rule_has_a_real_converted_fixture() -> None:
    converted = {e.code for name, found in TRIGGERING.items() if not name.startswith("builder_")
                 for e in found}
    assert converted == set(CODES)
    registered = {rule.code for rule in load_rules()
                  if rule.category == "fusion" and "tflite" in rule.file_kinds}
    assert set(CODES) <= registered


def test_fine_forms_are_counted_in_the_summary_not_reported() -> None:
    silu = lint_fusion(fixture("fusion/silu_logistic.tflite"))
    assert "1 SiLU activation runs as LOGISTIC + MUL: fine" in " ".join(silu.notes)
    norm = lint_fusion(fixture("fusion/layer_norm_float.tflite"))
    assert any(n.startswith("1 LayerNorm/RMSNorm normalization runs as") for n in norm.notes)
    # The int8 twin is reported, not counted as fine.
    assert not any("LayerNorm" in n for n in lint_fusion(fixture("fusion/layer_norm_int8.tflite"))
                   .notes)


def test_cli_reports_a_fusion_finding_and_its_help() -> None:
    run = run_tflint("--select", "fusion", fixture("fusion/activation_after_pad.tflite"))
    assert run.code == 1
    assert "warning TFL401 RELU after PAD in layer 'pad' is not fused" in run.out
    assert "help: apply the activation before the ZeroPadding2D" in run.out
    clean = run_tflint("--select", "fusion", fixture("fusion/activation_before_pad.tflite"))
    assert clean.code == 0, clean.out


# --------------------------------------------------------------------------
# Arrangements no converter writes, built with the fixture generator's builder
# (which writes with LiteRT's flatbuffer schema: the runtime extra)
# --------------------------------------------------------------------------


@cache
def generator() -> Any:
    spec = importlib.util.spec_from_file_location("generate_fusion",
                                                  FIXTURES / "generate_fusion.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SHAPE = (1, 4)
NONE = {"fusedActivationFunction": "NONE"}


class Model:
    """A float input written op by op; ``lint`` writes and lints the file."""

    def __init__(self, tmp_path: Path, shape: tuple[int, ...] = SHAPE) -> None:
        self.flat = generator().FlatModel("test model")
        self.path = tmp_path / "model.tflite"
        self.x = self.flat.tensor("x", shape)

    def c(self, value: Any, dtype: str = "FLOAT32",
          quantization: tuple[float, int] | None = None) -> int:
        return self.flat.const(f"c{len(self.flat.tensors)}", value, dtype, quantization)

    def op(self, op_type: str, *inputs: int, shape: tuple[int, ...] = SHAPE, **options: Any) -> int:
        if op_type in ("ADD", "SUB", "MUL", "DIV") and "fusedActivationFunction" not in options:
            options.update(NONE)
        return self.flat.op(op_type, list(inputs), f"{op_type.lower()}_{len(self.flat.tensors)}",
                            shape, **options)

    def lint(self, *outputs: int) -> list[Diagnostic]:
        self.path.write_bytes(self.flat.finish([self.x], list(outputs)))
        return lint_fusion(self.path).diagnostics


def codes(diagnostics: list[Diagnostic]) -> list[str]:
    return [d.code for d in diagnostics]


@pytest.mark.runtime
def test_hard_swish_arrangements(tmp_path: Path) -> None:
    m = Model(tmp_path)
    x = m.x
    relu6 = m.op("RELU6", m.op("ADD", m.c(3.0), x))                  # standalone RELU6
    a = m.op("MUL", x, m.op("DIV", relu6, m.c(6.0)))                 # x * (relu6 / 6)
    fused = m.op("ADD", x, m.c(3.0), fusedActivationFunction="RELU6")
    b = m.op("DIV", m.op("MUL", fused, x), m.c(6.0))                 # (relu6 * x) / 6
    near = m.op("ADD", x, m.c(2.0), fusedActivationFunction="RELU6")
    c = m.op("MUL", m.op("MUL", near, x), m.c(1 / 6))                # x + 2: not hard-swish
    found = m.lint(a, b, c)
    # The standalone RELU6 after an ADD is also an unfused activation of its own.
    assert codes(found) == ["TFL401", "TFL403", "TFL403"]
    assert [d.message.split(" is expanded into ")[1] for d in found[1:]] == [
        "4 ops (ADD, RELU6, DIV, MUL)", "3 ops (ADD, MUL, DIV)"]


@pytest.mark.runtime
def test_int8_hard_swish_expansion_is_left_alone(tmp_path: Path) -> None:
    """XNNPACK takes int8 ADD and MUL but not int8 HARD_SWISH: no advice to switch."""
    m = Model(tmp_path)
    q = (0.05, 0)
    outputs = []
    for dtype in ("INT8", "FLOAT32"):
        quantized = dtype == "INT8"
        x = m.op("QUANTIZE", m.x, dtype="INT8", quantization=q) if quantized else m.x
        qx = q if quantized else None
        three = m.c(60, "INT8", q) if quantized else m.c(3.0)
        sixth = m.c(100, "INT8", (1 / 600, 0)) if quantized else m.c(1 / 6)
        fused = m.flat.op("ADD", [x, three], f"add_{dtype}", SHAPE, dtype, qx,
                          fusedActivationFunction="RELU6")
        product = m.flat.op("MUL", [fused, x], f"mul_{dtype}", SHAPE, dtype, qx, **NONE)
        outputs.append(m.flat.op("MUL", [product, sixth], f"out_{dtype}", SHAPE, dtype, qx,
                                 **NONE))
    found = m.lint(*outputs)
    assert [(d.code, d.location.name) for d in found] == [("TFL403", "out_FLOAT32")]


@pytest.mark.runtime
def test_gelu_variants(tmp_path: Path) -> None:
    m = Model(tmp_path)
    x = m.x
    # tanh form, factored: tanh(s x (1 + c x^2)), the 0.5 applied last
    quadratic = m.op("MUL", m.op("SQUARE", x), m.c(0.044715))
    inner = m.op("MUL", m.op("MUL", x, m.c(0.7978845608)), m.op("ADD", quadratic, m.c(1.0)))
    tanh_form = m.op("MUL", m.op("MUL", x, m.op("ADD", m.op("TANH", inner), m.c(1.0))), m.c(0.5))
    # erf form: a custom Erf of x / sqrt(2), as x * (1/2 + erf/2)
    erf = m.op("Erf", m.op("DIV", x, m.c(2 ** 0.5)))
    erf_form = m.op("MUL", x, m.op("ADD", m.op("MUL", erf, m.c(0.5)), m.c(0.5)))
    # a wrong cubic coefficient is not GELU
    cubic = m.op("MUL", m.op("MUL", m.op("MUL", x, m.c(0.5)), x), x)
    wrong = m.op("MUL", m.op("ADD", x, cubic), m.c(0.7978845608))
    not_gelu = m.op("MUL", m.op("MUL", x, m.c(0.5)), m.op("ADD", m.op("TANH", wrong), m.c(1.0)))
    found = m.lint(tanh_form, erf_form, not_gelu)
    assert [d.message for d in found] == [
        "GELU (tanh approximation) of 'x' is expanded into 9 ops",
        "GELU (erf form) of 'x' is expanded into 5 ops; its custom op Erf must be registered by "
        "the app"]
    assert "approximate=False" in found[1].suggestion


@pytest.mark.runtime
def test_leaky_relu_variants(tmp_path: Path) -> None:
    m = Model(tmp_path)
    x = m.x
    minimum = m.op("MINIMUM", x, m.op("MUL", x, m.c(3.0)))                 # slope 3 below zero
    select = m.op("SELECT", m.op("LESS", x, m.c(0.0)), m.op("MUL", x, m.c(0.1)), x)
    prelu = m.op("MAXIMUM", x, m.op("MUL", x, m.c([0.1, 0.2, 0.3, 0.4])))
    relu_like = m.op("MAXIMUM", x, m.op("MUL", x, m.c(-0.5)))             # not leaky
    found = m.lint(minimum, select, prelu, relu_like)
    assert [d.message.split(" of ")[0] for d in found] == [
        "leaky ReLU (alpha 3)", "leaky ReLU (alpha 0.1)", "PReLU (per-channel alpha)"]
    assert "keras.layers.PReLU" in found[2].suggestion


@pytest.mark.runtime
def test_silu_spelled_with_a_reciprocal(tmp_path: Path) -> None:
    m = Model(tmp_path)
    x = m.x
    denominator = m.op("ADD", m.op("EXP", m.op("MUL", x, m.c(-1.0))), m.c(1.0))
    silu = m.op("MUL", x, m.op("DIV", m.c(1.0), denominator))
    other = m.op("DIV", x, m.op("ADD", m.op("EXP", m.op("NEG", x)), m.c(2.0)))  # not 1 + exp
    found = m.lint(silu, other)
    assert codes(found) == ["TFL407"]
    assert found[0].message.endswith("in 5 ops (MUL, EXP, ADD, DIV, MUL)")


@pytest.mark.runtime
def test_layer_norm_written_by_hand_in_int8(tmp_path: Path) -> None:
    m = Model(tmp_path)
    q = (0.02, 0)
    x = m.op("QUANTIZE", m.x, dtype="INT8", quantization=q)
    axis = m.c([1], "INT32")
    mean = m.flat.op("MEAN", [x, axis], "mean", (1, 1), "INT8", q, keepDims=True)
    centred = m.flat.op("SUB", [x, mean], "centred", SHAPE, "INT8", q, **NONE)
    variance = m.flat.op("MEAN", [m.flat.op("SQUARE", [centred], "sq", SHAPE, "INT8", q), axis],
                         "variance", (1, 1), "INT8", q, keepDims=True)
    epsilon = m.flat.op("ADD", [variance, m.c(1, "INT8", q)], "eps", (1, 1), "INT8", q, **NONE)
    inverse = m.flat.op("RSQRT", [epsilon], "rsqrt", (1, 1), "INT8", q)
    out = m.flat.op("MUL", [centred, inverse], "normalized", SHAPE, "INT8", q, **NONE)
    [found] = m.lint(out)
    assert found.code == "TFL406"
    assert found.message.endswith("is quantized to int8; XNNPACK takes no int8 RSQRT, SQUARE")


@pytest.mark.runtime
def test_activation_through_a_reshape_and_after_a_binary_op(tmp_path: Path) -> None:
    m = Model(tmp_path)
    x = m.x
    conv_like = m.op("FULLY_CONNECTED", x, m.c([[0.5] * 4] * 4), fusedActivationFunction="NONE")
    reshaped = m.op("RESHAPE", conv_like, m.c([2, 2], "INT32"), shape=(2, 2))
    relu6 = m.op("RELU6", reshaped, shape=(2, 2))
    clipped = m.op("RELU_N1_TO_1", m.op("SUB", x, m.c(1.0)))
    relu_of_mean = m.op("RELU", m.op("MEAN", m.op("ADD", x, x), m.c([1], "INT32"), shape=(1,)),
                        shape=(1,))  # MEAN changes values: relu cannot move across it
    found = m.lint(relu6, clipped, relu_of_mean)
    assert [(d.code, d.severity.value, d.location.op_type) for d in found] == [
        ("TFL401", "warning", "RELU6"), ("TFL401", "info", "RELU_N1_TO_1")]
    assert "Dense(..., activation='relu6'), then the Reshape" in found[0].suggestion
    assert "a Subtract followed directly by a clip to [-1, 1]" in found[1].suggestion


@pytest.mark.runtime
def test_batch_norm_after_pooling_with_a_negative_scale(tmp_path: Path) -> None:
    m = Model(tmp_path, shape=(1, 4, 4, 2))
    pooled_shape = (1, 2, 2, 2)
    pooling = {"padding": "VALID", "strideW": 2, "strideH": 2, "filterWidth": 2,
               "filterHeight": 2, "fusedActivationFunction": "NONE"}
    outputs = []
    for op_type in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        conv = generator().conv(m.flat, m.x, f"conv_{op_type}")
        pooled = m.op(op_type, conv, shape=pooled_shape, **pooling)
        scaled = m.op("MUL", pooled, m.c([1.0, -1.0]), shape=pooled_shape)
        outputs.append(m.op("ADD", scaled, m.c([0.5, 0.5]), shape=pooled_shape))
    # A scale along H (not channels) cannot be folded into the conv.
    conv = generator().conv(m.flat, m.x, "conv_rows")
    rows = m.op("MUL", conv, m.c(np.full((1, 4, 1, 1), 2.0)), shape=(1, 4, 4, 2))
    outputs.append(m.op("ADD", rows, m.c([0.5, 0.5]), shape=(1, 4, 4, 2)))
    found = m.lint(*outputs)
    assert codes(found) == ["TFL402", "TFL402"]
    assert found[0].suggestion.endswith("a negative or unknown scale changes the max pooling: "
                                        "fine-tune afterwards")
    assert found[1].suggestion.endswith("the result is the same")


@pytest.mark.runtime
def test_identity_checks_shapes_and_quantization(tmp_path: Path) -> None:
    m = Model(tmp_path)
    q_in, q_out = (0.05, 0), (0.1, 0)
    x = m.op("QUANTIZE", m.x, dtype="INT8", quantization=q_in)
    requantizing = m.flat.op("ADD", [x, m.c(0, "INT8", q_in)], "requant", SHAPE, "INT8", q_out,
                             **NONE)               # + 0, but to another scale: not an identity
    same = m.flat.op("ADD", [x, m.c(0, "INT8", q_in)], "same", SHAPE, "INT8", q_in, **NONE)
    relu = m.op("ADD", m.x, m.c(0.0), fusedActivationFunction="RELU")  # + 0 then relu
    found = m.lint(requantizing, same, relu)
    assert [(d.code, d.location.name) for d in found] == [("TFL411", "same")]
