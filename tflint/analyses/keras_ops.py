"""A Keras model's predicted TFLite ops as a graph, so that every target can place them.

The lowering table says which TFLite ops each layer becomes; it records where XNNPACK
runs them, measured.  The other targets decide op by op from an op's signature (shapes,
dtypes, constant operands, builtin options), so the predicted ops are built here into a
:class:`ModelGraph` with the operands and options a conversion for the target writes:

* the layer's config gives the options (strides, padding, dilation, pool and kernel
  sizes, the activation the converter fuses, axes) and the weights' shapes;
* the propagated Keras shapes give the tensors' shapes; an op inside a layer whose shape
  Keras does not tell gets its input's (most such ops are elementwise);
* the conversion the target needs gives the dtypes: ``int8`` (full-integer, integer
  inputs and outputs, per-channel weights), as NPUs and microcontrollers run models,
  or ``float32``;
* a dynamic batch is fixed to 1, as a conversion for a device does (``tflint --convert``
  too); other dynamic dimensions stay dynamic.

The table's ops are the float conversion's.  For an int8 conversion, the ops it leaves in
float or rewrites come from ``tflint/data/int8_lowering.json`` (measured with the real
converter by ``scripts/generate_int8_lowering.py``): such an op computes in float32 between
a ``DEQUANTIZE`` and a ``QUANTIZE``.  Small constant operands hold their values (strides,
axes, paddings, sizes), as targets read them.  What the converter folds across layers is
folded here too: a zero padding equal to padding ``same`` into the convolution after it, a
reshape to unit axes into the global average before it, a constant add, subtract or
multiply into the convolution next to it, reshape chains, and pooling over axes of size 1.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tflint.graph import Location, ModelGraph, Node, Quantization, Shape, Tensor

if TYPE_CHECKING:
    from tflint.analyses.keras_prediction import LayerPrediction, Lowering, Prediction

CONVERSIONS = ("float32", "int8")
#: Activation quantization of a predicted int8 tensor (the value does not matter to a target,
#: only that it is there), and the fixed output ranges of the ops that require them.
_ACTIVATION = Quantization(scale=(0.05,), zero_point=(0,))
_FIXED_OUTPUT = {
    "LOGISTIC": Quantization(scale=(1 / 256,), zero_point=(-128,)),
    "SOFTMAX": Quantization(scale=(1 / 256,), zero_point=(-128,)),
    "TANH": Quantization(scale=(1 / 128,), zero_point=(0,)),
}
_BINARY = frozenset({"ADD", "SUB", "MUL", "DIV", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE",
                     "POW", "FLOOR_DIV", "FLOOR_MOD", "LESS", "GREATER", "EQUAL", "NOT_EQUAL",
                     "LESS_EQUAL", "GREATER_EQUAL", "BATCH_MATMUL", "PRELU"})
_REDUCTIONS = frozenset({"MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD", "REDUCE_ANY"})
_POOLS = frozenset({"AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D"})
_COMPARISONS = frozenset({"LESS", "GREATER", "EQUAL", "NOT_EQUAL", "LESS_EQUAL", "GREATER_EQUAL",
                          "LOGICAL_AND", "LOGICAL_OR", "LOGICAL_NOT", "REDUCE_ANY"})
#: Ops whose output is an index or a shape, whatever their input.
_INTEGER_OUTPUT = frozenset({"SHAPE", "ARG_MAX", "ARG_MIN", "RANGE", "WHERE"})
#: Weighted ops whose output channels are the layer's, where Keras tells no shape.
_CHANNEL_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "FULLY_CONNECTED",
                          "CONV_3D"})
_FUSABLE = {"relu": "RELU", "relu6": "RELU6"}
_RECURRENT = frozenset({"LSTM", "GRU", "SimpleRNN"})
#: Layers with no weights of their own: a binary op inside reads the layer's input again.
_ACTIVATION_LAYERS = frozenset({"Activation", "ReLU", "ELU", "LeakyReLU", "Softmax",
                                "ThresholdedReLU"})
_INTEGER_INPUTS = {"int32": "int32", "int64": "int32", "int16": "int32", "uint8": "int32",
                   "bool": "bool"}


@dataclass
class PredictedGraph:
    """The predicted ops as a TFLite-like graph, and which Keras layer each came from."""

    graph: ModelGraph
    conversion: str
    #: Keras node id -> the ids of its ops, in the layer's lowering order.
    ops_of_layer: dict[str, list[str]] = field(default_factory=dict)
    #: Op node id -> the Keras node it came from.
    layer_of_op: dict[str, Node] = field(default_factory=dict)


def predicted_graph(keras: ModelGraph, prediction: Prediction, conversion: str) -> PredictedGraph:
    """Build the ops ``prediction`` expects of ``keras`` as converted with ``conversion``."""
    if conversion not in CONVERSIONS:
        raise ValueError(f"unknown conversion {conversion!r}")
    return _Builder(keras, prediction, conversion).build()


class _Builder:
    def __init__(self, keras: ModelGraph, prediction: Prediction, conversion: str) -> None:
        self.keras = keras
        self.prediction = prediction
        self.integer = conversion == "int8"
        self.result = PredictedGraph(ModelGraph(keras.path, "tflite"), conversion)
        self._tensors = 0
        #: Keras tensor id -> the predicted tensor that carries it.
        self.carrier: dict[str, Tensor] = {}
        #: Keras node id of a Conv/Dense -> the activation a following layer fuses into it.
        self.fused: dict[str, str] = {}
        #: Layers the converter folds into a neighbour (see ``find_folds``).
        self.folded: set[str] = set()
        #: Convolutions that take over the zero padding before them.
        self.same_padding: set[str] = set()
        #: Global averages whose reshape to unit axes is folded into them -> that shape.
        self.keep_dims: dict[str, Shape | None] = {}

    # -- tensors -------------------------------------------------------------------------
    def tensor(self, name: str, shape: Shape | None, dtype: str | None = None, *,
               constant: bool = False, quantization: Quantization | None = None) -> Tensor:
        if dtype is None:
            dtype = "int8" if self.integer else "float32"
            if self.integer and quantization is None:
                quantization = _ACTIVATION
        tensor = Tensor(id=f"0:p{self._tensors}", name=name, dtype=dtype, shape=shape,
                        index=self._tensors, is_constant=constant, quantization=quantization)
        if constant:
            tensor.data_size = max(1, _elements(shape)) * (4 if dtype in ("int32", "float32")
                                                           else 1)
        self._tensors += 1
        return tensor

    def output_tensor(self, name: str, op: str, data: list[Tensor], shape: Shape | None) -> Tensor:
        """An op's output: the model's compute type, or the integer or boolean type of an
        op computing shapes, indices or conditions."""
        first = data[0] if data else None
        if op in _INTEGER_OUTPUT:
            return self.tensor(name, shape, "int32")
        if op in _COMPARISONS:
            return self.tensor(name, shape, "bool")
        if op in ("SELECT", "SELECT_V2") and len(data) > 1:
            first = data[1]
        if first is not None and first.dtype in ("int32", "int64", "bool") and op not in (
                "GATHER", "CAST", "FULLY_CONNECTED", "EMBEDDING_LOOKUP"):
            return self.tensor(name, shape, first.dtype)  # shape arithmetic stays integer
        if self.integer and (op == "DEQUANTIZE" or (
                op != "QUANTIZE" and first is not None and first.dtype == "float32")):
            return self.tensor(name, shape, "float32")  # kept in float by the int8 conversion
        quantization = _FIXED_OUTPUT.get(op) if self.integer else None
        return self.tensor(name, shape, quantization=quantization)

    def weights(self, name: str, shape: Shape, channel_axis: int, integer: bool) -> Tensor:
        if not integer:
            return self.tensor(name, shape, "float32", constant=True)
        channels = shape[channel_axis] or 1
        return self.tensor(name, shape, "int8", constant=True, quantization=Quantization(
            scale=(0.01,) * channels, zero_point=(0,) * channels,
            quantized_dimension=channel_axis))

    def bias(self, name: str, size: int | None, integer: bool) -> Tensor:
        if not integer:
            return self.tensor(name, (size or 1,), "float32", constant=True)
        count = size or 1
        return self.tensor(name, (count,), "int32", constant=True, quantization=Quantization(
            scale=(0.0005,) * count, zero_point=(0,) * count))

    def ints(self, name: str, values: Sequence[int], shape: Shape | None = None) -> Tensor:
        """A constant int32 operand holding ``values`` (targets read strides, axes,
        paddings and sizes)."""
        tensor = self.tensor(name, shape if shape is not None else (len(values),), "int32",
                             constant=True)
        self.result.graph.hold_constant(tensor, struct.pack(f"<{len(values)}i", *values))
        return tensor

    # -- the graph -----------------------------------------------------------------------
    def build(self) -> PredictedGraph:
        graph = self.result.graph
        for tensor in self.keras.inputs:
            shape = _device_shape(self.prediction.shapes.get(tensor.id, tensor.shape))
            # Integer inputs (token ids) stay integer whatever the conversion.
            dtype = _INTEGER_INPUTS.get(tensor.dtype or "")
            carried = self.tensor(tensor.name, shape, dtype)
            graph.inputs.append(carried)
            self.carrier[tensor.id] = carried
        for layer in self.prediction.layers:
            if layer.status == "gone" and layer.after is not None:
                activation = _fused_activation(layer.node)
                if activation:
                    self.fused[layer.after.id] = activation
        self.find_folds()
        for layer in self.prediction.layers:
            self.add_layer(layer)
        graph.outputs = [self.carrier[t.id] for t in self.keras.outputs if t.id in self.carrier]
        return _fold_after_build(self.result)

    def find_folds(self) -> None:
        """Layers the converter folds into the convolution next to them: a zero padding
        equal to what padding ``same`` adds (the convolution then pads itself), and a
        reshape that only adds unit axes to a global average (``keep_dims``)."""
        by_node = {p.node.id: p for p in self.prediction.layers}
        for p in self.prediction.layers:
            ops = device_lowering(p).ops
            if ops == ["PAD"] and p.node.op_type == "ZeroPadding2D" and p.node.outputs:
                users = self.keras.consumers(p.node.outputs[0])
                user = by_node.get(users[0].id) if len(users) == 1 else None
                if user is not None and _pads_as_same(p, user):
                    self.folded.add(p.node.id)
                    self.same_padding.add(user.node.id)
            elif ops == ["RESHAPE"] and p.node.inputs:
                producer = self.keras.producer(p.node.inputs[0])
                source = by_node.get(producer.id) if producer is not None else None
                if (source is not None and device_lowering(source).ops[-1:] == ["MEAN"]
                        and p.input_shapes and p.output_shapes
                        and _only_unit_axes_added(p.input_shapes[0], p.output_shapes[0])):
                    self.folded.add(p.node.id)
                    self.keep_dims[source.node.id] = p.output_shapes[0]

    def folds_into_weights(self, layer: LayerPrediction, lowering: Lowering,
                           sources: list[Tensor]) -> Node | None:
        """The convolution or fully connected op (with no activation) right before an add,
        subtract or multiply by a constant, which the converter folds into its weights or
        bias when the op's output has no other reader; None when it does not fold."""
        node = layer.node
        if (lowering.ops not in (["ADD"], ["SUB"], ["MUL"]) or len(node.inputs) != 1
                or len(sources) != 1):
            return None
        producer = self.result.graph.producer(sources[0])
        if producer is None or producer.op_type not in _CHANNEL_OPS or producer.options.get(
                "fused_activation_function", "NONE") != "NONE":
            return None
        return producer if len(self.keras.consumers(node.inputs[0])) == 1 else None

    def reduces_nothing(self, layer: LayerPrediction, lowering: Lowering,
                        sources: list[Tensor]) -> bool:
        """A global pooling over axes of size 1 that keeps its input's shape: the
        converter removes it."""
        if len(lowering.ops) != 1 or lowering.ops[0] not in _REDUCTIONS or len(sources) != 1:
            return False
        shape = sources[0].shape
        output = (self.keep_dims[layer.node.id] if layer.node.id in self.keep_dims
                  else layer.output_shapes[0] if layer.output_shapes else None)
        if shape is None or _device_shape(output) != shape:
            return False
        return all(shape[axis] == 1 for axis in _reduced_axes(layer.node.options, shape)
                   if axis < len(shape))

    def add_layer(self, layer: LayerPrediction) -> None:
        node = layer.node
        sources = [self.carrier[t.id] for t in node.inputs if t.id in self.carrier]
        lowering = device_lowering(layer)
        into = self.folds_into_weights(layer, lowering, sources)
        if into is not None and node.id in self.fused:
            # The activation fused into the folded op goes to the op it folds into.
            into.options["fused_activation_function"] = self.fused[node.id]
        if (node.id in self.folded or into is not None
                or self.reduces_nothing(layer, lowering, sources)):
            lowering = replace(lowering, ops=[], delegated=[], deps=[])
        if self.integer:
            lowering = int8_lowering(lowering)
        if not lowering.ops:  # folded, fused, training-only, or opaque: the tensor passes
            for tensor in node.outputs:
                if sources:
                    self.carrier[tensor.id] = sources[0]
            return
        exits = set(lowering.exits())
        output_shapes = [_device_shape(s) for s in layer.output_shapes] or [None]
        if node.id in self.keep_dims:
            output_shapes = [_device_shape(self.keep_dims[node.id])]
        produced: list[Tensor] = []
        ids: list[str] = []
        for i, (op, deps) in enumerate(zip(lowering.ops, lowering.deps, strict=True)):
            data = [produced[d] for d in deps] if deps else list(sources)
            if op == "BATCH_MATMUL" and len(data) == 1 and len(sources) > 1:
                data.append(sources[1])  # the attention weights times the values
            elif (op in _BINARY and len(data) == 1 and deps and sources
                  and node.op_type in _ACTIVATION_LAYERS):
                data.append(sources[0])  # x * sigmoid(x): an activation has no constants
            elif (op in _BINARY and len(data) == 1 and deps and deps[0] != 0 and produced
                  and lowering.ops[0] in _CHANNEL_OPS):
                data.append(produced[0])  # a convolution's activation: y * sigmoid(y)
            # Keras records no output shape for a custom layer: its ops are predicted from its
            # code, mostly elementwise, so an exit keeps its input's shape as inner ops do.
            shape = (output_shapes[0] if i in exits and output_shapes[0] is not None
                     else _inner_shape(op, node.op_type, node.options, data, output_shapes[0]))
            output = self.output_tensor(f"{layer.layer}/{op.lower()}_{i}", op, data, shape)
            inputs = self.operands(op, node, data, output)
            index = len(self.result.graph)
            op_node = Node(
                id=f"0:{index}", kind="op", op_type=op,
                location=Location(op, layer.layer, subgraph=0, op_index=index),
                inputs=inputs, outputs=[output], options=self.options(op, node, data, output),
                origin="flex" if op.startswith("Flex") else "builtin",
                layer_name=layer.layer)
            self.result.graph.add_node(op_node)
            produced.append(output)
            ids.append(op_node.id)
            self.result.layer_of_op[op_node.id] = node
        self.result.ops_of_layer[node.id] = ids
        last = produced[max(exits)] if exits else produced[-1]
        for tensor in node.outputs:
            self.carrier[tensor.id] = last

    # -- operands and options --------------------------------------------------------------
    def operands(self, op: str, layer: Node, data: list[Tensor], output: Tensor) -> list[Tensor]:
        config = layer.options
        source = data[0] if data else self.tensor("missing", None)
        in_shape = source.shape
        channels = in_shape[-1] if in_shape else None
        out_channels = output.shape[-1] if output.shape else None
        kernel = _pair(config.get("kernel_size"), 1)
        name = layer.layer_name or layer.name
        # An op the int8 conversion keeps in float reads float weights and constants.
        integer = self.integer and source.dtype != "float32"
        if op == "CONV_2D":
            groups = int(config.get("groups", 1) or 1)  # a grouped convolution's filters
            depth = channels // groups if channels and channels % groups == 0 else channels
            return [source, self.weights(f"{name}/kernel", (out_channels, *kernel, depth), 0,
                                         integer),
                    self.bias(f"{name}/bias", out_channels, integer)]
        if op == "DEPTHWISE_CONV_2D":
            return [source, self.weights(f"{name}/kernel", (1, *kernel, out_channels), 3, integer),
                    self.bias(f"{name}/bias", out_channels, integer)]
        if op == "TRANSPOSE_CONV":
            return [self.ints(f"{name}/output_shape", [d or 1 for d in output.shape or (1,) * 4]),
                    self.weights(f"{name}/kernel", (out_channels, *kernel, channels), 0, integer),
                    source, self.bias(f"{name}/bias", out_channels, integer)]
        if op == "CONV_3D":
            size = _triple(config.get("kernel_size"))
            return [source, self.weights(f"{name}/kernel", (*size, channels, out_channels), 4,
                                         integer),
                    self.bias(f"{name}/bias", out_channels, integer)]
        if op == "FULLY_CONNECTED":
            return [source, self.weights(f"{name}/kernel", (out_channels, channels), 0, integer),
                    self.bias(f"{name}/bias", out_channels, integer)]
        if op in _REDUCTIONS:
            return [source, self.ints(f"{name}/axis", _reduced_axes(config, in_shape))]
        if op == "RESHAPE":
            new_shape = [d if d is not None else -1 for d in output.shape or ()]
            return [source, self.ints(f"{name}/shape", new_shape)]
        if op in ("PAD", "PADV2", "MIRROR_PAD"):
            pairs = _paddings(config, in_shape, output.shape)
            return [source, self.ints(f"{name}/paddings", [v for p in pairs for v in p],
                                      (len(pairs), 2))]
        if op.startswith("RESIZE_"):
            spatial = list(output.shape[1:3]) if output.shape and len(output.shape) == 4 else []
            return [source, self.ints(f"{name}/size", [d or 1 for d in spatial] or [1, 1])]
        if op == "TRANSPOSE":
            return [source, self.ints(f"{name}/perm", _permutation(config, in_shape))]
        if op == "TILE":
            rank = len(in_shape) if in_shape else 4
            return [source, self.ints(f"{name}/multiples", [1] * rank)]
        if op == "EXPAND_DIMS":
            return [source, self.ints(f"{name}/axis", [1], ())]
        if op == "STRIDED_SLICE":
            begin, end = _slice_bounds(config, in_shape)
            return [source, self.ints(f"{name}/begin", begin), self.ints(f"{name}/end", end),
                    self.ints(f"{name}/strides", [1] * len(begin))]
        if op == "SLICE":
            begin, end = _slice_bounds(config, in_shape)
            extent = [b - a if b >= 0 else -1 for a, b in zip(begin, end, strict=True)]
            return [source, self.ints(f"{name}/begin", begin), self.ints(f"{name}/size", extent)]
        if op == "GATHER":
            if len(data) > 1:
                return [*data[:2]]
            if layer.op_type == "Embedding":  # the table, read at the token ids
                rows = int(config.get("input_dim", 1) or 1)
                # Quantized per tensor, with the output's parameters (measured).
                table = self.tensor(f"{name}/embeddings", (rows, out_channels or 1),
                                    "int8" if self.integer else "float32", constant=True,
                                    quantization=_ACTIVATION if self.integer else None)
                return [table, source]
            return [source, self.ints(f"{name}/indices", [0])]
        if op in _BINARY and len(data) < 2:
            shape = _binary_constant_shape(op, layer.op_type, config, in_shape or (1,),
                                           output.shape)
            # The converter quantizes such a constant per tensor, not per channel.
            constant = self.tensor(f"{name}/{op.lower()}", shape,
                                   "int8" if integer else "float32", constant=True,
                                   quantization=_ACTIVATION if integer else None)
            return [source, constant]
        if op == "SPLIT":
            rank = len(in_shape) if in_shape else 1
            return [self.ints(f"{name}/axis", [rank - 1], ()), source]
        return data

    def options(self, op: str, layer: Node, data: list[Tensor], output: Tensor) -> dict[str, Any]:
        config = layer.options
        padding = ("SAME" if layer.id in self.same_padding
                   else str(config.get("padding", "valid")).upper())
        fused = self.fused.get(layer.id) or _FUSABLE.get(_activation(config), "NONE")
        if op in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            stride_h, stride_w = _pair(config.get("strides"), 1)
            dilation_h, dilation_w = _pair(config.get("dilation_rate"), 1)
            options: dict[str, Any] = {
                "padding": padding, "stride_w": stride_w, "stride_h": stride_h,
                "fused_activation_function": fused, "dilation_w_factor": dilation_w,
                "dilation_h_factor": dilation_h}
            if op == "DEPTHWISE_CONV_2D":
                options["depth_multiplier"] = int(config.get("depth_multiplier", 1) or 1)
            return options
        if op == "TRANSPOSE_CONV":
            stride_h, stride_w = _pair(config.get("strides"), 1)
            return {"padding": padding, "stride_w": stride_w, "stride_h": stride_h,
                    "fused_activation_function": fused}
        if op == "CONV_3D":
            stride_d, stride_h, stride_w = _triple(config.get("strides"))
            dilation_d, dilation_h, dilation_w = _triple(config.get("dilation_rate"))
            return {"padding": padding, "stride_d": stride_d, "stride_w": stride_w,
                    "stride_h": stride_h, "dilation_d_factor": dilation_d,
                    "dilation_w_factor": dilation_w, "dilation_h_factor": dilation_h,
                    "fused_activation_function": fused}
        if op in _POOLS:
            pool_h, pool_w = _pair(config.get("pool_size"), 2)
            strides = config.get("strides")
            stride_h, stride_w = _pair(strides, 1) if strides else (pool_h, pool_w)
            return {"padding": padding, "stride_w": stride_w, "stride_h": stride_h,
                    "filter_width": pool_w, "filter_height": pool_h,
                    "fused_activation_function": "NONE"}
        if op == "FULLY_CONNECTED":
            rank = len(data[0].shape) if data and data[0].shape else 2
            return {"fused_activation_function": fused, "weights_format": "DEFAULT",
                    "keep_num_dims": rank > 2, "asymmetric_quantize_inputs": False}
        if op in _REDUCTIONS:
            kept = bool(output.shape and data and data[0].shape
                        and len(output.shape) == len(data[0].shape))
            return {"keep_dims": bool(config.get("keepdims", False))
                    or layer.id in self.keep_dims or kept}
        if op in ("ADD", "SUB", "MUL", "DIV"):
            return {"fused_activation_function": "NONE"}
        if op == "SOFTMAX":
            return {"beta": 1.0}
        if op == "CONCATENATION":
            return {"axis": _axis(config.get("axis", -1), output.shape),
                    "fused_activation_function": "NONE"}
        if op == "RESHAPE":
            return {"new_shape": list(d if d is not None else -1 for d in output.shape or ())}
        if op.startswith("RESIZE_"):
            return {"align_corners": False, "half_pixel_centers": True}
        if op == "LEAKY_RELU":
            return {"alpha": float(config.get("negative_slope", config.get("alpha", 0.3)))}
        if op == "STRIDED_SLICE":
            # A recurrent layer returning its last step only takes it with a shrinking slice.
            last_step = layer.op_type in _RECURRENT and not config.get("return_sequences")
            return {"begin_mask": 0, "end_mask": 0, "ellipsis_mask": 0, "new_axis_mask": 0,
                    "shrink_axis_mask": 2 if last_step else 0, "offset": False}
        if op == "GATHER":
            return {"axis": 0, "batch_dims": 0}
        if op == "PACK":
            return {"values_count": len(data), "axis": 0}
        if op == "SPLIT":
            return {"num_splits": 2}
        if op == "BATCH_MATMUL":
            return {"adj_x": False, "adj_y": False, "asymmetric_quantize_inputs": False}
        return {}


