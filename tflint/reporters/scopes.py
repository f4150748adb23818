"""Groups of nodes a graph drawing can collapse: name scopes, Keras layers, then name prefixes.

A converted model names its ops ``model/layer/op``; the scope tree of those names gives
the first groups (a Keras layer whose call became several ops is one group).  Where a
level still holds too many items to read (a flat model of 500 layers), its items are
clustered by the leading words of their names (``block_3_expand`` → ``block_3``) when
that gives compact groups of the graph, and otherwise cut into runs in execution order.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tflint.graph import ModelGraph, Node

#: Most items one level shows before it is clustered.
MAX_ITEMS = 40
#: Graphs with more nodes than this start collapsed.
COLLAPSE_ABOVE = 200
#: Most nodes shown when a large graph opens.
INITIAL_VISIBLE = 40

_WORD = re.compile(r"[^_\W]+|\d+")


@dataclass
class Group:
    id: str
    label: str
    parent: str | None
    #: Nodes inside, at any depth.
    size: int
    expanded: bool
    #: What the group gathers, for a tooltip: a scope path or a name prefix.
    title: str


@dataclass
class _Item:
    """A node (``node`` set) or a group of items, at one level of the tree."""

    key: str
    first: int
    last: int
    node: str | None = None
    label: str = ""
    title: str = ""
    children: list[_Item] = field(default_factory=list)

    @property
    def size(self) -> int:
        return 1 if self.node is not None else sum(c.size for c in self.children)


@dataclass
class _Scope:
    name: str
    path: str
    #: Kept as a group even around a single item (a subgraph of a multi-subgraph model).
    keep: bool = False
    entries: list[_Scope | tuple[str, str, int]] = field(default_factory=list)
    scopes: dict[str, _Scope] = field(default_factory=dict)


def scope_path(graph: ModelGraph, node: Node) -> tuple[list[str], str]:
    """The name scopes holding a node, and its own last name."""
    if graph.kind == "tflite":
        parts = [p for p in node.name.split(";")[0].split("/") if p] or [node.op_type]
        prefix = []
        if graph.subgraph_count > 1:
            names = [s.get("name") for s in graph.facts.get("tflite", {}).get("subgraphs", [])]
            name = names[node.subgraph] if node.subgraph < len(names) else None
            prefix = [f"subgraph {node.subgraph}" + (f" ({name})" if name else "")]
        return prefix + parts[:-1], parts[-1]
    parts = [p for p in node.id.rsplit("#", 1)[0].split("/") if p] or [node.name]
    return parts[:-1], node.layer_name or parts[-1]


def group_nodes(graph: ModelGraph) -> tuple[list[Group], dict[str, str]]:
    """The groups, parents before children, and each grouped node's innermost group."""
    root = _Scope("", "")
    subgraphs = graph.kind == "tflite" and graph.subgraph_count > 1
    for position, node in enumerate(graph.nodes()):
        path, leaf = scope_path(graph, node)
        scope = root
        for depth, part in enumerate(path):
            child = scope.scopes.get(part)
            if child is None:
                child = scope.scopes[part] = _Scope(part, f"{scope.path}/{part}".lstrip("/"),
                                                    keep=subgraphs and depth == 0)
                scope.entries.append(child)
            scope = child
        scope.entries.append((node.id, leaf, position))
    items = _simplify_children(root)
    while not subgraphs:  # one scope holding (nearly) everything, as ``model/`` does
        scopes = [item for item in items if item.node is None]
        if len(scopes) != 1 or len(items) - 1 > 3:
            break
        items = [item for item in items if item.node is not None] + scopes[0].children
    items = _clustered(items)
    groups: list[Group] = []
    membership: dict[str, str] = {}
    _emit(items, None, groups, membership)
    if len(graph) > COLLAPSE_ABOVE:
        _expand_initially(groups, len(graph))
    else:
        for group in groups:
            group.expanded = True
    return groups, membership


def _simplify_children(scope: _Scope) -> list[_Item]:
    items = []
    for entry in scope.entries:
        if isinstance(entry, _Scope):
            items.append(_simplify(entry))
        else:
            node_id, leaf, position = entry
            items.append(_Item(leaf, position, position, node=node_id))
    return items


