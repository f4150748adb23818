"""Generate ``tflint/loaders/tflite_schema.json`` from the installed TFLite schema.

The TFLite loader decodes model files without TensorFlow; what it needs to
know about the schema (operator names, tensor types, the layout of every
options table) is extracted here from the FlatBuffers-generated Python module
that LiteRT (or TensorFlow) ships, and committed as JSON.

Run it after upgrading LiteRT/TensorFlow, and commit the result::

    python scripts/generate_tflite_schema.py           # rewrite the JSON
    python scripts/generate_tflite_schema.py --check   # exit 1 if stale

Nothing here parses source text: each table's layout is read by calling the
generated builder functions (``<Table>Add<Field>``) with a recording builder,
and its accessors with a recording table, so the slot, scalar type and
default come from the code the FlatBuffers compiler wrote.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import re
import sys
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "tflint" / "loaders" / "tflite_schema.json"

#: Schema modules in order of preference, with the distribution each comes
#: from (its version is the schema version recorded in the JSON).
MODULES = (
    ("ai_edge_litert.schema_py_generated", "ai-edge-litert"),
    ("tensorflow.lite.python.schema_py_generated", "tensorflow"),
)

#: Unions: enum class name -> the class the generated code calls ``<Name>Creator``.
UNIONS = ("BuiltinOptions", "BuiltinOptions2", "QuantizationDetails", "SparseIndexVector")

#: Union-valued fields and the union each holds (the accessor only returns a
#: bare table, so the union cannot be read off the code).
UNION_FIELDS = {
    ("Operator", "builtin_options"): "BuiltinOptions",
    ("Operator", "builtin_options_2"): "BuiltinOptions2",
    ("QuantizationParameters", "details"): "QuantizationDetails",
    ("DimensionMetadata", "array_segments"): "SparseIndexVector",
    ("DimensionMetadata", "array_indices"): "SparseIndexVector",
}

TENSOR_TYPE_FIELDS = {
    "type",  # Tensor.type
    "in_data_type",
    "out_data_type",
    "output_type",
    "idx_out_type",
    "out_type",
    "key_dtype",
    "value_dtype",
    "quantized_bias_type",
}

#: Integer fields holding an enum, by field name.  The generated Python code
#: types them as plain integers, so the mapping is kept here; ``check_enums``
#: fails when an enum of the schema is used by no field, which is how a new
#: enum-typed field shows up after an upgrade.
ENUM_FIELDS = {
    "padding": "Padding",
    "fused_activation_function": "ActivationFunctionType",
    "weights_format": "FullyConnectedOptionsWeightsFormat",
    "kernel_type": "LSTMKernelType",
    "combiner": "CombinerType",
    "mode": "MirrorPadMode",
    "reduce_function": "ReduceWindowFunction",
    "comparison_direction": "StablehloComparisonDirection",
    "compare_type": "StablehloComparisonType",
    "precision_config": "StablehloPrecisionConfig",
    "algorithm": "RngAlgorithm",
    "custom_options_format": "CustomOptionsFormat",
    "composite_attributes_format": "CustomOptionsFormat",
    "format": "DimensionType",
    "builtin_code": "BuiltinOperator",
    "deprecated_builtin_code": "BuiltinOperator",
    **{name: "TensorType" for name in TENSOR_TYPE_FIELDS},
}

#: (table, field) pairs where the name-based mapping above is wrong
#: (``None``: not an enum).
ENUM_FIELD_OVERRIDES: dict[tuple[str, str], str | None] = {
    ("LSHProjectionOptions", "type"): "LSHProjectionType",
    # Pad amounts, not the Padding enum.
    ("StablehloConvolutionOptions", "padding"): None,
    ("StablehloReduceWindowOptions", "padding"): None,
}

#: Enums no field uses (unions are handled apart).
UNUSED_ENUMS = frozenset()

#: The few fields whose CamelCase accessor does not round-trip to the
#: schema's snake_case name.
NAME_OVERRIDES = {
    ("Operator", "BuiltinOptions2"): "builtin_options_2",
    ("Operator", "BuiltinOptions2Type"): "builtin_options_2_type",
}

#: Scalar FlatBuffers types by the suffix of ``Prepend<Type>Slot`` and
#: ``number_types.<Type>Flags``.
SCALAR_TYPES = {
    "Bool": "bool",
    "Int8": "int8",
    "Uint8": "uint8",
    "Int16": "int16",
    "Uint16": "uint16",
    "Int32": "int32",
    "Uint32": "uint32",
    "Int64": "int64",
    "Uint64": "uint64",
    "Float32": "float32",
    "Float64": "float64",
}


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class RecordingBuilder:
    """Stands in for ``flatbuffers.Builder``: remembers the one slot call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, method: str) -> Any:
        def record(*args: Any) -> None:
            self.calls.append((method, args))

        return record


