"""Rules are plugins: third-party ones are found like the built-ins, broken ones say why."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from conftest import fixture, run_tflint

import tflint.engine
import tflint.registry

PLUGIN = '''
from tflint import Rule, Severity


class TooManyLayers(Rule):
    """Model has more layers than the team allows.

    ## What it does
    Counts the nodes.

    ## Why is this bad
    Big models are slow.

    ## Example
    A model with 5 layers when the limit is 2.

    ## How to fix
    Prune it.
    """

    code = "ACME001"
    name = "too-many-layers"
    category = "model"
    severity = Severity.INFO
    options = {"limit": 2}

    def check(self, ctx):
        if len(ctx.graph) > ctx.options["limit"]:
            yield ctx.diagnostic(None, f"{len(ctx.graph)} layers, limit {ctx.options['limit']}")
'''


def _install_plugin(tmp_path: Path, body: str,
                    entry: str = "ACME001 = acme_rules:TooManyLayers", *,
                    module: str = "acme_rules", group: str = "tflint.rules") -> dict:
    """Install ``body`` as module ``module`` of a distribution with one entry point; the
    environment for a tflint that sees it."""
    (tmp_path / f"{module}.py").write_text(body)
    dist = tmp_path / f"{module}-1.0.dist-info"
    dist.mkdir(exist_ok=True)
    name = module.replace("_", "-")
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{group}]\n{entry}\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}


def test_third_party_rule_is_discovered_and_configurable(tmp_path: Path) -> None:
    env = _install_plugin(tmp_path, PLUGIN)
    listing = run_tflint("rules", env=env)
    assert "ACME001  too-many-layers" in listing.out
    model = tmp_path / "model.h5"  # under the plugin project's own pyproject.toml
    shutil.copy(fixture("seed/lambda_sincos.h5"), model)
    run = run_tflint("--select", "ACME", model, env=env)
    # An info finding is reported but fails the run only when asked for (--fail-on info).
    assert run.code == 0 and "info ACME001" in run.out
    assert run_tflint("--select", "ACME", "--fail-on", "info", model, env=env).code == 1
    (tmp_path / "pyproject.toml").write_text(
        '[tool.tflint]\nfail-on = "info"\n[tool.tflint.rules.ACME001]\nlimit = 1000\n')
    assert run_tflint("--select", "model", model, cwd=tmp_path, env=env).code == 0
    (tmp_path / "pyproject.toml").write_text('[tool.tflint]\nfail-on = "info"\n')
    assert run_tflint("--select", "model", model, cwd=tmp_path, env=env).code == 1


def test_broken_plugins_are_reported_cleanly(tmp_path: Path) -> None:
    broken = PLUGIN.replace('category = "model"', 'category = "style"')
    env = _install_plugin(tmp_path, broken)
    run = run_tflint(fixture("seed/lambda_sincos.h5"), env=env)
    assert run.code == 2
    assert "category 'style' is not one of" in run.err and "Traceback" not in run.err
    env = _install_plugin(tmp_path, "raise ImportError('boom')\n")
    run = run_tflint("rules", env=env)
    assert run.code == 2 and "cannot load rule plugin" in run.err and "boom" in run.err


def test_a_module_entry_point_registers_every_rule_in_it(tmp_path: Path) -> None:
    second = (PLUGIN.replace("TooManyLayers", "TooFewLayers").replace("ACME001", "ACME002")
              .replace("too-many-layers", "too-few-layers"))
    env = _install_plugin(tmp_path, PLUGIN + second.split("from tflint import Rule, Severity")[1],
                          entry="acme = acme_rules")
    codes = [line.split()[0] for line in run_tflint("rules", env=env).out.splitlines()]
    assert "ACME001" in codes and "ACME002" in codes


def test_duplicate_codes_are_refused(tmp_path: Path) -> None:
    clash = PLUGIN.replace('"ACME001"', '"TFL101"')
    env = _install_plugin(tmp_path, clash, entry="clash = acme_rules:TooManyLayers")
    run = run_tflint("rules", env=env)
    assert run.code == 2 and "rule code TFL101 is registered twice" in run.err


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    clash = PLUGIN.replace('"too-many-layers"', '"flex-op"')
    env = _install_plugin(tmp_path, clash)
    run = run_tflint("rules", env=env)
    assert run.code == 2 and "rule name 'flex-op' is used by both" in run.err


def test_core_names_no_builtin_rule() -> None:
    """The engine must know no specific rule: the built-ins are found as plugins."""
    core = Path(tflint.engine.__file__).parent
    for source in core.rglob("*.py"):
        assert "tflint_rules" not in source.read_text(), source
    codes = {rule.code for rule in tflint.registry.load_rules()}
    assert {"TFL101", "TFL102", "TFL103"} <= codes
