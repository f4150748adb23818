"""Configuration from ``[tool.tflint]`` in the nearest ``pyproject.toml``.

Example::

    [tool.tflint]
    select = ["ALL"]            # codes, code prefixes, rule names or categories
    ignore = ["fusion"]
    targets = ["xnnpack"]       # or target = "xnnpack"; see 'tflint targets'
    exclude = ["build/**"]

    [tool.tflint.severity]      # per-rule severity overrides
    TFL101 = "error"

    [tool.tflint.per-file-ignores]
    "models/legacy/*.h5" = ["TFL4"]

    [tool.tflint.per-node-ignores]  # a model has no comments to put noqa in
    "backbone/*" = ["fusion"]       # glob on the layer name or op (tensor) name

    [tool.tflint.rules.TFL301]      # rule options, kebab-case; see 'tflint rule CODE'
    integer-io = true

    arena-budget = "256KiB"         # (top level) TFLite Micro arena budget, rule TFL132
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from tflint.diagnostics import CATEGORIES, Severity
from tflint.errors import UsageError
from tflint.rule import Rule, option_specs
from tflint.targets import DEFAULT_TARGET


@dataclass
class Config:
    select: list[str] = field(default_factory=lambda: ["ALL"])
    ignore: list[str] = field(default_factory=list)
    #: Targets to analyse for; the first is the primary one (rules, ``delegation``).
    targets: list[str] = field(default_factory=lambda: [DEFAULT_TARGET])
    exclude: list[str] = field(default_factory=list)
    #: Skip named files that are not model files (a .json that is no Keras config).
    models_only: bool = False
    #: The lowest severity that makes the run exit 1 (info findings alone do not, by default).
    fail_on: Severity = Severity.WARNING
    severity: dict[str, Severity] = field(default_factory=dict)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    per_node_ignores: dict[str, list[str]] = field(default_factory=dict)
    rule_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Folder that relative globs are resolved against.
    root: Path = field(default_factory=Path.cwd)
    #: The pyproject.toml the settings came from, if any.
    source: Path | None = None
    #: Folders of the project's Python source (``source = [...]``, ``--source``), where the
    #: security scan looks up the modules of custom objects; empty: the project root.
    sources: list[str] = field(default_factory=list)

    def source_folders(self) -> tuple[str, ...]:
        """The source folders, relative ones resolved against the project root."""
        folders = self.sources or ["."]
        return tuple(str(self.root / folder) for folder in folders)

    def rule_selected(self, rule: type[Rule]) -> bool:
        selected = _most_specific(rule, self.select)
        ignored = _most_specific(rule, self.ignore)
        # Like ruff: the more specific selector wins; on a tie, ignore wins.
        return selected > ignored

    def ignored_for_file(self, rule: type[Rule], path: str) -> bool:
        return _ignored_by_globs(rule, self.per_file_ignores, _relative(path, self.root))

    def ignored_for_node(self, rule: type[Rule], names: tuple[str, ...]) -> bool:
        return any(_ignored_by_globs(rule, self.per_node_ignores, n) for n in names if n)

    @property
    def target(self) -> str:
        """The primary target."""
        return self.targets[0] if self.targets else DEFAULT_TARGET

    @target.setter
    def target(self, name: str) -> None:
        self.targets = [name]

    def options_for(self, rule: type[Rule]) -> dict[str, Any]:
        """The rule's option values by kebab-case name, defaults filled in."""
        specs = option_specs(rule)
        options = {name: spec.default for name, spec in specs.items()}
        for key, value in self.rule_options.get(rule.code, {}).items():
            name = key.replace("_", "-")
            if name not in specs:
                known = ", ".join(specs) or "none"
                raise UsageError(f"{self._where()}: rule {rule.code} has no option {key!r} "
                                 f"(its options: {known})")
            try:
                options[name] = specs[name].convert(value)
            except ValueError as exc:
                raise UsageError(f"{self._where()}: option {key!r} of rule {rule.code} "
                                 f"{exc}") from None
        return options

    def check_rule_options(self, rules: Iterable[type[Rule]]) -> None:
        """Reject options of unknown rules and bad option values, before any file is read."""
        by_code = {rule.code: rule for rule in rules}
        for code in self.rule_options:
            if code not in by_code:
                raise UsageError(f"{self._where()}: [tool.tflint.rules.{code}] names no rule "
                                 "(see 'tflint rules')")
            self.options_for(by_code[code])

    def check_targets(self) -> None:
        """Reject unknown target names (targets are plug-ins, known only once loaded)."""
        from tflint.targets import TargetError, get_target

        if not self.targets:
            raise UsageError(f"{self._where()}: no target selected")
        for name in self.targets:
            try:
                get_target(name)
            except TargetError as exc:
                raise UsageError(str(exc)) from None

    def _where(self) -> str:
        return str(self.source) if self.source else "configuration"


