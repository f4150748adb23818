"""Where every op of a ``.tflite`` runs on one target, and the partitions that forms.

The target decides op by op (from its profile, on each op's signature); the
shared partitioner (:mod:`tflint.partition`) then cuts each subgraph the way
the TFLite runtime does when a delegate claims nodes, with side-effecting ops
kept in order.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from tflint.graph import ModelGraph, Node
from tflint.partition import partition
from tflint.signature import OpSignature
from tflint.targets import Target, get_target
from tflint.wording import plural

#: Ops the runtime treats as possibly side-effecting besides those touching resources.
_CONTROL_FLOW = frozenset({"IF", "WHILE", "CALL_ONCE"})


class CpuOp:
    """An op the target does not run, and why."""

    __slots__ = ("fails_allocation", "index", "layer", "node_id", "op", "reason", "subgraph")

    def __init__(self, node_id: str, subgraph: int, index: int | None, op: str,
                 layer: str | None, reason: str, fails_allocation: bool = False) -> None:
        self.node_id = node_id
        self.subgraph = subgraph
        self.index = index
        self.op = op
        self.layer = layer
        self.reason = reason
        #: Claimed by the target but failing when built: the model does not prepare.
        self.fails_allocation = fails_allocation

    def to_dict(self) -> dict[str, Any]:
        return {
            "subgraph": self.subgraph, "index": self.index, "op": self.op,
            "layer": self.layer, "reason": self.reason,
            **({"fails_allocation": True} if self.fails_allocation else {}),
        }


class SubgraphDelegation(NamedTuple):
    subgraph: int
    ops: int
    delegated: int
    #: The target's partitions, each a list of node ids in the order taken.
    partitions: list[list[str]]


@dataclass
class Delegation:
    """One target's placement of a ``.tflite`` model's ops."""

    target: str
    #: The target's name in messages (``XNNPACK``).
    title: str = ""
    #: Node id -> reason it stays on the CPU; absent for delegated nodes.
    cpu_reasons: dict[str, str] = field(default_factory=dict)
    #: Nodes the target claims but cannot build (also in cpu_reasons).
    claimed_failing: set[str] = field(default_factory=set)
    #: CPU node id -> the op that keeps it there (see ``Placement.follows``).
    follows: dict[str, str] = field(default_factory=dict)
    #: Per subgraph: the partitions, each a list of delegated node ids.
    partitions: dict[int, list[list[str]]] = field(default_factory=dict)
    #: Per subgraph: its number of ops.
    ops_by_subgraph: dict[int, int] = field(default_factory=dict)
    ops: int = 0
    #: Why the target refuses the whole model, if it does (reported once, not per op).
    refused: str | None = None
    #: Target-specific figures (``arena_bytes``...), merged into the json block.
    details: dict[str, Any] = field(default_factory=dict)
    #: False for a target whose unsupported ops make the model fail instead of falling back.
    has_fallback: bool = True

    @property
    def delegated(self) -> int:
        return self.ops - len(self.cpu_reasons)

    @property
    def partition_count(self) -> int:
        return sum(len(p) for p in self.partitions.values())

    def subgraphs(self, graph: ModelGraph) -> list[SubgraphDelegation]:
        on_cpu = Counter(graph.node(n).subgraph for n in self.cpu_reasons)
        return [SubgraphDelegation(index, ops, ops - on_cpu[index], self.partitions.get(index, []))
                for index, ops in sorted(self.ops_by_subgraph.items())]

    def cpu_ops(self, graph: ModelGraph) -> list[CpuOp]:
        records = []
        for node_id, reason in self.cpu_reasons.items():
            node = graph.node(node_id)
            records.append(CpuOp(
                node_id=node_id, subgraph=node.subgraph, index=node.location.op_index,
                op=node.op_type,
                layer=node.outputs[0].name if node.outputs and node.outputs[0].name else None,
                reason=reason, fails_allocation=node_id in self.claimed_failing))
        return records

    def to_section(self, graph: ModelGraph) -> dict[str, Any]:
        """The json report's ``delegation`` block."""
        return {
            "target": self.target,
            "ops": self.ops,
            "delegated": self.delegated,
            "partitions": self.partition_count,
            "partitions_by_subgraph": {str(k): len(v) for k, v in self.partitions.items()},
            "cpu_ops": [op.to_dict() for op in self.cpu_ops(graph)],
            "allocation_fails": bool(self.claimed_failing),
            "predicted_from": "tflite",
            **({"refused": self.refused} if self.refused else {}),
            **self.details,
        }

    def summary(self, graph: ModelGraph) -> str:
        counts = Counter(graph.node(n).op_type for n in self.cpu_reasons)
        title = self.title or self.target.upper()
        if self.refused:
            return f"{plural(self.ops, 'op')}, none on {title}: {self.refused}"
        where = "on CPU" if self.has_fallback else f"not supported by {title}"
        line = (f"{plural(self.ops, 'op')}, {self.delegated} on {title} in "
                f"{plural(self.partition_count, 'partition')}, {len(self.cpu_reasons)} {where}")
        if counts:
            line += ": " + ", ".join(f"{op} x{n}" for op, n in counts.most_common())
        if self.claimed_failing:
            line += (f"; {title} claims ops it cannot build, so the interpreter will fail to "
                     "allocate tensors")
        return line


