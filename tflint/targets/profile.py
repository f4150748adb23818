"""Does a delegate take this op?  Answered from the target's op-support profile.

A profile (``xnnpack_ops.json`` for XNNPACK) holds, per TFLite builtin, the
conditions read from the delegate's source and settled against the installed
runtime (see ``XNNPACK_NOTES.md``).  This module only evaluates them on an
:class:`~tflint.signature.OpSignature`; it holds no knowledge of its own about
which op is supported, and never walks the graph.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

from tflint.expressions import ExpressionError, Undecided, evaluate
from tflint.expressions import check as check_expression
from tflint.schema import DataFileError, load_data_file
from tflint.signature import OperandSignature, OpSignature

PROFILE_FILE = Path(__file__).with_name("xnnpack_ops.json")

#: Classes of quantized 8-bit-or-less operands whose zero points the delegate checks.
_SIGNED_SMALL = frozenset({"qs8", "qc8", "qs4", "qc4"})
_QUANTIZED_ACTIVATION = frozenset({"qs8", "qu8", "qc8"})
CLASS_NAMES = {
    "f32": "float32", "f16": "float16", "qs8": "int8", "qc8": "per-channel int8",
    "qu8": "uint8 (asymmetric quantized)", "qs16": "int16 (int16x8 quantized)",
    "qs32": "quantized int32", "qc32": "per-channel int32", "s32": "int32", "s64": "int64",
    "bool": "bool", "s8": "int8 (not quantized)", "u8": "uint8 (not quantized)",
    "s16": "int16 (not quantized)", "resource": "resource", "none": "absent",
}


def dtype_class(tensor: OperandSignature | None) -> str:
    """The delegate's view of a tensor type: dtype plus quantization form."""
    if tensor is None:
        return "none"
    dtype = tensor.dtype or "unknown"
    q = tensor.quantization
    quantized = q is not None and len(q.scale) > 0
    per_channel = q is not None and len(q.scale) > 1
    if dtype == "float32":
        return "f32"
    if dtype == "float16":
        return "f16"
    if dtype == "int8":
        return ("qc8" if per_channel else "qs8") if quantized else "s8"
    if dtype == "uint8":
        return "qu8" if quantized else "u8"
    if dtype == "int16":
        return "qs16" if quantized else "s16"
    if dtype == "int32":
        return ("qc32" if per_channel else "qs32") if quantized else "s32"
    if dtype == "int4":
        return "qc4" if per_channel else "qs4"
    return {"int64": "s64", "bool": "bool", "resource": "resource"}.get(dtype, dtype)


def element_count(tensor: OperandSignature) -> int:
    return math.prod(1 if d is None else d for d in (tensor.shape or ()))


def stored_shape(tensor: OperandSignature | None) -> list[int] | None:
    """Shape as the runtime stores it: dynamic dimensions are stored as 1."""
    if tensor is None or tensor.shape is None:
        return None
    return [1 if d is None else d for d in tensor.shape]


class Verdict(NamedTuple):
    """The delegate's decision on one node."""

    #: Why the node stays on the CPU; None when the delegate takes it.
    reason: str | None = None
    #: Detection claims the node but building the XNNPACK subgraph fails, so
    #: the interpreter fails to allocate tensors (the reason says so).
    claimed: bool = False


