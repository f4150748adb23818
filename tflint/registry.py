"""Discovery of rule plugins through the ``tflint.rules`` entry-point group.

The engine knows no specific rule: built-in rules are found here exactly as a
third-party plugin's are.  An entry point names either one rule class
(``ACME001 = "acme_rules.layers:TooManyLayers"``) or a module or package of
rules (``acme = "acme_rules"``), in which case every :class:`Rule` subclass
defined in it, or in its public submodules (one rule per module), is taken.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from types import ModuleType

from tflint.diagnostics import CATEGORIES, Severity
from tflint.errors import UsageError
from tflint.rule import Rule

ENTRY_POINT_GROUP = "tflint.rules"
CODE_PATTERN = re.compile(r"^[A-Z]{2,5}[0-9]{3}$")
DOC_SECTIONS = ("What it does", "Why is this bad", "Example", "How to fix")


class PluginError(UsageError):
    """A rule plugin is broken (bad code, unknown category, import failure)."""


@dataclass(frozen=True)
class RuleDoc:
    summary: str
    sections: dict[str, str]


def validate(rule: type[Rule], source: str) -> None:
    """Reject a plugin rule that does not declare what the engine relies on."""
    for attr in ("code", "name", "category"):
        if not isinstance(getattr(rule, attr, None), str):
            raise PluginError(f"rule {source}: missing class attribute {attr!r}")
    if not CODE_PATTERN.match(rule.code):
        raise PluginError(f"rule {source}: code {rule.code!r} is not like 'TFL101'")
    if rule.category not in CATEGORIES:
        raise PluginError(
            f"rule {rule.code}: category {rule.category!r} is not one of {', '.join(CATEGORIES)}"
        )
    if not isinstance(rule.severity, Severity):
        raise PluginError(f"rule {rule.code}: severity must be a tflint Severity")
    if rule.fix_availability not in ("none", "safe", "unsafe"):
        raise PluginError(f"rule {rule.code}: fix_availability must be none, safe or unsafe")
    missing = [s for s in DOC_SECTIONS if s not in parse_doc(rule).sections]
    if missing:
        raise PluginError(f"rule {rule.code}: docstring lacks section(s) {', '.join(missing)}")


@cache
def load_rules() -> tuple[type[Rule], ...]:
    """All registered rules, sorted by code; duplicate codes are an error."""
    found: dict[str, type[Rule]] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            rules = _rules_of(entry.load())
        except PluginError:
            raise
        except Exception as exc:  # a broken plugin must not look like a model error
            raise PluginError(f"cannot load rule plugin {entry.value!r}: {exc}") from exc
        if rules is None:
            raise PluginError(f"rule plugin {entry.value!r} is not a tflint Rule or rule module")
        for rule in rules:
            validate(rule, entry.value)
            other = found.get(rule.code)
            if other is not None and other is not rule:
                raise PluginError(
                    f"rule code {rule.code} is registered twice: "
                    f"{other.__module__}.{other.__qualname__} and "
                    f"{rule.__module__}.{rule.__qualname__}"
                )
            found[rule.code] = rule
    names: dict[str, str] = {}
    for rule in found.values():
        if names.setdefault(rule.name, rule.code) != rule.code:
            raise PluginError(f"rule name {rule.name!r} is used by both "
                              f"{names[rule.name]} and {rule.code}")
    return tuple(found[code] for code in sorted(found))


def _rules_of(target: object) -> list[type[Rule]] | None:
    """The rules an entry point stands for: a Rule class, a module or a package."""
    if isinstance(target, type):
        return [target] if issubclass(target, Rule) else None
    if not isinstance(target, ModuleType):
        return None
    modules = [target]
    if hasattr(target, "__path__"):  # a package: its public submodules, one rule each
        modules += [
            importlib.import_module(f"{target.__name__}.{info.name}")
            for info in sorted(pkgutil.iter_modules(target.__path__), key=lambda i: i.name)
            if not info.name.startswith("_")
        ]
    return [
        value
        for module in modules
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, Rule) and value is not Rule
        and value.__module__ == module.__name__
    ]


def find_rule(code_or_name: str) -> type[Rule]:
    wanted = code_or_name.strip()
    for rule in load_rules():
        if wanted.upper() == rule.code or wanted == rule.name:
            return rule
    raise UsageError(f"unknown rule {code_or_name!r} (see 'tflint rules')")


_HEADING = re.compile(r"^##?\s*(.+?)\s*$|^(.+?)\s*\n[-=]{3,}\s*$", re.MULTILINE)


def parse_doc(rule: type[Rule]) -> RuleDoc:
    """Split a rule docstring into its summary line and named sections.

    Sections are Markdown headings (``## What it does``) as in ruff's docs.
    """
    import inspect

    text = inspect.cleandoc(rule.__doc__ or "")
    matches = list(_HEADING.finditer(text))
    summary = (text[: matches[0].start()] if matches else text).strip()
    sections: dict[str, str] = {}
    for i, match in enumerate(matches):
        title = (match.group(1) or match.group(2)).strip().rstrip(":")
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        sections[title] = text[match.end() : end].strip()
    return RuleDoc(summary=summary, sections=sections)
