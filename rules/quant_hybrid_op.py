from __future__ import annotations

from collections.abc import Iterator

from tflint_rules._layer_names import layer_names
from tflint_rules._quant_params import is_quantized_type, quantized_model

from tflint.diagnostics import Diagnostic, Severity
from tflint.graph import Node
from tflint.rule import Rule, RuleContext

MAX_LAYERS = 5


class HybridOp(Rule):
    """Hybrid (dynamic-range) op: float32 activations with int8 constant weights.

    ## What it does
    Finds ops that take float32 activations and constant quantized (int8 or
    int4) weights: what `optimizations = [tf.lite.Optimize.DEFAULT]`
    without a representative dataset produces (dynamic-range
    quantization).  It groups them by op type and says, from
    `tflint/targets/xnnpack_ops.json`, whether the XNNPACK delegate takes that hybrid
    form: it does for `FULLY_CONNECTED`, `CONV_2D`, `TRANSPOSE_CONV` and
    `BATCH_MATMUL` (quantizing the activations on the fly), not for
    `DEPTHWISE_CONV_2D`, the sequence ops (LSTM, RNN, SVDF) or
    `EMBEDDING_LOOKUP`, which then run on the built-in CPU kernels.

    ## Why is this bad
    Dynamic-range quantization shrinks the file about four times and
    speeds up the large matrix products, but activations stay float: the
    int8 weights are used through on-the-fly activation quantization
    (or dequantized), accuracy is close to float, and the speed is not that
    of a full-integer model.  Hybrid ops XNNPACK does not take leave the
    delegate and split the graph, which can make the model slower than the
    float original.  Integer-only runtimes cannot run hybrid models.

    ## Example
    ```
    model.tflite:1:1: warning TFL304 1 DEPTHWISE_CONV_2D op is hybrid (float32 activations, int8 weights), a form XNNPACK does not take: it runs on the CPU (layers dw) (subgraph 0 / op 0 (DEPTHWISE_CONV_2D) "hybrid_cnn_1/dw_1/depthwise1")
    model.tflite:1:1: info TFL304 1 CONV_2D op is hybrid (float32 activations, int8 weights); XNNPACK takes it and quantizes the activations on the fly (layers pw) (subgraph 0 / op 1 (CONV_2D) "hybrid_cnn_1/pw_1/convolution1")
    ```

    ## How to fix
    For integer speed and integer-only hardware, quantize fully: give the
    converter a `representative_dataset` (and `TFLITE_BUILTINS_INT8`).  To
    keep dynamic-range quantization but stay on XNNPACK, keep the weights of
    the ops it does not take in float (the converter only quantizes
    weights of 1024 elements or more), or convert those layers to float16
    instead.
    """

    code = "TFL304"
    name = "hybrid-op"
    category = "quantization"
    severity = Severity.INFO
    file_kinds = frozenset({"tflite"})
    triggers = frozenset({"quantized"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        model = ctx.analysis(quantized_model)
        if not model.hybrid_ops:
            return
        # The same prediction TFL110 reports, so the two rules never disagree.
        delegation = ctx.analyses.delegation()
        title = delegation.title if delegation else ""
        names = ctx.analysis(layer_names)
        groups: dict[tuple[str, bool | None], list[Node]] = {}
        for node in model.hybrid_ops:
            taken = None if delegation is None else node.id not in delegation.cpu_reasons
            groups.setdefault((node.op_type, taken), []).append(node)
        for (op_type, taken), nodes in groups.items():
            weights = sorted({t.dtype or "?" for n in nodes for t in n.inputs
                              if t.is_constant and is_quantized_type(t)})
            count = len(nodes)
            what = (f"{count} {op_type} op{'s are' if count > 1 else ' is'} hybrid "
                    f"(float32 activations, {'/'.join(weights)} weights)")
            layers = sorted({layer for n in nodes if (layer := names.of_node(n))})
            where = ""
            if layers:
                where = f" (layers {', '.join(layers[:MAX_LAYERS])}"
                where += ", ...)" if len(layers) > MAX_LAYERS else ")"
            if taken is False:
                yield ctx.diagnostic(
                    nodes[0],
                    f"{what}, a form {title} does not take: it runs on the CPU{where}",
                    suggestion=(f"quantize fully (representative_dataset, TFLITE_BUILTINS_INT8), "
                                f"or keep these {op_type} weights float (or float16) so that "
                                f"{title} takes the ops"),
                    severity=Severity.WARNING,
                )
            elif taken:
                yield ctx.diagnostic(
                    nodes[0],
                    f"{what}; {title} takes {'them' if count > 1 else 'it'} and quantizes the "
                    f"activations on the fly{where}",
                    suggestion=("for integer speed and integer-only hardware, quantize fully "
                                "with a representative_dataset"),
                )
            else:
                yield ctx.diagnostic(
                    nodes[0], f"{what}{where}",
                    suggestion=("for integer speed and integer-only hardware, quantize fully "
                                "with a representative_dataset"),
                )
