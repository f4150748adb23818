"""Graph orderings shared by the loaders and every target: one partitioner, one topological sort.

Both work on plain indices (node ``i`` depends on the nodes in ``deps[i]``), so a
``.tflite`` subgraph, a Keras layer graph and the op graph predicted from a Keras
model use the same code.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence


def _dependents(deps: Sequence[Sequence[int]],
                drop_self: bool) -> tuple[list[int], list[list[int]]]:
    """How many distinct nodes each node waits for, and who waits for each node."""
    waiting = [0] * len(deps)
    dependents: list[list[int]] = [[] for _ in deps]
    for i, own in enumerate(deps):
        unique = set(own)
        if drop_self:
            unique.discard(i)
        waiting[i] = len(unique)
        for j in unique:
            dependents[j].append(i)
    return waiting, dependents


def topological_order(deps: Sequence[Sequence[int]]) -> list[int]:
    """Nodes in dependency order, the lowest index first among the ready ones.

    Nodes on a cycle (a node depending on itself included) are left out; callers
    compare lengths to detect one.
    """
    waiting, dependents = _dependents(deps, drop_self=False)
    ready = [i for i, n in enumerate(waiting) if n == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for j in dependents[i]:
            waiting[j] -= 1
            if waiting[j] == 0:
                heapq.heappush(ready, j)
    return order


def partition(delegated: Sequence[bool], deps: Sequence[Sequence[int]]) -> list[list[int]]:
    """Accelerator partitions as TFLite's partitioner forms them.

    The partitioner builds node subsets epoch by epoch: an epoch takes the
    lowest-numbered ready node, whose kind (delegated or not) the epoch has,
    then every node of that kind that becomes ready, until none is left.  Each
    epoch of delegated nodes is one partition; the result lists their members
    in the order they were taken.  An op reading its own output (in-place
    variable updates) does not wait for itself.
    """
    waiting, dependents = _dependents(deps, drop_self=True)
    ready: dict[bool, list[int]] = {True: [], False: []}
    for i, n in enumerate(waiting):
        if n == 0:
            ready[bool(delegated[i])].append(i)
    for heap in ready.values():
        heapq.heapify(heap)
    partitions: list[list[int]] = []
    while ready[True] or ready[False]:
        kind = min((heap[0], kind) for kind, heap in ready.items() if heap)[1]
        members: list[int] = []
        heap = ready[kind]
        while heap:
            i = heapq.heappop(heap)
            members.append(i)
            for j in dependents[i]:
                waiting[j] -= 1
                if waiting[j] == 0:
                    heapq.heappush(ready[bool(delegated[j])], j)
        if kind:
            partitions.append(members)
    return partitions
