"""README's pre-commit and GitHub Actions snippets, run as written.

The pre-commit snippet is used as the user's ``.pre-commit-config.yaml`` with
``repo`` pointing at this repository (where ``rev`` must exist) and run by the
real pre-commit.  The workflow's ``run`` steps are run in order in a scratch
workspace with the environment GitHub gives them; tflint is already installed
here, so the ``pip install`` step is the one step not run.  The SARIF file the
workflow uploads is checked against the official schema.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT, fixture
from test_pre_commit import _env, _git
from test_sarif import schema_errors, schemas  # noqa: F401  (a fixture)

README = (ROOT / "README.md").read_text(encoding="utf-8")
SECTION = README[README.index("## Pre-commit, CI and editors"):]
SECTION = SECTION[:SECTION.index("\n## ", 5)]


def _yaml_blocks() -> list[Any]:
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", SECTION, re.S)]


def _pre_commit_config() -> dict[str, Any]:
    [config] = [b for b in _yaml_blocks() if isinstance(b, dict) and "repos" in b]
    return config


def _workflow() -> dict[str, Any]:
    [workflow] = [b for b in _yaml_blocks() if isinstance(b, dict) and "jobs" in b]
    return workflow


def test_pre_commit_snippet_pins_a_commit_of_this_repository_with_the_hook() -> None:
    [repo] = _pre_commit_config()["repos"]
    assert [hook["id"] for hook in repo["hooks"]] == ["tflint"]
    rev = str(repo["rev"])
    assert re.fullmatch(r"[0-9a-f]{40}", rev), "pin a full commit id (or a tag that exists)"
    manifest = yaml.safe_load(_git("show", f"{rev}:.pre-commit-hooks.yaml", cwd=ROOT))
    assert [hook["id"] for hook in manifest] == ["tflint"]
    assert rev in str(_workflow()), "the workflow installs the same commit"


@pytest.mark.slow
def test_pre_commit_snippet_runs_as_written(tmp_path: Path) -> None:
    config = _pre_commit_config()
    config["repos"][0]["repo"] = str(ROOT)  # this repository stands in for the hosted one
    user = tmp_path / "user"
    (user / "models").mkdir(parents=True)
    _git("init", "-q", cwd=user)
    shutil.copy(fixture("seed/lambda_sincos.h5"), user / "models" / "lambda_sincos.h5")
    shutil.copy(fixture("keras2/legacy_keras20.json"), user / "models" / "legacy.json")
    (user / "package.json").write_text('{"name": "not a model"}\n')
    (user / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    _git("add", "-A", cwd=user)
    proc = subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--all-files", "--color", "never"],
        cwd=user, capture_output=True, text=True, timeout=900,
        env=_env(PRE_COMMIT_HOME=str(tmp_path / "home"), PIP_DISABLE_PIP_VERSION_CHECK="1"))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert re.search(r"^tflint\.+Failed$", out, re.MULTILINE), out
    assert "models/lambda_sincos.h5:1:1: " in out
    assert "models/legacy.json: " in out, "the Keras JSON config is linted"
    assert "package.json" not in out, "a JSON file that is no model is skipped"


def test_workflow_run_steps_work_as_written(tmp_path: Path, schemas: dict) -> None:  # noqa: F811
    workflow = _workflow()
    assert workflow["permissions"]["security-events"] == "write"
    [job] = workflow["jobs"].values()
    workspace = tmp_path / "workspace"
    (workspace / "models").mkdir(parents=True)
    shutil.copy(fixture("seed/custom_activation.tflite"), workspace / "models")
    shutil.copy(fixture("clean/mobile_cnn.keras"), workspace / "models")
    outcomes = []
    uploaded = None
    bin_dir = Path(sys.executable).parent
    env = _env(GITHUB_WORKSPACE=str(workspace), GITHUB_ACTIONS="true",
               PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    for step in job["steps"]:
        if "uses" in step:
            if step["uses"].startswith("github/codeql-action/upload-sarif"):
                uploaded = workspace / step["with"]["sarif_file"]
            continue
        script = step["run"]
        if script.strip().startswith("pip install"):
            assert "tflint" in script
            continue  # installed already: the package under test
        proc = subprocess.run(["bash", "-e", "-c", script], cwd=workspace, env=env,
                              capture_output=True, text=True, timeout=300)
        outcomes.append((step.get("name", script), proc))
    (_, lint), (_, sarif) = outcomes
    # The lint step fails the job on the custom activation's warnings...
    assert lint.returncode == 1, lint.stdout + lint.stderr
    matcher = re.search(r"^::add-matcher::(.+)$", lint.stdout, re.MULTILINE)
    assert matcher is not None and Path(matcher.group(1)).is_file()
    assert "models/custom_activation.tflite:1:1: warning TFL110 " in lint.stdout
    # ...and the SARIF step still writes the file the upload step sends.
    assert sarif.returncode == 0, sarif.stderr
    assert uploaded is not None and uploaded.is_file()
    import json

    log = json.loads(uploaded.read_text())
    for name, schema in schemas.items():
        assert schema_errors(log, schema) == [], name
    assert any(r["ruleId"] == "TFL110" for r in log["runs"][0]["results"])
