"""The TFLite loader: what it reads agrees with the LiteRT runtime, and damaged
files are reported as ModelFileError, never another exception or a hang."""

from __future__ import annotations

import importlib.util
import json
import math
import random
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tflint.errors import ModelFileError
from tflint.graph import ModelGraph, Tensor
from tflint.loaders import tflite as tfl
from tflint.loaders.flatbuffer import FlatBuffer, Table
from tflint.loaders.tflite import load_tflite, parse_tflite
from tflint.loaders.tflite_names import SCHEMA_PATH, schema

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = sorted(
    path
    for folder in ("seed", "clean", "tflite")
    for path in (ROOT / "fixtures" / folder).glob("*.tflite")
)
FIXTURE_IDS = [f"{p.parent.name}/{p.name}" for p in FIXTURES]


def fixture(name: str) -> Path:
    path = ROOT / "fixtures" / name
    if not path.exists():
        pytest.skip(f"fixture {name} not generated")
    return path


def interpreter(path: Path) -> Any:
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    try:
        return litert.Interpreter(
            model_path=str(path),
            experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        )
    except (ValueError, RuntimeError) as exc:
        pytest.skip(f"the runtime cannot load {path.name}: {exc}")


def all_tensors(graph: ModelGraph) -> dict[str, Tensor]:
    """Every tensor reachable from the graph, by id."""
    found: dict[str, Tensor] = {}
    for node in graph.nodes():
        for tensor in (*node.inputs, *node.outputs):
            found.setdefault(tensor.id, tensor)
    for tensor in (*graph.inputs, *graph.outputs):
        found.setdefault(tensor.id, tensor)
    for signature in graph.signatures:
        for tensor in (*signature.inputs.values(), *signature.outputs.values()):
            found.setdefault(tensor.id, tensor)
    return found


def numpy_dtype_name(dtype: Any) -> str:
    import numpy as np

    name = np.dtype(dtype).name
    # The runtime hands strings out as Python objects.
    return {"object": "string", "bytes": "string"}.get(name, name)


# -- agreement with the runtime ----------------------------------------------


@pytest.mark.parametrize("path", FIXTURES, ids=FIXTURE_IDS)
def test_operators_match_runtime(path: Path) -> None:
    runtime = interpreter(path)
    graph = load_tflite(str(path))
    nodes = [node for node in graph.nodes() if node.subgraph == 0]
    ops = runtime._get_ops_details()
    assert len(nodes) == len(ops) == graph.facts["tflite"]["subgraphs"][0]["operators"]
    for node, op in zip(nodes, ops, strict=True):
        assert node.op_type == op["op_name"]
        assert node.options["_inputs"] == [int(i) for i in op["inputs"]]
        assert [t.index for t in node.inputs] == [int(i) for i in op["inputs"] if i >= 0]
        assert [t.index for t in node.outputs] == [int(i) for i in op["outputs"]]
        assert node.id == f"0:{op['index']}"
        assert node.location.op_index == op["index"]
        assert node.name == (node.outputs[0].name if node.outputs else "")


@pytest.mark.parametrize("path", FIXTURES, ids=FIXTURE_IDS)
def test_tensors_match_runtime(path: Path) -> None:
    runtime = interpreter(path)
    graph = load_tflite(str(path))
    tensors = all_tensors(graph)
    for sg in range(graph.subgraph_count):
        details = runtime.get_tensor_details(subgraph_index=sg)
        assert len(details) == graph.facts["tflite"]["subgraphs"][sg]["tensors"]
        for detail in details:
            tensor = tensors.get(f"{sg}:{detail['index']}")
            if tensor is None:
                continue  # used by no operator and no signature
            assert tensor.index == detail["index"] and tensor.subgraph == sg
            assert tensor.name == detail["name"]
            assert tensor.dtype == numpy_dtype_name(detail["dtype"])
            signature = [int(d) for d in detail["shape_signature"]]
            if tensor.shape is None:
                assert signature == []
            else:
                assert [-1 if d is None else d for d in tensor.shape] == signature
            params = detail["quantization_parameters"]
            if tensor.quantization is None:
                assert len(params["scales"]) == 0
            else:
                assert list(tensor.quantization.scale) == [float(s) for s in params["scales"]]
                assert list(tensor.quantization.zero_point) == [
                    int(z) for z in params["zero_points"]
                ]
                assert tensor.quantization.quantized_dimension == params["quantized_dimension"]


