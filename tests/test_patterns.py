"""The declarative pattern matcher on small graphs built in memory."""

from __future__ import annotations

import struct
from pathlib import Path

from tflint.graph import Location, ModelGraph, Node, Quantization, Tensor
from tflint.patterns import alt, const, find, op, optional, options_are, var


class GraphBuilder:
    """Builds a TFLite-like graph; constants are written to a real file."""

    def __init__(self, path: Path) -> None:
        self.graph = ModelGraph(str(path), "tflite")
        self.data = bytearray()
        self.path = path
        self.count = 0

    def tensor(self, name: str) -> Tensor:
        self.count += 1
        return Tensor(id=f"0:{self.count}", name=name, dtype="float32", shape=(1, 4))

    def const(self, value: float) -> Tensor:
        tensor = self.tensor(f"c{value}")
        tensor.is_constant, tensor.data_offset, tensor.data_size = True, len(self.data), 4
        self.data += struct.pack("<f", value)
        self.path.write_bytes(bytes(self.data))
        return tensor

    def op(self, op_type: str, *inputs: Tensor, **options: object) -> Tensor:
        out = self.tensor(f"{op_type.lower()}_{self.count}")
        index = len(self.graph)
        self.graph.add_node(Node(id=f"0:op{index}", kind="op", op_type=op_type,
                                 location=Location(op_type, out.name, 0, index),
                                 inputs=list(inputs), outputs=[out], options=dict(options)))
        return out


def _hard_swish():
    x = var("x")
    return op("MUL", op("MUL", x, op("RELU6", op("ADD", x, const(3.0)))), const(1 / 6))


def test_hard_swish_found_in_either_operand_order(tmp_path: Path) -> None:
    b = GraphBuilder(tmp_path / "consts.bin")
    x = b.op("CONV_2D", b.tensor("in"))
    relu = b.op("RELU6", b.op("ADD", b.const(3.0), x))   # constant first: commuted
    out = b.op("MUL", b.const(1 / 6), b.op("MUL", relu, x))
    b.graph.outputs = [out]
    [match] = list(find(b.graph, _hard_swish()))
    assert [n.op_type for n in match.nodes] == ["ADD", "RELU6", "MUL", "MUL"]
    assert match.bindings["x"].id == x.id


def test_wrong_constant_or_unbound_variable_does_not_match(tmp_path: Path) -> None:
    b = GraphBuilder(tmp_path / "consts.bin")
    x = b.op("CONV_2D", b.tensor("in"))
    y = b.op("CONV_2D", b.tensor("in2"))
    b.op("MUL", b.op("MUL", x, b.op("RELU6", b.op("ADD", x, b.const(2.0)))), b.const(1 / 6))
    b.op("MUL", b.op("MUL", y, b.op("RELU6", b.op("ADD", x, b.const(3.0)))), b.const(1 / 6))
    assert list(find(b.graph, _hard_swish())) == []


def test_inner_node_with_outside_consumer_is_not_fusable(tmp_path: Path) -> None:
    b = GraphBuilder(tmp_path / "consts.bin")
    conv = b.op("CONV_2D", b.tensor("in"), fused_activation_function="NONE")
    b.op("RELU", conv)
    b.op("ADD", conv, conv)  # a second consumer of the conv output
    pattern = op("RELU", op("CONV_2D", where=options_are(fused_activation_function="NONE")))
    assert list(find(b.graph, pattern)) == []
    b2 = GraphBuilder(tmp_path / "consts2.bin")
    conv = b2.op("CONV_2D", b2.tensor("in"), fused_activation_function="NONE")
    b2.op("RELU", conv)
    assert len(list(find(b2.graph, pattern))) == 1


def test_matching_is_linear_in_graph_size(tmp_path: Path) -> None:
    """Count node visits rather than time: 10x the graph, 10x the work."""
    visits = []
    for copies in (100, 1000):
        b = GraphBuilder(tmp_path / f"c{copies}.bin")
        calls = 0

        def counted(node: Node) -> bool:
            nonlocal calls
            calls += 1
            return True

        t = b.tensor("in")
        for _ in range(copies):
            t = b.op("RELU", b.op("CONV_2D", t))
        assert len(list(find(b.graph, op("RELU", op("CONV_2D", where=counted))))) == copies
        visits.append(calls)
    assert visits[1] == 10 * visits[0]


def test_alternatives_and_optional_ops(tmp_path: Path) -> None:
    b = GraphBuilder(tmp_path / "consts.bin")
    direct = b.op("RELU", b.op("CONV_2D", b.tensor("in")))
    padded = b.op("RELU", b.op("PAD", b.op("DEPTHWISE_CONV_2D", b.tensor("in2")), b.const(0.0)))
    b.op("RELU", b.op("MEAN", b.op("CONV_2D", b.tensor("in3")), b.const(1.0)))  # MEAN: not skipped
    b.graph.outputs = [direct, padded]
    producer = alt(op("CONV_2D", label="producer"), op("DEPTHWISE_CONV_2D", label="producer"))
    pattern = op("RELU", optional(op("PAD", producer, const(), label="between")))
    matches = list(find(b.graph, pattern))
    assert [m.labels["producer"].op_type for m in matches] == ["CONV_2D", "DEPTHWISE_CONV_2D"]
    assert ["between" in m.labels for m in matches] == [False, True]


