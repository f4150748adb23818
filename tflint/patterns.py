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

``alt(a, b)`` matches the first alternative that matches (it is kept even if a
later part of the pattern then fails, so a pattern lists the more specific
alternative first), ``optional(op(...))``
an op that may be left out (the tensor then matches the op's first input),
and ``const(where=...)`` a constant whose values pass a predicate.  Constants
are compared by their real values: quantized ones are dequantized, and a
constant behind a ``DEQUANTIZE`` (float16 or int8 weights) counts as one.  The
number of alternatives tried per anchor depends on the pattern only, so
matching stays linear in the number of nodes.
"""

from __future__ import annotations

import math
import struct
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from tflint.graph import ModelGraph, Node, Tensor

COMMUTATIVE = frozenset({"ADD", "MUL", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE",
                         "LOGICAL_AND", "LOGICAL_OR", "EQUAL", "NOT_EQUAL"})

#: Single-input ops computing each output element from the same input element.
ELEMENTWISE_UNARY = frozenset({
    "ABS", "CAST", "CEIL", "COS", "DEQUANTIZE", "ELU", "EXP", "FLOOR", "GELU", "HARD_SWISH",
    "LEAKY_RELU", "LOG", "LOGISTIC", "LOGICAL_NOT", "NEG", "QUANTIZE", "RELU", "RELU6",
    "RELU_0_TO_1", "RELU_N1_TO_1", "ROUND", "RSQRT", "SIGN", "SIN", "SQRT", "SQUARE", "TANH"})

#: Constant values read per graph, shared by every pattern and rule of a file
#: (reading one opens the model file).
_CONSTANTS: weakref.WeakKeyDictionary[ModelGraph, dict[str, tuple[float, ...] | None]] = \
    weakref.WeakKeyDictionary()

_UNPACK = {"float32": "f", "float16": "e", "int32": "i", "int64": "q", "int16": "h", "int8": "b",
           "uint8": "B"}


class Pattern:
    """Base of pattern nodes; match against a tensor.

    Plain slotted classes, not dataclasses: patterns are built when a rule module is
    imported, and a dataclass costs a code generation per class at every start.
    """

    __slots__: tuple[str, ...] = ()

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"


class Var(Pattern):
    """Any tensor, bound by name."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class Const(Pattern):
    """A constant tensor, optionally with every element close to ``value``.

    ``where`` is a predicate on the constant's real values (it fails for a
    constant too large to read); ``bind`` names the tensor in the bindings.
    """

    __slots__ = ("bind", "tolerance", "value", "where")

    def __init__(self, value: float | None = None, tolerance: float = 1e-3,
                 where: Callable[[tuple[float, ...]], bool] | None = None,
                 bind: str | None = None) -> None:
        self.value = value
        self.tolerance = tolerance
        self.where = where
        self.bind = bind


class Op(Pattern):
    """A node of one of ``types`` whose inputs match ``inputs`` (in order).

    ``where`` is a predicate on the node (e.g. its options);
    ``shared_ok`` allows this inner node's output to have consumers outside
    the match; with ``partial`` only the first ``len(inputs)`` inputs are matched.
    """

    __slots__ = ("inputs", "label", "partial", "shared_ok", "types", "where")

    def __init__(self, types: frozenset[str], inputs: tuple[Pattern, ...] = (),
                 where: Callable[[Node], bool] | None = None, shared_ok: bool = False,
                 partial: bool = False, label: str | None = None) -> None:
        self.types = types
        self.inputs = inputs
        self.where = where
        self.shared_ok = shared_ok
        self.partial = partial
        self.label = label


class Alt(Pattern):
    """The first of ``options`` that matches."""

    __slots__ = ("options",)

    def __init__(self, options: tuple[Pattern, ...]) -> None:
        self.options = options


class Maybe(Pattern):
    """``op``, or nothing: the tensor then matches ``op``'s input ``through``."""

    __slots__ = ("op", "through")

    def __init__(self, op: Op, through: int = 0) -> None:
        self.op = op
        self.through = through


def var(name: str) -> Var:
    return Var(name)


def const(value: float | None = None, tolerance: float = 1e-3, *,
          where: Callable[[tuple[float, ...]], bool] | None = None,
          bind: str | None = None) -> Const:
    return Const(value, tolerance, where, bind)


def alt(*options: Pattern) -> Alt:
    return Alt(tuple(options))


def optional(pattern: Op, through: int = 0) -> Maybe:
    return Maybe(pattern, through)


def through(types: str | tuple[str, ...] | frozenset[str], inner: Pattern, hops: int) -> Pattern:
    """``inner``, possibly followed by up to ``hops`` single-input ops of ``types``."""
    names = tuple(sorted(types)) if isinstance(types, frozenset) else types
    for _ in range(hops):
        inner = optional(op(names, inner))
    return inner


def op(types: str | tuple[str, ...], *inputs: Pattern, where: Callable[[Node], bool] | None = None,
       shared_ok: bool = False, partial: bool = False, label: str | None = None) -> Op:
    names = frozenset((types,) if isinstance(types, str) else types)
    return Op(names, tuple(inputs), where, shared_ok, partial, label)


class Match:
    """One occurrence: the root node, every matched node, and the bindings."""

    __slots__ = ("bindings", "labels", "nodes", "root")

    def __init__(self, root: Node) -> None:
        self.root = root
        self.nodes: list[Node] = []
        self.bindings: dict[str, Tensor] = {}
        self.labels: dict[str, Node] = {}


def find(graph: ModelGraph, pattern: Op | Alt,
         accept: Callable[[Match], bool] | None = None) -> Iterator[Match]:
    """Every non-overlapping occurrence of ``pattern`` in graph order.

    The root may be an ``alt`` of ops.  ``accept`` checks a whole match (e.g.
    that two permutations cancel); a rejected match claims no node.
    """
    roots = _root_options(pattern)
    types = root_types(pattern)
    claimed: set[str] = set()
    constants = _CONSTANTS.setdefault(graph, {})
    for node in graph.nodes_of_type(types):
        if node.id in claimed:
            continue
        for root in roots:
            if node.op_type not in root.types:
                continue
            state = Match(root=node)
            if (_match_node(graph, root, node, state, constants, is_root=True)
                    and claimed.isdisjoint(n.id for n in state.nodes)
                    and (accept is None or accept(state))):
                claimed.update(n.id for n in state.nodes)
                yield state
                break


def root_types(pattern: Op | Alt) -> frozenset[str]:
    """The op types a match can start at: a graph without any has no match."""
    return frozenset().union(*(root.types for root in _root_options(pattern)))


def _root_options(pattern: Op | Alt) -> list[Op]:
    if isinstance(pattern, Op):
        return [pattern]
    roots = [option for option in pattern.options if isinstance(option, Op)]
    if len(roots) != len(pattern.options):
        raise TypeError("the root of a pattern must be an op or an alt of ops")
    return roots


def _save(state: Match) -> tuple[dict[str, Tensor], list[Node], dict[str, Node]]:
    return dict(state.bindings), list(state.nodes), dict(state.labels)


def _restore(state: Match, saved: tuple[dict[str, Tensor], list[Node], dict[str, Node]]) -> None:
    state.bindings, state.nodes, state.labels = saved


def _match_tensor(graph: ModelGraph, pattern: Pattern, tensor: Tensor, state: Match,
                  constants: dict[str, tuple[float, ...] | None]) -> bool:
    if isinstance(pattern, Var):
        bound = state.bindings.get(pattern.name)
        if bound is None:
            state.bindings[pattern.name] = tensor
            return True
        return bound.id == tensor.id
    if isinstance(pattern, Const):
        return _match_const(graph, pattern, tensor, state, constants)
    if isinstance(pattern, Alt):
        for option in pattern.options:
            saved = _save(state)
            if _match_tensor(graph, option, tensor, state, constants):
                return True
            _restore(state, saved)
        return False
    if isinstance(pattern, Maybe):
        saved = _save(state)
        if _match_tensor(graph, pattern.op, tensor, state, constants):
            return True
        _restore(state, saved)
        return _match_tensor(graph, pattern.op.inputs[pattern.through], tensor, state, constants)
    if isinstance(pattern, Op):
        producer = graph.producer(tensor)
        if producer is None or producer.op_type not in pattern.types:
            return False
        if not pattern.shared_ok and (len(graph.consumers(tensor)) != 1
                                      or _is_output(graph, tensor)):
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
        saved = _save(state)
        if all(_match_tensor(graph, p, t, state, constants)
               for p, t in zip(pattern.inputs, ordered, strict=False)):
            state.nodes.append(node)
            if pattern.label:
                state.labels[pattern.label] = node
            return True
        _restore(state, saved)
    return False


def _match_const(graph: ModelGraph, pattern: Const, tensor: Tensor, state: Match,
                 constants: dict[str, tuple[float, ...] | None]) -> bool:
    source = _constant_source(graph, tensor)
    if source is None:
        return False
    if pattern.value is not None or pattern.where is not None:
        values = _real_values(graph, source, constants)
        if not values:
            return False
        if pattern.value is not None and not all(
                math.isclose(v, pattern.value, rel_tol=pattern.tolerance,
                             abs_tol=pattern.tolerance) for v in values):
            return False
        if pattern.where is not None and not pattern.where(values):
            return False
    if pattern.bind:
        bound = state.bindings.get(pattern.bind)
        if bound is not None:
            return bound.id == tensor.id
        state.bindings[pattern.bind] = tensor
    return True


def _constant_source(graph: ModelGraph, tensor: Tensor) -> Tensor | None:
    """The constant holding the tensor's values: itself, or the input of the
    ``DEQUANTIZE`` that expands float16/int8 weights at init time."""
    if tensor.is_constant:
        return tensor
    producer = graph.producer(tensor)
    if producer is not None and producer.op_type == "DEQUANTIZE" and producer.inputs \
            and producer.inputs[0].is_constant:
        return producer.inputs[0]
    return None


def _real_values(graph: ModelGraph, tensor: Tensor,
                 cache: dict[str, tuple[float, ...] | None]) -> tuple[float, ...] | None:
    """The constant's values as real numbers: quantized integers are dequantized."""
    key = f"real:{tensor.id}"
    if key not in cache:
        raw = _constant_values(graph, tensor, cache)
        cache[key] = None if raw is None else _dequantize(tensor, raw)
    return cache[key]


def _dequantize(tensor: Tensor, raw: tuple[float, ...]) -> tuple[float, ...]:
    quant = tensor.quantization
    if quant is None or tensor.dtype not in ("int8", "uint8", "int16", "int32", "int64") \
            or not quant.scale:
        return raw
    scales = quant.scale
    zero_points = quant.zero_point if len(quant.zero_point) == len(scales) else (0,) * len(scales)
    if len(scales) == 1:
        return tuple((q - zero_points[0]) * scales[0] for q in raw)
    # Per-channel: element i belongs to channel (i // stride) % channels.
    shape = tensor.shape or ()
    axis = quant.quantized_dimension
    if axis >= len(shape) or shape[axis] != len(scales) or None in shape:
        return raw
    stride = math.prod(shape[axis + 1:])  # type: ignore[arg-type]
    channels = len(scales)
    return tuple((q - zero_points[(i // stride) % channels]) * scales[(i // stride) % channels]
                 for i, q in enumerate(raw))


def _is_output(graph: ModelGraph, tensor: Tensor) -> bool:
    """A model output, or an output of its subgraph (a WHILE body's result):
    a fused op would have to keep computing it."""
    if graph.is_graph_output(tensor):
        return True
    subgraphs = graph.facts.get("tflite", {}).get("subgraphs", [])
    return 0 < tensor.subgraph < len(subgraphs) and \
        tensor.id in subgraphs[tensor.subgraph].get("outputs", ())


def _constant_values(graph: ModelGraph, tensor: Tensor,
                     cache: dict[str, tuple[float, ...] | None]) -> tuple[float, ...] | None:
    """Small constants only (shapes, scalars); weights are never read."""
    if tensor.id in cache:
        return cache[tensor.id]
    values: tuple[float, ...] | None = None
    code = _UNPACK.get(tensor.dtype or "")
    data = graph.read_constant(tensor, max_bytes=4096) if code else None
    if code and data is not None:  # b"": a zero-element constant, values ()
        size = struct.calcsize(code)
        values = struct.unpack(f"<{len(data) // size}{code}", data[: len(data) // size * size])
    cache[tensor.id] = values
    return values


def constant_values(graph: ModelGraph, tensor: Tensor, *,
                    dequantize: bool = False) -> tuple[float, ...] | None:
    """The values of a small constant tensor, or None if it is not one.

    With ``dequantize``, the real values as patterns compare them: quantized
    integers dequantized, and a constant behind a ``DEQUANTIZE`` counts.
    """
    if not dequantize:
        return _constant_values(graph, tensor, _CONSTANTS.setdefault(graph, {}))
    source = _constant_source(graph, tensor)
    if source is None:
        return None
    return _real_values(graph, source, _CONSTANTS.setdefault(graph, {}))


def options_are(**expected: Any) -> Callable[[Node], bool]:
    """Predicate: the node's options have these values."""
    return lambda node: all(node.options.get(k) == v for k, v in expected.items())
