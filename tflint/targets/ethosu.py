"""Arm Ethos-U NPUs as Vela compiles for them: which ops go to the NPU, which stay on the CPU.

One target per accelerator configuration (``ethos-u55-128``, ``ethos-u85-256``...),
all sharing one profile, ``ethosu_ops.json``: per accelerator family (Ethos-U55
and U65 share Vela's supported-operator module, Ethos-U85 has its own) the ops
Vela can place on the NPU and the conditions it checks, each with its limits
and the sentence given as the reason.  This module only evaluates them; what
was read and measured is in ``ETHOSU_NOTES.md``.

Two decisions span ops: a model that computes in floating point is refused as
a whole (Ethos-U runs integer ops only, so Vela leaves every op on the CPU),
and ops that only compute the shape operand of a RESHAPE placed on the NPU are
folded away by Vela, so they run nowhere rather than on the CPU.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from tflint.graph import ModelGraph, Node
from tflint.schema import load_data_file
from tflint.signature import OperandSignature, OpSignature
from tflint.targets import Assessment, Placement, Target

PROFILE_FILE = Path(__file__).with_name("ethosu_ops.json")
VELA_VERSION = "5.2.0"
_INTEGER_ACTIVATIONS = frozenset({"int8", "uint8", "int16"})
_BITS = {"int8": 8, "uint8": 8, "int16": 16, "int32": 32, "int64": 64, "bool": 8}
_UNPACK = {"int8": "b", "uint8": "B", "int16": "h", "int32": "i", "int64": "q"}
#: Largest weight tensor read to add up absolute weights (bigger ones are assumed fine).
_MAX_WEIGHT_BYTES = 64 << 20


@cache
def load_ethosu_profile() -> dict[str, Any]:
    """``ethosu_ops.json``, checked against ``ethosu_ops.schema.json``."""
    data: dict[str, Any] = load_data_file(PROFILE_FILE)
    return data


# ---------------------------------------------------------------------------
# Operand helpers
# ---------------------------------------------------------------------------

def _is_quantized(tensor: OperandSignature) -> bool:
    q = tensor.quantization
    return q is not None and len(q.scale) > 0


def _feature_maps(op: OpSignature, params: Sequence[int]) -> list[tuple[str, OperandSignature]]:
    """The op's feature maps (inputs that are not weights or parameters, and its outputs)."""
    maps = [(f"input {i}", t) for i, t in enumerate(op.inputs)
            if t is not None and i not in params]
    maps += [(f"output {i}" if len(op.outputs) > 1 else "output", t)
             for i, t in enumerate(op.outputs)]
    return maps


def _input(op: OpSignature, index: int) -> OperandSignature | None:
    return op.inputs[index] if index < len(op.inputs) else None


def _shape(tensor: OperandSignature | None) -> list[int]:
    if tensor is None or tensor.shape is None:
        return []
    return [1 if d is None else d for d in tensor.shape]


def _nhwc(tensor: OperandSignature | None) -> list[int]:
    """The shape padded to 4 axes with leading ones, as Vela reads feature maps."""
    shape = _shape(tensor)
    return [1] * (4 - len(shape)) + shape if len(shape) < 4 else shape


def _ints(tensor: OperandSignature | None) -> list[int] | None:
    values = tensor.values() if tensor is not None else None
    return None if values is None else [int(v) for v in values]


def _stride(op: OpSignature) -> tuple[int, int]:
    return int(op.options.get("stride_w", 1) or 1), int(op.options.get("stride_h", 1) or 1)


def _kernel(op: OpSignature) -> tuple[int, int]:
    """Kernel (width, height) of a pooling op or of a convolution's weights."""
    if "filter_width" in op.options:
        return int(op.options["filter_width"]), int(op.options.get("filter_height", 1))
    weights = _shape(_input(op, 1))
    return (weights[2], weights[1]) if len(weights) == 4 else (1, 1)


