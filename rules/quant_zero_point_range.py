from __future__ import annotations

from collections.abc import Iterator

from tflint_rules._quant_params import (
    ACCUMULATOR_RANGES,
    QUANTIZED_RANGES,
    first_uses,
    tensor_kind,
)

from tflint.diagnostics import Diagnostic, Severity
from tflint.rule import Rule, RuleContext


class ZeroPointOutOfRange(Rule):
    """Zero point outside the value range of the tensor's type.

    ## What it does
    Flags quantized tensors whose zero point cannot be stored in their own
    type: outside [-128, 127] for int8, [0, 255] for uint8, [-32768, 32767]
    for int16, [-8, 7] for int4.

    ## Why is this bad
    The zero point is the integer that stands for real 0; one outside the
    type's range means real zero cannot be represented and the exporter
    mixed up signed and unsigned encodings (a uint8 zero point of 128 kept
    on an int8 tensor is the classic case).  In LiteRT 2.3 XNNPACK refuses
    the tensor ("unsupported zero-point value") and `allocate_tensors`
    fails; the built-in kernels run and saturate every value.

    ## Example
    ```
    model.tflite:1:1: error TFL309 the int8 output has zero point 200, outside [-128, 127] (subgraph 0 / op 0 (CONV_2D) "conv/output")
    ```

    ## How to fix
    For int8 tensors converted from uint8 parameters, subtract 128 from the
    zero point (the scale stays); otherwise re-quantize the model with the
    TensorFlow converter.
    """

    code = "TFL309"
    name = "zero-point-out-of-range"
    category = "quantization"
    severity = Severity.ERROR
    file_kinds = frozenset({"tflite"})
    triggers = frozenset({"quantized"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        ranges = {**QUANTIZED_RANGES, **ACCUMULATOR_RANGES}
        for node, tensor in first_uses(ctx.graph):
            quantization = tensor.quantization
            bounds = ranges.get(tensor.dtype or "")
            if quantization is None or bounds is None:
                continue
            low, high = bounds
            outside = [z for z in quantization.zero_point if not low <= z <= high]
            if outside:
                fix = " (a uint8 zero point on a signed tensor: subtract 128)" \
                    if tensor.dtype == "int8" and 128 <= outside[0] <= 255 else ""
                yield ctx.diagnostic(
                    node,
                    f"{tensor_kind(tensor, node)} has zero point {outside[0]}, outside [{low}, {high}]",
                    suggestion=f"re-quantize the model or correct the zero point{fix}",
                )
