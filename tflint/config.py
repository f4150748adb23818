"""Configuration from ``[tool.tflint]`` in the nearest ``pyproject.toml``.

Example::

    [tool.tflint]
    select = ["ALL"]            # codes, code prefixes, rule names or categories
    ignore = ["fusion"]
    target = "xnnpack"
    exclude = ["build/**"]

    [tool.tflint.severity]      # per-rule severity overrides
    TFL101 = "error"

    [tool.tflint.per-file-ignores]
    "models/legacy/*.h5" = ["TFL4"]

    [tool.tflint.per-node-ignores]  # a model has no comments to put noqa in
    "backbone/*" = ["fusion"]       # glob on the layer name or op (tensor) name

    [tool.tflint.rules.TFL201]      # rule options (config keywords)
    allow-dynamic-batch = true
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from tflint.diagnostics import CATEGORIES, Severity
from tflint.errors import UsageError
from tflint.rule import Rule

DEFAULT_TARGET = "xnnpack"
TARGETS = ("xnnpack",)


@dataclass
class Config:
    select: list[str] = field(default_factory=lambda: ["ALL"])
    ignore: list[str] = field(default_factory=list)
    target: str = DEFAULT_TARGET
    exclude: list[str] = field(default_factory=list)
    severity: dict[str, Severity] = field(default_factory=dict)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    per_node_ignores: dict[str, list[str]] = field(default_factory=dict)
    rule_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Folder that relative globs are resolved against.
    root: Path = field(default_factory=Path.cwd)
    #: The pyproject.toml the settings came from, if any.
    source: Path | None = None

    def rule_selected(self, rule: type[Rule]) -> bool:
        selected = _most_specific(rule, self.select)
        ignored = _most_specific(rule, self.ignore)
        # Like ruff: the more specific selector wins; on a tie, ignore wins.
        return selected > ignored

    def ignored_for_file(self, rule: type[Rule], path: str) -> bool:
        return _ignored_by_globs(rule, self.per_file_ignores, _relative(path, self.root))

    def ignored_for_node(self, rule: type[Rule], names: tuple[str, ...]) -> bool:
        return any(_ignored_by_globs(rule, self.per_node_ignores, n) for n in names if n)

    def options_for(self, rule: type[Rule]) -> dict[str, Any]:
        options = dict(rule.options)
        for key, value in self.rule_options.get(rule.code, {}).items():
            name = key.replace("-", "_")
            if name not in rule.options:
                raise UsageError(f"rule {rule.code} has no option {key!r}")
            options[name] = value
        return options


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
    "exclude",
    "severity",
    "per-file-ignores",
    "per-node-ignores",
    "rules",
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
    config.target = str(table.get("target", DEFAULT_TARGET))
    if config.target not in TARGETS:
        raise UsageError(f"{where}: unknown target {config.target!r} (known: {', '.join(TARGETS)})")
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
