"""``tflint --fix / --diff / --convert``: the fixer as the command line runs it.

For each Keras file of the lint: choose and apply the fixes to its config,
then either print the diff (``--diff``) or write the fixed model and lint it
(``--fix``); with ``--convert``, convert it and print the before/after table.
The returned :class:`Result` holds the fixed models' lint in place of the
originals', so the report and the exit code tell what is left to do.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import click

from tflint.config import Config
from tflint.convert import ConvertOptions, convert_keras, missing_extra
from tflint.engine import FileResult, Result, lint_file, select_rules
from tflint.errors import ModelFileError, UsageError
from tflint.fixer.apply import (
    FixPlan,
    Replacement,
    check_options_apply,
    fix_until_stable,
    input_shape_option,
    parse_input_shape,
    parse_replacement,
    plan_fixes,
    read_config,
)
from tflint.fixer.configs import ActionError
from tflint.fixer.diff import config_diff
from tflint.fixer.table import Column, column, render
from tflint.fixer.weights import OriginalWeights, WeightsError
from tflint.fixer.writer import (
    FixError,
    converted_output,
    default_output,
    keras_missing,
    write_fixed,
)
from tflint.gate import concerns

#: Converter message lines shown under a conversion error.
DETAIL_LINES = 30


@dataclass
class FixRequest:
    """The fixer options of ``tflint check``, as click passes them."""

    fix: bool = False
    unsafe_fixes: bool = False
    fix_diff: bool = False
    replace_with: tuple[str, ...] = ()
    input_shape: tuple[str, ...] = ()
    fix_output: Path | None = None
    force: bool = False
    trust_model: bool = False
    convert: bool = False
    quantize: str = "none"
    representative_data: Path | None = None
    convert_batch: int = 1
    baseline: Path | None = None
    latency_runs: int = 100
    convert_timeout: float = 300.0
    keep_float: tuple[str, ...] = ()

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> FixRequest:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in options.items() if k in names})

    @property
    def active(self) -> bool:
        return self.fix or self.fix_diff

    @property
    def keep_float_layers(self) -> list[str]:
        """The --keep-float layer names, commas split."""
        return [part.strip() for value in self.keep_float for part in value.split(",")
                if part.strip()]

    def validate(self) -> None:
        """Options that only make sense with --fix (or --diff) are usage errors without it."""
        needs_fix = {"--convert": self.convert, "--fix-output": self.fix_output is not None,
                     "--force": self.force, "--trust-model": self.trust_model,
                     "--baseline": self.baseline is not None,
                     "--quantize": self.quantize != "none",
                     "--representative-data": self.representative_data is not None,
                     "--keep-float": bool(self.keep_float)}
        needs_either = {"--unsafe-fixes": self.unsafe_fixes,
                        "--replace-with": bool(self.replace_with),
                        "--input-shape": bool(self.input_shape)}
        if not self.active:
            given = [k for k, v in {**needs_fix, **needs_either}.items() if v]
            if given:
                raise UsageError(f"{given[0]} needs --fix or --diff")
            return
        if not self.fix:
            given = [k for k, v in needs_fix.items() if v]
            if given and not self.fix_diff:
                raise UsageError(f"{given[0]} needs --fix")
        if (self.quantize != "none" or self.representative_data or self.baseline
                or self.keep_float) and not self.convert and not self.fix_diff:
            raise UsageError("--quantize, --representative-data, --baseline and --keep-float "
                             "need --convert")
        if self.keep_float and self.quantize != "int8":
            raise UsageError("--keep-float is for --quantize int8")
        if self.representative_data is not None and self.quantize != "int8":
            raise UsageError("--representative-data is for --quantize int8")
        for path, option in ((self.representative_data, "--representative-data"),
                             (self.baseline, "--baseline")):
            if path is not None and not path.is_file():
                raise UsageError(f"{option} {path}: file not found")


#: Options that write or convert: with --diff, which writes nothing, they do nothing.
_WRITING_OPTIONS = {"--convert": "convert", "--fix-output": "fix_output", "--force": "force",
                    "--baseline": "baseline", "--quantize": "quantize",
                    "--representative-data": "representative_data", "--keep-float": "keep_float"}
#: Why a .tflite is passed over by --fix and --diff.
TFLITE_NOT_REWRITTEN = ("a .tflite is not rewritten; fix the Keras model it came from and "
                        "convert it again (--fix --convert)")


@dataclass
class _Run:
    request: FixRequest
    config: Config
    echo: Callable[[str], None]
    replacements: list[Replacement] = field(default_factory=list)
    input_shapes: list[tuple[str, list[int]]] = field(default_factory=list)
    files: list[FileResult] = field(default_factory=list)
    changed: int = 0

    @property
    def diff(self) -> bool:
        return self.request.fix_diff


@dataclass
class _Planned:
    """One Keras file of the run: its plan, or why it could not be planned."""

    file: FileResult
    plan: FixPlan | None = None
    failure: str | None = None


def run_fixer(result: Result, config: Config, options: dict[str, Any], *,
              to_stderr: bool = False) -> tuple[Result, int | None]:
    """Apply the requested fixes; returns the result to report and, for --diff, the exit code.

    ``to_stderr`` sends the fix listing and the table to standard error (when
    standard output carries a machine-readable report).  Every file is planned
    before anything is written, so a command-line choice no model can take is a
    usage error with nothing written; Keras is imported only when a model is written.
    """
    request = FixRequest.from_options(options)
    request.validate()
    if not request.active:
        return result, None
    keras_files = [f for f in result.files if f.kind == "keras" and f.error is None]
    if request.fix_output is not None and len(keras_files) != 1:
        raise UsageError(f"--fix-output names one file, but {len(keras_files)} Keras models "
                         "are linted")
    writing = request.fix and not request.fix_diff
    if writing and request.convert:
        missing = missing_extra()
        if missing is not None:
            raise UsageError(missing)
    if writing and any(not f.path.lower().endswith(".json") for f in keras_files):
        missing = keras_missing()
        if missing is not None:
            raise UsageError(missing)
    run = _Run(request, config, lambda line: click.echo(line, err=to_stderr),
               replacements=[parse_replacement(v) for v in request.replace_with],
               input_shapes=[parse_input_shape(v) for v in request.input_shape])
    planned = {id(file): _plan(run, file) for file in keras_files}
    check_options_apply([p.plan for p in planned.values() if p.plan is not None],
                        [r.option for r in run.replacements]
                        + [input_shape_option(name, shape) for name, shape in run.input_shapes])
    if run.diff:
        _diff_does_not_write(run)
    elif request.convert:
        _check_keep_float(request.keep_float_layers, [p.file for p in planned.values()])
    for file in result.files:
        if id(file) in planned:
            _finish(run, planned[id(file)])
        else:
            _pass_over(run, file)
    if run.diff:
        failed = any(f.error is not None or f.failed_action for f in run.files)
        return Result(run.files), 2 if failed else 1 if run.changed else 0
    return Result(run.files), None


def _diff_does_not_write(run: _Run) -> None:
    """Say which of the options given --diff leaves unused (it writes nothing)."""
    request = run.request
    given = [option for option, name in _WRITING_OPTIONS.items()
             if getattr(request, name) not in (None, False, "none", ())]
    if given:
        run.echo(f"tflint: {', '.join(given)} not used: --diff only shows what --fix would "
                 "change; nothing is written or converted")


def _check_keep_float(layers: list[str], files: list[FileResult]) -> None:
    """Every --keep-float layer is one of each model's, before anything is written."""
    for file in files:
        known = {node.layer_name for node in file.graph.nodes()} if file.graph else set()
        unknown = [name for name in layers if name not in known]
        if unknown:
            raise UsageError(f"{file.path}: no layer named {', '.join(map(repr, unknown))} "
                             "(--keep-float)")