@pytest.mark.parametrize("path", FIXTURES, ids=FIXTURE_IDS)
def test_constant_data_located_like_runtime(path: Path) -> None:
    runtime = interpreter(path)
    graph = load_tflite(str(path))
    constants = [t for t in all_tensors(graph).values() if t.is_constant and t.subgraph == 0]
    assert constants, "every fixture has weights or constant operands"
    for tensor in constants:
        value = runtime.get_tensor(tensor.index)
        if value.dtype.kind == "O":
            continue
        assert tensor.data_size == value.nbytes
        assert graph.read_constant(tensor, max_bytes=1 << 24) == value.tobytes()


@pytest.mark.parametrize("path", FIXTURES, ids=FIXTURE_IDS)
def test_signatures_match_runtime(path: Path) -> None:
    runtime = interpreter(path)
    graph = load_tflite(str(path))
    expected = runtime._get_full_signature_list()
    assert {s.key for s in graph.signatures} == set(expected)
    for signature in graph.signatures:
        assert signature.subgraph == 0
        want = expected[signature.key]
        assert {k: t.index for k, t in signature.inputs.items()} == want["inputs"]
        assert {k: t.index for k, t in signature.outputs.items()} == want["outputs"]


# -- what the graph holds -----------------------------------------------------


@pytest.mark.parametrize("path", FIXTURES, ids=FIXTURE_IDS)
def test_graph_structure(path: Path) -> None:
    graph = load_tflite(str(path))
    facts = graph.facts["tflite"]
    assert graph.kind == "tflite" and graph.path == str(path)
    assert facts["schema_version"] == 3
    assert isinstance(facts["description"], str)
    assert "min_runtime_version" in facts["metadata"]
    assert facts["min_runtime_version"][0].isdigit()
    assert facts["buffers"] > 0
    assert graph.subgraph_count == len(facts["subgraphs"])
    main = facts["subgraphs"][0]
    assert [t.id for t in graph.inputs] == main["inputs"]
    assert [t.id for t in graph.outputs] == main["outputs"]
    assert len(graph) == sum(s["operators"] for s in facts["subgraphs"])
    assert [n.id for n in graph.nodes()] == [
        f"{s['index']}:{i}" for s in facts["subgraphs"] for i in range(s["operators"])
    ]
    for node in graph.nodes():
        assert node.kind == "op" and node.version is not None and node.version >= 1
        assert node.location.subgraph == node.subgraph
        for tensor in node.inputs:
            # Producer and consumers share the one Tensor object.
            producer = graph.producer(tensor)
            if producer is not None:
                assert any(out is tensor for out in producer.outputs)

    constants = {t.data_offset: t for t in all_tensors(graph).values() if t.is_constant}
    weight_bytes: dict[str, int] = {}
    for tensor in constants.values():
        assert tensor.data_size > 0 and tensor.data_offset is not None
        assert tensor.shape is not None and None not in tensor.shape
        weight_bytes[tensor.dtype] = weight_bytes.get(tensor.dtype, 0) + tensor.data_size
    assert facts["weight_bytes_by_dtype"] == dict(sorted(weight_bytes.items()))
    assert facts["parameters"] == sum(math.prod(t.shape) for t in constants.values())


def test_dynamic_batch_is_none() -> None:
    graph = load_tflite(str(fixture("seed/dynamic_reshape.tflite")))
    (image,) = graph.inputs
    assert image.shape == (None, 8, 8, 3) and image.is_dynamic
    assert image.dtype == "float32" and not image.is_constant
    ops = graph.op_histogram()
    assert {"SHAPE", "STRIDED_SLICE", "PACK", "RESHAPE"} <= set(ops)


def test_builtin_options_are_decoded() -> None:
    graph = load_tflite(str(fixture("clean/mobile_cnn.tflite")))
    conv = next(n for n in graph.nodes() if n.op_type == "CONV_2D")
    assert conv.options["padding"] in ("SAME", "VALID")
    assert conv.options["fused_activation_function"] in ("NONE", "RELU", "RELU6")
    assert isinstance(conv.options["stride_w"], int) and conv.options["stride_w"] >= 1
    assert conv.options["dilation_h_factor"] == 1
    softmax = next(n for n in graph.nodes() if n.op_type == "SOFTMAX")
    assert softmax.options["beta"] == 1.0
    fc = next(n for n in graph.nodes() if n.op_type == "FULLY_CONNECTED")
    assert fc.options["weights_format"] == "DEFAULT"
    assert fc.origin == "builtin"


