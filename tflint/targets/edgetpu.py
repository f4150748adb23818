"""The Coral Edge TPU: which ops the Edge TPU compiler maps, and where the mapping stops.

What the compiler maps is data (``edgetpu_ops.json``, from Coral's documented
model requirements and per-op limitations, see ``EDGETPU_NOTES.md``); this
module evaluates it and adds the compiler's whole-graph behaviour: it takes
only full-integer models, maps from the start of the graph, and leaves the
first op it cannot map and everything computed from it on the CPU, so the
mapped ops form one segment.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from tflint.graph import ModelGraph, Node
from tflint.schema import load_data_file
from tflint.signature import OperandSignature, OpSignature
from tflint.targets import Assessment, Placement, Target

PROFILE_FILE = Path(__file__).with_name("edgetpu_ops.json")
TITLE = "Edge TPU"
_QUANTIZE_OPS = frozenset({"QUANTIZE", "DEQUANTIZE"})
_FLOAT_TYPES = frozenset({"float32", "float16"})


def _dims_above_one(shape: Sequence[int | None]) -> int:
    # Only a dynamic batch gets this far (see _check_static); it is compiled as 1.
    return sum(1 for d in shape if d is not None and d > 1)


def _operand(op: OpSignature, ref: str) -> OperandSignature | None:
    """``in0``/``out0``-style reference to an operand of ``op``."""
    side, index = (op.inputs, int(ref[2:])) if ref.startswith("in") else (op.outputs, int(ref[3:]))
    return side[index] if index < len(side) else None


def _int_values(operand: OperandSignature | None) -> list[int] | None:
    values = operand.values() if operand is not None else None
    return None if values is None else [int(v) for v in values]


def _is_quantized(operand: OperandSignature) -> bool:
    q = operand.quantization
    return q is not None and len(q.scale) > 0


@dataclass(frozen=True)
class EdgeTpuProfile:
    """The documented requirements, evaluated on one op at a time."""

    data: dict[str, Any]

    @property
    def general(self) -> dict[str, Any]:
        return self.data["general"]

    @property
    def ops(self) -> dict[str, dict[str, Any]]:
        return self.data["ops"]

    # -- whole-op verdict ---------------------------------------------------
    def reason(self, op: OpSignature) -> str | None:
        """Why the compiler does not map ``op``, or None when it does."""
        if op.origin == "flex":
            return f"{op.op_type} runs on TensorFlow kernels (Select TF ops), never on the {TITLE}"
        if op.origin == "custom":
            return f"custom op '{op.op_type}' is not supported by the {TITLE}"
        spec = self.ops.get(op.op_type)
        if spec is None:
            return f"{op.op_type} is not in the {TITLE}'s supported operations"
        for check in (self._check_static, self._check_types):
            problem = check(op)
            if problem:
                return problem
        # The op's own limitation says more than the tensor layout it also breaks.
        for limit in spec["limits"]:
            if not _LIMITS[limit["check"]](op, limit):
                return f"{op.op_type} on the {TITLE}: {limit['text']}"
        return self._check_rank(op)

    def _check_static(self, op: OpSignature) -> str | None:
        for operand in (*op.inputs, *op.outputs):
            if operand is None:
                continue
            # A dynamic batch is compiled at the size stored in the file (1).
            if operand.shape is None or any(d is None for d in operand.shape[1:]):
                return (f"{op.op_type} has a dynamic shape ({operand.name}); the {TITLE} needs "
                        "tensor sizes fixed at compile time")
        return None

    def _check_types(self, op: OpSignature) -> str | None:
        general = self.general
        activations = general["activation_dtypes"]
        for operand in (*op.inputs, *op.outputs):
            if operand is None:
                continue
            if operand.is_constant:
                allowed = general["constant_dtypes"]
                kind = "constant"
            elif operand.producer is None and not operand.is_graph_input:
                allowed = general["state_dtypes"]  # a variable: no op computes it
                kind = "state"
            else:
                allowed = activations
                kind = "run-time"
            if operand.dtype not in allowed:
                return (f"{op.op_type} on a {operand.dtype} {kind} tensor; the {TITLE} computes "
                        "only on 8-bit quantized (int8/uint8) tensors")
            if kind == "run-time" and not _is_quantized(operand):
                return (f"{op.op_type} on an unquantized {operand.dtype} tensor ({operand.name}); "
                        f"the {TITLE} needs quantization parameters on every tensor")
        return None

    def _check_rank(self, op: OpSignature) -> str | None:
        innermost = self.general["innermost_dims"]
        for operand in (*op.inputs, *op.outputs):
            if operand is None or operand.is_constant or operand.shape is None:
                continue
            outer = operand.shape[:-innermost]
            if any(d is not None and d > 1 for d in outer):
                return (f"{op.op_type} on a tensor of shape {list(operand.shape)}: only the "
                        f"{innermost} innermost dimensions may be larger than 1 on the {TITLE}")
        return None

    def batch_axes(self, rank: int) -> range:
        """Axes before the innermost ones the hardware lays out (y, x, z)."""
        return range(max(0, rank - self.general["innermost_dims"]))

    # -- boundary ops -----------------------------------------------------------
    def is_input_quantize(self, op: OpSignature) -> bool:
        """QUANTIZE of a float model input: left on the CPU without stopping the mapping."""
        return (op.op_type == self.general["boundary_ops"]["input_quantize"]
                and len(op.inputs) == 1 and op.inputs[0] is not None
                and op.inputs[0].is_graph_input and op.inputs[0].dtype in _FLOAT_TYPES)

    def is_output_dequantize(self, op: OpSignature, graph: ModelGraph) -> bool:
        """DEQUANTIZE to a float model output: the CPU's last step, after the mapped ops."""
        outputs = {t.name for t in graph.outputs}
        return (op.op_type == self.general["boundary_ops"]["output_dequantize"]
                and len(op.outputs) == 1 and op.outputs[0].name in outputs)