# ---------------------------------------------------------------------------
# Checks: each returns what is wrong with the op (None when it passes)
# ---------------------------------------------------------------------------

Check = Callable[[OpSignature, dict[str, Any], list[int]], str | None]


def _feature_map_dtypes(op: OpSignature, check: dict[str, Any], params: list[int]) -> str | None:
    for role, tensor in _feature_maps(op, params):
        if tensor.dtype not in check["dtypes"]:
            return f"has a {tensor.dtype} {role}"
    return None


def _static_shape(op: OpSignature, check: dict[str, Any], params: list[int]) -> str | None:
    for role, tensor in _feature_maps(op, params):
        # A constant scalar is broadcast; a run-time one has no shape Vela can tile.
        if not tensor.is_constant and (tensor.shape is None or len(tensor.shape) == 0):
            return f"has a run-time scalar or unknown-rank {role}"
    return None


def _dynamic_dims(op: OpSignature, check: dict[str, Any], params: list[int]) -> str | None:
    for role, tensor in _feature_maps(op, params):
        if tensor.shape and any(d is None for d in tensor.shape[1:]):
            return f"has a dynamic dimension after the first in its {role}"
    return None


def _quantized(op: OpSignature, check: dict[str, Any], params: list[int]) -> str | None:
    weights = [("weights", t) for i, t in enumerate(op.inputs)
               if t is not None and i in params and t.dtype in ("int8", "uint8") and i == 1
               and op.op_type in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED",
                                  "TRANSPOSE_CONV")]
    for role, tensor in [*_feature_maps(op, params), *weights]:
        if tensor.dtype in check["dtypes"] and not _is_quantized(tensor):
            return f"has an unquantized {tensor.dtype} {role}"
    return None


def _scale_positive(op: OpSignature, check: dict[str, Any], params: list[int]) -> str | None:
    for role, tensor in _feature_maps(op, params):
        q = tensor.quantization
        if q is not None and any(not s > 0 for s in q.scale):
            return f"has a quantization scale of zero or less in its {role}"
    return None


def _per_tensor(op: OpSignature, check: dict[str, Any], params: list[int]) -> str | None:
    for role, tensor in _feature_maps(op, params):
        q = tensor.quantization
        if q is not None and (len(q.scale) > 1 or len(q.zero_point) > 1):
            return f"has a per-channel quantized {role}"
    return None


def _no_bits(bits: int) -> Check:
    def check_bits(op: OpSignature, check: dict[str, Any], params: list[int]) -> str | None:
        for role, tensor in _feature_maps(op, params):
            if _BITS.get(tensor.dtype or "") == bits:
                return f"has a {tensor.dtype} {role}"
        return None
    return check_bits


def _zero_point_u55(op: OpSignature, check: dict[str, Any], params: list[int]) -> str | None:
    for role, tensor in _feature_maps(op, params):
        q = tensor.quantization
        if q is None:
            continue
        if tensor.dtype == "int32" and any(z != 0 for z in q.zero_point):
            return f"has an int32 {role} with a non-zero zero point"
        if tensor.dtype == "uint8" and any(z < 0 for z in q.zero_point):
            return f"has a uint8 {role} with a negative zero point"
    return None


def _zero_point_u85(op: OpSignature, check: dict[str, Any], params: list[int]) -> str | None:
    for role, tensor in _feature_maps(op, params):
        q = tensor.quantization
        if q is None or not q.zero_point:
            continue
        output = role.startswith("output")
        for zero_point in q.zero_point:
            if tensor.dtype == "int8" or (output and tensor.dtype in ("int16", "int32")):
                ok = -128 <= zero_point <= 127
            elif tensor.dtype == "uint8":
                ok = 0 <= zero_point <= 255 or (output and zero_point == 32768)
            else:
                ok = zero_point == 0
            if not ok:
                return f"has zero point {zero_point} in its {tensor.dtype} {role}"
    return None