def test_alt_at_the_root_and_accept_callback(tmp_path: Path) -> None:
    b = GraphBuilder(tmp_path / "consts.bin")
    first = b.op("RESHAPE", b.op("RESHAPE", b.tensor("in")))
    second = b.op("SQUEEZE", b.op("RESHAPE", first))
    b.graph.outputs = [second]
    pattern = alt(op("RESHAPE", op("RESHAPE")), op("SQUEEZE", op("RESHAPE")))
    assert [m.root.outputs[0].id for m in find(b.graph, pattern)] == [first.id, second.id]
    # A rejected match claims nothing, so the next anchor can use its nodes.
    only_last = list(find(b.graph, pattern, accept=lambda m: m.root.op_type == "SQUEEZE"))
    assert [m.root.op_type for m in only_last] == ["SQUEEZE"]
    assert len(only_last[0].nodes) == 2


def test_constant_predicate_and_binding(tmp_path: Path) -> None:
    b = GraphBuilder(tmp_path / "consts.bin")
    x = b.op("CONV_2D", b.tensor("in"))
    slope = b.const(0.2)
    b.graph.outputs = [b.op("MAXIMUM", x, b.op("MUL", x, slope)),
                       b.op("MAXIMUM", x, b.op("MUL", x, b.const(1.5)))]
    x_var = var("x")
    leaky = op("MAXIMUM", x_var, op("MUL", x_var, const(where=lambda v: 0 < max(v) < 1,
                                                       bind="alpha")))
    [match] = list(find(b.graph, leaky))
    assert match.bindings["alpha"].id == slope.id


def test_quantized_constants_compare_by_real_value(tmp_path: Path) -> None:
    b = GraphBuilder(tmp_path / "consts.bin")
    x = b.op("CONV_2D", b.tensor("in"))
    three = b.tensor("three_int8")  # 3.0 stored as int8 40 with scale 0.1, zero point 10
    three.dtype, three.quantization = "int8", Quantization(scale=(0.1,), zero_point=(10,))
    three.is_constant, three.data_offset, three.data_size = True, len(b.data), 1
    b.data += struct.pack("<b", 40)
    b.path.write_bytes(bytes(b.data))
    b.graph.outputs = [b.op("ADD", x, three)]
    assert len(list(find(b.graph, op("ADD", var("x"), const(3.0))))) == 1
    assert list(find(b.graph, op("ADD", var("x"), const(40.0)))) == []


def test_constant_behind_a_dequantize_counts(tmp_path: Path) -> None:
    b = GraphBuilder(tmp_path / "consts.bin")
    half = b.tensor("half_fp16")
    half.dtype, half.is_constant, half.data_offset, half.data_size = "float16", True, 0, 2
    b.data += struct.pack("<e", 0.5)
    b.path.write_bytes(bytes(b.data))
    b.graph.outputs = [b.op("MUL", b.op("CONV_2D", b.tensor("in")), b.op("DEQUANTIZE", half))]
    assert len(list(find(b.graph, op("MUL", var("x"), const(0.5))))) == 1
    assert list(find(b.graph, op("MUL", var("x"), const(2.0)))) == []


def test_per_channel_constants_are_dequantized_per_channel(tmp_path: Path) -> None:
    b = GraphBuilder(tmp_path / "consts.bin")
    scales = b.tensor("scales")
    scales.dtype, scales.shape = "int8", (2, 2)
    scales.quantization = Quantization(scale=(0.5, 0.25), zero_point=(0, 0), quantized_dimension=0)
    scales.is_constant, scales.data_offset, scales.data_size = True, 0, 4
    b.data += struct.pack("<4b", 2, 2, 4, 4)  # every element is 1.0
    b.path.write_bytes(bytes(b.data))
    b.graph.outputs = [b.op("MUL", b.op("CONV_2D", b.tensor("in")), scales)]
    assert len(list(find(b.graph, op("MUL", var("x"), const(1.0))))) == 1


def test_optional_and_alternatives_stay_linear(tmp_path: Path) -> None:
    """Visits per anchor depend on the pattern only: 10x the graph, 10x the work."""
    visits = []
    for copies in (100, 1000):
        b = GraphBuilder(tmp_path / f"c{copies}.bin")
        calls = 0

        def counted(node: Node) -> bool:
            nonlocal calls
            calls += 1
            return True

        t = b.tensor("in")
        for i in range(copies):
            t = b.op("CONV_2D", t)
            t = b.op("RELU", b.op("PAD", t) if i % 2 else t)
        inner = alt(op("DEPTHWISE_CONV_2D", where=counted), op("CONV_2D", where=counted))
        pattern = op("RELU", optional(op("PAD", optional(op("RESHAPE", inner)), partial=True)))
        assert len(list(find(b.graph, pattern))) == copies
        visits.append(calls)
    assert visits[1] == 10 * visits[0]


def test_a_subgraph_output_is_not_an_inner_node(tmp_path: Path) -> None:
    """A WHILE body's result must stay computed: no fusing across it."""
    b = GraphBuilder(tmp_path / "consts.bin")
    conv = b.op("CONV_2D", b.tensor("in"), fused_activation_function="NONE")
    b.op("RELU", conv)
    pattern = op("RELU", op("CONV_2D", where=options_are(fused_activation_function="NONE")))
    assert len(list(find(b.graph, pattern))) == 1
    for tensor in (conv, *b.graph.node("0:op1").outputs):
        tensor.subgraph = 1
    b.graph.facts["tflite"] = {"subgraphs": [{"outputs": []}, {"outputs": [conv.id]}]}
    assert list(find(b.graph, pattern)) == []
