"""How well tflint predicts, from a Keras file alone, what conversion and XNNPACK will do.

Usage::

    python bench/bench_keras_prediction.py [--rebuild] [--cached] [--no-timing]

1. Builds (once; cached in ``bench/.cache/keras_zoo/``, models not built yet are
   added on the next run) a zoo of Keras models: one model of every
   ``keras.applications`` family (``weights=None``, the smallest input size each
   accepts), with a dynamic batch and with a static batch of 1, in Keras 3
   (saved as ``.keras`` and ``.h5``) and in tf.keras 2.x (``.h5`` in the Keras 2
   dialect, in a child process with ``TF_USE_LEGACY_KERAS=1``); models that put
   Dense, EinsumDense, normalization, reshaping, attention and pooling on
   tensors of rank 2 to 5 (one with an unknown sequence length); the three
   seed models; and models with LSTM/GRU, attention and resizing heads.
2. For each model records what really happens: conversion with
   ``TFLiteConverter.from_keras_model`` and default settings (builtins only,
   then ``SELECT_TF_OPS``), and the ops LiteRT's default XNNPACK delegate
   leaves on the CPU, mapped back to Keras layers through the tensor names
   the converter writes (``functional_1/conv1_1/convolution``: model scope,
   layer scope with a uniquifying ``_N`` suffix, TensorFlow op; an op writing
   a model output gets the layer producing that output).
3. Runs tflint's prediction on every saved file and prints precision and
   recall of the set of layers predicted to fall back to the CPU or to need
   Select TF ops, against the real set (over the zoo and per Keras class),
   whether conversion with builtin ops only is predicted right for each model,
   and the predicted against the measured XNNPACK partitions of every file.
4. Times whole-process ``tflint`` on a 500-layer model (``.h5`` and
   ``.keras``), and checks that the process never imports TensorFlow.

The conversion helpers here are also used by ``fixtures/generate_keras_cases.py``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from generate_lowering_table import silenced

_SUFFIX = re.compile(r"_\d+$")


def convert(tf: Any, model: Any, flex: bool = False) -> bytes:
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if flex:
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS,
                                               tf.lite.OpsSet.SELECT_TF_OPS]
    with silenced():
        return converter.convert()


def delegated_ops(data: bytes, count: int) -> tuple[list[bool], int] | None:
    """Per op of subgraph 0: covered by an XNNPACK delegate node, and the number of
    delegate nodes (None: the model cannot be allocated).

    LiteRT still lists the replaced nodes after ``allocate_tensors()``, followed
    by one ``DELEGATE`` node per partition: each partition's ops are found by
    walking back from its outputs to its inputs.
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
    actual = delegation_from_nodes(nodes)
    return [i in actual.delegated for i in range(count)], actual.partitions


def layer_of(tensor_name: str, layers: set[str], flavor: str) -> str | None:
    """The Keras layer named deepest in a converter tensor name.

    Keras 3 opens a name scope ``<layer>_1`` per layer when the model is traced
    for export, tf_keras a scope ``<layer>``; a name is tried as the flavor
    writes it first, then with ``_N`` suffixes stripped one at a time.
    """
    found = None
    for part in tensor_name.split(";"):
        for component in part.split(":")[0].split("/"):
            candidates = [component]
            if flavor == "keras3" and component.endswith("_1"):
                candidates.insert(0, component[:-2])
            name = component
            while (stripped := _SUFFIX.sub("", name)) != name:
                candidates.append(stripped)
                name = stripped
            match = next((c for c in candidates if c in layers), None)
            if match:
                found = match
        if found:
            return found
    return found


def attribute(cpu_ops: list[dict[str, Any]], layers: set[str], outputs: list[str],
              flavor: str) -> tuple[dict[str, list[str]], list[str]]:
    """CPU ops per Keras layer, and the ops no layer name was found for."""
    per_layer: dict[str, list[str]] = {}
    unmapped: list[str] = []
    for op in cpu_ops:
        layer = None
        for name in op["outputs"]:
            layer = layer_of(name, layers, flavor)
            if layer:
                break
        if layer is None and op.get("model_output") is not None:
            index = op["model_output"]
            layer = outputs[index] if index < len(outputs) else None
        if layer is None:
            unmapped.append(op["op"])
        else:
            per_layer.setdefault(layer, []).append(op["op"])
    return per_layer, unmapped


