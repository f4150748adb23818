"""Probe which ops the installed LiteRT runtime's XNNPACK delegate takes.

Builds small .tflite models, one op (or a short pattern) each, across
op x dtype x option variants: float32, float16, dynamic-range, full int8,
uint8, int16x8; static and dynamic shapes; fused and unfused activations;
constant and run-time operands; option values (MEAN axes and keep_dims,
SOFTMAX beta, 1x1 pooling with a stride, DEPTH_TO_SPACE block sizes,
STRIDED_SLICE masks, RESIZE sizes...).  Most are written directly with the
flatbuffer schema (so dtype, quantization and options can be set exactly);
the rest are converted from TensorFlow, as users make them.

    python scripts/probe_xnnpack.py            # write fixtures/probe/ and its manifest
    python scripts/probe_xnnpack.py --only 'densify__*'   # regenerate some cases only
    python scripts/probe_xnnpack.py --check    # compare tflint's prediction with the runtime

Generation runs every model in the runtime and records, per op, whether
the delegate took it, the partition count and whether allocation failed
(``fixtures/probe/manifest.json``, with the runtime version).  ``--check``
reruns the runtime, compares it with tflint's TFL110 prediction and with the
manifest, and prints every disagreement.  The runtime always runs in child
processes, many models per process: a crash or abort is recorded for the
model that caused it and the next process carries on.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import signal
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from parallel_chunks import in_chunks

ROOT = Path(__file__).resolve().parent.parent
PROBE_DIR = ROOT / "fixtures" / "probe"
MANIFEST = "manifest.json"
RUNTIME_PACKAGE = "ai-edge-litert"

# ---------------------------------------------------------------------------
# Runtime: many models per child process, crash-tolerant (needs no TensorFlow).
# ---------------------------------------------------------------------------

#: The child reuses tflint --verify's probe, so the test sees what --verify sees.
_CHILD = ("import sys\n"
          "from tflint.runtime_probe import main\n"
          "for line in sys.stdin:\n"
          "    main(line.strip())\n"
          "    sys.stdout.flush()\n")


def runtime_version() -> str:
    try:
        return f"{RUNTIME_PACKAGE} {version(RUNTIME_PACKAGE)}"
    except PackageNotFoundError:
        return f"{RUNTIME_PACKAGE} not installed"


def runtime_reports(paths: Sequence[Path], workers: int = 2,
                    stall_timeout: float = 60.0) -> dict[Path, dict[str, Any]]:
    """The runtime's report on each model: ``nodes`` and ``allocation_error``
    (and ``unfused_nodes``) as printed by ``tflint.runtime_probe``, or
    ``failure`` for a model that killed its process (the signal) or that the
    interpreter refused to load ("load error")."""
    return in_chunks(paths, workers, lambda chunk: _run_chunk(chunk, stall_timeout))


def _run_chunk(paths: list[Path], stall_timeout: float) -> dict[Path, dict[str, Any]]:
    results: dict[Path, dict[str, Any]] = {}
    pending = list(paths)
    while pending:
        proc = subprocess.Popen([sys.executable, "-u", "-c", _CHILD], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        stderr: list[str] = []
        drain = threading.Thread(target=lambda p=proc, lines=stderr: lines.extend(p.stderr))
        drain.start()
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("".join(f"{p}\n" for p in pending))
        proc.stdin.close()
        # A model that hangs the runtime is killed after stall_timeout without output.
        watchdog = threading.Timer(stall_timeout, proc.kill)
        watchdog.start()
        done = 0
        for line in proc.stdout:
            watchdog.cancel()
            results[pending[done]] = json.loads(line)
            done += 1
            watchdog = threading.Timer(stall_timeout, proc.kill)
            watchdog.start()
        watchdog.cancel()
        code = proc.wait()
        drain.join()
        if done < len(pending):
            detail = next((s.strip() for s in reversed(stderr)
                           if s.strip() and not s.startswith("INFO:")), "no message")
            # A Python error (the interpreter refused the model) is not a native crash.
            how = signal.Signals(-code).name if code < 0 else "load error"
            results[pending[done]] = {"failure": how, "detail": detail[-300:]}
            done += 1
        pending = pending[done:]
    return results


def allocation_kind(error: str | None) -> str | None:
    """None, "xnnpack" (the delegate failed to build its subgraph) or "kernel"."""
    if error is None:
        return None
    return "xnnpack" if "TfLiteXNNPackDelegate" in error else "kernel"


def observed(report: dict[str, Any]) -> dict[str, Any]:
    """A runtime report reduced to the verdicts the manifest records."""
    from tflint.verify import delegation_from_nodes

    if "failure" in report:
        return {"failure": report["failure"]}
    actual = delegation_from_nodes(report["nodes"], report.get("allocation_error"),
                                   report.get("unfused_nodes"))
    return {
        "ops": [{"op": actual.op_names[i], "delegated": i in actual.delegated}
                for i in sorted(actual.op_names)],
        "partitions": actual.partitions,
        "allocation_failure": allocation_kind(actual.allocation_error),
    }


def prediction_disagreements(paths: Sequence[Path],
                             reports: dict[Path, dict[str, Any]]) -> dict[Path, list[str]]:
    """Per model, how tflint's TFL110 prediction differs from the runtime report."""
    import tflint
    from tflint.verify import compare, delegation_from_nodes, summary

    config = tflint.Config(select=["TFL110"])
    result = tflint.lint([str(p) for p in paths], config=config)
    problems: dict[Path, list[str]] = {}
    for path, file in zip(paths, result.files, strict=True):
        report = reports[path]
        if file.error or file.delegation is None:
            problems[path] = [f"not linted: {file.error}"]
        elif "failure" in report:
            problems[path] = [f"runtime failed ({report['failure']}): {report['detail']}"]
        else:
            actual = delegation_from_nodes(report["nodes"], report.get("allocation_error"),
                                           report.get("unfused_nodes"))
            verdict = compare(file.delegation, actual)
            if not verdict["matches"]:
                problems[path] = [summary(verdict)]
    return problems


# ---------------------------------------------------------------------------
# Flatbuffer models (LiteRT schema object API).
# ---------------------------------------------------------------------------

_NUMPY_TYPES = {"f32": "float32", "f16": "float16", "i32": "int32", "u8": "uint8",
                "i64": "int64", "bool": "bool", "i16": "int16", "i8": "int8"}
_SCHEMA_TYPES = {"f32": "FLOAT32", "f16": "FLOAT16", "i32": "INT32", "u8": "UINT8",
                 "i64": "INT64", "bool": "BOOL", "i16": "INT16", "i8": "INT8", "i4": "INT4",
                 "resource": "RESOURCE"}
