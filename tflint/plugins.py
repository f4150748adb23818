"""Entry points of tflint's plug-in groups (rules and targets)."""

from __future__ import annotations

from tflint.installed import EntryPoint, entry_points


def entry_points_of(group: str) -> list[EntryPoint]:
    """The group's entry points, found as ``importlib.metadata`` finds them, but cheaply."""
    return entry_points(group)
