"""Benchmark models, generated with TensorFlow on first use and cached in bench/.cache."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"

_EFFICIENTNET = '''
import sys, tensorflow as tf, keras
model = keras.applications.EfficientNetB3(weights=None, input_shape=(224, 224, 3))
converter = tf.lite.TFLiteConverter.from_keras_model(model)
open(sys.argv[1], "wb").write(converter.convert())
'''


def efficientnet_b3() -> Path:
    """A real ~50 MB float32 model with a few hundred ops (EfficientNetB3, random weights)."""
    path = CACHE / "efficientnet_b3.tflite"
    if not path.exists():
        CACHE.mkdir(exist_ok=True)
        partial = path.with_suffix(".partial")
        subprocess.run([sys.executable, "-c", _EFFICIENTNET, str(partial)], check=True)
        partial.rename(path)
    return path
