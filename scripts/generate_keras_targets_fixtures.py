"""Record where the real tools run the ops of a few small Keras models, layer by layer.

    python scripts/generate_keras_targets_fixtures.py   # writes fixtures/keras_targets/

Each model's Keras config is written as ``NAME.json`` (tflint predicts from it; no weights
are needed) and converted with the installed TensorFlow as ``bench/bench_keras_targets.py``
converts (int8 full-integer for Ethos-U, TFLite Micro and the Edge TPU, float32 for the
GPU, the batch fixed to 1).  The truth is measured as that benchmark measures it (Vela,
the TFLite Micro interpreter on one-op cuts, the GPU Analyzer and the delegate's
largest-partition rule, tflint's ``.tflite`` prediction for the Edge TPU) and written to
``manifest.json``: per model and target, the ops of the conversion, the ops on the target,
the partitions, and the layers with ops off the target.  The int8 conversion of
``VELA_SAMPLE`` is kept, for ``tests/test_keras_targets.py`` to compile it again with Vela.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "fixtures" / "keras_targets"
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "scripts"))

import bench_keras_targets as bench  # noqa: E402

VELA_SAMPLE = "cnn_elu"


def models(keras: Any) -> dict[str, Callable[[], Any]]:
    layers = keras.layers

    def cnn_elu() -> Any:
        inputs = keras.Input((32, 32, 3), name="image")
        x = layers.Conv2D(8, 3, strides=2, padding="same", name="stem")(inputs)
        x = layers.BatchNormalization(name="stem_bn")(x)
        x = layers.Activation("elu", name="stem_elu")(x)
        x = layers.ZeroPadding2D(((0, 1), (0, 1)), name="dw_pad")(x)
        x = layers.DepthwiseConv2D(3, strides=2, activation="relu", name="dw")(x)
        x = layers.SeparableConv2D(12, 3, strides=2, padding="same", name="sep")(x)
        x = layers.Cropping2D(((1, 0), (1, 0)), name="crop")(x)
        x = layers.ZeroPadding2D(((0, 1), (0, 1)), name="pad")(x)
        x = layers.Conv2D(8, 1, activation="relu6", name="project")(x)
        x = layers.GlobalAveragePooling2D(name="gap")(x)
        return keras.Model(inputs, layers.Dense(4, activation="softmax", name="out")(x),
                           name="cnn_elu")

    def squeeze_excite() -> Any:
        inputs = keras.Input((16, 16, 3), name="image")
        x = layers.Conv2D(8, 3, padding="same", name="stem")(inputs)
        x = layers.Activation("hard_swish", name="stem_hs")(x)
        x = layers.DepthwiseConv2D(3, padding="same", name="dw")(x)
        x = layers.Activation("swish", name="dw_swish")(x)
        s = layers.GlobalAveragePooling2D(name="se_pool")(x)
        s = layers.Reshape((1, 1, 8), name="se_shape")(s)
        s = layers.Conv2D(4, 1, activation="swish", name="se_reduce")(s)
        s = layers.Conv2D(8, 1, activation="hard_sigmoid", name="se_expand")(s)
        x = layers.Multiply(name="se_scale")([x, s])
        x = layers.UpSampling2D(interpolation="bilinear", name="up")(x)
        x = layers.Conv2D(1, 1, activation="sigmoid", name="mask")(x)
        return keras.Model(inputs, x, name="squeeze_excite")

    def sequence_attention() -> Any:
        inputs = keras.Input((8, 16), name="tokens")
        x = layers.Dense(16, activation="gelu", name="embed")(inputs)
        x = layers.LayerNormalization(name="ln")(x)
        a = layers.MultiHeadAttention(2, 8, name="mha")(x, x)
        x = layers.Add(name="res")([x, a])
        x = layers.Attention(name="dot")([x, x])
        x = layers.GlobalAveragePooling1D(name="pool")(x)
        return keras.Model(inputs, layers.Dense(3, name="out")(x), name="sequence_attention")

    def audio_conv1d() -> Any:
        inputs = keras.Input((32, 4), name="audio")
        x = layers.Conv1D(8, 5, strides=2, activation="relu", name="c1")(inputs)
        x = layers.MaxPooling1D(name="pool1")(x)
        x = layers.Conv1D(8, 3, padding="same", activation="tanh", name="c2")(x)
        x = layers.UpSampling1D(name="up")(x)
        x = layers.GlobalMaxPooling1D(name="gmp")(x)
        return keras.Model(inputs, layers.Dense(2, name="out")(x), name="audio_conv1d")

    def hard_sigmoid_head() -> Any:
        # MobileNetV3's hard sigmoid, written with operators on a 1x1 feature map.
        inputs = keras.Input((8, 8, 3), name="image")
        x = layers.Conv2D(8, 3, strides=8, padding="same", name="squash")(inputs)
        x = layers.ReLU(6.0, name="relu6")(x + 3.0) * (1.0 / 6.0)
        x = layers.GlobalAveragePooling2D(keepdims=True, name="gap")(x)
        x = layers.Conv2D(4, 1, name="head")(x)
        return keras.Model(inputs, layers.Flatten(name="flat")(x), name="hard_sigmoid_head")

    return {"cnn_elu": cnn_elu, "squeeze_excite": squeeze_excite,
            "sequence_attention": sequence_attention, "audio_conv1d": audio_conv1d,
            "hard_sigmoid_head": hard_sigmoid_head}


def main() -> int:
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import keras

    from tflint.loaders import load

    OUT.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {
        "description": "Where the real tools run the ops of each model's conversion, per "
                       "target, with the layers that have ops off it; written by "
                       "scripts/generate_keras_targets_fixtures.py",
        "versions": bench.versions(),
        "models": {},
    }
    with tempfile.TemporaryDirectory() as folder:
        built: dict[str, Path] = {}
        for name, build in models(keras).items():
            keras.utils.set_random_seed(bench.SEED)
            model = build()
            config = OUT / f"{name}.json"
            config.write_text(json.dumps(json.loads(model.to_json()), indent=1) + "\n")
            for conversion in ("int8", "float32"):
                path = Path(folder, f"{name}_{conversion}.tflite")
                path.write_bytes(bench.convert_model(model, conversion))
            built[name] = config
            if name == VELA_SAMPLE:
                (OUT / f"{name}_int8.tflite").write_bytes(
                    Path(folder, f"{name}_int8.tflite").read_bytes())
        jobs = {t: [Path(folder, f"{n}_{bench.CONVERSION[t]}.tflite") for n in built]
                for t in bench.TARGETS}
        truths = bench.measure_truth(jobs)
        for name, config in built.items():
            graph = load(str(config))
            entry: dict[str, Any] = {"file": config.name, "targets": {}}
            for target in bench.TARGETS:
                tflite = Path(folder, f"{name}_{bench.CONVERSION[target]}.tflite")
                truth = truths[(target, tflite.name)]
                _, _, _, _, prediction = bench.predicted_off(graph, target)
                layers = bench.op_layers(tflite, graph, bench.built_ops(prediction))
                off_ops: dict[str, list[str]] = {}
                for index, off in enumerate(truth["off"]):
                    if off:
                        layer = layers[index] or "(no layer)"
                        off_ops.setdefault(layer, []).append(bench.op_type(tflite, index))
                entry["targets"][target] = {
                    "ops": len(truth["off"]),
                    "on_target": truth["off"].count(False),
                    "partitions": truth.get("partitions"),
                    "off_layers": sorted(off_ops),
                    "off_ops": off_ops,
                }
            manifest["models"][name] = entry
            print(f"{name}: " + "; ".join(
                f"{t}: {v['on_target']}/{v['ops']} on, off {v['off_layers']}"
                for t, v in entry["targets"].items()))
    manifest["tensorflow"] = version("tensorflow")
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
