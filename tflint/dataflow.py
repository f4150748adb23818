"""Recover the tensor computation of a Lambda or custom layer as a small dataflow program.

Two readers produce the same form: :func:`from_code` reads a code object's
instructions with ``dis`` (the code is never run: the caller unmarshals it in
a watched child process), :func:`from_function_source` reads a function's
``ast``.  A program is a list of steps, each a canonical tensor function
(``where``, ``multiply``, ``shape``, ``getitem``...) applied to references:

* ``["in", i]``: the function's i-th parameter (the layer's input);
* ``["step", k]``: the result of step k;
* ``["const", value]``: a Python constant (numbers, strings, None, tuples);
* ``["list", [refs]]``: a list or tuple built at run time;
* ``["attr", name]``: ``self.name`` of a custom layer, resolved from its config later.

What cannot be expressed (a branch, a call to a function that is not tensor math, a
closure variable) is recorded in ``unknown`` and makes the program not understood.
Everything here is JSON-serialisable, so that a program crosses the process border.
"""

from __future__ import annotations

import ast
import dis
import types
from dataclasses import dataclass, field
from typing import Any

Ref = list[Any]

#: Module names a tensor function is reached through, as users spell them.
TENSOR_ROOTS = frozenset({"tf", "tensorflow", "keras", "K", "ops", "backend", "tfm"})
#: Submodules between a root and a function name: ``tf.math.exp``, ``keras.ops.nn.relu``.
TENSOR_MODULES = frozenset({"math", "nn", "ops", "backend", "activations", "keras", "compat",
                            "v1", "v2", "numpy", "experimental"})
#: Other spellings of the same function.
SYNONYMS = {
    "mul": "multiply", "divide": "truediv", "div": "truediv", "true_divide": "truediv",
    "realdiv": "truediv", "sub": "subtract", "reduce_mean": "mean", "reduce_sum": "sum",
    "reduce_max": "max", "reduce_min": "min", "swish": "silu", "power": "pow",
    "clip_by_value": "clip", "concat": "concatenate", "select": "where", "select_v2": "where",
    "hard_swish": "hard_silu", "cumulative_sum": "cumsum", "cumulative_prod": "cumprod",
    "neg": "negative", "greater_than": "greater", "less_than": "less", "absolute": "abs",
    "logistic": "sigmoid", "maximum": "maximum", "minimum": "minimum",
}
#: Python operators, by their ``dis`` spelling, as canonical functions.
BINARY_OPERATORS = {
    "+": "add", "-": "subtract", "*": "multiply", "/": "truediv", "**": "pow", "@": "matmul",
    "//": "floordiv", "%": "mod",
}
COMPARISONS = {">": "greater", "<": "less", ">=": "greater_equal", "<=": "less_equal",
               "==": "equal", "!=": "not_equal"}
_AST_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**",
               ast.MatMult: "@", ast.FloorDiv: "//", ast.Mod: "%"}
_AST_COMPARE = {ast.Gt: ">", ast.Lt: "<", ast.GtE: ">=", ast.LtE: "<=", ast.Eq: "==",
                ast.NotEq: "!="}
#: Operators' Python spelling back, for rendering.
_OPERATOR_TEXT = {v: k for k, v in {**BINARY_OPERATORS, **COMPARISONS}.items()}
#: Instructions that move nothing the program needs.
_SKIPPED = frozenset({"RESUME", "NOP", "PUSH_NULL", "PRECALL", "CACHE", "EXTENDED_ARG",
                      "COPY_FREE_VARS", "MAKE_CELL"})
MAX_STEPS = 200


def canonical(chain: str) -> str | None:
    """``tf.math.cumprod`` -> ``cumprod``; None for a chain that is not rooted in a tensor
    module (``os.system``, ``my_helper``)."""
    parts = chain.split(".")
    if len(parts) < 2 or parts[0] not in TENSOR_ROOTS:
        return None
    rest = parts[1:]
    while len(rest) > 1 and rest[0] in TENSOR_MODULES:
        rest = rest[1:]
    if len(rest) != 1:
        return None
    return SYNONYMS.get(rest[0], rest[0])