def _bias(op: OpSignature, check: dict[str, Any], params: list[int]) -> str | None:
    bias = _input(op, check["input"])
    if bias is None:
        return None
    if not bias.is_constant:
        return "has a bias computed at run time"
    if bias.dtype not in ("int32", "int64"):
        return f"has a {bias.dtype} bias"
    if bias.dtype == "int64":
        values = bias.values()
        if values is not None and any(v > check["max_int64"] for v in values):
            return f"has an int64 bias above {check['max_int64']}"
    return None


def _weights_8bit(op: OpSignature, check: dict[str, Any], params: list[int]) -> str | None:
    weights = _input(op, check["input"])
    if weights is not None and _BITS.get(weights.dtype or "") != 8:
        return f"has {weights.dtype} weights"
    return None


def _weight_sum(op: OpSignature, check: dict[str, Any], params: list[int]) -> str | None:
    weights = _input(op, check["input"])
    feature = _input(op, 2 if op.op_type == "TRANSPOSE_CONV" else 0)
    if weights is None or feature is None or not weights.is_constant:
        return None
    limit = check["max_8bit"] if _BITS.get(feature.dtype or "") == 8 else check["max_16bit"]
    shape = _shape(weights)
    if not shape or weights.dtype not in _UNPACK:
        return None
    # Depthwise weights are [1, H, W, C]: the output channels are the last axis.
    depthwise = op.op_type == "DEPTHWISE_CONV_2D"
    outputs = shape[-1] if depthwise else shape[0]
    count = math.prod(shape)
    if outputs <= 0 or 255 * count // outputs < limit:
        return None  # no output channel can reach the limit
    sums = _absolute_weight_sums(weights, outputs, depthwise)
    if sums is not None and max(sums) > limit:
        return f"has a sum of absolute weights of {max(sums)} in one output channel"
    return None


def _absolute_weight_sums(weights: OperandSignature, outputs: int,
                          depthwise: bool) -> list[int] | None:
    graph, tensor = weights._graph, weights._tensor
    if graph is None or tensor is None:
        return None
    data = graph.read_constant(tensor, max_bytes=_MAX_WEIGHT_BYTES)
    code = _UNPACK[weights.dtype or ""]
    if data is None:
        return None
    values = struct.unpack(f"<{len(data) // struct.calcsize(code)}{code}", data)
    q = weights.quantization
    zero_points = list(q.zero_point) if q is not None and q.zero_point else [0]
    sums = [0] * outputs
    per_output = len(values) // outputs
    for index, value in enumerate(values):
        channel = index % outputs if depthwise else index // per_output
        zero_point = zero_points[channel] if len(zero_points) > 1 else zero_points[0]
        sums[channel] += abs(value - zero_point)
    return sums


def _fc_weights_shape(op: OpSignature, check: dict[str, Any], params: list[int]) -> str | None:
    shape = _shape(_input(op, 1))
    if len(shape) < 2 or math.prod(shape) != shape[0] * shape[-1]:
        return f"has weights of shape {shape}"
    return None


def _is_runtime_matmul(op: OpSignature) -> bool:
    other = _input(op, 1)
    return op.op_type == "BATCH_MATMUL" or (other is not None and not other.is_constant)


def _matmul_int8(op: OpSignature, check: dict[str, Any], params: list[int]) -> str | None:
    feature = _input(op, 0)
    if _is_runtime_matmul(op) and feature is not None and feature.dtype != "int8":
        return f"multiplies two run-time {feature.dtype} tensors"
    return None


def _matmul_size(op: OpSignature, check: dict[str, Any], params: list[int]) -> str | None:
    if not _is_runtime_matmul(op):
        return None
    out = _shape(op.outputs[0]) if op.outputs else []
    reduced = _shape(_input(op, 0))[-1:] or [1]
    if (out and out[-1] > check["max"]) or reduced[0] > check["max"]:
        return "multiplies matrices too large for the NPU"
    return None


