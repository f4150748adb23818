"""Static shapes propagated through Keras graphs from the inputs and the layer configs.

Keras 3 files record the shapes Keras itself computed: the fixtures' recorded
shapes are removed (model inputs kept) and propagated again, and must come
back the same.  The layer rules are checked one by one against shapes worked
out from the Keras documentation of each layer.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURES

from tflint.analyses.keras_prediction import layer_class, layer_features, predict
from tflint.analyses.keras_shapes import output_shapes, propagate
from tflint.graph import Location, Node
from tflint.loaders import load

RECORDED = sorted([*FIXTURES.glob("keras_cases/*.keras"), *FIXTURES.glob("seed/*.keras"),
                   *(p for p in FIXTURES.glob("keras_cases/*.json") if p.name != "truth.json")])


def _strip(path: Path):
    """The file's graph with every recorded shape but the model inputs' removed."""
    graph = load(str(path))
    inputs = {t.id for t in graph.inputs}
    recorded = {}
    for node in graph.nodes():
        for tensor in (*node.inputs, *node.outputs):
            if tensor.shape is not None and tensor.id not in inputs:
                recorded[tensor.id] = tuple(tensor.shape)
                tensor.shape = None
    return graph, recorded


def test_propagation_finds_the_shapes_keras_recorded() -> None:
    compared = missing = 0
    for path in RECORDED:
        graph, recorded = _strip(path)
        shapes = propagate(graph, layer_class)
        for node in graph.nodes():
            for tensor in node.outputs:
                if tensor.id not in recorded:
                    continue
                if shapes.get(tensor.id) is None:
                    missing += 1  # after a Lambda or custom layer: not known
                    continue
                # Known dimensions agree; Keras records a resolved Reshape -1 as None.
                assert len(shapes[tensor.id]) == len(recorded[tensor.id]) and all(
                    r is None or r == c for r, c in zip(recorded[tensor.id], shapes[tensor.id],
                                                        strict=True)), (
                    f"{path.name}: {node.op_type} '{node.layer_name}'")
                compared += 1
    assert compared >= 20 and missing <= compared // 5


def _shape(cls: str, config: dict, *shapes):
    return output_shapes(cls, config, list(shapes))


@pytest.mark.parametrize(("cls", "config", "inputs", "expected"), [
    ("Conv2D", {"filters": 8, "kernel_size": 3, "strides": 2, "padding": "same"},
     [(None, 15, 15, 3)], (None, 8, 8, 8)),
    ("Conv2D", {"filters": 8, "kernel_size": [3, 3], "padding": "valid",
                "dilation_rate": 2}, [(1, 15, 15, 3)], (1, 11, 11, 8)),
    ("Conv1D", {"filters": 4, "kernel_size": 3, "padding": "causal"}, [(None, 12, 3)],
     (None, 12, 4)),
    ("DepthwiseConv2D", {"kernel_size": 3, "depth_multiplier": 2}, [(None, 8, 8, 3)],
     (None, 6, 6, 6)),
    ("Conv2DTranspose", {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"},
     [(None, 8, 8, 3)], (None, 16, 16, 4)),
    ("Conv2D", {"filters": 4, "kernel_size": 3, "data_format": "channels_first"},
     [(None, 3, 8, 8)], (None, 4, 6, 6)),
    ("MaxPooling2D", {"pool_size": [2, 2], "padding": "valid"}, [(None, 7, 7, 3)],
     (None, 3, 3, 3)),
    ("AveragePooling1D", {"pool_size": 2, "padding": "same"}, [(None, None, 3)],
     (None, None, 3)),
    ("GlobalAveragePooling3D", {}, [(None, 4, 4, 4, 2)], (None, 2)),
    ("GlobalMaxPooling2D", {"keepdims": True}, [(1, 8, 8, 3)], (1, 1, 1, 3)),
    ("Dense", {"units": 5}, [(None, 6, 4, 3)], (None, 6, 4, 5)),
    ("EinsumDense", {"equation": "abc,cd->abd", "output_shape": [None, 8]}, [(None, 10, 16)],
     (None, 10, 8)),
    ("EinsumDense", {"equation": "abc,cde->abde", "output_shape": [None, 2, 4]},
     [(None, 10, 16)], (None, 10, 2, 4)),
    ("EinsumDense", {"equation": "ab,bc->ac", "output_shape": 4}, [(None, 8)], (None, 4)),
    ("EinsumDense", {"equation": "...b,bc->...c", "output_shape": 4}, [(None, 3, 8)],
     (None, 3, 4)),
    ("Reshape", {"target_shape": [-1, 8]}, [(None, 4, 2, 8)], (None, 8, 8)),
    ("Reshape", {"target_shape": [-1, 8]}, [(None, None, 8)], (None, None, 8)),
    ("Reshape", {"target_shape": [-1]}, [(None, 4, 5)], (None, 20)),
    ("Flatten", {}, [(1, 4, 4, 3)], (1, 48)),
    ("Flatten", {}, [(None, None, 3)], (None, None)),
    ("Permute", {"dims": [2, 1, 3]}, [(None, 4, 5, 6)], (None, 5, 4, 6)),
    ("Concatenate", {"axis": -1}, [(None, 4, 3), (None, 4, 5)], (None, 4, 8)),
    ("Concatenate", {"axis": 1}, [(None, None, 3), (None, 4, 3)], (None, None, 3)),
    ("Add", {}, [(None, 4, 1), (None, 4, 3)], (None, 4, 3)),
    ("UpSampling2D", {"size": [2, 3]}, [(None, 4, 4, 3)], (None, 8, 12, 3)),
    ("ZeroPadding2D", {"padding": [[1, 2], [0, 1]]}, [(None, 4, 4, 3)], (None, 7, 5, 3)),
    ("Cropping1D", {"cropping": [1, 2]}, [(None, 10, 3)], (None, 7, 3)),
    ("Embedding", {"input_dim": 10, "output_dim": 4}, [(None, 6)], (None, 6, 4)),
    ("MultiHeadAttention", {"num_heads": 2, "key_dim": 4}, [(None, 10, 16), (None, 7, 16)],
     (None, 10, 16)),
    ("Attention", {}, [(None, 10, 16), (None, 7, 8)], (None, 10, 8)),
    ("LSTM", {"units": 4, "return_sequences": True}, [(None, 12, 8)], (None, 12, 4)),
    ("LSTM", {"units": 4}, [(None, 12, 8)], (None, 4)),
    ("RepeatVector", {"n": 3}, [(None, 8)], (None, 3, 8)),
    ("LayerNormalization", {}, [(None, None, 8)], (None, None, 8)),
])
def test_layer_output_shapes(cls: str, config: dict, inputs: list, expected: tuple) -> None:
    assert _shape(cls, config, *inputs) == expected


def test_tf_keras_resolves_a_reshape_minus_one_only_with_a_static_batch() -> None:
    """tf.keras reshapes to ``(batch, -1, 8)`` at run time: with an unknown batch the
    converter cannot resolve the -1 (and a layer after it sees an unknown length)."""
    target = {"target_shape": [-1, 8]}
    assert output_shapes("Reshape", target, [(None, 4, 2, 8)], "tf_keras") == (None, None, 8)
    assert output_shapes("Reshape", target, [(1, 4, 2, 8)], "tf_keras") == (1, 8, 8)
    assert output_shapes("Reshape", target, [(None, 4, 2, 8)], "keras3") == (None, 8, 8)


def test_a_layer_of_unknown_class_has_no_shape() -> None:
    assert _shape("SomethingCustom", {}, (None, 4)) is None


def _node(cls: str, **config) -> Node:
    return Node(id="n", kind="layer", op_type=cls, location=Location(cls, "n"), options=config)


def test_features_key_the_lowering_by_rank_and_unknown_dimensions() -> None:
    sequence = layer_features(_node("Dense", units=4), "keras3", shape=(None, None, 5))
    assert (sequence["input_rank"], sequence["dynamic_dims"]) == (3, True)
    image = layer_features(_node("LayerNormalization"), "keras3", shape=(1, 8, 8, 3))
    assert (image["input_rank"], image["dynamic_dims"]) == (4, False)
    # A convolution's lowering does not depend on them: no such features.
    assert "input_rank" not in layer_features(_node("Conv2D"), "keras3", shape=(1, 8, 8, 3))


def test_the_prediction_exposes_shapes_per_tensor_and_per_op() -> None:
    path = FIXTURES / "keras_cases" / "flatten_dynamic_batch.json"
    graph, _ = _strip(path)
    prediction = predict(graph)
    assert prediction.shapes
    for layer in prediction.layers:
        assert layer.output_shapes == [prediction.shapes.get(t.id) for t in layer.node.outputs]
        ops = layer.predicted_ops()
        assert [op.op for op in ops] == layer.lowering.ops
        for index, op in enumerate(ops):
            if not layer.lowering.deps[index]:
                assert list(op.input_shapes) == layer.input_shapes
    flatten = next(p for p in prediction.layers if p.node.op_type == "Flatten")
    (source,) = flatten.input_shapes
    assert source is not None and flatten.output_shapes[0] is not None
    assert flatten.output_shapes[0][1] == _product(source[1:])


def _product(dims) -> int:
    out = 1
    for d in dims:
        out *= d
    return out
