"""Apply one fix action to a Keras model config dict, in the config's own dialect.

Actions are the ``Fix.action`` dicts rules attach to diagnostics::

    {"op": "replace_layer", "layer": NAME, "with": {"class_name": "ReLU", "config": {...}}}
    {"op": "fold_activation", "layer": ACT, "into": CONV_OR_DENSE, "activation": "relu"}
    {"op": "static_reshape", "layer": NAME, "target_shape": [...]}
    {"op": "set_input_shape", "input": NAME, "shape": [...]}

An optional ``"model"`` key names the nested model holding the layer (as
``Location.model`` does).  Each action checks everything it needs before it
changes anything, so a refused action (:class:`ActionError`) leaves the
config as it was.  Nothing is deserialized: a ``Lambda`` or a custom class is
replaced in the dict before Keras ever sees it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from tflint.fixer.configs import (
    ActionError,
    ModelRef,
    bare_class,
    call_inputs,
    entry_name,
    find_layer,
    is_model_entry,
    is_wrapper,
    keras3_history,
    models,
    references,
    rewrite_model_refs,
    top_model,
    uses_module_keys,
)
from tflint.loaders.keras_config import builtin_layers

#: Layer classes whose config has an ``activation`` a following activation can fold into.
FOLD_TARGETS = frozenset({
    "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
    "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D", "Dense",
})
#: Config keys Keras 3 renamed; the value is the tf.keras / Keras 2 spelling.
KERAS2_KEYS = {("LeakyReLU", "negative_slope"): "alpha"}


@dataclass
class Change:
    """What one applied action did, for the fix listing and for copying weights."""

    #: The model edited, as ``Location.model`` names it (``None`` for the top model).
    model: str | None
    #: The layer or input the action was about.
    subject: str
    description: str
    #: Layers now holding a new layer object: their weights are not copied.
    new_layers: list[str] = field(default_factory=list)
    removed_layers: list[str] = field(default_factory=list)


def apply_action(document: dict[str, Any], dialect: str, action: dict[str, Any]) -> Change:
    """Apply ``action`` to ``document`` (edited in place); :class:`ActionError` if it cannot be."""
    op = action.get("op")
    location = action.get("model")
    if op == "replace_layer":
        return replace_layer(document, dialect, _text(action, "layer"), action.get("with"),
                             location)
    if op == "static_reshape":
        shape = _int_list(action.get("target_shape"), "target_shape", allow_unknown=True)
        return replace_layer(document, dialect, _text(action, "layer"),
                             {"class_name": "Reshape", "config": {"target_shape": shape}},
                             location)
    if op == "fold_activation":
        return fold_activation(document, dialect, _text(action, "layer"), _text(action, "into"),
                               _text(action, "activation"), location)
    if op == "set_input_shape":
        return set_input_shape(document, dialect, _text(action, "input"),
                               _int_list(action.get("shape"), "shape"))
    raise ActionError(f"unknown fix action {op!r}")


def _text(action: dict[str, Any], key: str) -> str:
    value = action.get(key)
    if not isinstance(value, str) or not value:
        raise ActionError(f"fix action {action.get('op')!r} has no {key!r}")
    return value


def _int_list(value: Any, what: str, allow_unknown: bool = False) -> list[int | None]:
    if not isinstance(value, list | tuple) or not value:
        raise ActionError(f"fix action needs {what} as a list of dimensions")
    out: list[int | None] = []
    for dim in value:
        if dim is None and allow_unknown:
            dim = -1
        if not isinstance(dim, int) or isinstance(dim, bool) or not (
                dim >= 1 or (allow_unknown and dim == -1)):
            raise ActionError(f"{what} {list(value)!r} has an invalid dimension {dim!r}")
        out.append(dim)
    if out.count(-1) > 1:
        raise ActionError(f"{what} {list(value)!r} has more than one unknown dimension")
    return out


def describe_layer(class_name: str, config: dict[str, Any]) -> str:
    """``LeakyReLU(negative_slope=0.1)``, ``Activation('hard_swish')``, ``ReLU``."""
    if class_name == "Activation" and isinstance(config.get("activation"), str):
        return f"Activation({config['activation']!r})"
    shown = {k: v for k, v in config.items() if k not in ("name", "trainable", "dtype")}
    if not shown:
        return class_name
    return f"{class_name}({', '.join(f'{k}={v!r}' for k, v in shown.items())})"


# -- replace_layer -----------------------------------------------------------------------------


def _replacement(spec: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(spec, dict) or not isinstance(spec.get("class_name"), str):
        raise ActionError("replace_layer needs 'with': {'class_name': ..., 'config': {...}}")
    class_name = spec["class_name"]
    config = spec.get("config") or {}
    if not isinstance(config, dict):
        raise ActionError(f"the config of the replacement {class_name} is not an object")
    if class_name not in builtin_layers()["common"] or ">" in class_name:
        # Only Keras' own layers: the fixed model must load without anyone's code.
        raise ActionError(f"'{class_name}' is not a built-in Keras layer")
    return class_name, config


def _dialect_config(dialect: str, class_name: str, config: dict[str, Any]) -> dict[str, Any]:
    """Spell the replacement's arguments the way the file's Keras does."""
    out = {}
    for key, value in config.items():
        keras2 = KERAS2_KEYS.get((class_name, key))
        keras3 = next((k3 for (cls, k3), k2 in KERAS2_KEYS.items()
                       if cls == class_name and k2 == key), None)
        if dialect != "keras3" and keras2 is not None:
            key = keras2
        elif dialect == "keras3" and keras3 is not None:
            key = keras3
        out[key] = list(value) if isinstance(value, tuple) else copy.deepcopy(value)
    return out


def new_entry(dialect: str, model: ModelRef, old: dict[str, Any], class_name: str,
              config: dict[str, Any]) -> dict[str, Any]:
    """A layer entry for ``class_name`` taking the old entry's place (name, calls, dtype)."""
    name = entry_name(old)
    old_config = old.get("config") if isinstance(old.get("config"), dict) else {}
    layer_config: dict[str, Any] = {"name": name,
                                    "trainable": old_config.get("trainable", True)}
    if "dtype" in old_config:
        layer_config["dtype"] = copy.deepcopy(old_config["dtype"])
    layer_config.update(_dialect_config(dialect, class_name, config))
    # Keras 3 legacy .h5 saves write no module keys: follow the file, not the dialect.
    module_keys = uses_module_keys(model)
    entry: dict[str, Any] = {}
    if module_keys:
        entry["module"] = "keras.layers"
    entry["class_name"] = class_name
    entry["config"] = layer_config
    if module_keys:
        entry["registered_name"] = None
    if "build_config" in old:
        entry["build_config"] = copy.deepcopy(old["build_config"])
    if "name" in old:
        entry["name"] = old["name"]
    if "inbound_nodes" in old:
        entry["inbound_nodes"] = _tensor_only_calls(old["inbound_nodes"])
    return entry