def _stride_max(op: OpSignature, check: dict[str, Any], params: list[int]) -> str | None:
    stride_w, stride_h = _stride(op)
    if stride_w > check["max"] or stride_h > check["max"]:
        return f"has stride {stride_w}x{stride_h}"
    return None


def _large_stride_dilation(op: OpSignature, check: dict[str, Any],
                           params: list[int]) -> str | None:
    stride_w, stride_h = _stride(op)
    dilation = (int(op.options.get("dilation_w_factor", 1) or 1),
                int(op.options.get("dilation_h_factor", 1) or 1))
    if max(stride_w, stride_h) > check["max"] and max(dilation) > 1:
        return f"has stride {stride_w}x{stride_h} with dilation {dilation[0]}x{dilation[1]}"
    return None


def _avgpool_kernel(op: OpSignature, check: dict[str, Any], params: list[int]) -> str | None:
    width, height = _kernel(op)
    if op.options.get("padding", "SAME") == "VALID":
        if height > check["valid_max_height"] or width * height > check["valid_max_area"]:
            return f"has a {width}x{height} kernel with VALID padding"
        return None
    stride_w, _ = _stride(op)
    if (width > check["same_max"] and width != stride_w) or height > check["same_max"]:
        return f"has a {width}x{height} kernel with SAME padding"
    return None


def _maxpool_kernel(op: OpSignature, check: dict[str, Any], params: list[int]) -> str | None:
    width, height = _kernel(op)
    if height > check["max_height"] or width * height > check["max_area"]:
        return f"has a {width}x{height} kernel"
    return None


def _tconv_output_shape(op: OpSignature, check: dict[str, Any],
                        params: list[int]) -> str | None:
    ifm, ofm = _nhwc(_input(op, 2)), _nhwc(op.outputs[0] if op.outputs else None)
    weights = _shape(_input(op, 1))
    if len(weights) != 4:
        return None
    stride_w, stride_h = _stride(op)
    same = op.options.get("padding", "SAME") != "VALID"
    for axis, stride, kernel in ((1, stride_h, weights[1]), (2, stride_w, weights[2])):
        expected = ifm[axis] * stride if same else ifm[axis] * stride + max(kernel - stride, 0)
        if ofm[axis] != expected:
            return f"has an output of {ofm[1]}x{ofm[2]} from an input of {ifm[1]}x{ifm[2]}"
    return None


def _tconv_stride_u55(op: OpSignature, check: dict[str, Any], params: list[int]) -> str | None:
    stride_w, stride_h = _stride(op)
    ifm, weights = _nhwc(_input(op, 2)), _shape(_input(op, 1))
    kernel_h = weights[1] if len(weights) == 4 else 1
    kernel_w = weights[2] if len(weights) == 4 else 1
    if (stride_w, stride_h) in ((1, 1), (2, 2)):
        return None
    if (stride_w, stride_h) == (2, 1) and ifm[1] == 1 and kernel_h == 1:
        return None
    if (stride_w, stride_h) == (1, 2) and ifm[2] == 1 and kernel_w == 1:
        return None
    return f"has stride {stride_w}x{stride_h}"


def _argmax_depth(op: OpSignature, check: dict[str, Any], params: list[int]) -> str | None:
    depth = _nhwc(_input(op, 0))[-1]
    return f"reduces {depth} channels" if depth > check["max"] else None


def _argmax_axis(op: OpSignature, check: dict[str, Any], params: list[int]) -> str | None:
    rank = len(_shape(_input(op, 0)))
    axes = _ints(_input(op, 1))
    if axes is None or len(axes) != 1:
        return None
    axis = axes[0] + rank if axes[0] < 0 else axes[0]
    return f"reduces axis {axes[0]}, not the last" if axis != rank - 1 else None


