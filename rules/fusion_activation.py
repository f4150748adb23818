from __future__ import annotations

from collections.abc import Iterator

from tflint_rules._layer_names import layer_names

from tflint.diagnostics import Diagnostic, Severity
from tflint.patterns import find, op, optional, options_are, root_types
from tflint.rule import Rule, RuleContext

#: Ops with a ``fused_activation_function`` the converter normally fills.
PRODUCERS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "MUL", "SUB", "DIV")
ACTIVATIONS = ("RELU", "RELU6", "RELU_N1_TO_1")
#: Ops that only move or zero-pad values: an activation with f(0) = 0 gives
#: the same result before or after them (PADV2 pads with any value: not here).
TRANSPARENT = ("PAD", "MIRROR_PAD", "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "TRANSPOSE",
               "DEPTH_TO_SPACE", "SPACE_TO_DEPTH")
KERAS_LAYER = {"CONV_2D": "Conv2D", "DEPTHWISE_CONV_2D": "DepthwiseConv2D",
               "FULLY_CONNECTED": "Dense", "ADD": "Add", "MUL": "Multiply", "SUB": "Subtract",
               "DIV": "division"}
KERAS_BETWEEN = {"PAD": "ZeroPadding2D", "MIRROR_PAD": "mirror padding", "RESHAPE": "Reshape",
                 "SQUEEZE": "squeeze", "EXPAND_DIMS": "expand_dims", "TRANSPOSE": "Permute",
                 "DEPTH_TO_SPACE": "depth_to_space", "SPACE_TO_DEPTH": "space_to_depth"}

PATTERN = op(ACTIVATIONS, optional(op(
    TRANSPARENT,
    op(PRODUCERS, where=options_are(fused_activation_function="NONE"), label="producer"),
    partial=True, label="between")))


class UnfusedActivation(Rule):
    """ReLU, ReLU6 or ReLU_N1_TO_1 left as its own op after an op that could fuse it.

    ## What it does
    Finds a standalone `RELU`, `RELU6` or `RELU_N1_TO_1` whose input comes
    from a `CONV_2D`, `DEPTHWISE_CONV_2D`, `FULLY_CONNECTED`, `ADD`, `MUL`,
    `SUB` or `DIV` with `fused_activation_function` NONE and no other
    consumer, either directly or through one op that only moves or zero-pads
    values (`PAD`, `RESHAPE`, `TRANSPOSE`, ...).

    ## Why is this bad
    The activation costs a full extra pass over the tensor.  The converter
    fuses an activation that directly follows such an op, and even moves it
    across a `RESHAPE` or `TRANSPOSE`, but not across a `PAD`: a Keras
    `Conv2D -> ZeroPadding2D -> ReLU` keeps three ops.  XNNPACK fuses a
    clamp into the op right before it when it builds its subgraph, so the
    directly-adjacent case (which only other tools produce) costs little on
    XNNPACK and is reported as info; GPU, NNAPI and the reference kernels run
    it as a separate op.  Through a `PAD`, nothing fuses it.

    ## Example
    ```python
    x = keras.layers.Conv2D(16, 3)(inputs)
    x = keras.layers.ZeroPadding2D(1)(x)
    x = keras.layers.ReLU()(x)
    ```
    ```
    model.tflite:1:1: warning TFL401 RELU after PAD in layer 'zero_padding2d' is not fused into CONV_2D in layer 'conv2d' (subgraph 0 / op 2 (RELU) "functional_1/re_lu_1/Relu")
    ```

    ## How to fix
    Apply the activation before the padding or reshape, inside the layer
    that computes: `Conv2D(16, 3, activation="relu")` then `ZeroPadding2D`.
    Since relu(0) = 0 the result is the same, and the converter fuses the
    activation into the `CONV_2D`.
    """

    code = "TFL401"
    name = "unfused-activation-op"
    category = "fusion"
    severity = Severity.WARNING
    file_kinds = frozenset({"tflite"})
    triggers = root_types(PATTERN)

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        names = ctx.analysis(layer_names)
        for match in find(ctx.graph, PATTERN):
            activation, producer = match.root, match.labels["producer"]
            between = match.labels.get("between")
            fused = _fused_form(activation.op_type, producer.op_type)
            if between is None:
                yield ctx.diagnostic(
                    activation,
                    f"{activation.op_type} is not fused into {names.describe(producer)}",
                    suggestion=(f"fuse it (fused_activation_function={activation.op_type}): "
                                f"convert from {fused}; XNNPACK fuses this pair at load time, "
                                "GPU, NNAPI and the reference kernels do not"),
                    severity=Severity.INFO,
                )
                continue
            moved = KERAS_BETWEEN[between.op_type]
            yield ctx.diagnostic(
                activation,
                f"{activation.op_type} after {names.describe(between)} is not fused into "
                f"{names.describe(producer)}",
                suggestion=(f"apply the activation before the {moved}: {fused}, then the "
                            f"{moved}, gives the same result (the activation keeps zeros) and "
                            f"the converter fuses it into the {producer.op_type}"),
            )


def _fused_form(activation: str, producer: str) -> str:
    layer = KERAS_LAYER[producer]
    if activation == "RELU_N1_TO_1":
        return f"a {layer} followed directly by a clip to [-1, 1]"
    argument = "relu" if activation == "RELU" else "relu6"
    if producer in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
        return f"{layer}(..., activation='{argument}')"
    return f"a {layer} followed directly by keras.layers.ReLU({'' if argument == 'relu' else '6.0'})"
