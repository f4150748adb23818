from __future__ import annotations

from collections.abc import Iterator

from tflint_rules._layer_names import layer_names

from tflint.diagnostics import Diagnostic
from tflint.patterns import alt, const, find, op, options_are, root_types, var
from tflint.rule import Rule, RuleContext

NONE = options_are(fused_activation_function="NONE")
#: Integer activation types: there the expansion is no worse (see below).
QUANTIZED = frozenset({"int8", "uint8", "int16"})

X = var("x")
#: relu6(x + 3): the converter fuses the RELU6 into the ADD.
RELU6_X_PLUS_3 = alt(
    op("ADD", X, const(3.0), where=options_are(fused_activation_function="RELU6")),
    op("RELU6", op("ADD", X, const(3.0), where=NONE)),
)
X_TIMES_RELU6 = op("MUL", X, RELU6_X_PLUS_3, where=NONE)
PATTERN = alt(
    op("MUL", X_TIMES_RELU6, const(1 / 6), where=NONE),             # (x * relu6(x+3)) * (1/6)
    op("DIV", X_TIMES_RELU6, const(6.0), where=NONE),               # (x * relu6(x+3)) / 6
    op("MUL", X, alt(op("MUL", RELU6_X_PLUS_3, const(1 / 6), where=NONE),
                     op("DIV", RELU6_X_PLUS_3, const(6.0), where=NONE)), where=NONE),
)


class ExpandedHardSwish(Rule):
    """Hard-swish computed as x * relu6(x + 3) / 6 in several ops instead of one HARD_SWISH.

    ## What it does
    Finds `x * relu6(x + 3) / 6` written out in float ops, in any
    arrangement of the multiplications (`x * relu6(x+3) * (1/6)`,
    `x * (relu6(x+3) / 6)`, `(relu6(x+3) * x) / 6`, ...), with the
    `RELU6` standalone or fused into the `ADD`.

    ## Why is this bad
    TFLite has a `HARD_SWISH` builtin that XNNPACK takes in float; the
    expansion costs three ops and three passes over the tensor instead of
    one.  The converter recognises most arrangements (and Keras'
    `hard_swish`), but not `(relu6(x + 3) * x) / 6` nor a constant that is
    not exactly 1/6.  In int8 models the expansion is not reported: XNNPACK
    takes int8 `ADD`/`MUL` but not int8 `HARD_SWISH`.

    ## Example
    ```python
    h = keras.layers.ReLU(6.0)(x + 3.0)
    y = keras.layers.Multiply()([h, x]) / 6.0
    ```
    ```
    model.tflite:1:1: warning TFL403 hard-swish of FULLY_CONNECTED in layer 'dense' is expanded into 3 ops (ADD, MUL, MUL) (subgraph 0 / op 3 (MUL) "functional_1/true_divide_1/truediv")
    ```

    ## How to fix
    Use `keras.layers.Activation("hard_swish")` (Keras 3; `hard_silu` is
    the same function), or `keras.activations.hard_swish` in your own code:
    the converter emits one `HARD_SWISH`.  If the constant was an
    approximation of 1/6, the builtin changes the output only by that
    rounding.
    """

    code = "TFL403"
    name = "expanded-hard-swish"
    category = "fusion"
    file_kinds = frozenset({"tflite"})
    triggers = root_types(PATTERN)

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        graph = ctx.graph
        names = ctx.analysis(layer_names)
        for match in find(graph, PATTERN):
            source = match.bindings["x"]
            if source.dtype in QUANTIZED:
                continue
            producer = graph.producer(source)
            what = names.describe(producer) if producer is not None else f"'{source.name}'"
            ops = ", ".join(n.op_type for n in match.nodes)
            yield ctx.diagnostic(
                match.root,
                f"hard-swish of {what} is expanded into {len(match.nodes)} ops ({ops})",
                suggestion=("use keras.layers.Activation('hard_swish') (or "
                            "keras.activations.hard_swish): one HARD_SWISH op, taken by XNNPACK"),
            )
