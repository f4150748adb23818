"""Generate ``tflint/data/keras_lowering.json``: what each Keras layer becomes in TFLite.

tflint predicts the conversion of a Keras file without TensorFlow, so what
the converter and the XNNPACK delegate do with each layer is measured here,
once per release, and committed.  For every *variant* below (a layer class
with the config values that matter) the script builds a tiny model (inputs ->
optional Conv/Dense context -> the layer, named ``probe``), gives it random
weights (so that no weight is trivially folded away), and

1. converts it with ``tf.lite.TFLiteConverter.from_keras_model`` (default
   optimizations, float32), first with builtin ops only, then, if that fails,
   with ``SELECT_TF_OPS`` to learn the Flex ops it needs;
2. reads the ops back with tflint's own loader and runs the model in
   ``ai_edge_litert`` with the default XNNPACK delegate: an op is delegated
   when a ``DELEGATE`` node covers it (LiteRT lists the replaced nodes after
   ``allocate_tensors()`` too, so the delegate nodes' inputs and outputs are
   walked back to the ops they replaced);
3. does both with a static batch of 1 and a dynamic batch (``None``), and with
   Keras 3 and with tf_keras 2.x (in a child process with
   ``TF_USE_LEGACY_KERAS=1``).

Ops of the context layers (measured alone) are subtracted, leaving the ops the
layer under test adds.  An entry's ``when`` holds the features
``tflint.analyses.keras_prediction.layer_features`` computes from the saved
config and from the probe's input shape as ``tflint.analyses.keras_shapes``
propagates it (``input_rank``; ``dynamic_dims``: a dimension other than the
batch is None), so prediction and table agree by construction.  Layers whose
lowering depends on the shape (Dense, EinsumDense, normalization, Reshape,
Flatten, Permute, attention, pooling) are measured on each input rank they
accept and with an unknown sequence length or image size.  When Keras 3 and
tf_keras lower a variant differently, it gets one entry per flavor
(``when.keras``); when a dynamic batch changes the lowering, the entry has a
``dynamic_batch`` block.  Ops of a model that needs Flex ops cannot be run, so
their delegation is taken from the same op measured elsewhere
(``delegation_measured: false``).

Usage::

    python scripts/generate_lowering_table.py --jobs 2    # rewrite the table (~30 min)
    python scripts/generate_lowering_table.py --only ID,ID        # re-measure some entries
    python scripts/generate_lowering_table.py --check --only ID,ID   # compare with the table
    python scripts/generate_lowering_table.py --list      # variant ids
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "tflint" / "data" / "keras_lowering.json"
FLAVORS = ("keras3", "tf_keras")
SEED = 1234

IMAGE = (8, 8, 3)
IMAGE6 = (8, 8, 6)
SEQUENCE = (6, 5)
SIGNAL = (12, 3)
VOLUME = (4, 4, 4, 2)
VECTOR = (8,)

ACTIVATIONS = ("relu", "relu6", "tanh", "sigmoid", "silu", "gelu", "hard_sigmoid", "hard_silu",
               "softplus", "softsign", "elu", "selu", "leaky_relu", "mish", "exponential",
               "softmax")
#: Spelling tf_keras understands, when it differs (None: tf_keras lacks it).
TF_KERAS_ACTIVATION = {"silu": "swish", "hard_silu": None, "leaky_relu": None}


# -- variants ---------------------------------------------------------------------------


@dataclass
class Kit:
    """What a variant builder gets: the Keras of the current flavor."""

    keras: Any
    tf: Any
    flavor: str

    @property
    def L(self) -> Any:  # reads like keras.layers
        return self.keras.layers

    def activation(self, name: str) -> str:
        if self.flavor == "tf_keras" and name in TF_KERAS_ACTIVATION:
            spelled = TF_KERAS_ACTIVATION[name]
            if spelled is None:
                raise Unavailable(f"activation {name!r}")
            return spelled
        return name

    def leaky(self, slope: float, **kwargs: Any) -> Any:
        if self.flavor == "tf_keras":
            return self.L.LeakyReLU(alpha=slope, **kwargs)
        return self.L.LeakyReLU(negative_slope=slope, **kwargs)

    def only(self, flavor: str, what: str) -> None:
        if self.flavor != flavor:
            raise Unavailable(what)


class Unavailable(Exception):
    """The variant cannot be built with this Keras (an option it lacks)."""


Build = Callable[[Kit, list[Any]], Any]


@dataclass
class Variant:
    id: str
    cls: str
    family: str
    build: Build
    inputs: tuple[tuple[tuple[int, ...], str], ...] = ((IMAGE, "float32"),)
    #: Features of the probe layer that form the entry's ``when``.
    keys: tuple[str, ...] = ()
    #: Layers before the probe layer, by name in CONTEXTS; their ops are subtracted.
    context: str | None = None
    #: ``when`` items no config holds (the context).
    when: dict[str, Any] = field(default_factory=dict)
    #: For a Conv/Dense activation variant: the id of the linear variant.
    activation_base: str | None = None
    policy: str | None = None
    static_only: bool = False
    advice: str | None = None
    #: ``(variant id, config changes)`` of a layer computing (nearly) the same that lowers well.
    alternative: tuple[str, dict[str, Any]] | None = None


def _conv_context(cls: str, **kwargs: Any) -> Callable[[Kit, Any], Any]:
    def build(k: Kit, x: Any) -> Any:
        layer = getattr(k.L, cls)
        if cls in ("DepthwiseConv2D", "DepthwiseConv1D"):
            return layer(3, name="ctx", **kwargs)(x)
        if cls == "Dense":
            return layer(6, name="ctx", **kwargs)(x)
        return layer(4, 3, name="ctx", **kwargs)(x)
    return build


CONTEXTS: dict[str, tuple[Callable[[Kit, Any], Any], tuple[int, ...]]] = {
    "Conv2D": (_conv_context("Conv2D"), IMAGE),
    "Conv2D+relu": (_conv_context("Conv2D", activation="relu"), IMAGE),
    "DepthwiseConv2D": (_conv_context("DepthwiseConv2D"), IMAGE),
    "SeparableConv2D": (_conv_context("SeparableConv2D"), IMAGE),
    "Conv2DTranspose": (_conv_context("Conv2DTranspose"), IMAGE),
    "Conv1D": (_conv_context("Conv1D"), SIGNAL),
    "Conv3D": (_conv_context("Conv3D"), VOLUME),
    "Dense": (_conv_context("Dense"), VECTOR),
}
CONTEXTS["BatchNormalization"] = (
    lambda k, x: k.L.BatchNormalization(name="ctx")(x), IMAGE)
CONTEXTS["Add"] = (
    lambda k, x: k.L.Add(name="ctx")([x, k.L.Conv2D(3, 1, name="ctx_conv")(x)]), IMAGE)
CONTEXT_CLASS = {"Conv2D+relu": "Conv2D"}


def _v(id: str, cls: str, family: str, build: Build, **kwargs: Any) -> Variant:
    return Variant(id, cls, family, build, **kwargs)


def _one(make: Callable[[Kit], Any]) -> Build:
    """A probe applied to the first input."""
    return lambda k, xs: make(k)(xs[0])


def _layer(cls: str, *args: Any, **kwargs: Any) -> Build:
    """``keras.layers.<cls>(*args, name="probe", **kwargs)`` applied to the first input."""
    return lambda k, xs: getattr(k.L, cls)(*args, name="probe", **kwargs)(xs[0])


def _made(make: Callable[[Kit, dict[str, Any]], Any], kwargs: dict[str, Any]) -> Build:
    return lambda k, xs: make(k, kwargs)(xs[0])


def conv_variants() -> list[Variant]:
    out: list[Variant] = []
    convs: dict[str, tuple[tuple[int, ...], Callable[[Kit, dict[str, Any]], Any]]] = {
        "Conv2D": (IMAGE, lambda k, kw: k.L.Conv2D(4, 3, name="probe", **kw)),
        "Conv1D": (SIGNAL, lambda k, kw: k.L.Conv1D(4, 3, name="probe", **kw)),
        "Conv3D": (VOLUME, lambda k, kw: k.L.Conv3D(4, 3, name="probe", **kw)),
        "SeparableConv2D": (IMAGE, lambda k, kw: k.L.SeparableConv2D(4, 3, name="probe", **kw)),
        "SeparableConv1D": (SIGNAL, lambda k, kw: k.L.SeparableConv1D(4, 3, name="probe", **kw)),
        "DepthwiseConv2D": (IMAGE, lambda k, kw: k.L.DepthwiseConv2D(3, name="probe", **kw)),
        "DepthwiseConv1D": (SIGNAL, lambda k, kw: k.L.DepthwiseConv1D(3, name="probe", **kw)),
        "Conv2DTranspose": (IMAGE, lambda k, kw: k.L.Conv2DTranspose(4, 3, name="probe", **kw)),
        "Conv1DTranspose": (SIGNAL, lambda k, kw: k.L.Conv1DTranspose(4, 3, name="probe", **kw)),
        "Conv3DTranspose": (VOLUME, lambda k, kw: k.L.Conv3DTranspose(4, 3, name="probe", **kw)),
        "Dense": (VECTOR, lambda k, kw: k.L.Dense(4, name="probe", **kw)),
    }
    full_activations = {"Conv2D", "Dense"}
    common = ("relu", "relu6", "tanh", "sigmoid", "silu", "gelu", "hard_silu", "leaky_relu")
    some = {"DepthwiseConv2D", "Conv1D", "SeparableConv2D", "Conv2DTranspose"}
    for cls, (shape, make) in convs.items():
        def build(kw: dict[str, Any], make: Any = make) -> Build:
            return lambda k, xs: make(k, kw)(xs[0])
        out.append(_v(cls, cls, "conv", build({}), inputs=((shape, "float32"),)))
        acts = ACTIVATIONS if cls in full_activations else (
            common if cls in some else ("relu", "relu6", "silu", "gelu"))
        for act in acts:
            def act_build(act: str = act, make: Any = make) -> Build:
                return lambda k, xs: make(k, {"activation": k.activation(act)})(xs[0])
            out.append(_v(f"{cls}/activation={act}", cls, "conv", act_build(),
                          inputs=((shape, "float32"),), keys=("activation",),
                          activation_base=cls))
    structural: list[tuple[str, str, tuple[int, ...], dict[str, Any], tuple[str, ...]]] = [
        ("Conv2D", "padding=same", IMAGE, {"padding": "same"}, ("padding",)),
        ("Conv2D", "strided", IMAGE, {"strides": 2, "padding": "same"}, ("strided",)),
        ("Conv2D", "dilated", IMAGE, {"dilation_rate": 2, "padding": "same"}, ("dilated",)),
        ("Conv2D", "grouped", IMAGE6, {"groups": 2}, ("grouped",)),
        ("Conv1D", "padding=causal", SIGNAL, {"padding": "causal"}, ("padding",)),
        ("Conv1D", "dilated", SIGNAL, {"dilation_rate": 2, "padding": "same"}, ("dilated",)),
        ("Conv1D", "strided", SIGNAL, {"strides": 2}, ("strided",)),
        ("DepthwiseConv2D", "multiplier", IMAGE, {"depth_multiplier": 2}, ("multiplier",)),
        ("DepthwiseConv2D", "strided", IMAGE, {"strides": 2, "padding": "same"}, ("strided",)),
        ("DepthwiseConv2D", "dilated", IMAGE, {"dilation_rate": 2, "padding": "same"},
         ("dilated",)),
        ("SeparableConv2D", "dilated", IMAGE, {"dilation_rate": 2, "padding": "same"},
         ("dilated",)),
        ("Conv2DTranspose", "strided", IMAGE, {"strides": 2, "padding": "same"}, ("strided",)),
        ("Conv1DTranspose", "strided", SIGNAL, {"strides": 2, "padding": "same"},
         ("strided",)),
    ]
    for cls, label, shape, kw, keys in structural:
        make = convs[cls][1]
        out.append(_v(f"{cls}/{label}", cls, "conv", _made(make, kw),
                      inputs=((shape, "float32"),), keys=keys))
    out.append(_v("Dense/sequence", "Dense", "conv",
                  _one(lambda k: k.L.Dense(4, name="probe")), inputs=((SEQUENCE, "float32"),),
                  keys=("input_rank",)))
    out.append(_v("Conv2D/channels_first", "Conv2D", "conv",
                  _one(lambda k: k.L.Conv2D(4, 3, data_format="channels_first", name="probe")),
                  inputs=(((3, 8, 8), "float32"),), keys=("data_format",),
                  advice="use data_format='channels_last': TFLite has no NCHW convolution, so "
                         "the converter wraps every channels_first layer in TRANSPOSE ops"))
    return out


def activation_variants() -> list[Variant]:
    out: list[Variant] = []
    for act in ("linear", *ACTIVATIONS):
        def make(act: str = act) -> Build:
            return lambda k, xs: k.L.Activation(k.activation(act), name="probe")(xs[0])
        out.append(_v(f"Activation/{act}", "Activation", "activation", make(),
                      keys=("activation",)))
        for context in ("Conv2D", "Dense", "DepthwiseConv2D"):
            if context == "DepthwiseConv2D" and act not in ("linear", "relu", "relu6", "silu",
                                                            "sigmoid", "hard_silu", "gelu"):
                continue
            shape = CONTEXTS[context][1]
            out.append(_v(f"Activation/{act}/after={context}", "Activation", "fusion", make(),
                          inputs=((shape, "float32"),), keys=("activation",), context=context,
                          when={"after": context, "after_activation": "linear"}))
    for act in ("relu", "relu6", "sigmoid"):
        def make2(act: str = act) -> Build:
            return lambda k, xs: k.L.Activation(k.activation(act), name="probe")(xs[0])
        for context in ("Conv1D", "SeparableConv2D", "Conv2DTranspose", "Conv3D"):
            shape = CONTEXTS[context][1]
            out.append(_v(f"Activation/{act}/after={context}", "Activation", "fusion", make2(),
                          inputs=((shape, "float32"),), keys=("activation",), context=context,
                          when={"after": context, "after_activation": "linear"}))
    layers: list[tuple[str, str, Callable[[Kit], Any], tuple[str, ...]]] = [
        ("ReLU", "ReLU", lambda k: k.L.ReLU(name="probe"), ()),
        ("ReLU", "ReLU/max_value=6", lambda k: k.L.ReLU(6.0, name="probe"), ("max_value",)),
        ("ReLU", "ReLU/leaky", lambda k: k.L.ReLU(negative_slope=0.1, name="probe"), ("leaky",)),
        ("ReLU", "ReLU/thresholded", lambda k: k.L.ReLU(threshold=0.5, name="probe"),
         ("thresholded",)),
        ("LeakyReLU", "LeakyReLU", lambda k: k.leaky(0.1, name="probe"), ()),
        ("PReLU", "PReLU", lambda k: k.L.PReLU(name="probe"), ()),
        ("ELU", "ELU", lambda k: k.L.ELU(name="probe"), ()),
        ("Softmax", "Softmax", lambda k: k.L.Softmax(name="probe"), ()),
    ]
    # A standalone BatchNormalization ends in ADD, and Add is one: both take a fused ReLU.
    for context in ("BatchNormalization", "Add"):
        for act in ("relu", "relu6", "sigmoid"):
            out.append(_v(f"Activation/{act}/after={context}", "Activation", "fusion",
                          _layer("Activation", act), keys=("activation",), context=context,
                          when={"after": context, "after_activation": "linear"}))
        for cls, id, make3, keys in layers[:2]:
            out.append(_v(f"{id}/after={context}", cls, "fusion", _one(make3), keys=keys,
                          context=context,
                          when={"after": context, "after_activation": "linear"}))
    for cls, id, make3, keys in layers:
        out.append(_v(id, cls, "activation", _one(make3), keys=keys))
        for context in ("Conv2D", "Dense", "DepthwiseConv2D", "Conv1D"):
            if cls == "Softmax" and context != "Dense":
                continue
            shape = CONTEXTS[context][1]
            out.append(_v(f"{id}/after={context}", cls, "fusion", _one(make3),
                          inputs=((shape, "float32"),), keys=keys, context=context,
                          when={"after": context, "after_activation": "linear"}))

    def thresholded(k: Kit) -> Any:
        k.only("tf_keras", "ThresholdedReLU")
        return k.L.ThresholdedReLU(theta=0.5, name="probe")

    out.append(_v("ThresholdedReLU", "ThresholdedReLU", "activation", _one(thresholded)))
    out.append(_v("Softmax/axis=1", "Softmax", "activation",
                  _one(lambda k: k.L.Softmax(axis=1, name="probe")), keys=("axis",)))

    def gelu_op(approximate: bool) -> Build:
        def build(k: Kit, xs: list[Any]) -> Any:
            k.only("keras3", "keras.ops layers")
            return k.keras.ops.gelu(xs[0], approximate=approximate)
        return build

    out.append(_v("Gelu/approximate", "Gelu", "activation", gelu_op(True), keys=("approximate",)))
    out.append(_v("Gelu/exact", "Gelu", "activation", gelu_op(False), keys=("approximate",)))
    return out


def normalization_variants() -> list[Variant]:
    bn = _one(lambda k: k.L.BatchNormalization(name="probe"))
    out = [_v("BatchNormalization", "BatchNormalization", "normalization", bn)]
    for context in ("Conv2D", "Conv2D+relu", "Dense", "DepthwiseConv2D", "SeparableConv2D",
                    "Conv2DTranspose", "Conv1D", "Conv3D"):
        shape = CONTEXTS[context][1]
        cls = CONTEXT_CLASS.get(context, context)
        applied = "relu" if context.endswith("+relu") else "linear"
        out.append(_v(f"BatchNormalization/after={context}", "BatchNormalization", "fusion", bn,
                      inputs=((shape, "float32"),), context=context,
                      when={"after": cls, "after_activation": applied}))
    out += [
        _v("LayerNormalization", "LayerNormalization", "normalization",
           _one(lambda k: k.L.LayerNormalization(name="probe"))),
        _v("LayerNormalization/sequence", "LayerNormalization", "normalization",
           _one(lambda k: k.L.LayerNormalization(name="probe")), inputs=((SEQUENCE, "float32"),),
           keys=("axis", "input_rank")),
        _v("GroupNormalization", "GroupNormalization", "normalization",
           _one(lambda k: k.L.GroupNormalization(groups=2, name="probe")),
           inputs=((IMAGE6, "float32"),)),
        _v("UnitNormalization", "UnitNormalization", "normalization",
           _one(lambda k: k.L.UnitNormalization(name="probe"))),
    ]
    return out


def training_only_variants() -> list[Variant]:
    def make(cls: str, *args: Any) -> Build:
        return lambda k, xs: getattr(k.L, cls)(*args, name="probe")(xs[0])
    return [
        _v("Dropout", "Dropout", "training-only", make("Dropout", 0.5)),
        _v("SpatialDropout2D", "SpatialDropout2D", "training-only", make("SpatialDropout2D", 0.5)),
        _v("SpatialDropout1D", "SpatialDropout1D", "training-only", make("SpatialDropout1D", 0.5),
           inputs=((SEQUENCE, "float32"),)),
        _v("GaussianNoise", "GaussianNoise", "training-only", make("GaussianNoise", 0.1)),
        _v("GaussianDropout", "GaussianDropout", "training-only", make("GaussianDropout", 0.1)),
        _v("AlphaDropout", "AlphaDropout", "training-only", make("AlphaDropout", 0.1)),
        _v("ActivityRegularization", "ActivityRegularization", "training-only",
           make("ActivityRegularization")),
    ]


def shape_variants() -> list[Variant]:
    def make(cls: str, *args: Any, **kw: Any) -> Build:
        return lambda k, xs: getattr(k.L, cls)(*args, name="probe", **kw)(xs[0])
    return [
        _v("Reshape", "Reshape", "reshape", make("Reshape", (16, 12))),
        _v("Flatten", "Flatten", "reshape", make("Flatten"),
           advice="with a dynamic batch, Keras 3 computes the flattened shape at run time; "
                  "give the model a static batch, or use Reshape((-1,)) with the known size"),
        _v("Permute", "Permute", "reshape", make("Permute", (2, 1, 3))),
        _v("RepeatVector", "RepeatVector", "reshape", make("RepeatVector", 3),
           inputs=((VECTOR, "float32"),)),
        _v("UpSampling1D", "UpSampling1D", "resize", make("UpSampling1D", 2),
           inputs=((SEQUENCE, "float32"),)),
        _v("UpSampling2D", "UpSampling2D", "resize", make("UpSampling2D", 2)),
        _v("UpSampling2D/bilinear", "UpSampling2D", "resize",
           make("UpSampling2D", 2, interpolation="bilinear"), keys=("interpolation",)),
        _v("UpSampling3D", "UpSampling3D", "resize", make("UpSampling3D", 2),
           inputs=((VOLUME, "float32"),)),
        _v("ZeroPadding1D", "ZeroPadding1D", "padding", make("ZeroPadding1D", 1),
           inputs=((SEQUENCE, "float32"),)),
        _v("ZeroPadding2D", "ZeroPadding2D", "padding", make("ZeroPadding2D", 1)),
        _v("ZeroPadding3D", "ZeroPadding3D", "padding", make("ZeroPadding3D", 1),
           inputs=((VOLUME, "float32"),)),
        _v("Cropping1D", "Cropping1D", "padding", make("Cropping1D", 1),
           inputs=((SEQUENCE, "float32"),)),
        _v("Cropping2D", "Cropping2D", "padding", make("Cropping2D", 1)),
        _v("Cropping3D", "Cropping3D", "padding", make("Cropping3D", 1),
           inputs=((VOLUME, "float32"),)),
    ]


def resizing_variants() -> list[Variant]:
    out: list[Variant] = []
    methods = ("bilinear", "nearest", "bicubic", "area", "lanczos3", "lanczos5", "gaussian",
               "mitchellcubic")
    for method in methods:
        def make(method: str = method) -> Build:
            def build(k: Kit, xs: list[Any]) -> Any:
                if method in ("gaussian", "mitchellcubic"):
                    k.only("tf_keras", f"Resizing({method!r})")
                return k.L.Resizing(12, 12, interpolation=method, name="probe")(xs[0])
            return build
        bad = method not in ("bilinear", "nearest")
        out.append(_v(f"Resizing/{method}", "Resizing", "resize", make(), keys=("interpolation",),
                      alternative=("Resizing/bilinear", {"interpolation": "bilinear"})
                      if bad else None,
                      advice="use interpolation='bilinear' (or 'nearest'): TFLite has builtin "
                             "kernels for those two only" if bad else None))
    out.append(_v("Resizing/crop_to_aspect_ratio", "Resizing", "resize",
                  _one(lambda k: k.L.Resizing(12, 16, crop_to_aspect_ratio=True, name="probe")),
                  keys=("interpolation", "crop_to_aspect_ratio")))
    return out


def merge_variants() -> list[Variant]:
    two = ((IMAGE, "float32"), (IMAGE, "float32"))
    out = []
    for cls in ("Concatenate", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"):
        def make(cls: str = cls) -> Build:
            return lambda k, xs: getattr(k.L, cls)(name="probe")(xs)
        out.append(_v(cls, cls, "merge", make(), inputs=two))
    six = tuple((IMAGE, "float32") for _ in range(6))
    out.append(_v("Concatenate/6 inputs", "Concatenate", "merge",
                  lambda k, xs: k.L.Concatenate(name="probe")(xs), inputs=six,
                  keys=("over_5_inputs",),
                  advice="XNNPACK concatenates 2 to 5 tensors: concatenate in two steps"))
    seq2 = ((SEQUENCE, "float32"), (SEQUENCE, "float32"))
    out.append(_v("Dot", "Dot", "merge", lambda k, xs: k.L.Dot(axes=2, name="probe")(xs),
                  inputs=seq2))
    out.append(_v("Dot/normalize", "Dot", "merge",
                  lambda k, xs: k.L.Dot(axes=2, normalize=True, name="probe")(xs), inputs=seq2,
                  keys=("normalize",)))
    return out


def sequence_variants() -> list[Variant]:
    out = [
        _v("Embedding", "Embedding", "embedding",
           _one(lambda k: k.L.Embedding(10, 4, name="probe")), inputs=(((6,), "int32"),),
           advice="look the embedding up outside the model (feed vectors), or accept a CPU "
                  "GATHER at the model's start"),
        _v("Embedding/mask_zero", "Embedding", "embedding",
           _one(lambda k: k.L.Embedding(10, 4, mask_zero=True, name="probe")),
           inputs=(((6,), "int32"),), keys=("mask_zero",)),
        _v("Masking", "Masking", "embedding", _one(lambda k: k.L.Masking(name="probe")),
           inputs=((SEQUENCE, "float32"),)),
    ]
    rnn_advice = ("TFLite runs a recurrent layer as a WHILE loop on the CPU; give the input a "
                  "static batch and, for short sequences, use unroll=True so that the steps "
                  "become ops XNNPACK takes")
    for cls in ("LSTM", "GRU", "SimpleRNN"):
        def make(cls: str, **kw: Any) -> Build:
            return lambda k, xs: getattr(k.L, cls)(4, name="probe", **kw)(xs[0])
        seq = ((SEQUENCE, "float32"),)
        out += [
            _v(cls, cls, "rnn", make(cls), inputs=seq, advice=rnn_advice,
               alternative=(f"{cls}/unroll", {"unroll": True})),
            _v(f"{cls}/stateful", cls, "rnn", make(cls, stateful=True), inputs=seq,
               keys=("stateful",), static_only=True, advice=rnn_advice),
            _v(f"{cls}/unroll", cls, "rnn", make(cls, unroll=True), inputs=seq, keys=("unroll",)),
            _v(f"{cls}/return_sequences", cls, "rnn", make(cls, return_sequences=True),
               inputs=seq, keys=("return_sequences",), advice=rnn_advice,
               alternative=(f"{cls}/unroll", {"unroll": True})),
        ]
        if cls == "LSTM":
            out.append(_v("LSTM/go_backwards", cls, "rnn", make(cls, go_backwards=True),
                          inputs=seq, keys=("go_backwards",), advice=rnn_advice))

        def bidi(cls: str, **kw: Any) -> Build:
            return lambda k, xs: k.L.Bidirectional(getattr(k.L, cls)(4, **kw),
                                                   name="probe")(xs[0])
        out.append(_v(f"Bidirectional/{cls}", "Bidirectional", "rnn", bidi(cls), inputs=seq,
                      keys=("wrapped",), advice=rnn_advice))
        out.append(_v(f"Bidirectional/{cls}/unroll", "Bidirectional", "rnn",
                      bidi(cls, unroll=True), inputs=seq, keys=("wrapped", "unroll")))
        if cls == "LSTM":
            out.append(_v("Bidirectional/LSTM/return_sequences", "Bidirectional", "rnn",
                          bidi(cls, return_sequences=True), inputs=seq,
                          keys=("wrapped", "return_sequences"), advice=rnn_advice))
    return out


def attention_variants() -> list[Variant]:
    seq = ((SEQUENCE, "float32"),)
    return [
        _v("MultiHeadAttention", "MultiHeadAttention", "attention",
           lambda k, xs: k.L.MultiHeadAttention(2, 4, name="probe")(xs[0], xs[0]), inputs=seq),
        _v("Attention", "Attention", "attention",
           lambda k, xs: k.L.Attention(name="probe")([xs[0], xs[0]]), inputs=seq),
        _v("AdditiveAttention", "AdditiveAttention", "attention",
           lambda k, xs: k.L.AdditiveAttention(name="probe")([xs[0], xs[0]]), inputs=seq),
    ]


def preprocessing_variants() -> list[Variant]:
    return [
        _v("Rescaling", "Rescaling", "preprocessing",
           _one(lambda k: k.L.Rescaling(1 / 127.5, offset=-1.0, name="probe"))),
        _v("Normalization", "Normalization", "preprocessing",
           _one(lambda k: k.L.Normalization(mean=[0.5, 0.4, 0.3], variance=[0.2, 0.3, 0.4],
                                            name="probe"))),
        _v("CenterCrop", "CenterCrop", "preprocessing",
           _one(lambda k: k.L.CenterCrop(6, 6, name="probe"))),
    ]


def wrapper_variants() -> list[Variant]:
    return [
        _v("TimeDistributed/Dense", "TimeDistributed", "wrapper",
           _one(lambda k: k.L.TimeDistributed(k.L.Dense(3), name="probe")),
           inputs=((SEQUENCE, "float32"),), keys=("wrapped",)),
        _v("TimeDistributed/Conv2D", "TimeDistributed", "wrapper",
           _one(lambda k: k.L.TimeDistributed(k.L.Conv2D(2, 3), name="probe")),
           inputs=(((3, *IMAGE), "float32"),), keys=("wrapped",)),
    ]


def pooling_variants() -> list[Variant]:
    out = []
    shapes = {"1D": SEQUENCE, "2D": IMAGE, "3D": VOLUME}
    for dims, shape in shapes.items():
        for kind in ("Max", "Average"):
            cls = f"{kind}Pooling{dims}"
            out.append(_v(cls, cls, "pooling", _layer(cls, 2), inputs=((shape, "float32"),)))
            if dims == "2D":
                out.append(_v(f"{cls}/padding=same", cls, "pooling",
                              _layer(cls, 3, strides=2, padding="same"), keys=("padding",)))
                out.append(_v(f"{cls}/stride_over_pool", cls, "pooling",
                              _layer(cls, 1, strides=2), keys=("stride_over_pool",)))
            gcls = f"Global{kind}Pooling{dims}"
            out.append(_v(gcls, gcls, "pooling", _layer(gcls), inputs=((shape, "float32"),)))
        gap = f"GlobalAveragePooling{dims}"
        out.append(_v(f"{gap}/keepdims", gap, "pooling", _layer(gap, keepdims=True),
                      inputs=((shape, "float32"),), keys=("keepdims",)))
    return out


MIXED_ADVICE = ("convert a float32 copy of the model: set the dtype policy to 'float32' before "
                "building it and load the trained weights; for float16 weights use "
                "converter.target_spec.supported_types = [tf.float16]")


def mixed_precision_variants() -> list[Variant]:
    out = []
    two = ((IMAGE, "float32"), (IMAGE, "float32"))
    probes: list[tuple[str, str, Build, tuple[Any, ...], tuple[str, ...]]] = [
        ("Conv2D", "Conv2D", _layer("Conv2D", 4, 3), ((IMAGE, "float32"),), ()),
        ("Conv2D/activation=relu", "Conv2D", _layer("Conv2D", 4, 3, activation="relu"),
         ((IMAGE, "float32"),), ("activation",)),
        ("Dense", "Dense", _layer("Dense", 4), ((VECTOR, "float32"),), ()),
        ("DepthwiseConv2D", "DepthwiseConv2D", _layer("DepthwiseConv2D", 3),
         ((IMAGE, "float32"),), ()),
        ("Activation/relu", "Activation", _layer("Activation", "relu"), ((IMAGE, "float32"),),
         ("activation",)),
        ("Activation/linear", "Activation", _layer("Activation", "linear"),
         ((IMAGE, "float32"),), ("activation",)),
        ("ReLU", "ReLU", _layer("ReLU"), ((IMAGE, "float32"),), ()),
        ("BatchNormalization", "BatchNormalization", _layer("BatchNormalization"),
         ((IMAGE, "float32"),), ()),
        ("MaxPooling2D", "MaxPooling2D", _layer("MaxPooling2D", 2), ((IMAGE, "float32"),), ()),
        ("GlobalAveragePooling2D", "GlobalAveragePooling2D", _layer("GlobalAveragePooling2D"),
         ((IMAGE, "float32"),), ()),
        ("Add", "Add", lambda k, xs: k.L.Add(name="probe")(xs), two, ()),
        ("Concatenate", "Concatenate", lambda k, xs: k.L.Concatenate(name="probe")(xs), two, ()),
        ("LayerNormalization", "LayerNormalization", _layer("LayerNormalization"),
         ((IMAGE, "float32"),), ()),
        ("Softmax", "Softmax", _layer("Softmax"), ((VECTOR, "float32"),), ()),
    ]
    for policy in ("mixed_float16", "mixed_bfloat16"):
        for label, cls, build, inputs, keys in probes:
            out.append(_v(f"{label}/{policy}", cls, "mixed-precision", build, inputs=inputs,
                          keys=("dtype_policy", *keys), policy=policy, advice=MIXED_ADVICE))
        for label, context in (("ReLU", "Conv2D"), ("BatchNormalization", "Conv2D")):
            out.append(_v(f"{label}/after={context}/{policy}", label, "mixed-precision",
                          _layer(label), context=context, keys=("dtype_policy",),
                          when={"after": context, "after_activation": "linear"}, policy=policy,
                          advice=MIXED_ADVICE))
    return out


#: Input shapes (batch left out) by rank; ``*_ANY``: a dimension other than the batch unknown.
RANK_SHAPES = {2: VECTOR, 3: SEQUENCE, 4: IMAGE, 5: VOLUME}
SEQUENCE_ANY = (None, 5)
IMAGE_ANY = (None, None, 3)
RANK_LABELS = {2: "vector", 3: "sequence", 4: "image", 5: "volume"}
UNKNOWN_DIMS_ADVICE = ("an input dimension other than the batch is unknown (None), so the "
                       "converter computes shapes at run time: give the model input a fixed "
                       "size (e.g. a fixed sequence length, padding shorter inputs)")


def shape_keyed_variants() -> list[Variant]:
    """Layers whose lowering depends on the input's rank and on unknown non-batch
    dimensions (a sequence length of None), each on the ranks it accepts."""
    out: list[Variant] = []
    rank_key = ("input_rank",)
    any_keys = ("input_rank", "dynamic_dims")

    def on_ranks(id: str, cls: str, family: str, make: Callable[[Kit, int], Any],
                 ranks: tuple[int, ...], dynamic: tuple[tuple[int, ...], ...] = (SEQUENCE_ANY,),
                 shapes: dict[int, tuple[int, ...]] | None = None) -> None:
        for rank in ranks:
            shape = (shapes or {}).get(rank, RANK_SHAPES[rank])
            out.append(_v(f"{id}/{RANK_LABELS[rank]}", cls, family,
                          lambda k, xs, rank=rank: make(k, rank)(xs[0]),
                          inputs=((shape, "float32"),), keys=rank_key))
        for shape in dynamic:
            rank = len(shape) + 1
            out.append(_v(f"{id}/{RANK_LABELS[rank]}/dynamic_dims", cls, family,
                          lambda k, xs, rank=rank: make(k, rank)(xs[0]),
                          inputs=((shape, "float32"),), keys=any_keys,
                          advice=UNKNOWN_DIMS_ADVICE))

    on_ranks("Dense", "Dense", "conv", lambda k, r: k.L.Dense(4, name="probe"), (4, 5),
             (SEQUENCE_ANY, IMAGE_ANY))
    equations = {2: ("ab,bc->ac", (4,)), 3: ("abc,cd->abd", (None, 4)),
                 4: ("abcd,de->abce", (None, None, 4))}
    on_ranks("EinsumDense", "EinsumDense", "conv",
             lambda k, r: k.L.EinsumDense(equations[r][0], output_shape=equations[r][1],
                                          bias_axes=None, name="probe"), (2, 3, 4))
    # A rank-3 kernel splits (or merges) attention heads: reshapes around the matmul.
    heads = ((lambda k, xs: k.L.EinsumDense("abc,cde->abde", output_shape=(None, 2, 4),
                                            name="probe")(xs[0])),
             (lambda k, xs: k.L.EinsumDense("abcd,cde->abe", output_shape=(None, 4),
                                            name="probe")(xs[0])))
    out += [
        _v("EinsumDense/sequence/split_heads", "EinsumDense", "conv", heads[0],
           inputs=((SEQUENCE, "float32"),), keys=("input_rank", "kernel_rank")),
        _v("EinsumDense/sequence/split_heads/dynamic_dims", "EinsumDense", "conv", heads[0],
           inputs=((SEQUENCE_ANY, "float32"),), keys=("input_rank", "dynamic_dims", "kernel_rank"),
           advice=UNKNOWN_DIMS_ADVICE),
        _v("EinsumDense/image/merge_heads", "EinsumDense", "conv", heads[1],
           inputs=(((6, 2, 4), "float32"),), keys=("input_rank", "kernel_rank")),
        _v("EinsumDense/image/merge_heads/dynamic_dims", "EinsumDense", "conv", heads[1],
           inputs=(((None, 2, 4), "float32"),),
           keys=("input_rank", "dynamic_dims", "kernel_rank"), advice=UNKNOWN_DIMS_ADVICE),
    ]
    on_ranks("BatchNormalization", "BatchNormalization", "normalization",
             lambda k, r: k.L.BatchNormalization(name="probe"), (2, 3, 5))
    on_ranks("LayerNormalization", "LayerNormalization", "normalization",
             lambda k, r: k.L.LayerNormalization(name="probe"), (2, 5))
    # tf.keras lowers a LayerNormalization whose epsilon is below 1.001e-5 without reshapes.
    def small(k: Kit) -> Any:
        return k.L.LayerNormalization(epsilon=1e-6, name="probe")

    out += [
        _v("LayerNormalization/small_epsilon", "LayerNormalization", "normalization",
           _one(small), keys=("small_epsilon",)),
        _v("LayerNormalization/sequence/small_epsilon", "LayerNormalization", "normalization",
           _one(small), inputs=((SEQUENCE, "float32"),),
           keys=("axis", "input_rank", "small_epsilon")),
        _v("LayerNormalization/sequence/dynamic_dims/small_epsilon", "LayerNormalization",
           "normalization", _one(small), inputs=((SEQUENCE_ANY, "float32"),),
           keys=("input_rank", "dynamic_dims", "small_epsilon"), advice=UNKNOWN_DIMS_ADVICE),
    ]
    on_ranks("GroupNormalization", "GroupNormalization", "normalization",
             lambda k, r: k.L.GroupNormalization(groups=2, name="probe"), (3, 5),
             ((None, 6),), shapes={3: (6, 6)})
    on_ranks("UnitNormalization", "UnitNormalization", "normalization",
             lambda k, r: k.L.UnitNormalization(name="probe"), (2, 3))
    targets = {2: (2, 4), 3: (30,), 5: (16, 8)}
    on_ranks("Reshape", "Reshape", "reshape",
             lambda k, r: k.L.Reshape(targets.get(r, (-1,)), name="probe"), (2, 3, 5))
    on_ranks("Flatten", "Flatten", "reshape", lambda k, r: k.L.Flatten(name="probe"), (3, 5))
    orders = {3: (2, 1), 5: (2, 1, 3, 4)}
    on_ranks("Permute", "Permute", "reshape",
             lambda k, r: k.L.Permute(orders[r], name="probe"), (3, 5))
    on_ranks("MultiHeadAttention", "MultiHeadAttention", "attention",
             lambda k, r: (lambda x: k.L.MultiHeadAttention(2, 4, name="probe")(x, x)), (4,))
    for cls in ("Attention", "AdditiveAttention"):
        on_ranks(cls, cls, "attention",
                 lambda k, r, cls=cls: (lambda x: getattr(k.L, cls)(name="probe")([x, x])), ())
    for dims, shape in (("1D", SEQUENCE_ANY), ("2D", IMAGE_ANY)):
        for kind in ("Max", "Average", "GlobalMax", "GlobalAverage"):
            cls = f"{kind}Pooling{dims}"
            pool = (2,) if not kind.startswith("Global") else ()
            out.append(_v(f"{cls}/dynamic_dims", cls, "pooling", _layer(cls, *pool),
                          inputs=((shape, "float32"),), keys=("dynamic_dims",),
                          advice=UNKNOWN_DIMS_ADVICE))
    return out


def all_variants() -> list[Variant]:
    variants = (conv_variants() + activation_variants() + normalization_variants()
                + training_only_variants() + shape_variants() + resizing_variants()
                + merge_variants() + sequence_variants() + attention_variants()
                + preprocessing_variants() + wrapper_variants() + pooling_variants()
                + mixed_precision_variants() + shape_keyed_variants())
    ids = Counter(v.id for v in variants)
    duplicated = [i for i, n in ids.items() if n > 1]
    if duplicated:
        raise SystemExit(f"duplicate variant ids: {duplicated}")
    return variants


# -- measuring (runs in a child process per flavor) ---------------------------------------


@contextlib.contextmanager
def silenced() -> Any:
    """The converter writes to both Python streams and the C-level file descriptors."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
        os.dup2(null.fileno(), 2)
        try:
            with contextlib.redirect_stdout(io.StringIO()), \
                    contextlib.redirect_stderr(io.StringIO()):
                yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


