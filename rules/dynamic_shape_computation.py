from __future__ import annotations

from collections.abc import Iterator

from tflint_rules._dynamic_shapes import (
    DynamicShapes,
    RuntimeShapeOperand,
    dynamic_shapes,
    format_chain,
    model_inputs,
)
from tflint_rules._layer_names import LayerNames, layer_names

from tflint.diagnostics import Diagnostic, Severity
from tflint.graph import ModelGraph, Node
from tflint.rule import Rule, RuleContext

#: What to use in the Keras model instead, per consumer op.
_STATIC_ALTERNATIVE = {
    "RESHAPE": "keras.layers.Reshape(target_shape) or Flatten()",
    "RESIZE_BILINEAR": "keras.layers.Resizing(height, width) or UpSampling2D(size)",
    "RESIZE_NEAREST_NEIGHBOR": ("keras.layers.Resizing(height, width, "
                                "interpolation='nearest') or UpSampling2D(size)"),
    "BROADCAST_TO": "a broadcast to a constant shape",
    "TILE": "keras.layers.RepeatVector or a tile by constant multiples",
    "FILL": "a constant of the final shape",
}


class DynamicShapeComputation(Rule):
    """Shape, size or axis operand computed at run time (`SHAPE` → ... → `RESHAPE`).

    ## What it does
    Finds operands that decide an op's output shape, such as the shape of a
    `RESHAPE`, `BROADCAST_TO`, `FILL`, the size of a `RESIZE_BILINEAR`, the
    multiples of a `TILE`, the begin/size of a `SLICE`, that are not
    constants but computed while the model runs.  It reports each at the op
    that consumes the operand, names the chain of ops that computes it
    (usually `SHAPE` → `STRIDED_SLICE`/`GATHER` → `PACK`/`CONCATENATION`/
    arithmetic) and the Keras layer the tensor names point to, and counts
    the ops downstream whose inputs are then sized at run time.  The whole
    model is walked once, forward.

    ## Why is this bad
    The converter folds shape arithmetic into constants when every dimension
    is known; what is left means a dimension was dynamic at conversion,
    typically a `tf.reshape(x, [tf.shape(x)[0], -1])` in a Lambda or custom
    layer with a dynamic batch.  `SHAPE`, `PACK` and `GATHER` have no XNNPACK
    kernel and XNNPACK only takes a `RESHAPE` whose shape is a constant, so
    the chain and its consumer run on the CPU and split the delegated graph
    into several partitions.  The consumer's output is sized only when it
    runs, so the interpreter re-plans the ops after it on every invoke, and
    the GPU delegate refuses such tensors.

    ## Example
    ```python
    x = keras.layers.Lambda(lambda t: tf.reshape(t, [tf.shape(t)[0], -1]))(x)
    ```
    ```
    model.tflite:1:1: warning TFL203 RESHAPE in layer 'batch_reshape' computes its shape at run time: SHAPE → STRIDED_SLICE → PACK (reads the shape of the output of CONV_2D in layer 'conv', dynamic in dimension 0); 1 op after it gets run-time-sized inputs (subgraph 0 / op 4 (RESHAPE) "model_1/batch_reshape_1/Reshape")
    ```

    ## How to fix
    Convert with a fixed input signature (`keras.Input(..., batch_size=1)`
    or `tf.TensorSpec([1, ...])`): the converter then folds the chain into a
    constant.  Or replace the computation by a layer with a static shape:
    `keras.layers.Reshape((256,))` or `Flatten()` instead of
    `tf.reshape(x, [tf.shape(x)[0], -1])`, `Resizing(h, w)` or
    `UpSampling2D(2)` instead of `tf.image.resize(x, tf.shape(x)[1:3] * 2)`.
    """

    code = "TFL203"
    name = "dynamic-shape-computation"
    category = "dynamic-shape"
    severity = Severity.WARNING
    file_kinds = frozenset({"tflite"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        analysis = ctx.analysis(dynamic_shapes)
        if not analysis.operands:
            return
        names = ctx.analysis(layer_names)
        dynamic_input = any(m.dynamic_dims for m in model_inputs(ctx.graph))
        # Shapes read from a dynamic model input share one cause: one finding for all of them.
        shared = [o for o in analysis.operands if o.origin == "shape" and dynamic_input]
        if len(shared) > 1:
            yield _grouped(ctx, shared, analysis, names)
        for operand in analysis.operands:
            if len(shared) > 1 and operand in shared:
                continue
            later = analysis.downstream.get(operand.consumer.id, [])
            message = _message(ctx.graph, operand, names)
            if later:
                message += (f"; {len(later)} op{'s' if len(later) > 1 else ''} after it "
                            f"get{'' if len(later) > 1 else 's'} run-time-sized inputs")
            yield ctx.diagnostic(operand.consumer, message,
                                 suggestion=_suggestion(operand, names, dynamic_input))


def _grouped(ctx: RuleContext, operands: list[RuntimeShapeOperand], analysis: DynamicShapes,
             names: LayerNames) -> Diagnostic:
    first = operands[0]
    layers = {names.of_node(o.consumer) for o in operands} - {None}
    later = {n.id for o in operands for n in analysis.downstream.get(o.consumer.id, [])}
    consumers = {o.consumer.id for o in operands}
    where = f" in {len(layers)} layers" if len(layers) > 1 else ""
    message = (f"{len(consumers)} ops{where} compute their shapes at run time from the model's "
               f"dynamic input dimensions, e.g. {_message(ctx.graph, first, names)}")
    if later - consumers:
        count = len(later - consumers)
        message += f"; {count} op{'s' if count != 1 else ''} after them get run-time-sized inputs"
    related = [{"subgraph": o.consumer.subgraph, "index": o.consumer.location.op_index,
                "op": o.consumer.op_type, "layer": names.of_node(o.consumer),
                "name": o.consumer.name or None, "reason": format_chain(o.chain)}
               for o in operands]
    return ctx.diagnostic(first.consumer, message,
                          suggestion=_suggestion(first, names, dynamic_input=True),
                          related=related, weight=len(consumers))


def _message(graph: ModelGraph, operand: RuntimeShapeOperand, names: LayerNames) -> str:
    consumer = names.subject(operand.consumer)
    if operand.origin == "input":
        return f"{consumer} takes its {operand.role} from model input '{operand.tensor.name}'"
    if operand.origin == "data":
        return (f"{consumer} takes its {operand.role} from tensor values computed by "
                f"{names.describe(operand.chain[0])}")
    message = f"{consumer} computes its {operand.role} at run time: {format_chain(operand.chain)}"
    read = _what_shape_reads(graph, operand.chain[0], names)
    return f"{message} ({read})" if read else message


def _what_shape_reads(graph: ModelGraph, shape_op: Node, names: LayerNames) -> str | None:
    if shape_op.op_type != "SHAPE" or not shape_op.inputs:
        return None
    source = shape_op.inputs[0]
    dims = [i for i, d in enumerate(source.shape or ()) if d is None]
    producer = graph.producer(source)
    whose = (f"the output of {names.describe(producer)}" if producer is not None
             else f"input '{source.name}'")
    if not dims:
        return f"reads the shape of {whose}"
    listed = ", ".join(map(str, dims))
    return f"reads the shape of {whose}, dynamic in dimension{'s' if len(dims) > 1 else ''} {listed}"


def _suggestion(operand: RuntimeShapeOperand, names: LayerNames, dynamic_input: bool) -> str:
    layer = names.of_node(operand.consumer) or next(
        (names.of_node(n) for n in reversed(operand.chain) if names.of_node(n)), None)
    where = f" in layer '{layer}'" if layer else ""
    alternative = _STATIC_ALTERNATIVE.get(operand.consumer.op_type,
                                          f"a constant {operand.role}")
    if operand.origin == "shape" and dynamic_input:
        return (f"convert with a fixed input signature (keras.Input(..., batch_size=1) or "
                f"tf.TensorSpec with every size) so the converter folds the shape, or use "
                f"{alternative}{where} instead of computing it from tf.shape()")
    if operand.origin == "shape":
        return f"use {alternative}{where} instead of computing the {operand.role} from tf.shape()"
    return (f"make the {operand.role} of {operand.consumer.op_type}{where} a constant "
            f"(use {alternative})")
