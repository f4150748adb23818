from __future__ import annotations

from collections.abc import Iterator

from tflint.analyses.keras_prediction import (
    config_text,
    describe,
    histogram,
    reconfigure_fix,
    shared_prediction,
)
from tflint.diagnostics import Diagnostic, Severity
from tflint.rule import Rule, RuleContext


class KerasCpuFallback(Rule):
    """Keras layer whose converted ops the XNNPACK delegate will not take.

    ## What it does
    Predicts, from the Keras file alone, the layers that convert to TFLite
    builtins of which XNNPACK refuses some, using the lowering table measured
    with the real converter and LiteRT runtime
    (`tflint/data/keras_lowering.json`): for example a Keras 3 `LSTM` (a
    `WHILE` loop), an `Embedding` (`GATHER`), `ThresholdedReLU` (`GREATER`,
    `CAST`).  Layers that only fall back because the batch is dynamic are
    TFL222's.

    ## Why is this bad
    Every op XNNPACK does not take runs on the slower reference CPU kernels,
    and splits the delegated graph into more partitions, with a copy of the
    activations at every border.

    ## Example
    ```
    model.keras:1:1: warning TFL121 LSTM layer 'encoder' converts to ops XNNPACK does not take: WHILE, STRIDED_SLICE (layer "encoder" (LSTM))
      help: replace layer `encoder` (LSTM) with `LSTM(unroll=True)`, which leaves UNPACK on the CPU
    ```

    ## How to fix
    Follow the suggestion: a configuration measured to lower better when
    there is one (`unroll=True` for a short recurrent layer), otherwise the
    table's advice (move an embedding lookup out of the model, ...).

    ## Fix safety
    `unroll=True` computes the same function (`safe`), but makes the model
    grow with the sequence length; other replacements are `unsafe`.
    """

    code = "TFL121"
    name = "keras-cpu-fallback"
    category = "unsupported-op"
    severity = Severity.WARNING
    file_kinds = frozenset({"keras"})
    fix_availability = "unsafe"

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        prediction = shared_prediction(ctx)
        for p in prediction.layers:
            if p.status != "cpu" or p.caused_by_dynamic_batch or p.entry is None:
                continue
            if "dtype_policy" in p.features:
                continue  # TFL321 reports the policy once for the whole model
            message = (f"{describe(p.node)} converts to ops XNNPACK does not take: "
                       f"{histogram(p.cpu_ops)}")
            alternative = p.entry.get("alternative")
            if alternative and len(alternative["cpu_ops"]) < len(p.cpu_ops):
                changes = alternative["config"]
                left = histogram(alternative["cpu_ops"]) or "nothing"
                yield ctx.diagnostic(
                    p.node, message,
                    suggestion=(f"replace layer `{p.layer}` ({p.node.op_type}) with "
                                f"`{config_text(p.node.op_type, changes)}`, which leaves {left} "
                                "on the CPU"),
                    fix=reconfigure_fix(p, changes,
                                        f"set {config_text('', changes)[1:-1]} on '{p.layer}'"))
                continue
            yield ctx.diagnostic(p.node, message, suggestion=p.entry.get("advice") or (
                f"if layer `{p.layer}` is on the hot path, replace it with layers whose ops "
                "XNNPACK takes, or accept the CPU partition"))