def _constant_params(op: OpSignature, check: dict[str, Any], params: list[int]) -> str | None:
    for index in check["inputs"]:
        tensor = _input(op, index)
        if tensor is not None and not tensor.is_constant:
            return f"has input {index} computed at run time"
    return None


def _param_dtypes(op: OpSignature, check: dict[str, Any], params: list[int]) -> str | None:
    for index in check["inputs"]:
        tensor = _input(op, index)
        if tensor is not None and tensor.dtype not in check["dtypes"]:
            return f"has a {tensor.dtype} input {index}"
    return None


def _mean(op: OpSignature, check: dict[str, Any], params: list[int]) -> str | None:
    feature = _input(op, 0)
    shape = _shape(feature)
    if feature is None or not shape:
        return None
    if feature.dtype not in check["max_elements"]:
        return f"has a {feature.dtype} input"
    axes = _ints(_input(op, 1))
    if axes is None:
        return None
    rank = len(shape)
    axes = sorted({a + rank if a < 0 else a for a in axes})
    nhwc = _nhwc(feature)
    if rank == 4 and nhwc[0] > 1:
        return f"has batch {nhwc[0]}"
    reduced = math.prod(shape[a] for a in axes if 0 <= a < rank)
    if reduced > check["max_elements"][feature.dtype]:
        return f"reduces {reduced} elements"
    if any(0 <= a < rank and shape[a] > check["max_axis"] for a in axes):
        return "reduces an axis longer than the limit"
    if rank - 1 in axes and min(nhwc[1:]) > 1:
        return f"reduces the channels of a {nhwc[1]}x{nhwc[2]}x{nhwc[3]} input"
    return None


def _matching_quantization(op: OpSignature, check: dict[str, Any],
                           params: list[int]) -> str | None:
    out = op.outputs[0].quantization if op.outputs else None
    for tensor in op.inputs[:2]:
        q = tensor.quantization if tensor is not None else None
        if (q is None) != (out is None) or (q is not None and out is not None and (
                q.scale != out.scale or q.zero_point != out.zero_point)):
            return "has inputs quantized differently from its output"
    return None


def _positive_strides(op: OpSignature, check: dict[str, Any], params: list[int]) -> str | None:
    strides = _ints(_input(op, 3))
    if strides is not None and any(s < 0 for s in strides):
        return "has a negative stride"
    return None


def _max_rank(op: OpSignature, check: dict[str, Any], params: list[int]) -> str | None:
    rank = len(_shape(_input(op, 0)))
    return f"has a rank-{rank} input" if rank > check["max"] else None


#: Permutations of a 4-D NHWC tensor the Ethos-U55/U65 hardware runs (others are decomposed).
_U55_DIRECT: dict[tuple[int, ...], str] = {
    (0, 1, 2, 3): "NHWC", (0, 2, 1, 3): "NWHC", (0, 1, 3, 2): "NHCW",
    (0, 3, 2, 1): "NCWH", (0, 2, 3, 1): "NWCH", (0, 3, 1, 2): "NCHW"}
_U55_INT32 = ("NHWC", "NWHC", "NHCW")


def _transpose_u55(op: OpSignature, check: dict[str, Any], params: list[int]) -> str | None:
    feature = _input(op, 0)
    perm = _ints(_input(op, 1))
    shape = _shape(feature)
    if feature is None or perm is None or len(perm) != len(shape):
        return None
    # Leading axes of size one do not count: the permutation is read on the padded 4-D shape.
    padded = [1] * max(0, 4 - len(shape)) + shape
    offset = len(padded) - len(shape)
    full = list(range(offset)) + [p + offset for p in perm]
    kind = None
    if len(full) == 4:
        kind = _U55_DIRECT.get(tuple(full))
    elif all(full[i] == i for i in range(len(full) - 3)) and all(
            d == 1 for d in padded[:len(full) - 3]):
        tail = [p - (len(full) - 4) for p in full[len(full) - 4:]]
        kind = _U55_DIRECT.get(tuple(tail))
    limit = check["max_axis"]
    if feature.dtype == "int32":
        if len(shape) > check["int32_max_rank"]:
            return f"transposes a rank-{len(shape)} int32 tensor"
        if kind not in _U55_INT32:
            return "transposes an int32 tensor with an unsupported permutation"
        return None
    if kind == "NHWC":
        return None
    if kind is not None:
        n, h, w, c = padded[-4:]
        if n * h > limit or w > limit or c > limit:
            return f"transposes a {shape} tensor"
        return None
    if math.prod(shape) > limit:
        return f"transposes {math.prod(shape)} elements with a permutation the NPU decomposes"
    return None


