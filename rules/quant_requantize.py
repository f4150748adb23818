from __future__ import annotations

from collections.abc import Iterator

from tflint_rules._layer_names import layer_names
from tflint_rules._quant_params import is_quantized_type, show_scale

from tflint.diagnostics import Diagnostic, Severity
from tflint.rule import Rule, RuleContext

#: Ops whose output has a fixed scale, whatever the data (int8 kernels).
FIXED_SCALE_OPS = frozenset({"LOGISTIC", "TANH", "SOFTMAX", "LOG_SOFTMAX"})


class Requantize(Rule):
    """`QUANTIZE` op that requantizes an integer tensor to another scale.

    ## What it does
    Flags `QUANTIZE` ops whose input is already quantized with the same
    integer type (int8 → int8, int16 → int16): requantizations the converter
    inserts when an op needs all its inputs on one scale
    (`CONCATENATION`, `PACK`, and data-movement ops) and a producer cannot
    take that scale, typically because its output scale is fixed
    (`LOGISTIC` 1/256, `TANH` 1/128, `SOFTMAX`) or because the tensor also
    feeds another op.  The message names the producer, the consumer and both
    scales.

    ## Why is this bad
    Each one is an extra op per inference (cheap, and XNNPACK takes int8
    requantizations within a 1/256..128 scale ratio), and it loses
    precision: the branch with the smaller range is stored with the coarser
    scale of the concatenation, e.g. a sigmoid output (0..1, scale 1/256)
    requantized to scale 0.0098 keeps about 100 of its 256 levels.

    ## Example
    ```
    model.tflite:1:1: info TFL313 QUANTIZE requantizes the output of LOGISTIC in layer 'gate' from scale 0.00390625 to 0.00978 for CONCATENATION in layer 'cat' (subgraph 0 / op 3 (QUANTIZE) "model_1/gate_1/Sigmoid1")
    ```

    ## How to fix
    Usually nothing; when it matters, concatenate before the activation
    (apply the sigmoid to the concatenated tensor only where the ranges
    agree), or keep branches with very different ranges apart and
    concatenate later, after a layer that brings them to one range.
    """

    code = "TFL313"
    name = "requantize"
    category = "quantization"
    severity = Severity.INFO
    file_kinds = frozenset({"tflite"})
    triggers = frozenset({"QUANTIZE"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        graph = ctx.graph
        names = None
        for node in graph.nodes():
            if node.op_type != "QUANTIZE" or not node.inputs or not node.outputs:
                continue
            source, result = node.inputs[0], node.outputs[0]
            if not (is_quantized_type(source) and source.dtype == result.dtype
                    and source.quantization and result.quantization):
                continue
            names = names or ctx.analysis(layer_names)
            producer = graph.producer(source)
            whose = (f"the output of {names.describe(producer)}" if producer is not None
                     else f"input '{source.name}'")
            consumers = graph.consumers(result)
            target = f" for {names.describe(consumers[0])}" if consumers else ""
            reason = ""
            if producer is not None and producer.op_type in FIXED_SCALE_OPS:
                reason = f" ({producer.op_type} has a fixed output scale)"
            elif len(graph.consumers(source)) > 1:
                reason = " (the tensor also feeds other ops)"
            yield ctx.diagnostic(
                node,
                f"QUANTIZE requantizes {whose} from scale "
                f"{show_scale(source.quantization.scale[0])} to "
                f"{show_scale(result.quantization.scale[0])}{target}{reason}",
                suggestion=("usually fine; to avoid the extra op and the precision loss, join "
                            "branches that have similar value ranges, or concatenate before "
                            "a fixed-range activation"),
            )
