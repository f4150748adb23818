"""LiteRT's GPU delegate on phones (OpenCL, OpenGL ES or Metal).

Op support is data (``gpu_ops.json``): per op, the conditions of the offline
GPU compatibility check (``gpu_compatibility.cc``, as TensorFlow 2.17.1's
model analyzer runs it) and those only the delegate's operation parsers add
(``model_builder.cc``): op versions, ranks above 4, run-time tensor types,
comparisons that must feed a CAST or SELECT.  ``GPU_NOTES.md`` says where each
comes from.  This module evaluates them on an op's signature and adds the
delegate's decisions across ops: comparisons and CASTs from bool judged by
their neighbours, float16 weights behind DEQUANTIZE delegated with their
consumers, and only the largest partition delegated
(``max_delegated_partitions = 1`` by default).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from tflint.expressions import ExpressionError, Undecided, evaluate
from tflint.expressions import check as check_expression
from tflint.graph import ModelGraph, Node
from tflint.schema import DataFileError, load_data_file
from tflint.signature import OperandSignature, OpSignature
from tflint.targets import Placement, Target

PROFILE_FILE = Path(__file__).with_name("gpu_ops.json")
_FLOAT = ("float16", "float32")
_SELECTS = ("CAST", "SELECT", "SELECT_V2")
_PLACEHOLDER = re.compile(r"\{([a-z_0-9]+)\}")
#: Names of an operand's facts in expressions: ``in0_rank``, ``out0_shape``...
_OPERAND_NAME = re.compile(r"(in|out)(\d+)_(present|dtype|shape|rank|const|elements|value)\Z")
_OP_NAMES = frozenset({"op", "num_inputs", "num_outputs", "runtime_inputs", "const_inputs",
                       "version"})


def stored_shape(tensor: OperandSignature) -> tuple[int, ...]:
    """The shape the file stores (what the checker reads): dynamic dimensions as 1."""
    return tuple(1 if d is None else d for d in (tensor.shape or ()))


class Names(Mapping[str, Any]):
    """The values expressions read for one op, computed when first asked for."""

    def __init__(self, op: OpSignature, defaults: Mapping[str, Any]) -> None:
        self.op = op
        self.defaults = defaults
        self._cache: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        if key not in self._cache:
            self._cache[key] = self._compute(key)
        return self._cache[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._cache)

    def __len__(self) -> int:
        return len(self._cache)

    def _compute(self, key: str) -> Any:
        op = self.op
        present = [t for t in op.inputs if t is not None]
        if key == "op":
            return op.op_type
        if key == "num_inputs":
            return len(op.inputs)
        if key == "num_outputs":
            return len(op.outputs)
        if key == "runtime_inputs":
            return sum(not t.is_constant for t in present)
        if key == "const_inputs":
            return sum(t.is_constant for t in present)
        if key == "version":
            return op.version or 1
        match = _OPERAND_NAME.match(key)
        if match is not None:
            side, index, fact = match.groups()
            operands: Sequence[OperandSignature | None] = (op.inputs if side == "in"
                                                           else op.outputs)
            tensor = operands[int(index)] if int(index) < len(operands) else None
            return _operand_fact(tensor, fact)
        if key in op.options:
            return op.options[key]
        if key in self.defaults:
            return self.defaults[key]
        raise KeyError(key)


def _operand_fact(tensor: OperandSignature | None, fact: str) -> Any:
    if fact == "present":
        return tensor is not None
    if tensor is None:
        return None  # undecided
    shape = stored_shape(tensor)
    if fact == "dtype":
        return tensor.dtype
    if fact == "shape":
        return shape
    if fact == "rank":
        return len(shape)
    if fact == "const":
        return tensor.is_constant
    if fact == "elements":
        count = 1
        for dim in shape:
            count *= dim
        return count
    return tensor.values()  # "value": None (undecided) unless a small constant


def _is_name(key: str, defaults: Mapping[str, Any]) -> bool:
    return key in _OP_NAMES or key in defaults or _OPERAND_NAME.match(key) is not None


class Profile:
    """The GPU delegate's conditions, evaluated on one op at a time."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.general: dict[str, dict[str, Any]] = data["general"]
        self.defaults: dict[str, Any] = data["general"]["option_defaults"]
        self.ops: dict[str, dict[str, Any]] = data["ops"]
        self.custom_ops: dict[str, dict[str, Any]] = data["custom_ops"]

    def spec(self, op: OpSignature) -> dict[str, Any] | None:
        table = self.custom_ops if op.origin == "custom" else self.ops
        return table.get(op.op_type) if op.origin != "flex" else None

    def verdict(self, op: OpSignature) -> tuple[str | None, bool]:
        """Why the GPU delegate does not take ``op`` (None when it does), and whether
        the delegate claims it and then fails to build it."""
        names = Names(op, self.defaults)
        spec = self.spec(op)
        if spec is None:
            rule = {"flex": "flex", "custom": "custom"}.get(op.origin, "unlisted")
            return _render(self.general[rule]["reason"], names), False
        for condition in spec["conditions"]:
            if not _holds(condition, names):
                return _render(condition["reason"], names), condition.get("effect") == \
                    "fails_build"
        return self._general_reason(op, spec, names), False

    def _general_reason(self, op: OpSignature, spec: dict[str, Any],
                        names: Names) -> str | None:
        if op.origin == "custom":
            return None
        general = self.general
        limit = spec.get("max_version")
        if limit is not None and (op.version or 1) > limit:
            return _render(general["max_version"]["reason"], names, max_version=limit)
        max_rank = general["max_rank"]["value"]
        for tensor in (*op.inputs, *op.outputs):
            if tensor is not None and tensor.shape is not None and len(tensor.shape) > max_rank:
                return _render(general["max_rank"]["reason"], names, rank=len(tensor.shape))
        types = general["runtime_types"]
        for role, tensors, allowed in (
                ("input", op.inputs, [*types["inputs"], *spec.get("input_types", ())]),
                ("output", op.outputs, [*types["outputs"], *spec.get("output_types", ())])):
            for tensor in tensors:
                # Constants and variables are not type-checked; everything else is.
                if (tensor is not None and not tensor.is_constant and tensor.dtype != "resource"
                        and tensor.dtype not in allowed):
                    extra = sorted(set(allowed) - set(types[role + "s"]))
                    return _render(types["reason"], names, dtype=str(tensor.dtype), role=role,
                                   extra=f" (for {op.op_type} also {', '.join(extra)})"
                                   if extra else "")
        return None