def _pass_over(run: _Run, file: FileResult) -> None:
    """A file the fixer does not rewrite: say so where it would be expected."""
    if file.error is not None and run.diff:
        run.echo(f"{file.path}: error: {file.error}")  # --diff prints no report
    elif file.kind == "tflite" and file.error is None:
        if run.diff:
            run.echo(f"{file.path}: diff: nothing to show: {TFLITE_NOT_REWRITTEN}")
        else:
            file.outcomes.append(f"fix: not fixed: {TFLITE_NOT_REWRITTEN}")
    run.files.append(file)


def _plan(run: _Run, file: FileResult) -> _Planned:
    """Choose and apply the fixes to the file's config; nothing is written."""
    request = run.request
    try:
        document, facts = read_config(file.path)
        container = str(facts.get("container"))
        weights = (OriginalWeights(file.path, container, document)
                   if container in ("keras", "h5") else None)
        try:
            plan = plan_fixes(
                file, unsafe=request.unsafe_fixes,
                replacements=run.replacements, input_shapes=run.input_shapes,
                weights=weights, document=document, facts=facts)
            if plan.changed:
                fix_until_stable(plan, run.config, unsafe=request.unsafe_fixes,
                                 replacements=run.replacements, input_shapes=run.input_shapes,
                                 weights=weights)
        finally:
            if weights is not None:
                weights.close()
    except (ModelFileError, WeightsError, ActionError) as exc:
        return _Planned(file, failure=str(exc))
    except OSError as exc:  # h5py's errors about a damaged weights file are OSErrors
        return _Planned(file, failure=f"cannot read the model file: {exc.strerror or exc}")
    except Exception as exc:  # a config this fixer does not understand must not hide the others
        return _Planned(file, failure=f"unexpected {type(exc).__name__}: {exc}")
    return _Planned(file, plan)