class Profile:
    """The delegate's conditions, evaluated against one node at a time."""

    def __init__(self, data: dict[str, Any], title: str = "XNNPACK") -> None:
        self.data = data
        #: The target's name in messages.
        self.title = title
        self.ops: dict[str, dict[str, Any]] = data["ops"]
        general = {g["id"]: g for g in data["general"]}
        self.max_rank: int = general["max_rank"]["max_rank"]
        self.claimed_above_max_rank = frozenset(general["max_rank"].get("claimed_ops", ()))
        custom = general["custom_ops"]
        self.custom_codes = frozenset(custom.get("custom_codes", ()))
        #: Conditions of the custom ops that have any, and the structs their options hold.
        self.custom_ops: dict[str, dict[str, Any]] = custom.get("ops", {})
        self.custom_layouts: dict[str, dict[str, Any]] = custom.get("options_layouts", {})
        quantization = general["quantization"]
        self.zero_point_range: dict[str, list[int]] = quantization["zero_point_range"]
        absorb = general["fp16_and_int8_weights_dequantize"]
        self.dequantize_constant_classes = frozenset(absorb["dequantize_constant_input_classes"])
        self.option_defaults: dict[str, Any] = general["options_defaults"].get("defaults", {})

    # -- whole-node verdict ---------------------------------------------
    def reason_not_delegated(self, op: OpSignature) -> str | None:
        """Why the delegate does not run ``op``, or None when it does."""
        return self.verdict(op).reason

    def verdict(self, op: OpSignature) -> Verdict:
        node = op
        if node.origin == "flex":
            return Verdict(f"{node.op_type} runs on TensorFlow kernels (Select TF ops), never on "
                           f"{self.title}")
        if node.origin == "custom":
            if node.op_type not in self.custom_codes:
                return Verdict(f"custom op '{node.op_type}' is not supported by {self.title}")
            spec = self.custom_ops.get(node.op_type)
            if spec is None:
                return Verdict()
            op = node = self.with_custom_options(op)
        else:
            spec = self.ops.get(node.op_type)
            if spec is None:
                return Verdict(f"{node.op_type} is not supported by {self.title}")
        # Conditions detection does not check but subgraph creation does.
        claims: list[str] = []
        for check in (self._check_arity, self._check_types, self._check_ranks,
                      self._check_operands, self._check_activation, self._check_options,
                      self._check_quantization):
            reason = check(op, spec, claims)
            if reason:
                return Verdict(reason)
        names = None
        for constraint in spec.get("creation_constraints", ()):
            names = names or self.names(op)
            if _safe_evaluate(constraint["expr"], names) is False:
                claims.append(constraint["text"])
        if claims:
            return Verdict(f"{node.op_type} is claimed by {self.title} but fails when the delegate "
                           f"builds it ({claims[0]}): the interpreter will fail to allocate "
                           "tensors", claimed=True)
        return Verdict()

    def with_custom_options(self, op: OpSignature) -> OpSignature:
        """``op`` with its custom options decoded into named options, when they are a
        known raw struct; fields past the stored bytes read 0, as the delegate's
        zero-initialised copy does."""
        layout = self.custom_layouts.get(op.op_type)
        if layout is None:
            return op
        words = op.options.get("custom_options_words") or []
        decoded: dict[str, Any] = {}
        for position, field in enumerate(layout["fields"]):
            value = words[position] if position < len(words) else 0
            names = layout.get("enums", {}).get(field)
            if names is not None:
                value = names[value] if 0 <= value < len(names) else f"UNKNOWN_{value}"
            decoded[field] = value
        return replace(op, options={**op.options, **decoded})

    def option(self, node: OpSignature, field: str) -> Any:
        """An option field; the schema default when the op has no options table."""
        if field in node.options:
            return node.options[field]
        return self.option_defaults.get(field)

    def is_absorbable_dequantize(self, op: OpSignature) -> bool:
        """A DEQUANTIZE of constant float16/int8 weights, unpacked once at init."""
        if op.op_type != "DEQUANTIZE" or len(op.inputs) != 1 or len(op.outputs) != 1:
            return False
        return self.is_dequantized_weight(op.outputs[0])

    def is_dequantized_weight(self, operand: OperandSignature) -> bool:
        """An operand computed by a DEQUANTIZE of constant float16/int8 weights."""
        source = operand.dequantized
        return (source is not None and dtype_class(source) in self.dequantize_constant_classes
                and dtype_class(operand) == "f32")

    def is_absorbable_densify(self, op: OpSignature) -> bool:
        """A DENSIFY of constant sparse weights, expanded once when the delegate prepares."""
        return (op.op_type == "DENSIFY" and len(op.inputs) == 1 and len(op.outputs) == 1
                and op.inputs[0] is not None and op.inputs[0].is_constant)

    # -- individual checks ----------------------------------------------
    def _check_arity(self, op: OpSignature, spec: dict[str, Any],
                     claims: list[str]) -> str | None:
        node = operands = op
        if node.version is not None and node.version in spec.get("exclude_versions", ()):
            return f"{node.op_type} version {node.version} is not supported by {self.title}"
        low, high = spec["num_inputs"]
        if not low <= len(operands.inputs) <= high:
            return (f"{node.op_type} with {len(operands.inputs)} inputs"
                    f" is not supported by {self.title}")
        low, high = spec["num_outputs"]
        if not low <= len(operands.outputs) <= high:
            return (f"{node.op_type} with {len(operands.outputs)} outputs"
                    f" is not supported by {self.title}")
        return None

    def _check_types(self, op: OpSignature, spec: dict[str, Any],
                     claims: list[str]) -> str | None:
        node = operands = op
        in_classes = [dtype_class(t) for t in operands.inputs]
        out_classes = [dtype_class(t) for t in operands.outputs]
        if _matches(spec["type_sets"], spec, in_classes, out_classes):
            return None
        for entry in spec.get("type_sets_if", ()):
            if _matches([entry["types"]], spec, in_classes, out_classes) and _safe_evaluate(
                    entry["expr"], self.names(op)):
                return None
        for entry in spec.get("claimed_type_sets", ()):
            if _matches([entry["types"]], spec, in_classes, out_classes):
                claims.append(entry["text"])
                return None
        main = CLASS_NAMES.get(in_classes[0], in_classes[0]) if in_classes else "no input"
        others = {CLASS_NAMES.get(c, c) for c in in_classes[1:] if c != "none"} - {main}
        detail = f" with {', '.join(sorted(others))} operands" if others else ""
        if not others and out_classes and out_classes[0] not in (in_classes[:1] or ["none"]):
            detail = f" with a {CLASS_NAMES.get(out_classes[0], out_classes[0])} output"
        return f"{node.op_type} on {main}{detail} is not supported by {self.title}"

    def _check_ranks(self, op: OpSignature, spec: dict[str, Any],
                     claims: list[str]) -> str | None:
        node = operands = op
        for key, tensor in _positions(operands):
            if tensor is None or tensor.shape is None:
                continue
            rank = len(tensor.shape)
            if rank > self.max_rank:
                if node.op_type in self.claimed_above_max_rank:
                    claims.append(f"a rank-{rank} tensor:"
                                  f" {self.title} takes at most {self.max_rank} "
                                  "dimensions")
                    continue
                return (f"rank-{rank} tensors are not supported by"
                        f" {self.title} (at most {self.max_rank})")
            bounds = spec.get("rank", {}).get(key)
            if bounds and not bounds[0] <= rank <= bounds[1]:
                return (f"{node.op_type} on a rank-{rank} {_role(key)}"
                        f" is not supported by {self.title}"
                        f" (ranks {bounds[0]} to {bounds[1]})")
        return None

    def _check_operands(self, op: OpSignature, spec: dict[str, Any],
                        claims: list[str]) -> str | None:
        node = operands = op
        names: OperandNames | None = None
        for key, rules in spec.get("operands", {}).items():
            position = int(key)
            tensor = operands.inputs[position] if position < len(operands.inputs) else None
            if tensor is None:
                if rules.get("optional") is False:
                    return f"{node.op_type} without {_role(key)} is not supported by {self.title}"
                continue
            if rules.get("static") and not self._is_static(tensor, rules):
                source = f" (computed by {tensor.producer})" if tensor.producer else ""
                named = f" '{tensor.name}'" if tensor.name else ""
                return (f"{node.op_type} needs a constant {_role(key)}{named}, but it is computed "
                        f"at run time{source}")
            if names is None:
                names = self.names(op)
            reason = self._check_operand_shape(op, key, tensor, rules, names)
            if reason:
                return reason
        return None

    def _check_operand_shape(self, op: OpSignature, key: str, tensor: OperandSignature,
                             rules: dict[str, Any], names: OperandNames) -> str | None:
        node = operands = op
        role = f"{_role(key)} '{tensor.name}'" if tensor.name else _role(key)
        shape = stored_shape(tensor) or []
        count = element_count(tensor)
        failures = []
        if "max_rank" in rules and len(shape) > rules["max_rank"]:
            failures.append(f"{role} of rank {len(shape)}")
        if rules.get("shape_1d") and len(shape) != 1:
            failures.append(f"{role} that is not 1-D")
        if rules.get("shape_1d_or_leading_ones") and len(shape) > 1 and any(
                d != 1 for d in shape[:-1]):
            failures.append(f"{role} of shape {shape}")
        if "min_elements" in rules and count < rules["min_elements"]:
            failures.append(f"{role} with {count} elements")
        if "num_elements" in rules and count != rules["num_elements"]:
            failures.append(f"{role} with {count} elements (needs {rules['num_elements']})")
        for field, label in (("num_elements_expr", "element count"), ("shape_expr", "shape")):
            if field in rules:
                expected = _safe_evaluate(rules[field], names)
                actual = count if field == "num_elements_expr" else tuple(shape)
                if expected is not None and actual != expected:
                    failures.append(f"{role} {label} {actual} (needs {expected})")
        if "length_eq_rank_of" in rules:
            other = operands.inputs[int(rules["length_eq_rank_of"])]
            if other is not None and other.shape is not None and count != len(other.shape):
                failures.append(f"{role} with {count} elements for a rank-{len(other.shape)} input")
        failures += self._check_operand_quantization(tensor, rules, names, role, operands)
        values = rules.get("values")
        if values:
            data = tensor.values()
            if data is not None:
                if "min" in values and any(v < values["min"] for v in data):
                    failures.append(f"{role} values below {values['min']}")
                if "all_eq" in values and any(v != values["all_eq"] for v in data):
                    failures.append(f"{role} values other than {values['all_eq']}")
        if failures:
            return f"{node.op_type} with {failures[0]} is not supported by {self.title}"
        return None

    def _check_operand_quantization(self, tensor: OperandSignature, rules: dict[str, Any],
                                    names: OperandNames, role: str,
                                    operands: OpSignature) -> list[str]:
        q = tensor.quantization
        klass = dtype_class(tensor)
        failures = []
        if q is not None and q.per_channel:
            expected = rules.get("quantized_dimension")
            if "quantized_dimension_expr" in rules:
                expected = _safe_evaluate(rules["quantized_dimension_expr"], names)
            if expected is not None and q.quantized_dimension != expected:
                failures.append(f"{role} quantized along dimension {q.quantized_dimension}")
        if ("zero_point" in rules and klass in rules.get("zero_point_classes", _SIGNED_SMALL)
                and q is not None):
            applies = rules.get("zero_point_applies", "always")
            if applies == "always" or quantized_configuration(operands):
                if any(z != rules["zero_point"] for z in q.zero_point):
                    failures.append(f"{role} with a non-zero zero point")
        return failures

    def _check_activation(self, op: OpSignature, spec: dict[str, Any],
                          claims: list[str]) -> str | None:
        node = op
        allowed = spec.get("fused_activation")
        activation = self.option(node, "fused_activation_function")
        if allowed and activation is not None and activation not in allowed:
            return (f"{node.op_type} with fused activation {activation}"
                    f" is not supported by {self.title}")
        return None

    def _check_options(self, op: OpSignature, spec: dict[str, Any],
                       claims: list[str]) -> str | None:
        node = op
        names = None
        for constraint in spec.get("options", ()):
            if "expr" in constraint:
                names = names or self.names(op)
                if not _safe_evaluate(constraint["expr"], names):
                    return (f"{node.op_type}"
                            f" is not supported by {self.title} for these options/shapes "
                            f"(needs {constraint['expr']})")
                continue
            field = constraint["field"]
            value = self.option(node, field)
            if not _satisfies(value, constraint):
                return f"{node.op_type} with {field}={value} is not supported by {self.title}"
        return None

    def _check_quantization(self, op: OpSignature, spec: dict[str, Any],
                            claims: list[str]) -> str | None:
        node = operands = op
        tensors = [t for t in operands.inputs + operands.outputs if t is not None]
        for tensor in tensors:
            klass = dtype_class(tensor)
            q = tensor.quantization
            # Detection does not validate quantization parameters; building does.
            if klass in self.zero_point_range and q is not None:
                low, high = self.zero_point_range[klass]
                if any(not low <= z <= high for z in q.zero_point):
                    claims.append(f"the zero point of '{tensor.name}' is outside the "
                                  f"{CLASS_NAMES.get(klass, klass)} range")
                elif any(not (math.isfinite(s) and s > 0) for s in q.scale):
                    claims.append(f"the scale of '{tensor.name}' is not a positive finite "
                                  "number")
        if not quantized_configuration(operands):
            return None
        mode = spec.get("same_quantization")
        if mode and operands.outputs:
            reference = _per_tensor(operands.outputs[0])
            for operand in operands.inputs:
                klass = dtype_class(operand)
                if klass not in _QUANTIZED_ACTIVATION or _per_tensor(operand) == reference:
                    continue
                when = mode.get(klass, "detection") if isinstance(mode, dict) else mode
                if when == "creation":
                    claims.append("its input and output quantization differ")
                    break
                return (f"{node.op_type} with different input and output quantization is "
                        f"not supported by {self.title}")
        names = None
        for expression in spec.get("quant_constraints", ()):
            names = names or self.names(op)
            if not _safe_evaluate(expression, names):
                return (f"{node.op_type} quantization scales are out of the range"
                        f" {self.title} supports")
        return None

    # -- helpers ----------------------------------------------------------
    def _is_static(self, tensor: OperandSignature, rules: dict[str, Any]) -> bool:
        if tensor.is_constant or tensor.folded:  # sparse weights are densified at init
            return True
        if tensor.producer is None and tensor.shape is not None and 0 in tensor.shape:
            # A zero-element constant has an empty buffer, which the runtime still
            # counts as read-only data; only a graph input would not be.
            return not tensor.is_graph_input
        if not rules.get("allow_dequantized"):
            return False
        return tensor.producer == "DEQUANTIZE" and self.is_dequantized_weight(tensor)

    def names(self, op: OpSignature) -> OperandNames:
        """Values the data file's expressions may use, computed on first use."""
        return OperandNames(op, self)


