"""The one graph model that every loader produces and every rule reads.

A model file becomes a :class:`ModelGraph`: nodes are layers (Keras) or
operators (TFLite), edges are the tensors that flow between them.  Rules see
the same API whichever file format came in; format-specific details live in
``Node.options`` and ``ModelGraph.facts``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

if TYPE_CHECKING:
    import networkx as nx

FileKind = Literal["tflite", "keras"]
NodeKind = Literal["op", "layer"]

#: Shapes use ``None`` for a dimension unknown until run time.
Shape = tuple[int | None, ...]
#: Integer types that hold quantized values.
QUANTIZED_TYPES = frozenset({"int8", "uint8", "int16", "int4", "uint4"})


class Quantization(NamedTuple):
    """Affine quantization parameters of one tensor (TFLite)."""

    scale: tuple[float, ...] = ()
    zero_point: tuple[int, ...] = ()
    quantized_dimension: int = 0
    min: tuple[float, ...] = ()
    max: tuple[float, ...] = ()

    @property
    def per_channel(self) -> bool:
        return len(self.scale) > 1


@dataclass(slots=True)
class Tensor:
    """A value flowing between nodes.

    ``shape`` is the static shape (``None`` when the rank is unknown);
    dimensions that are dynamic at run time are ``None``.
    """

    id: str
    name: str
    dtype: str | None = None
    shape: Shape | None = None
    #: Index in the TFLite subgraph's tensor list; ``None`` for Keras tensors.
    index: int | None = None
    subgraph: int = 0
    #: Holds data fixed at conversion time (weights, constant operands).
    is_constant: bool = False
    #: Bytes of constant data behind the tensor (0 for runtime tensors).
    data_size: int = 0
    is_variable: bool = False
    quantization: Quantization | None = None
    #: Byte offset of the constant data in the model file, so rules can read
    #: a small constant (a shape, an axis) without the loader reading weights.
    data_offset: int | None = None

    @property
    def is_dynamic(self) -> bool:
        return self.shape is None or any(d is None for d in self.shape)


class Location(NamedTuple):
    """Where a node lives, in terms a user can find again.

    Rendered as ``subgraph 0 / op 12 (CONV_2D) "model/conv1/Relu"`` for TFLite
    or ``layer "conv1" (Conv2D) in model "backbone"`` for Keras.
    """

    op_type: str
    name: str = ""
    subgraph: int | None = None
    op_index: int | None = None
    model: str | None = None

    def __str__(self) -> str:
        if self.op_index is not None:
            text = f"subgraph {self.subgraph or 0} / op {self.op_index} ({self.op_type})"
            return f'{text} "{self.name}"' if self.name else text
        text = f'layer "{self.name}" ({self.op_type})'
        return f'{text} in model "{self.model}"' if self.model else text

    def to_dict(self) -> dict[str, Any]:
        return {
            "op_type": self.op_type,
            "name": self.name or None,
            "subgraph": self.subgraph,
            "op_index": self.op_index,
            "model": self.model,
            "text": str(self),
        }


@dataclass(slots=True)
class Node:
    """One layer call (Keras) or one operator (TFLite).

    ``op_type`` is the TFLite builtin name (``CONV_2D``, ``FlexErf`` for Flex
    ops, the custom code for custom ops, ``BUILTIN_<n>`` for unknown codes) or
    the Keras class name (``Conv2D``).  ``options`` holds the builtin options
    (TFLite) or the layer config (Keras).
    """

    id: str
    kind: NodeKind
    op_type: str
    location: Location
    inputs: list[Tensor] = field(default_factory=list)
    outputs: list[Tensor] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    #: TFLite: "builtin" | "custom" | "flex".  Keras: "builtin" | "lambda" | "custom".
    origin: str = "builtin"
    #: Keras: the layer's name (one layer may be called several times).
    layer_name: str | None = None
    #: Keras: class of the layer wrapped by TimeDistributed/Bidirectional.
    wrapped: str | None = None
    subgraph: int = 0
    #: TFLite: operator version from the opcode table.
    version: int | None = None

    @property
    def name(self) -> str:
        return self.location.name


class Signature(NamedTuple):
    """A named entry point: inputs and outputs by name (TFLite SignatureDef)."""

    key: str
    subgraph: int
    inputs: dict[str, Tensor]
    outputs: dict[str, Tensor]


class ModelGraph:
    """A model as a directed multigraph of nodes joined by tensors.

    The networkx graph :attr:`g` has node ids as nodes with the :class:`Node`
    under the attribute ``"node"``, and one edge ``(producer, consumer,
    key=tensor.id)`` per tensor use, carrying the :class:`Tensor` under
    ``"tensor"``.  Tensors that no node produces (model inputs, constants) are
    reachable from ``Node.inputs`` and :attr:`inputs`.

    The graph's own indexes (producer and consumers of each tensor) answer
    the questions rules ask most; the networkx view is built on first use,
    so a lint whose rules need no graph algorithm does not import networkx.
    """

    def __init__(self, path: str, kind: FileKind) -> None:
        self.path = path
        self.kind = kind
        self._g: nx.MultiDiGraph | None = None
        self._nodes: dict[str, Node] = {}
        self.inputs: list[Tensor] = []
        self.outputs: list[Tensor] = []
        self.signatures: list[Signature] = []
        #: Number of subgraphs (TFLite) or 1 (Keras).
        self.subgraph_count = 1
        #: Format-level facts: model description, metadata names, Keras
        #: version and dialect, dtype policy, etc.
        self.facts: dict[str, Any] = {}
        self._order: list[str] = []
        self._producer: dict[str, str] = {}
        self._consumers: dict[str, list[str]] = {}
        #: Constant data held in memory (graphs built by tests and tools, not read from a file).
        self._constant_data: dict[str, bytes] = {}
        self._traits: frozenset[str] | None = None
        self._by_type: dict[str, list[Node]] | None = None
        self._position: dict[str, int] = {}

    # -- building -------------------------------------------------------
    def add_node(self, node: Node) -> Node:
        """Add a node; edges follow from the tensors it produces and consumes.

        Nodes must be added in an order where producers come first (TFLite
        execution order, Keras topological order).
        """
        if node.id in self._nodes:
            raise ValueError(f"duplicate node id {node.id!r}")
        self._nodes[node.id] = node
        self._order.append(node.id)
        self._g = None
        self._traits = None
        self._by_type = None
        for tensor in node.inputs:
            self._consumers.setdefault(tensor.id, []).append(node.id)
        for tensor in node.outputs:
            self._producer[tensor.id] = node.id
        return node

    @property
    def g(self) -> nx.MultiDiGraph:
        """The networkx view: nodes by id, one edge per tensor use."""
        if self._g is None:
            import networkx as nx

            graph = nx.MultiDiGraph()
            for node_id in self._order:
                graph.add_node(node_id, node=self._nodes[node_id])
            for node_id in self._order:
                for tensor in self._nodes[node_id].inputs:
                    producer = self._producer.get(tensor.id)
                    if producer is not None:
                        graph.add_edge(producer, node_id, key=tensor.id, tensor=tensor)
            self._g = graph
        return self._g

    # -- reading --------------------------------------------------------
    def __len__(self) -> int:
        return len(self._order)

    def nodes(self) -> Iterator[Node]:
        """Nodes in execution (topological) order."""
        nodes = self._nodes
        for node_id in self._order:
            yield nodes[node_id]

    def node_ids(self) -> list[str]:
        """Node ids in execution (topological) order."""
        return list(self._order)

    def node(self, node_id: str) -> Node:
        return self._nodes[node_id]

    def producer(self, tensor: Tensor) -> Node | None:
        node_id = self._producer.get(tensor.id)
        return None if node_id is None else self.node(node_id)

    def consumers(self, tensor: Tensor) -> list[Node]:
        return [self.node(n) for n in self._consumers.get(tensor.id, ())]

    def successors(self, node: Node) -> list[Node]:
        """Distinct nodes consuming any output of ``node``, in graph order."""
        seen: dict[str, Node] = {}
        for tensor in node.outputs:
            for consumer in self.consumers(tensor):
                seen.setdefault(consumer.id, consumer)
        return list(seen.values())

    def predecessors(self, node: Node) -> list[Node]:
        seen: dict[str, Node] = {}
        for tensor in node.inputs:
            producer = self.producer(tensor)
            if producer is not None:
                seen.setdefault(producer.id, producer)
        return list(seen.values())

    def is_graph_output(self, tensor: Tensor) -> bool:
        return any(t.id == tensor.id for t in self.outputs)

    def read_constant(self, tensor: Tensor, max_bytes: int = 1 << 16) -> bytes | None:
        """The raw bytes of a small constant tensor, read from the file on demand.

        Returns ``None`` for runtime tensors and for constants larger than
        ``max_bytes`` (rules look at shapes and axes, never at weights).
        """
        held = self._constant_data.get(tensor.id)
        if held is not None:
            return held if len(held) <= max_bytes else None
        if tensor.data_offset is None or tensor.data_size > max_bytes:
            return None
        with open(self.path, "rb") as handle:
            handle.seek(tensor.data_offset)
            data = handle.read(tensor.data_size)
        return data if len(data) == tensor.data_size else None

    def hold_constant(self, tensor: Tensor, data: bytes) -> None:
        """Keep a constant's bytes in memory, for a graph that has no file behind it."""
        tensor.is_constant = True
        tensor.data_size = len(data)
        self._constant_data[tensor.id] = data

    def nodes_of_type(self, types: frozenset[str]) -> list[Node]:
        """The nodes of these op types, in execution order (pattern roots, without a scan
        of the whole graph per pattern)."""
        if self._by_type is None:
            self._by_type = {}
            for position, node in enumerate(self.nodes()):
                self._by_type.setdefault(node.op_type, []).append(node)
                self._position[node.id] = position
        found = [node for op_type in types for node in self._by_type.get(op_type, ())]
        if len(types) > 1:
            found.sort(key=lambda node: self._position[node.id])
        return found

    def traits(self) -> frozenset[str]:
        """What a rule's ``triggers`` are matched against: every op type, the non-builtin
        op origins (``origin:custom``, ``origin:flex``, ``origin:lambda``) and ``quantized``
        when any tensor has quantization parameters or a quantized integer type."""
        if self._traits is None:
            traits: set[str] = set()
            quantized = False
            for node in self.nodes():
                traits.add(node.op_type)
                if node.origin != "builtin":
                    traits.add(f"origin:{node.origin}")
                if not quantized:
                    quantized = any(t.quantization is not None or t.dtype in QUANTIZED_TYPES
                                    for t in (*node.inputs, *node.outputs))
            if quantized or any(t.dtype in QUANTIZED_TYPES for t in self.inputs):
                traits.add("quantized")
            self._traits = frozenset(traits)
        return self._traits

    def op_histogram(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for node in self.nodes():
            counts[node.op_type] = counts.get(node.op_type, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