def _tensor_only_calls(nodes: Any) -> Any:
    """The old calls without their keyword arguments (``mask=None`` for a Lambda, custom
    options): the new layer is called with the same tensor and nothing else."""
    nodes = copy.deepcopy(nodes)
    if not isinstance(nodes, list):
        return nodes
    for node in nodes:
        if isinstance(node, dict) and ("args" in node or "kwargs" in node):
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


def replace_layer(document: dict[str, Any], dialect: str, name: str, spec: Any,
                  location: str | None = None) -> Change:
    class_name, config = _replacement(spec)
    model, position = find_layer(document, name, location)
    old = model.layers[position]
    old_class = bare_class(str(old.get("class_name")))
    if old.get("class_name") == "InputLayer":
        raise ActionError(f"'{name}' is an input, not a layer")
    if is_model_entry(old):
        raise ActionError(f"layer '{name}' is a whole model; replace the layers inside it")
    if model.kind == "functional":
        _check_single_tensor(model, old, name, class_name)
    model.layers[position] = new_entry(dialect, model, old, class_name, config)
    return Change(model.location, name,
                  f"replaced {old_class} with {describe_layer(class_name, config)}",
                  new_layers=[name])


def _check_single_tensor(model: ModelRef, entry: dict[str, Any], name: str,
                         class_name: str) -> None:
    names = {n for n in map(entry_name, model.layers) if n is not None}
    for number, inputs in enumerate(call_inputs(entry, names)):
        if len(inputs) != 1:
            raise ActionError(f"call {number} of layer '{name}' takes {len(inputs)} tensors; "
                              f"{class_name} takes one")
    for _, (layer, _node, tensor) in references(model):
        if layer == name and tensor > 0:
            raise ActionError(f"output {tensor} of layer '{name}' is used; "
                              f"{class_name} has one output")


# -- fold_activation ---------------------------------------------------------------------------


def fold_activation(document: dict[str, Any], dialect: str, name: str, into: str,
                    activation: str, location: str | None = None) -> Change:
    model, position = find_layer(document, name, location)
    target_position = next((i for i, e in enumerate(model.layers) if entry_name(e) == into), None)
    if target_position is None:
        raise ActionError(f"no layer '{into}' in {model.describe()} to fold '{name}' into")
    act, target = model.layers[position], model.layers[target_position]
    act_class = bare_class(str(act.get("class_name")))
    target_class = str(target.get("class_name"))
    target_config = target.get("config")
    if target_class not in FOLD_TARGETS or not isinstance(target_config, dict):
        raise ActionError(f"layer '{into}' ({target_class}) has no activation to set")
    if is_model_entry(act) or is_wrapper(act):
        raise ActionError(f"layer '{name}' is not an activation layer")
    current = target_config.get("activation")
    if current not in (None, "linear"):
        raise ActionError(f"layer '{into}' already applies activation {current!r}")
    if model.kind == "sequential":
        if target_position != position - 1:
            raise ActionError(f"layer '{name}' does not directly follow '{into}'")
    else:
        _rewire_around(model, act, name, into)
    target_config["activation"] = activation
    del model.layers[position]
    return Change(model.location, name,
                  f"folded {act_class} '{name}' into {target_class} '{into}' "
                  f"(activation={activation!r})",
                  removed_layers=[name])


