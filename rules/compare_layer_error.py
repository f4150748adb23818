from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from tflint.diagnostics import Diagnostic, Severity
from tflint.rule import Option, Rule, RuleContext


def _at_least_one(value: int) -> str | None:
    return None if value >= 1 else "must be at least 1"


class QuantizationLayerError(Rule):
    """The layers that add the most quantization error.

    ## What it does
    Only with `--compare-with MODEL.keras`, for a quantized `.tflite`: every
    op's output is compared with the same tensor of the float model (all
    intermediate tensors kept by the interpreter), and the ops are ranked by
    the error of their own: the float op fed the same inputs, as
    TensorFlow's quantization debugger measures it (RMSE relative to the
    float tensor's range), less the rounding its output keeps when the op
    stays float; for int8 the worst few are then re-quantized with the op
    kept in float and ranked first by the share of the output error that
    removes.  The `layers` worst are reported with their Keras layers, max
    abs error and quantization scale and, for int8 models, what
    re-quantizing with that op kept in float does to the output SNR and to
    the ops on the CPU and partitions of each selected target.

    ## Why is this bad
    A few layers usually carry most of the quantization error: an outlier
    weight or a wide activation range makes the scale coarse for every other
    value.  Knowing which ones says where to spend float precision.

    ## Example
    ```
    model.tflite:1:1: info TFL331 layer conv_b (CONV_2D) adds the most quantization error: its own RMSE is 15.12% of its range (15.15% in the model), max abs err 0.834, scale 0.0036 (rank 1 of 5)
    ```

    ## How to fix
    Keep the layer in float (`tflint compare MODEL.keras --quantize int8
    --keep-float conv_b --save OUT.tflite`), clip or re-train the outlier
    weights, or calibrate with data closer to production.
    """

    code = "TFL331"
    name = "quantization-layer-error"
    category = "quantization"
    severity = Severity.INFO
    file_kinds = frozenset({"tflite"})
    triggers = frozenset({"compare-with"})
    options: ClassVar[dict[str, Option]] = {"layers": Option(int, 3, "how many of the worst layers to report",
                                _at_least_one)}

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        measured = ctx.analyses.quantization_error()
        if measured is None or measured.quantize == "none":
            return
        total = len(measured.layers)
        for row in measured.layers[:ctx.options["layers"]]:
            if row.get("output_gain", row["removable_rmse"]) <= 0:
                continue  # keeping it float would not help the outputs
            name = ",".join(row["layers"]) or row["tensor"]
            scale = f", scale {row['scale']:.3g}" if row.get("scale") else ""
            what = "adds the most quantization error" if row["rank"] == 1 else \
                "adds quantization error"
            candidate = measured.candidate(row["tensor"])
            suggestion = (f"{measured.fix_text(candidate, ctx.target)}; "
                          f"{measured.command(candidate)} writes it") if candidate else None
            yield ctx.diagnostic(
                measured.node_of(ctx.graph, row),
                f"layer {name} ({row['op']}) {what}: its own RMSE is "
                f"{100 * row['own_rmse']:.2f}% of its range ({100 * row['relative_rmse']:.2f}% "
                f"in the model), max abs err {row['max_abs_error']:.3g}{scale} (rank "
                f"{row['rank']} of {total})",
                suggestion=suggestion, weight=row["removable_rmse"])
