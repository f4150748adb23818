from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from tflint.analyses.keras_prediction import describe, histogram, shared_prediction
from tflint.diagnostics import Diagnostic, Severity
from tflint.rule import Rule, RuleContext


class MixedPrecisionPolicy(Rule):
    """Keras layers under a `mixed_float16` / `mixed_bfloat16` dtype policy.

    ## What it does
    Flags a model whose layers carry a mixed-precision dtype policy, and says
    what the converter does with them according to the lowering table
    (`tflint/data/keras_lowering.json`, measured with the real converter).

    ## Why is this bad
    The policy makes the layers compute in float16 (bfloat16); the converter
    keeps that compute and the `CAST`s around it.  TFLite has no float16
    kernels for convolutions, matrix products or bias additions, so with
    builtins only the conversion fails, and with `SELECT_TF_OPS` every such
    layer becomes a Flex op (`FlexConv2D`, `FlexMatMul`, `FlexBiasAdd`), none
    of them on XNNPACK.

    ## Example
    ```
    model.keras:1:1: error TFL321 4 layers use the 'mixed_float16' dtype policy: they convert to CAST, FlexConv2D, FlexBiasAdd, ... (needs Select TF ops) (layer "conv" (Conv2D))
      help: convert a float32 copy of the model: set the dtype policy to 'float32' before building it and load the trained weights; ...
    ```

    ## How to fix
    Build the same model under the `float32` policy
    (`keras.mixed_precision.set_global_policy("float32")`), load the trained
    weights into it and convert that.  For float16 weights, use
    `converter.target_spec.supported_types = [tf.float16]`, which keeps
    float32 compute.
    """

    code = "TFL321"
    name = "mixed-precision-policy"
    category = "quantization"
    severity = Severity.ERROR
    file_kinds = frozenset({"keras"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        prediction = shared_prediction(ctx)
        mixed = [p for p in prediction.layers if "dtype_policy" in p.features]
        if not mixed:
            return
        policies = Counter(p.features["dtype_policy"] for p in mixed)
        policy = policies.most_common(1)[0][0]
        ops = [op for p in mixed for op in p.lowering.ops]
        known = [p for p in mixed if p.entry is not None and "dtype_policy" in p.entry["when"]]
        flex = any(not p.lowering.converts_builtin for p in known)
        advice = next((p.entry["advice"] for p in known if p.entry and p.entry.get("advice")),
                      None)
        lowered = f": they convert to {histogram(ops)}" if ops else ""
        if flex:
            lowered += " (needs Select TF ops)"
        count = len(mixed)
        yield ctx.diagnostic(
            mixed[0].node,
            f"{count} layer{'s' if count != 1 else ''} use the '{policy}' dtype policy{lowered}; "
            f"first: {describe(mixed[0].node)}",
            suggestion=advice or ("convert a float32 copy of the model (same layers under the "
                                  "'float32' policy, trained weights loaded)"),
            severity=None if flex or not known else Severity.WARNING)