def truth(tf: Any, model: Any, flavor: str) -> dict[str, Any]:
    """Convert ``model`` with default settings and say what happened, per layer."""
    from tflint.loaders import load

    layers = {layer.name for layer in _all_layers(model)}
    result: dict[str, Any] = {"converts_builtin": True}
    try:
        data = convert(tf, model)
    except Exception:
        result["converts_builtin"] = False
        try:
            data = convert(tf, model, flex=True)
        except Exception as exc:
            result["error"] = str(exc).strip().splitlines()[-1][:200]
            return result
    with tempfile.NamedTemporaryFile(suffix=".tflite") as handle:
        handle.write(data)
        handle.flush()
        graph = load(handle.name)
    nodes = [n for n in graph.nodes() if n.subgraph == 0]
    delegation = delegated_ops(data, len(nodes))
    delegated = None if delegation is None else delegation[0]
    outputs = {t.id: i for i, t in enumerate(graph.outputs)}
    names = [_output_layer(model, i) for i in range(len(model.outputs))]
    cpu_ops = []
    for i, node in enumerate(nodes):
        on = delegated[i] if delegated is not None else node.origin != "flex"
        if on and node.origin != "flex":
            continue
        model_output = next((outputs[t.id] for t in node.outputs if t.id in outputs), None)
        cpu_ops.append({"op": node.op_type, "outputs": [t.name for t in node.outputs],
                        "model_output": model_output})
    cpu_layers, unmapped = attribute(cpu_ops, layers, names, flavor)
    result.update(
        ops=len(nodes),
        delegated=None if delegated is None else sum(delegated),
        partitions=None if delegation is None else delegation[1],
        flex_ops=[n.op_type for n in nodes if n.origin == "flex"],
        cpu_layers=cpu_layers,
        unmapped=unmapped,
        cpu_ops=cpu_ops,
        layers=sorted(layers),
        output_layers=names,
        size=len(data),
    )
    return result


def _all_layers(model: Any) -> list[Any]:
    found = []
    for layer in model.layers:
        found.append(layer)
        if hasattr(layer, "layers"):
            found += _all_layers(layer)
    return found


def _output_layer(model: Any, index: int) -> str:
    tensor = model.outputs[index]
    history = getattr(tensor, "_keras_history", None)
    layer = history[0] if isinstance(history, tuple) else getattr(history, "layer", None)
    return getattr(layer, "name", "")


# -- the zoo ------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache" / "keras_zoo"
SEED = 1234


#: One small model per ``keras.applications`` family: (constructor, input size, options).
#: Sizes are the smallest each family accepts, to keep building and converting fast.
APPLICATIONS: dict[str, tuple[str, int, dict[str, Any]]] = {
    "convnext": ("ConvNeXtTiny", 32, {}),
    "densenet": ("DenseNet121", 32, {}),
    "efficientnet": ("EfficientNetB0", 32, {}),
    "efficientnet_v2": ("EfficientNetV2B0", 32, {}),
    "inception_resnet_v2": ("InceptionResNetV2", 75, {}),
    "inception_v3": ("InceptionV3", 75, {}),
    "mobilenet": ("MobileNet", 32, {"alpha": 0.25}),
    "mobilenet_v2": ("MobileNetV2", 32, {"alpha": 0.35}),
    "mobilenet_v3_small": ("MobileNetV3Small", 32, {}),
    "mobilenet_v3_large": ("MobileNetV3Large", 32, {"minimalistic": True}),
    "nasnet_mobile": ("NASNetMobile", 32, {}),
    "resnet50": ("ResNet50", 32, {}),
    "resnet50_v2": ("ResNet50V2", 32, {}),
    "vgg16": ("VGG16", 32, {}),
    "vgg19": ("VGG19", 32, {}),
    "xception": ("Xception", 71, {}),
    # tf_keras only
    "regnet": ("RegNetX002", 32, {}),
    "resnet_rs": ("ResNetRS50", 32, {}),
}


