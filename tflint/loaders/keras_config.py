"""Turn a parsed Keras model config into a :class:`ModelGraph`.

Three dialects are read, told apart by the Keras version and the shape of
``inbound_nodes``:

* ``keras2.0``: standalone Keras 2.0-2.3 and tf.keras before 2.4
  (top-level ``class_name: "Model"``, Sequential configs that are a bare
  list of layers, list-style ``inbound_nodes`` such as
  ``[[["dense_1", 0, 0, {}]]]``);
* ``tf.keras2``: tf.keras 2.4+ / tf_keras (``Functional``, same list style);
* ``keras3``: ``inbound_nodes`` as ``[{"args": [...], "kwargs": {...}}]``
  whose tensors are ``__keras_tensor__`` objects carrying ``keras_history``,
  shape and dtype.

Every layer call becomes one :class:`Node`; ``InputLayer`` becomes no node
but the tensor it defines (a model input).  A model used as a layer is
flattened: its layers become nodes of the graph whose ``location.model``
names the model, wired to the tensors the outer model calls it with; its
outputs are the outer call's outputs.  Nothing in the config is executed or
imported: ``Lambda`` code and custom classes are recorded, never resolved.
"""

from __future__ import annotations

import heapq
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from tflint.errors import ModelFileError
from tflint.graph import Location, ModelGraph, Node, Shape, Tensor

Facts = dict[str, Any]

LAYERS_FILE = Path(__file__).with_name("keras_layers.json")
WRAPPERS = frozenset({"TimeDistributed", "Bidirectional"})
MODEL_CLASSES = frozenset({"Functional", "Model", "Sequential"})
#: Modules whose classes are Keras' own (a ``module`` key names where a class lives).
KERAS_MODULES = ("keras", "tf_keras", "tensorflow")
#: More outputs than any layer call has (``tf.split`` into 1024 pieces); a reference to a
#: higher output index is malformed.
MAX_LAYER_OUTPUTS = 1024
#: tf.keras writes a constant first argument of a TFOpLambda as ``[this, -1, value, kwargs]``.
CONSTANT_VALUE = "_CONSTANT_VALUE"


@cache
def builtin_layers() -> dict[str, frozenset[str]]:
    """Class names of the layers Keras ships, from the generated data file."""
    data = json.loads(LAYERS_FILE.read_text(encoding="utf-8"))
    common = frozenset(data["keras3"]) | frozenset(data["tf_keras"]) | frozenset(data["legacy"])
    return {"common": common, "keras3_ops": frozenset(data["keras3_ops"])}


# -- small validated accessors ------------------------------------------------------


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ModelFileError(f"malformed Keras config: {what} is not an object")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ModelFileError(f"malformed Keras config: {what} is not a list")
    return value


