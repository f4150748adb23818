"""What the code of a Lambda, a custom layer or a custom activation converts to.

The code is read, never run: a Lambda's marshalled bytecode is disassembled in
a watched child process (:func:`tflint.bytecode.read_programs`), a custom
class's ``call()`` and a custom activation function are read with ``ast`` from
the project's source folders (``--source``).  Both give a dataflow program
(:mod:`tflint.dataflow`); each of its steps is looked up in the measured
function-lowering table (``tflint/data/function_lowering.json``) to predict the
TFLite ops, the Select TF ops and which ops XNNPACK takes.  A program that
computes exactly what a built-in Keras layer computes is recognised
(:func:`builtin_equivalent`), so that the fixer can put the built-in in its place.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tflint import data as _data
from tflint.dataflow import Program, Ref, from_function_source, import_aliases
from tflint.graph import ModelGraph, Node

if TYPE_CHECKING:
    from tflint.analyses.keras_prediction import LayerPrediction, Lowering

TABLE = "function_lowering.json"
#: Python files read at most when a class is searched for by name in the source folders.
MAX_SCANNED_FILES = 2000
MAX_SOURCE_BYTES = 4 << 20
#: Functions whose operands may be swapped.
COMMUTATIVE = frozenset({"add", "multiply", "maximum", "minimum", "equal", "not_equal"})
COMPARISONS = frozenset({"greater", "less", "greater_equal", "less_equal", "equal",
                         "not_equal"})
DTYPE_NAMES = frozenset({"float16", "float32", "float64", "int8", "int16", "int32", "int64",
                         "uint8", "bool", "bfloat16"})


@dataclass
class CodeReading:
    """What was read of one layer's code, for the prediction and the rules."""

    #: ``bytecode``, or the source file the class or function was found in.
    source: str
    program: Program | None = None
    #: Why the code could not be read at all (not found, another Python version...).
    problem: str | None = None
    #: Where the source of a custom class or function was looked for.
    looked_in: list[str] = field(default_factory=list)

    @property
    def expression(self) -> str:
        return self.program.render() if self.program is not None else "?"


# -- the table --------------------------------------------------------------------------------


@cache
def table_index() -> dict[tuple[str, str, str], dict[str, Any]]:
    index: dict[tuple[str, str, str], dict[str, Any]] = {}
    for entry in _data.load(TABLE)["entries"]:
        index.setdefault((entry["function"], entry["form"], entry["dtype"]), entry)
    return index


def known_functions() -> frozenset[str]:
    return frozenset(key[0] for key in table_index())


def lookup(function: str, form: str, dtype: str) -> dict[str, Any] | None:
    """The table entry for a function applied to operands of ``form``: the exact form
    first, then the form without trailing constants (``leaky_relu(x, 0.2)``), then any."""
    index = table_index()
    for candidate_dtype in dict.fromkeys((dtype, "float32")):
        for candidate_form in dict.fromkeys((form, form.rstrip("c"), form[:1])):
            found = index.get((function, candidate_form, candidate_dtype))
            if found is not None:
                return found
    for key, entry in index.items():
        if key[0] == function and key[2] == dtype:
            return entry
    return next((e for k, e in index.items() if k[0] == function), None)


# -- reading the code -------------------------------------------------------------------------


def _document_layers(graph: ModelGraph) -> dict[str, dict[str, Any]]:
    """Layer entries of the model config by layer name (module, registered_name)."""
    found: dict[str, dict[str, Any]] = {}
    model = (graph.facts.get("keras_config") or {}).get("model")
    pending: list[Any] = [model]
    budget = 200_000
    while pending and budget > 0:
        budget -= 1
        value = pending.pop()
        if isinstance(value, dict):
            config = value.get("config")
            if isinstance(config, dict) and isinstance(config.get("name"), str) \
                    and "class_name" in value:
                found.setdefault(config["name"], value)
            pending.extend(v for v in value.values() if isinstance(v, dict | list))
        elif isinstance(value, list):
            pending.extend(v for v in value if isinstance(v, dict | list))
    return found


