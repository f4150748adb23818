"""One audit of a Keras config for everything that would run code when Keras loads it.

The security rules (TFL6xx) share this scan: it walks the whole parsed
config once (the model config and, for HDF5 files, the training config),
iteratively and within a bound on the number of values, and sorts what it
finds by kind.  It reads strings and dict keys only: no bytecode is
decoded, no module imported, no name resolved.

What counts as a reference, in the three ways Keras writes one:

* a Keras 3 object ``{"module": M, "class_name": C, "config": ...}``: Keras
  imports ``M`` to find ``C`` (or, for ``C == "function"``, the function
  named by ``config``), as :func:`tflint.kerasconfig.references.resolve_object`
  reads it;
* a tf.keras ``Lambda`` config: ``function`` with ``function_type``
  ``"lambda"`` (marshalled bytecode) or ``"function"`` (a name looked up in
  ``module``), and the same for ``output_shape`` and ``mask``;
* a dotted string such as ``"os.system"`` or ``"keras.utils.get_file"``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from tflint import data as _data
from tflint.graph import ModelGraph, Node
from tflint.kerasconfig.model import MODEL_CLASSES
from tflint.kerasconfig.references import bare_name, resolve_object

#: Values visited at most.  A 10 000-layer config holds about 800 000;
#: the bound keeps a padded hostile config from costing unbounded time.
MAX_VALUES = 4_000_000
#: Longer strings are data (bytecode, vocabularies), never a dotted name.
MAX_NAME_LENGTH = 200

BYTECODE = "bytecode"  # marshalled Python code (a Lambda)
NAMED_FUNCTION = "named-function"  # a Lambda calling a function by name
FOREIGN = "foreign-module"  # a module Keras would import, outside Keras
UNSAFE = "unsafe-call"  # os.system, builtins.exec, tf.py_function...
TOGGLE = "unsafe-toggle"  # enable_unsafe_deserialization
LOADER = "loader"  # load_model, get_file...
FILE = "file-reference"  # a vocabulary path or URL, a SavedModel path

_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
#: Keys whose strings are layer names, never references.
_NAME_KEYS = frozenset({"name"})
#: Subtrees that wire layers together: their strings are layer names.
_WIRING_KEYS = frozenset({"inbound_nodes", "input_layers", "output_layers", "keras_history"})
#: Lambda config entries that hold a function: (value key, tf.keras type key, module key).
_LAMBDA_SLOTS = (
    ("function", "function_type", "module"),
    ("output_shape", "output_shape_type", "output_shape_module"),
    ("mask", "mask_type", "mask_module"),
)
_LAMBDA_TYPE_KEYS = frozenset(type_key for _, type_key, _ in _LAMBDA_SLOTS)
#: The keys of a Keras 3 object that its reference is made of.
_OBJECT_KEYS = frozenset({"module", "class_name", "registered_name", "config"})
_NOTHING: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str
    #: The graph node the finding belongs to (the enclosing layer), if any.
    node: Node | None
    #: Who holds it, in the user's terms: ``layer 'dense' (Dense)``.
    owner: str
    #: Key path inside the owner's config, e.g. ``kernel_initializer``.
    where: str
    #: What is referred to: ``os.system``, a module, a path...
    ref: str
    #: Extra words for the message (what a loader does...).
    detail: str = ""

    @property
    def subject(self) -> str:
        """``'activation' of layer 'dense' (Dense)``, or the owner alone."""
        return f"'{self.where}' of {self.owner}" if self.where else self.owner


@dataclass
class ConfigScan:
    findings: dict[str, list[Finding]] = field(default_factory=lambda: defaultdict(list))
    values: int = 0
    #: False when the walk stopped at :data:`MAX_VALUES` before the end.
    complete: bool = True
    limit: int = MAX_VALUES

    def of(self, kind: str) -> list[Finding]:
        return self.findings.get(kind, [])


# -- knowledge --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Knowledge:
    trusted: frozenset[str]
    local: frozenset[str]
    aliases: dict[str, str]
    unsafe_roots: frozenset[str]
    unsafe_builtins: frozenset[str]
    framework_members: dict[str, str]
    toggles: tuple[str, ...]
    #: Loader name -> (its dotted components, what it does).
    loaders: dict[str, tuple[tuple[str, ...], str]]
    file_keys: dict[str, tuple[str, ...]]


@cache
def knowledge() -> _Knowledge:
    data = _data.load("unsafe_references.json")
    loaders = {
        name: (tuple(name.split(".")), verb) for name, verb in data["loaders"]["names"].items()
    }
    return _Knowledge(
        trusted=frozenset(data["trusted_modules"]["roots"]),
        local=frozenset(data["local_modules"]["roots"]),
        aliases=dict(data["module_aliases"]),
        unsafe_roots=frozenset(data["unsafe_modules"]["roots"]),
        unsafe_builtins=frozenset(data["unsafe_builtins"]["names"]),
        framework_members=dict(data["unsafe_framework_members"]["names"]),
        toggles=tuple(data["toggles"]["names"]),
        loaders=loaders,
        file_keys={k: tuple(v) for k, v in data["file_reading_layers"]["layers"].items()},
    )


@lru_cache(maxsize=4096)  # configs name the same few classes over and over
def classify(module: str, name: str) -> tuple[str, str] | None:
    """(kind, detail) of the function or class ``name`` of ``module``, or None if harmless."""
    known = knowledge()
    full = f"{module}.{name}"
    if any(toggle in full for toggle in known.toggles):
        return TOGGLE, ""
    parts = full.split(".")
    root = known.aliases.get(parts[0], parts[0])
    if root in known.unsafe_roots:
        return UNSAFE, ""
    if root == "builtins":
        # How Keras 3 writes any function: only real builtins are a danger.
        return (UNSAFE, "") if name in known.unsafe_builtins else None
    if root in known.local:
        return None  # the loading program's own module: nothing new is imported
    if root in known.trusted:
        for tail, verb in known.loaders.values():
            if tuple(parts[-len(tail):]) == tail:
                return LOADER, verb
        for part in parts[1:]:
            member = known.framework_members.get(part)
            if member is not None:
                return UNSAFE, member
        return None
    return FOREIGN, ""


def _string_reference(text: str) -> tuple[str, str, str] | None:
    """(kind, ref, detail) when a plain string names something dangerous."""
    if _toggle_pattern().search(text):
        return TOGGLE, _shorten(text), ""
    if "." not in text or len(text) > MAX_NAME_LENGTH or not _DOTTED.fullmatch(text):
        return None
    module, _, name = text.rpartition(".")
    found = classify(module, name)
    # A dotted string outside Keras may be anything (a file name, a version):
    # only what is dangerous by name counts.
    if found is None or found[0] == FOREIGN:
        return None
    return found[0], text, found[1]


@cache
def _toggle_pattern() -> re.Pattern[str]:
    return re.compile("|".join(map(re.escape, knowledge().toggles)))


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- the walk -----------------------------------------------------------------------------------


def _path_text(cell: tuple | None) -> str:
    """A key path kept as cons cells ``(key, parent)``, as ``a.b[2].c``."""
    keys = []
    while cell is not None:
        keys.append(cell[0])
        cell = cell[1]
    keys.reverse()
    if keys and keys[0] == "config":
        keys = keys[1:]  # the owner's own config: its keys are what users know
    text = ""
    for key in keys:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else str(key))
    return text


class _Walker:
    def __init__(self, graph: ModelGraph, limit: int) -> None:
        self.scan = ConfigScan(limit=limit)
        self.limit = limit
        # Node options are the layer configs of the parsed document itself.
        self.nodes: dict[int, Node] = {}
        for node in graph.nodes():
            self.nodes.setdefault(id(node.options), node)
        self.owners: list[tuple[str, Node | None]] = []
        # (value, path cell, owner index, in wiring subtree)
        self.stack: list[tuple[Any, tuple | None, int, bool]] = []
        self.known = knowledge()
        self.toggles = _toggle_pattern()

    def add(self, kind: str, owner: int, cell: tuple | None, ref: str, detail: str = "") -> None:
        label, node = self.owners[owner]
        self.scan.findings[kind].append(Finding(kind, node, label, _path_text(cell), ref, detail))

    def run(self, document: Any, label: str, node: Node | None = None) -> None:
        self.owners.append((label, node))
        self.stack.append((document, None, len(self.owners) - 1, False))
        scan, stack = self.scan, self.stack
        while stack:
            value, cell, owner, wiring = stack.pop()
            scan.values += 1
            if scan.values > self.limit:
                scan.complete = False
                stack.clear()
                return
            if isinstance(value, dict):
                self.visit_dict(value, cell, owner, wiring)
            else:  # a list
                for index, item in enumerate(value):
                    if isinstance(item, dict | list):
                        stack.append((item, (index, cell), owner, wiring))
                    elif isinstance(item, str) and not wiring:
                        self.check_string(item, owner, (index, cell))
                scan.values += len(value)

    def owner_of(self, value: dict[str, Any], cell: tuple | None, owner: int) -> int:
        """A new owner index when ``value`` is a layer or model entry, else ``owner``."""
        class_name = value.get("class_name")
        config = value.get("config")
        if not isinstance(class_name, str) or not isinstance(config, dict | list):
            return owner
        node = self.nodes.get(id(config))
        parent_key = cell[1][0] if cell is not None and cell[1] is not None else None
        is_entry = (
            node is not None
            or (cell is not None and isinstance(cell[0], int) and parent_key == "layers")
            or (cell is not None and cell[0] in ("layer", "backward_layer"))
        )
        if not is_entry:
            return owner
        name = value.get("name")
        if not isinstance(name, str) and isinstance(config, dict):
            name = config.get("name")
        kind = "model" if class_name in MODEL_CLASSES else "layer"
        label = (f"{kind} '{name}' ({class_name})" if isinstance(name, str)
                 else f"{kind} {class_name}")
        self.owners.append((label, node or self.owners[owner][1]))
        return len(self.owners) - 1

    def visit_dict(self, value: dict[str, Any], cell: tuple | None, owner: int,
                   wiring: bool) -> None:
        entry_owner = self.owner_of(value, cell, owner)
        if entry_owner != owner:
            owner, cell = entry_owner, None
        # Keys whose strings were read as part of a reference, and keys done with.
        read: frozenset[str] | set[str] = _NOTHING
        done: frozenset[str] | set[str] = _NOTHING
        class_name = value.get("class_name")
        if class_name.__class__ is str:
            if class_name == "__lambda__":
                self.add(BYTECODE, owner, cell, "")
                return  # its config is the code: nothing else to read
            if self.check_object(value, owner, cell):
                read = _OBJECT_KEYS
            config = value.get("config")
            if config.__class__ is dict:
                bare = bare_name(class_name)
                if bare == "Lambda":
                    config_cell = ("config", cell)
                    handled = self.check_lambda(config, owner, config_cell)
                    self.push_children(config, config_cell, owner, wiring, _NOTHING, handled)
                    done = {"config"}
                if bare in self.known.file_keys:
                    self.check_file_keys(bare, config, owner, ("config", cell))
        if not _LAMBDA_TYPE_KEYS.isdisjoint(value):
            done = {*done, *self.check_lambda(value, owner, cell)}
        self.push_children(value, cell, owner, wiring, read, done)

    def push_children(self, value: dict[str, Any], cell: tuple | None, owner: int,
                      wiring: bool, read: frozenset[str] | set[str],
                      done: frozenset[str] | set[str]) -> None:
        # The keys of a dict, tested for a toggle in one search (JSON keys are strings).
        if self.toggles.search("\0".join(value)):
            for key in value:
                if self.toggles.search(key):
                    self.add(TOGGLE, owner, (key, cell), key)
        skip = read | done | _NAME_KEYS if read or done else _NAME_KEYS
        push = self.stack.append
        for key, item in value.items():
            kind = type(item)
            if kind is dict or kind is list:
                if key not in done:
                    push((item, (key, cell), owner, wiring or key in _WIRING_KEYS))
            elif kind is str and not wiring and key not in skip:
                found = _string_reference(item)
                if found is not None:
                    self.add(found[0], owner, (key, cell), found[1], found[2])
        self.scan.values += len(value)

    def check_string(self, text: str, owner: int, cell: tuple) -> None:
        found = _string_reference(text)
        if found is not None:
            kind, ref, detail = found
            self.add(kind, owner, cell, ref, detail)

    def check_object(self, value: dict[str, Any], owner: int, cell: tuple | None) -> bool:
        """An object naming the module Keras finds it in; True when it was one."""
        if not value.get("module"):
            return False  # most objects, and every tensor of the wiring: nothing to resolve
        reference = resolve_object(value)
        if reference is None or reference.module is None:
            return False
        module, name = reference.module, reference.name
        found = classify(module, name)
        if found is not None:
            kind, detail = found
            self.add(kind, owner, cell, module if kind == FOREIGN else f"{module}.{name}", detail)
        return True

    def check_lambda(self, config: dict[str, Any], owner: int, cell: tuple | None) -> set[str]:
        """The function slots of a Lambda config; returns the keys it has dealt with."""
        handled: set[str] = set()
        for key, type_key, module_key in _LAMBDA_SLOTS:
            if key not in config:
                continue
            value, kind = config[key], config.get(type_key)
            where = (key, cell)
            if kind == "lambda":  # tf.keras: [code, defaults, closure] or the code itself
                self.add(BYTECODE, owner, where, "")
            elif kind == "function" and isinstance(value, str):
                # tf.keras looks the name up in an already imported module.
                module = config.get(module_key)
                module = module if isinstance(module, str) and module else "__main__"
                found = classify(module, value)
                if found is None or found[0] == FOREIGN:
                    self.add(NAMED_FUNCTION, owner, where, f"{module}.{value}")
                else:
                    self.add(found[0], owner, where, f"{module}.{value}", found[1])
            elif isinstance(value, dict) and value.get("class_name") == "__lambda__":
                self.add(BYTECODE, owner, where, "")
            elif isinstance(value, dict) and value.get("class_name") == "function":
                function = resolve_object(value)
                module, label = (function.module, function.name) if function else (None, "?")
                found = classify(module, label) if module is not None else None
                if module is None or found is None:
                    self.add(NAMED_FUNCTION, owner, where, label)
                else:
                    kind_found, detail = found
                    ref = module if kind_found == FOREIGN else f"{module}.{label}"
                    self.add(kind_found, owner, where, ref, detail)
            else:
                continue
            handled.update((key, type_key, module_key))
        return handled

    def check_file_keys(self, class_name: str, config: dict[str, Any], owner: int,
                        cell: tuple | None) -> None:
        for key in self.known.file_keys.get(class_name, ()):
            value = config.get(key)
            if isinstance(value, str) and value:
                self.add(FILE, owner, (key, cell), _shorten(value), key)


def scan_keras_config(graph: ModelGraph, target: str) -> ConfigScan:
    """Audit the model config (and training config) of a Keras graph; empty for TFLite."""
    documents = graph.facts.get("keras_config") or {}
    walker = _Walker(graph, MAX_VALUES)
    model = documents.get("model")
    if model is not None:
        name = graph.facts.get("keras", {}).get("model_name") or "model"
        walker.run(model, f"model '{name}'")
    training = documents.get("training")
    if training is not None and walker.scan.complete:
        walker.run(training, "training config")
    return walker.scan
