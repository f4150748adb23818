"""Declarative dataflow patterns over a :class:`ModelGraph`.

A pattern describes an op sequence once, as an expression tree read from the
output backwards::

    x = var("x")
    HARD_SWISH = op("MUL", op("MUL", x, op("RELU6", op("ADD", x, const(3.0)))), const(1 / 6))

``find(graph, pattern)`` tries the pattern anchored at every node whose type
matches the root.  Each attempt walks at most the pattern's size, so matching
is linear in the number of nodes.  Commutative ops (ADD, MUL, MAXIMUM,
MINIMUM, ...) match their operands in either order.  A variable binds a
tensor the first time it is seen and must be the same tensor wherever it
appears again.  Inner nodes of a match must have no consumer outside it
unless the pattern says otherwise, since only then could the sequence be
replaced by one op.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tflint.graph import ModelGraph, Node, Tensor

COMMUTATIVE = frozenset({"ADD", "MUL", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE",
                         "LOGICAL_AND", "LOGICAL_OR", "EQUAL", "NOT_EQUAL"})

_UNPACK = {"float32": "f", "int32": "i", "int64": "q", "int16": "h", "int8": "b", "uint8": "B"}


class Pattern:
    """Base of pattern nodes; match against a tensor."""


@dataclass(frozen=True)
class Var(Pattern):
    """Any tensor, bound by name."""

    name: str


@dataclass(frozen=True)
class Const(Pattern):
    """A constant tensor, optionally with every element close to ``value``."""

    value: float | None = None
    tolerance: float = 1e-3


@dataclass(frozen=True)
class Op(Pattern):
    """A node of one of ``types`` whose inputs match ``inputs`` (in order).

    ``where`` is a predicate on the node (e.g. its options);
    ``shared_ok`` allows this inner node's output to have consumers outside
    the match.
    """

    types: frozenset[str]
    inputs: tuple[Pattern, ...] = ()
    where: Callable[[Node], bool] | None = None
    shared_ok: bool = False
    #: Only the first ``len(inputs)`` inputs are matched when True.
    partial: bool = False
    label: str | None = None


def var(name: str) -> Var:
    return Var(name)


def const(value: float | None = None, tolerance: float = 1e-3) -> Const:
    return Const(value, tolerance)


def op(types: str | tuple[str, ...], *inputs: Pattern, where: Callable[[Node], bool] | None = None,
       shared_ok: bool = False, partial: bool = False, label: str | None = None) -> Op:
    names = frozenset((types,) if isinstance(types, str) else types)
    return Op(names, tuple(inputs), where, shared_ok, partial, label)


@dataclass
class Match:
    """One occurrence: the root node, every matched node, and the bindings."""

    root: Node
    nodes: list[Node] = field(default_factory=list)
    bindings: dict[str, Tensor] = field(default_factory=dict)
    labels: dict[str, Node] = field(default_factory=dict)


def find(graph: ModelGraph, pattern: Op) -> Iterator[Match]:
    """Every non-overlapping occurrence of ``pattern`` in graph order."""
    claimed: set[str] = set()
    constants: dict[str, tuple[float, ...] | None] = {}
    for node in graph.nodes():
        if node.op_type not in pattern.types or node.id in claimed:
            continue
        state = Match(root=node)
        if _match_node(graph, pattern, node, state, constants, is_root=True):
            if claimed.isdisjoint(n.id for n in state.nodes):
                claimed.update(n.id for n in state.nodes)
                yield state


def _match_tensor(graph: ModelGraph, pattern: Pattern, tensor: Tensor, state: Match,
                  constants: dict[str, tuple[float, ...] | None]) -> bool:
    if isinstance(pattern, Var):
        bound = state.bindings.get(pattern.name)
        if bound is None:
            state.bindings[pattern.name] = tensor
            return True
        return bound.id == tensor.id
    if isinstance(pattern, Const):
        if not tensor.is_constant:
            return False
        if pattern.value is None:
            return True
        values = _constant_values(graph, tensor, constants)
        return bool(values) and all(
            math.isclose(v, pattern.value, rel_tol=pattern.tolerance, abs_tol=pattern.tolerance)
            for v in values)
    if isinstance(pattern, Op):
        producer = graph.producer(tensor)
        if producer is None or producer.op_type not in pattern.types:
            return False
        if not pattern.shared_ok and (len(graph.consumers(tensor)) != 1
                                      or graph.is_graph_output(tensor)):
            return False
        return _match_node(graph, pattern, producer, state, constants, is_root=False)
    raise TypeError(f"not a pattern: {pattern!r}")


def _match_node(graph: ModelGraph, pattern: Op, node: Node, state: Match,
                constants: dict[str, tuple[float, ...] | None], *, is_root: bool) -> bool:
    if pattern.where is not None and not pattern.where(node):
        return False
    inputs = node.inputs
    if pattern.partial:
        inputs = inputs[: len(pattern.inputs)]
    if len(inputs) != len(pattern.inputs) and pattern.inputs:
        return False
    orders = [inputs]
    if node.op_type in COMMUTATIVE and len(inputs) == 2:
        orders.append([inputs[1], inputs[0]])
    for ordered in orders:
        saved = (dict(state.bindings), list(state.nodes), dict(state.labels))
        if all(_match_tensor(graph, p, t, state, constants)
               for p, t in zip(pattern.inputs, ordered, strict=False)):
            state.nodes.append(node)
            if pattern.label:
                state.labels[pattern.label] = node
            return True
        state.bindings, state.nodes, state.labels = saved
    return False


def _constant_values(graph: ModelGraph, tensor: Tensor,
                     cache: dict[str, tuple[float, ...] | None]) -> tuple[float, ...] | None:
    """Small constants only (shapes, scalars); weights are never read."""
    if tensor.id in cache:
        return cache[tensor.id]
    values: tuple[float, ...] | None = None
    code = _UNPACK.get(tensor.dtype or "")
    data = graph.read_constant(tensor, max_bytes=4096) if code else None
    if code and data:
        size = struct.calcsize(code)
        values = struct.unpack(f"<{len(data) // size}{code}", data[: len(data) // size * size])
    cache[tensor.id] = values
    return values


def constant_values(graph: ModelGraph, tensor: Tensor) -> tuple[float, ...] | None:
    """The values of a small constant tensor, or None if it is not one."""
    return _constant_values(graph, tensor, {})


def options_are(**expected: Any) -> Callable[[Node], bool]:
    """Predicate: the node's options have these values."""
    return lambda node: all(node.options.get(k) == v for k, v in expected.items())