@dataclass
class Program:
    """A tensor function as steps; ``unknown`` says what could not be read."""

    params: list[str] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    result: Ref | None = None
    unknown: list[str] = field(default_factory=list)
    #: Spelling of each step's function as written (``tf.where``, ``*``).
    spelled: list[str] = field(default_factory=list)

    @property
    def understood(self) -> bool:
        return not self.unknown and self.result is not None

    def add(self, fn: str, args: list[Ref], kwargs: dict[str, Ref] | None = None,
            spelled: str = "") -> Ref:
        if len(self.steps) >= MAX_STEPS:
            self.unknown.append(f"more than {MAX_STEPS} steps")
            return ["const", None]
        self.steps.append({"fn": fn, "args": args, "kwargs": kwargs or {}})
        self.spelled.append(spelled or fn)
        return ["step", len(self.steps) - 1]

    def to_dict(self) -> dict[str, Any]:
        return {"params": self.params, "steps": self.steps, "result": self.result,
                "unknown": self.unknown, "spelled": self.spelled}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Program:
        return cls(list(data.get("params", [])), list(data.get("steps", [])),
                   data.get("result"), list(data.get("unknown", [])),
                   list(data.get("spelled", [])))

    def render(self, ref: Ref | None = None) -> str:
        """The expression as Python: ``tf.where(x > 0, x, 0.2 * x)``."""
        if ref is None:
            ref = self.result
        if ref is None:
            return "?"
        kind = ref[0]
        if kind == "in":
            index = ref[1]
            return self.params[index] if index < len(self.params) else f"arg{index}"
        if kind == "const":
            return repr(ref[1])
        if kind == "attr":
            return f"self.{ref[1]}"
        if kind == "list":
            return "[" + ", ".join(self.render(r) for r in ref[1]) + "]"
        step = self.steps[ref[1]]
        fn, spelled = step["fn"], self.spelled[ref[1]]
        args = [self.render(a) for a in step["args"]]
        if fn in _OPERATOR_TEXT and spelled == _OPERATOR_TEXT[fn] and len(args) == 2:
            return f"{self._operand(step['args'][0])} {spelled} {self._operand(step['args'][1])}"
        if fn == "getitem" and spelled == "[]":
            return f"{self._operand(step['args'][0])}[{_index_text(step['args'][1])}]"
        if fn == "negative" and spelled == "-":
            return f"-{self._operand(step['args'][0])}"
        args += [f"{k}={self.render(v)}" for k, v in step["kwargs"].items()]
        return f"{spelled}({', '.join(args)})"

    def _operand(self, ref: Ref) -> str:
        """An operand, in parentheses when it is itself an operator expression."""
        text = self.render(ref)
        if ref[0] == "step":
            step = self.steps[ref[1]]
            if self.spelled[ref[1]] in (*_OPERATOR_TEXT.values(), "-") and step["fn"] != "getitem":
                return f"({text})"
        return text


def _index_text(ref: Ref) -> str:
    if ref[0] != "const":
        return "?"
    value = ref[1]
    is_slice = isinstance(value, tuple | list) and list(value[:1]) == ["slice"]
    items = value if isinstance(value, tuple | list) and not is_slice else (value,)
    return ", ".join(_slice_text(v) for v in items)


def _slice_text(value: Any) -> str:
    if isinstance(value, tuple | list) and list(value[:1]) == ["slice"]:
        lower, upper, step = [*value[1:], None, None, None][:3]
        text = f"{'' if lower is None else lower}:{'' if upper is None else upper}"
        return text + (f":{step}" if step is not None else "")
    return repr(value)


# -- bytecode ---------------------------------------------------------------------------------