@cache
def int8_conversion_table() -> dict[str, dict[str, Any]]:
    """Per float op type, what a full-integer int8 conversion makes of it (measured by
    ``scripts/generate_int8_lowering.py``)."""
    from tflint.schema import load_data_file

    data: dict[str, Any] = load_data_file(
        Path(__file__).resolve().parent.parent / "data" / "int8_lowering.json")
    return dict(data["ops"])


def int8_lowering(lowering: Lowering) -> Lowering:
    """The layer's ops in a full-integer int8 conversion: ops it rewrites replaced by their
    int8 ops, and ops it keeps in float between a ``DEQUANTIZE`` of each int8 input and a
    ``QUANTIZE`` of each output an int8 op or the next layer reads."""
    from tflint.analyses.keras_prediction import Lowering

    table = int8_conversion_table()
    if not any(op in table and table[op]["int8"] != "int8" for op in lowering.ops):
        return lowering
    # Rewrites first: each rewritten op becomes a chain of ops.
    ops: list[str] = []
    deps: list[list[int]] = []
    delegated: list[bool] = []
    last_of: dict[int, int] = {}
    for i, (op, on, reads) in enumerate(zip(lowering.ops, lowering.delegated, lowering.deps,
                                            strict=True)):
        entry = table.get(op, {})
        chain = list(entry.get("int8_ops", [op])) if entry.get("int8") == "rewritten" else [op]
        for k, step in enumerate(chain):
            deps.append([last_of[d] for d in reads] if k == 0 else [len(ops) - 1])
            ops.append(step)
            delegated.append(on)
        last_of[i] = len(ops) - 1
    # Then the float islands, with a DEQUANTIZE and a QUANTIZE at their borders.
    floating = {i for i, op in enumerate(ops) if table.get(op, {}).get("int8") == "float"}
    floating |= {i for i, op in enumerate(ops) if op == "DEQUANTIZE"}
    if not floating - {i for i, op in enumerate(ops) if op == "DEQUANTIZE"}:
        return Lowering(ops, delegated, deps, list(lowering.flex_ops),
                        lowering.converts_builtin, lowering.subgraphs)
    exits = set(Lowering(ops, delegated, deps).exits())
    out = Lowering([], [], [], list(lowering.flex_ops), lowering.converts_builtin,
                   lowering.subgraphs)
    as_int8: dict[int, int] = {}  # op -> the new op carrying its int8 value
    as_float: dict[int, int] = {}
    dequantized: dict[int | None, int] = {}  # None: the layer's input
    quantized: dict[int, int] = {}

    def add(op: str, reads: list[int], on: bool = True) -> int:
        out.ops.append(op)
        out.deps.append(reads)
        out.delegated.append(on)
        return len(out.ops) - 1

    def float_value(source: int | None) -> list[int]:
        if source is not None and source in as_float:
            return [as_float[source]]
        if source not in dequantized:
            dequantized[source] = add("DEQUANTIZE", [] if source is None else [as_int8[source]])
        return [dequantized[source]]

    def int8_value(source: int) -> list[int]:
        if source in as_int8:
            return [as_int8[source]]
        if source not in quantized:
            quantized[source] = add("QUANTIZE", [as_float[source]])
        return [quantized[source]]

    for i, (op, on, reads) in enumerate(zip(ops, delegated, deps, strict=True)):
        sources: list[int | None] = list(reads) or [None]
        if i in floating and op != "DEQUANTIZE":
            new = add(op, [d for s in sources for d in float_value(s)], on)
            as_float[i] = new
            if i in exits:
                as_int8[i] = add("QUANTIZE", [new])
                quantized[i] = as_int8[i]
        elif op == "DEQUANTIZE":
            as_float[i] = add(op, [as_int8[s] for s in reads], on)
        else:
            read = [d for s in reads for d in int8_value(s)]
            as_int8[i] = add(op, read, on)
    return out