class OperandNames(Mapping[str, Any]):
    """Expression names: option fields (schema defaults when the op has no
    options table), ``num_inputs``/``num_outputs``, and per operand
    ``inN_shape``/``_rank``/``_class``/``_scale``/``_scales``/``_zero_point``/
    ``_zero_points``/``_value``/``_dequantized_from`` (``outN_...`` for
    outputs).  Each is computed only when an expression reads it, so a node
    whose constraints use two names pays for two."""

    _FIELDS = ("shape", "rank", "class", "scale", "scales", "zero_point", "zero_points", "value",
               "dequantized_from", "densified")

    def __init__(self, op: OpSignature, profile: Profile) -> None:
        self._node = self._operands = op
        self._profile = profile
        self._cache: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        if key not in self._cache:
            self._cache[key] = self._compute(key)
        return self._cache[key]

    def __contains__(self, key: object) -> bool:
        try:
            self[key]  # type: ignore[index]
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self._cache)

    def __len__(self) -> int:
        return len(self._cache)

    def _compute(self, key: str) -> Any:
        if key == "num_inputs":
            return len(self._operands.inputs)
        if key == "num_outputs":
            return len(self._operands.outputs)
        if not key.startswith("_") and key in self._node.options:
            return self._node.options[key]
        prefix, _, rest = key.partition("_")
        for side, tensors in (("in", self._operands.inputs), ("out", self._operands.outputs)):
            number = prefix[len(side):]
            if prefix.startswith(side) and number.isdigit() and rest in self._FIELDS:
                index = int(number)
                tensor = tensors[index] if index < len(tensors) else None
                return self._field(tensor, rest, side)
        if key in self._profile.option_defaults:
            return self._profile.option_defaults[key]
        raise KeyError(key)

    def _field(self, tensor: OperandSignature | None, field: str, side: str) -> Any:
        if field == "class":
            return dtype_class(tensor)
        if field == "dequantized_from":
            if (tensor is None or tensor.producer != "DEQUANTIZE"
                    or not self._profile.is_dequantized_weight(tensor)):
                return "none"
            assert tensor.dequantized is not None
            return dtype_class(tensor.dequantized)
        if tensor is None:
            return None
        if field == "densified":  # computed by a DENSIFY of constant sparse weights
            return tensor.folded
        if field in ("shape", "rank"):
            shape = stored_shape(tensor)
            return shape if field == "shape" or shape is None else len(shape)
        q = tensor.quantization
        if field == "scale":
            return q.scale[0] if q and q.scale else None
        if field == "scales":
            return tuple(q.scale) if q and q.scale else None
        if field == "zero_point":
            return q.zero_point[0] if q and q.zero_point else None
        if field == "zero_points":
            return tuple(q.zero_point) if q and q.zero_point else None
        if side == "in" and tensor.is_constant:
            return tensor.values()
        return None