PADDING = {"SAME": 0, "VALID": 1}
ACTIVATION = {"NONE": 0, "RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3, "TANH": 4, "SIGN_BIT": 5}


@dataclass
class Spec:
    """One tensor of a model under construction; constant when it has data."""

    dtype: str
    shape: list[int]
    data: Any = None
    raw: bytes | None = None
    scale: list[float] | None = None
    zero_point: list[int] | None = None
    axis: int = 0
    signature: list[int] | None = None
    variable: bool = False
    #: Sparsity parameters (a schema ``SparsityParametersT``); ``raw`` then holds the
    #: stored values only.
    sparsity: Any = None

    @property
    def constant(self) -> bool:
        return self.data is not None or self.raw is not None


def f32(*shape: int, signature: list[int] | None = None) -> Spec:
    return Spec("f32", list(shape), signature=signature)


def f16(*shape: int) -> Spec:
    return Spec("f16", list(shape))


def const(dtype: str, shape: Sequence[int], values: Any, **kw: Any) -> Spec:
    import numpy as np
    return Spec(dtype, list(shape), data=np.asarray(values).reshape(shape), **kw)


def ints(*values: int) -> Spec:
    return const("i32", [len(values)], list(values))


def weights(*shape: int, dtype: str = "f32") -> Spec:
    """Deterministic small float weights (no random state to seed)."""
    import numpy as np
    count = int(np.prod(shape)) if shape else 1
    return const(dtype, shape, (np.arange(count) % 7 - 3) * 0.05)


def qs8(shape: Sequence[int], scale: float = 0.05, zero_point: int = 0, **kw: Any) -> Spec:
    return Spec("i8", list(shape), scale=[scale], zero_point=[zero_point], **kw)


def qu8(shape: Sequence[int], scale: float = 0.05, zero_point: int = 128, **kw: Any) -> Spec:
    return Spec("u8", list(shape), scale=[scale], zero_point=[zero_point], **kw)


def qs16(shape: Sequence[int], scale: float = 0.05, **kw: Any) -> Spec:
    return Spec("i16", list(shape), scale=[scale], zero_point=[0], **kw)


def int8_weights(shape: Sequence[int], channels: int = 1, axis: int = 0, scale: float = 0.02,
                 zero_point: int = 0, dtype: str = "i8") -> Spec:
    """Constant quantized weights: per-tensor when channels is 1, else per-channel."""
    import numpy as np
    return Spec(dtype, list(shape), data=np.ones(shape), scale=[scale] * channels,
                zero_point=[zero_point] * channels, axis=axis)


def bias32(shape: Sequence[int], scale: float, channels: int = 1) -> Spec:
    import numpy as np
    return Spec("i32", list(shape), data=np.zeros(shape), scale=[scale] * channels,
                zero_point=[0] * channels)


def half_weights(*shape: int) -> Spec:
    import numpy as np
    return Spec("f16", list(shape), data=np.full(shape, 0.5))


def sparse_weights(*shape: int, dtype: str = "f32", block: int = 1, **kw: Any) -> Spec:
    """Constant weights stored sparse, as the converter writes them for a DENSIFY.

    Every dimension but the last is dense; the last is compressed (CSR), in blocks of
    ``block`` values when ``block`` > 1 (an extra dense block dimension, block map on
    the last dimension).  About two values in three are zero.
    """
    import numpy as np
    from ai_edge_litert import schema_py_generated as schema

    columns = shape[-1]
    rows = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
    dense = np.zeros((rows, columns))
    for r in range(rows):
        for j in range(columns // block):
            if (r + j) % 3 == 0:  # every row keeps at least one block
                dense[r, j * block:(j + 1) * block] = (np.arange(block) % 4 + 1) * 0.05
    segments, indices, values = [0], [], []
    for r in range(rows):
        for j in range(columns // block):
            stored = dense[r, j * block:(j + 1) * block]
            if stored.any():
                indices.append(j)
                values.extend(stored)
        segments.append(len(indices))

    def dim(size: int) -> Any:
        meta = schema.DimensionMetadataT()
        meta.format, meta.denseSize = schema.DimensionType.DENSE, size
        return meta

    csr = schema.DimensionMetadataT()
    csr.format = schema.DimensionType.SPARSE_CSR
    csr.arraySegmentsType = csr.arrayIndicesType = schema.SparseIndexVector.Int32Vector
    csr.arraySegments, csr.arrayIndices = schema.Int32VectorT(), schema.Int32VectorT()
    csr.arraySegments.values, csr.arrayIndices.values = segments, indices
    sparsity = schema.SparsityParametersT()
    sparsity.dimMetadata = [dim(size) for size in shape[:-1]] + [csr]
    sparsity.traversalOrder = list(range(len(shape)))
    sparsity.blockMap = []
    if block > 1:
        sparsity.dimMetadata.append(dim(block))
        sparsity.traversalOrder.append(len(shape))
        sparsity.blockMap = [len(shape) - 1]
    if dtype == "i8":
        raw = np.round(np.asarray(values) / 0.01).astype("int8").tobytes()
    else:
        raw = np.asarray(values, dtype=_NUMPY_TYPES[dtype]).tobytes()
    return Spec(dtype, list(shape), raw=raw, sparsity=sparsity, **kw)


@dataclass
class Op:
    """One operator: builtin name or ("CUSTOM", code), operand indices, options."""

    op: str | tuple[str, str]
    inputs: list[int]
    outputs: list[int]
    options: tuple[str, dict[str, Any]] | None = None
    options2: tuple[str, dict[str, Any]] | None = None
    version: int = 1
    custom: bytes | None = None


def model(ops: list[Op], tensors: list[Spec], inputs: list[int], outputs: list[int],
          extra_subgraphs: list[Any] | None = None) -> bytes:
    """Serialize a one-subgraph model (plus optional extra subgraphs)."""
    import flatbuffers
    import numpy as np
    from ai_edge_litert import schema_py_generated as schema

    result = schema.ModelT()
    result.version = 3
    result.description = "tflint XNNPACK probe"
    result.buffers = [schema.BufferT()]
    result.operatorCodes = []
    codes: dict[tuple[Any, int], int] = {}
    subgraph = schema.SubGraphT()
    subgraph.name = "main"
    subgraph.tensors = []
    for i, spec in enumerate(tensors):
        tensor = schema.TensorT()
        tensor.name = f"t{i}"
        tensor.shape = list(spec.shape)
        if spec.signature is not None:
            tensor.shapeSignature = list(spec.signature)
        tensor.type = getattr(schema.TensorType, _SCHEMA_TYPES[spec.dtype])
        tensor.isVariable = spec.variable
        tensor.sparsity = spec.sparsity
        tensor.buffer = 0
        if spec.constant:
            buffer = schema.BufferT()
            raw = spec.raw if spec.raw is not None else np.asarray(
                spec.data, dtype=_NUMPY_TYPES[spec.dtype]).reshape(spec.shape).tobytes()
            buffer.data = np.frombuffer(raw, dtype=np.uint8)
            result.buffers.append(buffer)
            tensor.buffer = len(result.buffers) - 1
        if spec.scale is not None:
            quantization = schema.QuantizationParametersT()
            quantization.scale = list(spec.scale)
            quantization.zeroPoint = list(spec.zero_point or [0] * len(spec.scale))
            quantization.quantizedDimension = spec.axis
            tensor.quantization = quantization
        subgraph.tensors.append(tensor)
    subgraph.inputs = inputs
    subgraph.outputs = outputs
    subgraph.operators = []
    for op in ops:
        key = (op.op, op.version)
        if key not in codes:
            code = schema.OperatorCodeT()
            if isinstance(op.op, tuple):
                code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
                code.customCode = op.op[1]
            else:
                code.builtinCode = getattr(schema.BuiltinOperator, op.op)
                code.deprecatedBuiltinCode = min(code.builtinCode, 127)
            code.version = op.version
            result.operatorCodes.append(code)
            codes[key] = len(result.operatorCodes) - 1
        operator = schema.OperatorT()
        operator.opcodeIndex = codes[key]
        operator.inputs = list(op.inputs)
        operator.outputs = list(op.outputs)
        if op.options is not None:
            name, fields = op.options
            operator.builtinOptionsType = getattr(schema.BuiltinOptions, name)
            operator.builtinOptions = _options(getattr(schema, name + "T")(), fields)
        if op.options2 is not None:
            name, fields = op.options2
            operator.builtinOptions2Type = getattr(schema.BuiltinOptions2, name)
            operator.builtinOptions2 = _options(getattr(schema, name + "T")(), fields)
        if op.custom is not None:
            operator.customOptions = list(op.custom)
        subgraph.operators.append(operator)
    result.subgraphs = [subgraph, *(extra_subgraphs or [])]
    builder = flatbuffers.Builder(1024)
    builder.Finish(result.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _options(table: Any, fields: dict[str, Any]) -> Any:
    for key, value in fields.items():
        if key == "padding" and isinstance(value, str):
            value = PADDING[value]
        if key == "fusedActivationFunction" and isinstance(value, str):
            value = ACTIVATION[value]
        setattr(table, key, value)
    return table


def single(op: str | tuple[str, str], inputs: Sequence[Spec | None], outputs: Sequence[Spec],
           options: tuple[str, dict[str, Any]] | None = None, version: int = 1,
           **extra: Any) -> bytes:
    """A one-op model; non-constant inputs become graph inputs, None is an absent operand."""
    tensors = [t for t in inputs if t is not None] + list(outputs)
    operands, graph_inputs, position = [], [], 0
    for spec in inputs:
        if spec is None:
            operands.append(-1)
            continue
        operands.append(position)
        if not spec.constant and not spec.variable:
            graph_inputs.append(position)
        position += 1
    outs = list(range(position, position + len(outputs)))
    return model([Op(op, operands, outs, options, version=version, **extra)], tensors,
                 graph_inputs, outs)


# ---------------------------------------------------------------------------
# The probe cases.
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    name: str
    op: str
    variant: str
    source: str
    make: Callable[[], bytes]


CASES: dict[str, Case] = {}
S4 = [1, 4, 4, 8]
CONV = {"padding": "SAME", "strideW": 1, "strideH": 1, "dilationWFactor": 1,
        "dilationHFactor": 1}
DEPTHWISE = {**CONV, "depthMultiplier": 1}
POOL = {"padding": "VALID", "strideW": 2, "strideH": 2, "filterWidth": 2, "filterHeight": 2}


def register(cases: dict[str, Case], op: str, key: str, variant: str,
             make: Callable[[], bytes], source: str = "flatbuffer") -> None:
    """Add a probe case named ``op__key`` to ``cases`` (each target's harness has its own)."""
    name = f"{op.lower()}__{key}"
    if name in cases:
        raise ValueError(f"duplicate probe case {name}")
    cases[name] = Case(name, op, variant, source, make)


def add(op: str, key: str, variant: str, make: Callable[[], bytes],
        source: str = "flatbuffer") -> None:
    register(CASES, op, key, variant, make, source)


def built(op: str, key: str, variant: str, *args: Any, **kw: Any) -> None:
    """A one-op flatbuffer case: ``single(op, *args, **kw)``."""
    add(op, key, variant, lambda: single(op, *args, **kw))


UNARY_FLOAT = ["ABS", "CEIL", "COS", "EXP", "FLOOR", "GELU", "HARD_SWISH", "LOG", "NEG", "RELU",
               "RELU6", "RELU_N1_TO_1", "ROUND", "RSQRT", "SIN", "SQRT", "SQUARE"]
UNARY_QUANTIZABLE = ["ELU", "LOGISTIC", "TANH"]


def unary_cases() -> None:
    for op in UNARY_FLOAT + UNARY_QUANTIZABLE:
        opts = ("GeluOptions", {}) if op == "GELU" else None
        built(op, "f32", "float32 [2, 4]", [f32(2, 4)], [f32(2, 4)], options=opts)
        built(op, "f16", "float16 activations", [f16(2, 4)], [f16(2, 4)], options=opts)
        built(op, "qs8", "int8 per-tensor activations", [qs8([2, 4])], [qs8([2, 4])],
              options=opts)
        built(op, "qu8", "uint8 activations", [qu8([2, 4])], [qu8([2, 4])], options=opts)
        built(op, "qs16", "int16x8 activations", [qs16([2, 4])], [qs16([2, 4])],
              options=opts)
    for op in ("ABS", "RELU", "TANH", "LOGISTIC", "SQUARE"):
        built(op, "rank0", "scalar float32", [f32()], [f32()])
        built(op, "rank6", "rank-6 float32", [f32(1, 2, 1, 2, 1, 2)], [f32(1, 2, 1, 2, 1, 2)])
        built(op, "rank7", "rank-7 float32", [f32(1, 2, 1, 2, 1, 2, 1)],
              [f32(1, 2, 1, 2, 1, 2, 1)])
        built(op, "f32_in_f16_out", "float32 input, float16 output", [f32(2, 4)], [f16(2, 4)])
        built(op, "dynamic_batch", "shape_signature [-1, 4]", [f32(1, 4, signature=[-1, 4])],
              [f32(1, 4, signature=[-1, 4])])
    r7 = [1, 2, 1, 2, 1, 2, 1]
    built("LEAKY_RELU", "rank7", "rank-7 float32", [f32(*r7)], [f32(*r7)],
          options=("LeakyReluOptions", {"alpha": 0.2}))
    built("QUANTIZE", "rank7", "rank-7 float32 to int8", [f32(*r7)], [qs8(r7)])
    built("DEQUANTIZE", "rank7", "rank-7 int8 to float32", [qs8(r7)], [f32(*r7)])
    built("ABS", "i32", "int32 data", [Spec("i32", [4])], [Spec("i32", [4])])
    built("LOGISTIC", "qs8_in_qu8_out", "int8 input, uint8 output", [qs8([2, 4])],
          [qu8([2, 4])])
    built("TANH", "qs8_in_f32_out", "int8 input, float32 output", [qs8([2, 4])], [f32(2, 4)])
    built("GELU", "approximate", "approximate=true", [f32(2, 4)], [f32(2, 4)],
          options=("GeluOptions", {"approximate": True}))
    built("GELU", "no_options", "no options table", [f32(2, 4)], [f32(2, 4)])
    for key, alpha in (("alpha_0.2", 0.2), ("alpha_neg", -0.5), ("alpha_0", 0.0),
                       ("alpha_1", 1.0), ("alpha_1000", 1000.0)):
        built("LEAKY_RELU", key, f"float32, alpha {alpha}", [f32(2, 4)], [f32(2, 4)],
              options=("LeakyReluOptions", {"alpha": alpha}))
    leaky = ("LeakyReluOptions", {"alpha": 0.2})
    built("LEAKY_RELU", "f16", "float16", [f16(2, 4)], [f16(2, 4)], options=leaky)
    built("LEAKY_RELU", "qs8", "int8, alpha 0.2", [qs8([2, 4])], [qs8([2, 4])], options=leaky)
    built("LEAKY_RELU", "qu8", "uint8, alpha 0.2", [qu8([2, 4])], [qu8([2, 4])], options=leaky)
    built("LEAKY_RELU", "qs8_scale_ratio_1000", "int8, input/output scale ratio 1000",
          [qs8([2, 4], 1.0)], [qs8([2, 4], 0.001)], options=leaky)
    built("LEAKY_RELU", "qs8_tiny_alpha", "int8, alpha 0.001 (scaled alpha below 1/256)",
          [qs8([2, 4])], [qs8([2, 4])], options=("LeakyReluOptions", {"alpha": 0.001}))


MIXABLE = {"f32": lambda: f32(2, 4), "f16": lambda: f16(2, 4), "qs8": lambda: qs8([2, 4]),
           "qu8": lambda: qu8([2, 4])}


def mixed_type_cases() -> None:
    """Input and output of different types: some are rejected, some claimed and then fail."""
    for op in ("ABS", "RELU", "HARD_SWISH", "ELU", "LOGISTIC", "TANH", "LEAKY_RELU"):
        opts = ("LeakyReluOptions", {"alpha": 0.2}) if op == "LEAKY_RELU" else None
        for a, make_a in MIXABLE.items():
            for b, make_b in MIXABLE.items():
                if a != b:
                    built(op, f"{a}_to_{b}", f"{a} input, {b} output", [make_a()], [make_b()],
                          options=opts)
    for op in ("ADD", "SUB", "MUL", "DIV", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE"):
        options = {"ADD": "AddOptions", "SUB": "SubOptions", "MUL": "MulOptions",
                   "DIV": "DivOptions"}.get(op)
        opts = (options, {}) if options else None
        for a, b, out in (("f16", "f32", "f32"), ("f32", "f32", "f16"), ("f16", "f16", "f32"),
                          ("qs8", "qs8", "f32"), ("qs8", "qs8", "qu8")):
            built(op, f"{a}_{b}_to_{out}", f"{a} and {b} inputs, {out} output",
                  [MIXABLE[a](), MIXABLE[b]()], [MIXABLE[out]()], options=opts)


BINARY = {"ADD": "AddOptions", "SUB": "SubOptions", "MUL": "MulOptions", "DIV": "DivOptions",
          "MAXIMUM": None, "MINIMUM": None, "SQUARED_DIFFERENCE": None, "PRELU": None}


def binary_cases() -> None:
    for op, options_name in BINARY.items():
        def opts(options_name: str | None = options_name, **fields: Any) -> Any:
            return (options_name, fields) if options_name else None
        slope = op == "PRELU"  # PRELU needs a constant second operand

        def second(spec: Spec, slope: bool = slope) -> Spec:
            if not slope:
                return spec
            import numpy as np
            return Spec(spec.dtype, spec.shape, data=np.full(spec.shape, 0.25), scale=spec.scale,
                        zero_point=spec.zero_point)
        built(op, "f32", "float32, broadcast [2,8] x [8]", [f32(2, 8), second(f32(8))],
              [f32(2, 8)], options=opts())
        built(op, "f16", "float16", [f16(2, 8), second(f16(8))], [f16(2, 8)], options=opts())
        built(op, "qs8", "int8 per-tensor", [qs8([2, 8]), second(qs8([8]))], [qs8([2, 8], 0.1)],
              options=opts())
        built(op, "qu8", "uint8", [qu8([2, 8]), second(qu8([8]))], [qu8([2, 8], 0.1)],
              options=opts())
        built(op, "qs16", "int16x8", [qs16([2, 8]), second(qs16([8]))], [qs16([2, 8])],
              options=opts())
        built(op, "i32", "int32 data", [Spec("i32", [2, 8]), second(Spec("i32", [2, 8]))],
              [Spec("i32", [2, 8])], options=opts())
        built(op, "rank7", "rank-7 float32", [f32(1, 2, 1, 2, 1, 2, 1),
              second(f32(1, 2, 1, 2, 1, 2, 1))], [f32(1, 2, 1, 2, 1, 2, 1)], options=opts())
        built(op, "scalar_operand", "float32 with a scalar second operand",
              [f32(2, 8), second(f32())], [f32(2, 8)], options=opts())
        built(op, "mixed_f32_qs8", "float32 and int8 operands", [f32(2, 8), second(qs8([2, 8]))],
              [f32(2, 8)], options=opts())
        built(op, "f32_f16_mixed", "float32 and float16 operands",
              [f32(2, 8), second(f16(2, 8))], [f32(2, 8)], options=opts())
        if not slope:
            built(op, "const_operand", "float32 with a constant second operand",
                  [f32(2, 8), weights(2, 8)], [f32(2, 8)], options=opts())
            built(op, "dynamic_batch", "shape_signature [-1, 8]",
                  [f32(1, 8, signature=[-1, 8]), f32(1, 8, signature=[-1, 8])],
                  [f32(1, 8, signature=[-1, 8])], options=opts())
        if options_name:
            for activation in ("RELU", "RELU6", "RELU_N1_TO_1", "TANH", "SIGN_BIT"):
                built(op, f"act_{activation.lower()}", f"float32, fused {activation}",
                      [f32(2, 8), f32(2, 8)], [f32(2, 8)],
                      options=opts(fusedActivationFunction=activation))
    built("ADD", "no_options", "no options table", [f32(2, 8), f32(2, 8)], [f32(2, 8)])
    add_opts = ("AddOptions", {})
    built("ADD", "qs8_scale_ratio_high", "int8, input/output scale ratio 1000",
          [qs8([2, 8], 1.0), qs8([2, 8])], [qs8([2, 8], 0.001)], options=add_opts)
    built("ADD", "qs8_scale_ratio_low", "int8, input/output scale ratio 1/10000",
          [qs8([2, 8], 0.0001), qs8([2, 8])], [qs8([2, 8], 1.0)], options=add_opts)
    built("ADD", "qs8_qu8_mixed", "int8 and uint8 operands", [qs8([2, 8]), qu8([2, 8])],
          [qs8([2, 8])], options=add_opts)
    built("MUL", "qs8_scale_product_low", "int8, in0*in1/out scale 1e-8",
          [qs8([2, 8], 0.0001), qs8([2, 8], 0.0001)], [qs8([2, 8], 1.0)],
          options=("MulOptions", {}))
    # The op version only selects a CPU kernel; version 1 is registered for every type.
    built("PRELU", "runtime_slope", "slope computed at run time", [f32(2, 8), f32(8)],
          [f32(2, 8)])
    built("PRELU", "full_slope", "slope of the input's full shape",
          [f32(1, 4, 4, 8), weights(1, 4, 4, 8)], [f32(1, 4, 4, 8)])
    built("PRELU", "f16_slope", "float32 input, direct float16 slope",
          [f32(2, 8), half_weights(8)], [f32(2, 8)])


def conv_cases() -> None:
    def conv(key: str, variant: str, inp: Spec, filt: Spec | None, bias: Spec | None,
             out: Spec, version: int = 1, **options: Any) -> None:
        built("CONV_2D", key, variant, [inp, filt, bias], [out],
              options=("Conv2DOptions", {**CONV, **options}), version=version)

    out16 = [1, 4, 4, 16]
    conv("f32", "float32 3x3 SAME", f32(*S4), weights(16, 3, 3, 8), weights(16), f32(*out16))
    conv("f32_no_bias", "float32 without bias (-1)", f32(*S4), weights(16, 3, 3, 8), None,
         f32(*out16))
    conv("f32_runtime_filter", "filter computed at run time", f32(*S4), f32(16, 3, 3, 8),
         weights(16), f32(*out16))
    conv("f32_runtime_bias", "bias computed at run time", f32(*S4), weights(16, 3, 3, 8),
         f32(16), f32(*out16))
    conv("f32_f16_bias", "float32 with a direct float16 bias", f32(*S4),
         weights(16, 3, 3, 8), half_weights(16), f32(*out16))
    conv("f32_f16_filter", "float32 with a direct float16 filter", f32(*S4),
         half_weights(16, 3, 3, 8), weights(16), f32(*out16))
    conv("f16", "all float16", f16(*S4), half_weights(16, 3, 3, 8), half_weights(16),
         f16(*out16))
    conv("valid", "VALID padding", f32(*S4), weights(16, 3, 3, 8), weights(16),
         f32(1, 2, 2, 16), padding="VALID")
    conv("stride2", "stride 2", f32(*S4), weights(16, 3, 3, 8), weights(16), f32(1, 2, 2, 16),
         strideW=2, strideH=2)
    conv("dilation2", "dilation 2", f32(*S4), weights(16, 3, 3, 8), weights(16), f32(*out16),
         dilationWFactor=2, dilationHFactor=2)
    conv("stride0", "stride_w 0", f32(*S4), weights(16, 3, 3, 8), weights(16), f32(*out16),
         strideW=0)
    conv("grouped", "grouped: 8 input channels, filter depth 4", f32(*S4),
         weights(16, 3, 3, 4), weights(16), f32(*out16))
    for activation in ("RELU", "RELU6", "RELU_N1_TO_1", "TANH", "SIGN_BIT"):
        conv(f"act_{activation.lower()}", f"fused {activation}", f32(*S4),
             weights(16, 3, 3, 8), weights(16), f32(*out16), fusedActivationFunction=activation)
    conv("dynamic_hw", "input H and W unknown (shape_signature)",
         f32(1, 1, 1, 8, signature=[1, -1, -1, 8]), weights(16, 3, 3, 8), weights(16),
         f32(1, 1, 1, 16, signature=[1, -1, -1, 16]))
    conv("rank3_input", "rank-3 input", f32(4, 4, 8), weights(16, 3, 3, 8), weights(16),
         f32(4, 4, 16))
    pc_filter = int8_weights([16, 3, 3, 8], channels=16)
    conv("qs8_per_tensor", "int8, per-tensor filter and bias", qs8(S4),
         int8_weights([16, 3, 3, 8]), bias32([16], 0.001), qs8(out16, 0.5), version=3)
    conv("qs8_per_channel", "int8, per-channel filter and bias", qs8(S4), pc_filter,
         bias32([16], 0.001, 16), qs8(out16, 0.5), version=3)
    conv("qs8_filter_axis3", "int8, per-channel filter quantized along dimension 3", qs8(S4),
         int8_weights([16, 3, 3, 8], channels=8, axis=3), bias32([16], 0.001),
         qs8(out16, 0.5), version=3)
    conv("qs8_no_bias", "int8 without bias", qs8(S4), pc_filter, None, qs8(out16, 0.5),
         version=3)
    conv("qs8_pc_filter_pt_bias", "int8, per-channel filter with a per-tensor bias", qs8(S4),
         pc_filter, bias32([16], 0.001), qs8(out16, 0.5), version=3)
    conv("qs8_pt_filter_pc_bias", "int8, per-tensor filter with a per-channel bias", qs8(S4),
         int8_weights([16, 3, 3, 8]), bias32([16], 0.001, 16), qs8(out16, 0.5), version=3)
    conv("qs8_plain_i32_bias", "int8 with an unquantized int32 bias", qs8(S4), pc_filter,
         const("i32", [16], [0] * 16), qs8(out16, 0.5), version=3)
    conv("qs8_filter_zero_point", "int8, filter zero point 3", qs8(S4),
         int8_weights([16, 3, 3, 8], zero_point=3), bias32([16], 0.001), qs8(out16, 0.5),
         version=3)
    conv("qs8_requant_200", "int8, requantization scale 200", qs8(S4, 1.0),
         int8_weights([16, 3, 3, 8], scale=1.0), bias32([16], 1.0), qs8(out16, 1 / 200),
         version=3)
    conv("qs8_requant_300", "int8, requantization scale 300 (claimed, creation fails)",
         qs8(S4, 1.0), int8_weights([16, 3, 3, 8], scale=1.0), bias32([16], 1.0),
         qs8(out16, 1 / 300), version=3)
    conv("qs8_pc_requant_300", "int8, one channel's requantization scale 300",
         qs8(S4, 1.0), Spec("i8", [16, 3, 3, 8], data=_ones(16, 3, 3, 8),
                            scale=[0.001] * 15 + [1.0], zero_point=[0] * 16),
         bias32([16], 0.001, 16), qs8(out16, 1 / 300), version=3)
    conv("qs8_in_qu8_out", "int8 input, uint8 output", qs8(S4), pc_filter,
         bias32([16], 0.001, 16), qu8(out16, 0.5), version=3)
    conv("qu8", "uint8", qu8(S4), int8_weights([16, 3, 3, 8], zero_point=128, dtype="u8"),
         bias32([16], 0.001), qu8(out16, 0.5))
    conv("qu8_filter_zero_point_0", "uint8, filter zero point 0", qu8(S4),
         int8_weights([16, 3, 3, 8], dtype="u8"), bias32([16], 0.001), qu8(out16, 0.5))
    conv("hybrid_per_tensor", "float32 input, int8 per-tensor filter (dynamic range)",
         f32(*S4), int8_weights([16, 3, 3, 8]), weights(16), f32(*out16), version=2)
    conv("hybrid_per_channel", "float32 input, int8 per-channel filter", f32(*S4), pc_filter,
         weights(16), f32(*out16), version=2)
    conv("hybrid_filter_zero_point", "hybrid, filter zero point 3", f32(*S4),
         int8_weights([16, 3, 3, 8], zero_point=3), weights(16), f32(*out16), version=2)
    conv("hybrid_f16_bias", "hybrid with a float16 bias", f32(*S4), pc_filter,
         half_weights(16), f32(*out16), version=2)
    conv("hybrid_runtime_filter", "hybrid, int8 filter computed at run time", f32(*S4),
         Spec("i8", [16, 3, 3, 8], scale=[0.1] * 16, zero_point=[0] * 16), weights(16),
         f32(*out16), version=2)
    conv("qs16", "int16x8", qs16(S4), pc_filter,
         Spec("i64", [16], data=_zeros(16), scale=[0.001] * 16, zero_point=[0] * 16),
         qs16(out16, 0.5), version=4)


def invalid_quantization_cases() -> None:
    """Quantization parameters out of range: detection does not look, creation fails."""
    add_options = ("AddOptions", {})
    nan = float("nan")
    built("ADD", "qs8_output_zero_point_200", "int8 output zero point 200",
          [qs8([2, 8]), qs8([2, 8])], [qs8([2, 8], 0.1, 200)], options=add_options)
    built("ADD", "qu8_input_zero_point_300", "uint8 input zero point 300",
          [qu8([2, 8], zero_point=300), qu8([2, 8])], [qu8([2, 8], 0.1)], options=add_options)
    built("ADD", "qs8_output_scale_nan", "int8 output scale NaN",
          [qs8([2, 8]), qs8([2, 8])], [qs8([2, 8], nan)], options=add_options)
    built("ADD", "qs8_output_scale_negative", "int8 output scale -0.1",
          [qs8([2, 8]), qs8([2, 8])], [qs8([2, 8], -0.1)], options=add_options)
    conv = ("Conv2DOptions", CONV)
    for key, variant, out in (("output_scale_nan", "output scale NaN", qs8([1, 4, 4, 16], nan)),
                              ("output_scale_zero", "output scale 0", qs8([1, 4, 4, 16], 0.0)),
                              ("output_zero_point_200", "output zero point 200",
                               qs8([1, 4, 4, 16], 0.5, 200))):
        built("CONV_2D", f"qs8_{key}", f"int8, {variant}",
              [qs8(S4), int8_weights([16, 3, 3, 8], channels=16), bias32([16], 0.001, 16)],
              [out], options=conv, version=3)
    built("CONV_2D", "qs8_pc_filter_zero_point", "int8, per-channel filter zero points 3",
          [qs8(S4), int8_weights([16, 3, 3, 8], channels=16, zero_point=3),
           bias32([16], 0.001, 16)], [qs8([1, 4, 4, 16], 0.5)], options=conv, version=3)
    built("DEPTHWISE_CONV_2D", "qs8_pc_filter_zero_point", "int8, per-channel filter zero "
          "points 3", [qs8(S4), int8_weights([1, 3, 3, 8], channels=8, axis=3, zero_point=3),
                       bias32([8], 0.001, 8)], [qs8(S4, 0.5)],
          options=("DepthwiseConv2DOptions", DEPTHWISE), version=3)
    built("FULLY_CONNECTED", "qs8_output_scale_zero", "int8, output scale 0",
          [qs8([2, 8]), int8_weights([16, 8]), bias32([16], 0.001)], [qs8([2, 16], 0.0)],
          options=("FullyConnectedOptions", {}), version=4)
    built("MAX_POOL_2D", "qs8_zero_point_200", "int8 input and output zero point 200",
          [qs8(S4, 0.05, 200)], [qs8([1, 2, 2, 8], 0.05, 200)], options=("Pool2DOptions", POOL))


def _ones(*shape: int) -> Any:
    import numpy as np
    return np.ones(shape)


def _zeros(*shape: int) -> Any:
    import numpy as np
    return np.zeros(shape)


def depthwise_cases() -> None:
    def dw(key: str, variant: str, inp: Spec, filt: Spec, bias: Spec | None, out: Spec,
           version: int = 2, **options: Any) -> None:
        built("DEPTHWISE_CONV_2D", key, variant, [inp, filt, bias], [out],
              options=("DepthwiseConv2DOptions", {**DEPTHWISE, **options}), version=version)

    dw("f32", "float32 3x3", f32(*S4), weights(1, 3, 3, 8), weights(8), f32(*S4))
    dw("f32_no_bias", "float32 without bias", f32(*S4), weights(1, 3, 3, 8), None, f32(*S4))
    dw("runtime_filter", "filter computed at run time", f32(*S4), f32(1, 3, 3, 8), weights(8),
       f32(*S4))
    dw("f16", "all float16", f16(*S4), half_weights(1, 3, 3, 8), half_weights(8), f16(*S4))
    dw("f32_f16_bias", "float32 with a direct float16 bias", f32(*S4), weights(1, 3, 3, 8),
       half_weights(8), f32(*S4))
    dw("multiplier2", "depth multiplier 2", f32(*S4), weights(1, 3, 3, 16), weights(16),
       f32(1, 4, 4, 16), depthMultiplier=2)
    dw("multiplier0", "depth multiplier 0", f32(*S4), weights(1, 3, 3, 8), weights(8),
       f32(*S4), depthMultiplier=0)
    dw("multiplier3_uneven", "depth multiplier 3 with 8 output channels", f32(*S4),
       weights(1, 3, 3, 8), weights(8), f32(*S4), depthMultiplier=3)
    dw("act_relu6", "fused RELU6", f32(*S4), weights(1, 3, 3, 8), weights(8), f32(*S4),
       fusedActivationFunction="RELU6")
    dw("act_tanh", "fused TANH", f32(*S4), weights(1, 3, 3, 8), weights(8), f32(*S4),
       fusedActivationFunction="TANH")
    dw("stride2_valid", "stride 2, VALID", f32(*S4), weights(1, 3, 3, 8), weights(8),
       f32(1, 1, 1, 8), strideW=2, strideH=2, padding="VALID")
    dw("rank3_input", "rank-3 input", f32(4, 4, 8), weights(1, 3, 3, 8), weights(8),
       f32(4, 4, 8))
    dw("qs8_per_channel", "int8, per-channel filter (dimension 3)", qs8(S4),
       int8_weights([1, 3, 3, 8], channels=8, axis=3), bias32([8], 0.001, 8), qs8(S4, 0.5),
       version=3)
    dw("qs8_per_tensor", "int8, per-tensor filter and bias", qs8(S4),
       int8_weights([1, 3, 3, 8]), bias32([8], 0.001), qs8(S4, 0.5), version=3)
    dw("qs8_pt_filter_pc_bias", "int8, per-tensor filter with per-channel bias", qs8(S4),
       int8_weights([1, 3, 3, 8]), bias32([8], 0.001, 8), qs8(S4, 0.5), version=3)
    dw("qs8_pc_filter_pt_bias", "int8, per-channel filter with per-tensor bias", qs8(S4),
       int8_weights([1, 3, 3, 8], channels=8, axis=3), bias32([8], 0.001), qs8(S4, 0.5),
       version=3)
    dw("qs8_filter_axis0", "int8, per-channel filter along dimension 0 (1 channel)", qs8(S4),
       int8_weights([1, 3, 3, 8], channels=1, axis=0), bias32([8], 0.001), qs8(S4, 0.5),
       version=3)
    dw("qs8_filter_zero_point", "int8, filter zero point 3", qs8(S4),
       int8_weights([1, 3, 3, 8], zero_point=3), bias32([8], 0.001), qs8(S4, 0.5), version=3)
    dw("qs8_requant_300", "int8, requantization scale 300", qs8(S4, 1.0),
       int8_weights([1, 3, 3, 8], scale=1.0), bias32([8], 1.0), qs8(S4, 1 / 300), version=3)
    dw("qu8", "uint8", qu8(S4), int8_weights([1, 3, 3, 8], zero_point=128, dtype="u8"),
       bias32([8], 0.001), qu8(S4, 0.5), version=1)
    dw("hybrid", "float32 input, int8 per-channel filter", f32(*S4),
       int8_weights([1, 3, 3, 8], channels=8, axis=3), weights(8), f32(*S4), version=4)


def transpose_conv_cases() -> None:
    def tc(key: str, variant: str, shape: Spec, filt: Spec, inp: Spec, bias: Spec | bool | None,
           out: Spec, version: int = 3, **options: Any) -> None:
        inputs = [shape, filt, inp] + ([] if bias is False else [bias])
        built("TRANSPOSE_CONV", key, variant, inputs, [out],
              options=("TransposeConvOptions",
                       {"padding": "SAME", "strideW": 2, "strideH": 2, **options}),
              version=version)

    out = [1, 8, 8, 4]
    tc("f32", "float32, SAME, stride 2", ints(*out), weights(4, 3, 3, 8), f32(*S4), weights(4),
       f32(*out))
    tc("f32_three_inputs", "no bias operand", ints(*out), weights(4, 3, 3, 8), f32(*S4), False,
       f32(*out), version=1)
    tc("f32_bias_absent", "bias index -1", ints(*out), weights(4, 3, 3, 8), f32(*S4), None,
       f32(*out))
    tc("runtime_output_shape", "output shape computed at run time", Spec("i32", [4]),
       weights(4, 3, 3, 8), f32(*S4), weights(4), f32(*out))
    tc("runtime_filter", "filter computed at run time", ints(*out), f32(4, 3, 3, 8), f32(*S4),
       weights(4), f32(*out))
    tc("valid", "VALID padding", ints(1, 9, 9, 4), weights(4, 3, 3, 8), f32(*S4), weights(4),
       f32(1, 9, 9, 4), padding="VALID")
    tc("kernel_below_stride", "2x2 kernel, stride 3", ints(1, 12, 12, 4), weights(4, 2, 2, 8),
       f32(*S4), weights(4), f32(1, 12, 12, 4), strideW=3, strideH=3)
    tc("act_relu", "fused RELU", ints(*out), weights(4, 3, 3, 8), f32(*S4), weights(4),
       f32(*out), version=4, fusedActivationFunction="RELU")
    tc("act_tanh", "fused TANH", ints(*out), weights(4, 3, 3, 8), f32(*S4), weights(4),
       f32(*out), version=4, fusedActivationFunction="TANH")
    tc("dynamic_hw", "input H and W unknown", ints(*out), weights(4, 3, 3, 8),
       f32(1, 1, 1, 8, signature=[1, -1, -1, 8]), weights(4),
       f32(*out, signature=[1, -1, -1, 4]))
    tc("qs8_per_channel", "int8, per-channel filter and bias", ints(*out),
       int8_weights([4, 3, 3, 8], channels=4), qs8(S4), bias32([4], 0.001, 4), qs8(out, 0.5))
    tc("qs8_per_tensor", "int8, per-tensor filter and bias", ints(*out),
       int8_weights([4, 3, 3, 8]), qs8(S4), bias32([4], 0.001), qs8(out, 0.5))
    tc("qs8_pc_filter_pt_bias", "int8, per-channel filter, per-tensor bias", ints(*out),
       int8_weights([4, 3, 3, 8], channels=4), qs8(S4), bias32([4], 0.001), qs8(out, 0.5))
    tc("qs8_pt_filter_pc_bias", "int8, per-tensor filter, per-channel bias", ints(*out),
       int8_weights([4, 3, 3, 8]), qs8(S4), bias32([4], 0.001, 4), qs8(out, 0.5))
    tc("qs8_no_bias", "int8 without bias", ints(*out), int8_weights([4, 3, 3, 8], channels=4),
       qs8(S4), False, qs8(out, 0.5))
    tc("qs8_filter_zero_point", "int8, filter zero point 3", ints(*out),
       int8_weights([4, 3, 3, 8], zero_point=3), qs8(S4), bias32([4], 0.001), qs8(out, 0.5))
    tc("qs8_requant_300", "int8, requantization scale 300", ints(*out),
       int8_weights([4, 3, 3, 8], scale=1.0), qs8(S4, 1.0), bias32([4], 1.0),
       qs8(out, 1 / 300))
    tc("qu8", "uint8", ints(*out), int8_weights([4, 3, 3, 8], zero_point=128, dtype="u8"),
       qu8(S4), bias32([4], 0.001), qu8(out, 0.5), version=1)
    tc("f16", "all float16", ints(*out), half_weights(4, 3, 3, 8), f16(*S4), half_weights(4),
       f16(*out))
    tc("f32_f16_filter", "float32 with a direct float16 filter", ints(*out),
       half_weights(4, 3, 3, 8), f32(*S4), weights(4), f32(*out))
    tc("hybrid", "float32 input, int8 per-channel filter", ints(*out),
       int8_weights([4, 3, 3, 8], channels=4), f32(*S4), weights(4), f32(*out))


def fully_connected_cases() -> None:
    def fc(key: str, variant: str, inp: Spec, filt: Spec, bias: Spec | bool | None, out: Spec,
           version: int = 1, **options: Any) -> None:
        inputs = [inp, filt] + ([] if bias is False else [bias])
        built("FULLY_CONNECTED", key, variant, inputs, [out],
              options=("FullyConnectedOptions", options), version=version)

    fc("f32", "float32 [2,8] x [16,8]", f32(2, 8), weights(16, 8), weights(16), f32(2, 16))
    fc("f32_two_inputs", "no bias operand", f32(2, 8), weights(16, 8), False, f32(2, 16))
    fc("f32_bias_absent", "bias index -1", f32(2, 8), weights(16, 8), None, f32(2, 16))
    fc("f32_rank3_input", "rank-3 input", f32(2, 3, 8), weights(16, 8), weights(16), f32(6, 16))
    fc("keep_num_dims", "keep_num_dims with a rank-3 input", f32(2, 3, 8), weights(16, 8),
       weights(16), f32(2, 3, 16), keepNumDims=True)
    fc("rank1_input", "rank-1 input", f32(8), weights(16, 8), weights(16), f32(1, 16))
    fc("runtime_bias", "bias computed at run time", f32(2, 8), weights(16, 8), f32(16),
       f32(2, 16))
    fc("runtime_filter", "float32 filter computed at run time", f32(2, 8), f32(16, 8),
       weights(16), f32(2, 16))
    fc("bias_size_mismatch", "bias of 8 values for 16 outputs", f32(2, 8), weights(16, 8),
       weights(8), f32(2, 16))
    fc("f32_f16_bias", "float32 with a direct float16 bias", f32(2, 8), weights(16, 8),
       half_weights(16), f32(2, 16))
    fc("f32_f16_filter", "float32 with a direct float16 filter", f32(2, 8),
       half_weights(16, 8), weights(16), f32(2, 16))
    fc("f16", "all float16", f16(2, 8), half_weights(16, 8), half_weights(16), f16(2, 16))
    fc("version8", "operator version 8", f32(2, 8), weights(16, 8), weights(16), f32(2, 16),
       version=8)
    fc("version12", "operator version 12", f32(2, 8), weights(16, 8), weights(16), f32(2, 16),
       version=12)
    fc("shuffled_weights", "weights_format SHUFFLED4x16INT8", f32(4, 8), weights(16, 8),
       weights(16), f32(4, 16), weightsFormat=1)
    for activation in ("RELU", "RELU6", "TANH"):
        fc(f"act_{activation.lower()}", f"fused {activation}", f32(2, 8), weights(16, 8),
           weights(16), f32(2, 16), fusedActivationFunction=activation)
    fc("qs8_per_tensor", "int8, per-tensor filter", qs8([2, 8]), int8_weights([16, 8]),
       bias32([16], 0.001), qs8([2, 16], 0.5), version=4)
    fc("qs8_per_channel", "int8, per-channel filter", qs8([2, 8]),
       int8_weights([16, 8], channels=16), bias32([16], 0.001, 16), qs8([2, 16], 0.5),
       version=4)
    fc("qs8_no_bias", "int8 without bias", qs8([2, 8]), int8_weights([16, 8], channels=16),
       None, qs8([2, 16], 0.5), version=4)
    fc("qs8_filter_zero_point", "int8, filter zero point 3", qs8([2, 8]),
       int8_weights([16, 8], zero_point=3), bias32([16], 0.001), qs8([2, 16], 0.5), version=4)
    fc("qs8_filter_axis1", "int8, per-channel filter along dimension 1", qs8([2, 8]),
       int8_weights([16, 8], channels=8, axis=1), None, qs8([2, 16], 0.5), version=4)
    fc("qs8_pt_filter_pc_bias", "int8, per-tensor filter, per-channel bias", qs8([2, 8]),
       int8_weights([16, 8]), bias32([16], 0.001, 16), qs8([2, 16], 0.5), version=4)
    fc("qs8_requant_300", "int8, requantization scale 300", qs8([2, 8], 1.0),
       int8_weights([16, 8], scale=1.0), bias32([16], 1.0), qs8([2, 16], 1 / 300), version=4)
    fc("qs8_qu8_filter", "int8 input with a uint8 filter", qs8([2, 8]),
       int8_weights([16, 8], zero_point=128, dtype="u8"), None, qs8([2, 16], 0.5), version=4)
    fc("qu8", "uint8", qu8([2, 8]), int8_weights([16, 8], zero_point=128, dtype="u8"),
       bias32([16], 0.001), qu8([2, 16], 0.5))
    int4 = Spec("i4", [16, 8], raw=bytes(64), scale=[0.02] * 16, zero_point=[0] * 16)
    fc("qs8_int4_filter", "int8 input, int4 per-channel filter", qs8([2, 8]), int4,
       bias32([16], 0.001, 16), qs8([2, 16], 0.5), version=10)
    fc("hybrid_int4", "float32 input, int4 per-channel filter", f32(2, 8), int4, weights(16),
       f32(2, 16), version=10)
    fc("hybrid_int4_per_tensor", "float32 input, int4 per-tensor filter", f32(2, 8),
       Spec("i4", [16, 8], raw=bytes(64), scale=[0.02], zero_point=[0]), weights(16),
       f32(2, 16), version=10)
    fc("hybrid_int4_odd_inputs", "int4 filter with 7 input channels", f32(2, 7),
       Spec("i4", [16, 7], raw=bytes(56), scale=[0.02] * 16, zero_point=[0] * 16),
       weights(16), f32(2, 16), version=10)
    fc("hybrid_per_tensor", "float32 input, int8 per-tensor filter", f32(2, 8),
       int8_weights([16, 8]), weights(16), f32(2, 16), version=9)
    fc("hybrid_per_channel", "float32 input, int8 per-channel filter", f32(2, 8),
       int8_weights([16, 8], channels=16), weights(16), f32(2, 16), version=9)
    fc("hybrid_no_bias", "hybrid without bias", f32(2, 8), int8_weights([16, 8], channels=16),
       None, f32(2, 16), version=9)
    fc("hybrid_f16_bias", "hybrid with a float16 bias (claimed, creation fails)", f32(2, 8),
       int8_weights([16, 8], channels=16), half_weights(16), f32(2, 16), version=9)
    fc("hybrid_filter_axis1", "hybrid, per-channel filter along dimension 1", f32(2, 8),
       int8_weights([16, 8], channels=8, axis=1), weights(16), f32(2, 16), version=9)
    fc("hybrid_runtime_filter", "hybrid, int8 filter computed at run time", f32(2, 8),
       Spec("i8", [16, 8], scale=[0.02], zero_point=[0]), weights(16), f32(2, 16), version=9)
    fc("hybrid_filter_zero_point", "hybrid, filter zero point 3", f32(2, 8),
       int8_weights([16, 8], zero_point=3), weights(16), f32(2, 16), version=9)
    fc("hybrid_uint8_filter", "float32 input, uint8 filter", f32(2, 8),
       int8_weights([16, 8], zero_point=128, dtype="u8"), weights(16), f32(2, 16))
    fc("f16_input_f32_filter", "float16 input, float32 filter", f16(2, 8), weights(16, 8),
       weights(16), f16(2, 16))
    fc("qs16", "int16x8", qs16([2, 8]), int8_weights([16, 8], channels=16),
       Spec("i64", [16], data=_zeros(16), scale=[0.001] * 16, zero_point=[0] * 16),
       qs16([2, 16], 0.5), version=7)
    fc("rank7_keep_num_dims", "rank-7 input with keep_num_dims",
       f32(1, 1, 1, 1, 1, 2, 8), weights(16, 8), weights(16), f32(1, 1, 1, 1, 1, 2, 16),
       keepNumDims=True)
    fc("rank5_input", "rank-5 input", f32(1, 2, 2, 2, 8), weights(16, 8), weights(16),
       f32(8, 16))
    fc("dynamic_batch", "shape_signature [-1, 8]", f32(1, 8, signature=[-1, 8]),
       weights(16, 8), weights(16), f32(1, 16, signature=[-1, 16]))


def batch_matmul_cases() -> None:
    def bmm(key: str, variant: str, a: Spec, b: Spec, out: Spec, version: int = 1,
            **options: Any) -> None:
        built("BATCH_MATMUL", key, variant, [a, b], [out],
              options=("BatchMatMulOptions", options), version=version)

    bmm("f32", "float32 [2,3,4] x [2,4,5]", f32(2, 3, 4), f32(2, 4, 5), f32(2, 3, 5))
    bmm("f32_rank2", "rank 2", f32(3, 4), f32(4, 5), f32(3, 5))
    bmm("f32_rank1_a", "rank-1 A", f32(4), f32(4, 5), f32(5))
    bmm("adj_x", "adj_x", f32(2, 4, 3), f32(2, 4, 5), f32(2, 3, 5), adjX=True)
    bmm("adj_y", "adj_y", f32(2, 3, 4), f32(2, 5, 4), f32(2, 3, 5), adjY=True)
    bmm("broadcast", "broadcast B", f32(2, 3, 4), f32(4, 5), f32(2, 3, 5))
    bmm("const_b", "constant B", f32(2, 3, 4), weights(2, 4, 5), f32(2, 3, 5))
    bmm("const_a", "constant A", weights(2, 3, 4), f32(2, 4, 5), f32(2, 3, 5))
    bmm("f16", "float16", f16(2, 3, 4), f16(2, 4, 5), f16(2, 3, 5))
    bmm("rank5", "rank 5", f32(1, 2, 2, 3, 4), f32(1, 2, 2, 4, 5), f32(1, 2, 2, 3, 5))
    bmm("rank7", "rank 7 (claimed, creation fails)", f32(1, 1, 1, 1, 2, 3, 4),
        f32(1, 1, 1, 1, 2, 4, 5), f32(1, 1, 1, 1, 2, 3, 5))
    bmm("qs8", "int8 x int8", qs8([2, 3, 4]), qs8([2, 4, 5]), qs8([2, 3, 5], 0.5), version=2)
    bmm("qs8_const_b", "int8 with constant B", qs8([2, 3, 4]), int8_weights([2, 4, 5]),
        qs8([2, 3, 5], 0.5), version=2)
    bmm("qs8_b_zero_point", "int8, B zero point 3", qs8([2, 3, 4]),
        int8_weights([2, 4, 5], zero_point=3), qs8([2, 3, 5], 0.5), version=2)
    bmm("qs8_a_zero_point", "int8, A zero point 5", qs8([2, 3, 4], zero_point=5),
        qs8([2, 4, 5]), qs8([2, 3, 5], 0.5), version=2)
    bmm("qs8_per_channel_b", "int8, per-channel B", qs8([2, 3, 4]),
        int8_weights([2, 4, 5], channels=5, axis=2), qs8([2, 3, 5], 0.5), version=2)
    bmm("hybrid", "float32 A, int8 per-tensor B", f32(2, 3, 4), int8_weights([2, 4, 5]),
        f32(2, 3, 5))
    bmm("hybrid_per_channel", "float32 A, int8 B per-channel along its last dimension",
        f32(2, 3, 4), int8_weights([2, 4, 5], channels=5, axis=2), f32(2, 3, 5))
    bmm("hybrid_wrong_axis", "hybrid, B per-channel along dimension 1", f32(2, 3, 4),
        int8_weights([2, 4, 5], channels=4, axis=1), f32(2, 3, 5))
    bmm("hybrid_adj_y_axis1", "hybrid adj_y, B per-channel along dimension 1", f32(2, 3, 4),
        int8_weights([2, 5, 4], channels=5, axis=1), f32(2, 3, 5), adjY=True)
    bmm("hybrid_runtime_b", "float32 A, int8 B computed at run time", f32(2, 3, 4),
        Spec("i8", [2, 4, 5], scale=[0.05], zero_point=[0]), f32(2, 3, 5))
    bmm("hybrid_b_zero_point", "hybrid, B zero point 3", f32(2, 3, 4),
        int8_weights([2, 4, 5], zero_point=3), f32(2, 3, 5))
    bmm("qu8", "uint8 (claimed, creation fails)", qu8([2, 3, 4]), qu8([2, 4, 5]),
        qu8([2, 3, 5]))
    bmm("qs16", "int16x8", qs16([2, 3, 4]), qs16([2, 4, 5]), qs16([2, 3, 5]), version=3)
    bmm("i32", "int32 data", Spec("i32", [2, 3, 4]), Spec("i32", [2, 4, 5]),
        Spec("i32", [2, 3, 5]))


def pool_cases() -> None:
    for op in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        def pool(key: str, variant: str, inp: Spec, out: Spec, version: int = 1,
                 op: str = op, **options: Any) -> None:
            built(op, key, variant, [inp], [out], options=("Pool2DOptions", {**POOL, **options}),
                  version=version)

        pool("f32", "float32 2x2 stride 2", f32(*S4), f32(1, 2, 2, 8))
        pool("f16", "float16", f16(*S4), f16(1, 2, 2, 8))
        pool("qs8", "int8", qs8(S4), qs8([1, 2, 2, 8]), version=2)
        pool("qu8", "uint8", qu8(S4), qu8([1, 2, 2, 8]))
        pool("qs8_rescale", "int8, output scale differs from input", qs8(S4, 0.05),
             qs8([1, 2, 2, 8], 0.1), version=2)
        pool("qs16", "int16x8", qs16(S4), qs16([1, 2, 2, 8]), version=3)
        pool("stride_above_filter", "1x2 filter, stride 2", f32(*S4), f32(1, 2, 2, 8),
             filterWidth=1)
        pool("1x1_stride2", "1x1 filter, stride 2", f32(*S4), f32(1, 2, 2, 8), filterWidth=1,
             filterHeight=1)
        pool("1x1_stride1", "1x1 filter, stride 1", f32(*S4), f32(*S4), filterWidth=1,
             filterHeight=1, strideW=1, strideH=1)
        pool("3x3_stride1_same", "3x3 filter, stride 1, SAME", f32(*S4), f32(*S4),
             filterWidth=3, filterHeight=3, strideW=1, strideH=1, padding="SAME")
        pool("global", "filter = input size", f32(*S4), f32(1, 1, 1, 8), filterWidth=4,
             filterHeight=4, strideW=1, strideH=1)
        pool("filter_above_input", "8x8 filter on a 4x4 input", f32(*S4), f32(1, 1, 1, 8),
             filterWidth=8, filterHeight=8, strideW=1, strideH=1, padding="SAME")
        pool("act_relu6", "fused RELU6", f32(*S4), f32(1, 2, 2, 8),
             fusedActivationFunction="RELU6")
        pool("act_tanh", "fused TANH", f32(*S4), f32(1, 2, 2, 8),
             fusedActivationFunction="TANH")
        pool("rank3", "rank-3 input", f32(4, 4, 8), f32(2, 2, 8))
        pool("rank2", "rank-2 input", f32(4, 8), f32(2, 8))
        pool("rank5", "rank-5 input", f32(1, 1, 4, 4, 8), f32(1, 1, 2, 2, 8))
        pool("rank6", "rank-6 input", f32(1, 1, 1, 4, 4, 8), f32(1, 1, 1, 2, 2, 8))
        pool("rank7", "rank-7 input", f32(1, 1, 1, 1, 4, 4, 8), f32(1, 1, 1, 1, 2, 2, 8))
        pool("dynamic_hw", "input H and W unknown", f32(1, 1, 1, 8, signature=[1, -1, -1, 8]),
             f32(1, 1, 1, 8, signature=[1, -1, -1, 8]))
        built(op, "no_options", "no options table", [f32(*S4)], [f32(1, 2, 2, 8)])
    built("L2_POOL_2D", "f32", "float32", [f32(*S4)], [f32(1, 2, 2, 8)],
          options=("Pool2DOptions", POOL))


def reduce_cases() -> None:
    for op in ("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD"):
        def red(key: str, variant: str, inp: Spec, axes: Spec, out: Spec, keep: bool = True,
                version: int = 1, op: str = op) -> None:
            built(op, key, variant, [inp, axes], [out],
                  options=("ReducerOptions", {"keepDims": keep}), version=version)

        red("hw", "axes [1, 2], keep_dims", f32(*S4), ints(1, 2), f32(1, 1, 1, 8))
        red("hw_no_keep", "axes [1, 2], keep_dims false", f32(*S4), ints(1, 2), f32(1, 8),
            keep=False)
        red("channels", "axis 3", f32(*S4), ints(3), f32(1, 4, 4, 1))
        red("negative_axis", "axis -1", f32(*S4), ints(-1), f32(1, 4, 4, 1))
        red("batch", "axis 0", f32(*S4), ints(0), f32(1, 4, 4, 8))
        red("all_axes", "axes [0, 1, 2, 3]", f32(*S4), ints(0, 1, 2, 3), f32(1, 1, 1, 1))
        red("repeated_axes", "axes [1, 1]", f32(*S4), ints(1, 1), f32(1, 1, 4, 8))
        red("empty_axes", "no axes", f32(*S4), const("i32", [0], []), f32(*S4))
        red("scalar_axis", "scalar axis tensor", f32(*S4), const("i32", [], 1), f32(1, 1, 4, 8))
        red("runtime_axes", "axes computed at run time", f32(*S4), Spec("i32", [2]),
            f32(1, 1, 1, 8))
        red("int64_axes", "int64 axes", f32(*S4), const("i64", [2], [1, 2]), f32(1, 1, 1, 8))
        red("qs8", "int8", qs8(S4), ints(1, 2), qs8([1, 1, 1, 8]), version=2)
        red("qs8_rescale", "int8, output scale 10x the input's", qs8(S4), ints(1, 2),
            qs8([1, 1, 1, 8], 0.5), version=2)
        red("qu8", "uint8", qu8(S4), ints(1, 2), qu8([1, 1, 1, 8]))
        red("f16", "float16", f16(*S4), ints(1, 2), f16(1, 1, 1, 8))
        red("rank2", "rank-2 input", f32(3, 8), ints(1), f32(3, 1))
        red("rank5", "rank-5 input", f32(1, 2, 4, 4, 8), ints(2, 3), f32(1, 2, 1, 1, 8))
        red("rank7", "rank-7 input", f32(1, 2, 1, 2, 1, 2, 2), ints(6), f32(1, 2, 1, 2, 1, 2, 1))
        red("dynamic_shape", "input of unknown batch and H/W",
            f32(1, 1, 1, 8, signature=[-1, -1, -1, 8]), ints(1, 2),
            f32(1, 1, 1, 8, signature=[-1, 1, 1, 8]))
    built("MEAN", "no_options", "no options table (keep_dims false)", [f32(*S4), ints(1, 2)],
          [f32(1, 8)])


def shape_cases() -> None:
    reshape = ("ReshapeOptions", {})
    built("RESHAPE", "const_shape", "constant shape tensor", [f32(*S4), ints(1, 128)],
          [f32(1, 128)], options=reshape)
    built("RESHAPE", "const_shape_minus1", "constant shape with -1", [f32(*S4), ints(-1, 128)],
          [f32(1, 128)], options=reshape)
    built("RESHAPE", "options_only", "one input, new_shape option", [f32(*S4)], [f32(1, 128)],
          options=("ReshapeOptions", {"newShape": [1, 128]}))
    built("RESHAPE", "no_shape", "one input, no options (claimed, creation fails)", [f32(*S4)],
          [f32(1, 128)])
    built("RESHAPE", "runtime_shape", "shape computed at run time", [f32(*S4), Spec("i32", [2])],
          [f32(1, 128)], options=reshape)
    built("RESHAPE", "int64_shape", "int64 shape tensor", [f32(*S4), const("i64", [2], [1, 128])],
          [f32(1, 128)], options=reshape)
    built("RESHAPE", "2d_shape_tensor", "shape tensor of shape [1, 2]",
          [f32(*S4), const("i32", [1, 2], [1, 128])], [f32(1, 128)], options=reshape)
    built("RESHAPE", "to_scalar", "[1, 1] to a scalar", [f32(1, 1), const("i32", [0], [])],
          [f32()], options=reshape)
    built("RESHAPE", "rank7_output", "rank-7 output", [f32(*S4), ints(1, 1, 1, 1, 4, 4, 8)],
          [f32(1, 1, 1, 1, 4, 4, 8)], options=reshape)
    built("RESHAPE", "qs8", "int8, same quantization", [qs8(S4), ints(1, 128)], [qs8([1, 128])],
          options=reshape)
    built("RESHAPE", "qs8_rescale", "int8, output scale differs", [qs8(S4), ints(1, 128)],
          [qs8([1, 128], 0.1)], options=reshape)
    built("RESHAPE", "qu8", "uint8", [qu8(S4), ints(1, 128)], [qu8([1, 128])], options=reshape)
    built("RESHAPE", "f16", "float16", [f16(*S4), ints(1, 128)], [f16(1, 128)], options=reshape)
    built("RESHAPE", "i32", "int32 data", [Spec("i32", S4), ints(1, 128)],
          [Spec("i32", [1, 128])], options=reshape)

    concat = "ConcatenationOptions"
    for count in (1, 2, 5, 6):
        built("CONCATENATION", f"{count}_inputs", f"{count} float32 inputs", [f32(*S4)] * count,
              [f32(1, 4, 4, 8 * count)], options=(concat, {"axis": 3}))
    built("CONCATENATION", "negative_axis", "axis -1", [f32(*S4)] * 2, [f32(1, 4, 4, 16)],
          options=(concat, {"axis": -1}))
    built("CONCATENATION", "axis0", "axis 0", [f32(*S4)] * 2, [f32(2, 4, 4, 8)],
          options=(concat, {"axis": 0}))
    built("CONCATENATION", "act_relu", "fused RELU", [f32(*S4)] * 2, [f32(1, 4, 4, 16)],
          options=(concat, {"axis": 3, "fusedActivationFunction": "RELU"}))
    built("CONCATENATION", "act_tanh", "fused TANH", [f32(*S4)] * 2, [f32(1, 4, 4, 16)],
          options=(concat, {"axis": 3, "fusedActivationFunction": "TANH"}))
    built("CONCATENATION", "const_input", "one constant input", [f32(*S4), weights(*S4)],
          [f32(1, 4, 4, 16)], options=(concat, {"axis": 3}))
    built("CONCATENATION", "qs8", "int8, same quantization", [qs8(S4)] * 2, [qs8([1, 4, 4, 16])],
          options=(concat, {"axis": 3}), version=2)
    built("CONCATENATION", "qs8_rescale", "int8, inputs of different scales",
          [qs8(S4), qs8(S4, 0.1)], [qs8([1, 4, 4, 16])], options=(concat, {"axis": 3}),
          version=2)
    built("CONCATENATION", "qu8", "uint8, same quantization", [qu8(S4)] * 2,
          [qu8([1, 4, 4, 16])], options=(concat, {"axis": 3}))
    built("CONCATENATION", "qu8_rescale", "uint8, inputs of different scales",
          [qu8(S4), qu8(S4, 0.1)], [qu8([1, 4, 4, 16])], options=(concat, {"axis": 3}))
    built("CONCATENATION", "f16", "float16", [f16(*S4)] * 2, [f16(1, 4, 4, 16)],
          options=(concat, {"axis": 3}))
    built("CONCATENATION", "i32", "int32 data", [Spec("i32", S4)] * 2,
          [Spec("i32", [1, 4, 4, 16])], options=(concat, {"axis": 3}))
    built("CONCATENATION", "rank1", "rank 1", [f32(4)] * 2, [f32(8)], options=(concat, {"axis": 0}))
    built("CONCATENATION", "rank6", "rank 6", [f32(1, 2, 1, 2, 1, 4)] * 2, [f32(1, 2, 1, 2, 1, 8)],
          options=(concat, {"axis": 5}))
    built("CONCATENATION", "rank7", "rank 7", [f32(1, 2, 1, 2, 1, 2, 2)] * 2,
          [f32(1, 2, 1, 2, 1, 2, 4)], options=(concat, {"axis": 6}))

    def split(key: str, variant: str, count: int, axis: Spec, inp: Spec, outs: list[Spec],
              version: int = 1) -> None:
        built("SPLIT", key, variant, [axis, inp], outs,
              options=("SplitOptions", {"numSplits": count}), version=version)

    split("2", "into 2 on axis 3", 2, ints(3), f32(*S4), [f32(1, 4, 4, 4)] * 2)
    split("4", "into 4", 4, ints(3), f32(*S4), [f32(1, 4, 4, 2)] * 4)
    split("8", "into 8", 8, ints(3), f32(*S4), [f32(1, 4, 4, 1)] * 8)
    split("1", "into 1", 1, ints(3), f32(*S4), [f32(*S4)])
    split("negative_axis", "axis -1", 2, ints(-1), f32(*S4), [f32(1, 4, 4, 4)] * 2)
    split("scalar_axis", "scalar axis tensor", 2, const("i32", [], 3), f32(*S4),
          [f32(1, 4, 4, 4)] * 2)
    split("runtime_axis", "axis computed at run time", 2, Spec("i32", []), f32(*S4),
          [f32(1, 4, 4, 4)] * 2)
    split("uneven", "7 channels into 2 (claimed, creation fails)", 2, ints(3), f32(1, 4, 4, 7),
          [f32(1, 4, 4, 3), f32(1, 4, 4, 4)])
    split("qs8", "int8", 2, ints(3), qs8(S4), [qs8([1, 4, 4, 4])] * 2, version=2)
    split("qs8_rescale", "int8, outputs of another scale", 2, ints(3), qs8(S4),
          [qs8([1, 4, 4, 4], 0.5)] * 2, version=2)
    split("f16", "float16", 2, ints(3), f16(*S4), [f16(1, 4, 4, 4)] * 2)
    split("rank7", "rank-7 input", 2, ints(6), f32(1, 2, 1, 2, 1, 2, 2),
          [f32(1, 2, 1, 2, 1, 2, 1)] * 2)
    built("SPLIT_V", "f32", "float32", [f32(*S4), ints(4, 4), ints(3)], [f32(1, 4, 4, 4)] * 2,
          options=("SplitVOptions", {"numSplits": 2}))

    def slice_(key: str, variant: str, inp: Spec, begin: Spec, size: Spec, out: Spec,
               version: int = 1) -> None:
        built("SLICE", key, variant, [inp, begin, size], [out], version=version)

    slice_("f32", "constant begin/size", f32(*S4), ints(0, 1, 1, 0), ints(1, 2, 2, 8),
           f32(1, 2, 2, 8))
    slice_("size_minus1", "size -1", f32(*S4), ints(0, 1, 1, 0), ints(1, -1, 2, 8),
           f32(1, 3, 2, 8))
    slice_("int64", "int64 begin/size", f32(*S4), const("i64", [4], [0, 1, 1, 0]),
           const("i64", [4], [1, 2, 2, 8]), f32(1, 2, 2, 8))
    slice_("runtime_begin", "begin computed at run time", f32(*S4), Spec("i32", [4]),
           ints(1, 2, 2, 8), f32(1, 2, 2, 8))
    slice_("qs8", "int8", qs8(S4), ints(0, 1, 1, 0), ints(1, 2, 2, 8), qs8([1, 2, 2, 8]), 2)
    slice_("qs8_rescale", "int8, output scale differs", qs8(S4), ints(0, 1, 1, 0),
           ints(1, 2, 2, 8), qs8([1, 2, 2, 8], 0.5), 2)
    slice_("f16", "float16", f16(*S4), ints(0, 1, 1, 0), ints(1, 2, 2, 8), f16(1, 2, 2, 8))
    slice_("rank1", "rank 1", f32(8), ints(2), ints(4), f32(4))
    slice_("rank7", "rank 7", f32(1, 2, 1, 2, 1, 2, 2), ints(0, 0, 0, 0, 0, 0, 0),
           ints(1, 1, 1, 1, 1, 1, 1), f32(1, 1, 1, 1, 1, 1, 1))
    slice_("dynamic_hw", "input H and W unknown", f32(1, 1, 1, 8, signature=[1, -1, -1, 8]),
           ints(0, 1, 1, 0), ints(1, 2, 2, 8), f32(1, 2, 2, 8))

    def strided(key: str, variant: str, inp: Spec, begin: Spec, end: Spec, strides: Spec,
                out: Spec, version: int = 1, **options: Any) -> None:
        built("STRIDED_SLICE", key, variant, [inp, begin, end, strides], [out],
              options=("StridedSliceOptions", options), version=version)

    unit = ints(1, 1, 1, 1)
    strided("unit_strides", "strides 1", f32(*S4), ints(0, 1, 1, 0), ints(1, 3, 3, 8), unit,
            f32(1, 2, 2, 8))
    strided("stride2", "stride 2", f32(*S4), ints(0, 0, 0, 0), ints(1, 4, 4, 8),
            ints(1, 2, 2, 1), f32(1, 2, 2, 8))
    strided("begin_end_masks", "begin_mask and end_mask 9", f32(*S4), ints(0, 1, 1, 0),
            ints(0, 3, 3, 0), unit, f32(1, 2, 2, 8), beginMask=9, endMask=9)
    strided("shrink_axis", "shrink_axis_mask 3", f32(*S4), ints(0, 1, 1, 0), ints(1, 2, 3, 8),
            unit, f32(2, 8), shrinkAxisMask=3)
    strided("new_axis", "new_axis_mask 1", f32(*S4), ints(0, 0, 0, 0), ints(1, 4, 4, 8), unit,
            f32(1, 1, 4, 4, 8), newAxisMask=1)
    strided("ellipsis", "ellipsis_mask 1", f32(*S4), ints(0, 0), ints(1, 4), ints(1, 1),
            f32(1, 4, 4, 4), ellipsisMask=1)
    strided("negative_begin", "negative begin and end", f32(*S4), ints(0, -3, 0, 0),
            ints(1, -1, 4, 8), unit, f32(1, 2, 4, 8))
    strided("end_past_extent", "end beyond the input extent", f32(*S4), ints(0, 0, 0, 0),
            ints(1, 10, 4, 8), unit, f32(*S4))
    strided("partial_rank", "begin/end shorter than the rank", f32(*S4), ints(0, 1), ints(1, 3),
            ints(1, 1), f32(1, 2, 4, 8))
    strided("offset", "offset=true", f32(*S4), ints(0, 1, 1, 0), ints(1, 2, 2, 8), unit,
            f32(1, 2, 2, 8), version=8, offset=True)
    strided("int64_indices", "int64 begin/end/strides", f32(*S4),
            const("i64", [4], [0, 1, 1, 0]), const("i64", [4], [1, 3, 3, 8]),
            const("i64", [4], [1, 1, 1, 1]), f32(1, 2, 2, 8), version=5)
    strided("runtime_begin", "begin computed at run time", f32(*S4), Spec("i32", [4]),
            ints(1, 3, 3, 8), unit, f32(1, 2, 2, 8))
    strided("runtime_strides", "strides computed at run time", f32(*S4), ints(0, 1, 1, 0),
            ints(1, 3, 3, 8), Spec("i32", [4]), f32(1, 2, 2, 8))
    strided("qs8", "int8", qs8(S4), ints(0, 1, 1, 0), ints(1, 3, 3, 8), unit,
            qs8([1, 2, 2, 8]), version=2)
    strided("qs8_rescale", "int8, output scale differs", qs8(S4), ints(0, 1, 1, 0),
            ints(1, 3, 3, 8), unit, qs8([1, 2, 2, 8], 0.5), version=2)
    strided("f16", "float16", f16(*S4), ints(0, 1, 1, 0), ints(1, 3, 3, 8), unit,
            f16(1, 2, 2, 8))
    strided("i32", "int32 data", Spec("i32", S4), ints(0, 1, 1, 0), ints(1, 3, 3, 8), unit,
            Spec("i32", [1, 2, 2, 8]))
    strided("rank7", "rank 7", f32(1, 2, 1, 2, 1, 2, 2), ints(*[0] * 7), ints(*[1] * 7),
            ints(*[1] * 7), f32(*[1] * 7))
    strided("dynamic_hw", "input H and W unknown", f32(1, 1, 1, 8, signature=[1, -1, -1, 8]),
            ints(0, 1, 1, 0), ints(1, 3, 3, 8), unit, f32(1, 2, 2, 8))

    pads = const("i32", [4, 2], [0, 0, 1, 1, 1, 1, 0, 0])

    def pad(key: str, variant: str, inp: Spec, paddings: Spec, out: Spec, version: int = 1,
            op: str = "PAD") -> None:
        built(op, key, variant, [inp, paddings], [out], version=version)

    pad("f32", "float32", f32(*S4), pads, f32(1, 6, 6, 8))
    pad("f16", "float16", f16(*S4), pads, f16(1, 6, 6, 8))
    pad("qs8", "int8", qs8(S4), pads, qs8([1, 6, 6, 8]), 2)
    pad("qs8_rescale", "int8, output scale differs", qs8(S4), pads, qs8([1, 6, 6, 8], 0.5), 2)
    pad("qu8", "uint8", qu8(S4), pads, qu8([1, 6, 6, 8]))
    pad("int64_paddings", "int64 paddings", f32(*S4),
        const("i64", [4, 2], [0, 0, 1, 1, 1, 1, 0, 0]), f32(1, 6, 6, 8), 4)
    pad("runtime_paddings", "paddings computed at run time", f32(*S4), Spec("i32", [4, 2]),
        f32(1, 6, 6, 8))
    pad("rank1", "rank 1", f32(8), const("i32", [1, 2], [1, 1]), f32(10))
    pad("rank5", "rank 5", f32(1, 2, 4, 4, 8),
        const("i32", [5, 2], [0, 0, 0, 0, 1, 1, 1, 1, 0, 0]), f32(1, 2, 6, 6, 8))
    pad("rank7", "rank 7", f32(1, 2, 1, 2, 1, 2, 2), const("i32", [7, 2], [0] * 14),
        f32(1, 2, 1, 2, 1, 2, 2))
    pad("negative", "a negative padding", f32(*S4),
        const("i32", [4, 2], [0, 0, 0, 0, 0, 0, -1, 0]), f32(1, 4, 4, 7))
    pad("i32", "int32 data", Spec("i32", S4), pads, Spec("i32", [1, 6, 6, 8]))
    built("PADV2", "f32", "float32 with a constant value", [f32(*S4), pads, const("f32", [1], [0])],
          [f32(1, 6, 6, 8)])
    built("MIRROR_PAD", "f32", "float32 reflect", [f32(*S4), pads], [f32(1, 6, 6, 8)],
          options=("MirrorPadOptions", {"mode": 0}))

    def transpose(key: str, variant: str, inp: Spec, perm: Spec, out: Spec,
                  version: int = 1) -> None:
        built("TRANSPOSE", key, variant, [inp, perm], [out], options=("TransposeOptions", {}),
              version=version)

    transpose("f32", "float32 NHWC to NCHW", f32(*S4), ints(0, 3, 1, 2), f32(1, 8, 4, 4))
    transpose("f16", "float16", f16(*S4), ints(0, 3, 1, 2), f16(1, 8, 4, 4))
    transpose("qs8", "int8", qs8(S4), ints(0, 3, 1, 2), qs8([1, 8, 4, 4]), 2)
    transpose("qs8_rescale", "int8, output scale differs", qs8(S4), ints(0, 3, 1, 2),
              qs8([1, 8, 4, 4], 0.5), 2)
    transpose("qu8", "uint8", qu8(S4), ints(0, 3, 1, 2), qu8([1, 8, 4, 4]))
    transpose("runtime_perm", "perm computed at run time", f32(*S4), Spec("i32", [4]),
              f32(1, 8, 4, 4))
    transpose("negative_perm", "negative perm entries", f32(*S4), ints(0, -1, 1, 2),
              f32(1, 8, 4, 4))
    transpose("int64_perm", "int64 perm (claimed, creation fails)", f32(*S4),
              const("i64", [4], [0, 3, 1, 2]), f32(1, 8, 4, 4))
    transpose("rank6", "rank 6", f32(1, 2, 1, 2, 1, 2), ints(5, 4, 3, 2, 1, 0),
              f32(2, 1, 2, 1, 2, 1), 6)
    transpose("rank7", "rank 7", f32(1, 2, 1, 2, 1, 2, 1), ints(6, 5, 4, 3, 2, 1, 0),
              f32(1, 2, 1, 2, 1, 2, 1), 6)
    transpose("rank1", "rank 1", f32(8), ints(0), f32(8))
    transpose("i32", "int32 data", Spec("i32", S4), ints(0, 3, 1, 2), Spec("i32", [1, 8, 4, 4]))

    for op, options in (("DEPTH_TO_SPACE", "DepthToSpaceOptions"),
                        ("SPACE_TO_DEPTH", "SpaceToDepthOptions")):
        d2s = op == "DEPTH_TO_SPACE"
        out = [1, 8, 8, 2] if d2s else [1, 2, 2, 32]

        def block(key: str, variant: str, inp: Spec, outp: Spec, size: int, version: int = 1,
                  op: str = op, options: str = options) -> None:
            built(op, key, variant, [inp], [outp], options=(options, {"blockSize": size}),
                  version=version)

        block("f32", "block 2", f32(*S4), f32(*out), 2)
        block("f16", "float16", f16(*S4), f16(*out), 2)
        block("qs8", "int8", qs8(S4), qs8(out), 2, 2)
        block("qs8_rescale", "int8, output scale differs", qs8(S4), qs8(out, 0.5), 2, 2)
        block("qu8", "uint8", qu8(S4), qu8(out), 2)
        block("block1", "block 1", f32(*S4), f32(*S4), 1)
        block("rank3", "rank-3 input", f32(4, 4, 8), f32(*out[1:]), 2)
        block("rank5", "rank-5 input", f32(1, *S4), f32(1, *out), 2)
        if d2s:
            block("block4", "block 4 on 32 channels", f32(1, 2, 2, 32), f32(1, 8, 8, 2), 4)
        else:
            block("block3_uneven", "block 3 on a 4x4 input", f32(*S4), f32(1, 1, 1, 72), 3)
            block("dynamic_hw", "input H and W unknown",
                  f32(1, 1, 1, 8, signature=[1, -1, -1, 8]), f32(1, 1, 1, 32), 2)

    def resize(key: str, variant: str, inp: Spec, size: Spec, out: Spec, version: int = 1,
               op: str = "RESIZE_BILINEAR", **options: Any) -> None:
        name = "ResizeBilinearOptions" if op == "RESIZE_BILINEAR" else \
            "ResizeNearestNeighborOptions"
        built(op, key, variant, [inp, size], [out], options=(name, options), version=version)

    resize("f32", "upscale to 8x8", f32(*S4), ints(8, 8), f32(1, 8, 8, 8))
    resize("align_corners", "align_corners", f32(*S4), ints(8, 8), f32(1, 8, 8, 8),
           alignCorners=True)
    resize("half_pixel", "half_pixel_centers", f32(*S4), ints(8, 8), f32(1, 8, 8, 8), 3,
           halfPixelCenters=True)
    resize("downscale", "downscale to 2x2", f32(*S4), ints(2, 2), f32(1, 2, 2, 8))
    resize("non_square", "to 8x2", f32(*S4), ints(8, 2), f32(1, 8, 2, 8))
    resize("same_size", "to 4x4 (same size)", f32(*S4), ints(4, 4), f32(*S4))
    resize("size_3_values", "size tensor of 3 values", f32(*S4), ints(8, 8, 8), f32(1, 8, 8, 8))
    resize("runtime_size", "size computed at run time", f32(*S4), Spec("i32", [2]),
           f32(1, 8, 8, 8))
    resize("f16", "float16", f16(*S4), ints(8, 8), f16(1, 8, 8, 8))
    resize("qs8", "int8", qs8(S4), ints(8, 8), qs8([1, 8, 8, 8]), 2)
    resize("qs8_rescale", "int8, output scale differs", qs8(S4), ints(8, 8),
           qs8([1, 8, 8, 8], 0.5), 2)
    resize("qu8", "uint8", qu8(S4), ints(8, 8), qu8([1, 8, 8, 8]))
    resize("rank3", "rank-3 input", f32(4, 4, 8), ints(8, 8), f32(8, 8, 8))
    resize("f32", "nearest neighbour", f32(*S4), ints(8, 8), f32(1, 8, 8, 8),
           op="RESIZE_NEAREST_NEIGHBOR")

    def softmax(key: str, variant: str, inp: Spec, out: Spec, beta: float | None,
                version: int = 1) -> None:
        options = None if beta is None else ("SoftmaxOptions", {"beta": beta})
        built("SOFTMAX", key, variant, [inp], [out], options=options, version=version)

    softmax("beta1", "beta 1.0", f32(2, 8), f32(2, 8), 1.0)
    softmax("beta2", "beta 2.0", f32(2, 8), f32(2, 8), 2.0)
    softmax("beta0.5", "beta 0.5", f32(2, 8), f32(2, 8), 0.5)
    softmax("no_options", "no options table (beta 0)", f32(2, 8), f32(2, 8), None)
    softmax("f16", "float16", f16(2, 8), f16(2, 8), 1.0)
    softmax("qs8", "int8", qs8([2, 8]), qs8([2, 8], 1 / 256, -128), 1.0, 2)
    softmax("qu8", "uint8", qu8([2, 8]), qu8([2, 8], 1 / 256, 0), 1.0)
    softmax("rank4", "rank 4", f32(*S4), f32(*S4), 1.0)
    softmax("rank1", "rank 1", f32(8), f32(8), 1.0)
    softmax("rank0", "scalar", f32(), f32(), 1.0)
    softmax("rank7", "rank 7", f32(1, 2, 1, 2, 1, 2, 2), f32(1, 2, 1, 2, 1, 2, 2), 1.0)


def quantize_cases() -> None:
    built("QUANTIZE", "f32_to_qs8", "float32 to int8", [f32(2, 4)], [qs8([2, 4])])
    built("QUANTIZE", "f32_to_qu8", "float32 to uint8", [f32(2, 4)], [qu8([2, 4])])
    built("QUANTIZE", "f32_to_qs16", "float32 to int16", [f32(2, 4)], [qs16([2, 4])], version=2)
    built("QUANTIZE", "f16_to_qs8", "float16 to int8", [f16(2, 4)], [qs8([2, 4])])
    built("QUANTIZE", "qs8_to_qs8", "int8 requantization x2", [qs8([2, 4], 0.1)],
          [qs8([2, 4], 0.05)], version=2)
    built("QUANTIZE", "qu8_to_qu8", "uint8 requantization x2", [qu8([2, 4], 0.1)],
          [qu8([2, 4], 0.05)], version=2)
    built("QUANTIZE", "qs8_to_qu8", "int8 to uint8", [qs8([2, 4], 0.1)], [qu8([2, 4], 0.05)],
          version=2)
    built("QUANTIZE", "qu8_to_qs8", "uint8 to int8", [qu8([2, 4], 0.1)], [qs8([2, 4], 0.05)],
          version=2)
    built("QUANTIZE", "qs8_ratio_1000", "int8 requantization scale ratio 1000",
          [qs8([2, 4], 1.0)], [qs8([2, 4], 0.001)], version=2)
    built("QUANTIZE", "f32_to_per_channel", "float32 to per-channel int8", [f32(2, 4)],
          [Spec("i8", [2, 4], scale=[0.1, 0.2], zero_point=[0, 0])])
    built("DEQUANTIZE", "qs8", "int8 activation to float32", [qs8([2, 4])], [f32(2, 4)],
          version=2)
    built("DEQUANTIZE", "qu8", "uint8 activation to float32", [qu8([2, 4])], [f32(2, 4)])
    built("DEQUANTIZE", "qs16", "int16 activation to float32", [qs16([2, 4])], [f32(2, 4)],
          version=4)
    built("DEQUANTIZE", "f16_runtime", "float16 activation to float32", [f16(2, 4)],
          [f32(2, 4)], version=3)
    built("DEQUANTIZE", "per_channel_runtime", "per-channel int8 activation",
          [Spec("i8", [2, 4], scale=[0.1, 0.2], zero_point=[0, 0])], [f32(2, 4)], version=2)
    built("DEQUANTIZE", "f16_const_graph_output", "constant float16 feeding a graph output",
          [half_weights(2, 4)], [f32(2, 4)], version=3)


def unsupported_cases() -> None:
    """Ops the delegate has no handler for (or declines): each must stay on the CPU."""
    same = [f32(*S4)]
    boolean = Spec("bool", S4)
    for op in ("LOG_SOFTMAX", "RELU_0_TO_1", "SIGN", "ZEROS_LIKE"):
        built(op, "f32", "float32", same, [f32(*S4)])
    built("L2_NORMALIZATION", "f32", "float32", same, [f32(*S4)],
          options=("L2NormOptions", {}))
    built("LOCAL_RESPONSE_NORMALIZATION", "f32", "float32", same, [f32(*S4)],
          options=("LocalResponseNormalizationOptions",
                   {"radius": 2, "bias": 1.0, "alpha": 1.0, "beta": 0.5}))
    for op in ("POW", "FLOOR_DIV", "FLOOR_MOD", "ATAN2"):
        built(op, "f32", "float32", [f32(*S4), f32(*S4)], [f32(*S4)])
    for op in ("LESS", "GREATER", "EQUAL", "NOT_EQUAL", "LESS_EQUAL", "GREATER_EQUAL"):
        built(op, "f32", "float32 comparison", [f32(*S4), f32(*S4)], [boolean])
    built("SELECT_V2", "f32", "float32 select", [boolean, f32(*S4), f32(*S4)], [f32(*S4)])
    built("SELECT", "f32", "float32 select", [boolean, f32(*S4), f32(*S4)], [f32(*S4)])
    built("ADD_N", "f32", "3 float32 inputs", [f32(*S4)] * 3, [f32(*S4)])
    built("PACK", "axis0", "2 inputs, axis 0", [f32(4, 8), f32(4, 8)], [f32(2, 4, 8)],
          options=("PackOptions", {"valuesCount": 2, "axis": 0}))
    built("PACK", "axis_last", "2 inputs, axis -1", [f32(4, 8), f32(4, 8)], [f32(4, 8, 2)],
          options=("PackOptions", {"valuesCount": 2, "axis": -1}))
    built("UNPACK", "axis0", "into 2 on axis 0", [f32(2, 4, 8)], [f32(4, 8), f32(4, 8)],
          options=("UnpackOptions", {"num": 2, "axis": 0}))
    built("SQUEEZE", "dims0", "squeeze dimension 0", [f32(1, 4, 4, 8)], [f32(4, 4, 8)],
          options=("SqueezeOptions", {"squeezeDims": [0]}))
    built("EXPAND_DIMS", "axis0", "axis 0", [f32(4, 4, 8), ints(0)], [f32(1, 4, 4, 8)])
    built("TILE", "f32", "tile channels x2", [f32(*S4), ints(1, 1, 1, 2)], [f32(1, 4, 4, 16)])
    built("BROADCAST_TO", "f32", "broadcast [1,1,1,8]", [f32(1, 1, 1, 8), ints(*S4)],
          [f32(*S4)], version=2)
    built("GATHER", "f32", "gather on axis 3", [f32(*S4), ints(0, 2)], [f32(1, 4, 4, 2)],
          options=("GatherOptions", {"axis": 3}))
    built("GATHER_ND", "f32", "gather_nd", [f32(4, 8), const("i32", [2, 1], [0, 1])],
          [f32(2, 8)])
    built("CAST", "f32_to_i32", "float32 to int32", [f32(*S4)], [Spec("i32", S4)])
    built("SHAPE", "f32", "shape of a float32 tensor", [f32(*S4)], [Spec("i32", [4])],
          options=("ShapeOptions", {"outType": 2}))
    built("ARG_MAX", "f32", "argmax over channels", [f32(*S4), ints(3)],
          [Spec("i32", [1, 4, 4])], options=("ArgMaxOptions", {"outputType": 2}))
    built("ARG_MIN", "f32", "argmin over channels", [f32(*S4), ints(3)],
          [Spec("i32", [1, 4, 4])], options=("ArgMinOptions", {"outputType": 2}))
    built("REVERSE_V2", "f32", "reverse axis 1", [f32(*S4), ints(1)], [f32(*S4)])
    built("CUMSUM", "f32", "cumsum axis 1", [f32(*S4), const("i32", [], 1)], [f32(*S4)])
    built("SPACE_TO_BATCH_ND", "f32", "block 2x2",
          [f32(*S4), ints(2, 2), const("i32", [2, 2], [0] * 4)], [f32(4, 2, 2, 8)])
    built("BATCH_TO_SPACE_ND", "f32", "block 2x2",
          [f32(4, 2, 2, 8), ints(2, 2), const("i32", [2, 2], [0] * 4)], [f32(*S4)])
    built("TOPK_V2", "f32", "top 2", [f32(*S4), const("i32", [], 2)],
          [f32(1, 4, 4, 2), Spec("i32", [1, 4, 4, 2])])
    built("FILL", "f32", "fill a constant shape", [ints(2, 3), const("f32", [], 1.0)],
          [f32(2, 3)])
    built("CONV_3D", "f32", "float32 3x3x3",
          [f32(1, 4, 4, 4, 2), weights(3, 3, 3, 2, 4), weights(4)], [f32(1, 4, 4, 4, 4)],
          options=("Conv3DOptions", {"padding": 0, "strideD": 1, "strideW": 1, "strideH": 1,
                                     "dilationDFactor": 1, "dilationWFactor": 1,
                                     "dilationHFactor": 1}))
    built("EMBEDDING_LOOKUP", "f32", "float32 table", [Spec("i32", [2]), weights(5, 4)],
          [f32(2, 4)])
    built("REDUCE_ANY", "bool", "bool reduction", [Spec("bool", [2, 4]), ints(1)],
          [Spec("bool", [2])], options=("ReducerOptions", {}))
    for op in ("STABLEHLO_ADD", "STABLEHLO_MULTIPLY", "STABLEHLO_MAXIMUM"):
        built(op, "f32", "float32", [f32(2, 4), f32(2, 4)], [f32(2, 4)])


def pattern_cases() -> None:
    """Short multi-op graphs: DEQUANTIZE absorption, partitions, variables, composites."""
    conv_options = ("Conv2DOptions", CONV)

    def pattern(key: str, variant: str, ops: list[Op], tensors: list[Spec], inputs: list[int],
                outputs: list[int], op: str = "PATTERN", **kw: Any) -> None:
        add(op, key, variant, lambda: model(ops, tensors, inputs, outputs, **kw))

    deq = lambda i, o: Op("DEQUANTIZE", [i], [o], version=3)  # noqa: E731
    pattern("f16_weights_to_add", "float16 constant -> DEQUANTIZE -> ADD",
            [deq(0, 1), Op("ADD", [2, 1], [3], ("AddOptions", {}))],
            [half_weights(2, 4), f32(2, 4), f32(2, 4), f32(2, 4)], [2], [3], op="DEQUANTIZE")
    pattern("f16_weights_to_select", "float16 constant -> DEQUANTIZE -> SELECT_V2 (CPU)",
            [deq(0, 1), Op("SELECT_V2", [2, 1, 3], [4])],
            [half_weights(2, 4), f32(2, 4), Spec("bool", [2, 4]), f32(2, 4), f32(2, 4)],
            [2, 3], [4], op="DEQUANTIZE")
    pattern("f16_weights_mixed_consumers", "DEQUANTIZE feeding ADD and SELECT_V2",
            [deq(0, 1), Op("ADD", [2, 1], [3], ("AddOptions", {})),
             Op("SELECT_V2", [4, 1, 2], [5])],
            [half_weights(2, 4), f32(2, 4), f32(2, 4), f32(2, 4), Spec("bool", [2, 4]),
             f32(2, 4)], [2, 4], [3, 5], op="DEQUANTIZE")
    pattern("int8_weights_to_add", "per-tensor int8 constant -> DEQUANTIZE -> ADD",
            [Op("DEQUANTIZE", [0], [1], version=2), Op("ADD", [2, 1], [3], ("AddOptions", {}))],
            [int8_weights([2, 4], scale=0.1), f32(2, 4), f32(2, 4), f32(2, 4)], [2], [3],
            op="DEQUANTIZE")
    pattern("uint8_weights_to_add", "uint8 constant -> DEQUANTIZE -> ADD",
            [Op("DEQUANTIZE", [0], [1]), Op("ADD", [2, 1], [3], ("AddOptions", {}))],
            [int8_weights([2, 4], scale=0.1, zero_point=128, dtype="u8"), f32(2, 4), f32(2, 4),
             f32(2, 4)], [2], [3], op="DEQUANTIZE")
    pattern("int16_weights_to_add", "int16 constant -> DEQUANTIZE -> ADD",
            [Op("DEQUANTIZE", [0], [1], version=4), Op("ADD", [2, 1], [3], ("AddOptions", {}))],
            [int8_weights([2, 4], scale=0.1, dtype="i16"), f32(2, 4), f32(2, 4), f32(2, 4)],
            [2], [3], op="DEQUANTIZE")
    pattern("f16_conv_weights_and_bias", "float16 filter and bias behind DEQUANTIZE",
            [deq(0, 1), deq(2, 3), Op("CONV_2D", [4, 1, 3], [5], conv_options)],
            [half_weights(16, 3, 3, 8), f32(16, 3, 3, 8), half_weights(16), f32(16), f32(*S4),
             f32(1, 4, 4, 16)], [4], [5], op="CONV_2D")
    pattern("f16_conv_weights_direct_f16_bias", "float16 filter behind DEQUANTIZE, direct "
            "float16 bias", [deq(0, 1), Op("CONV_2D", [2, 1, 3], [4], conv_options)],
            [half_weights(16, 3, 3, 8), f32(16, 3, 3, 8), f32(*S4), half_weights(16),
             f32(1, 4, 4, 16)], [2], [4], op="CONV_2D")
    pattern("f16_depthwise_weights", "float16 depthwise filter behind DEQUANTIZE",
            [deq(0, 1), Op("DEPTHWISE_CONV_2D", [2, 1, 3], [4],
                           ("DepthwiseConv2DOptions", DEPTHWISE), version=2)],
            [half_weights(1, 3, 3, 8), f32(1, 3, 3, 8), f32(*S4), weights(8), f32(*S4)],
            [2], [4], op="DEPTHWISE_CONV_2D")
    pattern("f16_fc_weights", "float16 FULLY_CONNECTED filter behind DEQUANTIZE",
            [deq(0, 1), Op("FULLY_CONNECTED", [2, 1, 3], [4], ("FullyConnectedOptions", {}))],
            [half_weights(16, 8), f32(16, 8), f32(2, 8), weights(16), f32(2, 16)], [2], [4],
            op="FULLY_CONNECTED")
    pattern("int8_fc_weights", "per-channel int8 FULLY_CONNECTED filter behind DEQUANTIZE",
            [Op("DEQUANTIZE", [0], [1], version=2),
             Op("FULLY_CONNECTED", [2, 1, 3], [4], ("FullyConnectedOptions", {}))],
            [int8_weights([16, 8], channels=16), f32(16, 8), f32(2, 8), weights(16),
             f32(2, 16)], [2], [4], op="FULLY_CONNECTED")
    pattern("f16_input_to_fc", "float16 constant DEQUANTIZEd into FULLY_CONNECTED input 0",
            [deq(0, 1), Op("FULLY_CONNECTED", [1, 2, 3], [4], ("FullyConnectedOptions", {}))],
            [half_weights(2, 8), f32(2, 8), weights(16, 8), weights(16), f32(2, 16)], [], [4],
            op="FULLY_CONNECTED")
    pattern("f16_transpose_conv_weights", "float16 TRANSPOSE_CONV filter behind DEQUANTIZE",
            [deq(0, 1), Op("TRANSPOSE_CONV", [2, 1, 3, 4], [5],
                           ("TransposeConvOptions", {"padding": 0, "strideW": 2, "strideH": 2}),
                           version=3)],
            [half_weights(4, 3, 3, 8), f32(4, 3, 3, 8), ints(1, 8, 8, 4), f32(*S4), weights(4),
             f32(1, 8, 8, 4)], [3], [5], op="TRANSPOSE_CONV")
    pattern("f16_batch_matmul_b", "float16 BATCH_MATMUL B behind DEQUANTIZE",
            [deq(0, 1), Op("BATCH_MATMUL", [2, 1], [3], ("BatchMatMulOptions", {}))],
            [half_weights(2, 4, 5), f32(2, 4, 5), f32(2, 3, 4), f32(2, 3, 5)], [2], [3],
            op="BATCH_MATMUL")
    pattern("f16_prelu_slope", "float16 PRELU slope behind DEQUANTIZE",
            [deq(0, 1), Op("PRELU", [2, 1], [3])],
            [half_weights(8), f32(8), f32(2, 8), f32(2, 8)], [2], [3], op="PRELU")
    pattern("f16_conv_runtime_dequantize", "CONV_2D filter from a DEQUANTIZE of a run-time "
            "float16 tensor", [deq(0, 1), Op("CONV_2D", [2, 1, 3], [4], conv_options)],
            [f16(16, 3, 3, 8), f32(16, 3, 3, 8), f32(*S4), weights(16), f32(1, 4, 4, 16)],
            [0, 2], [4], op="CONV_2D")

    # Partitions: a CPU op between delegated ops, and independent branches.
    pattern("cpu_op_splits_chain", "RELU -> SIGN (CPU) -> RELU: two partitions",
            [Op("RELU", [0], [1]), Op("SIGN", [1], [2]), Op("RELU", [2], [3])],
            [f32(2, 4)] * 4, [0], [3], op="PARTITION")
    pattern("branches_merge", "two delegated branches around a CPU op, joined by ADD",
            [Op("RELU", [0], [1]), Op("SIGN", [1], [2]), Op("TANH", [0], [3]),
             Op("ADD", [2, 3], [4], ("AddOptions", {}))],
            [f32(2, 4)] * 5, [0], [4], op="PARTITION")
    pattern("cpu_first_and_last", "SIGN -> RELU -> TANH -> SIGN",
            [Op("SIGN", [0], [1]), Op("RELU", [1], [2]), Op("TANH", [2], [3]),
             Op("SIGN", [3], [4])], [f32(2, 4)] * 5, [0], [4], op="PARTITION")
    pattern("uneven_split_and_conv", "CONV_2D then an uneven SPLIT (creation fails)",
            [Op("CONV_2D", [0, 1, 2], [3], conv_options),
             Op("SPLIT", [4, 3], [5, 6], ("SplitOptions", {"numSplits": 2}))],
            [f32(1, 4, 4, 8), weights(7, 3, 3, 8), weights(7), f32(1, 4, 4, 7), ints(3),
             f32(1, 4, 4, 3), f32(1, 4, 4, 4)], [0], [5, 6], op="SPLIT")

    # Dynamic shapes: a reshape to a run-time shape and what follows it.
    pattern("runtime_reshape_then_relu", "RESHAPE to a graph-input shape, then RELU",
            [Op("RESHAPE", [0, 1], [2], ("ReshapeOptions", {})), Op("RELU", [2], [3])],
            [f32(1, 128), Spec("i32", [2]), f32(8, 16), f32(8, 16)], [0, 1], [3],
            op="RESHAPE")
    pattern("fill_then_add", "FILL with run-time dims feeding ADD",
            [Op("FILL", [0, 1], [2]), Op("ADD", [2, 3], [4], ("AddOptions", {}))],
            [Spec("i32", [2]), const("f32", [], 1.0), f32(3, 4), f32(3, 4), f32(3, 4)],
            [0, 3], [4], op="FILL")

    # Resource variables without the converter's initialisation subgraph.
    handle = Op("VAR_HANDLE", [], [0], ("VarHandleOptions", {"container": "", "sharedName": "v"}))
    pattern("scalar_read", "VAR_HANDLE read as a scalar (CPU), then ADD",
            [handle, Op("READ_VARIABLE", [0], [1]), Op("ADD", [1, 2], [3], ("AddOptions", {}))],
            [Spec("resource", []), f32(), f32(), f32()], [2], [3], op="VAR_HANDLE")
    pattern("int32_assign", "int32 value assigned to a variable",
            [handle, Op("ASSIGN_VARIABLE", [0, 1], [])],
            [Spec("resource", []), Spec("i32", [4])], [1], [], op="ASSIGN_VARIABLE")
    pattern("f32_assign_and_read", "float32 [2, 4] assigned, read back and doubled",
            [handle, Op("ASSIGN_VARIABLE", [0, 1], []), Op("READ_VARIABLE", [0], [2]),
             Op("ADD", [2, 2], [3], ("AddOptions", {}))],
            [Spec("resource", []), f32(2, 4), f32(2, 4), f32(2, 4)], [1], [3],
            op="ASSIGN_VARIABLE")

    # Custom ops the delegate knows.
    deconv = struct.pack("<iiiiii", 1, 2, 2, 0, 1, 1)
    add("Convolution2DTransposeBias", "f32", "MediaPipe transpose conv (custom op)",
        lambda: single(("CUSTOM", "Convolution2DTransposeBias"),
                       [f32(1, 4, 4, 8), weights(4, 3, 3, 8), weights(4)], [f32(1, 8, 8, 4)],
                       custom=deconv))
    for name, variant, kw in (
            ("f32", "float32 attention", {}),
            ("f32_mask", "with a mask", {"mask": True}),
            ("f32_gqa", "grouped-query: 4 query heads, 2 key heads", {"heads": 4}),
            ("f16", "float16", {"dtype": "f16"}),
            ("other_name", "another composite name", {"name": "odml.something_else"})):
        add("STABLEHLO_COMPOSITE", name, variant, lambda kw=kw: _attention_composite(**kw))
    add("UNIDIRECTIONAL_SEQUENCE_LSTM", "f32", "float32 LSTM, 16 units", _sequence_lstm)


def _attention_composite(dtype: str = "f32", heads: int = 2, mask: bool = False,
                         name: str = "odml.scaled_dot_product_attention") -> bytes:
    """A STABLEHLO_COMPOSITE attention op whose decomposition subgraph is a RESHAPE."""
    import flatbuffers
    import flatbuffers.flexbuffers as flex
    from ai_edge_litert import schema_py_generated as schema

    query, key = [1, 4, heads, 8], [1, 4, 2, 8]
    shapes = [query, key, key] + ([[1, 1, 4, 4]] if mask else [])
    decomposition = schema.SubGraphT()
    decomposition.tensors = []
    for i, shape in enumerate([*shapes, query]):
        tensor = schema.TensorT()
        tensor.shape, tensor.buffer, tensor.name = list(shape), 0, f"d{i}"
        tensor.type = getattr(schema.TensorType, _SCHEMA_TYPES[dtype])
        decomposition.tensors.append(tensor)
    count = len(shapes)
    decomposition.inputs, decomposition.outputs = list(range(count)), [count]
    reshape = schema.OperatorT()
    reshape.opcodeIndex, reshape.inputs, reshape.outputs = 1, [0], [count]
    reshape.builtinOptionsType = schema.BuiltinOptions.ReshapeOptions
    reshape.builtinOptions = schema.ReshapeOptionsT()
    reshape.builtinOptions.newShape = list(query)
    decomposition.operators = [reshape]
    attributes = list(flex.Dumps({"scale": 0.35}))
    composite = Op("STABLEHLO_COMPOSITE", list(range(count)), [count], options2=(
        "StableHLOCompositeOptions", {"name": name, "decompositionSubgraphIndex": 1,
                                      "compositeAttributes": attributes,
                                      "compositeAttributesFormat": 1}))
    tensors = [Spec(dtype, shape) for shape in [*shapes, query]]
    packed = model([composite], tensors, list(range(count)), [count], [decomposition])
    # The decomposition's RESHAPE needs an opcode of its own, at index 1.
    result = schema.ModelT.InitFromPackedBuf(packed, 0)
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.RESHAPE
    code.version = 1
    result.operatorCodes.append(code)
    builder = flatbuffers.Builder(1024)
    builder.Finish(result.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _sequence_lstm() -> bytes:
    batch, steps, features, units = 1, 5, 8, 16
    operands: list[Spec | None] = [f32(batch, steps, features)]
    operands += [weights(units, features) for _ in range(4)]
    operands += [weights(units, units) for _ in range(4)]
    operands += [None, None, None] + [weights(units) for _ in range(4)] + [None, None]
    operands += [Spec("f32", [batch, units], variable=True) for _ in range(2)] + [None] * 4
    return single("UNIDIRECTIONAL_SEQUENCE_LSTM", operands, [f32(batch, steps, units)],
                  options=("UnidirectionalSequenceLSTMOptions",
                           {"fusedActivationFunction": "TANH", "timeMajor": False}))

def sparse_cases() -> None:
    """Weights stored sparse: a DENSIFY of a constant (then a DEQUANTIZE for float16)."""
    def sparse(key: str, variant: str, ops: list[Op], tensors: list[Spec], inputs: list[int],
               outputs: list[int]) -> None:
        add("DENSIFY", key, variant, lambda: model(ops, tensors, inputs, outputs))

    densify = lambda i, o: Op("DENSIFY", [i], [o])  # noqa: E731
    deq = lambda i, o: Op("DEQUANTIZE", [i], [o], version=3)  # noqa: E731
    conv = ("Conv2DOptions", CONV)
    fc = ("FullyConnectedOptions", {})
    out16 = [1, 4, 4, 16]
    sparse("conv_f32", "float32 CONV_2D filter stored sparse",
           [densify(1, 2), Op("CONV_2D", [0, 2, 3], [4], conv)],
           [f32(*S4), sparse_weights(16, 3, 3, 8), f32(16, 3, 3, 8), weights(16), f32(*out16)],
           [0], [4])
    sparse("conv_f16", "float16 CONV_2D filter stored sparse, float16 bias, both dequantized",
           [densify(1, 2), deq(2, 3), deq(4, 5), Op("CONV_2D", [0, 3, 5], [6], conv)],
           [f32(*S4), sparse_weights(16, 3, 3, 8, dtype="f16"), f16(16, 3, 3, 8),
            f32(16, 3, 3, 8), half_weights(16), f32(16), f32(*out16)], [0], [6])
    sparse("fc_f32", "float32 FULLY_CONNECTED weights stored sparse",
           [densify(1, 2), Op("FULLY_CONNECTED", [0, 2, 3], [4], fc)],
           [f32(2, 8), sparse_weights(16, 8), f32(16, 8), weights(16), f32(2, 16)], [0], [4])
    sparse("fc_f16", "float16 FULLY_CONNECTED weights stored sparse, float16 bias",
           [densify(1, 2), deq(2, 3), deq(4, 5), Op("FULLY_CONNECTED", [0, 3, 5], [6], fc)],
           [f32(2, 8), sparse_weights(16, 8, dtype="f16"), f16(16, 8), f32(16, 8),
            half_weights(16), f32(16), f32(2, 16)], [0], [6])
    sparse("fc_f32_block4", "float32 FULLY_CONNECTED weights sparse in 1x4 blocks",
           [densify(1, 2), Op("FULLY_CONNECTED", [0, 2, 3], [4], fc)],
           [f32(2, 8), sparse_weights(16, 8, block=4), f32(16, 8), weights(16), f32(2, 16)],
           [0], [4])
    sparse("fc_qs8", "int8 FULLY_CONNECTED weights stored sparse",
           [densify(1, 2), Op("FULLY_CONNECTED", [0, 2, 3], [4], fc, version=4)],
           [qs8([2, 8]), sparse_weights(16, 8, dtype="i8", scale=[0.01], zero_point=[0]),
            qs8([16, 8], 0.01), bias32([16], 0.0005), qs8([2, 16], 0.5)], [0], [4])
    sparse("fc_hybrid", "float32 FULLY_CONNECTED with int8 weights stored sparse",
           [densify(1, 2), Op("FULLY_CONNECTED", [0, 2, 3], [4], fc, version=4)],
           [f32(2, 8), sparse_weights(16, 8, dtype="i8", scale=[0.01], zero_point=[0]),
            qs8([16, 8], 0.01), weights(16), f32(2, 16)], [0], [4])
    sparse("conv_qs8", "int8 CONV_2D filter stored sparse",
           [densify(1, 2), Op("CONV_2D", [0, 2, 3], [4], conv, version=3)],
           [qs8(S4), sparse_weights(16, 3, 3, 8, dtype="i8", scale=[0.01], zero_point=[0]),
            qs8([16, 3, 3, 8], 0.01), bias32([16], 0.0005), qs8(out16, 0.5)], [0], [4])
    sparse("conv_f32_two_consumers", "one sparse filter shared by two CONV_2D",
           [densify(1, 2), Op("CONV_2D", [0, 2, 3], [4], conv),
            Op("CONV_2D", [5, 2, 3], [6], conv)],
           [f32(*S4), sparse_weights(16, 3, 3, 8), f32(16, 3, 3, 8), weights(16), f32(*out16),
            f32(*S4), f32(*out16)], [0, 5], [4, 6])
    sparse("to_add", "sparse float32 constant as an ADD operand",
           [densify(1, 2), Op("ADD", [0, 2], [3], ("AddOptions", {}))],
           [f32(2, 8), sparse_weights(2, 8), f32(2, 8), f32(2, 8)], [0], [3])
    sparse("to_pow", "sparse float32 constant feeding POW (CPU): DENSIFY stays with it",
           [densify(1, 2), Op("POW", [0, 2], [3])],
           [f32(2, 8), sparse_weights(2, 8), f32(2, 8), f32(2, 8)], [0], [3])
    sparse("f16_to_pow", "sparse float16 constant, DEQUANTIZE, POW (CPU)",
           [densify(1, 2), deq(2, 3), Op("POW", [0, 3], [4])],
           [f32(2, 8), sparse_weights(2, 8, dtype="f16"), f16(2, 8), f32(2, 8), f32(2, 8)],
           [0], [4])
    sparse("to_add_and_pow", "sparse constant feeding ADD and POW (CPU)",
           [densify(1, 2), Op("ADD", [0, 2], [3], ("AddOptions", {})), Op("POW", [0, 2], [4])],
           [f32(2, 8), sparse_weights(2, 8), f32(2, 8), f32(2, 8), f32(2, 8)], [0], [3, 4])
    sparse("fc_v8_consumer", "sparse weights feeding a FULLY_CONNECTED version 8 (CPU)",
           [densify(1, 2), Op("FULLY_CONNECTED", [0, 2, 3], [4], fc, version=8)],
           [f32(2, 8), sparse_weights(16, 8), f32(16, 8), weights(16), f32(2, 16)], [0], [4])
    sparse("graph_output", "DENSIFY whose output is only a graph output, beside a RELU",
           [densify(1, 2), Op("RELU", [0], [3])],
           [f32(2, 8), sparse_weights(2, 8), f32(2, 8), f32(2, 8)], [0], [2, 3])


#: TfLitePadding values in a MediaPipe custom op's TfLitePoolParams.
POOL_PADDING = {"UNKNOWN": 0, "SAME": 1, "VALID": 2}


def pool_params(padding: str = "VALID", stride: tuple[int, int] = (2, 2),
                filter_size: tuple[int, int] = (2, 2), activation: str = "NONE") -> bytes:
    """MediaPipe's custom options: a raw TfLitePoolParams struct (little-endian int32s:
    padding, stride w/h, filter w/h, activation, then four computed padding values)."""
    return struct.pack("<10i", POOL_PADDING[padding], *stride, *filter_size,
                       ACTIVATION[activation], 0, 0, 0, 0)


def mediapipe_pooling_cases() -> None:
    """MaxPoolingWithArgmax2D and MaxUnpooling2D, which XNNPACK registers itself."""
    argmax, unpool = ("CUSTOM", "MaxPoolingWithArgmax2D"), ("CUSTOM", "MaxUnpooling2D")
    pooled = [1, 2, 2, 8]

    def pool(key: str, variant: str, inp: Spec, outputs: list[Spec], **params: Any) -> None:
        add("MaxPoolingWithArgmax2D", key, variant,
            lambda: single(argmax, [inp], outputs, custom=pool_params(**params)))

    def unpooling(key: str, variant: str, values: Spec, index: Spec, out: Spec,
                  **params: Any) -> None:
        add("MaxUnpooling2D", key, variant,
            lambda: single(unpool, [values, index], [out], custom=pool_params(**params)))

    # MediaPipe's models carry the indices as float32; an int32 index tensor must be
    # quantized for XNNPACK to define it.
    indices = lambda shape=pooled: f32(*shape)  # noqa: E731
    int_indices = lambda: Spec("i32", pooled)  # noqa: E731
    pool("f32", "float32 2x2, stride 2, VALID", f32(*S4), [f32(*pooled), indices()])
    pool("i32_indices", "int32 index output without quantization", f32(*S4),
         [f32(*pooled), int_indices()])
    pool("qs32_indices", "int32 index output, quantized (scale 1)", f32(*S4),
         [f32(*pooled), Spec("i32", pooled, scale=[1.0], zero_point=[0])])
    pool("same", "float32 2x2, stride 2, SAME", f32(*S4), [f32(*pooled), indices()],
         padding="SAME")
    pool("relu", "fused RELU (accepted, not applied)", f32(*S4), [f32(*pooled), indices()],
         activation="RELU")
    pool("tanh", "fused TANH", f32(*S4), [f32(*pooled), indices()], activation="TANH")
    pool("filter3_stride2", "3x3 filter, stride 2 (filter must equal stride)", f32(*S4),
         [f32(*pooled), indices()], filter_size=(3, 3))
    pool("padding_unknown", "padding value 0 (unknown)", f32(*S4), [f32(*pooled), indices()],
         padding="UNKNOWN")
    pool("f16", "float16", f16(*S4), [f16(*pooled), indices()])
    pool("qs8", "int8", qs8(S4), [qs8(pooled), indices()])
    pool("rank3", "rank-3 input", f32(4, 4, 8), [f32(2, 2, 8), indices([2, 2, 8])])
    pool("one_output", "value output only", f32(*S4), [f32(*pooled)])
    add("MaxPoolingWithArgmax2D", "no_options", "no custom options",
        lambda: single(argmax, [f32(*S4)], [f32(*pooled), indices()]))
    unpooling("f32", "float32 2x2, stride 2, VALID", f32(*pooled), indices(), f32(*S4))
    unpooling("i32_indices", "int32 indices without quantization", f32(*pooled),
              int_indices(), f32(*S4))
    unpooling("relu", "fused RELU", f32(*pooled), indices(), f32(*S4), activation="RELU")
    unpooling("same", "float32 2x2, stride 2, SAME", f32(*pooled), indices(), f32(*S4),
              padding="SAME")
    unpooling("filter3_stride2", "3x3 filter, stride 2", f32(*pooled), indices(), f32(*S4),
              filter_size=(3, 3))
    unpooling("f16", "float16", f16(*pooled), indices(), f16(*S4))
    unpooling("rank3", "rank-3 input", f32(2, 2, 8), indices([2, 2, 8]), f32(4, 4, 8))
    unpooling("tanh", "fused TANH", f32(*pooled), indices(), f32(*S4), activation="TANH")
    add("MaxUnpooling2D", "after_argmax", "MaxPoolingWithArgmax2D, RELU, MaxUnpooling2D",
        lambda: model([Op(argmax, [0], [1, 2], custom=pool_params()), Op("RELU", [1], [3]),
                       Op(unpool, [3, 2], [4], custom=pool_params())],
                      [f32(*S4), f32(*pooled), indices(), f32(*pooled), f32(*S4)], [0], [4]))
    add("MaxUnpooling2D", "f16_after_argmax", "float16 argmax pooling, RELU, unpooling (CPU)",
        lambda: model([Op(argmax, [0], [1, 2], custom=pool_params()), Op("RELU", [1], [3]),
                       Op(unpool, [3, 2], [4], custom=pool_params())],
                      [f16(*S4), f16(*pooled), indices(), f16(*pooled), f16(*S4)], [0], [4]))
    # A custom op no one registers: the delegate leaves it on the CPU and the stock
    # interpreter cannot prepare the model ("unresolved custom op"); the probe still
    # records which ops were delegated, and the failure as a kernel allocation failure.
    add("CUSTOM", "unknown_between_relus", "RELU, an unregistered custom op, RELU",
        lambda: model([Op("RELU", [0], [1]), Op(("CUSTOM", "TflintProbeUnknownOp"), [1], [2]),
                       Op("RELU", [2], [3])], [f32(2, 4)] * 4, [0], [3]))


def builder_cases() -> None:
    for family in (unary_cases, mixed_type_cases, binary_cases, conv_cases, depthwise_cases,
                   transpose_conv_cases, fully_connected_cases, batch_matmul_cases, pool_cases,
                   reduce_cases, shape_cases, quantize_cases, invalid_quantization_cases,
                   unsupported_cases, pattern_cases, sparse_cases, mediapipe_pooling_cases):
        family()


# ---------------------------------------------------------------------------
# Models converted from TensorFlow, as users make them.
# ---------------------------------------------------------------------------

#: Quantization recipes of the TFLite converter.
QUANTIZATIONS = ("float32", "dynamic", "float16", "int8", "int16x8")


def converted(fn: Callable[..., Any], signature: list[tuple[int | None, ...]], quantization: str,
              uint8_io: bool = False) -> bytes:
    import numpy as np
    import tensorflow as tf

    specs = [tf.TensorSpec(shape, tf.float32) for shape in signature]
    concrete = tf.function(fn, input_signature=specs).get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete])
    if quantization != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quantization in ("int8", "int16x8"):
        rng = np.random.default_rng(0)
        shapes = [[1 if d is None else d for d in shape] for shape in signature]

        def representative() -> Iterator[list[Any]]:
            for _ in range(8):
                yield [rng.uniform(-1, 1, shape).astype(np.float32) for shape in shapes]
        converter.representative_dataset = representative
        ops = (tf.lite.OpsSet.TFLITE_BUILTINS_INT8 if quantization == "int8" else
               tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8)
        converter.target_spec.supported_ops = [ops]
        if uint8_io:
            converter.inference_input_type = converter.inference_output_type = tf.uint8
    return converter.convert()


def converter_cases() -> None:
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)

    def constant(*shape: int) -> Any:
        return tf.constant(rng.uniform(-0.5, 0.5, shape).astype(np.float32))

    conv_w, dw_w, dense_w = constant(3, 3, 4, 8), constant(3, 3, 8, 1), constant(8, 10)
    tconv_w = constant(3, 3, 8, 4)
    x4 = (1, 8, 8, 4)

    def cnn(x: Any) -> Any:
        y = tf.nn.relu6(tf.nn.conv2d(x, conv_w, 1, "SAME"))
        y = tf.nn.relu(tf.nn.depthwise_conv2d(y, dw_w, [1, 1, 1, 1], "SAME"))
        y = tf.nn.max_pool2d(y, 2, 2, "VALID")
        y = tf.nn.avg_pool2d(y, 2, 2, "VALID")
        y = tf.reduce_mean(y, axis=[1, 2])
        return tf.nn.softmax(tf.matmul(y, dense_w))

    def upsample(x: Any) -> Any:
        y = tf.nn.conv2d_transpose(x, tconv_w, [1, 16, 16, 8], 2, "SAME")
        a = tf.image.resize(x, [16, 16], method="bilinear")
        b = tf.image.resize(x, [16, 16], method="nearest")
        return tf.concat([y, a, b], axis=3)

    def elementwise(x: Any) -> Any:
        y = tf.nn.leaky_relu(x * 0.5 + x, 0.1)
        y = y * tf.nn.relu6(y + 3.0) / 6.0
        return tf.tanh(y) + tf.sigmoid(y) - tf.abs(y)

    def slicing(x: Any) -> Any:
        a = x[:, 1:5, 2:6, :]
        b = x[:, ::2, ::2, :]
        c = tf.pad(x[:, 0:4, 0:4, :], [[0, 0], [0, 0], [0, 0], [1, 1]])
        d = tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [1, 4, 8, 8])[:, :, 0:4, 0:4]
        return tf.concat([a, b, c[..., :4], tf.transpose(d, [0, 2, 3, 1])], axis=3)

    def attention(x: Any) -> Any:
        scores = tf.nn.softmax(tf.matmul(x, x, transpose_b=True) * 0.25)
        return tf.matmul(scores, x)

    def where(x: Any) -> Any:
        return tf.where(x < 0, 0.1 * x, tf.square(x))

    patterns = {"cnn": (cnn, [x4]), "upsample": (upsample, [x4]),
                "elementwise": (elementwise, [x4]), "slicing": (slicing, [x4]),
                "attention": (attention, [(1, 6, 16)]), "where": (where, [x4])}
    for name, (fn, signature) in patterns.items():
        for quantization in QUANTIZATIONS:
            add("CONVERTED", f"{name}_{quantization}", f"TF {name} pattern, {quantization}",
                lambda fn=fn, s=signature, q=quantization: converted(fn, s, q), "converter")
    add("CONVERTED", "cnn_int8_uint8_io", "TF cnn pattern, int8 with uint8 input/output",
        lambda: converted(cnn, [x4], "int8", uint8_io=True), "converter")

    # Dynamic shapes as the converter writes them: unknown batch, run-time reshape.
    add("CONVERTED", "cnn_dynamic_batch", "TF cnn pattern with an unknown batch",
        lambda: converted(cnn, [(None, 8, 8, 4)], "float32"), "converter")
    add("CONVERTED", "runtime_reshape", "reshape to tf.shape(x)[0] x -1 (unknown batch)",
        lambda: converted(lambda x: tf.reshape(x, tf.stack([tf.shape(x)[0], -1])) * 2.0,
                          [(None, 8, 8, 4)], "float32"), "converter")
    add("CONVERTED", "shape_arithmetic", "tf.shape as data",
        lambda: converted(lambda x: tf.cast(tf.shape(x), tf.float32) * 2.0,
                          [(None, 8, 8, 4)], "float32"), "converter")
    for axes in ([1, 2], [3], [0], [-1], [0, 1, 2, 3]):
        for keep in (False, True):
            key = "_".join(str(a).replace("-", "m") for a in axes) + ("_keep" if keep else "")
            add("CONVERTED", f"mean_{key}", f"tf.reduce_mean axes {axes} keepdims={keep}",
                lambda a=axes, k=keep: converted(
                    lambda x: tf.reduce_mean(x, axis=a, keepdims=k), [x4], "float32"),
                "converter")
    add("CONVERTED", "softmax_beta2", "softmax(2x): the converter folds beta into a MUL",
        lambda: converted(lambda x: tf.nn.softmax(2.0 * x), [(2, 16)], "float32"), "converter")
    for quantization in ("float32", "float16"):
        add("CONVERTED", f"sparse_{quantization}",
            f"conv and dense with 90% zero weights, EXPERIMENTAL_SPARSITY, {quantization}",
            lambda q=quantization: _sparse_model(q == "float16"), "converter")
    add("CONVERTED", "variables", "tf.Variable [1, 4] assign and read (VAR_HANDLE, CALL_ONCE)",
        _variable_model, "converter")
    add("CONVERTED", "variables_scalar", "scalar tf.Variable assign and read",
        lambda: _variable_model([]), "converter")


def _sparse_model(float16: bool) -> bytes:
    """Weights the converter stores sparse (DENSIFY, then DEQUANTIZE for float16)."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)

    def mostly_zero(*shape: int) -> Any:
        values = rng.uniform(-0.5, 0.5, shape)
        return tf.constant(np.where(rng.random(shape) < 0.1, values, 0.0).astype(np.float32))

    conv_w, dense_w = mostly_zero(3, 3, 8, 32), mostly_zero(32, 16)

    def fn(x: Any) -> Any:
        y = tf.nn.relu(tf.nn.conv2d(x, conv_w, 1, "SAME") + 0.1)
        return tf.matmul(tf.reduce_mean(y, axis=[1, 2]), dense_w)

    spec = tf.TensorSpec((1, 8, 8, 8), tf.float32)
    concrete = tf.function(fn, input_signature=[spec]).get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete])
    converter.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    if float16:
        converter.optimizations.append(tf.lite.Optimize.DEFAULT)
        converter.target_spec.supported_types = [tf.float16]
    return converter.convert()


def _variable_model(shape: Sequence[int] = (1, 4)) -> bytes:
    import tensorflow as tf

    class Accumulator(tf.Module):
        def __init__(self) -> None:
            self.total = tf.Variable(tf.zeros(shape))

        @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32)])
        def __call__(self, x: Any) -> Any:
            self.total.assign(self.total + x)
            return self.total.read_value() * 2.0

    module = Accumulator()
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.__call__.get_concrete_function()], module)
    return converter.convert()


# ---------------------------------------------------------------------------
# Generation and checking.
# ---------------------------------------------------------------------------

def generate(out: Path, with_converter: bool, only: Sequence[str] = ()) -> None:
    """Write the probe models and the manifest; with ``only`` (name patterns), just the
    matching cases, whose entries replace theirs in the existing manifest."""
    builder_cases()
    if with_converter:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        converter_cases()
    selected = [c for c in CASES.values()
                if not only or any(fnmatch.fnmatchcase(c.name, p) for p in only)]
    if only and not selected:
        raise SystemExit(f"no probe case matches {', '.join(only)}")
    names = {c.name for c in selected}
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.tflite"):
        if not only or stale.stem in names:
            stale.unlink()
    previous = (json.loads((out / MANIFEST).read_text(encoding="utf-8"))
                if only and (out / MANIFEST).exists() else {})
    entries = {name: entry for name, entry in previous.get("models", {}).items()
               if Path(name).stem not in names}
    dropped = {name: why for name, why in previous.get("not_kept", {}).items()
               if name not in names}
    paths, cases = [], []
    for case in selected:
        try:
            data = case.make()
        except Exception as exc:  # the converter refuses some op x quantization pairs
            if case.source != "converter":
                raise
            dropped[case.name] = f"{case.variant}: the converter refused: {str(exc)[-200:]}"
            print(f"  {case.name}: not converted: {str(exc).strip().splitlines()[-1]}")
            continue
        path = out / f"{case.name}.tflite"
        path.write_bytes(data)
        paths.append(path)
        cases.append(case)
    reports = runtime_reports(paths)
    for case, path in zip(cases, paths, strict=True):
        report = reports[path]
        if "failure" in report:
            # A model the runtime cannot load or that kills it cannot be compared.
            print(f"  {path.name}: not kept, runtime {report['failure']}: {report['detail']}")
            dropped[case.name] = f"{case.op}, {case.variant}: runtime {report['failure']}"
            path.unlink()
            continue
        entries[path.name] = {"op": case.op, "variant": case.variant, "source": case.source,
                              "runtime": observed(report)}
    manifest = {
        "about": "XNNPACK probe models written by scripts/probe_xnnpack.py: one op or a short "
                 "pattern each, with what the runtime below did with every op when they were "
                 "generated (delegated or not, partition count, allocation failure).",
        "runtime": runtime_version(),
        "models": entries,
        "not_kept": dropped,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n",
                                encoding="utf-8")
    size = sum(p.stat().st_size for p in out.iterdir())
    print(f"{len(entries)} probe models ({len(paths)} written), {size / 1024:.0f} KB, in {out}")


def check(out: Path) -> int:
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    paths = [out / name for name in sorted(manifest["models"])]
    reports = runtime_reports(paths)
    problems = prediction_disagreements(paths, reports)
    drift = {path: (manifest["models"][path.name]["runtime"], observed(reports[path]))
             for path in paths
             if observed(reports[path]) != manifest["models"][path.name]["runtime"]}
    if manifest["runtime"] != runtime_version():
        print(f"manifest written with {manifest['runtime']}, running {runtime_version()}")
    for path, lines in sorted(problems.items()):
        for line in lines:
            print(f"{path.name}: {line}")
    for path, (then, now) in sorted(drift.items()):
        print(f"{path.name}: runtime changed since generation: {then} -> {now}")
    ops = sum(len(manifest["models"][p.name]["runtime"].get("ops", ())) for p in paths)
    print(f"{len(paths)} models, {ops} ops: {len(problems)} models where the prediction "
          f"differs from the runtime, {len(drift)} where the runtime changed")
    return 1 if problems or drift else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PROBE_DIR, help="probe model folder")
    parser.add_argument("--check", action="store_true",
                        help="compare tflint's prediction with the runtime, print disagreements")
    parser.add_argument("--no-convert", action="store_true",
                        help="skip the models converted with TensorFlow")
    parser.add_argument("--only", action="append", default=[], metavar="PATTERN",
                        help="regenerate only the cases whose name matches (glob, e.g. "
                             "'densify__*'; repeatable), keeping the rest of the manifest")
    args = parser.parse_args(argv)
    if args.check:
        return check(args.out)
    generate(args.out, with_converter=not args.no_convert, only=args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
