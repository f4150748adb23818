from __future__ import annotations

import math
from collections.abc import Iterator
from typing import ClassVar

from tflint_rules._quant_params import WEIGHTED_OPS, operand, show_scale

from tflint.diagnostics import Diagnostic, Severity
from tflint.graph import Node, Tensor
from tflint.rule import Option, Rule, RuleContext

#: The bias type the quantized kernels read, by activation type.
BIAS_TYPES = {"int8": ("int32",), "uint8": ("int32",), "int16": ("int64", "int32")}


class BiasQuantization(Rule):
    """Bias of a quantized conv/FC with the wrong type, no parameters or a wrong scale.

    ## What it does
    For `CONV_2D`, `DEPTHWISE_CONV_2D`, `FULLY_CONNECTED`, `TRANSPOSE_CONV`
    and `CONV_3D` with quantized activations, checks the bias: int32 for
    int8/uint8 activations (int64, or int32, for int16), quantized, with
    zero points 0 and a scale equal to input scale × weight scale (per
    channel), within a relative tolerance (option `bias-scale-tolerance`,
    default 0.001).  An all-zero bias reads the same at any scale and is
    exempt from the scale check: the converter shares one zero bias tensor
    between ops whose input × weight scales differ.

    ## Why is this bad
    A bias of another type makes the kernel refuse to prepare ("bias->type
    != kTfLiteInt32"): the model does not load.  A bias without quantization
    parameters runs on the built-in kernels but XNNPACK does not take the op.
    The int8 kernels (built-in and XNNPACK) do not read the bias scale:
    they take input scale × weight scale, so a bias whose integers were
    computed with another scale is silently off by the ratio of the two
    (LiteRT 2.3 gives the same outputs whatever the stored bias scale),
    which no test of loading or running catches.

    ## Example
    ```
    model.tflite:1:1: warning TFL312 bias 'conv/bias' of CONV_2D has scale 0.0001 but input scale × weight scale is 0.0002 (channel 0); the kernels use the latter, so the bias is off by a factor 2 (subgraph 0 / op 0 (CONV_2D) "conv/output")
    ```

    ## How to fix
    Re-quantize with the TensorFlow converter, which writes int32 biases
    with scale input × weight and zero point 0; when exporting with another
    tool, quantize the bias with that scale.
    """

    code = "TFL312"
    name = "bias-quantization"
    category = "quantization"
    severity = Severity.WARNING
    file_kinds = frozenset({"tflite"})
    triggers = frozenset({"quantized"})
    options: ClassVar[dict[str, Option]] = {
        "bias-scale-tolerance": Option(
            float, 1e-3, "relative difference allowed between the bias scale and input scale x "
            "weight scale", check=lambda v: None if v >= 0 else "must not be negative"),
    }

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        tolerance = ctx.options["bias-scale-tolerance"]
        for node in ctx.graph.nodes():
            layout = WEIGHTED_OPS.get(node.op_type)
            if layout is None or layout.bias is None:
                continue
            data = _input(node)
            weights = operand(node, layout.weights)
            bias = operand(node, layout.bias)
            if data is None or weights is None or bias is None or data.quantization is None \
                    or data.dtype not in BIAS_TYPES:
                continue  # float or hybrid op: its bias is float
            yield from _check_bias(ctx, node, data, weights, bias, tolerance)


def _input(node: Node) -> Tensor | None:
    # TRANSPOSE_CONV takes (output_shape, weights, input, bias).
    return operand(node, 2 if node.op_type == "TRANSPOSE_CONV" else 0)


def _check_bias(ctx: RuleContext, node: Node, data: Tensor, weights: Tensor, bias: Tensor,
                tolerance: float) -> Iterator[Diagnostic]:
    what = f"bias '{bias.name}' of {node.op_type}"
    expected = BIAS_TYPES[data.dtype or ""]
    fix = "re-quantize with the TensorFlow converter (int32 bias, scale input × weight)"
    if bias.dtype not in expected:
        yield ctx.diagnostic(
            node, f"{what} is {bias.dtype}, but {data.dtype} kernels need "
                  f"{' or '.join(expected)}: the model does not load",
            suggestion=fix, severity=Severity.ERROR)
        return
    quantization = bias.quantization
    if quantization is None:
        yield ctx.diagnostic(
            node, f"{what} has no quantization parameters; XNNPACK does not take the op",
            suggestion=fix)
        return
    if any(z != 0 for z in quantization.zero_point):
        yield ctx.diagnostic(node, f"{what} has a non-zero zero point", suggestion=fix)
    mismatch = _scale_mismatch(data, weights, bias, tolerance)
    if mismatch is not None and not _all_zero(ctx, bias):
        channel, stored, wanted = mismatch
        where = f" (channel {channel})" if len(quantization.scale) > 1 else ""
        yield ctx.diagnostic(
            node,
            f"{what} has scale {show_scale(stored)} but input scale × weight scale is "
            f"{show_scale(wanted)}{where}; the kernels use the latter, so the bias is off by a "
            f"factor {show_scale(stored / wanted)}",
            suggestion=fix)


def _all_zero(ctx: RuleContext, bias: Tensor) -> bool:
    """A zero bias reads the same at any scale (the converter shares one between ops)."""
    data = ctx.graph.read_constant(bias)
    return data is not None and not any(data)


def _scale_mismatch(data: Tensor, weights: Tensor, bias: Tensor,
                    tolerance: float) -> tuple[int, float, float] | None:
    if data.quantization is None or weights.quantization is None or bias.quantization is None:
        return None
    input_scale = data.quantization.scale[0]
    weight_scales = weights.quantization.scale
    bias_scales = bias.quantization.scale
    if len(bias_scales) not in (1, len(weight_scales)):
        return None  # a layout problem, reported by TFL310
    for channel, weight_scale in enumerate(weight_scales):
        stored = bias_scales[channel if len(bias_scales) > 1 else 0]
        wanted = input_scale * weight_scale
        if not (math.isfinite(stored) and math.isfinite(wanted)) or wanted <= 0 or stored <= 0:
            continue  # invalid scales are reported by TFL308
        if abs(stored - wanted) > tolerance * wanted:
            return channel, stored, wanted
    return None
