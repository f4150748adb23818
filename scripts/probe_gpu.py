"""Probe what the GPU compatibility checker of TensorFlow 2.17.1 says of each op.

TensorFlow 2.17.1 is the last release whose model analyzer
(``tf.lite.experimental.Analyzer.analyze(..., gpu_compatibility=True)``) runs
the GPU delegate's offline compatibility check; later releases dropped it.
It lives in its own virtual environment (``scripts/setup_gpu_checker.sh``),
because it needs NumPy 1.x, and is run here in child processes, many models
per process, with its printed report captured from file descriptor 1.

    python scripts/probe_gpu.py            # write fixtures/probe_gpu/ and its manifest
    python scripts/probe_gpu.py --check    # compare tflint's prediction with the manifest

Generation builds small one-op probe models into ``fixtures/probe_gpu/``
(across dtypes, ranks, constant and run-time operands, option values and op
versions), runs them, every ``.tflite`` under ``fixtures/`` and the benchmark
zoo (``bench/.cache/tflite_zoo``, when built) through the checker, and records
per op whether it was flagged and the checker's message.  ``--check`` compares
tflint's GPU prediction with the manifest: every op the checker flags must be
predicted to stay off the GPU; ops tflint flags beyond it are counted by
reason (the delegate's own parsers reject more than the offline check).  With
``--remeasure`` the checker runs again and must still agree with the manifest.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PROBE_DIR = ROOT / "fixtures" / "probe_gpu"
MANIFEST = PROBE_DIR / "manifest.json"
ZOO = ROOT / "bench" / ".cache" / "tflite_zoo"
CHECKER_VERSION = "2.17.1"
#: The virtual environment holding the checker (see scripts/setup_gpu_checker.sh).
DEFAULT_VENV = Path("/work/venvs/tf217")
END_OF_REPORT = "=== tflint: end of report ==="

# ---------------------------------------------------------------------------
# The checker, in child processes of its own virtual environment.
# ---------------------------------------------------------------------------

#: Runs in the checker's venv: one report per model path read from stdin.  The
#: analyzer prints from C++ or Python; both stdio layers are flushed before the
#: end marker so that the report and the marker arrive in order on fd 1.
_CHILD = f"""
import ctypes, os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf
libc = ctypes.CDLL(None)
for line in sys.stdin:
    try:
        tf.lite.experimental.Analyzer.analyze(model_path=line.strip(), gpu_compatibility=True)
    except Exception as exc:
        print("tflint: analyzer error:", exc)
    sys.stdout.flush()
    libc.fflush(None)
    print({END_OF_REPORT!r}, flush=True)
"""


def checker_python() -> Path | None:
    """The checker venv's interpreter, or None when it is not set up."""
    venv = Path(os.environ.get("TFLINT_GPU_CHECKER_VENV", DEFAULT_VENV))
    python = venv / "bin" / "python"
    return python if python.is_file() else None


def checker_available() -> bool:
    return checker_python() is not None


@dataclass(frozen=True)
class CheckedOp:
    """One op as the checker saw it."""

    subgraph: int
    index: int
    op: str
    #: The checker's messages; empty when the op was not flagged.
    messages: tuple[str, ...]

    @property
    def flagged(self) -> bool:
        return bool(self.messages)


_SUBGRAPH = re.compile(r"^Subgraph#(\d+)\b")
_OP = re.compile(r"^  Op#(\d+) ([^(]+)\(")
_WARNING = "GPU COMPATIBILITY WARNING: "


def parse_report(text: str) -> list[CheckedOp]:
    """The ops of one analyzer report, each with the warnings printed under it.

    A warning line right after an op line (or after another warning of the
    same op) belongs to that op; the per-subgraph summary warning comes after
    a blank line and is not an op's.
    """
    ops: list[CheckedOp] = []
    subgraph = -1
    current: tuple[int, str] | None = None
    messages: list[str] = []

    def close() -> None:
        if current is not None:
            ops.append(CheckedOp(subgraph, current[0], current[1], tuple(messages)))

    for line in text.splitlines():
        if (match := _SUBGRAPH.match(line)) is not None:
            close()
            current, messages = None, []
            subgraph = int(match.group(1))
        elif (match := _OP.match(line)) is not None:
            close()
            current, messages = (int(match.group(1)), match.group(2).strip()), []
        elif line.startswith(_WARNING) and current is not None:
            messages.append(line[len(_WARNING):].strip())
        elif not line.strip() or line.startswith("Tensors of"):
            close()
            current, messages = None, []
    close()
    return ops


