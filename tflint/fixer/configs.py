"""Find layers and tensor references in a Keras model config, in its own dialect.

The fixer edits the config exactly as the file wrote it, so that a rewritten
Keras 2.0.x, tf.keras 2.x or Keras 3 config stays in that dialect:

* Keras 3 calls are ``{"args": [...], "kwargs": {...}}`` whose tensors are
  ``{"class_name": "__keras_tensor__", "config": {"keras_history": [layer,
  node, tensor], ...}}``;
* Keras 2 calls are nests of ``[layer, node, tensor, kwargs]`` lists, and
  tf.keras puts tensors passed by keyword in ``kwargs`` as 3-lists;
* ``output_layers`` are ``[layer, node, tensor]`` lists in every dialect.

Nothing here imports Keras or resolves a class: a config is plain JSON data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from tflint.loaders.keras_config import WRAPPERS, model_kind

KERAS_TENSOR = "__keras_tensor__"

#: A reference to output ``tensor`` of call ``node`` of ``layer``.
Ref = tuple[str, int, int]


class ActionError(Exception):
    """An action cannot be applied to this config; the message says why, in the user's terms."""


@dataclass
class ModelRef:
    """One model of a config: the top model or a model used as a layer."""

    #: Names from the top model down, e.g. ``("outer", "backbone")``.
    path: tuple[str, ...]
    kind: str  # "functional" | "sequential"
    #: The config's list of layer entries (the very list object: edits land in the document).
    layers: list[dict[str, Any]]
    #: The dict holding ``layers`` (and ``input_layers``/``output_layers``); ``None`` when a
    #: Keras 2.0 Sequential config is a bare list.
    config: dict[str, Any] | None

    @property
    def location(self) -> str | None:
        """The model as :class:`tflint.graph.Location` names it (``None`` for the top model)."""
        return "/".join(self.path[1:]) or None

    def describe(self) -> str:
        return f"model '{self.path[-1]}'"


def entry_name(entry: dict[str, Any]) -> str | None:
    name = entry.get("name")
    if not isinstance(name, str):
        config = entry.get("config")
        name = config.get("name") if isinstance(config, dict) else None
    return name if isinstance(name, str) else None


def bare_class(class_name: str) -> str:
    """``seed>CustomActivation`` is the class ``CustomActivation``."""
    return class_name.rsplit(">", 1)[-1] or class_name


def _model_ref(entry: dict[str, Any], path: tuple[str, ...]) -> ModelRef | None:
    class_name = entry.get("class_name")
    config = entry.get("config")
    kind = model_kind(class_name, config) if isinstance(class_name, str) else None
    if kind is None:
        return None
    if isinstance(config, list):
        return ModelRef(path, "sequential", config, None)
    return ModelRef(path, kind, config["layers"], config)


def top_model(document: dict[str, Any]) -> ModelRef:
    config = document.get("config")
    name = config.get("name") if isinstance(config, dict) else None
    ref = _model_ref(document, (name if isinstance(name, str) else "model",))
    if ref is None:
        raise ActionError("the config is not a Functional or Sequential model")
    return ref


def models(document: dict[str, Any]) -> list[ModelRef]:
    """Every model of the config, the top one first, then nested ones depth-first."""
    found: list[ModelRef] = []
    pending = [top_model(document)]
    while pending:
        model = pending.pop()
        found.append(model)
        nested = []
        for position, entry in enumerate(model.layers):
            name = entry_name(entry) or f"layer_{position}"
            inner = _model_ref(entry, (*model.path, name)) if isinstance(entry, dict) else None
            if inner is not None:
                nested.append(inner)
        pending.extend(reversed(nested))
    return found


def find_model(document: dict[str, Any], location: str | None) -> ModelRef:
    for model in models(document):
        if model.location == (location or None):
            return model
    raise ActionError(f"no model '{location}' in the config")


def find_layer(document: dict[str, Any], name: str,
               location: str | None = None) -> tuple[ModelRef, int]:
    """The model holding layer ``name`` and its position in that model's layer list.

    ``location`` picks the model (as ``Location.model`` names it); without it
    the name must be unique across the top model and the nested ones.
    """
    if location is not None:
        model = find_model(document, location)
        for position, entry in enumerate(model.layers):
            if entry_name(entry) == name:
                return model, position
        raise ActionError(f"no layer '{name}' in {model.describe()}")
    hits = [(model, position) for model in models(document)
            for position, entry in enumerate(model.layers) if entry_name(entry) == name]
    if not hits:
        raise ActionError(f"no layer '{name}' in the model")
    if len(hits) > 1:
        where = ", ".join(repr(m.location or m.path[0]) for m, _ in hits)
        raise ActionError(f"layer name '{name}' is used in several models ({where}); "
                          "name it as MODEL/LAYER")
    return hits[0]


def is_model_entry(entry: dict[str, Any]) -> bool:
    return _model_ref(entry, ("",)) is not None


def is_wrapper(entry: dict[str, Any]) -> bool:
    return entry.get("class_name") in WRAPPERS


def uses_module_keys(model: ModelRef) -> bool:
    """Whether the file writes ``module``/``registered_name`` on layer entries (tf.keras 2.13+)."""
    return any(isinstance(entry, dict) and "module" in entry for entry in model.layers)