def test_optional_inputs_are_skipped_but_recorded() -> None:
    graph = load_tflite(str(fixture("tflite/lstm.tflite")))
    lstm = next(n for n in graph.nodes() if n.op_type == "UNIDIRECTIONAL_SEQUENCE_LSTM")
    raw = lstm.options["_inputs"]
    assert -1 in raw
    assert [t.index for t in lstm.inputs] == [i for i in raw if i >= 0]
    assert lstm.options["fused_activation_function"] == "TANH"
    assert any(t.is_variable for t in lstm.inputs)


def test_int8_per_channel_quantization() -> None:
    graph = load_tflite(str(fixture("clean/mobile_cnn_int8.tflite")))
    (image,) = graph.inputs
    assert image.dtype == "int8" and image.quantization is not None
    assert not image.quantization.per_channel
    conv = next(n for n in graph.nodes() if n.op_type == "CONV_2D")
    weights = conv.inputs[1]
    assert weights.is_constant and weights.dtype == "int8"
    assert weights.quantization is not None and weights.quantization.per_channel
    channels = weights.shape[weights.quantization.quantized_dimension]
    assert len(weights.quantization.scale) == channels
    assert graph.facts["tflite"]["weight_bytes_by_dtype"]["int8"] > 0


def test_flex_and_custom_ops() -> None:
    flex = load_tflite(str(fixture("tflite/flex_op.tflite")))
    node = next(n for n in flex.nodes() if n.origin == "flex")
    assert node.op_type == "FlexErf" and node.location.op_type == "FlexErf"
    assert node.options["custom_options_size"] > 0

    custom = load_tflite(str(fixture("tflite/custom_op.tflite")))
    node = next(n for n in custom.nodes() if n.origin == "custom")
    assert node.op_type == "Erfinv"
    assert "custom_options_size" in node.options
    assert all(n.origin == "builtin" for n in custom.nodes() if n is not node)


def test_while_loop_subgraphs() -> None:
    graph = load_tflite(str(fixture("tflite/while_loop.tflite")))
    assert graph.subgraph_count == 3
    (loop,) = [n for n in graph.nodes() if n.subgraph == 0]
    assert loop.op_type == "WHILE"
    cond, body = loop.options["cond_subgraph_index"], loop.options["body_subgraph_index"]
    assert {cond, body} == {1, 2}
    names = [s["name"] for s in graph.facts["tflite"]["subgraphs"]]
    assert len(names) == 3 and all(names)
    body_nodes = [n for n in graph.nodes() if n.subgraph == body]
    assert body_nodes and all(n.id.startswith(f"{body}:") for n in body_nodes)
    assert all(t.subgraph == body for n in body_nodes for t in n.inputs)
    assert str(body_nodes[0].location).startswith(f"subgraph {body} / op 0 (")


def test_missing_file_is_a_model_file_error(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="cannot read"):
        load_tflite(str(tmp_path / "absent.tflite"))
    with pytest.raises(ModelFileError, match="cannot read"):
        load_tflite(str(tmp_path))


# -- the schema JSON ------------------------------------------------------------


