"""Generate ``tflint/data/function_lowering.json``: what each tensor function becomes in TFLite.

tflint reads the code of a ``Lambda`` (its bytecode) or of a custom layer's
``call()`` (its source) as a small dataflow program of tensor functions
(:mod:`tflint.dataflow`).  What the converter makes of each of those functions,
and which of the resulting ops the XNNPACK delegate takes, is measured here:
for every sample below (a function with its operand form: ``t`` a run-time
tensor, ``c`` a constant, ``l`` a list holding run-time values, ``s`` a run-time
shape value) a Keras 3 model ``Input -> Lambda(expression)`` is converted with
``tf.lite.TFLiteConverter.from_keras_model`` (builtins only, then
``SELECT_TF_OPS``) and run in ``ai_edge_litert`` with the default XNNPACK
delegate, for float32 and int32 inputs where the function takes both, with a
static batch of 1 and a dynamic batch.  The ops of the operands' own
computation (``base``, measured alone) are subtracted, leaving the ops the
function adds.  The measuring helpers are those of
``scripts/generate_lowering_table.py``.

Usage::

    python scripts/generate_function_lowering.py             # rewrite the table (~5 min)
    python scripts/generate_function_lowering.py --check --only where/ttt/float32
    python scripts/generate_function_lowering.py --list
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from generate_lowering_table import (  # noqa: E402
    Measurer,
    observed_delegation,
    subtract,
    versions,
)

OUTPUT = ROOT / "tflint" / "data" / "function_lowering.json"
SHAPE = (8, 8, 4)
FLOAT, BOTH = ("float32",), ("float32", "int32")
LOWERING_KEYS = ("ops", "delegated", "deps", "flex_ops", "converts_builtin")


@dataclass(frozen=True)
class Sample:
    function: str
    form: str
    expression: str
    dtypes: tuple[str, ...]
    #: Expressions computing the operands, whose ops are not the function's.
    base: tuple[str, ...] = ()

    def id(self, dtype: str) -> str:
        return f"{self.function}/{self.form}/{dtype}"


def _samples() -> list[Sample]:
    unary_float = {
        "relu": "tf.nn.relu(x)", "relu6": "tf.nn.relu6(x)", "sigmoid": "tf.sigmoid(x)",
        "tanh": "tf.tanh(x)", "exp": "tf.exp(x)", "log": "tf.math.log(x)",
        "sqrt": "tf.sqrt(x)", "rsqrt": "tf.math.rsqrt(x)", "softplus": "tf.nn.softplus(x)",
        "elu": "tf.nn.elu(x)", "selu": "tf.nn.selu(x)", "gelu": "tf.nn.gelu(x)",
        "erf": "tf.math.erf(x)", "sin": "tf.sin(x)", "cos": "tf.cos(x)",
        "floor": "tf.floor(x)", "round": "tf.round(x)", "softmax": "tf.nn.softmax(x)",
        "silu": "tf.nn.silu(x)", "log_softmax": "tf.nn.log_softmax(x)",
        "hard_sigmoid": "keras.ops.hard_sigmoid(x)", "hard_silu": "keras.ops.hard_silu(x)",
        "leaky_relu": "tf.nn.leaky_relu(x, 0.2)", "mean": "tf.reduce_mean(x, axis=-1)",
    }
    unary_both = {
        "square": "tf.square(x)", "abs": "tf.abs(x)", "negative": "-x", "sign": "tf.sign(x)",
        "cumsum": "tf.math.cumsum(x, axis=1)", "cumprod": "tf.math.cumprod(x, axis=1)",
        "sum": "tf.reduce_sum(x, axis=-1)", "max": "tf.reduce_max(x, axis=-1)",
        "min": "tf.reduce_min(x, axis=-1)", "transpose": "tf.transpose(x, (0, 2, 1, 3))",
        "expand_dims": "tf.expand_dims(x, 1)", "pad": "tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])",
        "tile": "tf.tile(x, (1, 2, 1, 1))",
    }
    samples = [Sample(f, "t", e, FLOAT) for f, e in unary_float.items()]
    samples += [Sample(f, "t", e, BOTH) for f, e in unary_both.items()]
    for function, symbol in (("add", "+"), ("subtract", "-"), ("multiply", "*")):
        samples.append(Sample(function, "tc", f"x {symbol} 2", BOTH))
        samples.append(Sample(function, "tt", f"x {symbol} x", BOTH))
    samples += [
        Sample("truediv", "tc", "x / 2.0", FLOAT),
        Sample("truediv", "tt", "x / x", FLOAT),
        Sample("pow", "tc", "x ** 3", FLOAT),
        Sample("maximum", "tc", "tf.maximum(x, 0)", BOTH),
        Sample("minimum", "tc", "tf.minimum(x, 6)", BOTH),
        Sample("maximum", "tt", "tf.maximum(x, x * 2)", BOTH, ("x * 2",)),
        Sample("minimum", "tt", "tf.minimum(x, x * 2)", BOTH, ("x * 2",)),
        Sample("greater", "tc", "x > 0", BOTH),
        Sample("less", "tc", "x < 0", BOTH),
        Sample("greater_equal", "tc", "x >= 0", BOTH),
        Sample("less_equal", "tc", "x <= 0", BOTH),
        Sample("equal", "tc", "tf.equal(x, 0)", BOTH),
        Sample("not_equal", "tc", "tf.not_equal(x, 0)", BOTH),
        Sample("where", "ttt", "tf.where(x > 0, x, x * 2)", BOTH, ("x > 0", "x * 2")),
        Sample("where", "ttc", "tf.where(x > 0, x, 0.0)", FLOAT, ("x > 0",)),
        Sample("clip", "tcc", "tf.clip_by_value(x, 0, 6)", BOTH),
        Sample("matmul", "tt", "tf.matmul(x, x, transpose_b=True)", FLOAT),
        Sample("concatenate", "l", "tf.concat([x, x], axis=-1)", BOTH),
        Sample("stack", "l", "tf.stack([x, x], axis=1)", BOTH),
        Sample("cast", "t", "tf.cast(x, tf.int32)", ("float32",)),
        Sample("cast", "t", "tf.cast(x, tf.float32)", ("int32",)),
        Sample("reshape", "tc", "tf.reshape(x, (-1, 16))", BOTH),
        Sample("shape", "t", "tf.shape(x)", BOTH),
        Sample("getitem", "sc", "tf.shape(x)[0]", BOTH, ("tf.shape(x)",)),
        Sample("reshape", "tl", "tf.reshape(x, [tf.shape(x)[0], -1])", BOTH,
               ("tf.shape(x)[0]",)),
        Sample("getitem", "tc", "x[:, 1:]", BOTH),
    ]
    return samples


SAMPLES = _samples()


def _function(measurer: Measurer, expression: str) -> Callable[[Any], Any]:
    # The script's own literal expressions, evaluated to build the probe models.
    scope = {"tf": measurer.tf, "keras": measurer.keras}
    built: Callable[[Any], Any] = eval(f"lambda x: {expression}", scope)
    return built


def _model(measurer: Measurer, expression: str, dtype: str, batch: int | None) -> Any:
    keras = measurer.keras
    inputs = keras.Input(SHAPE, batch_size=batch, dtype=dtype, name="x")
    output = keras.layers.Lambda(_function(measurer, expression), name="probe")(inputs)
    return keras.Model(inputs, output, name="function_probe")


def _measured(measurer: Measurer, expression: str, dtype: str, batch: int | None
              ) -> dict[str, Any]:
    try:
        return measurer.measure(_model(measurer, expression, dtype, batch))
    except Exception as exc:  # a model Keras cannot build or LiteRT cannot read
        return {"ops": [], "delegated": [], "deps": [], "flex_ops": [], "subgraphs": 0,
                "converts_builtin": False, "error": str(exc).strip().splitlines()[-1][:300]}


def measure_sample(measurer: Measurer, sample: Sample, dtype: str,
                   cache: dict[tuple[str, str, int | None], dict[str, Any]]) -> dict[str, Any]:
    record: dict[str, Any] = {"function": sample.function, "form": sample.form,
                              "expression": sample.expression, "dtype": dtype}
    for mode, batch in (("static", 1), ("dynamic", None)):
        measured = _measured(measurer, sample.expression, dtype, batch)
        for base in sample.base:
            key = (base, dtype, batch)
            if key not in cache:
                cache[key] = _measured(measurer, base, dtype, batch)
            measured = subtract(measured, cache[key]["ops"])
        record[mode] = measured
    return record


def entry(record: dict[str, Any], delegation: dict[str, bool]) -> dict[str, Any]:
    out = {k: record[k] for k in ("function", "form", "expression", "dtype")}
    for mode in ("static", "dynamic"):
        measured = record[mode]
        delegated = measured.get("delegated")
        part: dict[str, Any] = {"ops": measured["ops"]}
        if delegated is None:
            delegated = [not op.startswith("Flex") and delegation.get(op, False)
                         for op in measured["ops"]]
            part["delegation_measured"] = False
        part["delegated"] = delegated
        part["deps"] = measured["deps"]
        part["flex_ops"] = measured["flex_ops"]
        part["converts_builtin"] = measured["converts_builtin"]
        if "error" in measured:
            part["error"] = measured["error"]
        out[mode] = part
    return out


def measure_all(ids: set[str] | None) -> list[dict[str, Any]]:
    measurer = Measurer("keras3")
    cache: dict[tuple[str, str, int | None], dict[str, Any]] = {}
    records = []
    for sample in SAMPLES:
        for dtype in sample.dtypes:
            if ids is None or sample.id(dtype) in ids:
                print(sample.id(dtype), file=sys.stderr, flush=True)
                records.append(measure_sample(measurer, sample, dtype, cache))
    delegation = observed_delegation(records)
    return [entry(r, delegation) for r in records]


def render(entries: list[dict[str, Any]]) -> str:
    head = {
        "about": ("How tensor functions (TensorFlow, keras.ops, Keras backend, Python "
                  "operators) read from Lambda and custom-layer code lower to TFLite ops, and "
                  "which ops the XNNPACK delegate takes. Generated by "
                  "scripts/generate_function_lowering.py: a Keras 3 model Input -> "
                  "Lambda(expression) per sample, converted with "
                  "TFLiteConverter.from_keras_model (builtins only, then SELECT_TF_OPS), run in "
                  "ai_edge_litert with the default XNNPACK delegate. 'form' is the operands: t "
                  "run-time tensor, c constant, l list of run-time values, s run-time shape "
                  "value. 'static' is batch 1, 'dynamic' a dynamic batch; ops of the operands' "
                  "own computation are removed. 'deps' index the ops of the same entry an op "
                  "reads (empty: the function's operands)."),
        "versions": versions(),
        "conditions": {"input_shape": list(SHAPE), "optimizations": "none (default)",
                       "delegate": "XNNPACK (LiteRT default)"},
    }
    lines = json.dumps(head, indent=1)[:-2] + ',\n "entries": [\n'
    lines += ",\n".join("  " + json.dumps(e, sort_keys=False) for e in entries)
    return lines + "\n ]\n}\n"


def compare(measured: list[dict[str, Any]], committed: list[dict[str, Any]]) -> list[str]:
    by_key = {(e["function"], e["form"], e["dtype"]): e for e in committed}
    problems = []
    for item in measured:
        key = (item["function"], item["form"], item["dtype"])
        old = by_key.get(key)
        if old is None:
            problems.append(f"{'/'.join(key)}: not in the table")
            continue
        for mode in ("static", "dynamic"):
            for field in LOWERING_KEYS:
                if item[mode].get(field) != old[mode].get(field):
                    problems.append(f"{'/'.join(key)} {mode} {field}: table "
                                    f"{old[mode].get(field)}, measured {item[mode].get(field)}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated sample ids (function/form/dtype)")
    parser.add_argument("--check", action="store_true",
                        help="compare with the committed table instead of writing it")
    parser.add_argument("--list", action="store_true", help="print the sample ids")
    args = parser.parse_args(argv)
    if args.list:
        for sample in SAMPLES:
            for dtype in sample.dtypes:
                print(sample.id(dtype))
        return 0
    ids = set(args.only.split(",")) if args.only else None
    entries = measure_all(ids)
    if args.check:
        committed = json.loads(OUTPUT.read_text(encoding="utf-8"))["entries"]
        problems = compare(entries, committed)
        print("\n".join(problems) or f"{len(entries)} samples match the table")
        return 1 if problems else 0
    OUTPUT.write_text(render(entries), encoding="utf-8")
    print(f"wrote {OUTPUT} ({len(entries)} entries)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
