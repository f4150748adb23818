"""What ``tflint compare`` measures, and how well its ranking points at the layer to keep float.

Prints, dated, over a zoo of keras.applications families (small inputs) and small models
of our own, each trained for two epochs on seeded synthetic data (see ``synthetic``):

(a) float32 conversions: max abs error / max abs Keras output, per model (target <= 1e-4);
    dynamic-range, float16 and int8 output SNR for reference;
(b) int8: for each model, the top-K ops of each ranking re-quantized with that op kept
    in float (the same calibration) and measured on held-out inputs; the share of models
    whose rank-1 op is the one whose float-keeping reduces the output error (RMSE) most
    among the ranking's top K (target >= 80%), for compare's ranking (screening by each
    op's own error, then the top 6 ordered by their measured effect on the outputs) and
    for the heuristics alone; whether compare's rank 1 is the best of every op measured;
    the ceiling finite samples leave (the op best on compare's inputs is the best on the
    judged ones); and the figure on the models where one op dominates the error;
(c) wall time of ``tflint compare`` (the CLI, timing included) on EfficientNetB0
    (5.3 M parameters, 224x224), float32 and int8 (target < 60 s).

Run: python bench/bench_compare.py [--quick]
(models and data cached in bench/.cache/compare_trained)
"""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache" / "compare_trained"
TOP_K = 5
#: Output RMSE shares closer than this (one point) count as a tie in the second figure of (b).
TIE = 0.01
RANKINGS = ("removable_rmse", "own_rmse", "relative_rmse")
#: A model where keeping the best op float removes less than this share of the output RMSE
#: has no layer to point at: its figure in (b) is the noise of the samples.
DOMINANT = 0.05
CLASSES = 4
#: Synthetic samples: trained on, calibrated on, ranked on (compare's inputs), judged on.
TRAIN, CALIBRATION, RANKED, JUDGED = 384, 128, 256, 256
EPOCHS = 2


