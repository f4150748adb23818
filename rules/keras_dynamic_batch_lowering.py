from __future__ import annotations

from collections.abc import Iterator

from tflint.analyses.keras_prediction import (
    describe,
    histogram,
    set_input_shape_fix,
    shared_prediction,
    static_batch_suggestion,
    static_input_fix,
)
from tflint.diagnostics import Diagnostic, Severity
from tflint.rule import Rule, RuleContext


class DynamicBatchLowering(Rule):
    """Built-in Keras layer that lowers to CPU ops only because the batch is dynamic.

    ## What it does
    Uses the lowering table (`tflint/data/keras_lowering.json`), which holds
    each layer's ops with a static batch of 1 and with a dynamic batch, to
    find layers whose dynamic-batch lowering has ops XNNPACK does not take
    while the static one has fewer.  Keras 3 `Flatten` is the common case:
    it reads the batch size at run time (`SHAPE`, `STRIDED_SLICE`, `PACK`,
    `RESHAPE`, all on the CPU).

    ## Why is this bad
    Those shape ops cut the delegated graph into partitions with CPU work in
    between, for a batch size that is 1 on a phone anyway.

    ## Example
    ```
    model.keras:1:1: warning TFL222 Flatten layer 'flatten' lowers to SHAPE, STRIDED_SLICE, PACK, RESHAPE on the CPU because the batch is dynamic; with a static batch: RESHAPE (layer "flatten" (Flatten))
      help: give input `image` a static batch, e.g. `(1, 8, 8, 3)`, before converting
    ```

    ## How to fix
    Convert a copy of the model whose input has `batch_size=1`, or replace
    the layer as the table's advice says.

    ## Fix safety
    `unsafe`: the model then accepts only a batch of 1.
    """

    code = "TFL222"
    name = "dynamic-batch-lowering"
    category = "dynamic-shape"
    severity = Severity.WARNING
    file_kinds = frozenset({"keras"})
    fix_availability = "unsafe"

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        if "xnnpack" not in ctx.analyses.targets:
            return  # measured for XNNPACK; other targets' placements are TFL130's
        prediction = shared_prediction(ctx)
        for p in prediction.layers:
            if p.status != "cpu" or not p.caused_by_dynamic_batch or p.static_lowering is None:
                continue
            if p.node.origin != "builtin":
                continue  # a Lambda or custom layer reshaping by the batch is TFL220's
            if "dtype_policy" in p.features:
                continue  # TFL321's
            static = p.static_lowering
            message = (f"{describe(p.node)} lowers to {histogram(p.cpu_ops)} on the CPU because "
                       f"the batch is dynamic; with a static batch: {histogram(static.ops)}")
            found = static_input_fix(ctx, p.node)
            if found is None:
                advice = p.entry.get("advice") if p.entry else None
                yield ctx.diagnostic(p.node, message, suggestion=advice)
                continue
            tensor, shape = found
            yield ctx.diagnostic(
                p.node, message,
                suggestion=static_batch_suggestion(tensor, shape),
                fix=set_input_shape_fix(tensor, shape))
