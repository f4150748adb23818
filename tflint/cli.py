"""Command line: ``tflint PATH...``, ``tflint rules``, ``tflint rule CODE``, ``tflint targets``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from click.core import ParameterSource

from tflint.diagnostics import Severity
from tflint.errors import UsageError
from tflint.fixer.options import fix_options

EXIT_USAGE = 2


class _DefaultToCheck(click.Group):
    """``tflint model.h5`` means ``tflint check model.h5``, as ``ruff`` works."""

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The group's help, then the options of the default command, which most runs use."""
        super().format_help(ctx, formatter)
        command = self.commands["check"]
        with click.Context(command, info_name="check", parent=ctx) as check_ctx:
            formatter.write_paragraph()
            with formatter.section("Options of 'tflint [check] PATH...'"):
                formatter.write_dl([row for param in command.get_params(check_ctx)
                                    if (row := param.get_help_record(check_ctx)) is not None])

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = ["check", *args]
        elif not args:
            args = ["check"]
        return super().parse_args(ctx, args)


def _version() -> str:
    from tflint import __version__

    return __version__


@click.group(cls=_DefaultToCheck, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=None, package_name="tflint", prog_name="tflint",
                      message="%(prog)s %(version)s")
def main() -> None:
    """Lint Keras (.h5, .keras, JSON) and TFLite models for what breaks or slows them on-device.

    tflint PATH... is short for tflint check PATH...
    """


def _any_given(options: dict[str, object]) -> bool:
    """Whether the user set any of these options (not left them at their defaults)."""
    context = click.get_current_context()
    return any(context.get_parameter_source(name) is not ParameterSource.DEFAULT
               for name in options)


def _split(values: tuple[str, ...]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--format", "output_format",
              type=click.Choice(["text", "json", "sarif", "github", "html"]),
              default="text", show_default=True,
              help="Report format (html: a page drawing each model's graph by placement).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the report to FILE instead of standard output.")
@click.option("--select", multiple=True, metavar="SELECTORS",
              help="Rules to enable: codes, code prefixes, names or categories (comma-separated).")
@click.option("--ignore", multiple=True, metavar="SELECTORS",
              help="Rules to disable, same selectors as --select.")
@click.option("--target", "targets", multiple=True, metavar="NAMES",
              help="Targets the model is meant for, comma-separated; the first is the primary "
                   "one (see 'tflint targets')  [default: xnnpack].")
@click.option("--arena-budget", metavar="SIZE",
              help="RAM for the TFLite Micro tensor arena (e.g. 256KiB); a larger estimate is "
                   "reported (TFL132).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="pyproject.toml to read [tool.tflint] from (default: the nearest one).")
@click.option("--isolated", is_flag=True, help="Ignore every configuration file.")
@click.option("--models-only", is_flag=True,
              help="Skip named files that are not model files, such as a .json that is not "
                   "a Keras config (for hooks that pass every changed file).")
@click.option("--source", "sources", multiple=True, metavar="DIR",
              help="Folder of the project's Python source, where the modules of custom layers "
                   "are looked up (repeatable)  [default: the project root].")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when diagnostics are found.")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info"]), default=None,
              help="Lowest severity that makes the run exit 1  [default: warning, or fail-on "
                   "in [tool.tflint]].")
@click.option("-q", "--quiet", is_flag=True, help="Print diagnostics and errors only.")
@click.option("--statistics", is_flag=True, help="Count diagnostics per rule.")
@click.option("--show-facts", is_flag=True,
              help="Also print each model's facts: inputs, outputs, op histogram, weights.")
@click.option("-v", "--verbose", is_flag=True,
              help="Also print the facts, each finding's ops one by one, and the traceback "
                   "of a rule that failed.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), metavar="N",
              help="Files linted at once (in processes) when several are given  "
                   "[default: the number of cores; 1 with --verify and the fixer options].")
@click.option("--verify", is_flag=True,
              help="Check the predicted delegation of .tflite files against the real LiteRT "
                   "runtime (needs the runtime extra).")
@click.option("--model-explorer", "overlay_path", metavar="FILE",
              type=click.Path(dir_okay=False, path_type=Path),
              help="Also write a Model Explorer node-data file colouring the ops of the one "
                   ".tflite linted by where they run on the primary target.")
