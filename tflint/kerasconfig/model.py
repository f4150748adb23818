"""A Keras model config as objects: its dialect, models, layers, wiring and references.

Three dialects are read, told apart by the Keras version and the shape of
``inbound_nodes``:

* ``keras2.0``: standalone Keras 2.0-2.3 and tf.keras before 2.4
  (top-level ``class_name: "Model"``, Sequential configs that are a bare
  list of layers, list-style ``inbound_nodes`` such as ``[[["dense_1", 0, 0, {}]]]``);
* ``tf.keras2``: tf.keras 2.4+ / tf_keras (``Functional``, same list style);
* ``keras3``: ``inbound_nodes`` as ``[{"args": [...], "kwargs": {...}}]``.

The objects are views into the parsed JSON document: reading costs no copy,
and an edit changes the document in place, in the file's own spelling, so
that :meth:`KerasModelConfig.to_json` writes the same dialect back and leaves
every part no edit touched as it was.  Each layer's class and the functions
and classes its config names are resolved once (:mod:`.references`).
Nothing is imported or executed.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any

from tflint.errors import ModelFileError
from tflint.kerasconfig.references import (
    Reference,
    bare_name,
    builtin_layers,
    policy_name,
    resolve,
    resolve_class,
    slot_of,
)
from tflint.kerasconfig.wiring import (
    Call,
    RefKey,
    Rewrite,
    TensorRef,
    keras3_history,
    parse_calls,
    parse_io,
    rewrite_calls,
    rewrite_io,
    tensor_only_calls,
)

KERAS3 = "keras3"
TF_KERAS2 = "tf.keras2"
KERAS20 = "keras2.0"
WRAPPERS = frozenset({"TimeDistributed", "Bidirectional"})
MODEL_CLASSES = frozenset({"Functional", "Model", "Sequential"})
#: Keys of a wrapper's config that hold the wrapped layers.
WRAPPED_KEYS = ("layer", "backward_layer")
#: Config keys Keras 3 renamed; the value is the tf.keras / Keras 2 spelling.
KERAS2_KEYS = {("LeakyReLU", "negative_slope"): "alpha"}
OUTPUT_USER = "<output>"


class ConfigEditError(Exception):
    """An edit cannot be made to this config; the message says why, in the user's terms."""


# -- small validated accessors ----------------------------------------------------------


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ModelFileError(f"malformed Keras config: {what} is not an object")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ModelFileError(f"malformed Keras config: {what} is not a list")
    return value


def _version(text: str | None) -> tuple[int, int] | None:
    match = re.match(r"\s*(\d+)\.(\d+)", text or "")
    return (int(match[1]), int(match[2])) if match else None


# -- dialect --------------------------------------------------------------------------------


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
        return KERAS3
    version = _version(keras_version)
    if version is not None:
        if version[0] >= 3:
            return KERAS3
        return KERAS20 if version < (2, 4) else TF_KERAS2
    if top.get("class_name") == "Model" or isinstance(config, list):
        return KERAS20
    # A Sequential config tells little; Keras 3 alone writes batch_shape and DTypePolicy.
    if isinstance(layers, list) and layers and isinstance(layers[0], dict):
        first = layers[0].get("config")
        if isinstance(first, dict) and (
            "batch_shape" in first
            or (isinstance(first.get("dtype"), dict)
                and first["dtype"].get("class_name") == "DTypePolicy")
        ):
            return KERAS3
    return TF_KERAS2


# -- layers -----------------------------------------------------------------------------------


