"""The html report: one self-contained page drawing each model's graph by where its ops run.

The counts, placement lines and findings are written as HTML, so they read without
scripts; the graph itself is drawn in the browser by ``html_report.js`` (its own layered
layout, no library), from the data embedded in the page.  Nothing is fetched: the
script and style sheet are inlined.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from importlib import resources
from typing import TYPE_CHECKING, Any

from tflint.reporters.placement_view import (
    CPU_COLORS,
    PARTITION_COLORS,
    REMOVED_COLORS,
    UNKNOWN_COLORS,
    NodeFinder,
    TargetPlacement,
    graph_and_analyses,
    target_placements,
)
from tflint.reporters.scopes import group_nodes

if TYPE_CHECKING:
    from tflint.engine import FileResult, Result
    from tflint.graph import ModelGraph, Tensor

SEVERITIES = ("error", "warning", "info")
#: Beyond this many files, a drop-down list picks the file shown.
_MOST_FILE_TABS = 12


def render(result: Result, **_: object) -> str:
    from tflint import __version__

    files = [_file_data(file) for file in result.files]
    data = {
        "version": __version__,
        "files": [payload for _, payload in files],
        "colors": {"partitions": PARTITION_COLORS, "cpu": CPU_COLORS,
                   "removed": REMOVED_COLORS, "unknown": UNKNOWN_COLORS},
    }
    severities = Counter(d.severity.value for d in result.diagnostics)
    sections = "\n".join(_section(index, file, placements)
                         for index, (file, (placements, _)) in enumerate(
                             zip(result.files, files, strict=True)))
    if len(result.files) <= _MOST_FILE_TABS:
        tabs = "".join(
            f'<button class="file-tab" data-file-index="{i}" title="{_e(f.path)}">'
            f'{_e(f.path.rsplit("/", 1)[-1])}</button>' for i, f in enumerate(result.files))
    else:
        tabs = ('<select class="file-select" aria-label="model file">' + "".join(
            f'<option value="{i}">{_e(f.path)}</option>' for i, f in enumerate(result.files))
            + "</select>")
    totals = " ".join(
        f'<span class="sev sev-{s}"><span id="total-{s}" data-severity-count="{s}">'
        f'{severities.get(s, 0)}</span> {s}{"s" if severities.get(s, 0) != 1 else ""}</span>'
        for s in SEVERITIES)
    return _PAGE.format(
        version=_e(__version__),
        style=_asset("html_report.css"),
        script=_asset("html_report.js"),
        files=len(result.files),
        totals=totals,
        tabs=tabs if len(result.files) > 1 else "",
        sections=sections,
        data=_script_json(data),
    )


def _file_data(file: FileResult) -> tuple[list[TargetPlacement], dict[str, Any]]:
    """The file's placements and the data its drawing needs."""
    payload: dict[str, Any] = {"path": file.path, "kind": file.kind, "error": file.error}
    loaded = graph_and_analyses(file)
    if loaded is None:
        payload.update(nodes=[], tensors=[], groups=[], targets=[], findings=[
            _finding(d, []) for d in file.diagnostics])
        return [], payload
    graph, analyses = loaded
    placements = target_placements(graph, analyses)
    groups, membership = group_nodes(graph)
    position = {node_id: i for i, node_id in enumerate(graph.node_ids())}
    tensors: dict[str, int] = {}
    tensor_rows: list[list[Any]] = []

    def tensor_index(tensor: Tensor) -> int:
        if tensor.id not in tensors:
            tensors[tensor.id] = len(tensor_rows)
            tensor_rows.append([tensor.name, tensor.dtype, _shape(tensor), tensor.is_constant])
        return tensors[tensor.id]

    nodes = [{
        "id": node.id,
        "op": node.op_type,
        "name": node.name,
        "sg": node.subgraph,
        "index": node.location.op_index,
        "layer": node.layer_name,
        "origin": node.origin,
        "in": [tensor_index(t) for t in node.inputs],
        "out": [tensor_index(t) for t in node.outputs],
        "group": membership.get(node.id),
    } for node in graph.nodes()]
    finder = NodeFinder(graph)
    payload.update(
        subgraphs=_subgraph_names(graph),
        nodes=nodes,
        tensors=tensor_rows,
        groups=[{"id": g.id, "label": g.label, "parent": g.parent, "size": g.size,
                 "expanded": g.expanded, "title": g.title} for g in groups],
        targets=[{
            "name": p.name,
            "title": p.title,
            "refused": p.refused,
            "place": [p.place.get(node_id, -2) for node_id in graph.node_ids()],
            "reasons": {str(position[n]): reason for n, reason in p.reasons.items()
                        if n in position},
            "partitions": [len(members) for members in p.partitions],
            "islands": [[position[n] for n in island] for island in p.islands],
        } for p in placements],
        findings=[_finding(d, [position[n] for n in finder.nodes(d)])
                  for d in file.diagnostics],
    )
    return placements, payload


def _finding(diagnostic: Any, nodes: list[int]) -> dict[str, Any]:
    return {
        "code": diagnostic.code,
        "rule": diagnostic.rule,
        "severity": diagnostic.severity.value,
        "message": diagnostic.message,
        "suggestion": diagnostic.suggestion,
        "target": diagnostic.target,
        "where": None if diagnostic.location is None else str(diagnostic.location),
        "nodes": nodes,
    }


