"""Load a ``.tflite`` file into a :class:`~tflint.graph.ModelGraph`.

The file is memory-mapped and walked with the bounds-checked reader in
:mod:`tflint.loaders.flatbuffer`; weights are located (offset and size) but
never read, so loading costs time in the number of operators and tensors,
not in the model's size.  Nothing here imports TensorFlow, LiteRT or numpy.

What each operator's ``Node.options`` holds:

* its builtin options (``BuiltinOptions`` and ``BuiltinOptions2``) under the
  schema's snake_case field names, absent fields at their schema defaults:
  enum values by name (``"padding": "SAME"``, ``"fused_activation_function":
  "RELU6"``), tensor types as dtype names (``"out_data_type": "int8"``),
  vectors as lists (``"squeeze_dims": [1, 2]``), strings as ``str``;
* ``"_inputs"``: the operator's operand list as tensor indices, with ``-1``
  where an optional operand is left out (``Node.inputs`` skips those), so a
  rule can tell which positional operand is which;
* for custom and Flex ops, ``"custom_options_size"`` in bytes; for custom ops
  whose options are a small raw C struct (at most 64 bytes, a whole number of
  int32 words, as MediaPipe's ops store ``TfLitePoolParams``),
  ``"custom_options_words"``: those bytes as little-endian int32 values.
"""

from __future__ import annotations

import gc
import math
import mmap
import os
import struct
from typing import Any, NamedTuple

from tflint.errors import ModelFileError
from tflint.graph import Location, ModelGraph, Node, Quantization, Signature, Tensor
from tflint.loaders.flatbuffer import Buffer, FlatBuffer, Table
from tflint.loaders.tflite_names import (
    builtin_name,
    decode_options,
    dtype_name,
    options_table,
    tensor_types,
)

FILE_IDENTIFIER = b"TFL3"
#: Root offset plus file identifier.
MIN_SIZE = 8
#: The min_runtime_version metadata is a short version string.
MAX_RUNTIME_VERSION_BYTES = 64
#: Custom options up to this many int32 words are kept as words (a raw C struct).
MAX_CUSTOM_OPTIONS_WORDS = 16

# Vtable slots of the tables the loader reads.  TFLite never renumbers a
# field, so these are fixed; a test checks them against tflite_schema.json.
MODEL_VERSION, MODEL_OPERATOR_CODES, MODEL_SUBGRAPHS, MODEL_DESCRIPTION = 0, 1, 2, 3
MODEL_BUFFERS, MODEL_METADATA, MODEL_SIGNATURE_DEFS, MODEL_EXTERNAL_BUFFERS = 4, 6, 7, 9
OPCODE_DEPRECATED_BUILTIN, OPCODE_CUSTOM, OPCODE_VERSION, OPCODE_BUILTIN = 0, 1, 2, 3
SUBGRAPH_TENSORS, SUBGRAPH_INPUTS, SUBGRAPH_OUTPUTS, SUBGRAPH_OPERATORS = 0, 1, 2, 3
SUBGRAPH_NAME = 4
OP_OPCODE_INDEX, OP_INPUTS, OP_OUTPUTS, OP_OPTIONS_TYPE, OP_OPTIONS = 0, 1, 2, 3, 4
OP_CUSTOM_OPTIONS, OP_LARGE_CUSTOM_OFFSET, OP_LARGE_CUSTOM_SIZE = 5, 9, 10
OP_OPTIONS2_TYPE, OP_OPTIONS2 = 11, 12
TENSOR_SHAPE, TENSOR_TYPE, TENSOR_BUFFER, TENSOR_NAME, TENSOR_QUANTIZATION = 0, 1, 2, 3, 4
TENSOR_IS_VARIABLE, TENSOR_SHAPE_SIGNATURE, TENSOR_HAS_RANK, TENSOR_EXTERNAL_BUFFER = 5, 7, 8, 10
QUANT_MIN, QUANT_MAX, QUANT_SCALE, QUANT_ZERO_POINT, QUANT_DIMENSION = 0, 1, 2, 3, 6
BUFFER_DATA, BUFFER_OFFSET, BUFFER_SIZE = 0, 1, 2
METADATA_NAME, METADATA_BUFFER = 0, 1
SIGNATURE_INPUTS, SIGNATURE_OUTPUTS, SIGNATURE_KEY, SIGNATURE_SUBGRAPH = 0, 1, 2, 4
TENSOR_MAP_NAME, TENSOR_MAP_INDEX = 0, 1
EXTERNAL_BUFFER_ID, EXTERNAL_BUFFER_LENGTH = 0, 3

