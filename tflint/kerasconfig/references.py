"""What a serialized object in a Keras config refers to, resolved as Keras resolves it.

A config names functions and classes in three ways:

* a bare string (``"relu"``, or ``"package>name"`` for a registered object):
  Keras 2 and tf.keras write built-in activations so, and legacy HDF5 saves
  write every function so;
* ``{"class_name": C, "config": {...}}`` without ``module`` (legacy saves):
  the class ``C``, ``"package>Name"`` when user code registered it;
* ``{"module": M, "class_name": C, "config": X, "registered_name": R}``
  (Keras 3, tf.keras 2.13+): a function named ``X`` when ``C`` is
  ``"function"``, else the class ``C``.

Keras 3 (``keras/src/saving/serialization_lib.py``, ``_retrieve_class_or_fn``)
and tf_keras (its own copy of that file) resolve such an object in this order:

1. an object user code registered takes precedence: looked up by ``R`` for a
   class and by the function's own name ``X`` for a function.  Registered
   names have the form ``package>name``;
2. a module ``keras``/``keras.*`` (tf_keras also ``tf_keras``/``tf_keras.*``)
   is looked up in Keras' public API; Keras 3 then refuses a built-in whose
   ``registered_name`` is neither its own name nor its class name;
3. a function of module ``builtins`` (how Keras writes a plain function name)
   is looked up in ``keras.activations``, ``keras.initializers``, ...;
4. any other module is imported by tf_keras, and by Keras 3 only when its
   package is ``keras_hub``, ``keras_cv`` or ``keras_nlp``; otherwise the
   object cannot be found without the loading program's custom objects.

A bare activation name is looked up by exact name among Keras' activations
(Keras 3 adds the aliases ``swish`` and ``hard_swish``).  What the loading
program registered cannot be known from the file: a plain name is taken to
mean Keras' own object, a ``package>name`` never is.  Nothing is imported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Literal

#: Where in a layer config a reference sits; decides which Keras names it may mean.
Slot = Literal["activation", "layer", "object"]
#: ``builtin``: Keras' own object.  ``registered``: a ``package>name`` object registered by
#: user code.  ``local``: a function or class of the program that saved the model (no
#: module, ``__main__``, or an unknown plain name).  ``foreign``: named in a module outside
#: Keras.  ``unknown``: names a Keras module but nothing Keras ships, or a built-in Keras
#: refuses (a ``registered_name`` that is not its own).
Origin = Literal["builtin", "registered", "local", "foreign", "unknown"]

LAYERS_FILE = Path(__file__).resolve().parent.parent / "loaders" / "keras_layers.json"
#: Module roots that are Keras itself.
KERAS_PACKAGES = frozenset({"keras", "tf_keras"})
#: Packages Keras 3 imports while deserializing besides its own (its allow-list).
KERAS_FAMILY = frozenset({"keras_hub", "keras_cv", "keras_nlp"})
#: Modules that name the program that saved the model: only its custom objects resolve them.
LOCAL_MODULES = frozenset({"__main__"})
FUNCTION = "function"
#: Values Keras 3 and tf_keras both decode without looking any module up.
VALUE_TAGS = frozenset({"__tensor__", "__numpy__", "__bytes__", "__lambda__"})
#: ... and those only Keras 3 decodes so (tf_keras resolves them as classes, module and all).
KERAS3_VALUE_TAGS = VALUE_TAGS | {"__keras_tensor__", "__ellipsis__", "__slice__"}
#: A TensorFlow TypeSpec: a class named by ``spec_name`` in ``module``.
TYPESPEC = "__typespec__"

#: Activations Keras 3 or tf_keras resolve by name (``keras.activations.get``).
KNOWN_ACTIVATIONS = frozenset({
    "linear", "relu", "relu6", "tanh", "sigmoid", "silu", "gelu", "hard_sigmoid", "hard_silu",
    "softplus", "softsign", "elu", "selu", "leaky_relu", "mish", "exponential", "softmax",
    "log_softmax", "celu", "glu", "hard_shrink", "hard_tanh", "log_sigmoid", "soft_shrink",
    "sparse_plus", "sparsemax", "squareplus", "tanh_shrink", "threshold", "sparse_sigmoid",
})
#: Other names of the same activation functions.
ACTIVATION_ALIASES = {"swish": "silu", "hard_swish": "hard_silu"}


@cache
def builtin_layers() -> dict[str, frozenset[str]]:
    """Class names of the layers Keras ships, from the generated data file."""
    data = json.loads(LAYERS_FILE.read_text(encoding="utf-8"))
    common = frozenset(data["keras3"]) | frozenset(data["tf_keras"]) | frozenset(data["legacy"])
    return {"common": common, "keras3_ops": frozenset(data["keras3_ops"])}


@cache
def layer_classes(dialect: str | None) -> frozenset[str]:
    """Layer classes the Keras of ``dialect`` ships (Keras 3 adds its ``ops`` layers)."""
    known = builtin_layers()
    return known["common"] | known["keras3_ops"] if dialect == "keras3" else known["common"]


def bare_name(name: str) -> str:
    """``"seed>CustomActivation"`` is the class ``CustomActivation``."""
    return name.rsplit(">", 1)[-1] or name


def package_of(module: str) -> str:
    return module.split(".", 1)[0]


@dataclass(frozen=True, slots=True)
class Reference:
    """One function or class a config names, resolved once."""

    #: ``"name"`` (a bare string), ``"function"`` or ``"class"``.
    form: str
    #: The function or class name as written (``"gelu"``, ``"Addons>gelu"``, ``"Dense"``).
    name: str
    module: str | None
    registered_name: str | None
    origin: Origin
    #: The Keras object it resolves to, in Keras' own spelling (``"silu"`` for
    #: ``"swish"``), when ``origin`` is ``builtin``.
    builtin: str | None = None

    @property
    def is_builtin(self) -> bool:
        return self.origin == "builtin"

    @property
    def is_foreign(self) -> bool:
        """Named in a module outside Keras (loading imports it, or fails)."""
        return self.origin == "foreign"

    @property
    def bare_name(self) -> str:
        return bare_name(self.name)

    @property
    def package(self) -> str | None:
        return package_of(self.module) if self.module else None

    @property
    def is_function(self) -> bool:
        return self.form != "class"


def is_keras_module(module: str) -> bool:
    return package_of(module) in KERAS_PACKAGES


def _known(name: str, slot: Slot, dialect: str | None) -> str | None:
    """Keras' own spelling of ``name`` in ``slot``, or None when Keras ships no such thing."""
    if slot == "activation":
        canonical = ACTIVATION_ALIASES.get(name, name)
        return canonical if canonical in KNOWN_ACTIVATIONS else None
    if slot == "layer":
        return name if name in layer_classes(dialect) else None
    return name  # initializers, regularizers, policies...: Keras' modules are trusted by name


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def resolve_name(name: str, slot: Slot = "activation", dialect: str | None = None) -> Reference:
    """A bare string naming a function (``"relu"``, ``"Addons>gelu"``)."""
    if ">" in name:
        return Reference("name", name, None, None, "registered")
    builtin = _known(name, slot, dialect) if name else None
    return Reference("name", name, None, None, "builtin" if builtin else "local", builtin)


