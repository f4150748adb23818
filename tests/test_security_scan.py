"""The container scan, the bytecode reader, decoding, resolution and grading of the security scan.

The crafted fixtures in ``fixtures/malicious/crafted/`` come from
``scripts/make_security_corpus.py --fixtures`` (real tiny models with one
payload edited in); their ``manifest.json`` says which code each must get
at error severity.
"""

from __future__ import annotations

import base64
import json
import marshal
import os
import pickle
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from conftest import fixture

import tflint
from tflint import bytecode, pickles
from tflint.analyses import security
from tflint.errors import ModelFileError
from tflint.loaders.keras_files import decode_json_bytes

CRAFTED = fixture("malicious/crafted/manifest.json").parent
MANIFEST: dict[str, dict[str, Any]] = json.loads((CRAFTED / "manifest.json").read_text())
ROOT = Path(__file__).resolve().parent.parent


def _diagnostics(path: Path, **config: Any) -> list[tuple[str, str, str]]:
    [file] = tflint.lint(path, tflint.Config(select=["security"], **config)).files
    assert file.error is None, file.error
    return [(d.code, d.severity.value, d.message) for d in file.diagnostics]


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_crafted_payload_is_an_error_with_its_code(name: str) -> None:
    found = _diagnostics(CRAFTED / name)
    expected = MANIFEST[name]["code"]
    errors = {code for code, severity, _ in found if severity == "error"}
    if expected is None:  # a harmless Lambda: stored code, a warning
        assert errors == set() and [c for c, s, _ in found] == ["TFL601"]
        assert found[0][1] == "warning" and "tensor math" in found[0][2]
    else:
        assert errors == {expected}, found


class _System:
    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.system, ("id",)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_globals_read_from_opcodes(protocol: int) -> None:
    data = pickle.dumps([_System(), "os", "system"], protocol=protocol)
    report = pickles.read_pickle(data)
    assert (os.system.__module__, "system") in report.globals
    assert report.calls >= 1 and report.error is None and report.length == len(data)
    assert pickles.looks_like_pickle(data[:64])


def test_stack_global_from_memo_and_computed_names() -> None:
    # protocol 4: module and name pushed as strings, memoized, fetched back by BINGET.
    data = (b"\x80\x04\x8c\x02os\x94\x8c\x06system\x94h\x00h\x01\x93\x94.")
    assert pickles.read_pickle(data).globals == [("os", "system")]
    computed = b"\x80\x04K\x01K\x02\x93."  # STACK_GLOBAL of two integers
    assert pickles.read_pickle(computed).computed_global


def test_unsafe_zip_name_is_a_finding_not_a_refusal(tmp_path: Path) -> None:
    source = fixture("malicious/plain.keras")
    target = tmp_path / "m.keras"
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(target, "w") as out:
        for info in archive.infolist():
            out.writestr(info, archive.read(info))
        out.writestr("../escape.txt", b"x")
    [(code, severity, message)] = _diagnostics(target)
    assert (code, severity) == ("TFL608", "error") and "'../escape.txt'" in message


def test_plain_data_pickle_is_a_warning(tmp_path: Path) -> None:
    target = tmp_path / "m.keras"
    shutil.copy(fixture("malicious/plain.keras"), target)
    with zipfile.ZipFile(target, "a") as archive:
        archive.writestr("assets/table.pkl", pickle.dumps({"a": [1, 2]}, protocol=2))
    [(code, severity, _)] = _diagnostics(target)
    assert (code, severity) == ("TFL608", "warning")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be",
                                      "utf-32", "utf-32-le", "utf-32-be"])
def test_json_decoded_as_json_loads_decodes_it(encoding: str) -> None:
    text = '{"class_name": "Sequential", "config": {"name": "\u00e9"}}'
    data = text.encode(encoding)
    assert json.loads(data) == json.loads(decode_json_bytes(data))


def test_json_in_a_broken_encoding_is_one_error() -> None:
    with pytest.raises(ModelFileError, match=r"config\.json is not UTF-16"):
        decode_json_bytes(b"\xff\xfe{\x00\x00\xd8", "config.json")


def _code(function: Any) -> str:
    return base64.b64encode(marshal.dumps(function.__code__)).decode()


def test_bytecode_profile_and_grades() -> None:
    softsign, evil = (lambda x: x / (1 + abs(x))), (lambda x: os.system("id") or x)
    def spoof(x: Any) -> Any:
        return getattr(x, "sh" + str(x))()

    profiles = bytecode.profile_codes([_code(softsign), _code(evil), _code(spoof), "@@"])
    assert profiles[0].globals == ["abs"]
    assert security.grade_code(profiles[0])[0] == "warning"
    assert profiles[1].chains == ["os.system"]
    severity, detail = security.grade_code(profiles[1])
    assert severity == "error" and "os" in detail
    assert profiles[2].computed_attributes == 1
    assert security.grade_code(profiles[2])[0] == "error"
    assert profiles[3].needs is not None or profiles[3].error is not None


