from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

from tflint.analyses.keras_prediction import (
    describe,
    shape_text,
    shared_prediction,
    static_input_fix,
)
from tflint.diagnostics import Diagnostic, Fix, Severity
from tflint.graph import ModelGraph, Node
from tflint.rule import Rule, RuleContext

RESHAPE_NAME = re.compile(r"reshape|flatten|squeeze|unsqueeze|view", re.IGNORECASE)


def _known(shape: Any) -> list[int] | None:
    """Non-batch dimensions, when all are known."""
    if not isinstance(shape, list | tuple) or not shape:
        return None
    if all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape):
        return list(shape)
    return None


def reshape_target(graph: ModelGraph, node: Node) -> list[int] | None:
    """The per-example shape an opaque layer reshapes to, when the model tells it.

    The output tensor's recorded shape (Keras 3 stores it with the consumer's
    call), else a Lambda's ``output_shape``.
    """
    output = node.outputs[0] if len(node.outputs) == 1 else None
    if output is not None and output.shape and len(output.shape) > 1:
        found = _known(output.shape[1:])
        if found:
            return found
    declared = node.options.get("output_shape")
    if isinstance(declared, list | tuple) and declared and declared[0] is None:
        declared = declared[1:]
    return _known(declared)


def is_reshape(graph: ModelGraph, node: Node, target: list[int] | None) -> bool:
    """Rank changes but the element count does not, or the name says so."""
    source = node.inputs[0].shape if len(node.inputs) == 1 else None
    inner = _known(source[1:]) if source and len(source) > 1 else None
    if target is not None and inner is not None:
        return len(target) != len(inner) and math.prod(target) == math.prod(inner)
    return bool(RESHAPE_NAME.search(node.op_type) or RESHAPE_NAME.search(node.layer_name or ""))


class RuntimeBatchReshape(Rule):
    """Lambda or custom layer that reshapes with the runtime batch size.

    ## What it does
    Flags a `Lambda` or custom layer that reshapes its input (the rank
    changes while the number of elements per example stays the same, or its
    name says `reshape`/`flatten`) in a model whose batch is dynamic.  Such
    code is nearly always `tf.reshape(x, [tf.shape(x)[0], -1])`.

    ## Why is this bad
    With a dynamic batch the converter keeps the shape computation in the
    model: `SHAPE`, `STRIDED_SLICE` and `PACK` before a `RESHAPE` with a
    runtime shape.  XNNPACK takes none of them, so the graph is cut in two
    CPU-separated partitions at that point.  The layer's code is also
    stored as bytecode (Lambda) or needs its class to load (custom), and
    tflint cannot predict it.  Note that the built-in `Reshape` layer reads
    the runtime batch too (measured: the same four CPU ops with a dynamic
    batch, one delegated `RESHAPE` with a static one), so the CPU ops go
    away only with a static batch.

    ## Example
    ```python
    x = keras.layers.Lambda(lambda t: tf.reshape(t, [tf.shape(t)[0], -1]),
                            output_shape=(256,), name="batch_reshape")(x)
    ```
    ```
    model.keras:1:1: warning TFL220 Lambda layer 'batch_reshape' reshapes with the runtime batch size (layer "batch_reshape" (Lambda))
      help: replace layer `batch_reshape` (Lambda) with `Reshape((256,))`, and give input `image` a static batch, e.g. `(1, 8, 8, 3)`: with a dynamic batch any reshape keeps SHAPE, STRIDED_SLICE, PACK on the CPU
    ```

    ## How to fix
    Replace the layer with `keras.layers.Reshape(target_shape)`, which
    tflint and Keras understand without running code, and convert a copy of
    the model whose input has a static batch of 1: then it lowers to one
    `RESHAPE` that XNNPACK takes.

    ## Fix safety
    tflint cannot read the layer's code, so it cannot prove that it is a
    plain reshape to `(batch, ...)`: the fix is `unsafe`.
    """

    code = "TFL220"
    name = "runtime-batch-reshape"
    category = "dynamic-shape"
    severity = Severity.WARNING
    file_kinds = frozenset({"keras"})
    fix_availability = "unsafe"

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        prediction = shared_prediction(ctx)
        if not prediction.dynamic_batch:
            return
        for p in prediction.layers:
            node = p.node
            if node.origin not in ("lambda", "custom") or p.status not in ("opaque", "cpu"):
                continue
            if len(node.inputs) != 1:
                continue
            target = reshape_target(ctx.graph, node)
            if not is_reshape(ctx.graph, node, target):
                continue
            message = f"{describe(node)} reshapes with the runtime batch size"
            found = static_input_fix(ctx, node)
            batch = ("give the input a static batch" if found is None else
                     f"give input `{found[0].name}` a static batch, e.g. "
                     f"`{shape_text(found[1])}`")
            batch += ": with a dynamic batch any reshape keeps SHAPE, STRIDED_SLICE, PACK on the CPU"
            if target is None:
                yield ctx.diagnostic(node, message, suggestion=(
                    f"replace layer `{p.layer}` ({node.op_type}) with a `Reshape` layer of the "
                    f"per-example shape, and {batch}"))
                continue
            yield ctx.diagnostic(
                node, message,
                suggestion=(f"replace layer `{p.layer}` ({node.op_type}) with "
                            f"`Reshape({shape_text(target)})`, and {batch}"),
                fix=Fix("unsafe", f"replace '{p.layer}' by Reshape({shape_text(target)})",
                        {"op": "static_reshape", "layer": p.layer, "target_shape": target}))
