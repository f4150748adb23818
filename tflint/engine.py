"""File → loader → graph → analyses → rules → diagnostics, for every file of a run.

``lint`` is the public entry point: ``tflint.lint("model.h5")`` returns a
:class:`Result` whichever way it is called (Python or CLI).  The analyses
(where each op runs on every selected target, the Keras prediction, the
security scan) belong to the file, not to a rule: they are computed once, when
a rule, the report, ``--verify`` or the fixer first asks.  A rule that raises
is reported as an internal error of that rule; the other rules still run.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from tflint import loaders
from tflint.analyses import Analyses
from tflint.config import CATEGORIES, Config, find_pyproject, load_config, selector_specificity
from tflint.diagnostics import Diagnostic, Severity
from tflint.errors import ModelFileError, UsageError
from tflint.graph import FileKind, ModelGraph
from tflint.registry import load_rules
from tflint.rule import Rule, RuleContext, RuleOptions
from tflint.summary import model_summary

_SKIPPED_FOLDERS = {".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox"}


INTERNAL_ERROR_CODE = "TFL000"


class InternalError(NamedTuple):
    """A rule or analysis that raised while checking one file: a bug in tflint or a plugin."""

    #: The rule's code, or the analysis' name.
    source: str
    message: str
    traceback: str


@dataclass
class FileResult:
    path: str
    kind: FileKind | None = None
    error: str | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    #: Whole-file report sections added after the lint (``verification``, ...).
    sections: dict[str, Any] = field(default_factory=dict)
    #: Text lines rules add to the file's facts (shown with --show-facts or --verbose).
    notes: list[str] = field(default_factory=list)
    #: Outcomes of actions asked for on the command line (``--verify``): always shown.
    outcomes: list[str] = field(default_factory=list)
    #: An action asked for on the command line (``fix``, ``convert``, ``verify``) that
    #: failed for this file, and why; the file itself was read and linted.
    failed_action: str | None = None
    failure: str | None = None
    #: Model-level facts: subgraphs, op histogram, parameters, signatures.
    model: dict[str, Any] | None = None
    graph: ModelGraph | None = field(default=None, repr=False)
    #: The file's typed analyses (placement per target, Keras prediction, security scan).
    analyses: Analyses | None = field(default=None, repr=False)
    #: Per selected target: its json placement block (None when not predictable).
    placements: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    #: Per selected target: its one-line placement summary.
    placement_summaries: dict[str, str] = field(default_factory=dict)
    internal_errors: list[InternalError] = field(default_factory=list)
    #: The project's source folders the analyses read custom code from.
    sources: tuple[str, ...] = ()

    @property
    def delegation(self) -> dict[str, Any] | None:
        """The primary target's placement block (the json ``delegation`` field)."""
        return next(iter(self.placements.values()), None)

    #: How each action's failure reads in the report.
    NOT_DONE: ClassVar[dict[str, str]] = {"fix": "not fixed", "diff": "not shown",
                                          "convert": "not converted", "verify": "not verified"}

    @property
    def not_done(self) -> str | None:
        """``not fixed``, ``not verified``...: what the failed action did not do."""
        if self.failed_action is None:
            return None
        return self.NOT_DONE.get(self.failed_action, f"{self.failed_action} failed")

    def fail(self, action: str, reason: str) -> None:
        """Record that ``action`` failed for this file; the report says ``ACTION: not
        DONE: REASON`` and the run exits 2."""
        self.failed_action, self.failure = action, reason
        self.outcomes.append(f"{action}: {self.not_done}: {reason}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "error": self.error,
            "failure": (None if self.failed_action is None
                        else {"action": self.failed_action, "reason": self.failure}),
            "diagnostics": [d.to_dict() for d in self.diagnostics],
            "delegation": self.delegation,
            "delegations": [block for block in self.placements.values() if block is not None],
            **self.sections,
            "model": self.model,
        }


