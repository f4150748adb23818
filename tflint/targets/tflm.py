"""TensorFlow Lite for Microcontrollers: which ops its op resolver runs, and the arena.

Op support is data (``tflm_ops.json``: the builtins the resolver registers and,
per kernel, the dtype patterns and conditions its Prepare and Eval accept;
sources and probes in ``TFLM_NOTES.md``).  TFLM has no fallback: an op
without a kernel, or one its kernel rejects, makes the model fail to load or
to run.  The whole-model assessment adds the tensor arena estimate of
:mod:`tflint.targets.tflm_arena`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from tflint.expressions import ExpressionError, Undecided, evaluate
from tflint.expressions import check as check_expression
from tflint.graph import ModelGraph
from tflint.schema import DataFileError, load_data_file
from tflint.signature import OperandSignature, OpSignature
from tflint.targets import Assessment, Target
from tflint.targets.tflm_arena import estimate_arena

PROFILE_FILE = Path(__file__).with_name("tflm_ops.json")
_POSITION = re.compile(r"(\*|-|[a-z][a-z0-9]*)(\|(\*|-|[a-z][a-z0-9]*))*\Z")
_FAILURE = {
    "prepare": "the interpreter fails to allocate tensors",
    "invoke": "the model loads but fails when invoked",
    "crash": "the interpreter aborts",
}
_OPERAND_FIELDS = ("dtype", "present", "const", "rank", "shape", "scale", "zero_point",
                   "scales_count", "pow2_scale", "channels", "dim0")
_NAMES = frozenset({"num_inputs", "num_outputs", "inputs_match_output_quantization"})


@dataclass(frozen=True)
class Pattern:
    """One accepted dtype pattern: alternatives per input and output position."""

    text: str
    inputs: tuple[frozenset[str], ...]
    outputs: tuple[frozenset[str], ...]
    variadic_inputs: bool
    variadic_outputs: bool

    @classmethod
    def parse(cls, text: str) -> Pattern:
        left, _, right = text.partition("->")
        inputs, variadic_in = _side(left)
        outputs, variadic_out = _side(right)
        return cls(text, inputs, outputs, variadic_in, variadic_out)

    def matches(self, inputs: list[str], outputs: list[str]) -> bool:
        return (_side_matches(self.inputs, self.variadic_inputs, inputs, pad=True)
                and _side_matches(self.outputs, self.variadic_outputs, outputs, pad=False))


def _side(text: str) -> tuple[tuple[frozenset[str], ...], bool]:
    variadic = text.endswith("...")
    text = text.removesuffix("...")
    if not text:
        return (), variadic
    return tuple(frozenset(p.split("|")) for p in text.split(",")), variadic


def _side_matches(pattern: tuple[frozenset[str], ...], variadic: bool, actual: list[str],
                  pad: bool) -> bool:
    if pattern == (frozenset({"*"}),) and not variadic:
        return True  # '*' alone: any operands at all
    if variadic and pattern:
        pattern = pattern + (pattern[-1],) * max(0, len(actual) - len(pattern))
    if len(actual) > len(pattern):
        return False
    if len(actual) < len(pattern):
        if not pad:
            return False
        actual = actual + ["-"] * (len(pattern) - len(actual))
    return all(("*" in allowed and dtype != "-") or dtype in allowed
               for allowed, dtype in zip(pattern, actual, strict=True))


class TflmProfile:
    """The resolver's ops and each kernel's accepted types and conditions."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.ops: dict[str, dict[str, Any]] = data["ops"]
        self.custom: dict[str, str] = data["custom"]
        short = data["dtype_names"]
        self.short_names: dict[str, str] = {long: s for s, long in short.items()}
        self.patterns = {name: [Pattern.parse(t) for t in spec["types"]]
                         for name, spec in self.ops.items()}

    def short(self, tensor: OperandSignature | None) -> str:
        if tensor is None:
            return "-"
        return self.short_names.get(tensor.dtype or "", tensor.dtype or "?")

    def reason(self, op: OpSignature) -> tuple[str, str] | None:
        """Why TFLM does not run ``op`` and how it fails, or None when it runs it."""
        if op.origin == "flex":
            return (f"{op.op_type} is a TensorFlow (Flex) op, which TFLite Micro cannot run",
                    "prepare")
        if op.origin == "custom":
            if op.op_type in self.custom:
                return None
            return (f"custom op '{op.op_type}' is not registered in TFLite Micro's op resolver",
                    "prepare")
        spec = self.ops.get(op.op_type)
        if spec is None:
            return f"{op.op_type} has no kernel in TFLite Micro's op resolver", "prepare"
        inputs = [self.short(t) for t in op.inputs]
        outputs = [self.short(t) for t in op.outputs]
        if not any(p.matches(inputs, outputs) for p in self.patterns[op.op_type]):
            got = f"{','.join(inputs)}->{','.join(outputs)}"
            accepted = "; ".join(spec["types"])
            return (f"{op.op_type} has no TFLite Micro kernel for types {got} "
                    f"(accepted: {accepted})", spec["type_failure"])
        names: OperandNames | None = None
        for constraint in spec.get("constraints", ()):
            names = names or OperandNames(op, self)
            try:
                holds = evaluate(constraint["expr"], names)
            except Undecided:
                continue
            if holds is False:
                return f"{op.op_type}: {constraint['text']}", constraint["fails"]
        return None