def _no_fused_activation(op: OpSignature, limit: dict[str, Any]) -> bool:
    return op.options.get("fused_activation_function", "NONE") == "NONE"


def _constant_inputs(op: OpSignature, limit: dict[str, Any]) -> bool:
    for position in limit["inputs"]:
        operand = op.inputs[position] if position < len(op.inputs) else None
        if operand is not None and not operand.is_constant:
            return False
    return True


def _same_dilation(op: OpSignature, limit: dict[str, Any]) -> bool:
    return op.options.get("dilation_w_factor", 1) == op.options.get("dilation_h_factor", 1)


def _default_weights_format(op: OpSignature, limit: dict[str, Any]) -> bool:
    return op.options.get("weights_format", "DEFAULT") == "DEFAULT"


def _one_dimensional(op: OpSignature, limit: dict[str, Any]) -> bool:
    operand = _operand(op, limit["tensor"])
    if operand is None or operand.shape is None:
        return True
    if _dims_above_one(operand.shape) > 1:
        return False
    maximum = limit.get("max_elements")
    return maximum is None or math.prod(d or 1 for d in operand.shape) <= maximum


def _zero_constant_pair(op: OpSignature, limit: dict[str, Any]) -> bool:
    constants = [t for t in op.inputs if t is not None and t.is_constant]
    if not constants:
        return True
    if len(op.inputs) != 2:
        return False
    values = constants[0].values()
    return values is not None and all(v == 0 for v in values)