def _finish(run: _Run, planned: _Planned) -> None:
    file, plan = planned.file, planned.plan
    if plan is None:
        file.fail("diff" if run.diff else "fix", str(planned.failure))
        if run.diff:
            run.echo(f"{file.path}: {file.outcomes[-1]}")
        run.files.append(file)
        return
    for skipped in plan.skipped:
        run.echo(f"{file.path}: {skipped.line()}")
    if not plan.changed:
        run.echo(f"{file.path}: nothing to fix")
        if run.request.convert and run.request.keep_float and not run.diff:
            _convert_unchanged(run, file, plan)
            return
        if run.request.convert and not run.diff:
            file.outcomes.append("convert: not run: nothing was fixed, so there is no fixed "
                                 "model to convert")
        run.files.append(file)
        return
    run.changed += 1
    if run.diff:
        _show_diff(run, file, plan)
    else:
        _write(run, file, plan)


def _show_diff(run: _Run, file: FileResult, plan: FixPlan) -> None:
    for applied in plan.applied:
        run.echo(f"{file.path}: {applied.line('would fix')}")
    for finding in plan.security:
        run.echo(f"{file.path}: the fixed model would still have {finding.code} "
                 f"{finding.message} (--fix refuses it without --trust-model)")
    run.echo(config_diff(file.path, plan.original, plan.document).rstrip("\n"))
    run.files.append(file)


def _security_refusal(plan: FixPlan) -> str:
    first = plan.security[0]
    more = len(plan.security) - 1
    others = f" and {more} more" if more else ""
    return (f"the rewritten model still has security findings ({first.code}: {first.message}"
            f"{others}); Keras would run code stored in it (pass --trust-model only for a file "
            "you wrote)")