FIELD_NAMES = {"BuiltinOptions": "builtin_options", "BuiltinOptions2": "builtin_options_2"}

#: Custom codes of ops run by the TensorFlow (Flex) delegate.
FLEX_PREFIX = "Flex"


def load_tflite(path: str) -> ModelGraph:
    """Read the model at ``path``; :class:`ModelFileError` if it is not valid TFLite."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size < MIN_SIZE:
                raise ModelFileError(f"file too small to be a TFLite model ({size} bytes)")
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                # Everything read is copied out, so the mapping closes here.
                return parse_tflite(mapped, path)
    except OSError as exc:
        raise ModelFileError(f"cannot read the file: {exc.strerror or exc}") from exc


def parse_tflite(buf: Buffer, path: str) -> ModelGraph:
    """Build the graph of the TFLite model held in ``buf`` (the file at ``path``)."""
    size = len(buf)
    if size < MIN_SIZE:
        raise ModelFileError(f"file too small to be a TFLite model ({size} bytes)")
    identifier = bytes(buf[4:8])
    if identifier != FILE_IDENTIFIER:
        raise ModelFileError(
            f"not a TFLite model: file identifier is {identifier!r}, expected b'TFL3'"
        )
    # Loading allocates tens of thousands of long-lived objects and no
    # cycles worth collecting: the collector's passes would cost a third.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _Loader(FlatBuffer(buf), path).load()
    finally:
        if gc_was_enabled:
            gc.enable()


class _Opcode(NamedTuple):
    op_type: str
    origin: str
    version: int


class _Loader:
    """One pass over a model: opcodes, buffers, subgraphs, signatures."""

    def __init__(self, fb: FlatBuffer, path: str) -> None:
        self.fb = fb
        self.path = path
        self.graph = ModelGraph(path, "tflite")
        self.model = fb.root("Model")
        self.opcodes: list[_Opcode] = []
        self.buffer_table: list[tuple[int | None, int]] = []
        self.external: dict[int, int] = {}
        self.dtype_names = tensor_types()
        self.subgraph_tensors: list[list[Tensor]] = []
        # Constant bytes and elements per dtype, each buffer counted once.
        self.weight_bytes: dict[str, int] = {}
        self.parameters = 0
        self.counted_buffers: set[int] = set()
        # Empty-shaped tensors without has_rank: scalars, or of unknown rank.
        self.rank_unknown: list[Tensor] = []
        self.has_rank_seen = False
        self.main_io: tuple[list[Tensor], list[Tensor]] = ([], [])

    def load(self) -> ModelGraph:
        model, graph = self.model, self.graph
        self.opcodes = [
            self.opcode(table)
            for table in model.tables(MODEL_OPERATOR_CODES, "OperatorCode", "operator_codes")
        ]
        self.buffer_table = self.buffers()
        self.external = self.external_buffers()
        metadata = [
            (table.string(METADATA_NAME, "name") or "", table.scalar(METADATA_BUFFER, "uint32", 0))
            for table in model.tables(MODEL_METADATA, "Metadata", "metadata")
        ]

        subgraphs = model.tables(MODEL_SUBGRAPHS, "SubGraph", "subgraphs")
        if not subgraphs:
            raise ModelFileError("the model has no subgraph")
        subgraph_facts = [self.subgraph(index, table) for index, table in enumerate(subgraphs)]
        graph.subgraph_count = len(subgraphs)
        # Converters set has_rank on every ranked tensor since 2021; files
        # from before never set it and have no unranked tensors.
        if self.has_rank_seen:
            for tensor in self.rank_unknown:
                tensor.shape = None
        graph.inputs, graph.outputs = self.main_io
        graph.signatures = [
            self.signature(number, table)
            for number, table in enumerate(
                model.tables(MODEL_SIGNATURE_DEFS, "SignatureDef", "signature_defs")
            )
        ]

        runtime_buffer = next((b for name, b in metadata if name == "min_runtime_version"), None)
        graph.facts["tflite"] = {
            "schema_version": model.scalar(MODEL_VERSION, "uint32", 0),
            "description": model.string(MODEL_DESCRIPTION, "description") or "",
            "metadata": [name for name, _ in metadata],
            "subgraphs": subgraph_facts,
            "buffers": len(self.buffer_table),
            "min_runtime_version": (
                None if runtime_buffer is None else self.runtime_version(runtime_buffer)
            ),
            "weight_bytes_by_dtype": dict(sorted(self.weight_bytes.items())),
            "parameters": self.parameters,
        }
        return graph

    # -- model-level tables ---------------------------------------------
    def opcode(self, table: Table) -> _Opcode:
        # The runtime takes the larger of the two codes: the int8 field holds
        # codes < 127 for old readers, the int32 one everything.
        deprecated = table.scalar(OPCODE_DEPRECATED_BUILTIN, "int8", 0)
        code = max(deprecated, table.scalar(OPCODE_BUILTIN, "int32", 0))
        version = table.scalar(OPCODE_VERSION, "int32", 1)
        op_type = builtin_name(code)
        if op_type == "CUSTOM":
            custom = table.string(OPCODE_CUSTOM, "custom_code") or ""
            origin = "flex" if custom.startswith(FLEX_PREFIX) else "custom"
            return _Opcode(custom or "CUSTOM", origin, version)
        return _Opcode(op_type, "builtin", version)

    def external_buffers(self) -> dict[int, int]:
        """External buffer id -> byte length (data kept in files beside the model)."""
        return {
            t.scalar(EXTERNAL_BUFFER_ID, "uint32", 0): t.scalar(EXTERNAL_BUFFER_LENGTH, "uint64", 0)
            for t in self.model.tables(MODEL_EXTERNAL_BUFFERS, "ExternalBuffer", "external_buffers")
        }

    def buffers(self) -> list[tuple[int | None, int]]:
        """(absolute data offset, size) of every buffer; (None, 0) when empty.

        All are read, not only those of tensors, so that a truncated file is
        caught even when it is the metadata that is cut off.
        """
        result: list[tuple[int | None, int]] = []
        size = self.fb.size
        for index, table in enumerate(self.model.tables(MODEL_BUFFERS, "Buffer", "buffers")):
            offset = table.scalar(BUFFER_OFFSET, "uint64", 0)
            # Offsets 0 and 1 are placeholders: data, if any, is inline.
            if offset > 1:
                length = table.scalar(BUFFER_SIZE, "uint64", 0)
                if offset + length > size:
                    raise ModelFileError(
                        f"buffer {index} claims {length} bytes at offset 0x{offset:x}, past "
                        f"the end of the file (size {size})"
                    )
                result.append((offset, length) if length else (None, 0))
                continue
            span = table.vector_span(BUFFER_DATA, 1, "data")
            result.append(span if span is not None and span[1] else (None, 0))
        return result

    def buffer(self, index: int, sg: int, tensor: int | None) -> tuple[int | None, int]:
        """Buffer ``index`` as used by ``tensor`` of subgraph ``sg`` (None: metadata)."""
        if index >= len(self.buffer_table):
            user = "metadata" if tensor is None else f"tensor {tensor} of subgraph {sg}"
            raise ModelFileError(
                f"{user} refers to buffer {index} but the model has {len(self.buffer_table)}"
            )
        return self.buffer_table[index]

    def runtime_version(self, index: int) -> str | None:
        offset, size = self.buffer(index, 0, None)
        if offset is None:
            return None
        raw = bytes(self.fb.buf[offset : offset + min(size, MAX_RUNTIME_VERSION_BYTES)])
        return raw.split(b"\0", 1)[0].decode("utf-8", errors="replace")

    # -- subgraphs ------------------------------------------------------
    def subgraph(self, sg: int, table: Table) -> dict[str, Any]:
        tensors = [
            self.tensor(sg, i, t)
            for i, t in enumerate(table.tables(SUBGRAPH_TENSORS, "Tensor", "tensors"))
        ]
        self.subgraph_tensors.append(tensors)
        count = len(tensors)
        io: dict[str, list[Tensor]] = {}
        for slot, key in ((SUBGRAPH_INPUTS, "inputs"), (SUBGRAPH_OUTPUTS, "outputs")):
            indices = table.scalars(slot, "int32", key)
            for index in indices:
                if not 0 <= index < count:
                    raise ModelFileError(
                        f"subgraph {sg} {key} refer to tensor {index} but it has {count} tensors"
                    )
            io[key] = [tensors[i] for i in indices]
        if sg == 0:
            self.main_io = (io["inputs"], io["outputs"])

        operators = table.tables(SUBGRAPH_OPERATORS, "Operator", "operators")
        for index, op in enumerate(operators):
            self.graph.add_node(self.operator(sg, index, op, tensors))
        return {
            "index": sg,
            "name": table.string(SUBGRAPH_NAME, "name") or "",
            "inputs": [t.id for t in io["inputs"]],
            "outputs": [t.id for t in io["outputs"]],
            "operators": len(operators),
            "tensors": count,
        }

    def tensor(self, sg: int, index: int, table: Table) -> Tensor:
        scalar = table.scalar
        type_code = scalar(TENSOR_TYPE, "int8", 0)
        dtypes = self.dtype_names
        dtype = dtypes[type_code] if 0 <= type_code < len(dtypes) else dtype_name(type_code)
        buffer = scalar(TENSOR_BUFFER, "uint32", 0)
        data_offset, data_size = (None, 0)
        if buffer:
            data_offset, data_size = self.buffer(buffer, sg, index)
        external = scalar(TENSOR_EXTERNAL_BUFFER, "uint32", 0)
        if external and not data_size:
            data_size = self.external.get(external, 0)

        # The signature has -1 for dimensions unknown until run time; the
        # plain shape holds 1 there, so the signature wins when present.
        if table.has(TENSOR_SHAPE_SIGNATURE):
            dims = table.scalars(TENSOR_SHAPE_SIGNATURE, "int32", "shape_signature")
        else:
            dims = table.scalars(TENSOR_SHAPE, "int32", "shape")
        shape = dims if not dims or min(dims) >= 0 else tuple(d if d >= 0 else None for d in dims)

        tensor = Tensor(
            id=f"{sg}:{index}",
            name=table.string(TENSOR_NAME, "name") or "",
            dtype=dtype,
            shape=shape,
            index=index,
            subgraph=sg,
            is_constant=data_size > 0,
            data_size=data_size,
            is_variable=scalar(TENSOR_IS_VARIABLE, "bool", False),
            quantization=self.quantization(table),
            data_offset=data_offset,
        )
        if scalar(TENSOR_HAS_RANK, "bool", False):
            self.has_rank_seen = True
        elif not dims and not data_size:
            self.rank_unknown.append(tensor)
        if data_size and buffer not in self.counted_buffers:
            self.counted_buffers.add(buffer)
            self.weight_bytes[dtype] = self.weight_bytes.get(dtype, 0) + data_size
            if shape is not None and None not in shape:
                self.parameters += math.prod(d or 0 for d in shape)
        return tensor

    @staticmethod
    def quantization(table: Table) -> Quantization | None:
        quant = table.table(TENSOR_QUANTIZATION, "QuantizationParameters", "quantization")
        if quant is None:
            return None
        scale = quant.scalars(QUANT_SCALE, "float32", "scale")
        if not scale:
            return None
        return Quantization(
            scale=scale,
            zero_point=quant.scalars(QUANT_ZERO_POINT, "int64", "zero_point"),
            quantized_dimension=quant.scalar(QUANT_DIMENSION, "int32", 0),
            min=quant.scalars(QUANT_MIN, "float32", "min"),
            max=quant.scalars(QUANT_MAX, "float32", "max"),
        )

    def operator(self, sg: int, index: int, op: Table, tensors: list[Tensor]) -> Node:
        opcode_index = op.scalar(OP_OPCODE_INDEX, "uint32", 0)
        if opcode_index >= len(self.opcodes):
            raise ModelFileError(
                f"operator {index} of subgraph {sg} uses opcode {opcode_index} but the model "
                f"has {len(self.opcodes)} operator codes"
            )
        opcode = self.opcodes[opcode_index]
        raw_inputs = op.scalars(OP_INPUTS, "int32", "inputs")
        raw_outputs = op.scalars(OP_OUTPUTS, "int32", "outputs")
        count = len(tensors)
        for key, indices in (("input", raw_inputs), ("output", raw_outputs)):
            # -1 marks an optional operand that is left out.
            if indices and (max(indices) >= count or min(indices) < -1):
                bad = next(i for i in indices if i >= count or i < -1)
                raise ModelFileError(
                    f"operator {index} ({opcode.op_type}) of subgraph {sg} has {key} "
                    f"tensor {bad} but the subgraph has {count} tensors"
                )
        inputs = [tensors[i] for i in raw_inputs if i >= 0]
        outputs = [tensors[i] for i in raw_outputs if i >= 0]

        options = self.options(op)
        if opcode.origin != "builtin":
            options["custom_options_size"] = self.custom_options_size(op, sg, index)
        if opcode.origin == "custom":
            words = self.custom_options_words(op)
            if words is not None:
                options["custom_options_words"] = words
        options["_inputs"] = list(raw_inputs)
        name = outputs[0].name if outputs else ""
        return Node(
            id=f"{sg}:{index}",
            kind="op",
            op_type=opcode.op_type,
            location=Location(opcode.op_type, name=name, subgraph=sg, op_index=index),
            inputs=inputs,
            outputs=outputs,
            options=options,
            origin=opcode.origin,
            subgraph=sg,
            version=opcode.version,
        )

    @staticmethod
    def options(op: Table) -> dict[str, Any]:
        options: dict[str, Any] = {}
        for union, type_slot, slot in (
            ("BuiltinOptions", OP_OPTIONS_TYPE, OP_OPTIONS),
            ("BuiltinOptions2", OP_OPTIONS2_TYPE, OP_OPTIONS2),
        ):
            type_index = op.scalar(type_slot, "uint8", 0)
            if not type_index:
                continue
            layout = options_table(union, type_index)
            if layout is None:
                continue  # a newer options table: nothing to decode it with
            table = op.table(slot, layout.name, FIELD_NAMES[union])
            if table is not None:
                options.update(decode_options(table, layout))
        return options

    def custom_options_size(self, op: Table, sg: int, index: int) -> int:
        size = op.scalar(OP_LARGE_CUSTOM_SIZE, "uint64", 0)
        if size:
            offset = op.scalar(OP_LARGE_CUSTOM_OFFSET, "uint64", 0)
            if offset + size > self.fb.size:
                raise ModelFileError(
                    f"operator {index} of subgraph {sg} claims {size} bytes of custom options "
                    f"at offset 0x{offset:x}, past the end of the file (size {self.fb.size})"
                )
            return size
        span = op.vector_span(OP_CUSTOM_OPTIONS, 1, "custom_options")
        return 0 if span is None else span[1]

    def custom_options_words(self, op: Table) -> list[int] | None:
        """Inline custom options of at most 64 bytes as int32 words (a raw C struct)."""
        span = op.vector_span(OP_CUSTOM_OPTIONS, 1, "custom_options")
        if span is None or span[1] > MAX_CUSTOM_OPTIONS_WORDS * 4 or span[1] % 4:
            return None
        start, count = span
        return list(struct.unpack_from(f"<{count // 4}i", self.fb.buf, start))

    # -- signatures -----------------------------------------------------
    def signature(self, number: int, table: Table) -> Signature:
        key = table.string(SIGNATURE_KEY, "signature_key") or ""
        sg = table.scalar(SIGNATURE_SUBGRAPH, "uint32", 0)
        if sg >= len(self.subgraph_tensors):
            raise ModelFileError(
                f"signature {key or number!r} refers to subgraph {sg} but the model has "
                f"{len(self.subgraph_tensors)}"
            )
        tensors = self.subgraph_tensors[sg]
        sides: list[dict[str, Tensor]] = []
        for slot, field in ((SIGNATURE_INPUTS, "inputs"), (SIGNATURE_OUTPUTS, "outputs")):
            side = {}
            for entry in table.tables(slot, "TensorMap", field):
                name = entry.string(TENSOR_MAP_NAME, "name") or ""
                index = entry.scalar(TENSOR_MAP_INDEX, "uint32", 0)
                if index >= len(tensors):
                    raise ModelFileError(
                        f"signature {key or number!r} {field[:-1]} {name!r} refers to tensor "
                        f"{index} but subgraph {sg} has {len(tensors)} tensors"
                    )
                side[name] = tensors[index]
            sides.append(side)
        return Signature(key=key, subgraph=sg, inputs=sides[0], outputs=sides[1])
