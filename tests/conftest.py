"""Shared helpers: the real fixtures, a way to run the CLI, the extras a test needs.

The whole ``fixtures/`` folder is linted once per test process, in process
(``fixtures_result``), and every report format is rendered from that one
result (``fixtures_reports``); ``fixtures_cli`` runs the real command line on
the folder at most once per format to check that it prints the same.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # tflint is imported by the fixtures, so that collection never needs it
    import tflint

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"

#: Marker -> (extra, modules that extra installs). A marked test is skipped,
#: with the reason, when one of the modules cannot be imported.
EXTRAS = {
    "tensorflow": ("convert", ("tensorflow", "keras", "tf_keras")),
    "runtime": ("runtime", ("ai_edge_litert",)),
    "vela": ("ethosu", ("ethosu.vela",)),
    "tflm": ("tflm", ("tflite_micro",)),
    "model_explorer": ("viewers", ("model_explorer",)),
}
#: Debian's Chromium, which Playwright drives in the ``browser`` tests (no browser download).
CHROMIUM = Path(os.environ.get("TFLINT_CHROMIUM", "/usr/bin/chromium"))
#: The GPU compatibility checker lives in a virtual environment of its own
#: (TensorFlow 2.17.1, see scripts/probe_gpu.py); ``gpu_checker`` tests skip without it.
GPU_CHECKER_VENV = Path(os.environ.get("TFLINT_GPU_CHECKER_VENV", "/work/venvs/tf217"))

#: ``tflint ARGS fixtures`` from the root: what ``fixtures_result`` lints.
#: The project's own configuration leaves out the probe models of every target (thousands of
#: one-op models with tests of their own).
FIXTURES_ARGS = ("--config", "pyproject.toml", "fixtures")
#: CLI options of each format's report, as keyword arguments of ``render``.
REPORT_OPTIONS: dict[str, dict[str, bool]] = {}


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> dict:
        return json.loads(self.out)


def run_tflint(*args: str | Path, cwd: Path | None = None, env: dict | None = None) -> Run:
    """Run tflint as a user would, in its own process."""
    proc = subprocess.run(
        [sys.executable, "-m", "tflint", *map(str, args)],
        capture_output=True, text=True, cwd=cwd or ROOT, env=env, timeout=120,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def cache_folder() -> Path:
    """Where tests keep what survives a run: downloads, mypy's cache.

    ``$TFLINT_TEST_CACHE``, else ``$XDG_CACHE_HOME/tflint-tests``, else
    ``~/.cache/tflint-tests``: outside the checkout, which tests copy.
    """
    if os.environ.get("TFLINT_TEST_CACHE"):
        return Path(os.environ["TFLINT_TEST_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tflint-tests"


def fixture(relative: str) -> Path:
    path = FIXTURES / relative
    assert path.is_file(), f"missing fixture {relative}: run python fixtures/generate.py"
    return path


@pytest.fixture
def cli():
    return run_tflint


# -- extras ------------------------------------------------------------------------------------


def missing_modules(modules: tuple[str, ...]) -> list[str]:
    return [name for name in modules if not importable(name)]


def importable(name: str) -> bool:
    """Whether NAME can be imported, without importing it (but its parent packages)."""
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a dotted name whose parent package is missing
        return False


# First: an xdist worker reads the xdist_group marks in this same hook.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skips = {}
    for marker, (extra, modules) in EXTRAS.items():
        absent = missing_modules(modules)
        if absent:
            skips[marker] = pytest.mark.skip(
                reason=f"needs {', '.join(absent)}: pip install \"tflint[{extra}]\"")
    if not (GPU_CHECKER_VENV / "bin" / "python").is_file():
        skips["gpu_checker"] = pytest.mark.skip(
            reason="needs the GPU compatibility checker: bash scripts/setup_gpu_checker.sh")
    if missing_modules(("playwright",)) or not CHROMIUM.is_file():
        skips["browser"] = pytest.mark.skip(
            reason="needs Playwright and Chromium: bash scripts/setup_browser_tests.sh")
    for item in items:
        for marker, skip in skips.items():
            if item.get_closest_marker(marker) is not None:
                item.add_marker(skip)
    for item, group in shared_setup_groups(items).items():
        item.add_marker(pytest.mark.xdist_group(group))


def shared_setup_groups(items: list[pytest.Item]) -> dict[pytest.Item, str]:
    """Tests that share a module- or session-scoped fixture of this suite, in one group each.

    With ``--dist loadgroup`` a group runs on one xdist worker, so that each
    such fixture (a lint of the fixtures folder, a model conversion, a runtime
    run over the probe models) is set up once per run, not once per worker.
    Tests sharing none are spread one by one.
    """
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    shared: dict[pytest.Item, list[str]] = {}
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None:
            continue
        keys = [f"{definition.baseid}::{name}"
                for name, definitions in info.name2fixturedefs.items()
                for definition in definitions[-1:]
                if definition.scope in ("module", "session") and definition.baseid]
        if keys:
            shared[item] = keys
            for key in keys[1:]:
                parent[root(key)] = root(keys[0])
    return {item: root(keys[0]) for item, keys in shared.items()}


# -- the fixtures folder, linted once ----------------------------------------------------------


@contextmanager
def working_directory(path: Path) -> Iterator[None]:
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def render_from_root(result: tflint.Result, output_format: str, **options: bool) -> str:
    """A report as ``tflint`` run from the root prints it (SARIF paths are cwd-relative)."""
    from tflint.reporters import render

    with working_directory(ROOT):
        return render(result, output_format, **options)


@pytest.fixture(scope="session")
def fixtures_result() -> tflint.Result:
    """``tflint --config pyproject.toml fixtures`` from the root, linted in this process."""
    import tflint
    from tflint.config import load_config

    with working_directory(ROOT):
        return tflint.lint(FIXTURES_ARGS[-1], load_config(ROOT / "pyproject.toml"))


def with_severities(result: tflint.Result, severity: dict[str, str]) -> tflint.Result:
    """RESULT with the severity of each listed rule code overridden, as
    ``[tool.tflint.severity]`` would have made it."""
    import tflint

    return tflint.Result([
        replace(file, diagnostics=[
            replace(d, severity=tflint.Severity(severity[d.code])) if d.code in severity else d
            for d in file.diagnostics])
        for file in result.files])


@pytest.fixture(scope="session")
def fixtures_reports(fixtures_result: tflint.Result) -> dict[str, str]:
    """Every format's report of ``fixtures_result``, with the options ``fixtures_cli`` gives."""
    from tflint.reporters import FORMATS

    return {name: render_from_root(fixtures_result, name, **REPORT_OPTIONS.get(name, {}))
            for name in FORMATS}


def cli_options(output_format: str) -> list[str]:
    return ["--format", output_format,
            *(f"--{option}" for option, on in REPORT_OPTIONS.get(output_format, {}).items()
              if on)]


@pytest.fixture(scope="session")
def fixtures_cli() -> Callable[[str], Run]:
    """The real command line on the fixtures folder: one run per format, kept."""
    runs: dict[str, Run] = {}

    def run(output_format: str) -> Run:
        if output_format not in runs:
            runs[output_format] = run_tflint(*cli_options(output_format), *FIXTURES_ARGS)
        return runs[output_format]

    return run


# -- real architectures, converted once --------------------------------------------------------


@pytest.fixture(scope="session")
def applications(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``keras.applications`` models converted to .tflite (see ``applications.py``), by stem."""
    from applications import convert_all

    return convert_all(tmp_path_factory.mktemp("applications"))