def device_lowering(layer: LayerPrediction) -> Lowering:
    """The layer's ops in a conversion for a device, whose batch is fixed: the static-batch
    lowering when a dynamic batch changes it."""
    return layer.static_lowering if layer.static_lowering is not None else layer.lowering


def _inner_shape(op: str, layer_class: str, config: dict[str, Any], data: list[Tensor],
                 layer_output: Shape | None) -> Shape | None:
    """The shape of an op inside a layer, which Keras does not record: its input's, with
    the changes of the ops that change it in the lowerings the table has."""
    shape = data[0].shape if data else None
    if shape is None:
        return layer_output
    if op in ("EXPAND_DIMS", "RESHAPE") and layer_class.endswith("1D") and len(shape) == 3:
        return (shape[0], 1, *shape[1:])  # 1D layers run as 2D ops with a height of 1
    if op in _CHANNEL_OPS and layer_output:
        channels = layer_output[-1]
        if op == "DEPTHWISE_CONV_2D":  # a separable convolution's first half
            multiplier = int(config.get("depth_multiplier", 1) or 1)
            channels = shape[-1] * multiplier if shape[-1] else None
        if op == "FULLY_CONNECTED" or len(shape) != 4:
            return (*shape[:-1], channels)
        # The layer's strides shrink the feature map in its (depthwise) convolution.
        spatial = (layer_output[1:3] if len(layer_output) == 4
                   else (1, layer_output[1]) if len(layer_output) == 3 else shape[1:3])
        return (shape[0], *spatial, channels)
    if op in _REDUCTIONS:  # kept dims inside a layer (the moments of a normalization)
        axes = set(_reduced_axes(config, shape))
        return tuple(1 if axis in axes else d for axis, d in enumerate(shape))
    if op in _BINARY and op not in _COMPARISONS:
        shapes = [t.shape for t in data]
        if len(data) == 1:
            shapes.append(_binary_constant_shape(op, layer_class, config, shape, layer_output))
        return _broadcast(shapes)
    return shape