def test_loader_slots_agree_with_schema() -> None:
    tables = schema()["tables"]

    def slot(table: str, field: str) -> int:
        return next(f["slot"] for f in tables[table] if f["name"] == field)

    expected = {
        "MODEL_VERSION": ("Model", "version"),
        "MODEL_OPERATOR_CODES": ("Model", "operator_codes"),
        "MODEL_SUBGRAPHS": ("Model", "subgraphs"),
        "MODEL_DESCRIPTION": ("Model", "description"),
        "MODEL_BUFFERS": ("Model", "buffers"),
        "MODEL_METADATA": ("Model", "metadata"),
        "MODEL_SIGNATURE_DEFS": ("Model", "signature_defs"),
        "MODEL_EXTERNAL_BUFFERS": ("Model", "external_buffers"),
        "OPCODE_DEPRECATED_BUILTIN": ("OperatorCode", "deprecated_builtin_code"),
        "OPCODE_CUSTOM": ("OperatorCode", "custom_code"),
        "OPCODE_VERSION": ("OperatorCode", "version"),
        "OPCODE_BUILTIN": ("OperatorCode", "builtin_code"),
        "SUBGRAPH_TENSORS": ("SubGraph", "tensors"),
        "SUBGRAPH_INPUTS": ("SubGraph", "inputs"),
        "SUBGRAPH_OUTPUTS": ("SubGraph", "outputs"),
        "SUBGRAPH_OPERATORS": ("SubGraph", "operators"),
        "SUBGRAPH_NAME": ("SubGraph", "name"),
        "OP_OPCODE_INDEX": ("Operator", "opcode_index"),
        "OP_INPUTS": ("Operator", "inputs"),
        "OP_OUTPUTS": ("Operator", "outputs"),
        "OP_OPTIONS_TYPE": ("Operator", "builtin_options_type"),
        "OP_OPTIONS": ("Operator", "builtin_options"),
        "OP_CUSTOM_OPTIONS": ("Operator", "custom_options"),
        "OP_LARGE_CUSTOM_OFFSET": ("Operator", "large_custom_options_offset"),
        "OP_LARGE_CUSTOM_SIZE": ("Operator", "large_custom_options_size"),
        "OP_OPTIONS2_TYPE": ("Operator", "builtin_options_2_type"),
        "OP_OPTIONS2": ("Operator", "builtin_options_2"),
        "TENSOR_SHAPE": ("Tensor", "shape"),
        "TENSOR_TYPE": ("Tensor", "type"),
        "TENSOR_BUFFER": ("Tensor", "buffer"),
        "TENSOR_NAME": ("Tensor", "name"),
        "TENSOR_QUANTIZATION": ("Tensor", "quantization"),
        "TENSOR_IS_VARIABLE": ("Tensor", "is_variable"),
        "TENSOR_SHAPE_SIGNATURE": ("Tensor", "shape_signature"),
        "TENSOR_HAS_RANK": ("Tensor", "has_rank"),
        "TENSOR_EXTERNAL_BUFFER": ("Tensor", "external_buffer"),
        "QUANT_MIN": ("QuantizationParameters", "min"),
        "QUANT_MAX": ("QuantizationParameters", "max"),
        "QUANT_SCALE": ("QuantizationParameters", "scale"),
        "QUANT_ZERO_POINT": ("QuantizationParameters", "zero_point"),
        "QUANT_DIMENSION": ("QuantizationParameters", "quantized_dimension"),
        "BUFFER_DATA": ("Buffer", "data"),
        "BUFFER_OFFSET": ("Buffer", "offset"),
        "BUFFER_SIZE": ("Buffer", "size"),
        "METADATA_NAME": ("Metadata", "name"),
        "METADATA_BUFFER": ("Metadata", "buffer"),
        "SIGNATURE_INPUTS": ("SignatureDef", "inputs"),
        "SIGNATURE_OUTPUTS": ("SignatureDef", "outputs"),
        "SIGNATURE_KEY": ("SignatureDef", "signature_key"),
        "SIGNATURE_SUBGRAPH": ("SignatureDef", "subgraph_index"),
        "TENSOR_MAP_NAME": ("TensorMap", "name"),
        "TENSOR_MAP_INDEX": ("TensorMap", "tensor_index"),
        "EXTERNAL_BUFFER_ID": ("ExternalBuffer", "id"),
        "EXTERNAL_BUFFER_LENGTH": ("ExternalBuffer", "length"),
    }
    for constant, (table, field) in expected.items():
        assert getattr(tfl, constant) == slot(table, field), constant


def test_schema_json_facts() -> None:
    data = schema()
    assert data["builtin_operators"][0] == "ADD"
    assert data["builtin_operators"][3] == "CONV_2D"
    assert data["tensor_types"][:4] == ["float32", "float16", "int32", "uint8"]
    assert data["unions"]["BuiltinOptions"][1] == "Conv2DOptions"
    conv = {f["name"]: f for f in data["tables"]["Conv2DOptions"]}
    assert conv["padding"] == {
        "name": "padding",
        "slot": 0,
        "kind": "scalar",
        "type": "int8",
        "default": 0,
        "enum": "Padding",
    }
    assert conv["dilation_w_factor"]["default"] == 1
    assert data["enums"]["Padding"] == ["SAME", "VALID"]
    squeeze = {f["name"]: f for f in data["tables"]["SqueezeOptions"]}
    assert squeeze["squeeze_dims"] == {
        "name": "squeeze_dims",
        "slot": 0,
        "kind": "vector",
        "type": "int32",
    }


