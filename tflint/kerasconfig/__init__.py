"""The Keras model config, read once into objects that the loader, the fixer and the
analyses share: dialect, models, layers, wiring, and the functions and classes a config
names, resolved as Keras resolves them (:mod:`.references`)."""

from tflint.kerasconfig.model import (
    KERAS3,
    KERAS20,
    TF_KERAS2,
    ConfigEditError,
    KerasModelConfig,
    LayerConfig,
    ModelConfig,
    config_references,
    detect_dialect,
    model_kind,
)
from tflint.kerasconfig.references import Reference, builtin_layers, resolve

__all__ = [
    "KERAS3",
    "KERAS20",
    "TF_KERAS2",
    "ConfigEditError",
    "KerasModelConfig",
    "LayerConfig",
    "ModelConfig",
    "Reference",
    "builtin_layers",
    "config_references",
    "detect_dialect",
    "model_kind",
    "resolve",
]
