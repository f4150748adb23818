from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from tflint.analyses.keras_prediction import set_input_shape_fix, shape_text
from tflint.diagnostics import Diagnostic, Severity
from tflint.rule import Option, Rule, RuleContext


class DynamicInputShape(Rule):
    """Model input with dynamic dimensions other than the batch.

    ## What it does
    Flags every input of a Keras model whose shape leaves a dimension other
    than the batch unknown, such as images declared `(None, None, 3)` or
    sequences of any length.

    ## Why is this bad
    The converted model then has a dynamic shape: every resize makes the
    interpreter and the XNNPACK delegate plan the whole graph again, layers
    that compute shapes keep `SHAPE` arithmetic in the model, and the
    default input (all unknown dimensions 1) rarely makes sense, so the app
    must resize the input before every first run.

    ## Example
    ```
    model.keras:1:1: warning TFL221 input 'image' has a dynamic shape (None, None, None, 3)
      help: give input `image` a static shape, e.g. `(1, 224, 224, 3)`
    ```

    ## How to fix
    Build (or re-load) the model with the input size the app uses, e.g.
    `keras.Input((224, 224, 3), batch_size=1)`, and convert that.  The
    options `image_size` and `sequence_length` set the size suggested.

    ## Fix safety
    `unsafe`: the converted model accepts only the shape given.
    """

    code = "TFL221"
    name = "dynamic-input-shape"
    category = "dynamic-shape"
    severity = Severity.WARNING
    file_kinds = frozenset({"keras"})
    fix_availability = "unsafe"
    options: ClassVar[dict[str, Option]] = {
        "image-size": Option(int, 224, "height and width suggested for a dynamic image input",
                             check=lambda v: None if v > 0 else "must be positive"),
        "sequence-length": Option(int, 128, "length suggested for a dynamic sequence input",
                                  check=lambda v: None if v > 0 else "must be positive"),
    }

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        image = ctx.options["image-size"]
        sequence = ctx.options["sequence-length"]
        for tensor in ctx.graph.inputs:
            shape = tensor.shape
            if not shape or len(shape) < 2 or all(d is not None for d in shape[1:]):
                continue
            fill = image if len(shape) >= 4 else sequence
            static = [1] + [fill if d is None else d for d in shape[1:]]
            consumers = ctx.graph.consumers(tensor)
            yield ctx.diagnostic(
                consumers[0] if consumers else None,
                f"input '{tensor.name}' has a dynamic shape {shape_text(shape)}",
                suggestion=(f"give input `{tensor.name}` a static shape, e.g. "
                            f"`{shape_text(static)}`"),
                fix=set_input_shape_fix(tensor, static))