def _lambda_code_text(node: Node) -> tuple[str | None, str | None]:
    """(base64 code, named function) of a Lambda's ``function`` slot."""
    value = node.options.get("function")
    kind = node.options.get("function_type")
    if kind == "lambda" or (isinstance(value, dict) and value.get("class_name") == "__lambda__"):
        if isinstance(value, dict):
            value = value.get("config")
            value = value.get("code") if isinstance(value, dict) else value
        if isinstance(value, list) and value:
            value = value[0]
        return (value if isinstance(value, str) else None), None
    if kind == "function" and isinstance(value, str):
        return None, value
    if isinstance(value, dict) and value.get("class_name") == "function":
        name = value.get("config")
        return None, name if isinstance(name, str) else None
    return None, None


def read_lambdas(graph: ModelGraph) -> dict[str, CodeReading]:
    """Every Lambda's program, by node id; all bytecode read in one child process."""
    from tflint.bytecode import read_programs, running_version

    readings: dict[str, CodeReading] = {}
    pending: list[tuple[str, str]] = []
    for node in graph.nodes():
        if node.origin != "lambda":
            continue
        code, named = _lambda_code_text(node)
        if code is not None:
            pending.append((node.id, code))
        elif named is not None:
            readings[node.id] = CodeReading("source", problem=f"it calls function '{named}' by "
                                            "name, whose source was not read")
        else:
            readings[node.id] = CodeReading("bytecode", problem="no code stored")
    results = read_programs([code for _, code in pending]) if pending else []
    for (node_id, _), result in zip(pending, results, strict=True):
        if "needs" in result:
            readings[node_id] = CodeReading(
                "bytecode", problem=f"its bytecode was compiled for Python {result['needs']}, "
                f"which this Python ({running_version()}) cannot read; lint with Python "
                f"{result['needs']}")
        elif "error" in result:
            readings[node_id] = CodeReading(
                "bytecode", problem=f"its bytecode cannot be read ({result['error']})")
        else:
            readings[node_id] = CodeReading("bytecode", Program.from_dict(result["program"]))
    return readings


@cache  # one walk per process and set of folders
def _python_files(folders: tuple[str, ...]) -> tuple[Path, ...]:
    files: list[Path] = []
    for folder in folders:
        for root, dirs, names in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in (
                "__pycache__", "node_modules", "build", "dist", "site-packages", "venv"))
            files += [Path(root) / n for n in sorted(names) if n.endswith(".py")]
            if len(files) >= MAX_SCANNED_FILES:
                return tuple(files[:MAX_SCANNED_FILES])
    return tuple(files)


@cache
def _parsed(path: str, mtime: int, size: int) -> ast.Module | None:
    if size > MAX_SOURCE_BYTES:
        return None
    try:
        return ast.parse(Path(path).read_bytes(), filename=path)
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def parse_file(path: Path) -> ast.Module | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return _parsed(str(path), status.st_mtime_ns, status.st_size)


def _mentions(path: Path, words: list[bytes]) -> bool:
    try:
        if path.stat().st_size > MAX_SOURCE_BYTES:
            return False
        text = path.read_bytes()
    except OSError:
        return False
    return any(word in text for word in words)