def _ifm_dtypes(op: OpSignature, check: dict[str, Any], params: list[int]) -> str | None:
    feature = _input(op, 0)
    if feature is not None and feature.dtype not in check["dtypes"]:
        return f"has a {feature.dtype} input"
    return None


def _scales(op: OpSignature) -> tuple[float, float, list[int], list[int]] | None:
    ifm, ofm = _nhwc(_input(op, 0)), _nhwc(op.outputs[0] if op.outputs else None)
    if op.options.get("align_corners"):
        h = 1.0 if ofm[1] == 1 else (ofm[1] - 1) / max(ifm[1] - 1, 1)
        w = 1.0 if ofm[2] == 1 else (ofm[2] - 1) / max(ifm[2] - 1, 1)
    else:
        h, w = ofm[1] / ifm[1], ofm[2] / ifm[2]
    return h, w, ifm, ofm


def _resize_u55(op: OpSignature, check: dict[str, Any], params: list[int]) -> str | None:
    scales = _scales(op)
    if scales is None:
        return None
    h, w, ifm, ofm = scales
    half_pixel = bool(op.options.get("half_pixel_centers"))
    if ifm[1] == 1 and ifm[2] == 1:
        return None
    if ifm[1:3] == ofm[1:3]:
        return None
    if h != w:
        if not ((ofm[1] == 1 and h == 1) or (ofm[2] == 1 and w == 1)):
            return f"scales height by {h:g} and width by {w:g}"
    factor = max(h, w)
    limit = check["half_pixel_max"] if half_pixel else check["max"]
    if not (factor == int(factor) and factor > 1 and int(factor) & (int(factor) - 1) == 0
            and factor <= limit):
        return f"scales by {factor:g}"
    return None


def _resize_u85(op: OpSignature, check: dict[str, Any], params: list[int]) -> str | None:
    scales = _scales(op)
    if scales is None:
        return None
    h, w, ifm, _ = scales
    if ifm[1] == 1 and ifm[2] == 1:
        return None  # a 1x1 input is broadcast, whatever the size
    limit = check["align_max"] if op.options.get("align_corners") else check["max"]
    for factor in (h, w):
        if factor > limit:
            return f"scales by {factor:g}"
        if check.get("power_of_two") and factor != 1 and not (
                factor == int(factor) and int(factor) & (int(factor) - 1) == 0):
            return f"scales by {factor:g}"
    return None


def _never(op: OpSignature, check: dict[str, Any], params: list[int]) -> str | None:
    return "reverses an axis"


def _softmax_area(op: OpSignature, check: dict[str, Any], params: list[int]) -> str | None:
    _, height, width, _ = _nhwc(_input(op, 0))[-4:]
    if height * width > check["max"]:
        return f"has an input of {height}x{width} (height x width {height * width})"
    return None


def _gather_axis(op: OpSignature, check: dict[str, Any], params: list[int]) -> str | None:
    axis, batch_dims = op.options.get("axis", 0), op.options.get("batch_dims", 0)
    rank = len(_shape(_input(op, 0)))
    if (axis + rank if axis < 0 else axis) != batch_dims:
        return f"gathers along axis {axis} with batch_dims {batch_dims}"
    return None