def _shape(tensor: Tensor) -> str:
    if tensor.shape is None:
        return "?"
    return "[" + ",".join("?" if d is None else str(d) for d in tensor.shape) + "]"


def _subgraph_names(graph: ModelGraph) -> list[str]:
    if graph.kind != "tflite":
        return []
    return [s.get("name") or f"subgraph {s.get('index', i)}"
            for i, s in enumerate(graph.facts.get("tflite", {}).get("subgraphs", []))]


def _section(index: int, file: FileResult, placements: list[TargetPlacement]) -> str:
    head = (f'<h2 class="file-path">{_e(file.path)}</h2>'
            f'<p class="file-kind">{_e(file.kind or "unreadable")}</p>')
    if file.error is not None:
        body = f'<p class="file-error" data-error>{_e(file.error)}</p>'
        return (f'<section class="file" data-file="{_e(file.path)}" '
                f'data-file-index="{index}">{head}{body}</section>')
    return (f'<section class="file" data-file="{_e(file.path)}" data-file-index="{index}">'
            f'{head}{_counts(file, placements)}{_viewer(file, placements)}</section>')


def _counts(file: FileResult, placements: list[TargetPlacement]) -> str:
    rows = []
    titles = {p.name: p.title for p in placements}
    for target, block in file.placements.items():
        title = _e(titles.get(target, target))
        if block is None:
            rows.append(f'<tr data-target="{_e(target)}" data-predicted="no"><th>{title}</th>'
                        '<td colspan="4">not predicted for this file</td></tr>')
            continue
        ops, delegated = block.get("ops", 0), block.get("delegated", 0)
        rows.append(
            f'<tr data-target="{_e(target)}"><th>{title}</th>'
            f'<td data-count="ops">{ops}</td><td data-count="delegated">{delegated}</td>'
            f'<td data-count="partitions">{block.get("partitions", 0)}</td>'
            f'<td data-count="cpu">{ops - delegated}</td></tr>')
    severities = Counter(d.severity.value for d in file.diagnostics)
    badges = " ".join(
        f'<span class="sev sev-{s}"><span data-severity-count="{s}">{severities.get(s, 0)}'
        f'</span> {s}{"s" if severities.get(s, 0) != 1 else ""}</span>' for s in SEVERITIES)
    summaries = "".join(f'<li data-target="{_e(t)}">{_e(line)}</li>'
                        for t, line in file.placement_summaries.items())
    return (
        '<div class="facts"><table class="counts"><thead><tr><th>target</th><th>ops</th>'
        '<th>delegated</th><th>partitions</th><th>on CPU</th></tr></thead><tbody>'
        + "".join(rows) + f'</tbody></table><p class="file-findings">findings: {badges}</p>'
        + (f'<ul class="placement-summaries">{summaries}</ul>' if summaries else "")
        + "</div>")


def _viewer(file: FileResult, placements: list[TargetPlacement]) -> str:
    tabs = "".join(
        f'<button class="target-tab" data-target="{_e(p.name)}">{_e(p.title)}</button>'
        for p in placements)
    findings = "".join(
        f'<li class="finding sev-{d.severity.value}" data-finding="{i}" tabindex="0"'
        + (f' data-target="{_e(d.target)}"' if d.target else "") + ">"
        f'<span class="code">{_e(d.code)}</span> <span class="sev-label">'
        f'{d.severity.value}</span> <span class="message">{_e(d.message)}</span>'
        + (f'<span class="where">{_e(str(d.location))}</span>' if d.location else "")
        + "</li>" for i, d in enumerate(file.diagnostics))
    return (
        '<div class="viewer">'
        f'<div class="toolbar"><span class="target-tabs">{tabs}</span>'
        '<input type="search" class="search" placeholder="search op type, name, tensor"'
        ' aria-label="search the graph">'
        '<span class="match-count" data-count="matches"></span>'
        '<button class="expand-all">expand all</button>'
        '<button class="collapse-all">collapse all</button>'
        '<button class="zoom-out" title="zoom out">−</button>'
        '<button class="zoom-in" title="zoom in">+</button>'
        '<button class="zoom-fit" title="fit the width">fit</button></div>'
        '<div class="viewer-body"><div class="canvas"></div>'
        '<aside class="side"><div class="legend"></div>'
        '<div class="details"><p class="hint">Click an op for its details.</p></div>'
        f'<h3>Findings ({len(file.diagnostics)})</h3><ol class="findings">{findings}</ol>'
        '<div class="islands"></div></aside></div></div>')


def _asset(name: str) -> str:
    return resources.files("tflint.reporters").joinpath(name).read_text(encoding="utf-8")


def _script_json(data: Any) -> str:
    """JSON that cannot end the script element holding it."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _e(text: str) -> str:
    return html.escape(text, quote=True)


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="tflint {version}">
<title>tflint report</title>
<style>
{style}
</style>
</head>
<body>
<header>
<h1>tflint report</h1>
<span class="version">tflint {version}</span>
<span class="totals"><span id="total-files" data-count="files">{files}</span> files;
findings: {totals}</span>
<nav class="file-tabs">{tabs}</nav>
</header>
<main>
{sections}
</main>
<script type="application/json" id="tflint-data">{data}</script>
<script>
{script}
</script>
</body>
</html>
"""
