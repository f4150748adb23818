"""Dynamic-shape rules (TFL201-TFL204) on real converted models."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, fixture, run_tflint
from hypothesis import given, settings
from hypothesis import strategies as st
from tflint_rules._dynamic_shapes import dynamic_shapes
from tflint_rules._layer_names import layer_names

import tflint
from tflint.diagnostics import Diagnostic, Severity
from tflint.graph import Location, ModelGraph, Node, Tensor

DYNAMIC_CODES = ("TFL201", "TFL202", "TFL203", "TFL204")


def findings(path: Path, code: str) -> list[Diagnostic]:
    result = tflint.lint(path, tflint.Config(select=[code]))
    [file] = result.files
    assert file.error is None, file.error
    return file.diagnostics


def codes(path: Path) -> set[str]:
    result = tflint.lint(path, tflint.Config(select=list(DYNAMIC_CODES)))
    return {d.code for d in result.diagnostics}


# -- TFL203 dynamic-shape-computation ---------------------------------------


@pytest.mark.parametrize("name", ["seed/dynamic_reshape.tflite",
                                  "seed/dynamic_reshape_layer.tflite"])
def test_seed_shape_chain_is_reported_at_the_reshape(name: str) -> None:
    [diagnostic] = findings(fixture(name), "TFL203")
    assert diagnostic.severity is Severity.WARNING
    assert diagnostic.location is not None
    assert diagnostic.location.op_type == "RESHAPE" and diagnostic.location.op_index == 4
    assert diagnostic.message.startswith("RESHAPE in layer 'batch_reshape' computes its shape")
    assert "SHAPE → STRIDED_SLICE → PACK" in diagnostic.message
    assert "layer 'conv', dynamic in dimension 0" in diagnostic.message
    assert "1 op after it gets run-time-sized inputs" in diagnostic.message
    assert diagnostic.suggestion is not None
    assert "batch_size=1" in diagnostic.suggestion and "Reshape" in diagnostic.suggestion


def test_resize_size_chain_names_the_layer_and_operand() -> None:
    [diagnostic] = findings(fixture("dynamic/dynamic_resize.tflite"), "TFL203")
    assert diagnostic.location is not None and diagnostic.location.op_type == "RESIZE_BILINEAR"
    assert "in layer 'upsample' computes its size at run time: SHAPE → SLICE → MUL" \
        in diagnostic.message
    assert "2 ops after it" in diagnostic.message
    assert diagnostic.suggestion is not None and "Resizing" in diagnostic.suggestion


@pytest.mark.parametrize("name", ["clean/mobile_cnn.tflite", "dynamic/batch_reshape_static.tflite",
                                  "dynamic/dynamic_resize_static.tflite",
                                  "dynamic/dynamic_hw.tflite"])
def test_folded_or_absent_shape_arithmetic_is_not_reported(name: str) -> None:
    assert findings(fixture(name), "TFL203") == []


# -- TFL201 dynamic-input-dimension, TFL202 dynamic-batch -------------------


@pytest.mark.parametrize("name", ["dynamic/dynamic_resize.tflite", "dynamic/dynamic_hw.tflite"])
def test_dynamic_height_and_width_are_named(name: str) -> None:
    [diagnostic] = findings(fixture(name), "TFL201")
    assert diagnostic.severity is Severity.WARNING
    assert diagnostic.message == (
        "input 'image' has dynamic dimensions 1, 2 in shape [?, ?, ?, 3]")
    assert diagnostic.suggestion is not None
    assert "keras.Input(shape=(H, W, 3), batch_size=1)" in diagnostic.suggestion
    assert findings(fixture(name), "TFL202") == []  # not "only the batch"


def test_dynamic_batch_alone_is_information() -> None:
    path = fixture("seed/dynamic_reshape.tflite")
    assert findings(path, "TFL201") == []
    [diagnostic] = findings(path, "TFL202")
    assert diagnostic.severity is Severity.INFO
    assert diagnostic.message == "input 'image' has a dynamic batch dimension in shape [?, 8, 8, 3]"
    assert diagnostic.suggestion is not None and "[1, 8, 8, 3]" in diagnostic.suggestion


@pytest.mark.parametrize("name", ["clean/mobile_cnn.tflite", "dynamic/batch_reshape_static.tflite",
                                  "dynamic/dynamic_resize_static.tflite"])
def test_static_inputs_are_not_reported(name: str) -> None:
    assert codes(fixture(name)) == set()


# -- TFL204 data-dependent-shape --------------------------------------------


def test_boolean_mask_where_is_reported() -> None:
    [diagnostic] = findings(fixture("dynamic/boolean_mask.tflite"), "TFL204")
    assert diagnostic.location is not None and diagnostic.location.op_type == "WHERE"
    assert "the number of true elements" in diagnostic.message
    assert "2 ops after it" in diagnostic.message


def test_three_operand_where_is_static() -> None:
    assert codes(fixture("dynamic/masked_select.tflite")) == set()


def test_cli_reports_the_seed_chain() -> None:
    run = run_tflint("--select", "dynamic-shape", fixture("seed/dynamic_reshape.tflite"))
    assert run.code == 1, run.err
    assert "warning TFL203 RESHAPE in layer 'batch_reshape'" in run.out
    assert "info TFL202 input 'image'" in run.out


# -- what the messages claim, checked against the real runtime --------------


def _generator() -> object:
    path = FIXTURES / "generate_dynamic.py"
    spec = importlib.util.spec_from_file_location("generate_dynamic", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("generate_dynamic", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.runtime
def test_reported_chain_stays_on_the_cpu_and_the_folded_one_does_not() -> None:
    from ai_edge_litert.interpreter import Interpreter

    cpu_ops = _generator().cpu_ops  # type: ignore[attr-defined]
    dynamic = Interpreter(model_path=str(fixture("seed/dynamic_reshape.tflite")))
    dynamic.allocate_tensors()
    assert cpu_ops(dynamic) == ["SHAPE", "STRIDED_SLICE", "PACK", "RESHAPE"]
    static = Interpreter(model_path=str(fixture("dynamic/batch_reshape_static.tflite")))
    static.allocate_tensors()
    assert cpu_ops(static) == []


# -- layer names from converter tensor names --------------------------------


def _graph(*names: str) -> ModelGraph:
    graph = ModelGraph("names.tflite", "tflite")
    for i, name in enumerate(names):
        tensor = Tensor(id=f"0:{i}", name=name, dtype="float32", shape=(1,), index=i)
        graph.add_node(Node(id=f"0:{i}", kind="op", op_type="RELU",
                            location=Location("RELU", name, 0, i), outputs=[tensor]))
    return graph


def test_keras3_scope_suffixes_are_dropped_and_nested_models_resolved() -> None:
    graph = _graph("functional_1/conv_1/convolution",
                   "functional_1/backbone_1/block_1_1/Relu6;functional_1/backbone_1/x",
                   "functional_1/stem_bn_1/batchnorm/add_1")
    names = layer_names(graph, "xnnpack")
    assert [names.of_node(n) for n in graph.nodes()] == ["conv", "block_1", "stem_bn"]


def test_tf_keras_names_are_kept_as_written() -> None:
    graph = _graph("model/conv/Conv2D", "model/dense_1/MatMul", "serving_default_x:0")
    names = layer_names(graph, "xnnpack")
    assert [names.of_node(n) for n in graph.nodes()] == ["conv", "dense_1", None]
    assert names.describe(graph.node("0:2")) == "RELU 'serving_default_x:0'"


# -- one forward pass: downstream attribution matches reachability ----------


def _int_tensor(i: int) -> Tensor:
    return Tensor(id=f"0:{i}", name=f"t{i}", dtype="float32", shape=(1, None), index=i)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.lists(st.integers(0, 10**6), max_size=3)),
                min_size=1, max_size=40))
def test_downstream_ops_are_exactly_those_reachable_from_a_source(
        spec: list[tuple[bool, list[int]]]) -> None:
    graph = ModelGraph("random.tflite", "tflite")
    graph.inputs = [_int_tensor(0)]
    sources: set[str] = set()
    for i, (is_source, picks) in enumerate(spec, start=1):
        inputs = [_int_tensor(p % i) for p in picks] or [_int_tensor(0)]
        op_type = "WHERE" if is_source else "ADD"
        node = Node(id=f"0:{i}", kind="op", op_type=op_type,
                    location=Location(op_type, f"t{i}", 0, i), inputs=inputs,
                    outputs=[_int_tensor(i)], options={"_inputs": [t.index for t in inputs]})
        graph.add_node(node)
        if is_source:
            sources.add(node.id)
    analysis = dynamic_shapes(graph, "xnnpack")
    assert {n.id for n in analysis.data_dependent} == sources
    reached = {n.id for nodes in analysis.downstream.values() for n in nodes}
    expected: set[str] = set()
    live: set[str] = set()
    for node in graph.nodes():  # brute force: follow every edge
        fed = any(t.id in live for t in node.inputs)
        if fed:
            expected.add(node.id)
        if fed or node.id in sources:
            live.update(t.id for t in node.outputs)
    assert reached == expected
