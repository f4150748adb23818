"""Time the fusion rules (TFL401-TFL411) on synthetic models of growing size.

Usage::

    python bench/bench_fusion.py [--sizes 100 1000 10000] [--repeats 3]

Each model is a chain of blocks written with the flatbuffers builder of
``fixtures/generate_fusion.py``; every block holds one instance of each
pattern the rules look for (an unfused RELU, an unfolded batch norm, the
expanded hard-swish, leaky ReLU, GELU, LayerNorm and SiLU, a cancelling
transpose pair, a reshape chain, a quantize round trip and an identity ADD)
plus ops that match nothing, and the chain is topped up with TANH ops to the
exact size.  The script loads each model once, then runs every fusion rule
on it as the engine does (one shared analysis cache per file), keeps the best
CPU time of ``--repeats`` runs, and prints the time per op: constant per-op
times across sizes show that matching is linear in the number of ops.
Constant values are read from the file once per model and cached, so the
best run measures the matching itself.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHAPE = (1, 4, 4, 2)
NONE = {"fusedActivationFunction": "NONE"}


def flat_model_class() -> Any:
    """``FlatModel`` from the fixture generator (a script, not a package)."""
    spec = importlib.util.spec_from_file_location("generate_fusion",
                                                  ROOT / "fixtures" / "generate_fusion.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def block(gen: Any, model: Any, x: int, i: int) -> int:
    """One instance of every pattern, chained: returns the block's output tensor."""
    c = {name: model.const(f"b{i}/{name}", value) for name, value in (
        ("three", 3.0), ("sixth", 1 / 6), ("slope", 0.2), ("half", 0.5), ("one", 1.0),
        ("cubic", 0.044715), ("s", 0.7978845608), ("eps", 1e-3), ("zero", 0.0),
        ("scale", [0.5, 2.0]), ("offset", [0.1, -0.1]))}
    perm_in = model.const("perm_in", [0, 3, 1, 2], "INT32")
    perm_out = model.const("perm_out", [0, 2, 3, 1], "INT32")
    axis = model.const("axis", [3], "INT32")
    flat_shape = model.const("flat_shape", [1, 32], "INT32")
    image_shape = model.const("image_shape", list(SHAPE), "INT32")
    names = iter(range(10_000))

    def op(op_type: str, *inputs: int, shape: tuple[int, ...] = SHAPE, **options: Any) -> int:
        if op_type in ("ADD", "SUB", "MUL", "DIV") and "fusedActivationFunction" not in options:
            options.update(NONE)
        return model.op(op_type, list(inputs), f"b{i}/{op_type.lower()}_{next(names)}", shape,
                        **options)

    x = op("RELU", gen.conv(model, x, f"b{i}/conv"))                                 # TFL401
    x = op("ADD", op("MUL", gen.conv(model, x, f"b{i}/bn_conv"), c["scale"]),
           c["offset"])                                                              # TFL402
    hs = op("ADD", x, c["three"], fusedActivationFunction="RELU6")
    x = op("MUL", op("MUL", hs, x), c["sixth"])                                      # TFL403
    x = op("MAXIMUM", x, op("MUL", x, c["slope"]))                                   # TFL404
    cube = op("MUL", op("MUL", op("MUL", x, c["cubic"]), x), x)
    tanh = op("TANH", op("MUL", op("ADD", x, cube), c["s"]))
    x = op("MUL", op("MUL", x, c["half"]), op("ADD", tanh, c["one"]))               # TFL405
    mean = op("MEAN", x, axis, shape=(1, 4, 4, 1), keepDims=True)
    variance = op("MEAN", op("SQUARED_DIFFERENCE", x, mean), axis, shape=(1, 4, 4, 1),
                  keepDims=True)
    inverse = op("RSQRT", op("ADD", variance, c["eps"], shape=(1, 4, 4, 1)), shape=(1, 4, 4, 1))
    x = op("MUL", op("SUB", x, mean), inverse)                                       # TFL406
    x = op("DIV", x, op("ADD", op("EXP", op("NEG", x)), c["one"]))                   # TFL407
    nchw = op("SIN", op("TRANSPOSE", x, perm_in, shape=(1, 2, 4, 4)), shape=(1, 2, 4, 4))
    x = op("TRANSPOSE", nchw, perm_out)                                              # TFL408
    x = op("RESHAPE", op("RESHAPE", x, flat_shape, shape=(1, 32)), image_shape)     # TFL409
    quantized = model.op("QUANTIZE", [x], f"b{i}/quantize", SHAPE, "INT8", (0.05, 0))
    x = op("DEQUANTIZE", quantized)                                                  # TFL410
    x = op("ADD", x, c["zero"])                                                      # TFL411
    return gen.conv(model, x, f"b{i}/clean_conv", activation="RELU")                # nothing


def build(ops: int) -> bytes:
    gen = flat_model_class()
    probe = gen.FlatModel("probe")
    block(gen, probe, probe.tensor("x", SHAPE), 0)
    per_block = len(probe.operators)
    model = gen.FlatModel(f"{ops} ops of fusion patterns (bench/bench_fusion.py)")
    x = first = model.tensor("input", SHAPE)
    for i in range(ops // per_block):
        x = block(gen, model, x, i)
    while len(model.operators) < ops:
        x = model.op("TANH", [x], f"pad/tanh_{len(model.operators)}", SHAPE)
    return model.finish([first], [x])


def best_of(repeats: int, run: Callable[[], Any]) -> tuple[float, Any]:
    """Best CPU time of this process: other processes on a shared machine count less."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.process_time()
        result = run()
        best = min(best, time.process_time() - start)
    return best, result


def bench(sizes: list[int], repeats: int) -> None:
    sys.path.insert(0, str(ROOT))
    from tflint.loaders.tflite import load_tflite
    from tflint.registry import load_rules
    from tflint.rule import RuleContext

    rules = [r for r in load_rules() if r.category == "fusion" and "tflite" in r.file_kinds]
    print(f"{'ops':>6} {'load ms':>8} " + " ".join(f"{r.code:>7}" for r in rules)
          + f" {'all':>7} {'found':>6}   (rule times in microseconds per op)")
    with tempfile.TemporaryDirectory() as folder:
        for size in sizes:
            path = Path(folder) / f"fusion_{size}.tflite"
            path.write_bytes(build(size))
            load, graph = best_of(repeats, lambda p=path: load_tflite(str(p)))
            assert len(graph) == size, (len(graph), size)

            def run_all(rule_list: list[Any], g: Any = graph) -> int:
                shared: dict[Any, Any] = {}
                found = 0
                for rule in rule_list:
                    ctx = RuleContext(graph=g, rule=rule, target="xnnpack", options={},
                                      shared=shared)
                    found += len(list(rule().check(ctx)))
                return found

            per_rule = [best_of(repeats, lambda r=rule: run_all([r]))[0] for rule in rules]
            total, found = best_of(repeats, lambda: run_all(rules))
            cells = " ".join(f"{t / size * 1e6:7.1f}" for t in per_rule)
            print(f"{size:>6} {load * 1000:8.1f} {cells} {total / size * 1e6:7.1f} {found:>6}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10_000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    bench(args.sizes, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