def checker_reports(paths: Sequence[Path], workers: int = 2,
                    timeout: float = 900.0) -> dict[Path, list[CheckedOp] | str]:
    """The checker's ops for each model, or the error text when it could not analyze it."""
    python = checker_python()
    if python is None:
        raise RuntimeError("the GPU compatibility checker is not set up: "
                           "run bash scripts/setup_gpu_checker.sh")
    results: dict[Path, list[CheckedOp] | str] = {}
    chunks = [list(paths[i::workers]) for i in range(workers)]
    threads = [threading.Thread(target=lambda c=chunk: results.update(
        _run_chunk(python, c, timeout))) for chunk in chunks if chunk]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _run_chunk(python: Path, paths: list[Path],
               timeout: float) -> dict[Path, list[CheckedOp] | str]:
    results: dict[Path, list[CheckedOp] | str] = {}
    pending = list(paths)
    while pending:
        proc = subprocess.Popen([str(python), "-u", "-c", _CHILD], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("".join(f"{p.resolve()}\n" for p in pending))
        proc.stdin.close()
        watchdog = threading.Timer(timeout, proc.kill)
        watchdog.start()
        done, lines = 0, []
        for line in proc.stdout:
            if line.rstrip("\n") == END_OF_REPORT:
                text = "".join(lines)
                error = next((x for x in lines if x.startswith("tflint: analyzer error:")), None)
                results[pending[done]] = error.strip() if error else parse_report(text)
                done, lines = done + 1, []
            else:
                lines.append(line)
        watchdog.cancel()
        proc.wait()
        if done < len(pending):  # the analyzer died on this model; the rest go on
            results[pending[done]] = f"checker process ended with code {proc.returncode}"
            done += 1
        pending = pending[done:]
    return results


def checker_entry(ops: list[CheckedOp] | str) -> dict[str, Any]:
    """A checker result as the manifest stores it."""
    if isinstance(ops, str):
        return {"error": ops}
    return {"ops": [{"subgraph": o.subgraph, "index": o.index, "op": o.op,
                     **({"flagged": list(o.messages)} if o.messages else {})} for o in ops]}


# ---------------------------------------------------------------------------
# tflint's side.
# ---------------------------------------------------------------------------


def predictions(paths: Sequence[Path]) -> dict[Path, dict[tuple[int, int], str]]:
    """Per model, tflint's reason for each op it predicts off the GPU, by (subgraph, index)."""
    from tflint.analyses.delegation import predict_delegation
    from tflint.loaders import load

    result: dict[Path, dict[tuple[int, int], str]] = {}
    for path in paths:
        graph = load(path)
        delegation = predict_delegation(graph, "gpu")
        result[path] = {(op.subgraph, op.index): op.reason
                        for op in delegation.cpu_ops(graph) if op.index is not None}
    return result


def compare(entry: dict[str, Any], predicted: dict[tuple[int, int], str]) -> dict[str, Any]:
    """How tflint's prediction for one model stands against the checker's record.

    ``missed``: ops the checker flags that tflint predicts on the GPU (must be
    empty); ``extra``: ops tflint keeps off the GPU that the checker passes,
    with tflint's reason.
    """
    missed, extra, flagged = [], [], 0
    for op in entry.get("ops", ()):
        key = (op["subgraph"], op["index"])
        if "flagged" in op:
            flagged += 1
            if key not in predicted:
                missed.append(f"{op['op']} (subgraph {key[0]} op {key[1]}): checker says "
                              f"{op['flagged'][0]!r}")
        elif key in predicted:
            extra.append({"op": op["op"], "reason": predicted[key]})
    return {"ops": len(entry.get("ops", ())), "flagged": flagged, "missed": missed,
            "extra": extra}


def reason_kind(reason: str) -> str:
    """A tflint reason without its details, for counting extra flags by kind."""
    kind = reason.split(";")[0].split(" (")[0]
    kind = re.sub(r"\[[^\]]*\]", "[...]", kind)
    return re.sub(r"\b(version|rank|of|with|has) -?\d+(\.\d+)?", r"\1 N", kind)


# ---------------------------------------------------------------------------
# Probe models (flatbuffers written with the XNNPACK probe's builder).
# ---------------------------------------------------------------------------

sys.path.insert(0, str(ROOT / "scripts"))
from probe_xnnpack import (  # noqa: E402  (the builder lives next to this script)
    CONV,
    DEPTHWISE,
    POOL,
    Case,
    Op,
    Spec,
    bias32,
    const,
    f16,
    f32,
    half_weights,
    int8_weights,
    ints,
    model,
    qs8,
    register,
    single,
    weights,
)

CASES: dict[str, Case] = {}


def case(op: str, key: str, variant: str, make: Callable[[], bytes]) -> None:
    register(CASES, op, key, variant, make)


def one(op: str, key: str, variant: str, *args: Any, custom: str | None = None,
        **kw: Any) -> None:
    """A one-op case; ``custom`` names the custom code of a CUSTOM op."""
    name: str | tuple[str, str] = ("CUSTOM", custom) if custom else op
    case(op, key, variant, lambda: single(name, *args, **kw))


def i32(*shape: int) -> Spec:
    return Spec("i32", list(shape))


def b8(*shape: int) -> Spec:
    return Spec("bool", list(shape))


S4 = [1, 4, 4, 8]
ADD_OPTIONS = ("AddOptions", {"fusedActivationFunction": "NONE"})


def _elementwise_cases() -> None:
    for op in ("ABS", "COS", "EXP", "FLOOR", "LOG", "LOGISTIC", "NEG", "RSQRT", "SIN", "SQRT",
               "SQUARE", "TANH", "ELU", "GELU", "SIGN", "CEIL", "HARD_SWISH", "RELU", "RELU6",
               "RELU_N1_TO_1", "ROUND"):
        one(op, "f32", "float32 4-D", [f32(*S4)], [f32(*S4)])
    for op in ("ABS", "TANH", "RELU", "HARD_SWISH"):
        one(op, "f16", "float16 4-D", [f16(*S4)], [f16(*S4)])
        one(op, "qs8", "int8 4-D", [qs8(S4)], [qs8(S4)])
        one(op, "i32", "int32 4-D", [i32(*S4)], [i32(*S4)])
        one(op, "rank5", "float32 5-D", [f32(1, 2, 4, 4, 8)], [f32(1, 2, 4, 4, 8)])
        one(op, "rank2", "float32 2-D", [f32(2, 8)], [f32(2, 8)])
    one("ABS", "const_input", "constant input", [weights(*S4)], [f32(*S4)])
    one("ABS", "version3", "op version 3", [f32(*S4)], [f32(*S4)], version=3)
    one("LEAKY_RELU", "f32", "float32", [f32(*S4)], [f32(*S4)],
        options=("LeakyReluOptions", {"alpha": 0.2}))
    one("LEAKY_RELU", "qs8", "int8", [qs8(S4)], [qs8(S4)],
        options=("LeakyReluOptions", {"alpha": 0.2}))
    one("PRELU", "f32", "float32, constant alpha", [f32(*S4), weights(8)], [f32(*S4)])
    one("PRELU", "version2", "op version 2", [f32(*S4), weights(8)], [f32(*S4)], version=2)
    one("LOG_SOFTMAX", "f32", "never in the list", [f32(1, 8)], [f32(1, 8)])
    one("L2_NORMALIZATION", "f32", "never in the list", [f32(1, 8)], [f32(1, 8)])

    binary = ("ADD", "SUB", "MUL", "DIV", "MAXIMUM", "MINIMUM", "POW", "SQUARED_DIFFERENCE",
              "FLOOR_DIV", "FLOOR_MOD", "ATAN2")
    options = {"ADD": ADD_OPTIONS, "SUB": ("SubOptions", {}), "MUL": ("MulOptions", {}),
               "DIV": ("DivOptions", {})}
    for op in binary:
        kw = {"options": options[op]} if op in options else {}
        one(op, "f32", "two float32 run-time inputs", [f32(*S4), f32(*S4)], [f32(*S4)], **kw)
        one(op, "f32_const", "float32 with a constant", [f32(*S4), weights(8)], [f32(*S4)], **kw)
        one(op, "two_const", "both inputs constant", [weights(*S4), weights(8)], [f32(*S4)],
            **kw)
    for op in ("ADD", "SUB", "MUL", "MAXIMUM"):
        kw = {"options": options[op]} if op in options else {}
        one(op, "qs8", "int8", [qs8(S4), qs8(S4)], [qs8(S4)], **kw)
        one(op, "i32", "int32 run-time inputs", [i32(*S4), i32(*S4)], [i32(*S4)], **kw)
        one(op, "rank5", "float32 5-D", [f32(1, 2, 4, 4, 8), f32(1, 2, 4, 4, 8)],
            [f32(1, 2, 4, 4, 8)], **kw)
        one(op, "bcast_3d_4d", "3-D broadcast to 4-D", [f32(*S4), f32(1, 4, 8)], [f32(*S4)],
            **kw)
        one(op, "bcast_2d_4d", "2-D [1,8] broadcast to 4-D", [f32(*S4), f32(1, 8)], [f32(*S4)],
            **kw)
        one(op, "bcast_bad", "2-D [3,5] not broadcastable to 4-D", [f32(*S4), f32(3, 5)],
            [f32(*S4)], **kw)
        one(op, "version3", "op version 3", [f32(*S4), f32(*S4)], [f32(*S4)], version=3, **kw)
    one("ADD", "sign_bit", "fused SIGN_BIT", [f32(*S4), f32(*S4)], [f32(*S4)],
        options=("AddOptions", {"fusedActivationFunction": "SIGN_BIT"}))
    one("SUB", "sign_bit", "fused SIGN_BIT", [f32(*S4), f32(*S4)], [f32(*S4)],
        options=("SubOptions", {"fusedActivationFunction": "SIGN_BIT"}))
    one("MUL", "sign_bit", "fused SIGN_BIT", [f32(*S4), f32(*S4)], [f32(*S4)],
        options=("MulOptions", {"fusedActivationFunction": "SIGN_BIT"}))
    one("MUL", "outer", "each input smaller in one dimension", [f32(1, 4, 1, 8), f32(1, 1, 4, 8)],
        [f32(*S4)], options=("MulOptions", {}))
    one("ADD", "no_options", "no options table", [f32(*S4), f32(*S4)], [f32(*S4)])
    one("MUL", "no_options", "no options table", [f32(*S4), f32(*S4)], [f32(*S4)])
    one("ADD_N", "two", "two inputs", [f32(*S4), f32(*S4)], [f32(*S4)])
    one("ADD_N", "three", "three inputs", [f32(*S4), f32(*S4), f32(*S4)], [f32(*S4)])
    for op in ("LESS", "GREATER", "EQUAL", "NOT_EQUAL"):
        one(op, "alone", "bool output feeding nothing", [f32(*S4), f32(*S4)], [b8(*S4)])
    one("LOGICAL_AND", "bool", "bool inputs", [b8(*S4), b8(*S4)], [b8(*S4)])
    # A comparison feeding SELECT_V2: the pattern the delegate takes.
    case("LESS", "into_select", "LESS feeding SELECT_V2", lambda: model(
        [Op("LESS", [0, 1], [2]), Op("SELECT_V2", [2, 0, 1], [3])],
        [f32(*S4), f32(*S4), b8(*S4), f32(*S4)], [0, 1], [3]))
    case("LESS", "into_cast", "LESS feeding CAST to float32", lambda: model(
        [Op("LESS", [0, 1], [2]), Op("CAST", [2], [3])],
        [f32(*S4), f32(*S4), b8(*S4), f32(*S4)], [0, 1], [3]))


def _conv_cases() -> None:
    conv = ("Conv2DOptions", CONV)
    one("CONV_2D", "f32", "float32, constant weights and bias",
        [f32(*S4), weights(16, 3, 3, 8), weights(16)], [f32(1, 4, 4, 16)], options=conv)
    one("CONV_2D", "runtime_weights", "run-time weights",
        [f32(*S4), f32(16, 3, 3, 8), weights(16)], [f32(1, 4, 4, 16)], options=conv)
    one("CONV_2D", "three_runtime", "run-time weights and bias",
        [f32(*S4), f32(16, 3, 3, 8), f32(16)], [f32(1, 4, 4, 16)], options=conv)
    one("CONV_2D", "qs8", "int8 per-channel",
        [qs8(S4), int8_weights([16, 3, 3, 8], channels=16), bias32([16], 0.001, 16)],
        [qs8([1, 4, 4, 16])], options=conv, version=3)
    one("CONV_2D", "stride0", "stride 0", [f32(*S4), weights(16, 3, 3, 8), weights(16)],
        [f32(1, 4, 4, 16)], options=("Conv2DOptions", {**CONV, "strideW": 0}))
    one("CONV_2D", "dilation0", "dilation 0", [f32(*S4), weights(16, 3, 3, 8), weights(16)],
        [f32(1, 4, 4, 16)], options=("Conv2DOptions", {**CONV, "dilationHFactor": 0}))
    one("CONV_2D", "sign_bit", "fused SIGN_BIT", [f32(*S4), weights(16, 3, 3, 8), weights(16)],
        [f32(1, 4, 4, 16)], options=("Conv2DOptions", {**CONV,
                                                       "fusedActivationFunction": "SIGN_BIT"}))
    one("CONV_2D", "version7", "op version 7", [f32(*S4), weights(16, 3, 3, 8), weights(16)],
        [f32(1, 4, 4, 16)], options=conv, version=7)
    case("CONV_2D", "fp16_weights", "float16 weights and bias behind DEQUANTIZE", lambda: model(
        [Op("DEQUANTIZE", [1], [2]), Op("DEQUANTIZE", [3], [4]),
         Op("CONV_2D", [0, 2, 4], [5], ("Conv2DOptions", CONV))],
        [f32(*S4), half_weights(16, 3, 3, 8), f32(16, 3, 3, 8), half_weights(16), f32(16),
         f32(1, 4, 4, 16)], [0], [5]))
    dw = ("DepthwiseConv2DOptions", DEPTHWISE)
    one("DEPTHWISE_CONV_2D", "f32", "float32", [f32(*S4), weights(1, 3, 3, 8), weights(8)],
        [f32(*S4)], options=dw)
    one("DEPTHWISE_CONV_2D", "multiplier2", "depth multiplier 2 on 8 channels",
        [f32(*S4), weights(1, 3, 3, 16), weights(16)], [f32(1, 4, 4, 16)],
        options=("DepthwiseConv2DOptions", {**DEPTHWISE, "depthMultiplier": 2}))
    one("DEPTHWISE_CONV_2D", "multiplier2_c1", "depth multiplier 2 on 1 channel",
        [f32(1, 4, 4, 1), weights(1, 3, 3, 2), weights(2)], [f32(1, 4, 4, 2)],
        options=("DepthwiseConv2DOptions", {**DEPTHWISE, "depthMultiplier": 2}))
    one("DEPTHWISE_CONV_2D", "bias_size", "bias size not the output channels",
        [f32(*S4), weights(1, 3, 3, 8), weights(4)], [f32(*S4)], options=dw)
    one("DEPTHWISE_CONV_2D", "rank3", "3-D input", [f32(4, 4, 8), weights(1, 3, 3, 8),
                                                    weights(8)], [f32(4, 4, 8)], options=dw)
    one("DEPTHWISE_CONV_2D", "qs8", "int8 per-channel",
        [qs8(S4), int8_weights([1, 3, 3, 8], channels=8, axis=3), bias32([8], 0.001, 8)],
        [qs8(S4)], options=dw, version=3)
    one("TRANSPOSE_CONV", "f32", "float32",
        [ints(1, 8, 8, 4), weights(4, 3, 3, 8), f32(*S4)], [f32(1, 8, 8, 4)],
        options=("TransposeConvOptions", {"padding": "SAME", "strideW": 2, "strideH": 2}))
    one("TRANSPOSE_CONV", "stride0", "stride 0",
        [ints(1, 8, 8, 4), weights(4, 3, 3, 8), f32(*S4)], [f32(1, 8, 8, 4)],
        options=("TransposeConvOptions", {"padding": "SAME", "strideW": 0, "strideH": 2}))
    one("TRANSPOSE_CONV", "version4", "op version 4",
        [ints(1, 8, 8, 4), weights(4, 3, 3, 8), f32(*S4)], [f32(1, 8, 8, 4)],
        options=("TransposeConvOptions", {"padding": "SAME", "strideW": 2, "strideH": 2}),
        version=4)
    fc = ("FullyConnectedOptions", {})
    one("FULLY_CONNECTED", "f32", "float32", [f32(1, 8), weights(4, 8), weights(4)], [f32(1, 4)],
        options=fc)
    one("FULLY_CONNECTED", "const_input", "constant input",
        [weights(1, 8), f32(4, 8), weights(4)], [f32(1, 4)], options=fc)
    one("FULLY_CONNECTED", "three_runtime", "run-time weights and bias",
        [f32(1, 8), f32(4, 8), f32(4)], [f32(1, 4)], options=fc)
    one("FULLY_CONNECTED", "shuffled", "shuffled weights format",
        [f32(1, 8), weights(4, 8), weights(4)], [f32(1, 4)],
        options=("FullyConnectedOptions", {"weightsFormat": 1}))
    one("FULLY_CONNECTED", "keep_dims_bad", "keep_num_dims with a different output rank",
        [f32(1, 2, 8), weights(4, 8), weights(4)], [f32(2, 4)],
        options=("FullyConnectedOptions", {"keepNumDims": True}))
    one("FULLY_CONNECTED", "qs8", "int8", [qs8([1, 8]), int8_weights([4, 8]),
                                           bias32([4], 0.001)], [qs8([1, 4])],
        options=fc, version=4)
    one("FULLY_CONNECTED", "version10", "op version 10", [f32(1, 8), weights(4, 8), weights(4)],
        [f32(1, 4)], options=fc, version=10)
    one("FULLY_CONNECTED", "rank5", "5-D input",
        [f32(1, 1, 1, 2, 8), weights(4, 8), weights(4)], [f32(1, 1, 1, 2, 4)],
        options=("FullyConnectedOptions", {"keepNumDims": True}))
    case("FULLY_CONNECTED", "fp16_weights", "float16 weights and bias behind DEQUANTIZE",
         lambda: model([Op("DEQUANTIZE", [1], [2]), Op("DEQUANTIZE", [3], [4]),
                        Op("FULLY_CONNECTED", [0, 2, 4], [5], fc)],
                       [f32(1, 8), half_weights(4, 8), f32(4, 8), half_weights(4), f32(4),
                        f32(1, 4)], [0], [5]))
    one("BATCH_MATMUL", "f32", "two run-time inputs", [f32(1, 4, 8), f32(1, 8, 4)],
        [f32(1, 4, 4)])
    one("BATCH_MATMUL", "const_rhs_3d", "3-D constant right-hand side",
        [f32(1, 4, 8), weights(1, 8, 4)], [f32(1, 4, 4)])
    one("BATCH_MATMUL", "const_rhs_2d", "2-D constant right-hand side",
        [f32(1, 4, 8), weights(8, 4)], [f32(1, 4, 4)])


def _pool_and_shape_cases() -> None:
    pool = ("Pool2DOptions", POOL)
    for op in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        one(op, "f32", "float32", [f32(*S4)], [f32(1, 2, 2, 8)], options=pool)
        one(op, "qs8", "int8", [qs8(S4)], [qs8([1, 2, 2, 8])], options=pool, version=2)
        one(op, "filter0", "filter width 0", [f32(*S4)], [f32(1, 2, 2, 8)],
            options=("Pool2DOptions", {**POOL, "filterWidth": 0}))
        one(op, "sign_bit", "fused SIGN_BIT", [f32(*S4)], [f32(1, 2, 2, 8)],
            options=("Pool2DOptions", {**POOL, "fusedActivationFunction": "SIGN_BIT"}))
        one(op, "version3", "op version 3", [f32(*S4)], [f32(1, 2, 2, 8)], options=pool,
            version=3)
    one("L2_POOL_2D", "f32", "never in the list", [f32(*S4)], [f32(1, 2, 2, 8)], options=pool)
    one("MEAN", "f32", "constant axes", [f32(*S4), ints(1, 2)], [f32(1, 1, 1, 8)],
        options=("ReducerOptions", {"keepDims": True}))
    one("MEAN", "runtime_axes", "run-time axes", [f32(*S4), i32(2)], [f32(1, 1, 1, 8)],
        options=("ReducerOptions", {"keepDims": True}))
    one("MEAN", "i64_axes", "int64 axes", [f32(*S4), const("i64", [2], [1, 2])],
        [f32(1, 1, 1, 8)], options=("ReducerOptions", {"keepDims": True}))
    one("MEAN", "qs8", "int8", [qs8(S4), ints(1, 2)], [qs8([1, 8])],
        options=("ReducerOptions", {"keepDims": False}))
    for op in ("SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD"):
        one(op, "f32", "constant axes", [f32(*S4), ints(1, 2)], [f32(1, 1, 1, 8)],
            options=("ReducerOptions", {"keepDims": True}))
        one(op, "runtime_axes", "run-time axes", [f32(*S4), i32(2)], [f32(1, 1, 1, 8)],
            options=("ReducerOptions", {"keepDims": True}))
    one("SOFTMAX", "f32", "beta 1", [f32(1, 8)], [f32(1, 8)],
        options=("SoftmaxOptions", {"beta": 1.0}))
    one("SOFTMAX", "beta2", "beta 2", [f32(1, 8)], [f32(1, 8)],
        options=("SoftmaxOptions", {"beta": 2.0}))
    one("SOFTMAX", "qs8", "int8", [qs8([1, 8])], [qs8([1, 8], scale=1 / 256, zero_point=-128)],
        options=("SoftmaxOptions", {"beta": 1.0}), version=2)
    one("RESHAPE", "f32", "constant shape", [f32(*S4), ints(1, 16, 8)], [f32(1, 16, 8)])
    one("RESHAPE", "runtime_shape", "run-time shape", [f32(*S4), i32(3)], [f32(1, 16, 8)])
    one("RESHAPE", "no_shape", "no shape input", [f32(*S4)], [f32(1, 16, 8)],
        options=("ReshapeOptions", {"newShape": [1, 16, 8]}))
    one("RESHAPE", "to_rank5", "to 5-D", [f32(*S4), ints(1, 2, 2, 4, 8)], [f32(1, 2, 2, 4, 8)])
    one("RESHAPE", "version2", "op version 2", [f32(*S4), ints(1, 16, 8)], [f32(1, 16, 8)],
        version=2)
    one("CONCATENATION", "f32", "two float32 inputs", [f32(*S4), f32(*S4)], [f32(1, 4, 4, 16)],
        options=("ConcatenationOptions", {"axis": 3}))
    one("CONCATENATION", "const_input", "with a constant input", [f32(*S4), weights(*S4)],
        [f32(1, 4, 4, 16)], options=("ConcatenationOptions", {"axis": 3}))
    one("CONCATENATION", "no_options", "no options table", [f32(*S4), f32(*S4)],
        [f32(1, 4, 4, 16)])
    one("CONCATENATION", "version3", "op version 3", [f32(*S4), f32(*S4)], [f32(1, 4, 4, 16)],
        options=("ConcatenationOptions", {"axis": 3}), version=3)
    one("CONCATENATION", "i32", "int32 run-time inputs", [i32(1, 4), i32(1, 4)], [i32(1, 8)],
        options=("ConcatenationOptions", {"axis": 1}))
    for op, cls in (("PAD", "PadOptions"), ("PADV2", "PadV2Options")):
        extra = [const("f32", [], 0.0)] if op == "PADV2" else []
        one(op, "f32", "4x2 paddings", [f32(*S4), const("i32", [4, 2], [0] * 2 + [1] * 6),
                                        *extra], [f32(1, 6, 6, 10)], options=(cls, {}))
        one(op, "rank2", "2x2 paddings on a 2-D tensor",
            [f32(4, 8), const("i32", [2, 2], [1] * 4), *extra], [f32(6, 10)], options=(cls, {}))
        one(op, "runtime_paddings", "run-time paddings", [f32(*S4), i32(4, 2), *extra],
            [f32(1, 6, 6, 10)], options=(cls, {}))
    one("MIRROR_PAD", "reflect", "REFLECT", [f32(*S4), const("i32", [4, 2], [0] * 2 + [1] * 6)],
        [f32(1, 6, 6, 10)], options=("MirrorPadOptions", {"mode": 0}))
    one("MIRROR_PAD", "symmetric", "SYMMETRIC",
        [f32(*S4), const("i32", [4, 2], [0] * 2 + [1] * 6)], [f32(1, 6, 6, 10)],
        options=("MirrorPadOptions", {"mode": 1}))
    one("SLICE", "f32", "4-D", [f32(*S4), ints(0, 0, 0, 0), ints(1, 2, 2, 8)], [f32(1, 2, 2, 8)])
    one("SLICE", "rank2", "2-D", [f32(4, 8), ints(0, 0), ints(2, 8)], [f32(2, 8)])
    ss = {"beginMask": 0, "endMask": 0, "ellipsisMask": 0, "newAxisMask": 0,
          "shrinkAxisMask": 0}
    sso = ("StridedSliceOptions", ss)
    one("STRIDED_SLICE", "f32", "4-D", [f32(*S4), ints(0, 0, 0, 0), ints(1, 2, 2, 8),
                                       ints(1, 1, 1, 1)], [f32(1, 2, 2, 8)], options=sso)
    one("STRIDED_SLICE", "rank2", "2-D", [f32(4, 8), ints(0, 0), ints(2, 8), ints(1, 1)],
        [f32(2, 8)], options=sso)
    one("STRIDED_SLICE", "shrink", "shrink_axis_mask",
        [f32(*S4), ints(0, 0, 0, 0), ints(1, 2, 2, 8), ints(1, 1, 1, 1)], [f32(2, 2, 8)],
        options=("StridedSliceOptions", {**ss, "shrinkAxisMask": 1}))
    one("STRIDED_SLICE", "reverse", "negative strides",
        [f32(*S4), ints(0, 3, 0, 0), ints(1, 0, 4, 8), ints(1, -1, 1, 1)], [f32(1, 3, 4, 8)],
        options=sso)
    one("TRANSPOSE", "f32", "4-D", [f32(*S4), ints(0, 2, 1, 3)], [f32(1, 4, 4, 8)])
    one("TRANSPOSE", "runtime_perm", "run-time perm", [f32(*S4), i32(4)], [f32(1, 4, 4, 8)])
    one("TRANSPOSE", "rank5", "5-D", [f32(1, 2, 2, 2, 8), ints(0, 2, 1, 3, 4)],
        [f32(1, 2, 2, 2, 8)])
    one("TILE", "f32", "constant multiples", [f32(*S4), ints(1, 2, 1, 1)], [f32(1, 8, 4, 8)])
    one("TILE", "runtime_multiples", "run-time multiples", [f32(*S4), i32(4)], [f32(1, 8, 4, 8)])
    for op, cls in (("DEPTH_TO_SPACE", "DepthToSpaceOptions"),
                    ("SPACE_TO_DEPTH", "SpaceToDepthOptions")):
        out = [f32(1, 8, 8, 2)] if op == "DEPTH_TO_SPACE" else [f32(1, 2, 2, 32)]
        one(op, "block2", "block size 2", [f32(*S4)], out, options=(cls, {"blockSize": 2}))
        one(op, "block1", "block size 1", [f32(*S4)], [f32(*S4)], options=(cls, {"blockSize": 1}))
    for op, cls in (("RESIZE_BILINEAR", "ResizeBilinearOptions"),
                    ("RESIZE_NEAREST_NEIGHBOR", "ResizeNearestNeighborOptions")):
        one(op, "f32", "constant size", [f32(*S4), ints(8, 8)], [f32(1, 8, 8, 8)],
            options=(cls, {}))
        one(op, "runtime_size", "run-time size", [f32(*S4), i32(2)], [f32(1, 8, 8, 8)],
            options=(cls, {}))
        one(op, "version4", "op version 4", [f32(*S4), ints(8, 8)], [f32(1, 8, 8, 8)],
            options=(cls, {}), version=4)
    one("RESIZE_BILINEAR", "both_flags", "align_corners with half_pixel_centers",
        [f32(*S4), ints(8, 8)], [f32(1, 8, 8, 8)],
        options=("ResizeBilinearOptions", {"alignCorners": True, "halfPixelCenters": True}))
    one("SPLIT", "f32", "constant axis", [ints(3), f32(*S4)], [f32(*S4[:3], 4), f32(*S4[:3], 4)],
        options=("SplitOptions", {"numSplits": 2}))
    one("SPLIT_V", "f32", "constant sizes", [f32(*S4), ints(4, 4), ints(3)],
        [f32(*S4[:3], 4), f32(*S4[:3], 4)], options=("SplitVOptions", {"numSplits": 2}))
    one("PACK", "f32", "two inputs", [f32(4, 8), f32(4, 8)], [f32(2, 4, 8)],
        options=("PackOptions", {"valuesCount": 2, "axis": 0}))
    one("UNPACK", "f32", "two outputs", [f32(2, 4, 8)], [f32(4, 8), f32(4, 8)],
        options=("UnpackOptions", {"num": 2, "axis": 0}))
    one("SQUEEZE", "f32", "not in the list", [f32(1, 4, 1, 8)], [f32(4, 8)])
    one("EXPAND_DIMS", "f32", "not in the list", [f32(4, 8), ints(0)], [f32(1, 4, 8)])
    one("GATHER", "f32", "float32 params, constant int32 indices", [f32(4, 8), ints(0, 2)],
        [f32(2, 8)], options=("GatherOptions", {"axis": 0}))
    one("GATHER", "runtime_indices", "run-time int32 indices", [f32(4, 8), i32(2)], [f32(2, 8)],
        options=("GatherOptions", {"axis": 0}))
    one("GATHER", "i32_params", "int32 params", [i32(4, 8), ints(0, 2)], [i32(2, 8)],
        options=("GatherOptions", {"axis": 0}))
    one("GATHER", "indices_2d", "2-D indices", [f32(4, 8), const("i32", [1, 2], [0, 2])],
        [f32(1, 2, 8)], options=("GatherOptions", {"axis": 0}))
    one("GATHER", "i64_indices", "int64 indices", [f32(4, 8), const("i64", [2], [0, 2])],
        [f32(2, 8)], options=("GatherOptions", {"axis": 0}))
    one("CAST", "f32_to_i32", "float32 to int32", [f32(*S4)], [i32(*S4)])
    one("CAST", "i32_to_f32", "int32 to float32", [i32(*S4)], [f32(*S4)])
    one("CAST", "f32_to_bool", "float32 to bool", [f32(*S4)], [b8(*S4)])
    one("CAST", "u8_to_f32", "uint8 to float32", [Spec("u8", S4)], [f32(*S4)])
    one("CAST", "bool_to_f32", "bool graph input to float32", [b8(*S4)], [f32(*S4)])
    one("SELECT_V2", "f32", "bool condition, float32 values", [b8(*S4), f32(*S4), f32(*S4)],
        [f32(*S4)])
    one("SELECT_V2", "scalar_else", "constant scalar else", [b8(*S4), f32(*S4),
                                                            const("f32", [], 0.0)], [f32(*S4)])
    one("SELECT_V2", "i32_values", "int32 values", [b8(*S4), i32(*S4), i32(*S4)], [i32(*S4)])
    one("SELECT_V2", "bcast_values", "broadcast [4,8] values", [b8(*S4), f32(4, 8), f32(*S4)],
        [f32(*S4)])
    one("SELECT", "f32", "SELECT with bool condition", [b8(*S4), f32(*S4), f32(*S4)],
        [f32(*S4)])
    one("CUMSUM", "f32", "constant axis", [f32(*S4), const("i32", [], 3)], [f32(*S4)],
        options=("CumsumOptions", {}))
    one("CUMSUM", "runtime_axis", "run-time axis", [f32(*S4), i32()], [f32(*S4)],
        options=("CumsumOptions", {}))
    one("ONE_HOT", "f32", "int32 indices, scalar float on/off",
        [i32(1, 1, 1, 4), const("i32", [], 8), const("f32", [], 1.0), const("f32", [], 0.0)],
        [f32(1, 1, 1, 4, 8)], options=("OneHotOptions", {"axis": -1}))
    one("ONE_HOT", "f32_indices", "float32 indices",
        [f32(1, 4), const("i32", [], 8), const("f32", [], 1.0), const("f32", [], 0.0)],
        [f32(1, 4, 8)], options=("OneHotOptions", {"axis": -1}))
    one("QUANTIZE", "f32_to_qs8", "float32 to int8", [f32(*S4)], [qs8(S4)])
    one("QUANTIZE", "version3", "op version 3", [f32(*S4)], [qs8(S4)], version=3)
    one("DEQUANTIZE", "qs8_runtime", "run-time int8 input", [qs8(S4)], [f32(*S4)], version=2)
    one("DEQUANTIZE", "qs16", "int16 input", [Spec("i16", S4, scale=[0.01], zero_point=[0])],
        [f32(*S4)], version=4)
    one("DEQUANTIZE", "fp16_alone", "float16 constant feeding the output", [half_weights(*S4)],
        [f32(*S4)], version=3)
    for op in ("ARG_MAX", "WHERE", "FILL", "SHAPE", "BROADCAST_TO", "REVERSE_V2", "TOPK_V2",
               "ZEROS_LIKE"):
        args = {"ARG_MAX": ([f32(1, 8), const("i32", [], 1)], [i32(1)]),
                "WHERE": ([b8(1, 8)], [Spec("i64", [8, 2])]),
                "FILL": ([ints(1, 8), const("f32", [], 1.0)], [f32(1, 8)]),
                "SHAPE": ([f32(*S4)], [i32(4)]),
                "BROADCAST_TO": ([f32(1, 8), ints(4, 8)], [f32(4, 8)]),
                "REVERSE_V2": ([f32(1, 8), ints(1)], [f32(1, 8)]),
                "TOPK_V2": ([f32(1, 8), const("i32", [], 2)], [f32(1, 2), i32(1, 2)]),
                "ZEROS_LIKE": ([f32(1, 8)], [f32(1, 8)])}[op]
        one(op, "f32", "not in the list", *args)
    for code in ("Convolution2DTransposeBias", "MaxPoolingWithArgmax2D", "Resampler",
                 "SomethingElse"):
        ins = ([f32(*S4), f32(1, 4, 4, 2)] if code == "Resampler"
               else [f32(*S4), weights(4, 3, 3, 8), weights(4)])
        outs = [f32(*S4), f32(*S4)] if code == "MaxPoolingWithArgmax2D" else [f32(*S4)]
        if code == "MaxPoolingWithArgmax2D":
            ins = [f32(*S4)]
        one("CUSTOM", code.lower(), f"custom op {code}", ins, outs, custom=code)


def _register_cases() -> None:
    _elementwise_cases()
    _conv_cases()
    _pool_and_shape_cases()


_register_cases()


# ---------------------------------------------------------------------------
# Generation and checking.
# ---------------------------------------------------------------------------


def fixture_models() -> list[Path]:
    """Every .tflite under fixtures/ but the probe sets of the targets (this one's included),
    which change with their own scripts; XNNPACK's one-op probes are kept."""
    fixtures = ROOT / "fixtures"
    return sorted(p for p in fixtures.rglob("*.tflite")
                  if not is_target_probe(p.relative_to(fixtures).parts[0]))


def is_target_probe(folder: str) -> bool:
    return folder.startswith("probe_")


def zoo_models() -> list[Path]:
    return sorted(ZOO.glob("*.tflite")) if ZOO.is_dir() else []


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def key_of(path: Path) -> str:
    """The manifest key: the path relative to the root (zoo models by their file name)."""
    if ZOO in path.parents:
        return f"zoo/{path.name}"
    return path.resolve().relative_to(ROOT).as_posix()


def path_of(key: str) -> Path:
    return ZOO / key.removeprefix("zoo/") if key.startswith("zoo/") else ROOT / key


def generate(out: Path) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.tflite"):
        stale.unlink()
    probes = []
    for probe in CASES.values():
        path = out / f"{probe.name}.tflite"
        path.write_bytes(probe.make())
        probes.append(path)
    paths = probes + fixture_models() + zoo_models()
    reports = checker_reports(paths)
    models: dict[str, Any] = {}
    for path in paths:
        entry: dict[str, Any] = {"kind": ("probe" if path in probes else
                                          "zoo" if ZOO in path.parents else "fixture")}
        if path in probes:
            probe = CASES[path.stem]
            entry.update(op=probe.op, variant=probe.variant)
        else:
            entry["sha256"] = sha256(path)
        entry["checker"] = checker_entry(reports[path])
        models[key_of(path)] = entry
    manifest = {"checker": f"tensorflow-cpu {CHECKER_VERSION} "
                           "tf.lite.experimental.Analyzer.analyze(gpu_compatibility=True)",
                "models": models}
    (out / MANIFEST.name).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n",
                                     encoding="utf-8")
    return manifest


