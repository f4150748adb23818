from __future__ import annotations

from collections.abc import Iterator

from tflint.diagnostics import Diagnostic, Severity
from tflint.rule import Rule, RuleContext


class Float16Weights(Rule):
    """Float16 weights dequantized to float32 by `DEQUANTIZE` ops.

    ## What it does
    Counts the `DEQUANTIZE` ops that turn a constant float16 tensor into
    float32: the form `target_spec.supported_types = [tf.float16]`
    produces.  One finding per model, at the first of them, with the number
    of tensors and their size.

    ## Why is this bad
    Nothing is wrong; this says what float16 quantization means at run
    time.  The file stores weights in half the bytes, but the model computes
    in float32: the weights are expanded once when the model is prepared
    (XNNPACK unpacks a constant float16 `DEQUANTIZE` at initialisation and
    absorbs the op when all its consumers are delegated, reading the
    float16 data directly for convolution and fully-connected weights), so
    run-time memory and speed are those of the float32 model.  Only a GPU
    delegate running in float16 computes in half precision.

    ## Example
    ```
    model.tflite:1:1: info TFL305 7 float16 weight tensors (4.1 KB) are expanded to float32 by DEQUANTIZE ops; compute stays float32 (subgraph 0 / op 0 (DEQUANTIZE) "...")
    ```

    ## How to fix
    Nothing to fix when a smaller file is the goal.  For smaller and faster
    inference on the CPU, quantize to int8 (a `representative_dataset`);
    keep float16 for the GPU delegate.
    """

    code = "TFL305"
    name = "float16-weights"
    category = "quantization"
    severity = Severity.INFO
    file_kinds = frozenset({"tflite"})
    triggers = frozenset({"DEQUANTIZE"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        dequantizes = [
            node for node in ctx.graph.nodes()
            if node.op_type == "DEQUANTIZE" and node.inputs
            and node.inputs[0].dtype == "float16" and node.inputs[0].is_constant
        ]
        if not dequantizes:
            return
        size = sum(node.inputs[0].data_size for node in dequantizes)
        count = len(dequantizes)
        yield ctx.diagnostic(
            dequantizes[0],
            f"{count} float16 weight tensor{'s' if count > 1 else ''} ({_kilobytes(size)}) "
            f"{'are' if count > 1 else 'is'} expanded to float32 by DEQUANTIZE ops; compute "
            f"stays float32",
            suggestion=("nothing to change if a smaller file is the goal; for faster CPU "
                        "inference quantize to int8 with a representative_dataset"),
        )


def _kilobytes(size: int) -> str:
    return f"{size / 1024:.1f} KB" if size < 1 << 20 else f"{size / (1 << 20):.1f} MB"