def applications_zoo(keras: Any, prefix: str) -> dict[str, Callable[[], Any]]:
    """Every ``keras.applications`` family this Keras ships, with a dynamic batch
    (``NAME``) and a static batch of 1 (``NAME_b1``)."""
    zoo: dict[str, Callable[[], Any]] = {}
    for family, (constructor, size, options) in APPLICATIONS.items():
        builder = getattr(keras.applications, constructor, None)
        if builder is None:
            continue

        def dynamic(builder: Any = builder, size: int = size, options: Any = options) -> Any:
            return builder(weights=None, input_shape=(size, size, 3), classes=10, **options)

        def static(builder: Any = builder, size: int = size, options: Any = options) -> Any:
            inputs = keras.Input((size, size, 3), batch_size=1, name="image")
            return builder(weights=None, input_tensor=inputs, classes=10, **options)

        zoo[f"{prefix}{family}"] = dynamic
        zoo[f"{prefix}{family}_b1"] = static
    return zoo


def shapes_zoo(keras: Any, prefix: str) -> dict[str, Callable[[], Any]]:
    """Models that put Dense, EinsumDense, normalization, reshaping, attention and pooling
    on tensors of rank 2 to 5, with a static and a dynamic batch (``_b1``: static)."""
    layers = keras.layers

    def dense_ranks(batch: int | None) -> Callable[[], Any]:
        def build() -> Any:
            seq = keras.Input((6, 5), batch_size=batch, name="sequence")
            image = keras.Input((4, 4, 3), batch_size=batch, name="image")
            volume = keras.Input((2, 3, 4, 5), batch_size=batch, name="volume")
            a = layers.Dense(8, activation="relu", name="dense_r3")(seq)
            a = layers.LayerNormalization(name="ln_r3")(a)
            a = layers.GlobalAveragePooling1D(name="gap_r3")(a)
            b = layers.Dense(8, name="dense_r4")(image)
            b = layers.BatchNormalization(name="bn_r4")(b)
            b = layers.LayerNormalization(name="ln_r4")(b)
            b = layers.MaxPooling2D(name="pool_r4")(b)
            b = layers.Flatten(name="flat_r4")(b)
            c = layers.Dense(4, name="dense_r5")(volume)
            c = layers.Permute((2, 1, 3, 4), name="permute_r5")(c)
            c = layers.AveragePooling3D((1, 2, 2), name="pool_r5")(c)
            c = layers.GlobalMaxPooling3D(name="gmp_r5")(c)
            x = layers.Concatenate(name="cat")([a, b, c])
            x = layers.UnitNormalization(name="unit")(x)
            return keras.Model([seq, image, volume], layers.Dense(3, name="out")(x),
                               name="dense_ranks")
        return build

    def einsum(batch: int | None, length: int | None) -> Callable[[], Any]:
        def build() -> Any:
            inputs = keras.Input((length, 16), batch_size=batch, name="tokens")
            q = layers.EinsumDense("abc,cd->abd", output_shape=(None, 8), bias_axes="d",
                                   name="proj")(inputs)
            h = layers.EinsumDense("abc,cde->abde", output_shape=(None, 2, 4), name="heads")(q)
            h = layers.Reshape((-1, 8), name="merge_heads")(h)
            x = layers.MultiHeadAttention(2, 4, name="mha")(h, h)
            x = layers.LayerNormalization(name="ln")(layers.Add(name="res")([h, x]))
            x = layers.Attention(name="dot_attention")([x, h])
            x = layers.AdditiveAttention(name="add_attention")([x, h])
            x = layers.MaxPooling1D(2, padding="same", name="pool1d")(x)
            x = layers.GlobalMaxPooling1D(name="gmp")(x)
            return keras.Model(inputs, layers.Dense(2, name="out")(x), name="einsum_attention")
        return build

    def pooling(batch: int | None) -> Callable[[], Any]:
        def build() -> Any:
            signal = keras.Input((12, 3), batch_size=batch, name="signal")
            image = keras.Input((8, 8, 3), batch_size=batch, name="image")
            volume = keras.Input((4, 4, 4, 2), batch_size=batch, name="volume")
            a = layers.AveragePooling1D(2, name="avg1d")(signal)
            a = layers.Reshape((3, 6), name="reshape1d")(a)
            a = layers.GlobalAveragePooling1D(name="gap1d")(a)
            b = layers.AveragePooling2D(3, strides=2, padding="same", name="avg2d")(image)
            b = layers.GroupNormalization(groups=3, name="gn2d")(b)
            b = layers.GlobalMaxPooling2D(keepdims=True, name="gmp2d")(b)
            b = layers.Flatten(name="flat2d")(b)
            c = layers.MaxPooling3D(2, name="max3d")(volume)
            c = layers.BatchNormalization(name="bn3d")(c)
            c = layers.GlobalAveragePooling3D(name="gap3d")(c)
            x = layers.Concatenate(name="cat")([a, b, c])
            return keras.Model([signal, image, volume], layers.Dense(2, name="out")(x),
                               name="pooling_ranks")
        return build

    return {
        f"{prefix}dense_ranks": dense_ranks(None),
        f"{prefix}dense_ranks_b1": dense_ranks(1),
        f"{prefix}einsum_attention": einsum(None, 10),
        f"{prefix}einsum_attention_b1": einsum(1, 10),
        f"{prefix}einsum_attention_any_length": einsum(None, None),
        f"{prefix}pooling_ranks": pooling(None),
        f"{prefix}pooling_ranks_b1": pooling(1),
    }


