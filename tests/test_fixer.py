"""The fixer's config rewrites, fix choice, weights index, diff, isolation and table.

Nothing here imports Keras: actions edit config dicts, and the graph the
linter builds from the rewritten config shows whether the wiring is right.
Configs come from the real fixtures of each dialect: Keras 3 (``.keras``),
tf.keras 2.x (``to_json()`` with module keys, ``.h5`` without) and Keras 2.0.x.
"""

from __future__ import annotations

import copy
import json
import os
import time
from pathlib import Path
from typing import Any

import h5py
import pytest
from conftest import fixture, run_tflint

from tflint.diagnostics import Diagnostic, Fix, Severity
from tflint.engine import FileResult, lint
from tflint.errors import UsageError
from tflint.fixer.actions import apply_action, describe_replacement
from tflint.fixer.apply import (
    check_rewritten,
    parse_input_shape,
    parse_replacement,
    plan_fixes,
    read_config,
)
from tflint.fixer.command import FixRequest
from tflint.fixer.configs import ActionError
from tflint.fixer.diff import MISSING, ConfigChange, config_diff
from tflint.fixer.diff import changes as config_changes
from tflint.fixer.measure import delegated_ops
from tflint.fixer.table import column, render
from tflint.fixer.weights import OriginalWeights, auto_names, tree_index
from tflint.fixer.writer import FixError, check_output, default_output, write_fixed
from tflint.graph import Location, ModelGraph
from tflint.isolation import run_isolated, target_name
from tflint.kerasconfig import KerasModelConfig, ModelConfig
from tflint.loaders.keras_config import build_keras_graph

KERAS3_FILES = ["seed/custom_activation.keras", "seed/dynamic_reshape.keras",
                "seed/lambda_sincos.keras", "keras3/functional_multi_io.keras",
                "keras3/sequential.keras", "fixer/fold.keras", "fixer/fold_sequential.keras",
                "fixer/weighted_custom.keras", "fixer/hashing.keras"]


# -- helpers --------------------------------------------------------------------------------------