@dataclass(eq=False)
class LayerConfig:
    """One layer entry of a model (or a layer a wrapper holds)."""

    raw: dict[str, Any]
    position: int
    #: The name Keras gives the layer (made up as ``<class>_<position>`` when none is written).
    name: str
    #: The name the config writes, if it writes one.
    written_name: str | None
    class_name: str
    #: The layer's config; ``{}`` when a Keras 2.0 Sequential model writes its layer list there.
    config: dict[str, Any]
    #: "functional" / "sequential" for a model used as a layer, else None.
    model_kind: str | None
    #: The config's dialect (``None``: unknown, and Keras 3's ``ops`` layers do not count
    #: as Keras' own).
    dialect: str | None
    #: The layer's class, resolved.
    reference: Reference = field(init=False)
    _references: dict[str, Reference] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.reference = resolve_class(self.raw, "layer", self.dialect)

    @classmethod
    def parse(cls, raw: Any, position: int, where: str, named: bool,
              dialect: str | None) -> LayerConfig:
        """A layer entry, validated; ``named``: the name must be written (Functional)."""
        raw = _dict(raw, f"layer {position} of {where}")
        class_name = raw.get("class_name")
        if not isinstance(class_name, str) or not class_name:
            raise ModelFileError(
                f"malformed Keras config: layer {position} of {where} has no class_name")
        config = raw.get("config", {})
        kind = model_kind(class_name, config)
        if kind is None:
            config = _dict(config, f"config of layer {position} of {where}")
        written = _written_name(raw)
        name = raw.get("name") if named else None
        if name is None and isinstance(config, dict):
            name = config.get("name")
        if not isinstance(name, str) or not name:
            if named:
                raise ModelFileError(
                    f"malformed Keras config: layer {position} of {where} has no name")
            name = f"{class_name.lower()}_{position}"
        return cls(raw, position, name, written, class_name,
                   config if isinstance(config, dict) else {}, kind, dialect)

    @classmethod
    def lenient(cls, raw: dict[str, Any], position: int,
                dialect: str | None) -> LayerConfig | None:
        """A layer entry when it has a class name, whatever else is wrong with it."""
        class_name = raw.get("class_name")
        if not isinstance(class_name, str) or not class_name:
            return None
        config = raw.get("config")
        written = _written_name(raw)
        return cls(raw, position, written or f"{class_name.lower()}_{position}", written,
                   class_name, config if isinstance(config, dict) else {},
                   model_kind(class_name, config), dialect)

    # -- what the layer is ---------------------------------------------------------------
    @property
    def bare_class(self) -> str:
        """The class name without a registered package (``seed>Act`` is ``Act``)."""
        return bare_name(self.class_name)

    @property
    def is_input(self) -> bool:
        return self.class_name == "InputLayer"

    @property
    def is_wrapper(self) -> bool:
        return self.class_name in WRAPPERS

    @property
    def is_model(self) -> bool:
        return self.model_kind is not None

    @property
    def is_custom(self) -> bool:
        """Its class is not one Keras ships: registered, local or foreign code."""
        return not self.reference.is_builtin

    @property
    def origin(self) -> str:
        """``lambda``, ``custom`` (its code is the author's) or ``builtin``; a wrapper is as
        opaque as what it wraps."""
        if self.class_name == "Lambda":
            return "lambda"
        if self.is_custom:
            return "custom"
        for inner in self.wrapped:
            if inner.origin != "builtin":
                return inner.origin
        return "builtin"

    @property
    def wrapped(self) -> list[LayerConfig]:
        """The layers a wrapper (TimeDistributed, Bidirectional, QAT wrappers) holds."""
        found = []
        for key in WRAPPED_KEYS:
            inner = self.config.get(key)
            if isinstance(inner, dict):
                layer = LayerConfig.lenient(inner, 0, self.dialect)
                if layer is not None:
                    found.append(layer)
        return found

    @property
    def wrapped_class(self) -> str | None:
        """The bare class of the layer TimeDistributed/Bidirectional wraps."""
        if not self.is_wrapper:
            return None
        inner = self.config.get("layer")
        if isinstance(inner, dict) and isinstance(inner.get("class_name"), str):
            return bare_name(inner["class_name"])
        return None

    @property
    def references(self) -> dict[str, Reference]:
        """The functions and classes the layer's config names, by config key."""
        if self._references is None:
            self._references = config_references(self.config, self.dialect)
        return self._references

    @property
    def activation(self) -> Reference | None:
        return self.references.get("activation")

    @property
    def policy(self) -> str | None:
        """The dtype policy (or dtype) name the layer is written with."""
        return policy_name(self.config.get("dtype"))

    def build_input_shape(self) -> Any:
        """The input shape Keras 3 and late tf.keras record the layer was built with."""
        build = self.raw.get("build_config")
        return build.get("input_shape") if isinstance(build, dict) else None

    def calls(self, names: set[str], model: str) -> list[Call]:
        """The layer's calls and the tensors each reads (validated)."""
        where = f"inbound_nodes of layer '{self.name}' in model '{model}'"
        return parse_calls(self.raw.get("inbound_nodes", []), names, where)

    def call_inputs(self, names: set[str]) -> list[list[tuple[RefKey, Any]]]:
        """Per call: the tensor references it reads, with their raw values (unvalidated)."""
        calls: list[list[tuple[RefKey, Any]]] = []
        nodes = self.raw.get("inbound_nodes")
        if not isinstance(nodes, list):
            return calls
        for node in nodes:
            found: list[tuple[RefKey, Any]] = []

            def collect(ref: RefKey, value: Any, found: list[tuple[RefKey, Any]] = found) -> None:
                found.append((ref, value))

            rewrite_calls([node], names, collect)
            calls.append(found)
        return calls

    def set_option(self, key: str, value: Any) -> None:
        """Set one config value (an edit)."""
        self.config[key] = value
        self._references = None


