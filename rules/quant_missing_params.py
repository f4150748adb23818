from __future__ import annotations

from collections.abc import Iterator

from tflint_rules._quant_params import first_uses, is_quantized_type, tensor_kind

from tflint.diagnostics import Diagnostic, Severity
from tflint.graph import Node, Tensor
from tflint.rule import Rule, RuleContext


class MissingQuantizationParams(Rule):
    """Quantized-type tensor of a quantized op without a scale and zero point.

    ## What it does
    Flags int8, uint8, int16 and int4 tensors that carry no quantization
    parameters although the op using them is quantized: an operand of a
    `QUANTIZE`/`DEQUANTIZE`, or of an op whose other tensors are quantized.
    Plain integer tensors (indices, a uint8 image fed to a `CAST`) are not
    reported.  The TensorFlow converter never writes this; hand-edited or
    third-party-exported models can.

    ## Why is this bad
    Without a scale the runtime reads the parameters as zero: the model
    loads and runs, and every value computed from the tensor is wrong
    (a convolution whose output lacks parameters returned only zeros in
    LiteRT 2.3, with and without XNNPACK, which then does not delegate it).

    ## Example
    ```
    model.tflite:1:1: error TFL307 the int8 output of CONV_2D has no quantization parameters (subgraph 0 / op 0 (CONV_2D) "conv/output")
    ```

    ## How to fix
    Re-export the model with the TensorFlow converter; if the model comes
    from another tool, fix its export so that every quantized tensor gets
    `scale` and `zero_point` (the same range the training observed).
    """

    code = "TFL307"
    name = "missing-quantization-params"
    category = "quantization"
    severity = Severity.ERROR
    file_kinds = frozenset({"tflite"})
    triggers = frozenset({"quantized"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        for node, tensor in first_uses(ctx.graph):
            if tensor.quantization is None and is_quantized_type(tensor) \
                    and _is_quantized_op(node, tensor):
                yield ctx.diagnostic(
                    node,
                    f"{tensor_kind(tensor, node)} of {node.op_type} has no quantization parameters",
                    suggestion=("re-export the model so that the tensor gets a scale and zero "
                                "point (the TensorFlow converter always writes them)"),
                )


def _is_quantized_op(node: Node, tensor: Tensor) -> bool:
    if node.op_type == "QUANTIZE":
        return any(t.id == tensor.id for t in node.outputs)
    if node.op_type == "DEQUANTIZE":
        return any(t.id == tensor.id for t in node.inputs)
    return any(t.quantization is not None for t in (*node.inputs, *node.outputs)
               if t.id != tensor.id)