def test_schema_json_is_current() -> None:
    committed = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    pytest.importorskip(committed["schema_module"])
    spec = importlib.util.spec_from_file_location(
        "generate_tflite_schema", ROOT / "scripts" / "generate_tflite_schema.py"
    )
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    module, version = generator.find_module(committed["schema_module"])
    fresh = generator.render(generator.generate(module, version))
    assert fresh == SCHEMA_PATH.read_text(encoding="utf-8"), (
        "tflint/loaders/tflite_schema.json is stale: run scripts/generate_tflite_schema.py"
    )


# -- synthetic models ---------------------------------------------------------


def build_model(edit: Callable[[Any, Any], None] | None = None, tail: bytes = b"") -> bytes:
    """A one-ADD model written with the LiteRT schema's object API, then ``edit``ed."""
    fbs = pytest.importorskip("ai_edge_litert.schema_py_generated")
    flatbuffers = pytest.importorskip("flatbuffers")

    def tensor(name: str, buffer: int) -> Any:
        t = fbs.TensorT()
        t.name, t.shape, t.type, t.buffer, t.hasRank = name, [1, 4], 0, buffer, True
        return t

    model = fbs.ModelT()
    model.version = 3
    code = fbs.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = fbs.BuiltinOperator.ADD
    model.operatorCodes = [code]
    const = fbs.BufferT()
    const.data = list(range(16))
    model.buffers = [fbs.BufferT(), const]
    op = fbs.OperatorT()
    op.inputs, op.outputs = [0, 1], [2]
    op.builtinOptionsType = fbs.BuiltinOptions.AddOptions
    op.builtinOptions = fbs.AddOptionsT()
    op.builtinOptions.fusedActivationFunction = fbs.ActivationFunctionType.RELU
    subgraph = fbs.SubGraphT()
    subgraph.tensors = [tensor("x", 0), tensor("c", 1), tensor("y", 0)]
    subgraph.operators = [op]
    subgraph.inputs, subgraph.outputs = [0], [2]
    model.subgraphs = [subgraph]
    if edit is not None:
        edit(model, fbs)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output()) + tail


def parse(data: bytes) -> ModelGraph:
    return parse_tflite(data, "model.tflite")


def test_synthetic_model_loads() -> None:
    graph = parse(build_model())
    (node,) = graph.nodes()
    assert node.op_type == "ADD" and node.version == 1
    assert node.options == {
        "fused_activation_function": "RELU",
        "pot_scale_int16": True,
        "_inputs": [0, 1],
    }
    assert [t.name for t in node.inputs] == ["x", "c"]
    assert node.inputs[1].is_constant and node.inputs[1].data_size == 16
    assert graph.facts["tflite"]["min_runtime_version"] is None


@pytest.mark.parametrize(
    ("deprecated", "builtin", "expected"),
    [(0, 3, "CONV_2D"), (3, 0, "CONV_2D"), (127, 150, "GELU"), (0, 9999, "BUILTIN_9999")],
)
def test_opcode_names(deprecated: int, builtin: int, expected: str) -> None:
    def edit(model: Any, fbs: Any) -> None:
        model.operatorCodes[0].deprecatedBuiltinCode = deprecated
        model.operatorCodes[0].builtinCode = builtin
        model.subgraphs[0].operators[0].builtinOptionsType = 0
        model.subgraphs[0].operators[0].builtinOptions = None

    (node,) = parse(build_model(edit)).nodes()
    assert node.op_type == expected and node.origin == "builtin"
    assert node.options == {"_inputs": [0, 1]}


