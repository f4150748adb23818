"""Where a `.tflite` model computes shapes at run time, found in one forward pass.

The converter folds shape arithmetic into constants when every dimension is
known.  When one is not (a dynamic batch read with ``tf.shape(x)[0]``, an
image of any size), the arithmetic stays in the model: ``SHAPE`` reads a
tensor's dimensions and integer ops (``STRIDED_SLICE``, ``PACK``, ``MUL``...)
turn them into the shape operand of a ``RESHAPE``, a ``RESIZE_BILINEAR`` size,
a ``FILL`` dims vector.  This module finds those operands, the chain of ops
behind each, the ops whose output size depends on tensor values, and the
ops downstream of either, in time linear in the number of ops.
"""

from __future__ import annotations

from typing import NamedTuple

from tflint.graph import ModelGraph, Node, Tensor

#: Operands that decide the shape of an op's output (position -> role).
SHAPE_OPERANDS: dict[str, dict[int, str]] = {
    "RESHAPE": {1: "shape"},
    "BROADCAST_TO": {1: "shape"},
    "FILL": {0: "dims"},
    "RESIZE_BILINEAR": {1: "size"},
    "RESIZE_NEAREST_NEIGHBOR": {1: "size"},
    "TILE": {1: "multiples"},
    "SLICE": {1: "begin", 2: "size"},
    "STRIDED_SLICE": {1: "begin", 2: "end", 3: "strides"},
    "PAD": {1: "paddings"},
    "PADV2": {1: "paddings"},
    "MIRROR_PAD": {1: "paddings"},
    "TRANSPOSE": {1: "perm"},
    "TRANSPOSE_CONV": {0: "output_shape"},
    "EXPAND_DIMS": {1: "axis"},
    "MEAN": {1: "axis"},
    "SUM": {1: "axis"},
    "REDUCE_MAX": {1: "axis"},
    "REDUCE_MIN": {1: "axis"},
    "REDUCE_PROD": {1: "axis"},
    "REDUCE_ANY": {1: "axis"},
    "SPLIT": {0: "axis"},
    "SPLIT_V": {1: "size_splits", 2: "axis"},
    "RANGE": {0: "start", 1: "limit", 2: "delta"},
    "ONE_HOT": {1: "depth"},
    "SCATTER_ND": {2: "shape"},
    "SPARSE_TO_DENSE": {1: "output_shape"},
    "RANDOM_UNIFORM": {0: "shape"},
    "RANDOM_STANDARD_NORMAL": {0: "shape"},
}

#: Ops whose output size depends on the values of their inputs, not their shapes.
DATA_DEPENDENT_OPS: dict[str, str] = {
    "WHERE": "the number of true elements",
    "UNIQUE": "the number of distinct values",
    "NON_MAX_SUPPRESSION_V4": "the number of boxes kept",
    "NON_MAX_SUPPRESSION_V5": "the number of boxes kept",
}

#: Shape vectors and scalars are integer tensors of rank 0 or 1.
_SHAPE_DTYPES = frozenset({"int32", "int64"})
#: Ops shown at most in a chain; longer chains are shortened in the middle.
MAX_CHAIN = 6


class RuntimeShapeOperand(NamedTuple):
    """An operand that decides an op's output shape but is computed at run time."""

    consumer: Node
    position: int
    role: str
    tensor: Tensor
    #: Ops computing the operand, first to last (starting at SHAPE when it
    #: reads a tensor's dimensions).
    chain: list[Node]
    #: "shape": derived from a tensor's dimensions by SHAPE; "input": a model
    #: input; "data": computed from tensor values.
    origin: str


class DynamicShapes:
    """The run-time shape operands of a model, its data-dependent ops, and what follows."""

    __slots__ = ("data_dependent", "downstream", "operands")

    def __init__(self) -> None:
        self.operands: list[RuntimeShapeOperand] = []
        self.data_dependent: list[Node] = []
        #: Source node id -> ops downstream of it, in execution order.
        self.downstream: dict[str, list[Node]] = {}


def runtime_inputs(graph: ModelGraph) -> set[str]:
    """Ids of the tensors fed at run time: model inputs and every subgraph's inputs."""
    ids = {t.id for t in graph.inputs}
    for subgraph in graph.facts.get("tflite", {}).get("subgraphs", []):
        ids.update(subgraph.get("inputs", ()))
    for signature in graph.signatures:
        ids.update(t.id for t in signature.inputs.values())
    return ids


def _is_shape_like(tensor: Tensor) -> bool:
    return tensor.dtype in _SHAPE_DTYPES and tensor.shape is not None and len(tensor.shape) <= 1


