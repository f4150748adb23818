"""Write a large Keras model (about 500 layers) to time the Keras loader on.

Usage::

    python bench/make_large_keras.py OUT_DIR [--layers 500] [--keras2] [--time]

The model is a stack of inverted-residual blocks (Conv2D 1x1 -> BatchNorm ->
ReLU6 -> DepthwiseConv2D -> BatchNorm -> ReLU6 -> Conv2D 1x1 -> BatchNorm ->
Add), with a nested backbone model holding the first blocks, built with
Keras 3 and saved as ``large.keras``, ``large.h5`` and ``large.json``.
``--keras2`` builds it with ``tf_keras`` instead (in a child process with
``TF_USE_LEGACY_KERAS=1``) and saves ``large_tfk.h5`` and ``large_tfk.json``.
``--time`` then loads each file with tflint a few times and prints the best
time (the first HDF5 load of a process also pays for importing h5py).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BLOCK_LAYERS = 9
WIDTH = 16


def block(keras: Any, x: Any, name: str) -> Any:
    layers = keras.layers
    y = layers.Conv2D(WIDTH * 2, 1, use_bias=False, name=f"{name}_expand")(x)
    y = layers.BatchNormalization(name=f"{name}_expand_bn")(y)
    y = layers.ReLU(6.0, name=f"{name}_expand_relu")(y)
    y = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name=f"{name}_dw")(y)
    y = layers.BatchNormalization(name=f"{name}_dw_bn")(y)
    y = layers.ReLU(6.0, name=f"{name}_dw_relu")(y)
    y = layers.Conv2D(WIDTH, 1, use_bias=False, name=f"{name}_project")(y)
    y = layers.BatchNormalization(name=f"{name}_project_bn")(y)
    return layers.Add(name=f"{name}_add")([x, y])


def build(keras: Any, total_layers: int) -> Any:
    blocks = max(2, (total_layers - 4) // BLOCK_LAYERS)
    inner = blocks // 4
    backbone_in = keras.Input((16, 16, WIDTH), name="backbone_input")
    x = backbone_in
    for i in range(inner):
        x = block(keras, x, f"backbone_block{i}")
    backbone = keras.Model(backbone_in, x, name="backbone")

    inputs = keras.Input((16, 16, 3), name="image")
    x = keras.layers.Conv2D(WIDTH, 3, padding="same", name="stem")(inputs)
    x = backbone(x)
    for i in range(inner, blocks):
        x = block(keras, x, f"block{i}")
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(10, name="classifier")(x)
    return keras.Model(inputs, outputs, name="large")


def write(out: Path, total_layers: int, legacy: bool) -> list[Path]:
    if legacy:
        import tf_keras as keras
    else:
        import keras
    model = build(keras, total_layers)
    out.mkdir(parents=True, exist_ok=True)
    stem = "large_tfk" if legacy else "large"
    paths = [out / f"{stem}.h5", out / f"{stem}.json"]
    if not legacy:
        paths.insert(0, out / f"{stem}.keras")
    for path in paths:
        if path.suffix == ".json":
            path.write_text(model.to_json())
        else:
            model.save(str(path))
    count = len(model.layers) - 1 + len(model.get_layer("backbone").layers) - 1
    print(f"wrote {', '.join(p.name for p in paths)}: {count} layers (Keras {keras.__version__})")
    return paths


def time_load(path: Path, repeats: int = 7) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tflint.loaders.keras import load_keras

    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        graph = load_keras(str(path))
        best = min(best, time.perf_counter() - start)
    print(f"{path.name}: {path.stat().st_size / 1e6:.1f} MB, {len(graph)} nodes: "
          f"best load {best * 1000:.1f} ms of {repeats}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--layers", type=int, default=500)
    parser.add_argument("--keras2", action="store_true", help="build with tf_keras")
    parser.add_argument("--time", action="store_true", help="time loading with tflint")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.keras2 and not args.child:
        # tf_keras and Keras 3 never share a process.
        env = dict(os.environ, TF_USE_LEGACY_KERAS="1")
        command = [sys.executable, __file__, str(args.out), "--layers", str(args.layers),
                   "--keras2", "--child"]
        subprocess.run(command, env=env, check=True)
        paths = [args.out / "large_tfk.h5", args.out / "large_tfk.json"]
    else:
        paths = write(args.out, args.layers, legacy=args.keras2)
        if args.child:
            return 0
    if args.time:
        for path in paths:
            time_load(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