def _rewire_around(model: ModelRef, act: dict[str, Any], name: str, into: str) -> None:
    """Make every user of the activation's output use the conv/dense output instead."""
    names = {n for n in map(entry_name, model.layers) if n is not None}
    calls = call_inputs(act, names)
    if len(calls) != 1 or len(calls[0]) != 1:
        raise ActionError(f"layer '{name}' is called more than once or on several tensors")
    (source, source_value), = calls[0]
    if source[0] != into:
        raise ActionError(f"layer '{name}' is applied to '{source[0]}', not to '{into}'")
    target = next(e for e in model.layers if entry_name(e) == into)
    if len(target.get("inbound_nodes") or []) != 1:
        raise ActionError(f"layer '{into}' is called more than once (a shared layer)")
    users = [(user, ref) for user, ref in references(model)
             if ref[0] == into and ref[1] == source[1]]
    if len(users) != 1:
        others = sorted({"the model output" if u == "<output>" else f"'{u}'"
                         for u, _ in users if u != name})
        raise ActionError(f"the output of '{into}' is also used by {', '.join(others)}")

    def rewrite(ref: tuple[str, int, int], value: Any) -> Any:
        if ref[0] != name:
            return None
        if keras3_history(value) is not None:
            return copy.deepcopy(source_value)
        replacement = [source[0], source[1], source[2]]
        if isinstance(value, list) and len(value) == 4:
            replacement.append(value[3])  # the consumer's own call kwargs
        return replacement

    rewrite_model_refs(model, rewrite)


# -- set_input_shape ---------------------------------------------------------------------------


def set_input_shape(document: dict[str, Any], dialect: str, name: str,
                    shape: list[int | None]) -> Change:
    model = top_model(document)
    entry = _input_entry(model, name)
    config = entry["config"]
    key = next((k for k in ("batch_shape", "batch_input_shape") if k in config),
               "batch_shape" if dialect == "keras3" else "batch_input_shape")
    old = config.get(key)
    if isinstance(old, list):
        if len(old) != len(shape):
            raise ActionError(f"input '{name}' has rank {len(old)}, not {len(shape)}")
        for axis, (was, new) in enumerate(zip(old, shape, strict=True)):
            if was is not None and was != new:
                raise ActionError(f"dimension {axis} of input '{name}' is {was}, not {new}; "
                                  "only unknown dimensions can be set")
    config[key] = list(shape)
    if entry.get("class_name") != "InputLayer":
        config.pop("input_shape", None)  # Keras 2 first layers may carry both
    _update_recorded_shapes(document, model, name, shape)
    return Change(None, name, f"set the shape of input '{name}' from {old} to {list(shape)}")


def _input_entry(model: ModelRef, name: str) -> dict[str, Any]:
    inputs = [e for e in model.layers if e.get("class_name") == "InputLayer"]
    for entry in inputs:
        if entry_name(entry) == name:
            return entry
    if model.kind == "sequential" and not inputs and model.layers:
        first = model.layers[0]
        # No InputLayer: Keras builds one named "<first layer>_input" from the first layer.
        if f"{entry_name(first)}_input" == name and isinstance(first.get("config"), dict):
            return first
    known = [entry_name(e) for e in inputs] or [f"{entry_name(model.layers[0])}_input"]
    raise ActionError(f"no input '{name}' in the model (inputs: {', '.join(map(str, known))})")


def _update_recorded_shapes(document: dict[str, Any], model: ModelRef, name: str,
                            shape: list[int | None]) -> None:
    """Keras 3 records each tensor's shape where it is used: keep the input's in step.

    Shapes further down are recomputed by Keras when the model is built.
    """
    if model.kind == "functional":
        def rewrite(ref: tuple[str, int, int], value: Any) -> Any:
            if ref[0] == name and keras3_history(value) is not None:
                value["config"]["shape"] = list(shape)
            return None

        rewrite_model_refs(model, rewrite)
    build = document.get("build_config")
    if model.kind == "sequential" and isinstance(build, dict) and "input_shape" in build:
        build["input_shape"] = list(shape)


def layer_locations(document: dict[str, Any], name: str) -> list[str | None]:
    """Models (as ``Location.model``) that hold a layer called ``name``."""
    return [m.location for m in models(document)
            if any(entry_name(e) == name for e in m.layers)]