def _is_index(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _shape(value: Any) -> Shape | None:
    """A shape written as a list of ints and nulls; anything else is unknown."""
    if not isinstance(value, list | tuple):
        return None
    if all(d is None or (_is_index(d) and d >= 0) for d in value):
        return tuple(value)
    return None


def _dtype_name(value: Any) -> str | None:
    """A dtype or dtype policy name: ``"float32"`` or a Policy/DTypePolicy object."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        inner = value.get("config")
        if isinstance(inner, dict) and isinstance(inner.get("name"), str):
            return inner["name"]
    return None


def _bare_class(class_name: str) -> str:
    """``"seed>CustomActivation"`` (how tf.keras and legacy HDF5 write a registered class)
    is the class ``CustomActivation``, as ``.keras`` files write it."""
    return class_name.rsplit(">", 1)[-1] or class_name


def _version(text: str | None) -> tuple[int, int] | None:
    match = re.match(r"\s*(\d+)\.(\d+)", text or "")
    return (int(match[1]), int(match[2])) if match else None


# -- layer entries and their calls ----------------------------------------------------


@dataclass(slots=True)
class Ref:
    """A reference to a tensor: output ``tensor`` of call ``node`` of ``layer``."""

    layer: str
    node: int
    tensor: int
    shape: Shape | None = None
    dtype: str | None = None


@dataclass(slots=True)
class Call:
    #: Tensors of the positional arguments (the "first argument" in Keras 2).
    args: list[Ref] = field(default_factory=list)
    #: Tensors passed by keyword (``mask``, ``initial_state``, TFOpLambda ``y``).
    kwargs: list[Ref] = field(default_factory=list)

    @property
    def refs(self) -> list[Ref]:
        return self.args + self.kwargs


@dataclass(slots=True)
class Entry:
    """One layer of a model config."""

    name: str
    class_name: str
    config: dict[str, Any]
    raw: dict[str, Any]
    position: int
    #: "functional" / "sequential" for a model used as a layer, else None.
    model_kind: str | None
    calls: list[Call] = field(default_factory=list)

    @property
    def is_input(self) -> bool:
        return self.class_name == "InputLayer"


def model_kind(class_name: str, config: Any) -> str | None:
    """Whether a (class, config) pair is a model whose layers the config lists."""
    if class_name in WRAPPERS:
        return None
    if isinstance(config, list):
        return "sequential"  # Keras 2.0 wrote a Sequential config as its layer list
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        return None
    if "input_layers" in config or "output_layers" in config:
        return "functional"
    return "sequential"


def _entry(raw: Any, position: int, where: str, named: bool) -> Entry:
    raw = _dict(raw, f"layer {position} of {where}")
    class_name = raw.get("class_name")
    if not isinstance(class_name, str) or not class_name:
        raise ModelFileError(
            f"malformed Keras config: layer {position} of {where} has no class_name"
        )
    config = raw.get("config", {})
    kind = model_kind(class_name, config)
    if kind is None:
        config = _dict(config, f"config of layer {position} of {where}")
    name = raw.get("name") if named else None
    if name is None and isinstance(config, dict):
        name = config.get("name")
    if not isinstance(name, str) or not name:
        if named:
            raise ModelFileError(f"malformed Keras config: layer {position} of {where} has no name")
        name = f"{class_name.lower()}_{position}"
    return Entry(name, class_name, config if isinstance(config, dict) else {}, raw, position, kind)


def _keras3_tensor(value: dict[str, Any], where: str) -> Ref:
    config = _dict(value.get("config"), f"a tensor in {where}")
    history = config.get("keras_history")
    if not (
        isinstance(history, list)
        and len(history) == 3
        and isinstance(history[0], str)
        and _is_index(history[1])
        and _is_index(history[2])
    ):
        raise ModelFileError(f"malformed Keras config: bad keras_history in {where}")
    return Ref(
        history[0], history[1], history[2], _shape(config.get("shape")),
        _dtype_name(config.get("dtype")),
    )


def _keras3_refs(value: Any, where: str, out: list[Ref]) -> None:
    """Collect the ``__keras_tensor__`` references nested in call arguments."""
    if isinstance(value, dict):
        tag = value.get("class_name")
        if tag == "__keras_tensor__":
            out.append(_keras3_tensor(value, where))
        elif tag == "__tuple__":
            inner = value.get("config")
            _keras3_refs(inner.get("value") if isinstance(inner, dict) else None, where, out)
        else:
            for key in sorted(value, key=str):
                _keras3_refs(value[key], where, out)
    elif isinstance(value, list):
        for item in value:
            _keras3_refs(item, where, out)


def _is_list_ref(value: Any) -> bool:
    """``[layer, node, tensor]`` or ``[layer, node, tensor, kwargs]`` (Keras 2)."""
    return (
        isinstance(value, list)
        and len(value) in (3, 4)
        and isinstance(value[0], str)
        and _is_index(value[1])
        and (value[0] == CONSTANT_VALUE or _is_index(value[2]))
        and (len(value) == 3 or value[3] is None or isinstance(value[3], dict))
    )


def _kwargs_refs(value: Any, layers: dict[str, Any], out: list[Ref]) -> None:
    """Tensors in Keras 2 call kwargs: 3-lists naming a layer of the model."""
    if isinstance(value, list):
        if len(value) == 3 and _is_list_ref(value) and value[0] in layers:
            out.append(Ref(value[0], value[1], value[2]))
            return
        for item in value:
            _kwargs_refs(item, layers, out)
    elif isinstance(value, dict):
        for key in sorted(value, key=str):
            _kwargs_refs(value[key], layers, out)


def _list_call(node_data: Any, layers: dict[str, Any], where: str) -> Call:
    """One list-style inbound node: a nest of ``[layer, node, tensor, kwargs]``."""
    call = Call()
    kwargs_seen = False

    def walk(value: Any) -> None:
        nonlocal kwargs_seen
        if _is_list_ref(value):
            if value[0] != CONSTANT_VALUE:
                call.args.append(Ref(value[0], value[1], value[2]))
            # Keras 2 repeats the call kwargs on every tensor of the first argument.
            if len(value) == 4 and value[3] and not kwargs_seen:
                kwargs_seen = True
                _kwargs_refs(value[3], layers, call.kwargs)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for key in sorted(value, key=str):
                walk(value[key])
        else:
            raise ModelFileError(f"malformed Keras config: unexpected {value!r} in {where}")

    walk(node_data)
    return call


def _calls(entry: Entry, layers: dict[str, Any], model: str) -> list[Call]:
    where = f"inbound_nodes of layer '{entry.name}' in model '{model}'"
    nodes = entry.raw.get("inbound_nodes", [])
    calls = []
    for node_data in _list(nodes if nodes is not None else [], where):
        if isinstance(node_data, dict) and ("args" in node_data or "kwargs" in node_data):
            call = Call()
            _keras3_refs(node_data.get("args", []), where, call.args)
            _keras3_refs(node_data.get("kwargs", {}), where, call.kwargs)
        else:
            call = _list_call(node_data, layers, where)
        calls.append(call)
    return calls


def _io_refs(value: Any, what: str) -> list[Ref]:
    """``input_layers`` / ``output_layers``: one ``[layer, node, tensor]`` or a nest of them."""
    out: list[Ref] = []

    def walk(item: Any) -> None:
        if isinstance(item, list) and len(item) == 3 and isinstance(item[0], str):
            if not (_is_index(item[1]) and _is_index(item[2])):
                raise ModelFileError(f"malformed Keras config: bad entry {item!r} in {what}")
            out.append(Ref(item[0], item[1], item[2]))
        elif isinstance(item, list):
            for sub in item:
                walk(sub)
        elif isinstance(item, dict):
            for key in sorted(item, key=str):
                walk(item[key])
        else:
            raise ModelFileError(f"malformed Keras config: unexpected {item!r} in {what}")

    walk(value)
    return out


# -- dialect ----------------------------------------------------------------------------


def _has_keras3_nodes(layers: Any) -> bool:
    if not isinstance(layers, list):
        return False
    for layer in layers:
        nodes = layer.get("inbound_nodes") if isinstance(layer, dict) else None
        if isinstance(nodes, list) and nodes:
            return isinstance(nodes[0], dict)
    return False


def detect_dialect(top: dict[str, Any], keras_version: str | None) -> str:
    config = top.get("config")
    layers = config.get("layers") if isinstance(config, dict) else config
    if _has_keras3_nodes(layers):
        return "keras3"
    version = _version(keras_version)
    if version is not None:
        if version[0] >= 3:
            return "keras3"
        return "keras2.0" if version < (2, 4) else "tf.keras2"
    if top.get("class_name") == "Model" or isinstance(config, list):
        return "keras2.0"
    # A Sequential config tells little; Keras 3 alone writes batch_shape and DTypePolicy.
    if isinstance(layers, list) and layers and isinstance(layers[0], dict):
        first = layers[0].get("config")
        if isinstance(first, dict) and (
            "batch_shape" in first
            or (isinstance(first.get("dtype"), dict)
                and first["dtype"].get("class_name") == "DTypePolicy")
        ):
            return "keras3"
    return "tf.keras2"


# -- the builder ---------------------------------------------------------------------------


class _Builder:
    def __init__(self, graph: ModelGraph, dialect: str) -> None:
        self.graph = graph
        self.dialect = dialect
        self.builtin = builtin_layers()["common"]
        if dialect == "keras3":
            self.builtin = self.builtin | builtin_layers()["keras3_ops"]
        #: Calls made so far of each layer, by (model path, layer name).
        self.call_counts: Counter[tuple[str, str]] = Counter()
        self.policies: Counter[str] = Counter()

    # -- what a layer is ---------------------------------------------------------------
    def is_custom(self, raw: dict[str, Any], class_name: str) -> bool:
        registered = raw.get("registered_name")
        module = raw.get("module")
        if ">" in class_name or (isinstance(registered, str) and ">" in registered):
            return True  # "package>Name": a class registered by user code
        if isinstance(module, str) and not any(
            module == root or module.startswith(root + ".") for root in KERAS_MODULES
        ):
            return True
        return class_name not in self.builtin

    def origin(self, raw: dict[str, Any], class_name: str) -> str:
        if class_name == "Lambda":
            return "lambda"
        if self.is_custom(raw, class_name):
            return "custom"
        if class_name in WRAPPERS:
            config = raw.get("config")
            for key in ("layer", "backward_layer"):
                inner = config.get(key) if isinstance(config, dict) else None
                if isinstance(inner, dict) and isinstance(inner.get("class_name"), str):
                    inner_origin = self.origin(inner, inner["class_name"])
                    if inner_origin != "builtin":
                        return inner_origin  # the wrapper is as opaque as what it wraps
        return "builtin"

    def node_offset(self, entry: Entry, for_io: bool) -> int:
        """How Keras numbered the calls of a nested model in references to it.

        A Functional model starts with a node of its own linking its inputs to
        its outputs; configs skip it, and references count it, except for
        Keras 3 layer-call arguments.
        """
        if entry.model_kind is None:
            return 0
        if self.dialect == "keras3":
            return int(for_io and entry.model_kind == "functional")
        if entry.model_kind == "sequential" and self.dialect == "tf.keras2":
            layers = entry.config.get("layers") or []
            first = layers[0] if layers and isinstance(layers[0], dict) else {}
            return int(first.get("class_name") == "InputLayer")
        return 1

    # -- tensors --------------------------------------------------------------------------
    @staticmethod
    def tensor(path: str, layer: str, call: int, index: int, count: int) -> Tensor:
        return Tensor(
            id=f"{path}/{layer}#{call}:{index}",
            name=layer if count == 1 else f"{layer}:{index}",
        )

    def input_tensor(self, path: str, name: str, config: dict[str, Any]) -> Tensor:
        shape = None
        for key in ("batch_input_shape", "batch_shape"):
            if key in config:
                shape = _shape(config[key])
                break
        dtype = _dtype_name(config.get("dtype"))
        if dtype is not None and dtype.startswith("mixed_"):
            # A first layer's mixed policy: Keras feeds it float32 inputs.
            dtype = "float32"
        return Tensor(id=f"{path}/{name}#0:0", name=name, dtype=dtype, shape=shape)

    @staticmethod
    def learn(tensor: Tensor, ref: Ref) -> None:
        """Fill what a Keras 3 tensor reference says about a tensor."""
        if tensor.shape is None and ref.shape is not None:
            tensor.shape = ref.shape
        if tensor.dtype is None and ref.dtype is not None:
            tensor.dtype = ref.dtype

    @staticmethod
    def learn_build_shape(entry: Entry, inputs: list[Tensor]) -> None:
        """Keras 3 and late tf.keras record the input shape a layer was built with."""
        build = entry.raw.get("build_config")
        shape = build.get("input_shape") if isinstance(build, dict) else None
        if shape is None or not inputs:
            return
        single = _shape(shape)
        if single is not None and len(inputs) == 1:
            if inputs[0].shape is None:
                inputs[0].shape = single
        elif isinstance(shape, list) and len(shape) == len(inputs):
            for tensor, item in zip(inputs, shape, strict=True):
                if tensor.shape is None:
                    tensor.shape = _shape(item)

    # -- nodes -------------------------------------------------------------------------------
    def add_layer(
        self, entry: Entry, path: tuple[str, ...], inputs: list[Tensor], outputs: int
    ) -> list[Tensor]:
        path_text = "/".join(path)
        key = (path_text, entry.name)
        call = self.call_counts[key]
        self.call_counts[key] += 1
        tensors = [self.tensor(path_text, entry.name, call, i, outputs) for i in range(outputs)]
        wrapped = None
        if entry.class_name in WRAPPERS:
            inner = entry.config.get("layer")
            if isinstance(inner, dict) and isinstance(inner.get("class_name"), str):
                wrapped = _bare_class(inner["class_name"])
        op_type = _bare_class(entry.class_name)
        policy = _dtype_name(entry.config.get("dtype"))
        if policy is not None:
            self.policies[policy] += 1
        node = Node(
            id=f"{path_text}/{entry.name}#{call}",
            kind="layer",
            op_type=op_type,
            location=Location(op_type=op_type, name=entry.name, model="/".join(path[1:]) or None),
            inputs=inputs,
            outputs=tensors,
            options=entry.config,
            origin=self.origin(entry.raw, entry.class_name),
            layer_name=entry.name,
            wrapped=wrapped,
        )
        try:
            self.graph.add_node(node)
        except ValueError:
            raise ModelFileError(
                f"layer '{entry.name}' appears twice in model '{path[-1]}'"
            ) from None
        return tensors

    def model(
        self, entry: Entry, path: tuple[str, ...], call_inputs: list[Tensor] | None
    ) -> tuple[list[Tensor], list[Tensor]]:
        """Add the layers of a model; returns its input and output tensors."""
        if entry.model_kind == "sequential":
            return self.sequential(entry, path, call_inputs)
        return self.functional(entry, path, call_inputs)

    # -- Sequential ----------------------------------------------------------------------------
    def sequential(
        self, model: Entry, path: tuple[str, ...], call_inputs: list[Tensor] | None
    ) -> tuple[list[Tensor], list[Tensor]]:
        name = path[-1]
        raw_layers = model.raw.get("config")
        if isinstance(raw_layers, dict):
            raw_layers = raw_layers.get("layers")
        raw_layers = _list(raw_layers, f"layers of model '{name}'")
        entries = [
            _entry(raw, i, f"model '{name}'", named=False) for i, raw in enumerate(raw_layers)
        ]
        if not entries:
            raise ModelFileError(f"Sequential model '{name}' has no layers")
        path_text = "/".join(path)
        if call_inputs is not None:
            if len(call_inputs) != 1:
                raise ModelFileError(
                    f"Sequential model '{name}' is called with {len(call_inputs)} tensors"
                )
            current = call_inputs[0]
        elif entries[0].is_input:
            current = self.input_tensor(path_text, entries[0].name, entries[0].config)
        else:
            # No InputLayer: Keras makes one from the first layer's input shape.
            first = entries[0]
            current = self.input_tensor(path_text, f"{first.name}_input", first.config)
            if current.shape is None:
                build = model.raw.get("build_config")
                candidates = (
                    model.config.get("build_input_shape"),
                    build.get("input_shape") if isinstance(build, dict) else None,
                )
                current.shape = next((s for s in map(_shape, candidates) if s), None)
        inputs = [current]
        for entry in entries:
            if entry.is_input:
                continue
            if entry.model_kind is not None:
                _, outputs = self.model(entry, (*path, entry.name), [current])
                if not outputs:
                    raise ModelFileError(f"model '{entry.name}' has no outputs")
                current = outputs[0]
                continue
            self.learn_build_shape(entry, [current])
            current = self.add_layer(entry, path, [current], 1)[0]
        return inputs, [current]

    # -- Functional ----------------------------------------------------------------------------
    def functional(
        self, model: Entry, path: tuple[str, ...], call_inputs: list[Tensor] | None
    ) -> tuple[list[Tensor], list[Tensor]]:
        name = path[-1]
        path_text = "/".join(path)
        where = f"model '{name}'"
        config = model.config
        raw_layers = _list(config.get("layers"), f"layers of {where}")
        entries: dict[str, Entry] = {}
        for i, raw in enumerate(raw_layers):
            entry = _entry(raw, i, where, named=True)
            if entry.name in entries:
                raise ModelFileError(f"layer name '{entry.name}' appears twice in {where}")
            entries[entry.name] = entry
        for entry in entries.values():
            entry.calls = [] if entry.is_input else _calls(entry, entries, name)

        if "output_layers" not in config:
            raise ModelFileError(f"malformed Keras config: {where} has no output_layers")
        input_refs = _io_refs(config.get("input_layers", []), f"input_layers of {where}")
        output_refs = _io_refs(config["output_layers"], f"output_layers of {where}")

        def lookup(ref: Ref, user: str) -> Entry:
            entry = entries.get(ref.layer)
            if entry is None:
                raise ModelFileError(
                    f"{user} in {where} refers to unknown layer '{ref.layer}'"
                )
            return entry

        def call_index(ref: Ref, user: str, for_io: bool = False) -> int:
            """The position in ``inbound_nodes`` of the call a reference means."""
            entry = lookup(ref, user)
            if ref.tensor >= MAX_LAYER_OUTPUTS:
                # The builder makes that many output tensors: refuse before it does.
                raise ModelFileError(
                    f"{user} in {where} refers to output {ref.tensor} of layer '{ref.layer}' "
                    f"(a layer has at most {MAX_LAYER_OUTPUTS} outputs)"
                )
            if entry.is_input:
                return 0
            count = len(entry.calls)
            offset = self.node_offset(entry, for_io)
            index = ref.node - offset
            if not 0 <= index < count and entry.model_kind is not None:
                index = ref.node - (1 - offset)  # a numbering this reader did not expect
            if not 0 <= index < count:
                raise ModelFileError(
                    f"{user} in {where} refers to call {ref.node} of layer '{ref.layer}', "
                    f"which has {count} call(s)"
                )
            return index

        # Model inputs: tensors of the InputLayers, or what the outer model passes in.
        produced: dict[tuple[str, int], list[Tensor]] = {}
        inputs: list[Tensor] = []
        if call_inputs is not None and len(call_inputs) != len(input_refs):
            raise ModelFileError(
                f"{where} has {len(input_refs)} input(s) but is called with "
                f"{len(call_inputs)} tensor(s)"
            )
        for i, ref in enumerate(input_refs):
            entry = lookup(ref, "input_layers")
            if not entry.is_input:
                raise ModelFileError(f"input '{ref.layer}' of {where} is not an InputLayer")
            if call_inputs is not None:
                tensor = call_inputs[i]
            else:
                tensor = self.input_tensor(path_text, entry.name, entry.config)
            produced[(entry.name, 0)] = [tensor]
            inputs.append(tensor)
        for entry in entries.values():
            if entry.is_input and (entry.name, 0) not in produced:
                produced[(entry.name, 0)] = [
                    self.input_tensor(path_text, entry.name, entry.config)
                ]

        # Resolve every reference once: dependencies and output counts.
        units: list[tuple[Entry, int]] = []
        unit_of: dict[tuple[str, int], int] = {}
        for entry in entries.values():
            for c in range(len(entry.calls)):
                unit_of[(entry.name, c)] = len(units)
                units.append((entry, c))
        resolved: list[list[tuple[Ref, int]]] = []
        width: Counter[tuple[str, int]] = Counter()
        dependents: list[list[int]] = [[] for _ in units]
        pending = [0] * len(units)
        for u, (entry, c) in enumerate(units):
            user = f"layer '{entry.name}'"
            refs = [(ref, call_index(ref, user)) for ref in entry.calls[c].refs]
            resolved.append(refs)
            for ref, index in refs:
                key = (ref.layer, index)
                width[key] = max(width[key], ref.tensor + 1)
                if key in unit_of:
                    dependents[unit_of[key]].append(u)
                    pending[u] += 1
        outputs_at = [(ref, call_index(ref, "output_layers", for_io=True)) for ref in output_refs]
        for ref, index in outputs_at:
            width[(ref.layer, index)] = max(width[(ref.layer, index)], ref.tensor + 1)

        order = _topological_order(dependents, pending)
        if len(order) < len(units):
            left = sorted({units[u][0].name for u in set(range(len(units))) - set(order)})
            shown = ", ".join(f"'{n}'" for n in left[:5]) + (", ..." if len(left) > 5 else "")
            raise ModelFileError(f"the layers of {where} form a cycle (unordered: {shown})")
        for u in order:
            entry, c = units[u]
            tensors = [self.resolve(produced, ref, index, where) for ref, index in resolved[u]]
            call = entry.calls[c]
            if c == 0:
                self.learn_build_shape(entry, tensors[: len(call.args)])
            if entry.model_kind is not None:
                wired = tensors[: len(call.args)] if call.args else tensors
                _, outs = self.model(entry, (*path, entry.name), wired)
            else:
                outs = self.add_layer(entry, path, tensors, max(width[(entry.name, c)], 1))
            produced[(entry.name, c)] = outs

        outputs = [self.resolve(produced, ref, index, where) for ref, index in outputs_at]
        return inputs, outputs

    @classmethod
    def resolve(
        cls, produced: dict[tuple[str, int], list[Tensor]], ref: Ref, index: int, where: str
    ) -> Tensor:
        tensors = produced.get((ref.layer, index))
        if tensors is None or not 0 <= ref.tensor < len(tensors):
            raise ModelFileError(
                f"{where} refers to output {ref.tensor} of call {ref.node} of layer "
                f"'{ref.layer}', which does not exist"
            )
        tensor = tensors[ref.tensor]
        cls.learn(tensor, ref)
        return tensor


def _topological_order(dependents: list[list[int]], pending: list[int]) -> list[int]:
    """Kahn's algorithm, ties broken by config order; leaves out what a cycle blocks.

    Keras configs list layers in a usable order, but nothing guarantees it.
    """
    pending = list(pending)
    ready = [u for u, count in enumerate(pending) if count == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        u = heapq.heappop(ready)
        order.append(u)
        for v in dependents[u]:
            pending[v] -= 1
            if pending[v] == 0:
                heapq.heappush(ready, v)
    return order


# -- entry point ------------------------------------------------------------------------------


def _policy(policies: Counter[str]) -> str | None:
    """The dtype policy of the model: a mixed one if any layer has it, else the commonest."""
    mixed = [name for name, _ in policies.most_common() if name.startswith("mixed_")]
    if mixed:
        return mixed[0]
    return policies.most_common(1)[0][0] if policies else None


def build_keras_graph(config: dict[str, Any], path: str, facts: Facts) -> ModelGraph:
    """Build the graph of a model config (``{"class_name": ..., "config": ...}``).

    ``facts`` are what the container reader found (``container``,
    ``keras_version``, ``backend``, ``has_weights``, ``layers_with_weights``).
    Malformed configs raise :class:`ModelFileError`.
    """
    top = _dict(config, "the model config")
    class_name = top.get("class_name")
    if not isinstance(class_name, str):
        raise ModelFileError("malformed Keras config: the model has no class_name")
    kind = model_kind(class_name, top.get("config"))
    if kind is None and class_name in MODEL_CLASSES:
        # A model class with a broken layer list: reading it says what is wrong.
        kind = "sequential" if class_name == "Sequential" else "functional"
    if kind is None:
        if class_name in builtin_layers()["common"]:
            raise ModelFileError(f"config is a single '{class_name}' layer, not a model")
        raise ModelFileError(
            f"model class '{class_name}' lists no layers in its config (a subclassed model?); "
            "only Functional and Sequential models can be read"
        )
    inner = top.get("config")
    name = inner.get("name") if isinstance(inner, dict) else None
    if not isinstance(name, str) or not name:
        name = class_name.lower()
    keras_version = facts.get("keras_version") or top.get("keras_version")
    if not isinstance(keras_version, str):
        keras_version = None
    dialect = detect_dialect(top, keras_version)

    graph = ModelGraph(path, "keras")
    builder = _Builder(graph, dialect)
    model = Entry(name, class_name, inner if isinstance(inner, dict) else {}, top, 0, kind)
    try:
        inputs, outputs = builder.model(model, (name,), None)
    except RecursionError:
        raise ModelFileError("Keras config nests models too deeply") from None
    graph.inputs = inputs
    graph.outputs = outputs
    graph.facts["keras"] = {
        "dialect": dialect,
        "container": facts.get("container"),
        "keras_version": keras_version,
        "backend": facts.get("backend") or top.get("backend"),
        "model_class": class_name,
        "model_name": name,
        "dtype_policy": _policy(builder.policies),
        "dtype_policies": dict(builder.policies),
        "has_weights": bool(facts.get("has_weights")),
        "layers_with_weights": list(facts.get("layers_with_weights") or []),
    }
    # The parsed documents as read (node options are views into "model"), so
    # that security rules can audit every value, not only what became a node.
    graph.facts["keras_config"] = {
        "model": top,
        "training": facts.get("training_config"),
    }
    return graph