def _write(run: _Run, file: FileResult, plan: FixPlan) -> None:
    request, echo = run.request, run.echo
    if plan.security and not request.trust_model:
        file.fail("fix", _security_refusal(plan))
        run.files.append(file)
        return
    output = request.fix_output or default_output(Path(file.path), plan.container)
    tflite = converted_output(output)
    try:
        if request.convert and tflite.exists() and not request.force:
            raise FixError(f"{tflite} already exists (pass --force to overwrite it)")
        written = write_fixed(plan, output, trust_model=request.trust_model,
                              force=request.force)
    except FixError as exc:
        file.fail("fix", str(exc))
        run.files.append(file)
        return
    for applied in plan.applied:
        echo(f"{file.path}: {applied.line()}")
    copied = len(written.copied)
    echo(f"{file.path}: wrote {output} (weights of {copied} layer{'s' if copied != 1 else ''} "
         "copied unchanged)")
    rules = select_rules(run.config)
    fixed = lint_file(str(output), rules, run.config)
    run.files.append(fixed)
    if not request.convert:
        return
    if plan.container == "json":
        fixed.outcomes.append("convert: not run: a JSON config holds no weights to convert; "
                              "fix the .keras or .h5 model instead")
        return
    _convert(run, file, fixed, tflite, rules)


def _convert_unchanged(run: _Run, file: FileResult, plan: FixPlan) -> None:
    """--keep-float asks for a conversion of its own: the model as it is, when nothing
    needed fixing, converted to the .tflite --convert would have written."""
    run.files.append(file)
    tflite = converted_output(run.request.fix_output
                              or default_output(Path(file.path), plan.container))
    if plan.container == "json":
        file.outcomes.append("convert: not run: a JSON config holds no weights to convert; "
                             "give the .keras or .h5 model instead")
        return
    if tflite.exists() and not run.request.force:
        file.fail("convert", f"{tflite} already exists (pass --force to overwrite it)")
        return
    _convert(run, file, file, tflite, select_rules(run.config))


# -- --convert ---------------------------------------------------------------------------------


def _options(request: FixRequest) -> ConvertOptions:
    return ConvertOptions(
        quantize=request.quantize,
        representative_data=(None if request.representative_data is None
                             else str(request.representative_data)),
        batch_size=request.convert_batch or None, timeout=request.convert_timeout,
        keep_float=request.keep_float_layers)


def _convert(run: _Run, original: FileResult, fixed: FileResult, tflite: Path,
             rules: list[Any]) -> None:
    request, echo = run.request, run.echo
    options = _options(request)
    if request.quantize == "int8" and request.representative_data is None:
        echo(f"{original.path}: warning: no --representative-data: int8 calibration uses random "
             "data, so the quantized model's accuracy means nothing")
    converted = convert_keras(fixed.path, tflite, options)
    if converted.error is not None:
        detail = converted.detail.splitlines()[:DETAIL_LINES]
        if detail:
            echo(f"{fixed.path}: the converter said:")
            for line in detail:
                echo(f"  {line}")
        fixed.fail("convert", converted.error)
        return
    for note in converted.notes:
        echo(f"{tflite}: {note}")
    converted_what = "the fixed model" if fixed is not original else "the model"
    echo(f"{original.path}: converted {converted_what} to {tflite}")
    after_lint = lint_file(str(tflite), rules, run.config)
    run.files.append(after_lint)
    with tempfile.TemporaryDirectory(prefix="tflint-before-") as folder:
        # With --keep-float, before is the plain int8 conversion: the column shows its cost.
        before_path, before_lint, reason = _before(run, original, Path(folder), rules,
                                                   replace(options, keep_float=[]))
        _table(run, original, before_path, before_lint, reason, tflite, after_lint)


def _before(run: _Run, original: FileResult, folder: Path, rules: list[Any],
            options: ConvertOptions) -> tuple[Path | None, FileResult | None, str]:
    """The original's .tflite for the before column: --baseline, the .tflite of the same
    name next to the model, or the original converted, when Keras can load it safely."""
    if run.request.baseline is not None:
        baseline = run.request.baseline
        return baseline, lint_file(str(baseline), rules, run.config), f"--baseline {baseline}"
    sibling = Path(original.path).with_suffix(".tflite")
    if sibling.is_file():
        linted = lint_file(str(sibling), rules, run.config)
        if linted.error is None:
            return sibling, linted, (f"{sibling}, found next to {original.path} (--baseline "
                                     "FILE takes another)")
    reason = _unsafe_to_load(original)
    if reason is not None:
        return None, None, f"not converted: {reason}"
    target = folder / (Path(original.path).stem + ".tflite")
    converted = convert_keras(original.path, target, options)
    if converted.error is not None:
        return None, None, f"not converted: {converted.error}"
    plainly = " (no layer kept in float)" if run.request.keep_float else ""
    return (target, lint_file(str(target), rules, run.config),
            f"converted from {original.path}{plainly}")