def load(relative: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    document, facts = read_config(str(fixture(relative)))
    return document, facts, KerasModelConfig(document, facts.get("keras_version")).dialect


def models(document: dict[str, Any]) -> list[ModelConfig]:
    return KerasModelConfig(document).models()


def entry_name(item: dict[str, Any]) -> str | None:
    """The name a layer entry is written with."""
    name = item.get("name")
    if not isinstance(name, str):
        name = item.get("config", {}).get("name")
    return name


def graph_of(document: dict[str, Any], facts: dict[str, Any]) -> ModelGraph:
    return build_keras_graph(document, "rewritten", facts)


def node_of(graph: ModelGraph, layer: str, model: str | None = None):
    found = [n for n in graph.nodes() if n.layer_name == layer and n.location.model == model]
    assert found, f"no node for layer {layer!r} in {model!r}"
    return found[0]


def neighbours(graph: ModelGraph, layer: str, model: str | None = None):
    node = node_of(graph, layer, model)
    return ([p.layer_name for p in graph.predecessors(node)],
            [s.layer_name for s in graph.successors(node)])


def entry(document: dict[str, Any], name: str, location: str | None = None) -> dict[str, Any]:
    for model in models(document):
        if model.location == location:
            for item in model.layers:
                if item.written_name == name:
                    return item.raw
    raise AssertionError(f"no entry {name!r}")


def refused(document: dict[str, Any], dialect: str, action: dict[str, Any], text: str) -> None:
    before = copy.deepcopy(document)
    with pytest.raises(ActionError, match=text):
        apply_action(document, dialect, action)
    assert document == before, "a refused action must leave the config as it was"


def diagnostic(code: str, layer: str, action: dict[str, Any], applicability: str = "safe",
               model: str | None = None, category: str = "fusion") -> Diagnostic:
    return Diagnostic(code, "test-rule", category, Severity.WARNING, f"about {layer}",
                      Location("Layer", layer, model=model),
                      fix=Fix(applicability, f"fix {layer}", action))


def file_result(relative: str, diagnostics: list[Diagnostic]) -> FileResult:
    return FileResult(path=str(fixture(relative)), kind="keras", diagnostics=diagnostics)


# -- replace_layer --------------------------------------------------------------------------------


def test_replace_layer_keras3_keeps_wiring_name_and_dtype() -> None:
    document, facts, dialect = load("seed/custom_activation.keras")
    assert dialect == "keras3"
    original = copy.deepcopy(document)
    before = graph_of(document, facts)
    change = apply_action(document, dialect, {
        "op": "replace_layer", "layer": "custom_act2",
        "with": {"class_name": "LeakyReLU", "config": {"negative_slope": 0.1}}})
    assert change.new_layers == ["custom_act2"]
    assert change.description == "replaced CustomActivation with LeakyReLU(negative_slope=0.1)"
    new, old = entry(document, "custom_act2"), entry(original, "custom_act2")
    assert new["class_name"] == "LeakyReLU" and new["module"] == "keras.layers"
    assert new["registered_name"] is None and new["name"] == "custom_act2"
    assert new["config"]["negative_slope"] == 0.1 and "alpha" not in new["config"]
    assert new["config"]["dtype"] == old["config"]["dtype"]
    assert new["build_config"] == old["build_config"]
    assert [n["args"] for n in new["inbound_nodes"]] == [n["args"] for n in old["inbound_nodes"]]
    assert all(n["kwargs"] == {} for n in new["inbound_nodes"])
    after = graph_of(document, facts)
    for layer in ("conv1", "custom_act2", "conv2", "gap"):
        assert neighbours(after, layer) == neighbours(before, layer)
    node = node_of(after, "custom_act2")
    assert node.op_type == "LeakyReLU" and node.origin == "builtin"
    others = [e for e in document["config"]["layers"] if entry_name(e) != "custom_act2"]
    assert others == [e for e in original["config"]["layers"] if entry_name(e) != "custom_act2"]


def test_replace_layer_tf_keras_json_writes_alpha_and_list_calls() -> None:
    document, facts, dialect = load("keras2/functional_multi_io.json")
    assert dialect == "tf.keras2"
    before = graph_of(document, facts)
    apply_action(document, dialect, {
        "op": "replace_layer", "layer": "seq_pool",
        "with": {"class_name": "LeakyReLU", "config": {"negative_slope": 0.2}}})
    new = entry(document, "seq_pool")
    assert new["config"]["alpha"] == 0.2 and "negative_slope" not in new["config"]
    assert new["module"] == "keras.layers"  # this file writes module keys
    assert new["inbound_nodes"] == [[["td_dense", 0, 0, {}]]]
    after = graph_of(document, facts)
    assert neighbours(after, "seq_pool") == neighbours(before, "seq_pool")
    assert node_of(after, "seq_pool").op_type == "LeakyReLU"


def test_replace_lambda_in_tf_keras_h5_writes_no_module_keys() -> None:
    document, facts, dialect = load("keras2/lambda_sincos_tfkeras.h5")
    assert dialect == "tf.keras2" and "module" not in entry(document, "sincos")
    apply_action(document, dialect, {"op": "replace_layer", "layer": "sincos", "with": {
        "class_name": "Activation", "config": {"activation": "tanh"}}})
    new = entry(document, "sincos")
    assert set(new) == {"class_name", "config", "name", "inbound_nodes"}
    assert new["config"]["activation"] == "tanh"
    graph = graph_of(document, facts)
    assert all(n.origin == "builtin" for n in graph.nodes())
    assert neighbours(graph, "sincos") == (["dense_in"], ["dense_out"])


def test_replace_layer_keras20_keeps_the_oldest_dialect() -> None:
    document, facts, dialect = load("keras2/legacy_keras20.json")
    assert dialect == "keras2.0"
    apply_action(document, dialect, {"op": "replace_layer", "layer": "activation_1", "with": {
        "class_name": "ReLU", "config": {"max_value": 6.0}}})
    new = entry(document, "activation_1")
    assert set(new) == {"class_name", "config", "name", "inbound_nodes"}
    assert new["config"] == {"name": "activation_1", "trainable": True, "max_value": 6.0}
    assert document["class_name"] == "Model" and document["keras_version"] == "2.0.8"
    graph = graph_of(document, facts)
    assert neighbours(graph, "activation_1") == (["batch_normalization_1"], ["max_pooling2d_1"])


@pytest.mark.parametrize(("relative", "layer", "model"), [
    ("fixer/fold.keras", "block_relu", "block"),
    ("keras2/functional_multi_io.json", "backbone_pool", "backbone"),
])
def test_replace_layer_inside_a_nested_model(relative: str, layer: str, model: str) -> None:
    document, facts, dialect = load(relative)
    before = graph_of(document, facts)
    apply_action(document, dialect, {"op": "replace_layer", "layer": layer, "model": model,
                                     "with": {"class_name": "ReLU", "config": {}}})
    after = graph_of(document, facts)
    assert node_of(after, layer, model).op_type == "ReLU"
    assert neighbours(after, layer, model) == neighbours(before, layer, model)
    # Without "model" the name alone finds it too, being unique.
    document, facts, dialect = load(relative)
    assert apply_action(document, dialect, {"op": "replace_layer", "layer": layer, "with": {
        "class_name": "ReLU", "config": {}}}).model == model


def test_replace_layer_refusals_leave_the_config_alone() -> None:
    document, _, dialect = load("keras3/functional_multi_io.keras")
    relu = {"class_name": "ReLU", "config": {}}
    refused(document, dialect, {"op": "replace_layer", "layer": "concat", "with": relu},
            "takes 2 tensors")
    refused(document, dialect, {"op": "replace_layer", "layer": "image", "with": relu},
            "is an input")
    refused(document, dialect, {"op": "replace_layer", "layer": "backbone", "with": relu},
            "whole model")
    refused(document, dialect, {"op": "replace_layer", "layer": "nope", "with": relu},
            "no layer 'nope'")
    refused(document, dialect, {"op": "replace_layer", "layer": "seq_pool",
                                "with": {"class_name": "MyLayer", "config": {}}},
            "not a built-in Keras layer")
    refused(document, dialect, {"op": "replace_layer", "layer": "seq_pool",
                                "with": {"class_name": "seed>ReLU", "config": {}}},
            "not a built-in Keras layer")
    refused(document, dialect, {"op": "replace_layer", "layer": "seq_pool"}, "needs 'with'")
    refused(document, dialect, {"op": "explode", "layer": "seq_pool"}, "unknown fix action")
    # The same name in the top model and in a nested one needs the model named.
    entry(document, "backbone_pool", "backbone")["config"]["name"] = "seq_pool"
    entry(document, "backbone_pool", "backbone")["name"] = "seq_pool"
    refused(document, dialect, {"op": "replace_layer", "layer": "seq_pool", "with": relu},
            "used in several models")
    apply_action(document, dialect, {"op": "replace_layer", "layer": "seq_pool",
                                     "model": "backbone", "with": relu})
    assert entry(document, "seq_pool", "backbone")["class_name"] == "ReLU"
    assert entry(document, "seq_pool")["class_name"] == "GlobalAveragePooling1D"


def test_static_reshape_replaces_the_lambda_and_its_mask_argument() -> None:
    document, facts, dialect = load("seed/dynamic_reshape.keras")
    assert entry(document, "batch_reshape")["inbound_nodes"][0]["kwargs"] == {"mask": None}
    change = apply_action(document, dialect, {"op": "static_reshape", "layer": "batch_reshape",
                                              "target_shape": [256]})
    assert change.description == "replaced Lambda with Reshape(target_shape=[256])"
    new = entry(document, "batch_reshape")
    assert new["class_name"] == "Reshape" and new["config"]["target_shape"] == [256]
    assert "function" not in new["config"] and new["inbound_nodes"][0]["kwargs"] == {}
    graph = graph_of(document, facts)
    assert all(n.origin == "builtin" for n in graph.nodes())
    assert neighbours(graph, "batch_reshape") == (["conv"], ["dense_out"])
    for shape in ([-1, -1], [0], ["256"], [], None):
        refused(document, dialect, {"op": "static_reshape", "layer": "batch_reshape",
                                    "target_shape": shape}, "shape")


# -- fold_activation ------------------------------------------------------------------------------


def test_fold_keras3_rewires_the_consumers_to_the_conv() -> None:
    document, facts, dialect = load("fixer/fold.keras")
    before = graph_of(document, facts)
    change = apply_action(document, dialect, {"op": "fold_activation", "layer": "relu1",
                                              "into": "conv1", "activation": "relu"})
    assert change.removed_layers == ["relu1"]
    assert "relu1" not in [entry_name(e) for e in document["config"]["layers"]]
    assert entry(document, "conv1")["config"]["activation"] == "relu"
    call = entry(document, "block")["inbound_nodes"][0]["args"][0]
    assert call["config"]["keras_history"] == ["conv1", 0, 0]
    after = graph_of(document, facts)
    assert len(after) == len(before) - 1
    assert [s.layer_name for s in after.successors(node_of(after, "conv1"))] == ["block_conv"]


def test_fold_inside_a_nested_model_rewires_its_outputs() -> None:
    document, facts, dialect = load("fixer/fold.keras")
    apply_action(document, dialect, {"op": "fold_activation", "layer": "block_relu",
                                     "model": "block", "into": "block_conv",
                                     "activation": "relu"})
    block = entry(document, "block")["config"]
    assert block["output_layers"] == ["block_conv", 0, 0]
    assert [entry_name(e) for e in block["layers"]] == ["block_in", "block_conv"]
    graph = graph_of(document, facts)
    assert neighbours(graph, "conv2") == (["block_conv"], ["relu2", "skip"])


def test_fold_refusals() -> None:
    document, _, dialect = load("fixer/fold.keras")

    def fold(layer: str, into: str) -> dict[str, Any]:
        return {"op": "fold_activation", "layer": layer, "into": into, "activation": "relu"}

    refused(document, dialect, fold("relu2", "conv2"), "also used by 'skip'")
    refused(document, dialect, fold("relu1", "conv2"), "applied to 'conv1', not to 'conv2'")
    refused(document, dialect, fold("relu1", "skip"), "has no activation to set")
    refused(document, dialect, fold("relu1", "missing"), "no layer 'missing'")
    refused(document, dialect, fold("block", "conv1"), "not an activation layer")
    entry(document, "conv1")["config"]["activation"] = "tanh"
    refused(document, dialect, fold("relu1", "conv1"), "already applies activation 'tanh'")


def _without_batchnorm(document: dict[str, Any]) -> dict[str, Any]:
    """legacy_keras20 with conv2d_1 feeding activation_1 directly (list-style calls)."""
    layers = document["config"]["layers"]
    layers[:] = [e for e in layers if entry_name(e) != "batch_normalization_1"]
    entry(document, "activation_1")["inbound_nodes"] = [[["conv2d_1", 0, 0, {}]]]
    entry(document, "max_pooling2d_1")["inbound_nodes"] = [[["activation_1", 0, 0, {"k": 1}]]]
    return document


@pytest.mark.parametrize("dialect_name", ["keras2.0", "tf.keras2"])
def test_fold_list_style_keeps_the_consumers_kwargs(dialect_name: str) -> None:
    document, facts, _ = load("keras2/legacy_keras20.json")
    document = _without_batchnorm(document)
    if dialect_name == "tf.keras2":
        document["class_name"] = "Functional"
        facts = {**facts, "keras_version": "2.15.0"}
    assert KerasModelConfig(document, facts.get("keras_version")).dialect == dialect_name
    apply_action(document, dialect_name, {"op": "fold_activation", "layer": "activation_1",
                                          "into": "conv2d_1", "activation": "relu"})
    assert entry(document, "max_pooling2d_1")["inbound_nodes"] == [[["conv2d_1", 0, 0, {"k": 1}]]]
    assert entry(document, "conv2d_1")["config"]["activation"] == "relu"
    graph = graph_of(document, facts)
    assert neighbours(graph, "conv2d_1") == ([], ["max_pooling2d_1"])  # inputs are no nodes


def test_fold_in_sequential_models() -> None:
    document, facts, dialect = load("fixer/fold_sequential.keras")
    refused(document, dialect, {"op": "fold_activation", "layer": "flatten", "into": "conv",
                                "activation": "relu"}, "does not directly follow")
    apply_action(document, dialect, {"op": "fold_activation", "layer": "relu", "into": "conv",
                                     "activation": "relu"})
    assert [entry_name(e) for e in document["config"]["layers"]] == [
        "image", "conv", "flatten", "dense_out"]
    assert neighbours(graph_of(document, facts), "conv") == ([], ["flatten"])
    # tf.keras Sequential .h5, once its BatchNormalization is out of the way.
    document, facts, dialect = load("keras2/sequential.h5")
    document["config"]["layers"] = [e for e in document["config"]["layers"]
                                    if entry_name(e) != "bn"]
    apply_action(document, dialect, {"op": "fold_activation", "layer": "relu", "into": "conv",
                                     "activation": "relu"})
    assert entry(document, "conv")["config"]["activation"] == "relu"
    assert "relu" not in [entry_name(e) for e in document["config"]["layers"]]


# -- set_input_shape ------------------------------------------------------------------------------


@pytest.mark.parametrize(("relative", "name", "key"), [
    ("seed/custom_activation.keras", "image", "batch_shape"),
    ("keras2/legacy_keras20.json", "input_1", "batch_input_shape"),
    ("keras2/sequential.h5", "image", "batch_input_shape"),
    ("fixer/fold_sequential.keras", "image", "batch_shape"),
])
def test_set_input_shape_in_every_dialect(relative: str, name: str, key: str) -> None:
    document, facts, dialect = load(relative)
    change = apply_action(document, dialect, {"op": "set_input_shape", "input": name,
                                              "shape": [1, 8, 8, 3]})
    assert change.description.endswith("from [None, 8, 8, 3] to [1, 8, 8, 3]")
    assert entry(document, name)["config"][key] == [1, 8, 8, 3]
    graph = graph_of(document, facts)
    assert graph.inputs[0].shape == (1, 8, 8, 3)
    if dialect == "keras3" and models(document)[0].kind == "functional":
        assert entry(document, "conv1")["inbound_nodes"][0]["args"][0]["config"]["shape"] == [
            1, 8, 8, 3]
    refused(document, dialect, {"op": "set_input_shape", "input": name, "shape": [1, 9, 8, 3]},
            "dimension 1 .* is 8, not 9")
    refused(document, dialect, {"op": "set_input_shape", "input": name, "shape": [1, 64]},
            "rank 4, not 2")
    refused(document, dialect, {"op": "set_input_shape", "input": "nope", "shape": [1]},
            "no input 'nope'")


# -- choosing fixes -------------------------------------------------------------------------------


def test_plan_applies_safe_fixes_and_leaves_unsafe_ones_unless_asked() -> None:
    fold = {"op": "fold_activation", "layer": "relu1", "into": "conv1", "activation": "relu"}
    swap = {"op": "replace_layer", "layer": "relu2",
            "with": {"class_name": "ReLU", "config": {"max_value": 6.0}}}
    diagnostics = [diagnostic("TST001", "relu1", fold),
                   diagnostic("TST002", "relu2", swap, "unsafe"),
                   diagnostic("TST003", "relu1", dict(fold)),  # the same change again
                   diagnostic("TST004", "conv1", {"op": "replace_layer", "layer": "conv1",
                                                  "with": {"class_name": "ReLU"}}, "unsafe")]
    plan = plan_fixes(file_result("fixer/fold.keras", diagnostics))
    assert [a.candidate.code for a in plan.applied] == ["TST001"]
    assert plan.applied[0].line() == (
        'fixed TST001 in layer "relu1": folded ReLU \'relu1\' into Conv2D \'conv1\' '
        "(activation='relu') [safe]")
    assert [(s.candidate.code, s.by_choice) for s in plan.skipped] == [
        ("TST002", True), ("TST004", True)]
    assert plan.removed == {(None, "relu1")} and not plan.fresh
    plan = plan_fixes(file_result("fixer/fold.keras", diagnostics), unsafe=True)
    assert [a.candidate.code for a in plan.applied] == ["TST001", "TST002"]
    assert plan.fresh == {(None, "relu2")}
    (left,) = plan.skipped
    assert left.candidate.code == "TST004" and "already rewritten by TST001" in left.reason


def test_plan_command_line_choices_override_the_rules() -> None:
    swap = {"op": "replace_layer", "layer": "relu2",
            "with": {"class_name": "ReLU", "config": {"max_value": 6.0}}}
    shape = {"op": "set_input_shape", "input": "image", "shape": [2, 8, 8, 3]}
    diagnostics = [diagnostic("TST002", "relu2", swap, "unsafe"),
                   diagnostic("TST005", "image", shape, "unsafe")]
    plan = plan_fixes(file_result("fixer/fold.keras", diagnostics),
                      replacements=[parse_replacement("relu2=LeakyReLU:0.1"),
                                    parse_replacement("block/block_relu=hard_swish")],
                      input_shapes=[parse_input_shape("image=1,8,8,3")])
    lines = [a.line() for a in plan.applied]
    assert lines == [
        'fixed TST002 in layer "relu2": replaced ReLU with LeakyReLU(negative_slope=0.1) '
        "[unsafe]",
        'fixed --replace-with in layer "block_relu" of model "block": replaced ReLU with '
        "Activation('hard_swish') [unsafe]",
        'fixed --input-shape in input "image": set the shape of input \'image\' from '
        "[None, 8, 8, 3] to [1, 8, 8, 3] [unsafe]"]
    assert not plan.skipped
    assert plan.fresh == {(None, "relu2"), ("block", "block_relu")}


def test_plan_refuses_to_replace_a_layer_with_weights() -> None:
    relative = "fixer/weighted_custom.keras"
    document, facts = read_config(str(fixture(relative)))
    swap = {"op": "replace_layer", "layer": "scaled", "with": {"class_name": "ReLU"}}
    with OriginalWeights(str(fixture(relative)), "keras", document) as weights:
        assert weights.count(None, "scaled") == 1 and weights.count(None, "gap") == 0
        plan = plan_fixes(file_result(relative, [diagnostic("TST006", "scaled", swap)]),
                          weights=weights, document=document, facts=facts)
    assert not plan.changed
    assert plan.skipped[0].line() == (
        'left TST006 in layer "scaled": layer \'scaled\' has 1 weight array(s) that a new '
        "layer would not keep; replace it in your code and retrain")


def test_fix_until_stable_applies_what_each_pass_reveals(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import tflint.fixer.apply as apply_module
    from tflint.config import Config

    reshape = {"op": "static_reshape", "layer": "batch_reshape", "target_shape": [256]}
    static = {"op": "set_input_shape", "input": "image", "shape": [1, 8, 8, 3]}
    broken = {"op": "replace_layer", "layer": "nope", "with": {"class_name": "ReLU"}}
    plan = plan_fixes(file_result("seed/dynamic_reshape.keras",
                                  [diagnostic("TST010", "batch_reshape", reshape, "unsafe")]),
                      unsafe=True)
    passes = []

    def lint_rewritten(plan: Any, config: Any) -> None:
        """A rule that asks for a static batch once the reshape is a Reshape layer."""
        passes.append(len(plan.applied))
        batch = entry(plan.document, "image")["config"]["batch_shape"][0]
        plan.remaining = [diagnostic("TST012", "nope", broken)]
        if entry(plan.document, "batch_reshape")["class_name"] == "Reshape" and batch is None:
            plan.remaining.append(diagnostic("TST011", "image", static, "unsafe"))
        plan.security = []

    monkeypatch.setattr(apply_module, "check_rewritten", lint_rewritten)
    apply_module.fix_until_stable(plan, Config(), unsafe=True)
    assert [a.candidate.code for a in plan.applied] == ["TST010", "TST011"]
    assert passes == [1, 2]
    assert [s.candidate.code for s in plan.skipped] == ["TST012"]  # listed once
    assert entry(plan.document, "image")["config"]["batch_shape"] == [1, 8, 8, 3]


def test_rewritten_config_is_linted_for_security_whatever_the_selection() -> None:
    from tflint.config import Config

    relative = "seed/dynamic_reshape.keras"
    reshape = {"op": "static_reshape", "layer": "batch_reshape", "target_shape": [256]}
    config = Config(select=["TFL1"])
    plan = plan_fixes(file_result(relative, []),
                      input_shapes=[parse_input_shape("image=1,8,8,3")])
    check_rewritten(plan, config)
    assert "TFL601" in {d.code for d in plan.security}, "the Lambda is still there"
    assert all(d.code.startswith("TFL1") for d in plan.remaining)
    plan = plan_fixes(file_result(relative, [diagnostic("TST007", "batch_reshape", reshape)]))
    check_rewritten(plan, config)
    assert plan.security == []


@pytest.mark.parametrize(("text", "expected"), [
    ("act=ReLU", {"class_name": "ReLU", "config": {}}),
    ("act=ReLU6", {"class_name": "ReLU", "config": {"max_value": 6.0}}),
    ("act=LeakyReLU:0.1", {"class_name": "LeakyReLU", "config": {"negative_slope": 0.1}}),
    ("act=hard_swish", {"class_name": "Activation", "config": {"activation": "hard_swish"}}),
    ("act=Reshape:16,-1", {"class_name": "Reshape", "config": {"target_shape": [16, -1]}}),
])
def test_parse_replacement(text: str, expected: dict[str, Any]) -> None:
    assert parse_replacement(text).spec == expected
    assert parse_replacement("outer/inner/act=ReLU").model == "outer/inner"


@pytest.mark.parametrize("text", ["act", "=ReLU", "act=", "act=Sin", "act=ReLU:3",
                                  "act=LeakyReLU:x", "act=Reshape", "act=relu:2"])
def test_parse_replacement_errors(text: str) -> None:
    with pytest.raises(UsageError, match="--replace-with"):
        parse_replacement(text)


def test_parse_input_shape() -> None:
    assert parse_input_shape("image=1,224,224,3") == ("image", [1, 224, 224, 3])
    for bad in ("image", "image=", "image=1,x", "=1,2", "image=0,3"):
        with pytest.raises(UsageError, match="--input-shape"):
            parse_input_shape(bad)


# -- weights index --------------------------------------------------------------------------------


@pytest.mark.parametrize("relative", KERAS3_FILES)
def test_weight_groups_are_named_as_keras_numbers_them(relative: str) -> None:
    """Files without the ``name`` attribute fall back on the numbering; both must agree."""
    import zipfile

    path = fixture(relative)
    document, _ = read_config(str(path))
    with zipfile.ZipFile(path) as archive, archive.open("model.weights.h5") as raw:
        handle = h5py.File(raw, "r")
        index = tree_index(handle, document)
        by_location = {m.location: m for m in models(document)}
        for (location, name), group in index.items():
            stored = handle[group]["vars"].attrs["name"]
            assert stored == name
            assert auto_names(by_location[location])[group.rsplit("/", 1)[-1]] == name
        handle.close()
    assert {key for key in index} >= {(m.location, e.written_name) for m in models(document)
                                      for e in m.layers if not e.is_input}


def test_legacy_weight_counts() -> None:
    for relative, expected in [
        ("keras2/legacy_keras20.h5", {(None, "conv2d_1"): 2, (None, "activation_1"): 0,
                                      (None, "batch_normalization_1"): 4}),
        ("keras2/functional_multi_io.h5", {("backbone", "backbone_conv"): 2,
                                           ("backbone", "backbone_pool"): 0,
                                           (None, "bilstm"): 6}),
        ("seed/custom_activation.h5", {(None, "conv1"): 2, (None, "custom_act1"): 0}),
    ]:
        document, facts = read_config(str(fixture(relative)))
        with OriginalWeights(str(fixture(relative)), facts["container"], document) as weights:
            assert weights.present
            assert {key: weights.count(*key) for key in expected} == expected


# -- writing without Keras: JSON configs and output checks ----------------------------------------


def test_json_config_is_rewritten_in_its_dialect(tmp_path: Path) -> None:
    source = tmp_path / "model.json"
    source.write_bytes(fixture("keras2/functional_multi_io.json").read_bytes())
    swap = {"op": "replace_layer", "layer": "seq_pool", "with": {"class_name": "ReLU"}}
    plan = plan_fixes(FileResult(str(source), "keras",
                                 diagnostics=[diagnostic("TST008", "seq_pool", swap)]))
    output = default_output(source, plan.container)
    assert output.name == "model.fixed.json"
    write_fixed(plan, output)
    written = json.loads(output.read_text())
    assert written == plan.document
    assert entry(written, "seq_pool")["inbound_nodes"] == [[["td_dense", 0, 0, {}]]]
    assert json.loads(source.read_text()) == plan.original
    result = lint(str(output)).files[0]
    assert result.error is None and result.graph.facts["keras"]["dialect"] == "tf.keras2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.fixed.json", "model.json"]


def test_a_model_without_weights_is_not_written(tmp_path: Path) -> None:
    source = tmp_path / "config_only.h5"
    with h5py.File(source, "w") as handle:
        handle.attrs["model_config"] = fixture("keras2/legacy_keras20.json").read_text()
    swap = {"op": "replace_layer", "layer": "activation_1", "with": {"class_name": "ReLU"}}
    plan = plan_fixes(FileResult(str(source), "keras",
                                 diagnostics=[diagnostic("TST009", "activation_1", swap)]))
    assert plan.changed
    with pytest.raises(FixError, match="holds no weights"):
        write_fixed(plan, tmp_path / "out.keras")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config_only.h5"]


def test_output_checks(tmp_path: Path) -> None:
    source = tmp_path / "model.keras"
    source.write_bytes(b"x")
    assert default_output(source, "keras").name == "model.fixed.keras"
    assert default_output(tmp_path / "model.h5", "h5").name == "model.fixed.h5.keras"
    with pytest.raises(FixError, match="is the input model"):
        check_output(source, tmp_path / "." / "model.keras", "keras", force=True)
    link = tmp_path / "link.keras"
    link.symlink_to(source)
    with pytest.raises(FixError, match="is the input model"):
        check_output(source, link, "keras", force=True)
    with pytest.raises(FixError, match=r"must be a \.keras or \.h5 file"):
        check_output(source, tmp_path / "out.tflite", "keras", force=False)
    existing = tmp_path / "out.keras"
    existing.write_bytes(b"y")
    with pytest.raises(FixError, match="already exists"):
        check_output(source, existing, "keras", force=False)
    check_output(source, existing, "keras", force=True)


# -- diff -----------------------------------------------------------------------------------------


def test_diff_shows_the_changed_layer_only() -> None:
    document, _, dialect = load("seed/custom_activation.keras")
    original = copy.deepcopy(document)
    assert config_diff("m.keras", original, document) == ""
    apply_action(document, dialect, {"op": "replace_layer", "layer": "custom_act3", "with": {
        "class_name": "ReLU", "config": {}}})
    text = config_diff("m.keras", original, document)
    header, changed = text.splitlines()[:2], text.splitlines()[2:]
    assert header == ["--- m.keras (model config)", "+++ m.keras (fixed model config)"]
    assert '~ config.layers["custom_act3"].class_name: "CustomActivation" -> "ReLU"' in changed
    assert '~ config.layers["custom_act3"].module: null -> "keras.layers"' in changed
    # Only what changed, each line a change of that one layer.
    assert all(line[:2] in ("~ ", "- ", "+ ") for line in changed)
    assert all(line[2:].startswith('config.layers["custom_act3"]') for line in changed)
    assert len(changed) < 10


def test_diff_names_a_removed_layer_once_and_cuts_long_values() -> None:
    document, _, dialect = load("fixer/fold.keras")
    original = copy.deepcopy(document)
    apply_action(document, dialect, {"op": "fold_activation", "layer": "relu1", "into": "conv1",
                                     "activation": "relu"})
    changed = config_diff("m.keras", original, document).splitlines()[2:]
    assert '~ config.layers["conv1"].config.activation: "linear" -> "relu"' in changed
    removed = [line for line in changed if line.startswith('- config.layers["relu1"]:')]
    assert len(removed) == 1 and len(removed[0]) <= len('- config.layers["relu1"]: ') + 100
    assert removed[0].endswith("...")
    assert not any(line.startswith('- config.layers["relu1"].') for line in changed)


def test_diff_tells_false_from_zero() -> None:
    assert config_changes({"a": False, "b": [1, 2]}, {"a": 0, "b": [1, 2]}) == [
        ConfigChange("a", False, 0)]
    assert config_changes({"a": {"b": 1}}, {"a": {"c": 1}}) == [
        ConfigChange("a.b", 1, MISSING), ConfigChange("a.c", MISSING, 1)]


def test_a_fix_that_keeps_the_class_lists_only_the_options_it_changes() -> None:
    path = fixture("keras_cases/lstm_static_batch.json")
    [file] = lint(str(path)).files
    plan = plan_fixes(file)
    [applied] = plan.applied
    assert applied.description == "set unroll=True on LSTM (was unroll=False)"
    assert applied.line() == ('fixed TFL121 in layer "encoder": set unroll=True on LSTM (was '
                              'unroll=False) [safe]')
    long_config = {"kernel_initializer": {"class_name": "GlorotUniform", "config": {
        "seed": None}, "module": "keras.initializers"}, "a": 1, "b": 2, "c": 3, "d": 4}
    text = describe_replacement("Lambda", {}, "Dense", long_config)
    assert text == ("replaced Lambda with Dense(kernel_initializer={'class_name': "
                    "'GlorotUniform', 'conf..., a=1, b=2, c=3, ... (1 more))")


# -- isolation ------------------------------------------------------------------------------------


def test_isolated_call_returns_the_value_or_the_exception_message() -> None:
    outcome = run_isolated("os:getpid", timeout=60)
    assert outcome.ok and isinstance(outcome.value, int) and outcome.value != os.getpid()
    outcome = run_isolated("json:loads", "{bad", timeout=60, what="converter")
    assert outcome.error is not None and outcome.error.startswith(
        "converter failed: JSONDecodeError: Expecting property name")
    assert outcome.value is None


def test_isolated_call_reports_a_crash_and_a_timeout() -> None:
    outcome = run_isolated("ctypes:string_at", 0, timeout=60, what="converter")
    assert outcome.error == "converter crashed (SIGSEGV)"
    start = time.monotonic()
    outcome = run_isolated("time:sleep", 60, timeout=2, what="converter")
    assert outcome.error == "converter timed out after 2 s"
    assert time.monotonic() - start < 30


def test_only_importable_functions_run_isolated() -> None:
    assert target_name(json.dumps) == "json:dumps"
    with pytest.raises(ValueError, match="cannot be imported"):
        target_name(lambda: 1)


# -- runtime figures and the table ----------------------------------------------------------------


def _op(index: int, name: str, inputs: list[int], outputs: list[int]) -> dict[str, Any]:
    return {"index": index, "op_name": name, "inputs": inputs, "outputs": outputs}


def test_delegated_ops_walks_each_partition_back_to_its_inputs() -> None:
    # CONV -> LESS(cpu) + MUL -> SELECT(cpu) -> FC; constants 7, 8 and an absent input -1.
    ops = [_op(0, "CONV_2D", [0, 7, 8], [9]), _op(1, "LESS", [9, 5], [10]),
           _op(2, "MUL", [9, 5], [12]), _op(3, "SELECT_V2", [10, 12, 9], [13]),
           _op(4, "FULLY_CONNECTED", [13, 6, -1], [14])]
    delegates = [_op(5, "DELEGATE", [0, 5, 7, 8], [9, 12]), _op(6, "DELEGATE", [13, 6], [14])]
    assert delegated_ops(ops, delegates) == {0, 2, 4}
    assert delegated_ops(ops, []) == set()


def test_table_takes_the_lint_section_or_the_runtime() -> None:
    section = {"target": "xnnpack", "ops": 17, "delegated": 11, "partitions": 4,
               "cpu_ops": [{"op": "LESS"}, {"op": "SELECT_V2"}, {"op": "LESS"}]}
    runtime = {"ops": 8, "delegated": 8, "partitions": 1, "cpu_ops": [], "latency_ms": 0.0025}
    before = column("before", section=section, runtime={**runtime, "delegated": 10},
                    size=7056)
    after = column("after", runtime=runtime, size=6548)
    assert before.source == "lint" and after.source == "runtime"
    assert after.fully_delegated and not before.fully_delegated
    assert before.notes == ["before: the runtime delegated 10/8 ops in 1 partition(s); the "
                            "lint predicted 11/17 in 4"]
    text = render([before, after])
    rows = {line.split("  ")[0]: line for line in text.splitlines()}
    assert "11 (65%)" in rows["ops on XNNPACK"] and "8 (100%)" in rows["ops on XNNPACK"]
    assert "LESS x2, SELECT_V2" in rows["CPU ops"] and rows["CPU ops"].endswith("none")
    assert "6.9 KiB" in rows["size"] and "2.5 µs" in rows["latency (median)"]
    assert text.splitlines()[0].split() == ["before", "(lint)", "after"]


# -- command-line options -------------------------------------------------------------------------


@pytest.mark.parametrize(("options", "message"), [
    ({"convert": True}, "--convert needs --fix or --diff"),
    ({"unsafe_fixes": True}, "--unsafe-fixes needs --fix or --diff"),
    ({"fix": True, "quantize": "int8"}, "need --convert"),
    ({"fix": True, "convert": True, "representative_data": Path("x.npy")}, "--quantize int8"),
    ({"fix": True, "convert": True, "quantize": "int8",
      "representative_data": Path("/nonexistent.npy")}, "file not found"),
])
def test_fix_options_that_need_others(options: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        FixRequest.from_options(options).validate()


@pytest.mark.tensorflow
@pytest.mark.slow
def test_cli_option_errors_and_plain_lint_unchanged(tmp_path: Path) -> None:
    model = fixture("seed/dynamic_reshape.keras")
    plain = run_tflint("--isolated", model)
    run = run_tflint("--isolated", "--convert", model)
    assert run.code == 2 and "--convert needs --fix or --diff" in run.err
    run = run_tflint("--isolated", "--fix", "--replace-with", "batch_reshape", model)
    assert run.code == 2 and "expected LAYER=CHOICE" in run.err
    run = run_tflint("--isolated", "--fix", "--fix-output", tmp_path / "x.keras", model,
                     fixture("seed/custom_activation.keras"))
    assert run.code == 2 and "--fix-output names one file" in run.err
    assert run_tflint("--isolated", model) == plain
    assert list(tmp_path.iterdir()) == []
