"""The contract between the engine and a rule plugin.

A rule is a class registered under the entry-point group ``tflint.rules``::

    [project.entry-points."tflint.rules"]
    TFL101 = "my_package.my_rule:MyRule"

Its docstring is its documentation, with the sections *What it does*,
*Why is this bad*, *Example* and *How to fix* (and *Fix safety* when it
offers a fix).  ``tflint rule CODE`` prints it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar

from tflint.diagnostics import Diagnostic, Fix, Severity
from tflint.graph import FileKind, ModelGraph, Node

FixAvailability = Literal["none", "safe", "unsafe"]

T = TypeVar("T")


class Rule:
    """Base class of every rule; subclasses set the class attributes."""

    #: Stable code, e.g. ``TFL101``; never reused once released.
    code: ClassVar[str]
    #: Short kebab-case name, e.g. ``flex-op``.
    name: ClassVar[str]
    category: ClassVar[str]
    severity: ClassVar[Severity] = Severity.WARNING
    file_kinds: ClassVar[frozenset[FileKind]] = frozenset({"tflite", "keras"})
    fix_availability: ClassVar[FixAvailability] = "none"
    #: Config keywords the rule reads from ``[tool.tflint.rules.CODE]``,
    #: with their defaults.
    options: ClassVar[dict[str, Any]] = {}

    def check(self, ctx: RuleContext) -> Iterable[Diagnostic]:
        raise NotImplementedError


@dataclass
class RuleContext:
    """What a rule sees while it checks one model."""

    graph: ModelGraph
    rule: type[Rule]
    target: str
    options: dict[str, Any]
    #: Shared across the rules of one file: analyses (e.g. a delegation
    #: prediction) computed once and used by several rules.
    shared: dict[Any, Any] = field(default_factory=dict)
    #: Report sections rules add for the whole file (``delegation``, ...).
    sections: dict[str, Any] = field(default_factory=dict)
    #: Lines a rule adds to the file's text summary.
    notes: list[str] = field(default_factory=list)

    def analysis(self, compute: Callable[[ModelGraph, str], T]) -> T:
        """Run ``compute(graph, target)`` once per file and share its result."""
        key = (compute.__module__, compute.__qualname__)
        if key not in self.shared:
            self.shared[key] = compute(self.graph, self.target)
        return self.shared[key]

    def diagnostic(
        self,
        node: Node | None,
        message: str,
        *,
        suggestion: str | None = None,
        fix: Fix | None = None,
        severity: Severity | None = None,
    ) -> Diagnostic:
        return Diagnostic(
            code=self.rule.code,
            rule=self.rule.name,
            category=self.rule.category,
            severity=severity or self.rule.severity,
            message=message,
            location=None if node is None else node.location,
            suggestion=suggestion,
            fix=fix,
            node_id=None if node is None else node.id,
        )
