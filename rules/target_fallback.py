from __future__ import annotations

from collections.abc import Iterator

from tflint_rules._causes import cause_message, group_causes
from tflint_rules._dynamic_shapes import dynamic_shapes
from tflint_rules._layer_names import layer_names

from tflint.diagnostics import Diagnostic, Severity
from tflint.rule import Rule, RuleContext
from tflint.targets import get_target


class TargetFallback(Rule):
    """Op that a selected accelerator or runtime other than XNNPACK does not run.

    ## What it does
    For every target selected with `--target` (or `targets = [...]`) other than
    XNNPACK, which TFL110 covers, reports each op of a `.tflite` model that the
    target does not run, with the target's own constraint as the reason, and
    the partitions the target's part of the model is cut into.  Flex and
    custom ops are reported by TFL101 and TFL102; a model a target refuses as
    a whole is reported once, by TFL131.

    ## Why is this bad
    On a delegate or an NPU, an op it does not run stays on the CPU: slower,
    and every border between the accelerator and the CPU costs a copy of the
    tensors crossing it.  On a runtime with no fallback (TFLite Micro), such
    an op makes the model fail to load.

    ## Example
    ```
    model.tflite:1:1: warning TFL130 on ACME NPU: LESS is not supported by ACME NPU; 2 of 5 ops stay off it, in 2 partitions (subgraph 0 / op 1 (LESS) "model/act/Less")
    ```

    ## How to fix
    Rewrite the Keras layer that produced the op with layers the target
    takes (the reason says which constraint failed), quantize as the target
    needs, or choose a target that runs the op.
    """

    code = "TFL130"
    name = "target-fallback"
    category = "unsupported-op"
    file_kinds = frozenset({"tflite"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        graph = ctx.graph
        names = dynamic = None
        for name in ctx.analyses.targets:
            if name == "xnnpack":
                continue  # TFL110, with XNNPACK-specific advice
            delegation = ctx.analyses.delegation(name)
            if delegation is None or delegation.refused or not delegation.cpu_reasons:
                continue
            names = names or ctx.analysis(layer_names)
            dynamic = dynamic or ctx.analysis(dynamic_shapes)
            target = get_target(name)
            # Flex and custom ops are reported by TFL101 and TFL102.
            skip = {n for n in delegation.cpu_reasons
                    if graph.node(n).origin in ("flex", "custom")}
            if name == "tflm":  # uint8 ops share one cause, reported once by TFL133
                from tflint_rules.tflm_uint8 import computes_in_uint8

                skip |= {n for n in delegation.cpu_reasons if computes_in_uint8(graph.node(n))}
            for cause in group_causes(graph, delegation, dynamic, names, skip):
                message = cause_message(cause, delegation)
                if not target.has_fallback:
                    message = message.replace("stay on the CPU", "are not supported").replace(
                        "stays on the CPU", "is not supported") + "; the model fails to load there"
                yield ctx.diagnostic(
                    cause.nodes[0], f"on {target.title}: {message}",
                    suggestion=target.fallback_advice or None,
                    severity=None if target.has_fallback else Severity.ERROR, target=name,
                    related=cause.related(delegation, names),
                    weight=cause.weight(delegation.partition_count))
