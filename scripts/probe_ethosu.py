"""Probe which ops Arm's Vela compiler places on the Ethos-U NPU and which it leaves on the CPU.

Builds small .tflite models in ``fixtures/probe_ethosu/`` (one op or a short
pattern each, int8/int16/uint8/int32/float32, shapes, kernel sizes and strides,
constant and run-time operands, quantization forms), compiles each with the
installed Vela for every accelerator configuration tflint registers, and
records in ``fixtures/probe_ethosu/manifest.json`` per op whether Vela placed
it on the NPU, the number of NPU partitions and Vela's warnings.

    python scripts/probe_ethosu.py            # write the models and the manifest
    python scripts/probe_ethosu.py --check    # compare tflint's prediction with Vela

``--check`` recompiles every model, compares Vela with the manifest and with
tflint's prediction (TFL130/TFL131 per configuration) and prints every
disagreement.  Models are written with the flatbuffer schema, so dtypes,
quantization and options are exact (the builders are the XNNPACK probe's).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from probe_xnnpack import (  # noqa: E402
    CONV,
    DEPTHWISE,
    Case,
    Op,
    Spec,
    bias32,
    const,
    f32,
    int8_weights,
    ints,
    model,
    qs8,
    qs16,
    qu8,
    register,
    single,
)
from vela_runner import run_vela, vela_version  # noqa: E402

PROBE_DIR = ROOT / "fixtures" / "probe_ethosu"
MANIFEST = "manifest.json"
#: Every accelerator configuration the probe models are compiled for.
CONFIGS = ("ethos-u55-128", "ethos-u55-256", "ethos-u65-256", "ethos-u65-512",
           "ethos-u85-256", "ethos-u85-512", "ethos-u85-1024")


CASES: dict[str, Case] = {}
S4 = [1, 4, 4, 8]


def add(op: str, key: str, variant: str, make: Callable[[], bytes]) -> None:
    register(CASES, op, key, variant, make)


def built(op: str, key: str, variant: str, *args: Any, **kw: Any) -> None:
    add(op, key, variant, lambda: single(op, *args, **kw))


def i32q(shape: Sequence[int], scale: float = 1.0) -> Spec:
    return Spec("i32", list(shape), scale=[scale], zero_point=[0])


def plain(dtype: str, shape: Sequence[int]) -> Spec:
    return Spec(dtype, list(shape))


def filled(dtype: str, shape: Sequence[int], value: float, scale: float = 0.02,
           channels: int = 1) -> Spec:
    import numpy as np
    return Spec(dtype, list(shape), data=np.full(shape, value), scale=[scale] * channels,
                zero_point=[0] * channels)


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------

def elementwise_cases() -> None:
    for op, opts in (("ADD", ("AddOptions", {})), ("SUB", ("SubOptions", {})),
                     ("MUL", ("MulOptions", {}))):
        built(op, "qs8", "int8", [qs8(S4), qs8(S4)], [qs8(S4)], options=opts)
        built(op, "qs16", "int16", [qs16(S4), qs16(S4)], [qs16(S4)], options=opts)
        built(op, "qu8", "uint8", [qu8(S4), qu8(S4)], [qu8(S4)], options=opts)
        built(op, "f32", "float32", [f32(*S4), f32(*S4)], [f32(*S4)], options=opts)
        built(op, "i32_quantized", "int32 with scale 1", [i32q(S4), i32q(S4)], [i32q(S4)],
              options=opts)
        built(op, "i32_plain", "int32 without quantization",
              [plain("i32", S4), plain("i32", S4)], [plain("i32", S4)], options=opts)
        built(op, "broadcast_channel", "int8 [1,4,4,8] with [1,1,1,8]",
              [qs8(S4), qs8([1, 1, 1, 8])], [qs8(S4)], options=opts)
        built(op, "broadcast_both", "int8 [1,4,1,8] with [1,1,4,8]: no input has the output shape",
              [qs8([1, 4, 1, 8]), qs8([1, 1, 4, 8])], [qs8(S4)], options=opts)
    opts = ("AddOptions", {})
    built("ADD", "rank5", "int8 rank 5", [qs8([1, 2, 3, 4, 8]), qs8([1, 2, 3, 4, 8])],
          [qs8([1, 2, 3, 4, 8])], options=opts)
    built("ADD", "rank6", "int8 rank 6", [qs8([1, 2, 2, 3, 4, 8])] * 2,
          [qs8([1, 2, 2, 3, 4, 8])], options=opts)
    built("ADD", "batch4", "int8 batch 4", [qs8([4, 4, 4, 8])] * 2, [qs8([4, 4, 4, 8])],
          options=opts)
    built("ADD", "dynamic_batch", "int8, batch dynamic (shape_signature -1)",
          [qs8(S4, signature=[-1, 4, 4, 8])] * 2, [qs8(S4, signature=[-1, 4, 4, 8])],
          options=opts)
    built("ADD", "dynamic_height", "int8, height dynamic",
          [qs8(S4, signature=[1, -1, 4, 8])] * 2, [qs8(S4, signature=[1, -1, 4, 8])],
          options=opts)
    built("ADD", "no_quantization", "int8 tensors without scale",
          [plain("i8", S4), plain("i8", S4)], [plain("i8", S4)], options=opts)
    built("ADD", "per_axis", "int8 input quantized per channel",
          [Spec("i8", S4, scale=[0.05] * 8, zero_point=[0] * 8, axis=3), qs8(S4)], [qs8(S4)],
          options=opts)
    built("ADD", "qs16_zero_point", "int16 with zero point 5",
          [Spec("i16", S4, scale=[0.05], zero_point=[5]), qs16(S4)], [qs16(S4)], options=opts)
    built("ADD", "fused_relu", "int8 with fused RELU", [qs8(S4), qs8(S4)], [qs8(S4)],
          options=("AddOptions", {"fusedActivationFunction": "RELU"}))
    built("MUL", "qs8_constant_scalar", "int8 times a constant int8 scalar",
          [qs8(S4), Spec("i8", [], data=[3], scale=[0.05], zero_point=[0])], [qs8(S4)],
          options=("MulOptions", {}))
    built("ADD", "i64", "int64", [plain("i64", S4)] * 2, [plain("i64", S4)], options=opts)
    built("ADD", "scalar", "int8 scalars", [qs8([]), qs8([])], [qs8([])], options=opts)
    for op in ("MAXIMUM", "MINIMUM"):
        built(op, "qs8", "int8, same quantization", [qs8(S4), qs8(S4)], [qs8(S4)])
        built(op, "qs8_mismatch", "int8, output scale differs",
              [qs8(S4), qs8(S4)], [qs8(S4, 0.1)])
    built("SQUARED_DIFFERENCE", "qs8", "int8", [qs8(S4), qs8(S4)], [qs8(S4)])
    built("DIV", "qs8", "int8", [qs8(S4), qs8(S4)], [qs8(S4)])
    built("DIV", "i32", "int32", [plain("i32", S4)] * 2, [plain("i32", S4)])
    built("FLOOR_DIV", "qs8", "int8", [qs8(S4), qs8(S4)], [qs8(S4)])
    built("POW", "qs8", "int8", [qs8(S4), qs8(S4)], [qs8(S4)])
    for op in ("EQUAL", "NOT_EQUAL", "GREATER", "GREATER_EQUAL", "LESS", "LESS_EQUAL"):
        built(op, "qs8", "int8 inputs, bool output", [qs8(S4), qs8(S4)], [plain("bool", S4)])
    for op in ("LOGICAL_AND", "LOGICAL_OR"):
        built(op, "bool", "bool", [plain("bool", S4)] * 2, [plain("bool", S4)])
    built("LOGICAL_NOT", "bool", "bool", [plain("bool", S4)], [plain("bool", S4)])
    built("SELECT_V2", "qs8", "bool condition, int8 values",
          [plain("bool", S4), qs8(S4), qs8(S4)], [qs8(S4)])


def unary_cases() -> None:
    for op in ("ABS", "EXP", "HARD_SWISH", "LOGISTIC", "TANH", "RELU", "RELU6", "RELU_N1_TO_1",
               "RELU_0_TO_1", "NEG", "LOG", "RSQRT", "ELU", "GELU", "LEAKY_RELU"):
        opts = {"LEAKY_RELU": ("LeakyReluOptions", {"alpha": 0.1}),
                "GELU": ("GeluOptions", {})}.get(op)
        built(op, "qs8", "int8", [qs8(S4)], [qs8(S4)], options=opts)
        built(op, "qs16", "int16", [qs16(S4)], [qs16(S4)], options=opts)
        built(op, "qu8", "uint8", [qu8(S4)], [qu8(S4)], options=opts)
        built(op, "f32", "float32", [f32(*S4)], [f32(*S4)], options=opts)
    built("ABS", "i32", "int32 quantized", [i32q(S4)], [i32q(S4)])
    for op in ("SQRT", "SIN", "COS", "FLOOR", "CEIL", "ROUND", "SQUARE", "SIGN"):
        built(op, "qs8", "int8 (no NPU kernel)", [qs8(S4)], [qs8(S4)])
    built("PRELU", "qs8", "int8, constant alpha", [qs8(S4), filled("i8", [1, 1, 8], 1)],
          [qs8(S4)])
    built("PRELU", "qs16", "int16", [qs16(S4), filled("i16", [1, 1, 8], 1)], [qs16(S4)])
    built("CAST", "qs8_to_i32", "int8 to int32", [qs8(S4)], [plain("i32", S4)])
    built("CAST", "qs8_to_qs16", "int8 to int16", [qs8(S4)], [qs16(S4)])
    built("QUANTIZE", "f32_to_qs8", "float32 to int8", [f32(*S4)], [qs8(S4)])
    built("QUANTIZE", "qs8_requantize", "int8 to int8, other scale", [qs8(S4)], [qs8(S4, 0.1)])
    built("QUANTIZE", "qs8_to_qs16", "int8 to int16", [qs8(S4)], [qs16(S4)])
    built("QUANTIZE", "qu8_to_qs8", "uint8 to int8", [qu8(S4)], [qs8(S4)])
    built("DEQUANTIZE", "qs8", "int8 to float32", [qs8(S4)], [f32(*S4)])
    built("SOFTMAX", "qs8", "int8", [qs8([1, 8, 16])], [qs8([1, 8, 16], 1 / 256, -128)],
          options=("SoftmaxOptions", {"beta": 1.0}))
    built("SOFTMAX", "qs16", "int16", [qs16([1, 8, 16])], [qs16([1, 8, 16], 1 / 32768)],
          options=("SoftmaxOptions", {"beta": 1.0}))
    built("SOFTMAX", "qs8_hw_65536", "int8, H*W = 65536",
          [qs8([1, 256, 256, 2])], [qs8([1, 256, 256, 2], 1 / 256, -128)],
          options=("SoftmaxOptions", {"beta": 1.0}))
    built("SOFTMAX", "qs8_hw_65535", "int8, H*W = 65535",
          [qs8([1, 65535, 2])], [qs8([1, 65535, 2], 1 / 256, -128)],
          options=("SoftmaxOptions", {"beta": 1.0}))
    built("SOFTMAX", "qs8_hw_70000", "int8, H*W = 70000",
          [qs8([1, 280, 250, 2])], [qs8([1, 280, 250, 2], 1 / 256, -128)],
          options=("SoftmaxOptions", {"beta": 1.0}))
    built("LOG_SOFTMAX", "qs8", "int8", [qs8([1, 16])], [qs8([1, 16], 16 / 256, 127)])


def conv_cases() -> None:
    def conv(key: str, variant: str, inp: Spec, filt: Spec | None, bias: Spec | None,
             out: Spec, **options: Any) -> None:
        built("CONV_2D", key, variant, [inp, filt, bias], [out],
              options=("Conv2DOptions", {**CONV, **options}), version=3)

    out16 = [1, 4, 4, 16]
    pc = int8_weights([16, 3, 3, 8], channels=16)
    conv("qs8", "int8 3x3 SAME, per-channel weights", qs8(S4), pc, bias32([16], 0.001, 16),
         qs8(out16, 0.5))
    conv("qs8_per_tensor", "int8, per-tensor weights", qs8(S4), int8_weights([16, 3, 3, 8]),
         bias32([16], 0.001), qs8(out16, 0.5))
    conv("qs8_no_bias", "int8 without bias", qs8(S4), pc, None, qs8(out16, 0.5))
    conv("qu8", "uint8", qu8(S4), int8_weights([16, 3, 3, 8], zero_point=128, dtype="u8"),
         bias32([16], 0.001), qu8(out16, 0.5))
    conv("qs16", "int16x8 with an int64 bias", qs16(S4), pc,
         Spec("i64", [16], data=[0] * 16, scale=[0.001] * 16, zero_point=[0] * 16),
         qs16(out16, 0.5))
    conv("qs16_big_bias", "int16x8, int64 bias 2^41",
         qs16(S4), pc, Spec("i64", [16], data=[1 << 41] * 16, scale=[0.001] * 16,
                            zero_point=[0] * 16), qs16(out16, 0.5))
    conv("f32", "float32", f32(*S4), const("f32", [16, 3, 3, 8], [0.1] * 1152),
         const("f32", [16], [0.0] * 16), f32(*out16))
    conv("runtime_weights", "int8 weights computed at run time", qs8(S4),
         Spec("i8", [16, 3, 3, 8], scale=[0.02], zero_point=[0]), bias32([16], 0.001),
         qs8(out16, 0.5))
    conv("runtime_bias", "int8, bias computed at run time", qs8(S4), pc,
         Spec("i32", [16], scale=[0.001], zero_point=[0]), qs8(out16, 0.5))
    conv("i16_weights", "int8 input, int16 weights", qs8(S4),
         int8_weights([16, 3, 3, 8], dtype="i16"), bias32([16], 0.001), qs8(out16, 0.5))
    for stride in (2, 3, 4):
        size = (4 + stride - 1) // stride
        conv(f"stride{stride}_same", f"int8 stride {stride} SAME", qs8([1, 8, 8, 8]), pc,
             bias32([16], 0.001, 16), qs8([1, (8 + stride - 1) // stride,
                                           (8 + stride - 1) // stride, 16], 0.5),
             strideW=stride, strideH=stride)
        conv(f"stride{stride}_valid", f"int8 stride {stride} VALID", qs8([1, 9, 9, 8]), pc,
             bias32([16], 0.001, 16), qs8([1, (9 - 3) // stride + 1, (9 - 3) // stride + 1,
                                           16], 0.5),
             strideW=stride, strideH=stride, padding="VALID")
        del size
    conv("stride4_valid_dilation2", "int8 stride 4 VALID dilation 2", qs8([1, 13, 13, 8]), pc,
         bias32([16], 0.001, 16), qs8([1, 2, 2, 16], 0.5), strideW=4, strideH=4,
         padding="VALID", dilationWFactor=2, dilationHFactor=2)
    conv("dilation2", "int8 dilation 2", qs8(S4), pc, bias32([16], 0.001, 16), qs8(out16, 0.5),
         dilationWFactor=2, dilationHFactor=2)
    for k in (9, 17, 65):
        conv(f"kernel{k}", f"int8 {k}x{k} kernel VALID", qs8([1, k, k, 2]),
             int8_weights([4, k, k, 2], channels=4), bias32([4], 0.001, 4),
             qs8([1, 1, 1, 4], 0.5), padding="VALID")
    conv("kernel1x65", "int8 1x65 kernel", qs8([1, 1, 65, 2]),
         int8_weights([4, 1, 65, 2], channels=4), bias32([4], 0.001, 4),
         qs8([1, 1, 1, 4], 0.5), padding="VALID")
    # 65600 input channels of weight 127: the absolute weight sum 8331200 > 127 * 65536
    conv("weight_sum_over", "int8, sum of absolute weights 8331200 per output channel",
         qs8([1, 1, 1, 65600]), filled("i8", [1, 1, 1, 65600], 127), bias32([1], 0.001),
         qs8([1, 1, 1, 1], 0.5), padding="VALID")
    conv("qs16_weight_sum_over", "int16x8, sum of absolute weights 8331200",
         qs16([1, 1, 1, 65600]), filled("i8", [1, 1, 1, 65600], 127),
         Spec("i64", [1], data=[0], scale=[0.001], zero_point=[0]),
         qs16([1, 1, 1, 1], 0.5), padding="VALID")
    conv("bias_2d", "int8 with a [1,16] bias", qs8(S4), pc,
         Spec("i32", [1, 16], data=[0] * 16, scale=[0.001], zero_point=[0]), qs8(out16, 0.5))
    conv("fused_tanh", "int8 with a fused TANH", qs8(S4), pc, bias32([16], 0.001, 16),
         qs8(out16, 0.5), fusedActivationFunction="TANH")
    conv("batch2", "int8 batch 2", qs8([2, 4, 4, 8]), pc, bias32([16], 0.001, 16),
         qs8([2, 4, 4, 16], 0.5))

    def dw(key: str, variant: str, inp: Spec, out: Spec, filt: Spec | None = None,
           **options: Any) -> None:
        channels = out.shape[-1]
        built("DEPTHWISE_CONV_2D", key, variant,
              [inp, filt or int8_weights([1, 3, 3, channels], channels=channels, axis=3),
               bias32([channels], 0.001, channels)], [out],
              options=("DepthwiseConv2DOptions", {**DEPTHWISE, **options}), version=3)

    dw("qs8", "int8 3x3", qs8(S4), qs8(S4, 0.5))
    dw("qs16", "int16x8", qs16(S4), qs16(S4, 0.5))
    dw("multiplier2", "int8 depth multiplier 2", qs8(S4), qs8([1, 4, 4, 16], 0.5),
       depthMultiplier=2)
    dw("stride4_valid", "int8 stride 4 VALID", qs8([1, 9, 9, 8]), qs8([1, 2, 2, 8], 0.5),
       strideW=4, strideH=4, padding="VALID")
    dw("stride3", "int8 stride 3", qs8([1, 9, 9, 8]), qs8([1, 3, 3, 8], 0.5),
       strideW=3, strideH=3)
    dw("kernel9", "int8 9x9 VALID", qs8([1, 9, 9, 8]), qs8([1, 1, 1, 8], 0.5),
       filt=int8_weights([1, 9, 9, 8], channels=8, axis=3), padding="VALID")
    dw("dilation3", "int8 dilation 3", qs8([1, 8, 8, 8]), qs8([1, 8, 8, 8], 0.5),
       dilationWFactor=3, dilationHFactor=3)
    dw("f32", "float32", f32(*S4), f32(*S4), filt=const("f32", [1, 3, 3, 8], [0.1] * 72))

    def tconv(key: str, variant: str, out_shape: list[int], inp: Spec, out: Spec,
              **options: Any) -> None:
        built("TRANSPOSE_CONV", key, variant,
              [ints(*out_shape), int8_weights([8, 3, 3, 8], channels=8), inp,
               bias32([8], 0.001, 8)], [out],
              options=("TransposeConvOptions", {"padding": "SAME", "strideW": 2, "strideH": 2,
                                                **options}), version=3)

    tconv("qs8_stride2", "int8 stride 2 SAME", [1, 8, 8, 8], qs8(S4), qs8([1, 8, 8, 8], 0.5))
    tconv("qs8_stride1", "int8 stride 1 SAME", [1, 4, 4, 8], qs8(S4), qs8(S4, 0.5),
          strideW=1, strideH=1)
    tconv("qs8_stride3", "int8 stride 3 SAME", [1, 12, 12, 8], qs8(S4),
          qs8([1, 12, 12, 8], 0.5), strideW=3, strideH=3)
    tconv("qs8_valid", "int8 stride 2 VALID", [1, 9, 9, 8], qs8(S4), qs8([1, 9, 9, 8], 0.5),
          padding="VALID")


def fully_connected_cases() -> None:
    def fc(key: str, variant: str, inp: Spec, filt: Spec, bias: Spec | None, out: Spec,
           **options: Any) -> None:
        built("FULLY_CONNECTED", key, variant, [inp, filt, bias], [out],
              options=("FullyConnectedOptions", options), version=5)

    fc("qs8", "int8", qs8([1, 8]), int8_weights([16, 8], channels=16),
       bias32([16], 0.001, 16), qs8([1, 16], 0.5))
    fc("qs8_batch4", "int8, 4 rows", qs8([4, 8]), int8_weights([16, 8]), bias32([16], 0.001),
       qs8([4, 16], 0.5))
    fc("qs16", "int16x8", qs16([1, 8]), int8_weights([16, 8]),
       Spec("i64", [16], data=[0] * 16, scale=[0.001], zero_point=[0]), qs16([1, 16], 0.5))
    fc("runtime_weights_qs8", "int8, weights computed at run time", qs8([1, 8]),
       qs8([16, 8]), None, qs8([1, 16], 0.5))
    fc("runtime_weights_qs16", "int16, weights computed at run time", qs16([1, 8]),
       qs16([16, 8]), None, qs16([1, 16], 0.5))
    fc("keep_num_dims", "int8 rank-3 input, keep_num_dims", qs8([1, 3, 8]),
       int8_weights([16, 8]), bias32([16], 0.001), qs8([1, 3, 16], 0.5), keepNumDims=True)
    fc("f32", "float32", f32(1, 8), const("f32", [16, 8], [0.1] * 128), None, f32(1, 16))
    fc("hybrid", "float32 input, int8 weights", f32(1, 8), int8_weights([16, 8]), None,
       f32(1, 16))
    built("BATCH_MATMUL", "qs8", "int8", [qs8([1, 4, 8]), qs8([1, 8, 6])], [qs8([1, 4, 6])])
    built("BATCH_MATMUL", "qs16", "int16", [qs16([1, 4, 8]), qs16([1, 8, 6])],
          [qs16([1, 4, 6])])
    built("BATCH_MATMUL", "qs8_const_rhs", "int8, constant right side",
          [qs8([1, 4, 8]), int8_weights([1, 8, 6])], [qs8([1, 4, 6])])


def pool_cases() -> None:
    def pool(op: str, key: str, variant: str, inp: Spec, out: Spec, **options: Any) -> None:
        fields = {"padding": "VALID", "strideW": 1, "strideH": 1, "filterWidth": 2,
                  "filterHeight": 2, **options}
        built(op, key, variant, [inp], [out], options=("Pool2DOptions", fields))

    for op in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        pool(op, "qs8", "int8 2x2 stride 2", qs8(S4), qs8([1, 2, 2, 8]), strideW=2, strideH=2)
        pool(op, "qs16", "int16 2x2", qs16(S4), qs16([1, 3, 3, 8]))
        pool(op, "f32", "float32 2x2", f32(*S4), f32(1, 3, 3, 8))
        pool(op, "same_9x9", "int8 9x9 SAME", qs8([1, 9, 9, 8]), qs8([1, 9, 9, 8]),
             padding="SAME", filterWidth=9, filterHeight=9)
        pool(op, "same_8x8", "int8 8x8 SAME", qs8([1, 8, 8, 8]), qs8([1, 8, 8, 8]),
             padding="SAME", filterWidth=8, filterHeight=8)
        pool(op, "valid_16x16", "int8 16x16 VALID", qs8([1, 16, 16, 8]), qs8([1, 1, 1, 8]),
             filterWidth=16, filterHeight=16)
        pool(op, "valid_height_257", "int8 257x1 VALID", qs8([1, 257, 1, 8]),
             qs8([1, 1, 1, 8]), filterWidth=1, filterHeight=257)
        pool(op, "valid_300x300", "int8 300x300 VALID (product > 65536)",
             qs8([1, 200, 300, 1]), qs8([1, 1, 1, 1]), filterWidth=300, filterHeight=200)
        pool(op, "stride4_valid", "int8 stride 4 VALID", qs8([1, 8, 8, 8]), qs8([1, 2, 2, 8]),
             strideW=4, strideH=4, filterWidth=4, filterHeight=4)
        pool(op, "stride4_same", "int8 stride 4 SAME", qs8([1, 8, 8, 8]), qs8([1, 2, 2, 8]),
             strideW=4, strideH=4, filterWidth=4, filterHeight=4, padding="SAME")
        pool(op, "stride4_same_kernel3", "int8 3x3 stride 4 SAME", qs8([1, 8, 8, 8]),
             qs8([1, 2, 2, 8]), strideW=4, strideH=4, filterWidth=3, filterHeight=3,
             padding="SAME")


def reduce_cases() -> None:
    mean = ("ReducerOptions", {"keepDims": True})
    built("MEAN", "qs8_hw", "int8 over H and W", [qs8([1, 8, 8, 16]), ints(1, 2)],
          [qs8([1, 1, 1, 16])], options=mean)
    built("MEAN", "qs16_hw", "int16 over H and W", [qs16([1, 8, 8, 16]), ints(1, 2)],
          [qs16([1, 1, 1, 16])], options=mean)
    built("MEAN", "qs8_batch2", "int8, batch 2", [qs8([2, 8, 8, 16]), ints(1, 2)],
          [qs8([2, 1, 1, 16])], options=mean)
    built("MEAN", "qs8_depth", "int8 over the channels, h, w, c > 1",
          [qs8([1, 8, 8, 16]), ints(3)], [qs8([1, 8, 8, 1])], options=mean)
    built("MEAN", "qs8_depth_w1", "int8 over the channels, w = 1",
          [qs8([1, 8, 1, 16]), ints(3)], [qs8([1, 8, 1, 1])], options=mean)
    built("MEAN", "qs8_runtime_axis", "int8, axis computed at run time",
          [qs8([1, 8, 8, 16]), plain("i32", [2])], [qs8([1, 1, 1, 16])], options=mean)
    built("MEAN", "qs8_axis_4096", "int8, reduced axis of 4096",
          [qs8([1, 1, 4096, 4]), ints(2)], [qs8([1, 1, 1, 4])], options=mean)
    built("MEAN", "qs8_axis_5000", "int8, reduced axis of 5000",
          [qs8([1, 1, 5000, 4]), ints(2)], [qs8([1, 1, 1, 4])], options=mean)
    built("MEAN", "qs8_scalar_axis", "int8 over the channels, scalar axis",
          [qs8([1, 8, 1, 16]), const("i32", [], 3)], [qs8([1, 8, 1, 1])], options=mean)
    built("MEAN", "qs16_70000", "int16, 70000 reduced elements",
          [qs16([1, 250, 280, 1]), ints(1, 2)], [qs16([1, 1, 1, 1])], options=mean)
    built("MEAN", "f32", "float32", [f32(1, 8, 8, 16), ints(1, 2)], [f32(1, 1, 1, 16)],
          options=mean)
    for op in ("SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD"):
        built(op, "qs8_hw", "int8 over H and W", [qs8([1, 8, 8, 16]), ints(1, 2)],
              [qs8([1, 1, 1, 16])], options=mean)
        built(op, "qs8_c", "int8 over C", [qs8([1, 8, 8, 16]), ints(3)],
              [qs8([1, 8, 8, 1])], options=mean)
    built("REDUCE_ANY", "bool", "bool over C", [plain("bool", S4), ints(3)],
          [plain("bool", [1, 4, 4, 1])], options=mean)
    built("ARG_MAX", "qs8_c", "int8 over the channels", [qs8([1, 4, 4, 16]), ints(3)],
          [plain("i32", [1, 4, 4])], options=("ArgMaxOptions", {"outputType": 2}))
    built("ARG_MAX", "qs8_c_i64", "int8 over the channels, int64 index",
          [qs8([1, 4, 4, 16]), ints(3)], [plain("i64", [1, 4, 4])],
          options=("ArgMaxOptions", {"outputType": 4}))
    built("ARG_MAX", "qs8_c200", "int8 over 200 channels", [qs8([1, 4, 4, 200]), ints(3)],
          [plain("i32", [1, 4, 4])], options=("ArgMaxOptions", {"outputType": 2}))
    built("ARG_MAX", "qs8_h", "int8 over H", [qs8([1, 4, 4, 16]), ints(1)],
          [plain("i32", [1, 4, 16])], options=("ArgMaxOptions", {"outputType": 2}))
    built("ARG_MIN", "qs8_c", "int8 over the channels", [qs8([1, 4, 4, 16]), ints(3)],
          [plain("i32", [1, 4, 4])], options=("ArgMinOptions", {"outputType": 2}))


def shape_cases() -> None:
    built("RESHAPE", "qs8", "int8, constant shape", [qs8(S4), ints(1, 128)], [qs8([1, 128])])
    built("RESHAPE", "qs8_runtime_shape", "int8, shape computed at run time",
          [qs8(S4), plain("i32", [2])], [qs8([1, 128])])
    built("RESHAPE", "i32", "int32 without quantization", [plain("i32", S4), ints(1, 128)],
          [plain("i32", [1, 128])])
    built("RESHAPE", "f32", "float32", [f32(*S4), ints(1, 128)], [f32(1, 128)])
    built("SQUEEZE", "qs8", "int8", [qs8([1, 1, 4, 8])], [qs8([1, 4, 8])])
    built("EXPAND_DIMS", "qs8", "int8", [qs8([4, 8]), ints(0)], [qs8([1, 4, 8])])
    built("TRANSPOSE", "qs8_nhcw", "int8 NHCW", [qs8(S4), ints(0, 1, 3, 2)],
          [qs8([1, 4, 8, 4])])
    built("TRANSPOSE", "qs8_nchw", "int8 NCHW", [qs8(S4), ints(0, 3, 1, 2)],
          [qs8([1, 8, 4, 4])])
    built("TRANSPOSE", "qs8_runtime_perm", "int8, permutation computed at run time",
          [qs8(S4), plain("i32", [4])], [qs8([1, 8, 4, 4])])
    built("TRANSPOSE", "i32_nhcw", "int32 NHCW", [plain("i32", S4), ints(0, 1, 3, 2)],
          [plain("i32", [1, 4, 8, 4])])
    built("TRANSPOSE", "i32_nchw", "int32 NCHW (not NHWC/NWHC/NHCW)",
          [plain("i32", S4), ints(0, 3, 1, 2)], [plain("i32", [1, 8, 4, 4])])
    built("TRANSPOSE", "qs8_rank5", "int8 rank 5", [qs8([1, 2, 3, 4, 5]), ints(0, 4, 1, 2, 3)],
          [qs8([1, 5, 2, 3, 4])])
    built("TRANSPOSE", "qs8_rank9", "int8 rank 9",
          [qs8([1, 2, 1, 2, 1, 2, 1, 2, 2]), ints(0, 1, 2, 3, 4, 5, 6, 8, 7)],
          [qs8([1, 2, 1, 2, 1, 2, 1, 2, 2])])
    built("TRANSPOSE", "qs8_big", "int8 [1,300,300,2] NCHW-like, decomposed > 2^16",
          [qs8([2, 300, 300, 2]), ints(3, 1, 2, 0)], [qs8([2, 300, 300, 2])])
    built("CONCATENATION", "qs8", "int8 along C", [qs8(S4), qs8(S4)], [qs8([1, 4, 4, 16])],
          options=("ConcatenationOptions", {"axis": 3}))
    built("CONCATENATION", "i32", "int32 quantized", [i32q(S4), i32q(S4)],
          [i32q([1, 4, 4, 16])], options=("ConcatenationOptions", {"axis": 3}))
    built("CONCATENATION", "f32", "float32", [f32(*S4), f32(*S4)], [f32(1, 4, 4, 16)],
          options=("ConcatenationOptions", {"axis": 3}))
    built("PACK", "qs8", "int8", [qs8([4, 8]), qs8([4, 8])], [qs8([2, 4, 8])],
          options=("PackOptions", {"valuesCount": 2, "axis": 0}))
    built("PACK", "i32_scalars", "int32 scalars", [plain("i32", []), plain("i32", [])],
          [plain("i32", [2])], options=("PackOptions", {"valuesCount": 2, "axis": 0}))
    built("UNPACK", "qs8", "int8", [qs8([2, 4, 8])], [qs8([4, 8]), qs8([4, 8])],
          options=("UnpackOptions", {"num": 2, "axis": 0}))
    built("SPLIT", "qs8", "int8 in 2", [ints(3), qs8(S4)], [qs8([1, 4, 4, 4])] * 2,
          options=("SplitOptions", {"numSplits": 2}))
    built("SPLIT", "qs8_num_splits_mismatch", "int8, num_splits 3 with 2 outputs",
          [ints(3), qs8(S4)], [qs8([1, 4, 4, 4])] * 2, options=("SplitOptions", {"numSplits": 3}))
    built("SPLIT", "qs8_scalar_axis", "int8 in 2, scalar axis",
          [const("i32", [], 3), qs8(S4)], [qs8([1, 4, 4, 4])] * 2,
          options=("SplitOptions", {"numSplits": 2}))
    built("SPLIT_V", "qs8", "int8 in 2", [qs8(S4), ints(2, 6), ints(3)],
          [qs8([1, 4, 4, 2]), qs8([1, 4, 4, 6])], options=("SplitVOptions", {"numSplits": 2}))
    built("SLICE", "qs8", "int8", [qs8(S4), ints(0, 1, 1, 0), ints(1, 2, 2, 8)],
          [qs8([1, 2, 2, 8])])
    built("SLICE", "qs8_runtime_begin", "int8, begin computed at run time",
          [qs8(S4), plain("i32", [4]), ints(1, 2, 2, 8)], [qs8([1, 2, 2, 8])])
    ss = ("StridedSliceOptions", {})
    built("STRIDED_SLICE", "qs8", "int8, stride 1", [qs8(S4), ints(0, 1, 1, 0),
          ints(1, 3, 3, 8), ints(1, 1, 1, 1)], [qs8([1, 2, 2, 8])], options=ss)
    built("STRIDED_SLICE", "qs8_stride2", "int8, stride 2 over W",
          [qs8(S4), ints(0, 0, 0, 0), ints(1, 4, 4, 8), ints(1, 1, 2, 1)], [qs8([1, 4, 2, 8])],
          options=ss)
    built("STRIDED_SLICE", "qs8_negative_stride", "int8, stride -1 over W",
          [qs8(S4), ints(0, 0, 3, 0), ints(1, 4, -5, 8), ints(1, 1, -1, 1)],
          [qs8([1, 4, 4, 8])], options=ss)
    built("STRIDED_SLICE", "qs8_shrink", "int8, shrink_axis_mask",
          [qs8(S4), ints(0, 0, 0, 0), ints(1, 1, 4, 8), ints(1, 1, 1, 1)], [qs8([1, 4, 8])],
          options=("StridedSliceOptions", {"shrinkAxisMask": 2}))
    built("STRIDED_SLICE", "i32_vector", "int32 1-D, scalar output",
          [plain("i32", [4]), ints(0), ints(1), ints(1)], [plain("i32", [])],
          options=("StridedSliceOptions", {"shrinkAxisMask": 1}))
    built("PAD", "qs8", "int8", [qs8(S4), const("i32", [4, 2], [0, 0, 1, 1, 1, 1, 0, 0])],
          [qs8([1, 6, 6, 8])])
    built("PAD", "qs8_i64_pads", "int8, int64 paddings",
          [qs8(S4), const("i64", [4, 2], [0, 0, 1, 1, 1, 1, 0, 0])], [qs8([1, 6, 6, 8])])
    built("PAD", "qs8_runtime_pads", "int8, paddings computed at run time",
          [qs8(S4), plain("i32", [4, 2])], [qs8([1, 6, 6, 8])])
    built("PAD", "qs8_channels", "int8, padding the channels",
          [qs8(S4), const("i32", [4, 2], [0, 0, 0, 0, 0, 0, 1, 1])], [qs8([1, 4, 4, 10])])
    built("PADV2", "qs8", "int8", [qs8(S4), const("i32", [4, 2], [0, 0, 1, 1, 1, 1, 0, 0]),
                                   qs8([])], [qs8([1, 6, 6, 8])])
    built("PADV2", "qs8_constant_value", "int8, constant pad value",
          [qs8(S4), const("i32", [4, 2], [0, 0, 1, 1, 1, 1, 0, 0]),
           Spec("i8", [], data=[0], scale=[0.05], zero_point=[0])], [qs8([1, 6, 6, 8])])
    built("MIRROR_PAD", "qs8", "int8 REFLECT",
          [qs8(S4), const("i32", [4, 2], [0, 0, 1, 1, 1, 1, 0, 0])], [qs8([1, 6, 6, 8])],
          options=("MirrorPadOptions", {"mode": 0}))
    built("TILE", "qs8", "int8", [qs8(S4), ints(1, 2, 1, 1)], [qs8([1, 8, 4, 8])])
    built("TILE", "qs8_runtime", "int8, multiples computed at run time",
          [qs8(S4), plain("i32", [4])], [qs8([1, 8, 4, 8])])
    built("REVERSE_V2", "qs8_w", "int8 over W", [qs8(S4), ints(2)], [qs8(S4)])
    built("GATHER", "qs8", "int8 table, int32 indices", [qs8([16, 8]), plain("i32", [4])],
          [qs8([4, 8])], options=("GatherOptions", {"axis": 0}))
    built("GATHER_ND", "qs8", "int8", [qs8([16, 8]), plain("i32", [4, 1])], [qs8([4, 8])])
    built("SHAPE", "qs8", "int8 input", [qs8(S4)], [plain("i32", [4])],
          options=("ShapeOptions", {"outType": 2}))
    built("DEPTH_TO_SPACE", "qs8", "int8 block 2", [qs8(S4)], [qs8([1, 8, 8, 2])],
          options=("DepthToSpaceOptions", {"blockSize": 2}))
    built("SPACE_TO_DEPTH", "qs8", "int8 block 2", [qs8(S4)], [qs8([1, 2, 2, 32])],
          options=("SpaceToDepthOptions", {"blockSize": 2}))
    for op, opts in (("RESIZE_BILINEAR", "ResizeBilinearOptions"),
                     ("RESIZE_NEAREST_NEIGHBOR", "ResizeNearestNeighborOptions")):
        for factor in (2, 3, 4, 16):
            built(op, f"qs8_x{factor}", f"int8 upscale x{factor}",
                  [qs8(S4), ints(4 * factor, 4 * factor)],
                  [qs8([1, 4 * factor, 4 * factor, 8])], options=(opts, {}))
        built(op, "qs8_x2_half_pixel", "int8 x2, half_pixel_centers",
              [qs8(S4), ints(8, 8)], [qs8([1, 8, 8, 8])],
              options=(opts, {"halfPixelCenters": True}))
        built(op, "qs8_x4_half_pixel", "int8 x4, half_pixel_centers",
              [qs8(S4), ints(16, 16)], [qs8([1, 16, 16, 8])],
              options=(opts, {"halfPixelCenters": True}))
        built(op, "qs8_x2_align", "int8 x2, align_corners (7/3)",
              [qs8(S4), ints(8, 8)], [qs8([1, 8, 8, 8])], options=(opts, {"alignCorners": True}))
        built(op, "qs8_align_x2", "int8 4->7, align_corners (x2)",
              [qs8(S4), ints(7, 7)], [qs8([1, 7, 7, 8])], options=(opts, {"alignCorners": True}))
        built(op, "qs8_h_only", "int8 x2 in H only", [qs8(S4), ints(8, 4)],
              [qs8([1, 8, 4, 8])], options=(opts, {}))
        built(op, "qs8_1x1_input", "int8 1x1 input to 5x5", [qs8([1, 1, 1, 8]), ints(5, 5)],
              [qs8([1, 5, 5, 8])], options=(opts, {}))
        built(op, "qs8_same_size", "int8 same size", [qs8(S4), ints(4, 4)], [qs8(S4)],
              options=(opts, {}))
        built(op, "qs8_downscale", "int8 8->4", [qs8([1, 8, 8, 8]), ints(4, 4)],
              [qs8(S4)], options=(opts, {}))


def pattern_cases() -> None:
    """Short graphs: partitions around CPU ops, folded shape computations."""
    conv_options = ("Conv2DOptions", CONV)
    add_options = ("AddOptions", {})
    d2s = ("DepthToSpaceOptions", {"blockSize": 1})

    def pattern(key: str, variant: str, ops: list[Op], tensors: list[Spec], inputs: list[int],
                outputs: list[int]) -> None:
        add("PATTERN", key, variant, lambda: model(ops, tensors, inputs, outputs))

    pattern("npu_cpu_npu", "ADD -> DEPTH_TO_SPACE (CPU) -> ADD: two NPU partitions",
            [Op("ADD", [0, 0], [1], add_options),
             Op("DEPTH_TO_SPACE", [1], [2], d2s),
             Op("ADD", [2, 2], [3], add_options)],
            [qs8(S4), qs8(S4), qs8(S4), qs8(S4)], [0], [3])
    pattern("branch_cpu_first", "ADD_a on x, DEPTH_TO_SPACE (CPU) on x, ADD_b on ADD_a, "
            "ADD(ADD_b, D2S)",
            [Op("ADD", [0, 0], [1], add_options),
             Op("DEPTH_TO_SPACE", [0], [2], d2s),
             Op("ADD", [1, 1], [3], add_options),
             Op("ADD", [3, 2], [4], add_options)],
            [qs8(S4)] * 5, [0], [4])
    pattern("branch_interleaved", "NPU, CPU, NPU on independent branches, then joined",
            [Op("ADD", [0, 0], [1], add_options),
             Op("DEPTH_TO_SPACE", [0], [2], d2s),
             Op("ADD", [0, 0], [3], add_options),
             Op("DEPTH_TO_SPACE", [1], [4], d2s),
             Op("ADD", [3, 3], [5], add_options),
             Op("ADD", [4, 2], [6], add_options),
             Op("ADD", [6, 5], [7], add_options)],
            [qs8(S4)] * 8, [0], [7])
    pattern("two_outputs", "two independent NPU chains and one CPU op",
            [Op("ADD", [0, 0], [1], add_options),
             Op("DEPTH_TO_SPACE", [0], [2], d2s),
             Op("ADD", [2, 2], [3], add_options)],
            [qs8(S4)] * 4, [0], [1, 3])
    pattern("float_io", "float32 -> QUANTIZE -> CONV int8 -> DEQUANTIZE -> float32",
            [Op("QUANTIZE", [0], [1]),
             Op("CONV_2D", [1, 2, 3], [4], conv_options, version=3),
             Op("DEQUANTIZE", [4], [5])],
            [f32(*S4), qs8(S4), int8_weights([16, 3, 3, 8], channels=16),
             bias32([16], 0.001, 16), qs8([1, 4, 4, 16], 0.5), f32(1, 4, 4, 16)], [0], [5])
    pattern("shape_to_reshape", "SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE (flatten)",
            [Op("SHAPE", [0], [1], ("ShapeOptions", {"outType": 2})),
             Op("STRIDED_SLICE", [1, 2, 3, 3], [4],
                ("StridedSliceOptions", {"shrinkAxisMask": 1})),
             Op("PACK", [4, 5], [6], ("PackOptions", {"valuesCount": 2, "axis": 0})),
             Op("RESHAPE", [0, 6], [7])],
            [qs8(S4, signature=[-1, 4, 4, 8]), plain("i32", [4]), ints(0), ints(1),
             plain("i32", []), const("i32", [], 128), plain("i32", [2]),
             qs8([1, 128], signature=[-1, 128])], [0], [7])
    pattern("shape_to_reshape_cpu", "flatten whose RESHAPE stays on the CPU (float)",
            [Op("SHAPE", [0], [1], ("ShapeOptions", {"outType": 2})),
             Op("STRIDED_SLICE", [1, 2, 3, 3], [4],
                ("StridedSliceOptions", {"shrinkAxisMask": 1})),
             Op("PACK", [4, 5], [6], ("PackOptions", {"valuesCount": 2, "axis": 0})),
             Op("RESHAPE", [0, 6], [7]),
             Op("ADD", [8, 8], [9], add_options)],
            [f32(1, 4, 4, 8), plain("i32", [4]), ints(0), ints(1),
             plain("i32", []), const("i32", [], 128), plain("i32", [2]), f32(1, 128),
             qs8(S4), qs8(S4)], [0, 8], [7, 9])
    pattern("cpu_then_reshape", "DEPTH_TO_SPACE (CPU) -> RESHAPE -> ADD",
            [Op("DEPTH_TO_SPACE", [0], [1], d2s),
             Op("RESHAPE", [1, 2], [3]),
             Op("ADD", [3, 3], [4], add_options)],
            [qs8(S4), qs8(S4), ints(1, 128), qs8([1, 128]), qs8([1, 128])], [0], [4])
    pattern("reshape_between_cpu", "D2S (CPU) -> RESHAPE -> D2S (CPU)",
            [Op("DEPTH_TO_SPACE", [0], [1], d2s),
             Op("RESHAPE", [1, 2], [3]),
             Op("DEPTH_TO_SPACE", [3], [4], d2s)],
            [qs8(S4), qs8(S4), ints(1, 8, 2, 8), qs8([1, 8, 2, 8]), qs8([1, 8, 2, 8])],
            [0], [4])
    pattern("lone_reshape", "a RESHAPE alone", [Op("RESHAPE", [0, 1], [2])],
            [qs8(S4), ints(1, 128), qs8([1, 128])], [0], [2])
    pattern("cpu_reshape_output", "ADD -> D2S (CPU) -> RESHAPE (model output)",
            [Op("ADD", [0, 0], [1], add_options),
             Op("DEPTH_TO_SPACE", [1], [2], d2s),
             Op("RESHAPE", [2, 3], [4])],
            [qs8(S4), qs8(S4), qs8(S4), ints(1, 128), qs8([1, 128])], [0], [4])


def generate(out: Path) -> None:
    for cases in (elementwise_cases, unary_cases, conv_cases, fully_connected_cases,
                  pool_cases, reduce_cases, shape_cases, pattern_cases):
        cases()
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.tflite"):
        stale.unlink()
    paths = []
    for case in CASES.values():
        path = out / f"{case.name}.tflite"
        path.write_bytes(case.make())
        paths.append(path)
    results = run_vela([(p, c) for p in paths for c in CONFIGS])
    entries = {}
    for case, path in zip(CASES.values(), paths, strict=True):
        entries[path.name] = {"op": case.op, "variant": case.variant,
                              "vela": {c: observed(results[(path, c)]) for c in CONFIGS}}
    manifest = {
        "about": "Ethos-U probe models written by scripts/probe_ethosu.py: one op or a short "
                 "pattern each, with where Vela placed every op (NPU or CPU), the NPU "
                 "partition count and Vela's warnings, per accelerator configuration.",
        "vela": vela_version(),
        "configs": list(CONFIGS),
        "models": entries,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n",
                                encoding="utf-8")
    size = sum(p.stat().st_size for p in out.iterdir())
    print(f"{len(entries)} probe models, {size / 1024:.0f} KB, in {out}")


def observed(result: dict[str, Any]) -> dict[str, Any]:
    """What the manifest keeps of one compilation: placement, partitions, reasons."""
    if "error" in result:
        return {"error": result["error"]}
    warnings = result.get("warnings", {})
    return {"npu": [op["npu"] for op in result["ops"]],
            "partitions": result["partitions"],
            "reasons": {op["ofm"]: warnings[op["ofm"]] for op in result["ops"]
                        if not op["npu"] and op["ofm"] in warnings}}


def predicted(path: Path, config: str) -> dict[str, Any]:
    """tflint's prediction in the manifest's form."""
    from tflint.analyses.delegation import predict_delegation
    from tflint.loaders.tflite import load_tflite

    graph = load_tflite(str(path))
    delegation = predict_delegation(graph, config)
    return {"npu": [node.id not in delegation.cpu_reasons for node in graph.nodes()],
            "partitions": delegation.partition_count}


def disagreements(paths: Sequence[Path], truth: dict[tuple[Path, str], dict[str, Any]],
                  configs: Sequence[str] = CONFIGS) -> dict[tuple[str, str], str]:
    """(model, config) -> how tflint's prediction differs from Vela's placement."""
    problems = {}
    for path in paths:
        for config in configs:
            seen = truth[(path, config)]
            if "error" in seen:
                continue
            guess = predicted(path, config)
            if guess["npu"] != seen["npu"] or guess["partitions"] != seen["partitions"]:
                problems[(path.name, config)] = (
                    f"Vela npu={_bits(seen['npu'])} partitions={seen['partitions']}, tflint "
                    f"npu={_bits(guess['npu'])} partitions={guess['partitions']}")
    return problems


def _bits(flags: Sequence[bool]) -> str:
    return "".join("N" if f else "c" for f in flags)


def check(out: Path) -> int:
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    paths = [out / name for name in sorted(manifest["models"])]
    configs = manifest["configs"]
    results = run_vela([(p, c) for p in paths for c in configs])
    now = {(p, c): observed(results[(p, c)]) for p in paths for c in configs}
    drift = [(p.name, c) for p in paths for c in configs
             if now[(p, c)] != manifest["models"][p.name]["vela"][c]]
    problems = disagreements(paths, now, configs)
    if manifest["vela"] != vela_version():
        print(f"manifest written with {manifest['vela']}, running {vela_version()}")
    for (name, config), line in sorted(problems.items()):
        print(f"{name} [{config}]: {line}")
    for name, config in drift:
        print(f"{name} [{config}]: Vela changed since generation")
    print(f"{len(paths)} models x {len(configs)} configurations: {len(problems)} where the "
          f"prediction differs from Vela, {len(drift)} where Vela changed")
    return 1 if problems or drift else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PROBE_DIR, help="probe model folder")
    parser.add_argument("--check", action="store_true",
                        help="compare tflint's prediction with Vela, print disagreements")
    args = parser.parse_args(argv)
    if args.check:
        return check(args.out)
    generate(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
