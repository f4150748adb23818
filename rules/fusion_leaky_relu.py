from __future__ import annotations

from collections.abc import Callable, Iterator

from tflint_rules._layer_names import layer_names

from tflint.diagnostics import Diagnostic
from tflint.patterns import Op, alt, const, constant_values, find, op, options_are, root_types, var
from tflint.rule import Rule, RuleContext

NONE = options_are(fused_activation_function="NONE")
X = var("x")


def _slope(where: Callable[[tuple[float, ...]], bool] | None) -> Op:
    """x times the constant slope ``alpha``."""
    return op("MUL", X, const(where=where, bind="alpha"), where=NONE)


def _not_one(values: tuple[float, ...]) -> bool:
    return all(a != 1 for a in values)


# max(x, a*x) is leaky for 0 < a < 1, min(x, a*x) for a > 1; where(x > 0, x, a*x) for a != 1.
PATTERN = alt(
    op("MAXIMUM", X, _slope(lambda v: all(0 < a < 1 for a in v))),
    op("MINIMUM", X, _slope(lambda v: all(a > 1 for a in v))),
    op(("SELECT", "SELECT_V2"), op(("GREATER", "GREATER_EQUAL"), X, const(0.0)), X, _slope(_not_one)),
    op(("SELECT", "SELECT_V2"), op(("LESS", "LESS_EQUAL"), X, const(0.0)), _slope(_not_one), X),
)


class ExpandedLeakyRelu(Rule):
    """Leaky ReLU computed as maximum(x, a*x) or where(x > 0, x, a*x) instead of LEAKY_RELU.

    ## What it does
    Finds `MAXIMUM(x, MUL(x, a))` with 0 < a < 1, `MINIMUM(x, MUL(x, a))`
    with a > 1, and `SELECT(x > 0, x, MUL(x, a))` (or `x < 0` with the
    branches swapped): a leaky ReLU written with elementwise ops.  A
    per-channel `a` is a PReLU.

    ## Why is this bad
    `LEAKY_RELU` (and `PRELU`) are builtins that XNNPACK takes in float and
    int8.  The expansion costs two or three ops, and XNNPACK takes
    `MAXIMUM`/`MINIMUM` only in float and `GREATER`/`SELECT` not at all, so
    in an int8 model, or in the `where` form, it runs on the CPU and splits
    the delegated graph.  The converter rewrites `maximum(a*x, x)` into
    `LEAKY_RELU` but not `maximum(x, a*x)`.

    ## Example
    ```python
    y = keras.layers.Maximum()([x, x * 0.2])
    ```
    ```
    model.tflite:1:1: warning TFL404 leaky ReLU (alpha 0.2) of FULLY_CONNECTED in layer 'dense' is expanded into 2 ops (MUL, MAXIMUM) (subgraph 0 / op 2 (MAXIMUM) "functional_1/maximum_1/Maximum")
    ```

    ## How to fix
    Use `keras.layers.LeakyReLU(negative_slope=0.2)` (`alpha=` in tf.keras)
    or `keras.layers.PReLU` for per-channel slopes: one `LEAKY_RELU` or
    `PRELU` op.
    """

    code = "TFL404"
    name = "expanded-leaky-relu"
    category = "fusion"
    file_kinds = frozenset({"tflite"})
    triggers = root_types(PATTERN)

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        graph = ctx.graph
        names = ctx.analysis(layer_names)
        for match in find(graph, PATTERN):
            slopes = constant_values(graph, match.bindings["alpha"], dequantize=True) or ()
            source = match.bindings["x"]
            producer = graph.producer(source)
            what = names.describe(producer) if producer is not None else f"'{source.name}'"
            ops = ", ".join(n.op_type for n in match.nodes)
            if len(set(slopes)) == 1:
                kind = f"leaky ReLU (alpha {slopes[0]:.4g})"
                fix = (f"keras.layers.LeakyReLU(negative_slope={slopes[0]:.4g}): one LEAKY_RELU "
                       "op, which XNNPACK takes in float and int8")
            else:
                kind = "PReLU (per-channel alpha)"
                fix = ("keras.layers.PReLU with the slopes as its alpha weights: one PRELU op, "
                       "which XNNPACK takes in float")
            yield ctx.diagnostic(
                match.root,
                f"{kind} of {what} is expanded into {len(match.nodes)} ops ({ops})",
                suggestion=f"use {fix}",
            )
