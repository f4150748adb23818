from __future__ import annotations

from collections.abc import Iterator

from tflint.analyses.keras_prediction import (
    ACTIVATION_PARAM_CLASSES,
    activation_name,
    describe,
    histogram,
    layer_class,
    shared_prediction,
)
from tflint.diagnostics import Diagnostic, Severity
from tflint.graph import ModelGraph, Node
from tflint.rule import Rule, RuleContext


def what_precedes(graph: ModelGraph, node: Node) -> str:
    tensor = node.inputs[0] if node.inputs else None
    producer = graph.producer(tensor) if tensor is not None else None
    if producer is None:
        return f"input '{tensor.name}'" if tensor is not None else "the model input"
    text = describe(producer)
    if layer_class(producer) in ACTIVATION_PARAM_CLASSES:
        activation = activation_name(producer.options.get("activation"))
        if activation != "linear":
            return f"{text}, after its {activation} activation"
        if tensor is not None and len(graph.consumers(tensor)) > 1:
            return f"{text}, whose output other layers also read"
    return text


class UnfoldedBatchNorm(Rule):
    """BatchNormalization the converter cannot fold into a Conv/Dense layer.

    ## What it does
    Flags a `BatchNormalization` that the lowering table
    (`tflint/data/keras_lowering.json`) says stays in the converted model as
    its own ops (`MUL`, `ADD`), because it does not directly follow a Conv or
    Dense layer with a linear activation whose output it alone reads: it
    follows the model input, a pooling or merge layer, or an activation.

    ## Why is this bad
    After a linear Conv/Dense the converter folds the normalization into the
    kernel and bias for free.  Anywhere else it costs two elementwise passes
    over the tensor at run time (both delegated, but not free).

    ## Example
    ```
    model.keras:1:1: info TFL422 BatchNormalization layer 'bn' is not folded: it follows input 'image' and stays as MUL, ADD (layer "bn" (BatchNormalization))
      help: place it directly after a Conv/Dense layer without activation, or normalize the input outside the model
    ```

    ## How to fix
    Move the normalization directly after a Conv or Dense layer (activation
    after the normalization), or fold it by hand into the following layer.
    For input normalization, normalize outside the model or fold the
    statistics into the first convolution.
    """

    code = "TFL422"
    name = "unfolded-batchnorm"
    category = "fusion"
    severity = Severity.INFO
    file_kinds = frozenset({"keras"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        prediction = shared_prediction(ctx)
        for p in prediction.layers:
            if layer_class(p.node) != "BatchNormalization" or p.status in ("gone", "unknown"):
                continue
            if "dtype_policy" in p.features or not p.lowering.ops:
                continue
            yield ctx.diagnostic(
                p.node,
                f"{describe(p.node)} is not folded: it follows {what_precedes(ctx.graph, p.node)} "
                f"and stays as {histogram(p.lowering.ops)}",
                suggestion=("place it directly after a Conv/Dense layer without activation, or "
                            "normalize the input outside the model"))
