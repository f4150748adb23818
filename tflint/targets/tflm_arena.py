"""A static estimate of the tensor arena TFLite Micro needs for a model.

TFLM splits its arena in two.  The head holds the activations and the kernels'
scratch buffers, placed by the greedy memory planner: every buffer gets a
lifetime (the op that first writes it to the op that last reads it, counted
across control-flow subgraphs), buffers are taken largest first (equal sizes:
the later-added buffer first, as the runtime's stable sort of a reversed list
does) and each goes at the lowest offset where it overlaps no placed buffer
that is alive at the same time.  The tail holds what lives as long as the
model: one evaluation tensor per tensor, one node record per op, full tensors
for the model's inputs and outputs, kernel op data (per-channel multipliers
included) and variable tensors.

The per-op and per-tensor byte counts are calibrated against the tflite-micro
Python interpreter's recording allocator (see TFLM_NOTES.md); they are for a
64-bit host build, which is what the reference interpreter reports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from tflint.graph import ModelGraph, Node, Tensor

#: Every arena buffer is aligned to this many bytes (MicroArenaBufferAlignment()).
ALIGNMENT = 16
DTYPE_BYTES = {
    "float32": 4, "float16": 2, "float64": 8, "int4": 1, "int8": 1, "uint8": 1, "int16": 2,
    "uint16": 2, "int32": 4, "uint32": 4, "int64": 8, "uint64": 8, "bool": 1,
    "complex64": 8, "complex128": 16, "resource": 0, "variant": 0, "string": 0,
}
#: Tail bytes independent of the model: the allocators, the planner, the graph.
FIXED_TAIL = 512
#: Tail bytes per subgraph (subgraph allocation records).
SUBGRAPH_TAIL = 16
#: TfLiteEvalTensor, one per tensor of every subgraph.
EVAL_TENSOR = 24
#: NodeAndRegistration, one per op of every subgraph.
NODE_RECORD = 64
#: Full TfLiteTensor kept for each input and output of the main subgraph.
IO_TENSOR = 64
#: Quantization record of a quantized input or output (plus 4 bytes per extra channel).
IO_QUANTIZATION = 32
#: Persistent bytes per op by type: the kernel's op data (Init and Prepare) plus the
#: parsed builtin options; calibrated on one-op models, less the 40 bytes every model
#: allocates once (counted in FIXED_TAIL), and checked on whole models (TFLM_NOTES.md).
OP_DATA: dict[str, int] = {
    "ADD": 72, "AVERAGE_POOL_2D": 64, "CONCATENATION": 88, "CONV_2D": 112,
    "DEPTHWISE_CONV_2D": 112, "FULLY_CONNECTED": 104, "HARD_SWISH": 16, "LOGISTIC": 16,
    "MAX_POOL_2D": 64, "MEAN": 56, "SUM": 56, "REDUCE_MAX": 56, "REDUCE_MIN": 56, "MUL": 40,
    "PACK": 0, "PAD": 56, "RESHAPE": 40, "SHAPE": 0, "SOFTMAX": 80, "STRIDED_SLICE": 112,
    "SUB": 56,
}
#: Default for op types not calibrated.
DEFAULT_OP_DATA = 24
#: Kernels that keep a per-output-channel multiplier and shift (int32 each, each array
#: aligned to 16 bytes): convolutions always, fully connected for int8/int16 outputs.
PER_CHANNEL_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV"})
PER_CHANNEL_QUANTIZED_OPS = frozenset({"FULLY_CONNECTED"})


def align(size: int, alignment: int = ALIGNMENT) -> int:
    return (size + alignment - 1) // alignment * alignment


def tensor_bytes(tensor: Tensor) -> int:
    """Bytes TFLM gives the tensor: its stored shape, with dynamic dimensions as 1."""
    size = DTYPE_BYTES.get(tensor.dtype or "", 0)
    if tensor.shape is None:
        return size
    return size * math.prod(1 if d is None else d for d in tensor.shape)


@dataclass
class Buffer:
    """One non-persistent buffer of the plan."""

    name: str
    size: int
    first: int
    last: int
    offset: int = -1
    tensor: Tensor | None = None


@dataclass
class ArenaEstimate:
    """The arena TFLM is predicted to need, and what fills it at the peak."""

    head: int
    tail: int
    buffers: list[Buffer] = field(default_factory=list)
    #: Buffers alive when the plan reaches its highest offset, largest first.
    peak: list[Buffer] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.head + self.tail

    def peak_names(self, count: int = 3) -> list[str]:
        return [f"{b.name} ({b.size} B)" for b in self.peak[:count]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "arena_bytes": self.total,
            "arena_head_bytes": self.head,
            "arena_tail_bytes": self.tail,
            "arena_peak_tensors": [{"tensor": b.name, "bytes": b.size} for b in self.peak[:5]],
        }


def _control_flow_subgraphs(node: Node) -> list[int]:
    keys = {"IF": ("then_subgraph_index", "else_subgraph_index"),
            "WHILE": ("cond_subgraph_index", "body_subgraph_index"),
            "CALL_ONCE": ("init_subgraph_index",)}.get(node.op_type, ())
    return [int(node.options[k]) for k in keys if isinstance(node.options.get(k), int)]


class _Lifetimes:
    """Lifetimes the way TFLM's allocation-info builder marks them."""

    def __init__(self, graph: ModelGraph) -> None:
        self.graph = graph
        self.scope = 0
        self.first: dict[str, int] = {}
        self.last: dict[str, int] = {}
        self.tensors: dict[str, Tensor] = {}
        self.scratch: list[Buffer] = []
        self.by_subgraph: dict[int, list[Node]] = {}
        for node in graph.nodes():
            self.by_subgraph.setdefault(node.subgraph, []).append(node)
        facts = graph.facts.get("tflite", {}).get("subgraphs", [])
        self.io: dict[int, tuple[list[str], list[str]]] = {
            int(f["index"]): (list(f["inputs"]), list(f["outputs"])) for f in facts}
        # A graph built in memory has no subgraph table: its inputs and outputs are subgraph 0's.
        self.io.setdefault(0, ([t.id for t in graph.inputs], [t.id for t in graph.outputs]))
        for node in graph.nodes():
            for tensor in (*node.inputs, *node.outputs):
                self.tensors[tensor.id] = tensor
        for tensor in (*graph.inputs, *graph.outputs):
            self.tensors[tensor.id] = tensor

    def created(self, tensor_id: str, scope: int) -> None:
        self.first[tensor_id] = scope
        self.last[tensor_id] = scope

    def used(self, tensor_id: str, scope: int) -> None:
        self.last[tensor_id] = scope
        self.first.setdefault(tensor_id, -1)

    def mark(self, subgraph: int, visiting: frozenset[int] = frozenset()) -> None:
        inputs, outputs = self.io.get(subgraph, ([], []))
        for tensor_id in (*inputs, *outputs):
            self.created(tensor_id, self.scope)
        for node in self.by_subgraph.get(subgraph, []):
            self.scope += 1
            for tensor in node.outputs:
                self.created(tensor.id, self.scope)
            start = self.scope
            for child in _control_flow_subgraphs(node):
                if child not in visiting and child != subgraph:
                    self.scope += 1
                    self.mark(child, visiting | {subgraph})
            for tensor in node.inputs:
                self.used(tensor.id, self.scope)
            for tensor in node.outputs:
                self.used(tensor.id, self.scope)
            for size in scratch_buffers(node):
                self.scratch.append(Buffer(f"scratch of {node.op_type} "
                                           f"(subgraph {node.subgraph} op "
                                           f"{node.location.op_index})", align(size), start,
                                           self.scope))
        for tensor_id in outputs:
            self.used(tensor_id, self.scope)


