"""Predict, from a Keras model config alone, what the TFLite converter and XNNPACK will do.

Shared by the Keras prediction rules through ``ctx.analysis(predict)``.  Every
layer call is looked up in ``tflint/data/keras_lowering.json`` (measured with the real
converter and LiteRT runtime by ``scripts/generate_lowering_table.py``): which
TFLite ops it becomes, which of them the XNNPACK delegate takes, and whether
it needs Select TF ops.  The op-level graph that results is then cut into
delegate partitions the way the TFLite partitioner does it.

A table entry names a layer class and the config values that change its
lowering (``when``).  The values are *features* computed here from the config,
so that Keras 2.0, tf.keras 2.x and Keras 3 configs, which spell the same
thing differently, meet the same entry; the generator computes the ``when``
of each entry with this very function.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from tflint import data as _data
from tflint.analyses.keras_shapes import propagate
from tflint.diagnostics import Fix
from tflint.graph import ModelGraph, Node, Shape, Tensor
from tflint.kerasconfig import LayerConfig, resolve
from tflint.kerasconfig.references import policy_name
from tflint.partition import partition

TABLE = "keras_lowering.json"

CONV_CLASSES = frozenset({
    "Conv1D", "Conv2D", "Conv3D", "SeparableConv1D", "SeparableConv2D", "DepthwiseConv1D",
    "DepthwiseConv2D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
    # Keras 2.0 names
    "Convolution1D", "Convolution2D", "Convolution3D", "SeparableConvolution2D",
    "Deconvolution2D",
})
#: Layers with an ``activation`` parameter the converter may fuse.
ACTIVATION_PARAM_CLASSES = CONV_CLASSES | {"Dense"}
#: Layers that can disappear into the Conv/Dense they follow.
FUSABLE_CLASSES = frozenset({
    "Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "ThresholdedReLU", "Softmax",
    "BatchNormalization",
})
#: Layers whose lowering ends in an ADD (standalone BatchNormalization: MUL, ADD).
ADD_ENDING = frozenset({"BatchNormalization", "Add"})
RNN_CLASSES = frozenset({"LSTM", "GRU", "SimpleRNN", "CuDNNLSTM", "CuDNNGRU"})
#: Keras 2.0 class names that later Keras renamed.
CLASS_ALIASES = {
    "Convolution1D": "Conv1D", "Convolution2D": "Conv2D", "Convolution3D": "Conv3D",
    "SeparableConvolution2D": "SeparableConv2D", "Deconvolution2D": "Conv2DTranspose",
    "Merge": "Concatenate", "CuDNNLSTM": "LSTM", "CuDNNGRU": "GRU",
}
#: Layers whose lowering the table keys by input rank and unknown non-batch dimensions.
SHAPE_KEYED_CLASSES = frozenset({
    "Dense", "EinsumDense", "BatchNormalization", "LayerNormalization", "GroupNormalization",
    "UnitNormalization", "Reshape", "Flatten", "Permute", "MultiHeadAttention", "Attention",
    "AdditiveAttention",
})
POOLING_SUFFIXES = ("Pooling1D", "Pooling2D", "Pooling3D")
#: Wrappers of tfmot quantization-aware training; the wrapped layer is what converts.
QAT_WRAPPERS = frozenset({"QuantizeWrapper", "QuantizeWrapperV2"})
QAT_CLASSES = QAT_WRAPPERS | {"QuantizeLayer", "QuantizeAnnotate"}


# -- features ---------------------------------------------------------------------------


def flavor_of(graph: ModelGraph) -> str:
    """``keras3`` or ``tf_keras``: the Keras that would load and convert this file."""
    dialect = graph.facts.get("keras", {}).get("dialect")
    return "keras3" if dialect == "keras3" else "tf_keras"


def activation_name(value: Any) -> str:
    """Keras' own name of an activation (``silu`` for ``swish``); ``custom:NAME`` for one
    Keras does not ship, whatever its name: ``tensorflow_addons.activations.gelu`` is not
    Keras' ``gelu``."""
    if value is None:
        return "linear"
    reference = resolve(value, "activation")
    if reference is None:
        return "custom:?"
    if reference.builtin is not None and reference.is_function:
        return reference.builtin
    label = reference.registered_name if reference.form == "class" else None
    return f"custom:{label or reference.name}"


