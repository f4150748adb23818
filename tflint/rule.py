"""The contract between the engine and a rule plugin.

A rule is a class registered under the entry-point group ``tflint.rules``::

    [project.entry-points."tflint.rules"]
    TFL101 = "my_package.my_rule:MyRule"

Its docstring is its documentation, with the sections *What it does*,
*Why is this bad*, *Example* and *How to fix* (and *Fix safety* when it
offers a fix).  ``tflint rule CODE`` prints it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from tflint.diagnostics import Diagnostic, Fix, Severity
from tflint.graph import FileKind, ModelGraph, Node

if TYPE_CHECKING:
    from tflint.analyses import Analyses

FixAvailability = Literal["none", "safe", "unsafe"]

T = TypeVar("T")

OPTION_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_TYPE_NAMES = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}


@dataclass(frozen=True)
class Option:
    """A rule option: its type, its default and what it does.

    Options are set in ``[tool.tflint.rules.CODE]`` under their kebab-case name
    and checked when the configuration is read.
    """

    type: type
    default: Any
    help: str
    #: Further check of a value of the right type: the problem, or None.
    check: Callable[[Any], str | None] | None = None

    def convert(self, value: Any) -> Any:
        """The value as the rule reads it; raises ValueError saying what is wrong."""
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, self.type) or (self.type is int and isinstance(value, bool)):
            raise ValueError(f"must be {_TYPE_NAMES.get(self.type, self.type.__name__)}, "
                             f"not {value!r}")
        problem = self.check(value) if self.check else None
        if problem:
            raise ValueError(problem)
        return value


def option_specs(rule: type[Rule]) -> dict[str, Option]:
    """A rule's options by kebab-case name (plain defaults are typed by their value)."""
    specs = {}
    for key, value in rule.options.items():
        name = key.replace("_", "-")
        specs[name] = value if isinstance(value, Option) else Option(type(value), value, "")
    return specs


class RuleOptions(Mapping[str, Any]):
    """A rule's option values, looked up by kebab-case or snake_case name."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def __getitem__(self, key: str) -> Any:
        return self._values[key.replace("_", "-")]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


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
    #: Options read from ``[tool.tflint.rules.CODE]``, by kebab-case name.
    options: ClassVar[Mapping[str, Option | Any]] = {}
    #: Graph traits of which one must be present for the rule to find anything: an op
    #: type (``"MUL"``), ``"origin:custom"``, ``"quantized"`` (see ``ModelGraph.traits``),
    #: ``"target:NAME"`` for a selected target, or ``"compare-with"`` when the run compares
    #: with a Keras model (``--compare-with``).  Without any, the rule is skipped and
    #: its module not imported.  Empty: the rule always runs.
    triggers: ClassVar[frozenset[str]] = frozenset()

    def check(self, ctx: RuleContext) -> Iterable[Diagnostic]:
        raise NotImplementedError


@dataclass
class RuleContext:
    """What a rule sees while it checks one model."""

    graph: ModelGraph
    rule: type[Rule]
    #: The primary target of the run (the first selected).
    target: str
    options: Mapping[str, Any]
    #: The file's analyses, computed once and shared by every rule.
    analyses: Analyses = field(default=None)  # type: ignore[assignment]
    #: Lines a rule adds to the file's text summary.
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.analyses is None:
            from tflint.analyses import Analyses

            self.analyses = Analyses(self.graph, (self.target,))
        if not isinstance(self.options, RuleOptions):
            self.options = RuleOptions({k.replace("_", "-"): v for k, v in self.options.items()})

    def analysis(self, compute: Callable[[ModelGraph, str], T]) -> T:
        """Run a rule package's own ``compute(graph, target)`` once per file and share it."""
        return self.analyses.shared(compute)

    def diagnostic(
        self,
        node: Node | None,
        message: str,
        *,
        suggestion: str | None = None,
        fix: Fix | None = None,
        severity: Severity | None = None,
        target: str | None = None,
        related: list[dict[str, Any]] | None = None,
        weight: float = 0.0,
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
            target=target,
            related=related or [],
            weight=weight,
        )
