from __future__ import annotations

from collections.abc import Iterator

from tflint.analyses.custom_code import code_phrase, equivalent_fix, placement_text
from tflint.analyses.keras_prediction import (
    LayerPrediction,
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

    A `Lambda`, a custom layer or a custom activation is predicted from its
    code, read without running it (the Lambda's bytecode, the class's
    `call()` in the project's source, `--source`), with the function-lowering
    table (`tflint/data/function_lowering.json`): the finding names the
    Python expression, the ops it becomes and where each runs.

    ## How to fix
    Follow the suggestion: a configuration measured to lower better when
    there is one (`unroll=True` for a short recurrent layer), the built-in
    layer computing the same function as a Lambda or custom layer
    (`tf.where(x > 0, x, 0.2 * x)` is `LeakyReLU(negative_slope=0.2)`),
    otherwise the table's advice (move an embedding lookup out of the
    model, ...).

    ## Fix safety
    `unroll=True` computes the same function (`safe`), but makes the model
    grow with the sequence length.  A built-in layer replacing a Lambda or
    custom layer is `safe` when the code is exactly that function, constants
    included.  Other replacements are `unsafe`.
    """

    code = "TFL121"
    name = "keras-cpu-fallback"
    category = "unsupported-op"
    severity = Severity.WARNING
    file_kinds = frozenset({"keras"})
    fix_availability = "unsafe"

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        if "xnnpack" not in ctx.analyses.targets:
            return  # other targets' placements are TFL130's
        prediction = shared_prediction(ctx)
        for p in prediction.layers:
            if p.status != "cpu" or p.caused_by_dynamic_batch or p.entry is None:
                continue
            if "dtype_policy" in p.features:
                continue  # TFL321 reports the policy once for the whole model
            phrase = code_phrase(p)
            if phrase is not None:
                yield self.custom_code_finding(ctx, p, phrase, prediction.title)
                continue
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

    def custom_code_finding(self, ctx: RuleContext, p: LayerPrediction, phrase: str,
                            title: str) -> Diagnostic:
        message = (f"{describe(p.node)} {phrase}, which converts to "
                   f"{placement_text(p.lowering, title)}")
        found = equivalent_fix(p)
        if found is not None:
            text, fix = found
            return ctx.diagnostic(p.node, message, fix=fix, suggestion=(
                f"replace layer `{p.layer}` ({p.node.op_type}) with `{text}`, the built-in "
                "layer computing the same function"))
        return ctx.diagnostic(p.node, message, suggestion=(
            f"rewrite layer `{p.layer}` with functions whose ops {title} takes, or replace it "
            "with built-in Keras layers"))
