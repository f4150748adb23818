from __future__ import annotations

from collections.abc import Iterable, Iterator

from tflint_rules._layer_names import layer_names

from tflint.diagnostics import Diagnostic
from tflint.patterns import alt, const, find, op, root_types, var
from tflint.rule import Rule, RuleContext
from tflint.targets.profile import load_profile

X = var("x")
MEAN = op("MEAN", X, const(), shared_ok=True, label="mean")
SQUARE_OF_X = alt(op("SQUARE", X), op("MUL", X, X))
VARIANCE = op("MEAN", alt(
    op("SQUARED_DIFFERENCE", X, MEAN),                       # Keras LayerNormalization
    op("SQUARE", op("SUB", X, MEAN, shared_ok=True)),        # mean((x - m)^2) by hand
    SQUARE_OF_X,                                             # RMSNorm: mean(x^2)
), const())
#: The chain up to the reciprocal standard deviation; the scale, offset and
#: centring ops after it vary with how the norm was written.
PATTERN = op(("RSQRT", "SQRT"), op("ADD", VARIANCE, const()))
#: XNNPACK datatype class of each quantized activation type.
XNNPACK_CLASS = {"int8": "qs8", "uint8": "qu8", "int16": "qs16"}


class ExpandedLayerNorm(Rule):
    """LayerNorm expanded into MEAN / SQUARED_DIFFERENCE / RSQRT ops, quantized to integers.

    ## What it does
    Finds layer normalizations (and RMS normalizations) as the converter
    writes them: `MEAN`, `SQUARED_DIFFERENCE` (or `SQUARE` of a `SUB`),
    `MEAN`, `ADD` epsilon, `RSQRT`, then the scale and offset.  TFLite has no
    LayerNorm builtin, so in a float model this chain is the best there is:
    it is counted in the file summary, not reported.  It is reported when the
    model quantized it to int8, uint8 or int16.

    ## Why is this bad
    In int8 the variance is stored with 256 levels over a range that is the
    square of the input's, so small variances lose most of their precision,
    and XNNPACK takes neither `RSQRT` nor `SQUARED_DIFFERENCE` in integer
    types (nor anything in int16): every LayerNorm leaves the delegate,
    splitting the graph into CPU and XNNPACK partitions.  A Keras
    `LayerNormalization` in an int8 model also gets a `DEQUANTIZE` / `NEG` /
    `QUANTIZE` island.

    ## Example
    A Keras `LayerNormalization` in a model converted with full-integer
    quantization:
    ```
    model.tflite:1:1: warning TFL406 LayerNorm of the model input is quantized to int8; XNNPACK takes no int8 RSQRT, SQUARED_DIFFERENCE (subgraph 0 / op 7 (RSQRT) "functional_1/layer_normalization_1/Rsqrt")
    ```

    ## How to fix
    Keep the normalization in float with selective quantization: convert
    through `tf.lite.experimental.QuantizationDebugger` with
    `QuantizationDebugOptions(denylisted_ops=["MEAN", "SQUARED_DIFFERENCE",
    "RSQRT"])` (or `denylisted_nodes` naming its tensors) and
    `get_nondebug_quantized_model()`.  This needs float fallback, i.e. not
    `supported_ops=[TFLITE_BUILTINS_INT8]`.
    """

    code = "TFL406"
    name = "expanded-layer-norm"
    category = "fusion"
    file_kinds = frozenset({"tflite"})
    triggers = root_types(PATTERN)

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        graph = ctx.graph
        names = ctx.analysis(layer_names)
        in_float = 0
        for match in find(graph, PATTERN):
            source = match.bindings["x"]
            kind = "LayerNorm" if "mean" in match.labels else "RMSNorm"
            if source.dtype not in XNNPACK_CLASS:
                in_float += 1
                continue
            producer = graph.producer(source)
            what = names.describe(producer) if producer is not None else "the model input"
            refused = _not_taken_by_xnnpack((n.op_type for n in match.nodes), source.dtype)
            message = f"{kind} of {what} is quantized to {source.dtype}"
            if refused:
                message += f"; XNNPACK takes no {source.dtype} {', '.join(refused)}"
            yield ctx.diagnostic(
                match.root, message,
                suggestion=("keep the normalization in float: convert through "
                            "tf.lite.experimental.QuantizationDebugger with "
                            "QuantizationDebugOptions(denylisted_ops=['MEAN', "
                            "'SQUARED_DIFFERENCE', 'RSQRT']) and get_nondebug_quantized_model() "
                            "(needs float fallback allowed)"),
            )
        if in_float:
            plural = in_float > 1
            ctx.notes.append(
                f"{in_float} LayerNorm/RMSNorm normalization{'s' if plural else ''} "
                f"run{'' if plural else 's'} as MEAN/SQUARED_DIFFERENCE/RSQRT ops in float: "
                "fine (TFLite has no LayerNorm builtin, XNNPACK takes these ops)")


def _not_taken_by_xnnpack(op_types: Iterable[str], dtype: str) -> list[str]:
    """Ops of the chain that XNNPACK has no kernel for with ``dtype`` activations."""
    known = load_profile("xnnpack").ops
    wanted = XNNPACK_CLASS[dtype]
    refused = set()
    for op_type in op_types:
        type_sets = (known.get(op_type) or {}).get("type_sets", [])
        if not any(wanted in types[0].split("|") for types in type_sets):
            refused.add(op_type)
    return sorted(refused)
