from __future__ import annotations

import math
from collections.abc import Iterator

from tflint_rules._layer_names import layer_names

from tflint.diagnostics import Diagnostic
from tflint.patterns import Op, Pattern, alt, const, find, op, options_are, root_types, var
from tflint.rule import Rule, RuleContext

X = var("x")
CUBIC_COEFFICIENT = 0.044715
SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
#: Erf has no TFLite builtin: it is a Flex op, or a custom op with allow_custom_ops.
ERF_OPS = ("FlexErf", "Erf")


def _mul(*inputs: Pattern) -> Op:
    return op("MUL", *inputs, where=options_are(fused_activation_function="NONE"))


def _add(*inputs: Pattern) -> Op:
    return op("ADD", *inputs, where=options_are(fused_activation_function="NONE"))


C = const(CUBIC_COEFFICIENT)
# c * x^3 and c * x^2 in the association orders that survive conversion.
CUBIC = alt(
    _mul(_mul(_mul(X, C), X), X),
    _mul(_mul(_mul(X, X), X), C),
    _mul(_mul(X, X), _mul(X, C)),
    _mul(op("POW", X, const(3.0)), C),
    _mul(_mul(op("SQUARE", X), X), C),
    _mul(op("SQUARE", X), _mul(X, C)),
)
QUADRATIC = alt(_mul(_mul(X, C), X), _mul(_mul(X, X), C), _mul(op("SQUARE", X), C))
#: Keras-traced code gets x + c x^3 as a bias add of the squeezed cubic term.
SQUEEZED_CUBIC = op(("RESHAPE", "SQUEEZE"), CUBIC, partial=True)
TANH = op("TANH", alt(
    _mul(_add(X, alt(CUBIC, SQUEEZED_CUBIC)), const(SQRT_2_OVER_PI)),   # s * (x + c x^3)
    _mul(_mul(X, const(SQRT_2_OVER_PI)), _add(QUADRATIC, const(1.0))),  # s x * (1 + c x^2)
), label="tanh")
ERF = op(ERF_OPS, alt(_mul(X, const(1 / math.sqrt(2))), op("DIV", X, const(math.sqrt(2)))),
         label="erf")
ONE_PLUS = _add(alt(TANH, ERF), const(1.0))
HALF = const(0.5)
PATTERN = alt(
    _mul(_mul(X, HALF), ONE_PLUS),                                       # (x/2) * (1 + f)
    _mul(_mul(X, ONE_PLUS), HALF),                                       # (x (1 + f)) / 2
    _mul(X, _mul(ONE_PLUS, HALF)),                                       # x * ((1 + f) / 2)
    _mul(X, _add(_mul(alt(TANH, ERF), HALF), HALF)),                     # x * (1/2 + f/2)
)


class ExpandedGelu(Rule):
    """GELU written out with TANH or Erf and arithmetic instead of the GELU builtin.

    ## What it does
    Finds the tanh approximation `0.5 * x * (1 + tanh(sqrt(2/pi) * (x +
    0.044715 * x^3)))` and the exact form `0.5 * x * (1 + erf(x /
    sqrt(2)))` spelled out in ops, in the association orders the converter
    leaves them in.

    ## Why is this bad
    TFLite has a `GELU` builtin (with an `approximate` option) that XNNPACK
    takes in float.  The tanh expansion costs nine ops and as many passes
    over the tensor.  The erf form is worse: `Erf` has no builtin, so the
    model only converts with Select TF ops (`FlexErf`), which needs the
    multi-megabyte Flex delegate.  TensorFlow 2.21 turns
    `keras.activations.gelu`, `tf.nn.gelu` and hand-written forms using
    `tf.pow(x, 3)` or `erf(x / sqrt(2))` into one `GELU`, but not `x * x *
    x` or `erf(x * 0.7071)`.

    ## Example
    ```python
    x = keras.layers.Dense(64)(inputs)
    y = 0.5 * x * (1.0 + keras.ops.tanh(0.7978845608 * (x + 0.044715 * x * x * x)))
    ```
    ```
    model.tflite:1:1: warning TFL405 GELU (tanh approximation) of FULLY_CONNECTED in layer 'dense' is expanded into 10 ops (subgraph 0 / op 10 (MUL) "functional_1/Mul_5")
    ```

    ## How to fix
    Use `keras.activations.gelu(x, approximate=True)` (tanh form) or
    `approximate=False` (erf form), or `keras.layers.Activation("gelu")`:
    the converter emits one `GELU` op.
    """

    code = "TFL405"
    name = "expanded-gelu"
    category = "fusion"
    file_kinds = frozenset({"tflite"})
    triggers = root_types(PATTERN)

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        graph = ctx.graph
        names = ctx.analysis(layer_names)
        for match in find(graph, PATTERN):
            source = match.bindings["x"]
            producer = graph.producer(source)
            what = names.describe(producer) if producer is not None else f"'{source.name}'"
            erf = match.labels.get("erf")
            form = "erf form" if erf is not None else "tanh approximation"
            message = f"GELU ({form}) of {what} is expanded into {len(match.nodes)} ops"
            suggestion = (f"use keras.activations.gelu(x, approximate={erf is None}): one GELU "
                          "op, which XNNPACK takes in float")
            if erf is not None:
                message += (f"; its {erf.op_type} needs the Select TF ops delegate"
                            if erf.origin == "flex"
                            else f"; its custom op {erf.op_type} must be registered by the app")
                suggestion += ", and no Erf op to ship"
            yield ctx.diagnostic(match.root, message, suggestion=suggestion)