class Measurer:
    def __init__(self, flavor: str) -> None:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        if flavor == "tf_keras":
            os.environ["TF_USE_LEGACY_KERAS"] = "1"
        else:
            os.environ.pop("TF_USE_LEGACY_KERAS", None)
        with silenced():
            import absl.logging
            import numpy as np
            import tensorflow as tf

            absl.logging.set_verbosity(absl.logging.ERROR)
            tf.get_logger().setLevel("ERROR")
            if flavor == "tf_keras":
                import tf_keras as keras
            else:
                import keras
        self.np = np
        self.tf = tf
        self.keras = keras
        self.flavor = flavor
        self.kit = Kit(keras, tf, flavor)
        self.context_cache: dict[tuple[str, Any, Any], dict[str, Any]] = {}

    # -- models -------------------------------------------------------------------
    def model(self, variant: Variant, batch: int | None) -> Any:
        keras = self.keras
        keras.utils.set_random_seed(SEED)
        if variant.policy:
            keras.mixed_precision.set_global_policy(variant.policy)
        try:
            inputs = [keras.Input(shape, batch_size=batch, dtype=dtype, name=f"in{i}")
                      for i, (shape, dtype) in enumerate(variant.inputs)]
            xs = list(inputs)
            if variant.context is not None:
                xs[0] = CONTEXTS[variant.context][0](self.kit, xs[0])
            output = variant.build(self.kit, xs)
            model = keras.Model(inputs, output, name="probe_model")
        finally:
            if variant.policy:
                keras.mixed_precision.set_global_policy("float32")
        self.randomize(model)
        return model

    def context_model(self, context: str, batch: int | None, policy: str | None) -> Any:
        keras = self.keras
        keras.utils.set_random_seed(SEED)
        build, shape = CONTEXTS[context]
        if policy:
            keras.mixed_precision.set_global_policy(policy)
        try:
            inputs = keras.Input(shape, batch_size=batch, name="in0")
            model = keras.Model(inputs, build(self.kit, inputs), name="context_model")
        finally:
            if policy:
                keras.mixed_precision.set_global_policy("float32")
        self.randomize(model)
        return model

    def randomize(self, model: Any) -> None:
        """Weights that no converter pass can fold away (no zeros, no ones)."""
        rng = self.np.random.default_rng(SEED)
        for weight in model.weights:
            name = getattr(weight, "path", None) or weight.name
            shape = tuple(weight.shape)
            if not shape or weight.dtype not in ("float32", self.tf.float32):
                continue
            values = rng.uniform(0.2, 0.8, size=shape).astype("float32")
            if "variance" not in name:
                values *= rng.choice([-1.0, 1.0], size=shape).astype("float32")
            weight.assign(values)

    # -- conversion and measurement ------------------------------------------------------
    def convert(self, model: Any, flex: bool) -> bytes:
        converter = self.tf.lite.TFLiteConverter.from_keras_model(model)
        if flex:
            converter.target_spec.supported_ops = [self.tf.lite.OpsSet.TFLITE_BUILTINS,
                                                   self.tf.lite.OpsSet.SELECT_TF_OPS]
        with silenced():
            return converter.convert()

    def measure(self, model: Any) -> dict[str, Any]:
        result: dict[str, Any] = {"converts_builtin": True}
        try:
            data = self.convert(model, flex=False)
        except Exception:  # the converter raises ConverterError and others
            result["converts_builtin"] = False
            try:
                data = self.convert(model, flex=True)
            except Exception as exc:
                result["error"] = str(exc).strip().splitlines()[-1][:300]
                result.update(ops=[], delegated=[], deps=[], flex_ops=[], subgraphs=0)
                return result
        result.update(read_ops(data))
        result["delegated"] = delegated_ops(data, len(result["ops"]))
        return result

    def features(self, model: Any, variant: Variant) -> dict[str, Any]:
        from tflint.analyses.keras_prediction import layer_class, layer_features
        from tflint.analyses.keras_shapes import propagate
        from tflint.loaders.keras_config import build_keras_graph

        config = json.loads(model.to_json())
        version = self.keras.__version__
        graph = build_keras_graph(config, "<memory>", {"keras_version": version})
        flavor = "keras3" if self.flavor == "keras3" else "tf_keras"
        shapes = propagate(graph, layer_class, flavor)
        for node in graph.nodes():
            if node.layer_name == "probe" or (variant.cls == "Gelu" and node.op_type == "Gelu"):
                shape = shapes.get(node.inputs[0].id) if node.inputs else None
                rank = None if shape is None else len(shape)
                return layer_features(node, flavor, rank, shape)
        raise RuntimeError(f"{variant.id}: no probe layer in the config")

    def run(self, variant: Variant) -> dict[str, Any]:
        record: dict[str, Any] = {"id": variant.id, "flavor": self.flavor}
        try:
            model = self.model(variant, 1)
        except Unavailable as exc:
            record["unavailable"] = str(exc)
            return record
        features = self.features(model, variant)
        missing = [k for k in variant.keys if k not in features]
        if missing:
            raise RuntimeError(f"{variant.id}: features {missing} not computed: {features}")
        record["when"] = {**{k: features[k] for k in variant.keys}, **variant.when}
        record["static"] = self.own(variant, self.measure(model), 1)
        if not variant.static_only:
            record["dynamic"] = self.own(variant, self.measure(self.model(variant, None)), None)
        return record

    def own(self, variant: Variant, measured: dict[str, Any], batch: int | None) -> dict[str, Any]:
        """The ops the probe layer adds: the context's ops taken out."""
        if variant.context is None:
            return measured
        key = (variant.context, batch, variant.policy)
        if key not in self.context_cache:
            self.context_cache[key] = self.measure(
                self.context_model(variant.context, batch, variant.policy))
        return subtract(measured, self.context_cache[key]["ops"])