# -- references ----------------------------------------------------------------------------


def _list_ref(value: Any) -> bool:
    """``[layer, node, tensor]`` or ``[layer, node, tensor, kwargs]`` (Keras 2)."""
    return (isinstance(value, list) and len(value) in (3, 4) and isinstance(value[0], str)
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value[1:3])
            and (len(value) == 3 or value[3] is None or isinstance(value[3], dict)))


def keras3_history(value: Any) -> Ref | None:
    if not (isinstance(value, dict) and value.get("class_name") == KERAS_TENSOR):
        return None
    config = value.get("config")
    history = config.get("keras_history") if isinstance(config, dict) else None
    if isinstance(history, list) and len(history) == 3 and isinstance(history[0], str):
        return history[0], history[1], history[2]
    return None


#: Called on every reference; returns its replacement, or ``None`` to keep it.
Rewrite = Callable[[Ref, Any], Any]


def _walk_keras3(value: Any, rewrite: Rewrite) -> Any:
    ref = keras3_history(value)
    if ref is not None:
        replacement = rewrite(ref, value)
        return value if replacement is None else replacement
    if isinstance(value, dict):
        for key in list(value):
            value[key] = _walk_keras3(value[key], rewrite)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            value[i] = _walk_keras3(item, rewrite)
    return value


def _walk_list_kwargs(value: Any, names: set[str], rewrite: Rewrite) -> Any:
    """tf.keras writes tensors passed by keyword as ``[layer, node, tensor]`` in kwargs."""
    if isinstance(value, list):
        if len(value) == 3 and _list_ref(value) and value[0] in names:
            replacement = rewrite((value[0], value[1], value[2]), value)
            return value if replacement is None else replacement
        for i, item in enumerate(value):
            value[i] = _walk_list_kwargs(item, names, rewrite)
    elif isinstance(value, dict):
        for key in list(value):
            value[key] = _walk_list_kwargs(value[key], names, rewrite)
    return value


def _walk_list_node(value: Any, names: set[str], rewrite: Rewrite) -> Any:
    if _list_ref(value):
        if len(value) == 4 and isinstance(value[3], dict):
            value[3] = _walk_list_kwargs(value[3], names, rewrite)
        replacement = rewrite((value[0], value[1], value[2]), value)
        return value if replacement is None else replacement
    if isinstance(value, list):
        for i, item in enumerate(value):
            value[i] = _walk_list_node(item, names, rewrite)
    elif isinstance(value, dict):
        for key in list(value):
            value[key] = _walk_list_node(value[key], names, rewrite)
    return value


def rewrite_call_refs(entry: dict[str, Any], names: set[str], rewrite: Rewrite) -> None:
    """Apply ``rewrite`` to every tensor reference in a layer's ``inbound_nodes``."""
    nodes = entry.get("inbound_nodes")
    if not isinstance(nodes, list):
        return
    for i, node in enumerate(nodes):
        if isinstance(node, dict) and ("args" in node or "kwargs" in node):
            nodes[i] = _walk_keras3(node, rewrite)
        else:
            nodes[i] = _walk_list_node(node, names, rewrite)


def rewrite_output_refs(model: ModelRef, rewrite: Rewrite) -> None:
    """Apply ``rewrite`` to the model's ``output_layers`` references."""
    if model.config is None or "output_layers" not in model.config:
        return

    def walk(value: Any) -> Any:
        if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
            replacement = rewrite((value[0], value[1], value[2]), value)
            return value if replacement is None else replacement
        if isinstance(value, list):
            return [walk(item) for item in value]
        if isinstance(value, dict):
            return {key: walk(item) for key, item in value.items()}
        return value

    model.config["output_layers"] = walk(model.config["output_layers"])


def rewrite_model_refs(model: ModelRef, rewrite: Rewrite) -> None:
    """Apply ``rewrite`` to every reference in a functional model (calls and outputs)."""
    names = {n for n in map(entry_name, model.layers) if n is not None}
    for entry in model.layers:
        rewrite_call_refs(entry, names, rewrite)
    rewrite_output_refs(model, rewrite)


def references(model: ModelRef) -> Iterator[tuple[str, Ref]]:
    """Every ``(user, reference)`` of a functional model; ``user`` is a layer name or
    ``"<output>"`` for ``output_layers``.  Read-only."""
    names = {n for n in map(entry_name, model.layers) if n is not None}
    found: list[tuple[str, Ref]] = []
    for entry in model.layers:
        user = entry_name(entry) or "?"
        rewrite_call_refs(entry, names, lambda ref, _value, user=user: found.append((user, ref)))
    rewrite_output_refs(model, lambda ref, _value: found.append(("<output>", ref)))
    return iter(found)


def call_inputs(entry: dict[str, Any], names: set[str]) -> list[list[tuple[Ref, Any]]]:
    """Per call of a layer: the tensor references it consumes, with their raw values."""
    calls: list[list[tuple[Ref, Any]]] = []
    nodes = entry.get("inbound_nodes")
    if not isinstance(nodes, list):
        return calls
    for node in nodes:
        found: list[tuple[Ref, Any]] = []
        holder = {"inbound_nodes": [node]}
        rewrite_call_refs(holder, names,
                          lambda ref, value, found=found: found.append((ref, value)))
        calls.append(found)
    return calls
