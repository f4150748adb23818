"""Models crafted like the Keras CVE payloads: tflint flags them and never runs them.

The fixtures in ``fixtures/malicious/`` are made by
``fixtures/generate_malicious.py``: real models whose Lambda writes a marker
file when executed, and real models whose config was edited like the
published proofs of concept.  Here tflint lints each in a child process with
an empty working folder (the marker would land there), and a separate Keras
process shows that the Lambda payload is real: Keras with
``safe_mode=False`` (and tf_keras, for ``.h5``) does write the marker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import fixture, run_tflint

import tflint
from tflint.analyses import security as _config_scan

MARKER = "tflint_pwned_by_lambda.txt"
SECURITY_CODES = {f"TFL60{i}" for i in range(1, 10)}

#: File -> security codes that must be reported (and no other).
EXPECTED = {
    "lambda_marker.keras": {"TFL601"},
    "lambda_marker.h5": {"TFL601"},
    "lambda_marker_tfkeras.h5": {"TFL601"},
    "named_function.keras": {"TFL601"},
    "os_system.keras": {"TFL603"},
    "os_system.h5": {"TFL603"},
    "builtins_exec.json": {"TFL603"},
    "unsafe_deserialization.keras": {"TFL601", "TFL604"},
    "foreign_module.keras": {"TFL602"},
    "get_file.keras": {"TFL605"},
    "vocabulary_path.keras": {"TFL606"},
    "lookup_plain.keras": set(),
    "plain.keras": set(),
    "plain.h5": set(),
}


def _lint_json(path: Path, cwd: Path) -> dict[str, Any]:
    run = run_tflint("--isolated", "--format", "json", path, cwd=cwd)
    assert run.code in (0, 1), run.err
    [report] = run.json()["files"]
    assert report["error"] is None, report["error"]
    return report


def _security(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [d for d in report["diagnostics"] if d["category"] == "security"]


# -- every payload is flagged, none runs ---------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_payload_flagged_and_never_run(name: str, tmp_path: Path) -> None:
    path = fixture(f"malicious/{name}")
    before = sorted(p.name for p in path.parent.iterdir())
    report = _lint_json(path, tmp_path)
    codes = {d["code"] for d in _security(report)}
    assert codes == EXPECTED[name]
    assert list(tmp_path.iterdir()) == [], "linting left a file behind"
    assert sorted(p.name for p in path.parent.iterdir()) == before


def test_whole_folder_exits_one_with_every_file_linted(tmp_path: Path) -> None:
    run = run_tflint("--isolated", "--format", "json", fixture("malicious/plain.keras").parent,
                     cwd=tmp_path)
    assert run.code == 1, run.err
    files = {Path(f["path"]).name: f for f in run.json()["files"]}
    crafted = json.loads(fixture("malicious/crafted/manifest.json").read_text())
    assert set(files) == set(EXPECTED) | set(crafted)
    assert all(f["error"] is None for f in files.values())
    assert not (tmp_path / MARKER).exists()


def test_findings_name_what_is_wrong(tmp_path: Path) -> None:
    def only(name: str, code: str) -> list[dict[str, Any]]:
        found = _security(_lint_json(fixture(f"malicious/{name}"), tmp_path))
        return [d for d in found if d["code"] == code]

    [bytecode] = only("lambda_marker.keras", "TFL601")
    assert bytecode["severity"] == "error" and "'payload'" in bytecode["message"]
    assert bytecode["location"]["name"] == "payload" and bytecode["suggestion"]

    [named] = only("named_function.keras", "TFL601")
    assert named["severity"] == "warning" and "'fixtures>scale'" in named["message"]
    assert "no bytecode" in named["message"]

    messages = sorted(d["message"] for d in only("os_system.h5", "TFL603"))
    assert any("os.system" in m and "'dense'" in m for m in messages)
    assert any("subprocess.check_output" in m and "training config" in m for m in messages)

    modules = sorted(d["message"] for d in only("foreign_module.keras", "TFL602"))
    assert len(modules) == 2
    assert any("'evil_pkg.hooks'" in m and "'payload'" in m for m in modules)
    assert any("'evil_pkg.init'" in m and "kernel_initializer" in m for m in modules)

    [toggle] = only("unsafe_deserialization.keras", "TFL604")
    assert toggle["location"]["name"] == "setup"
    [get_file] = only("get_file.keras", "TFL605")
    assert "keras.utils.get_file" in get_file["message"] and "download" in get_file["message"]
    [vocabulary] = only("vocabulary_path.keras", "TFL606")
    assert "'/etc/passwd'" in vocabulary["message"]
    assert vocabulary["location"]["op_type"] == "StringLookup"


LINT_WITHOUT_EXECUTING = r"""
import builtins, json, marshal, os, pickle, subprocess, sys
import tflint
# A first lint imports every module needed (imports run code); the second runs guarded.
tflint.lint(sys.argv[1], tflint.Config())