def _ints(value: Any) -> list[int]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, int) and not isinstance(v, bool)]
    return []


def _number(value: Any) -> float | None:
    """A config number as a float; None for non-numbers and integers too large
    for a float (a damaged or hostile config)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return float(value)
    except OverflowError:
        return None


def dtype_policy(config: dict[str, Any]) -> str | None:
    """The mixed-precision policy a layer config names, if any."""
    name = policy_name(config.get("dtype"))
    return name if name is not None and name.startswith("mixed_") else None


def layer_class(node: Node) -> str:
    return CLASS_ALIASES.get(node.op_type, node.op_type)


def _inner(config: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The class and config of the layer a wrapper holds."""
    layer = config.get("layer")
    wrapped = LayerConfig.lenient(layer, 0, None) if isinstance(layer, dict) else None
    if wrapped is None:
        return None, {}
    return CLASS_ALIASES.get(wrapped.bare_class, wrapped.bare_class), wrapped.config


def shape_features(cls: str, shape: Shape | None) -> dict[str, Any]:
    """What the input's shape changes in the lowering of ``cls``: its rank (Dense on a
    sequence is a tensordot, not one FULLY_CONNECTED) and whether a dimension other
    than the batch is unknown (the converter then computes shapes at run time)."""
    keyed = cls in SHAPE_KEYED_CLASSES or cls.endswith(POOLING_SUFFIXES)
    if shape is None or not keyed:
        return {}
    return {"input_rank": len(shape), "dynamic_dims": any(d is None for d in shape[1:])}