def present(manifest: dict[str, Any]) -> dict[str, Path]:
    """The manifest's models that are on disk, unchanged since they were measured."""
    found = {}
    for key, entry in manifest["models"].items():
        path = path_of(key)
        if path.is_file() and ("sha256" not in entry or sha256(path) == entry["sha256"]):
            found[key] = path
    return found


def check(manifest: dict[str, Any], remeasure: bool) -> int:
    paths = present(manifest)
    predicted = predictions(list(paths.values()))
    missed: list[str] = []
    extra: Counter[str] = Counter()
    flagged = ops = 0
    for key, path in paths.items():
        verdict = compare(manifest["models"][key]["checker"], predicted[path])
        ops += verdict["ops"]
        flagged += verdict["flagged"]
        missed += [f"{key}: {m}" for m in verdict["missed"]]
        extra.update(f"{e['op']}: {reason_kind(e['reason'])}" for e in verdict["extra"])
    drift: list[str] = []
    if remeasure:
        reports = checker_reports(list(paths.values()))
        drift = [key for key, path in paths.items()
                 if checker_entry(reports[path]) != manifest["models"][key]["checker"]]
    for line in missed:
        print(f"missed: {line}")
    for key in drift:
        print(f"{key}: the checker changed since the manifest was written")
    print(f"{len(paths)} models, {ops} ops, {flagged} flagged by the checker: "
          f"{flagged - len(missed)} predicted ({len(missed)} missed); "
          f"{sum(extra.values())} more flagged by tflint")
    for reason, count in extra.most_common():
        print(f"  {count:5d}  {reason}")
    return 1 if missed or drift else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="compare tflint's prediction with the manifest")
    parser.add_argument("--remeasure", action="store_true",
                        help="with --check: run the checker again and compare it with the manifest")
    parser.add_argument("--out", type=Path, default=PROBE_DIR)
    args = parser.parse_args(argv)
    if args.check:
        manifest = json.loads((args.out / MANIFEST.name).read_text(encoding="utf-8"))
        return check(manifest, args.remeasure)
    manifest = generate(args.out)
    counts = Counter("error" if "error" in e["checker"] else "ok"
                     for e in manifest["models"].values())
    print(f"wrote {len(manifest['models'])} models to {args.out / MANIFEST.name}: {dict(counts)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
