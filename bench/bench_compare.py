"""What ``tflint compare`` measures, and how well its ranking points at the layer to keep float.

Prints, dated, over a zoo of keras.applications families (weights=None, small
inputs) and a few small models of our own:

(a) float32 conversions: max abs error / max abs Keras output, per model (target <= 1e-4);
    dynamic-range, float16 and int8 output SNR for reference;
(b) int8: for each model, the top-K ops of each ranking re-quantized with that op kept
    in float (the same calibration); the share of models whose rank-1 op is the one
    whose float-keeping reduces the output error (RMSE) most among the ranking's top K
    (target >= 80%), for the ranking ``compare`` uses and the alternatives;
(c) wall time of ``tflint compare`` (the CLI, timing included) on EfficientNetB0
    (5.3 M parameters, 224x224), float32 and int8 (target < 60 s).

Run: python bench/bench_compare.py [--quick]   (models cached in bench/.cache/compare)
"""

from __future__ import annotations

import datetime
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache" / "compare"
TOP_K = 5
RANKINGS = ("removable_rmse", "own_rmse", "added_rmse", "relative_rmse")


def build_zoo(quick: bool) -> dict[str, Path]:
    """The zoo's .keras files (built once, seeded)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np

    CACHE.mkdir(parents=True, exist_ok=True)
    apps = keras.applications
    makers: dict[str, Any] = {
        "mobilenet_v2_a035_96": lambda: apps.MobileNetV2(
            input_shape=(96, 96, 3), alpha=0.35, weights=None, classifier_activation=None),
        "mobilenet_v3_small_96": lambda: apps.MobileNetV3Small(
            input_shape=(96, 96, 3), weights=None, classifier_activation=None),
        "efficientnet_b0_96": lambda: apps.EfficientNetB0(
            input_shape=(96, 96, 3), weights=None, classifier_activation=None),
        "resnet50_64": lambda: apps.ResNet50(
            input_shape=(64, 64, 3), weights=None, classifier_activation=None),
        "small_cnn": lambda: _small_cnn(keras),
        "mlp": lambda: _mlp(keras),
        "cnn_with_outlier": lambda: _outlier_cnn(keras, np),
    }
    if quick:
        makers = {k: v for k, v in makers.items()
                  if k in ("mobilenet_v2_a035_96", "small_cnn", "mlp", "cnn_with_outlier")}
    paths = {}
    for name, make in makers.items():
        path = CACHE / f"{name}.keras"
        if not path.exists():
            keras.utils.set_random_seed(0)
            model = make()
            _settle_batch_norms(keras, np, model)
            model.save(path)
        paths[name] = path
    return paths


def _settle_batch_norms(keras: Any, np: Any, model: Any) -> None:
    """Moving statistics from one pass over random data, as training would leave them:
    with weights=None they are 0 and 1, and deep models' activations vanish."""
    norms = [layer for layer in _leaves(model)
             if isinstance(layer, keras.layers.BatchNormalization)]
    if not norms:
        return
    for layer in norms:
        layer.momentum = 0.0
    shape = (16, *model.inputs[0].shape[1:])
    model(np.random.default_rng(1).uniform(-1, 1, shape).astype("float32"), training=True)
    for layer in norms:
        layer.momentum = 0.99


def _leaves(layer: Any) -> list[Any]:
    inner = getattr(layer, "layers", None) or []
    return [leaf for sub in inner for leaf in _leaves(sub)] if inner else [layer]


def _small_cnn(keras: Any) -> Any:
    layers = keras.layers
    inputs = keras.Input((32, 32, 3), name="image")
    x = layers.Conv2D(16, 3, activation="relu", name="conv1")(inputs)
    x = layers.DepthwiseConv2D(3, activation="relu", name="dw1")(x)
    x = layers.Conv2D(32, 1, name="pw1")(x)
    x = layers.BatchNormalization(name="bn1")(x)
    x = layers.ReLU(name="relu1")(x)
    x = layers.MaxPooling2D(name="pool1")(x)
    x = layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(10, name="logits")(x)
    return keras.Model(inputs, outputs, name="small_cnn")


def _mlp(keras: Any) -> Any:
    layers = keras.layers
    inputs = keras.Input((64,), name="features")
    x = layers.Dense(128, activation="relu", name="fc1")(inputs)
    x = layers.Dense(64, activation="tanh", name="fc2")(x)
    x = layers.Dense(32, activation="relu", name="fc3")(x)
    outputs = layers.Dense(4, name="out")(x)
    return keras.Model(inputs, outputs, name="mlp")


def _outlier_cnn(keras: Any, np: Any) -> Any:
    """conv2 reads a channel that is always 0 with huge weights: its weight scale is
    ruined for every other weight, while its activations stay in range."""
    layers = keras.layers
    inputs = keras.Input((24, 24, 3), name="image")
    x = layers.Conv2D(8, 3, activation="relu", name="conv1")(inputs)
    x = layers.Conv2D(8, 3, activation="relu", name="conv2")(x)
    x = layers.Conv2D(8, 3, activation="relu", name="conv3")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(4, name="head")(x)
    model = keras.Model(inputs, outputs, name="cnn_with_outlier")
    kernel, bias = model.get_layer("conv1").get_weights()
    kernel[..., 7], bias[7] = 0.0, -1.0
    model.get_layer("conv1").set_weights([kernel, bias])
    kernel, bias = model.get_layer("conv2").get_weights()
    kernel[:, :, 7, :] = 200.0
    model.get_layer("conv2").set_weights([kernel, bias])
    return model


def _worst_relative(result: dict[str, Any]) -> float:
    return max(o["max_abs_error"] / s if s else o["max_abs_error"]
               for o, s in zip(result["outputs"], result["output_scale"], strict=True))