def zoo_keras3(keras: Any, tf: Any) -> dict[str, Callable[[], Any]]:
    layers = keras.layers

    def lstm_classifier(cls: str, batch: int | None) -> Callable[[], Any]:
        def build() -> Any:
            inputs = keras.Input((12, 8), batch_size=batch, name="frames")
            x = getattr(layers, cls)(16, return_sequences=True, name="rnn1")(inputs)
            x = getattr(layers, cls)(8, name="rnn2")(x)
            return keras.Model(inputs, layers.Dense(3, name="out")(x), name=f"{cls.lower()}_clf")
        return build

    def text_bilstm() -> Any:
        inputs = keras.Input((16,), batch_size=1, dtype="int32", name="tokens")
        x = layers.Embedding(100, 8, name="embed")(inputs)
        x = layers.Bidirectional(layers.LSTM(8, return_sequences=True), name="bilstm")(x)
        x = layers.GlobalMaxPooling1D(name="pool")(x)
        return keras.Model(inputs, layers.Dense(2, name="out")(x), name="text_bilstm")

    def transformer(batch: int | None) -> Callable[[], Any]:
        def build() -> Any:
            inputs = keras.Input((16, 32), batch_size=batch, name="tokens")
            x = layers.MultiHeadAttention(4, 8, name="mha")(inputs, inputs)
            x = layers.Add(name="res1")([inputs, x])
            x = layers.LayerNormalization(name="ln1")(x)
            y = layers.Dense(64, activation="gelu", name="ffn1")(x)
            y = layers.Dense(32, name="ffn2")(y)
            x = layers.Add(name="res2")([x, y])
            x = layers.LayerNormalization(name="ln2")(x)
            x = layers.GlobalAveragePooling1D(name="pool")(x)
            return keras.Model(inputs, layers.Dense(4, name="out")(x), name="transformer")
        return build

    def attention_pool() -> Any:
        inputs = keras.Input((10, 16), name="sequence")
        q = layers.Dense(16, name="query")(inputs)
        x = layers.Attention(name="attention")([q, inputs])
        x = layers.AdditiveAttention(name="additive")([x, inputs])
        x = layers.Softmax(axis=1, name="weights")(x)
        x = layers.GlobalAveragePooling1D(name="pool")(x)
        return keras.Model(inputs, layers.Dense(2, name="out")(x), name="attention_pool")

    def resize_head(method: str) -> Callable[[], Any]:
        def build() -> Any:
            inputs = keras.Input((32, 32, 3), name="image")
            x = layers.Rescaling(1 / 255, name="scale")(inputs)
            x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="c1")(x)
            x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="c2")(x)
            x = layers.Conv2DTranspose(8, 3, strides=2, padding="same", name="up1")(x)
            x = layers.UpSampling2D(interpolation="bilinear", name="up2")(x)
            x = layers.Resizing(40, 40, interpolation=method, name="resize")(x)
            return keras.Model(inputs, layers.Conv2D(2, 1, name="logits")(x), name="seg_head")
        return build

    def unet() -> Any:
        inputs = keras.Input((32, 32, 3), batch_size=1, name="image")
        c1 = layers.Conv2D(8, 3, padding="same", name="d1")(inputs)
        c1 = layers.BatchNormalization(name="d1_bn")(c1)
        c1 = layers.Activation("swish", name="d1_act")(c1)
        p1 = layers.MaxPooling2D(name="p1")(c1)
        c2 = layers.Conv2D(16, 3, padding="same", activation="relu", name="d2")(p1)
        u1 = layers.UpSampling2D(name="u1")(c2)
        x = layers.Concatenate(name="skip")([u1, c1])
        x = layers.SeparableConv2D(8, 3, padding="same", activation="relu6", name="sep")(x)
        x = layers.Conv2D(1, 1, activation="sigmoid", name="mask")(x)
        return keras.Model(inputs, x, name="unet")

    def flatten_mlp() -> Any:
        inputs = keras.Input((16, 16, 3), name="image")
        x = layers.Conv2D(8, 3, activation="relu", name="c1")(inputs)
        x = layers.MaxPooling2D(name="pool")(x)
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dropout(0.5, name="drop")(x)
        x = layers.Dense(16, activation="elu", name="fc1")(x)
        return keras.Model(inputs, layers.Dense(3, activation="softmax", name="out")(x),
                           name="flatten_mlp")

    def conv1d_audio() -> Any:
        inputs = keras.Input((64, 2), name="audio")
        x = layers.Conv1D(8, 5, dilation_rate=2, activation="relu", name="c1")(inputs)
        x = layers.SeparableConv1D(8, 3, activation="gelu", name="c2")(x)
        x = layers.LeakyReLU(name="leaky")(x)
        x = layers.GlobalMaxPooling1D(name="pool")(x)
        return keras.Model(inputs, layers.Dense(2, name="out")(x), name="conv1d_audio")

    return {
        "lstm_static": lstm_classifier("LSTM", 1),
        "gru_dynamic": lstm_classifier("GRU", None),
        "text_bilstm": text_bilstm,
        "transformer": transformer(None),
        "transformer_static": transformer(1),
        "attention_pool": attention_pool,
        "seg_head_bilinear": resize_head("bilinear"),
        "seg_head_bicubic": resize_head("bicubic"),
        "unet": unet,
        "flatten_mlp": flatten_mlp,
        "conv1d_audio": conv1d_audio,
        **applications_zoo(keras, ""),
        **shapes_zoo(keras, ""),
    }


