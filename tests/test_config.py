"""[tool.tflint] in pyproject.toml: selection, severities, per-file and per-node ignores."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import fixture, run_tflint

import tflint
from tflint.config import Config, find_pyproject, from_table, load_config
from tflint.errors import UsageError


def _project(tmp_path: Path, toml: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(toml)
    models = tmp_path / "models"
    models.mkdir()
    # A Lambda whose function has no lowering data: opaque to conversion (TFL103).
    shutil.copy(fixture("custom_code/lambda_opaque.h5"), models / "lambda.h5")
    shutil.copy(fixture("seed/custom_activation.h5"), models / "custom.h5")
    return models


def _codes(run_output: str) -> set[str]:
    return {line.split()[2] for line in run_output.splitlines() if ":1:1: " in line}


def test_nearest_pyproject_with_tflint_table_is_used(tmp_path: Path) -> None:
    models = _project(tmp_path, '[tool.tflint]\nselect = ["opaque-layer"]\nignore = ["TFL103"]\n')
    assert find_pyproject(models / "lambda.h5") == tmp_path / "pyproject.toml"
    assert run_tflint(models, cwd=tmp_path).code == 0
    isolated = run_tflint("--isolated", models, cwd=tmp_path)
    assert isolated.code == 1 and "TFL103" in _codes(isolated.out)


def test_pyproject_without_tflint_table_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.tflint]\nignore = ["TFL103"]\n')
    inner = tmp_path / "pkg"
    inner.mkdir()
    (inner / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert find_pyproject(inner) == tmp_path / "pyproject.toml"


def test_severity_override(tmp_path: Path) -> None:
    models = _project(tmp_path, '[tool.tflint.severity]\nTFL103 = "error"\n')
    run = run_tflint(models, cwd=tmp_path)
    assert ": error TFL103 " in run.out and ": warning TFL103 " not in run.out


def test_per_file_ignores(tmp_path: Path) -> None:
    models = _project(tmp_path, '[tool.tflint.per-file-ignores]\n"models/lambda.h5" = ["TFL1"]\n')
    run = run_tflint(models, cwd=tmp_path)
    lambda_codes = {line.split()[2] for line in run.out.splitlines() if "lambda.h5:1:1" in line}
    assert lambda_codes and not any(c.startswith("TFL1") for c in lambda_codes)
    assert "custom.h5:1:1: warning TFL103" in run.out


def test_per_node_ignores_match_layer_names(tmp_path: Path) -> None:
    models = _project(tmp_path, '[tool.tflint.per-node-ignores]\n"bessel*" = ["opaque-layer"]\n')
    ignored = _codes(run_tflint(models / "lambda.h5", cwd=tmp_path).out)
    assert "TFL103" not in ignored
    assert "TFL103" in _codes(run_tflint("--isolated", models / "lambda.h5", cwd=tmp_path).out)


def test_invalid_configuration_is_a_usage_error(tmp_path: Path) -> None:
    models = _project(tmp_path, '[tool.tflint]\nselekt = ["TFL1"]\n')
    run = run_tflint(models, cwd=tmp_path)
    assert run.code == 2
    assert "unknown [tool.tflint] key(s): selekt" in run.err
    (tmp_path / "pyproject.toml").write_text("[tool.tflint\n")
    run = run_tflint(models, cwd=tmp_path)
    assert run.code == 2 and "cannot read configuration" in run.err


@pytest.mark.parametrize("table, message", [
    ({"target": "no-such-npu"}, "unknown target 'no-such-npu'"),
    ({"severity": {"TFL101": "fatal"}}, "must be error, warning or info"),
    ({"select": "TFL1"}, None),
    ({"ignore": [1]}, "must be a list of strings"),
])
def test_from_table_validates(table: dict, message: str | None) -> None:
    if message is None:
        assert from_table(table, root=Path(".")).select == ["TFL1"]
        return
    with pytest.raises(UsageError, match=message):
        # Targets are plug-ins: their names are checked once they are loaded.
        from_table(table, root=Path(".")).check_targets()


def test_unknown_rule_option_is_rejected(tmp_path: Path) -> None:
    config = from_table({"rules": {"TFL103": {"no-such-option": 1}}}, root=tmp_path)
    with pytest.raises(UsageError, match="has no option 'no-such-option'"):
        tflint.lint(fixture("seed/lambda_sincos.h5"), config)


def test_python_api_takes_a_config() -> None:
    path = fixture("custom_code/lambda_opaque.h5")
    assert tflint.lint(path, Config(select=["TFL103"], ignore=["opaque-layer"])).diagnostics == []
    assert [d.code for d in tflint.lint(path, Config(select=["TFL103"])).diagnostics] == ["TFL103"]
    assert load_config(None) == Config(root=load_config(None).root)
