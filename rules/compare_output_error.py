from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from tflint.diagnostics import Diagnostic, Severity
from tflint.rule import Option, Rule, RuleContext


def _positive(value: float) -> str | None:
    return None if value > 0 else "must be a positive number of dB"


class QuantizationOutputError(Rule):
    """Model outputs that differ from the Keras model more than allowed.

    ## What it does
    Only with `--compare-with MODEL.keras`: runs the Keras model and the
    `.tflite` on the same seeded inputs (child processes, as `tflint compare`
    does) and reports each output whose signal-to-noise ratio against Keras
    is below `min-snr-db`, with its max and mean abs error.  For an int8
    model it also says what keeping the op that adds the most error in
    float would bring the SNR to, and what that costs in ops on the CPU and
    partitions.

    ## Why is this bad
    The converted model no longer computes what was trained: below about
    30 dB the quantization noise is more than 3% of the signal's amplitude,
    enough to flip classifications and shift regressions.

    ## Example
    ```
    model.tflite:1:1: warning TFL330 output 'head' differs from model.keras: SNR 17.9 dB < 30 dB (max abs err 0.42, mean abs err 0.09)
    ```

    ## How to fix
    Calibrate with real data (`--representative-data`), keep the worst
    layers in float (`tflint compare MODEL.keras --quantize int8
    --keep-float LAYER --save OUT.tflite`, see TFL331), or quantize 16x8.
    """

    code = "TFL330"
    name = "quantization-output-error"
    category = "quantization"
    severity = Severity.WARNING
    file_kinds = frozenset({"tflite"})
    triggers = frozenset({"compare-with"})
    options: ClassVar[dict[str, Option]] = {"min-snr-db": Option(float, 30.0, "lowest output SNR against Keras, in dB",
                                    _positive)}

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        measured = ctx.analyses.quantization_error()
        if measured is None:
            return
        limit = ctx.options["min-snr-db"]
        best = max(measured.candidates, key=lambda c: c["outputs"][0]["snr_db"], default=None)
        for position, output in enumerate(measured.outputs):
            if output["snr_db"] >= limit:
                continue
            tensor = ctx.graph.outputs[position] if position < len(ctx.graph.outputs) else None
            node = ctx.graph.producer(tensor) if tensor is not None else None
            suggestion = None
            if best is not None:
                suggestion = (f"{measured.fix_text(best, ctx.target)}; "
                              f"{measured.command(best)} writes it")
            elif measured.quantize != "none":
                suggestion = "calibrate with real data or quantize 16x8; see tflint compare"
            yield ctx.diagnostic(
                node,
                f"output '{output['output']}' differs from {measured.keras_path}: SNR "
                f"{output['snr_db']:.1f} dB < {limit:g} dB (max abs err "
                f"{output['max_abs_error']:.3g}, mean abs err {output['mean_abs_error']:.3g})",
                suggestion=suggestion, weight=limit - output["snr_db"])
