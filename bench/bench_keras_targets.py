"""How well tflint predicts, from a Keras file before conversion, where each layer's ops run on
Ethos-U, TFLite Micro, the Edge TPU and mobile GPUs, against the real tools on the real
conversion.

Usage::

    python bench/bench_keras_targets.py [--models a,b] [--details]

1. Takes Keras models from ``bench/.cache/keras_zoo`` (built by
   ``bench/bench_keras_prediction.py``; a model not built yet is built with its builders)
   and converts each, in a child process with the installed TensorFlow, as the prediction
   assumes: full-integer int8 with int8 input and output, the batch fixed to 1 and seeded
   random representative data (Ethos-U, TFLite Micro, Edge TPU), and float32 with the batch
   fixed to 1 (GPU).  Conversions are cached in ``bench/.cache/keras_targets/``, and so is
   every tool's verdict (keyed by the file's size and time).
2. The truth per target: Vela 5.2.0's per-op placement (``ethos-u55-128``,
   ``ethos-u85-256``); the TFLite Micro interpreter on one-op cuts of the model (an op is off
   the target when its cut fails to prepare or invoke); TensorFlow 2.17.1's GPU Analyzer
   flags, then the delegate's rule that only the largest partition is delegated, applied to
   the unflagged ops with tflint's partitioner; for the Edge TPU there is no compiler here,
   so the truth is tflint's own ``.tflite`` prediction on the real conversion (checked exact
   on Coral's compiled pairs elsewhere).
3. Every ``.tflite`` op is mapped to its Keras layer by the tensor names the converter
   writes (a fused op to the named layer the prediction gives that op type; an op no name
   attributes, by its position between mapped ops); a layer is off the target when any of
   its ops is.  Printed per target: layer precision and recall of "this layer has ops off
   the target" (precision also over the layers to which some op of the conversion is
   attributed: a layer predicted off with no op attributed cannot be checked), ops on the
   target (predicted vs truth, summed and per model exact) and accelerator partitions per
   model (exact; TFLite Micro has none).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_keras_prediction import CACHE as ZOO_CACHE  # noqa: E402
from bench_keras_prediction import SEED, layer_of  # noqa: E402

OUT = ROOT / "bench" / ".cache" / "keras_targets"
TARGETS = ("ethos-u55-128", "ethos-u85-256", "tflm", "edgetpu", "gpu")
CONVERSION = {"ethos-u55-128": "int8", "ethos-u85-256": "int8", "tflm": "int8",
              "edgetpu": "int8", "gpu": "float32"}
#: Own models (built here, saved in ``bench/.cache/keras_targets``): an embedding, Dense and
#: pooling on sequences, upsampling and resizing.
EXTRA_MODELS = ("embedding_conv", "sequence_mlp", "resize_head")
#: Keras 3 zoo models (their ``.keras`` files): the applications families the targets are
#: used with, and small models with Dense on rank 3, attention, pooling, recurrent layers,
#: Conv1D, upsampling and resizing, and an embedding.
MODELS = (
    "mobilenet_b1", "mobilenet_v2_b1", "mobilenet_v3_small_b1", "mobilenet_v3_large_b1",
    "efficientnet_b1", "resnet50_b1", "densenet_b1", "nasnet_mobile", "convnext_b1",
    "transformer_static", "attention_pool", "dense_ranks_b1", "pooling_ranks_b1",
    "lstm_static", "conv1d_audio", "seg_head_bilinear", "unet", "flatten_mlp", "text_bilstm",
    *EXTRA_MODELS,
)
#: Seconds one model's conversion may take (int8 calibration of some recurrent models
#: does not finish).
CONVERT_TIMEOUT = 300


def versions() -> str:
    found = []
    for package in ("tensorflow", "keras", "ethos-u-vela", "tflite-micro", "ai-edge-litert"):
        try:
            found.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            found.append(f"{package} not installed")
    return ", ".join(found) + "; GPU Analyzer: TensorFlow 2.17.1 (/work/venvs/tf217)"


# -- conversion (child process) -------------------------------------------------------------

def _convert_child(name: str) -> None:
    """Load (or build and save) zoo model ``name`` and write its two conversions."""
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    from generate_lowering_table import silenced

    with silenced():
        import keras
        import tensorflow as tf
    path = keras_file(name)
    keras.utils.set_random_seed(SEED)
    if name in EXTRA_MODELS and not path.exists():
        with silenced():
            model = extra_models(keras)[name]()
            model.save(str(path))
    elif path.exists():
        with silenced():
            model = keras.models.load_model(str(path), compile=False, safe_mode=False)
    else:
        from bench_keras_prediction import zoo_keras3

        with silenced():
            model = zoo_keras3(keras, tf)[name]()
            model.save(str(path))
    for conversion in ("float32", "int8"):
        target = OUT / f"{name}_{conversion}.tflite"
        if target.exists():
            continue
        try:
            data = convert_model(model, conversion)
        except Exception as exc:
            (OUT / f"{name}_{conversion}.error").write_text(
                str(exc).strip().splitlines()[-1][:300])
            continue
        target.write_bytes(data)


def keras_file(name: str) -> Path:
    return (OUT if name in EXTRA_MODELS else ZOO_CACHE) / f"{name}.keras"


def extra_models(keras: Any) -> dict[str, Any]:
    layers = keras.layers

    def embedding_conv() -> Any:
        inputs = keras.Input((16,), dtype="int32", name="tokens")
        x = layers.Embedding(50, 8, name="embed")(inputs)
        x = layers.Conv1D(8, 3, activation="relu", name="conv")(x)
        x = layers.GlobalAveragePooling1D(name="pool")(x)
        return keras.Model(inputs, layers.Dense(3, activation="softmax", name="out")(x),
                           name="embedding_conv")

    def sequence_mlp() -> Any:
        inputs = keras.Input((12, 6), name="sequence")
        x = layers.Dense(16, activation="relu", name="dense_r3")(inputs)
        x = layers.LayerNormalization(name="ln")(x)
        x = layers.AveragePooling1D(2, name="avg")(x)
        x = layers.Dense(8, activation="swish", name="dense_swish")(x)
        x = layers.MaxPooling1D(2, name="max")(x)
        x = layers.Flatten(name="flat")(x)
        return keras.Model(inputs, layers.Dense(4, name="out")(x), name="sequence_mlp")

    def resize_head() -> Any:
        inputs = keras.Input((16, 16, 3), name="image")
        x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="down")(inputs)
        x = layers.UpSampling2D(name="up_nearest")(x)
        x = layers.Resizing(24, 24, name="resize")(x)
        x = layers.Conv2DTranspose(4, 3, strides=2, padding="same", name="deconv")(x)
        return keras.Model(inputs, layers.Conv2D(2, 1, activation="sigmoid", name="mask")(x),
                           name="resize_head")

    return {"embedding_conv": embedding_conv, "sequence_mlp": sequence_mlp,
            "resize_head": resize_head}


def convert_model(model: Any, conversion: str) -> bytes:
    """``model`` converted as the prediction assumes: the batch fixed to 1; ``int8``:
    full-integer with int8 input and output and seeded random representative data."""
    import keras
    import numpy as np
    import tensorflow as tf
    from generate_int8_lowering import full_int8
    from generate_lowering_table import silenced

    if any(t.shape[0] is None for t in model.inputs):
        # The batch fixed to 1 as for a device: the same layers (names kept) on inputs of
        # batch 1, with the same weights.
        inputs = [keras.Input(batch_shape=(1, *t.shape[1:]), dtype=t.dtype) for t in model.inputs]
        fixed = keras.models.clone_model(
            model, input_tensors=inputs if len(inputs) > 1 else inputs[0])
        fixed.set_weights(model.get_weights())
        model = fixed
    shapes = [(1, *t.shape[1:]) for t in model.inputs]
    dtypes = [np.dtype(str(t.dtype)) for t in model.inputs]
    rng = np.random.default_rng(SEED)

    def samples() -> Any:  # random calibration data: the weights are random too
        for _ in range(4):
            yield [rng.integers(0, 20, shape).astype(dtype) if dtype.kind in "iu"
                   else rng.standard_normal(shape).astype(np.float32)
                   for shape, dtype in zip(shapes, dtypes, strict=True)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if conversion == "int8":
        full_int8(tf, converter, samples)
    with silenced():
        return bytes(converter.convert())


def convert_all(names: list[str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name in names:
        done = all((OUT / f"{name}_{c}.tflite").exists() or (OUT / f"{name}_{c}.error").exists()
                   for c in ("float32", "int8"))
        if done:
            continue
        print(f"  converting {name}...", file=sys.stderr, flush=True)
        try:
            code = subprocess.run([sys.executable, __file__, "--convert-child", name],
                                  timeout=CONVERT_TIMEOUT, check=False).returncode
            why = f"the converting process ended with code {code}"
        except subprocess.TimeoutExpired:
            why = f"conversion did not finish in {CONVERT_TIMEOUT} s"
        for conversion in ("float32", "int8"):
            done = OUT / f"{name}_{conversion}.tflite"
            if not done.exists() and not done.with_suffix(".error").exists():
                done.with_suffix(".error").write_text(why)


# -- truth (cached per file) -----------------------------------------------------------------

def _stamp(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}:{int(stat.st_mtime)}"


def truth_flags(jobs: dict[str, list[Path]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (target, file): ``off`` (per op of subgraph 0, True when off the target) and
    ``partitions``; or ``error``."""
    cache_path = OUT / "truth.json"
    cache: dict[str, Any] = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    results: dict[tuple[str, str], dict[str, Any]] = {}
    missing: dict[str, list[Path]] = {}
    for target, paths in jobs.items():
        for path in paths:
            key = f"{target}|{path.name}"
            entry = cache.get(key)
            # The Edge TPU truth is tflint's own .tflite prediction: always recomputed.
            if entry and entry.get("stamp") == _stamp(path) and target != "edgetpu":
                results[(target, path.name)] = entry
            else:
                missing.setdefault(target, []).append(path)
    computed = measure_truth(missing)
    for (target, name), entry in computed.items():
        path = next(p for p in missing[target] if p.name == name)
        entry["stamp"] = _stamp(path)
        cache[f"{target}|{name}"] = entry
        results[(target, name)] = entry
    cache_path.write_text(json.dumps(cache))
    return results