def _binary_constant_shape(op: str, layer_class: str, config: dict[str, Any], shape: Shape,
                           layer_output: Shape | None) -> Shape:
    """The constant operand of a binary op inside a layer: a scalar for a scalar option
    (``Rescaling``, a normalization's epsilon added to the variance), else one value per
    channel of the layer, aligned to the data's rank when the data has kept a reduced last
    axis (a normalization's scale)."""
    if isinstance(config.get("scale"), int | float) and layer_class == "Rescaling":
        return ()
    if op == "ADD" and "epsilon" in config and shape and shape[-1] == 1:
        return ()
    channels = layer_output[-1] if layer_output else shape[-1]
    if shape and shape[-1] == 1 and channels not in (None, 1):
        return (*(1,) * (len(shape) - 1), channels)
    return (channels if channels is not None else 1,)


def _broadcast(shapes: list[Shape | None]) -> Shape | None:
    known = [s for s in shapes if s is not None]
    if not known:
        return None
    rank = max(len(s) for s in known)
    out: list[int | None] = []
    for axis in range(rank):
        dims = [s[axis - rank + len(s)] for s in known if axis - rank + len(s) >= 0]
        sized = [d for d in dims if d != 1]
        out.append(sized[0] if sized else 1)
    return tuple(out)


def _device_shape(shape: Shape | None) -> Shape | None:
    """The shape a conversion for a device gives a tensor: the batch fixed to 1."""
    if shape is None or not shape:
        return shape
    return (1 if shape[0] is None else shape[0], *shape[1:])