def zoo_tf_keras(keras: Any, tf: Any) -> dict[str, Callable[[], Any]]:
    layers = keras.layers

    def lstm_static() -> Any:
        inputs = keras.Input((12, 8), batch_size=1, name="frames")
        x = layers.LSTM(16, return_sequences=True, name="rnn1")(inputs)
        x = layers.GRU(8, name="rnn2")(x)
        return keras.Model(inputs, layers.Dense(3, name="out")(x), name="tfk_rnn")

    def transformer() -> Any:
        inputs = keras.Input((16, 32), name="tokens")
        x = layers.MultiHeadAttention(4, 8, name="mha")(inputs, inputs)
        x = layers.LayerNormalization(name="ln")(layers.Add(name="res")([inputs, x]))
        x = layers.Dense(32, activation="gelu", name="ffn")(x)
        x = layers.GlobalAveragePooling1D(name="pool")(x)
        return keras.Model(inputs, layers.Dense(4, name="out")(x), name="tfk_transformer")

    return {
        "tfk_rnn": lstm_static,
        "tfk_transformer": transformer,
        **applications_zoo(keras, "tfk_"),
        **shapes_zoo(keras, "tfk_"),
    }


SEEDS = ("custom_activation", "lambda_sincos", "dynamic_reshape")


def build_zoo(flavor: str, results_path: Path) -> None:
    """Build, save and measure this flavor's models not yet in ``results_path`` (runs in a
    child process; each model's result is written as soon as it is measured)."""
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if flavor == "tf_keras":
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
    with silenced():
        import tensorflow as tf

        if flavor == "tf_keras":
            import tf_keras as keras
        else:
            import keras
    CACHE.mkdir(parents=True, exist_ok=True)
    zoo = zoo_tf_keras(keras, tf) if flavor == "tf_keras" else zoo_keras3(keras, tf)
    results: dict[str, Any] = (json.loads(results_path.read_text())
                               if results_path.exists() else {})
    for name, build in zoo.items():
        if name in results:
            continue
        keras.utils.set_random_seed(SEED)
        started = time.monotonic()
        try:
            with silenced():
                model = build()
        except Exception as exc:  # a family this Keras cannot build at this size
            print(f"  {name}: not built: {str(exc).strip().splitlines()[-1][:200]}",
                  file=sys.stderr, flush=True)
            continue
        files = []
        for suffix in ((".h5",) if flavor == "tf_keras" else (".keras", ".h5")):
            path = CACHE / f"{name}{suffix}"
            with silenced():
                model.save(str(path))
            files.append(path.name)
        results[name] = {"keras": flavor, "files": files, **truth(tf, model, flavor)}
        results_path.write_text(json.dumps(results))
        print(f"  {name}: {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    if flavor == "keras3" and not all(f"seed_{name}" in results for name in SEEDS):
        results.update(build_seeds(tf))
        results_path.write_text(json.dumps(results))


def build_seeds(tf: Any) -> dict[str, Any]:
    """The seed fixtures, measured from the files themselves."""
    sys.path.insert(0, str(ROOT / "fixtures"))
    import generate

    generate.load_tensorflow()
    results = {}
    for name in SEEDS:
        path = ROOT / "fixtures" / "seed" / f"{name}.keras"
        with silenced():
            model = generate.load_keras3(path)
        results[f"seed_{name}"] = {"keras": "keras3", "files": [str(path),
                                                               str(path.with_suffix(".h5"))],
                                   **truth(tf, model, "keras3")}
    return results


def ensure_zoo(rebuild: bool, build: bool = True) -> dict[str, Any]:
    """The zoo's measured truth; models not measured yet are built first (unless not
    ``build``), both Keras flavors at once (each in its own process)."""
    index = CACHE / "truth.json"
    CACHE.mkdir(parents=True, exist_ok=True)
    if not build:
        found: dict[str, Any] = {}
        for flavor in ("keras3", "tf_keras"):
            path = CACHE / f"truth_{flavor}.json"
            found.update(json.loads(path.read_text()) if path.exists() else {})
        return found
    if rebuild:
        for flavor in ("keras3", "tf_keras"):
            (CACHE / f"truth_{flavor}.json").unlink(missing_ok=True)
    print("building the zoo (models not built yet)...", file=sys.stderr, flush=True)
    children = [subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--build",
                                  flavor, "--results", str(CACHE / f"truth_{flavor}.json")])
                for flavor in ("keras3", "tf_keras")]
    if any(child.wait() != 0 for child in children):
        raise SystemExit("building the zoo failed")
    results: dict[str, Any] = {}
    for flavor in ("keras3", "tf_keras"):
        results.update(json.loads((CACHE / f"truth_{flavor}.json").read_text()))
    index.write_text(json.dumps(results, indent=1))
    return results


