from __future__ import annotations

from collections.abc import Iterator

from tflint_rules._layer_names import layer_names

from tflint.diagnostics import Diagnostic
from tflint.patterns import alt, const, find, op, options_are, root_types, var
from tflint.rule import Rule, RuleContext

NONE = options_are(fused_activation_function="NONE")
X = var("x")
NEGATED = alt(op("NEG", X), op("MUL", X, const(-1.0), where=NONE))
ONE_PLUS_EXP = op("ADD", op("EXP", NEGATED), const(1.0), where=NONE)
#: x / (1 + exp(-x)) and x * (1 / (1 + exp(-x))): sigmoid spelled out.
EXPANDED = alt(
    op("DIV", X, ONE_PLUS_EXP, where=NONE),
    op("MUL", X, op("DIV", const(1.0), ONE_PLUS_EXP, where=NONE), where=NONE),
)
#: x * sigmoid(x): as good as it gets (no SiLU builtin), only counted.
LOGISTIC_FORM = op("MUL", X, op("LOGISTIC", X), where=NONE)


class ExpandedSilu(Rule):
    """SiLU (swish) written as x / (1 + exp(-x)) instead of x * sigmoid(x).

    ## What it does
    Finds SiLU computed with `NEG`, `EXP`, `ADD` and `DIV` (or a `MUL` by a
    reciprocal).  The usual form, `LOGISTIC` followed by `MUL`, is not
    reported: TFLite has no SiLU builtin and XNNPACK no SiLU operator, and
    XNNPACK takes both ops in float and int8, so that pair is already the
    best form; the file summary counts them.

    ## Why is this bad
    The spelled-out sigmoid costs four ops and four passes over the tensor
    instead of two, and in an int8 model XNNPACK takes neither `EXP`, `NEG`
    nor `DIV` (float only), so each such SiLU leaves the delegate.

    ## Example
    ```python
    y = x / (1.0 + tf.exp(-x))
    ```
    ```
    model.tflite:1:1: warning TFL407 SiLU of FULLY_CONNECTED in layer 'dense' is written with EXP in 4 ops (NEG, EXP, ADD, DIV) (subgraph 0 / op 4 (DIV) "functional_1/true_divide_1/truediv")
    ```

    ## How to fix
    Use `keras.activations.silu` (`swish`) or `keras.layers.Activation("silu")`:
    the converter emits `LOGISTIC` and `MUL`.
    """

    code = "TFL407"
    name = "expanded-silu"
    category = "fusion"
    file_kinds = frozenset({"tflite"})
    triggers = root_types(EXPANDED)

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        graph = ctx.graph
        names = ctx.analysis(layer_names)
        for match in find(graph, EXPANDED):
            source = match.bindings["x"]
            producer = graph.producer(source)
            what = names.describe(producer) if producer is not None else f"'{source.name}'"
            ops = ", ".join(n.op_type for n in match.nodes)
            yield ctx.diagnostic(
                match.root,
                f"SiLU of {what} is written with EXP in {len(match.nodes)} ops ({ops})",
                suggestion=("use keras.activations.silu (or Activation('silu')): LOGISTIC and "
                            "MUL, which XNNPACK takes in float and int8"),
            )
        fine = sum(1 for _ in find(graph, LOGISTIC_FORM))
        if fine:
            plural = fine > 1
            ctx.notes.append(
                f"{fine} SiLU activation{'s' if plural else ''} run{'' if plural else 's'} as "
                "LOGISTIC + MUL: fine (TFLite has no SiLU builtin, XNNPACK takes both ops)")
