"""The declarative pattern matcher on small graphs built in memory."""

from __future__ import annotations

import struct
from pathlib import Path

from tflint.graph import Location, ModelGraph, Node, Tensor
from tflint.patterns import const, find, op, options_are, var


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