def read_ops(data: bytes) -> dict[str, Any]:
    """Ops of the main subgraph in execution order, with their in-model dependencies."""
    from tflint.loaders import load

    with tempfile.NamedTemporaryFile(suffix=".tflite") as handle:
        handle.write(data)
        handle.flush()
        graph = load(handle.name)
    nodes = [n for n in graph.nodes() if n.subgraph == 0]
    position = {n.id: i for i, n in enumerate(nodes)}
    deps = []
    for node in nodes:
        producers = [graph.producer(t) for t in node.inputs if not t.is_constant]
        deps.append(sorted({position[p.id] for p in producers
                            if p is not None and p.id in position}))
    return {
        "ops": [n.op_type for n in nodes],
        "deps": deps,
        "flex_ops": [n.op_type for n in nodes if n.origin == "flex"],
        "subgraphs": graph.subgraph_count,
    }


def delegated_ops(data: bytes, count: int) -> list[bool] | None:
    """Per op of the main subgraph: replaced by an XNNPACK delegate node.

    None when the model cannot be allocated (it needs the Flex delegate).
    """
    from ai_edge_litert.interpreter import Interpreter

    from tflint.runtime_probe import node_list
    from tflint.verify import delegation_from_nodes

    try:
        with silenced():
            interpreter = Interpreter(model_content=data)
            interpreter.allocate_tensors()
    except (RuntimeError, ValueError):
        return None
    nodes = node_list(interpreter)
    if len(nodes) < count or any(n["op"] != "DELEGATE" for n in nodes[count:]):
        raise RuntimeError("unexpected node list after delegation")
    delegated = delegation_from_nodes(nodes).delegated
    return [i in delegated for i in range(count)]