# -- comparing ---------------------------------------------------------------------------------


def predicted_sets(path: Path, delegation_known: bool = True
                   ) -> tuple[dict[str, list[str]], set[str], dict[str, str], bool, int]:
    """(CPU or Flex ops per layer, opaque layers, class of every layer, converts with
    builtins, delegate partitions).  Without ``delegation_known`` (LiteRT could not run
    the real model: it needs Flex ops) only the layers needing Select TF ops count."""
    prediction = _predict(path)
    bad = {p.layer: p.cpu_ops for p in prediction.layers
           if p.status == "flex" or (p.lowering.cpu_ops and delegation_known)}
    opaque = {p.layer for p in prediction.layers if p.status in ("opaque", "unknown")}
    every = {p.layer: p.node.op_type for p in prediction.layers}
    converts = not any(p.status == "flex" for p in prediction.layers)
    return bad, opaque, every, converts, prediction.partitions


def _predict(path: Path) -> Any:
    from tflint.analyses.keras_prediction import predict
    from tflint.loaders import load

    return predict(load(str(path)))


def counts(zoo: dict[str, Any]) -> dict[str, int]:
    """Op, CPU-op and partition counts against LiteRT, on models without opaque layers."""
    out = {"models": 0, "cpu_ops_exact": 0, "partitions_exact": 0, "ops_exact": 0}
    for real in zoo.values():
        if real.get("partitions") is None:
            continue  # needs Flex ops: LiteRT cannot allocate it
        file = real["files"][0]
        prediction = _predict(Path(file) if os.path.isabs(file) else CACHE / file)
        if prediction.unknown_layers:
            continue
        out["models"] += 1
        out["cpu_ops_exact"] += (prediction.ops - prediction.delegated
                                 == real["ops"] - real["delegated"])
        out["partitions_exact"] += prediction.partitions == real["partitions"]
        out["ops_exact"] += prediction.ops == real["ops"]
    return out


