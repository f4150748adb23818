from __future__ import annotations

from collections.abc import Iterator

from tflint_rules._dynamic_shapes import fixed_shape_example, model_inputs, show_shape

from tflint.diagnostics import Diagnostic, Severity
from tflint.rule import Rule, RuleContext


class DynamicInputShape(Rule):
    """Model input with a dimension other than the batch left dynamic.

    ## What it does
    Reads the shape signature of every model input (the main subgraph's and
    each signature's) and flags the inputs where a dimension other than the
    first (the batch) is unknown until run time (`-1` in the signature), or
    whose rank is unknown.  It says which dimensions those are.

    ## Why is this bad
    The `.tflite` stores 1 for an unknown dimension, so the app must call
    `resize_tensor_input` before the first run; each new size then re-plans
    the memory of the whole graph and makes XNNPACK rebuild its runtime, and
    the GPU and NNAPI delegates do not take dynamic tensors at all.  The
    converter also cannot fold shape arithmetic that depends on those
    dimensions, which leaves `SHAPE` → ... → `RESHAPE` chains on the CPU
    (see TFL203).

    ## Example
    `keras.Input(shape=(None, None, 3))` converted as is:
    ```
    model.tflite:1:1: warning TFL201 input 'image' has dynamic dimensions 1, 2 in shape [?, ?, ?, 3]
    ```

    ## How to fix
    Convert with the input size the app uses: `keras.Input(shape=(224, 224,
    3), batch_size=1)`, or a concrete function with
    `tf.TensorSpec([1, 224, 224, 3], tf.float32)` passed to
    `TFLiteConverter.from_concrete_functions`.  When the app really needs
    several sizes, convert one model per size.
    """

    code = "TFL201"
    name = "dynamic-input-dimension"
    category = "dynamic-shape"
    severity = Severity.WARNING
    file_kinds = frozenset({"tflite"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        for model_input in model_inputs(ctx.graph):
            shape = model_input.tensor.shape
            if shape is None:
                yield ctx.diagnostic(
                    None,
                    f"input '{model_input.name}' has an unknown rank",
                    suggestion=("convert with a fixed input signature, e.g. "
                                "tf.TensorSpec([1, H, W, C]) with the sizes the app uses"),
                )
                continue
            dims = [d for d in model_input.dynamic_dims if d > 0]
            if not dims:
                continue
            listed = ", ".join(map(str, dims))
            plural = "s" if len(dims) > 1 else ""
            example = fixed_shape_example(shape)
            yield ctx.diagnostic(
                None,
                f"input '{model_input.name}' has dynamic dimension{plural} {listed} "
                f"in shape {show_shape(shape)}",
                suggestion=(f"convert with a fixed input shape {example} (the sizes the app "
                            f"uses): keras.Input(shape={_tuple(example)}, batch_size=1) or "
                            f"tf.TensorSpec({example}) in a concrete function"),
            )


def _tuple(example: str) -> str:
    """``[1, H, W, 3]`` -> ``(H, W, 3)``: the Keras shape without the batch."""
    parts = example.strip("[]").split(", ")[1:]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
