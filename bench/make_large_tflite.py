"""Write large ``.tflite`` models to time the TFLite loader on.

Usage::

    python bench/make_large_tflite.py OUT.tflite [--ops 10000] [--time]
    python bench/make_large_tflite.py OUT.tflite --efficientnet [--time]

The default model is a chain of ``--ops`` ADD operators, each adding its own
64-float constant, written directly with the FlatBuffers builder of the
LiteRT schema module (converting such a graph with TensorFlow takes
minutes).  ``--efficientnet`` converts an untrained Keras EfficientNetB0
instead (about 5 M parameters, 20 MB), which needs TensorFlow.  ``--time``
then loads the file with tflint a few times and prints the best time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

WIDTH = 64


def chain_of_adds(ops: int, cpu_every: int = 0) -> bytes:
    """A chain of ADDs; with ``cpu_every`` = k, every k-th op is a FLOOR_MOD instead
    (an op no delegate takes), so the chain splits into partitions."""
    import flatbuffers
    import numpy as np
    from ai_edge_litert import schema_py_generated as schema

    def tensor(name: str, buffer: int) -> Any:
        t = schema.TensorT()
        t.name = name
        t.shape = [1, WIDTH] if buffer == 0 else [WIDTH]
        t.type = schema.TensorType.FLOAT32
        t.buffer = buffer
        t.hasRank = True
        return t

    model = schema.ModelT()
    model.version = 3
    model.description = f"{ops} chained ADD operators"
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.ADD
    code.version = 1
    cpu_code = schema.OperatorCodeT()
    cpu_code.builtinCode = cpu_code.deprecatedBuiltinCode = schema.BuiltinOperator.FLOOR_MOD
    cpu_code.version = 1
    model.operatorCodes = [code, cpu_code]

    empty = schema.BufferT()
    version = schema.BufferT()
    version.data = np.frombuffer(b"1.14.0\0", dtype=np.uint8)
    model.buffers = [empty, version]
    tensors = [tensor("input", 0)]
    operators = []
    rng = np.random.default_rng(0)
    for i in range(ops):
        const = schema.BufferT()
        const.data = rng.standard_normal(WIDTH).astype(np.float32).view(np.uint8)
        model.buffers.append(const)
        tensors.append(tensor(f"chain/const_{i}", len(model.buffers) - 1))
        tensors.append(tensor(f"chain/add_{i}", 0))
        op = schema.OperatorT()
        op.inputs = [len(tensors) - 3 if i else 0, len(tensors) - 2]
        op.outputs = [len(tensors) - 1]
        if cpu_every and i % cpu_every == cpu_every - 1:
            op.opcodeIndex = 1
        else:
            op.opcodeIndex = 0
            op.builtinOptionsType = schema.BuiltinOptions.AddOptions
            op.builtinOptions = schema.AddOptionsT()
        operators.append(op)

    subgraph = schema.SubGraphT()
    subgraph.name = "main"
    subgraph.tensors = tensors
    subgraph.operators = operators
    subgraph.inputs = [0]
    subgraph.outputs = [len(tensors) - 1]
    model.subgraphs = [subgraph]
    metadata = schema.MetadataT()
    metadata.name = "min_runtime_version"
    metadata.buffer = 1
    model.metadata = [metadata]

    builder = flatbuffers.Builder(1 << 20)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def efficientnet() -> bytes:
    import tensorflow as tf

    model = tf.keras.applications.EfficientNetB0(weights=None, input_shape=(224, 224, 3))
    return tf.lite.TFLiteConverter.from_keras_model(model).convert()


def time_load(path: Path, repeats: int = 5) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tflint.loaders.tflite import load_tflite

    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        graph = load_tflite(str(path))
        best = min(best, time.perf_counter() - start)
    tensors = sum(s["tensors"] for s in graph.facts["tflite"]["subgraphs"])
    print(
        f"{path.name}: {path.stat().st_size / 1e6:.1f} MB, {len(graph)} ops, "
        f"{tensors} tensors: best load {best * 1000:.0f} ms of {repeats}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--ops", type=int, default=10_000)
    parser.add_argument("--efficientnet", action="store_true")
    parser.add_argument("--time", action="store_true", help="time loading it with tflint")
    args = parser.parse_args()

    data = efficientnet() if args.efficientnet else chain_of_adds(args.ops)
    args.out.write_bytes(data)
    print(f"wrote {args.out} ({len(data)} bytes)")
    if args.time:
        time_load(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