def _written_name(raw: dict[str, Any]) -> str | None:
    name = raw.get("name")
    if not isinstance(name, str):
        config = raw.get("config")
        name = config.get("name") if isinstance(config, dict) else None
    return name if isinstance(name, str) else None


def config_references(config: dict[str, Any], dialect: str | None) -> dict[str, Reference]:
    """Serialized objects and activation names among a config's values, resolved."""
    found: dict[str, Reference] = {}
    for key, value in config.items():
        slot = slot_of(key)
        reference = resolve(value, slot or "object", dialect)
        if reference is not None:
            found[key] = reference
    return found


# -- models ----------------------------------------------------------------------------------


class ModelConfig:
    """One model of a config: the top model or a model used as a layer."""

    def __init__(self, entry: LayerConfig, path: tuple[str, ...]) -> None:
        self.entry = entry
        #: Names from the top model down, e.g. ``("outer", "backbone")``.
        self.path = path
        self.kind = entry.model_kind or "functional"
        self.dialect = entry.dialect
        self.layers: list[LayerConfig] = []
        self.refresh()

    @property
    def name(self) -> str:
        return self.path[-1]

    @property
    def location(self) -> str | None:
        """The model as :class:`tflint.graph.Location` names it (``None`` for the top model)."""
        return "/".join(self.path[1:]) or None

    def describe(self) -> str:
        return f"model '{self.name}'"

    @property
    def config(self) -> dict[str, Any] | None:
        """The dict holding ``layers`` (and ``input_layers``/``output_layers``); ``None`` when
        a Keras 2.0 Sequential config is a bare list."""
        config = self.entry.raw.get("config")
        return config if isinstance(config, dict) else None

    @property
    def raw_layers(self) -> list[Any]:
        """The config's list of layer entries (the very list object)."""
        config = self.entry.raw.get("config")
        layers = config.get("layers") if isinstance(config, dict) else config
        return _list(layers, f"layers of {self.describe()}")

    def refresh(self) -> None:
        """Parse the layer entries again (after an edit)."""
        where = self.describe()
        named = self.kind == "functional"
        layers = []
        seen: set[str] = set()
        for position, raw in enumerate(self.raw_layers):
            layer = LayerConfig.parse(raw, position, where, named, self.dialect)
            if named:
                if layer.name in seen:
                    raise ModelFileError(f"layer name '{layer.name}' appears twice in {where}")
                seen.add(layer.name)
            layers.append(layer)
        self.layers = layers

    @property
    def names(self) -> set[str]:
        return {layer.name for layer in self.layers}

    def layer(self, name: str) -> LayerConfig | None:
        return next((layer for layer in self.layers if layer.name == name), None)

    def nested(self) -> list[ModelConfig]:
        return [ModelConfig(layer, (*self.path, layer.name))
                for layer in self.layers if layer.is_model]

    def input_refs(self) -> list[TensorRef]:
        config = self.config or {}
        return parse_io(config.get("input_layers", []), f"input_layers of {self.describe()}")

    def output_refs(self) -> list[TensorRef]:
        config = self.config or {}
        if "output_layers" not in config:
            raise ModelFileError(
                f"malformed Keras config: {self.describe()} has no output_layers")
        return parse_io(config["output_layers"], f"output_layers of {self.describe()}")

    @property
    def uses_module_keys(self) -> bool:
        """Whether the file writes ``module``/``registered_name`` on layer entries."""
        return any("module" in layer.raw for layer in self.layers)

    # -- references between layers ---------------------------------------------------------
    def references(self) -> list[tuple[str, RefKey]]:
        """Every ``(user, reference)`` of the model; ``user`` is a layer name or
        ``"<output>"`` for ``output_layers``.  Read-only."""
        found: list[tuple[str, RefKey]] = []

        def collector(user: str) -> Rewrite:
            def collect(ref: RefKey, _value: Any) -> None:
                found.append((user, ref))
            return collect

        names = self.names
        for layer in self.layers:
            rewrite_calls(layer.raw.get("inbound_nodes"), names, collector(layer.name))
        config = self.config
        if config is not None and "output_layers" in config:
            rewrite_io(config["output_layers"], collector(OUTPUT_USER))
        return found

    def rewrite_references(self, rewrite: Rewrite) -> None:
        """Apply ``rewrite`` to every reference of the model (calls and outputs), in place."""
        names = self.names
        for layer in self.layers:
            rewrite_calls(layer.raw.get("inbound_nodes"), names, rewrite)
        config = self.config
        if config is not None and "output_layers" in config:
            config["output_layers"] = rewrite_io(config["output_layers"], rewrite)

    # -- edits ---------------------------------------------------------------------------------
    def new_entry(self, old: LayerConfig, class_name: str,
                  config: dict[str, Any]) -> dict[str, Any]:
        """A layer entry for ``class_name`` taking ``old``'s place (name, calls, dtype), written
        as this file writes its entries."""
        layer_config: dict[str, Any] = {"name": old.written_name,
                                        "trainable": old.config.get("trainable", True)}
        if "dtype" in old.config:
            layer_config["dtype"] = copy.deepcopy(old.config["dtype"])
        layer_config.update(dialect_config(self.dialect, class_name, config))
        # Keras 3 legacy .h5 saves write no module keys: follow the file, not the dialect.
        module_keys = self.uses_module_keys
        entry: dict[str, Any] = {}
        if module_keys:
            entry["module"] = "keras.layers"
        entry["class_name"] = class_name
        entry["config"] = layer_config
        if module_keys:
            entry["registered_name"] = None
        for key in ("build_config", "name"):
            if key in old.raw:
                entry[key] = copy.deepcopy(old.raw[key])
        if "inbound_nodes" in old.raw:
            entry["inbound_nodes"] = tensor_only_calls(old.raw["inbound_nodes"])
        return entry

    def replace_layer(self, old: LayerConfig, class_name: str,
                      config: dict[str, Any]) -> LayerConfig:
        """Put a new ``class_name`` layer in the place of ``old``."""
        self.raw_layers[old.position] = self.new_entry(old, class_name, config)
        self.refresh()
        return self.layers[old.position]

    def remove_layer(self, old: LayerConfig, source: tuple[RefKey, Any] | None = None) -> None:
        """Remove layer ``old``; its users read ``source`` (a reference and its raw value as
        the layer's own call wrote it) instead."""
        name = old.name
        if source is not None:
            (into, node, tensor), source_value = source

            def rewrite(ref: RefKey, value: Any) -> Any:
                if ref[0] != name:
                    return None
                if keras3_history(value) is not None:
                    return copy.deepcopy(source_value)
                replacement: list[Any] = [into, node, tensor]
                if isinstance(value, list) and len(value) == 4:
                    replacement.append(value[3])  # the consumer's own call kwargs
                return replacement

            self.rewrite_references(rewrite)
        del self.raw_layers[old.position]
        self.refresh()


