from __future__ import annotations

from collections.abc import Iterator

from tflint_rules._layer_names import layer_names

from tflint.diagnostics import Diagnostic
from tflint.graph import Tensor
from tflint.patterns import (
    Match,
    const,
    constant_values,
    find,
    op,
    optional,
    options_are,
    root_types,
)
from tflint.rule import Rule, RuleContext

#: Ops whose weights and bias can absorb a per-output-channel scale and offset.
CONVS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "CONV_3D")
#: Ops that may sit between the conv and the batch norm (what moving the
#: batch norm before them changes: see _when_moved).
BETWEEN = ("PAD", "MAX_POOL_2D", "AVERAGE_POOL_2D", "RESHAPE", "SQUEEZE", "EXPAND_DIMS")
KERAS_BETWEEN = {"PAD": "ZeroPadding2D", "MAX_POOL_2D": "MaxPooling2D",
                 "AVERAGE_POOL_2D": "AveragePooling2D", "RESHAPE": "Reshape",
                 "SQUEEZE": "squeeze", "EXPAND_DIMS": "expand_dims"}
KERAS_CONV = {"CONV_2D": "Conv2D", "DEPTHWISE_CONV_2D": "DepthwiseConv2D",
              "FULLY_CONNECTED": "Dense", "TRANSPOSE_CONV": "Conv2DTranspose",
              "CONV_3D": "Conv3D"}
NO_ACTIVATION = options_are(fused_activation_function="NONE")

PATTERN = op("ADD", op(
    "MUL",
    optional(op(BETWEEN, op(CONVS, where=NO_ACTIVATION, label="conv"), partial=True,
                where=lambda node: node.options.get("fused_activation_function", "NONE") == "NONE",
                label="between")),
    const(bind="scale"), where=NO_ACTIVATION), const(bind="offset"))


class UnfoldedBatchNorm(Rule):
    """Batch norm left as MUL and ADD by constants after a conv instead of folded into it.

    ## What it does
    Finds a `MUL` by a constant followed by an `ADD` of a constant, with
    per-channel constants, applied to the output of a `CONV_2D`,
    `DEPTHWISE_CONV_2D`, `FULLY_CONNECTED`, `TRANSPOSE_CONV` or `CONV_3D`
    (directly, or through one `PAD`, pooling or reshape op), where nothing
    else reads the conv output.  This is what an inference-mode
    `BatchNormalization` becomes when the converter could not fold it.

    ## Why is this bad
    A folded batch norm costs nothing: its scale goes into the conv weights
    and its offset into the bias.  Unfolded, it costs two extra passes over
    the activation tensor (and two quantization steps in an int8 model).
    The converter folds a `BatchNormalization` that directly follows the
    conv, but not one placed after `MaxPooling2D` or `ZeroPadding2D`.

    ## Example
    ```python
    x = keras.layers.Conv2D(16, 3)(inputs)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.BatchNormalization()(x)
    ```
    ```
    model.tflite:1:1: warning TFL402 batch norm (MUL, ADD) after MAX_POOL_2D in layer 'max_pooling2d' is not folded into CONV_2D in layer 'conv2d' (subgraph 0 / op 3 (ADD) "functional_1/batch_normalization_1/batchnorm/add_1")
    ```

    ## How to fix
    Fold the batch norm: put `BatchNormalization` right after the `Conv2D`
    (before the pooling or padding) and convert with the default settings.
    Before max pooling this gives the same result when every scale
    (gamma / sqrt(variance + epsilon)) is positive, which the message checks;
    before average pooling or a reshape it is always the same; before zero
    padding the border changes from the batch-norm offset to zero, so
    fine-tune afterwards.
    """

    code = "TFL402"
    name = "unfolded-batch-norm-op"
    category = "fusion"
    file_kinds = frozenset({"tflite"})
    triggers = root_types(PATTERN)

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        graph = ctx.graph
        names = ctx.analysis(layer_names)
        for match in find(graph, PATTERN, accept=_per_channel):
            conv, between = match.labels["conv"], match.labels.get("between")
            conv_layer = names.of_node(conv)
            after = f"after {names.describe(between)} " if between is not None else ""
            message = (f"batch norm (MUL, ADD) {after}is not folded into "
                       f"{names.describe(conv)}")
            place = f"'{conv_layer}'" if conv_layer else f"the {KERAS_CONV[conv.op_type]}"
            if between is None:
                suggestion = ("fold the scale and offset into the conv's weights and bias, as "
                              "the TFLite converter does for a BatchNormalization right after "
                              f"{place}")
            else:
                moved = KERAS_BETWEEN[between.op_type]
                scale = constant_values(graph, match.bindings["scale"], dequantize=True)
                suggestion = (f"fold the batch norm: put BatchNormalization right after {place}, "
                              f"before the {moved}; {_when_moved(between.op_type, scale)}")
            yield ctx.diagnostic(match.root, message, suggestion=suggestion)


def _per_channel(match: Match) -> bool:
    """Scale and offset broadcast along the output channels only."""
    conv = match.labels["conv"]
    channels = conv.outputs[0].shape[-1] if conv.outputs and conv.outputs[0].shape else None
    return all(_channel_shaped(match.bindings[name], channels) for name in ("scale", "offset"))


def _channel_shaped(tensor: Tensor, channels: int | None) -> bool:
    shape = tensor.shape
    if shape is None:
        return False
    if not shape:
        return True
    return all(d == 1 for d in shape[:-1]) and shape[-1] in (1, channels)


def _when_moved(between: str, scale: tuple[float, ...] | None) -> str:
    if between == "MAX_POOL_2D":
        if scale and all(s > 0 for s in scale):
            return "every scale here is positive, so the result is the same"
        return "a negative or unknown scale changes the max pooling: fine-tune afterwards"
    if between == "PAD":
        return "the padded border then holds zeros instead of the offset: fine-tune afterwards"
    return "the result is the same"