def explained(extra: set[str], predicted: dict[str, list[str]], lost: list[str]) -> set[str]:
    """Predicted CPU layers whose CPU ops are among the ops no tensor name attributes.

    Such a layer cannot be checked (the converter named its ops ``while``,
    ``tfl.unidirectional_sequence_lstm``...): it is counted neither way.
    """
    left = list(lost)
    found = set()
    for layer in sorted(extra):
        ops = predicted[layer]
        if ops and all(left.count(op) >= ops.count(op) for op in set(ops)):
            for op in ops:
                left.remove(op)
            found.add(layer)
    return found


def compare(zoo: dict[str, Any]) -> dict[str, Any]:
    tp = fp = fn = 0
    tp_all = fn_all = 0
    rows = []
    #: Keras class -> [true positives, false positives, false negatives] over layers.
    by_class: dict[str, list[int]] = {}
    partition_rows: list[tuple[str, str, int, int]] = []
    conversion_right = 0
    files = 0
    unmapped = 0
    unverifiable = 0
    for name, real in sorted(zoo.items()):
        cpu_layers = real.get("cpu_layers", {})
        lost: list[str] = list(real.get("unmapped", []))
        if "cpu_ops" in real:  # attribute again: the mapping may have improved since
            cpu_layers, lost = attribute(real["cpu_ops"], set(real["layers"]),
                                         real["output_layers"], real["keras"])
        actual = set(cpu_layers)
        for file in real["files"]:
            path = Path(file) if os.path.isabs(file) else CACHE / file
            predicted, opaque, every, converts, partitions = predicted_sets(
                path, real.get("delegated") is not None or not real.get("ops"))
            bad = set(predicted)
            files += 1
            unmapped += len(lost)
            unchecked = explained(bad - actual, predicted, lost)
            unverifiable += len(unchecked)
            bad -= unchecked
            known_actual = actual - opaque
            tp += len(bad & known_actual)
            fp += len(bad - actual)
            fn += len(known_actual - bad)
            tp_all += len(bad & actual)
            fn_all += len(actual - bad)
            for layer in (bad | known_actual):
                tally = by_class.setdefault(every.get(layer, "?"), [0, 0, 0])
                tally[0 if layer in bad and layer in actual else 1 if layer in bad else 2] += 1
            if real.get("partitions") is not None:
                partition_rows.append((name, path.suffix, partitions, real["partitions"]))
            right = converts == real["converts_builtin"]
            conversion_right += right
            rows.append((name, path.suffix, len(every), sorted(bad - actual),
                         sorted(known_actual - bad), sorted(actual & opaque),
                         sorted(unchecked), right))
    return {
        "rows": rows, "files": files, "models": len(zoo),
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
        "recall_with_opaque": tp_all / (tp_all + fn_all) if tp_all + fn_all else 1.0,
        "conversion_right": conversion_right,
        "unmapped_ops": unmapped,
        "unverifiable": unverifiable,
        "by_class": by_class,
        "partitions": partition_rows,
    }


# -- timing ------------------------------------------------------------------------------------


NO_TF = ("import runpy, sys; sys.argv = ['tflint', *sys.argv[1:]]; "
         "import tflint.cli as cli\n"
         "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
         "bad = [m for m in ('tensorflow', 'keras', 'tf_keras', 'ai_edge_litert') "
         "if m in sys.modules]\nsys.exit(3 if bad else 0)")


def time_large() -> list[tuple[str, Any, bool]]:
    from process_timing import measure

    folder = CACHE / "large"
    if not (folder / "large.keras").exists():
        subprocess.run([sys.executable, str(ROOT / "bench" / "make_large_keras.py"), str(folder),
                        "--layers", "500"], check=True, stdout=subprocess.DEVNULL)
    rows = []
    for name in ("large.h5", "large.keras"):
        path = folder / name
        timing = measure([sys.executable, "-m", "tflint", "--exit-zero", "--select",
                          ",".join(CODES), str(path)], repeat=7)
        clean = subprocess.run([sys.executable, "-c", NO_TF, "--exit-zero", "--select",
                                ",".join(CODES), str(path)], capture_output=True).returncode == 0
        rows.append((name, timing, clean))
    return rows


