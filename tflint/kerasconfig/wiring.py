"""Tensor references in a Keras config: which layer call reads which tensor.

Two spellings, one per dialect family:

* Keras 3 calls are ``{"args": [...], "kwargs": {...}}`` whose tensors are
  ``{"class_name": "__keras_tensor__", "config": {"keras_history": [layer,
  node, tensor], "shape": ..., "dtype": ...}}``;
* Keras 2 calls are nests of ``[layer, node, tensor, kwargs]`` lists; tf.keras
  puts tensors passed by keyword in ``kwargs`` as 3-lists, and a constant first
  argument of a TFOpLambda as ``["_CONSTANT_VALUE", -1, value, kwargs]``;
* ``input_layers``/``output_layers`` are ``[layer, node, tensor]`` lists in every dialect.

Reading (:func:`parse_calls`, :func:`parse_io`) validates and raises
:class:`ModelFileError`; rewriting (:func:`rewrite_calls`) edits the raw
values in place and keeps the dialect's spelling.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tflint.errors import ModelFileError
from tflint.graph import Shape
from tflint.kerasconfig.references import policy_name

KERAS_TENSOR = "__keras_tensor__"
#: tf.keras writes a constant first argument of a TFOpLambda as ``[this, -1, value, kwargs]``.
CONSTANT_VALUE = "_CONSTANT_VALUE"


def is_index(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_shape(value: Any) -> Shape | None:
    """A shape written as a list of ints and nulls; anything else is unknown."""
    if not isinstance(value, list | tuple):
        return None
    if all(d is None or (is_index(d) and d >= 0) for d in value):
        return tuple(value)
    return None


@dataclass(slots=True)
class TensorRef:
    """Output ``tensor`` of call ``node`` of ``layer`` (with what Keras 3 records of it)."""

    layer: str
    node: int
    tensor: int
    shape: Shape | None = None
    dtype: str | None = None


@dataclass(slots=True)
class Call:
    #: Tensors of the positional arguments (the "first argument" in Keras 2).
    args: list[TensorRef] = field(default_factory=list)
    #: Tensors passed by keyword (``mask``, ``initial_state``, TFOpLambda ``y``).
    kwargs: list[TensorRef] = field(default_factory=list)

    @property
    def refs(self) -> list[TensorRef]:
        return self.args + self.kwargs


def is_keras3_call(node: Any) -> bool:
    return isinstance(node, dict) and ("args" in node or "kwargs" in node)


# -- reading --------------------------------------------------------------------------------


def _keras3_tensor(value: dict[str, Any], where: str) -> TensorRef:
    config = value.get("config")
    if not isinstance(config, dict):
        raise ModelFileError(f"malformed Keras config: a tensor in {where} is not an object")
    history = config.get("keras_history")
    if not (isinstance(history, list) and len(history) == 3 and isinstance(history[0], str)
            and is_index(history[1]) and is_index(history[2])):
        raise ModelFileError(f"malformed Keras config: bad keras_history in {where}")
    return TensorRef(history[0], history[1], history[2], parse_shape(config.get("shape")),
                     policy_name(config.get("dtype")))


def _keras3_refs(value: Any, where: str, out: list[TensorRef]) -> None:
    """Collect the ``__keras_tensor__`` references nested in call arguments."""
    if isinstance(value, dict):
        tag = value.get("class_name")
        if tag == KERAS_TENSOR:
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


def is_list_ref(value: Any) -> bool:
    """``[layer, node, tensor]`` or ``[layer, node, tensor, kwargs]`` (Keras 2)."""
    return (
        isinstance(value, list)
        and len(value) in (3, 4)
        and isinstance(value[0], str)
        and is_index(value[1])
        and (value[0] == CONSTANT_VALUE or is_index(value[2]))
        and (len(value) == 3 or value[3] is None or isinstance(value[3], dict))
    )


def _kwargs_refs(value: Any, names: set[str], out: list[TensorRef]) -> None:
    """Tensors in Keras 2 call kwargs: 3-lists naming a layer of the model."""
    if isinstance(value, list):
        if len(value) == 3 and is_list_ref(value) and value[0] in names:
            out.append(TensorRef(value[0], value[1], value[2]))
            return
        for item in value:
            _kwargs_refs(item, names, out)
    elif isinstance(value, dict):
        for key in sorted(value, key=str):
            _kwargs_refs(value[key], names, out)


def _list_call(node_data: Any, names: set[str], where: str) -> Call:
    """One list-style inbound node: a nest of ``[layer, node, tensor, kwargs]``."""
    call = Call()
    kwargs_seen = False

    def walk(value: Any) -> None:
        nonlocal kwargs_seen
        if is_list_ref(value):
            if value[0] != CONSTANT_VALUE:
                call.args.append(TensorRef(value[0], value[1], value[2]))
            # Keras 2 repeats the call kwargs on every tensor of the first argument.
            if len(value) == 4 and value[3] and not kwargs_seen:
                kwargs_seen = True
                _kwargs_refs(value[3], names, call.kwargs)
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


def parse_calls(nodes: Any, names: set[str], where: str) -> list[Call]:
    """The calls a layer's ``inbound_nodes`` list, each with the tensors it reads."""
    if nodes is None:
        return []
    if not isinstance(nodes, list):
        raise ModelFileError(f"malformed Keras config: {where} is not a list")
    calls = []
    for node_data in nodes:
        if is_keras3_call(node_data):
            call = Call()
            _keras3_refs(node_data.get("args", []), where, call.args)
            _keras3_refs(node_data.get("kwargs", {}), where, call.kwargs)
        else:
            call = _list_call(node_data, names, where)
        calls.append(call)
    return calls


