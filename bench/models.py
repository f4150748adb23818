"""Benchmark models, generated with TensorFlow on first use and cached in bench/.cache."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"

_EFFICIENTNET = '''
import sys, tensorflow as tf, keras
batch = int(sys.argv[2]) if len(sys.argv) > 2 else None
image = keras.Input((224, 224, 3), batch_size=batch)
model = keras.applications.EfficientNetB3(weights=None, input_tensor=image)
converter = tf.lite.TFLiteConverter.from_keras_model(model)
open(sys.argv[1], "wb").write(converter.convert())
'''


def efficientnet_b3(static_batch: bool = False) -> Path:
    """A real ~50 MB float32 model with a few hundred ops (EfficientNetB3, random weights):
    with a dynamic batch (490 ops, 104 of them shape arithmetic) or a batch of 1."""
    path = CACHE / ("efficientnet_b3_batch1.tflite" if static_batch else "efficientnet_b3.tflite")
    if not path.exists():
        CACHE.mkdir(exist_ok=True)
        partial = path.with_suffix(".partial")
        batch = ["1"] if static_batch else []
        subprocess.run([sys.executable, "-c", _EFFICIENTNET, str(partial), *batch], check=True)
        partial.rename(path)
    return path
