"""Start-up cost: a lint imports only what the file's kind and the selected rules need.

The built-in rules are known from ``rules/data/rule_index.json`` without importing
their modules; these tests check that the index agrees with the rule classes,
that an indexed rule behaves as its class, that a stale index is caught, and
that entry points are read as ``importlib.metadata`` reads them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zlib
from importlib import metadata
from pathlib import Path

import pytest
import tflint_rules
from conftest import ROOT, fixture, run_tflint

from tflint import installed
from tflint.registry import IndexedRule, load_rules, parse_doc, rule_class, rule_index
from tflint.rule import option_specs

INDEX = Path(tflint_rules.__file__).parent / tflint_rules.RULE_INDEX

#: Modules a ``.tflite`` lint must not import (prefixes).
NOT_FOR_TFLITE = (
    "tflint_rules.keras_", "tflint_rules.lambda_bytecode", "tflint_rules.unsafe_call",
    "tflint.loaders.keras", "tflint.kerasconfig", "tflint.analyses.keras_prediction",
    "tflint.analyses.security", "tflint.fixer.command", "tflint.fixer.apply",
    "tflint.fixer.writer", "tflint.isolation", "tflint.verify", "h5py", "tensorflow", "keras",
    "tf_keras", "importlib.metadata", "concurrent.futures", "multiprocessing",
)

_IMPORTED_BY_LINT = """
import atexit, json, sys
atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))
sys.argv = ["tflint", *sys.argv[1:]]
from tflint.cli import main
main()
"""


def modules_imported_by(*args: str | Path) -> set[str]:
    """The modules a ``tflint`` command line has imported when it exits."""
    proc = subprocess.run([sys.executable, "-c", _IMPORTED_BY_LINT, *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr
    return set(json.loads(proc.stderr.strip().splitlines()[-1]))


def test_rule_index_agrees_with_the_rule_classes() -> None:
    on_disk = json.loads(INDEX.read_text())
    assert on_disk == rule_index(tflint_rules), (
        "rules/data/rule_index.json is out of date: run python scripts/generate_rule_index.py")


def test_a_tflite_lint_imports_only_the_tflite_rules_its_graph_can_trigger() -> None:
    from tflint.loaders import load

    model = fixture("seed/lambda_sincos.tflite")
    modules = modules_imported_by("--isolated", model)
    unexpected = sorted(m for m in modules if m.startswith(NOT_FOR_TFLITE))
    assert unexpected == []
    traits = load(str(model)).traits() | {"target:xnnpack"}
    tflite_rules = [r for r in load_rules() if "tflite" in r.file_kinds]
    triggered = {r.__module__ for r in tflite_rules
                 if not r.triggers or not r.triggers.isdisjoint(traits)}
    untriggered = {r.__module__ for r in tflite_rules} - triggered
    keras_only = {r.__module__ for r in load_rules() if "tflite" not in r.file_kinds}
    assert triggered <= modules  # they ran
    assert untriggered and not untriggered & modules  # a float model: no quantization rule
    assert "tflint_rules.quant_bias" in untriggered
    assert keras_only and not keras_only & modules
    # The fixer's options are part of the command line, its machinery is not.
    assert {m for m in modules if m.startswith("tflint.fixer.")} == {"tflint.fixer.options"}


def rule_modules_of(modules: set[str]) -> set[str]:
    return {m for m in modules
            if m.startswith("tflint_rules.") and not m.startswith("tflint_rules._")}


def test_selected_rules_only_are_imported() -> None:
    modules = modules_imported_by("--isolated", "--select", "TFL101",
                                  fixture("tflite/flex_op.tflite"))
    assert rule_modules_of(modules) == {"tflint_rules.flex_op"}
    # Selected, but the graph has no flex op: not even imported.
    modules = modules_imported_by("--isolated", "--select", "TFL101",
                                  fixture("seed/lambda_sincos.tflite"))
    assert rule_modules_of(modules) == set()


def test_indexed_rules_behave_as_their_classes() -> None:
    rules = load_rules()
    assert rules and all(isinstance(rule, IndexedRule) for rule in rules
                         if rule.__module__.startswith("tflint_rules."))
    for rule in rules:
        real = rule_class(rule)
        assert not isinstance(real, IndexedRule)
        assert (rule.__module__, rule.__qualname__) == (real.__module__, real.__qualname__)
        for attr in ("code", "name", "category", "severity", "file_kinds", "fix_availability",
                     "options", "check", "__doc__"):
            assert getattr(rule, attr) == getattr(real, attr), (rule.code, attr)
        assert parse_doc(rule) == parse_doc(real)
        assert option_specs(rule) == option_specs(real)
        assert type(rule()) is real


PLUGIN_RULE = textwrap.dedent('''
    from tflint import Rule, Severity

    class TooManyLayers(Rule):
        """Too many layers.

        ## What it does
        Counts.

        ## Why is this bad
        Slow.

        ## Example
        Five.

        ## How to fix
        Prune.
        """

        code = "ACME001"
        name = "too-many-layers"
        category = "model"
        severity = Severity.INFO

        def check(self, ctx):
            yield ctx.diagnostic(None, f"{len(ctx.graph)} layers")
    ''')
INDEXED = {"code": "ACME001", "name": "too-many-layers", "category": "model",
           "severity": "info", "file_kinds": ["keras", "tflite"], "fix_availability": "none",
           "module": "too_many", "class": "TooManyLayers"}
CHECKSUM = zlib.crc32(PLUGIN_RULE.encode())


def _plugin_package(tmp_path: Path, index: dict | None, source: str = PLUGIN_RULE) -> dict:
    """An installed package of one rule, with the given rule index (or none)."""
    package = tmp_path / "acme_pkg"
    package.mkdir()
    (package / "__init__.py").write_text('RULE_INDEX = "rules.json"\n')
    (package / "too_many.py").write_text(source)
    if index is not None:
        (package / "rules.json").write_text(json.dumps(index))
    dist = tmp_path / "acme_pkg-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-pkg\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[tflint.rules]\nacme = acme_pkg\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}


def _lint_with_plugin(env: dict) -> tuple[int, str, str]:
    run = run_tflint("--isolated", "--select", "ACME", fixture("seed/lambda_sincos.tflite"),
                     env=env)
    return run.code, run.out, run.err


def test_a_plugin_package_with_an_index_is_loaded_lazily(tmp_path: Path) -> None:
    env = _plugin_package(tmp_path, {"modules": {"too_many": CHECKSUM}, "rules": [INDEXED]})
    code, out, _ = _lint_with_plugin(env)
    assert code != 2 and "info ACME001 5 layers" in out
    assert "ACME001  too-many-layers" in run_tflint("rules", env=env).out


def test_an_indexed_rule_for_another_file_kind_is_never_imported(tmp_path: Path) -> None:
    source = PLUGIN_RULE + "\nraise RuntimeError('imported')\n"
    index = {"modules": {"too_many": zlib.crc32(source.encode())},
             "rules": [{**INDEXED, "file_kinds": ["keras"]}]}
    code, out, err = _lint_with_plugin(_plugin_package(tmp_path, index, source))
    assert code == 0 and "ACME001" not in out, err


def test_an_index_disagreeing_with_an_unchanged_module_is_an_error(tmp_path: Path) -> None:
    stale = {**INDEXED, "category": "fusion"}
    env = _plugin_package(tmp_path, {"modules": {"too_many": CHECKSUM}, "rules": [stale]})
    code, _, err = _lint_with_plugin(env)
    assert code == 2 and "rules.json is out of date" in err
    assert "'fusion'" in err and "Traceback" not in err


@pytest.mark.parametrize("index", [
    None,
    {"modules": {"too_many": CHECKSUM + 1}, "rules": [{**INDEXED, "category": "fusion"}]},
    {"modules": {"too_many": CHECKSUM, "other": 1}, "rules": []},
    {"modules": ["too_many"], "rules": [INDEXED]},
    {"rules": 3},
])
def test_a_missing_or_outdated_index_falls_back_to_importing(tmp_path: Path,
                                                            index: dict | None) -> None:
    """An index is trusted only while every module's source is the one it was written from."""
    code, out, err = _lint_with_plugin(_plugin_package(tmp_path, index))
    assert code != 2 and "info ACME001 5 layers" in out, err