@click.option("--compare-with", "compare_with", metavar="MODEL.keras",
              type=click.Path(dir_okay=False, path_type=str),
              help="Measure each .tflite against this Keras model (runs both in child "
                   "processes): output error and the layers quantization hurts most "
                   "(TFL330, TFL331).")
@fix_options
def check(paths: tuple[str, ...], output_format: str, output: Path | None,
          select: tuple[str, ...], ignore: tuple[str, ...], targets: tuple[str, ...],
          config_path: Path | None, isolated: bool, models_only: bool,
          sources: tuple[str, ...], exit_zero: bool, fail_on: str | None,
          quiet: bool,
          statistics: bool, show_facts: bool, verbose: bool, jobs: int | None, verify: bool,
          arena_budget: str | None = None, overlay_path: Path | None = None,
          compare_with: str | None = None, **fix_args: object) -> None:
    """Lint model files and folders (recursing into model files)."""
    from tflint.config import Config, find_pyproject, load_config
    from tflint.engine import lint
    from tflint.parallel import default_jobs
    from tflint.reporters import render

    if not paths:
        _fail("no model file or folder given (try 'tflint --help')")
    try:
        if isolated:
            config = Config()
        elif config_path is not None:
            if not config_path.is_file():
                raise UsageError(f"{config_path}: configuration file not found")
            config = load_config(config_path)
        else:
            config = load_config(find_pyproject(Path(paths[0])))
        if select:
            config.select = _split(select)
        if ignore:
            config.ignore = [*config.ignore, *_split(ignore)]
        if targets:
            config.targets = list(dict.fromkeys(_split(targets)))
        if sources:
            config.sources = [str(Path(folder).resolve()) for folder in sources]
        if arena_budget is not None:
            config.rule_options.setdefault("TFL132", {})["arena-budget"] = arena_budget
        if fail_on:
            config.fail_on = Severity(fail_on)
        config.models_only = models_only
        # --verify and the fixer need each file's graph, which workers do not send back.
        in_process = verify or _any_given(fix_args)
        if compare_with is not None and not Path(compare_with).is_file():
            raise UsageError(f"{compare_with}: no such file (--compare-with)")
        # --compare-with measures each .tflite in this process, against the Keras model.
        extra = {"compare_with": compare_with} if compare_with is not None else {}
        result = lint(list(paths), config,
                      jobs=1 if in_process or compare_with else jobs or default_jobs(), **extra)
        if _any_given(fix_args):  # the fixer's imports cost as much as a small lint
            from tflint.fixer.command import run_fixer

            # --fix swaps in the fixed models' lint; --diff prints and exits on its own.
            result, fix_exit = run_fixer(result, config, fix_args,
                                         to_stderr=output_format != "text" and output is None)
            if fix_exit is not None:
                sys.exit(fix_exit)
        mismatches = 0
        if verify:
            from tflint.verify import verify_result

            mismatches = verify_result(result, trust_model=bool(fix_args.get("trust_model")))
        report = render(result, output_format, quiet=quiet, statistics=statistics,
                        verbose=verbose, show_facts=show_facts)
        overlay = None
        if overlay_path is not None:
            from tflint.reporters.model_explorer import render as render_overlay

            overlay = render_overlay(result)
    except UsageError as exc:
        _fail(str(exc))
    if verbose:
        for file in result.files:
            for error in file.internal_errors:
                click.echo(f"{file.path}: internal error in {error.source}:\n"
                           f"{error.traceback.rstrip()}", err=True)
    if output is None:
        click.echo(report, nl=False)
    else:
        _write_atomically(output, report)
    if overlay is not None and overlay_path is not None:
        _write_atomically(overlay_path, overlay)
    code = result.exit_code(exit_zero, config.fail_on)
    sys.exit(max(code, 1) if mismatches and not exit_zero else code)


@main.command("compare")
@click.argument("model", type=click.Path(path_type=str))
@click.argument("tflite", required=False, type=click.Path(path_type=str))
@click.option("--quantize", type=click.Choice(["none", "dynamic", "float16", "int8", "int16x8"]),
              default=None, help="Quantization of the conversion (when no .tflite is given) "
                                 "[default: none; for a given .tflite: read from it].")