def test_options_of_every_kind() -> None:
    """Vectors, dtype enums, floats, strings and BuiltinOptions2 tables."""

    def edit(model: Any, fbs: Any) -> None:
        def op(code: int, union: str, options: Any, second: bool = False) -> Any:
            opcode = fbs.OperatorCodeT()
            opcode.builtinCode = code
            opcode.deprecatedBuiltinCode = min(code, 127)
            model.operatorCodes.append(opcode)
            operator = fbs.OperatorT()
            operator.opcodeIndex = len(model.operatorCodes) - 1
            operator.inputs, operator.outputs = [2], [2]
            if second:
                operator.builtinOptions2Type = getattr(fbs.BuiltinOptions2, union)
                operator.builtinOptions2 = options
            else:
                operator.builtinOptionsType = getattr(fbs.BuiltinOptions, union)
                operator.builtinOptions = options
            return operator

        squeeze = fbs.SqueezeOptionsT()
        squeeze.squeezeDims = [1, 2]
        cast = fbs.CastOptionsT()
        cast.inDataType, cast.outDataType = fbs.TensorType.FLOAT32, fbs.TensorType.INT8
        leaky = fbs.LeakyReluOptionsT()
        leaky.alpha = 0.2
        composite = fbs.StableHLOCompositeOptionsT()
        composite.name, composite.version = "odml.rms_norm", 2
        compare = fbs.StablehloCompareOptionsT()
        direction = fbs.StablehloComparisonDirection
        compare.comparisonDirection = direction.STABLEHLO_COMPARISON_DIRECTION_GT
        ops = fbs.BuiltinOperator
        model.subgraphs[0].operators += [
            op(ops.SQUEEZE, "SqueezeOptions", squeeze),
            op(ops.CAST, "CastOptions", cast),
            op(ops.LEAKY_RELU, "LeakyReluOptions", leaky),
            op(ops.STABLEHLO_COMPOSITE, "StableHLOCompositeOptions", composite, second=True),
            op(ops.STABLEHLO_COMPARE, "StablehloCompareOptions", compare, second=True),
        ]

    nodes = {n.op_type: n.options for n in parse(build_model(edit)).nodes()}
    assert nodes["SQUEEZE"] == {"squeeze_dims": [1, 2], "_inputs": [2]}
    assert nodes["CAST"] == {"in_data_type": "float32", "out_data_type": "int8", "_inputs": [2]}
    assert nodes["LEAKY_RELU"] == {"alpha": 0.2, "_inputs": [2]}
    composite = nodes["STABLEHLO_COMPOSITE"]
    assert composite["name"] == "odml.rms_norm" and composite["version"] == 2
    assert composite["composite_attributes"] == []
    assert composite["composite_attributes_format"] == "FLEXBUFFERS"
    compare = nodes["STABLEHLO_COMPARE"]
    assert compare["comparison_direction"] == "STABLEHLO_COMPARISON_DIRECTION_GT"
    assert compare["compare_type"] == "STABLEHLO_COMPARISON_TYPE_NOTYPE"


def test_unknown_options_table_is_skipped() -> None:
    def edit(model: Any, fbs: Any) -> None:
        model.subgraphs[0].operators[0].builtinOptionsType = 250

    (node,) = parse(build_model(edit)).nodes()
    assert node.options == {"_inputs": [0, 1]}


def test_unranked_tensor_has_no_shape() -> None:
    def edit(model: Any, fbs: Any) -> None:
        unranked = model.subgraphs[0].tensors[2]
        unranked.shape, unranked.hasRank = [], False
        model.subgraphs[0].tensors[0].shapeSignature = [-1, 4]

    graph = parse(build_model(edit))
    assert graph.outputs[0].shape is None and graph.outputs[0].is_dynamic
    assert graph.inputs[0].shape == (None, 4)


def test_buffer_data_outside_the_flatbuffer() -> None:
    payload = bytes(range(100, 116))

    def place(offset: int) -> Callable[[Any, Any], None]:
        def edit(model: Any, fbs: Any) -> None:
            model.buffers[1].data = None
            model.buffers[1].offset, model.buffers[1].size = offset, len(payload)

        return edit

    length = len(build_model(place(2)))
    data = build_model(place(length), tail=payload)
    assert len(data) == length + len(payload)
    graph = parse(data)
    const = next(n for n in graph.nodes()).inputs[1]
    assert const.is_constant and (const.data_offset, const.data_size) == (length, 16)
    assert data[const.data_offset : const.data_offset + const.data_size] == payload

    with pytest.raises(ModelFileError, match="buffer 1 claims 16 bytes"):
        parse(build_model(place(length + 8), tail=payload))


def test_signature_subgraph_out_of_range() -> None:
    def edit(model: Any, fbs: Any) -> None:
        signature = fbs.SignatureDefT()
        signature.signatureKey, signature.subgraphIndex = "serving_default", 5
        model.signatureDefs = [signature]

    with pytest.raises(ModelFileError, match="refers to subgraph 5"):
        parse(build_model(edit))


def test_signature_tensor_out_of_range() -> None:
    def edit(model: Any, fbs: Any) -> None:
        entry = fbs.TensorMapT()
        entry.name, entry.tensorIndex = "x", 42
        signature = fbs.SignatureDefT()
        signature.signatureKey, signature.inputs = "serving_default", [entry]
        model.signatureDefs = [signature]

    with pytest.raises(ModelFileError, match="refers to tensor 42"):
        parse(build_model(edit))


