from __future__ import annotations

from collections.abc import Iterator

from tflint.diagnostics import Diagnostic, Severity
from tflint.rule import Rule, RuleContext
from tflint.targets import get_target


class TargetRefusesModel(Rule):
    """A selected target refuses the whole model (for example a float model on an integer-only NPU).

    ## What it does
    Reports, once per target, a model that a selected target does not take at
    all: Ethos-U and the Edge TPU run only fully integer-quantized models, so
    their compilers leave a float model entirely on the CPU.

    ## Why is this bad
    None of the model runs on the accelerator it was meant for: every op
    stays on the CPU, often many times slower.

    ## Example
    ```
    model.tflite:1:1: error TFL131 ACME NPU refuses this model: it needs a full-integer model
    ```

    ## How to fix
    Convert the model as the target needs; for integer-only NPUs, full int8
    quantization: `converter.optimizations = [tf.lite.Optimize.DEFAULT]`, a
    `representative_dataset`, and
    `converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]`.
    """

    code = "TFL131"
    name = "target-refuses-model"
    category = "unsupported-op"
    severity = Severity.ERROR
    file_kinds = frozenset({"tflite"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        for name in ctx.analyses.targets:
            delegation = ctx.analyses.delegation(name)
            if delegation is None or not delegation.refused:
                continue
            target = get_target(name)
            yield ctx.diagnostic(None, f"{target.title} refuses this model: {delegation.refused}",
                                 suggestion=target.refusal_advice or None, target=name)