class RecordingTable:
    """Stands in for ``flatbuffers.table.Table`` under a generated accessor.

    Records which table methods the accessor calls (``Vector``, ``String``,
    ``Indirect``, ``Union``), the vtable offset it asks for and the scalar
    type it reads, which together tell the field's kind.
    """

    Bytes = b""
    Pos = 0
    #: What each method returns: a non-zero vtable offset so the accessor
    #: goes on past its "field absent" check.
    RESULTS: ClassVar[dict[str, Any]] = {"Offset": 4, "String": b"", "VectorLen": 0}

    def __init__(self) -> None:
        self.offsets: list[int] = []
        self.ops: list[str] = []
        self.flags: list[str] = []

    def __getattr__(self, method: str) -> Any:
        def record(*args: Any) -> Any:
            if method == "Offset":
                self.offsets.append(args[0])
            elif method == "Get":
                self.flags.append(args[0].__name__.removesuffix("Flags"))
            elif method == "Union":
                self.ops.append("union")
                return args[0]
            elif method != "VectorLen":
                self.ops.append(method.lower())
            return self.RESULTS.get(method, 0)

        return record


def find_module(name: str | None) -> tuple[ModuleType, str]:
    """The schema module and the version of the distribution that ships it."""
    candidates = [m for m in MODULES if name is None or m[0] == name]
    for module_name, dist in candidates:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        return module, f"{dist} {metadata.version(dist)}"
    names = ", ".join(m[0] for m in candidates)
    raise SystemExit(f"no TFLite schema module importable (tried {names})")


def enum_members(cls: type) -> dict[int, str]:
    return {
        value: key
        for key, value in vars(cls).items()
        if not key.startswith("_") and isinstance(value, int)
    }


def is_table(cls: type) -> bool:
    return hasattr(cls, "GetRootAs") and hasattr(cls, "Init")


def is_enum(cls: type) -> bool:
    return not is_table(cls) and not cls.__name__.endswith("T") and bool(enum_members(cls))


def field_layout(module: ModuleType, table: type, camel: str) -> dict[str, Any]:
    """Slot, type and default of one field, from its builder and accessor."""
    builder = RecordingBuilder()
    getattr(module, f"{table.__name__}Add{camel}")(builder, 0)
    [(method, args)] = builder.calls
    slot, _, default = args
    field: dict[str, Any] = {"slot": slot}

    accessor = getattr(table, camel)
    recorder = RecordingTable()
    instance = table()
    instance._tab = recorder
    takes_index = len(inspect.signature(accessor).parameters) == 2
    result = accessor(instance, 0) if takes_index else accessor(instance)
    [vtable_offset] = recorder.offsets
    if (vtable_offset - 4) // 2 != slot:
        raise SystemExit(f"{table.__name__}.{camel}: slot {slot} != Offset({vtable_offset})")

    kind = method.removeprefix("Prepend").removesuffix("Slot")
    if kind in SCALAR_TYPES:
        scalar = SCALAR_TYPES[kind]
        if scalar == "bool":
            default = bool(default)
        field.update(kind="scalar", type=scalar, default=default)
    elif recorder.ops == ["union"]:
        field["kind"] = "union"
    elif recorder.ops == ["string"]:
        field["kind"] = "string"
    elif recorder.ops == ["vector", "string"]:
        field["kind"] = "vector_of_strings"
    elif recorder.ops == ["vector"] and recorder.flags:
        field.update(kind="vector", type=SCALAR_TYPES[recorder.flags[0]])
    elif recorder.ops == ["vector", "indirect"]:
        field.update(kind="vector_of_tables", table=type(result).__name__)
    elif recorder.ops == ["indirect"]:
        field.update(kind="table", table=type(result).__name__)
    else:
        raise SystemExit(f"{table.__name__}.{camel}: unrecognised accessor {recorder.ops}")
    return field


