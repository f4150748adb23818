from __future__ import annotations

from collections.abc import Iterator

from tflint_rules._quant_params import WEIGHTED_OPS, first_uses, operand, tensor_kind

from tflint.diagnostics import Diagnostic, Severity
from tflint.graph import Node, Tensor
from tflint.rule import Rule, RuleContext


class NonZeroZeroPoint(Rule):
    """Int8 weights or int16 activations with a non-zero zero point.

    ## What it does
    Flags the int8/int4 weights of `CONV_2D`, `DEPTHWISE_CONV_2D`,
    `FULLY_CONNECTED`, `TRANSPOSE_CONV`, `CONV_3D` and the constant operand
    of `BATCH_MATMUL` whose zero point is not 0, and int16 activation
    tensors (16x8 quantization) whose zero point is not 0.  The int8
    quantization spec makes both symmetric.

    ## Why is this bad
    The int8 kernels assume symmetric weights: LiteRT's CONV_2D refuses to
    prepare ("zero_point != 0"), so the model does not load, and XNNPACK
    rejects such weights too.  The int16 kernels likewise require zero
    points of 0.  Such parameters come from exporters that apply the uint8
    (asymmetric) recipe to int8.

    ## Example
    ```
    model.tflite:1:1: error TFL311 int8 constant 'conv/weights' of CONV_2D has zero point 5; int8 weights must be symmetric (zero point 0) (subgraph 0 / op 0 (CONV_2D) "conv/output")
    ```

    ## How to fix
    Re-quantize with the TensorFlow converter (symmetric per-channel int8
    weights), or configure the exporter for symmetric weight quantization.
    """

    code = "TFL311"
    name = "non-zero-zero-point"
    category = "quantization"
    severity = Severity.ERROR
    file_kinds = frozenset({"tflite"})
    triggers = frozenset({"quantized"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        reported: set[str] = set()
        for node in ctx.graph.nodes():
            weights = _weights(node)
            if weights is None or weights.id in reported:
                continue
            zero_point = _non_zero(weights)
            if weights.dtype in ("int8", "int4") and zero_point is not None:
                reported.add(weights.id)
                yield ctx.diagnostic(
                    node,
                    f"{tensor_kind(weights)} of {node.op_type} has zero point {zero_point}; "
                    f"{weights.dtype} weights must be symmetric (zero point 0)",
                    suggestion="re-quantize the weights symmetrically (zero point 0, per channel)",
                )
        for node, tensor in first_uses(ctx.graph):
            if tensor.dtype != "int16" or tensor.is_constant or tensor.id in reported:
                continue
            zero_point = _non_zero(tensor)
            if zero_point is not None:
                yield ctx.diagnostic(
                    node,
                    f"{tensor_kind(tensor, node)} has zero point {zero_point}; int16 activations "
                    f"must be symmetric (zero point 0)",
                    suggestion=("re-quantize with the 16x8 converter option, which writes "
                                "symmetric int16 activations"),
                )


def _weights(node: Node) -> Tensor | None:
    layout = WEIGHTED_OPS.get(node.op_type)
    if layout is not None:
        return operand(node, layout.weights)
    if node.op_type == "BATCH_MATMUL":
        candidate = operand(node, 1)
        return candidate if candidate is not None and candidate.is_constant else None
    return None


def _non_zero(tensor: Tensor) -> int | None:
    quantization = tensor.quantization
    if quantization is None:
        return None
    return next((z for z in quantization.zero_point if z != 0), None)