CHECKS: dict[str, Check] = {
    "feature_map_dtypes": _feature_map_dtypes, "static_shape": _static_shape,
    "dynamic_dims": _dynamic_dims, "quantized": _quantized, "scale_positive": _scale_positive,
    "per_tensor": _per_tensor, "no_64bit": _no_bits(64), "no_32bit": _no_bits(32),
    "zero_point_u55": _zero_point_u55, "zero_point_u85": _zero_point_u85, "bias": _bias,
    "weights_8bit": _weights_8bit, "weight_sum": _weight_sum,
    "fc_weights_shape": _fc_weights_shape, "matmul_int8": _matmul_int8,
    "matmul_size": _matmul_size, "stride_max": _stride_max,
    "large_stride_dilation": _large_stride_dilation, "avgpool_kernel": _avgpool_kernel,
    "maxpool_kernel": _maxpool_kernel, "tconv_output_shape": _tconv_output_shape,
    "tconv_stride_u55": _tconv_stride_u55, "argmax_depth": _argmax_depth,
    "argmax_axis": _argmax_axis, "constant_params": _constant_params,
    "param_dtypes": _param_dtypes, "mean": _mean,
    "matching_quantization": _matching_quantization, "positive_strides": _positive_strides,
    "max_rank": _max_rank, "transpose_u55": _transpose_u55, "ifm_dtypes": _ifm_dtypes,
    "resize_u55": _resize_u55, "resize_u85": _resize_u85, "never": _never,
    "gather_axis": _gather_axis, "softmax_area": _softmax_area,
}


# ---------------------------------------------------------------------------
# The target
# ---------------------------------------------------------------------------