PARENT = os.getpid()

def guarded(original):
    def call(*args, **kwargs):
        # Importing a library module loads its own code; ast.parse compiles to a tree only
        # (sources are parsed, never run); the watched child process (HDF5 reader, bytecode
        # reader) may unmarshal Lambda code, never run it.
        caller = sys._getframe(1).f_code.co_filename
        if os.getpid() == PARENT and not caller.startswith("<frozen importlib") and not (
                original.__name__ == "compile" and caller.endswith(f"{os.sep}ast.py")):
            raise AssertionError(f"tflint called {original.__name__} while linting")
        return original(*args, **kwargs)
    return call

for module, name in [(marshal, "loads"), (pickle, "loads"), (os, "system"),
                     (subprocess, "Popen"), (builtins, "exec"), (builtins, "eval"),
                     (builtins, "compile")]:
    setattr(module, name, guarded(getattr(module, name)))
try:
    marshal.loads(b"")
    raise SystemExit("the guards are not in place")
except AssertionError:
    pass
result = tflint.lint(sys.argv[1], tflint.Config())
print(json.dumps({"codes": sorted({d.code for d in result.diagnostics}),
                  "errors": [f.error for f in result.files if f.error],
                  "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def test_lint_unmarshals_imports_and_executes_nothing(tmp_path: Path) -> None:
    folder = fixture("malicious/plain.keras").parent
    proc = subprocess.run([sys.executable, "-c", LINT_WITHOUT_EXECUTING, str(folder)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    outcome = json.loads(proc.stdout.splitlines()[-1])
    assert outcome["errors"] == []
    assert set(outcome["codes"]) >= {"TFL601", "TFL602", "TFL603", "TFL604", "TFL605", "TFL606"}
    imported = set(outcome["modules"])
    assert not imported & {"tensorflow", "keras", "tf_keras", "evil_pkg"}
    assert not (tmp_path / MARKER).exists()


# -- the payloads are real ---------------------------------------------------------------

KERAS_LOAD = r"""
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
flavor, path, safe = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
if flavor == "tf_keras":
    import tf_keras as keras
    kwargs = {}
else:
    import keras
    kwargs = {"safe_mode": safe}
try:
    keras.models.load_model(path, compile=False, **kwargs)
    print("loaded")
except Exception as exc:
    print("refused", type(exc).__name__)
"""


def _keras_load(name: str, flavor: str, safe_mode: bool, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    if flavor == "tf_keras":
        env["TF_USE_LEGACY_KERAS"] = "1"
    proc = subprocess.run(
        [sys.executable, "-c", KERAS_LOAD, flavor, str(fixture(f"malicious/{name}")),
         "1" if safe_mode else "0"],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip().splitlines()[-1]


@pytest.mark.tensorflow
@pytest.mark.slow
@pytest.mark.parametrize("name", ["lambda_marker.keras", "lambda_marker.h5"])
def test_keras_runs_the_lambda_payload_without_safe_mode(name: str, tmp_path: Path) -> None:
    linted = tmp_path / "tflint"
    linted.mkdir()
    assert {d["code"] for d in _security(_lint_json(fixture(f"malicious/{name}"), linted))} == {
        "TFL601"}
    assert not (linted / MARKER).exists()

    unsafe = tmp_path / "keras"
    unsafe.mkdir()
    assert _keras_load(name, "keras3", safe_mode=False, cwd=unsafe) == "loaded"
    assert (unsafe / MARKER).read_text() == "lambda"


@pytest.mark.tensorflow
@pytest.mark.slow
def test_keras_safe_mode_refuses_and_tf_keras_runs_the_h5_payload(tmp_path: Path) -> None:
    safe = tmp_path / "safe"
    safe.mkdir()
    assert _keras_load("lambda_marker.keras", "keras3", safe_mode=True, cwd=safe).startswith(
        "refused")
    assert not (safe / MARKER).exists()

    legacy = tmp_path / "tf_keras"
    legacy.mkdir()
    assert _keras_load("lambda_marker_tfkeras.h5", "tf_keras", safe_mode=True,
                       cwd=legacy) == "loaded"
    assert (legacy / MARKER).exists()


# -- the scan, on configs edited in place ---------------------------------------------------


def _base_config() -> dict[str, Any]:
    """``builtins_exec.json`` with its payload taken out: a plain Keras 3 config."""
    config = json.loads(fixture("malicious/builtins_exec.json").read_text())
    _dense(config)["activation"] = "relu"
    return config


def _dense(config: dict[str, Any]) -> dict[str, Any]:
    return next(e for e in config["config"]["layers"] if e["name"] == "dense")["config"]


def _codes(config: dict[str, Any], tmp_path: Path) -> list[tuple[str, str, str]]:
    path = tmp_path / "model.json"
    path.write_text(json.dumps(config))
    [file] = tflint.lint(path, tflint.Config(select=["security"])).files
    assert file.error is None, file.error
    return [(d.code, d.severity.value, d.message) for d in file.diagnostics]


def _function(module: str, name: str) -> dict[str, Any]:
    return {"module": module, "class_name": "function", "config": name,
            "registered_name": "function"}


@pytest.mark.parametrize("value, code, words", [
    ("relu", None, ""),
    (_function("builtins", "exec"), "TFL603", "builtins.exec"),
    (_function("builtins", "fixtures>scale"), None, ""),
    ({"module": "posix", "class_name": "system"}, "TFL603", "posix.system"),
    ("os.system", "TFL603", "os.system"),
    ("subprocess.Popen", "TFL603", "subprocess.Popen"),
    (_function("tensorflow.io", "write_file"), "TFL603", "which writes a file"),
    ("tf.keras.models.load_model", "TFL605", "loads another model file"),
    (_function("keras.saving", "load_model"), "TFL605", "keras.saving.load_model"),
    (_function("keras.activations", "gelu"), None, ""),
    (_function("keras_hub.src.layers", "gelu_approx"), None, ""),
    (_function("__main__", "my_activation"), None, ""),
    (_function("mypkg.acts", "swish2"), "TFL602", "'mypkg.acts'"),
    ({"module": "mypkg.inits", "class_name": "MyInit", "registered_name": "mypkg>MyInit"},
     "TFL602", "'mypkg.inits'"),
    ("keras.config.enable_unsafe_deserialization", "TFL604", "safe mode off"),
    ("please call enable_unsafe_deserialization() first", "TFL604", "safe mode off"),
    ("mypkg.version.2", None, ""),
])
def test_references_in_a_layer_setting(value: Any, code: str | None, words: str,
                                       tmp_path: Path) -> None:
    config = _base_config()
    _dense(config)["activation"] = value
    found = _codes(config, tmp_path)
    if code is None:
        assert found == []
    else:
        [(got, severity, message)] = found
        # A module found nowhere (neither Keras nor the project's source) is a warning.
        expected = "warning" if code == "TFL602" else "error"
        assert (got, severity) == (code, expected) and words in message
        assert "'activation' of layer 'dense' (Dense)" in message


def test_names_and_wiring_are_not_references(tmp_path: Path) -> None:
    config = _base_config()
    _dense(config)["kernel_initializer"]["config"]["name"] = "os.system"
    assert _codes(config, tmp_path) == []


def test_toggle_in_a_key_and_deep_in_nesting(tmp_path: Path) -> None:
    config = _base_config()
    deep: Any = {"enable_unsafe_deserialization": True}
    for _ in range(150):
        deep = [deep]
    _dense(config)["extra"] = deep
    [(code, _, message)] = _codes(config, tmp_path)
    assert code == "TFL604" and "'extra[0]" in message


def test_tf_keras_lambda_slots(tmp_path: Path) -> None:
    """tf.keras writes a Lambda as function / function_type / module triples."""
    config = _tf_keras_lambda_config()
    lam = next(e for e in config["config"]["layers"] if e["class_name"] == "Lambda")["config"]
    assert lam["function_type"] == "lambda"
    assert [c for c, _, _ in _codes(config, tmp_path)] == ["TFL601"]

    lam.update(function="system", function_type="function", module="os")
    [(code, _, message)] = _codes(config, tmp_path)
    assert code == "TFL603" and "os.system" in message

    lam.update(function="my_fn", module="__main__")
    [(code, severity, message)] = _codes(config, tmp_path)
    assert (code, severity) == ("TFL601", "warning") and "'__main__.my_fn'" in message

    lam.update(output_shape=["AAAA", None, None], output_shape_type="lambda")
    assert sorted(s for _, s, _ in _codes(config, tmp_path)) == ["error", "warning"]


def _tf_keras_lambda_config() -> dict[str, Any]:
    import h5py

    with h5py.File(fixture("keras2/lambda_sincos_tfkeras.h5"), "r") as handle:
        return json.loads(handle.attrs["model_config"])


def test_bytecode_outside_a_lambda(tmp_path: Path) -> None:
    config = _base_config()
    _dense(config)["hook"] = {"class_name": "__lambda__", "config": {"code": "4wEAAAAA"}}
    [(code, severity, message)] = _codes(config, tmp_path)
    assert (code, severity) == ("TFL601", "error") and "'hook' of layer 'dense'" in message


def test_security_rules_ignore_tflite() -> None:
    result = tflint.lint(fixture("clean/mobile_cnn.tflite"), tflint.Config(select=["security"]))
    assert result.files[0].error is None and result.diagnostics == []


def test_scan_bound_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    path = fixture("malicious/os_system.keras")
    config = tflint.Config(select=["security"])
    assert {d.code for d in tflint.lint(path, config).diagnostics} == {"TFL603"}
    full = _config_scan.scan_keras_config(tflint.lint(path, config).files[0].graph, "xnnpack")
    assert full.complete and full.values > 100

    monkeypatch.setattr(_config_scan, "MAX_VALUES", full.values // 4)
    diagnostics = tflint.lint(path, config).diagnostics
    assert "TFL607" in {d.code for d in diagnostics}
    [bound] = [d for d in diagnostics if d.code == "TFL607"]
    assert f"more than {full.values // 4} values" in bound.message


def test_scan_work_is_linear_in_the_config(tmp_path: Path) -> None:
    """The values visited grow with the config, not faster (no re-walks)."""
    def config_with(layers: int) -> dict[str, Any]:
        config = _base_config()
        entries = config["config"]["layers"]
        dense = next(e for e in entries if e["name"] == "dense")
        extra = []
        previous = "dense"
        for i in range(layers):
            entry = json.loads(json.dumps(dense))
            entry["name"] = entry["config"]["name"] = f"dense_{i}"
            entry["inbound_nodes"][0]["args"][0]["config"]["keras_history"] = [previous, 0, 0]
            previous = entry["name"]
            extra.append(entry)
        entries[entries.index(dense) + 1:entries.index(dense) + 1] = extra
        head = next(e for e in entries if e["name"] == "head")
        head["inbound_nodes"][0]["args"][0]["config"]["keras_history"] = [previous, 0, 0]
        return config

    counts = []
    for layers in (200, 400, 800):
        path = tmp_path / f"m{layers}.json"
        path.write_text(json.dumps(config_with(layers)))
        [file] = tflint.lint(path, tflint.Config(select=["security"])).files
        assert file.error is None and len(file.graph) == layers + 2
        counts.append(_config_scan.scan_keras_config(file.graph, "xnnpack").values)
    # Each added layer costs the same number of visits, whatever the size.
    assert (counts[1] - counts[0]) / 200 == (counts[2] - counts[1]) / 400 > 0


def test_payload_detection_works_from_python() -> None:
    result = tflint.lint(fixture("malicious/os_system.h5"), tflint.Config())
    assert result.exit_code() == 1
    assert {d.code for d in result.diagnostics} & SECURITY_CODES == {"TFL603"}
