"""Turn a parsed Keras model config into a :class:`ModelGraph`.

The config is read by :mod:`tflint.kerasconfig` (Keras 2.0.x, tf.keras 2.x
and Keras 3 dialects, layers, wiring, resolved class references); this
module orders the layer calls and makes the graph of them.

Every layer call becomes one :class:`Node`; ``InputLayer`` becomes no node
but the tensor it defines (a model input).  A model used as a layer is
flattened: its layers become nodes of the graph whose ``location.model``
names the model, wired to the tensors the outer model calls it with; its
outputs are the outer call's outputs.  Nothing in the config is executed or
imported: ``Lambda`` code and custom classes are recorded, never resolved.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from tflint.errors import ModelFileError
from tflint.graph import Location, ModelGraph, Node, Tensor
from tflint.kerasconfig.model import KerasModelConfig, LayerConfig, ModelConfig
from tflint.kerasconfig.references import policy_name
from tflint.kerasconfig.wiring import TensorRef, parse_shape
from tflint.partition import topological_order

Facts = dict[str, Any]

#: More outputs than any layer call has (``tf.split`` into 1024 pieces); a reference to a
#: higher output index is malformed.
MAX_LAYER_OUTPUTS = 1024


class _Builder:
    def __init__(self, graph: ModelGraph, dialect: str) -> None:
        self.graph = graph
        self.dialect = dialect
        #: Calls made so far of each layer, by (model path, layer name).
        self.call_counts: Counter[tuple[str, str]] = Counter()
        self.policies: Counter[str] = Counter()

    def node_offset(self, entry: LayerConfig, for_io: bool) -> int:
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
                shape = parse_shape(config[key])
                break
        dtype = policy_name(config.get("dtype"))
        if dtype is not None and dtype.startswith("mixed_"):
            # A first layer's mixed policy: Keras feeds it float32 inputs.
            dtype = "float32"
        return Tensor(id=f"{path}/{name}#0:0", name=name, dtype=dtype, shape=shape)

    @staticmethod
    def learn(tensor: Tensor, ref: TensorRef) -> None:
        """Fill what a Keras 3 tensor reference says about a tensor."""
        if tensor.shape is None and ref.shape is not None:
            tensor.shape = ref.shape
        if tensor.dtype is None and ref.dtype is not None:
            tensor.dtype = ref.dtype

    @staticmethod
    def learn_build_shape(entry: LayerConfig, inputs: list[Tensor]) -> None:
        """Keras 3 and late tf.keras record the input shape a layer was built with."""
        shape = entry.build_input_shape()
        if shape is None or not inputs:
            return
        single = parse_shape(shape)
        if single is not None and len(inputs) == 1:
            if inputs[0].shape is None:
                inputs[0].shape = single
        elif isinstance(shape, list) and len(shape) == len(inputs):
            for tensor, item in zip(inputs, shape, strict=True):
                if tensor.shape is None:
                    tensor.shape = parse_shape(item)

    # -- nodes -------------------------------------------------------------------------------
    def add_layer(
        self, entry: LayerConfig, path: tuple[str, ...], inputs: list[Tensor], outputs: int
    ) -> list[Tensor]:
        path_text = "/".join(path)
        key = (path_text, entry.name)
        call = self.call_counts[key]
        self.call_counts[key] += 1
        tensors = [self.tensor(path_text, entry.name, call, i, outputs) for i in range(outputs)]
        wrapped = entry.wrapped_class
        op_type = entry.bare_class
        policy = entry.policy
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
            origin=entry.origin,
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
        self, model: ModelConfig, call_inputs: list[Tensor] | None
    ) -> tuple[list[Tensor], list[Tensor]]:
        """Add the layers of a model; returns its input and output tensors."""
        if model.kind == "sequential":
            return self.sequential(model, call_inputs)
        return self.functional(model, call_inputs)

    def nested(self, model: ModelConfig, entry: LayerConfig,
               call_inputs: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        return self.model(ModelConfig(entry, (*model.path, entry.name)), call_inputs)

    # -- Sequential ----------------------------------------------------------------------------
    def sequential(
        self, model: ModelConfig, call_inputs: list[Tensor] | None
    ) -> tuple[list[Tensor], list[Tensor]]:
        name, path = model.name, model.path
        entries = model.layers
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
                candidates = (
                    model.entry.config.get("build_input_shape"),
                    model.entry.build_input_shape(),
                )
                current.shape = next((s for s in map(parse_shape, candidates) if s), None)
        inputs = [current]
        for entry in entries:
            if entry.is_input:
                continue
            if entry.model_kind is not None:
                _, outputs = self.nested(model, entry, [current])
                if not outputs:
                    raise ModelFileError(f"model '{entry.name}' has no outputs")
                current = outputs[0]
                continue
            self.learn_build_shape(entry, [current])
            current = self.add_layer(entry, path, [current], 1)[0]
        return inputs, [current]

    # -- Functional ----------------------------------------------------------------------------
    def functional(
        self, model: ModelConfig, call_inputs: list[Tensor] | None
    ) -> tuple[list[Tensor], list[Tensor]]:
        name, path = model.name, model.path
        path_text = "/".join(path)
        where = model.describe()
        entries = {entry.name: entry for entry in model.layers}
        names = set(entries)
        calls = {entry.name: [] if entry.is_input else entry.calls(names, name)
                 for entry in entries.values()}
        output_refs = model.output_refs()
        input_refs = model.input_refs()

        def lookup(ref: TensorRef, user: str) -> LayerConfig:
            entry = entries.get(ref.layer)
            if entry is None:
                raise ModelFileError(
                    f"{user} in {where} refers to unknown layer '{ref.layer}'"
                )
            return entry

        def call_index(ref: TensorRef, user: str, for_io: bool = False) -> int:
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
            count = len(calls[entry.name])
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
        units: list[tuple[LayerConfig, int]] = []
        unit_of: dict[tuple[str, int], int] = {}
        for entry in entries.values():
            for c in range(len(calls[entry.name])):
                unit_of[(entry.name, c)] = len(units)
                units.append((entry, c))
        resolved: list[list[tuple[TensorRef, int]]] = []
        width: Counter[tuple[str, int]] = Counter()
        deps: list[list[int]] = [[] for _ in units]
        for u, (entry, c) in enumerate(units):
            user = f"layer '{entry.name}'"
            refs = [(ref, call_index(ref, user)) for ref in calls[entry.name][c].refs]
            resolved.append(refs)
            for ref, index in refs:
                key = (ref.layer, index)
                width[key] = max(width[key], ref.tensor + 1)
                if key in unit_of:
                    deps[u].append(unit_of[key])
        outputs_at = [(ref, call_index(ref, "output_layers", for_io=True)) for ref in output_refs]
        for ref, index in outputs_at:
            width[(ref.layer, index)] = max(width[(ref.layer, index)], ref.tensor + 1)

        # Keras configs list layers in a usable order, but nothing guarantees it.
        order = topological_order(deps)
        if len(order) < len(units):
            left = sorted({units[u][0].name for u in set(range(len(units))) - set(order)})
            shown = ", ".join(f"'{n}'" for n in left[:5]) + (", ..." if len(left) > 5 else "")
            raise ModelFileError(f"the layers of {where} form a cycle (unordered: {shown})")
        for u in order:
            entry, c = units[u]
            tensors = [self.resolve(produced, ref, index, where) for ref, index in resolved[u]]
            call = calls[entry.name][c]
            if c == 0:
                self.learn_build_shape(entry, tensors[: len(call.args)])
            if entry.model_kind is not None:
                wired = tensors[: len(call.args)] if call.args else tensors
                _, outs = self.nested(model, entry, wired)
            else:
                outs = self.add_layer(entry, path, tensors, max(width[(entry.name, c)], 1))
            produced[(entry.name, c)] = outs

        outputs = [self.resolve(produced, ref, index, where) for ref, index in outputs_at]
        return inputs, outputs

    @classmethod
    def resolve(
        cls, produced: dict[tuple[str, int], list[Tensor]], ref: TensorRef, index: int,
        where: str
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
    document = KerasModelConfig(config, facts.get("keras_version"))
    top, dialect, name = document.document, document.dialect, document.name
    graph = ModelGraph(path, "keras")
    builder = _Builder(graph, dialect)
    try:
        inputs, outputs = builder.model(document.top, None)
    except RecursionError:
        raise ModelFileError("Keras config nests models too deeply") from None
    graph.inputs = inputs
    graph.outputs = outputs
    graph.facts["keras"] = {
        "dialect": dialect,
        "container": facts.get("container"),
        "keras_version": document.keras_version,
        "backend": facts.get("backend") or top.get("backend"),
        "model_class": document.class_name,
        "model_name": name,
        "dtype_policy": _policy(builder.policies),
        "dtype_policies": dict(builder.policies),
        "has_weights": bool(facts.get("has_weights")),
        "layers_with_weights": list(facts.get("layers_with_weights") or []),
    }
    # The parsed documents as read (node options are views into "model"), so
    # that security rules can audit every value, not only what became a node;
    # "parsed" is the same model as objects, its references resolved.
    graph.facts["keras_config"] = {
        "model": top,
        "training": facts.get("training_config"),
        "parsed": document,
    }
    # What the container holds besides the config (zip entries, HDF5 external data).
    graph.facts["container_scan"] = facts.get("container_scan") or {}
    return graph