def config_features(cls: str, config: dict[str, Any], rank: int | None = None,
                    shape: Shape | None = None) -> dict[str, Any]:
    """The config values (and, given ``shape``, the input shape's properties) that change
    how a layer of class ``cls`` lowers."""
    f: dict[str, Any] = {}
    policy = dtype_policy(config)
    if policy:
        f["dtype_policy"] = policy
    if cls in ACTIVATION_PARAM_CLASSES or cls == "Activation":
        f["activation"] = activation_name(config.get("activation"))
    if shape is not None:
        rank = len(shape)
        f.update(shape_features(cls, shape))
    elif cls == "Dense" and rank is not None and rank > 2:
        f["input_rank"] = rank
    if cls == "EinsumDense":
        # A kernel of rank 3 or more (splitting or merging heads) needs reshapes around
        # the FULLY_CONNECTED, which read the shape at run time when it is not static.
        equation = config.get("equation")
        if isinstance(equation, str) and equation.count(",") == 1 and "->" in equation:
            kernel = equation.split("->")[0].split(",")[1].replace("...", "").strip()
            f["kernel_rank"] = len(kernel)
    if cls in CONV_CLASSES:
        f["padding"] = str(config.get("padding", config.get("border_mode", "valid"))).lower()
        f["dilated"] = any(d > 1 for d in _ints(config.get("dilation_rate", 1)))
        f["strided"] = any(s > 1 for s in _ints(config.get("strides", config.get("subsample", 1))))
        f["data_format"] = config.get("data_format") or "channels_last"
        if cls.startswith(("Conv1D", "Conv2D", "Conv3D")) and not cls.endswith("Transpose"):
            f["grouped"] = any(g > 1 for g in _ints(config.get("groups", 1)))
        if cls.startswith(("Depthwise", "Separable")):
            f["multiplier"] = any(m > 1 for m in _ints(config.get("depth_multiplier", 1)))
    elif cls.endswith(("Pooling1D", "Pooling2D", "Pooling3D")):
        if cls.startswith("Global"):
            f["keepdims"] = bool(config.get("keepdims", False))
        else:
            f["padding"] = str(config.get("padding", "valid")).lower()
            pool = _ints(config.get("pool_size", 2))
            strides = _ints(config.get("strides")) or pool
            # XNNPACK refuses a pooling window its stride skips over (e.g. 1x1, stride 2).
            f["stride_over_pool"] = any(
                s > p for s, p in zip(strides * (len(pool) // len(strides) or 1), pool,
                                      strict=False))
        f["data_format"] = config.get("data_format") or "channels_last"
    elif cls in ("UpSampling2D", "Resizing"):
        f["interpolation"] = str(config.get("interpolation", "nearest" if cls == "UpSampling2D"
                                            else "bilinear")).lower()
        if cls == "Resizing":
            f["crop_to_aspect_ratio"] = bool(config.get("crop_to_aspect_ratio", False))
            f["pad_to_aspect_ratio"] = bool(config.get("pad_to_aspect_ratio", False))
    elif cls in RNN_CLASSES:
        for key in ("return_sequences", "stateful", "unroll", "go_backwards"):
            f[key] = bool(config.get(key, False))
    elif cls == "Embedding":
        f["mask_zero"] = bool(config.get("mask_zero", False))
    elif cls == "Dot":
        f["normalize"] = bool(config.get("normalize", False))
    elif cls in ("Softmax", "LayerNormalization"):
        axis = config.get("axis", -1)
        axes = _ints(axis)
        last = len(axes) == 1 and (axes[0] == -1 or (rank is not None and axes[0] == rank - 1))
        f["axis"] = "last" if last else (axes[0] if len(axes) == 1 else "several")
        if cls == "LayerNormalization":
            f["rms_scaling"] = bool(config.get("rms_scaling", False))
            # tf.keras takes its fused (reshaping) path only for an epsilon of 1.001e-5 or more.
            epsilon = _number(config.get("epsilon", 1e-3))
            f["small_epsilon"] = epsilon is not None and epsilon < 1.001e-5
    elif cls == "ReLU":
        f["max_value"] = _number(config.get("max_value"))
        f["leaky"] = bool(_number(config.get("negative_slope")) or 0.0)
        f["thresholded"] = bool(_number(config.get("threshold")) or 0.0)
    elif cls == "Gelu":
        f["approximate"] = bool(config.get("approximate", True))
    elif cls == "Bidirectional":
        f["merge_mode"] = config.get("merge_mode", "concat")
    return f


def layer_features(node: Node, flavor: str, rank: int | None = None,
                   shape: Shape | None = None) -> dict[str, Any]:
    """Features of one layer call, context (``after``) not included; ``shape`` is its
    (first) input's propagated shape."""
    cls = layer_class(node)
    config = node.options
    if cls in QAT_WRAPPERS:
        inner_cls, config = _inner(config)
        cls = inner_cls or cls
    f = {"keras": flavor, **config_features(cls, config, rank, shape)}
    if cls == "Concatenate":
        f["over_5_inputs"] = len(node.inputs) > 5  # XNNPACK concatenates 2 to 5 tensors
    if cls in ("Bidirectional", "TimeDistributed"):
        inner_cls, inner = _inner(config)
        if inner_cls is not None:
            f["wrapped"] = inner_cls
            for key, value in config_features(inner_cls, inner).items():
                f.setdefault(key, value)
    return f


# -- the table --------------------------------------------------------------------------


@cache
def table_index() -> dict[str, list[dict[str, Any]]]:
    index: dict[str, list[dict[str, Any]]] = {}
    for entry in _data.load(TABLE)["entries"]:
        index.setdefault(entry["class"], []).append(entry)
    return index


def table_versions() -> dict[str, str]:
    return dict(_data.load(TABLE).get("versions", {}))


def _matches(when: dict[str, Any], features: dict[str, Any]) -> bool:
    return all(features.get(key) == value for key, value in when.items())


def match_entry(cls: str, features: dict[str, Any], *,
                activation_entries: bool = False) -> dict[str, Any] | None:
    """The most specific entry of ``cls`` whose ``when`` holds for ``features``.

    Entries about the ``activation`` parameter of a Conv/Dense layer are kept
    apart (``activation_entries``): they are combined with the structural entry.
    """
    best: dict[str, Any] | None = None
    best_size = (-1, False)
    for entry in table_index().get(cls, ()):
        is_activation = "activation_part" in entry
        if is_activation != activation_entries or not _matches(entry["when"], features):
            continue
        # Config values first; the Keras flavor only breaks ties.
        flavored = "keras" in entry["when"]
        size = (len(entry["when"]) - flavored, flavored)
        if size > best_size:
            best, best_size = entry, size
    return best


# -- per-layer prediction ---------------------------------------------------------------


@dataclass(slots=True)
class Lowering:
    """TFLite ops one layer call becomes, in execution order."""

    ops: list[str] = field(default_factory=list)
    #: Per op: taken by XNNPACK (True), run by the CPU kernels (False).
    delegated: list[bool] = field(default_factory=list)
    #: Per op: indices of the ops of the same layer it reads; empty = the layer's inputs.
    deps: list[list[int]] = field(default_factory=list)
    flex_ops: list[str] = field(default_factory=list)
    converts_builtin: bool = True
    subgraphs: int = 1

    @classmethod
    def from_entry(cls, data: dict[str, Any]) -> Lowering:
        ops = list(data.get("ops", []))
        return cls(ops, list(data.get("delegated", [True] * len(ops))),
                   [list(d) for d in data.get("deps", [[] for _ in ops])],
                   list(data.get("flex_ops", [])), bool(data.get("converts_builtin", True)),
                   int(data.get("subgraphs", 1)))

    def extend(self, other: Lowering) -> None:
        """Append ``other``, reading this lowering's last op(s)."""
        exits = self.exits()
        offset = len(self.ops)
        self.ops += other.ops
        self.delegated += other.delegated
        self.deps += [[d + offset for d in deps] if deps else list(exits) for deps in other.deps]
        self.flex_ops += other.flex_ops
        self.converts_builtin = self.converts_builtin and other.converts_builtin
        self.subgraphs += other.subgraphs - 1

    def exits(self) -> list[int]:
        """Ops whose output leaves the layer: those no other op of the layer reads."""
        read = {d for deps in self.deps for d in deps}
        return [i for i in range(len(self.ops)) if i not in read]

    @property
    def cpu_ops(self) -> list[str]:
        return [op for op, on in zip(self.ops, self.delegated, strict=True) if not on]


@dataclass(frozen=True, slots=True)
class PredictedOp:
    """One TFLite op a layer call is predicted to become."""

    op: str
    delegated: bool
    layer: str
    input_shapes: tuple[Shape | None, ...]
    output_shapes: tuple[Shape | None, ...]


@dataclass(slots=True)
class LayerPrediction:
    node: Node
    #: ``ok`` all ops delegated; ``cpu`` some ops on the CPU; ``flex`` needs Select TF
    #: ops; ``gone`` no op at all (folded, fused, training-only); ``opaque`` Lambda or
    #: custom code; ``unknown`` a Keras class the table does not know.
    status: str
    lowering: Lowering
    features: dict[str, Any]
    entry: dict[str, Any] | None = None
    #: The lowering of the same layer with a static batch of 1, when the model's
    #: batch is dynamic and that changes the lowering.
    static_lowering: Lowering | None = None
    #: The Conv/Dense layer this one fuses or folds into (``gone``), or follows.
    after: Node | None = None
    reason: str = ""
    #: Propagated shapes of the layer call's inputs and outputs (None: not known).
    input_shapes: list[Shape | None] = field(default_factory=list)
    output_shapes: list[Shape | None] = field(default_factory=list)

    @property
    def layer(self) -> str:
        return self.node.layer_name or self.node.name

    def predicted_ops(self) -> list[PredictedOp]:
        """The layer's predicted ops, each with the shapes it reads and writes where the
        layer's own shapes tell them: an op reading the layer's inputs gets their shapes,
        an op writing the layer's output gets its shape; shapes inside the layer are None."""
        exits = set(self.lowering.exits())
        out = []
        for i, (op, on, deps) in enumerate(zip(self.lowering.ops, self.lowering.delegated,
                                               self.lowering.deps, strict=True)):
            inputs = tuple(self.input_shapes) if not deps else (None,) * len(deps)
            outputs = tuple(self.output_shapes) if i in exits else (None,)
            out.append(PredictedOp(op, on, self.layer, inputs, outputs))
        return out

    @property
    def cpu_ops(self) -> list[str]:
        return self.lowering.cpu_ops

    @property
    def caused_by_dynamic_batch(self) -> bool:
        static = self.static_lowering
        return static is not None and static.converts_builtin and (
            not self.lowering.converts_builtin or len(static.cpu_ops) < len(self.cpu_ops))


@dataclass
class Prediction:
    flavor: str
    dynamic_batch: bool
    layers: list[LayerPrediction]
    by_node: dict[str, LayerPrediction]
    ops: int
    delegated: int
    partitions: int
    #: Partitions if every opaque layer ran on the CPU (each one may split the graph).
    partitions_if_opaque_on_cpu: int
    versions: dict[str, str]
    target: str = "xnnpack"
    #: The target's name in messages.
    title: str = "XNNPACK"
    #: Static shapes of the graph's tensors by tensor id (recorded or propagated).
    shapes: dict[str, Shape] = field(default_factory=dict)

    def cpu_records(self) -> list[dict[str, Any]]:
        records = []
        for p in self.layers:
            for op, on in zip(p.lowering.ops, p.lowering.delegated, strict=True):
                if not on:
                    reason = ("Select TF op" if op.startswith("Flex")
                              else f"not taken by {self.title}")
                    records.append({"subgraph": 0, "index": None, "op": op, "layer": p.layer,
                                    "reason": reason})
        return records

    @property
    def unknown_layers(self) -> list[LayerPrediction]:
        return [p for p in self.layers if p.status in ("opaque", "unknown")]

    def section(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "ops": self.ops,
            "delegated": self.delegated,
            "partitions": self.partitions,
            "cpu_ops": self.cpu_records(),
            "predicted_from": "keras",
            "unknown_layers": [{"layer": p.layer, "class": p.node.op_type, "reason": p.reason}
                               for p in self.unknown_layers],
            "partitions_if_unknown_on_cpu": self.partitions_if_opaque_on_cpu,
            "dynamic_batch": self.dynamic_batch,
            "keras": self.flavor,
            "table_versions": self.versions,
        }

    def note(self) -> str:
        cpu = Counter(r["op"] for r in self.cpu_records())
        text = (f"~{self.ops} op{'s' if self.ops != 1 else ''}, {self.delegated} on {self.title} "
                f"in {self.partitions} partition{'s' if self.partitions != 1 else ''}, "
                f"{self.ops - self.delegated} on CPU")
        if cpu:
            text += ": " + ", ".join(f"{op} x{n}" for op, n in cpu.most_common())
        unknown = len(self.unknown_layers)
        if unknown:
            text += (f" (predicted from Keras; {unknown} opaque or unknown layer"
                     f"{'s' if unknown != 1 else ''} not counted)")
        else:
            text += " (predicted from Keras)"
        return text


def output_rank(cls: str, config: dict[str, Any], rank: int | None) -> int | None:
    """The rank of a layer's output from its input's, for configs that record no shapes
    (tf.keras writes shapes for model inputs only)."""
    if cls == "Flatten":
        return 2
    if cls.startswith("Global") and cls[-2:] in ("1D", "2D", "3D"):
        return rank if config.get("keepdims") or rank is None else rank - int(cls[-2])
    if cls == "Reshape":
        target = config.get("target_shape")
        return len(target) + 1 if isinstance(target, list | tuple) else None
    if cls == "Embedding":
        return None if rank is None else rank + 1
    if cls == "RepeatVector":
        return 3
    if cls in RNN_CLASSES or cls == "Bidirectional":
        inner = _inner(config)[1] if cls == "Bidirectional" else config
        return 3 if inner.get("return_sequences") else 2
    return rank  # elementwise, convolutions, Dense, merges, attention, normalization


def _lowering(entry: dict[str, Any], dynamic: bool) -> Lowering:
    data = entry.get("dynamic_batch") if dynamic else None
    return Lowering.from_entry(data if data is not None else entry)


def _activation_lowering(entry: dict[str, Any], dynamic: bool) -> Lowering:
    data = entry.get("dynamic_batch") if dynamic else None
    part = (data or {}).get("activation_part") or entry["activation_part"]
    return Lowering.from_entry(part)


class _Predictor:
    def __init__(self, graph: ModelGraph) -> None:
        self.graph = graph
        self.flavor = flavor_of(graph)
        self.dynamic = any(t.shape is None or not t.shape or t.shape[0] is None
                           for t in graph.inputs)
        self.by_node: dict[str, LayerPrediction] = {}
        #: Ranks of tensors whose shape the config does not record.
        self.ranks: dict[str, int] = {}
        #: Recorded or propagated static shapes, by tensor id.
        self.shapes = propagate(graph, layer_class, self.flavor)

    def single_input_producer(self, node: Node) -> Node | None:
        if len(node.inputs) != 1:
            return None
        return self.graph.producer(node.inputs[0])

    def context(self, node: Node) -> tuple[Node | None, str | None]:
        """The Conv/Dense this layer directly follows, and the activation already applied.

        Layers that lower to nothing (folded BatchNormalization, fused activation,
        Dropout) are looked through; fusion needs every tensor on the way to have
        this one consumer.
        """
        activation: str | None = None
        current = node
        for _ in range(8):  # a short chain: conv -> bn -> relu at most, in practice
            tensor = current.inputs[0] if len(current.inputs) == 1 else None
            producer = self.single_input_producer(current)
            if producer is None or tensor is None or not self._sole_use(tensor):
                return None, None
            previous = self.by_node.get(producer.id)
            if previous is None:
                return None, None
            if layer_class(producer) in ACTIVATION_PARAM_CLASSES:
                own = previous.features.get("activation", "linear")
                if activation is not None and own != "linear":
                    return None, None
                return producer, activation or own
            if layer_class(producer) in ADD_ENDING and previous.status == "ok":
                # Lowers to an ADD, which takes a fused ReLU like a convolution does.
                return (producer, "linear") if activation is None else (None, None)
            if previous.status != "gone":
                return None, None
            fused = previous.features.get("activation")
            if previous.after is not None and fused is None and layer_class(producer) in (
                    "ReLU", "LeakyReLU", "ELU", "PReLU", "ThresholdedReLU", "Softmax"):
                fused = layer_class(producer).lower()
            if fused is not None and fused != "linear":
                if activation is not None:
                    return None, None
                activation = fused
            current = producer
        return None, None

    def _sole_use(self, tensor: Tensor) -> bool:
        return len(self.graph.consumers(tensor)) == 1 and not self.graph.is_graph_output(tensor)

    def rank(self, tensor: Tensor) -> int | None:
        shape = self.shapes.get(tensor.id)
        if shape is not None:
            return len(shape)
        return len(tensor.shape) if tensor.shape is not None else self.ranks.get(tensor.id)

    def predict_layer(self, node: Node) -> LayerPrediction:
        cls = layer_class(node)
        rank = self.rank(node.inputs[0]) if node.inputs else None
        if node.origin == "builtin":
            produced = output_rank(cls, node.options, rank)
            if produced is not None:
                for tensor in node.outputs:
                    self.ranks.setdefault(tensor.id, produced)
        shape = self.shapes.get(node.inputs[0].id) if node.inputs else None
        features = layer_features(node, self.flavor, rank, shape)
        if cls in QAT_CLASSES:
            # Fake-quant nodes: what they become depends on the converter's quantization
            # settings (TFL320 says which), not on the layer alone.
            return LayerPrediction(node, "unknown", Lowering(), features,
                                   reason="quantization-aware training wrapper")
        if node.origin in ("lambda", "custom"):
            from tflint.analyses.custom_code import predict_custom_layer

            return predict_custom_layer(self.graph, node, features, self.dynamic, self.flavor)
        after: Node | None = None
        if cls in FUSABLE_CLASSES:
            after, applied = self.context(node)
            if after is not None:
                features["after"] = layer_class(after)
                features["after_activation"] = applied
        entry = match_entry(cls, features)
        if entry is None:
            return LayerPrediction(node, "unknown", Lowering(), features,
                                   reason=f"no lowering data for Keras class {cls}")
        lowering = _lowering(entry, self.dynamic)
        static = _lowering(entry, False) if self.dynamic and "dynamic_batch" in entry else None
        reason = ""
        activation = features.get("activation", "linear")
        if (cls in ACTIVATION_PARAM_CLASSES and activation != "linear"
                and "activation" not in entry["when"]):
            if activation.startswith("custom:"):
                from tflint.analyses.custom_code import predict_custom_activation

                return predict_custom_activation(self.graph, node, features, self.dynamic,
                                                 self.flavor, lowering, entry)
            act_entry = match_entry(cls, features, activation_entries=True)
            if act_entry is None:
                act_entry = match_entry("Activation", {"keras": self.flavor,
                                                       "activation": activation})
                part = _lowering(act_entry, self.dynamic) if act_entry else None
            else:
                part = _activation_lowering(act_entry, self.dynamic)
            if part is None:
                return LayerPrediction(node, "unknown", lowering, features, entry,
                                       reason=f"no lowering data for activation {activation!r}")
            lowering.extend(part)
            if static is not None:
                static.extend(_activation_lowering(act_entry, False) if act_entry and
                              "activation_part" in act_entry else part)
        if not lowering.converts_builtin:
            status = "flex"
        elif not lowering.ops:
            status = "gone"
        elif not all(lowering.delegated):
            status = "cpu"
        else:
            status = "ok"
        return LayerPrediction(node, status, lowering, features, entry, static, after, reason)


def predict(graph: ModelGraph, target: str = "xnnpack") -> Prediction:
    """The prediction for a Keras graph on ``target``, whose per-op support the lowering
    table records under the target's ``keras_lowering_key``."""
    from tflint.targets import TargetError, get_target

    chosen = get_target(target)
    if chosen.keras_lowering_key != "delegated":
        raise TargetError(f"the Keras lowering table has no placement data for target "
                          f"{chosen.name!r}")
    predictor = _Predictor(graph)
    layers: list[LayerPrediction] = []
    for node in graph.nodes():
        prediction = predictor.predict_layer(node)
        prediction.input_shapes = [predictor.shapes.get(t.id) for t in node.inputs]
        prediction.output_shapes = [predictor.shapes.get(t.id) for t in node.outputs]
        predictor.by_node[node.id] = prediction
        layers.append(prediction)
    kinds, deps = _op_graph(graph, layers)
    optimistic = [True if kind is None else kind for kind in kinds]
    pessimistic = [False if kind is None else kind for kind in kinds]
    ops = sum(len(p.lowering.ops) for p in layers)
    delegated = sum(sum(p.lowering.delegated) for p in layers)
    return Prediction(
        flavor=predictor.flavor, dynamic_batch=predictor.dynamic, layers=layers,
        by_node=predictor.by_node, ops=ops, delegated=delegated,
        partitions=count_partitions(optimistic, deps),
        partitions_if_opaque_on_cpu=count_partitions(pessimistic, deps),
        versions=table_versions(), target=chosen.name, title=chosen.title,
        shapes=predictor.shapes,
    )


# -- delegate partitions ------------------------------------------------------------------


def _op_graph(graph: ModelGraph,
              layers: list[LayerPrediction]) -> tuple[list[bool | None], list[list[int]]]:
    """Expand layers into ops: kind (delegated, CPU, or None = opaque) and dependencies."""
    kinds: list[bool | None] = []
    deps: list[list[int]] = []
    #: Op indices whose output a tensor carries (several for a layer with many exits,
    #: none for a model input).
    carriers: dict[str, list[int]] = {}
    for p in layers:
        node = p.node
        upstream = sorted({i for t in node.inputs for i in carriers.get(t.id, ())})
        lowering = p.lowering
        if p.status in ("opaque", "unknown") and not lowering.ops:
            kinds.append(None)
            deps.append(upstream)
            exits = [len(kinds) - 1]
        elif not lowering.ops:
            exits = upstream  # folded or training-only: the tensor passes through
        else:
            base = len(kinds)
            for on, own in zip(lowering.delegated, lowering.deps, strict=True):
                kinds.append(on if p.status != "opaque" else None)
                deps.append([base + d for d in own] if own else list(upstream))
            exits = [base + i for i in lowering.exits()]
        for tensor in node.outputs:
            carriers[tensor.id] = exits
    return kinds, deps


def count_partitions(kinds: list[bool], deps: list[list[int]]) -> int:
    """Delegate partitions of the predicted op graph, by the shared partitioner."""
    return len(partition(kinds, deps))


# -- helpers for the rules --------------------------------------------------------------


def model_inputs_by_node(graph: ModelGraph) -> dict[str, list[Tensor]]:
    """For every node, the model inputs it depends on: one forward pass over the graph."""
    reach: dict[str, frozenset[str]] = {t.id: frozenset((t.id,)) for t in graph.inputs}
    by_node: dict[str, list[Tensor]] = {}
    tensors = {t.id: t for t in graph.inputs}
    for node in graph.nodes():
        found: frozenset[str] = frozenset().union(*(reach.get(t.id, frozenset())
                                                    for t in node.inputs))
        for tensor in node.outputs:
            reach[tensor.id] = found
        by_node[node.id] = [tensors[i] for i in sorted(found)]
    return by_node


def inputs_by_node(graph: ModelGraph, target: str) -> dict[str, list[Tensor]]:
    """``ctx.analysis`` entry point of :func:`model_inputs_by_node`."""
    return model_inputs_by_node(graph)


def static_shape(shape: tuple[int | None, ...] | None, fill: int) -> list[int] | None:
    """``shape`` with a batch of 1 and every other unknown dimension set to ``fill``."""
    if shape is None:
        return None
    return [1 if i == 0 else (fill if d is None else d) for i, d in enumerate(shape)]


def element_count(shape: tuple[int | None, ...] | None) -> int | None:
    if shape is None or len(shape) < 2 or any(d is None for d in shape[1:]):
        return None
    return math.prod(d for d in shape[1:] if d is not None)


def shared_prediction(ctx: Any) -> Prediction:
    """The file's conversion as the lowering table predicts it, with XNNPACK's placement
    (the rules over it report the conversion, and XNNPACK only when it is selected),
    computed once by the engine."""
    from tflint.targets import DEFAULT_TARGET

    prediction = ctx.analyses.keras_prediction(DEFAULT_TARGET)
    if prediction is None:
        from tflint.targets import TargetError

        raise TargetError(f"no Keras prediction for target {ctx.target!r}")
    return prediction


def describe(node: Node) -> str:
    """``Conv2D layer 'conv1'`` (with the nested model when there is one)."""
    where = f" in model '{node.location.model}'" if node.location.model else ""
    return f"{node.op_type} layer '{node.layer_name or node.name}'{where}"


def histogram(ops: list[str]) -> str:
    counts = Counter(ops)
    return ", ".join(op if n == 1 else f"{op} x{n}" for op, n in counts.items())


def shape_text(shape: list[int] | tuple[int | None, ...]) -> str:
    items = ", ".join("None" if d is None else str(d) for d in shape)
    return f"({items},)" if len(shape) == 1 else f"({items})"


def config_text(class_name: str, config: dict[str, Any]) -> str:
    """``LeakyReLU(negative_slope=0.1)``: a layer as the user would write it."""
    args = ", ".join(f"{k}={v!r}" for k, v in config.items() if k != "name")
    return f"{class_name}({args})"


#: Layer options whose change keeps what the layer computes.
SAME_FUNCTION_KEYS = frozenset({"unroll"})


def reconfigure_fix(p: LayerPrediction, changes: dict[str, Any], title: str) -> Fix:
    """Replace a layer by the same class with ``changes`` to its config; safe only
    when every changed option keeps what the layer computes."""
    config = {**p.node.options, **changes}
    return Fix("safe" if set(changes) <= SAME_FUNCTION_KEYS else "unsafe", title,
               {"op": "replace_layer", "layer": p.layer,
                "with": {"class_name": p.node.op_type, "config": config}})


def set_input_shape_fix(tensor: Tensor, shape: list[int]) -> Fix:
    """Fix an input's shape; unsafe, since the model then accepts only that shape."""
    return Fix("unsafe", f"set the shape of input '{tensor.name}' to {shape}",
               {"op": "set_input_shape", "input": tensor.name, "shape": shape})


def static_batch_suggestion(tensor: Tensor, shape: list[int]) -> str:
    return (f"give input `{tensor.name}` a static batch, e.g. `{shape_text(shape)}`, "
            "before converting")


def static_input_fix(ctx: Any, node: Node, fill: int = 224) -> tuple[Tensor, list[int]] | None:
    """The model input feeding ``node`` and a shape for it with a batch of 1."""
    graph = ctx.graph
    inputs = list(graph.inputs)
    if len(inputs) > 1:  # which of them feeds this layer (computed once per file)
        inputs = ctx.analysis(inputs_by_node).get(node.id) or inputs
    for tensor in inputs:
        if tensor.shape and tensor.shape[0] is None:
            shape = static_shape(tensor.shape, fill)
            if shape is not None:
                return tensor, shape
    return None