def selector_specificity(rule: type[Rule], selector: str) -> int:
    """How specifically ``selector`` names ``rule`` (0: not at all)."""
    if selector == "ALL":
        return 1
    if selector in CATEGORIES:
        return 2 if rule.category == selector else 0
    if selector == rule.code or selector == rule.name:
        return 100
    if rule.code.startswith(selector.upper()):
        return 2 + len(selector)
    return 0


def _most_specific(rule: type[Rule], selectors: list[str]) -> int:
    return max((selector_specificity(rule, s) for s in selectors), default=0)


def _ignored_by_globs(rule: type[Rule], table: dict[str, list[str]], name: str) -> bool:
    return any(
        fnmatchcase(name, pattern) and _most_specific(rule, selectors) > 0
        for pattern, selectors in table.items()
    )


def _relative(path: str, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return Path(path).as_posix()


def find_pyproject(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` with a ``[tool.tflint]`` table.

    Searched upwards from ``start`` (the first path linted), then from the
    current directory, so models kept outside the project still get its
    settings.
    """
    for origin in (start, Path.cwd()):
        folder = origin.resolve()
        if folder.is_file():
            folder = folder.parent
        for candidate in (folder, *folder.parents):
            path = candidate / "pyproject.toml"
            if path.is_file() and "tflint" in _read_toml(path).get("tool", {}):
                return path
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: cannot read configuration: {exc}") from exc


def load_config(pyproject: Path | None) -> Config:
    if pyproject is None:
        return Config()
    table = _read_toml(pyproject).get("tool", {}).get("tflint", {})
    return from_table(table, root=pyproject.parent, source=pyproject)


_KEYS = {
    "select",
    "ignore",
    "target",
    "targets",
    "exclude",
    "fail-on",
    "severity",
    "per-file-ignores",
    "per-node-ignores",
    "rules",
    "arena-budget",
    "source",
}


def from_table(table: dict[str, Any], *, root: Path, source: Path | None = None) -> Config:
    where = str(source) if source else "configuration"
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise UsageError(f"{where}: unknown [tool.tflint] key(s): {', '.join(unknown)}")
    config = Config(root=root, source=source)
    config.select = _string_list(table, "select", where) or ["ALL"]
    config.ignore = _string_list(table, "ignore", where)
    config.exclude = _string_list(table, "exclude", where)
    config.sources = _string_list(table, "source", where)
    if "target" in table and "targets" in table:
        raise UsageError(f"{where}: give either target or targets, not both")
    config.targets = (_string_list(table, "targets", where) or _string_list(table, "target", where)
                      or [DEFAULT_TARGET])
    if "fail-on" in table:
        try:
            config.fail_on = Severity(str(table["fail-on"]))
        except ValueError:
            raise UsageError(f"{where}: fail-on must be error, warning or info") from None
    for code, level in _table(table, "severity", where).items():
        try:
            config.severity[code.upper()] = Severity(str(level))
        except ValueError:
            message = f"{where}: severity of {code} must be error, warning or info"
            raise UsageError(message) from None
    file_ignores = _table(table, "per-file-ignores", where)
    config.per_file_ignores = {str(k): _string_list(file_ignores, k, where) for k in file_ignores}
    node_ignores = _table(table, "per-node-ignores", where)
    config.per_node_ignores = {str(k): _string_list(node_ignores, k, where) for k in node_ignores}
    config.rule_options = {
        code.upper(): dict(options) for code, options in _table(table, "rules", where).items()
    }
    if "arena-budget" in table:  # shorthand for [tool.tflint.rules.TFL132] arena-budget
        config.rule_options.setdefault("TFL132", {})["arena-budget"] = table["arena-budget"]
    return config


def _string_list(table: dict[str, Any], key: str, where: str) -> list[str]:
    value = table.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{where}: {key} must be a list of strings")
    return list(value)


def _table(table: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = table.get(key, {})
    if not isinstance(value, dict):
        raise UsageError(f"{where}: {key} must be a table")
    return value
