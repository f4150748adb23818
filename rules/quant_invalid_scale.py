from __future__ import annotations

import math
from collections.abc import Iterator

from tflint_rules._quant_params import first_uses, scale_problem, show_scale, tensor_kind

from tflint.diagnostics import Diagnostic, Severity
from tflint.rule import Rule, RuleContext

_SMALLEST_NORMAL = 1.1754943508222875e-38  # float32


class InvalidQuantizationScale(Rule):
    """Quantization scale that is zero, negative, NaN, infinite or subnormal.

    ## What it does
    Checks every scale of every quantized tensor and flags those that are
    not positive normal floats.  The TensorFlow converter never writes
    them; a broken export, a hand edit or a calibration on constant data can.

    ## Why is this bad
    In LiteRT 2.3 the XNNPACK delegate refuses such a tensor when it
    prepares the graph ("unsupported scale value"), so `allocate_tensors`
    fails for the whole model; without XNNPACK the built-in kernels run and
    return meaningless values (a zero input scale turns every output into
    the zero point).

    ## Example
    ```
    model.tflite:1:1: error TFL308 int8 tensor 'input' has scale 0 (zero) (subgraph 0 / op 0 (CONV_2D) "conv/output")
    ```

    ## How to fix
    Re-quantize with a representative dataset that covers the real input
    range (a tensor that is constant over the calibration data gets a
    degenerate range), or fix the exporter that wrote the parameters.
    """

    code = "TFL308"
    name = "invalid-quantization-scale"
    category = "quantization"
    severity = Severity.ERROR
    file_kinds = frozenset({"tflite"})
    triggers = frozenset({"quantized"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        for node, tensor in first_uses(ctx.graph):
            quantization = tensor.quantization
            if quantization is None or all(_SMALLEST_NORMAL <= s < math.inf
                                           for s in quantization.scale):
                continue  # the common case, without a call per channel (NaN fails <=)
            bad = [(i, s, problem) for i, s in enumerate(quantization.scale)
                   if (problem := scale_problem(s)) is not None]
            if not bad:
                continue
            channel, scale, problem = bad[0]
            what = {"NaN": "a NaN scale", "infinite": "an infinite scale"}.get(
                problem, f"scale {show_scale(scale)} ({problem})")
            where = f" in channel {channel}" if quantization.per_channel else ""
            more = f" (and {len(bad) - 1} more channels)" if len(bad) > 1 else ""
            yield ctx.diagnostic(
                node,
                f"{tensor_kind(tensor, node)} has {what}{where}{more}",
                suggestion=("re-quantize with a representative dataset covering the real value "
                            "range, or fix the exporter: scales must be positive finite floats"),
            )