def subtract(measured: dict[str, Any], context_ops: list[str]) -> dict[str, Any]:
    """``measured`` less one op per name in ``context_ops`` (earliest first)."""
    ops = measured["ops"]
    removed: set[int] = set()
    for name in context_ops:
        for i, op in enumerate(ops):
            if op == name and i not in removed:
                removed.add(i)
                break
    keep = [i for i in range(len(ops)) if i not in removed]
    index = {old: new for new, old in enumerate(keep)}
    out = dict(measured)
    out["ops"] = [ops[i] for i in keep]
    out["deps"] = [[index[d] for d in measured["deps"][i] if d in index] for i in keep]
    if measured.get("delegated") is not None:
        out["delegated"] = [measured["delegated"][i] for i in keep]
    out["flex_ops"] = [op for op in out["ops"] if op.startswith("Flex")]
    # A context that itself needs Flex ops says nothing about the layer under test.
    out["converts_builtin"] = measured["converts_builtin"] or not out["flex_ops"]
    return out


def measure_flavor(flavor: str, ids: set[str] | None, out: Path) -> None:
    measurer = Measurer(flavor)
    records = []
    variants = [v for v in all_variants() if ids is None or v.id in ids]
    started = time.monotonic()
    for i, variant in enumerate(variants):
        records.append(measurer.run(variant))
        print(f"[{flavor}] {i + 1}/{len(variants)} {variant.id} "
              f"({time.monotonic() - started:.0f} s)", file=sys.stderr, flush=True)
    out.write_text(json.dumps(records))


