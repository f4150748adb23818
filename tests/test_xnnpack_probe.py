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
import struct
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


# -- Sparse weights and the custom ops XNNPACK registers ------------------------------------

#: Probe models whose every op the runtime delegated, in one partition, without failing.
SPARSE_TAKEN = ("densify__conv_f32", "densify__conv_f16", "densify__fc_f32", "densify__fc_f16",
                "densify__fc_f32_block4", "densify__conv_qs8", "converted__sparse_float32",
                "converted__sparse_float16")
#: XNNPACK custom ops: probe model -> whether the runtime ran the op through XNNPACK.
MEDIAPIPE_POOLING = {
    "maxpoolingwithargmax2d__f32": True, "maxpoolingwithargmax2d__same": True,
    "maxpoolingwithargmax2d__qs32_indices": True, "maxunpooling2d__f32": True,
    "maxunpooling2d__after_argmax": True, "maxpoolingwithargmax2d__f16": False,
    "maxpoolingwithargmax2d__filter3_stride2": False, "maxpoolingwithargmax2d__relu": False,
    "maxpoolingwithargmax2d__no_options": False, "maxpoolingwithargmax2d__rank3": False,
    "maxunpooling2d__same": False, "maxunpooling2d__f16": False,
    "maxpoolingwithargmax2d__i32_indices": False, "maxunpooling2d__i32_indices": False,
}


