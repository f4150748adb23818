"""XNNPACK delegation: prediction on real models, partitioning, and --verify."""

from __future__ import annotations

import glob
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, ROOT, fixture, run_tflint
from tflite_builder import single_custom_op_model

import tflint
from tflint.analyses.delegation import predict_delegation
from tflint.analyses.delegation import subgraph_partitions as partition
from tflint.expressions import evaluate
from tflint.graph import Location, ModelGraph, Node, Tensor
from tflint.loaders import load
from tflint.signature import OpSignature
from tflint.targets.profile import (
    PROFILE_FILE,
    Profile,
    load_profile,
    quantized_configuration,
)
from tflint.verify import compare, delegation_from_nodes, summary, summary_lines

sys.path.insert(0, str(ROOT / "scripts"))
import probe_xnnpack

PROBE = FIXTURES / "probe"
# The probe models of every target have tests of their own (test_xnnpack_probe.py, ...).
TFLITE_FIXTURES = sorted(
    p for p in glob.glob(str(FIXTURES / "**" / "*.tflite"), recursive=True)
    if not Path(p).relative_to(FIXTURES).parts[0].startswith("probe"))


def test_seed_custom_activation_prediction() -> None:
    [file] = tflint.lint(fixture("seed/custom_activation.tflite")).files
    fallback = [d for d in file.diagnostics if d.code == "TFL110"]
    # One finding per cause: each custom activation layer puts a LESS and a SELECT_V2
    # on the CPU; its per-op detail is in `related`.
    assert [d.message.split(":")[0] for d in fallback] == [
        f"layer 'custom_act{i}'" for i in (1, 2, 3)]
    assert all(sorted(op["op"] for op in d.related) == ["LESS", "SELECT_V2"] for d in fallback)
    assert all("LESS and SELECT_V2 are not supported by XNNPACK" in d.message for d in fallback)
    assert all("fixing it takes 2 ops off the CPU (XNNPACK partitions: 4 → 3)" in d.message
               for d in fallback)
    assert all(d.suggestion and "compare" in d.suggestion for d in fallback)
    delegation = file.delegation
    assert (delegation["target"], delegation["ops"], delegation["delegated"],
            delegation["partitions"]) == ("xnnpack", 17, 11, 4)
    assert {"subgraph", "index", "op", "layer", "reason"} <= set(delegation["cpu_ops"][0])
    assert delegation["cpu_ops"][0]["layer"].endswith("/Less")
    assert file.placement_summaries["xnnpack"] == (
        "17 ops, 11 on XNNPACK in 4 partitions, 6 on CPU: LESS x3, SELECT_V2 x3")


def test_clean_float_model_is_fully_delegated() -> None:
    [file] = tflint.lint(fixture("clean/mobile_cnn.tflite")).files
    assert file.diagnostics == []
    assert file.delegation["partitions"] == 1
    assert file.delegation["cpu_ops"] == []


def test_flex_and_custom_ops_are_counted_but_reported_once() -> None:
    [file] = tflint.lint(fixture("tflite/flex_op.tflite")).files
    assert [d.code for d in file.diagnostics] == ["TFL101"]
    assert [op["op"] for op in file.delegation["cpu_ops"]] == ["FlexErf"]
    assert file.delegation["partitions"] == 2


@pytest.fixture(scope="module")
def fixture_reports() -> dict[Path, dict[str, Any]]:
    return probe_xnnpack.runtime_reports([Path(p) for p in TFLITE_FIXTURES])


@pytest.mark.runtime
@pytest.mark.parametrize("path", TFLITE_FIXTURES, ids=lambda p: Path(p).name)
def test_prediction_matches_the_runtime_on_every_fixture(
        path: str, fixture_reports: dict[Path, dict[str, Any]]) -> None:
    [file] = tflint.lint(path).files
    report = fixture_reports[Path(path)]
    if report.get("failure") == "load error":
        # The interpreter refuses the model outright: tflint must call it broken too.
        assert any(d.severity == "error" for d in file.diagnostics), report["detail"]
        return
    actual = delegation_from_nodes(report["nodes"], report["allocation_error"],
                                   report["unfused_nodes"])
    verification = compare(file.delegation, actual)
    assert verification["matches"], verification


def _probe(name: str) -> tuple[ModelGraph, Node]:
    graph = load(str(PROBE / f"{name}.tflite"))
    return graph, next(n for n in graph.nodes() if n.op_type not in ("DEQUANTIZE",))