@click.option("--representative-data", type=click.Path(dir_okay=False, path_type=str),
              help="A .npy file of input samples to calibrate int8/int16x8 with (default: "
                   "seeded random data).")
@click.option("--convert-batch", type=click.IntRange(min=0), default=1, show_default=True,
              help="Static batch size of the conversion; 0 keeps the model's own batch.")
@click.option("--inputs", "inputs_file", type=click.Path(dir_okay=False, path_type=str),
              help="A .npz of input arrays by input name (each shaped as the input, or with a "
                   "leading sample dimension) instead of generated inputs.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the generated inputs and calibration data.")
@click.option("--samples", type=click.IntRange(min=1), default=16, show_default=True,
              help="Generated input samples the errors are measured on.")
@click.option("--runs", type=click.IntRange(min=0), default=30, show_default=True,
              help="Timed runs per engine and thread count (0: no timing).")
@click.option("--candidates", type=click.IntRange(min=0), default=3, show_default=True,
              help="Worst layers re-quantized with that layer kept in float (int8).")
@click.option("--screen", type=click.IntRange(min=0), default=6, show_default=True,
              help="Worst layers (by their own error) re-quantized in float to rank them by "
                   "what that removes from the output error (int8).")
@click.option("--keep-float", "keep_float", multiple=True, metavar="LAYERS",
              help="Quantize with these Keras layers kept in float (comma-separated).")
@click.option("--save", "save_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the conversion compared (with --keep-float: that one) to FILE.")
@click.option("--target", "targets", multiple=True, metavar="NAMES",
              help="Targets whose placement the candidates are costed on  [default: xnnpack].")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the report to FILE instead of standard output.")
@click.option("--timeout", type=click.FloatRange(min=1), default=300.0, show_default=True,
              help="Seconds each child process (converter, runs) may take.")
def compare(model: str, tflite: str | None, quantize: str | None,
            representative_data: str | None, convert_batch: int, inputs_file: str | None,
            seed: int, samples: int, runs: int, candidates: int, screen: int,
            keep_float: tuple[str, ...],
            save_path: Path | None, targets: tuple[str, ...], output_format: str,
            output: Path | None, timeout: float) -> None:
    """Run a Keras model and its .tflite (converted first when none is given) side by side:
    latency, memory, output error, and where quantization hurts."""
    import tempfile

    from tflint.compare_command import CompareError, CompareOptions, run_compare, save_model
    from tflint.compare_report import render_text, to_json
    from tflint.targets import load_targets

    chosen_targets = list(dict.fromkeys(_split(targets))) or ["xnnpack"]
    unknown = [t for t in chosen_targets if t not in _guard(load_targets)]
    if unknown:
        _fail(f"unknown target {unknown[0]!r} (see 'tflint targets')")
    if tflite is not None and (keep_float or save_path):
        _fail("--keep-float and --save convert the Keras model: give no .tflite")
    options = CompareOptions(
        quantize=quantize if tflite is not None or quantize is not None else "none",
        representative_data=representative_data, batch_size=convert_batch or None,
        inputs=inputs_file, seed=seed, samples=samples, runs=runs, candidates=candidates,
        screen=screen,
        targets=chosen_targets, keep_float=_split(keep_float), timeout=timeout)
    try:
        with tempfile.TemporaryDirectory(prefix="tflint-compare-") as work:
            data = run_compare(model, tflite, options, work)
            if save_path is not None:
                save_model(data["tflite"], save_path)
                data["saved"] = str(save_path)
            report = to_json(data) if output_format == "json" else render_text(data)
    except CompareError as exc:
        _fail(str(exc))
    if output is None:
        click.echo(report, nl=False)
    else:
        _write_atomically(output, report)


