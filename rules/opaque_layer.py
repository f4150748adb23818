from __future__ import annotations

from collections.abc import Iterator

from tflint.diagnostics import Diagnostic
from tflint.rule import Rule, RuleContext


class OpaqueLayer(Rule):
    """Keras layer whose conversion cannot be known statically (Lambda or custom class).

    ## What it does
    Flags `Lambda` layers and layers of custom (user-registered) classes in a
    Keras model.  Their computation is Python code that tflint never runs, so
    what the TFLite converter will emit for them is unknown before conversion.

    ## Why is this bad
    Lambda and custom layers are the most common source of ops that have no
    TFLite builtin (the model then needs Select TF ops) or that the XNNPACK
    delegate does not take (`SELECT_V2`, `LESS`, runtime `SHAPE` arithmetic),
    which split the converted model into slow CPU partitions.  A Lambda also
    stores Python bytecode in the model file, which Keras refuses to load in
    safe mode.

    ## Example
    ```python
    x = keras.layers.Dense(32)(inputs)
    x = keras.layers.Lambda(lambda t: tf.sin(t) * tf.cos(t))(x)
    ```
    ```
    model.h5:1:1: warning TFL103 Lambda layer 'lambda' is opaque to conversion (layer "lambda" (Lambda))
    ```

    ## How to fix
    Replace the layer by built-in Keras layers (`ReLU`, `LeakyReLU`,
    `Activation("hard_swish")`, `Reshape`...) with the same or a close
    function, then fine-tune if the function changed.  Keep custom code only
    where its converted ops are known to be builtins taken by XNNPACK.
    """

    code = "TFL103"
    name = "opaque-layer"
    category = "unsupported-op"
    file_kinds = frozenset({"keras"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        reported: set[tuple[str | None, str]] = set()
        for node in ctx.graph.nodes():
            layer = node.layer_name or node.name
            key = (node.location.model, layer)
            if node.origin not in ("lambda", "custom") or key in reported:
                continue
            reported.add(key)  # a shared layer is one finding, not one per call
            if node.origin == "lambda":
                message = f"Lambda layer '{layer}' is opaque to conversion"
                suggestion = (f"replace layer '{layer}' (Lambda) with built-in Keras layers "
                              "computing the same function")
            else:
                message = f"custom layer '{layer}' ({node.op_type}) is opaque to conversion"
                suggestion = (f"replace layer '{layer}' ({node.op_type}) with built-in Keras "
                              "layers, or check that its converted ops are TFLite builtins "
                              "taken by XNNPACK")
            yield ctx.diagnostic(node, message, suggestion=suggestion)