def table_layout(module: ModuleType, table: type) -> list[dict[str, Any]]:
    prefix = f"{table.__name__}Add"
    fields = []
    for func_name in dir(module):
        camel = func_name.removeprefix(prefix)
        if camel == func_name or not camel[:1].isupper() or not hasattr(table, camel):
            continue
        name = NAME_OVERRIDES.get((table.__name__, camel), snake_case(camel))
        field = {"name": name, **field_layout(module, table, camel)}
        key = (table.__name__, name)
        enum = ENUM_FIELD_OVERRIDES[key] if key in ENUM_FIELD_OVERRIDES else ENUM_FIELDS.get(name)
        if enum is not None and field["kind"] in ("scalar", "vector"):
            field["enum"] = enum
        if field["kind"] == "union":
            field["union"] = UNION_FIELDS[key]
        elif name.endswith("_type") and (table.__name__, name[:-5]) in UNION_FIELDS:
            field["union_type"] = UNION_FIELDS[(table.__name__, name[:-5])]
        fields.append(field)
    fields.sort(key=lambda f: f["slot"])
    # Gaps are deprecated fields, which the generated code leaves out.
    slots = [f["slot"] for f in fields]
    if len(set(slots)) != len(slots):
        raise SystemExit(f"{table.__name__}: slots {slots} repeat")
    return fields


def check_enums(enums: dict[str, dict[int, str]], tables: dict[str, list[dict]]) -> None:
    """Fail on an enum no field is mapped to, or a mapped enum that is unknown."""
    used = {f["enum"] for fields in tables.values() for f in fields if "enum" in f}
    missing = sorted(used - enums.keys())
    if missing:
        raise SystemExit(f"fields mapped to unknown enums: {missing}")
    unused = sorted(enums.keys() - used - UNUSED_ENUMS)
    if unused:
        raise SystemExit(f"enums used by no field: {unused}; map their fields in ENUM_FIELDS")


def generate(module: ModuleType, version: str) -> dict[str, Any]:
    classes = {
        name: cls
        for name, cls in vars(module).items()
        if inspect.isclass(cls) and cls.__module__ == module.__name__
    }
    enums = {
        name: enum_members(cls)
        for name, cls in classes.items()
        if is_enum(cls) and name not in UNIONS
    }
    unions = {name: {k: v for k, v in enum_members(classes[name]).items() if k} for name in UNIONS}
    tables = {
        name: table_layout(module, cls) for name, cls in sorted(classes.items()) if is_table(cls)
    }
    check_enums(enums, tables)
    for fields in tables.values():
        for field in fields:
            if "enum" in field and field["kind"] == "scalar":
                if field["default"] not in enums[field["enum"]]:
                    raise SystemExit(f"{field['name']}: default is not a {field['enum']}")

    operators = enums.pop("BuiltinOperator")
    tensor_types = enums["TensorType"]
    return {
        "schema_version": version,
        "schema_module": module.__name__,
        "builtin_operators": [operators.get(i) for i in range(max(operators) + 1)],
        "tensor_types": [
            tensor_types[i].lower() if i in tensor_types else None
            for i in range(max(tensor_types) + 1)
        ],
        "enums": {
            name: [members.get(i) for i in range(max(members) + 1)]
            for name, members in sorted(enums.items())
        },
        "unions": {
            name: [members.get(i) for i in range(max(members) + 1)]
            for name, members in unions.items()
        },
        "tables": tables,
    }


def render(schema: dict[str, Any]) -> str:
    """JSON with one line per list or field, so upgrades diff readably."""

    def block(items: list[str], indent: str, open_: str, close: str) -> str:
        if not items:
            return open_ + close
        inner = ",\n".join(f"{indent}  {item}" for item in items)
        return f"{open_}\n{inner}\n{indent}{close}"

    def value(key: str, val: Any) -> str:
        if key == "tables":
            tables = [
                f"{json.dumps(name)}: " + block([json.dumps(f) for f in fields], "    ", "[", "]")
                for name, fields in val.items()
            ]
            return block(tables, "  ", "{", "}")
        if isinstance(val, dict):
            items = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in val.items()]
            return block(items, "  ", "{", "}")
        return json.dumps(val)

    items = [f"{json.dumps(k)}: {value(k, v)}" for k, v in schema.items()]
    return block(items, "", "{", "}") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", help="schema module to read (default: first importable)")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--check", action="store_true", help="exit 1 if the output is stale")
    args = parser.parse_args(argv)

    module, version = find_module(args.module)
    text = render(generate(module, version))
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is stale: rerun {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output} ({version}, {len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