def test_a_creation_constraint_makes_the_op_claimed_and_failing() -> None:
    graph, node = _probe("split__uneven")
    verdict = load_profile().verdict(OpSignature.of(graph, node))
    assert verdict.claimed
    assert verdict.reason == ("SPLIT is claimed by XNNPACK but fails when the delegate builds it "
                              "(the split is uneven): the interpreter will fail to allocate "
                              "tensors")
    delegation = predict_delegation(graph, "xnnpack")
    # The runtime still forms the partition: the failure comes when it is built.
    assert delegation.partition_count == 1 and delegation.delegated == 0
    section = delegation.to_section(graph)
    assert section["allocation_fails"] and section["cpu_ops"][0]["fails_allocation"]
    assert "fail to allocate tensors" in delegation.summary(graph)
    graph, node = _probe("split__2")
    assert load_profile().verdict(OpSignature.of(graph, node)).reason is None


def test_per_channel_scales_are_an_expression_name() -> None:
    profile = load_profile()
    graph, node = _probe("conv_2d__qs8_pc_requant_300")
    names = profile.names(OpSignature.of(graph, node))
    assert len(names["in1_scales"]) == 16 and max(names["in1_scales"]) == 1.0
    assert names["in1_zero_points"] == (0,) * 16
    # Only the last channel's scale reaches 256 after requantization.
    assert profile.verdict(OpSignature.of(graph, node)).claimed
    graph, node = _probe("conv_2d__qs8_requant_200")
    assert profile.verdict(OpSignature.of(graph, node)).reason is None


def test_quantized_configuration_is_decided_by_the_output() -> None:
    graph, node = _probe("transpose_conv__qs8_per_channel")
    assert node.inputs[0].dtype == "int32" and quantized_configuration(OpSignature.of(graph, node))
    graph, node = _probe("conv_2d__hybrid_per_channel")
    assert node.inputs[1].dtype == "int8"
    assert not quantized_configuration(OpSignature.of(graph, node))
    # A weight zero point is rejected in the int8 form, claimed then failing in the hybrid one.
    profile = load_profile()
    graph, node = _probe("fully_connected__qs8_filter_zero_point")
    verdict = profile.verdict(OpSignature.of(graph, node))
    assert not verdict.claimed and "non-zero zero point" in (verdict.reason or "")
    graph, node = _probe("fully_connected__hybrid_filter_zero_point")
    assert profile.verdict(OpSignature.of(graph, node)).claimed


def test_the_profile_reads_no_retired_general_rule() -> None:
    data = json.loads(PROFILE_FILE.read_text())
    ids = [entry["id"] for entry in data["general"]]
    assert "not_in_dispatcher" not in ids and "unlisted_ops" in ids
    data["general"] = [g for g in data["general"] if g["id"] != "unlisted_ops"]
    graph, node = _probe("conv_2d__f32")
    assert Profile(data).verdict(OpSignature.of(graph, node)).reason is None


def test_missing_options_take_schema_defaults() -> None:
    profile = load_profile()
    for name, delegated in (("gelu__no_options", True), ("mean__no_options", True),
                            ("softmax__no_options", False), ("max_pool_2d__no_options", False)):
        graph, node = _probe(name)
        assert (profile.verdict(OpSignature.of(graph, node)).reason is None) is delegated, name


def test_expressions_follow_python_boolean_semantics() -> None:
    assert evaluate("len(new_shape or [])", {"new_shape": []}) == 0
    assert evaluate("x == 1 or y > 0", {"x": 1}) is True  # y is never looked up
    assert evaluate("not (a / b < 1)", {"a": float("nan"), "b": 1.0}) is True


def _chain(graph: ModelGraph, specs: list[tuple[str, list[str], list[str]]]) -> list[Node]:
    tensors: dict[str, Tensor] = {}
    nodes = []
    for i, (op, ins, outs) in enumerate(specs):
        node = Node(id=f"0:{i}", kind="op", op_type=op, location=Location(op, subgraph=0,
                    op_index=i), inputs=[tensors.setdefault(t, Tensor(t, t)) for t in ins],
                    outputs=[tensors.setdefault(t, Tensor(t, t)) for t in outs])
        nodes.append(graph.add_node(node))
    return nodes


def test_partitioner_merges_ready_nodes_of_one_kind_like_the_runtime() -> None:
    graph = ModelGraph("x", "tflite")
    # Two independent delegated branches join after a CPU op on one of them.
    nodes = _chain(graph, [("ADD", ["in"], ["a"]), ("LESS", ["a"], ["b"]),
                           ("MUL", ["in"], ["c"]), ("SUB", ["b", "c"], ["d"])])
    parts = partition(graph, nodes, on_cpu={"0:1"})
    # Epoch 1 takes ADD and MUL (both ready), epoch 2 LESS, epoch 3 SUB.
    assert parts == [["0:0", "0:2"], ["0:3"]]