def _axes(op: OpSignature, limit: dict[str, Any], rank: int) -> list[int] | None:
    source = limit["axes_from"]
    if source == "paddings":
        pairs = _int_values(op.inputs[1] if len(op.inputs) > 1 else None)
        if pairs is None:
            return None
        return [axis for axis in range(len(pairs) // 2) if pairs[2 * axis] or pairs[2 * axis + 1]]
    if source.isdigit():
        position = int(source)
        axes = _int_values(op.inputs[position] if position < len(op.inputs) else None)
    else:
        value = op.options.get(source, 0)
        axes = [int(value)] if isinstance(value, int) else None
    if axes is None:
        return None
    return [a + rank if a < 0 else a for a in axes]


def _no_batch_axis(op: OpSignature, limit: dict[str, Any]) -> bool:
    operand = _operand(op, limit.get("on", "in0"))
    if operand is None or operand.shape is None:
        return True
    rank = len(operand.shape)
    axes = _axes(op, limit, rank)
    if axes is None:  # computed at run time: the constant-operand check reports it
        return True
    batch = set(_profile().batch_axes(rank))
    return not batch.intersection(axes)


def _z_reduction_multiple(op: OpSignature, limit: dict[str, Any]) -> bool:
    operand = op.inputs[0]
    if operand is None or operand.shape is None or not operand.shape:
        return True
    rank = len(operand.shape)
    axes = _int_values(op.inputs[1] if len(op.inputs) > 1 else None) or []
    if rank - 1 not in [a + rank if a < 0 else a for a in axes]:
        return True
    depth = operand.shape[-1]
    return depth is not None and depth % limit["multiple"] == 0


def _unit_strides(op: OpSignature, limit: dict[str, Any]) -> bool:
    strides = _int_values(op.inputs[3] if len(op.inputs) > 3 else None)
    return strides is not None and all(s == 1 for s in strides)


def _zero_masks(op: OpSignature, limit: dict[str, Any]) -> bool:
    return all(not op.options.get(name, 0) for name in limit["fields"])


def _leading_squeeze(op: OpSignature, limit: dict[str, Any]) -> bool:
    shape = op.inputs[0].shape if op.inputs and op.inputs[0] is not None else None
    if shape is None:
        return True
    dims = op.options.get("squeeze_dims") or [i for i, d in enumerate(shape) if d == 1]
    leading = 0
    while leading < len(shape) and shape[leading] == 1:
        leading += 1
    return all((d + len(shape) if d < 0 else d) < leading for d in dims)


def _innermost_alpha(op: OpSignature, limit: dict[str, Any]) -> bool:
    alpha = op.inputs[1] if len(op.inputs) > 1 else None
    if alpha is None or alpha.shape is None:
        return True
    return all(d == 1 for d in alpha.shape[:-1])


def _resize_precision(op: OpSignature, limit: dict[str, Any]) -> bool:
    source, result = op.inputs[0], op.outputs[0] if op.outputs else None
    if source is None or result is None or source.shape is None or result.shape is None:
        return True
    if len(source.shape) != 4 or len(result.shape) != 4:
        return True
    for axis in (1, 2):
        before, after = source.shape[axis] or 1, result.shape[axis] or 1
        if after > limit["max_output_side"] or after > before * limit["max_scale_factor"]:
            return False
    return True


_LIMITS: dict[str, Callable[[OpSignature, dict[str, Any]], bool]] = {
    "no_fused_activation": _no_fused_activation,
    "constant_inputs": _constant_inputs,
    "same_dilation": _same_dilation,
    "default_weights_format": _default_weights_format,
    "one_dimensional": _one_dimensional,
    "zero_constant_pair": _zero_constant_pair,
    "no_batch_axis": _no_batch_axis,
    "z_reduction_multiple": _z_reduction_multiple,
    "unit_strides": _unit_strides,
    "zero_masks": _zero_masks,
    "leading_squeeze": _leading_squeeze,
    "innermost_alpha": _innermost_alpha,
    "resize_precision": _resize_precision,
}


def load_edgetpu_profile(path: Path = PROFILE_FILE) -> EdgeTpuProfile:
    """The profile, checked against ``edgetpu_ops.schema.json`` (a DataFileError otherwise)."""
    return EdgeTpuProfile(load_data_file(path))


@cache
def _profile() -> EdgeTpuProfile:
    return load_edgetpu_profile()


def _float_kind(graph: ModelGraph) -> str:
    """How a model that does not compute in 8-bit integers computes."""
    nodes = list(graph.nodes())
    if any(not t.is_constant and t.dtype == "int16" for n in nodes for t in n.inputs):
        return "a 16x8 model (int16 activations)"
    if any(n.op_type == "DEQUANTIZE" and n.inputs and n.inputs[0].is_constant
           and n.inputs[0].dtype == "float16" for n in nodes):
        return "a float16-weight model (float32 compute)"
    if any(t.is_constant and t.dtype in ("int8", "uint8")
           for n in nodes for t in n.inputs):
        return "a dynamic-range quantized model (float activations, int8 weights)"
    return "a float model"


class EdgeTpuTarget(Target):
    name = "edgetpu"
    title = TITLE
    description = ("Coral Edge TPU, as its compiler maps a full-integer model "
                   "(Coral's documented op support, checked on compiled models)")
    refusal_advice: ClassVar[str] = (
        "quantize the whole model to 8-bit integers: converter.optimizations = "
        "[tf.lite.Optimize.DEFAULT], a representative_dataset, converter.target_spec."
        "supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8] and int8/uint8 "
        "inference_input_type/inference_output_type; then run edgetpu_compiler")
    keras_conversion: ClassVar[str] = "int8"
    fallback_advice: ClassVar[str] = (
        "the compiler maps ops in order and stops at the first it cannot map: every op "
        "computed after it runs on the CPU too. Replace that op, or move it to the end of the "
        "model (or into the app); edgetpu_compiler -s lists what it mapped")

    @property
    def profile(self) -> EdgeTpuProfile:
        return _profile()

    def verdict_reason(self, op: OpSignature) -> tuple[str | None, bool]:
        return self.profile.reason(op), False

    def assess(self, graph: ModelGraph) -> Assessment:
        """A model with no op computing on 8-bit integers is refused as a whole."""
        compute = [n for n in graph.nodes() if n.op_type not in _QUANTIZE_OPS]
        integer = [n for n in compute if any(
            not t.is_constant and t.dtype in ("int8", "uint8") for t in n.inputs)]
        if compute and not integer:
            return Assessment(refused=(
                f"the Edge TPU compiler takes only full-integer (int8/uint8) quantized models, "
                f"and this is {_float_kind(graph)}"))
        return Assessment()

    def place(self, graph: ModelGraph, nodes: Sequence[Node],
              signatures: dict[str, OpSignature]) -> Placement:
        profile = self.profile
        placement = Placement()
        reasons = placement.reasons
        if nodes and nodes[0].subgraph != 0:
            for node in nodes:
                reasons[node.id] = (f"{node.op_type} is in subgraph {node.subgraph}; the Edge TPU "
                                    "compiler maps only the main subgraph")
            return placement
        # Ops computed from the op where mapping stopped, by output tensor id -> that op.
        stopped_by: dict[str, Node] = {}
        for node in nodes:
            op = signatures[node.id]
            if profile.is_input_quantize(op):
                reasons[node.id] = ("QUANTIZE of a float model input runs on the CPU; the "
                                    "Edge TPU takes 8-bit inputs")
                continue
            if profile.is_output_dequantize(op, graph):
                reasons[node.id] = ("DEQUANTIZE to a float model output runs on the CPU; the "
                                    "Edge TPU produces 8-bit outputs")
                continue
            cause = next((stopped_by[t.id] for t in node.inputs if t.id in stopped_by), None)
            reason = profile.reason(op)
            if reason is None and cause is None:
                continue
            if reason is None:
                assert cause is not None
                label = cause.location.op_index
                reason = (f"{node.op_type} runs on the CPU: it is computed from {cause.op_type} "
                          f"(op {label}), where the Edge TPU compiler stopped mapping")
                placement.follows[node.id] = cause.id
            reasons[node.id] = reason
            origin = cause or node
            for tensor in node.outputs:
                stopped_by[tensor.id] = origin
        return placement