def from_code(code: types.CodeType) -> Program:
    """The program of a code object, read instruction by instruction (never run)."""
    nparams = code.co_argcount + code.co_kwonlyargcount
    program = Program(params=list(code.co_varnames[:nparams]))
    params = {name: ["in", i] for i, name in enumerate(program.params)}
    local: dict[str, Ref] = {}
    stack: list[Any] = []
    kwnames: tuple[str, ...] = ()
    for instruction in dis.get_instructions(code):
        name, value = instruction.opname, instruction.argval
        if name in _SKIPPED:
            continue
        if program.unknown:
            break
        try:
            if name == "LOAD_FAST":
                stack.append(local.get(value) or params.get(value)
                             or _unknown(program, f"variable {value}"))
            elif name == "STORE_FAST":
                local[value] = _as_ref(stack.pop(), program)
            elif name == "LOAD_CONST":
                stack.append(["const", _constant(value)])
            elif name in ("LOAD_GLOBAL", "LOAD_NAME"):
                stack.append(("chain", str(value)))
            elif name in ("LOAD_ATTR", "LOAD_METHOD"):
                base = stack.pop()
                if isinstance(base, tuple) and base[0] == "chain":
                    stack.append(("chain", f"{base[1]}.{value}"))
                elif value == "shape" and name == "LOAD_ATTR":
                    stack.append(program.add("shape", [_as_ref(base, program)], spelled=".shape"))
                else:
                    stack.append(("method", str(value), base))
            elif name in ("LOAD_DEREF", "LOAD_CLOSURE", "LOAD_CLASSDEREF"):
                stack.append(_unknown(program, f"closure variable {value}"))
            elif name == "BINARY_OP":
                right, left = stack.pop(), stack.pop()
                symbol = instruction.argrepr.rstrip("=") or "?"
                fn = BINARY_OPERATORS.get(symbol)
                if fn is None:
                    stack.append(_unknown(program, f"operator {symbol}"))
                else:
                    stack.append(program.add(fn, [_as_ref(left, program), _as_ref(right, program)],
                                             spelled=symbol))
            elif name == "COMPARE_OP":
                right, left = stack.pop(), stack.pop()
                fn = COMPARISONS.get(str(value))
                stack.append(program.add(fn, [_as_ref(left, program), _as_ref(right, program)],
                                         spelled=str(value)) if fn
                             else _unknown(program, f"comparison {value}"))
            elif name == "UNARY_NEGATIVE":
                stack.append(program.add("negative", [_as_ref(stack.pop(), program)], spelled="-"))
            elif name == "BINARY_SUBSCR":
                index, base = stack.pop(), stack.pop()
                stack.append(program.add("getitem", [_as_ref(base, program),
                                                     _as_ref(index, program)], spelled="[]"))
            elif name == "BUILD_SLICE":
                parts = [stack.pop() for _ in range(value)][::-1]
                refs = [_as_ref(p, program) for p in parts]
                if all(r[0] == "const" for r in refs):
                    stack.append(["const", ("slice", *[r[1] for r in refs])])
                else:
                    stack.append(_unknown(program, "a slice with run-time bounds"))
            elif name in ("BUILD_LIST", "BUILD_TUPLE"):
                items = [_as_ref(stack.pop(), program) for _ in range(value)][::-1]
                if name == "BUILD_TUPLE" and all(r[0] == "const" for r in items):
                    stack.append(["const", tuple(r[1] for r in items)])
                else:
                    stack.append(["list", items])
            elif name == "LIST_EXTEND":
                extra, target = _as_ref(stack.pop(), program), stack[-value]
                if (isinstance(target, list) and target[0] == "list" and extra[0] == "const"
                        and isinstance(extra[1], tuple)):
                    target[1].extend(["const", v] for v in extra[1])
                else:
                    stack.append(_unknown(program, "a list built from an iterable"))
            elif name == "KW_NAMES":
                names = code.co_consts[instruction.arg or 0]
                kwnames = tuple(names) if isinstance(names, tuple) else ()
            elif name in ("CALL", "CALL_FUNCTION", "CALL_METHOD", "CALL_FUNCTION_KW"):
                count = value if isinstance(value, int) else 0
                args = [stack.pop() for _ in range(count)][::-1]
                callee = stack.pop()
                stack.append(_call(program, callee, args, kwnames))
                kwnames = ()
            elif name == "RETURN_VALUE":
                program.result = _as_ref(stack.pop(), program)
                break
            elif name == "RETURN_CONST":
                program.result = ["const", _constant(value)]
                break
            elif name == "POP_TOP":
                stack.pop()
            else:
                _unknown(program, f"Python construct {name}")
        except IndexError:
            _unknown(program, f"stack use of {name}")
    if program.result is None and not program.unknown:
        program.unknown.append("no return value")
    return program


