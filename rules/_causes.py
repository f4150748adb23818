"""Ops a target does not run, grouped by what causes them, with what fixing each cause gains.

One diagnostic per cause instead of one per op: a dynamic batch that puts a
few hundred shape ops on the CPU is one finding, and so is a Keras layer whose
ops the target does not take.  A cause's gain is measured with the shared
partitioner: the ops it would give back to the target and the partitions the
model would have without it.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from tflint_rules._dynamic_shapes import DynamicShapes
from tflint_rules._layer_names import LayerNames

from tflint.analyses.delegation import Delegation, subgraph_partitions
from tflint.graph import ModelGraph, Node, Tensor

#: The tensor name and producer a reason quotes: `` 'model/x/shape'``, `` (computed by PACK)``.
_TENSOR_DETAIL = re.compile(r" '[^']*'| \(computed by [A-Z0-9_]+\)")


#: Ops sharing a reason that names no op, from which the reason is one cause.
_GENERAL = 4
#: Causes whose partition gain is measured by re-partitioning, largest first.
MAX_MEASURED = 32


class Cause:
    """A reason for a group of ops to stay off the target."""

    __slots__ = ("kind", "nodes", "partitions_without", "subject")

    def __init__(self, kind: str, subject: str, nodes: list[Node] | None = None,
                 partitions_without: int = 0) -> None:
        #: ``dynamic-shape``, ``reason``, ``layer`` or ``op``.
        self.kind = kind
        #: The cause in the user's terms: ``the dynamic batch of input 'image'``,
        #: ``layer 'act'``.
        self.subject = subject
        self.nodes: list[Node] = nodes if nodes is not None else []
        #: Partitions of the model if the cause's ops ran on the target.
        self.partitions_without = partitions_without

    @property
    def op_histogram(self) -> str:
        counts = Counter(n.op_type for n in self.nodes)
        return ", ".join(op if n == 1 else f"{op} x{n}" for op, n in counts.most_common())

    def weight(self, partitions: int) -> float:
        """What fixing it is worth: partitions saved first, then ops won back."""
        return (partitions - self.partitions_without) * 1000 + len(self.nodes)

    def related(self, delegation: Delegation, names: LayerNames) -> list[dict[str, Any]]:
        return [{"subgraph": n.subgraph, "index": n.location.op_index, "op": n.op_type,
                 "layer": names.of_node(n), "name": n.name or None,
                 "reason": delegation.cpu_reasons[n.id]} for n in self.nodes]


def _shape_ops(graph: ModelGraph, dynamic: DynamicShapes, on_cpu: set[str]) -> list[Node]:
    """CPU ops that exist or stay on the CPU only because a shape is known at run time: the
    consumers of run-time shape operands and every op computing those operands (back to
    the SHAPE ops), not just the one chain a diagnostic quotes."""
    found: dict[str, Node] = {}
    pending = []
    for operand in dynamic.operands:
        if operand.origin not in ("shape", "input"):
            continue
        found.setdefault(operand.consumer.id, operand.consumer)
        pending.append(operand.tensor)
    seen: set[str] = set()
    while pending:
        tensor = pending.pop()
        if tensor.id in seen:
            continue
        seen.add(tensor.id)
        producer = graph.producer(tensor)
        if producer is None or producer.id in found or not all(
                _is_shape_like(t) for t in producer.outputs):
            continue
        found[producer.id] = producer
        if producer.op_type != "SHAPE":  # SHAPE reads a data tensor: the chain starts there
            pending.extend(t for t in producer.inputs if not t.is_constant)
    return [node for node in found.values() if node.id in on_cpu]


def _is_shape_like(tensor: Tensor) -> bool:
    return (tensor.dtype in ("int32", "int64") and tensor.shape is not None
            and len(tensor.shape) <= 1)


def _dynamic_subject(graph: ModelGraph) -> str:
    for tensor in graph.inputs:
        shape = tensor.shape
        if shape is None:
            return f"the unknown rank of input '{tensor.name}'"
        if shape and shape[0] is None and all(d is not None for d in shape[1:]):
            return f"the dynamic batch of input '{tensor.name}'"
        if any(d is None for d in shape):
            return f"the dynamic dimensions of input '{tensor.name}'"
    return "shapes computed at run time"


def group_causes(graph: ModelGraph, delegation: Delegation, dynamic: DynamicShapes,
                 names: LayerNames, skip: set[str]) -> list[Cause]:
    """The causes of the ops in ``delegation.cpu_reasons`` (less ``skip``), most gain first."""
    on_cpu = {n for n in delegation.cpu_reasons if n not in skip}
    causes: dict[tuple[str, str], Cause] = {}
    shape_ops = _shape_ops(graph, dynamic, on_cpu)
    if shape_ops:
        cause = Cause("dynamic-shape", _dynamic_subject(graph))
        causes[("dynamic-shape", "")] = cause
    taken = {n.id for n in shape_ops}
    followers: list[Node] = []
    # A reason that names no op of its own and holds for many ops is a property of the
    # target or the model (the GPU delegate keeping only its largest partition): one cause.
    general = Counter(_TENSOR_DETAIL.sub("", delegation.cpu_reasons[n]) for n in on_cpu
                      if not delegation.cpu_reasons[n].startswith(graph.node(n).op_type))
    for node in graph.nodes():
        if node.id not in on_cpu:
            continue
        if node.id in taken:
            causes[("dynamic-shape", "")].nodes.append(node)
            continue
        if node.id in delegation.follows:
            followers.append(node)  # not a cause of its own: it goes with the op it follows
            continue
        reason = _TENSOR_DETAIL.sub("", delegation.cpu_reasons[node.id])
        layer = names.of_node(node)
        if general[reason] >= _GENERAL:
            key = ("reason", reason)
            subject = ""
        elif layer is not None:
            key = ("layer", layer)
            subject = f"layer '{layer}'"
        else:
            key = ("op", f"{node.op_type}\0{delegation.cpu_reasons[node.id]}")
            subject = f"{node.op_type} '{node.name}'" if node.name else node.op_type
        found = causes.get(key)
        if found is None:
            found = causes[key] = Cause(key[0], subject)
        found.nodes.append(node)
    _attach_followers(delegation, followers, causes)
    by_subgraph: dict[int, list[Node]] = {}
    for node in graph.nodes():
        by_subgraph.setdefault(node.subgraph, []).append(node)
    stays = set(delegation.cpu_reasons) - delegation.claimed_failing
    total = delegation.partition_count
    # Re-partitioning costs one pass over the model per cause: the largest causes get it,
    # the rest (one op each, typically) keep today's count as their estimate.
    ranked = sorted(causes.values(), key=lambda c: -len(c.nodes))
    for cause in ranked[:MAX_MEASURED]:
        freed = {n.id for n in cause.nodes}
        cause.partitions_without = sum(
            len(subgraph_partitions(graph, nodes, stays - freed))
            for nodes in by_subgraph.values())
    for cause in ranked[MAX_MEASURED:]:
        cause.partitions_without = total
    return sorted(causes.values(), key=lambda c: (-c.weight(total), c.nodes[0].id))


def _attach_followers(delegation: Delegation, followers: list[Node],
                      causes: dict[tuple[str, str], Cause]) -> None:
    """Put each op that only follows another off the target (weights unpacked for a CPU
    consumer, ops after where a compiler stopped) in that op's cause."""
    cause_of = {n.id: c for c in causes.values() for n in c.nodes}
    for node in followers:
        leader, seen = delegation.follows[node.id], {node.id}
        while leader in delegation.follows and leader not in seen:  # a chain of followers
            seen.add(leader)
            leader = delegation.follows[leader]
        owner = cause_of.get(leader)
        if owner is None:  # what it follows was skipped (a custom op...): a cause of its own
            owner = causes.setdefault(("op", node.id), Cause("op", node.op_type))
        owner.nodes.append(node)
        cause_of[node.id] = owner
    for cause in causes.values():
        cause.nodes.sort(key=lambda n: (n.subgraph, n.location.op_index or 0))


