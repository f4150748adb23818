from __future__ import annotations

from collections.abc import Iterator

from tflint_rules._dynamic_shapes import DATA_DEPENDENT_OPS, dynamic_shapes
from tflint_rules._layer_names import layer_names

from tflint.diagnostics import Diagnostic, Severity
from tflint.rule import Rule, RuleContext


class DataDependentShape(Rule):
    """Op whose output size depends on tensor values (`WHERE`, `UNIQUE`...).

    ## What it does
    Flags `WHERE` with one operand (the indices of true elements, which
    `tf.boolean_mask` and `tf.where(cond)` produce), `UNIQUE`, and
    non-max suppression whose output the converter left without a static
    size.  It counts the ops downstream that receive the run-time-sized
    tensors.

    ## Why is this bad
    The size of these outputs is known only after the op has run, so the
    interpreter allocates them during `invoke` and re-plans the memory of
    every op after them on each run.  None of these ops has an XNNPACK
    kernel, and the ops after them often cannot be delegated either
    (GATHER, GATHER_ND), so that part of the model runs on the CPU; the GPU
    delegate refuses dynamic tensors.

    ## Example
    ```python
    kept = tf.boolean_mask(scores, scores > 0.5)
    ```
    ```
    model.tflite:1:1: warning TFL204 WHERE 'boolean_mask/Where' has an output size set by the number of true elements; 2 ops after it get run-time-sized inputs (subgraph 0 / op 1 (WHERE) "boolean_mask/Where")
    ```

    ## How to fix
    Keep shapes fixed inside the model and move the selection to the app:
    compute a mask and multiply (`tf.where(mask, x, 0)` with three operands
    is a static-shape `SELECT_V2`), or return the top k with `tf.math.top_k`
    (a fixed k) and filter in the application code.
    """

    code = "TFL204"
    name = "data-dependent-shape"
    category = "dynamic-shape"
    severity = Severity.WARNING
    file_kinds = frozenset({"tflite"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        analysis = ctx.analysis(dynamic_shapes)
        if not analysis.data_dependent:
            return
        names = ctx.analysis(layer_names)
        for node in analysis.data_dependent:
            later = analysis.downstream.get(node.id, [])
            message = (f"{names.subject(node)} has an output size set by "
                       f"{DATA_DEPENDENT_OPS[node.op_type]}")
            if later:
                message += (f"; {len(later)} op{'s' if len(later) > 1 else ''} after it "
                            f"get{'' if len(later) > 1 else 's'} run-time-sized inputs")
            yield ctx.diagnostic(
                node, message,
                suggestion=("keep a fixed shape in the model (a mask multiplied in, "
                            "tf.where(cond, x, 0) with three operands, or tf.math.top_k with "
                            "a fixed k) and filter the result in the app"),
            )
