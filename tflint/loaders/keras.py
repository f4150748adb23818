"""Load a Keras model file (``.h5``, ``.keras`` or a JSON config) into a graph.

The container is picked from the file's first bytes, not its name: HDF5
signature, zip local-file header, or a JSON object.  Only the model config is
read; weights are never loaded, and nothing in the file is executed.
"""

from __future__ import annotations

from tflint.errors import ModelFileError
from tflint.graph import ModelGraph
from tflint.loaders.keras_config import build_keras_graph
from tflint.loaders.keras_files import read_h5, read_json_file, read_keras_zip

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ZIP_SIGNATURE = b"PK\x03\x04"
#: An empty zip archive is only its end-of-central-directory record.
EMPTY_ZIP_SIGNATURE = b"PK\x05\x06"
UTF8_BOM = b"\xef\xbb\xbf"


def load_keras(path: str) -> ModelGraph:
    """Read the model at ``path``; :class:`ModelFileError` if it cannot be understood."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(64)
    except IsADirectoryError:
        raise ModelFileError("is a directory") from None
    except OSError as exc:
        raise ModelFileError(f"cannot read file: {exc.strerror or exc}") from None
    if not head:
        raise ModelFileError("file is empty")
    if head.startswith(HDF5_SIGNATURE):
        config, facts = read_h5(path)
    elif head.startswith((ZIP_SIGNATURE, EMPTY_ZIP_SIGNATURE)):
        config, facts = read_keras_zip(path)
    elif head.removeprefix(UTF8_BOM).lstrip()[:1] in (b"{", b"["):
        config, facts = read_json_file(path)
    else:
        raise ModelFileError("not a Keras model: expected an HDF5 file, a .keras zip archive "
                             "or a JSON model config")
    return build_keras_graph(config, path, facts)
