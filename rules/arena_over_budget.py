from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, ClassVar

from tflint.diagnostics import Diagnostic, Severity
from tflint.graph import ModelGraph
from tflint.rule import Option, Rule, RuleContext
from tflint.sizes import format_size, parse_size, size_problem

if TYPE_CHECKING:
    from tflint.targets.tflm_arena import ArenaEstimate


class ArenaOverBudget(Rule):
    """Estimated TFLite Micro tensor arena larger than the budget.

    ## What it does
    Estimates the tensor arena TensorFlow Lite for Microcontrollers needs for
    a `.tflite` model, statically: the activations and scratch buffers placed
    the way TFLM's greedy memory planner places them, plus the persistent
    data (one record per tensor and op, kernel op data, per-channel
    multipliers, variables).  When the estimate exceeds the budget (option
    `arena-budget`, also `--arena-budget` on the command line and
    `arena-budget = "256KiB"` in `[tool.tflint]`), reports it once, naming
    the largest tensors alive at the peak.  Without a budget it reports
    nothing; the estimate is in the json report's `tflm` target block either
    way (`--target tflm`).

    ## Why is this bad
    The arena is a static buffer the application reserves in RAM; a model
    that needs more fails in `AllocateTensors()` on the device.

    ## Example
    ```
    model.tflite:1:1: warning TFL132 tensor arena estimated at 412.5 KiB, over the 256 KiB budget; at the peak: conv1/Relu (294912 B), input (110592 B)
    ```

    ## How to fix
    Shrink the largest activations at the peak: a smaller input resolution,
    fewer channels in the early layers, an earlier stride or pooling, or
    int8 quantization (a quarter of float32's bytes).
    """

    code = "TFL132"
    name = "arena-over-budget"
    category = "model"
    severity = Severity.WARNING
    file_kinds = frozenset({"tflite"})
    options: ClassVar[dict[str, Option]] = {
        "arena-budget": Option(object, None, "the RAM available for the TFLite Micro tensor arena: "
                                             "bytes, or a string such as \"256KiB\" or \"1MB\"",
                               check=size_problem),
    }

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        budget_option = ctx.options["arena-budget"]
        if budget_option is None:
            return
        budget = parse_size(budget_option)
        estimate = ctx.analysis(_arena)
        if estimate.total <= budget:
            return
        peak = ", ".join(estimate.peak_names())
        yield ctx.diagnostic(
            None,
            f"tensor arena estimated at {format_size(estimate.total)}, over the "
            f"{format_size(budget)} budget; at the peak: {peak}",
            suggestion="shrink the largest activations at the peak (input resolution, early "
                       "channels, an earlier stride) or quantize to int8")


def _arena(graph: ModelGraph, target: str) -> ArenaEstimate:
    from tflint.targets.tflm_arena import estimate_arena

    return estimate_arena(graph)