def _entry(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    return manifest["models"][f"{name}.tflite"]["runtime"]


def _lint(*names: str) -> dict[str, tflint.FileResult]:
    result = tflint.lint([str(PROBE / f"{n}.tflite") for n in names],
                         config=tflint.Config(select=["TFL102", "TFL110"]))
    return dict(zip(names, result.files, strict=True))


def test_sparse_weights_in_float32_and_float16_are_probed_and_all_delegated(
        manifest: dict[str, Any]) -> None:
    for name in SPARSE_TAKEN:
        runtime = _entry(manifest, name)
        assert "DENSIFY" in {op["op"] for op in runtime["ops"]}, name
        assert all(op["delegated"] for op in runtime["ops"]), name
        assert (runtime["partitions"], runtime["allocation_failure"]) == (1, None), name
    for name, files in _lint(*SPARSE_TAKEN).items():
        assert files.delegation["cpu_ops"] == [] and files.delegation["partitions"] == 1, name


def test_a_densify_stays_on_the_cpu_only_with_a_consumer_other_than_its_dequantize(
        manifest: dict[str, Any]) -> None:
    expected = {"densify__to_pow": ([False, False], 0),
                "densify__to_add_and_pow": ([False, True, False], 1),
                "densify__fc_v8_consumer": ([False, False], 0),
                # The float16 DEQUANTIZE stays with POW; the DENSIFY is still folded.
                "densify__f16_to_pow": ([True, False, False], 1)}
    predicted = _lint(*expected)
    for name, (delegated, partitions) in expected.items():
        runtime = _entry(manifest, name)
        assert [op["delegated"] for op in runtime["ops"]] == delegated, name
        assert runtime["partitions"] == partitions, name
        cpu = {op["index"] for op in predicted[name].delegation["cpu_ops"]}
        assert [i not in cpu for i in range(len(delegated))] == delegated, name
    reasons = {op["op"]: op["reason"] for op in predicted["densify__to_pow"].delegation["cpu_ops"]}
    assert "because its consumer POW is not delegated" in reasons["DENSIFY"]


def test_int8_sparse_weights_are_claimed_by_fully_connected_and_fail(
        manifest: dict[str, Any]) -> None:
    for name in ("densify__fc_qs8", "densify__fc_hybrid"):
        assert _entry(manifest, name)["allocation_failure"] == "xnnpack"
        delegation = _lint(name)[name].delegation
        assert delegation["allocation_fails"]
        [claimed] = delegation["cpu_ops"]
        assert claimed["op"] == "FULLY_CONNECTED" and claimed["fails_allocation"]
        assert "int8 weights are stored sparse" in claimed["reason"]
    assert _entry(manifest, "densify__conv_qs8")["allocation_failure"] is None


def test_mediapipe_pooling_probes_are_predicted_from_their_pool_params_struct(
        manifest: dict[str, Any]) -> None:
    predicted = _lint(*MEDIAPIPE_POOLING)
    for name, taken in MEDIAPIPE_POOLING.items():
        runtime = _entry(manifest, name)
        custom = [op for op in runtime["ops"] if op["op"] != "RELU"]
        ran = all(op["delegated"] for op in custom) and runtime["allocation_failure"] is None
        assert ran == taken, name
        delegation = predicted[name].delegation
        assert (delegation["cpu_ops"] == []) == taken, name
        assert delegation["partitions"] == runtime["partitions"], name
    reasons = {name: predicted[name].delegation["cpu_ops"][0]["reason"]
               for name, taken in MEDIAPIPE_POOLING.items() if not taken}
    assert "filter_width == stride_w" in reasons["maxpoolingwithargmax2d__filter3_stride2"]
    assert "fused activation RELU" in reasons["maxpoolingwithargmax2d__relu"]
    assert "padding=UNKNOWN" in reasons["maxpoolingwithargmax2d__no_options"]
    assert "padding=SAME" in reasons["maxunpooling2d__same"]
    assert "int32 index output is not quantized" in reasons["maxpoolingwithargmax2d__i32_indices"]


def test_the_loader_reads_mediapipe_pool_params_as_int32_words() -> None:
    graph = _lint("maxpoolingwithargmax2d__filter3_stride2")[
        "maxpoolingwithargmax2d__filter3_stride2"].graph
    assert graph is not None
    [node] = list(graph.nodes())
    assert node.options["custom_options_words"] == list(
        struct.unpack("<10i", probe_xnnpack.pool_params(filter_size=(3, 3))))


def test_tfl102_is_an_info_for_the_custom_ops_xnnpack_runs_and_an_error_with_its_reason_else(
        ) -> None:
    for name, files in _lint(*MEDIAPIPE_POOLING, "convolution2dtransposebias__f32").items():
        found = [d for d in files.diagnostics if d.code == "TFL102"]
        assert found, name
        if MEDIAPIPE_POOLING.get(name, True):
            assert all(d.severity.name == "INFO" for d in found), name
        else:
            assert any(d.severity.name == "ERROR" and "XNNPACK delegate, which implements it, "
                       "does not run it here" in d.message for d in found), name


def test_an_unresolved_custom_op_is_recorded_with_the_ops_delegated_around_it(
        manifest: dict[str, Any]) -> None:
    runtime = _entry(manifest, "custom__unknown_between_relus")
    # The interpreter cannot prepare the model, but delegation happened first.
    assert runtime == {"ops": [{"op": "RELU", "delegated": True},
                               {"op": "TflintProbeUnknownOp", "delegated": False},
                               {"op": "RELU", "delegated": True}],
                       "partitions": 2, "allocation_failure": "kernel"}
    files = _lint("custom__unknown_between_relus")["custom__unknown_between_relus"]
    assert files.delegation["partitions"] == 2 and not files.delegation["allocation_fails"]
    [finding] = [d for d in files.diagnostics if d.code == "TFL102"]
    assert finding.severity.name == "ERROR" and "not registered" in finding.message


@pytest.mark.runtime
def test_an_unresolved_custom_op_is_named_by_the_runtime_report(
        reports: dict[Path, dict[str, Any]]) -> None:
    from tflint.verify import unresolved_ops

    report = reports[PROBE / "custom__unknown_between_relus.tflite"]
    assert unresolved_ops(report["allocation_error"]) == ["TflintProbeUnknownOp"]


@pytest.mark.runtime
def test_only_regenerates_the_matching_cases_and_keeps_the_rest_of_the_manifest(
        tmp_path: Path) -> None:
    kept = "abs__f32.tflite"
    (tmp_path / kept).write_bytes((PROBE / kept).read_bytes())
    manifest = json.loads((PROBE / probe_xnnpack.MANIFEST).read_text(encoding="utf-8"))
    (tmp_path / probe_xnnpack.MANIFEST).write_text(json.dumps(
        {**manifest, "models": {kept: manifest["models"][kept]}, "not_kept": {}}))
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "probe_xnnpack.py"), "--out",
                          str(tmp_path), "--no-convert", "--only", "maxunpooling2d__f32",
                          "--only", "densify__fc_f1?"], capture_output=True, text=True,
                         timeout=300, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    written = json.loads((tmp_path / probe_xnnpack.MANIFEST).read_text(encoding="utf-8"))
    assert set(written["models"]) == {kept, "maxunpooling2d__f32.tflite",
                                      "densify__fc_f16.tflite"}
    assert written["models"][kept] == manifest["models"][kept]
    for name in ("maxunpooling2d__f32.tflite", "densify__fc_f16.tflite"):
        assert written["models"][name] == manifest["models"][name]
        assert (tmp_path / name).read_bytes() == (PROBE / name).read_bytes()
