"""The before/after table of ``--convert``: ops, delegation, size and latency side by side.

Delegation figures come from either source, whichever is at hand: the
``delegation`` section the ``.tflite`` lint produces (the static
prediction), or the real runtime's execution plan (:mod:`tflint.fixer.measure`).
Latency only ever comes from the runtime.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Column:
    label: str
    #: Where the delegation figures come from: "lint", "runtime" or "predicted".
    source: str = "runtime"
    ops: int | None = None
    delegated: int | None = None
    partitions: int | None = None
    cpu_ops: list[str] | None = None
    size: int | None = None
    latency_ms: float | None = None
    #: The lint's figures were checked against the runtime's and agree.
    confirmed: bool = False
    #: Layers a Keras-side prediction could not lower: its counts are lower bounds.
    unknown_layers: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def fully_delegated(self) -> bool:
        return bool(self.ops) and self.delegated == self.ops and self.partitions == 1


def _cpu_op_name(item: Any) -> str:
    if isinstance(item, dict):
        return str(item.get("op") or item.get("op_type") or item.get("name") or "?")
    return str(item)


def column(label: str, *, section: dict[str, Any] | None = None,
           runtime: dict[str, Any] | None = None, size: int | None = None) -> Column:
    """A column from the lint's delegation section and/or the runtime's figures.

    The lint section, when there is one, gives ops and delegation; the
    runtime fills what the section lacks and gives the latency.  When both
    are there and disagree, the column says so.
    """
    result = Column(label, size=size)
    runtime = runtime if runtime and "error" not in runtime else None
    if section:
        result.source = "lint"
        result.ops = section.get("ops")
        result.delegated = section.get("delegated")
        result.partitions = section.get("partitions")
        result.cpu_ops = [_cpu_op_name(item) for item in section.get("cpu_ops") or []]
    elif runtime:
        result.ops = runtime["ops"]
        result.delegated = runtime["delegated"]
        result.partitions = runtime["partitions"]
        result.cpu_ops = list(runtime["cpu_ops"])
    if runtime:
        result.latency_ms = runtime.get("latency_ms")
        agree = (runtime["delegated"], runtime["partitions"]) == (result.delegated,
                                                                  result.partitions)
        result.confirmed = bool(section) and agree
        if section and not agree:
            result.notes.append(
                f"{label}: the runtime delegated {runtime['delegated']}/{runtime['ops']} ops in "
                f"{runtime['partitions']} partition(s); the lint predicted "
                f"{result.delegated}/{result.ops} in {result.partitions}")
    return result


def _count(value: int | None, c: Column) -> str:
    if value is None:
        return "?"
    return f">= {value}" if c.unknown_layers else str(value)


def _delegated(c: Column) -> str:
    if c.delegated is None or c.ops is None or c.unknown_layers:
        return "?"
    share = f" ({100 * c.delegated / c.ops:.0f}%)" if c.ops else ""
    return f"{c.delegated}{share}"


def _cpu(c: Column) -> str:
    if c.cpu_ops is None:
        return "?"
    text = ", ".join(f"{op} x{n}" if n > 1 else op for op, n in Counter(c.cpu_ops).most_common())
    if c.unknown_layers:
        return f"{text or 'none'} known"
    return text or "none"


def _size(value: int | None) -> str:
    if value is None:
        return "?"
    return f"{value / 1024:.1f} KiB" if value < 1 << 20 else f"{value / (1 << 20):.2f} MiB"


def _latency(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.1f} µs" if value < 0.1 else f"{value:.3f} ms"


ROWS = (
    ("ops", lambda c: _count(c.ops, c)),
    ("ops on XNNPACK", _delegated),
    ("partitions", lambda c: _count(c.partitions, c)),
    ("CPU ops", _cpu),
    ("size", lambda c: _size(c.size)),
    ("latency (median)", lambda c: _latency(c.latency_ms)),
)


def render(columns: list[Column]) -> str:
    """A plain-text table, one column per model, then the columns' notes."""
    header = ["", *(f"{c.label} ({c.source})" if c.source != "runtime" else c.label
                    for c in columns)]
    rows = [header] + [[name, *(cell(c) for c in columns)] for name, cell in ROWS]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(text.ljust(widths[i]) for i, text in enumerate(row)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for c in columns:
        lines.extend(c.notes)
    return "\n".join(lines) + "\n"
