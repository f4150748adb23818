from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, ClassVar

from tflint.analyses.custom_code import code_phrase, equivalent_fix
from tflint.analyses.keras_prediction import (
    ACTIVATION_PARAM_CLASSES,
    activation_name,
    config_text,
    describe,
    layer_class,
    shared_prediction,
)
from tflint.diagnostics import Diagnostic, Fix, Severity
from tflint.graph import ModelGraph, Node
from tflint.rule import Option, Rule, RuleContext

#: Name fragments that mark a layer as an activation, and the builtin closest to each.
HINTS: tuple[tuple[str, str], ...] = (
    ("hard_?swish|hard_?silu|hswish", "hard_silu"),
    ("swish|silu", "silu"),
    ("gelu", "gelu"),
    ("mish", "mish"),
    ("relu6", "relu6"),
    ("leaky|lrelu", "leaky"),
    ("elu", "elu"),
    ("sigmoid", "sigmoid"),
    ("tanh", "tanh"),
    ("softplus", "softplus"),
)


def _regex_problem(pattern: str) -> str | None:
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"is not a valid regular expression: {exc}"
    return None


def replacement(hint: str, flavor: str, slope: float) -> tuple[str, dict[str, Any]]:
    """The builtin layer (class, config) for a hint, as this Keras spells it."""
    if hint == "leaky":
        key = "negative_slope" if flavor == "keras3" else "alpha"
        return "LeakyReLU", {key: slope}
    if hint == "relu6":
        return "ReLU", {"max_value": 6.0}
    name = hint
    if flavor != "keras3":
        name = {"silu": "swish", "hard_silu": "hard_sigmoid"}.get(hint, hint)
    return "Activation", {"activation": name}


class OpaqueActivation(Rule):
    """Custom or Lambda activation right after a Conv/Dense layer.

    ## What it does
    Flags a `Lambda` or custom layer that looks like an activation (its
    class or layer name matches `name_pattern`, or its code computes a
    built-in activation; it has one input and keeps
    its shape) and directly follows a Conv or Dense layer whose output it
    alone reads.  TFL103 already says the layer is opaque; this rule is
    about what it costs next to the convolution, and offers a builtin in its
    place.

    ## Why is this bad
    The converter fuses `relu`, `relu6` and the like into the convolution's
    kernel and lowers the usual activations to one op XNNPACK takes.  A
    custom function is lowered op by op: typically `LESS`, `SELECT_V2`,
    `MUL`... after every convolution, of which XNNPACK takes some and not
    others, cutting the graph into a CPU partition per activation.

    ## Example
    ```python
    class CustomActivation(keras.layers.Layer):
        def call(self, x):
            return tf.where(x < 0, 0.1 * x, tf.square(x))
    ```
    ```
    model.keras:1:1: warning TFL420 custom layer 'custom_act1' (CustomActivation) after Conv2D layer 'conv1' is an activation the converter cannot fuse (layer "custom_act1" (CustomActivation))
      help: replace layer `custom_act1` (CustomActivation) with `LeakyReLU(negative_slope=0.1)` (one op XNNPACK takes) or `ReLU` (fused into 'conv1'), then fine-tune
    ```

    ## How to fix
    Use a built-in activation: the one the layer's name suggests (`swish`,
    `gelu`, `hard_silu`, ...) or, for a leaky-style function,
    `LeakyReLU(negative_slope=0.1)` (option `negative_slope`); fine-tune
    afterwards.

    When the layer's code is read (the Lambda's bytecode, or the class's
    `call()` found with `--source`) and computes exactly a built-in
    activation (`tf.where(x > 0, x, a * x)`, `x * tf.sigmoid(x)`,
    `tf.maximum(x, 0)`, `tf.clip_by_value(x, 0, 6)`, `x * relu6(x + 3) / 6`),
    that built-in is offered instead of the name's hint.

    ## Fix safety
    `safe` when the code was read and matches the built-in exactly,
    constants included; otherwise `unsafe`: the builtin is at best close
    to the layer's function, and the model must be fine-tuned.
    """

    code = "TFL420"
    name = "opaque-activation"
    category = "fusion"
    severity = Severity.WARNING
    file_kinds = frozenset({"keras"})
    fix_availability = "safe"
    options: ClassVar[dict[str, Option]] = {
        "name-pattern": Option(
            str, r"(?i)activ|act\d*$|^act|relu|swish|silu|gelu|mish|sigmoid|tanh|softplus|elu$",
            "regular expression on layer names that marks a Lambda or custom layer as an "
            "activation", check=_regex_problem),
        "negative-slope": Option(float, 0.1, "slope suggested for a LeakyReLU replacement"),
    }

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        prediction = shared_prediction(ctx)
        pattern = re.compile(ctx.options["name-pattern"])
        slope = ctx.options["negative-slope"]
        for p in prediction.layers:
            node = p.node
            if node.origin not in ("lambda", "custom") or len(node.inputs) != 1:
                continue
            names = f"{node.op_type} {p.layer}"
            known = equivalent_fix(p)
            if known is None and not pattern.search(node.op_type) \
                    and not pattern.search(p.layer):
                continue
            conv = _conv_before(ctx.graph, node)
            if conv is None or not _keeps_shape(node):
                continue
            conv_name = conv.layer_name or conv.name
            kind = "Lambda layer" if node.origin == "lambda" else "custom layer"
            if known is not None:
                text, fix = known
                yield ctx.diagnostic(
                    node,
                    f"{kind} '{p.layer}' ({node.op_type}) after {describe(conv)} {code_phrase(p)}, "
                    f"an activation the converter cannot fuse",
                    suggestion=(f"replace layer `{p.layer}` ({node.op_type}) with `{text}`, the "
                                "built-in layer computing the same function"),
                    fix=fix)
                continue
            hint = next((h for fragment, h in HINTS if re.search(fragment, names, re.I)), "leaky")
            cls, config = replacement(hint, prediction.flavor, slope)
            text = config_text(cls, config)
            yield ctx.diagnostic(
                node,
                f"{kind} '{p.layer}' ({node.op_type}) after {describe(conv)} is an activation "
                "the converter cannot fuse",
                suggestion=(f"replace layer `{p.layer}` ({node.op_type}) with `{text}` (one op "
                            f"XNNPACK takes) or `ReLU` (fused into '{conv_name}'), then "
                            "fine-tune"),
                fix=Fix("unsafe", f"replace '{p.layer}' by {text}",
                        {"op": "replace_layer", "layer": p.layer,
                         "with": {"class_name": cls, "config": {"name": p.layer, **config}}}))


def _conv_before(graph: ModelGraph, node: Node) -> Node | None:
    tensor = node.inputs[0]
    producer = graph.producer(tensor)
    if producer is None or layer_class(producer) not in ACTIVATION_PARAM_CLASSES:
        return None
    if len(graph.consumers(tensor)) != 1 or graph.is_graph_output(tensor):
        return None
    if activation_name(producer.options.get("activation")) != "linear":
        return None
    return producer


def _keeps_shape(node: Node) -> bool:
    source = node.inputs[0].shape
    result = node.outputs[0].shape if node.outputs else None
    return source is None or result is None or source == result
