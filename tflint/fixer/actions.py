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

from dataclasses import dataclass, field
from typing import Any

from tflint.fixer.configs import (
    ActionError,
    find_layer,
    layer_locations,
    open_config,
)
from tflint.kerasconfig import LayerConfig, ModelConfig, builtin_layers
from tflint.kerasconfig.model import OUTPUT_USER

__all__ = ["ActionError", "Change", "apply_action", "describe_layer", "layer_locations"]

#: Layer classes whose config has an ``activation`` a following activation can fold into.
FOLD_TARGETS = frozenset({
    "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
    "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D", "Dense",
})


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


#: Characters of one option value shown in a fix's description.
VALUE_LIMIT = 40
#: Options shown in a fix's description; the diff (``--diff``) shows them all.
OPTIONS_SHOWN = 4
#: Config keys every layer has, which say nothing about what a replacement computes.
_BOOKKEEPING = frozenset({"name", "trainable", "dtype"})


def short_value(value: Any, limit: int = VALUE_LIMIT) -> str:
    """``0.1``, ``[1, 224]``, ``{'class_name': 'Glor...}``: a value cut to ``limit``."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _options(config: dict[str, Any]) -> str:
    shown = [f"{k}={short_value(v)}" for k, v in config.items()][:OPTIONS_SHOWN]
    more = len(config) - len(shown)
    return ", ".join(shown) + (f", ... ({more} more)" if more else "")


def describe_layer(class_name: str, config: dict[str, Any]) -> str:
    """``LeakyReLU(negative_slope=0.1)``, ``Activation('hard_swish')``, ``ReLU``."""
    if class_name == "Activation" and isinstance(config.get("activation"), str):
        return f"Activation({config['activation']!r})"
    shown = {k: v for k, v in config.items() if k not in _BOOKKEEPING}
    if not shown:
        return class_name
    return f"{class_name}({_options(shown)})"


def describe_replacement(old_class: str, old_config: dict[str, Any], class_name: str,
                         config: dict[str, Any]) -> str:
    """What replacing a layer changes: only the changed options when the class stays
    (``set unroll=True on LSTM (was False)``), else the new layer."""
    if old_class != class_name:
        return f"replaced {old_class} with {describe_layer(class_name, config)}"
    changed = {k: v for k, v in config.items()
               if k not in _BOOKKEEPING and (k not in old_config or old_config[k] != v)}
    if not changed:
        return f"rebuilt {class_name} with the same options"
    was = [f"{k}={short_value(old_config[k])}" for k in changed if k in old_config]
    before = f" (was {', '.join(was[:OPTIONS_SHOWN])})" if was else ""
    return f"set {_options(changed)} on {class_name}{before}"


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


def replace_layer(document: dict[str, Any], dialect: str, name: str, spec: Any,
                  location: str | None = None) -> Change:
    class_name, config = _replacement(spec)
    model, old = find_layer(open_config(document, dialect), name, location)
    if old.is_input:
        raise ActionError(f"'{name}' is an input, not a layer")
    if old.is_model:
        raise ActionError(f"layer '{name}' is a whole model; replace the layers inside it")
    if model.kind == "functional":
        _check_single_tensor(model, old, name, class_name)
    description = describe_replacement(old.bare_class, dict(old.config), class_name, config)
    model.replace_layer(old, class_name, config)
    return Change(model.location, name, description, new_layers=[name])


def _check_single_tensor(model: ModelConfig, layer: LayerConfig, name: str,
                         class_name: str) -> None:
    for number, inputs in enumerate(layer.call_inputs(model.names)):
        if len(inputs) != 1:
            raise ActionError(f"call {number} of layer '{name}' takes {len(inputs)} tensors; "
                              f"{class_name} takes one")
    for _, (user, _node, tensor) in model.references():
        if user == name and tensor > 0:
            raise ActionError(f"output {tensor} of layer '{name}' is used; "
                              f"{class_name} has one output")


# -- fold_activation ---------------------------------------------------------------------------


def fold_activation(document: dict[str, Any], dialect: str, name: str, into: str,
                    activation: str, location: str | None = None) -> Change:
    model, act = find_layer(open_config(document, dialect), name, location)
    target = next((layer for layer in model.layers if layer.written_name == into), None)
    if target is None:
        raise ActionError(f"no layer '{into}' in {model.describe()} to fold '{name}' into")
    if target.class_name not in FOLD_TARGETS or not isinstance(target.raw.get("config"), dict):
        raise ActionError(f"layer '{into}' ({target.class_name}) has no activation to set")
    if act.is_model or act.is_wrapper:
        raise ActionError(f"layer '{name}' is not an activation layer")
    applied = target.activation
    if applied is not None and applied.builtin != "linear":
        raise ActionError(
            f"layer '{into}' already applies activation {target.config.get('activation')!r}")
    source = None
    if model.kind == "sequential":
        if target.position != act.position - 1:
            raise ActionError(f"layer '{name}' does not directly follow '{into}'")
    else:
        source = _source_of(model, act, name, target)
    target.set_option("activation", activation)
    model.remove_layer(act, source)
    return Change(model.location, name,
                  f"folded {act.bare_class} '{name}' into {target.class_name} '{into}' "
                  f"(activation={activation!r})",
                  removed_layers=[name])


def _source_of(model: ModelConfig, act: LayerConfig, name: str,
               target: LayerConfig) -> tuple[tuple[str, int, int], Any]:
    """The tensor the activation reads, which its users will read instead: the output of
    ``target`` that nothing else uses."""
    into = target.name
    calls = act.call_inputs(model.names)
    if len(calls) != 1 or len(calls[0]) != 1:
        raise ActionError(f"layer '{name}' is called more than once or on several tensors")
    (source, source_value), = calls[0]
    if source[0] != into:
        raise ActionError(f"layer '{name}' is applied to '{source[0]}', not to '{into}'")
    if len(target.raw.get("inbound_nodes") or []) != 1:
        raise ActionError(f"layer '{into}' is called more than once (a shared layer)")
    users = [(user, ref) for user, ref in model.references()
             if ref[0] == into and ref[1] == source[1]]
    if len(users) != 1:
        others = sorted({"the model output" if u == OUTPUT_USER else f"'{u}'"
                         for u, _ in users if u != name})
        raise ActionError(f"the output of '{into}' is also used by {', '.join(others)}")
    return source, source_value


# -- set_input_shape ---------------------------------------------------------------------------


def set_input_shape(document: dict[str, Any], dialect: str, name: str,
                    shape: list[int | None]) -> Change:
    old = open_config(document, dialect).set_input_shape(name, shape)
    return Change(None, name, f"set the shape of input '{name}' from {old} to {list(shape)}")