def _elements(shape: Shape | None) -> int:
    count = 1
    for dim in shape or ():
        count *= dim or 1
    return count


def _pair(value: Any, default: int) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) >= 2:
        return int(value[0] or default), int(value[1] or default)
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 1:
        return 1, int(value[0] or default)  # 1D layers run as 2D with a height of 1
    return default, default


def _triple(value: Any) -> tuple[int, int, int]:
    if isinstance(value, int):
        return value, value, value
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 3:
        return int(value[0] or 1), int(value[1] or 1), int(value[2] or 1)
    return 1, 1, 1


def _fold_after_build(built: PredictedGraph) -> PredictedGraph:
    """The graph with what the converter folds across layers folded: a reshape of a
    reshape merged into one (a 1D layer's squeeze and the next 1D layer's expand), a
    reshape that then keeps its input's shape removed, and a multiply by a constant whose
    only reader is a convolution folded into the convolution's weights."""
    graph = built.graph
    removed: set[str] = set()
    alias: dict[str, Tensor] = {}  # tensor id -> the tensor that now carries its value
    rewired: dict[str, Tensor] = {}  # node id -> its new data input

    def resolve(tensor: Tensor) -> Tensor:
        while tensor.id in alias:
            tensor = alias[tensor.id]
        return tensor

    for node in graph.nodes():
        if not node.inputs or not node.outputs:
            continue
        source, result = node.inputs[0], node.outputs[0]
        if node.op_type == "MUL" and len(node.inputs) == 2 and node.inputs[1].is_constant:
            users = graph.consumers(result)
            if (len(users) == 1 and users[0].op_type in ("CONV_2D", "DEPTHWISE_CONV_2D")
                    and users[0].inputs[0] is result and not graph.is_graph_output(result)
                    and not source.is_constant and source.shape == result.shape):
                removed.add(node.id)
                alias[result.id] = resolve(rewired.get(node.id, source))
            continue
        if node.op_type != "RESHAPE":
            continue
        producer = graph.producer(source)
        if (producer is None or producer.op_type != "RESHAPE" or producer.id in removed
                or len(graph.consumers(source)) != 1 or graph.is_graph_output(source)):
            continue
        removed.add(producer.id)
        origin = resolve(rewired.get(producer.id, producer.inputs[0]))
        rewired[node.id] = origin
        if origin.shape == result.shape and not graph.is_graph_output(result):
            removed.add(node.id)
            alias[result.id] = origin
    if not removed:
        return built
    folded = ModelGraph(graph.path, graph.kind)
    folded.inputs = list(graph.inputs)
    for node in graph.nodes():
        if node.id in removed:
            continue
        inputs = [resolve(t) for t in node.inputs]
        if node.id in rewired:
            inputs[0] = resolve(rewired[node.id])
        node.inputs = inputs
        folded.add_node(node)
        for tensor in inputs:
            data = graph.read_constant(tensor)
            if tensor.is_constant and data is not None:
                folded.hold_constant(tensor, data)
    folded.outputs = [resolve(t) for t in graph.outputs]
    built.graph = folded
    built.ops_of_layer = {layer: [i for i in ids if i not in removed]
                          for layer, ids in built.ops_of_layer.items()}
    for node_id in removed:
        built.layer_of_op.pop(node_id, None)
    return built


