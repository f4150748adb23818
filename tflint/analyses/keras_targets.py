"""Where a Keras model's ops will run on a target the lowering table has no measurements for.

The conversion is the same whatever the target: the XNNPACK-keyed prediction says which
ops each layer becomes.  The target then places those ops as it places a ``.tflite``'s:
:mod:`tflint.analyses.keras_ops` builds them into a graph with the operands the
target's conversion writes (``Target.keras_conversion``: ``int8`` for NPUs and
microcontrollers), and :func:`~tflint.analyses.delegation.predict_delegation` decides
every op and forms the partitions with the shared partitioner.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from tflint.analyses.delegation import Delegation, predict_delegation
from tflint.analyses.keras_ops import PredictedGraph, device_lowering, predicted_graph
from tflint.analyses.keras_prediction import LayerPrediction, Lowering, Prediction
from tflint.graph import ModelGraph
from tflint.targets import get_target
from tflint.wording import plural


@dataclass
class TargetPrediction(Prediction):
    """A Keras model's predicted placement on a target, from its predicted ops."""

    #: The conversion the ops were built for: ``int8`` or ``float32``.
    conversion: str = "float32"
    #: Why the target refuses the converted model as a whole, if it does.
    refused: str | None = None
    #: False for a runtime with no CPU fallback (TFLite Micro).
    has_fallback: bool = True
    #: Keras node id -> per op of the layer, why the target does not run it (None: it does).
    op_reasons: dict[str, list[str | None]] = field(default_factory=dict)
    built: PredictedGraph | None = None
    delegation: Delegation | None = None

    def cpu_records(self) -> list[dict[str, Any]]:
        records = []
        for p in self.layers:
            reasons = self.op_reasons.get(p.node.id, [])
            for op, reason in zip(p.lowering.ops, reasons, strict=False):
                if reason is not None:
                    records.append({"subgraph": 0, "index": None, "op": op, "layer": p.layer,
                                    "reason": reason})
        return records

    def section(self) -> dict[str, Any]:
        block = super().section()
        block.update({"conversion": self.conversion, "refused": self.refused})
        return block

    def note(self) -> str:
        where = "on CPU" if self.has_fallback else f"not supported by {self.title}"
        text = (f"~{plural(self.ops, 'op')}, {self.delegated} on {self.title} in "
                f"{plural(self.partitions, 'partition')}, {self.ops - self.delegated} {where}")
        if self.refused:
            text = f"~{plural(self.ops, 'op')}, refused by {self.title}: {self.refused}"
        cpu = Counter(r["op"] for r in self.cpu_records())
        if cpu and not self.refused:
            text += ": " + ", ".join(f"{op} x{n}" for op, n in cpu.most_common())
        unknown = len(self.unknown_layers)
        basis = f"predicted from Keras, {self.conversion} conversion"
        if unknown:
            basis += f"; {plural(unknown, 'opaque or unknown layer')} not counted"
        return f"{text} ({basis})"


def retarget(keras: ModelGraph, base: Prediction, target: str) -> TargetPrediction:
    """Place ``base``'s predicted ops (the conversion of ``keras``) on ``target``."""
    chosen = get_target(target)
    built = predicted_graph(keras, base, chosen.keras_conversion)
    delegation = predict_delegation(built.graph, chosen.name)
    layers: list[LayerPrediction] = []
    op_reasons: dict[str, list[str | None]] = {}
    for p in base.layers:
        ids = built.ops_of_layer.get(p.node.id)
        if not ids:
            layers.append(p)
            continue
        reasons = [delegation.cpu_reasons.get(op_id) for op_id in ids]
        op_reasons[p.node.id] = reasons
        lowering = built_lowering(built, ids, device_lowering(p), reasons)
        status = p.status
        if status in ("ok", "cpu"):
            status = "cpu" if any(r is not None for r in reasons) else "ok"
        layers.append(replace(p, lowering=lowering, status=status))
    ops = len(built.graph)  # with the batch fixed, as for a device
    return TargetPrediction(
        flavor=base.flavor, dynamic_batch=base.dynamic_batch, layers=layers,
        by_node={p.node.id: p for p in layers}, ops=ops, delegated=delegation.delegated,
        partitions=delegation.partition_count,
        partitions_if_opaque_on_cpu=delegation.partition_count, versions=base.versions,
        target=chosen.name, title=chosen.title, shapes=base.shapes,
        conversion=chosen.keras_conversion, refused=delegation.refused,
        has_fallback=chosen.has_fallback, op_reasons=op_reasons, built=built,
        delegation=delegation)


def built_lowering(built: PredictedGraph, ids: list[str], base: Lowering,
                   reasons: list[str | None]) -> Lowering:
    """A layer's ops as built for the target's conversion (int8 rewrites and the
    converter's folds included), each delegated unless it has a reason."""
    nodes = [built.graph.node(i) for i in ids]
    position = {t.id: k for k, node in enumerate(nodes) for t in node.outputs}
    deps = [sorted({position[t.id] for t in node.inputs if t.id in position}) for node in nodes]
    return Lowering([n.op_type for n in nodes], [r is None for r in reasons], deps,
                    list(base.flex_ops), base.converts_builtin, base.subgraphs)