def resolve_object(value: dict[str, Any], slot: Slot = "object",
                   dialect: str | None = None) -> Reference | None:
    """A serialized object (a dict with ``class_name``), or None when ``value`` is not one.

    The values Keras decodes itself (``__numpy__``, ``__lambda__``...) name no
    object; which ones depends on the Keras (``dialect``; ``None``: any).
    """
    class_name = value.get("class_name")
    if not isinstance(class_name, str):
        return None
    if class_name in (KERAS3_VALUE_TAGS if dialect == "keras3" else VALUE_TAGS):
        return None
    if class_name == TYPESPEC:
        spec = value.get("spec_name")
        return resolve_class({**value, "class_name": spec if isinstance(spec, str) else "?"},
                             "object", dialect)
    module = _text(value.get("module")) or None
    registered = _text(value.get("registered_name")) or None
    if class_name == FUNCTION:
        return _function(_text(value.get("config")), module, registered, slot, dialect)
    return resolve_class(value, slot, dialect)


@lru_cache(maxsize=4096)  # configs name the same few functions over and over
def _function(config: str | None, module: str | None, registered: str | None, slot: Slot,
              dialect: str | None) -> Reference:
    name = config if config is not None else (registered or "?")
    origin, builtin = _function_origin(name, module, registered, slot, dialect,
                                       config is not None)
    return Reference("function", name, module, registered, origin, builtin)