def quantized_configuration(operands: OpSignature) -> bool:
    """Whether the op computes in int8/uint8: decided by output 0, since input 0
    is not always data (TRANSPOSE_CONV's is the output shape) and the hybrid
    form has int8 weights but float activations."""
    return bool(operands.outputs) and dtype_class(operands.outputs[0]) in _QUANTIZED_ACTIVATION


def _matches(type_sets: list[list[str]], spec: dict[str, Any], in_classes: list[str],
             out_classes: list[str]) -> bool:
    """Whether the operand classes match one of the accepted tuples."""
    n_in, n_out = len(in_classes), len(out_classes)
    for type_set in type_sets:
        if spec.get("variadic_inputs") or spec.get("variadic_outputs"):
            pattern = _expand_variadic(type_set, spec, n_in, n_out)
            classes = in_classes + out_classes
        else:
            # Tuples list every input position; absent trailing inputs are "none".
            pattern_inputs = len(type_set) - n_out
            if pattern_inputs < n_in:
                continue
            pattern = type_set
            classes = in_classes + ["none"] * (pattern_inputs - n_in) + out_classes
        if len(pattern) == len(classes) and all(
                c in p.split("|") for c, p in zip(classes, pattern, strict=True)):
            return True
    return False


def _positions(operands: OpSignature) -> Iterator[tuple[str, OperandSignature | None]]:
    for i, tensor in enumerate(operands.inputs):
        yield str(i), tensor
    for i, tensor in enumerate(operands.outputs):
        yield f"out{i}", tensor