def _predicted(original: FileResult) -> Column:
    """The before column from the Keras lint's own delegation prediction, when it has one."""
    section = original.delegation
    before = column("before", section=section) if section else Column("before")
    before.source = "predicted"
    unknown = (section or {}).get("unknown_layers") or []
    before.unknown_layers = len(unknown)
    if unknown:
        names = ", ".join(str(u.get("layer")) for u in unknown[:4] if isinstance(u, dict))
        more = ", ..." if len(unknown) > 4 else ""
        before.notes.append(f"before: the prediction leaves out {len(unknown)} layer(s) whose "
                            f"ops are unknown before conversion ({names}{more})")
    return before


def _unsafe_to_load(file: FileResult) -> str | None:
    """Why Keras must not (or cannot) load the original, if so: its code is not ours to run."""
    graph = file.graph
    for node in graph.nodes() if graph is not None else ():
        if node.origin in ("lambda", "custom"):
            kind = "a Lambda" if node.origin == "lambda" else "a custom class"
            return f"layer '{node.layer_name}' is {kind} that Keras cannot load safely"
    found = concerns(file.analyses.security()) if file.analyses is not None else []
    if found:
        return f"{found[0].code} {found[0].message}"
    return None


def _table(run: _Run, original: FileResult, before_path: Path | None,
           before_lint: FileResult | None, reason: str, after_path: Path,
           after_lint: FileResult) -> None:
    from tflint.fixer.measure import measure, runtime_available

    paths = [p for p in (before_path, after_path) if p is not None]
    stats: dict[Path, dict[str, Any]] = {}
    if runtime_available():
        outcome = measure([str(p) for p in paths], runs=max(run.request.latency_runs, 1),
                          timeout=run.request.convert_timeout)
        if outcome.ok:
            stats = dict(zip(paths, outcome.value, strict=True))
        else:
            run.echo(f"{after_path}: {outcome.error}")
    if before_path is not None:
        before = column("before", section=before_lint.delegation
                        if before_lint else None, runtime=stats.get(before_path),
                        size=before_path.stat().st_size)
    else:
        before = _predicted(original)
    after = column("after", section=after_lint.delegation,
                   runtime=stats.get(after_path), size=after_path.stat().st_size)
    if run.request.latency_runs == 0:
        before.latency_ms = after.latency_ms = None
    run.echo("")
    run.echo(render([before, after]).rstrip("\n"))
    run.echo(f"before: {reason}")
    run.echo(f"after: {after_path}")
    measured = [c for c in (before, after) if c.source != "predicted"]
    sources = {c.source for c in measured}
    if sources:
        checked = [c for c in measured if c.source == "lint"]
        agreed = (" (the LiteRT runtime agrees)"
                  if checked and all(c.confirmed for c in checked) else "")
        run.echo("delegation figures: " + " and ".join(
            {"lint": "the tflint XNNPACK prediction", "runtime": "the LiteRT runtime"}[s]
            for s in sorted(sources)) + agreed)
    timed = [c for c in (before, after) if c.latency_ms is not None]
    if timed:
        run.echo(f"latency: LiteRT interpreter with XNNPACK, 1 thread, median of "
                 f"{run.request.latency_runs} runs, both models in the same process, "
                 "inputs random")
    elif not runtime_available():
        run.echo('latency: not measured (the LiteRT runtime is not installed: '
                 'pip install "tflint[runtime]")')
    run.echo("")