def _pads_as_same(pad: LayerPrediction, conv: LayerPrediction) -> bool:
    """Whether ``pad``'s zero padding is exactly what padding ``same`` gives ``conv``."""
    config = conv.node.options
    if conv.node.op_type not in ("Conv2D", "DepthwiseConv2D") or str(
            config.get("padding", "valid")).lower() != "valid":
        return False
    if _pair(config.get("dilation_rate"), 1) != (1, 1) or not pad.input_shapes:
        return False
    shape = pad.input_shapes[0]
    if shape is None or len(shape) != 4:
        return False
    pairs = _paddings(pad.node.options, shape, pad.output_shapes[0] if pad.output_shapes
                      else None)
    kernel = _pair(config.get("kernel_size"), 1)
    strides = _pair(config.get("strides"), 1)
    for axis in (1, 2):
        size = shape[axis]
        if size is None:
            return False
        k, stride = kernel[axis - 1], strides[axis - 1]
        total = max((-(-size // stride) - 1) * stride + k - size, 0)
        if pairs[axis] != (total // 2, total - total // 2):
            return False
    return pairs[0] == (0, 0) and pairs[3] == (0, 0)


def _only_unit_axes_added(before: Shape | None, after: Shape | None) -> bool:
    if before is None or after is None or len(after) <= len(before):
        return False
    return [d for d in after[1:] if d != 1] == [d for d in before[1:] if d != 1]


def _reduced_axes(config: dict[str, Any], shape: Shape | None) -> list[int]:
    """The axes a reduction reduces: a layer's ``axis`` (normalization, softmax), else the
    spatial axes (global pooling over every axis between the batch and the channels)."""
    rank = len(shape) if shape else 4
    axis = config.get("axis")
    if isinstance(axis, int):
        return [axis + rank if axis < 0 else axis]
    if isinstance(axis, list | tuple) and axis and all(isinstance(a, int) for a in axis):
        return [a + rank if a < 0 else a for a in axis]
    return list(range(1, max(2, rank - 1)))


def _paddings(config: dict[str, Any], shape: Shape | None,
              output: Shape | None) -> list[tuple[int, int]]:
    """Per axis (before, after): a ZeroPadding layer's padding, else the growth from input
    to output split as padding ``same`` splits it (the larger half after)."""
    rank = len(shape) if shape else 4
    padding = config.get("padding")
    spatial: list[tuple[int, int]] = []
    if isinstance(padding, int):
        spatial = [(padding, padding)] * (rank - 2)
    elif isinstance(padding, list | tuple):
        for item in padding:
            if isinstance(item, int):
                spatial.append((item, item))
            elif isinstance(item, list | tuple) and len(item) == 2:
                spatial.append((int(item[0]), int(item[1])))
    if len(spatial) == rank - 2:
        return [(0, 0), *spatial, (0, 0)]
    pairs = []
    for before, after in zip(shape or (), output or (), strict=False):
        grow = (after or 0) - (before or 0) if before and after else 0
        pairs.append((grow // 2, grow - grow // 2))
    return pairs or [(0, 0)] * rank


def _permutation(config: dict[str, Any], shape: Shape | None) -> list[int]:
    """A Permute layer's ``dims`` after the batch; otherwise the last two axes swapped."""
    rank = len(shape) if shape else 4
    dims = config.get("dims")
    if isinstance(dims, list | tuple) and len(dims) == rank - 1:
        return [0, *(int(d) for d in dims)]
    perm = list(range(rank))
    if rank >= 2:
        perm[-1], perm[-2] = perm[-2], perm[-1]
    return perm


def _slice_bounds(config: dict[str, Any], shape: Shape | None) -> tuple[list[int], list[int]]:
    """Begin and end of a slice: a Cropping layer's crop, else the whole input."""
    full = [d if d is not None else -1 for d in shape or (1,)]
    begin, end = [0] * len(full), list(full)
    cropping = config.get("cropping")
    if isinstance(cropping, int):
        cropping = [cropping] * (len(full) - 2)
    if isinstance(cropping, list | tuple) and len(cropping) == len(full) - 2:
        for axis, crop in enumerate(cropping, start=1):
            low, high = (crop, crop) if isinstance(crop, int) else (int(crop[0]), int(crop[1]))
            begin[axis] = low
            if end[axis] >= 0:
                end[axis] -= high
    return begin, end


def _axis(axis: Any, shape: Shape | None) -> int:
    value = int(axis) if isinstance(axis, int) else -1
    return value + len(shape) if value < 0 and shape else value


def _activation(config: dict[str, Any]) -> str:
    from tflint.analyses.keras_prediction import activation_name

    return activation_name(config.get("activation"))


def _fused_activation(layer: Node) -> str | None:
    """The activation a ReLU/Activation layer folded into the op before it gives that op."""
    config = layer.options
    if layer.op_type == "ReLU":
        max_value = config.get("max_value")
        if max_value in (None, 0) and not config.get("negative_slope"):
            return "RELU"
        if max_value == 6 and not config.get("negative_slope"):
            return "RELU6"
        return None
    if layer.op_type == "Activation":
        return _FUSABLE.get(_activation(config))
    return None
