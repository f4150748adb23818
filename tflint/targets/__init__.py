"""Targets: the runtimes or accelerators a model is linted for, discovered as plug-ins.

A target is a class registered under the entry-point group ``tflint.targets``::

    [project.entry-points."tflint.targets"]
    my-npu = "my_package.npu:MyNpuTarget"

It names itself, keeps its op support as data (a profile evaluated on each
op's :class:`~tflint.signature.OpSignature`), and decides per subgraph which
ops it runs.  Partitions are always formed by the one shared partitioner
(:mod:`tflint.partition`), so every target's partitions mean the same thing.
The built-in XNNPACK target is registered exactly like a third party's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, ClassVar

from tflint.errors import UsageError
from tflint.graph import ModelGraph, Node
from tflint.signature import OpSignature

ENTRY_POINT_GROUP = "tflint.targets"
DEFAULT_TARGET = "xnnpack"


class TargetError(UsageError):
    """A target plugin is broken, or a target name is unknown."""


@dataclass
class Placement:
    """A target's decision for the ops of one subgraph."""

    #: Node id -> why the target does not run it; absent for ops it runs.
    reasons: dict[str, str] = field(default_factory=dict)
    #: Ops the target claims but cannot build (also in ``reasons``): they sit in a
    #: partition, and the interpreter fails to prepare the model.
    claimed_failing: set[str] = field(default_factory=set)
    #: Node id -> the op that keeps it off the target, for an op the target would run
    #: but for that one (weights unpacked for a CPU consumer, ops computed after the op
    #: where a compiler stopped mapping): reported with that op, not as a cause of its own.
    follows: dict[str, str] = field(default_factory=dict)


@dataclass
class Assessment:
    """A target's view of the whole model."""

    #: Why the target refuses the whole model (a float model on an integer-only NPU);
    #: then no op runs on it, and the finding is reported once, not per op.
    refused: str | None = None
    #: Target-specific figures for the report (e.g. ``arena_bytes``), JSON-serializable.
    details: dict[str, Any] = field(default_factory=dict)


class Target:
    """Base class of every target; subclasses set the class attributes."""

    #: Stable name used on the command line and in the config, e.g. ``xnnpack``.
    name: ClassVar[str]
    #: The name in messages, e.g. ``XNNPACK``.
    title: ClassVar[str]
    #: One line saying what the target is.
    description: ClassVar[str] = ""
    #: Key of the Keras lowering table's per-op support flags for this target,
    #: or ``None`` when predictions from a Keras file are not available for it.
    keras_lowering_key: ClassVar[str | None] = None
    #: How a Keras model is converted for the target when its placement is predicted from
    #: the predicted ops (no ``keras_lowering_key``): ``float32`` or ``int8`` (full-integer).
    keras_conversion: ClassVar[str] = "float32"
    #: Whether ops the target does not run fall back to the CPU (a delegate) or make the
    #: model fail (a microcontroller runtime with no fallback).
    has_fallback: ClassVar[bool] = True
    #: What to do when the target refuses a whole model (shown as the finding's help).
    refusal_advice: ClassVar[str] = ""
    #: What to do about ops the target does not run, beyond each op's reason (the help of
    #: those findings).
    fallback_advice: ClassVar[str] = ""

    def verdict_reason(self, op: OpSignature) -> tuple[str | None, bool]:
        """Why the target does not run ``op`` (None when it does), and whether it claims
        the op anyway and then fails to build it."""
        raise NotImplementedError

    def assess(self, graph: ModelGraph) -> Assessment:
        """Whole-model decisions and figures, made once before the ops are placed."""
        return Assessment()

    def place(self, graph: ModelGraph, nodes: Sequence[Node],
              signatures: dict[str, OpSignature]) -> Placement:
        """Decide every op of one subgraph; targets with cross-op rules override this."""
        placement = Placement()
        for node in nodes:
            reason, claimed = self.verdict_reason(signatures[node.id])
            if reason:
                placement.reasons[node.id] = reason
            if claimed:
                placement.claimed_failing.add(node.id)
        return placement


def validate(target: type[Target], source: str) -> None:
    for attr in ("name", "title"):
        if not isinstance(getattr(target, attr, None), str):
            raise TargetError(f"target {source}: missing class attribute {attr!r}")


@cache
def load_targets() -> dict[str, type[Target]]:
    """Every registered target by name; a name registered twice is an error."""
    from tflint.plugins import entry_points_of

    found: dict[str, type[Target]] = {}
    for entry in entry_points_of(ENTRY_POINT_GROUP):
        try:
            target = entry.load()
        except Exception as exc:  # a broken plugin must not look like a model error
            raise TargetError(f"cannot load target plugin {entry.value!r}: {exc}") from exc
        if not (isinstance(target, type) and issubclass(target, Target)):
            raise TargetError(f"target plugin {entry.value!r} is not a tflint Target")
        validate(target, entry.value)
        other = found.get(target.name)
        if other is not None and other is not target:
            raise TargetError(f"target name {target.name!r} is registered twice: "
                              f"{other.__module__}.{other.__qualname__} and "
                              f"{target.__module__}.{target.__qualname__}")
        found[target.name] = target
    return dict(sorted(found.items()))


@cache
def get_target(name: str) -> Target:
    """The target registered as ``name``; an unknown name is a usage error.

    An entry point named like the target is loaded alone, so a lint for one target
    imports no other; anything else (a renamed entry, a clash) goes through the full
    registry, which reports it.
    """
    from tflint.plugins import entry_points_of

    named = [e for e in entry_points_of(ENTRY_POINT_GROUP) if e.name == name]
    # Once the full registry is read (a listing, a test registering a target), it answers.
    if len(named) == 1 and load_targets.cache_info().currsize == 0:
        try:
            target = named[0].load()
        except Exception:
            target = None
        if isinstance(target, type) and issubclass(target, Target) and getattr(
                target, "name", None) == name:
            validate(target, named[0].value)
            return target()
    targets = load_targets()
    if name not in targets:
        known = ", ".join(targets) or "none"
        raise TargetError(f"unknown target {name!r} (known: {known})")
    return targets[name]()
