from __future__ import annotations

from collections.abc import Iterator

from tflint.analyses.custom_code import code_phrase
from tflint.analyses.keras_prediction import (
    config_text,
    describe,
    histogram,
    reconfigure_fix,
    set_input_shape_fix,
    shared_prediction,
    static_batch_suggestion,
    static_input_fix,
)
from tflint.diagnostics import Diagnostic, Severity
from tflint.rule import Rule, RuleContext


class KerasSelectTfOps(Rule):
    """Keras layer that will not convert to TFLite with builtin ops only.

    ## What it does
    Predicts, from the Keras file alone, which layers the TFLite converter
    cannot lower to builtin ops, using the lowering table measured with the
    real converter (`tflint/data/keras_lowering.json`): for example
    `Resizing(interpolation="bicubic")` (`FlexResizeBicubic`), or a Keras 3
    `LSTM` when the batch is dynamic (`FlexTensorListReserve`).  A Lambda or
    custom layer is predicted from its code (read, never run) with the
    function-lowering table: `tf.math.cumprod` becomes `FlexCumprod`; one whose
    code cannot be read is left to TFL103 (opaque-layer).  Layers under a
    mixed precision policy are TFL321's.

    ## Why is this bad
    With default settings the conversion fails.  Converting with
    `SELECT_TF_OPS` works, but the model then needs the Select TF ops
    delegate, a multi-megabyte library most apps do not ship, and those ops
    run on TensorFlow kernels outside XNNPACK.

    ## Example
    ```python
    x = keras.layers.Resizing(224, 224, interpolation="bicubic", name="resize")(inputs)
    ```
    ```
    model.keras:1:1: error TFL120 Resizing layer 'resize' will not convert with builtin ops: needs Select TF ops (FlexResizeBicubic) (layer "resize" (Resizing))
      help: replace layer `resize` (Resizing) with `Resizing(height=224, width=224, interpolation='bilinear')`, which converts to builtin ops
    ```

    ## How to fix
    Use the configuration the suggestion names (it was measured to convert
    with builtins), or, when the dynamic batch is the cause, give the input a
    static batch of 1 before converting.

    ## Fix safety
    Replacing the layer by another configuration changes what it computes
    (`unsafe`) unless only a computation-preserving option such as `unroll`
    changes.  Setting a static input shape is `unsafe`: the model no longer
    accepts other batch sizes.
    """

    code = "TFL120"
    name = "keras-needs-select-tf-ops"
    category = "unsupported-op"
    severity = Severity.ERROR
    file_kinds = frozenset({"keras"})
    fix_availability = "unsafe"

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        prediction = shared_prediction(ctx)
        for p in prediction.layers:
            if p.status != "flex" or "dtype_policy" in p.features or p.entry is None:
                continue
            flex = p.lowering.flex_ops
            needs = f"needs Select TF ops ({histogram(flex)})" if flex else "conversion fails"
            phrase = code_phrase(p)
            if phrase is not None and not p.caused_by_dynamic_batch:
                yield ctx.diagnostic(
                    p.node, f"{describe(p.node)} {phrase}, which will not convert with builtin "
                    f"ops: it {needs}", suggestion=(
                        f"rewrite layer `{p.layer}` with functions that have TFLite builtins "
                        "(the function-lowering table lists them), or link the Select TF ops "
                        "delegate into the app"))
                continue
            if p.caused_by_dynamic_batch:
                found = static_input_fix(ctx, p.node)
                message = f"{describe(p.node)} will not convert with builtin ops when the batch is dynamic: {needs}"
                if found is None:
                    yield ctx.diagnostic(p.node, message)
                    continue
                tensor, shape = found
                yield ctx.diagnostic(
                    p.node, message,
                    suggestion=static_batch_suggestion(tensor, shape),
                    fix=set_input_shape_fix(tensor, shape))
                continue
            message = f"{describe(p.node)} will not convert with builtin ops: {needs}"
            alternative = p.entry.get("alternative")
            if alternative:
                config = {**p.node.options, **alternative["config"]}
                replacement = {k: v for k, v in config.items()
                               if k in alternative["config"] or k in ("name", "height", "width")}
                yield ctx.diagnostic(
                    p.node, message,
                    suggestion=(f"replace layer `{p.layer}` ({p.node.op_type}) with "
                                f"`{config_text(p.node.op_type, replacement)}`, which converts "
                                "to builtin ops"),
                    fix=reconfigure_fix(p, alternative["config"], f"replace '{p.layer}' by "
                                        f"{config_text(p.node.op_type, replacement)}"))
                continue
            yield ctx.diagnostic(p.node, message, suggestion=p.entry.get("advice") or (
                f"replace layer `{p.layer}` ({p.node.op_type}) with layers that have TFLite "
                "builtins, or link the Select TF ops delegate into the app"))
