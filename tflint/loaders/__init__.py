"""File → graph: pick the loader from the file's content, not its name.

Loader modules are imported only when a file of their kind comes in, so a
``.tflite`` lint never imports h5py.
"""

from __future__ import annotations

import os
from typing import Literal

from tflint.errors import ModelFileError
from tflint.graph import FileKind, ModelGraph

Container = Literal["tflite", "hdf5", "zip", "json"]

#: Extensions picked up when recursing into a folder.
MODEL_EXTENSIONS = (".tflite", ".h5", ".hdf5", ".keras")
#: Also picked up in folders, when the content looks like a Keras config.
CONFIG_EXTENSIONS = (".json",)

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header, or an empty archive
_TFLITE_IDENTIFIER = b"TFL3"
_UTF8_BOM = b"\xef\xbb\xbf"


def sniff_container(path: str) -> Container:
    """Tell the container of a model file from its first bytes, not its name."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(64)
    except IsADirectoryError:
        raise ModelFileError("is a directory") from None
    except OSError as exc:
        raise ModelFileError(f"cannot read file: {exc.strerror or exc}") from None
    if not head:
        raise ModelFileError("file is empty")
    if head[4:8] == _TFLITE_IDENTIFIER:
        return "tflite"
    if head.startswith(_HDF5_SIGNATURE):
        return "hdf5"
    if head.startswith(_ZIP_SIGNATURES):
        return "zip"
    start = head.removeprefix(_UTF8_BOM).lstrip()[:1]
    # An array is never a model config, but in a .json file it deserves a
    # JSON error; elsewhere "[" is more likely TOML or INI.
    if start == b"{" or (start == b"[" and path.lower().endswith(".json")):
        return "json"
    extension = os.path.splitext(path)[1].lower()
    if extension == ".tflite":
        raise ModelFileError("not a TFLite flatbuffer (no 'TFL3' file identifier)")
    if extension in (".h5", ".hdf5"):
        raise ModelFileError("not an HDF5 file (bad signature)")
    if extension == ".keras":
        raise ModelFileError("not a Keras archive (not a zip file)")
    raise ModelFileError("not a model file: expected a .tflite flatbuffer, an HDF5 or .keras "
                         "model, or a Keras JSON config")


def sniff(path: str) -> FileKind:
    """Tell the kind of a model file from its first bytes."""
    return "tflite" if sniff_container(path) == "tflite" else "keras"


def load(path: str) -> ModelGraph:
    """Load any supported model file into a :class:`ModelGraph`."""
    container = sniff_container(path)
    if container == "tflite":
        from tflint.loaders.tflite import load_tflite

        return load_tflite(path)
    from tflint.loaders.keras import load_keras

    return load_keras(path, container)


def looks_like_keras_config(path: str) -> bool:
    """Cheap check used only when recursing folders: is this JSON a model config?"""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return head.lstrip()[:1] == b"{" and b'"class_name"' in head and b'"config"' in head
