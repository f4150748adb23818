"""A node-data overlay for Google's Model Explorer: a .tflite's ops coloured by placement.

``tflint model.tflite --model-explorer overlay.json`` writes it; ``model-explorer
model.tflite --node_data_paths=overlay.json`` shows it.  Model Explorer's TFLite adapter
names each graph after its subgraph (``main``, ``subgraph_1`` when unnamed) and each op
node after the op's index in that subgraph, so the results are keyed that way.  Each op's
value is its partition number (0 on the CPU) and its colour the html report's.

The file is built with Model Explorer's own ``node_data_builder`` classes when the
package is installed, and written directly in the same form otherwise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any

from tflint.errors import UsageError
from tflint.reporters.placement_view import (
    CPU_COLORS,
    ON_CPU,
    TargetPlacement,
    colors,
    graph_and_analyses,
    target_placements,
)

if TYPE_CHECKING:
    from tflint.engine import FileResult, Result
    from tflint.graph import ModelGraph

_DARK_TEXT = "#212121"


@dataclass(frozen=True)
class OpColor:
    value: int
    background: str
    text: str


def render(result: Result, *, target: str | None = None, **_: object) -> str:
    """The overlay of the run's one .tflite, for ``target`` (default: the primary one)."""
    file = _single_tflite(result)
    loaded = graph_and_analyses(file)
    if loaded is None:
        raise UsageError(f"{file.path}: could not be read again for the overlay")
    graph, analyses = loaded
    placements = {p.name: p for p in target_placements(graph, analyses)}
    chosen = placements.get(target or analyses.target)
    if chosen is None:
        raise UsageError(f"{file.path}: target {target!r} was not selected for this run")
    return node_data_json(graph, chosen)


def _single_tflite(result: Result) -> FileResult:
    models = [f for f in result.files if f.kind == "tflite" and f.error is None]
    if len(models) != 1:
        found = ", ".join(f.path for f in models) or "none"
        raise UsageError("--model-explorer writes the overlay of one .tflite file; "
                         f"this run linted {len(models)} ({found})")
    return models[0]


def graph_ids(graph: ModelGraph) -> dict[int, str]:
    """Model Explorer's graph id of each subgraph."""
    subgraphs = graph.facts.get("tflite", {}).get("subgraphs", [])
    ids = {}
    for position, subgraph in enumerate(subgraphs):
        index = int(subgraph.get("index", position))
        ids[index] = subgraph.get("name") or ("main" if index == 0 else f"subgraph_{index}")
    return ids or {0: "main"}


def op_colors(graph: ModelGraph, placement: TargetPlacement) -> dict[str, dict[str, OpColor]]:
    """Graph id -> op index -> the op's value and colours."""
    ids = graph_ids(graph)
    result: dict[str, dict[str, OpColor]] = {graph_id: {} for graph_id in ids.values()}
    for node in graph.nodes():
        if node.location.op_index is None:
            continue
        place = placement.place.get(node.id, ON_CPU)
        if place == ON_CPU:
            color = OpColor(0, CPU_COLORS[1], "#ffffff")
        else:
            color = OpColor(max(place, 0), colors(place)[0], _DARK_TEXT)
        graph_id = ids.get(node.subgraph, f"subgraph_{node.subgraph}")
        result.setdefault(graph_id, {})[str(node.location.op_index)] = color
    return result


def node_data_json(graph: ModelGraph, placement: TargetPlacement,
                   use_package: bool | None = None) -> str:
    """The node-data file's text; ``use_package`` forces (True) or avoids (False) building it
    with Model Explorer's classes (default: when installed)."""
    name = f"tflint: {placement.title} placement"
    by_graph = op_colors(graph, placement)
    builder = _node_data_builder() if use_package is not False else None
    if use_package and builder is None:
        raise UsageError("Model Explorer (ai-edge-model-explorer) is not installed")
    if builder is not None:
        return str(builder.ModelNodeData(graphsData={
            graph_id: builder.GraphNodeData(name=name, results={
                key: builder.NodeDataResult(value=c.value, bgColor=c.background,
                                            textColor=c.text)
                for key, c in ops.items()})
            for graph_id, ops in by_graph.items()}).to_json_string(indent=2))
    return json.dumps({graph_id: _graph_node_data(name, ops)
                       for graph_id, ops in by_graph.items()}, indent=2)


def _graph_node_data(name: str, ops: dict[str, OpColor]) -> dict[str, Any]:
    """One graph's node data as Model Explorer's GraphNodeData serialises it (its
    defaults included, None fields left out)."""
    return {
        "results": {key: {"value": c.value, "bgColor": c.background, "textColor": c.text}
                    for key, c in ops.items()},
        "name": name,
        "thresholds": [],
        "gradient": [],
        "hideInAggregatedStatsTable": False,
        "hideInChildrenStatsTable": False,
        "showExpandedSummaryOnGroupNode": False,
        "showLabelCountColumnsInChildrenStatsTable": False,
    }


def _node_data_builder() -> Any:
    try:
        return import_module("model_explorer.node_data_builder")
    except ImportError:
        return None