def test_partitioner_keeps_side_effects_in_order() -> None:
    graph = ModelGraph("x", "tflite")
    nodes = _chain(graph, [("ADD", ["in"], ["a"]), ("WHILE", ["a"], ["b"]),
                           ("MUL", ["in"], ["c"]), ("IF", ["c"], ["d"])])
    parts = partition(graph, nodes, on_cpu={"0:1", "0:3"})
    assert parts == [["0:0", "0:2"]]
    assert len(partition(graph, nodes, on_cpu=set())) == 1


def test_partitions_are_read_back_from_delegate_nodes() -> None:
    nodes = [
        {"index": 0, "op": "CONV_2D", "inputs": [0, 8, 7], "outputs": [9]},
        {"index": 1, "op": "LESS", "inputs": [9, 4], "outputs": [10]},
        {"index": 2, "op": "SQUARE", "inputs": [9], "outputs": [11]},
        {"index": 3, "op": "SELECT_V2", "inputs": [10, 9, 11], "outputs": [12]},
        {"index": 4, "op": "DELEGATE", "inputs": [0, 8, 7], "outputs": [9, 11]},
    ]
    actual = delegation_from_nodes(nodes)
    assert (actual.ops, actual.delegated, actual.partitions) == (4, {0, 2}, 1)
    predicted = {"partitions": 1,
                 "cpu_ops": [{"subgraph": 0, "index": i} for i in (1, 2, 3)]}
    verdict = compare(predicted, actual)
    assert not verdict["matches"]
    assert verdict["disagreements"] == [
        {"index": 2, "op": "SQUARE", "predicted": "cpu", "actual": "delegated"}]


def test_unfused_delegate_nodes_name_ops_without_outputs() -> None:
    nodes = [
        {"index": 0, "op": "VAR_HANDLE", "inputs": [], "outputs": [2]},
        {"index": 1, "op": "READ_VARIABLE", "inputs": [2], "outputs": [3]},
        {"index": 2, "op": "ADD", "inputs": [3, 0], "outputs": [4]},
        {"index": 3, "op": "ASSIGN_VARIABLE", "inputs": [2, 4], "outputs": []},
        {"index": 4, "op": "DELEGATE", "inputs": [], "outputs": [2]},
        {"index": 5, "op": "DELEGATE", "inputs": [0, 2, 3], "outputs": []},
    ]
    # From boundary tensors alone, a partition without outputs names nothing.
    assert delegation_from_nodes(nodes).delegated == {0}
    unfused = [*nodes[:4],
               {"index": 4, "op": "DELEGATE", "inputs": [], "outputs": [2]},
               {"index": 5, "op": "DELEGATE", "inputs": [0, 3], "outputs": [4]},
               {"index": 6, "op": "DELEGATE", "inputs": [2, 4], "outputs": []}]
    actual = delegation_from_nodes(nodes, None, unfused)
    assert (actual.delegated, actual.partitions) == ({0, 2, 3}, 2)


def test_ops_behind_internal_tensors_are_partition_members() -> None:
    nodes = [
        {"index": 0, "op": "VAR_HANDLE", "inputs": [], "outputs": [2]},
        {"index": 1, "op": "READ_VARIABLE", "inputs": [2], "outputs": [3]},
        {"index": 2, "op": "ASSIGN_VARIABLE", "inputs": [2, 0], "outputs": []},
        {"index": 3, "op": "MUL", "inputs": [3, 1], "outputs": [4]},
        {"index": 4, "op": "DELEGATE", "inputs": [0, 1], "outputs": [4]},
    ]
    # The resource tensor never leaves the partition, so its ASSIGN is inside.
    assert delegation_from_nodes(nodes).delegated == {0, 1, 2, 3}


def test_a_predicted_allocation_failure_agrees_only_with_a_delegate_failure() -> None:
    nodes = [{"index": 0, "op": "SPLIT", "inputs": [0, 1], "outputs": [2, 3]},
             {"index": 1, "op": "DELEGATE", "inputs": [0, 1], "outputs": [2, 3]}]
    predicted = {"partitions": 1, "cpu_ops": [{"subgraph": 0, "index": 0,
                                               "fails_allocation": True}]}
    failed = delegation_from_nodes(nodes, "failed to prepare.Node number 1 "
                                          "(TfLiteXNNPackDelegate) failed to prepare.")
    assert compare(predicted, failed)["matches"]
    verdict = compare(predicted, delegation_from_nodes(nodes))
    assert not verdict["matches"] and verdict["disagreements"][0]["actual"] == "delegated"
    plain = {"partitions": 1, "cpu_ops": []}
    verdict = compare(plain, failed)
    assert not verdict["matches"] and verdict["delegate_allocation_fails"]
    assert "XNNPACK allocation failure predicted no, runtime yes" in summary(verdict)
    kernel = compare(plain, delegation_from_nodes(nodes, "ADD failed to prepare."))
    assert kernel["allocation_fails"] and not kernel["delegate_allocation_fails"]
    assert kernel["matches"]  # the delegation agrees; preparing failed elsewhere
    assert summary_lines(kernel) == ["verify: LiteRT cannot prepare the model: ADD failed to "
                                     "prepare.", "verify: prediction matches LiteRT (1 op, "
                                     "1 partition)"]


