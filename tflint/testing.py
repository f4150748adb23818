"""Test helpers for rule and target plug-ins: build a graph in memory and run a rule on it.

No ``.tflite`` or Keras file is written::

    from tflint.testing import GraphBuilder, run_rule

    g = GraphBuilder()
    x = g.input("x", "float32", (1, 8))
    w = g.constant("w", "float32", (8, 8), values=[0.0] * 64)
    y = g.op("FULLY_CONNECTED", [x, w], [("y", "float32", (1, 8))],
             options={"fused_activation_function": "NONE"})
    g.output(y)
    diagnostics = run_rule(MyRule, g.build(), options={"limit": 2})

The rule sees exactly what it sees in a real lint: the same
:class:`~tflint.rule.RuleContext`, the engine's analyses (placement on the
selected targets, Keras prediction, security scan) and typed options.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from tflint.analyses import Analyses
from tflint.diagnostics import Diagnostic
from tflint.graph import FileKind, Location, ModelGraph, Node, Quantization, Shape, Tensor
from tflint.rule import Rule, RuleContext, RuleOptions, option_specs
from tflint.targets import Target, get_target, load_targets

_PACK = {"float32": "f", "float16": "e", "int32": "i", "int64": "q", "int16": "h", "int8": "b",
         "uint8": "B", "bool": "?"}

TensorSpec = tuple[str, str, Shape | None]


class GraphBuilder:
    """Builds a :class:`ModelGraph` op by op, in execution order."""

    def __init__(self, kind: FileKind = "tflite", path: str = "<memory>") -> None:
        self.graph = ModelGraph(path, kind)
        self._count = 0

    def _tensor(self, name: str, dtype: str | None, shape: Shape | None,
                quantization: Quantization | None = None) -> Tensor:
        tensor = Tensor(id=f"0:t{self._count}", name=name, dtype=dtype, shape=shape,
                        index=self._count, quantization=quantization)
        self._count += 1
        return tensor

    def input(self, name: str, dtype: str, shape: Shape | None,
              quantization: Quantization | None = None) -> Tensor:
        tensor = self._tensor(name, dtype, shape, quantization)
        self.graph.inputs.append(tensor)
        return tensor

    def constant(self, name: str, dtype: str, shape: Shape, values: Iterable[float] | None = None,
                 quantization: Quantization | None = None) -> Tensor:
        """A constant operand; with ``values`` its data is held in memory for rules to read."""
        tensor = self._tensor(name, dtype, shape, quantization)
        data = b""
        if values is not None:
            items = list(values)
            data = struct.pack(f"<{len(items)}{_PACK[dtype]}", *items)
        self.graph.hold_constant(tensor, data)
        return tensor

    def op(self, op_type: str, inputs: Sequence[Tensor | None],
           outputs: Sequence[TensorSpec | Tensor], *, options: Mapping[str, Any] | None = None,
           origin: str = "builtin", version: int | None = 1, name: str = "") -> list[Tensor]:
        """Add an op; ``None`` in ``inputs`` is an absent optional operand.  Returns its outputs."""
        index = len(self.graph)
        produced = [o if isinstance(o, Tensor) else self._tensor(*o) for o in outputs]
        node_options = dict(options or {})
        if any(t is None for t in inputs):
            positions, present = [], 0
            for tensor in inputs:
                positions.append(-1 if tensor is None else present)
                present += tensor is not None
            node_options["_inputs"] = positions
        label = name or (produced[0].name if produced else "")
        self.graph.add_node(Node(
            id=f"0:{index}", kind="op", op_type=op_type,
            location=Location(op_type, label, subgraph=0, op_index=index),
            inputs=[t for t in inputs if t is not None], outputs=produced,
            options=node_options, origin=origin, version=version))
        return produced

    def output(self, *tensors: Tensor) -> None:
        self.graph.outputs.extend(tensors)

    def build(self) -> ModelGraph:
        return self.graph


def run_rule(rule: type[Rule], graph: ModelGraph, *, options: Mapping[str, Any] | None = None,
             targets: Sequence[str] = ("xnnpack",)) -> list[Diagnostic]:
    """The diagnostics ``rule`` reports on ``graph``, with option values checked as in a lint."""
    specs = option_specs(rule)
    values = {name: spec.default for name, spec in specs.items()}
    for key, value in (options or {}).items():
        name = key.replace("_", "-")
        if name not in specs:
            raise KeyError(f"rule {rule.code} has no option {key!r}")
        values[name] = specs[name].convert(value)
    analyses = Analyses(graph, targets)
    ctx = RuleContext(graph=graph, rule=rule, target=analyses.target,
                      options=RuleOptions(values), analyses=analyses)
    return list(rule().check(ctx))


@contextmanager
def registered_target(target: type[Target]) -> Iterator[type[Target]]:
    """Make a target class known by its name for the duration of a test, without an entry
    point (``--target`` and ``run_rule(targets=...)`` then find it)."""
    targets = load_targets()
    previous = targets.get(target.name)
    targets[target.name] = target
    get_target.cache_clear()
    try:
        yield target
    finally:
        if previous is None:
            del targets[target.name]
        else:
            targets[target.name] = previous
        get_target.cache_clear()


__all__ = ["GraphBuilder", "registered_target", "run_rule"]
