"""The command line as users call it: formats, selection, exit codes, bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import fixture, run_tflint


def test_flex_and_custom_ops_reported_with_location() -> None:
    run = run_tflint(fixture("tflite/flex_op.tflite"), fixture("tflite/custom_op.tflite"))
    assert run.code == 1, run.err
    lines = [line for line in run.out.splitlines() if " TFL10" in line]
    assert any(" error TFL101 Flex" in line and "subgraph 0 / op " in line for line in lines)
    assert any(" TFL102 custom op " in line for line in lines)


def test_clean_model_exits_zero() -> None:
    run = run_tflint(fixture("clean/mobile_cnn.tflite"))
    assert run.code == 0, run.out
    assert "All checks passed (1 file)." in run.out


def test_exit_zero_keeps_diagnostics_but_exits_zero() -> None:
    run = run_tflint("--exit-zero", fixture("custom_code/lambda_opaque.h5"))
    assert run.code == 0
    assert "TFL103" in run.out


def test_select_and_ignore_by_code_prefix_and_category() -> None:
    path = fixture("custom_code/lambda_opaque.h5")

    def codes(*args: str) -> set[str]:
        run = run_tflint("--quiet", *args, path)
        return {line.split()[2] for line in run.out.splitlines()}

    everything = codes()
    assert {"TFL103", "TFL601"} <= everything
    assert codes("--ignore", "TFL103") == everything - {"TFL103"}
    assert not any(c.startswith("TFL1") for c in codes("--ignore", "TFL1"))
    assert codes("--select", "security") == {c for c in everything if c.startswith("TFL6")}
    assert codes("--select", "opaque-layer") == {"TFL103"}
    assert codes("--select", "unsupported-op", "--ignore", "TFL1") == set()
    assert codes("--select", "TFL1", "--ignore", "unsupported-op") == {"TFL103"}
    assert codes("--select", "ALL", "--ignore", "security", "--select", "TFL601") == everything
    assert run_tflint("--select", "TFL101", path).code == 0


def test_unknown_selector_is_a_usage_error() -> None:
    run = run_tflint("--select", "NOPE999", fixture("seed/lambda_sincos.h5"))
    assert run.code == 2
    assert "unknown rule selector 'NOPE999'" in run.err
    assert "Traceback" not in run.err


def test_no_paths_is_a_usage_error() -> None:
    run = run_tflint()
    assert run.code == 2 and "no model file" in run.err


def test_folder_is_walked_for_model_files(tmp_path: Path) -> None:
    shutil.copy(fixture("seed/lambda_sincos.h5"), tmp_path / "a.h5")
    (tmp_path / "sub").mkdir()
    shutil.copy(fixture("clean/mobile_cnn.tflite"), tmp_path / "sub" / "b.tflite")
    (tmp_path / "notes.txt").write_text("not a model")
    (tmp_path / "package.json").write_text('{"name": "x"}')
    run = run_tflint("--format", "json", tmp_path)
    paths = sorted(Path(f["path"]).name for f in run.json()["files"])
    assert paths == ["a.h5", "b.tflite"]


def test_bad_inputs_get_one_line_each_and_others_still_linted(tmp_path: Path) -> None:
    good = tmp_path / "good.h5"
    shutil.copy(fixture("custom_code/lambda_opaque.h5"), good)
    real = fixture("clean/mobile_cnn.tflite").read_bytes()
    bad = {
        "empty.tflite": b"",
        "truncated.tflite": real[: len(real) // 3],
        "flipped.tflite": real[:4] + b"XXXX" + real[8:],
        "wrong_ext.h5": real,  # a TFLite model under an HDF5 name is still linted
        "text.keras": b"hello",
        "notkeras.keras": _zip_without_config(),
        "weights_only.h5": _hdf5_without_config(tmp_path),
        "not_model.json": b'{"name": "not a model"}',
    }
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
    run = run_tflint(*sorted(tmp_path.iterdir()))
    assert run.code == 2
    assert "Traceback" not in run.out + run.err
    for name in bad:
        if name == "wrong_ext.h5":
            assert f"{tmp_path / name}: error" not in run.out
            continue
        error_lines = [line for line in run.out.splitlines()
                       if line.startswith(f"{tmp_path / name}: error: ")]
        assert len(error_lines) == 1, (name, run.out)
    assert f"{good}:1:1: warning TFL103" in run.out


def _zip_without_config() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "just text")
    return buffer.getvalue()


def _hdf5_without_config(tmp_path: Path) -> bytes:
    import h5py

    path = tmp_path / "weights_source.hdf"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("kernel", data=[1.0, 2.0])
    data = path.read_bytes()
    path.unlink()
    return data


def test_output_file_is_written_whole_and_only_on_success(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    run = run_tflint("--format", "json", "-o", report, fixture("seed/lambda_sincos.h5"))
    assert run.code == 1 and run.out == ""
    assert report.read_text().startswith("{")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    # A usage error must not leave a report behind.
    other = tmp_path / "other.json"
    assert run_tflint("--select", "NOPE1", "-o", other, fixture("seed/lambda_sincos.h5")).code == 2
    assert not other.exists()


def test_statistics_and_quiet() -> None:
    path = fixture("seed/custom_activation.h5")
    run = run_tflint("--statistics", path)
    rows = [line.split() for line in run.out.splitlines() if line.strip()[:1].isdigit()]
    # As ruff prints them: count, code, fixable mark, name; and no finding lines.
    assert ["TFL103", "[", "]", "opaque-layer"] in [row[1:] for row in rows]
    assert not any(":1:1: " in line for line in run.out.splitlines())
    stats = run_tflint("--statistics", "--format", "json", path).json()["statistics"]
    assert {"code": "TFL103", "rule": "opaque-layer"}.items() <= stats[0].items() or any(
        row["code"] == "TFL103" and row["count"] >= 1 for row in stats)
    quiet = run_tflint("--quiet", path)
    assert all(line.startswith(f"{path}:1:1: ") for line in quiet.out.splitlines())


def test_rule_docs_and_listing() -> None:
    listing = run_tflint("rules")
    assert listing.code == 0
    assert {"TFL101", "TFL102", "TFL103"} <= {line.split()[0] for line in listing.out.splitlines()}
    doc = run_tflint("rule", "TFL103")
    assert doc.code == 0
    for section in ("## What it does", "## Why is this bad", "## Example", "## How to fix"):
        assert section in doc.out
    assert run_tflint("rule", "opaque-layer").out == doc.out
    unknown = run_tflint("rule", "XYZ999")
    assert unknown.code == 2 and "unknown rule" in unknown.err


def test_version() -> None:
    from tflint import __version__

    run = run_tflint("--version")
    assert run.code == 0 and run.out.strip() == f"tflint {__version__}"


def test_text_summary_gives_the_model_facts() -> None:
    path = fixture("clean/mobile_cnn_int8.tflite")
    assert "inputs: " not in run_tflint(path).out  # facts only when asked for
    lines = run_tflint("--show-facts", path).out.splitlines()
    facts = {line.split(": ", 2)[1]: line.split(": ", 2)[2] for line in lines
             if line.startswith(f"{path}: ") and ": " in line[len(str(path)) + 2:]}
    assert facts["inputs"].startswith("serving_default_image:0 int8[1,16,16,3] (scale ")
    assert facts["ops"].startswith("CONV_2D x2, ")
    assert "int8" in facts["weights"] and "min_runtime_version" in facts["weights"]
    loop = run_tflint("--verbose", fixture("tflite/while_loop.tflite")).out
    assert "subgraphs: main (1 op), while_cond (1 op), while_body (4 ops)" in loop
    assert all(line.startswith(f"{path}:1:1: ") for line in run_tflint("-q", path).out.splitlines())