def dialect_config(dialect: str | None, class_name: str, config: dict[str, Any]) -> dict[str, Any]:
    """Spell a layer's arguments the way the file's Keras does."""
    out = {}
    for key, value in config.items():
        keras2 = KERAS2_KEYS.get((class_name, key))
        keras3 = next((k3 for (cls, k3), k2 in KERAS2_KEYS.items()
                       if cls == class_name and k2 == key), None)
        if dialect != KERAS3 and keras2 is not None:
            key = keras2
        elif dialect == KERAS3 and keras3 is not None:
            key = keras3
        out[key] = list(value) if isinstance(value, tuple) else copy.deepcopy(value)
    return out


# -- the document -------------------------------------------------------------------------------


class KerasModelConfig:
    """A whole model config document (``{"class_name": ..., "config": ...}``)."""

    def __init__(self, document: Any, keras_version: str | None = None,
                 dialect: str | None = None) -> None:
        """``dialect``: the dialect when the caller already knows it (else detected)."""
        top = _dict(document, "the model config")
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
                f"model class '{class_name}' lists no layers in its config (a subclassed "
                "model?); only Functional and Sequential models can be read")
        inner = top.get("config")
        name = inner.get("name") if isinstance(inner, dict) else None
        if not isinstance(name, str) or not name:
            name = class_name.lower()
        version = keras_version or top.get("keras_version")
        self.document = top
        self.keras_version = version if isinstance(version, str) else None
        self.dialect = dialect or detect_dialect(top, self.keras_version)
        self.class_name = class_name
        self.name = name
        self.entry = LayerConfig(top, 0, name, name, class_name,
                                 inner if isinstance(inner, dict) else {}, kind, self.dialect)
        self._top: ModelConfig | None = None

    @property
    def top(self) -> ModelConfig:
        if self._top is None:
            self._top = ModelConfig(self.entry, (self.name,))
        return self._top

    def models(self) -> list[ModelConfig]:
        """Every model of the config, the top one first, then nested ones depth-first."""
        found: list[ModelConfig] = []
        pending = [self.top]
        while pending:
            model = pending.pop()
            found.append(model)
            pending.extend(reversed(model.nested()))
        return found

    def find_model(self, location: str | None) -> ModelConfig | None:
        return next((m for m in self.models() if m.location == (location or None)), None)

    def layers_named(self, name: str) -> list[tuple[ModelConfig, LayerConfig]]:
        """Every layer called ``name``, with its model, across all models."""
        return [(model, layer) for model in self.models() for layer in model.layers
                if layer.written_name == name]

    # -- edits -------------------------------------------------------------------------------
    def set_input_shape(self, name: str, shape: list[int | None]) -> Any:
        """Give the top model's input ``name`` a shape; only unknown dimensions change.

        Returns the shape written before.  Keras 3 also records each tensor's
        shape where it is used: the input's are kept in step (shapes further
        down are recomputed by Keras when the model is built).
        """
        model = self.top
        layer = self._input_layer(model, name)
        config = layer.config
        key = next((k for k in ("batch_shape", "batch_input_shape") if k in config),
                   "batch_shape" if self.dialect == KERAS3 else "batch_input_shape")
        old = config.get(key)
        if isinstance(old, list):
            if len(old) != len(shape):
                raise ConfigEditError(f"input '{name}' has rank {len(old)}, not {len(shape)}")
            for axis, (was, new) in enumerate(zip(old, shape, strict=True)):
                if was is not None and was != new:
                    raise ConfigEditError(
                        f"dimension {axis} of input '{name}' is {was}, not {new}; "
                        "only unknown dimensions can be set")
        config[key] = list(shape)
        if not layer.is_input:
            config.pop("input_shape", None)  # Keras 2 first layers may carry both
        if model.kind == "functional":
            def rewrite(ref: RefKey, value: Any) -> Any:
                if ref[0] == name and keras3_history(value) is not None:
                    value["config"]["shape"] = list(shape)
                return None

            model.rewrite_references(rewrite)
        build = self.document.get("build_config")
        if model.kind == "sequential" and isinstance(build, dict) and "input_shape" in build:
            build["input_shape"] = list(shape)
        return old

    @staticmethod
    def _input_layer(model: ModelConfig, name: str) -> LayerConfig:
        inputs = [layer for layer in model.layers if layer.is_input]
        for layer in inputs:
            if layer.written_name == name:
                return layer
        if model.kind == "sequential" and not inputs and model.layers:
            first = model.layers[0]
            # No InputLayer: Keras builds one named "<first layer>_input" from the first layer.
            if f"{first.written_name}_input" == name and isinstance(first.raw.get("config"),
                                                                      dict):
                return first
        known = ([str(layer.written_name) for layer in inputs]
                 or [f"{model.layers[0].written_name}_input"])
        raise ConfigEditError(f"no input '{name}' in the model (inputs: {', '.join(known)})")

    # -- writing -------------------------------------------------------------------------------
    def to_json(self, indent: int | None = None) -> str:
        """The document, edits included, in the file's dialect."""
        return json.dumps(self.document, indent=indent)