class EthosUTarget(Target):
    """Base of the Ethos-U configurations; a subclass names one accelerator."""

    #: Vela's ``--accelerator-config`` name.
    accelerator: ClassVar[str]
    #: The profile's family: ``u55`` (Ethos-U55 and U65) or ``u85``.
    family: ClassVar[str]
    refusal_advice: ClassVar[str] = (
        "Ethos-U needs a full-integer model: convert with "
        "converter.optimizations = [tf.lite.Optimize.DEFAULT], a representative_dataset and "
        "converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8] "
        "(int8, or int16 activations with EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS"
        "_INT8), then compile it with Vela")
    keras_conversion: ClassVar[str] = "int8"
    fallback_advice: ClassVar[str] = (
        "rewrite the layer within the constraint the reason names; each op Vela leaves to "
        "the CPU runs there with the TFLite Micro kernels and cuts the NPU's work in two. "
        "vela --show-cpu-operations lists them")

    @property
    def spec(self) -> dict[str, Any]:
        family: dict[str, Any] = load_ethosu_profile()["families"][self.family]
        return family

    def verdict_reason(self, op: OpSignature) -> tuple[str | None, bool]:
        return self.reason(op), False

    def reason(self, op: OpSignature) -> str | None:
        """Why Vela leaves ``op`` on the CPU for this accelerator, or None."""
        spec = self.spec
        title = spec["title"]
        if op.origin != "builtin":
            kind = "a Flex op" if op.origin == "flex" else "a custom op"
            return f"{op.op_type} is {kind}: Vela places only TFLite builtins on {title}"
        entry = spec["ops"].get(op.op_type)
        if entry is None:
            return f"{op.op_type} is not an op Vela places on {title}"
        params = entry["params"]
        for check in spec["generic"]:
            if check["check"] == "op_type" or op.op_type in check.get("except", ()):
                continue
            problem = CHECKS[check["check"]](op, check, params)
            if problem:
                return self._sentence(op, problem, check["text"], title)
        for check in entry["checks"]:
            problem = CHECKS[check["check"]](op, check, params)
            if problem:
                return self._sentence(op, problem, check["text"], title)
        return None

    @staticmethod
    def _sentence(op: OpSignature, problem: str, text: str, title: str) -> str:
        return f"{op.op_type} {problem}: on {title}, {text.format(title=title)}"

    def assess(self, graph: ModelGraph) -> Assessment:
        details = {"accelerator": self.accelerator, "compiler": f"Vela {VELA_VERSION}"}
        integer = any(t.dtype in _INTEGER_ACTIVATIONS and t.quantization is not None
                      and len(t.quantization.scale) > 0
                      for node in graph.nodes() for t in node.outputs)
        computes_float = any(t.dtype in ("float32", "float16")
                             for node in graph.nodes() for t in node.outputs)
        if computes_float and not integer:
            return Assessment(
                refused="it computes in floating point (no op has an 8- or 16-bit quantized "
                        "integer output), and Ethos-U runs integer ops only, so Vela leaves "
                        "every op on the CPU", details=details)
        return Assessment(details=details)

    def place(self, graph: ModelGraph, nodes: Sequence[Node],
              signatures: dict[str, OpSignature]) -> Placement:
        placement = Placement()
        for node in nodes:
            reason = self.reason(signatures[node.id])
            if reason:
                placement.reasons[node.id] = reason
        self._fold_shape_computations(graph, nodes, placement.reasons)
        return placement

    @staticmethod
    def _fold_shape_computations(graph: ModelGraph, nodes: Sequence[Node],
                                 reasons: dict[str, str]) -> None:
        """Drop ops that only feed the shape operand of RESHAPEs on the NPU.

        Vela takes a RESHAPE's shape from its output tensor, so the ops that
        compute the shape operand (SHAPE -> STRIDED_SLICE -> PACK of a
        flatten) become dead and are removed: they run neither on the NPU nor
        on the CPU.
        """
        removed: set[str] = set()
        for node in reversed(nodes):
            if node.id not in reasons or not node.outputs:
                continue
            if any(graph.is_graph_output(t) for t in node.outputs):
                continue
            uses = [(consumer, tensor) for tensor in node.outputs
                    for consumer in graph.consumers(tensor)]
            if uses and all(consumer.id in removed or (
                    consumer.op_type == "RESHAPE" and consumer.id not in reasons
                    and len(consumer.inputs) > 1 and consumer.inputs[1].id == tensor.id
                    and consumer.inputs[0].id != tensor.id)
                    for consumer, tensor in uses):
                removed.add(node.id)
        for node_id in removed:
            del reasons[node_id]


def _configuration(accelerator: str, family: str, macs: int, core: str) -> type[EthosUTarget]:
    return type(f"EthosU{core[1:]}_{macs}", (EthosUTarget,), {
        "__module__": __name__,
        "name": accelerator,
        "title": f"Ethos-{core.upper()}-{macs}",
        "description": f"Arm Ethos-{core.upper()} NPU with {macs} MACs/cycle, as Vela "
                       f"{VELA_VERSION} compiles for it (--accelerator-config {accelerator})",
        "accelerator": accelerator,
        "family": family,
    })


EthosU55_128 = _configuration("ethos-u55-128", "u55", 128, "u55")
EthosU55_256 = _configuration("ethos-u55-256", "u55", 256, "u55")
EthosU65_256 = _configuration("ethos-u65-256", "u55", 256, "u65")
EthosU65_512 = _configuration("ethos-u65-512", "u55", 512, "u65")
EthosU85_256 = _configuration("ethos-u85-256", "u85", 256, "u85")
EthosU85_512 = _configuration("ethos-u85-512", "u85", 512, "u85")
EthosU85_1024 = _configuration("ethos-u85-1024", "u85", 1024, "u85")

__all__ = ["EthosU55_128", "EthosU55_256", "EthosU65_256", "EthosU65_512", "EthosU85_256",
           "EthosU85_512", "EthosU85_1024", "EthosUTarget", "load_ethosu_profile"]
