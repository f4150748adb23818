"""What a rule reports: one diagnostic per finding, with an optional fix."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from tflint.graph import Location

CATEGORIES = ("unsupported-op", "dynamic-shape", "quantization", "fusion", "model", "security")

Applicability = Literal["safe", "unsafe"]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 2, "warning": 1, "info": 0}[self.value]


@dataclass(slots=True, frozen=True)
class Fix:
    """A rewrite of the Keras model that would resolve a diagnostic.

    ``safe`` fixes keep what the model computes; ``unsafe`` ones change it
    (the user must retrain or fine-tune).  ``action`` is the machine-readable
    description the fixer applies, e.g. ``{"op": "replace_layer", "layer":
    "act", "with": {"class_name": "ReLU", "config": {}}}``; see
    ``tflint/fixer/actions.py`` for every action.
    """

    applicability: Applicability
    title: str
    action: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"applicability": self.applicability, "title": self.title}


@dataclass(slots=True)
class Diagnostic:
    code: str
    rule: str
    category: str
    severity: Severity
    message: str
    location: Location | None = None
    suggestion: str | None = None
    fix: Fix | None = None
    #: Id of the graph node the diagnostic is about, for per-node ignores.
    node_id: str | None = None
    #: The target the finding is about, for findings that depend on where the model runs.
    target: str | None = None
    #: Per-op detail of a finding about a group of ops (json, SARIF, ``--verbose``): dicts
    #: with ``subgraph``, ``index``, ``op``, ``layer``, ``name`` and ``reason``.
    related: list[dict[str, Any]] = field(default_factory=list)
    #: What acting on the finding is worth, for ranking findings of one file (higher first).
    weight: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "rule": self.rule,
            "category": self.category,
            "severity": self.severity.value,
            "message": self.message,
            "location": None if self.location is None else self.location.to_dict(),
            "suggestion": self.suggestion,
            "fix": None if self.fix is None else self.fix.to_dict(),
            "target": self.target,
            "related": self.related,
        }
