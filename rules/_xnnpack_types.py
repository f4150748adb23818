"""The dtype classes of `data/xnnpack_ops.json` and its per-op type sets.

Only what the quantization rules ask: does XNNPACK take this op with these
operand types?  The data file lists, per op, the accepted tuples of dtype
classes (inputs then outputs); an op missing from it is never delegated.
"""

from __future__ import annotations

from typing import Any

from tflint_rules import _data

from tflint.graph import Node, Tensor

DATA_FILE = "xnnpack_ops.json"


def load() -> dict[str, Any] | None:
    """The XNNPACK data, or None when the file is not installed."""
    try:
        return _data.load(DATA_FILE)
    except FileNotFoundError:
        return None


def dtype_class(tensor: Tensor | None) -> str:
    """The data file's class of a tensor (``f32``, ``qs8``, ``qc8``...)."""
    if tensor is None:
        return "none"
    quantization = tensor.quantization
    per_channel = quantization is not None and quantization.per_channel
    dtype = tensor.dtype
    if dtype == "float32":
        return "f32"
    if dtype == "float16":
        return "f16"
    if quantization is None:
        return {"int32": "s32", "int64": "s64", "bool": "bool"}.get(dtype or "", dtype or "?")
    return {
        "int8": "qc8" if per_channel else "qs8",
        "uint8": "qu8",
        "int16": "qs16",
        "int4": "qc4" if per_channel else "qs4",
        "int32": "qc32" if per_channel else "qs32",
    }.get(dtype or "", dtype or "?")


def operand_classes(node: Node, input_count: int) -> list[str]:
    """Classes of the operands by position (absent ones ``none``), padded to ``input_count``."""
    by_index = {t.index: t for t in node.inputs}
    raw = list(node.options.get("_inputs", []))
    classes = [dtype_class(by_index.get(i)) if i >= 0 else "none" for i in raw]
    classes += ["none"] * (input_count - len(classes))
    return classes


def takes_types(data: dict[str, Any], node: Node) -> bool:
    """Whether some accepted type set of the op matches its operand and output classes."""
    entry = data.get("ops", {}).get(node.op_type)
    if entry is None or entry.get("variadic_inputs") or entry.get("variadic_outputs"):
        return False
    outputs = [dtype_class(t) for t in node.outputs]
    for type_set in entry.get("type_sets", []):
        input_count = len(type_set) - len(outputs)
        classes = operand_classes(node, input_count) + outputs
        if len(classes) == len(type_set) and all(
                c in allowed.split("|") for c, allowed in zip(classes, type_set, strict=True)):
            return True
    return False
