"""The original model's weights, read with h5py and copied layer by layer.

The fixed model is built from the rewritten config, never from the original
one; its weights come from the original file, matched by layer name:

* ``.keras`` (Keras 3): ``model.weights.h5`` inside the zip holds one group
  per layer, ``layers/<auto name>/vars/0..``, the layer's name in the
  ``vars`` group's ``name`` attribute (or, in files that lack it, derived
  from the config order the way Keras numbers them).  Each layer's whole
  group (sub-layers of wrappers included) is copied into the same layer of
  the new model's weights file, which Keras then loads.
* legacy ``.h5`` (Keras 2.0.x, tf.keras, Keras 3 legacy save):
  ``model_weights/<layer>`` lists its arrays in ``weight_names`` in the
  order ``trainable_weights + non_trainable_weights``; they are assigned to
  the new model's layer of the same name in that order.

Any mismatch (a layer missing, a different count or shape) is an error:
weights are never silently dropped.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from tflint.errors import ModelFileError
from tflint.kerasconfig import KerasModelConfig, ModelConfig
from tflint.loaders.keras_files import WEIGHTS_ENTRY, check_zip_directory

#: (``Location.model`` of the model holding the layer, layer name)
LayerKey = tuple[str | None, str]


class WeightsError(Exception):
    """The weights cannot be carried over; the message names the layer and why."""


def to_snake_case(name: str) -> str:
    """Keras' own naming of a class's weights group (``LeakyReLU`` -> ``leaky_re_lu``)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def auto_names(model: ModelConfig) -> dict[str, str]:
    """Weights group name -> layer name, numbered as Keras numbers tracked layers.

    A Sequential model does not track its InputLayer; a Functional one does.
    """
    used: dict[str, int] = {}
    names: dict[str, str] = {}
    for layer in model.layers:
        if model.kind == "sequential" and layer.is_input:
            continue
        base = to_snake_case(layer.bare_class)
        if base in used:
            used[base] += 1
            group = f"{base}_{used[base]}"
        else:
            used[base] = 0
            group = base
        name = layer.written_name
        if name is not None:
            names[group] = name
    return names


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def tree_index(root: Any, document: dict[str, Any] | None) -> dict[LayerKey, str]:
    """Layer -> HDF5 group path in a Keras 3 weights file, nested models included."""
    by_location = ({m.location: m for m in KerasModelConfig(document).models()}
                   if document else {})
    index: dict[LayerKey, str] = {}

    def walk(group: Any, location: str | None) -> None:
        layers = group.get("layers")
        if layers is None:
            return
        model = by_location.get(location)
        fallback = auto_names(model) if model is not None else {}
        for key in layers:
            child = layers[key]
            variables = child.get("vars")
            name = None
            if variables is not None and "name" in variables.attrs:
                name = _text(variables.attrs["name"])
            name = name or fallback.get(key)
            if name is None:
                raise WeightsError(f"cannot tell which layer the weights group '{child.name}' "
                                   "belongs to")
            index[(location, name)] = child.name
            if "layers" in child:
                walk(child, f"{location}/{name}" if location else name)

    walk(root, None)
    return index


def datasets(group: Any) -> dict[str, Any]:
    """Datasets under a layer's group, by relative path, without nested models' layers."""
    found: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        for key in node:
            child = node[key]
            path = f"{prefix}{key}"
            if hasattr(child, "shape"):
                found[path] = child
            elif not (key == "layers" and prefix == ""):
                walk(child, path + "/")

    walk(group, "")
    return found


class OriginalWeights:
    """What the original file stores per layer; a context manager (closes the file)."""

    def __init__(self, path: str, container: str, document: dict[str, Any]) -> None:
        import h5py

        self.container = container
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.file: Any = None
        self.index: dict[LayerKey, str] = {}
        self.legacy: Any = None
        if container == "keras":
            self._tmp = tempfile.TemporaryDirectory(prefix="tflint-weights-")
            extracted = _extract_weights(path, Path(self._tmp.name))
            self.file = h5py.File(extracted, "r") if extracted else None
            if self.file is not None:
                self.index = tree_index(self.file, document)
        elif container == "h5":
            self.file = h5py.File(path, "r")
            group = self.file.get("model_weights")
            self.legacy = group if group is not None and "layer_names" in group.attrs else None

    def __enter__(self) -> OriginalWeights:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    @property
    def present(self) -> bool:
        return bool(self.index) or self.legacy is not None

    def count(self, location: str | None, layer: str) -> int:
        """How many arrays the original stores for a layer (0 when it has none)."""
        if self.index:
            path = self.index.get((location, layer))
            return 0 if path is None else len(datasets(self.file[path]))
        if self.legacy is None:
            return 0
        if location is None:
            return len(self.legacy_names(layer))
        # Legacy files keep a nested model's weights in the outer layer's group.
        outer = location.split("/")[0]
        return sum(1 for name in self.legacy_names(outer) if layer in name.split("/"))

    def legacy_names(self, layer: str) -> list[str]:
        group = self.legacy.get(layer) if self.legacy is not None else None
        if group is None or "weight_names" not in group.attrs:
            return []
        return [_text(n) for n in group.attrs["weight_names"].reshape(-1).tolist()]

    def legacy_layers(self) -> list[str]:
        return [_text(n) for n in self.legacy.attrs["layer_names"].reshape(-1).tolist()]

    def legacy_arrays(self, layer: str) -> list[Any]:
        group = self.legacy[layer]
        return [group[name][()] for name in self.legacy_names(layer)]


