from __future__ import annotations

from collections.abc import Iterator

from tflint_rules._quant_params import WEIGHTED_OPS, first_uses, operand, tensor_kind

from tflint.diagnostics import Diagnostic, Severity
from tflint.graph import Node, Tensor
from tflint.rule import Rule, RuleContext


class PerChannelLayout(Rule):
    """Quantization parameters whose count or axis does not match the tensor.

    ## What it does
    Checks the layout of quantization parameters: a per-channel tensor's
    `quantized_dimension` must be one of its dimensions and it must have
    one scale per element of that dimension; there must be as many zero
    points as scales; and the weights of `CONV_2D`, `FULLY_CONNECTED`,
    `TRANSPOSE_CONV` (dimension 0), `DEPTHWISE_CONV_2D` (dimension 3) and
    `CONV_3D` (dimension 4) must be quantized along their output channels.

    ## Why is this bad
    LiteRT refuses to load a model whose scale count matches neither one
    nor the size of the quantized dimension ("num_scales must be 1 for
    per-layer quantization, or N for per-axis quantization": the
    interpreter cannot even be created).  Weights quantized along another
    axis of the same size load, but each output channel is then scaled with
    another channel's scale.

    ## Example
    ```
    model.tflite:1:1: error TFL310 int8 constant 'conv/weights' has 4 scales along dimension 3 of size 2 (shape [4, 3, 3, 2]) (subgraph 0 / op 0 (CONV_2D) "conv/output")
    ```

    ## How to fix
    Re-quantize with the TensorFlow converter, which writes per-channel
    parameters along the output channels; when exporting with another tool,
    give it the kernel layout TFLite uses (`[out, h, w, in]` for CONV_2D,
    `[1, h, w, out]` for DEPTHWISE_CONV_2D).
    """

    code = "TFL310"
    name = "per-channel-layout"
    category = "quantization"
    severity = Severity.ERROR
    file_kinds = frozenset({"tflite"})
    triggers = frozenset({"quantized"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        for node, tensor in first_uses(ctx.graph):
            problem = _layout_problem(tensor)
            if problem:
                yield ctx.diagnostic(
                    node, f"{tensor_kind(tensor, node)} {problem}",
                    suggestion=("re-quantize with the TensorFlow converter, or give the exporter "
                                "one scale and zero point per channel of the quantized dimension"),
                )
        for node in ctx.graph.nodes():
            problem = _weight_axis_problem(node)
            if problem:
                yield ctx.diagnostic(
                    node, problem,
                    suggestion=("quantize the weights per output channel (the TensorFlow "
                                "converter does), in TFLite's kernel layout"),
                )


def _layout_problem(tensor: Tensor) -> str | None:
    quantization = tensor.quantization
    if quantization is None:
        return None
    scales = len(quantization.scale)
    zero_points = len(quantization.zero_point)
    if zero_points and zero_points != scales:
        return f"has {scales} scale{'s' if scales > 1 else ''} but {zero_points} zero points"
    if scales <= 1 or tensor.shape is None:
        return None
    axis = quantization.quantized_dimension
    shape = "[" + ", ".join("?" if d is None else str(d) for d in tensor.shape) + "]"
    if not 0 <= axis < len(tensor.shape):
        return f"is quantized along dimension {axis}, which shape {shape} does not have"
    size = tensor.shape[axis]
    if size is not None and size != scales:
        return (f"has {scales} scales along dimension {axis} of size {size} "
                f"(shape {shape})")
    return None


def _weight_axis_problem(node: Node) -> str | None:
    layout = WEIGHTED_OPS.get(node.op_type)
    if layout is None or layout.channel_axis is None:
        return None
    weights = operand(node, layout.weights)
    if weights is None or weights.quantization is None or not weights.quantization.per_channel:
        return None
    axis = weights.quantization.quantized_dimension
    if axis == layout.channel_axis or _layout_problem(weights):
        return None  # right axis, or already reported as a layout problem
    return (f"{node.op_type} weights '{weights.name}' are quantized along dimension {axis}, "
            f"not the output channels (dimension {layout.channel_axis})")
