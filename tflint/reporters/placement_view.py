"""Where each node of a linted file runs on each selected target, as the graph reports draw it.

The HTML report and the Model Explorer overlay colour the same way: every partition of
an accelerator gets a hue of its own, ops left on the CPU are red.  Both read the file's
typed analyses; a result linted in worker processes carries no graph, so the file is
loaded again here (the loader is deterministic: node ids match the findings').
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tflint.analyses import Analyses
    from tflint.diagnostics import Diagnostic
    from tflint.engine import FileResult
    from tflint.graph import ModelGraph

#: Placement codes besides partition numbers (which start at 1).
ON_CPU = 0
#: Removed at conversion (a Keras layer folded or fused into another).
REMOVED = -1
#: Not predictable (an opaque or unknown Keras layer, a target with no data for the file).
UNKNOWN = -2

#: (fill, stroke) per partition, cycled: no reds, so that the CPU stands out.
PARTITION_COLORS: tuple[tuple[str, str], ...] = (
    ("#bbdefb", "#1565c0"), ("#c8e6c9", "#2e7d32"), ("#e1bee7", "#6a1b9a"),
    ("#b2ebf2", "#00838f"), ("#fff59d", "#9e9d24"), ("#d7ccc8", "#5d4037"),
    ("#c5cae9", "#283593"), ("#b2dfdb", "#00695c"), ("#dcedc8", "#558b2f"),
    ("#d1c4e9", "#4527a0"), ("#b3e5fc", "#0277bd"), ("#f0f4c3", "#827717"),
)
CPU_COLORS = ("#ef9a9a", "#c62828")
REMOVED_COLORS = ("#eeeeee", "#9e9e9e")
UNKNOWN_COLORS = ("#ffe0b2", "#ef6c00")


def colors(place: int) -> tuple[str, str]:
    """The (fill, stroke) colours of a placement code."""
    if place >= 1:
        return PARTITION_COLORS[(place - 1) % len(PARTITION_COLORS)]
    return {ON_CPU: CPU_COLORS, REMOVED: REMOVED_COLORS}.get(place, UNKNOWN_COLORS)


@dataclass
class TargetPlacement:
    """One target's placement of one file's nodes."""

    name: str
    title: str
    #: The json report's block for this target (None when not predictable).
    block: dict[str, Any] | None
    #: Node id -> partition number (1, 2, ...), ON_CPU, REMOVED or UNKNOWN.
    place: dict[str, int] = field(default_factory=dict)
    #: Node id -> why it is not delegated.
    reasons: dict[str, str] = field(default_factory=dict)
    #: The partitions in report order, each a list of node ids.
    partitions: list[list[str]] = field(default_factory=list)
    #: Connected groups of CPU nodes: the islands that split the partitions.
    islands: list[list[str]] = field(default_factory=list)
    refused: str | None = None


def graph_and_analyses(file: FileResult) -> tuple[ModelGraph, Analyses] | None:
    """The file's graph and analyses; loaded again when the lint ran in worker processes."""
    if file.error is not None or file.kind is None:
        return None
    if file.graph is not None and file.analyses is not None:
        return file.graph, file.analyses
    from tflint import loaders
    from tflint.analyses import Analyses
    from tflint.errors import ModelFileError

    try:
        graph = loaders.load(file.path)
    except ModelFileError:
        return None
    targets = list(file.placements)
    return graph, (Analyses(graph, targets, file.sources) if targets
                   else Analyses(graph, sources=file.sources))


def target_placements(graph: ModelGraph, analyses: Analyses) -> list[TargetPlacement]:
    """Every selected target's placement, primary target first."""
    return [_placement(graph, analyses, target) for target in analyses.targets]


def _placement(graph: ModelGraph, analyses: Analyses, target: str) -> TargetPlacement:
    block = analyses.placement_block(target)
    delegation = analyses.delegation(target)
    if delegation is not None:
        result = TargetPlacement(target, delegation.title or target, block,
                                 refused=delegation.refused)
        for subgraph in sorted(delegation.partitions):
            result.partitions.extend(delegation.partitions[subgraph])
        for number, members in enumerate(result.partitions, start=1):
            for node_id in members:
                result.place[node_id] = number
        result.reasons = dict(delegation.cpu_reasons)
        for node_id in graph.node_ids():
            if node_id in result.reasons or node_id not in result.place:
                result.place[node_id] = ON_CPU
                result.reasons.setdefault(node_id, delegation.refused or "not delegated")
    else:
        prediction = analyses.keras_prediction(target)
        if prediction is None:
            from tflint.targets import get_target

            result = TargetPlacement(target, get_target(target).title or target, block)
            result.place = {node_id: UNKNOWN for node_id in graph.node_ids()}
        else:
            result = TargetPlacement(target, prediction.title, block)
            for node_id in graph.node_ids():
                layer = prediction.by_node.get(node_id)
                status = layer.status if layer is not None else "unknown"
                if status == "ok":
                    result.place[node_id] = 1
                elif status in ("cpu", "flex"):
                    result.place[node_id] = ON_CPU
                    cpu_ops = ", ".join(layer.cpu_ops) if layer is not None else ""
                    result.reasons[node_id] = (layer.reason if layer is not None and
                                               layer.reason else f"ops on the CPU: {cpu_ops}")
                elif status == "gone":
                    result.place[node_id] = REMOVED
                else:
                    result.place[node_id] = UNKNOWN
                    if layer is not None and layer.reason:
                        result.reasons[node_id] = layer.reason
            delegated = [n for n, p in result.place.items() if p == 1]
            result.partitions = [delegated] if delegated else []
    result.islands = _islands(graph, [n for n, p in result.place.items() if p == ON_CPU])
    return result


def _islands(graph: ModelGraph, cpu_nodes: list[str]) -> list[list[str]]:
    """Groups of CPU nodes joined by tensors, in graph order."""
    on_cpu = set(cpu_nodes)
    order = {node_id: i for i, node_id in enumerate(graph.node_ids())}
    seen: set[str] = set()
    islands = []
    for start in graph.node_ids():
        if start not in on_cpu or start in seen:
            continue
        island, stack = [], [start]
        seen.add(start)
        while stack:
            node = graph.node(stack.pop())
            island.append(node.id)
            for other in (*graph.predecessors(node), *graph.successors(node)):
                if other.id in on_cpu and other.id not in seen:
                    seen.add(other.id)
                    stack.append(other.id)
        islands.append(sorted(island, key=order.__getitem__))
    return islands


class NodeFinder:
    """The nodes a finding is about: its own node, then the ops it lists one by one."""

    def __init__(self, graph: ModelGraph) -> None:
        self._ids = set(graph.node_ids())
        self._by_op: dict[tuple[int, int], str] = {}
        self._by_layer: dict[str, str] = {}
        for node in graph.nodes():
            if node.location.op_index is not None:
                self._by_op[(node.subgraph, node.location.op_index)] = node.id
            if node.layer_name:
                self._by_layer.setdefault(node.layer_name, node.id)

    def nodes(self, diagnostic: Diagnostic) -> list[str]:
        found = [diagnostic.node_id] if diagnostic.node_id in self._ids else []
        for op in getattr(diagnostic, "related", None) or []:
            node_id = self._related(op)
            if node_id is not None and node_id not in found:
                found.append(node_id)
        return found

    def _related(self, op: dict[str, Any]) -> str | None:
        if op.get("index") is not None:
            return self._by_op.get((int(op.get("subgraph") or 0), int(op["index"])))
        layer = op.get("layer")
        return self._by_layer.get(layer) if isinstance(layer, str) else None
