from __future__ import annotations

from collections.abc import Iterator

from tflint.analyses.keras_prediction import QAT_CLASSES, describe, layer_class
from tflint.diagnostics import Diagnostic, Severity
from tflint.rule import Rule, RuleContext


class QatModel(Rule):
    """Quantization-aware trained Keras model (tfmot wrappers in the config).

    ## What it does
    Flags a model whose config holds the layers of the TensorFlow Model
    Optimization toolkit's quantization-aware training: `QuantizeLayer`,
    `QuantizeWrapper`, `QuantizeWrapperV2` (and `QuantizeAnnotate`).  The
    layers inside the wrappers are still predicted as usual.

    ## Why is this bad
    Converted with default settings, a QAT model stays a float model with a
    `QUANTIZE`/`DEQUANTIZE` pair around every layer (the fake-quant nodes);
    several of the float ops then read dequantized, non-constant weights,
    which XNNPACK does not take.  The int8 model the training was for only
    comes out with `converter.optimizations = [tf.lite.Optimize.DEFAULT]`.
    Loading the file also needs `tfmot.quantization.keras.quantize_scope()`.

    ## Example
    ```
    model.h5:1:1: warning TFL320 model is quantization-aware trained (QuantizeWrapperV2 x3, QuantizeLayer x1) (layer "quantize_layer" (QuantizeLayer))
      help: convert with `converter.optimizations = [tf.lite.Optimize.DEFAULT]` (inside `tfmot.quantization.keras.quantize_scope()`) to get the int8 model
    ```

    ## How to fix
    Set `converter.optimizations = [tf.lite.Optimize.DEFAULT]`; lint the
    resulting `.tflite` to check the quantization.
    """

    code = "TFL320"
    name = "qat-model"
    category = "quantization"
    severity = Severity.WARNING
    file_kinds = frozenset({"keras"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        found = [n for n in ctx.graph.nodes() if layer_class(n) in QAT_CLASSES]
        if not found:
            return
        counts: dict[str, int] = {}
        for node in found:
            counts[node.op_type] = counts.get(node.op_type, 0) + 1
        listed = ", ".join(f"{cls} x{n}" for cls, n in counts.items())
        yield ctx.diagnostic(
            found[0],
            f"model is quantization-aware trained ({listed}); first at {describe(found[0])}",
            suggestion=("convert with `converter.optimizations = [tf.lite.Optimize.DEFAULT]` "
                        "(inside `tfmot.quantization.keras.quantize_scope()`) to get the int8 "
                        "model; with default settings it converts to float ops wrapped in "
                        "QUANTIZE/DEQUANTIZE pairs"))
