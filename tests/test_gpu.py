"""The GPU target predicts off the GPU every op TensorFlow 2.17.1's GPU check flags.

``fixtures/probe_gpu/manifest.json`` (written by ``scripts/probe_gpu.py``)
records what the checker said of every probe model, every ``.tflite`` under
``fixtures/`` and the benchmark zoo.  Here tflint's prediction is compared
with it without the checker; ``gpu_checker`` tests run the checker again on a
sample when its virtual environment is set up.  The rest test the target's
decisions on in-memory graphs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, ROOT

from tflint.analyses.delegation import predict_delegation
from tflint.graph import ModelGraph
from tflint.schema import DataFileError
from tflint.targets import get_target, load_targets
from tflint.targets import gpu as gpu_module
from tflint.testing import GraphBuilder, run_rule

sys.path.insert(0, str(ROOT / "scripts"))
import probe_gpu

PROBES = FIXTURES / "probe_gpu"
#: Probe models re-measured with the real checker: flagged and passed variants.
SAMPLE = ("add__bcast_bad", "add__f32", "conv_2d__three_runtime", "conv_2d__f32",
          "depthwise_conv_2d__multiplier2", "mean__runtime_axes", "softmax__beta2",
          "strided_slice__shrink", "gather__i64_indices", "unpack__f32", "cast__u8_to_f32",
          "custom__resampler")


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return json.loads(probe_gpu.MANIFEST.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def models(manifest: dict[str, Any]) -> dict[str, Path]:
    return probe_gpu.present(manifest)


@pytest.fixture(scope="module")
def verdicts(manifest: dict[str, Any], models: dict[str, Path]) -> dict[str, dict[str, Any]]:
    predicted = probe_gpu.predictions(list(models.values()))
    return {key: probe_gpu.compare(manifest["models"][key]["checker"], predicted[path])
            for key, path in models.items()}


def test_manifest_covers_every_probe_case_and_stays_small(manifest: dict[str, Any]) -> None:
    on_disk = {p.stem for p in PROBES.glob("*.tflite")}
    recorded = {Path(k).stem for k, e in manifest["models"].items() if e["kind"] == "probe"}
    assert on_disk == recorded == set(probe_gpu.CASES)
    assert sum(p.stat().st_size for p in PROBES.iterdir()) < 3_000_000
    assert manifest["checker"].startswith("tensorflow-cpu 2.17.1")
    assert not [k for k, e in manifest["models"].items() if "error" in e["checker"]]


def test_every_op_the_checker_flags_is_predicted_off_the_gpu(
        verdicts: dict[str, dict[str, Any]]) -> None:
    missed = [f"{key}: {m}" for key, v in verdicts.items() for m in v["missed"]]
    assert not missed, "\n".join(missed)
    flagged = sum(v["flagged"] for v in verdicts.values())
    # Probes and fixtures alone (the zoo is a local cache, absent from a fresh clone) hold
    # hundreds of flagged ops.
    assert flagged > 250 and sum(v["ops"] for v in verdicts.values()) > 2000


def test_the_fixture_models_are_still_the_ones_measured(manifest: dict[str, Any],
                                                         models: dict[str, Path]) -> None:
    fixtures = [k for k, e in manifest["models"].items() if e["kind"] == "fixture"
                and not probe_gpu.is_target_probe(Path(k).parts[1])]
    changed = [k for k in fixtures if k not in models]
    assert not changed, f"re-run scripts/probe_gpu.py: changed or missing {changed[:5]}"


def test_each_probed_op_is_seen_both_flagged_and_passed(manifest: dict[str, Any]) -> None:
    outcomes: dict[str, set[bool]] = {}
    for entry in manifest["models"].values():
        if entry["kind"] != "probe":
            continue
        for op in entry["checker"]["ops"]:
            outcomes.setdefault(op["op"], set()).add("flagged" in op)
    # Ops whose every probe is flagged are those the 2.17.1 checker never takes.
    never = {op for op, seen in outcomes.items() if seen == {True}}
    profile = gpu_module.load_profile()
    assert not never & set(profile.ops), never & set(profile.ops)
    both = {op for op, seen in outcomes.items() if seen == {True, False}}
    assert len(both) >= 35


def test_extra_flags_cite_the_delegate_source(verdicts: dict[str, dict[str, Any]]) -> None:
    """Every reason tflint gives beyond the checker is one of the profile's
    delegate-side conditions (each citing model_builder.cc or the options)."""
    profile = gpu_module.load_profile()
    templates = [c["reason"] for spec in profile.ops.values() for c in spec["conditions"]
                 if c["by"] == "delegate"]
    templates += [rule["reason"] for rule in profile.general.values()
                  if isinstance(rule, dict) and rule.get("by") == "delegate"]
    prefixes = [t.split("{")[0] if not t.startswith("{") else t.split("}", 1)[1].split("{")[0]
                for t in templates]
    for verdict in verdicts.values():
        for extra in verdict["extra"]:
            assert any(p and p in extra["reason"] for p in prefixes), extra


@pytest.mark.gpu_checker
@pytest.mark.slow
def test_the_checker_still_says_what_the_manifest_records(manifest: dict[str, Any]) -> None:
    paths = [PROBES / f"{name}.tflite" for name in SAMPLE]
    reports = probe_gpu.checker_reports(paths, workers=1)
    for path in paths:
        recorded = manifest["models"][probe_gpu.key_of(path)]["checker"]
        assert probe_gpu.checker_entry(reports[path]) == recorded, path.name
    assert any("flagged" in op for p in paths for op in
               manifest["models"][probe_gpu.key_of(p)]["checker"]["ops"])


def test_the_analyzer_report_is_parsed_op_by_op() -> None:
    report = "\n".join([
        "Subgraph#0 main(T#0) -> [T#6]",
        "  Op#0 GREATER(T#0, T#2) -> [T#3]",
        "  Op#1 WHERE(T#3) -> [T#4]",
        "GPU COMPATIBILITY WARNING: Not supported op WHERE",
        "  Op#2 GATHER(T#0, T#5) -> [T#6]",
        "GPU COMPATIBILITY WARNING: Does not accept INT32 input.",
        "",
        "",
        "GPU COMPATIBILITY WARNING: Subgraph#0 has GPU delegate compatibility issues at nodes 1, 2",
        "",
        "Tensors of Subgraph#0",
        "Subgraph#1 body(T#0) -> [T#1]",
        "  Op#0 Resampler(T#0, T#1) -> [T#2]",
    ])
    ops = probe_gpu.parse_report(report)
    assert [(o.subgraph, o.index, o.op, o.messages) for o in ops] == [
        (0, 0, "GREATER", ()), (0, 1, "WHERE", ("Not supported op WHERE",)),
        (0, 2, "GATHER", ("Does not accept INT32 input.",)), (1, 0, "Resampler", ())]


def test_compare_separates_missed_and_extra_flags() -> None:
    entry = {"ops": [{"subgraph": 0, "index": 0, "op": "ADD"},
                     {"subgraph": 0, "index": 1, "op": "WHERE", "flagged": ["Not supported op"]},
                     {"subgraph": 0, "index": 2, "op": "CAST", "flagged": ["Not supported Cast"]}]}
    verdict = probe_gpu.compare(entry, {(0, 0): "ADD has a tensor of rank 5", (0, 1): "no"})
    assert verdict["flagged"] == 2
    assert verdict["missed"] == ["CAST (subgraph 0 op 2): checker says 'Not supported Cast'"]
    assert verdict["extra"] == [{"op": "ADD", "reason": "ADD has a tensor of rank 5"}]


# -- the target's decisions on in-memory graphs --------------------------------------------


def off_gpu(graph: ModelGraph) -> dict[str, str]:
    delegation = predict_delegation(graph, "gpu")
    return {op.op: op.reason for op in delegation.cpu_ops(graph)}


def binary(op: str, first: tuple[int, ...], second: tuple[int, ...], dtype: str = "float32",
           **options: Any) -> ModelGraph:
    g = GraphBuilder()
    a, b = g.input("a", dtype, first), g.input("b", dtype, second)
    out = first if len(first) >= len(second) else second
    (y,) = g.op(op, [a, b], [("y", dtype, out)], options=options)
    g.output(y)
    return g.build()


def test_the_target_is_registered_with_its_data() -> None:
    assert "gpu" in load_targets()
    target = get_target("gpu")
    assert target.title == "GPU" and target.has_fallback
    sources = gpu_module.load_profile().data["sources"]
    assert sources["compat"]["path"].endswith("gpu_compatibility.cc")
    assert sources["builder"]["repo"] == "google-ai-edge/LiteRT"


def test_add_broadcasts_numpy_style_but_not_incompatible_shapes() -> None:
    assert off_gpu(binary("ADD", (1, 4, 4, 8), (4, 1, 8))) == {}
    reason = off_gpu(binary("ADD", (1, 4, 4, 8), (3, 5)))["ADD"]
    assert reason == "ADD cannot broadcast [1, 4, 4, 8] with [3, 5] on the GPU"


def test_mul_outer_product_and_sign_bit_are_refused() -> None:
    assert "outer product" in off_gpu(binary("MUL", (1, 4, 1, 8), (1, 1, 4, 8)))["MUL"]
    assert "SIGN_BIT" in off_gpu(binary("SUB", (1, 8), (1, 8),
                                        fused_activation_function="SIGN_BIT"))["SUB"]
    assert off_gpu(binary("SUB", (1, 8), (1, 8), fused_activation_function="RELU")) == {}


def test_delegate_side_checks_rank_type_and_version() -> None:
    assert "rank 5" in off_gpu(binary("ADD", (1, 2, 2, 2, 8), (1, 2, 2, 2, 8)))["ADD"]
    reason = off_gpu(binary("ADD", (1, 8), (1, 8), dtype="int32"))["ADD"]
    assert reason.startswith("ADD has an input of type int32 computed at run time")
    g = GraphBuilder()
    x = g.input("x", "float32", (1, 8))
    (y,) = g.op("TANH", [x], [("y", "float32", (1, 8))], version=3)
    g.output(y)
    assert off_gpu(g.build()) == {
        "TANH": "TANH version 3 is newer than the GPU delegate's parser takes (at most 2)"}


def test_ops_needing_constant_operands() -> None:
    g = GraphBuilder()
    x = g.input("x", "float32", (1, 4, 4, 8))
    axes = g.input("axes", "int32", (2,))
    (y,) = g.op("MEAN", [x, axes], [("y", "float32", (1, 1, 1, 8))], options={"keep_dims": True})
    g.output(y)
    assert off_gpu(g.build())["MEAN"] == "MEAN needs one run-time input and constant axes"


def comparison(consumer: str | None) -> ModelGraph:
    g = GraphBuilder()
    a, b = g.input("a", "float32", (1, 8)), g.input("b", "float32", (1, 8))
    (mask,) = g.op("LESS", [a, b], [("mask", "bool", (1, 8))])
    if consumer is None:
        g.output(mask)
    else:
        (y,) = g.op(consumer, [mask, a, b] if consumer == "SELECT_V2" else [mask],
                    [("y", "float32", (1, 8))])
        if consumer == "CAST":  # a CAST from bool must not be a model output
            (y,) = g.op("RELU", [y], [("z", "float32", (1, 8))])
        g.output(y)
    return g.build()


def test_a_comparison_runs_only_into_a_select_or_cast() -> None:
    assert off_gpu(comparison("SELECT_V2")) == {}
    assert off_gpu(comparison("CAST")) == {}
    assert "feeds exactly one CAST, SELECT or SELECT_V2" in off_gpu(comparison(None))["LESS"]


def test_only_the_largest_partition_is_delegated() -> None:
    g = GraphBuilder()
    x = g.input("x", "float32", (1, 8))
    (a,) = g.op("TANH", [x], [("a", "float32", (1, 8))])
    (b,) = g.op("ROUND", [a], [("b", "float32", (1, 8))])
    (c,) = g.op("LOGISTIC", [b], [("c", "float32", (1, 8))])
    (d,) = g.op("RELU", [c], [("d", "float32", (1, 8))])
    g.output(d)
    graph = g.build()
    delegation = predict_delegation(graph, "gpu")
    reasons = off_gpu(graph)
    assert reasons["ROUND"] == "ROUND is not supported by the GPU delegate"
    assert reasons["TANH"].startswith("the GPU delegate takes only its largest partition")
    assert delegation.partition_count == 1 and delegation.delegated == 2


def fp16_conv(consumer_ok: bool) -> ModelGraph:
    g = GraphBuilder()
    x = g.input("x", "float32", (1, 4, 4, 8))
    half = g.constant("w16", "float16", (8, 1, 1, 8), values=[0.5] * 64)
    (w,) = g.op("DEQUANTIZE", [half], [("w", "float32", (8, 1, 1, 8))])
    bias = g.constant("b", "float32", (8,), values=[0.0] * 8)
    options = {"stride_h": 1, "stride_w": 1 if consumer_ok else 0, "dilation_h_factor": 1,
               "dilation_w_factor": 1, "padding": "SAME", "fused_activation_function": "NONE"}
    (y,) = g.op("CONV_2D", [x, w, bias], [("y", "float32", (1, 4, 4, 8))], options=options)
    g.output(y)
    return g.build()


def test_float16_weights_go_with_their_consumer() -> None:
    assert off_gpu(fp16_conv(consumer_ok=True)) == {}
    reasons = off_gpu(fp16_conv(consumer_ok=False))
    assert "strides 1x0" in reasons["CONV_2D"]
    assert reasons["DEQUANTIZE"].startswith("DEQUANTIZE of constant float16 weights stays")


def test_flex_custom_and_claimed_ops() -> None:
    g = GraphBuilder()
    x = g.input("x", "float32", (1, 4, 8))
    (e,) = g.op("FlexErf", [x], [("e", "float32", (1, 4, 8))], origin="flex")
    (r,) = g.op("Resampler", [e, g.input("warp", "float32", (1, 4, 2))],
                [("r", "float32", (1, 4, 8))], origin="custom")
    w = g.constant("w", "float32", (1, 8, 4), values=[0.0] * 32)
    (m,) = g.op("BATCH_MATMUL", [r, w], [("m", "float32", (1, 4, 4))])
    g.output(m)
    graph = g.build()
    reasons = off_gpu(graph)
    assert "Select TF ops" in reasons["FlexErf"]
    assert "Resampler" not in reasons
    assert "cannot be built" in reasons["BATCH_MATMUL"]
    assert predict_delegation(graph, "gpu").claimed_failing


def test_tfl130_names_the_gpu_and_the_reason() -> None:
    from tflint_rules.target_fallback import TargetFallback

    diagnostics = run_rule(TargetFallback, binary("ADD", (1, 4, 4, 8), (3, 5)),
                           targets=("xnnpack", "gpu"))
    assert len(diagnostics) == 1
    assert "on GPU: ADD cannot broadcast" in diagnostics[0].message


def test_a_broken_profile_is_refused_with_its_place(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    data = json.loads(gpu_module.PROFILE_FILE.read_text(encoding="utf-8"))
    data["ops"]["ADD"]["conditions"][0]["expr"] = "num_inputs == frobnicate"
    broken = tmp_path / "gpu_ops.json"
    broken.write_text(json.dumps(data), encoding="utf-8")
    (tmp_path / "gpu_ops.schema.json").write_text(
        gpu_module.PROFILE_FILE.with_name("gpu_ops.schema.json").read_text(encoding="utf-8"),
        encoding="utf-8")
    monkeypatch.setattr(gpu_module, "PROFILE_FILE", broken)
    gpu_module.load_profile.cache_clear()
    try:
        with pytest.raises(DataFileError, match="frobnicate"):
            gpu_module.load_profile()
    finally:
        monkeypatch.undo()
        gpu_module.load_profile.cache_clear()


def test_a_dynamic_dimension_reads_as_the_stored_1() -> None:
    g = GraphBuilder()
    x = g.input("x", "float32", (None, 4, 4, 8))
    w = g.constant("w", "float32", (1, 3, 3, 8), values=[0.0] * 72)
    options = {"stride_h": 1, "stride_w": 1, "dilation_h_factor": 1, "dilation_w_factor": 1,
               "depth_multiplier": 1, "padding": "SAME", "fused_activation_function": "NONE"}
    (y,) = g.op("DEPTHWISE_CONV_2D", [x, w, None], [("y", "float32", (1, 4, 4, 8))],
                options=options)
    g.output(y)
    # The absent bias counts as one element against 8 output channels, as in the checker.
    assert "bias size" in off_gpu(g.build())["DEPTHWISE_CONV_2D"]
