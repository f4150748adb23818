from __future__ import annotations

from collections.abc import Iterator

from tflint_rules._layer_names import layer_names
from tflint_rules._quant_params import show_scale

from tflint.diagnostics import Diagnostic, Severity
from tflint.graph import Node, Tensor
from tflint.rule import Rule, RuleContext

#: int8/int16 kernels that refuse inputs quantized differently from the output.
REJECTING_OPS = frozenset({"CONCATENATION", "PACK"})
#: Kernels that move quantized values without rescaling them.
COPYING_OPS = frozenset({
    "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "TRANSPOSE", "PAD", "MAX_POOL_2D", "SLICE",
    "STRIDED_SLICE", "SPLIT", "SPLIT_V", "GATHER", "DEPTH_TO_SPACE", "SPACE_TO_DEPTH",
    "BATCH_TO_SPACE_ND", "SPACE_TO_BATCH_ND", "TILE", "BROADCAST_TO", "REVERSE_V2", "UNPACK",
    "RESIZE_NEAREST_NEIGHBOR",
})
#: Data operands of the ops above (the rest are shapes, axes, paddings...).
_DATA_OPERANDS = {"SPLIT": 1, "SPLIT_V": 0}
_SIGNED = frozenset({"int8", "int16"})


class MixedQuantizationScales(Rule):
    """Op that needs one quantization for its inputs and output but gets several.

    ## What it does
    Compares the scale and zero point of the quantized (int8/int16) inputs
    and outputs of ops that cannot rescale: `CONCATENATION` and `PACK`,
    whose int8 kernels require every input to share the output's
    parameters, and data-movement ops that copy integers unchanged
    (`RESHAPE`, `TRANSPOSE`, `PAD`, `MAX_POOL_2D`, `SLICE`, `GATHER`...).
    The TensorFlow converter inserts a requantizing `QUANTIZE` (TFL313)
    whenever the parameters would differ, so this only happens in models
    written or edited by other tools.

    ## Why is this bad
    LiteRT's int8 `CONCATENATION` and `PACK` refuse to prepare such an op,
    so the model does not load.  The copying kernels load and run, but
    reinterpret the integers with the output's parameters, so every value
    is off by the ratio of the scales (and shifted by the zero points); in
    LiteRT 2.3 XNNPACK fails to prepare `MAX_POOL_2D`, `PAD`, `TRANSPOSE`
    and `CONCATENATION` in that state, failing `allocate_tensors` for the
    whole model.

    ## Example
    ```
    model.tflite:1:1: error TFL314 CONCATENATION has input 'b' with scale 0.1, zero point 0 but output scale 0.05, zero point -3; the int8 kernel rejects it (subgraph 0 / op 0 (CONCATENATION) "cat")
    ```

    ## How to fix
    Give the inputs the output's scale and zero point (insert a `QUANTIZE`
    that requantizes each differing input, as the TensorFlow converter
    does), or re-quantize the model with the TensorFlow converter.
    """

    code = "TFL314"
    name = "mixed-quantization-scales"
    category = "quantization"
    severity = Severity.ERROR
    file_kinds = frozenset({"tflite"})
    triggers = frozenset({"quantized"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        names = None
        for node in ctx.graph.nodes():
            if node.op_type not in REJECTING_OPS and node.op_type not in COPYING_OPS:
                continue
            mismatch = _mismatch(node)
            if mismatch is None:
                continue
            names = names or ctx.analysis(layer_names)
            source, result = mismatch
            effect = (f"the {result.dtype} kernel rejects it: the model does not load"
                      if node.op_type in REJECTING_OPS
                      else "the kernel copies the integers unchanged, so the values come out "
                           "rescaled")
            yield ctx.diagnostic(
                node,
                f"{names.subject(node)} has input '{source.name}' with {_params(source)} but "
                f"output {_params(result)}; {effect}",
                suggestion=("requantize the input to the output's scale and zero point with a "
                            "QUANTIZE op (as the TensorFlow converter does), or re-quantize the "
                            "model with the TensorFlow converter"),
            )


def _data_inputs(node: Node) -> list[Tensor]:
    if node.op_type in REJECTING_OPS:
        return list(node.inputs)
    position = _DATA_OPERANDS.get(node.op_type, 0)
    return node.inputs[position:position + 1]


def _mismatch(node: Node) -> tuple[Tensor, Tensor] | None:
    outputs = [t for t in node.outputs if t.dtype in _SIGNED and t.quantization is not None]
    if not outputs:
        return None
    result = outputs[0]
    for source in _data_inputs(node):
        if source.dtype != result.dtype or source.quantization is None:
            continue
        if _key(source) != _key(result):
            return source, result
    return None


def _key(tensor: Tensor) -> tuple[tuple[float, ...], tuple[int, ...]]:
    quantization = tensor.quantization
    assert quantization is not None
    zero_points = quantization.zero_point or (0,) * len(quantization.scale)
    return quantization.scale, zero_points


def _params(tensor: Tensor) -> str:
    quantization = tensor.quantization
    assert quantization is not None
    scale = show_scale(quantization.scale[0]) if quantization.scale else "?"
    zero_point = quantization.zero_point[0] if quantization.zero_point else 0
    return f"scale {scale}, zero point {zero_point}"
