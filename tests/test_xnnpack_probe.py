"""The XNNPACK prediction equals the installed runtime on every probe model.

``fixtures/probe`` holds about a thousand tiny models (one op or a short
pattern each, across dtypes, quantizations, shapes and option values) made by
``scripts/probe_xnnpack.py``, with a manifest of what the runtime did with each
when they were generated.  Here the runtime runs them again (many per child
process) and tflint predicts them: any op whose verdict differs, any partition
count or allocation outcome that differs, fails.  Comparing the runtime with
the manifest as well catches a runtime upgrade that changes support even where
the prediction happens to still match.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, ROOT
from tflite_builder import single_custom_op_model

import tflint
from tflint.verify import compare, delegation_from_nodes, summary

sys.path.insert(0, str(ROOT / "scripts"))
import probe_xnnpack

PROBE = FIXTURES / "probe"
PROFILE = json.loads((ROOT / "tflint" / "targets" / "xnnpack_ops.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return json.loads((PROBE / probe_xnnpack.MANIFEST).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def paths(manifest: dict[str, Any]) -> list[Path]:
    return [PROBE / name for name in sorted(manifest["models"])]


@pytest.fixture(scope="module")
def reports(paths: list[Path]) -> dict[Path, dict[str, Any]]:
    return probe_xnnpack.runtime_reports(paths)


@pytest.fixture(scope="module")
def predictions(paths: list[Path]) -> dict[Path, tflint.FileResult]:
    result = tflint.lint([str(p) for p in paths], config=tflint.Config(select=["TFL110"]))
    return dict(zip(paths, result.files, strict=True))


def _verdicts(paths: list[Path], reports: dict[Path, dict[str, Any]],
              predictions: dict[Path, tflint.FileResult]) -> dict[Path, dict[str, Any]]:
    verdicts = {}
    for path in paths:
        report = reports[path]
        assert "failure" not in report, f"{path.name}: runtime {report['failure']}"
        actual = delegation_from_nodes(report["nodes"], report["allocation_error"],
                                       report["unfused_nodes"])
        verdicts[path] = compare(predictions[path].delegation, actual)
    return verdicts


def test_manifest_lists_every_probe_model_and_the_set_stays_small(
        manifest: dict[str, Any]) -> None:
    on_disk = {p.name for p in PROBE.glob("*.tflite")}
    assert on_disk == set(manifest["models"])
    assert sum((PROBE / name).stat().st_size for name in on_disk) < 3_000_000
    for entry in manifest["models"].values():
        assert entry["op"] and entry["variant"] and entry["source"] in ("flatbuffer", "converter")
        assert {"ops", "partitions", "allocation_failure"} <= set(entry["runtime"])


@pytest.mark.runtime
def test_the_installed_runtime_is_the_one_the_manifest_records(
        manifest: dict[str, Any]) -> None:
    assert manifest["runtime"] == probe_xnnpack.runtime_version()


@pytest.mark.runtime
def test_the_runtime_still_does_what_the_manifest_records(
        manifest: dict[str, Any], paths: list[Path],
        reports: dict[Path, dict[str, Any]]) -> None:
    drift = [f"{p.name}: recorded {manifest['models'][p.name]['runtime']}, now "
             f"{probe_xnnpack.observed(reports[p])}" for p in paths
             if probe_xnnpack.observed(reports[p]) != manifest["models"][p.name]["runtime"]]
    assert not drift, "\n".join(drift)


@pytest.mark.runtime
def test_prediction_equals_the_runtime_op_by_op_on_every_probe_model(
        paths: list[Path], reports: dict[Path, dict[str, Any]],
        predictions: dict[Path, tflint.FileResult]) -> None:
    verdicts = _verdicts(paths, reports, predictions)
    differing = [f"{p.name}: {summary(v)}" for p, v in verdicts.items() if not v["matches"]]
    assert not differing, "\n".join(differing)
    ops = sum(v["ops"] for v in verdicts.values())
    assert sum(v["agreeing_ops"] for v in verdicts.values()) == ops > len(paths)


def test_every_profile_op_is_probed_both_taken_and_not_taken(
        manifest: dict[str, Any]) -> None:
    outcomes: dict[str, set[bool]] = {}
    for entry in manifest["models"].values():
        failed = entry["runtime"]["allocation_failure"] == "xnnpack"
        for op in entry["runtime"]["ops"]:
            outcomes.setdefault(op["op"], set()).add(op["delegated"] and not failed)
    unprobed = {op: outcomes.get(op, set()) for op in PROFILE["ops"]
                if outcomes.get(op, set()) != {True, False}}
    assert not unprobed


def test_ops_claimed_then_failing_are_predicted_as_allocation_failures(
        manifest: dict[str, Any], predictions: dict[Path, tflint.FileResult]) -> None:
    failing = [PROBE / name for name, entry in manifest["models"].items()
               if entry["runtime"]["allocation_failure"] == "xnnpack"]
    assert len(failing) > 20
    for path in failing:
        delegation = predictions[path].delegation
        assert delegation["allocation_fails"], path.name
        claimed = [op for op in delegation["cpu_ops"] if op.get("fails_allocation")]
        assert claimed and all("the interpreter will fail to allocate tensors" in op["reason"]
                               and "is claimed by XNNPACK" in op["reason"] for op in claimed)


@pytest.mark.runtime
def test_a_crash_is_recorded_for_its_model_and_the_batch_carries_on(tmp_path: Path) -> None:
    crashing = tmp_path / "crash.tflite"  # the stock detection kernel segfaults on this toy model
    crashing.write_bytes(single_custom_op_model("TFLite_Detection_PostProcess"))
    refused = tmp_path / "refused.tflite"
    refused.write_bytes(b"TFL3 is not a model")
    before, after = PROBE / "abs__f32.tflite", PROBE / "sign__f32.tflite"
    reports = probe_xnnpack.runtime_reports([before, crashing, refused, after], workers=1)
    assert reports[crashing]["failure"] == "SIGSEGV"
    assert reports[refused]["failure"] == "load error"
    assert probe_xnnpack.observed(reports[before])["ops"] == [{"op": "ABS", "delegated": True}]
    assert probe_xnnpack.observed(reports[after])["ops"] == [{"op": "SIGN", "delegated": False}]


@pytest.mark.runtime
def test_check_mode_reports_agreement_and_prints_disagreements(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "probe_xnnpack.py"), "--check"],
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout[-2000:]
    assert "0 models where the prediction differs from the runtime, 0 where the runtime " \
        "changed" in run.stdout
    # A manifest recording another outcome is reported model by model.
    for name in ("abs__f32.tflite", "sign__f32.tflite"):
        (tmp_path / name).write_bytes((PROBE / name).read_bytes())
    manifest = json.loads((PROBE / probe_xnnpack.MANIFEST).read_text(encoding="utf-8"))
    models = {name: manifest["models"][name] for name in ("abs__f32.tflite", "sign__f32.tflite")}
    models["abs__f32.tflite"]["runtime"]["ops"][0]["delegated"] = False
    (tmp_path / probe_xnnpack.MANIFEST).write_text(json.dumps({**manifest, "models": models}))
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "probe_xnnpack.py"), "--check",
                          "--out", str(tmp_path)], capture_output=True, text=True, timeout=300,
                         check=False)
    assert run.returncode == 1
    assert "abs__f32.tflite: runtime changed since generation" in run.stdout
    assert "2 models, 2 ops: 0 models where the prediction differs from the runtime, 1 where " \
        "the runtime changed" in run.stdout