def gain_text(cause: Cause, delegation: Delegation) -> str:
    """``fixing it takes 3 ops off the CPU (XNNPACK partitions: 4 → 1)``."""
    ops = len(cause.nodes)
    title = delegation.title or delegation.target
    return (f"fixing it takes {ops} op{'s' if ops != 1 else ''} off the CPU ({title} "
            f"partitions: {delegation.partition_count} → {cause.partitions_without})")


def cause_message(cause: Cause, delegation: Delegation) -> str:
    """What the cause puts on the CPU and why, and what fixing it gains; the location
    (the cause's first op) is shown next to it, so it is not repeated here."""
    # Ops that only follow another off the target have that op's reason, not one of their own.
    leaders = [n for n in cause.nodes if n.id not in delegation.follows] or cause.nodes
    reasons = _merged_reasons([(n.op_type, delegation.cpu_reasons[n.id]) for n in leaders])
    why = reasons[0]
    if len(reasons) > 1:
        others = len(reasons) - 1
        why += f" (and {others} other reason{'s' if others != 1 else ''})"
    ops = len(cause.nodes)
    if cause.kind == "reason":
        what = f"{ops} ops stay on the CPU ({cause.op_histogram}): "
    elif cause.kind == "op" and len({n.op_type for n in cause.nodes}) == 1:
        what = "" if ops == 1 else f"{ops} {cause.nodes[0].op_type} ops stay on the CPU: "
    elif cause.kind == "op":
        what = f"{ops} ops stay on the CPU ({cause.op_histogram}): "
    elif ops == 1 and why.startswith(cause.nodes[0].op_type):
        what = f"{cause.subject}: "  # the reason names the op already
    elif ops == 1:
        what = f"{cause.subject}: {cause.nodes[0].op_type} stays on the CPU: "
    else:
        what = f"{cause.subject}: {ops} ops stay on the CPU ({cause.op_histogram}): "
    return f"{what}{why}; {gain_text(cause, delegation)}"


def _merged_reasons(reasons: list[tuple[str, str]]) -> list[str]:
    """Distinct reasons, with those that differ only in the op they name said once:
    ``LESS and SELECT_V2 are not supported by XNNPACK``."""
    by_tail: dict[str, list[str]] = {}
    plain: list[str] = []
    for op, named in reasons:
        # Reasons naming one tensor each say the same thing for every op of a cause.
        reason = _TENSOR_DETAIL.sub("", named)
        if reason.startswith(f"{op} is "):
            ops = by_tail.setdefault(reason[len(op) + 4:], [])
            if op not in ops:
                ops.append(op)
        elif reason not in plain:
            plain.append(reason)
    merged = []
    for tail, ops in by_tail.items():
        names = ops[0] if len(ops) == 1 else ", ".join(ops[:-1]) + f" and {ops[-1]}"
        merged.append(f"{names} {'is' if len(ops) == 1 else 'are'} {tail}")
    return merged + plain
