"""Generate ``tflint/loaders/keras_layers.json``: the built-in Keras layer classes.

The Keras loader marks a layer ``custom`` when its class is not one Keras
itself ships; it cannot import Keras to ask, so the class names are listed
here from the installed packages and committed as JSON:

* ``keras3``: every ``Layer`` subclass exported by ``keras.layers`` plus the
  model classes (``Functional``, ``Sequential``, ``Model``), less the
  wrappers of foreign code (``TorchModuleWrapper``, ``TFSMLayer``...);
* ``keras3_ops``: the ``keras.ops`` operation classes, which Keras 3 writes
  into a Functional config like layers when a model calls ``keras.ops``
  (or ``x + y``) on symbolic tensors;
* ``tf_keras``: every class ``tf_keras`` deserializes as a layer, read in a
  child process with ``TF_USE_LEGACY_KERAS=1`` so that the two Keras
  packages never share a process;
* ``legacy``: classes of standalone Keras 2.0-2.3 and early tf.keras that
  neither package ships any more (written by hand: those versions no longer
  install on a current Python).

Run it after upgrading Keras, and commit the result::

    python scripts/generate_keras_layers.py           # rewrite the JSON
    python scripts/generate_keras_layers.py --check   # exit 1 if stale
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import pkgutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "tflint" / "loaders" / "keras_layers.json"

#: Keras 2.0-2.3 (keras/layers/*, keras/legacy/layers.py) and tf.keras 1.x /
#: 2.0-2.3 classes that current packages no longer define.
LEGACY = (
    "AtrousConvolution1D",
    "AtrousConvolution2D",
    "Container",
    "ConvRecurrent2D",
    "ConvLSTM2DCell",
    "CuDNNGRU",
    "CuDNNLSTM",
    "Highway",
    "MaxoutDense",
    "Merge",
    "Recurrent",
    "TensorFlowOpLayer",
)


#: Keras 3 classes that run code from elsewhere (a SavedModel, a PyTorch,
#: JAX or Flax module): as opaque as a custom layer, so not listed.
FOREIGN = frozenset({"FlaxLayer", "JaxLayer", "TFSMLayer", "TorchModuleWrapper"})


def _class_names(module: ModuleType, base: type) -> set[str]:
    """Class names (and exported aliases) of ``base`` subclasses in ``module``."""
    names = set()
    for exported, obj in vars(module).items():
        if inspect.isclass(obj) and issubclass(obj, base):
            names.add(obj.__name__)
            names.add(exported)
    return {name for name in names if not name.startswith("_")}


def keras3_layers() -> tuple[str, list[str], list[str]]:
    import keras
    from keras.src.models.functional import Functional
    from keras.src.ops.operation import Operation

    layers = _class_names(keras.layers, keras.layers.Layer)
    layers |= {Functional.__name__, keras.Sequential.__name__, keras.Model.__name__}
    ops: set[str] = set()
    package = importlib.import_module("keras.src.ops")
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.endswith("_test"):
            continue
        module = importlib.import_module(f"keras.src.ops.{info.name}")
        ops |= {
            obj.__name__
            for obj in vars(module).values()
            if inspect.isclass(obj)
            and issubclass(obj, Operation)
            and obj.__module__ == module.__name__
            and not obj.__name__.startswith("_")
        }
    return keras.__version__, sorted(layers), sorted(ops - layers)


def tf_keras_layers() -> tuple[str, list[str]]:
    """Run in the child process: what tf_keras deserializes as a layer."""
    import tf_keras

    names = _class_names(tf_keras.layers, tf_keras.layers.Layer)
    try:
        # The table ``tf_keras.layers.deserialize`` looks classes up in;
        # it adds TFOpLambda, Functional, Sequential and the V1/V2 variants.
        from tf_keras.src.layers import serialization

        serialization.populate_deserializable_objects()
        names |= {
            name
            for name, obj in serialization.LOCAL.ALL_OBJECTS.items()
            if inspect.isclass(obj) and issubclass(obj, tf_keras.layers.Layer)
            and not name.startswith("_")
        }
    except (ImportError, AttributeError):
        names |= {"Functional", "Model", "Sequential", "TFOpLambda", "SlicingOpLambda"}
    return tf_keras.__version__, sorted(names)


def tf_keras_in_child() -> tuple[str, list[str]]:
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(
        [sys.executable, __file__, "--tf-keras-child"],
        capture_output=True, text=True, env=env, check=False, timeout=600,
    )
    if proc.returncode != 0:
        sys.exit(f"tf_keras child process failed:\n{proc.stderr}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return result["version"], result["layers"]


def build() -> dict[str, object]:
    keras_version, keras3, keras3_ops = keras3_layers()
    tf_keras_version, tf_keras = tf_keras_in_child()
    known = set(keras3) | set(tf_keras)
    return {
        "about": "Built-in Keras layer classes; generated by scripts/generate_keras_layers.py",
        "versions": {
            "keras": keras_version,
            "tf_keras": tf_keras_version,
        },
        "keras3": [name for name in keras3 if name not in FOREIGN],
        "keras3_ops": keras3_ops,
        "tf_keras": tf_keras,
        "legacy": sorted(set(LEGACY) - known),
    }


def render(data: dict[str, object]) -> str:
    return json.dumps(data, indent=1) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the JSON is stale")
    parser.add_argument("--tf-keras-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.tf_keras_child:
        version, layers = tf_keras_layers()
        print(json.dumps({"version": version, "layers": layers}))
        return 0
    text = render(build())
    if args.check:
        current = OUTPUT.read_text() if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT.relative_to(ROOT)} is stale: run {Path(__file__).name}")
            return 1
        return 0
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT.relative_to(ROOT)} (keras {metadata.version('keras')}, "
          f"tf_keras {metadata.version('tf_keras')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
