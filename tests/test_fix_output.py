"""What ``--fix``, ``--diff`` and ``--convert`` say they did, and did not do.

None of these runs writes a model, so none imports Keras or TensorFlow: a
refused fix, an existing output, a choice no model can take and a run with
nothing to fix are all decided before Keras would be needed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import fixture, run_tflint

from tflint.config import Config
from tflint.convert import ConvertOptions
from tflint.engine import FileResult, Result, lint, select_rules
from tflint.fixer.command import FixRequest, _before, _Run
from tflint.fixer.writer import converted_output, default_output
from tflint.reporters.text_report import render


def copies(folder: Path, *relatives: str) -> list[Path]:
    paths = []
    for relative in relatives:
        target = folder / Path(relative).name
        shutil.copyfile(fixture(relative), target)
        paths.append(target)
    return paths


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def tflint_in(folder: Path, *args: str | Path):  # type: ignore[no-untyped-def]
    return run_tflint("--isolated", *args, cwd=folder)


# -- output names -----------------------------------------------------------------------------


def test_models_differing_only_by_suffix_never_share_an_output(tmp_path: Path) -> None:
    sources = {"x.keras": "keras", "x.h5": "h5", "x.hdf5": "h5", "x.json": "json",
               "x.H5": "h5"}
    outputs = {name: default_output(tmp_path / name, container)
               for name, container in sources.items()}
    assert {name: path.name for name, path in outputs.items()} == {
        "x.keras": "x.fixed.keras", "x.h5": "x.fixed.h5.keras", "x.hdf5": "x.fixed.hdf5.keras",
        "x.json": "x.fixed.json", "x.H5": "x.fixed.H5.keras"}
    written = [*outputs.values(), *(converted_output(p) for name, p in outputs.items()
                                    if sources[name] != "json")]
    assert len(set(written)) == len(written)
    assert not {p.name for p in written} & set(sources)
    assert converted_output(outputs["x.h5"]).name == "x.fixed.h5.tflite"


# -- failures are not unreadable files --------------------------------------------------------


def test_a_refused_fix_shows_the_findings_and_says_not_fixed(tmp_path: Path) -> None:
    (model,) = copies(tmp_path, "seed/lambda_sincos.keras")
    run = tflint_in(tmp_path, "--fix", "--input-shape", "features=1,16", model.name)
    assert run.code == 2, run.out + run.err
    lines = run.out.splitlines()
    assert sum(line.startswith("lambda_sincos.keras:1:1: warning ") for line in lines) == 1
    assert ("lambda_sincos.keras: fix: not fixed: the rewritten model still has security "
            "findings (TFL601: 'function' of layer 'sincos' (Lambda) is marshalled Python "
            "bytecode); Keras would run code stored in it (pass --trust-model only for a file "
            "you wrote)") in lines
    assert lines[-1] == "Found 1 diagnostic (1 warning) in 1 file; 1 file not fixed."
    assert "could not be read" not in run.out and "error:" not in run.out
    assert names(tmp_path) == ["lambda_sincos.keras"]
    report = tflint_in(tmp_path, "--fix", "--input-shape", "features=1,16", "--format", "json",
                       model.name)
    [file] = json.loads(report.out)["files"]
    assert report.code == 2 and file["error"] is None and len(file["diagnostics"]) == 1
    assert file["failure"]["action"] == "fix"
    assert file["failure"]["reason"].startswith("the rewritten model still has security findings")


def test_an_existing_output_is_not_fixed_and_not_unreadable(tmp_path: Path) -> None:
    (model,) = copies(tmp_path, "seed/custom_activation.keras")
    (tmp_path / "custom_activation.fixed.keras").write_bytes(b"keep me")
    run = tflint_in(tmp_path, "--fix", "--unsafe-fixes", model.name)
    assert run.code == 2
    assert ("custom_activation.keras: fix: not fixed: custom_activation.fixed.keras already "
            "exists (pass --force to overwrite it)") in run.out.splitlines()
    assert run.out.splitlines()[-1] == ("Found 6 diagnostics (6 warnings) in 1 file; 1 file not "
                                        "fixed.")
    assert (tmp_path / "custom_activation.fixed.keras").read_bytes() == b"keep me"


def test_a_model_that_cannot_be_planned_is_not_fixed_nor_shown(tmp_path: Path) -> None:
    """The config lints, but the weights the fix would carry over cannot be read."""
    (model,) = copies(tmp_path, "seed/custom_activation.keras")
    damaged = tmp_path / "damaged.keras"
    with zipfile.ZipFile(model) as source, zipfile.ZipFile(damaged, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            target.writestr(info, b"\x89HDF\r\n\x1a\n" + bytes(64)
                            if info.filename.endswith(".h5") else data)
    model.unlink()
    run = tflint_in(tmp_path, "--fix", "--unsafe-fixes", damaged.name)
    assert run.code == 2
    lines = run.out.splitlines()
    assert "damaged.keras: fix: not fixed: cannot read the model file: Unable to" in run.out
    assert sum(" warning TFL420 " in line for line in lines) == 3  # the findings are shown
    assert lines[-1].endswith("in 1 file; 1 file not fixed.")
    run = tflint_in(tmp_path, "--diff", "--unsafe-fixes", damaged.name)
    assert run.code == 2
    assert run.out.startswith("damaged.keras: diff: not shown: cannot read the model file: ")
    assert names(tmp_path) == ["damaged.keras"]


def test_the_closing_line_counts_each_failed_action_apart() -> None:
    unreadable = FileResult("a.tflite", error="not a model file")
    unfixed = FileResult("b.keras", kind="keras")
    unfixed.fail("fix", "b.fixed.keras already exists")
    unverified = FileResult("c.tflite", kind="tflite")
    unverified.fail("verify", "LiteRT runtime crashed (SIGSEGV)")
    text = render(Result([unreadable, unfixed, unverified]))
    assert "b.keras: fix: not fixed: b.fixed.keras already exists" in text
    assert "c.tflite: verify: not verified: LiteRT runtime crashed (SIGSEGV)" in text
    assert text.splitlines()[-1] == ("No findings in 2 files linted; 1 file could not be read; "
                                     "1 file not fixed; 1 file not verified.")
    assert Result([unfixed]).exit_code() == 2 and Result([unfixed]).exit_code(exit_zero=True) == 2
    assert unfixed.to_dict()["failure"] == {"action": "fix",
                                            "reason": "b.fixed.keras already exists"}


# -- options with nothing to act on -----------------------------------------------------------


def test_fix_and_diff_say_a_tflite_is_not_rewritten(tmp_path: Path) -> None:
    (model,) = copies(tmp_path, "clean/mobile_cnn.tflite")
    run = tflint_in(tmp_path, "--fix", model.name)
    assert run.code == 0, run.out + run.err
    assert ("mobile_cnn.tflite: fix: not fixed: a .tflite is not rewritten; fix the Keras model "
            "it came from and convert it again (--fix --convert)") in run.out.splitlines()
    assert run.out.splitlines()[-1] == "All checks passed (1 file)."
    run = tflint_in(tmp_path, "--diff", model.name)
    assert run.code == 0
    assert run.out.startswith("mobile_cnn.tflite: diff: nothing to show: a .tflite is not "
                              "rewritten")
    assert names(tmp_path) == ["mobile_cnn.tflite"]


def test_diff_says_which_writing_options_it_leaves_unused(tmp_path: Path) -> None:
    (model,) = copies(tmp_path, "seed/dynamic_reshape.keras")
    run = tflint_in(tmp_path, "--diff", "--convert", "--force", "--unsafe-fixes", model.name)
    assert run.code == 1, run.out + run.err
    assert run.out.splitlines()[0] == ("tflint: --convert, --force not used: --diff only shows "
                                       "what --fix would change; nothing is written or "
                                       "converted")
    assert names(tmp_path) == ["dynamic_reshape.keras"]


def test_convert_with_nothing_to_fix_says_it_did_not_run(tmp_path: Path) -> None:
    (model,) = copies(tmp_path, "seed/lambda_sincos.keras")
    run = tflint_in(tmp_path, "--fix", "--convert", model.name)
    assert run.code == 1, run.out + run.err
    lines = run.out.splitlines()
    assert "lambda_sincos.keras: nothing to fix" in lines
    assert ("lambda_sincos.keras: convert: not run: nothing was fixed, so there is no fixed "
            "model to convert") in lines
    assert names(tmp_path) == ["lambda_sincos.keras"]


# -- command-line choices no model can take ---------------------------------------------------


@pytest.mark.parametrize(("option", "value", "reason"), [
    ("--replace-with", "nosuch=ReLU6", "no layer 'nosuch' in the model"),
    ("--replace-with", "custom_act=ReLU6",
     "no layer 'custom_act' in the model (did you mean 'custom_act3', 'custom_act2', "
     "'custom_act1'?)"),
    ("--input-shape", "nosuch=1,8,8,3", "no input 'nosuch' in the model (inputs: image)"),
    ("--input-shape", "image=1,8", "input 'image' has rank 4, not 2"),
    ("--input-shape", "image=1,9,8,3",
     "dimension 1 of input 'image' is 8, not 9; only unknown dimensions can be set"),
])
def test_a_choice_no_model_takes_is_a_usage_error(tmp_path: Path, option: str, value: str,
                                                   reason: str) -> None:
    (model,) = copies(tmp_path, "seed/custom_activation.keras")
    run = tflint_in(tmp_path, "--fix", "--unsafe-fixes", option, value, model.name)
    assert run.code == 2
    assert run.err == f"tflint: error: {option} {value}: custom_activation.keras: {reason}\n"
    assert run.out == ""
    assert names(tmp_path) == ["custom_activation.keras"]


def test_a_choice_one_model_of_the_run_takes_is_no_usage_error(tmp_path: Path) -> None:
    copies(tmp_path, "seed/custom_activation.keras", "seed/dynamic_reshape.keras")
    run = tflint_in(tmp_path, "--diff", "--replace-with", "custom_act1=ReLU6",
                    "custom_activation.keras", "dynamic_reshape.keras")
    assert run.code == 1, run.out + run.err
    assert ('custom_activation.keras: would fix TFL103 in layer "custom_act1": replaced '
            "CustomActivation with ReLU(max_value=6.0) [unsafe]") in run.out
    assert ('dynamic_reshape.keras: left --replace-with in layer "custom_act1": no layer '
            "'custom_act1' in the model") in run.out


# -- nothing to fix: no Keras -----------------------------------------------------------------

_MODULES_AFTER = """
import atexit, json, sys
atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))
sys.argv = ["tflint", *sys.argv[1:]]
from tflint.cli import main
main()
"""


@pytest.mark.parametrize("args", [("--fix", "lambda_sincos.keras"),
                                  ("--fix", "custom_activation.keras"),
                                  ("--fix", "--input-shape", "features=1,16",
                                   "lambda_sincos.keras")])
def test_a_fix_that_writes_nothing_imports_neither_keras_nor_tensorflow(
        tmp_path: Path, args: tuple[str, ...]) -> None:
    copies(tmp_path, "seed/lambda_sincos.keras", "seed/custom_activation.keras")
    proc = subprocess.run([sys.executable, "-c", _MODULES_AFTER, "--isolated", *args],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode in (1, 2), proc.stderr
    modules = set(json.loads(proc.stderr.strip().splitlines()[-1]))
    assert not {"keras", "tensorflow", "tf_keras"} & modules


# -- the before column of --convert -----------------------------------------------------------


def _run(**options: object) -> _Run:
    return _Run(FixRequest(fix=True, convert=True, **options),  # type: ignore[arg-type]
                Config(), echo=lambda line: None)


def test_the_before_column_takes_the_tflite_next_to_the_model(tmp_path: Path) -> None:
    model, sibling = copies(tmp_path, "seed/dynamic_reshape.keras", "seed/dynamic_reshape.tflite")
    [original] = lint(str(model)).files
    rules = select_rules(Config())
    path, linted, reason = _before(_run(), original, tmp_path, rules, ConvertOptions())
    assert path == sibling and linted is not None and linted.kind == "tflite"
    assert reason == f"{sibling}, found next to {model} (--baseline FILE takes another)"
    baseline = tmp_path / "other.tflite"
    shutil.copyfile(fixture("seed/custom_activation.tflite"), baseline)
    path, _, reason = _before(_run(baseline=baseline), original, tmp_path, rules,
                              ConvertOptions())
    assert path == baseline and reason == f"--baseline {baseline}"
    sibling.unlink()  # the original holds a Lambda: Keras must not load it to convert it
    path, linted, reason = _before(_run(), original, tmp_path, rules, ConvertOptions())
    assert path is None and linted is None
    assert reason == ("not converted: layer 'batch_reshape' is a Lambda that Keras cannot load "
                      "safely")
