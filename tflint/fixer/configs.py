"""The fixer's access to a Keras model config: the parsed model, and layers by user name.

Edits go through :mod:`tflint.kerasconfig`, which changes the document in
place and in the file's own dialect; this module only finds what an action
names and says, in the user's terms, when it is not there.
"""

from __future__ import annotations

import difflib
from typing import Any

from tflint.errors import ModelFileError
from tflint.kerasconfig import ConfigEditError, KerasModelConfig, LayerConfig, ModelConfig

#: An action cannot be applied to this config (the model's own edit errors included).
ActionError = ConfigEditError


def open_config(document: dict[str, Any], dialect: str | None = None) -> KerasModelConfig:
    """The model of ``document`` (edits land in ``document`` itself)."""
    try:
        return KerasModelConfig(document, dialect=dialect)
    except (ModelFileError, RecursionError) as exc:
        raise ActionError(f"the config cannot be edited: {exc}") from None


def find_model(config: KerasModelConfig, location: str | None) -> ModelConfig:
    model = config.find_model(location)
    if model is None:
        raise ActionError(f"no model '{location}' in the config")
    return model


def find_layer(config: KerasModelConfig, name: str,
               location: str | None = None) -> tuple[ModelConfig, LayerConfig]:
    """The model holding layer ``name`` and the layer.

    ``location`` picks the model (as ``Location.model`` names it); without it
    the name must be unique across the top model and the nested ones.
    """
    if location is not None:
        model = find_model(config, location)
        layer = next((layer for layer in model.layers if layer.written_name == name), None)
        if layer is None:
            raise ActionError(f"no layer '{name}' in {model.describe()}")
        return model, layer
    hits = config.layers_named(name)
    if not hits:
        known = [layer.written_name for model in config.models() for layer in model.layers
                 if layer.written_name]
        close = difflib.get_close_matches(name, known, n=3)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        raise ActionError(f"no layer '{name}' in the model{hint}")
    if len(hits) > 1:
        where = ", ".join(repr(m.location or m.path[0]) for m, _ in hits)
        raise ActionError(f"layer name '{name}' is used in several models ({where}); "
                          "name it as MODEL/LAYER")
    return hits[0]


def layer_locations(document: dict[str, Any], name: str) -> list[str | None]:
    """Models (as ``Location.model``) that hold a layer called ``name``."""
    found = open_config(document).layers_named(name)
    return list(dict.fromkeys(model.location for model, _ in found))