def _registered_as(definition: ast.ClassDef | ast.FunctionDef) -> str | None:
    """``Package>Name`` of a ``register_keras_serializable(package=..., name=...)`` decorator."""
    for decorator in definition.decorator_list:
        if not isinstance(decorator, ast.Call):
            continue
        called = ast.unparse(decorator.func)
        if not called.endswith(("register_keras_serializable", "register_serializable")):
            continue
        values = {k.arg: k.value.value for k in decorator.keywords
                  if isinstance(k.value, ast.Constant) and isinstance(k.value.value, str)}
        positional = [a.value for a in decorator.args
                      if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        package = values.get("package", positional[0] if positional else "Custom")
        name = values.get("name", positional[1] if len(positional) > 1 else definition.name)
        return f"{package}>{name}"
    return None


def find_source(module: str | None, name: str, registered: str | None,
                folders: tuple[str, ...], kind: type) -> tuple[Path, ast.Module, Any] | None:
    """The file and definition (class or function) a config names: the module's file
    first, then every Python file of the folders, matched by registered name or name."""
    candidates: list[Path] = []
    if module and all(part.isidentifier() for part in module.split(".")):
        parts = module.split(".")
        for folder in folders:
            for base in (Path(folder), Path(folder) / "src"):
                candidates += [base.joinpath(*parts).with_suffix(".py"),
                               base.joinpath(*parts, "__init__.py")]
    named = len(candidates)
    candidates += _python_files(folders)
    keyword = b"class " if kind is ast.ClassDef else b"def "
    wanted = [keyword + name.encode()]
    if registered:
        wanted.append(registered.rsplit(">", 1)[-1].encode())
    seen: set[Path] = set()
    for position, path in enumerate(candidates):
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        if position >= named and not _mentions(path, wanted):
            continue  # a file of the folders that cannot define it: not parsed
        tree = parse_file(path)
        if tree is None:
            continue
        for definition in tree.body:
            if not isinstance(definition, ast.ClassDef | ast.FunctionDef) \
                    or not isinstance(definition, kind):
                continue
            registered_here = _registered_as(definition)
            if (registered and registered_here == registered) or definition.name == name:
                return path, tree, definition
    return None


def _method(tree: ast.Module, cls: ast.ClassDef, name: str,
            depth: int = 0) -> ast.FunctionDef | None:
    """A method of ``cls`` or of a base class defined in the same file."""
    for item in cls.body:
        if isinstance(item, ast.FunctionDef) and item.name == name:
            return item
    if depth > 5:
        return None
    classes = {c.name: c for c in tree.body if isinstance(c, ast.ClassDef)}
    for base in cls.bases:
        if isinstance(base, ast.Name) and base.id in classes:
            found = _method(tree, classes[base.id], name, depth + 1)
            if found is not None:
                return found
    return None


def _init_attributes(tree: ast.Module, cls: ast.ClassDef,
                     config: dict[str, Any]) -> dict[str, Any]:
    """``self.NAME`` values set in ``__init__``: a constant, or a parameter read from the
    layer config (or its default)."""
    init = _method(tree, cls, "__init__")
    if init is None:
        return {}
    defaults: dict[str, Any] = {}
    positional = init.args.args[len(init.args.args) - len(init.args.defaults):]
    for arg, default in [*zip(positional, init.args.defaults, strict=True),
                         *zip(init.args.kwonlyargs, init.args.kw_defaults, strict=True)]:
        if isinstance(default, ast.Constant):
            defaults[arg.arg] = default.value
    values: dict[str, Any] = {}
    for statement in ast.walk(init):
        if not isinstance(statement, ast.Assign) or len(statement.targets) != 1:
            continue
        target = statement.targets[0]
        if not (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                and target.value.id == "self"):
            continue
        value = statement.value
        if isinstance(value, ast.Constant):
            values[target.attr] = value.value
        elif isinstance(value, ast.Name):
            if value.id in config:
                values[target.attr] = config[value.id]
            elif value.id in defaults:
                values[target.attr] = defaults[value.id]
        elif (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
              and value.func.id == "float" and len(value.args) == 1
              and isinstance(value.args[0], ast.Name)):
            name = value.args[0].id
            found = config.get(name, defaults.get(name))
            if isinstance(found, int | float):
                values[target.attr] = float(found)
    return values


def folders_text(folders: list[str]) -> str:
    """The folders as the user would name them: relative to the working folder when inside it
    (so that a report reads the same wherever the project is checked out)."""
    shown = []
    for folder in folders:
        try:
            relative = os.path.relpath(folder)
        except ValueError:  # another drive
            relative = folder
        shown.append(folder if relative.startswith("..") else relative)
    return ", ".join(shown) or "(none)"


def read_custom_class(node: Node, entry: dict[str, Any] | None,
                      folders: tuple[str, ...]) -> CodeReading:
    module = entry.get("module") if entry else None
    registered = entry.get("registered_name") if entry else None
    class_name = node.op_type.rsplit(">", 1)[-1]
    if isinstance(registered, str) and ">" not in registered:
        registered = None
    if registered is None and entry and ">" in str(entry.get("class_name", "")):
        registered = str(entry["class_name"])
    found = find_source(module if isinstance(module, str) else None, class_name, registered,
                        folders, ast.ClassDef)
    looked = list(folders)
    if found is None:
        what = f"module {module!r}, " if isinstance(module, str) else ""
        return CodeReading("source", problem=(
            f"its class {class_name} ({what}registered as {registered or class_name}) was not "
            f"found in the source folders {folders_text(looked)}"),
            looked_in=looked)
    path, tree, cls = found
    call = _method(tree, cls, "call")
    if call is None:
        return CodeReading(str(path), problem=f"class {cls.name} in {path} has no call()",
                           looked_in=looked)
    program = from_function_source(call, import_aliases(tree), is_method=True)
    attributes = {**_init_attributes(tree, cls, node.options), **{
        k: v for k, v in node.options.items() if isinstance(v, int | float | str)}}
    _resolve_attributes(program, attributes)
    return CodeReading(str(path), program, looked_in=looked)


def read_custom_function(reference: dict[str, Any] | str,
                         folders: tuple[str, ...]) -> CodeReading:
    """A custom activation function named by a layer's ``activation``."""
    module: Any
    registered: Any
    if isinstance(reference, str):
        module, registered, name = None, reference, reference.rsplit(">", 1)[-1]
    else:
        module = reference.get("module")
        registered = reference.get("registered_name")
        configured = reference.get("config")
        name = configured if isinstance(configured, str) else str(
            reference.get("class_name", "?"))
    if not isinstance(registered, str) or ">" not in registered:
        registered = None
    if ">" in name:  # Keras writes a registered function's name as "Package>name"
        registered, name = registered or name, name.rsplit(">", 1)[-1]
    found = find_source(module if isinstance(module, str) else None, name, registered,
                        folders, ast.FunctionDef)
    looked = list(folders)
    if found is None:
        return CodeReading("source", problem=(
            f"its function {name} was not found in the source folders "
            f"{folders_text(looked)}"), looked_in=looked)
    path, tree, function = found
    program = from_function_source(function, import_aliases(tree))
    return CodeReading(str(path), program, looked_in=looked)


def _resolve_attributes(program: Program, values: dict[str, Any]) -> None:
    def resolve(ref: Any) -> Any:
        if isinstance(ref, list) and ref and ref[0] == "attr":
            if ref[1] in values:
                return ["const", values[ref[1]]]
            if f"self.{ref[1]}" not in program.unknown:
                program.unknown.append(f"self.{ref[1]}")
            return ref
        if isinstance(ref, list) and ref and ref[0] == "list":
            return ["list", [resolve(r) for r in ref[1]]]
        return ref

    for step in program.steps:
        step["args"] = [resolve(a) for a in step["args"]]
        step["kwargs"] = {k: resolve(v) for k, v in step["kwargs"].items()}
    if program.result is not None:
        program.result = resolve(program.result)


# -- from a program to TFLite ops -----------------------------------------------------------


@dataclass
class _Value:
    kind: str  # t: run-time tensor, c: constant, s: run-time shape value, l: list
    dtype: str = "float32"
    #: Ops of the layer's lowering whose output this value is (empty: the layer input).
    exits: list[int] = field(default_factory=list)
    constant: Any = None


def lower_program(program: Program, input_dtypes: list[str], dynamic: bool
                  ) -> tuple[Lowering, list[str]]:
    """The ops a program becomes, and what in it the table does not know."""
    from tflint.analyses.keras_prediction import Lowering

    lowering = Lowering()
    missing: list[str] = []
    values: dict[int, _Value] = {}

    def value(ref: Ref) -> _Value:
        kind = ref[0]
        if kind == "in":
            index = ref[1]
            return _Value("t", input_dtypes[index] if index < len(input_dtypes) else "float32")
        if kind == "step":
            return values[ref[1]]
        if kind == "list":
            items = [value(r) for r in ref[1]]
            runtime = [v for v in items if v.kind != "c"]
            if not runtime:
                return _Value("c", constant=[v.constant for v in items])
            return _Value("l", runtime[0].dtype, sorted({e for v in runtime for e in v.exits}))
        return _Value("c", constant=ref[1] if kind == "const" else None)

    for index, step in enumerate(program.steps):
        fn = step["fn"]
        args = [value(a) for a in step["args"]]
        kwargs = {k: value(v) for k, v in step["kwargs"].items()}
        runtime = [a for a in args if a.kind != "c"]
        if not runtime:
            values[index] = _Value("c")  # computed by the converter: no op
            continue
        if fn == "shape":
            values[index] = _Value("s", "int32") if dynamic else _Value("c")
            if not dynamic:
                continue
        form_letters = ["t" if a.kind == "t" else a.kind for a in args]
        if fn in COMMUTATIVE and len(form_letters) == 2 and form_letters[0] == "c":
            form_letters.reverse()
        form = "".join(form_letters)
        dtype = next((a.dtype for a in runtime if a.dtype in ("float32", "int32")), "float32")
        entry = lookup(fn, form, dtype)
        if entry is None:
            missing.append(program.spelled[index] if index < len(program.spelled) else fn)
            values[index] = _Value("t", dtype)
            continue
        data = entry["dynamic" if dynamic else "static"]
        upstream = sorted({e for a in runtime for e in a.exits})
        base = len(lowering.ops)
        for op, on, deps in zip(data["ops"], data["delegated"], data["deps"], strict=True):
            lowering.ops.append(op)
            lowering.delegated.append(bool(on))
            lowering.deps.append([base + d for d in deps] if deps else list(upstream))
        lowering.flex_ops += data["flex_ops"]
        lowering.converts_builtin = lowering.converts_builtin and data["converts_builtin"]
        read = {d for deps in data["deps"] for d in deps}
        exits = [base + i for i in range(len(data["ops"])) if i not in read] or upstream
        result_dtype = _result_dtype(fn, args, kwargs, dtype)
        kind = "s" if any(a.kind == "s" for a in runtime) and fn != "reshape" else "t"
        values[index] = _Value(kind, result_dtype, exits)
    return lowering, missing


def _result_dtype(fn: str, args: list[_Value], kwargs: dict[str, _Value], dtype: str) -> str:
    if fn in COMPARISONS:
        return "bool"
    if fn == "shape":
        return "int32"
    if fn == "where" and len(args) > 1:
        return args[1].dtype if args[1].kind != "c" else dtype
    if fn == "cast":
        target = args[1] if len(args) > 1 else kwargs.get("dtype")
        if target is not None and isinstance(target.constant, str):
            return target.constant.rsplit(".", 1)[-1]
    return dtype


# -- built-in layers computing the same function ----------------------------------------------


@dataclass(frozen=True)
class Equivalent:
    class_name: str
    config: dict[str, Any]
    #: The program computes exactly what the built-in computes.
    exact: bool


def builtin_equivalent(program: Program, flavor: str) -> Equivalent | None:
    """The built-in Keras layer computing the program's function, if one is recognised."""
    if not program.understood or len(program.params) < 1 or program.result is None:
        return None
    shape = _Shape(program)
    found = shape.match(program.result)
    if found is None:
        return None
    name, parameter = found
    if name == "leaky_relu":
        key = "negative_slope" if flavor == "keras3" else "alpha"
        return Equivalent("LeakyReLU", {key: float(parameter or 0.0)}, True)
    if name == "relu":
        return Equivalent("ReLU", {}, True)
    if name == "relu6":
        return Equivalent("ReLU", {"max_value": 6.0}, True)
    if name == "silu":
        return Equivalent("Activation", {"activation": "silu" if flavor == "keras3" else "swish"},
                          True)
    if name == "hard_silu":
        if flavor == "keras3":
            return Equivalent("Activation", {"activation": "hard_silu"}, True)
        return None  # tf_keras has no hard-swish activation
    return Equivalent("Activation", {"activation": name}, True)


#: Single-call functions that are a Keras activation of the same name.
_ACTIVATION_CALLS = {"sigmoid": "sigmoid", "tanh": "tanh", "softplus": "softplus",
                     "elu": "elu", "selu": "selu", "exp": "exponential"}


class _Shape:
    """Structural matching of a program against the built-in activations."""

    def __init__(self, program: Program) -> None:
        self.program = program

    def step(self, ref: Ref) -> dict[str, Any] | None:
        if ref[0] != "step":
            return None
        return self.program.steps[ref[1]]

    @staticmethod
    def is_x(ref: Ref) -> bool:
        return ref == ["in", 0]

    @staticmethod
    def number(ref: Ref) -> float | None:
        if ref[0] == "const" and isinstance(ref[1], int | float) and not isinstance(ref[1], bool):
            return float(ref[1])
        return None

    def call(self, ref: Ref, fn: str, arity: int | None = None) -> list[Ref] | None:
        step = self.step(ref)
        if step is None or step["fn"] != fn or step["kwargs"]:
            return None
        if arity is not None and len(step["args"]) != arity:
            return None
        return list(step["args"])

    def scaled_x(self, ref: Ref) -> float | None:
        """``a * x`` or ``x * a``: a."""
        args = self.call(ref, "multiply", 2)
        if args is None:
            return None
        for first, second in (args, args[::-1]):
            if self.is_x(second) and self.number(first) is not None:
                return self.number(first)
        return None

    def x_versus_zero(self, ref: Ref) -> str | None:
        """``x > 0`` as ``>``, ``0 < x`` as ``>`` too."""
        step = self.step(ref)
        if step is None or len(step["args"]) != 2 or step["kwargs"]:
            return None
        left, right = step["args"]
        flipped = {"greater": "less", "less": "greater", "greater_equal": "less_equal",
                   "less_equal": "greater_equal"}
        if self.is_x(left) and self.number(right) == 0.0:
            return step["fn"]
        if self.is_x(right) and self.number(left) == 0.0:
            return flipped.get(step["fn"])
        return None

    def match(self, ref: Ref) -> tuple[str, float | None] | None:
        step = self.step(ref)
        if step is None:
            return None
        fn, args = step["fn"], step["args"]
        if fn in ("relu", "relu6", "silu", "gelu", "hard_silu", "softmax") and len(args) == 1 \
                and self.is_x(args[0]) and not step["kwargs"]:
            return fn, None
        if fn in _ACTIVATION_CALLS and len(args) == 1 and self.is_x(args[0]) \
                and not step["kwargs"]:
            return _ACTIVATION_CALLS[fn], None
        if fn == "leaky_relu" and args and self.is_x(args[0]):
            slope = self.number(args[1]) if len(args) > 1 else None
            if slope is None and "alpha" in step["kwargs"]:
                slope = self.number(step["kwargs"]["alpha"])
            if slope is None and len(args) == 1 and not step["kwargs"]:
                slope = 0.2
            return ("leaky_relu", slope) if slope is not None else None
        if fn == "where" and len(args) == 3 and not step["kwargs"]:
            test = self.x_versus_zero(args[0])
            if test in ("greater", "greater_equal") and self.is_x(args[1]):
                slope = self.scaled_x(args[2])
                if slope is not None:
                    return "leaky_relu", slope
            if test in ("less", "less_equal") and self.is_x(args[2]):
                slope = self.scaled_x(args[1])
                if slope is not None:
                    return "leaky_relu", slope
        if fn == "maximum" and len(args) == 2 and not step["kwargs"]:
            for first, second in (args, args[::-1]):
                if self.is_x(first) and self.number(second) == 0.0:
                    return "relu", None
                if self.is_x(first):
                    slope = self.scaled_x(second)
                    if slope is not None and 0.0 <= slope <= 1.0:
                        return "leaky_relu", slope
        if fn == "clip" and len(args) == 3 and self.is_x(args[0]) \
                and self.number(args[1]) == 0.0 and self.number(args[2]) == 6.0:
            return "relu6", None
        if fn == "minimum" and len(args) == 2:
            for first, second in (args, args[::-1]):
                if self.number(second) == 6.0 and self.match(first) == ("relu", None):
                    return "relu6", None
        if fn == "multiply" and len(args) == 2:
            for first, second in (args, args[::-1]):
                inner = self.call(second, "sigmoid", 1)
                if self.is_x(first) and inner is not None and self.is_x(inner[0]):
                    return "silu", None
        if fn == "truediv" and len(args) == 2 and self.number(args[1]) == 6.0:
            product = self.call(args[0], "multiply", 2)
            if product is not None:
                for first, second in (product, product[::-1]):
                    if self.is_x(first) and self._relu6_of_x_plus_3(second):
                        return "hard_silu", None
        if fn == "multiply" and len(args) == 2:
            # x * (relu6(x + 3) / 6)
            for first, second in (args, args[::-1]):
                quotient = self.call(second, "truediv", 2)
                if self.is_x(first) and quotient is not None \
                        and self.number(quotient[1]) == 6.0 \
                        and self._relu6_of_x_plus_3(quotient[0]):
                    return "hard_silu", None
        return None

    def _relu6_of_x_plus_3(self, ref: Ref) -> bool:
        inner = self.call(ref, "relu6", 1)
        if inner is None:
            return False
        total = self.call(inner[0], "add", 2)
        return total is not None and any(
            self.is_x(a) and self.number(b) == 3.0 for a, b in (total, total[::-1]))


# -- the hook the Keras prediction calls ------------------------------------------------------


def _readings(graph: ModelGraph) -> dict[str, CodeReading]:
    """Every Lambda and custom layer's reading, once per graph."""
    cached = graph.facts.get("_custom_code_readings")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    folders = tuple(graph.facts.get("source_folders") or ())
    readings = read_lambdas(graph)
    entries: dict[str, dict[str, Any]] | None = None
    for node in graph.nodes():
        if node.origin == "custom" and node.id not in readings:
            if entries is None:
                entries = _document_layers(graph)
            readings[node.id] = read_custom_class(node, entries.get(node.layer_name or ""),
                                                  folders)
    graph.facts["_custom_code_readings"] = readings
    return readings


def reading_of(graph: ModelGraph, node: Node) -> CodeReading | None:
    return _readings(graph).get(node.id)


def predict_custom_layer(graph: ModelGraph, node: Node, features: dict[str, Any],
                         dynamic: bool, flavor: str) -> LayerPrediction:
    """The prediction of a Lambda or custom layer from its code; opaque (saying why)
    when the code cannot be read or holds something the table does not know."""
    from tflint.analyses.keras_prediction import LayerPrediction, Lowering

    kind = "Lambda" if node.origin == "lambda" else "custom"
    reading = reading_of(graph, node)
    if reading is None or reading.program is None:
        problem = reading.problem if reading is not None else "its code was not found"
        return LayerPrediction(node, "opaque", Lowering(), features,
                               entry=_entry(node, reading, None, flavor),
                               reason=f"{kind} layer: {problem}")
    return _from_program(node, reading, features, dynamic, flavor, kind)


def predict_custom_activation(graph: ModelGraph, node: Node, features: dict[str, Any],
                              dynamic: bool, flavor: str, lowering: Lowering,
                              entry: dict[str, Any] | None) -> LayerPrediction:
    """A Conv/Dense layer with a custom activation: its own ops, then the function's."""
    from tflint.analyses.keras_prediction import LayerPrediction

    folders = tuple(graph.facts.get("source_folders") or ())
    reference = node.options.get("activation")
    name = features.get("activation", "custom:?")[7:]
    reading = read_custom_function(reference if isinstance(reference, dict | str) else name,
                                   folders)
    if reading.program is None or not reading.program.understood:
        problem = reading.problem or _not_understood(reading.program)
        return LayerPrediction(node, "opaque", lowering, features, entry,
                               reason=f"custom activation {name!r}: {problem}")
    dtypes = [t.dtype or "float32" for t in node.outputs] or ["float32"]
    part, missing = lower_program(reading.program, dtypes, dynamic)
    if missing:
        return LayerPrediction(node, "opaque", lowering, features, entry,
                               reason=f"custom activation {name!r} computes "
                               f"{reading.expression}: no lowering data for "
                               f"{', '.join(missing)}")
    lowering.extend(part)
    info = dict(entry or {})
    info["custom_code"] = _info(reading, builtin_equivalent(reading.program, flavor), "activation")
    return LayerPrediction(node, _status(lowering), lowering, features, info)


def _not_understood(program: Program | None) -> str:
    if program is None:
        return "its code was not read"
    if program.unknown:
        return "its code uses what tflint does not read: " + "; ".join(program.unknown[:3])
    return "its code returns no value"


def _status(lowering: Lowering) -> str:
    if not lowering.converts_builtin:
        return "flex"
    if not lowering.ops:
        return "gone"
    if not all(lowering.delegated):
        return "cpu"
    return "ok"


def _from_program(node: Node, reading: CodeReading, features: dict[str, Any], dynamic: bool,
                  flavor: str, kind: str) -> LayerPrediction:
    from tflint.analyses.keras_prediction import LayerPrediction, Lowering

    program = reading.program
    assert program is not None
    equivalent = builtin_equivalent(program, flavor)
    if not program.understood:
        return LayerPrediction(node, "opaque", Lowering(), features,
                               entry=_entry(node, reading, equivalent, flavor),
                               reason=f"{kind} layer: {_not_understood(program)}")
    dtypes = [t.dtype or "float32" for t in node.inputs] or ["float32"]
    lowering, missing = lower_program(program, dtypes, dynamic)
    entry = _entry(node, reading, equivalent, flavor)
    if missing:
        return LayerPrediction(node, "opaque", Lowering(), features, entry,
                               reason=f"{kind} layer computing {reading.expression}: no "
                               f"lowering data for {', '.join(dict.fromkeys(missing))}")
    static = lower_program(program, dtypes, False)[0] if dynamic else None
    return LayerPrediction(node, _status(lowering), lowering, features, entry,
                           static_lowering=static)


def _entry(node: Node, reading: CodeReading | None, equivalent: Equivalent | None,
           flavor: str) -> dict[str, Any]:
    return {"class": node.op_type,
            "custom_code": _info(reading, equivalent, "layer") if reading else {}}


def _info(reading: CodeReading, equivalent: Equivalent | None, part: str) -> dict[str, Any]:
    program = reading.program
    return {
        "part": part,
        "source": reading.source,
        "expression": reading.expression if program is not None else None,
        "understood": bool(program is not None and program.understood),
        "unknown": list(program.unknown) if program is not None else [],
        "problem": reading.problem,
        "looked_in": reading.looked_in,
        "equivalent": None if equivalent is None else {
            "class_name": equivalent.class_name, "config": equivalent.config,
            "exact": equivalent.exact},
    }


def custom_code_info(prediction: LayerPrediction) -> dict[str, Any] | None:
    """What was read of a layer's code, when the prediction came from it."""
    entry = prediction.entry
    if not entry:
        return None
    info = entry.get("custom_code")
    return info if info else None


# -- wording shared by the rules --------------------------------------------------------------


def placement_text(lowering: Lowering, title: str = "XNNPACK") -> str:
    """``GREATER, SELECT on the CPU; MUL on XNNPACK``."""
    from tflint.analyses.keras_prediction import histogram

    flex = [op for op in lowering.ops if op.startswith("Flex")]
    cpu = [op for op, on in zip(lowering.ops, lowering.delegated, strict=True)
           if not on and not op.startswith("Flex")]
    taken = [op for op, on in zip(lowering.ops, lowering.delegated, strict=True) if on]
    parts = []
    if flex:
        parts.append(f"{histogram(flex)} as Select TF ops")
    if cpu:
        parts.append(f"{histogram(cpu)} on the CPU")
    if taken:
        parts.append(f"{histogram(taken)} on {title}")
    return "; ".join(parts) or "no op"


def code_phrase(prediction: LayerPrediction) -> str | None:
    """``computes tf.where(x > 0, x, 0.2 * x)`` (with its activation, for a Conv/Dense)."""
    info = custom_code_info(prediction)
    if not info or not info.get("expression"):
        return None
    if info.get("part") == "activation":
        return f"has a custom activation computing {info['expression']}"
    return f"computes {info['expression']}"


def equivalent_fix(prediction: LayerPrediction) -> tuple[str, Any] | None:
    """(text, Fix) replacing the layer by the built-in computing the same function; safe
    only when the program matches the built-in exactly, constants included."""
    from tflint.analyses.keras_prediction import config_text
    from tflint.diagnostics import Fix

    info = custom_code_info(prediction)
    if not info or info.get("part") != "layer" or not info.get("equivalent"):
        return None
    equivalent = info["equivalent"]
    layer = prediction.layer
    text = config_text(equivalent["class_name"], equivalent["config"])
    return text, Fix("safe" if equivalent["exact"] else "unsafe", f"replace '{layer}' by {text}",
                     {"op": "replace_layer", "layer": layer,
                      "with": {"class_name": equivalent["class_name"],
                               "config": {"name": layer, **equivalent["config"]}}})