def synthetic(shape: tuple[int, ...], count: int, seed: int) -> tuple[Any, Any]:
    """Learnable data of one seeded rule, in [-1, 1].  Images: noise plus a bright patch in
    the quadrant (and colour) of the class.  Vectors and sequences: the class is the
    argmax of a fixed random projection (of the sequence's mean)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, count)
    data = rng.uniform(-0.5, 0.5, (count, *shape)).astype("float32")
    if len(shape) == 3:
        height, width = shape[0] // 2, shape[1] // 2
        for sample, label in zip(data, labels, strict=True):
            top, left = (label // 2) * height, (label % 2) * width
            sample[top:top + height, left:left + width, label % shape[2]] += 0.5
        return data.clip(-1, 1), labels
    projection = np.random.default_rng(1234).normal(size=(shape[-1], CLASSES))
    features = data if len(shape) == 1 else data.mean(axis=1)
    return data, np.argmax(features @ projection, axis=1)


def build_zoo(quick: bool) -> dict[str, Path]:
    """The zoo's .keras files: built once, seeded, trained briefly on synthetic data."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    CACHE.mkdir(parents=True, exist_ok=True)
    apps = keras.applications
    makers: dict[str, Any] = {
        "mobilenet_v2_a035_96": lambda: apps.MobileNetV2(
            input_shape=(96, 96, 3), alpha=0.35, weights=None, classes=CLASSES,
            classifier_activation=None),
        "mobilenet_v3_small_96": lambda: apps.MobileNetV3Small(
            input_shape=(96, 96, 3), weights=None, classes=CLASSES, classifier_activation=None),
        "efficientnet_b0_96": lambda: apps.EfficientNetB0(
            input_shape=(96, 96, 3), weights=None, classes=CLASSES, classifier_activation=None),
        "resnet50_64": lambda: apps.ResNet50(
            input_shape=(64, 64, 3), weights=None, classes=CLASSES, classifier_activation=None),
        "small_cnn": lambda: _small_cnn(keras),
        "separable_cnn": lambda: _separable_cnn(keras),
        "mlp": lambda: _mlp(keras),
        "residual_mlp": lambda: _residual_mlp(keras),
        "attention": lambda: _attention(keras),
        "cnn_with_outlier": lambda: _outlier_cnn(keras),
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
            shape = tuple(model.inputs[0].shape[1:])
            data, labels = synthetic(shape, TRAIN, seed=10)
            model.compile(optimizer=keras.optimizers.Adam(1e-3),
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                          metrics=["accuracy"])
            history = model.fit(data, labels, batch_size=32, epochs=EPOCHS, verbose=0)
            _settle_batch_norms(keras, model, data[:64])
            if name == "cnn_with_outlier":
                _break_conv2(model)
            judged, truth = synthetic(shape, 128, seed=13)
            accuracy = float((model.predict(judged, verbose=0).argmax(-1) == truth).mean())
            print(f"  trained {name}: loss {history.history['loss'][-1]:.2f}, accuracy on "
                  f"held-apart data {accuracy:.2f}")
            model.save(path)
        paths[name] = path
    return paths


def data_files(name: str, path: Path) -> dict[str, Path]:
    """Held-apart synthetic data for one model: calibration (.npy, seed 11), compare's
    inputs (.npz, seed 12), and the judged inputs (.npz, seed 13)."""
    import keras
    import numpy as np

    files = {"calibration": CACHE / f"{name}.calibration.npy",
             "ranked": CACHE / f"{name}.ranked.npz", "judged": CACHE / f"{name}.judged.npz"}
    if all(f.exists() for f in files.values()):
        return files
    model = keras.saving.load_model(path, compile=False)
    shape = tuple(model.inputs[0].shape[1:])
    input_name = model.inputs[0].name.split(":")[0]
    np.save(files["calibration"], synthetic(shape, CALIBRATION, seed=11)[0])
    np.savez(files["ranked"], **{input_name: synthetic(shape, RANKED, seed=12)[0][:, None]})
    np.savez(files["judged"], **{input_name: synthetic(shape, JUDGED, seed=13)[0][:, None]})
    return files


def _settle_batch_norms(keras: Any, model: Any, data: Any) -> None:
    """Moving statistics from one pass over training data: two short epochs leave them
    near their initial 0 and 1."""
    norms = [layer for layer in _leaves(model)
             if isinstance(layer, keras.layers.BatchNormalization)]
    if not norms:
        return
    for layer in norms:
        layer.momentum = 0.0
    model(data, training=True)
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
    outputs = layers.Dense(CLASSES, name="logits")(x)
    return keras.Model(inputs, outputs, name="small_cnn")


def _separable_cnn(keras: Any) -> Any:
    layers = keras.layers
    inputs = keras.Input((32, 32, 3), name="image")
    x = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu6", name="stem")(inputs)
    x = layers.SeparableConv2D(32, 3, padding="same", activation="relu6", name="sep1")(x)
    x = layers.SeparableConv2D(32, 3, strides=2, padding="same", name="sep2")(x)
    x = layers.BatchNormalization(name="bn2")(x)
    x = layers.Activation("hard_swish", name="hswish")(x)
    x = layers.SeparableConv2D(64, 3, padding="same", activation="relu", name="sep3")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(CLASSES, name="logits")(x)
    return keras.Model(inputs, outputs, name="separable_cnn")


def _mlp(keras: Any) -> Any:
    layers = keras.layers
    inputs = keras.Input((64,), name="features")
    x = layers.Dense(128, activation="relu", name="fc1")(inputs)
    x = layers.Dense(64, activation="tanh", name="fc2")(x)
    x = layers.Dense(32, activation="relu", name="fc3")(x)
    outputs = layers.Dense(CLASSES, name="out")(x)
    return keras.Model(inputs, outputs, name="mlp")


def _residual_mlp(keras: Any) -> Any:
    layers = keras.layers
    inputs = keras.Input((64,), name="features")
    x = layers.Dense(96, name="embed")(inputs)
    for block in range(3):
        y = layers.LayerNormalization(name=f"norm{block}")(x)
        y = layers.Dense(192, activation="gelu", name=f"up{block}")(y)
        y = layers.Dense(96, name=f"down{block}")(y)
        x = layers.Add(name=f"residual{block}")([x, y])
    outputs = layers.Dense(CLASSES, name="out")(x)
    return keras.Model(inputs, outputs, name="residual_mlp")


def _attention(keras: Any) -> Any:
    layers = keras.layers
    inputs = keras.Input((16, 32), name="tokens")
    x = layers.Dense(48, name="embed")(inputs)
    y = layers.MultiHeadAttention(num_heads=4, key_dim=12, name="attention")(x, x)
    x = layers.Add(name="residual1")([x, y])
    x = layers.LayerNormalization(name="norm1")(x)
    y = layers.Dense(96, activation="relu", name="ffn_up")(x)
    y = layers.Dense(48, name="ffn_down")(y)
    x = layers.Add(name="residual2")([x, y])
    x = layers.GlobalAveragePooling1D(name="pool")(x)
    outputs = layers.Dense(CLASSES, name="out")(x)
    return keras.Model(inputs, outputs, name="attention")


def _outlier_cnn(keras: Any) -> Any:
    layers = keras.layers
    inputs = keras.Input((24, 24, 3), name="image")
    x = layers.Conv2D(8, 3, activation="relu", name="conv1")(inputs)
    x = layers.Conv2D(8, 3, activation="relu", name="conv2")(x)
    x = layers.Conv2D(8, 3, activation="relu", name="conv3")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(CLASSES, name="head")(x)
    return keras.Model(inputs, outputs, name="cnn_with_outlier")


def _break_conv2(model: Any) -> None:
    """conv2 reads a channel that is always 0 with huge weights: its weight scale is
    ruined for every other weight, while its activations stay in range."""
    kernel, bias = model.get_layer("conv1").get_weights()
    kernel[..., 7], bias[7] = 0.0, -1.0
    model.get_layer("conv1").set_weights([kernel, bias])
    kernel, bias = model.get_layer("conv2").get_weights()
    kernel[:, :, 7, :] = 200.0
    model.get_layer("conv2").set_weights([kernel, bias])


def _worst_relative(result: dict[str, Any]) -> float:
    return max(o["max_abs_error"] / s if s else o["max_abs_error"]
               for o, s in zip(result["outputs"], result["output_scale"], strict=True))


def measure_model(name: str, path: Path) -> dict[str, Any]:
    from tflint.compare_child import analyse
    from tflint.compare_metrics import rank_layers

    row: dict[str, Any] = {"model": name}
    files = data_files(name, path)
    started = time.perf_counter()
    for mode in ("none", "dynamic", "float16"):
        with tempfile.TemporaryDirectory() as work:
            result = analyse(str(path), None, work, {
                "quantize": mode, "batch_size": 1, "candidates": 0,
                "inputs": str(files["ranked"]), "layer_errors": False})
        row[mode] = {"relative_error": _worst_relative(result),
                     "snr_db": min(o["snr_db"] for o in result["outputs"])}
    with tempfile.TemporaryDirectory() as work:
        result = analyse(str(path), None, work, {
            "quantize": "int8", "batch_size": 1, "candidates": 0, "keep_calibrated": True,
            "representative_data": str(files["calibration"]), "inputs": str(files["ranked"])})
        row["int8"] = {"relative_error": _worst_relative(result),
                       "snr_db": min(o["snr_db"] for o in result["outputs"])}
        final = list(result["layers"])  # compare's ranking, before re-sorting below
        held_out = HeldOut(path, Path(work, "calibrated.tflite").read_bytes(), files["judged"])
        base = held_out.rmse(Path(work, "model.tflite").read_bytes())
        tops = {key: [r["tensor"] for r in rank_layers(list(final), key)[:TOP_K]]
                for key in RANKINGS}
        tops["compare"] = [r["tensor"] for r in final[:TOP_K]]
        labels = {r["tensor"]: ",".join(r["layers"]) or r["tensor"] for r in final}
        pool = list(dict.fromkeys(t for top in tops.values() for t in top))
        gains = {tensor: (base - held_out.rmse_kept(tensor)) / base if base else 0.0
                 for tensor in pool}
        # The ceiling the noise of finite samples leaves: every op of the pool measured on
        # compare's own inputs, the best of those judged on the held-apart ones.
        seen = HeldOut(path, Path(work, "calibrated.tflite").read_bytes(), files["ranked"])
        seen_base = seen.rmse(Path(work, "model.tflite").read_bytes())
        seen_gains = {tensor: (seen_base - seen.rmse_kept(tensor)) / seen_base
                      if seen_base else 0.0 for tensor in pool}
    row["ops"] = len(final)
    row["rankings"] = {}
    for key, top in tops.items():
        best = max(top, key=lambda tensor: gains[tensor])
        row["rankings"][key] = {
            "rank1": labels[top[0]], "best": labels[best],
            "ok": gains[top[0]] >= gains[best] - 1e-9,
            "ok_within_point": gains[top[0]] >= gains[best] - TIE,
            "gain_rank1": gains[top[0]], "gain_best": gains[best]}
    pool_best = max(gains, key=lambda tensor: gains[tensor])
    seen_best = max(seen_gains, key=lambda tensor: seen_gains[tensor])
    row["pool"] = {"size": len(gains), "best": labels[pool_best], "gain_best": gains[pool_best],
                   "ok": gains[tops["compare"][0]] >= gains[pool_best] - 1e-9,
                   "ok_within_point": gains[tops["compare"][0]] >= gains[pool_best] - TIE,
                   "ceiling": gains[seen_best] >= gains[pool_best] - 1e-9,
                   "ceiling_within_point": gains[seen_best] >= gains[pool_best] - TIE}
    row["seconds"] = time.perf_counter() - started
    return row


class HeldOut:
    """Output RMSE against Keras on inputs neither calibration nor compare saw."""

    def __init__(self, path: Path, calibrated: bytes, judged: Path) -> None:
        from tflint.compare_child import (
            _quiet_imports,
            input_specs,
            keras_runner,
            load_keras,
            output_layers,
            read_inputs,
        )

        keras, tf = _quiet_imports()
        model = load_keras(keras, str(path), 1)
        self.batches = read_inputs(str(judged), input_specs(model))
        run = keras_runner(tf, model)
        self.reference = [run(b) for b in self.batches]
        self.names = output_layers(model)
        self.calibrated = calibrated

    def rmse(self, content: bytes) -> float:
        from tflint.compare_child import TfliteRunner, output_errors
        from tflint.compare_metrics import output_rmse

        runner = TfliteRunner(content=content, names=list(self.batches[0]))
        return output_rmse(output_errors(self.reference, [runner.run(b) for b in self.batches],
                                         self.names))

    def rmse_kept(self, tensor: str) -> float:
        from tflint.compare_child import quantize_calibrated

        return self.rmse(quantize_calibrated(self.calibrated, "int8", [tensor]))


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
    print(f"\n(b) int8: rank 1 is the op whose float-keeping removes the most output RMSE "
          f"among the ranking's top {TOP_K} (calibrated, ranked and judged on three\n"
          "    held-apart sets of the synthetic data the models were trained on)")
    print(f"  {'':<80} exact   within {100 * TIE:.0f} point of the best")
    for key in ("compare", *RANKINGS):
        hits = sum(row["rankings"][key]["ok"] for row in rows)
        near = sum(row["rankings"][key]["ok_within_point"] for row in rows)
        what = ("compare's ranking: own error screening, top 6 ordered by the measured "
                "output effect" if key == "compare" else f"{key} alone")
        print(f"  {what:<80} {hits}/{len(rows)} = {100 * hits / len(rows):3.0f}%   "
              f"{near}/{len(rows)} = {100 * near / len(rows):3.0f}%")
    def share(rows: list[dict[str, Any]], key: str) -> str:
        hits = sum(row["pool"][key] for row in rows)
        return f"{hits}/{len(rows)} = {100 * hits / len(rows) if rows else 0:3.0f}%"

    print(f"  compare's rank 1 is the best of every op measured (the union of all top {TOP_K}s):"
          f" {share(rows, 'ok')}, within 1 point {share(rows, 'ok_within_point')}")
    print(f"  ceiling: the op measured best on compare's inputs is the best on the held-apart "
          f"ones: {share(rows, 'ceiling')}, within 1 point {share(rows, 'ceiling_within_point')}")
    dominated = [row for row in rows if row["pool"]["gain_best"] >= DOMINANT]
    print(f"  models where one op's float-keeping removes >= {100 * DOMINANT:.0f}% of the output "
          f"RMSE: {len(dominated)}; compare's rank 1 is the best there: "
          f"{share(dominated, 'ok')}, within 1 point {share(dominated, 'ok_within_point')}")
    print("  per model: compare's rank 1 / best measured (output RMSE removed by each; ops in "
          "the pool)")
    for row in rows:
        r = row["rankings"]["compare"]
        print(f"    {row['model']:<24} {r['rank1'][:28]:<30}{row['pool']['best'][:28]:<30}"
              f"{100 * r['gain_rank1']:6.1f}% {100 * row['pool']['gain_best']:6.1f}% "
              f"({row['pool']['size']})")
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
