"""The Keras config model: dialects, layers, resolved references, and edits that round-trip."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from conftest import fixture

from tflint.analyses.keras_prediction import activation_name, layer_features, predict
from tflint.analyses.security import FOREIGN, scan_keras_config
from tflint.fixer.apply import read_config
from tflint.kerasconfig import ConfigEditError, KerasModelConfig, resolve
from tflint.kerasconfig.references import resolve_object
from tflint.loaders.keras_config import build_keras_graph

TFA_GELU = {"module": "tensorflow_addons.activations", "config": "gelu",
            "registered_name": "Addons>gelu", "class_name": "function"}
KERAS_GELU = {"module": "keras.activations", "class_name": "function", "config": "gelu",
              "registered_name": "gelu"}


def parsed(relative: str) -> KerasModelConfig:
    document, facts = read_config(str(fixture(relative)))
    return KerasModelConfig(document, facts.get("keras_version"))


def keras3_dense(activation: Any) -> dict[str, Any]:
    """A two-layer Keras 3 model: an input and a Dense with ``activation``."""
    tensor = {"class_name": "__keras_tensor__",
              "config": {"shape": [1, 8], "dtype": "float32", "keras_history": ["x", 0, 0]}}
    return {"module": "keras", "class_name": "Functional", "registered_name": "Functional",
            "config": {"name": "m", "input_layers": [["x", 0, 0]],
                       "output_layers": [["d", 0, 0]], "layers": [
                {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
                 "name": "x", "config": {"batch_shape": [1, 8], "dtype": "float32",
                                         "name": "x"}, "inbound_nodes": []},
                {"module": "keras.layers", "class_name": "Dense", "registered_name": None,
                 "name": "d", "config": {"name": "d", "units": 4, "activation": activation},
                 "inbound_nodes": [{"args": [tensor], "kwargs": {}}]}]}}


# -- dialects and structure ------------------------------------------------------------------


@pytest.mark.parametrize(("relative", "dialect", "models"), [
    ("keras2/legacy_keras20.json", "keras2.0", [None]),
    ("keras2/functional_multi_io.json", "tf.keras2", [None, "backbone"]),
    ("keras2/sequential.h5", "tf.keras2", [None]),
    ("keras3/functional_multi_io.keras", "keras3", [None, "backbone"]),
    ("keras3/sequential.keras", "keras3", [None]),
])
def test_dialect_and_models_of_fixtures(relative: str, dialect: str,
                                        models: list[str | None]) -> None:
    config = parsed(relative)
    assert config.dialect == dialect
    assert [m.location for m in config.models()] == models


@pytest.mark.parametrize("relative", ["keras2/functional_multi_io.json",
                                      "keras3/functional_multi_io.keras"])
def test_wrappers_and_wiring_read_alike_in_both_dialects(relative: str) -> None:
    model = parsed(relative).top
    bilstm, td = model.layer("bilstm"), model.layer("td_dense")
    assert bilstm is not None and td is not None
    assert (bilstm.wrapped_class, td.wrapped_class) == ("LSTM", "Dense")
    assert {inner.bare_class for inner in bilstm.wrapped} == {"LSTM"}
    calls = td.calls(model.names, model.name)
    assert [[ref.layer for ref in call.args] for call in calls] == [["bilstm"]]
    assert {ref.layer for ref in model.output_refs()} == {"label", "score"}


def test_a_sequential_model_without_names_gets_keras_names() -> None:
    document = {"class_name": "Sequential", "config": [
        {"class_name": "Dense", "config": {"units": 2, "batch_input_shape": [None, 3]}},
        {"class_name": "Activation", "config": {"activation": "relu"}}]}
    model = KerasModelConfig(document).top
    assert model.kind == "sequential"
    assert [(layer.name, layer.written_name) for layer in model.layers] == [
        ("dense_0", None), ("activation_1", None)]
    assert KerasModelConfig(document).dialect == "keras2.0"


# -- references ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "slot", "dialect", "origin", "builtin"), [
    # The tensorflow_addons gelu is not Keras' gelu, whatever its name.
    (TFA_GELU, "activation", "keras3", "foreign", None),
    (KERAS_GELU, "activation", "keras3", "builtin", "gelu"),
    ({"module": "builtins", "class_name": "function", "config": "relu",
      "registered_name": "function"}, "activation", "keras3", "builtin", "relu"),
    # Keras 3 looks a function up in the registry by its own name first.
    ({"module": "builtins", "class_name": "function", "config": "fixtures>scale",
      "registered_name": "function"}, "activation", "keras3", "registered", None),
    # A built-in with someone else's registered_name: Keras 3 refuses it, tf_keras does not.
    ({**KERAS_GELU, "registered_name": "Custom>gelu"}, "activation", "keras3", "unknown", None),
    ({**KERAS_GELU, "registered_name": "Custom>gelu"}, "activation", "tf.keras2", "builtin",
     "gelu"),
    ({**KERAS_GELU, "config": "not_an_activation"}, "activation", "keras3", "unknown", None),
    ({"module": None, "class_name": "function", "config": "my_act",
      "registered_name": "my_act"}, "activation", "keras3", "local", None),
    ("swish", "activation", "tf.keras2", "builtin", "silu"),
    ("Addons>gelu", "activation", "tf.keras2", "registered", None),
    ("Relu", "activation", "tf.keras2", "local", None),  # names are looked up exactly
    ({"module": "keras.layers", "class_name": "Dense", "config": {},
      "registered_name": None}, "layer", "keras3", "builtin", "Dense"),
    ({"module": "keras.layers", "class_name": "Dense", "config": {},
      "registered_name": "pkg>Dense"}, "layer", "keras3", "registered", None),
    ({"module": "my_pkg.layers", "class_name": "Dense", "config": {},
      "registered_name": "Dense"}, "layer", "keras3", "foreign", None),
    ({"class_name": "seed>CustomActivation", "config": {}}, "layer", "tf.keras2",
     "registered", None),
    ({"class_name": "NotAKerasLayer", "config": {}}, "layer", "tf.keras2", "local", None),
    ({"class_name": "GlorotUniform", "config": {"seed": None}}, "object", "keras2.0",
     "builtin", "GlorotUniform"),
])
def test_references_resolve_as_keras_resolves_them(value: Any, slot: Any, dialect: str,
                                                   origin: str, builtin: str | None) -> None:
    reference = resolve(value, slot, dialect)
    assert reference is not None
    assert (reference.origin, reference.builtin) == (origin, builtin)
    assert reference.is_builtin == (origin == "builtin")


def test_values_keras_decodes_itself_name_no_object() -> None:
    numpy = {"class_name": "__numpy__", "module": "os", "config": {"value": [1]}}
    assert resolve_object(numpy) is None
    tensor = {"class_name": "__keras_tensor__", "config": {"keras_history": ["x", 0, 0]}}
    assert resolve_object(tensor, dialect="keras3") is None
    # tf_keras resolves it like any class: then its module counts.
    assert resolve_object(tensor) is not None
    spec = {"class_name": "__typespec__", "spec_name": "TensorSpec",
            "module": "tensorflow.python.framework.tensor", "config": [], "registered_name": None}
    reference = resolve_object(spec)
    assert reference is not None and (reference.module, reference.name) == (
        "tensorflow.python.framework.tensor", "TensorSpec")
    assert resolve("same", "object") is None  # plain strings outside activation slots


def test_tensorflow_addons_gelu_is_predicted_opaque_not_as_keras_gelu() -> None:
    assert activation_name(TFA_GELU) == "custom:gelu"
    assert activation_name(KERAS_GELU) == "gelu"
    foreign = predict(build_keras_graph(keras3_dense(TFA_GELU), "m.json", {}))
    own = predict(build_keras_graph(keras3_dense(KERAS_GELU), "m.json", {}))
    dense, = (p for p in foreign.layers if p.layer == "d")
    keras_dense, = (p for p in own.layers if p.layer == "d")
    assert dense.features["activation"] == "custom:gelu"
    assert dense.status == "opaque" and "gelu" in dense.reason
    assert keras_dense.features["activation"] == "gelu"
    assert keras_dense.status != "opaque"


def test_layer_features_read_the_wrapped_layer_and_policy() -> None:
    graph = build_keras_graph(*read_config(str(fixture("keras_cases/qat.h5")))[:1], "qat.h5",
                              {})
    conv = next(n for n in graph.nodes() if n.layer_name == "quant_conv")
    assert conv.origin == "custom"  # a tfmot wrapper: its code is not Keras'
    features = layer_features(conv, "tf_keras")
    assert "activation" in features  # the wrapped Conv2D's features
    mixed = keras3_dense("relu")
    mixed["config"]["layers"][1]["config"]["dtype"] = {
        "module": "keras", "class_name": "DTypePolicy", "config": {"name": "mixed_float16"},
        "registered_name": None}
    node = next(n for n in build_keras_graph(mixed, "m.json", {}).nodes())
    assert layer_features(node, "keras3")["dtype_policy"] == "mixed_float16"


def test_layer_origins() -> None:
    model = parsed("seed/custom_activation.h5").top
    custom = model.layer("custom_act1")
    assert custom is not None and custom.class_name == "seed>CustomActivation"
    assert (custom.origin, custom.reference.origin, custom.bare_class) == (
        "custom", "registered", "CustomActivation")
    lambdas = parsed("keras2/lambda_sincos_tfkeras.h5").top.layer("sincos")
    assert lambdas is not None and lambdas.origin == "lambda"
    dense = model.layer("dense_out")
    assert dense is not None and dense.origin == "builtin" and dense.activation is not None


def test_security_scan_names_the_foreign_module_of_an_activation() -> None:
    graph = build_keras_graph(keras3_dense(TFA_GELU), "m.json", {})
    found = scan_keras_config(graph, "xnnpack").of(FOREIGN)
    assert [(f.ref, f.where, f.node.layer_name if f.node else None) for f in found] == [
        ("tensorflow_addons.activations", "activation", "d")]
    clean = build_keras_graph(keras3_dense(KERAS_GELU), "m.json", {})
    assert scan_keras_config(clean, "xnnpack").of(FOREIGN) == []


# -- edits ------------------------------------------------------------------------------------


def round_trip(config: KerasModelConfig) -> KerasModelConfig:
    """Write the edited config as JSON and read it back."""
    return KerasModelConfig(json.loads(config.to_json()), config.keras_version)


def entries_except(document: dict[str, Any], names: set[str]) -> list[Any]:
    return [layer.raw for model in KerasModelConfig(document).models()
            for layer in model.layers if layer.written_name not in names]


@pytest.mark.parametrize(("relative", "layer", "kept_module_keys"), [
    ("keras2/legacy_keras20.json", "activation_1", False),
    ("keras2/sequential.h5", "relu", False),
    ("keras3/functional_multi_io.keras", "seq_pool", True),
    ("keras2/functional_multi_io.json", "seq_pool", True),  # tf.keras 2.13+ writes them
])
def test_replace_round_trips_in_the_files_dialect(relative: str, layer: str,
                                                  kept_module_keys: bool) -> None:
    config = parsed(relative)
    original = copy.deepcopy(config.document)
    model = config.top
    old = model.layer(layer)
    assert old is not None and model.uses_module_keys == kept_module_keys
    reads = [[ref for ref, _ in call] for call in old.call_inputs(model.names)]
    model.replace_layer(old, "LeakyReLU", {"negative_slope": 0.25})
    again = round_trip(config)
    assert again.dialect == config.dialect
    new = again.top.layer(layer)
    assert new is not None and new.class_name == "LeakyReLU"
    # Keras 3 spells it negative_slope, Keras 2 and tf.keras alpha.
    key = "negative_slope" if config.dialect == "keras3" else "alpha"
    assert new.config[key] == 0.25
    assert ("module" in new.raw) == kept_module_keys
    # Called on the same tensors (without the old layer's keyword arguments).
    assert [[ref for ref, _ in call] for call in new.call_inputs(again.top.names)] == reads
    assert entries_except(again.document, {layer}) == entries_except(original, {layer})
    assert {k: v for k, v in again.document.items() if k != "config"} == {
        k: v for k, v in original.items() if k != "config"}


@pytest.mark.parametrize("relative", ["fixer/fold.keras", "keras2/functional_multi_io.json"])
def test_remove_layer_rewires_its_users_and_round_trips(relative: str) -> None:
    config = parsed(relative)
    original = copy.deepcopy(config.document)
    model = config.top
    # A single-input layer whose output some other layer reads.
    victim = next(layer for layer in model.layers
                  if not layer.is_input and not layer.is_model
                  and len(layer.call_inputs(model.names)) == 1
                  and len(layer.call_inputs(model.names)[0]) == 1
                  and any(ref[0] == layer.name for user, ref in model.references()
                          if user != "<output>"))
    (source, value), = victim.call_inputs(model.names)[0]
    users = {user for user, ref in model.references() if ref[0] == victim.name}
    model.remove_layer(victim, (source, value))
    again = round_trip(config)
    top = again.top
    assert top.layer(victim.name) is None
    assert all(ref[0] != victim.name for _, ref in top.references())
    for user in users - {"<output>"}:
        reads = top.layer(user)
        assert reads is not None
        assert source[0] in {ref[0] for call in reads.call_inputs(top.names) for ref, _ in call}
    assert entries_except(again.document, {victim.name, *users}) == entries_except(
        original, {victim.name, *users})


@pytest.mark.parametrize(("relative", "name", "key"), [
    ("keras3/functional_multi_io.keras", "image", "batch_shape"),
    ("keras2/functional_multi_io.json", "image", "batch_input_shape"),
])
def test_set_input_shape_round_trips(relative: str, name: str, key: str) -> None:
    config = parsed(relative)
    original = copy.deepcopy(config.document)
    old = config.top.layer(name)
    assert old is not None
    shape = [1 if dim is None else dim for dim in old.config[key]]
    config.set_input_shape(name, shape)
    again = round_trip(config)
    new = again.top.layer(name)
    assert new is not None and new.config[key] == shape
    if again.dialect == "keras3":  # where the input is used, Keras 3 records its shape too
        users = [layer for layer in again.top.layers
                 if any(ref[0] == name for call in layer.call_inputs(again.top.names)
                        for ref, _ in call)]
        assert users and all(
            value["config"]["shape"] == shape for layer in users
            for call in layer.call_inputs(again.top.names) for ref, value in call
            if ref[0] == name)
    untouched = {name} | {layer.written_name or "" for layer in again.top.layers
                          if any(ref[0] == name for call in layer.call_inputs(again.top.names)
                                 for ref, _ in call)}
    assert entries_except(again.document, untouched) == entries_except(original, untouched)


def test_a_refused_input_shape_leaves_the_document_alone() -> None:
    config = parsed("keras3/functional_multi_io.keras")
    before = copy.deepcopy(config.document)
    with pytest.raises(ConfigEditError, match="only unknown dimensions can be set"):
        config.set_input_shape("image", [1, 7, 7, 3])
    assert config.document == before
