from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from tflint.diagnostics import Diagnostic, Severity
from tflint.rule import Rule, RuleContext


class Int16Activations(Rule):
    """Ops with int16 activations (16x8 quantization), which XNNPACK does not take.

    ## What it does
    Finds ops whose run-time tensors are int16 quantized: the form
    `target_spec.supported_ops =
    [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]`
    produces (int16 activations, int8 weights, int64 biases).  One finding
    per model, at the first such op, with the ops counted by type.

    ## Why is this bad
    16x8 quantization keeps more precision than int8 for models sensitive
    to activation ranges (super-resolution, audio), but the XNNPACK delegate
    takes no int16 tensor (`tflint/targets/xnnpack_ops.json`: int16 is never
    delegated), so the whole model runs on the reference CPU kernels, which
    are much slower than XNNPACK's int8 or float32 paths.  Few accelerators
    support it either.

    ## Example
    ```
    model.tflite:1:1: warning TFL306 6 ops run with int16 activations, which XNNPACK does not take: CONV_2D x2, QUANTIZE x1, MEAN x1, FULLY_CONNECTED x1, DEQUANTIZE x1 (subgraph 0 / op 0 (QUANTIZE) "serving_default_image:0_int16")
    ```

    ## How to fix
    For CPU speed, quantize to int8 (`TFLITE_BUILTINS_INT8`) and check the
    accuracy; if int8 loses too much, keep the sensitive layers in float
    (float fallback) or ship float32/float16 for XNNPACK and keep 16x8 for
    hardware that runs it.
    """

    code = "TFL306"
    name = "int16-activations"
    category = "quantization"
    severity = Severity.WARNING
    file_kinds = frozenset({"tflite"})
    triggers = frozenset({"quantized"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        ops = [node for node in ctx.graph.nodes() if any(
            t.dtype == "int16" and t.quantization is not None and not t.is_constant
            for t in (*node.inputs, *node.outputs))]
        if not ops:
            return
        counts = Counter(node.op_type for node in ops)
        listed = ", ".join(f"{op} x{count}" for op, count in counts.most_common())
        plural = len(ops) > 1
        target = "XNNPACK" if ctx.target == "xnnpack" else ctx.target
        yield ctx.diagnostic(
            ops[0],
            f"{len(ops)} op{'s' if plural else ''} run{'' if plural else 's'} with int16 "
            f"activations, which {target} does not take: {listed}",
            suggestion=("for CPU speed quantize to int8 (TFLITE_BUILTINS_INT8) or keep float; "
                        "keep 16x8 only for hardware that runs int16 activations"),
        )
