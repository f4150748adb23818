"""Entry points of tflint's plug-in groups (rules and targets)."""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points


def entry_points_of(group: str) -> list[EntryPoint]:
    return list(entry_points(group=group))
