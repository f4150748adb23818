from __future__ import annotations

from collections.abc import Iterator

from tflint_rules._layer_names import layer_names

from tflint.diagnostics import Diagnostic
from tflint.graph import ModelGraph
from tflint.patterns import (
    ELEMENTWISE_UNARY,
    Match,
    const,
    constant_values,
    find,
    op,
    root_types,
    through,
    var,
)
from tflint.rule import Rule, RuleContext

#: Element-wise ops looked through between the two transposes (an int8
#: model wraps a float op in DEQUANTIZE and QUANTIZE).
MAX_BETWEEN = 3

PATTERN = op("TRANSPOSE",
             through(ELEMENTWISE_UNARY, op("TRANSPOSE", var("x"), const(bind="first"),
                                           label="first"), MAX_BETWEEN),
             const(bind="second"))


class RedundantTransposes(Rule):
    """Two TRANSPOSE ops that cancel out, or that could be one.

    ## What it does
    Finds a `TRANSPOSE` whose input comes from another `TRANSPOSE`, directly
    or through up to three element-wise ops (`SIN`, `RELU`, `DEQUANTIZE`,
    ...), and composes their constant permutations.  When they compose to
    the identity, both are useless; when two are adjacent, they are one
    transpose.

    ## Why is this bad
    Each `TRANSPOSE` copies the whole tensor in a cache-unfriendly order.
    The converter cancels adjacent pairs and moves transposes across the
    element-wise ops it knows (`RELU`, `ADD` of a constant), but not across
    others such as `SIN`: channels-first code (`Permute`, op, `Permute`
    back) keeps both copies.

    ## Example
    ```python
    x = keras.layers.Permute((3, 1, 2))(x)
    x = keras.ops.sin(x)
    x = keras.layers.Permute((2, 3, 1))(x)
    ```
    ```
    model.tflite:1:1: warning TFL408 TRANSPOSE [0, 3, 1, 2] and TRANSPOSE [0, 2, 3, 1] around SIN cancel out (subgraph 0 / op 3 (TRANSPOSE) "functional_1/permute_1_1/transpose")
    ```

    ## How to fix
    Remove both permutes and apply the element-wise op in the original
    layout (the result is the same), or replace two adjacent permutes by one
    with the composed order given in the message.
    """

    code = "TFL408"
    name = "redundant-transposes"
    category = "fusion"
    file_kinds = frozenset({"tflite"})
    triggers = root_types(PATTERN)

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        graph = ctx.graph
        names = ctx.analysis(layer_names)
        for match in find(graph, PATTERN, accept=lambda m: _composed(graph, m) is not None):
            composed = _composed(graph, match)
            assert composed is not None
            first, second = (_perm(graph, match, key) for key in ("first", "second"))
            between = [n.op_type for n in match.nodes if n.op_type != "TRANSPOSE"]
            around = f" around {', '.join(between)}" if between else ""
            where = names.describe(match.labels["first"])
            if composed == list(range(len(composed))):
                yield ctx.diagnostic(
                    match.root,
                    f"TRANSPOSE {first} and TRANSPOSE {second}{around} cancel out",
                    suggestion=(f"remove both transposes (the first is {where}); the ops between "
                                "them work value by value, so the result is the same"),
                )
            else:
                yield ctx.diagnostic(
                    match.root,
                    f"TRANSPOSE {first} then TRANSPOSE {second} make one TRANSPOSE {composed}",
                    suggestion=f"permute once, with perm {composed} (the first is {where})",
                )


def _perm(graph: ModelGraph, match: Match, key: str) -> list[int] | None:
    values = constant_values(graph, match.bindings[key])
    return None if values is None else [int(v) for v in values]


def _composed(graph: ModelGraph, match: Match) -> list[int] | None:
    """The single permutation both apply, when worth reporting: cancelling,
    or adjacent (nothing between)."""
    first, second = _perm(graph, match, "first"), _perm(graph, match, "second")
    if first is None or second is None or len(first) != len(second) \
            or sorted(second) != list(range(len(first))):
        return None
    composed = [first[axis] for axis in second]
    if composed == list(range(len(composed))) or len(match.nodes) == 2:
        return composed
    return None
