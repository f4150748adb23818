"""Load a Keras model file (``.h5``, ``.keras`` or a JSON config) into a graph.

The container is picked from the file's first bytes, not its name: HDF5
signature, zip local-file header, or a JSON object.  Only the model config is
read; weights are never loaded, and nothing in the file is executed.
"""

from __future__ import annotations

from tflint.errors import ModelFileError
from tflint.graph import ModelGraph
from tflint.loaders import Container, sniff_container
from tflint.loaders.keras_config import build_keras_graph
from tflint.loaders.keras_files import read_h5, read_json_file, read_keras_zip


def load_keras(path: str, container: Container | None = None) -> ModelGraph:
    """Read the model at ``path``; :class:`ModelFileError` if it cannot be understood.

    ``container`` is what :func:`tflint.loaders.sniff_container` found, when
    the caller already looked.
    """
    container = container or sniff_container(path)
    if container == "hdf5":
        config, facts = read_h5(path)
    elif container == "zip":
        config, facts = read_keras_zip(path)
    elif container == "json":
        config, facts = read_json_file(path)
    else:
        raise ModelFileError("not a Keras model: expected an HDF5 file, a .keras zip archive "
                             "or a JSON model config")
    return build_keras_graph(config, path, facts)