def _role(key: str) -> str:
    return f"output {key[3:]}" if key.startswith("out") else f"operand {key}"


def _expand_variadic(type_set: list[str], spec: dict[str, Any], n_in: int,
                     n_out: int) -> list[str]:
    if spec.get("variadic_inputs"):
        return [type_set[0]] * n_in + [type_set[-1]] * n_out
    return type_set[:-1] + [type_set[-1]] * n_out


def _satisfies(value: Any, constraint: dict[str, Any]) -> bool:
    if "in" in constraint and value not in constraint["in"]:
        return False
    if "eq" in constraint and value != constraint["eq"]:
        return False
    if "ne" in constraint and value == constraint["ne"]:
        return False
    if "min" in constraint and (value is None or value < constraint["min"]):
        return False
    return not ("max" in constraint and (value is None or value > constraint["max"]))


def _per_tensor(tensor: OperandSignature | None) -> tuple[float, int] | None:
    q = None if tensor is None else tensor.quantization
    if q is None or not q.scale:
        return None
    return (q.scale[0], q.zero_point[0] if q.zero_point else 0)


def _safe_evaluate(expression: str, names: Mapping[str, Any]) -> Any:
    """Evaluate a data-file expression; an undecided one (a value the op does not have:
    an absent operand, a non-constant operand's contents, a missing scale) gives None.
    Anything else is a mistake in the profile, and raises."""
    try:
        return evaluate(expression, names)
    except Undecided:
        return None
    except Exception as exc:
        raise ExpressionError(f"{PROFILE_FILE.name}: expression {expression!r} failed: "
                              f"{type(exc).__name__}: {exc}") from exc


