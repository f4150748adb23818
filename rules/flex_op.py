from __future__ import annotations

from collections.abc import Iterator

from tflint.diagnostics import Diagnostic, Severity
from tflint.rule import Rule, RuleContext


class FlexOp(Rule):
    """TensorFlow op kept as a Flex (Select TF ops) op in a `.tflite` model.

    ## What it does
    Flags every operator whose code is a `Flex*` custom op, i.e. a TensorFlow
    op the converter could not lower to a TFLite builtin and kept because the
    model was converted with `SELECT_TF_OPS`.

    ## Why is this bad
    A Flex op only runs when the app links the Select TF ops delegate, a
    multi-megabyte binary that most mobile builds leave out; without it the
    model fails to load.  With it, the op runs on TensorFlow kernels outside
    XNNPACK, splitting the graph into extra delegate partitions.

    ## Example
    A `Lambda` computing `tf.math.erfinv(x)` converts to `FlexErfinv`:
    ```
    model.tflite:1:1: error TFL101 FlexErfinv needs the Select TF ops delegate (subgraph 0 / op 3 (FlexErfinv) "model/lambda/Erfinv")
    ```

    ## How to fix
    Express the computation with ops that have TFLite builtins (see the op's
    name for the TensorFlow op), or ship the Flex delegate knowingly
    (`tensorflow-lite-select-tf-ops` on Android) and accept its size.
    """

    code = "TFL101"
    name = "flex-op"
    category = "unsupported-op"
    severity = Severity.ERROR
    file_kinds = frozenset({"tflite"})
    triggers = frozenset({"origin:flex"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        for node in ctx.graph.nodes():
            if node.origin != "flex":
                continue
            tf_op = node.op_type.removeprefix("Flex")
            yield ctx.diagnostic(
                node,
                f"{node.op_type} needs the Select TF ops delegate",
                suggestion=(f"rewrite the model so that TensorFlow op '{tf_op}' is not needed "
                            "(use ops with TFLite builtins), or link the Select TF ops delegate "
                            "into the app"),
            )
