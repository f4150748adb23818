from __future__ import annotations

from collections.abc import Iterator

from tflint_rules._dynamic_shapes import fixed_shape_example, model_inputs, show_shape

from tflint.diagnostics import Diagnostic, Severity
from tflint.rule import Rule, RuleContext


class DynamicBatch(Rule):
    """Model input whose only dynamic dimension is the batch.

    ## What it does
    Flags model inputs whose shape signature leaves the first dimension (the
    batch) unknown and fixes every other one.  `from_keras_model` writes
    such inputs unless the Keras input was given `batch_size=1`.

    ## Why is this bad
    Usually it is fine: XNNPACK takes dynamic-batch graphs, and an app that
    calls `resize_tensor_input` once and then `allocate_tensors` pays the
    re-planning cost once.  It is reported as information because it is
    still a cost when the app always runs one sample: the stored shape has
    a placeholder batch of 1, shape arithmetic that reads the batch
    (`tf.shape(x)[0]`) cannot be folded by the converter (TFL203), and the
    GPU delegate needs static shapes.

    ## Example
    ```
    model.tflite:1:1: info TFL202 input 'image' has a dynamic batch dimension in shape [?, 8, 8, 3]
    ```

    ## How to fix
    If the app always runs one sample (or a known number), fix the batch at
    conversion: `keras.Input(shape=(8, 8, 3), batch_size=1)`, or a
    concrete function with `tf.TensorSpec([1, 8, 8, 3])`.
    """

    code = "TFL202"
    name = "dynamic-batch"
    category = "dynamic-shape"
    severity = Severity.INFO
    file_kinds = frozenset({"tflite"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        for model_input in model_inputs(ctx.graph):
            shape = model_input.tensor.shape
            if shape is None or model_input.dynamic_dims != [0]:
                continue
            yield ctx.diagnostic(
                None,
                f"input '{model_input.name}' has a dynamic batch dimension in shape "
                f"{show_shape(shape)}",
                suggestion=(f"if the app runs one sample at a time, convert with the batch fixed: "
                            f"keras.Input(..., batch_size=1) or tf.TensorSpec("
                            f"{fixed_shape_example(shape)})"),
            )