def _function_origin(name: str, module: str | None, registered: str | None, slot: Slot,
                     dialect: str | None, well_formed: bool) -> tuple[Origin, str | None]:
    if not well_formed:
        return "unknown", None  # Keras refuses a function whose config is not its name
    if ">" in name:
        return "registered", None  # found in the registry by the function's own name
    if module is None or module in LOCAL_MODULES:
        return "local", None
    if module == "builtins":
        builtin = _known(name, slot, dialect)
        return ("builtin", builtin) if builtin else ("local", None)
    if is_keras_module(module):
        builtin = _known(name, slot, dialect)
        if builtin is None:
            return "unknown", None
        if dialect == "keras3" and registered not in (None, name, FUNCTION):
            return "unknown", None  # Keras 3 refuses a built-in with another registered name
        return "builtin", builtin
    return "foreign", None


def _class_origin(class_name: str, module: str | None, has_module: bool,
                  registered: str | None, slot: Slot,
                  dialect: str | None) -> tuple[Origin, str | None]:
    if ">" in class_name or (registered is not None and ">" in registered):
        return "registered", None
    if has_module:
        if module is None or module in LOCAL_MODULES:
            return "local", None
        if not is_keras_module(module):
            return "foreign", None
        if registered not in (None, class_name) and dialect == "keras3":
            return "unknown", None
    builtin = _known(class_name, slot, dialect)
    if builtin is None:
        return ("unknown" if has_module else "local"), None
    return "builtin", builtin


def resolve_class(value: dict[str, Any], slot: Slot = "layer",
                  dialect: str | None = None) -> Reference:
    """The class of an entry that names one (a layer entry): never a function."""
    return _class(_text(value.get("class_name")) or "?", "module" in value,
                  _text(value.get("module")) or None,
                  _text(value.get("registered_name")) or None, slot, dialect)


@lru_cache(maxsize=4096)  # and the same few classes
def _class(name: str, has_module: bool, module: str | None, registered: str | None,
           slot: Slot, dialect: str | None) -> Reference:
    origin, builtin = _class_origin(name, module, has_module, registered, slot, dialect)
    return Reference("class", name, module, registered, origin, builtin)


def resolve(value: Any, slot: Slot = "object", dialect: str | None = None) -> Reference | None:
    """The reference a config value makes, or None when it makes none (``None``, numbers,
    plain data).  Strings are references only where Keras looks them up by name: in an
    activation slot."""
    if isinstance(value, dict):
        return resolve_object(value, slot, dialect)
    if isinstance(value, str) and slot == "activation":
        return resolve_name(value, slot, dialect)
    return None


def slot_of(key: str) -> Slot | None:
    """Which kind of reference a layer config key holds (``None``: plain data)."""
    if key == "activation" or key.endswith("_activation"):
        return "activation"
    if key in ("layer", "backward_layer", "cell", "forward_layer"):
        return "layer"
    return None


def policy_name(value: Any) -> str | None:
    """A dtype or dtype policy name: ``"float32"`` or a Policy/DTypePolicy object's name."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        inner = value.get("config")
        if isinstance(inner, dict) and isinstance(inner.get("name"), str):
            return inner["name"]
    return None