def _extract_weights(path: str, folder: Path) -> Path | None:
    """Copy ``model.weights.h5`` out of a ``.keras`` archive (zip-bomb checks first)."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            check_zip_directory(infos)
            info = next((i for i in infos if i.filename == WEIGHTS_ENTRY), None)
            if info is None:
                return None
            target = folder / "model.weights.h5"
            with archive.open(info) as source, open(target, "wb") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)
            if os.path.getsize(target) != info.file_size:
                raise WeightsError(f"{WEIGHTS_ENTRY} holds more data than its header declares")
            return target
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise WeightsError(f"cannot read the weights in the archive: {exc}") from None
    except ModelFileError as exc:
        raise WeightsError(str(exc)) from None


# -- copying into the new model ------------------------------------------------------------------


def _shown(key: LayerKey) -> str:
    location, name = key
    return f"'{name}' in model '{location}'" if location else f"'{name}'"


def copy_tree(original: OriginalWeights, target: Any, target_document: dict[str, Any],
              fresh: set[LayerKey]) -> list[LayerKey]:
    """Copy every kept layer's arrays into ``target`` (the new model's weights file).

    ``fresh`` are the layers a fix put in place: they start with the new
    layer's own initial weights.  Returns the layers whose arrays were copied.
    """
    new_index = tree_index(target, target_document)
    copied = []
    for key, new_path in new_index.items():
        new_sets = datasets(target[new_path])
        if key in fresh:
            continue
        old_path = original.index.get(key)
        old_sets = {} if old_path is None else datasets(original.file[old_path])
        if set(new_sets) != set(old_sets):
            raise WeightsError(f"layer {_shown(key)} expects {len(new_sets)} weight array(s) "
                               f"but the original file stores {len(old_sets)}")
        for relative, dataset in new_sets.items():
            source = old_sets[relative]
            if dataset.shape != source.shape:
                raise WeightsError(f"weight {relative} of layer {_shown(key)} has shape "
                                   f"{source.shape} in the original, {dataset.shape} in the new "
                                   "model")
            dataset[...] = source[()]
        if new_sets:
            copied.append(key)
    _check_nothing_left(original.index, new_index, original)
    return copied


def _check_nothing_left(old_index: dict[LayerKey, str], new_index: dict[LayerKey, str],
                        original: OriginalWeights) -> None:
    for key, path in old_index.items():
        if key not in new_index and datasets(original.file[path]):
            raise WeightsError(f"the weights of layer {_shown(key)} would be lost: "
                               "the rewritten model has no such layer")


def assign_legacy(original: OriginalWeights, model: Any, fresh: set[LayerKey]) -> list[LayerKey]:
    """Set each kept top-level layer's variables from ``model_weights/<layer>``, in order."""
    stored = set(original.legacy_layers())
    copied = []
    present = set()
    for layer in model.layers:
        key: LayerKey = (None, layer.name)
        present.add(layer.name)
        variables = list(layer.trainable_weights) + list(layer.non_trainable_weights)
        if key in fresh:
            continue
        arrays = original.legacy_arrays(layer.name) if layer.name in stored else []
        if len(arrays) != len(variables):
            raise WeightsError(f"layer {_shown(key)} expects {len(variables)} weight array(s) "
                               f"but the original file stores {len(arrays)}")
        for variable, array in zip(variables, arrays, strict=True):
            if tuple(variable.shape) != tuple(array.shape):
                raise WeightsError(f"weight {variable.path} of layer {_shown(key)} has shape "
                                   f"{tuple(array.shape)} in the original, "
                                   f"{tuple(variable.shape)} in the new model")
            variable.assign(array)
        if variables:
            copied.append(key)
    for name in stored - present:
        if original.legacy_names(name):
            raise WeightsError(f"the weights of layer '{name}' would be lost: the rewritten "
                               "model has no such layer")
    return copied

