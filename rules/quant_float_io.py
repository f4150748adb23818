from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from tflint_rules._quant_params import quantized_model, show_scale

from tflint.diagnostics import Diagnostic, Severity
from tflint.graph import Tensor
from tflint.rule import Option, Rule, RuleContext


class FloatIoInIntegerModel(Rule):
    """Full-integer model whose inputs or outputs stay float32.

    ## What it does
    In a model where every op computes on quantized tensors, flags float32
    model inputs that only feed a `QUANTIZE` op and float32 outputs made by
    a `DEQUANTIZE` op: the converter's default when `inference_input_type`
    and `inference_output_type` are left at `tf.float32`.  It gives the
    scale and zero point the app needs to do the conversion itself.

    Option `integer-io` (default `false`): set it to `true` in
    `[tool.tflint.rules.TFL301]` when the model must have integer I/O (a
    microcontroller, an NPU, an app that feeds camera bytes), which raises
    the findings from info to warning.

    ## Why is this bad
    It is not wrong: the model runs and XNNPACK takes the edge
    `QUANTIZE`/`DEQUANTIZE` ops.  But every inference converts the input and
    output tensors once more, the app moves four times the bytes, and
    runtimes without float support (TFLite Micro, Edge TPU, many NPUs)
    cannot run the model at all.

    ## Example
    ```
    model.tflite:1:1: info TFL301 input 'image' is float32 and quantized to int8 by QUANTIZE inside the model (subgraph 0 / op 0 (QUANTIZE) "tfl.quantize")
    ```

    ## How to fix
    Convert with `converter.inference_input_type = tf.int8` and
    `converter.inference_output_type = tf.int8` (`tf.int16` for 16x8
    models), then quantize in the app: `q = round(x / scale) + zero_point`
    with the values the message gives, and `x = scale * (q - zero_point)`
    for the outputs.
    """

    code = "TFL301"
    name = "float-io-in-integer-model"
    category = "quantization"
    severity = Severity.INFO
    file_kinds = frozenset({"tflite"})
    triggers = frozenset({"quantized"})
    options: ClassVar[dict[str, Option]] = {
        "integer-io": Option(bool, False, "report float I/O as a warning: the model is meant to "
                             "take and give integers"),
    }

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        model = ctx.analysis(quantized_model)
        if not model.full_integer:
            return
        graph = ctx.graph
        severity = Severity.WARNING if ctx.options["integer-io"] else Severity.INFO
        names = _signature_names(ctx)
        for tensor in graph.inputs:
            consumers = graph.consumers(tensor)
            if tensor.dtype != "float32" or not consumers:
                continue
            if all(c.op_type == "QUANTIZE" for c in consumers):
                quantize = consumers[0]
                out = quantize.outputs[0]
                yield ctx.diagnostic(
                    quantize,
                    f"input '{names.get(tensor.id, tensor.name)}' is float32 and quantized to "
                    f"{out.dtype} by QUANTIZE inside the model",
                    suggestion=(f"convert with converter.inference_input_type = tf.{out.dtype} "
                                f"and feed {out.dtype} values {_to_int(out)}"),
                    severity=severity,
                )
        for tensor in graph.outputs:
            producer = graph.producer(tensor)
            if tensor.dtype != "float32" or producer is None or producer.op_type != "DEQUANTIZE":
                continue
            source = producer.inputs[0]
            yield ctx.diagnostic(
                producer,
                f"output '{names.get(tensor.id, tensor.name)}' is float32, dequantized from "
                f"{source.dtype} by DEQUANTIZE inside the model",
                suggestion=(f"convert with converter.inference_output_type = tf.{source.dtype} "
                            f"and read the {source.dtype} values as {_to_float(source)}"),
                severity=severity,
            )


def _signature_names(ctx: RuleContext) -> dict[str, str]:
    names: dict[str, str] = {}
    for signature in ctx.graph.signatures:
        for side in (signature.inputs, signature.outputs):
            for name, tensor in side.items():
                names.setdefault(tensor.id, name)
    return names


def _params(tensor: Tensor) -> tuple[str, int] | None:
    quantization = tensor.quantization
    if quantization is None or len(quantization.scale) != 1:
        return None
    zero_point = quantization.zero_point[0] if quantization.zero_point else 0
    return show_scale(quantization.scale[0]), zero_point


def _to_int(tensor: Tensor) -> str:
    params = _params(tensor)
    if params is None:
        return "quantized with the input tensor's scale and zero point"
    scale, zero_point = params
    return f"q = round(x / {scale}) + {zero_point}"


def _to_float(tensor: Tensor) -> str:
    params = _params(tensor)
    if params is None:
        return "x = scale * (q - zero_point) with the output tensor's parameters"
    scale, zero_point = params
    return f"x = {scale} * (q - {zero_point})"

