"""The Keras loader: graphs checked against Keras itself, and hostile inputs.

The truth comes from Keras in a child process (one for Keras 3, one for
tf_keras with ``TF_USE_LEGACY_KERAS=1``): it rebuilds each fixture's model from
its config (Lambda and custom layers replaced by identity stand-ins, so no
code stored in a fixture runs) and reports every layer's class and calls,
and which layer produced each input of each call.  The loader's graph must
tell the same story.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import struct
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, ROOT, fixture

from tflint.errors import ModelFileError
from tflint.graph import ModelGraph, Tensor
from tflint.loaders import keras_files
from tflint.loaders.keras import load_keras
from tflint.loaders.keras_config import build_keras_graph

KERAS3_FIXTURES = [
    "seed/lambda_sincos.keras", "seed/lambda_sincos.h5",
    "seed/custom_activation.keras", "seed/custom_activation.h5",
    "seed/dynamic_reshape.keras", "seed/dynamic_reshape.h5",
    "seed/dynamic_reshape_layer.keras", "seed/dynamic_reshape_layer.h5",
    "keras3/functional_multi_io.keras", "keras3/functional_multi_io.h5",
    "keras3/functional_multi_io.json", "keras3/sequential.keras",
    "clean/mobile_cnn.keras", "clean/mobile_cnn.h5",
]
TF_KERAS_FIXTURES = [
    "keras2/functional_multi_io.h5", "keras2/functional_multi_io.json",
    "keras2/sequential.h5", "keras2/lambda_sincos_tfkeras.h5",
    "keras2/legacy_keras20.json", "keras2/legacy_keras20.h5",
]
#: Built by the truth process in a temporary folder: a model nested two deep,
#: called twice, a nested Sequential, and an output taken from a nested call.
KERAS3_EXTRA = ["nested.keras", "nested.h5", "nested.json"]
TF_KERAS_EXTRA = ["nested_tfk.h5", "nested_tfk.json"]


# Runs in a child process: argv = flavor, folder for the extra models, files.
TRUTH_SCRIPT = r'''
import json, sys, zipfile
flavor, extra_dir, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
if flavor == "tf_keras":
    import tf_keras as keras

    def producer(t):
        return t._keras_history.layer.name

    def own_nodes(model, layer):
        keys = model._network_nodes
        return [n for i, n in enumerate(layer._inbound_nodes) if f"{layer.name}_ib-{i}" in keys]

    def node_inputs(node):
        return node.keras_inputs

    def from_config(config, objects):
        return keras.models.model_from_json(json.dumps(config), custom_objects=objects)
else:
    import keras
    from keras.src.legacy.saving import saving_utils
    from keras.src.ops.function import make_node_key

    def producer(t):
        return t._keras_history[0].name

    def own_nodes(model, layer):
        keys = model._nodes
        return [n for i, n in enumerate(layer._inbound_nodes) if make_node_key(layer, i) in keys]

    def node_inputs(node):
        return node.input_tensors

    def from_config(config, objects):
        if "module" in config:
            return keras.models.model_from_json(json.dumps(config), custom_objects=objects)
        return saving_utils.model_from_config(config, custom_objects=objects)


class StandIn(keras.layers.Layer):
    """Identity in place of a Lambda or custom layer: their code is never loaded."""

    def __init__(self, kind=None, **kwargs):
        super().__init__(**kwargs)
        self.kind = kind

    def call(self, x, mask=None):
        return x

    def get_config(self):
        return {**super().get_config(), "kind": self.kind}


def opaque(entry):
    cls = entry["class_name"]
    registered = entry.get("registered_name") or ""
    return cls == "Lambda" or ">" in cls or ">" in registered or entry.get("module", "") is None


def stand_in(value):
    if isinstance(value, dict):
        layer = isinstance(value.get("class_name"), str) and isinstance(value.get("config"), dict)
        if layer and opaque(value):
            value = dict(value, class_name="StandIn",
                         config={"name": value["config"].get("name"), "kind": value["class_name"]})
            if "module" in value:
                value.update(module=None, registered_name="StandIn")
            return value
        # Layers build from the shapes they are called with, which a stand-in may change.
        return {k: stand_in(v) for k, v in value.items() if k != "build_config"}
    if isinstance(value, list):
        return [stand_in(v) for v in value]
    return value


def read_config(path):
    if path.endswith(".keras"):
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read("config.json"))
    if path.endswith(".h5"):
        import h5py
        with h5py.File(path, "r") as handle:
            raw = handle.attrs["model_config"]
        return json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    with open(path) as handle:
        return json.load(handle)


def describe(model):
    graph = getattr(model, "_functional", None) or model
    layers = []
    for layer in graph.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        kind = getattr(layer, "kind", None)
        inner = getattr(layer, "layer", None) or getattr(layer, "forward_layer", None)
        info = {
            "name": layer.name,
            "class": kind or type(layer).__name__,
            "stand_in": kind is not None,
            "wrapped": type(inner).__name__ if inner is not None else None,
            "calls": [[producer(t) for t in node_inputs(n)] for n in own_nodes(graph, layer)],
        }
        if hasattr(layer, "layers") and hasattr(layer, "inputs"):
            info["model"] = describe(layer)
        layers.append(info)
    return {
        "name": model.name,
        "class": type(model).__name__,
        "layers": layers,
        "input_layers": [producer(t) for t in graph.inputs],
        "inputs": [producer(t) for t in graph.inputs],
        "input_shapes": [list(t.shape) for t in graph.inputs],
        "outputs": [producer(t) for t in graph.outputs],
    }


def build_extra(out):
    L = keras.layers
    inner_in = keras.Input((6,), name="inner_in")
    inner = keras.Model(inner_in, L.Dense(6, name="inner_dense")(inner_in), name="inner")
    mid_in = keras.Input((6,), name="mid_in")
    m = inner(L.Dense(6, name="mid_pre")(mid_in))
    mid = keras.Model(mid_in, L.Dense(4, name="mid_post")(m), name="mid")
    head = keras.Sequential([keras.Input((4,), name="head_in"), L.Dense(3, name="head_dense"),
                             L.Activation("relu", name="head_act")], name="head")
    a, b = keras.Input((6,), name="a"), keras.Input((6,), name="b")
    fa, fb = mid(a), mid(b)
    merged = L.Concatenate(name="cat")([fa, fb])
    summed = L.Add(name="sum")([head(fa), L.Dense(3, name="proj")(merged)])
    model = keras.Model([a, b], [summed, fb], name="nested")
    if flavor == "tf_keras":
        names = ["nested_tfk.h5", "nested_tfk.json"]
    else:
        names = ["nested.keras", "nested.h5", "nested.json"]
    for name in names:
        path = f"{out}/{name}"
        if name.endswith(".json"):
            with open(path, "w") as handle:
                handle.write(model.to_json())
        else:
            model.save(path)
    return [f"{out}/{name}" for name in names]


result = {}
for path in paths + build_extra(extra_dir):
    keras.backend.clear_session()
    model = from_config(stand_in(read_config(path)), {"StandIn": StandIn})
    result[path] = describe(model)
print("TRUTH " + json.dumps(result))
'''


def _truth(flavor: str, files: list[str], extra_dir: Path) -> dict[str, Any]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    if flavor == "tf_keras":
        env["TF_USE_LEGACY_KERAS"] = "1"
    paths = [str(fixture(f)) for f in files]
    proc = subprocess.run(
        [sys.executable, "-c", TRUTH_SCRIPT, flavor, str(extra_dir), *paths],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("TRUTH ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    return json.loads(lines[-1].removeprefix("TRUTH "))


@pytest.fixture(scope="session")
def keras3_truth(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    folder = tmp_path_factory.mktemp("keras3_models")
    return _truth("keras", KERAS3_FIXTURES, folder), folder


@pytest.fixture(scope="session")
def tf_keras_truth(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    folder = tmp_path_factory.mktemp("tf_keras_models")
    return _truth("tf_keras", TF_KERAS_FIXTURES, folder), folder


# -- comparing a graph with the truth ---------------------------------------------------


def _unit(model: str | None, loc: str | None, layer: str) -> str | None:
    """What a node at ``model`` is inside the model at ``loc``: a layer, a nested model, or
    ``None`` when it lies outside."""
    if model == loc:
        return layer
    if loc is None:
        return model.split("/")[0] if model else layer
    if model and model.startswith(loc + "/"):
        return model[len(loc) + 1:].split("/")[0]
    return None


def _producer_unit(graph: ModelGraph, tensor: Tensor, loc: str | None) -> str:
    node = graph.producer(tensor)
    if node is None:
        return tensor.name if loc is None else "<input>"
    unit = _unit(node.location.model, loc, node.layer_name or node.name)
    return "<input>" if unit is None else unit


def _truth_producer(name: str, truth: dict[str, Any], loc: str | None) -> str:
    return "<input>" if loc is not None and name in truth["input_layers"] else name


def _bare(class_name: str) -> str:
    return class_name.rsplit(">", 1)[-1]


def compare(graph: ModelGraph, truth: dict[str, Any], loc: str | None = None,
            repeat: int = 1) -> None:
    """Check the nodes of the model at ``loc`` (called ``repeat`` times) against Keras."""
    here = [n for n in graph.nodes() if n.location.model == loc]
    expected_count = 0
    for layer in truth["layers"]:
        name = layer["name"]
        calls = [[_truth_producer(p, truth, loc) for p in call] for call in layer["calls"]]
        if "model" in layer:
            sub = name if loc is None else f"{loc}/{name}"
            inside = [n for n in graph.nodes()
                      if n.location.model == sub or (n.location.model or "").startswith(sub + "/")]
            fed_by = {_producer_unit(graph, t, loc) for n in inside for t in n.inputs} - {name}
            assert fed_by == {p for call in calls for p in call}, (sub, fed_by, calls)
            compare(graph, layer["model"], sub, repeat * len(calls))
            continue
        nodes = [n for n in here if n.layer_name == name]
        expected_count += repeat * len(calls)
        assert len(nodes) == repeat * len(calls), (loc, name, len(nodes), calls)
        for node in nodes:
            assert node.op_type == _bare(layer["class"]), (name, node.op_type, layer["class"])
            assert node.location.name == name and node.kind == "layer"
            if layer["class"] in ("TimeDistributed", "Bidirectional"):
                assert node.wrapped == layer["wrapped"], (name, node.wrapped)
            else:
                assert node.wrapped is None
            origin = ("lambda" if layer["class"] == "Lambda"
                      else "custom" if layer["stand_in"] else "builtin")
            assert node.origin == origin, (name, node.origin)
        mine = [[_producer_unit(graph, t, loc) for t in n.inputs] for n in nodes]
        assert mine == calls * repeat, (loc, name, mine, calls)
    assert len(here) == expected_count, (loc, [n.id for n in here])


def check_against_truth(path: Path, truth: dict[str, Any]) -> ModelGraph:
    graph = load_keras(str(path))
    compare(graph, truth)
    assert [t.name for t in graph.inputs] == truth["inputs"]
    assert [list(t.shape or ()) for t in graph.inputs] == truth["input_shapes"]
    assert [_producer_unit(graph, t, None) for t in graph.outputs] == truth["outputs"]
    ids = [n.id for n in graph.nodes()]
    assert len(ids) == len(set(ids))
    for node in graph.nodes():  # nodes come in topological order
        for producer in graph.predecessors(node):
            assert ids.index(producer.id) < ids.index(node.id)
    facts = graph.facts["keras"]
    assert facts["model_name"] == truth["name"]
    assert facts["container"] == {".h5": "h5", ".keras": "keras", ".json": "json"}[path.suffix]
    assert facts["has_weights"] is (path.suffix != ".json")
    return graph


@pytest.mark.tensorflow
@pytest.mark.slow
@pytest.mark.parametrize("name", KERAS3_FIXTURES)
def test_keras3_fixture_matches_keras(name: str, keras3_truth: tuple[dict, Path]) -> None:
    truth, _ = keras3_truth
    graph = check_against_truth(fixture(name), truth[str(fixture(name))])
    facts = graph.facts["keras"]
    assert facts["dialect"] == "keras3"
    if name.endswith(".json"):
        assert facts["keras_version"] is None  # to_json() of Keras 3 does not say
    else:
        assert facts["keras_version"].startswith("3.")


@pytest.mark.tensorflow
@pytest.mark.slow
@pytest.mark.parametrize("name", TF_KERAS_FIXTURES)
def test_tf_keras_fixture_matches_tf_keras(name: str, tf_keras_truth: tuple[dict, Path]) -> None:
    truth, _ = tf_keras_truth
    graph = check_against_truth(fixture(name), truth[str(fixture(name))])
    facts = graph.facts["keras"]
    if "legacy_keras20" in name:
        assert facts["dialect"] == "keras2.0" and facts["model_class"] == "Model"
        assert facts["keras_version"] == "2.0.8" and facts["dtype_policy"] is None
    else:
        assert facts["dialect"] == "tf.keras2" and facts["dtype_policy"] == "float32"
    assert facts["backend"] == "tensorflow"


@pytest.mark.tensorflow
@pytest.mark.slow
@pytest.mark.parametrize("name", KERAS3_EXTRA)
def test_keras3_nested_models_match_keras(name: str, keras3_truth: tuple[dict, Path]) -> None:
    truth, folder = keras3_truth
    path = folder / name
    graph = check_against_truth(path, truth[str(path)])
    _check_nested(graph)


@pytest.mark.tensorflow
@pytest.mark.slow
@pytest.mark.parametrize("name", TF_KERAS_EXTRA)
def test_tf_keras_nested_models_match_tf_keras(
    name: str, tf_keras_truth: tuple[dict, Path]
) -> None:
    truth, folder = tf_keras_truth
    path = folder / name
    graph = check_against_truth(path, truth[str(path)])
    _check_nested(graph)


def _check_nested(graph: ModelGraph) -> None:
    by_id = {n.id: n for n in graph.nodes()}
    # The model "mid" is called twice: its layers (and those of "inner" in it) twice too.
    assert by_id["nested/mid/mid_pre#1"].location.model == "mid"
    assert by_id["nested/mid/inner/inner_dense#1"].location.model == "mid/inner"
    assert by_id["nested/head/head_dense#0"].location.model == "head"
    assert by_id["nested/cat#0"].location.model is None
    assert str(by_id["nested/mid/inner/inner_dense#0"].location) == (
        'layer "inner_dense" (Dense) in model "mid/inner"')
    # The second output is the second call of "mid", straight from its last layer.
    assert graph.producer(graph.outputs[1]).id == "nested/mid/mid_post#1"
    # The second call's layers see the second input.
    first = by_id["nested/mid/mid_pre#1"].inputs[0]
    assert first is graph.inputs[1]


# -- properties every fixture must have (no Keras needed) --------------------------------


ALL_FIXTURES = KERAS3_FIXTURES + TF_KERAS_FIXTURES


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_fixture_graph_shape(name: str) -> None:
    graph = load_keras(str(fixture(name)))
    assert graph.kind == "keras" and len(graph) > 0
    assert graph.inputs and graph.outputs
    for tensor in graph.inputs:
        assert graph.producer(tensor) is None and tensor.shape is not None
    for tensor in graph.outputs:
        assert graph.producer(tensor) is not None
    top = graph.facts["keras"]["model_name"]
    for node in graph.nodes():
        assert node.kind == "layer" and node.op_type != "InputLayer"
        # Ids are "<model path>/<layer>#<call>", the path starting at the top model.
        path = "/".join(filter(None, [top, node.location.model]))
        assert re.fullmatch(re.escape(f"{path}/{node.layer_name}") + r"#\d+", node.id), node.id
        assert isinstance(node.options, dict) and node.options.get("name") == node.layer_name


def test_seed_origins_and_options() -> None:
    graph = load_keras(str(fixture("seed/lambda_sincos.keras")))
    [lam] = [n for n in graph.nodes() if n.origin != "builtin"]
    assert (lam.layer_name, lam.op_type, lam.origin) == ("sincos", "Lambda", "lambda")
    # The bytecode is kept as the data it is, never decoded.
    assert lam.options["function"]["class_name"] == "__lambda__"
    for name in ("seed/custom_activation.keras", "seed/custom_activation.h5"):
        graph = load_keras(str(fixture(name)))
        custom = sorted(n.layer_name for n in graph.nodes() if n.origin == "custom")
        assert custom == ["custom_act1", "custom_act2", "custom_act3"]
        assert {n.op_type for n in graph.nodes() if n.origin == "custom"} == {"CustomActivation"}
    graph = load_keras(str(fixture("seed/dynamic_reshape.h5")))
    reshape = next(n for n in graph.nodes() if n.layer_name == "batch_reshape")
    assert reshape.origin == "lambda" and reshape.outputs[0].shape == (None, 256)


def test_shared_layer_and_wrappers() -> None:
    for name in ("keras2/functional_multi_io.json", "keras3/functional_multi_io.keras"):
        graph = load_keras(str(fixture(name)))
        shared = [n for n in graph.nodes() if n.layer_name == "shared_dense"]
        assert [n.id.rsplit("/", 1)[1] for n in shared] == ["shared_dense#0", "shared_dense#1"]
        assert shared[0].outputs[0].id != shared[1].outputs[0].id
        bilstm = next(n for n in graph.nodes() if n.layer_name == "bilstm")
        assert (bilstm.op_type, bilstm.wrapped) == ("Bidirectional", "LSTM")
        assert bilstm.options["layer"]["class_name"] == "LSTM"
        td = next(n for n in graph.nodes() if n.layer_name == "td_dense")
        assert (td.op_type, td.wrapped) == ("TimeDistributed", "Dense")
        assert {n.location.model for n in graph.nodes() if n.name.startswith("backbone_")} == {
            "backbone"}


def test_keras3_shapes_and_dtypes() -> None:
    graph = load_keras(str(fixture("keras3/functional_multi_io.keras")))
    conv = next(n for n in graph.nodes() if n.layer_name == "backbone_conv")
    assert conv.inputs[0].shape == (None, 8, 8, 3) and conv.inputs[0].dtype == "float32"
    assert conv.outputs[0].shape == (None, 6, 6, 4)
    graph = load_keras(str(fixture("clean/mobile_cnn.keras")))
    assert graph.inputs[0].shape == (1, 16, 16, 3)


def test_h5_facts() -> None:
    graph = load_keras(str(fixture("keras2/legacy_keras20.h5")))
    facts = graph.facts["keras"]
    assert facts["layers_with_weights"] == ["conv2d_1", "batch_normalization_1", "dense_1"]
    assert facts["keras_version"] == "2.0.8" and facts["backend"] == "tensorflow"
    facts = load_keras(str(fixture("keras3/functional_multi_io.h5"))).facts["keras"]
    assert "backbone" in facts["layers_with_weights"] and "concat" not in facts[
        "layers_with_weights"]


# -- dialect details on small hand-written configs ----------------------------------------


def _layer(name: str, cls: str, inbound: list, **config: Any) -> dict:
    return {"name": name, "class_name": cls, "config": {"name": name, **config},
            "inbound_nodes": inbound}


def _functional(layers: list, inputs: list, outputs: list, cls: str = "Functional") -> dict:
    return {"class_name": cls, "config": {"name": "m", "layers": layers,
                                          "input_layers": inputs, "output_layers": outputs}}


def _edges(graph: ModelGraph) -> set[tuple[str, str]]:
    return {(graph.producer(t).name if graph.producer(t) else t.name, n.name)
            for n in graph.nodes() for t in n.inputs}


def test_tf_keras_kwargs_tensors_and_constants() -> None:
    config = _functional(
        [
            _layer("x", "InputLayer", [], batch_input_shape=[None, 4], dtype="float32"),
            _layer("d", "Dense", [[["x", 0, 0, {}]]]),
            # TFOpLambda with a tensor passed by keyword, and one with a constant first arg.
            _layer("add", "TFOpLambda", [["d", 0, 0, {"y": ["x", 0, 0], "name": None}]]),
            _layer("sub", "TFOpLambda", [["_CONSTANT_VALUE", -1, 1.0, {"y": ["add", 0, 0]}]]),
        ],
        [["x", 0, 0]], [["sub", 0, 0]],
    )
    graph = build_keras_graph(config, "m.json", {"keras_version": "2.15.0"})
    assert _edges(graph) == {("x", "d"), ("d", "add"), ("x", "add"), ("add", "sub")}
    assert graph.facts["keras"]["dialect"] == "tf.keras2"


def test_keras3_nested_arguments() -> None:
    def kt(layer: str, node: int = 0, index: int = 0) -> dict:
        return {"class_name": "__keras_tensor__",
                "config": {"shape": [None, 2], "dtype": "float16",
                           "keras_history": [layer, node, index]}}

    config = _functional(
        [
            _layer("x", "InputLayer", [], batch_shape=[None, 2]),
            _layer("split", "MyCustom", [{"args": [kt("x")], "kwargs": {}}]),
            _layer("rnn", "LSTM", [{"args": [kt("split", 0, 0)],
                                    "kwargs": {"initial_state": [kt("split", 0, 1),
                                                                 kt("split", 0, 2)]}}]),
            _layer("cat", "Concatenate", [{"args": [{"class_name": "__tuple__", "config": {
                "value": [kt("rnn"), kt("split", 0, 1)]}}], "kwargs": {}}]),
        ],
        ["x", 0, 0], ["cat", 0, 0],
    )
    graph = build_keras_graph(config, "m.json", {})
    split = next(n for n in graph.nodes() if n.name == "split")
    assert len(split.outputs) == 3 and split.origin == "custom"
    assert [t.name for t in split.outputs] == ["split:0", "split:1", "split:2"]
    assert split.outputs[1].dtype == "float16" and split.outputs[1].shape == (None, 2)
    rnn = next(n for n in graph.nodes() if n.name == "rnn")
    assert [t.id for t in rnn.inputs] == [t.id for t in split.outputs]
    assert graph.facts["keras"]["dialect"] == "keras3"


def test_keras20_sequential_list_config() -> None:
    config = {"class_name": "Sequential", "config": [
        {"class_name": "Dense", "config": {"name": "dense_1", "batch_input_shape": [None, 8],
                                           "dtype": "float32", "units": 4}},
        {"class_name": "Highway", "config": {"name": "highway_1"}},
        {"class_name": "Dense", "config": {"name": "dense_2", "units": 2}},
    ], "keras_version": "2.0.8"}
    graph = build_keras_graph(config, "m.json", {})
    assert [n.name for n in graph.nodes()] == ["dense_1", "highway_1", "dense_2"]
    assert graph.inputs[0].name == "dense_1_input" and graph.inputs[0].shape == (None, 8)
    assert all(n.origin == "builtin" for n in graph.nodes())
    facts = graph.facts["keras"]
    assert (facts["dialect"], facts["model_class"], facts["model_name"]) == (
        "keras2.0", "Sequential", "sequential")


def test_sequential_build_input_shape_and_policy() -> None:
    policy = {"class_name": "Policy", "config": {"name": "mixed_float16"}}
    config = {"class_name": "Sequential", "config": {
        "name": "s", "build_input_shape": [None, 3],
        "layers": [{"class_name": "Dense", "config": {"name": "a", "dtype": policy}},
                   {"class_name": "Dense", "config": {"name": "b", "dtype": "float32"}}]}}
    graph = build_keras_graph(config, "m.json", {"keras_version": "2.15.0"})
    assert graph.inputs[0].shape == (None, 3)
    assert graph.facts["keras"]["dtype_policy"] == "mixed_float16"


# -- malformed configs ---------------------------------------------------------------------


def _multi_io_json() -> dict:
    return json.loads(fixture("keras2/functional_multi_io.json").read_text())


def _keras3_json() -> dict:
    return json.loads(fixture("keras3/functional_multi_io.json").read_text())


def _layer_named(config: dict, name: str) -> dict:
    return next(layer for layer in config["config"]["layers"] if layer["name"] == name)


def _write(tmp_path: Path, name: str, data: bytes | str | dict) -> str:
    path = tmp_path / name
    if isinstance(data, dict):
        data = json.dumps(data)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    return str(path)


def test_dangling_reference(tmp_path: Path) -> None:
    config = _multi_io_json()
    _layer_named(config, "concat")["inbound_nodes"][0][1][0] = "ghost"
    with pytest.raises(ModelFileError, match=r"layer 'concat' .* unknown layer 'ghost'"):
        load_keras(_write(tmp_path, "m.json", config))


def test_dangling_keras3_reference(tmp_path: Path) -> None:
    config = _keras3_json()
    node = _layer_named(config, "label")["inbound_nodes"][0]
    node["args"][0]["config"]["keras_history"][0] = "ghost"
    with pytest.raises(ModelFileError, match="unknown layer 'ghost'"):
        load_keras(_write(tmp_path, "m.json", config))


def test_reference_to_missing_call(tmp_path: Path) -> None:
    config = _multi_io_json()
    _layer_named(config, "concat")["inbound_nodes"][0][1][1] = 5
    with pytest.raises(ModelFileError, match="call 5 of layer 'shared_dense', which has 2"):
        load_keras(_write(tmp_path, "m.json", config))


def test_cycle(tmp_path: Path) -> None:
    config = _multi_io_json()
    _layer_named(config, "seq_pool")["inbound_nodes"] = [[["label", 0, 0, {}]]]
    with pytest.raises(ModelFileError, match="form a cycle"):
        load_keras(_write(tmp_path, "m.json", config))


def test_self_loop(tmp_path: Path) -> None:
    config = _multi_io_json()
    _layer_named(config, "label")["inbound_nodes"] = [[["label", 0, 0, {}]]]
    with pytest.raises(ModelFileError, match=r"cycle .*'label'"):
        load_keras(_write(tmp_path, "m.json", config))


@pytest.mark.parametrize("mutate, message", [
    (lambda c: c["config"].__setitem__("layers", {"a": 1}), "layers of model .* not a list"),
    (lambda c: c["config"]["layers"][3].pop("class_name"), "layer 3 .* has no class_name"),
    (lambda c: c["config"]["layers"][3].__setitem__("config", 7), "is not an object"),
    (lambda c: c["config"]["layers"][3].__setitem__("inbound_nodes", [[["x"]]]),
     r"unexpected 'x' in inbound_nodes of layer 'td_dense'"),
    (lambda c: c["config"]["layers"][3].__setitem__("inbound_nodes", 3), "not a list"),
    (lambda c: c["config"].pop("output_layers"), "no output_layers"),
    (lambda c: c["config"].__setitem__("output_layers", [["label", "a", 0]]), "bad entry"),
    (lambda c: c["config"].__setitem__("output_layers", [["image", 0, 1]]),
     "output 1 of call 0 of layer 'image', which does not exist"),
    (lambda c: c["config"].__setitem__("output_layers", [["backbone", 1, 2]]),
     "output 2 of call 1 of layer 'backbone', which does not exist"),
    (lambda c: c["config"].__setitem__("input_layers", [["label", 0, 0]]), "not an InputLayer"),
    (lambda c: c["config"]["layers"].append(c["config"]["layers"][3]), "appears twice"),
    (lambda c: c.__setitem__("class_name", 3), "no class_name"),
])
def test_malformed_config(tmp_path: Path, mutate: Any, message: str) -> None:
    config = _multi_io_json()
    mutate(config)
    with pytest.raises(ModelFileError, match=message):
        load_keras(_write(tmp_path, "m.json", config))


def test_mutated_configs_fail_cleanly() -> None:
    """Random damage to real configs gives a graph or a ModelFileError, nothing else."""
    rng = random.Random(20240601)
    sources = [json.loads(fixture(name).read_text()) for name in (
        "keras2/functional_multi_io.json", "keras3/functional_multi_io.json",
        "keras2/legacy_keras20.json")]
    values = [None, 0, -1, 7, 1.5, "x", "", [], {}, [None], ["image", 0, 0], ["image", 0, 9, {}],
              {"class_name": "__keras_tensor__", "config": {"keras_history": ["image", -1, 0]}},
              True, "InputLayer", "Functional", "Sequential"]

    def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
        found = [prefix]
        items = value.items() if isinstance(value, dict) else (
            enumerate(value) if isinstance(value, list) else ())
        for key, item in items:
            found += paths(item, (*prefix, key))
        return found

    for _ in range(300):
        config = json.loads(json.dumps(rng.choice(sources)))
        for _ in range(rng.randint(1, 3)):
            *parents, key = rng.choice(paths(config)[1:])
            target = config
            for step in parents:
                target = target[step]
            if rng.random() < 0.3:
                del target[key]
            else:
                target[key] = json.loads(json.dumps(rng.choice(values)))
        try:
            build_keras_graph(config, "m.json", {})
        except ModelFileError:
            pass


def test_nested_model_called_with_wrong_arity(tmp_path: Path) -> None:
    config = _multi_io_json()
    _layer_named(config, "backbone")["inbound_nodes"] = [[["image", 0, 0, {}],
                                                          ["sequence", 0, 0, {}]]]
    with pytest.raises(ModelFileError, match=r"model 'backbone' has 1 input.* called with 2"):
        load_keras(_write(tmp_path, "m.json", config))


def test_not_a_model(tmp_path: Path) -> None:
    dense = {"class_name": "Dense", "config": {"name": "d", "units": 3}}
    with pytest.raises(ModelFileError, match="single 'Dense' layer, not a model"):
        load_keras(_write(tmp_path, "d.json", dense))
    subclassed = {"class_name": "MyModel", "config": {"name": "m", "trainable": True}}
    with pytest.raises(ModelFileError, match="subclassed model"):
        load_keras(_write(tmp_path, "m.json", subclassed))


# -- hostile and broken files -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["empty.h5", "empty.keras", "empty.json"])
def test_empty_file(tmp_path: Path, name: str) -> None:
    with pytest.raises(ModelFileError, match="file is empty"):
        load_keras(_write(tmp_path, name, b""))


def test_unknown_content(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"not an HDF5 file \(bad signature\)"):
        load_keras(_write(tmp_path, "x.h5", b"GIF89a..."))
    with pytest.raises(ModelFileError, match="not a model file"):
        load_keras(_write(tmp_path, "x.bin", b"GIF89a..."))
    tflite = (ROOT / "fixtures" / "clean" / "mobile_cnn.tflite").read_bytes()
    with pytest.raises(ModelFileError, match="not a Keras model"):
        load_keras(_write(tmp_path, "y.h5", tflite))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="cannot read file"):
        load_keras(str(tmp_path / "nope.h5"))
    with pytest.raises(ModelFileError, match="is a directory"):
        load_keras(str(tmp_path))


@pytest.mark.parametrize("name", ["keras2/sequential.h5", "keras3/functional_multi_io.h5"])
def test_truncated_h5(tmp_path: Path, name: str) -> None:
    data = fixture(name).read_bytes()
    with pytest.raises(ModelFileError, match="cannot read HDF5 file"):
        load_keras(_write(tmp_path, "t.h5", data[: len(data) // 2]))


def test_truncated_zip(tmp_path: Path) -> None:
    data = fixture("keras3/functional_multi_io.keras").read_bytes()
    with pytest.raises(ModelFileError, match="not a valid zip archive"):
        load_keras(_write(tmp_path, "t.keras", data[: len(data) // 2]))


def _zip(entries: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, data in entries.items():
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return buffer.getvalue()


CONFIG = fixture("keras3/functional_multi_io.json").read_bytes() if (
    FIXTURES / "keras3/functional_multi_io.json").is_file() else b"{}"


def test_zip_without_config(tmp_path: Path) -> None:
    data = _zip({"metadata.json": b"{}", "model.weights.h5": b"x"})
    with pytest.raises(ModelFileError, match=r"not a Keras model \(no config.json\)"):
        load_keras(_write(tmp_path, "m.keras", data))


def test_zip_reads_config_and_metadata(tmp_path: Path) -> None:
    data = _zip({"config.json": CONFIG, "metadata.json": b'{"keras_version": "3.1.0"}'},
                zipfile.ZIP_DEFLATED)
    graph = load_keras(_write(tmp_path, "m.keras", data))
    facts = graph.facts["keras"]
    assert facts["keras_version"] == "3.1.0" and facts["has_weights"] is False


def test_zip_bomb_ratio(tmp_path: Path) -> None:
    data = _zip({"config.json": b" " * (4 << 20)}, zipfile.ZIP_DEFLATED)
    assert len(data) < 64 << 10
    with pytest.raises(ModelFileError, match=r"'config.json' expands \d+:1 .*zip bomb"):
        load_keras(_write(tmp_path, "m.keras", data))


def _patch_central_sizes(data: bytes, compressed: int, uncompressed: int) -> bytes:
    """Rewrite the sizes the central directory declares for its first entry."""
    at = data.index(b"PK\x01\x02")
    return data[: at + 20] + struct.pack("<II", compressed, uncompressed) + data[at + 28:]


def test_zip_declared_size_limit(tmp_path: Path) -> None:
    data = _patch_central_sizes(_zip({"config.json": CONFIG}), 100 << 20, 100 << 20)
    with pytest.raises(ModelFileError, match=r"'config.json' is too large \(100 MiB"):
        load_keras(_write(tmp_path, "m.keras", data))


def test_zip_declared_ratio_limit(tmp_path: Path) -> None:
    data = _patch_central_sizes(_zip({"config.json": CONFIG}), 1000, 50 << 20)
    with pytest.raises(ModelFileError, match="zip bomb"):
        load_keras(_write(tmp_path, "m.keras", data))


@pytest.mark.parametrize("name, reason", [
    ("../evil.json", "parent directory reference"),
    ("assets/../../evil", "parent directory reference"),
    ("/etc/passwd", "absolute path"),
    ("C:/windows/evil", "absolute path"),
    ("assets\\evil.txt", "backslash in path"),
])
def test_zip_unsafe_paths(tmp_path: Path, name: str, reason: str) -> None:
    # The model is still read; the name is a finding of the security scan, never extracted.
    data = _zip({"config.json": CONFIG, name: b"x"})
    graph = load_keras(_write(tmp_path, "m.keras", data))
    assert graph.facts["container_scan"]["unsafe_names"] == [{"entry": name, "reason": reason}]


def test_zip_duplicate_entries(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("config.json", CONFIG)
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("config.json", b'{"class_name": "X", "config": {}}')
    with pytest.raises(ModelFileError, match=r"duplicate entries named 'config.json'"):
        load_keras(_write(tmp_path, "m.keras", buffer.getvalue()))


def test_zip_too_many_entries(tmp_path: Path) -> None:
    entries = {f"assets/{i}": b"" for i in range(keras_files.MAX_ZIP_ENTRIES + 1)}
    entries["config.json"] = CONFIG
    with pytest.raises(ModelFileError, match="too many entries"):
        load_keras(_write(tmp_path, "m.keras", _zip(entries)))


def test_zip_bad_json(tmp_path: Path) -> None:
    data = _zip({"config.json": b'{"class_name": "Functional",\n "config": [1, 2,]}'})
    with pytest.raises(ModelFileError, match=r"invalid config.json at line 2 column"):
        load_keras(_write(tmp_path, "m.keras", data))


def test_h5_without_model_config(tmp_path: Path) -> None:
    import h5py
    path = tmp_path / "weights.h5"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("dense/kernel", data=[[1.0, 2.0]])
        handle.attrs["layer_names"] = [b"dense"]
    with pytest.raises(ModelFileError, match=r"no Keras model config \(weights-only file\?\)"):
        load_keras(str(path))


def test_h5_model_config_not_a_model(tmp_path: Path) -> None:
    import h5py
    path = tmp_path / "odd.h5"
    with h5py.File(path, "w") as handle:
        handle.attrs["model_config"] = '{"hello": "world"}'
    with pytest.raises(ModelFileError, match="model_config is not a Keras model config"):
        load_keras(str(path))


@pytest.mark.parametrize("name", ["keras2/legacy_keras20.h5", "keras3/functional_multi_io.h5"])
def test_h5_attribute_size_limit(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    # Fixed-length (Keras 2.0) and variable-length (newer Keras) attributes alike.
    monkeypatch.setattr(keras_files, "MAX_CONFIG_BYTES", 1000)
    with pytest.raises(ModelFileError, match="attribute 'model_config' is too large"):
        load_keras(str(fixture(name)))


@pytest.mark.parametrize("text, message", [
    ('{"foo": 1}', r"JSON is not a Keras model config \(no class_name/config\)"),
    ("[1, 2, 3]", r"JSON is not a Keras model config"),
    ('{"class_name": "Functional", "config": ', "invalid JSON at line 1 column 40"),
    ('{"class_name": "Dense"}', r"JSON is not a Keras model config"),
    ('{"a": ' + "1" * 5000 + "}", "invalid JSON: .*digits"),
])
def test_bad_json(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ModelFileError, match=message):
        load_keras(_write(tmp_path, "m.json", text))


def test_json_not_utf8(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="not UTF-8"):
        load_keras(_write(tmp_path, "m.json", b'{"class_name": "\xff"}'))


@pytest.mark.parametrize("opener, closer", [("[", "]"), ('{"a":', "}")])
def test_json_nested_10000_deep(tmp_path: Path, opener: str, closer: str) -> None:
    text = "{\"x\": " + opener * 10_000 + "1" + closer * 10_000 + "}"
    with pytest.raises(ModelFileError, match=r"nested too deeply \(10001 levels, limit 200\)"):
        load_keras(_write(tmp_path, "m.json", text))


def test_json_depth_ignores_brackets_in_strings() -> None:
    assert keras_files.json_depth('{"a": ["[[[[{{{", "\\"]]"]}') == 2
    deep_string = json.dumps({"name": "[" * 1000})
    assert keras_files.json_depth(deep_string) == 1


def test_json_too_large(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keras_files, "MAX_CONFIG_BYTES", 100)
    with pytest.raises(ModelFileError, match="JSON file is too large"):
        load_keras(_write(tmp_path, "m.json", CONFIG))


def test_bare_inner_config_is_accepted(tmp_path: Path) -> None:
    inner = _multi_io_json()["config"]
    graph = load_keras(_write(tmp_path, "m.json", inner))
    assert graph.facts["keras"]["model_class"] == "Functional" and len(graph) == 12


# -- no TensorFlow, and speed ---------------------------------------------------------------------


FORBIDDEN = ("tensorflow", "keras", "tf_keras")


@pytest.mark.parametrize("name", ["keras3/functional_multi_io.keras",
                                  "keras2/functional_multi_io.json", "seed/lambda_sincos.h5"])
def test_loading_imports_no_tensorflow_or_keras(name: str) -> None:
    script = (
        "import sys, json\n"
        "from tflint.loaders.keras import load_keras\n"
        f"graph = load_keras({str(fixture(name))!r})\n"
        "assert len(graph) > 0\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    modules = {m.split(".")[0] for m in json.loads(proc.stdout.splitlines()[-1])}
    assert not modules & set(FORBIDDEN), modules & set(FORBIDDEN)


def large_config(layers: int) -> dict:
    """A tf.keras-style Functional config: ``layers`` Dense layers in residual blocks."""
    dense = {"units": 64, "activation": "relu", "use_bias": True, "dtype": "float32",
             "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
             "bias_initializer": {"class_name": "Zeros", "config": {}},
             "kernel_regularizer": None, "bias_regularizer": None, "trainable": True}
    entries = [_layer("input", "InputLayer", [], batch_input_shape=[None, 64], dtype="float32")]
    previous = "input"
    for i in range(layers - 1):
        name = f"layer_{i}"
        if i % 3 == 2:  # every third layer adds the block input back
            inbound = [[[previous, 0, 0, {}], [f"layer_{i - 2}", 0, 0, {}]]]
            entries.append(_layer(name, "Add", inbound, trainable=True, dtype="float32"))
        else:
            entries.append(_layer(name, "Dense", [[[previous, 0, 0, {}]]], **dense))
        previous = name
    return {**_functional(entries, [["input", 0, 0]], [[previous, 0, 0]]),
            "keras_version": "2.15.0", "backend": "tensorflow"}


def test_500_layer_config_loads(tmp_path: Path) -> None:
    """Load time is measured by bench/make_large_keras.py, not asserted here."""
    graph = load_keras(_write(tmp_path, "large.json", large_config(500)))
    assert len(graph) == 499
    adds = [n for n in graph.nodes() if n.op_type == "Add"]
    assert all(len(graph.predecessors(n)) == 2 for n in adds)


@pytest.mark.tensorflow
@pytest.mark.slow
def test_layer_list_is_current() -> None:
    recorded = json.loads((ROOT / "tflint/loaders/keras_layers.json").read_text())["versions"]
    installed = {"keras": metadata.version("keras"), "tf_keras": metadata.version("tf_keras")}
    assert installed == recorded, (
        f"layer list made for {recorded}, installed {installed}: "
        "run scripts/generate_keras_layers.py")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "generate_keras_layers.py"), "--check"],
        capture_output=True, text=True, cwd=ROOT, timeout=600, check=False,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
