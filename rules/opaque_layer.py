from __future__ import annotations

from collections.abc import Iterator

from tflint.analyses.custom_code import custom_code_info
from tflint.analyses.keras_prediction import describe, shared_prediction
from tflint.diagnostics import Diagnostic
from tflint.rule import Rule, RuleContext


class OpaqueLayer(Rule):
    """Keras layer whose conversion cannot be predicted: Lambda or custom code tflint cannot read.

    ## What it does
    tflint reads the code of `Lambda` layers (their stored bytecode,
    disassembled in a watched child process, never run), of custom layer
    classes (their `call()`, parsed with `ast` from the project's source
    folders, `--source`, never imported) and of custom activation functions,
    and predicts their TFLite ops from the measured function-lowering table.
    This rule flags the layers where that failed, and says why: bytecode
    compiled for another Python version, a class not found in the source
    folders (naming the folders searched), code with a branch or loop, a call
    to something that is not tensor math, or a function the table does not
    know.

    ## Why is this bad
    Lambda and custom layers are the most common source of ops that have no
    TFLite builtin (the model then needs Select TF ops) or that the XNNPACK
    delegate does not take (`SELECT_V2`, `LESS`, runtime `SHAPE` arithmetic),
    which split the converted model into slow CPU partitions.  What such a
    layer costs is unknown until the model is converted.

    ## Example
    ```python
    class Scale(keras.layers.Layer):
        def call(self, x):
            for _ in range(2):
                x = x * 0.5
            return x
    ```
    ```
    model.keras:1:1: warning TFL103 Scale layer 'scale' is opaque to conversion: its code uses what tflint does not read: the statement at line 4 (for) (layer "scale" (Scale))
    ```

    ## How to fix
    Pass the folder of the class's source with `--source DIR` (or `source =
    [...]` in `[tool.tflint]`); write the layer as straight-line tensor math;
    or replace it by built-in Keras layers (`ReLU`, `LeakyReLU`,
    `Activation("hard_silu")`, `Reshape`...).
    """

    code = "TFL103"
    name = "opaque-layer"
    category = "unsupported-op"
    file_kinds = frozenset({"keras"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        prediction = shared_prediction(ctx)
        reported: set[tuple[str | None, str]] = set()
        for p in prediction.layers:
            node = p.node
            key = (node.location.model, p.layer)
            if p.status != "opaque" or key in reported:
                continue
            reported.add(key)  # a shared layer is one finding, not one per call
            reason = p.reason.split(": ", 1)[-1] if p.reason else "its code was not read"
            info = custom_code_info(p) or {}
            if node.origin == "lambda":
                message = f"Lambda layer '{p.layer}' is opaque to conversion: {reason}"
                suggestion = (f"replace layer '{p.layer}' (Lambda) with built-in Keras layers "
                              "computing the same function")
            elif node.origin == "custom":
                message = f"{describe(node)} is opaque to conversion: {reason}"
                suggestion = (f"replace layer '{p.layer}' ({node.op_type}) with built-in Keras "
                              "layers, or write its call() as straight-line tensor math")
                if info.get("looked_in") is not None and not info.get("expression"):
                    suggestion = (f"pass the folder holding class {node.op_type} with --source "
                                  f"DIR, or replace layer '{p.layer}' with built-in Keras layers")
            else:
                message = f"{describe(node)} is opaque to conversion: {p.reason}"
                suggestion = (f"use a built-in activation in layer '{p.layer}', or pass the "
                              "folder of the activation's source with --source DIR")
            yield ctx.diagnostic(node, message, suggestion=suggestion)
