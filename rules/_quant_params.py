"""Facts about quantized tensors and ops shared by the quantization rules.

Everything here reads only tensor types, shapes and quantization parameters
(never weight data), in one pass over the ops.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from tflint.graph import ModelGraph, Node, Tensor

#: Integer types that carry affine quantization, with their value range.
QUANTIZED_RANGES: dict[str, tuple[int, int]] = {
    "int8": (-128, 127),
    "uint8": (0, 255),
    "int16": (-32768, 32767),
    "int4": (-8, 7),
    "uint4": (0, 15),
}
ACCUMULATOR_RANGES: dict[str, tuple[int, int]] = {
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
}
FLOAT_DTYPES = frozenset({"float32", "float16"})
#: Ops that only convert between representations; they do not compute.
CONVERSION_OPS = frozenset({"QUANTIZE", "DEQUANTIZE"})


@dataclass(frozen=True)
class WeightedOp:
    """Operand positions of an op with quantized weights."""

    weights: int
    bias: int | None
    #: The weights' per-channel (output channel) dimension the kernels expect.
    channel_axis: int | None


WEIGHTED_OPS: dict[str, WeightedOp] = {
    "CONV_2D": WeightedOp(1, 2, 0),
    "DEPTHWISE_CONV_2D": WeightedOp(1, 2, 3),
    "FULLY_CONNECTED": WeightedOp(1, 2, 0),
    "TRANSPOSE_CONV": WeightedOp(1, 3, 0),
    "CONV_3D": WeightedOp(1, 2, 4),
    "CONV_3D_TRANSPOSE": WeightedOp(1, 3, 3),
}


def operand(node: Node, position: int) -> Tensor | None:
    """The tensor at an operand position, or None when the operand is absent."""
    raw = node.options.get("_inputs", [])
    if position >= len(raw) or raw[position] < 0:
        return None
    index = raw[position]
    return next((t for t in node.inputs if t.index == index), None)


def is_quantized_type(tensor: Tensor) -> bool:
    return tensor.dtype in QUANTIZED_RANGES


def scale_problem(scale: float) -> str | None:
    """Why a scale is unusable, or None if it is a positive normal float."""
    if math.isnan(scale):
        return "NaN"
    if math.isinf(scale):
        return "infinite"
    if scale <= 0:
        return "zero" if scale == 0 else "negative"
    if scale < 1.1754943508222875e-38:  # below the smallest normal float32
        return "subnormal"
    return None


def show_scale(value: float) -> str:
    return f"{value:.6g}"


@dataclass
class QuantizedModel:
    """What kind of quantization a model uses, from its activation tensors."""

    #: Count of ops by the quantized type of their activations (int8, int16...).
    activation_types: Counter[str] = field(default_factory=Counter)
    #: Ops computing in float32/float16 on run-time tensors.
    float_ops: list[Node] = field(default_factory=list)
    #: Float ops with constant quantized weights (dynamic-range quantization).
    hybrid_ops: list[Node] = field(default_factory=list)

    @property
    def quantized(self) -> bool:
        return bool(self.activation_types)

    @property
    def main_type(self) -> str:
        return self.activation_types.most_common(1)[0][0] if self.activation_types else "float32"

    @property
    def full_integer(self) -> bool:
        return self.quantized and not self.float_ops


def quantized_model(graph: ModelGraph, target: str) -> QuantizedModel:
    """Analysis shared by the quantization rules (``ctx.analysis(quantized_model)``)."""
    result = QuantizedModel()
    for node in graph.nodes():
        if node.op_type in CONVERSION_OPS:
            continue
        runtime = [t for t in (*node.inputs, *node.outputs) if not t.is_constant]
        quantized = {t.dtype for t in runtime
                     if t.dtype and is_quantized_type(t) and t.quantization is not None}
        for dtype in quantized:
            result.activation_types[dtype] += 1
        if any(t.dtype in FLOAT_DTYPES for t in runtime):
            result.float_ops.append(node)
            if any(t.is_constant and is_quantized_type(t) for t in node.inputs):
                result.hybrid_ops.append(node)
    return result


def first_uses(graph: ModelGraph) -> Iterator[tuple[Node, Tensor]]:
    """Each tensor an op reads or writes, once, with the first op that touches it."""
    seen: set[str] = set()
    for node in graph.nodes():
        for tensor in (*node.inputs, *node.outputs):
            if tensor.id not in seen:
                seen.add(tensor.id)
                yield node, tensor


def tensor_kind(tensor: Tensor, node: Node | None = None) -> str:
    """``int8 constant 'conv/kernel'`` or ``int8 tensor 'conv/Relu'``, for messages; the
    output of ``node`` that names it in the location is ``the int8 output``."""
    if node is not None and node.outputs and node.outputs[0].id == tensor.id \
            and tensor.name == node.name:
        return f"the {tensor.dtype} output"
    what = "constant" if tensor.is_constant else "tensor"
    return f"{tensor.dtype} {what} '{tensor.name}'"