@main.command("rules")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def list_rules(output_format: str) -> None:
    """List every rule with its code, name, category and fix availability."""
    import json

    from tflint.registry import load_rules, parse_doc

    rules = _guard(load_rules)
    if output_format == "json":
        click.echo(json.dumps([
            {"code": r.code, "name": r.name, "category": r.category,
             "severity": r.severity.value, "file_kinds": sorted(r.file_kinds),
             "fix": r.fix_availability, "summary": parse_doc(r).summary,
             "plugin": r.__module__.split(".")[0]}
            for r in rules], indent=2))
        return
    for rule in rules:
        fix = "" if rule.fix_availability == "none" else f" [fix: {rule.fix_availability}]"
        click.echo(f"{rule.code}  {rule.name:<28} {rule.category:<15} "
                   f"{parse_doc(rule).summary}{fix}")


@main.command("rule")
@click.argument("code")
def show_rule(code: str) -> None:
    """Print one rule's documentation and options (tflint rule TFL101)."""
    from tflint.registry import find_rule, parse_doc
    from tflint.rule import option_specs

    rule = _guard(lambda: find_rule(code))
    doc = parse_doc(rule)
    kinds = ", ".join(sorted(rule.file_kinds))
    click.echo(f"# {rule.name} ({rule.code})\n")
    click.echo(f"Category: {rule.category}. Default severity: {rule.severity.value}. "
               f"Applies to: {kinds}. Fix: {rule.fix_availability}.\n")
    click.echo(doc.summary + "\n")
    for title, body in doc.sections.items():
        click.echo(f"## {title}\n\n{body}\n")
    specs = option_specs(rule)
    if specs:
        click.echo(f"## Options\n\nSet in `[tool.tflint.rules.{rule.code}]`.\n")
        for key, spec in specs.items():
            help_text = f": {spec.help}" if spec.help else ""
            click.echo(f"- `{key}` ({spec.type.__name__}, default `{spec.default!r}`){help_text}")


@main.command("targets")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def list_targets(output_format: str) -> None:
    """List every target a model can be linted for (--target NAME)."""
    import json

    from tflint.targets import load_targets

    targets = _guard(load_targets)
    if output_format == "json":
        click.echo(json.dumps([
            {"name": t.name, "title": t.title, "description": t.description,
             "keras_prediction": t.keras_lowering_key is not None,
             "plugin": t.__module__.split(".")[0]} for t in targets.values()], indent=2))
        return
    for target in targets.values():
        click.echo(f"{target.name:<16} {target.description}")


@main.command("problem-matcher")
def problem_matcher() -> None:
    """Print the path of the shipped problem matcher for tflint's text output (GitHub
    Actions: echo "::add-matcher::$(tflint problem-matcher)")."""
    from tflint.data import DATA_DIR

    click.echo(DATA_DIR / "problem-matcher.json")


def _guard(call):  # type: ignore[no-untyped-def]
    try:
        return call()
    except UsageError as exc:
        _fail(str(exc))


def _fail(message: str) -> None:
    click.echo(f"tflint: error: {message}", err=True)
    sys.exit(EXIT_USAGE)


def _write_atomically(path: Path, text: str) -> None:
    """Write the whole report or nothing: no partial file on failure."""
    import tempfile

    folder = path.parent if str(path.parent) else Path(".")
    try:
        handle = tempfile.NamedTemporaryFile("w", dir=folder, prefix=f".{path.name}.",
                                             suffix=".tmp", delete=False, encoding="utf-8")
    except OSError as exc:
        _fail(f"{path}: cannot write report: {exc.strerror or exc}")
    try:
        with handle:
            handle.write(text)
        # A temporary file is private (0600); a report gets the usual permissions.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(handle.name, 0o666 & ~umask)
        os.replace(handle.name, path)
    except OSError as exc:
        os.unlink(handle.name)
        _fail(f"{path}: cannot write report: {exc.strerror or exc}")


def run() -> None:
    """The ``tflint`` command: :func:`main`, then leave at once.

    The interpreter's own exit would tear down every object the lint made (a model's
    graph is thousands of them) and every module, which costs more than a tenth of a
    small lint; the output is flushed first, and nothing else is pending by then (worker
    pools and child processes are closed, report files renamed into place).
    """
    try:
        main()
        code = 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:  # sys.exit("message"): printed, status 1
            print(exc.code, file=sys.stderr)
            code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # a closed pipe (tflint ... | head): what was read is the output
        pass
    os._exit(code)