def parse_io(value: Any, what: str) -> list[TensorRef]:
    """``input_layers`` / ``output_layers``: one ``[layer, node, tensor]`` or a nest of them."""
    out: list[TensorRef] = []

    def walk(item: Any) -> None:
        if isinstance(item, list) and len(item) == 3 and isinstance(item[0], str):
            if not (is_index(item[1]) and is_index(item[2])):
                raise ModelFileError(f"malformed Keras config: bad entry {item!r} in {what}")
            out.append(TensorRef(item[0], item[1], item[2]))
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


# -- rewriting ------------------------------------------------------------------------------

#: A reference as ``(layer, node, tensor)``.
RefKey = tuple[str, int, int]
#: Called on every reference with its raw value; returns the replacement, or ``None`` to keep it.
Rewrite = Callable[[RefKey, Any], Any]


def keras3_history(value: Any) -> RefKey | None:
    if not (isinstance(value, dict) and value.get("class_name") == KERAS_TENSOR):
        return None
    config = value.get("config")
    history = config.get("keras_history") if isinstance(config, dict) else None
    if isinstance(history, list) and len(history) == 3 and isinstance(history[0], str):
        return history[0], history[1], history[2]
    return None


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


def _strict_list_ref(value: Any) -> bool:
    return (isinstance(value, list) and len(value) in (3, 4) and isinstance(value[0], str)
            and all(is_index(v) for v in value[1:3])
            and (len(value) == 3 or value[3] is None or isinstance(value[3], dict)))


def _walk_list_kwargs(value: Any, names: set[str], rewrite: Rewrite) -> Any:
    if isinstance(value, list):
        if len(value) == 3 and _strict_list_ref(value) and value[0] in names:
            replacement = rewrite((value[0], value[1], value[2]), value)
            return value if replacement is None else replacement
        for i, item in enumerate(value):
            value[i] = _walk_list_kwargs(item, names, rewrite)
    elif isinstance(value, dict):
        for key in list(value):
            value[key] = _walk_list_kwargs(value[key], names, rewrite)
    return value


def _walk_list_node(value: Any, names: set[str], rewrite: Rewrite) -> Any:
    if _strict_list_ref(value):
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


def rewrite_calls(nodes: Any, names: set[str], rewrite: Rewrite) -> None:
    """Apply ``rewrite`` to every tensor reference of an ``inbound_nodes`` list, in place."""
    if not isinstance(nodes, list):
        return
    for i, node in enumerate(nodes):
        if is_keras3_call(node):
            nodes[i] = _walk_keras3(node, rewrite)
        else:
            nodes[i] = _walk_list_node(node, names, rewrite)


def rewrite_io(value: Any, rewrite: Rewrite) -> Any:
    """``output_layers`` with ``rewrite`` applied to each ``[layer, node, tensor]``."""
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
        replacement = rewrite((value[0], value[1], value[2]), value)
        return value if replacement is None else replacement
    if isinstance(value, list):
        return [rewrite_io(item, rewrite) for item in value]
    if isinstance(value, dict):
        return {key: rewrite_io(item, rewrite) for key, item in value.items()}
    return value


def tensor_only_calls(nodes: Any) -> Any:
    """A copy of the calls without their keyword arguments (``mask=None`` for a Lambda,
    custom options): a new layer is called with the same tensors and nothing else."""
    nodes = copy.deepcopy(nodes)
    if not isinstance(nodes, list):
        return nodes
    for node in nodes:
        if is_keras3_call(node):
            node["kwargs"] = {}
        else:
            _clear_list_kwargs(node)
    return nodes


def _clear_list_kwargs(value: Any) -> None:
    if isinstance(value, list):
        if len(value) == 4 and isinstance(value[0], str) and isinstance(value[3], dict | None):
            value[3] = {}
            return
        for item in value:
            _clear_list_kwargs(item)
