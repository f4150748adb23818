"""The neutral description of one op that every target's support profile evaluates.

A profile never walks the graph: it sees an :class:`OpSignature`, built once per
node, with everything op-support conditions are written in terms of (op type
and version, operand dtypes, shapes with their dynamic dimensions, which
operands are constant, builtin options, quantization) plus the two facts about
neighbours delegates check (which op computes an operand, and the constant
behind a DEQUANTIZE).  The same signature serves XNNPACK today and any other
target a plugin adds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tflint.graph import ModelGraph, Node, Quantization, Shape, Tensor


@dataclass(slots=True, eq=False)
class OperandSignature:
    """One input or output of an op."""

    name: str
    dtype: str | None
    #: Static shape; ``None`` dimensions are dynamic, ``None`` itself is an unknown rank.
    shape: Shape | None
    is_constant: bool
    quantization: Quantization | None
    #: Op type of the node that computes this operand; ``None`` for a model input or constant.
    producer: str | None = None
    is_graph_input: bool = False
    #: When a DEQUANTIZE of a constant computes this operand: that constant.
    dequantized: OperandSignature | None = None
    #: Computed once, at initialization, from constants alone: the DENSIFY of sparse weights.
    folded: bool = False
    _graph: ModelGraph | None = field(default=None, repr=False)
    _tensor: Tensor | None = field(default=None, repr=False)

    def values(self) -> tuple[float, ...] | None:
        """The values of a small constant operand, or ``None`` (read from the file on demand)."""
        if not self.is_constant or self._graph is None or self._tensor is None:
            return None
        from tflint.patterns import constant_values

        return constant_values(self._graph, self._tensor)

    @classmethod
    def of(cls, graph: ModelGraph, tensor: Tensor,
           graph_inputs: frozenset[str]) -> OperandSignature:
        producer = graph.producer(tensor)
        dequantized = None
        if (producer is not None and producer.op_type == "DEQUANTIZE"
                and len(producer.inputs) == 1 and len(producer.outputs) == 1
                and (producer.inputs[0].is_constant or _densified(graph, producer.inputs[0]))):
            dequantized = cls.of(graph, producer.inputs[0], graph_inputs)
        return cls(
            name=tensor.name, dtype=tensor.dtype, shape=tensor.shape,
            is_constant=tensor.is_constant, quantization=tensor.quantization,
            producer=None if producer is None else producer.op_type,
            is_graph_input=tensor.id in graph_inputs, dequantized=dequantized,
            folded=_densified(graph, tensor),
            _graph=graph, _tensor=tensor,
        )


def _densified(graph: ModelGraph, tensor: Tensor) -> bool:
    """Whether a DENSIFY of constant sparse weights computes ``tensor``."""
    producer = graph.producer(tensor)
    return (producer is not None and producer.op_type == "DENSIFY"
            and len(producer.inputs) == 1 and producer.inputs[0].is_constant)


@dataclass(slots=True, eq=False)
class OpSignature:
    """One op as targets judge it; operands by position, absent optional ones as ``None``."""

    op_type: str
    #: ``builtin``, ``custom`` or ``flex``.
    origin: str
    version: int | None
    options: dict[str, Any]
    inputs: list[OperandSignature | None]
    outputs: list[OperandSignature]
    node_id: str = ""

    @classmethod
    def of(cls, graph: ModelGraph, node: Node,
           graph_inputs: frozenset[str] | None = None) -> OpSignature:
        if graph_inputs is None:
            graph_inputs = frozenset(t.id for t in graph.inputs)
        present = [OperandSignature.of(graph, t, graph_inputs) for t in node.inputs]
        positions = node.options.get("_inputs")
        inputs: list[OperandSignature | None]
        if positions is None:
            inputs = list(present)
        else:
            remaining = iter(present)
            inputs = [None if i < 0 else next(remaining, None) for i in positions]
        options = {k: v for k, v in node.options.items() if not k.startswith("_")}
        return cls(op_type=node.op_type, origin=node.origin, version=node.version,
                   options=options, inputs=inputs,
                   outputs=[OperandSignature.of(graph, t, graph_inputs) for t in node.outputs],
                   node_id=node.id)
