"""The Python API and the json contract; linting never imports TensorFlow or Keras."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import FIXTURES, ROOT, fixture, run_tflint

import tflint

FORBIDDEN = ("tensorflow", "keras", "tf_keras", "ai_edge_litert")


def _modules_after(code: str) -> set[str]:
    script = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    return set(json.loads(proc.stdout.splitlines()[-1]))


def test_linting_every_fixture_imports_no_tensorflow_or_keras() -> None:
    modules = _modules_after(f"import tflint; r = tflint.lint({str(FIXTURES)!r}); "
                             "assert len(r.files) >= 10, len(r.files)")
    imported = {m.split(".")[0] for m in modules}
    assert not imported & set(FORBIDDEN), imported & set(FORBIDDEN)


def test_tflite_lint_imports_no_h5py() -> None:
    path = fixture("clean/mobile_cnn.tflite")
    modules = _modules_after(f"import tflint; tflint.lint({str(path)!r})")
    assert "h5py" not in modules
    assert not any(m.startswith("networkx.drawing") for m in modules)


def test_lint_returns_result_with_diagnostics() -> None:
    result = tflint.lint(fixture("custom_code/lambda_opaque.keras"))
    assert isinstance(result, tflint.Result)
    [file] = result.files
    assert file.kind == "keras" and file.error is None
    [diagnostic] = [d for d in file.diagnostics if d.code == "TFL103"]
    assert diagnostic.category == "unsupported-op"
    assert diagnostic.location is not None and diagnostic.location.op_type == "Lambda"
    assert result.exit_code() == 1 and result.exit_code(exit_zero=True) == 0


def test_json_contract() -> None:
    run = run_tflint("--format", "json", fixture("tflite/flex_op.tflite"),
                     fixture("seed/lambda_sincos.h5"))
    report = run.json()
    assert report["tflint_version"] == tflint.__version__
    for file in report["files"]:
        assert {"path", "kind", "error", "diagnostics", "delegation"} <= set(file)
        assert file["kind"] in ("tflite", "keras") and file["error"] is None
        for d in file["diagnostics"]:
            assert {"code", "category", "severity", "message", "location", "suggestion",
                    "fix"} <= set(d)
            assert d["severity"] in ("error", "warning", "info")
            assert d["fix"] is None or d["fix"]["applicability"] in ("safe", "unsafe")
    tflite = report["files"][0]
    assert tflite["model"]["op_histogram"] and tflite["model"]["subgraphs"]
    assert any(d["code"] == "TFL101" for d in tflite["diagnostics"])


def test_unreadable_file_in_json() -> None:
    run = run_tflint("--format", "json", ROOT / "pyproject.toml")
    [file] = run.json()["files"]
    assert run.code == 2 and file["kind"] is None and file["error"].startswith("not a model file")