@dataclass
class Result:
    files: list[FileResult]

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return [d for f in self.files for d in f.diagnostics]

    @property
    def errors(self) -> list[FileResult]:
        return [f for f in self.files if f.error is not None]

    @property
    def internal_errors(self) -> list[InternalError]:
        return [e for f in self.files for e in f.internal_errors]

    def failing(self, fail_on: Severity = Severity.WARNING) -> list[Diagnostic]:
        """The diagnostics at or above ``fail_on``: those that make the run fail."""
        return [d for d in self.diagnostics if d.severity.rank >= fail_on.rank]

    def exit_code(self, exit_zero: bool = False, fail_on: Severity = Severity.WARNING) -> int:
        """0 clean, 1 findings at or above ``fail_on``, 2 an input could not be read, a
        rule failed or an action asked for (``--fix``, ``--verify``...) failed."""
        if self.errors or self.internal_errors or any(f.failed_action for f in self.files):
            return 2
        return 0 if exit_zero or not self.failing(fail_on) else 1

    def to_dict(self) -> dict[str, Any]:
        from tflint import __version__

        return {"tflint_version": __version__, "files": [f.to_dict() for f in self.files]}


def lint(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
         config: Config | None = None, jobs: int = 1, compare_with: str | None = None) -> Result:
    """Lint model files and folders; never raises for a bad model file.

    With ``jobs`` > 1, several files are linted at once in worker processes;
    the results, in the same order, then come without ``graph`` and ``analyses``.
    ``compare_with`` names the Keras model each ``.tflite`` is measured against
    (the quantization-error rules; run in this process).
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    names = [os.fspath(p) for p in paths]
    if config is None:
        config = load_config(find_pyproject(Path(names[0]) if names else Path.cwd()))
    rules = select_rules(config)
    files = list(discover(names, config))
    if jobs > 1 and len(files) > 1 and compare_with is None:
        from tflint.parallel import lint_files

        return Result(lint_files(files, lint_file, rules, config, jobs))
    return Result([lint_file(path, rules, config, compare_with) for path in files])


def select_rules(config: Config) -> list[type[Rule]]:
    """The rules the configuration selects; a bad selector, option or target is a usage error."""
    all_rules = load_rules()
    for selector in (*config.select, *config.ignore):
        if selector != "ALL" and selector not in CATEGORIES and not any(
            selector_specificity(rule, selector) for rule in all_rules
        ):
            raise UsageError(f"unknown rule selector {selector!r} (see 'tflint rules')")
    config.check_rule_options(all_rules)
    config.check_targets()
    return [rule for rule in all_rules if config.rule_selected(rule)]


def discover(paths: Iterable[str], config: Config) -> Iterator[str]:
    """Files named on the command line, and model files found in folders."""
    for path in paths:
        if os.path.isdir(path):
            yield from _walk(path, config)
        elif config.models_only and not _is_model_file(path):
            continue  # a hook passes every changed .json; only Keras configs are models
        else:
            # A file named explicitly is always linted, even if excluded or
            # missing: the user asked for it and deserves an error line.
            yield path


def _is_model_file(path: str) -> bool:
    extension = os.path.splitext(path)[1].lower()
    if extension in loaders.MODEL_EXTENSIONS:
        return True
    return extension in loaders.CONFIG_EXTENSIONS and loaders.looks_like_keras_config(path)


def _walk(folder: str, config: Config) -> Iterator[str]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_FOLDERS and not d.startswith("."))
        for name in sorted(files):
            path = os.path.join(root, name)
            extension = os.path.splitext(name)[1].lower()
            if _excluded(path, config):
                continue
            if extension in loaders.MODEL_EXTENSIONS or (
                extension in loaders.CONFIG_EXTENSIONS and loaders.looks_like_keras_config(path)
            ):
                yield path


def _excluded(path: str, config: Config) -> bool:
    if not config.exclude:
        return False
    try:
        relative = Path(path).resolve().relative_to(config.root.resolve()).as_posix()
    except ValueError:
        relative = Path(path).as_posix()
    return any(fnmatchcase(relative, pattern) for pattern in config.exclude)


def lint_file(path: str, rules: Sequence[type[Rule]], config: Config,
              compare_with: str | None = None) -> FileResult:
    result = FileResult(path=path)
    try:
        graph = loaders.load(path)
    except ModelFileError as exc:
        result.error = str(exc)
        return result
    except MemoryError:
        result.error = "file too large to load"
        return result
    result.kind = graph.kind
    result.graph = graph
    result.model = model_summary(graph)
    result.sources = config.source_folders()
    analyses = result.analyses = Analyses(graph, config.targets, result.sources,
                                          compare_with=compare_with)
    traits = graph.traits() | {f"target:{name}" for name in analyses.targets}
    if compare_with is not None:
        traits |= {"compare-with"}
    for rule in rules:
        if graph.kind not in rule.file_kinds or config.ignored_for_file(rule, path) or (
                not _may_find(rule, traits)):
            continue
        ctx = RuleContext(graph=graph, rule=rule, target=analyses.target,
                          options=RuleOptions(config.options_for(rule)), analyses=analyses,
                          notes=result.notes)
        try:
            found = list(rule().check(ctx))
        except ModelFileError as exc:
            result.error = str(exc)
            return result
        except Exception as exc:  # a rule bug must not hide the other rules' findings
            result.internal_errors.append(_internal_error(rule.code, exc))
            continue
        result.diagnostics.extend(_kept(found, rule, graph, config))
    # A security-only run (--select security) skips placements: they cost the op analyses.
    placed = analyses.targets if any(rule.category != "security" for rule in rules) else ()
    for target in placed:
        try:
            result.placements[target] = analyses.placement_block(target)
            summary = analyses.placement_summary(target)
        except ModelFileError as exc:
            result.error = str(exc)
            return result
        except Exception as exc:
            result.internal_errors.append(_internal_error(f"placement on {target}", exc))
            continue
        if summary is not None:
            result.placement_summaries[target] = summary
    position = {node_id: i for i, node_id in enumerate(graph.node_ids())}
    # Findings worth more (a cause that frees more ops) first, then in graph order.
    result.diagnostics.sort(key=lambda d: (-d.weight, position.get(d.node_id or "", -1), d.code))
    result.diagnostics[:0] = [_internal_diagnostic(e) for e in result.internal_errors]
    return result


def _may_find(rule: type[Rule], traits: frozenset[str]) -> bool:
    """Whether the graph has one of the traits the rule needs (read from the rule index,
    so a rule that cannot fire is not even imported)."""
    return not rule.triggers or not rule.triggers.isdisjoint(traits)


def _internal_error(source: str, exc: Exception) -> InternalError:
    return InternalError(source, f"{type(exc).__name__}: {exc}", traceback.format_exc())


def _internal_diagnostic(error: InternalError) -> Diagnostic:
    what = f"rule {error.source}" if error.source[:1].isupper() else error.source
    return Diagnostic(
        code=INTERNAL_ERROR_CODE, rule="internal-error", category="model",
        severity=Severity.ERROR,
        message=f"internal error in {what}: {error.message}; its findings for this file are "
                "missing (run with --verbose for the traceback, and please report it)",
    )


def _kept(found: list[Diagnostic], rule: type[Rule], graph: ModelGraph,
          config: Config) -> Iterator[Diagnostic]:
    override = config.severity.get(rule.code)
    for diagnostic in found:
        if config.per_node_ignores and diagnostic.node_id is not None:
            node = graph.node(diagnostic.node_id)
            if config.ignored_for_node(rule, (node.name, node.layer_name or "", node.id)):
                continue
        if override is not None:
            diagnostic.severity = override
        yield diagnostic


__all__ = ["FileResult", "InternalError", "Result", "Severity", "lint", "lint_file",
           "select_rules"]
