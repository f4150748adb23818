from __future__ import annotations

from collections.abc import Iterator

from tflint.diagnostics import Diagnostic, Severity
from tflint.rule import Rule, RuleContext
from tflint.signature import OpSignature


class Uint8ModelForTflm(Rule):
    """Ops computing in uint8, which TFLite Micro has no kernels for.

    ## What it does
    When `tflm` is among the selected targets, reports each op of a `.tflite`
    model that computes in legacy uint8 asymmetric quantization and that
    TFLite Micro's kernels reject (they run int8, and int16 for 16x8
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

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        if "tflm" not in ctx.analyses.targets:
            return
        from tflint.targets.tflm import load_tflm_profile

        profile = load_tflm_profile()
        inputs = frozenset(t.id for t in ctx.graph.inputs)
        for node in ctx.graph.nodes():
            if node.origin != "builtin" or not any(
                    t.dtype == "uint8" and t.quantization is not None
                    for t in (*node.inputs, *node.outputs)):
                continue
            found = profile.reason(OpSignature.of(ctx.graph, node, inputs))
            if found is None:
                continue
            yield ctx.diagnostic(
                node, f"{node.op_type} computes in uint8, which TFLite Micro does not run: "
                      "convert to int8",
                suggestion="convert with full-integer int8 quantization "
                           "(TFLITE_BUILTINS_INT8, a representative dataset)", target="tflm")