def _unknown(program: Program, what: str) -> Ref:
    if what not in program.unknown:
        program.unknown.append(what)
    return ["const", None]


def _constant(value: Any) -> Any:
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, tuple):
        return tuple(_constant(v) for v in value)
    if isinstance(value, types.CodeType):
        return "<code>"
    return repr(value)[:80]


def _as_ref(item: Any, program: Program) -> Ref:
    if isinstance(item, list):
        return item
    if isinstance(item, tuple) and item[0] == "chain":
        dtype = _dtype_of(item[1])
        if dtype is not None:
            return ["const", dtype]
        return _unknown(program, f"the name {item[1]} used as a value")
    if isinstance(item, tuple) and item[0] == "method":
        return _unknown(program, f"the attribute .{item[1]}")
    return _unknown(program, "a value")


#: Tensor dtypes named as ``tf.float32``, ``keras.ops.int32``...
DTYPES = frozenset({"float16", "float32", "float64", "bfloat16", "int8", "int16", "int32",
                    "int64", "uint8", "bool"})


def _dtype_of(chain: str) -> str | None:
    parts = chain.split(".")
    if len(parts) >= 2 and parts[0] in TENSOR_ROOTS and parts[-1] in DTYPES:
        return parts[-1]
    return None


def _call(program: Program, callee: Any, args: list[Any], kwnames: tuple[str, ...]) -> Ref:
    positional = args[:len(args) - len(kwnames)] if kwnames else args
    keywords = dict(zip(kwnames, args[len(args) - len(kwnames):], strict=True)) if kwnames else {}
    refs = [_as_ref(a, program) for a in positional]
    kwrefs = {k: _as_ref(v, program) for k, v in keywords.items()}
    if isinstance(callee, tuple) and callee[0] == "chain":
        fn = canonical(callee[1])
        if fn is None:
            return _unknown(program, f"a call to {callee[1]} (not tensor math)")
        return program.add(fn, refs, kwrefs, spelled=str(callee[1]))
    if isinstance(callee, tuple) and callee[0] == "method":
        base = _as_ref(callee[2], program)
        method = str(callee[1])
        return program.add(SYNONYMS.get(method, method), [base, *refs], kwrefs,
                           spelled=f".{method}")
    return _unknown(program, "a call to a computed function")


# -- source -----------------------------------------------------------------------------------


def import_aliases(tree: ast.Module) -> dict[str, str]:
    """Local names of tensor modules in a source file: ``{"K": "keras.backend", ...}``."""
    aliases: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def _rooted(dotted: str) -> str:
    """``tensorflow.keras.backend.relu`` spelled from a root ``canonical`` knows."""
    first, _, rest = dotted.partition(".")
    if first == "tensorflow":
        return f"tf.{rest}" if rest else "tf"
    return dotted


def from_function_source(function: ast.FunctionDef, aliases: dict[str, str], *,
                         is_method: bool = False) -> Program:
    """The program of a function's body (``call(self, inputs)`` when ``is_method``)."""
    names = [a.arg for a in function.args.args]
    if is_method and names:
        names = names[1:]
    program = Program(params=names)
    reader = _SourceReader(program, aliases, {n: ["in", i] for i, n in enumerate(names)})
    for statement in function.body:
        if program.unknown or program.result is not None:
            break
        reader.statement(statement)
    if program.result is None and not program.unknown:
        program.unknown.append("no return value")
    return program


