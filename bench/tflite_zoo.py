"""A zoo of converted .tflite models for delegation benchmarks, cached in bench/.cache/tflite_zoo.

Run once with TensorFlow installed (``python bench/tflite_zoo.py``); each model
is written on first need and reused after.  Architectures come from
``keras.applications`` with ``weights=None`` (nothing is downloaded), at small
input sizes, each in float32, dynamic-range, float16 and full-int8 form, plus
small models with recurrent layers, attention, resize and argmax heads.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

ZOO = Path(__file__).resolve().parent / ".cache" / "tflite_zoo"

#: name -> (keras.applications constructor name, input size, extra kwargs)
ARCHITECTURES: dict[str, tuple[str, int, dict]] = {
    "mobilenet": ("MobileNet", 96, {"alpha": 0.25}),
    "mobilenet_v2": ("MobileNetV2", 96, {"alpha": 0.35}),
    "mobilenet_v3_small": ("MobileNetV3Small", 96, {}),
    "mobilenet_v3_large": ("MobileNetV3Large", 96, {"minimalistic": True}),
    "efficientnet_b0": ("EfficientNetB0", 64, {}),
    "efficientnet_v2_b0": ("EfficientNetV2B0", 64, {}),
    "densenet121": ("DenseNet121", 64, {}),
    "nasnet_mobile": ("NASNetMobile", 64, {}),
    "resnet50": ("ResNet50", 64, {}),
    "convnext_tiny": ("ConvNeXtTiny", 64, {}),
}
QUANTIZATIONS = ("float32", "dynamic", "float16", "int8")


def _small_models() -> dict[str, Callable[[], object]]:
    import keras
    from keras import layers

    def lstm() -> keras.Model:
        x = keras.Input((12, 8), batch_size=1)
        return keras.Model(x, layers.Dense(4)(layers.LSTM(16)(x)))

    def gru() -> keras.Model:
        x = keras.Input((12, 8), batch_size=1)
        return keras.Model(x, layers.Dense(4)(layers.GRU(16, return_sequences=True)(x)))

    def attention() -> keras.Model:
        x = keras.Input((16, 32), batch_size=1)
        y = layers.MultiHeadAttention(num_heads=2, key_dim=16)(x, x)
        y = layers.LayerNormalization()(layers.Add()([x, y]))
        return keras.Model(x, layers.Dense(8, activation="gelu")(y))

    def resize_head() -> keras.Model:
        x = keras.Input((16, 16, 3), batch_size=1)
        y = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
        a = layers.UpSampling2D(interpolation="bilinear")(y)
        b = layers.UpSampling2D(interpolation="nearest")(y)
        return keras.Model(x, layers.Conv2D(2, 1)(layers.Concatenate()([a, b])))

    def argmax_head() -> keras.Model:
        # Keras 3's ops.argmax does not convert with builtin ops (BitwiseAnd), so the
        # argmax is taken in a tf.function around the model, as users do (see _convert).
        x = keras.Input((32, 32, 3), batch_size=1)
        y = layers.Conv2D(8, 3, activation="relu")(x)
        model = keras.Model(x, layers.Dense(5)(layers.GlobalAveragePooling2D()(y)))
        model.argmax_head = True
        return model

    return {"lstm": lstm, "gru": gru, "attention": attention, "resize_head": resize_head,
            "argmax_head": argmax_head}


def _convert(model: object, quantization: str) -> bytes:
    import numpy as np
    import tensorflow as tf

    if getattr(model, "argmax_head", False):
        @tf.function(input_signature=[tf.TensorSpec([1, *model.inputs[0].shape[1:]])])
        def scores_to_class(x: tf.Tensor) -> tf.Tensor:
            return tf.argmax(model(x), axis=-1)

        converter = tf.lite.TFLiteConverter.from_concrete_functions(
            [scores_to_class.get_concrete_function()], model)
    else:
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantization != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quantization == "int8":
        shape = [1, *model.inputs[0].shape[1:]]
        rng = np.random.default_rng(0)

        def samples():  # random calibration data: the weights are random too
            for _ in range(3):
                yield [rng.standard_normal(shape).astype(np.float32)]

        converter.representative_dataset = samples
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return converter.convert()


def build(names: list[str] | None = None) -> list[Path]:
    """Write every missing zoo model; returns all zoo paths."""
    import keras

    ZOO.mkdir(parents=True, exist_ok=True)
    small = _small_models()
    wanted: list[tuple[str, Callable[[], object], tuple[str, ...]]] = []
    for name, (ctor, size, kwargs) in ARCHITECTURES.items():
        def make(ctor=ctor, size=size, kwargs=kwargs) -> object:
            return getattr(keras.applications, ctor)(
                weights=None, input_shape=(size, size, 3), **kwargs)
        wanted.append((name, make, QUANTIZATIONS))
    for name, make in small.items():
        # int8 calibration of the recurrent models does not finish with TF 2.21.
        variants = {"lstm": ("float32", "dynamic"), "gru": ("float32", "dynamic"),
                    "argmax_head": ("float32",)}.get(name, ("float32", "int8"))
        wanted.append((name, make, variants))
    paths = []
    for name, make, quantizations in wanted:
        if names and name not in names:
            continue
        model = None
        for quantization in quantizations:
            path = ZOO / f"{name}_{quantization}.tflite"
            if not path.exists():
                model = model or make()
                try:
                    data = _convert(model, quantization)
                except Exception as exc:  # a model that does not convert is left out
                    print(f"skip {path.name}: {type(exc).__name__}: {str(exc)[:200]}",
                          file=sys.stderr)
                    continue
                path.with_suffix(".partial").write_bytes(data)
                path.with_suffix(".partial").rename(path)
                print(f"wrote {path.name} ({len(data) / 1e6:.1f} MB)", flush=True)
            paths.append(path)
    return paths


def zoo_paths() -> list[Path]:
    return sorted(ZOO.glob("*.tflite"))


if __name__ == "__main__":
    build(sys.argv[1:] or None)