def predict_delegation(graph: ModelGraph, target: str | Target) -> Delegation:
    """Where each op of ``graph`` runs on ``target``."""
    chosen = get_target(target) if isinstance(target, str) else target
    result = Delegation(target=chosen.name, title=chosen.title, ops=len(graph),
                        has_fallback=chosen.has_fallback)
    by_subgraph: dict[int, list[Node]] = {}
    for node in graph.nodes():
        by_subgraph.setdefault(node.subgraph, []).append(node)
    assessment = chosen.assess(graph)
    result.refused, result.details = assessment.refused, dict(assessment.details)
    graph_inputs = frozenset(t.id for t in graph.inputs)
    for subgraph, nodes in by_subgraph.items():
        if assessment.refused:
            result.cpu_reasons.update((node.id, assessment.refused) for node in nodes)
            result.ops_by_subgraph[subgraph] = len(nodes)
            result.partitions[subgraph] = []
            continue
        signatures = {node.id: OpSignature.of(graph, node, graph_inputs) for node in nodes}
        placement = chosen.place(graph, nodes, signatures)
        result.cpu_reasons.update(placement.reasons)
        result.claimed_failing |= placement.claimed_failing
        result.follows.update(placement.follows)
        result.ops_by_subgraph[subgraph] = len(nodes)
        # The runtime partitions what detection claimed, failing ops included.
        on_cpu = set(placement.reasons) - placement.claimed_failing
        result.partitions[subgraph] = subgraph_partitions(graph, nodes, on_cpu)
    return result


def _has_side_effect(node: Node) -> bool:
    return node.op_type in _CONTROL_FLOW or any(
        t.dtype == "resource" or t.is_variable for t in (*node.inputs, *node.outputs))


def subgraph_partitions(graph: ModelGraph, nodes: list[Node],
                        on_cpu: set[str]) -> list[list[str]]:
    """The delegated partitions of one subgraph, as node ids."""
    index = {node.id: i for i, node in enumerate(nodes)}
    deps: list[list[int]] = []
    previous_effect = -1
    for i, node in enumerate(nodes):
        own = [index[p.id] for t in node.inputs
               if (p := graph.producer(t)) is not None and p.id in index]
        if _has_side_effect(node):  # side effects keep their order
            if previous_effect >= 0:
                own.append(previous_effect)
            previous_effect = i
        deps.append(own)
    delegated = [node.id not in on_cpu for node in nodes]
    return [[nodes[i].id for i in members] for members in partition(delegated, deps)]