CODES = ("TFL120", "TFL121", "TFL220", "TFL221", "TFL222", "TFL320", "TFL321", "TFL420",
         "TFL422", "TFL423")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached zoo")
    parser.add_argument("--cached", action="store_true",
                        help="compare the models built so far; build nothing")
    parser.add_argument("--no-timing", action="store_true", help="skip the timing of tflint")
    parser.add_argument("--build", choices=("keras3", "tf_keras"), help=argparse.SUPPRESS)
    parser.add_argument("--results", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.build:
        build_zoo(args.build, args.results)
        return 0
    sys.path.insert(0, str(ROOT / "bench"))
    zoo = ensure_zoo(args.rebuild, build=not args.cached)
    result = compare(zoo)
    from tflint.analyses.keras_prediction import table_versions

    versions = table_versions()
    print(f"date: {datetime.date.today().isoformat()}; table measured with TensorFlow "
          f"{versions.get('tensorflow')}, Keras {versions.get('keras')}, tf_keras "
          f"{versions.get('tf_keras')}, LiteRT {versions.get('ai_edge_litert')}")
    print(f"zoo: {result['models']} models, {result['files']} files")
    print("| model | file | layers | predicted, not real | real, not predicted | "
          "real in opaque layers | unattributed ops | builtin conversion predicted |")
    print("| --- | --- | ---: | --- | --- | --- | --- | --- |")
    for name, suffix, count, extra, missed, opaque, unchecked, right in result["rows"]:
        print(f"| {name} | {suffix} | {count} | {', '.join(extra) or '-'} | "
              f"{', '.join(missed) or '-'} | {', '.join(opaque) or '-'} | "
              f"{', '.join(unchecked) or '-'} | {'yes' if right else 'NO'} |")
    print()
    print("| Keras class | layers on CPU (real) | predicted | precision | recall |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for cls, (hit, extra, missed) in sorted(result["by_class"].items()):
        print(f"| {cls} | {hit + missed} | {hit + extra} | "
              f"{hit / (hit + extra) if hit + extra else 1.0:.3f} | "
              f"{hit / (hit + missed) if hit + missed else 1.0:.3f} |")
    print()
    exact = sum(predicted == real for _, _, predicted, real in result["partitions"])
    print("| model | file | XNNPACK partitions predicted | measured |")
    print("| --- | --- | ---: | ---: |")
    for name, suffix, predicted, real in result["partitions"]:
        mark = "" if predicted == real else " (differs)"
        print(f"| {name} | {suffix} | {predicted}{mark} | {real} |")
    print()
    print("| figure | value | target |")
    print("| --- | ---: | ---: |")
    print(f"| precision (layers on CPU / needing Select TF ops) | {result['precision']:.3f} "
          f"| >= 0.95 |")
    print(f"| recall (opaque layers excluded) | {result['recall']:.3f} | >= 0.95 |")
    print(f"| recall (opaque layers counted as misses) | {result['recall_with_opaque']:.3f} "
          f"| - |")
    print(f"| CPU ops the tensor names attribute to no layer | {result['unmapped_ops']} "
          f"(covering {result['unverifiable']} predicted layers, left out) | - |")
    print(f"| builtin-only conversion predicted right | {result['conversion_right']}/"
          f"{result['files']} files | all |")
    print(f"| XNNPACK partitions exact (every file LiteRT can run) | {exact}/"
          f"{len(result['partitions'])} | - |")
    tally = counts(zoo)
    models = tally["models"]
    print(f"| CPU op count exact (models without opaque layers that LiteRT can run) | "
          f"{tally['cpu_ops_exact']}/{models} | - |")
    print(f"| delegate partitions exact | {tally['partitions_exact']}/{models} | - |")
    print(f"| total op count exact (folding of delegated ops is approximate) | "
          f"{tally['ops_exact']}/{models} | - |")
    for name, timing, clean in ([] if args.no_timing else time_large()):
        print(f"| whole-process tflint, 500-layer {name} | {timing.median_s * 1000:.0f} ms "
              f"(min {timing.min_s * 1000:.0f}), no TensorFlow import: "
              f"{'yes' if clean else 'NO'} | < 1000 ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