class _SourceReader:
    def __init__(self, program: Program, aliases: dict[str, str], local: dict[str, Ref]) -> None:
        self.program = program
        self.aliases = aliases
        self.local = local

    def statement(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            return  # a docstring
        if isinstance(node, ast.Return):
            self.program.result = (self.expr(node.value) if node.value is not None
                                   else ["const", None])
        elif (isinstance(node, ast.Assign) and len(node.targets) == 1
              and isinstance(node.targets[0], ast.Name)):
            self.local[node.targets[0].id] = self.expr(node.value)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            self.local[node.target.id] = self.expr(node.value)
        else:
            _unknown(self.program, f"the statement at line {node.lineno} "
                                   f"({type(node).__name__.lower()})")

    def chain(self, node: ast.expr) -> str | None:
        if isinstance(node, ast.Name):
            return _rooted(self.aliases.get(node.id, node.id))
        if isinstance(node, ast.Attribute):
            base = self.chain(node.value)
            return None if base is None else f"{base}.{node.attr}"
        return None

    def expr(self, node: ast.expr) -> Ref:
        program = self.program
        if isinstance(node, ast.Constant):
            return ["const", _constant(node.value)]
        if isinstance(node, ast.Name):
            if node.id in self.local:
                return self.local[node.id]
            return _unknown(program, f"the name {node.id} used as a value")
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id == "self"):
            return ["attr", node.attr]
        if isinstance(node, ast.Attribute) and node.attr in DTYPES:
            chain = self.chain(node)
            if chain is not None and _dtype_of(chain) is not None:
                return ["const", node.attr]
        if isinstance(node, ast.Attribute) and node.attr == "shape":
            return program.add("shape", [self.expr(node.value)], spelled=".shape")
        if isinstance(node, ast.BinOp) and type(node.op) in _AST_BINARY:
            symbol = _AST_BINARY[type(node.op)]
            return program.add(BINARY_OPERATORS[symbol],
                               [self.expr(node.left), self.expr(node.right)], spelled=symbol)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            inner = self.expr(node.operand)
            if inner[0] == "const" and isinstance(inner[1], int | float):
                return ["const", -inner[1]]
            return program.add("negative", [inner], spelled="-")
        if (isinstance(node, ast.Compare) and len(node.ops) == 1
                and type(node.ops[0]) in _AST_COMPARE):
            symbol = _AST_COMPARE[type(node.ops[0])]
            return program.add(COMPARISONS[symbol], [self.expr(node.left),
                                                     self.expr(node.comparators[0])],
                               spelled=symbol)
        if isinstance(node, ast.Subscript):
            index = node.slice
            if isinstance(index, ast.Slice):
                bounds = [self.expr(b) if b is not None else ["const", None]
                          for b in (index.lower, index.upper, index.step)]
                if not all(b[0] == "const" for b in bounds):
                    return _unknown(program, "a slice with run-time bounds")
                key: Ref = ["const", ("slice", *[b[1] for b in bounds])]
            else:
                key = self.expr(index)
            return program.add("getitem", [self.expr(node.value), key], spelled="[]")
        if isinstance(node, ast.List | ast.Tuple):
            items = [self.expr(e) for e in node.elts]
            if isinstance(node, ast.Tuple) and all(r[0] == "const" for r in items):
                return ["const", tuple(r[1] for r in items)]
            return ["list", items]
        if isinstance(node, ast.Call):
            chain = self.chain(node.func)
            args = [self.expr(a) for a in node.args]
            kwargs = {k.arg: self.expr(k.value) for k in node.keywords if k.arg}
            if chain is None:
                if isinstance(node.func, ast.Attribute):
                    return program.add(SYNONYMS.get(node.func.attr, node.func.attr),
                                       [self.expr(node.func.value), *args], kwargs,
                                       spelled=f".{node.func.attr}")
                return _unknown(program, f"a call at line {node.lineno}")
            fn = canonical(chain)
            if fn is None:
                return _unknown(program, f"a call to {ast.unparse(node.func)} (not tensor math)")
            return program.add(fn, args, kwargs, spelled=ast.unparse(node.func))
        return _unknown(program, f"the expression {ast.unparse(node)[:60]!r}")