def test_opcode_index_out_of_range() -> None:
    def edit(model: Any, fbs: Any) -> None:
        model.subgraphs[0].operators[0].opcodeIndex = 7

    with pytest.raises(ModelFileError, match="uses opcode 7 but the model has 1"):
        parse(build_model(edit))


def test_tensor_index_out_of_range() -> None:
    def edit(model: Any, fbs: Any) -> None:
        model.subgraphs[0].operators[0].inputs = [0, 99]

    with pytest.raises(ModelFileError, match="input tensor 99 but the subgraph has 3"):
        parse(build_model(edit))


def test_buffer_index_out_of_range() -> None:
    def edit(model: Any, fbs: Any) -> None:
        model.subgraphs[0].tensors[1].buffer = 12

    with pytest.raises(ModelFileError, match="refers to buffer 12 but the model has 2"):
        parse(build_model(edit))


# -- damaged real files ---------------------------------------------------------


class Layout:
    """Where things are in a real model file, found with the loader's reader."""

    def __init__(self, data: bytes) -> None:
        fb = FlatBuffer(data)
        self.model = fb.root("Model")
        self.subgraph = self.model.tables(tfl.MODEL_SUBGRAPHS, "SubGraph", "subgraphs")[0]
        self.tensors = self.subgraph.tables(tfl.SUBGRAPH_TENSORS, "Tensor", "tensors")
        self.operators = self.subgraph.tables(tfl.SUBGRAPH_OPERATORS, "Operator", "operators")

    @staticmethod
    def vtable(table: Table) -> int:
        return table.pos - struct.unpack_from("<i", table.fb.buf, table.pos)[0]


def base_model() -> bytes:
    return fixture("clean/mobile_cnn.tflite").read_bytes()


def patched(data: bytes, pos: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, pos, value)
    return bytes(out)


def assert_model_error(data: bytes, match: str | None = None) -> str:
    start = time.perf_counter()
    with pytest.raises(ModelFileError, match=match) as info:
        parse(data)
    assert time.perf_counter() - start < 2
    message = str(info.value)
    assert message and "\n" not in message
    return message


