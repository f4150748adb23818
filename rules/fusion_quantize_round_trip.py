from __future__ import annotations

from collections.abc import Iterator

from tflint_rules._layer_names import layer_names

from tflint.diagnostics import Diagnostic
from tflint.graph import Tensor
from tflint.patterns import Match, alt, find, op, root_types, var
from tflint.rule import Rule, RuleContext

FLOAT = frozenset({"float32", "float16"})

PATTERN = alt(
    op("DEQUANTIZE", op("QUANTIZE", var("x"), label="quantize"), label="dequantize"),
    op("QUANTIZE", op("DEQUANTIZE", var("x"), label="dequantize"), label="quantize"),
)


class QuantizeRoundTrip(Rule):
    """QUANTIZE straight into DEQUANTIZE, or DEQUANTIZE straight into QUANTIZE.

    ## What it does
    Finds a `QUANTIZE` whose only consumer is a `DEQUANTIZE` (float to
    integer and back to float), and a `DEQUANTIZE` of a runtime tensor whose
    only consumer is a `QUANTIZE` (integer to float and back).

    ## Why is this bad
    A float -> int8 -> float round trip is what a fake-quantization node
    (quantization-aware training, `tf.quantization.fake_quant_*`) becomes
    in a float conversion: two ops per inference that only add rounding
    error, while every other op stays float.  An integer -> float -> integer
    round trip with the same scale does nothing; with another scale it is a
    requantization that one `QUANTIZE` does.

    ## Example
    ```
    model.tflite:1:1: warning TFL410 QUANTIZE to uint8 then DEQUANTIZE back to float32: a fake-quantization round trip (subgraph 0 / op 2 (DEQUANTIZE) "model_1/fake_quant_1/FakeQuantWithMinMaxArgs1")
    ```

    ## How to fix
    For an integer model, quantize every layer (`tfmot.quantization.keras.
    quantize_model`) and convert with `optimizations=[tf.lite.Optimize.
    DEFAULT]`, so that the fake-quantization ranges become real int8
    tensors.  For a float model, remove the fake-quantization ops before
    converting.
    """

    code = "TFL410"
    name = "quantize-round-trip"
    category = "fusion"
    file_kinds = frozenset({"tflite"})
    triggers = root_types(PATTERN)

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        graph = ctx.graph
        names = ctx.analysis(layer_names)
        for match in find(graph, PATTERN, accept=_runtime_round_trip):
            quantize, dequantize = match.labels["quantize"], match.labels["dequantize"]
            start, end = match.bindings["x"], match.root.outputs[0]
            if match.root is dequantize:
                yield ctx.diagnostic(
                    match.root,
                    f"QUANTIZE to {quantize.outputs[0].dtype} then DEQUANTIZE back to "
                    f"{end.dtype}: a fake-quantization round trip",
                    suggestion=("to run in integers, quantize every layer and convert with "
                                "optimizations=[tf.lite.Optimize.DEFAULT]; for a float model, "
                                f"remove the fake quantization at {names.describe(quantize)}"),
                )
            elif _same_quantization(start, end):
                yield ctx.diagnostic(
                    match.root,
                    f"DEQUANTIZE then QUANTIZE with the same {end.dtype} scale and zero point "
                    "do nothing",
                    suggestion=f"remove both ops (the first is {names.describe(dequantize)})",
                )
            else:
                yield ctx.diagnostic(
                    match.root,
                    f"DEQUANTIZE then QUANTIZE requantize {start.dtype} to {end.dtype} "
                    "through float",
                    suggestion=(f"requantize with one QUANTIZE from {start.dtype} to "
                                f"{end.dtype} (the first op is {names.describe(dequantize)})"),
                )


def _runtime_round_trip(match: Match) -> bool:
    start, end = match.bindings["x"], match.root.outputs[0]
    if start.is_constant:
        return False  # weights expanded at init time: not a per-inference cost
    if match.root.op_type == "DEQUANTIZE":
        return start.dtype in FLOAT and end.dtype in FLOAT
    return start.dtype not in FLOAT and end.dtype not in FLOAT


def _same_quantization(a: Tensor, b: Tensor) -> bool:
    qa, qb = a.quantization, b.quantization
    return (a.dtype == b.dtype and qa is not None and qb is not None
            and qa.scale == qb.scale and qa.zero_point == qb.zero_point)
