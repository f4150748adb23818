"""XNNPACK, LiteRT's default CPU delegate: the built-in target.

Op support is data (``xnnpack_ops.json``, evaluated by :mod:`tflint.targets.profile`);
this module adds the two decisions the delegate makes across ops: DEQUANTIZE
of constant float16/int8 weights is folded into its consumers unless one of
them stays on the CPU, and a VAR_HANDLE goes with the variable ops using it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from tflint.graph import ModelGraph, Node
from tflint.signature import OpSignature
from tflint.targets import Placement, Target
from tflint.targets.profile import Profile, load_profile


class XnnpackTarget(Target):
    name = "xnnpack"
    title = "XNNPACK"
    description = "LiteRT's default CPU delegate (ai-edge-litert 2.3.0)"
    keras_lowering_key: ClassVar[str | None] = "delegated"

    @property
    def profile(self) -> Profile:
        return load_profile("xnnpack")

    def verdict_reason(self, op: OpSignature) -> tuple[str | None, bool]:
        verdict = self.profile.verdict(op)
        return verdict.reason, verdict.claimed

    def place(self, graph: ModelGraph, nodes: Sequence[Node],
              signatures: dict[str, OpSignature]) -> Placement:
        profile = self.profile
        placement = Placement()
        reasons = placement.reasons
        absorbable: list[Node] = []
        handles: list[Node] = []
        for node in nodes:
            op = signatures[node.id]
            if profile.is_absorbable_dequantize(op) or profile.is_absorbable_densify(op):
                absorbable.append(node)  # decided by its consumers, below
            elif node.op_type == "VAR_HANDLE":
                handles.append(node)
            else:
                verdict = profile.verdict(op)
                if verdict.reason:
                    reasons[node.id] = verdict.reason
                if verdict.claimed:
                    placement.claimed_failing.add(node.id)
        rejected = set(reasons) - placement.claimed_failing
        # Weights stored as float16/int8 behind a DEQUANTIZE, or sparse behind a DENSIFY,
        # are unpacked once at init unless a consumer stays on the CPU; then so does the op.
        # A DENSIFY is not held back by a DEQUANTIZE of its output that stays: the
        # delegate only looks at consumers that are not themselves unpacking weights.
        unpacking = {n.id for n in absorbable}
        for node in reversed(absorbable):
            blocked = [c for c in graph.consumers(node.outputs[0]) if c.id in rejected
                       and not (node.op_type == "DENSIFY" and c.id in unpacking)]
            if blocked:
                reasons[node.id] = (f"{node.op_type} of constant weights stays on the CPU "
                                    f"because its consumer {blocked[0].op_type} is not "
                                    "delegated")
                placement.follows[node.id] = blocked[0].id
                rejected.add(node.id)
        for node in handles:
            users = [c for t in node.outputs for c in graph.consumers(t)
                     if c.op_type in ("READ_VARIABLE", "ASSIGN_VARIABLE")]
            if not any(u.id not in rejected for u in users):
                reasons[node.id] = "VAR_HANDLE is delegated only with a delegated variable op"
        return placement