def _rmse(errors: list[dict[str, Any]]) -> float:
    return math.sqrt(sum(o["rmse"] ** 2 for o in errors))


def measure_model(name: str, path: Path) -> dict[str, Any]:
    from tflint.compare_child import analyse
    from tflint.compare_metrics import rank_layers

    row: dict[str, Any] = {"model": name}
    started = time.perf_counter()
    for mode in ("none", "dynamic", "float16"):
        with tempfile.TemporaryDirectory() as work:
            result = analyse(str(path), None, work, {
                "quantize": mode, "batch_size": 1, "samples": 4, "candidates": 0,
                "layer_errors": False})
        row[mode] = {"relative_error": _worst_relative(result),
                     "snr_db": min(o["snr_db"] for o in result["outputs"])}
    with tempfile.TemporaryDirectory() as work:
        result = analyse(str(path), None, work, {
            "quantize": "int8", "batch_size": 1, "samples": 4, "candidates": 0,
            "keep_calibrated": True})
        row["int8"] = {"relative_error": _worst_relative(result),
                       "snr_db": min(o["snr_db"] for o in result["outputs"])}
        calibrated = Path(work, "calibrated.tflite").read_bytes()
        base_rmse = _rmse(result["outputs"])
        pool: dict[str, float] = {}
        for key in RANKINGS:
            for layer in rank_layers(result["layers"], key)[:TOP_K]:
                if layer["tensor"] not in pool:
                    pool[layer["tensor"]] = _kept_float_rmse(
                        work, calibrated, layer["tensor"])
        row["ops"] = len(result["layers"])
        row["rankings"] = {}
        for key in RANKINGS:
            top = rank_layers(result["layers"], key)[:TOP_K]
            gains = [base_rmse - pool[layer["tensor"]] for layer in top]
            best = max(range(len(top)), key=lambda i: gains[i])
            row["rankings"][key] = {
                "rank1": ",".join(top[0]["layers"]) or top[0]["tensor"],
                "best": ",".join(top[best]["layers"]) or top[best]["tensor"],
                "ok": best == 0 or math.isclose(gains[0], gains[best], rel_tol=1e-6),
                "gain_rank1": gains[0] / base_rmse if base_rmse else 0.0,
                "gain_best": gains[best] / base_rmse if base_rmse else 0.0}
    row["seconds"] = time.perf_counter() - started
    return row


def _kept_float_rmse(work: str, calibrated: bytes, tensor: str) -> float:
    """Output RMSE against Keras of the model re-quantized with one op kept float."""
    import pickle

    from tflint.compare_child import TfliteRunner, output_errors, quantize_calibrated

    with open(Path(work) / "inputs.pickle", "rb") as handle:
        batches = pickle.load(handle)
    with open(Path(work) / "reference.pickle", "rb") as handle:
        reference, names = pickle.load(handle)
    runner = TfliteRunner(content=quantize_calibrated(calibrated, "int8", [tensor]),
                          names=list(batches[0]))
    return _rmse(output_errors(reference, [runner.run(b) for b in batches], names))


def cli_time(path: Path, quantize: str) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tflint", "compare", str(path),
                           "--quantize", quantize], capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"tflint compare failed: {done.stderr.strip()}")
    return elapsed


def main() -> None:
    quick = "--quick" in sys.argv
    print(f"bench_compare, {datetime.datetime.now().isoformat(timespec='minutes')}, "
          f"{os.cpu_count()} cores")
    zoo = build_zoo(quick)
    rows = [measure_model(name, path) for name, path in zoo.items()]
    print("\n(a) output error against Keras, per conversion "
          "(max abs err / max |Keras output|; SNR dB)")
    print(f"{'model':<24}{'float32':>10}{'dynamic':>18}{'float16':>18}{'int8':>18}{'ops':>6}"
          f"{'s':>6}")
    for row in rows:
        cells = [f"{row['none']['relative_error']:.1e}"]
        for mode in ("dynamic", "float16", "int8"):
            cells.append(f"{row[mode]['relative_error']:.1e} {row[mode]['snr_db']:5.1f}dB")
        print(f"{row['model']:<24}{cells[0]:>10}{cells[1]:>18}{cells[2]:>18}{cells[3]:>18}"
              f"{row['ops']:>6}{row['seconds']:>6.0f}")
    within = sum(row["none"]["relative_error"] <= 1e-4 for row in rows)
    print(f"float32 within 1e-4: {within}/{len(rows)}")
    print(f"\n(b) int8: rank 1 is the op whose float-keeping helps most among the top {TOP_K}")
    for key in RANKINGS:
        hits = sum(row["rankings"][key]["ok"] for row in rows)
        print(f"  ranking by {key:<16} {hits}/{len(rows)} = {100 * hits / len(rows):.0f}%"
              + ("   <- compare's ranking" if key == RANKINGS[0] else ""))
    print(f"  per model ({RANKINGS[0]}): rank 1 / best (output RMSE removed by rank 1, by best)")
    for row in rows:
        r = row["rankings"][RANKINGS[0]]
        print(f"    {row['model']:<24} {r['rank1'][:28]:<30}{r['best'][:28]:<30}"
              f"{100 * r['gain_rank1']:6.1f}% {100 * r['gain_best']:6.1f}%")
    if not quick:
        import keras

        path = CACHE / "efficientnet_b0_224.keras"
        if not path.exists():
            keras.utils.set_random_seed(0)
            keras.applications.EfficientNetB0(
                weights=None, classifier_activation=None).save(path)
        print("\n(c) wall time of 'tflint compare' on EfficientNetB0 (5.3 M parameters, 224x224)")
        for quantize in ("none", "int8"):
            print(f"  --quantize {quantize}: {cli_time(path, quantize):.1f} s")


if __name__ == "__main__":
    main()