def _simplify(scope: _Scope) -> _Item:
    children = _simplify_children(scope)
    only = children[0] if len(children) == 1 else None
    if only is not None and only.node is None:  # a scope holding one scope: one group
        only.label = f"{scope.name}/{only.label}"
        only.title = only.title or scope.path
        return only
    if only is not None and not scope.keep:  # a layer that became one op: the op
        return _Item(scope.name, only.first, only.last, node=only.node)
    return _Item(scope.name, min(c.first for c in children), max(c.last for c in children),
                 label=scope.name, title=scope.path, children=children)


def _clustered(items: list[_Item]) -> list[_Item]:
    """``items`` with those of every too-long level gathered into groups, recursively."""
    for item in items:
        if item.node is None:
            item.children = _clustered(item.children)
    if len(items) <= MAX_ITEMS:
        return items
    clusters = _by_prefix(items) or items
    if len(clusters) > MAX_ITEMS:
        clusters = _by_runs(clusters)
    return [_clustered_group(c) if c.node is None else c for c in clusters]


def _clustered_group(group: _Item) -> _Item:
    if len(group.children) > MAX_ITEMS:
        group.children = _clustered(group.children)
    return group


def _by_prefix(items: list[_Item]) -> list[_Item] | None:
    """Items gathered by the first k words of their names, for the k giving the most
    readable count of compact clusters; None when no k does.  There may be more than
    MAX_ITEMS clusters (48 ``layer_<n>`` blocks): runs then gather them."""
    ideal = min(MAX_ITEMS, max(4.0, math.sqrt(len(items)) * 1.2))
    rank = {id(item): r for r, item in enumerate(sorted(items, key=lambda i: i.first))}
    best: tuple[float, dict[str, list[_Item]], int] | None = None
    for words in range(1, 5):
        clusters: dict[str, list[_Item]] = {}
        for item in items:
            clusters.setdefault("_".join(_WORD.findall(item.key)[:words]) or item.key,
                                []).append(item)
        count = len(clusters)
        if not 2 <= count <= 0.7 * len(items):
            continue
        if max(len(c) for c in clusters.values()) > 0.6 * len(items):
            continue
        spans = sum(max(rank[id(i)] for i in c) - min(rank[id(i)] for i in c) + 1
                    for c in clusters.values())
        if len(items) / spans < 0.6:  # clusters interleaved in the graph: no structure
            continue
        score = abs(math.log(count / ideal))
        if best is None or score < best[0]:
            best = (score, clusters, words)
    if best is None:
        return None
    return [members[0] if len(members) == 1 else
            _Item(prefix, min(m.first for m in members), max(m.last for m in members),
                  label=f"{prefix}…", title=f"names starting with {prefix}",
                  children=members)
            for prefix, members in best[1].items()]


def _by_runs(items: list[_Item]) -> list[_Item]:
    """Items cut into runs of execution order."""
    ordered = sorted(items, key=lambda i: i.first)
    runs = min(MAX_ITEMS, max(2, math.ceil(math.sqrt(len(ordered)))))
    size = math.ceil(len(ordered) / runs)
    result = []
    for start in range(0, len(ordered), size):
        members = ordered[start:start + size]
        first, last = min(m.first for m in members), max(m.last for m in members)
        if members[0].node is None and members[-1].node is None:
            label = f"{members[0].label.rstrip('…')} – {members[-1].label.rstrip('…')}"
        else:
            label = f"ops {first}–{last}"
        result.append(members[0] if len(members) == 1 else
                      _Item(label, first, last, label=label,
                            title=f"ops {first} to {last} in execution order",
                            children=members))
    return result


def _emit(items: list[_Item], parent: str | None, groups: list[Group],
          membership: dict[str, str]) -> None:
    for item in sorted(items, key=lambda i: i.first):
        if item.node is not None:
            if parent is not None:
                membership[item.node] = parent
            continue
        group = Group(f"g{len(groups)}", item.label, parent, item.size, False,
                      item.title or item.label)
        groups.append(group)
        _emit(item.children, group.id, groups, membership)


def _expand_initially(groups: list[Group], nodes: int) -> None:
    """Open whole levels, top down, while the drawing stays within INITIAL_VISIBLE items."""
    children: dict[str | None, list[Group]] = {}
    for group in groups:
        children.setdefault(group.parent, []).append(group)
    level = children.get(None, [])
    visible = len(level) + nodes - sum(g.size for g in level)
    while level:
        below = [child for group in level for child in children.get(group.id, [])]
        opened = visible - len(level) + len(below) + sum(
            g.size - sum(c.size for c in children.get(g.id, [])) for g in level)
        if opened > INITIAL_VISIBLE:
            return
        for group in level:
            group.expanded = True
        visible, level = opened, below
