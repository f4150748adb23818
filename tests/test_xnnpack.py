"""XNNPACK delegation: prediction on real models, partitioning, and --verify."""

from __future__ import annotations

import glob
import os
from pathlib import Path

import pytest
from conftest import FIXTURES, fixture, run_tflint
from tflint_rules._delegation import partition
from tflite_builder import single_custom_op_model

import tflint
from tflint.graph import Location, ModelGraph, Node, Tensor
from tflint.verify import compare, delegation_from_nodes, run_runtime

TFLITE_FIXTURES = sorted(glob.glob(str(FIXTURES / "**" / "*.tflite"), recursive=True))


def test_seed_custom_activation_prediction() -> None:
    [file] = tflint.lint(fixture("seed/custom_activation.tflite")).files
    fallback = [d for d in file.diagnostics if d.code == "TFL110"]
    assert sorted(d.location.op_type for d in fallback) == ["LESS"] * 3 + ["SELECT_V2"] * 3
    assert all("the model runs in 4 partitions" in d.message for d in fallback)
    assert all(d.suggestion for d in fallback)
    delegation = file.sections["delegation"]
    assert (delegation["target"], delegation["ops"], delegation["delegated"],
            delegation["partitions"]) == ("xnnpack", 17, 11, 4)
    assert {"subgraph", "index", "op", "layer", "reason"} <= set(delegation["cpu_ops"][0])
    assert delegation["cpu_ops"][0]["layer"].endswith("/Less")
    assert "17 ops, 11 on XNNPACK in 4 partitions, 6 on CPU: LESS x3, SELECT_V2 x3" in file.notes


def test_clean_float_model_is_fully_delegated() -> None:
    [file] = tflint.lint(fixture("clean/mobile_cnn.tflite")).files
    assert file.diagnostics == []
    assert file.sections["delegation"]["partitions"] == 1
    assert file.sections["delegation"]["cpu_ops"] == []


def test_flex_and_custom_ops_are_counted_but_reported_once() -> None:
    [file] = tflint.lint(fixture("tflite/flex_op.tflite")).files
    assert [d.code for d in file.diagnostics] == ["TFL101"]
    assert [op["op"] for op in file.sections["delegation"]["cpu_ops"]] == ["FlexErf"]
    assert file.sections["delegation"]["partitions"] == 2


@pytest.mark.parametrize("path", TFLITE_FIXTURES, ids=lambda p: Path(p).name)
def test_prediction_matches_the_runtime_on_every_fixture(path: str) -> None:
    [file] = tflint.lint(path).files
    verification = compare(file.sections["delegation"], run_runtime(path))
    assert verification["matches"], verification


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


def test_verify_cli_reports_agreement_and_survives_a_runtime_crash(tmp_path: Path) -> None:
    crashing = tmp_path / "crash.tflite"  # the stock detection kernel segfaults on this toy model
    crashing.write_bytes(single_custom_op_model("TFLite_Detection_PostProcess"))
    run = run_tflint("--verify", crashing, fixture("seed/custom_activation.tflite"))
    assert run.code == 2
    assert f"{crashing}: error: LiteRT runtime crashed (SIGSEGV)" in run.out
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
    assert 'pip install "tflint[runtime]"' in run.out