def test_bytecode_of_another_python_is_not_decoded() -> None:
    raw = bytearray(base64.b64decode(_code(lambda x: x + 1)))
    assert bytecode.layout_version(bytes(raw)) is None
    raw[1:1] = bytes(4)  # one more 32-bit field before the bytecode: 3.8-3.10
    assert bytecode.layout_version(bytes(raw)) == "3.8-3.10"
    [profile] = bytecode.profile_codes([base64.b64encode(bytes(raw)).decode()])
    severity, detail = security.grade_code(profile)
    assert severity == "error" and "Python 3.8-3.10" in detail


def test_bytecode_reader_crash_is_a_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bytecode, "_profile_in_child", _crash)
    [profile] = bytecode.profile_codes([_code(lambda x: x)])
    assert profile.error is not None and "crashed" in profile.error
    assert security.grade_code(profile)[0] == "error"


def _crash(texts: list[str]) -> None:
    import signal

    os.kill(os.getpid(), signal.SIGSEGV)


def _with_initializer(value: dict[str, Any], tmp_path: Path) -> Path:
    config = json.loads(fixture("malicious/builtins_exec.json").read_text())
    dense = next(e for e in config["config"]["layers"] if e["name"] == "dense")["config"]
    dense["activation"] = "relu"
    dense["kernel_initializer"] = value
    path = tmp_path / "model.json"
    path.write_text(json.dumps(config))
    return path


@pytest.mark.parametrize("module, registered, code", [
    ("keras.src.utils", "get_file", "TFL605"),
    ("tensorflow", "py_function", "TFL603"),
    ("keras.src.initializers", "GlorotUniform", None),
])
def test_tf_keras_registered_name_fallback(module: str, registered: str, code: str | None,
                                           tmp_path: Path) -> None:
    path = _with_initializer({"module": module, "class_name": "GlorotUniform", "config": {},
                              "registered_name": registered}, tmp_path)
    assert [c for c, _, _ in _diagnostics(path)] == ([code] if code else [])


def test_ecosystem_modules_are_not_foreign(tmp_path: Path) -> None:
    path = _with_initializer({"module": "tensorflow_model_optimization.python.core",
                              "class_name": "QuantizeWrapperV2", "config": {}}, tmp_path)
    assert _diagnostics(path) == []
    path = _with_initializer({"module": "tensorflow_model_optimization.x",
                              "class_name": "function", "config": "py_function"}, tmp_path)
    assert [c for c, _, _ in _diagnostics(path)] == ["TFL603"]


def test_custom_module_found_in_the_project_source(tmp_path: Path) -> None:
    path = _with_initializer({"module": "mypkg.inits", "class_name": "MyInit", "config": {},
                              "registered_name": "mypkg>MyInit"}, tmp_path)
    [(code, severity, message)] = _diagnostics(path, sources=[str(tmp_path / "proj")])
    assert (code, severity) == ("TFL602", "warning") and "not found" in message
    package = tmp_path / "proj" / "src" / "mypkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "inits.py").write_text("class MyInit:\n    pass\n")
    assert _diagnostics(path, sources=[str(tmp_path / "proj")]) == []


def test_source_option_from_the_command_line(tmp_path: Path) -> None:
    path = _with_initializer({"module": "mypkg.inits", "class_name": "MyInit", "config": {}},
                             tmp_path)
    (tmp_path / "code" / "mypkg").mkdir(parents=True)
    (tmp_path / "code" / "mypkg" / "inits.py").write_text("def MyInit():\n    pass\n")
    run = subprocess.run([sys.executable, "-m", "tflint.cli", "--isolated", "--select",
                          "security", "--source", str(tmp_path / "code"), str(path)],
                         capture_output=True, text=True, check=False, cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr


def test_budget_reported_when_the_last_list_overflows(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    config = json.loads(fixture("malicious/builtins_exec.json").read_text())
    config["config"]["layers"][-1]["config"]["padding_values"] = list(range(5000))
    path = tmp_path / "model.json"
    path.write_text(json.dumps(config))
    [file] = tflint.lint(path, tflint.Config(select=["security"])).files
    full = security.scan_keras_config(file.graph, "xnnpack")
    assert full.complete
    monkeypatch.setattr(security, "MAX_VALUES", full.values - 100)
    codes = [d.code for d in tflint.lint(path, tflint.Config(select=["security"])).diagnostics]
    assert "TFL607" in codes


def test_security_only_run_skips_placements() -> None:
    path = fixture("malicious/plain.keras")
    [fast] = tflint.lint(path, tflint.Config(select=["security"])).files
    [full] = tflint.lint(path, tflint.Config()).files
    assert fast.placements == {} and full.placements != {}


def test_file_key_table_matches_the_installed_sources() -> None:
    venv = Path("/work/venvs/kerashub/lib/python3.11/site-packages")
    import importlib.util

    if not (venv / "keras_hub").is_dir() and importlib.util.find_spec("keras_hub") is None:
        pytest.skip("keras_hub is not installed: its source cannot be re-read")
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "generate_file_keys.py"),
                          "--check"], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr


def test_file_key_table_holds_the_tokenizers() -> None:
    keys = security.knowledge().file_keys
    assert keys["WordPieceTokenizer"] == ("vocabulary",)
    assert set(keys["BytePairTokenizer"]) == {"vocabulary", "merges"}
    assert keys["SentencePieceTokenizer"] == ("proto",)
    assert keys["StringLookup"] == ("vocabulary",)