# -- merging into the table (parent process, no TensorFlow) ---------------------------------


LOWERING_KEYS = ("ops", "delegated", "deps", "cpu_ops", "flex_ops", "converts_builtin",
                 "subgraphs")


def lowering(measured: dict[str, Any], delegation: dict[str, bool]) -> dict[str, Any]:
    delegated = measured.get("delegated")
    out: dict[str, Any] = {"ops": measured["ops"]}
    if delegated is None:
        delegated = [not op.startswith("Flex") and delegation.get(op, False)
                     for op in measured["ops"]]
        out["delegation_measured"] = False
    out["delegated"] = delegated
    out["deps"] = measured["deps"]
    out["cpu_ops"] = [op for op, on in zip(measured["ops"], delegated, strict=True) if not on]
    out["flex_ops"] = measured["flex_ops"]
    out["converts_builtin"] = measured["converts_builtin"]
    out["subgraphs"] = measured["subgraphs"]
    if "error" in measured:
        out["error"] = measured["error"]
    return out


def observed_delegation(records: list[dict[str, Any]]) -> dict[str, bool]:
    """Per op name: delegated in most of the models where it could be measured."""
    votes: dict[str, Counter[bool]] = {}
    for record in records:
        for mode in ("static", "dynamic"):
            measured = record.get(mode)
            if not measured or measured.get("delegated") is None:
                continue
            for op, on in zip(measured["ops"], measured["delegated"], strict=True):
                votes.setdefault(op, Counter())[on] += 1
    return {op: count[True] > count[False] for op, count in votes.items()}


