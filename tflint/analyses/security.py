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
from dataclasses import dataclass, field, replace
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
PAYLOAD = "container-payload"  # a pickle, Python source or library in the archive
EXTERNAL_DATA = "hdf5-external-data"  # HDF5 data stored in or linked to other files
ERROR, WARNING = "error", "warning"
#: How bad each kind of reference is, worst first, to pick among a name's readings.
_RANK = {UNSAFE: 0, TOGGLE: 1, LOADER: 2, FOREIGN: 3}

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
    #: ``error`` or ``warning``: how sure the scan is that loading is dangerous.
    severity: str = ERROR
    #: What the scan needs later and the message does not show (a Lambda's code).
    payload: str = field(default="", compare=False, repr=False)

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
    #: APIs a Keras version refuses in a config: full name -> which Keras refuses it.
    refused_apis: dict[str, str]
    #: Per dialect, the keys a class and a function are looked up by in their module.
    class_names: frozenset[str]
    function_names: frozenset[str]
    tensor_modules: frozenset[str]
    safe_builtins: frozenset[str]
    obfuscation: dict[str, str]
    unsafe_attributes: frozenset[str]
    pickle_safe: frozenset[str]


@cache
def knowledge() -> _Knowledge:
    data = _data.load("unsafe_references.json")
    loaders = {
        name: (tuple(name.split(".")), verb) for name, verb in data["loaders"]["names"].items()
    }
    resolution = _data.load("keras_resolution.json")["dialects"]
    refused = {api: name for name, dialect in resolution.items()
               for api in dialect["refused_apis"]}
    lambda_code = data["lambda_code"]
    file_keys = {k: tuple(v) for k, v in data["file_reading_layers"]["layers"].items()}
    for layer, keys in _data.load("file_reading_keys.json")["layers"].items():
        file_keys[layer] = tuple(dict.fromkeys((*file_keys.get(layer, ()), *keys["keys"])))
    return _Knowledge(
        refused_apis=refused,
        class_names=frozenset(k for d in resolution.values() for k in d["class_names"]),
        function_names=frozenset(k for d in resolution.values() for k in d["function_names"]),
        tensor_modules=frozenset(lambda_code["tensor_modules"]),
        safe_builtins=frozenset(lambda_code["safe_builtins"]),
        obfuscation=dict(lambda_code["obfuscation"]),
        unsafe_attributes=frozenset(lambda_code["unsafe_attributes"]),
        pickle_safe=frozenset(data["pickle_safe_globals"]["names"]),
        trusted=frozenset(data["trusted_modules"]["roots"]),
        local=frozenset(data["local_modules"]["roots"]),
        aliases=dict(data["module_aliases"]),
        unsafe_roots=frozenset(data["unsafe_modules"]["roots"]),
        unsafe_builtins=frozenset(data["unsafe_builtins"]["names"]),
        framework_members=dict(data["unsafe_framework_members"]["names"]),
        toggles=tuple(data["toggles"]["names"]),
        loaders=loaders,
        file_keys=file_keys,
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
        verb = next((verb for tail, verb in known.loaders.values()
                     if tuple(parts[-len(tail):]) == tail), None)
        if full in known.refused_apis:
            return LOADER, (f"{verb or 'is no modeling API'}; Keras 3.9+ refuses it in a "
                            "config, older Keras and tf_keras call it")
        if verb is not None:
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

    def add(self, kind: str, owner: int, cell: tuple | None, ref: str, detail: str = "",
            payload: str = "") -> None:
        label, node = self.owners[owner]
        self.scan.findings[kind].append(
            Finding(kind, node, label, _path_text(cell), ref, detail, payload=payload))

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
        if scan.values > self.limit:  # the last container counted its items past the bound
            scan.complete = False

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
                self.add(BYTECODE, owner, cell, "", payload=_lambda_code(value.get("config")))
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
        module = reference.module
        worst: tuple[str, str, str] | None = None
        for name in lookup_names(value, reference.name):
            found = classify(module, name)
            if found is not None and (worst is None or _RANK[found[0]] < _RANK[worst[0]]):
                worst = (found[0], found[1], name)
        if worst is not None:
            kind, detail, name = worst
            self.add(kind, owner, cell, module if kind == FOREIGN else f"{module}.{name}", detail,
                     payload=name)
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
                self.add(BYTECODE, owner, where, "", payload=_lambda_code(value))
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
                self.add(BYTECODE, owner, where, "", payload=_lambda_code(value.get("config")))
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


def _lambda_code(value: Any) -> str:
    """The base64 code text of a Lambda function value, in either Keras' form."""
    if isinstance(value, dict):
        value = value.get("code")
    if isinstance(value, list) and value:
        value = value[0]
    return value if isinstance(value, str) else ""


def lookup_names(value: dict[str, Any], resolved: str) -> list[str]:
    """Every name some Keras looks an object up by in its module (``keras_resolution.json``).

    tf_keras falls back to ``registered_name`` when the class (or the
    function the config names) is not in the module, and reads
    ``Outer.inner`` as an attribute of ``Outer``.
    """
    known = knowledge()
    names = [resolved]
    registered = value.get("registered_name")
    is_function = value.get("class_name") == "function"
    fallback = "registered_name" in (known.function_names if is_function else known.class_names)
    if fallback and isinstance(registered, str) and registered and ">" not in registered:
        names.append(registered)
    return [name for name in dict.fromkeys(names) if name and len(name) <= MAX_NAME_LENGTH]


def scan_keras_config(graph: ModelGraph, target: str,
                      sources: tuple[str, ...] = ()) -> ConfigScan:
    """Audit the model config (and training config) of a Keras graph, and what its
    container holds besides; empty for TFLite.

    ``sources`` are the project's source folders: a custom object whose module
    is defined there is the project's own code, not a finding.
    """
    documents = graph.facts.get("keras_config") or {}
    walker = _Walker(graph, MAX_VALUES)
    model = documents.get("model")
    if model is not None:
        name = graph.facts.get("keras", {}).get("model_name") or "model"
        walker.run(model, f"model '{name}'")
    training = documents.get("training")
    if training is not None and walker.scan.complete:
        walker.run(training, "training config")
    scan = walker.scan
    _grade_foreign(scan, sources)
    _grade_bytecode(scan)
    _container_findings(scan, graph.facts.get("container_scan") or {})
    return scan


def _grade_foreign(scan: ConfigScan, sources: tuple[str, ...]) -> None:
    """A module of the project's own source is no finding; one found nowhere is a warning."""
    from tflint.project_source import find_definition

    graded = []
    for finding in scan.of(FOREIGN):
        name = finding.payload or finding.ref.rsplit(".", 1)[-1]
        if find_definition(finding.ref, name, sources) is not None:
            continue
        graded.append(replace(finding, severity=WARNING,
                              detail="not found in the project's source"))
    if FOREIGN in scan.findings:
        scan.findings[FOREIGN] = graded


def _grade_bytecode(scan: ConfigScan) -> None:
    """Read what each Lambda's code refers to (in a child process) and grade it."""
    from tflint.bytecode import profile_codes

    findings = scan.of(BYTECODE)
    if not findings:
        return
    profiles = profile_codes([f.payload for f in findings])
    scan.findings[BYTECODE] = [
        replace(finding, severity=severity, detail=detail)
        for finding, (severity, detail) in zip(findings, map(grade_code, profiles), strict=True)
    ]


def grade_code(profile: Any) -> tuple[str, str]:
    """(severity, what the code does) of a :class:`tflint.bytecode.CodeProfile`."""
    from tflint.bytecode import running_version

    known = knowledge()
    if profile.needs is not None:
        return ERROR, (f"compiled for Python {profile.needs}, which this Python "
                       f"({running_version()}) cannot read: what it does is unknown")
    if profile.error is not None:
        return ERROR, f"that cannot be read ({profile.error}): what it does is unknown"
    reasons: list[str] = []
    if profile.imports:
        reasons.append("imports " + ", ".join(profile.imports))
    for name in profile.globals:
        if name in known.obfuscation:
            reasons.append(f"uses {name} ({known.obfuscation[name]})")
        elif name in known.tensor_modules or name in known.safe_builtins:
            continue
        elif name in known.unsafe_builtins or known.aliases.get(name, name) in known.unsafe_roots:
            reasons.append(f"refers to {name}")
        else:
            reasons.append(f"refers to '{name}', not tensor math")
    for chain in profile.chains:
        parts = chain.split(".")
        bad = [part for part in parts[1:] if part in known.unsafe_attributes]
        if bad:
            reasons.append(f"calls {chain}")
    if profile.computed_attributes:
        reasons.append("calls getattr/setattr with a computed name")
    for text in profile.strings:
        found = _string_reference(text)
        if found is not None:
            reasons.append(f"names {found[1]}")
    if reasons:
        return ERROR, "that " + "; ".join(dict.fromkeys(reasons))
    used = [c for c in profile.chains if not c.startswith("?.")] or ["operators only"]
    return WARNING, "that refers only to tensor math (" + ", ".join(used[:6]) + ")"


_PAYLOAD_WORDS = {
    "python-source": "Python source",
    "pth": "a .pth file",
    "native": "native code",
    "python-bytecode": "compiled Python bytecode",
    "script": "an executable script",
}


def _container_findings(scan: ConfigScan, container: dict[str, Any]) -> None:
    """Judge what the loader found in the container besides the config."""
    owner = "the archive"
    for item in container.get("unsafe_names") or ():
        scan.findings[PAYLOAD].append(Finding(
            PAYLOAD, None, owner, "", _shorten(item["entry"]),
            f"has an unsafe path ({item['reason']}): extracting the archive writes outside "
            "its folder"))
    for item in container.get("entries") or ():
        entry, kind = _shorten(item["entry"]), item["kind"]
        if kind == "pickle":
            severity, detail = _judge_pickle(item)
            scan.findings[PAYLOAD].append(Finding(PAYLOAD, None, owner, "", entry, detail,
                                                  severity=severity))
        elif kind in _PAYLOAD_WORDS:
            scan.findings[PAYLOAD].append(Finding(
                PAYLOAD, None, owner, "", entry, f"is {item['what']}: code shipped with the "
                "model, which Keras never needs"))
        elif kind == "archive":
            scan.findings[PAYLOAD].append(Finding(
                PAYLOAD, None, owner, "", entry, "is a nested archive, not checked inside",
                severity=WARNING))
    for item in container.get("unread") or ():
        scan.findings[PAYLOAD].append(Finding(
            PAYLOAD, None, owner, "", _shorten(item["entry"]),
            f"was not checked ({item['reason']})", severity=WARNING))
    for item in container.get("hdf5") or ():
        where = item["file"] or "the HDF5 file"
        kind = item["kind"]
        if kind in ("unscanned", "unreadable"):
            detail, severity = f"could not be checked to the end ({item['target']})", WARNING
        else:
            detail, severity = _EXTERNAL_WORDS.get(kind, kind) + f" '{item['target']}'", ERROR
        scan.findings[EXTERNAL_DATA].append(Finding(
            EXTERNAL_DATA, None, where, "", _shorten(item["object"]), detail, severity=severity))


_EXTERNAL_WORDS = {
    "external-storage": "keeps its data in the external file",
    "external-link": "is an external link to",
    "virtual-dataset": "is a virtual dataset reading",
    "region-reference": "holds region references:",
}


def _judge_pickle(item: dict[str, Any]) -> tuple[str, str]:
    known = knowledge()
    what = item.get("what", "pickle")
    reasons: list[str] = []
    for module, name in item.get("globals") or ():
        if f"{module}.{name}" in known.pickle_safe:
            continue
        found = classify(module, name) if module and name else None
        verb = "calls" if found is not None and found[0] == UNSAFE else "imports"
        reasons.append(f"{verb} {module}.{name}")
    if item.get("computed_global"):
        reasons.append("imports a global whose name is computed")
    if item.get("error"):
        reasons.append(f"cannot be read to its end ({item['error']})")
    if reasons:
        return ERROR, (f"is a {what} that " + "; ".join(dict.fromkeys(reasons[:8]))
                       + " when unpickled")
    return WARNING, (f"is a {what} of plain data; Keras never reads it, but unpickling "
                     "runs whatever it names")
