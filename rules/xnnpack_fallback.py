from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tflint_rules import _data
from tflint_rules._causes import Cause, cause_message, group_causes
from tflint_rules._dynamic_shapes import dynamic_shapes
from tflint_rules._layer_names import layer_names

from tflint.analyses.delegation import Delegation
from tflint.diagnostics import Diagnostic
from tflint.graph import ModelGraph
from tflint.rule import Rule, RuleContext
from tflint.signature import OpSignature
from tflint.targets.profile import dtype_class


class XnnpackFallback(Rule):
    """Op that the XNNPACK delegate will not take, so it runs on the slow CPU path.

    ## What it does
    Predicts, op by op, which operators of a `.tflite` model the XNNPACK
    delegate (LiteRT's default CPU delegate) takes, from the delegate's own
    conditions (dtypes, fused activations, constant operands, ranks, option
    values, quantization; see `tflint/targets/xnnpack_ops.json`), and forms the
    delegate partitions as the runtime does.  Each op left on the CPU gets a
    diagnostic with the reason; the file summary and the json `delegation`
    block give the totals.  Flex and custom ops are counted but reported by
    TFL101 and TFL102.

    ## Why is this bad
    An op XNNPACK does not take runs on TFLite's reference kernels, which are
    often many times slower, and it splits the graph: every partition border
    costs a copy of the tensors crossing it.  A model converted from Keras can
    end up slower than the Keras original this way.

    ## Example
    A custom activation `where(x < 0, 0.1 * x, square(x))` converts to
    LESS, MUL, SQUARE and SELECT_V2; LESS and SELECT_V2 are not delegated:
    ```
    model.tflite:1:1: warning TFL110 SELECT_V2 is not supported by XNNPACK; the model runs in 4 partitions (subgraph 0 / op 4 (SELECT_V2) "model/custom_activation/SelectV2")
      help: express the computation without a select: an activation like where(x < 0, a*x, f(x)) is better written with ReLU, LeakyReLU or MAXIMUM/MINIMUM
    model.tflite: 17 ops, 11 on XNNPACK in 4 partitions, 6 on CPU: LESS x3, SELECT_V2 x3
    ```

    ## How to fix
    Follow the help line: rewrite the Keras layer that produced the op with
    layers whose ops XNNPACK takes (ReLU, LeakyReLU, hard_swish, static
    Reshape...), give the model static shapes, or quantize to signed int8.
    `tflint --verify` checks the prediction against the installed runtime.
    """

    code = "TFL110"
    name = "xnnpack-fallback"
    category = "unsupported-op"
    file_kinds = frozenset({"tflite"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        delegation = ctx.analyses.delegation("xnnpack")
        if delegation is None or not delegation.cpu_reasons or (
                "xnnpack" not in ctx.analyses.targets):
            return
        graph = ctx.graph
        advice = _data.load("xnnpack_advice.json")
        names = ctx.analysis(layer_names)
        # Flex and custom ops are reported by the flex-op and custom-op rules.
        skip = {n for n in delegation.cpu_reasons if graph.node(n).origin in ("flex", "custom")}
        causes = group_causes(graph, delegation, ctx.analysis(dynamic_shapes), names, skip)
        for cause in causes:
            yield ctx.diagnostic(
                cause.nodes[0], cause_message(cause, delegation),
                suggestion=_suggestion(graph, cause, delegation, advice),
                related=cause.related(delegation, names),
                weight=cause.weight(delegation.partition_count),
            )


def _suggestion(graph: ModelGraph, cause: Cause, delegation: Delegation,
                advice: dict[str, Any]) -> str:
    if cause.kind == "dynamic-shape":
        return str(advice["dynamic_shape"])
    # The most specific advice of the cause's ops; weights that only follow their consumer last.
    ordered = sorted(cause.nodes, key=lambda n: n.op_type == "DEQUANTIZE")
    for node in ordered:
        reason = delegation.cpu_reasons[node.id]
        classes = [dtype_class(t) for t in OpSignature.of(graph, node).inputs[:1]]
        # "CONV_2D on int16 is not supported": the tensor type is the reason.
        if classes and reason.startswith(f"{node.op_type} on ") and classes[0] in advice["dtypes"]:
            return str(advice["dtypes"][classes[0]])
        if node.op_type in advice["ops"]:
            return str(advice["ops"][node.op_type])
    return str(advice["default"])
