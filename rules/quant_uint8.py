from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from tflint_rules._layer_names import layer_names
from tflint_rules._quant_params import CONVERSION_OPS

from tflint.diagnostics import Diagnostic, Severity
from tflint.rule import Rule, RuleContext


class LegacyUint8Quantization(Rule):
    """Ops quantized with the legacy uint8 asymmetric scheme instead of int8.

    ## What it does
    Flags models whose ops compute on uint8 quantized tensors (activations
    or weights), the scheme of TensorFlow 1 quantization-aware training and
    of `tf.compat.v1.lite.TFLiteConverter` with `inference_type=tf.uint8`.
    One finding per model, at the first such op, with the ops counted by
    type.  A uint8 model input or output that a `QUANTIZE` op converts to
    int8 is not reported: that is the supported way to feed camera bytes to
    an int8 model.

    ## Why is this bad
    The current quantization spec is signed int8 with symmetric per-channel
    weights; uint8 only has per-tensor weight scales, which loses accuracy
    on depthwise and pointwise convolutions whose channels have different
    ranges.  Kernels, delegates and tools keep improving for int8: newer ops
    have no uint8 kernel, and accelerators built for the int8 spec (many
    NPUs, TFLite Micro) reject uint8 models.

    ## Example
    ```
    model.tflite:1:1: warning TFL302 1 op computes in legacy uint8 quantization: CONV_2D x1 (subgraph 0 / op 0 (CONV_2D) "out")
    ```

    ## How to fix
    Re-quantize from the float model with the TensorFlow 2 converter:
    `optimizations = [tf.lite.Optimize.DEFAULT]`, a `representative_dataset`,
    `target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]`; if
    the app must feed uint8 (camera bytes), add
    `inference_input_type = tf.uint8` which keeps int8 inside.  For
    quantization-aware training, use the TensorFlow Model Optimization
    toolkit, which produces int8.
    """

    code = "TFL302"
    name = "legacy-uint8-quantization"
    category = "quantization"
    severity = Severity.WARNING
    file_kinds = frozenset({"tflite"})
    triggers = frozenset({"quantized"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        ops = [node for node in ctx.graph.nodes()
               if node.op_type not in CONVERSION_OPS and any(
                   t.dtype == "uint8" and t.quantization is not None
                   for t in (*node.inputs, *node.outputs))]
        if not ops:
            return
        counts = Counter(node.op_type for node in ops)
        listed = ", ".join(f"{op} x{count}" for op, count in counts.most_common())
        names = ctx.analysis(layer_names)
        layers = sorted({layer for node in ops if (layer := names.of_node(node))})
        where = f" (layers {', '.join(layers[:5])}{', ...' if len(layers) > 5 else ''})" \
            if layers else ""
        plural = len(ops) > 1
        yield ctx.diagnostic(
            ops[0],
            f"{len(ops)} op{'s' if plural else ''} compute{'' if plural else 's'} in legacy "
            f"uint8 quantization: {listed}{where}",
            suggestion=("re-quantize the float model to int8 with the TensorFlow 2 converter "
                        "(optimizations=[tf.lite.Optimize.DEFAULT], a representative_dataset, "
                        "TFLITE_BUILTINS_INT8); keep inference_input_type=tf.uint8 if the app "
                        "feeds uint8"),
        )