def dynamic_shapes(graph: ModelGraph, target: str) -> DynamicShapes:
    """Analysis shared by the dynamic-shape rules (``ctx.analysis(dynamic_shapes)``)."""
    fed = runtime_inputs(graph)
    # Tensor id -> (producing node, the derived input it came from) for
    # integer tensors computed from a SHAPE op: a linked list per chain.
    derived: dict[str, tuple[Node, str | None]] = {}
    result = DynamicShapes()
    sources: list[Node] = []

    for node in graph.nodes():
        if node.op_type == "SHAPE":
            for tensor in node.outputs:
                derived[tensor.id] = (node, None)
            continue
        from_shape = next((t.id for t in node.inputs if t.id in derived), None)
        if from_shape is not None and all(_is_shape_like(t) for t in node.outputs):
            for tensor in node.outputs:
                derived[tensor.id] = (node, from_shape)
            continue  # shape arithmetic: part of a chain, not its consumer
        if node.op_type in DATA_DEPENDENT_OPS and _outputs_unknown(node):
            result.data_dependent.append(node)
            sources.append(node)
        operands = _runtime_operands(graph, node, fed, derived)
        if operands:
            result.operands.extend(operands)
            sources.append(node)

    result.downstream = _downstream(graph, sources)
    return result


def _outputs_unknown(node: Node) -> bool:
    return any(t.is_dynamic for t in node.outputs)


def _runtime_operands(graph: ModelGraph, node: Node, fed: set[str],
                      derived: dict[str, tuple[Node, str | None]]) -> list[RuntimeShapeOperand]:
    roles = SHAPE_OPERANDS.get(node.op_type)
    if not roles:
        return []
    raw = node.options.get("_inputs", [])
    by_index = {t.index: t for t in node.inputs}
    found = []
    for position, role in roles.items():
        if position >= len(raw) or raw[position] < 0:
            continue
        tensor = by_index.get(raw[position])
        if tensor is None or tensor.is_constant:
            continue
        if tensor.id in derived:
            chain, origin = _chain(tensor.id, derived), "shape"
        elif tensor.id in fed:
            chain, origin = [], "input"
        elif (producer := graph.producer(tensor)) is not None:
            chain, origin = [producer], "data"
        else:
            continue  # an empty constant (zero elements): no buffer data, still fixed
        found.append(RuntimeShapeOperand(node, position, role, tensor, chain, origin))
    return found


def _chain(tensor_id: str, derived: dict[str, tuple[Node, str | None]]) -> list[Node]:
    """The ops from SHAPE to the operand, shortened to MAX_CHAIN (first and last kept)."""
    nodes: list[Node] = []
    current: str | None = tensor_id
    while current is not None:
        node, current = derived[current]
        nodes.append(node)
        if len(nodes) > 4 * MAX_CHAIN:  # a very long chain: keep its end only
            break
    nodes.reverse()
    return nodes


def format_chain(nodes: list[Node]) -> str:
    names = [n.op_type for n in nodes]
    if len(names) > MAX_CHAIN:
        names = [*names[: MAX_CHAIN // 2], "...", *names[-(MAX_CHAIN // 2):]]
    return " → ".join(names)


def _downstream(graph: ModelGraph, sources: list[Node]) -> dict[str, list[Node]]:
    """Ops fed (directly or not) by each source's outputs; each op goes to its earliest source."""
    if not sources:
        return {}
    reached: dict[str, str] = {}  # tensor id -> source node id
    source_ids = {n.id for n in sources}
    result: dict[str, list[Node]] = {n.id: [] for n in sources}
    for node in graph.nodes():
        origin = next((reached[t.id] for t in node.inputs if t.id in reached), None)
        if node.id in source_ids:
            origin = origin or node.id
            if origin != node.id:
                result[origin].append(node)
        elif origin is not None:
            result[origin].append(node)
        if origin is not None:
            for tensor in node.outputs:
                reached[tensor.id] = origin
    return result


class ModelInput(NamedTuple):
    """A model input as the user knows it: its signature name when it has one."""

    name: str
    tensor: Tensor

    @property
    def dynamic_dims(self) -> list[int]:
        shape = self.tensor.shape or ()
        return [i for i, d in enumerate(shape) if d is None]


def model_inputs(graph: ModelGraph) -> list[ModelInput]:
    """The inputs of the main subgraph and of every signature, each tensor once."""
    named: dict[str, str] = {}
    for signature in graph.signatures:
        for name, tensor in signature.inputs.items():
            named.setdefault(tensor.id, name)
    seen: set[str] = set()
    result = []
    tensors = list(graph.inputs) + [t for s in graph.signatures for t in s.inputs.values()]
    for tensor in tensors:
        if tensor.id not in seen:
            seen.add(tensor.id)
            result.append(ModelInput(named.get(tensor.id, tensor.name), tensor))
    return result


def show_shape(shape: tuple[int | None, ...] | None) -> str:
    if shape is None:
        return "[unknown rank]"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def fixed_shape_example(shape: tuple[int | None, ...], batch: int = 1) -> str:
    """The input's shape with placeholders for the sizes to choose: ``[1, H, W, 3]``."""
    names = {4: {1: "H", 2: "W", 3: "C"}, 3: {1: "T"}}.get(len(shape), {})
    parts = []
    for i, d in enumerate(shape):
        if d is not None:
            parts.append(str(d))
        elif i == 0:
            parts.append(str(batch))
        else:
            parts.append(names.get(i, f"N{i}"))
    return "[" + ", ".join(parts) + "]"