def test_an_unresolved_custom_op_is_named_on_a_line_of_its_own() -> None:
    nodes = [{"index": 0, "op": "VendorMagicOp", "inputs": [0], "outputs": [1]}]
    error = ("Encountered unresolved custom op: Vendor.Magic_Op. See instructions: "
             "https://www.tensorflow.org/lite/guide/ops_custom Node number 0 (Vendor.Magic_Op) "
             "failed to prepare.")
    verdict = compare({"partitions": 0, "cpu_ops": [{"subgraph": 0, "index": 0}]},
                      delegation_from_nodes(nodes, error))
    assert verdict["allocation_fails"] and verdict["allocation_error"] == error
    assert verdict["unresolved_ops"] == ["Vendor.Magic_Op"]
    prepare, matches = summary_lines(verdict)
    assert prepare == ("verify: LiteRT cannot prepare the model: no kernel for custom op "
                       "Vendor.Magic_Op (register it with the interpreter in every app that "
                       "loads the model)")
    assert matches.startswith("verify: prediction matches LiteRT")


def test_a_long_disagreement_is_counted_by_op_type() -> None:
    nodes = [{"index": i, "op": "CONV_2D" if i % 2 else "ADD", "inputs": [i], "outputs": [i + 1]}
             for i in range(400)]
    nodes.append({"index": 400, "op": "DELEGATE", "inputs": [0], "outputs": [400]})
    everything_on_cpu = {"partitions": 0, "cpu_ops": [{"subgraph": 0, "index": i}
                                                      for i in range(400)]}
    verdict = compare(everything_on_cpu, delegation_from_nodes(nodes))
    assert len(verdict["disagreements"]) == 400  # the json report lists every op
    text = summary(verdict)
    assert text == ("verify: prediction differs from LiteRT: 400 of 400 ops placed otherwise: "
                    "predicted on CPU, delegated in LiteRT: ADD x200 (ops 0, 2, 4, ...), "
                    "CONV_2D x200 (ops 1, 3, 5, ...); partitions predicted 0, runtime 1")


@pytest.mark.runtime
def test_verify_cli_reports_agreement_and_survives_a_runtime_crash(tmp_path: Path) -> None:
    crashing = tmp_path / "crash.tflite"  # the stock detection kernel segfaults on this toy model
    crashing.write_bytes(single_custom_op_model("TFLite_Detection_PostProcess"))
    run = run_tflint("--verify", crashing, fixture("seed/custom_activation.tflite"))
    assert run.code == 2
    assert f"{crashing}: verify: not verified: LiteRT runtime crashed (SIGSEGV)" in run.out
    assert "could not be read" not in run.out
    assert run.out.splitlines()[-1].endswith("; 1 file not verified.")
    assert "custom_activation.tflite: verify: prediction matches LiteRT (17 ops, 4 partitions)" \
        in run.out
    report = run_tflint("--verify", "--format", "json", fixture("seed/dynamic_reshape.tflite"))
    [file] = report.json()["files"]
    assert file["verification"]["matches"] and file["verification"]["actual_partitions"] == 2


def test_verify_without_the_runtime_says_how_to_install(tmp_path: Path) -> None:
    fake = tmp_path / "ai_edge_litert"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('not installed')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    run = run_tflint("--verify", fixture("clean/mobile_cnn.tflite"), env=env)
    assert run.code == 2
    assert ("mobile_cnn.tflite: verify: not verified: --verify needs the LiteRT interpreter: "
            'install the runtime extra: pip install "tflint[runtime]"') in run.out
    assert run.out.splitlines()[-1] == "No findings in 1 file linted; 1 file not verified."


def test_a_layer_cause_does_not_repeat_the_op_its_reason_names():
    from tflint_rules._causes import Cause, cause_message

    from tflint.analyses.delegation import Delegation

    node = Node(id="0:3", kind="op", op_type="CONV_2D", location=Location(op_type="CONV_2D"))
    delegation = Delegation(target="edgetpu", title="Edge TPU", partitions={0: [["0:1"]]},
                            cpu_reasons={"0:3": "CONV_2D is not supported here"})
    cause = Cause("layer", "layer 'conv'", [node], partitions_without=1)
    message = cause_message(cause, delegation)
    assert message.startswith("layer 'conv': CONV_2D is not supported here; fixing it")
    delegation.cpu_reasons["0:3"] = "dilations of 3 are too large"
    assert cause_message(cause, delegation).startswith(
        "layer 'conv': CONV_2D stays on the CPU: dilations of 3")