def _holds(condition: dict[str, Any], names: Names) -> bool:
    """Whether the op meets the condition; an undecidable one counts as not met,
    so that tflint never passes what the checker might flag."""
    try:
        if "when" in condition and not evaluate(condition["when"], names):
            return True
        if "check" in condition:
            return bool(_CHECKS[condition["check"]](names))
        return bool(evaluate(condition["expr"], names))
    except (Undecided, TypeError, IndexError):
        return False


def _render(template: str, names: Mapping[str, Any], **extra: Any) -> str:
    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        if key in extra:
            return str(extra[key])
        try:
            found = names[key]
        except KeyError:
            return "?"
        if isinstance(found, tuple):
            return "[" + ", ".join(map(str, found)) + "]"
        return "?" if found is None else str(found)
    return _PLACEHOLDER.sub(value, template)


# -- conditions too involved for one expression ------------------------------------------


def _broadcastable(names: Names) -> bool:
    """Two shapes broadcast (numpy rules) when both have rank above 1 and differ in rank."""
    first, second = names["in0_shape"], names["in1_shape"]
    if first is None or second is None:
        raise Undecided("absent operand")
    if len(first) <= 1 or len(second) <= 1 or len(first) == len(second):
        return True
    return all(a == b or a == 1 or b == 1
               for a, b in zip(reversed(first), reversed(second), strict=False))


def _not_outer_product(names: Names) -> bool:
    """Of two same-rank inputs, one is at least as large as the other in every dimension."""
    first, second = names["in0_shape"], names["in1_shape"]
    if first is None or second is None:
        raise Undecided("absent operand")
    first_smaller = any(a < b for a, b in zip(first, second, strict=True))
    second_smaller = any(b < a for a, b in zip(first, second, strict=True))
    return not (first_smaller and second_smaller)


def _select_v2(names: Names) -> bool:
    if names["num_inputs"] != 3 or names["num_outputs"] != 1:
        return False
    if names["in0_dtype"] not in ("bool", *_FLOAT):
        return False
    output = names["out0_shape"]
    for index in (1, 2):
        if names[f"in{index}_dtype"] not in _FLOAT:
            return False
        shape = names[f"in{index}_shape"]
        if shape and shape != output and (len(shape) > 1 or shape[0] > 1):
            return False
        if names[f"in{index}_const"] and len(shape) == 2:
            return False
    return True


def _one_hot(names: Names) -> bool:
    if names["in0_dtype"] != "int32" or names["num_inputs"] != 4:
        return False
    dims = names["in0_shape"]
    axis = names["axis"]
    if axis != -1 and (not dims or axis != dims[-1]):
        return False
    # Only the batch (of a 4-D input) and the last dimension may be larger than 1.
    if any(dims[i] != 1 for i in range(len(dims) - 1) if not (len(dims) > 3 and i == 0)):
        return False
    for index in (2, 3):
        shape = names[f"in{index}_shape"]
        if (names[f"in{index}_dtype"] != "float32" or not names[f"in{index}_const"]
                or len(shape) > 1 or (shape and shape[0] > 1)):
            return False
    return True