@cache
def load_profile(target: str = "xnnpack") -> Profile:
    """The target's profile, checked against ``xnnpack_ops.schema.json`` (a
    :class:`tflint.schema.DataFileError` otherwise): the file now, but each op entry only when
    it is first read (its keys now).  An expression must parse and read only
    names :class:`OperandNames` provides, an option field must have a default."""
    if target != "xnnpack":
        raise ValueError(f"no op-support profile for target {target!r}")
    options: dict[str, Any] = {}  # the defaults, known before any op entry is checked

    def known(name: str) -> bool:
        if name in ("num_inputs", "num_outputs") or name in options:
            return True
        prefix, _, field = name.partition("_")
        number = prefix.removeprefix("out") if prefix.startswith("out") else prefix[2:]
        return (prefix[:2] == "in" or prefix[:3] == "out") and number.isdigit() and (
            field in OperandNames._FIELDS)

    early: list[tuple[Any, str]] = []  # general entries are read before the defaults

    def expression(text: str) -> str | None:
        if not options:
            early.append((expression, text))
            return None
        try:
            names = check_expression(text)
        except ExpressionError as exc:
            return str(exc)
        unknown = sorted(name for name in names if not known(name))
        if unknown:
            return (f"unknown name {unknown[0]!r} in {text!r} (names: num_inputs, num_outputs, "
                    "the fields of options_defaults, inN_/outN_ followed by "
                    f"{'/'.join(OperandNames._FIELDS)})")
        return None

    def option_field(name: str) -> str | None:
        if not options:
            early.append((option_field, name))
            return None
        if name in options:
            return None
        return f"option field {name!r} has no default in options_defaults"

    data = load_data_file(PROFILE_FILE, lazy="ops", formats={
        "tflint-expression": expression, "tflint-option-field": option_field})
    profile = Profile(data)
    options.update(profile.option_defaults)
    for checker, text in early:
        problem = checker(text)
        if problem:
            raise DataFileError(PROFILE_FILE, "$.general", problem)
    return profile
