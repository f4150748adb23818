from __future__ import annotations

from collections.abc import Iterator

from tflint.analyses.keras_prediction import describe, shared_prediction
from tflint.diagnostics import Diagnostic, Severity
from tflint.rule import Rule, RuleContext


class TrainingOnlyLayer(Rule):
    """Training-only Keras layer that disappears at conversion.

    ## What it does
    Lists the layers that act only in training (`Dropout`,
    `SpatialDropout*`, `GaussianNoise`, `GaussianDropout`, `AlphaDropout`,
    `ActivityRegularization`); the lowering table records that they convert
    to no op at all.

    ## Why is this bad
    Nothing breaks: this is information.  It explains why the converted
    model has fewer ops than the Keras model has layers, and reminds that a
    layer meant to act at inference (Monte-Carlo dropout, noise for
    robustness) will not.

    ## Example
    ```
    model.h5:1:1: info TFL423 Dropout layer 'dropout' is removed at conversion (training only) (layer "dropout" (Dropout))
    ```

    ## How to fix
    Nothing to do, unless the layer was meant to act at inference: then
    implement that behaviour with ops that run in inference mode.
    """

    code = "TFL423"
    name = "training-only-layer"
    category = "fusion"
    severity = Severity.INFO
    file_kinds = frozenset({"keras"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        prediction = shared_prediction(ctx)
        for p in prediction.layers:
            if p.status == "gone" and p.entry is not None and p.entry.get(
                    "family") == "training-only":
                yield ctx.diagnostic(
                    p.node, f"{describe(p.node)} is removed at conversion (training only)")