def measure_truth(jobs: dict[str, list[Path]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (target, file name): what the real tool did with each op (see the module doc)."""
    computed: dict[tuple[str, str], dict[str, Any]] = {}
    vela_jobs = [(p, t) for t in ("ethos-u55-128", "ethos-u85-256") for p in jobs.get(t, [])]
    if vela_jobs:
        from vela_runner import run_vela

        for (path, config), seen in run_vela(vela_jobs).items():
            if "error" in seen:
                computed[(config, path.name)] = {"error": seen["error"]}
                continue
            ops = [op for op in seen["ops"] if op["subgraph"] == 0]
            computed[(config, path.name)] = {"off": [not op["npu"] for op in ops],
                                             "partitions": seen["partitions"]}
    if jobs.get("tflm"):
        computed.update(_tflm_truth(jobs["tflm"]))
    if jobs.get("gpu"):
        computed.update(_gpu_truth(jobs["gpu"]))
    for path in jobs.get("edgetpu", []):
        computed[("edgetpu", path.name)] = _tflint_truth(path, "edgetpu")
    return computed


def _tflm_truth(paths: list[Path]) -> dict[tuple[str, str], dict[str, Any]]:
    import probe_tflm

    out: dict[tuple[str, str], dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as folder:
        cuts: dict[Path, list[tuple[int, Path]]] = {}
        for model in paths:
            cuts[model] = []
            for name, data in probe_tflm.cut_ops(model.read_bytes()):
                piece = Path(folder) / f"{model.stem}__{name}.tflite"
                piece.write_bytes(data)
                cuts[model].append((int(name[2:5]), piece))
        reports = probe_tflm.runtime_reports([p for v in cuts.values() for _, p in v])
        for model, pieces in cuts.items():
            count = _op_count(model)
            off = [False] * count
            for index, piece in pieces:
                off[index] = reports[piece]["status"] != "ok"
            out[("tflm", model.name)] = {"off": off, "partitions": None}
    return out


def _gpu_truth(paths: list[Path]) -> dict[tuple[str, str], dict[str, Any]]:
    """The Analyzer's flags, then only the largest partition of the unflagged ops kept (the
    delegate's default ``max_delegated_partitions = 1``), formed by tflint's partitioner."""
    import probe_gpu

    from tflint.analyses.delegation import subgraph_partitions
    from tflint.loaders.tflite import load_tflite

    out: dict[tuple[str, str], dict[str, Any]] = {}
    if not probe_gpu.checker_available():
        return out
    for path, report in probe_gpu.checker_reports(paths).items():
        if isinstance(report, str):
            out[("gpu", path.name)] = {"error": report}
            continue
        graph = load_tflite(str(path))
        nodes = [n for n in graph.nodes() if n.subgraph == 0]
        flagged = {nodes[o.index].id for o in report if o.subgraph == 0 and o.flagged}
        partitions = subgraph_partitions(graph, nodes, flagged)
        largest = set(max(partitions, key=len)) if partitions else set()
        out[("gpu", path.name)] = {"off": [n.id not in largest for n in nodes],
                                   "flagged": [n.id in flagged for n in nodes],
                                   "partitions": 1 if largest else 0}
    return out


def _tflint_truth(path: Path, target: str) -> dict[str, Any]:
    from tflint.analyses.delegation import predict_delegation
    from tflint.loaders.tflite import load_tflite

    graph = load_tflite(str(path))
    delegation = predict_delegation(graph, target)
    nodes = [n for n in graph.nodes() if n.subgraph == 0]
    return {"off": [n.id in delegation.cpu_reasons for n in nodes],
            "partitions": len(delegation.partitions.get(0, []))}


def _op_count(path: Path) -> int:
    from tflint.loaders.tflite import load_tflite

    return sum(1 for n in load_tflite(str(path)).nodes() if n.subgraph == 0)


# -- mapping and comparing -------------------------------------------------------------------

def op_layers(tflite: Path, keras_graph: Any,
              predicted_ops: dict[str, set[str]]) -> list[str | None]:
    """The Keras layer of every op of subgraph 0, from the tensor names.

    A fused op's name joins the names of the ops fused (``conv/convolution;act/Relu``):
    of the layers named, the one the prediction gives an op of this type is taken, else
    the first.  An op writing a model output that no name attributes belongs to the layer
    producing that output; other ops no name attributes are placed by position.
    """
    from tflint.loaders.tflite import load_tflite

    graph = load_tflite(str(tflite))
    names = {n.layer_name or n.name for n in keras_graph.nodes()}
    output_layers = []
    for tensor in keras_graph.outputs:
        producer = keras_graph.producer(tensor)
        output_layers.append(producer.layer_name or producer.name if producer else None)
    outputs = {t.id: i for i, t in enumerate(graph.outputs)}
    found: list[str | None] = []
    for node in graph.nodes():
        if node.subgraph != 0:
            continue
        candidates: list[str] = []
        for tensor in node.outputs:
            for part in tensor.name.split(";"):
                layer = layer_of(part, names, "keras3")
                if layer and layer not in candidates:
                    candidates.append(layer)
        layer = next((c for c in candidates if node.op_type in predicted_ops.get(c, ())),
                     candidates[0] if candidates else None)
        if layer is None:
            index = next((outputs[t.id] for t in node.outputs if t.id in outputs), None)
            if index is not None and index < len(output_layers):
                layer = output_layers[index]
        found.append(layer)
    return _by_position(graph, keras_graph, predicted_ops, found)


def _by_position(graph: Any, keras_graph: Any, predicted_ops: dict[str, set[str]],
                 found: list[str | None]) -> list[str | None]:
    """Ops no name attributes (``convolution19``, ``model/Add``), attributed by where they
    are: to the one layer that no name took, whose predicted ops include the op's type and
    that reads (through layers that become no op) the layer of an op feeding this one."""
    nodes = [n for n in graph.nodes() if n.subgraph == 0]
    named = {layer for layer in found if layer}
    layer_of_tensor = {t.id: found[i] for i, n in enumerate(nodes) for t in n.outputs}

    def sources(keras_node: Any, seen: frozenset[str] = frozenset()) -> set[str]:
        """The layers with ops whose output ``keras_node`` reads."""
        result: set[str] = set()
        for tensor in keras_node.inputs:
            producer = keras_graph.producer(tensor)
            if producer is None or producer.id in seen:
                continue
            name = producer.layer_name or producer.name
            if predicted_ops.get(name):
                result.add(name)
            else:
                result |= sources(producer, seen | {producer.id})
        return result

    layers = [n for n in keras_graph.nodes() if (n.layer_name or n.name) not in named]
    for i, node in enumerate(nodes):
        if found[i] is not None:
            continue
        feeding = {layer_of_tensor.get(t.id) for t in node.inputs if not t.is_constant}
        feeding.discard(None)
        if not feeding:
            continue
        fits = [n.layer_name or n.name for n in layers
                if node.op_type in predicted_ops.get(n.layer_name or n.name, ())
                and sources(n) & feeding]
        if len(fits) == 1:
            found[i] = fits[0]
            named.add(fits[0])
            layers = [n for n in layers if (n.layer_name or n.name) != fits[0]]
            for tensor in node.outputs:
                layer_of_tensor[tensor.id] = fits[0]
    return found


def built_ops(prediction: Any) -> dict[str, set[str]]:
    """Per layer, the op types the prediction built for the target's conversion."""
    built = prediction.built
    return {p.layer: {built.graph.node(i).op_type for i in built.ops_of_layer.get(p.node.id, [])}
            for p in prediction.layers}


@dataclass
class Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    models: int = 0
    on_predicted: int = 0
    on_real: int = 0
    on_exact: int = 0
    partitions_exact: int = 0
    unmapped_off: int = 0
    #: Layers predicted off to which the tensor names attribute no op of the conversion.
    unverifiable: int = 0
    rows: list[str] = field(default_factory=list)


def predicted_off(keras_graph: Any, target: str) -> tuple[set[str], int, int, int, Any]:
    """(layers with ops predicted off the target, ops, ops on it, partitions, prediction)."""
    from tflint.analyses import Analyses

    analyses = Analyses(keras_graph, (target,))
    prediction = analyses.keras_prediction(target)
    off = {p.layer for p in prediction.layers
           if any(r is not None for r in prediction.op_reasons.get(p.node.id, []))}
    return off, prediction.ops, prediction.delegated, prediction.partitions, prediction


def compare(names: list[str], truths: dict[tuple[str, str], dict[str, Any]],
            details: bool) -> dict[str, Tally]:
    from tflint.loaders import load

    tallies = {t: Tally() for t in TARGETS}
    for name in names:
        keras_path = keras_file(name)
        if not keras_path.exists():
            continue
        keras_graph = load(str(keras_path))
        for target in TARGETS:
            tflite = OUT / f"{name}_{CONVERSION[target]}.tflite"
            tally = tallies[target]
            truth = truths.get((target, tflite.name))
            if not tflite.exists() or truth is None or "error" in truth:
                why = (truth or {}).get("error") or _error_of(tflite)
                tally.rows.append(f"| {name} | not compared: {why} |")
                continue
            off, ops, delegated, partitions, prediction = predicted_off(keras_graph, target)
            layers = op_layers(tflite, keras_graph, built_ops(prediction))
            real_off: set[str] = set()
            ops_off = [i for i, off in enumerate(truth["off"]) if off]
            for i in ops_off:
                if layers[i] is None:
                    tally.unmapped_off += 1
                else:
                    real_off.add(layers[i])
            real_on = len(truth["off"]) - len(ops_off)
            tally.models += 1
            mapped = {layer for layer in layers if layer}
            tally.tp += len(off & real_off)
            tally.fp += len(off - real_off)
            tally.unverifiable += len((off - real_off) - mapped)
            tally.fn += len(real_off - off)
            tally.on_predicted += delegated
            tally.on_real += real_on
            tally.on_exact += delegated == real_on
            real_partitions = truth.get("partitions")
            tally.partitions_exact += partitions == real_partitions
            tally.rows.append(
                f"| {name} | {ops}/{len(truth['off'])} | {delegated}/{real_on} | "
                f"{partitions}/{real_partitions} | {', '.join(sorted(off - real_off)) or '-'} | "
                f"{', '.join(sorted(real_off - off)) or '-'} |")
            if details and (off ^ real_off):
                print(f"## {target} {name}")
                for p in prediction.layers:
                    if p.layer in off ^ real_off:
                        reasons = prediction.op_reasons.get(p.node.id, [])
                        real_ops = [f"{op_type(tflite, i)}{'!' if truth['off'][i] else ''}"
                                    for i, layer in enumerate(layers) if layer == p.layer]
                        print(f"  {p.layer} ({p.node.op_type}): predicted "
                              f"{list(zip(p.lowering.ops, reasons, strict=False))}; "
                              f"real {real_ops}")
    return tallies


_OPS: dict[Path, list[str]] = {}


def op_type(path: Path, index: int) -> str:
    if path not in _OPS:
        from tflint.loaders.tflite import load_tflite

        _OPS[path] = [n.op_type for n in load_tflite(str(path)).nodes() if n.subgraph == 0]
    return _OPS[path][index]


def _error_of(tflite: Path) -> str:
    error = tflite.with_suffix(".error")
    return error.read_text()[:120] if error.exists() else "no conversion"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated zoo model names")
    parser.add_argument("--details", action="store_true",
                        help="print every disagreeing layer's predicted and real ops")
    parser.add_argument("--convert-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.convert_child:
        _convert_child(args.convert_child)
        return 0
    names = args.models.split(",") if args.models else list(MODELS)
    print(f"date: {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"versions: {versions()}")
    convert_all(names)
    jobs = {t: [OUT / f"{n}_{CONVERSION[t]}.tflite" for n in names
                if (OUT / f"{n}_{CONVERSION[t]}.tflite").exists()] for t in TARGETS}
    truths = truth_flags(jobs)
    tallies = compare(names, truths, args.details)
    print("edgetpu: no compiler here; its truth is tflint's own .tflite prediction on the real "
          "conversion. gpu: Analyzer flags, then only the largest partition of the unflagged "
          "ops (tflint's partitioner) counts as on the GPU.")
    for target, tally in tallies.items():
        print(f"\n### {target} ({CONVERSION[target]} conversion)")
        print("| model | ops predicted/real | on target predicted/real | partitions "
              "predicted/real | layers predicted off, not real | real off, not predicted |")
        print("| --- | --- | --- | --- | --- | --- |")
        for row in tally.rows:
            print(row)
    print("\n| target | models | layer precision | precision, layers with ops in the conversion "
          "| layer recall | ops on target predicted/real (sum) | per model exact | partitions "
          "exact | off ops mapped to no layer |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for target, t in tallies.items():
        precision = t.tp / (t.tp + t.fp) if t.tp + t.fp else 1.0
        checked = t.fp - t.unverifiable
        checkable = t.tp / (t.tp + checked) if t.tp + checked else 1.0
        recall = t.tp / (t.tp + t.fn) if t.tp + t.fn else 1.0
        partitions = "-" if target == "tflm" else f"{t.partitions_exact}/{t.models}"
        print(f"| {target} | {t.models} | {precision:.3f} ({t.tp}/{t.tp + t.fp}) | "
              f"{checkable:.3f} ({t.tp}/{t.tp + checked}) | "
              f"{recall:.3f} ({t.tp}/{t.tp + t.fn}) | {t.on_predicted}/{t.on_real} | "
              f"{t.on_exact}/{t.models} | {partitions} | {t.unmapped_off} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
