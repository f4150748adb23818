from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from tflint_rules._causes import cause_message, group_causes
from tflint_rules._dynamic_shapes import dynamic_shapes
from tflint_rules._layer_names import layer_names

from tflint.diagnostics import Diagnostic, Severity
from tflint.rule import Rule, RuleContext
from tflint.targets import get_target
from tflint.wording import plural

if TYPE_CHECKING:
    from tflint.analyses.delegation import Delegation
    from tflint.analyses.keras_ops import PredictedGraph


class TargetFallback(Rule):
    """Op that a selected accelerator or runtime other than XNNPACK does not run.

    ## What it does
    For every target selected with `--target` (or `targets = [...]`) other than
    XNNPACK, which TFL110 covers, reports each op of a `.tflite` model that the
    target does not run, with the target's own constraint as the reason, and
    the partitions the target's part of the model is cut into.  Flex and
    custom ops are reported by TFL101 and TFL102; a model a target refuses as
    a whole is reported once, by TFL131.

    For a Keras file, the same from the predicted conversion: the ops each
    layer becomes (the lowering table), converted as the target needs (full
    int8 for Ethos-U, the Edge TPU and TFLite Micro), placed by the target
    as it places a `.tflite`'s; one finding per layer, and ops that only
    follow another off the target (after where the Edge TPU compiler stops)
    go with that layer's.

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
    file_kinds = frozenset({"tflite", "keras"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        if ctx.graph.kind == "keras":
            yield from _keras_findings(ctx)
            return
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


def _keras_findings(ctx: RuleContext) -> Iterator[Diagnostic]:
    from tflint.analyses.keras_prediction import describe, histogram
    from tflint.analyses.keras_targets import TargetPrediction

    for name in ctx.analyses.targets:
        if name == "xnnpack":
            continue  # TFL121, measured
        prediction = ctx.analyses.keras_prediction(name)
        if not isinstance(prediction, TargetPrediction) or prediction.refused:
            continue
        delegation, built = prediction.delegation, prediction.built
        if delegation is None or built is None:
            continue
        target = get_target(name)
        # Layers whose ops only follow another layer's off the target join that layer.
        joined: dict[str, list[str]] = {}
        leaders: list[str] = []
        for p in prediction.layers:
            ids = built.ops_of_layer.get(p.node.id, [])
            off = [i for i in ids if i in delegation.cpu_reasons]
            if not off:
                continue
            own = [i for i in off if i not in delegation.follows]
            if own:
                leaders.append(p.node.id)
                joined.setdefault(p.node.id, [])
                continue
            leader = delegation.follows[off[0]]
            while leader in delegation.follows:
                leader = delegation.follows[leader]
            joined.setdefault(built.layer_of_op[leader].id, []).append(p.node.id)
        # A reason that names no op of its own and holds for many layers (the GPU delegate
        # keeping only its largest partition) is one finding, not one per layer.
        by_reason: dict[str, list[str]] = {}
        for lid in leaders:
            key = _general_reason(built, delegation, lid)
            if key:
                by_reason.setdefault(key, []).append(lid)
        grouped = {key: members for key, members in by_reason.items()
                   if len(members) >= _GENERAL_LAYERS}

        for key, members in grouped.items():
            layers = [prediction.by_node[lid] for lid in members]
            names = ", ".join(f"'{p.layer}'" for p in layers[:5])
            more = ", ..." if len(layers) > 5 else ""
            ops = sum(len(built.ops_of_layer[lid]) for lid in members)
            yield ctx.diagnostic(
                layers[0].node,
                f"on {target.title}: the ops of {plural(len(layers), 'layer')} ({names}{more}; "
                f"{plural(ops, 'op')}) stay on the CPU: {key.strip(': ')} (predicted for "
                f"{_article(prediction.conversion)} conversion)",
                suggestion=target.fallback_advice or None, target=name, weight=ops)
        reported = {lid for members in grouped.values() for lid in members}
        leaders = [lid for lid in leaders if lid not in reported]
        # Layers of one class whose ops stay off for the same reason (every LayerNormalization
        # of a model...) are one finding.
        same: dict[tuple[str, str], list[str]] = {}
        texts: dict[str, tuple[str, int]] = {}
        for layer_id in leaders:
            p = prediction.by_node[layer_id]
            ids = built.ops_of_layer[layer_id]
            own = [i for i in ids if i in delegation.cpu_reasons and i not in delegation.follows]
            node = built.graph.node(own[0])
            reason = delegation.cpu_reasons[own[0]]
            off_ops = [built.graph.node(i).op_type for i in ids if i in delegation.cpu_reasons]
            one = len(off_ops) == 1
            if target.has_fallback:
                verb = "stays on the CPU" if one else "stay on the CPU"
            else:
                verb = "is not supported" if one else "are not supported"
            which = "which" if len(off_ops) == len(p.lowering.ops) else \
                f"of which {histogram(off_ops)}"
            why = reason if reason.startswith(node.op_type) else f"{node.op_type}: {reason}"
            kept = _kept_in_float(built, ids, prediction.conversion)
            if kept and node.op_type in ("DEQUANTIZE", "QUANTIZE"):
                why = (f"the int8 conversion leaves {histogram(kept)} in float, between a "
                       f"DEQUANTIZE and a QUANTIZE; {why}")
            becomes = f"{histogram(p.lowering.ops)}, {which} {verb}: {why}"
            same.setdefault((p.node.op_type, becomes), []).append(layer_id)
            texts[layer_id] = (becomes, len(off_ops))
        for (cls, becomes), members in same.items():
            if len(members) < _SAME_LAYERS:
                continue
            layers = [prediction.by_node[lid] for lid in members]
            names = ", ".join(f"'{p.layer}'" for p in layers[:4])
            more = ", ..." if len(layers) > 4 else ""
            off_total = sum(texts[lid][1] for lid in members)
            yield ctx.diagnostic(
                layers[0].node,
                f"on {target.title}: {len(layers)} {cls} layers ({names}{more}) each become "
                f"{becomes} (predicted for {_article(prediction.conversion)} conversion)",
                suggestion=target.fallback_advice or None, target=name,
                severity=None if target.has_fallback else Severity.ERROR, weight=off_total)
            leaders = [lid for lid in leaders if lid not in members]
        for layer_id in leaders:
            p = prediction.by_node[layer_id]
            becomes, off_count = texts[layer_id]
            message = f"on {target.title}: {describe(p.node)} becomes {becomes}"
            followers = joined.get(layer_id, [])
            if followers:
                count = sum(len(built.ops_of_layer[f]) for f in followers)
                names = ", ".join(f"'{prediction.by_node[f].layer}'" for f in followers[:4])
                more = ", ..." if len(followers) > 4 else ""
                message += (f"; {plural(count, 'op')} of {plural(len(followers), 'layer')} "
                            f"after it ({names}{more}) go with it")
            message += f" (predicted for {_article(prediction.conversion)} conversion)"
            yield ctx.diagnostic(
                p.node, message, suggestion=target.fallback_advice or None, target=name,
                severity=None if target.has_fallback else Severity.ERROR,
                weight=off_count + sum(len(built.ops_of_layer[f])
                                       for f in joined.get(layer_id, [])))


#: Layers of one class off the target for the same reason, from which they are one finding.
_SAME_LAYERS = 3
#: Layers sharing a reason that names no op, from which the reason is one finding.
_GENERAL_LAYERS = 3


def _general_reason(built: PredictedGraph, delegation: Delegation, layer_id: str) -> str:
    """The first own reason of the layer's ops off the target when it names no op (such a
    reason is about the model or the target, not the op), or ``""``."""
    for op_id in built.ops_of_layer[layer_id]:
        reason = delegation.cpu_reasons.get(op_id)
        if reason is None or op_id in delegation.follows:
            continue
        if reason.startswith(built.graph.node(op_id).op_type):
            return ""
        return reason
    return ""


def _kept_in_float(built: PredictedGraph, ids: list[str], conversion: str) -> list[str]:
    """The layer's ops an int8 conversion computes in float (measured per op type)."""
    if conversion != "int8":
        return []
    from tflint.analyses.keras_ops import int8_conversion_table

    table = int8_conversion_table()
    return [op for op in (built.graph.node(i).op_type for i in ids)
            if table.get(op, {}).get("int8") == "float"]


def _article(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"