class OperandNames(Mapping[str, Any]):
    """Names the constraints read, computed when read (see the profile's vocabulary)."""

    def __init__(self, op: OpSignature, profile: TflmProfile) -> None:
        self.op = op
        self.profile = profile

    def __getitem__(self, key: str) -> Any:
        op = self.op
        if key == "num_inputs":
            return len(op.inputs)
        if key == "num_outputs":
            return len(op.outputs)
        if key == "inputs_match_output_quantization":
            return _inputs_match_output(op)
        prefix, _, field = key.partition("_")
        for side, tensors in (("in", op.inputs), ("out", op.outputs)):
            number = prefix[len(side):]
            if prefix.startswith(side) and number.isdigit() and field in _OPERAND_FIELDS:
                index = int(number)
                return _operand_field(tensors[index] if index < len(tensors) else None, field)
        if key in op.options:
            return op.options[key]
        if key.islower():
            return None  # an option the op's table does not hold: undecided, not wrong
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _operand_field(tensor: OperandSignature | None, field: str) -> Any:
    if field == "present":
        return tensor is not None
    if tensor is None:
        return None
    shape = None if tensor.shape is None else [1 if d is None else d for d in tensor.shape]
    q = tensor.quantization
    scale = q.scale[0] if q is not None and q.scale else None
    values: dict[str, Any] = {
        "dtype": tensor.dtype, "const": tensor.is_constant, "shape": shape,
        "rank": None if shape is None else len(shape),
        "scale": scale,
        "zero_point": None if q is None or scale is None else (q.zero_point or (0,))[0],
        "scales_count": len(q.scale) if q is not None and q.scale else None,
        "pow2_scale": None if scale is None else _is_power_of_two(scale),
        "channels": shape[-1] if shape else None,
        "dim0": shape[0] if shape else None,
    }
    return values[field]


def _is_power_of_two(value: float) -> bool:
    if not value > 0 or not math.isfinite(value):
        return False
    mantissa, _ = math.frexp(value)
    return mantissa == 0.5


def _inputs_match_output(op: OpSignature) -> bool:
    if not op.outputs or op.outputs[0].dtype not in ("int8", "int16"):
        return True
    out = op.outputs[0].quantization
    if out is None or not out.scale:
        return True
    for tensor in op.inputs:
        q = None if tensor is None else tensor.quantization
        if q is None or not q.scale:
            continue
        if abs(q.scale[0] - out.scale[0]) > 1e-6 or (q.zero_point[:1] or (0,)) != (
                out.zero_point[:1] or (0,)):
            return False
    return True


def _known_name(name: str) -> bool:
    if name in _NAMES:
        return True
    prefix, _, field = name.partition("_")
    number = prefix[3:] if prefix.startswith("out") else prefix[2:]
    return (prefix.startswith(("in", "out")) and number.isdigit() and field in _OPERAND_FIELDS) \
        or name.islower()  # an option field, by its schema name


def _check_pattern(text: str) -> str | None:
    left, arrow, right = text.partition("->")
    if not arrow:
        return f"type pattern {text!r} has no '->'"
    for side in (left, right):
        for position in side.removesuffix("...").split(","):
            if side.removesuffix("...") and not _POSITION.match(position):
                return f"bad position {position!r} in type pattern {text!r}"
    return None


def _check_constraint(text: str) -> str | None:
    try:
        names = check_expression(text)
    except ExpressionError as exc:
        return str(exc)
    unknown = sorted(n for n in names if not _known_name(n))
    return f"unknown name {unknown[0]!r} in {text!r}" if unknown else None


@cache
def load_tflm_profile() -> TflmProfile:
    """The profile, checked against ``tflm_ops.schema.json`` (patterns and expressions too)."""
    data = load_data_file(PROFILE_FILE, formats={"tflm-type-pattern": _check_pattern,
                                                 "tflint-expression": _check_constraint})
    short = set(data["dtype_names"]) | {"*", "-"}
    for op_type, spec in data["ops"].items():
        for number, text in enumerate(spec["types"]):
            for name in re.split(r"[,|]|->|\.\.\.", text):
                if name and name not in short:
                    raise DataFileError(PROFILE_FILE, f"$.ops.{op_type}.types[{number}]",
                                        f"unknown dtype {name!r} in {text!r}")
    return TflmProfile(data)


class TflmTarget(Target):
    name = "tflm"
    title = "TFLite Micro"
    description = "TensorFlow Lite for Microcontrollers, all-ops resolver (tflite-micro 0.dev2026)"
    has_fallback: ClassVar[bool] = False
    refusal_advice = "Convert with full-integer (int8) quantization and builtin ops only."
    keras_conversion: ClassVar[str] = "int8"  # what microcontroller deployments run
    fallback_advice: ClassVar[str] = (
        "TFLite Micro has no CPU fallback: use ops and types its kernels implement (the reason "
        "names the constraint), or register a kernel of your own with the op resolver")

    @property
    def profile(self) -> TflmProfile:
        return load_tflm_profile()

    def failure(self, op: OpSignature) -> tuple[str, str] | None:
        """The reason TFLM does not run ``op`` and how it fails (prepare, invoke, crash)."""
        return self.profile.reason(op)

    def verdict_reason(self, op: OpSignature) -> tuple[str | None, bool]:
        found = self.profile.reason(op)
        if found is None:
            return None, False
        reason, how = found
        return f"{reason}: {_FAILURE[how]}", False

    def assess(self, graph: ModelGraph) -> Assessment:
        if graph.kind != "tflite":
            return Assessment()
        return Assessment(details=estimate_arena(graph).to_dict())