_REDUCE_OPS = frozenset({"MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD", "REDUCE_ALL"})


def scratch_buffers(node: Node) -> list[int]:
    """Scratch bytes the op's kernel requests from the arena head in Prepare."""
    if node.op_type in _REDUCE_OPS and node.outputs:
        # Index and resolved-axis buffers; quantized MEAN/SUM add an int32 sum per output value.
        buffers = [16, 16]
        output = node.outputs[0]
        if node.op_type in ("MEAN", "SUM") and output.dtype in ("int8", "int16"):
            buffers.append(4 * max(1, tensor_bytes(output) // DTYPE_BYTES[output.dtype]))
        return buffers
    return []


def plan(buffers: list[Buffer]) -> int:
    """Place ``buffers`` first-fit by size as the greedy planner does; the arena head size."""
    # The runtime fills its sort array from the back, then bubble-sorts it by
    # size (stable): equal sizes keep the later-added buffer first.
    order = sorted(range(len(buffers)), key=lambda i: (-buffers[i].size, -i))
    placed: list[Buffer] = []  # kept sorted by offset
    for index in order:
        wanted = buffers[index]
        offset = 0
        for other in placed:
            if other.first > wanted.last or wanted.first > other.last:
                continue
            if other.offset - offset >= wanted.size:
                break
            offset = max(offset, other.offset + other.size)
        wanted.offset = offset
        position = next((i for i, b in enumerate(placed) if b.offset > offset), len(placed))
        placed.insert(position, wanted)
    return max((b.offset + b.size for b in buffers), default=0)


def estimate_arena(graph: ModelGraph) -> ArenaEstimate:
    """The head (planned activations and scratch) and tail (persistent data) of ``graph``."""
    lifetimes = _Lifetimes(graph)
    lifetimes.mark(0)
    buffers: list[Buffer] = []
    variable_bytes = 0
    for tensor_id, tensor in sorted(lifetimes.tensors.items(), key=lambda kv: _order(kv[1])):
        size = tensor_bytes(tensor)
        if tensor.is_constant or size == 0:
            continue
        if tensor.is_variable:
            variable_bytes += align(size)
            continue
        if tensor_id not in lifetimes.first:
            continue  # not reached from the main subgraph: never planned together
        buffers.append(Buffer(tensor.name or tensor_id, align(size), lifetimes.first[tensor_id],
                              lifetimes.last[tensor_id], tensor=tensor))
    buffers.extend(lifetimes.scratch)
    head = plan(buffers)
    peak = _peak(buffers, head)
    tail = variable_bytes + _tail(graph)
    return ArenaEstimate(head=head, tail=tail, buffers=buffers, peak=peak)


def _order(tensor: Tensor) -> tuple[int, int]:
    return (tensor.subgraph, tensor.index if tensor.index is not None else 0)


def _peak(buffers: list[Buffer], head: int) -> list[Buffer]:
    """The buffers alive at the moment the buffer reaching the arena's top is."""
    if not buffers:
        return []
    top = max(buffers, key=lambda b: (b.offset + b.size, b.size))
    alive = [b for b in buffers if b.first <= top.last and top.first <= b.last]
    # The moment with the most bytes alive within the top buffer's lifetime.
    moments = range(max(top.first, min(b.first for b in alive)), top.last + 1)
    best = max(moments, key=lambda t: sum(b.size for b in alive if b.first <= t <= b.last))
    return sorted((b for b in alive if b.first <= best <= b.last), key=lambda b: -b.size)


def _tail(graph: ModelGraph) -> int:
    facts = graph.facts.get("tflite", {}).get("subgraphs", [])
    tensor_count = sum(int(f.get("tensors", 0)) for f in facts) or len(
        {t.id for node in graph.nodes() for t in (*node.inputs, *node.outputs)})
    op_count = len(graph)
    io = [*graph.inputs, *graph.outputs]
    quantization = sum(IO_QUANTIZATION + 4 * (len(t.quantization.scale) - 1)
                       for t in io if t.quantization is not None and t.quantization.scale)
    op_data = sum(_op_data(node) for node in graph.nodes())
    return (FIXED_TAIL + SUBGRAPH_TAIL * max(len(facts), 1) + EVAL_TENSOR * tensor_count
            + NODE_RECORD * op_count + IO_TENSOR * len(io) + quantization + op_data)


def _op_data(node: Node) -> int:
    size = OP_DATA.get(node.op_type, DEFAULT_OP_DATA)
    output = node.outputs[0] if node.outputs else None
    if output is None or not output.shape:
        return size
    if node.op_type in PER_CHANNEL_OPS or (node.op_type in PER_CHANNEL_QUANTIZED_OPS
                                           and output.dtype in ("int8", "int16")):
        size += 2 * align(4 * (output.shape[-1] or 1))
    return size