def _as_tuples(entries: object) -> list[tuple[str, str, str]]:
    return [(e.name, e.value, e.group) for e in entries]  # type: ignore[attr-defined]


def test_entry_points_are_those_importlib_finds() -> None:
    groups = metadata.entry_points().groups
    assert {"console_scripts", "tflint.rules", "tflint.targets"} <= groups
    for group in groups:
        assert (_as_tuples(installed.entry_points(group))
                == _as_tuples(metadata.entry_points(group=group))), group
    for dist in metadata.distributions():
        assert installed.version(dist.metadata["Name"]) == dist.version


_COMPARE = """
import json, sys
from importlib import metadata
from tflint import installed
print(json.dumps({
    "ours": [(e.name, e.value) for e in installed.entry_points("tflint.rules")],
    "importlib": [(e.name, e.value) for e in metadata.entry_points(group="tflint.rules")],
    "versions": [installed.version("acme-rules"), metadata.version("acme-rules")],
}))
"""


def test_shadowed_and_unusual_distributions_are_read_as_importlib_does(tmp_path: Path) -> None:
    """The first distribution of a name on sys.path hides the others; comments are skipped."""
    first, second = tmp_path / "first", tmp_path / "second"
    for folder, version, entry in ((first, "2.0", "a = first_rules"),
                                   (second, "1.0", "b = second_rules")):
        dist = folder / f"Acme.Rules-{version}.dist-info"
        dist.mkdir(parents=True)
        (dist / "METADATA").write_text(f"Name: acme-rules\nVersion: {version}\n\nVersion: 9\n")
        (dist / "entry_points.txt").write_text(
            f"# comment\n[tflint.rules]\n  {entry}  \n\n[other]\nc = x:y [extra]\n")
    egg = second / "acme_egg.egg-info"
    egg.mkdir()
    (egg / "entry_points.txt").write_text("[tflint.rules]\negg = egg_rules:Rule\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(first), str(second), *sys.path])}
    proc = subprocess.run([sys.executable, "-c", _COMPARE], capture_output=True, text=True,
                          env=env, timeout=60, check=True)
    found = json.loads(proc.stdout)
    assert found["ours"] == found["importlib"]
    assert ["a", "first_rules"] in found["ours"] and ["egg", "egg_rules:Rule"] in found["ours"]
    assert ["b", "second_rules"] not in found["ours"]
    assert found["versions"] == ["2.0", "2.0"]
