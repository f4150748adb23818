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

The ops are the float conversion's: an int8 conversion may lower a few layers
differently (the table is measured in float32), which the placement then inherits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
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
        quantization = _FIXED_OUTPUT.get(op) if self.integer else None
        return self.tensor(name, shape, quantization=quantization)

    def weights(self, name: str, shape: Shape, channel_axis: int) -> Tensor:
        if not self.integer:
            return self.tensor(name, shape, "float32", constant=True)
        channels = shape[channel_axis] or 1
        return self.tensor(name, shape, "int8", constant=True, quantization=Quantization(
            scale=(0.01,) * channels, zero_point=(0,) * channels,
            quantized_dimension=channel_axis))

    def bias(self, name: str, size: int | None) -> Tensor:
        if not self.integer:
            return self.tensor(name, (size or 1,), "float32", constant=True)
        count = size or 1
        return self.tensor(name, (count,), "int32", constant=True, quantization=Quantization(
            scale=(0.0005,) * count, zero_point=(0,) * count))

    def ints(self, name: str, count: int) -> Tensor:
        return self.tensor(name, (count,), "int32", constant=True)

    # -- the graph -----------------------------------------------------------------------
    def build(self) -> PredictedGraph:
        graph = self.result.graph
        for tensor in self.keras.inputs:
            shape = _device_shape(self.prediction.shapes.get(tensor.id, tensor.shape))
            carried = self.tensor(tensor.name, shape)
            graph.inputs.append(carried)
            self.carrier[tensor.id] = carried
        for layer in self.prediction.layers:
            if layer.status == "gone" and layer.after is not None:
                activation = _fused_activation(layer.node)
                if activation:
                    self.fused[layer.after.id] = activation
        for layer in self.prediction.layers:
            self.add_layer(layer)
        graph.outputs = [self.carrier[t.id] for t in self.keras.outputs if t.id in self.carrier]
        return self.result

    def add_layer(self, layer: LayerPrediction) -> None:
        node = layer.node
        sources = [self.carrier[t.id] for t in node.inputs if t.id in self.carrier]
        lowering = device_lowering(layer)
        if not lowering.ops:  # folded, fused, training-only, or opaque: the tensor passes
            for tensor in node.outputs:
                if sources:
                    self.carrier[tensor.id] = sources[0]
            return
        exits = set(lowering.exits())
        output_shapes = [_device_shape(s) for s in layer.output_shapes] or [None]
        produced: list[Tensor] = []
        ids: list[str] = []
        for i, (op, deps) in enumerate(zip(lowering.ops, lowering.deps, strict=True)):
            data = [produced[d] for d in deps] if deps else list(sources)
            shape = (output_shapes[0] if i in exits
                     else _inner_shape(op, node.op_type, data, output_shapes[0]))
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
        if op == "CONV_2D":
            return [source, self.weights(f"{name}/kernel", (out_channels, *kernel, channels), 0),
                    self.bias(f"{name}/bias", out_channels)]
        if op == "DEPTHWISE_CONV_2D":
            return [source, self.weights(f"{name}/kernel", (1, *kernel, out_channels), 3),
                    self.bias(f"{name}/bias", out_channels)]
        if op == "TRANSPOSE_CONV":
            return [self.ints(f"{name}/output_shape", 4),
                    self.weights(f"{name}/kernel", (out_channels, *kernel, channels), 0),
                    source, self.bias(f"{name}/bias", out_channels)]
        if op == "CONV_3D":
            size = _triple(config.get("kernel_size"))
            return [source, self.weights(f"{name}/kernel", (*size, channels, out_channels), 4),
                    self.bias(f"{name}/bias", out_channels)]
        if op == "FULLY_CONNECTED":
            return [source, self.weights(f"{name}/kernel", (out_channels, channels), 0),
                    self.bias(f"{name}/bias", out_channels)]
        if op in _REDUCTIONS:
            rank = len(in_shape) if in_shape else 4
            return [source, self.ints(f"{name}/axis", max(1, rank - 2))]
        if op == "RESHAPE":
            return [source, self.ints(f"{name}/shape", len(output.shape or (0,)))]
        if op in ("PAD", "PADV2", "MIRROR_PAD"):
            rank = len(in_shape) if in_shape else 4
            return [source, self.tensor(f"{name}/paddings", (rank, 2), "int32", constant=True)]
        if op.startswith("RESIZE_"):
            return [source, self.ints(f"{name}/size", 2)]
        if op in ("TRANSPOSE", "TILE", "EXPAND_DIMS"):
            rank = len(in_shape) if in_shape else 4
            return [source, self.ints(f"{name}/{op.lower()}", 1 if op == "EXPAND_DIMS" else rank)]
        if op == "STRIDED_SLICE" or op == "SLICE":
            rank = len(in_shape) if in_shape else 1
            parts = ("begin", "end", "strides") if op == "STRIDED_SLICE" else ("begin", "size")
            return [source, *(self.ints(f"{name}/{part}", rank) for part in parts)]
        if op == "GATHER":
            return [*data[:2]] if len(data) > 1 else [source, self.ints(f"{name}/indices", 1)]
        if op in _BINARY and len(data) < 2:
            shape = (channels,) if channels else (1,)
            # The converter quantizes such a constant per tensor, not per channel.
            constant = self.tensor(f"{name}/{op.lower()}", shape,
                                   "int8" if self.integer else "float32", constant=True,
                                   quantization=_ACTIVATION if self.integer else None)
            return [source, constant]
        if op == "SPLIT":
            return [self.tensor(f"{name}/axis", (), "int32", constant=True), source]
        return data

    def options(self, op: str, layer: Node, data: list[Tensor], output: Tensor) -> dict[str, Any]:
        config = layer.options
        padding = str(config.get("padding", "valid")).upper()
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
            return {"keep_dims": bool(config.get("keepdims", False))}
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
            return {"begin_mask": 0, "end_mask": 0, "ellipsis_mask": 0, "new_axis_mask": 0,
                    "shrink_axis_mask": 0, "offset": False}
        if op == "GATHER":
            return {"axis": 0, "batch_dims": 0}
        if op == "PACK":
            return {"values_count": len(data), "axis": 0}
        if op == "SPLIT":
            return {"num_splits": 2}
        if op == "BATCH_MATMUL":
            return {"adj_x": False, "adj_y": False, "asymmetric_quantize_inputs": False}
        return {}


def device_lowering(layer: LayerPrediction) -> Lowering:
    """The layer's ops in a conversion for a device, whose batch is fixed: the static-batch
    lowering when a dynamic batch changes it."""
    return layer.static_lowering if layer.static_lowering is not None else layer.lowering


def _inner_shape(op: str, layer_class: str, data: list[Tensor],
                 layer_output: Shape | None) -> Shape | None:
    """The shape of an op inside a layer, which Keras does not record: its input's, with
    the changes of the ops that change it in the lowerings the table has."""
    shape = data[0].shape if data else None
    if shape is None:
        return layer_output
    if op in ("EXPAND_DIMS", "RESHAPE") and layer_class.endswith("1D") and len(shape) == 3:
        return (shape[0], 1, *shape[1:])  # 1D layers run as 2D ops with a height of 1
    if op in _CHANNEL_OPS and layer_output:
        return (*shape[:-1], layer_output[-1])
    return shape


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
