"""Which ops of a ``.tflite`` the delegate takes, and the partitions it forms.

Shared by the rules through ``ctx.analysis(predict_delegation)``.  Node
support comes from the target's profile; partitions are formed the way the
TFLite runtime forms them when a delegate claims nodes: greedy epochs over
the execution order, each epoch taking every ready node of one kind
(delegated or not), with side-effecting ops kept in order.
"""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tflint.graph import ModelGraph, Node
from tflint.targets.profile import Profile, load_profile

#: Ops the runtime treats as possibly side-effecting besides those touching resources.
_CONTROL_FLOW = frozenset({"IF", "WHILE", "CALL_ONCE"})


@dataclass
class Delegation:
    target: str
    #: Node id -> reason it stays on the CPU; absent for delegated nodes.
    cpu_reasons: dict[str, str] = field(default_factory=dict)
    #: Nodes the delegate claims but cannot build (also in cpu_reasons): they
    #: sit in a partition, and the interpreter fails to allocate tensors.
    claimed_failing: set[str] = field(default_factory=set)
    #: Per subgraph: the partitions, each a list of delegated node ids.
    partitions: dict[int, list[list[str]]] = field(default_factory=dict)
    ops: int = 0

    @property
    def delegated(self) -> int:
        return self.ops - len(self.cpu_reasons)

    @property
    def partition_count(self) -> int:
        return sum(len(p) for p in self.partitions.values())

    def to_section(self, graph: ModelGraph) -> dict[str, Any]:
        cpu_ops = []
        for node_id, reason in self.cpu_reasons.items():
            node = graph.node(node_id)
            cpu_ops.append({
                "subgraph": node.subgraph,
                "index": node.location.op_index,
                "op": node.op_type,
                "layer": node.outputs[0].name if node.outputs and node.outputs[0].name else None,
                "reason": reason,
                **({"fails_allocation": True} if node_id in self.claimed_failing else {}),
            })
        return {
            "target": self.target,
            "ops": self.ops,
            "delegated": self.delegated,
            "partitions": self.partition_count,
            "partitions_by_subgraph": {str(k): len(v) for k, v in self.partitions.items()},
            "cpu_ops": cpu_ops,
            "allocation_fails": bool(self.claimed_failing),
            "predicted_from": "tflite",
        }

    def summary(self, graph: ModelGraph) -> str:
        counts = Counter(graph.node(n).op_type for n in self.cpu_reasons)
        line = (f"{self.ops} ops, {self.delegated} on {self.target.upper()} in "
                f"{self.partition_count} partition{'s' if self.partition_count != 1 else ''}, "
                f"{len(self.cpu_reasons)} on CPU")
        if counts:
            line += ": " + ", ".join(f"{op} x{n}" for op, n in counts.most_common())
        if self.claimed_failing:
            line += ("; XNNPACK claims ops it cannot build, so the interpreter will fail to "
                     "allocate tensors")
        return line


def predict_delegation(graph: ModelGraph, target: str) -> Delegation:
    profile = load_profile(target)
    result = Delegation(target=target, ops=len(graph))
    by_subgraph: dict[int, list[Node]] = {}
    for node in graph.nodes():
        by_subgraph.setdefault(node.subgraph, []).append(node)
    for subgraph, nodes in by_subgraph.items():
        reasons, claimed = _node_reasons(graph, nodes, profile)
        result.cpu_reasons.update(reasons)
        result.claimed_failing |= claimed
        # The runtime partitions what detection claimed, failing ops included.
        result.partitions[subgraph] = partition(graph, nodes, set(reasons) - claimed)
    return result


def _node_reasons(graph: ModelGraph, nodes: list[Node],
                  profile: Profile) -> tuple[dict[str, str], set[str]]:
    """Per node the reason it stays on the CPU, and the nodes claimed but failing."""
    reasons: dict[str, str] = {}
    claimed: set[str] = set()
    absorbable: list[Node] = []
    handles: list[Node] = []
    for node in nodes:
        if profile.is_absorbable_dequantize(node):
            absorbable.append(node)  # decided by its consumers, below
        elif node.op_type == "VAR_HANDLE":
            handles.append(node)
        else:
            verdict = profile.verdict(graph, node)
            if verdict.reason:
                reasons[node.id] = verdict.reason
            if verdict.claimed:
                claimed.add(node.id)
    rejected = set(reasons) - claimed
    # Weights stored as float16/int8 behind a DEQUANTIZE are unpacked once at
    # init unless a consumer stays on the CPU; then the op stays there too.
    for node in reversed(absorbable):
        blocked = [c for c in graph.consumers(node.outputs[0]) if c.id in rejected]
        if blocked:
            reasons[node.id] = (f"DEQUANTIZE of constant weights stays on the CPU because its "
                                f"consumer {blocked[0].op_type} is not delegated")
            rejected.add(node.id)
    for node in handles:
        users = [c for t in node.outputs for c in graph.consumers(t)
                 if c.op_type in ("READ_VARIABLE", "ASSIGN_VARIABLE")]
        if not any(u.id not in rejected for u in users):
            reasons[node.id] = "VAR_HANDLE is delegated only with a delegated variable op"
    return reasons, claimed


def _has_side_effect(node: Node) -> bool:
    return node.op_type in _CONTROL_FLOW or any(
        t.dtype == "resource" or t.is_variable for t in (*node.inputs, *node.outputs))


def partition(graph: ModelGraph, nodes: list[Node], on_cpu: set[str]) -> list[list[str]]:
    """Delegated partitions of one subgraph, as the runtime's partitioner forms them.

    Each epoch starts with the lowest-indexed ready node, whose kind
    (delegated or not) the epoch takes; it then takes every node of that kind
    that becomes ready, until none is left.  Epochs of the delegated kind are
    the partitions.
    """
    index = {node.id: i for i, node in enumerate(nodes)}
    waiting = [0] * len(nodes)
    dependents: list[list[int]] = [[] for _ in nodes]
    for i, node in enumerate(nodes):
        producers = {index[p.id] for t in node.inputs
                     if (p := graph.producer(t)) is not None and p.id in index}
        producers.discard(i)
        waiting[i] = len(producers)
        for p in producers:
            dependents[p].append(i)
    previous_effect = -1
    for i, node in enumerate(nodes):  # side effects keep their order
        if _has_side_effect(node):
            if previous_effect >= 0:
                waiting[i] += 1
                dependents[previous_effect].append(i)
            previous_effect = i
    delegated = [node.id not in on_cpu for node in nodes]
    ready: dict[bool, list[int]] = {True: [], False: []}
    for i in range(len(nodes)):
        if waiting[i] == 0:
            heapq.heappush(ready[delegated[i]], i)
    partitions: list[list[str]] = []
    while ready[True] or ready[False]:
        firsts = [heap[0] for heap in ready.values() if heap]
        kind = delegated[min(firsts)]
        members: list[str] = []
        heap = ready[kind]
        while heap:
            i = heapq.heappop(heap)
            members.append(nodes[i].id)
            for j in dependents[i]:
                waiting[j] -= 1
                if waiting[j] == 0:
                    heapq.heappush(ready[delegated[j]], j)
        if kind:
            partitions.append(members)
    return partitions