def same_lowering(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    if a is None or b is None:
        return a is b
    return all(a.get(k) == b.get(k) for k in ("ops", "delegated", "deps", "flex_ops",
                                              "converts_builtin", "subgraphs", "activation_part"))


def activation_part(full: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    part = subtract({**full, "delegated": full["delegated"]}, base["ops"])
    return {k: part[k] for k in ("ops", "delegated", "deps", "flex_ops")} | {
        "converts_builtin": full["converts_builtin"], "subgraphs": 1}


def build_entries(variants: list[Variant], records: dict[str, dict[str, dict[str, Any]]]
                  ) -> list[dict[str, Any]]:
    delegation = observed_delegation([r for by in records.values() for r in by.values()])
    # Lowerings per (variant id, flavor): static and dynamic.
    lowered: dict[tuple[str, str], dict[str, Any]] = {}
    for variant in variants:
        for flavor, record in records.get(variant.id, {}).items():
            if "static" not in record:
                continue
            static = lowering(record["static"], delegation)
            dynamic = lowering(record["dynamic"], delegation) if "dynamic" in record else None
            lowered[(variant.id, flavor)] = {"when": record["when"], "static": static,
                                             "dynamic": dynamic}
    for variant in variants:
        if variant.activation_base is None:
            continue
        for flavor in FLAVORS:
            item = lowered.get((variant.id, flavor))
            base = lowered.get((variant.activation_base, flavor))
            if item is None or base is None:
                continue
            item["static"]["activation_part"] = activation_part(item["static"], base["static"])
            if item["dynamic"] is not None and base["dynamic"] is not None:
                item["dynamic"]["activation_part"] = activation_part(item["dynamic"],
                                                                     base["dynamic"])
    entries = []
    for variant in variants:
        per_flavor = {f: lowered[(variant.id, f)] for f in FLAVORS if (variant.id, f) in lowered}
        if not per_flavor:
            continue
        items = list(per_flavor.items())
        first = items[0][1]
        if len(items) == 2 and not (
            same_lowering(items[0][1]["static"], items[1][1]["static"])
            and same_lowering(items[0][1]["dynamic"], items[1][1]["dynamic"])
            and items[0][1]["when"] == items[1][1]["when"]
        ):
            for flavor, item in items:
                entries.append(make_entry(variant, item, flavor, per_flavor, lowered))
        else:
            entries.append(make_entry(variant, first, None, per_flavor, lowered))
    return entries


def make_entry(variant: Variant, item: dict[str, Any], flavor: str | None,
               per_flavor: dict[str, Any], lowered: dict[tuple[str, str], Any]
               ) -> dict[str, Any]:
    when = dict(item["when"])
    if flavor is not None:
        when["keras"] = flavor
    static = item["static"]
    entry: dict[str, Any] = {
        "id": variant.id if flavor is None else f"{variant.id}@{flavor}",
        "class": variant.cls,
        "family": variant.family,
        "when": when,
        "flavors": [flavor] if flavor else sorted(per_flavor),
        **{k: v for k, v in static.items()},
    }
    if "activation_part" in static:
        entry["fused"] = not static["activation_part"]["ops"]
    elif variant.context is not None:
        entry["fused"] = not static["ops"]
    else:
        entry["fused"] = False
    dynamic = item["dynamic"]
    if dynamic is not None and not same_lowering(static, dynamic):
        entry["dynamic_batch"] = dynamic
    if variant.advice:
        entry["advice"] = variant.advice
    if variant.alternative:
        target, changes = variant.alternative
        chosen = lowered.get((target, flavor or next(iter(per_flavor))))
        if chosen is not None and chosen["static"]["converts_builtin"]:
            entry["alternative"] = {"variant": target, "config": changes,
                                    "cpu_ops": chosen["static"]["cpu_ops"]}
    return entry


def versions() -> dict[str, str]:
    names = {"tensorflow": "tensorflow-cpu", "keras": "keras", "tf_keras": "tf-keras",
             "ai_edge_litert": "ai-edge-litert"}
    found = {}
    for key, dist in names.items():
        try:
            found[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[key] = metadata.version(key.replace("_", "-"))
    return found


def render(entries: list[dict[str, Any]]) -> str:
    head = {
        "about": ("How Keras layers lower to TFLite ops and which ops the XNNPACK delegate "
                  "takes (float32). Generated by scripts/generate_lowering_table.py: one tiny "
                  "model per variant, converted with TFLiteConverter.from_keras_model (default "
                  "settings; builtins only, then SELECT_TF_OPS), run in ai_edge_litert with the "
                  "default XNNPACK delegate. 'ops' are the ops the layer adds (ops of the "
                  "Conv/Dense context removed), static batch 1; 'dynamic_batch' holds the "
                  "lowering with a dynamic batch when it differs. 'deps' index the ops of the "
                  "same entry an op reads (empty: the layer input). 'activation_part' is what a "
                  "Conv/Dense activation adds to the linear layer. Entries of one class are "
                  "matched by 'when' (features computed by "
                  "tflint.analyses.keras_prediction.layer_features from the config and the "
                  "input shape propagated by tflint.analyses.keras_shapes), most specific "
                  "first."),
        "versions": versions(),
        "conditions": {"dtype": "float32", "optimizations": "none (default)",
                       "batch": "1 (and None for dynamic_batch)",
                       "delegate": "XNNPACK (LiteRT default)"},
    }
    lines = json.dumps(head, indent=1)[:-2] + ',\n "entries": [\n'
    lines += ",\n".join("  " + json.dumps(e, sort_keys=False) for e in entries)
    return lines + "\n ]\n}\n"


def compare(entries: list[dict[str, Any]], committed: list[dict[str, Any]]) -> list[str]:
    """Differences between regenerated entries and the committed ones (by id)."""
    known = {e["id"]: e for e in committed}
    problems = []
    fields = (*LOWERING_KEYS, "when", "fused", "dynamic_batch", "activation_part")
    for entry in entries:
        old = known.get(entry["id"])
        if old is None:
            problems.append(f"{entry['id']}: not in the committed table")
            continue
        for key in fields:
            if entry.get(key) != old.get(key):
                problems.append(f"{entry['id']}: {key} is now {entry.get(key)!r}, "
                                f"the table says {old.get(key)!r}")
    return problems


def run_children(ids: set[str] | None, flavors: tuple[str, ...], jobs: int
                 ) -> dict[str, dict[str, dict[str, Any]]]:
    records: dict[str, dict[str, dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as folder:
        procs = []
        pending = list(flavors)
        outputs = {}
        while pending or procs:
            while pending and len(procs) < jobs:
                flavor = pending.pop(0)
                out = Path(folder) / f"{flavor}.json"
                outputs[flavor] = out
                command = [sys.executable, str(Path(__file__).resolve()), "--measure", flavor,
                           "--out", str(out)]
                if ids is not None:
                    command += ["--only", ",".join(sorted(ids))]
                env = dict(os.environ, PYTHONHASHSEED="0")
                procs.append((flavor, subprocess.Popen(command, env=env)))
            flavor, proc = procs.pop(0)
            if proc.wait() != 0:
                raise SystemExit(f"measuring with {flavor} failed")
        for flavor, out in outputs.items():
            for record in json.loads(out.read_text()):
                if "unavailable" not in record:
                    records.setdefault(record["id"], {})[flavor] = record
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated variant ids")
    parser.add_argument("--check", action="store_true",
                        help="compare with the committed table instead of writing it")
    parser.add_argument("--list", action="store_true", help="print the variant ids")
    parser.add_argument("--flavors", default=",".join(FLAVORS))
    parser.add_argument("--jobs", type=int, default=1, help="flavors measured at once")
    parser.add_argument("--measure", choices=FLAVORS, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    variants = all_variants()
    ids = set(args.only.split(",")) if args.only else None
    if ids is not None:
        unknown = ids - {v.id for v in variants}
        if unknown:
            parser.error(f"unknown variant ids: {sorted(unknown)}")
    if args.list:
        print("\n".join(f"{v.family:16} {v.id}" for v in variants))
        return 0
    if args.measure:
        measure_flavor(args.measure, ids, args.out)
        return 0
    flavors = tuple(f for f in args.flavors.split(",") if f)
    # An activation entry is measured against its linear variant.
    if ids is not None:
        ids |= {v.activation_base for v in variants if v.id in ids and v.activation_base}
        if not args.check:  # the check compares lowerings, not the alternatives offered
            ids |= {v.alternative[0] for v in variants if v.id in ids and v.alternative}
    records = run_children(ids, flavors, args.jobs)
    chosen = [v for v in variants if ids is None or v.id in ids]
    entries = build_entries(chosen, records)
    if args.check:
        committed = json.loads(OUTPUT.read_text(encoding="utf-8"))["entries"]
        if set(flavors) != set(FLAVORS):
            # Measured with one Keras only: compare the entries that flavor produced.
            entries = [e for e in entries if e["when"].get("keras") in (None, *flavors)]
            entries = [_flavored(e, committed, flavors) for e in entries]
        problems = compare([e for e in entries if e], committed)
        print(f"checked {len(entries)} entries from {len(chosen)} variants")
        for problem in problems:
            print(problem)
        return 1 if problems else 0
    if ids is not None and OUTPUT.exists():
        entries = merged(entries, json.loads(OUTPUT.read_text(encoding="utf-8"))["entries"],
                         variants, ids)
    OUTPUT.write_text(render(entries), encoding="utf-8")
    print(f"wrote {OUTPUT} ({len(entries)} entries from {len(variants)} variants)")
    return 0


def merged(new: list[dict[str, Any]], old: list[dict[str, Any]], variants: list[Variant],
           ids: set[str]) -> list[dict[str, Any]]:
    """The committed entries with those of the re-measured variants replaced, in variant order."""
    by_variant: dict[str, list[dict[str, Any]]] = {}
    for entry in old:
        if entry["id"].split("@")[0] not in ids:
            by_variant.setdefault(entry["id"].split("@")[0], []).append(entry)
    for entry in new:
        by_variant.setdefault(entry["id"].split("@")[0], []).append(entry)
    return [e for v in variants for e in by_variant.get(v.id, [])]


def _flavored(entry: dict[str, Any], committed: list[dict[str, Any]],
              flavors: tuple[str, ...]) -> dict[str, Any]:
    """Give an entry measured with one flavor the id the committed table uses."""
    ids = {e["id"] for e in committed}
    if entry["id"] in ids:
        return entry
    for flavor in flavors:
        flavored = f"{entry['id']}@{flavor}"
        if flavored in ids:
            return {**entry, "id": flavored, "when": {**entry["when"], "keras": flavor}}
    return entry


if __name__ == "__main__":
    sys.exit(main())