_CHECKS = {"broadcastable": _broadcastable, "not_outer_product": _not_outer_product,
           "select_v2": _select_v2, "one_hot": _one_hot}


@cache
def load_profile() -> Profile:
    """``gpu_ops.json``, checked against its schema; every expression must parse and
    read only names :class:`Names` provides, every condition cite a known source."""
    expressions: list[str] = []

    def expression(text: str) -> str | None:
        try:
            check_expression(text)
        except ExpressionError as exc:
            return str(exc)
        expressions.append(text)
        return None

    data = load_data_file(PROFILE_FILE, formats={"tflint-expression": expression})
    defaults = data["general"]["option_defaults"]
    for text in expressions:
        unknown = sorted(n for n in check_expression(text) if not _is_name(n, defaults))
        if unknown:
            raise DataFileError(PROFILE_FILE, "$", f"expression {text!r} reads unknown "
                                f"names {', '.join(unknown)}")
    rules = [*data["general"].values(),
             *(c for table in ("ops", "custom_ops") for spec in data[table].values()
               for c in spec["conditions"])]
    for rule in rules:
        if isinstance(rule, dict) and "source" in rule and rule["source"] not in data["sources"]:
            raise DataFileError(PROFILE_FILE, "$", f"unknown source {rule['source']!r}")
    return Profile(data)


class GpuTarget(Target):
    name = "gpu"
    title = "GPU"
    description = ("LiteRT's GPU delegate on phones, default options (ops as TensorFlow "
                   "2.17.1's GPU compatibility check and the delegate's parsers take them)")
    fallback_advice: ClassVar[str] = (
        "the delegate runs only its largest partition by default, so an op it does not take "
        "in the middle of the model sends a whole side of it to the CPU: replace the op, or "
        "move it to the start or end of the model")

    @property
    def profile(self) -> Profile:
        return load_profile()

    def verdict_reason(self, op: OpSignature) -> tuple[str | None, bool]:
        return self.profile.verdict(op)

    def place(self, graph: ModelGraph, nodes: Sequence[Node],
              signatures: dict[str, OpSignature]) -> Placement:
        from tflint.analyses.delegation import subgraph_partitions

        profile = self.profile
        general = profile.general
        placement = Placement()
        reasons = placement.reasons
        weights: list[Node] = []
        for node in nodes:
            op = signatures[node.id]
            if _is_fp16_weights(op):
                weights.append(node)  # delegated with its consumers, below
                continue
            reason, claimed = profile.verdict(op)
            if reason is None:
                reason = self._neighbour_reason(graph, node, op)
            if reason:
                reasons[node.id] = reason
            if claimed:
                placement.claimed_failing.add(node.id)
        # Only the largest partition is delegated; the float16 weights are not
        # partition nodes, so they are left out while partitions are formed.
        off = (set(reasons) - placement.claimed_failing) | {n.id for n in weights}
        partitions = subgraph_partitions(graph, list(nodes), off)
        limit = general["max_delegated_partitions"]["value"]
        kept = sorted(partitions, key=len, reverse=True)[:limit]
        chosen = {node_id for partition in kept for node_id in partition}
        for partition in partitions:
            for node_id in partition:
                if node_id not in chosen:
                    reasons[node_id] = general["max_delegated_partitions"]["reason"]
                    placement.claimed_failing.discard(node_id)
        for node in weights:
            users = graph.consumers(node.outputs[0])
            if not any(user.id in chosen for user in users):
                reasons[node.id] = general["fp16_dequantize"]["reason"]
        return placement

    def _neighbour_reason(self, graph: ModelGraph, node: Node, op: OpSignature) -> str | None:
        """The delegate's checks of a comparison or a CAST from bool, which look at
        the ops around it."""
        general = self.profile.general
        spec = self.profile.spec(op) or {}
        if spec.get("logical"):
            users = graph.consumers(node.outputs[0]) if node.outputs else []
            if (len(users) != 1 or users[0].op_type not in _SELECTS or not users[0].outputs
                    or users[0].outputs[0].dtype not in _FLOAT):
                return _render(general["logical_consumer"]["reason"], {"op": op.op_type})
        if (op.op_type == "CAST" and op.inputs and op.inputs[0] is not None
                and op.inputs[0].dtype == "bool" and op.outputs[0].dtype in _FLOAT):
            source = node.inputs[0]
            producer = graph.producer(source)
            if (producer is None or len(graph.consumers(source)) != 1
                    or len(graph.consumers(node.outputs[0])) != 1):
                return general["cast_from_bool"]["reason"]
        return None


def _is_fp16_weights(op: OpSignature) -> bool:
    """A DEQUANTIZE of a constant float16 tensor: weights the delegate reads directly."""
    return (op.op_type == "DEQUANTIZE" and len(op.inputs) == 1 and op.inputs[0] is not None
            and op.inputs[0].is_constant and op.inputs[0].dtype == "float16")
