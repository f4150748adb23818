from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from tflint.diagnostics import Diagnostic, Severity
from tflint.graph import Node
from tflint.rule import Rule, RuleContext


def computes_in_uint8(node: Node) -> bool:
    """A builtin op with a uint8 asymmetric-quantized operand (legacy quantization)."""
    return node.origin == "builtin" and any(
        t.dtype == "uint8" and t.quantization is not None for t in (*node.inputs, *node.outputs))


class Uint8ModelForTflm(Rule):
    """Ops computing in uint8, which TFLite Micro has no kernels for.

    ## What it does
    When `tflm` is among the selected targets, reports once the ops of a
    `.tflite` model that compute in legacy uint8 asymmetric quantization and
    that TFLite Micro's kernels reject (each listed in the json `related`) (they run int8, and int16 for 16x8
    models; uint8 only in QUANTIZE, DEQUANTIZE and the data-movement ops).

    ## Why is this bad
    TFLite Micro has no fallback: the model fails to load (AllocateTensors)
    or to run (Invoke) at the first such op.

    ## Example
    ```
    model.tflite:1:1: error TFL133 CONV_2D computes in uint8, which TFLite Micro does not run: convert to int8 (subgraph 0 / op 0 (CONV_2D) "conv")
    ```

    ## How to fix
    Convert again with full-integer int8 quantization:
    `converter.optimizations = [tf.lite.Optimize.DEFAULT]`, a
    `representative_dataset`, and
    `converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]`
    (set `inference_input_type`/`inference_output_type` to `tf.int8`, or keep
    uint8 I/O: the QUANTIZE ops around an int8 model run on TFLite Micro).
    """

    code = "TFL133"
    name = "uint8-model-for-tflm"
    category = "quantization"
    severity = Severity.ERROR
    file_kinds = frozenset({"tflite"})
    triggers = frozenset({"target:tflm"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        if "tflm" not in ctx.analyses.targets:
            return
        delegation = ctx.analyses.delegation("tflm")
        if delegation is None:
            return
        # One cause, the uint8 quantization, however many ops it reaches: one finding.
        failing = [node for node in ctx.graph.nodes()
                   if node.id in delegation.cpu_reasons and computes_in_uint8(node)]
        if not failing:
            return
        counts = Counter(node.op_type for node in failing)
        ops = ", ".join(op if n == 1 else f"{op} x{n}" for op, n in counts.most_common())
        what = (f"{failing[0].op_type} computes" if len(failing) == 1
                else f"{len(failing)} ops compute")
        yield ctx.diagnostic(
            failing[0],
            f"{what} in uint8, which TFLite Micro does not run: convert to int8"
            + ("" if len(failing) == 1 else f" ({ops})"),
            suggestion="convert with full-integer int8 quantization "
                       "(TFLITE_BUILTINS_INT8, a representative dataset)", target="tflm",
            related=[{"subgraph": n.subgraph, "index": n.location.op_index, "op": n.op_type,
                      "layer": None, "name": n.name or None,
                      "reason": delegation.cpu_reasons[n.id]} for n in failing])