def test_truncated_files() -> None:
    data = base_model()
    size = len(data)
    points = {0, 3, 7, 8, 12, 16, 32, 64, size // 4, size // 2, 3 * size // 4, size - 1}
    points |= set(range(0, size, 97))
    for end in sorted(points):
        assert_model_error(data[:end])


def test_truncated_file_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "cut.tflite"
    path.write_bytes(base_model()[:5000])
    with pytest.raises(ModelFileError, match="outside the file"):
        load_tflite(str(path))
    path.write_bytes(b"TFL")
    with pytest.raises(ModelFileError, match="too small"):
        load_tflite(str(path))


def test_wrong_identifier() -> None:
    data = base_model()
    assert_model_error(data[:4] + b"XXXX" + data[8:], "not a TFLite model")
    zip_header = b"PK\x03\x04\x14\x00\x00\x00"
    assert_model_error(zip_header + data[8:], "not a TFLite model")


def test_huge_vector_length() -> None:
    data = base_model()
    layout = Layout(data)
    tensors = layout.subgraph.target(tfl.SUBGRAPH_TENSORS, "tensors")
    message = assert_model_error(patched(data, tensors, "<I", 0x7FFFFFFF), "claims")
    assert "SubGraph.tensors" in message
    shape = layout.tensors[0].target(tfl.TENSOR_SHAPE, "shape")
    message = assert_model_error(patched(data, shape, "<I", 0x3FFFFFFF))
    assert "Tensor.shape" in message and "1073741823 elements" in message


def test_offset_outside_the_file() -> None:
    data = base_model()
    assert_model_error(patched(data, 0, "<I", len(data) + 100), "outside the file")
    layout = Layout(data)
    name = layout.tensors[1].field(tfl.TENSOR_NAME)
    message = assert_model_error(patched(data, name, "<I", 0xFFFFFF00))
    assert "Tensor.name" in message and f"(size {len(data)})" in message


def test_invalid_vtable() -> None:
    data = base_model()
    vtable = Layout.vtable(Layout(data).model)
    assert_model_error(patched(data, vtable, "<H", 7), "invalid size 7")
    assert_model_error(patched(data, vtable, "<H", 2), "invalid size 2")
    assert_model_error(patched(data, vtable, "<H", 0xFFFE), "invalid size")
    root = Layout(data).model.pos
    assert_model_error(patched(data, root, "<i", root + 10**6), "vtable of Model")


def test_string_without_terminator() -> None:
    data = base_model()
    name = Layout(data).tensors[0].target(tfl.TENSOR_NAME, "name")
    length = struct.unpack_from("<I", data, name)[0]
    assert_model_error(patched(data, name + 4 + length, "<B", ord("x")), "NUL-terminated")


def test_opcode_index_out_of_range_in_real_file() -> None:
    data = base_model()
    op = next(op for op in Layout(data).operators if op.field(tfl.OP_OPCODE_INDEX))
    assert_model_error(patched(data, op.field(tfl.OP_OPCODE_INDEX), "<I", 200), "opcode 200")


def test_cyclic_and_overlapping_tables() -> None:
    """Offsets only point forward, so a table can only come back to itself through
    its vtable offset, or be reached again as another type: both are errors."""
    data = base_model()
    layout = Layout(data)
    root = layout.model.pos
    assert_model_error(patched(data, root, "<i", 0), "vtable of Model at .* invalid size")

    # A later tensor whose quantization parameters are an earlier tensor.
    first, second = next(
        (a, b)
        for i, a in enumerate(layout.tensors)
        for b in layout.tensors[i + 1 :]
        if b.field(tfl.TENSOR_QUANTIZATION) and b.field(tfl.TENSOR_QUANTIZATION) < a.pos
    )
    field = second.field(tfl.TENSOR_QUANTIZATION)
    message = assert_model_error(patched(data, field, "<I", first.pos - field))
    assert "both as a Tensor and as a QuantizationParameters" in message

    # The subgraph list pointing into a tensor.
    entry = layout.model.target(tfl.MODEL_SUBGRAPHS, "subgraphs") + 4
    tensor = next(t for t in layout.tensors if t.pos > entry)
    assert_model_error(patched(data, entry, "<I", tensor.pos - entry))


def test_repeated_offsets_exhaust_the_budget() -> None:
    flatbuffers = pytest.importorskip("flatbuffers")
    builder = flatbuffers.Builder(1 << 20)
    name = builder.CreateString("n" * (1 << 18))
    builder.StartObject(4)
    builder.PrependUOffsetTRelativeSlot(3, name, 0)
    tensor = builder.EndObject()
    builder.StartVector(4, 100_000, 4)
    for _ in range(100_000):
        builder.PrependUOffsetTRelative(tensor)
    tensors = builder.EndVector()
    builder.StartObject(1)
    builder.PrependUOffsetTRelativeSlot(0, tensors, 0)
    subgraph = builder.EndObject()
    builder.StartVector(4, 1, 4)
    builder.PrependUOffsetTRelative(subgraph)
    subgraphs = builder.EndVector()
    builder.StartObject(3)
    builder.PrependUint32Slot(0, 3, 0)
    builder.PrependUOffsetTRelativeSlot(2, subgraphs, 0)
    builder.Finish(builder.EndObject(), file_identifier=b"TFL3")
    assert_model_error(bytes(builder.Output()), "over and over")


def test_random_damage_never_escapes() -> None:
    """Seeded byte flips and overwritten words: a ModelFileError or a graph, nothing else."""
    rng = random.Random(1234)
    originals = [p.read_bytes() for p in FIXTURES] or [base_model()]
    for _ in range(400):
        data = bytearray(rng.choice(originals))
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(len(data) - 4) & ~3
            if rng.random() < 0.5:
                data[pos + rng.randrange(4)] ^= 1 << rng.randrange(8)
            else:
                value = rng.choice([0, 1, 0xFFFFFFFF, 0x7FFFFFFF, rng.randrange(len(data))])
                struct.pack_into("<I", data, pos, value)
        start = time.perf_counter()
        try:
            parse(bytes(data))
        except ModelFileError as exc:
            assert str(exc) and "\n" not in str(exc)
        assert time.perf_counter() - start < 2


# -- startup cost ---------------------------------------------------------------


def test_loading_imports_no_heavy_module() -> None:
    path = fixture("clean/mobile_cnn.tflite")
    code = (
        "import sys\n"
        "from tflint.loaders.tflite import load_tflite\n"
        f"graph = load_tflite({str(path)!r})\n"
        "assert len(graph) > 0\n"
        "heavy = ('numpy', 'h5py', 'tensorflow', 'keras', 'tf_keras', 'ai_edge_litert',"
        " 'flatbuffers')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]", result.stdout
