"""The TFLite Micro target: op support against the probe manifest, the arena estimate
against the interpreter's recording allocator, and the target's decisions on small graphs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from tflint_rules.arena_over_budget import ArenaOverBudget
from tflint_rules.tflm_uint8 import Uint8ModelForTflm

from tflint.graph import Quantization
from tflint.signature import OpSignature
from tflint.sizes import parse_size
from tflint.targets import get_target
from tflint.targets.tflm import TflmTarget, load_tflm_profile
from tflint.targets.tflm_arena import Buffer, estimate_arena, plan
from tflint.testing import GraphBuilder, run_rule

ROOT = Path(__file__).resolve().parent.parent
PROBE_DIR = ROOT / "fixtures" / "probe_tflm"
sys.path.insert(0, str(ROOT / "scripts"))
import probe_tflm  # noqa: E402

MANIFEST = json.loads((PROBE_DIR / "manifest.json").read_text(encoding="utf-8"))
ENTRIES: dict[str, dict] = MANIFEST["models"]
#: Probes whose outcome the profile does not capture, each for a reason the kernel
#: decides from values tflint does not model (see TFLM_NOTES.md).
KNOWN_MISSES = {
    "squared_difference__f16_f16_to_f32.tflite",  # Eval dispatches on the input type only
    "squared_difference__qs8_qs8_to_f32.tflite",
    "strided_slice__dynamic_hw.tflite",  # a placeholder shape of 1 gives a zero-size slice
    "transpose__negative_perm.tflite",  # checks the permutation's values
}


def test_every_probe_outcome_matches_the_manifest() -> None:
    problems = probe_tflm.disagreements(PROBE_DIR, ENTRIES)
    unexpected = [p for p in problems if p.split(":")[0] not in KNOWN_MISSES]
    assert not unexpected, "\n".join(unexpected)
    assert len(ENTRIES) > 1000


def test_probes_cover_every_outcome() -> None:
    statuses = {entry["status"] for entry in ENTRIES.values()}
    assert statuses == {"ok", "prepare-error", "invoke-error", "crash"}


def test_arena_estimate_within_ten_percent_on_the_probes() -> None:
    measured = [(name, e["arena"]["total"]) for name, e in ENTRIES.items()
                if e.get("arena") and e["arena"].get("total", 0) >= probe_tflm.ARENA_COMPARED_FROM]
    close = [name for name, total in measured
             if abs(probe_tflm.predicted_arena(PROBE_DIR / name) - total) <= 0.1 * total]
    assert len(measured) > 50
    assert len(close) >= 0.9 * len(measured)


@pytest.mark.tflm
def test_runtime_agrees_with_the_manifest_on_a_sample() -> None:
    names = sorted(ENTRIES)[::40]
    reports = probe_tflm.runtime_reports([PROBE_DIR / n for n in names])
    changed = {p.name: r["status"] for p, r in reports.items()
               if r["status"] != ENTRIES[p.name]["status"]}
    assert not changed
    for path, report in reports.items():
        if "arena" in report:
            assert report["arena"] == ENTRIES[path.name]["arena"]


# -- decisions on small graphs ----------------------------------------------------------
Q8 = Quantization(scale=(0.05,), zero_point=(0,))


def reason(graph_builder: GraphBuilder) -> tuple[str, str] | None:
    graph = graph_builder.build()
    node = next(graph.nodes())
    return load_tflm_profile().reason(OpSignature.of(graph, node))


def test_unregistered_builtin_fails_to_prepare() -> None:
    b = GraphBuilder()
    x = b.input("x", "float32", (1, 4))
    b.op("GELU", [x], [("y", "float32", (1, 4))])
    found = reason(b)
    assert found is not None and found[1] == "prepare" and "op resolver" in found[0]


def test_int8_exp_is_rejected_and_float_exp_runs() -> None:
    b = GraphBuilder()
    x = b.input("x", "int8", (1, 4), Q8)
    b.op("EXP", [x], [("y", "int8", (1, 4), Q8)])
    found = reason(b)
    assert found is not None and "i8->i8" in found[0]
    b = GraphBuilder()
    x = b.input("x", "float32", (1, 4))
    b.op("EXP", [x], [("y", "float32", (1, 4))])
    assert reason(b) is None


def test_int32_arithmetic_runs_but_int32_transpose_does_not() -> None:
    b = GraphBuilder()
    x, y = b.input("x", "int32", (2, 4)), b.input("y", "int32", (2, 4))
    b.op("ADD", [x, y], [("z", "int32", (2, 4))])
    assert reason(b) is None
    b = GraphBuilder()
    x = b.input("x", "int32", (2, 4))
    perm = b.constant("perm", "int32", (2,), [1, 0])
    b.op("TRANSPOSE", [x, perm], [("z", "int32", (4, 2))])
    found = reason(b)
    assert found is not None and found[1] == "invoke"


def test_int8_softmax_output_quantization_is_checked() -> None:
    b = GraphBuilder()
    x = b.input("x", "int8", (1, 10), Q8)
    b.op("SOFTMAX", [x], [("y", "int8", (1, 10), Quantization((0.00390625,), (0,)))],
         options={"beta": 1.0})
    found = reason(b)
    assert found is not None and "1/256" in found[0]


def test_runtime_paddings_are_rejected() -> None:
    b = GraphBuilder()
    x, pads = b.input("x", "float32", (1, 4)), b.input("p", "int32", (2, 2))
    b.op("PAD", [x, pads], [("y", "float32", (3, 6))])
    found = reason(b)
    assert found is not None and "constant" in found[0]


def test_target_is_registered_without_fallback() -> None:
    target = get_target("tflm")
    assert isinstance(target, TflmTarget) and not target.has_fallback


def test_planner_reuses_memory_of_dead_buffers() -> None:
    buffers = [Buffer("a", 64, 0, 1), Buffer("b", 32, 1, 2), Buffer("c", 64, 2, 3)]
    assert plan(buffers) == 96  # c reuses a's place; b sits above both
    assert buffers[2].offset == 0 and buffers[1].offset == 64


def chain(width: int) -> GraphBuilder:
    b = GraphBuilder()
    x = b.input("x", "float32", (1, width))
    (y,) = b.op("RELU", [x], [("y", "float32", (1, width))])
    (z,) = b.op("RELU", [y], [("z", "float32", (1, width))])
    b.output(z)
    return b


def test_arena_estimate_counts_the_two_live_tensors_of_a_chain() -> None:
    estimate = estimate_arena(chain(1000).build())
    assert estimate.head == 8000  # x and y, then y and z: two 4000-byte buffers
    assert {b.name for b in estimate.peak} <= {"x", "y", "z"} and len(estimate.peak) == 2
    assert estimate.tail > 0


def test_arena_budget_rule() -> None:
    graph = chain(100_000).build()
    found = run_rule(ArenaOverBudget, graph, options={"arena-budget": "256KiB"})
    assert len(found) == 1 and "over the 256.0 KiB budget" in found[0].message
    assert run_rule(ArenaOverBudget, graph, options={"arena-budget": "4MiB"}) == []
    assert run_rule(ArenaOverBudget, graph) == []


def test_parse_size() -> None:
    assert parse_size("256KiB") == 262144
    assert parse_size("1 MB") == 1_000_000
    assert parse_size(4096) == 4096
    with pytest.raises(ValueError):
        parse_size("12 parsecs")


def uint8_conv() -> GraphBuilder:
    q = Quantization(scale=(0.05,), zero_point=(128,))
    b = GraphBuilder()
    x = b.input("x", "uint8", (1, 4, 4, 3), q)
    w = b.constant("w", "uint8", (8, 1, 1, 3), quantization=q)
    bias = b.constant("b", "int32", (8,), quantization=Quantization((0.0025,), (0,)))
    b.op("CONV_2D", [x, w, bias], [("y", "uint8", (1, 4, 4, 8), q)],
         options={"padding": "SAME", "stride_w": 1, "stride_h": 1})
    return b


def test_uint8_rule_only_for_tflm() -> None:
    graph = uint8_conv().build()
    found = run_rule(Uint8ModelForTflm, graph, targets=("tflm",))
    assert len(found) == 1 and "int8" in found[0].message
    assert run_rule(Uint8ModelForTflm, graph) == []


def test_a_uint8_model_is_one_tflm_finding_not_one_per_op() -> None:
    from tflint.registry import find_rule

    q = Quantization(scale=(0.05,), zero_point=(128,))
    b = uint8_conv()
    y = b.graph.node("0:0").outputs[0]
    b.op("AVERAGE_POOL_2D", [y], [("p", "uint8", (1, 2, 2, 8), q)],
         options={"padding": "VALID", "stride_w": 2, "stride_h": 2, "filter_width": 2,
                  "filter_height": 2})
    graph = b.build()
    [finding] = run_rule(Uint8ModelForTflm, graph, targets=("tflm",))
    assert finding.message.startswith("2 ops compute in uint8")
    assert sorted(op["op"] for op in finding.related) == ["AVERAGE_POOL_2D", "CONV_2D"]
    # TFL130 leaves the uint8 ops to this one finding.
    assert run_rule(find_rule("TFL130"), graph, targets=("tflm",)) == []
