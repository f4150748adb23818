"""A tiny evaluator for the boolean expressions written in rule data files.

Only literals, names, arithmetic, comparisons, boolean logic, subscripts,
conditional expressions and a few whitelisted functions are allowed; the
data files are ours, but nothing in a data file should be able to run code.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}


def _isnormal(value: float) -> bool:
    return math.isfinite(value) and abs(value) >= 1.1754943508222875e-38  # float32 min normal


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs, "min": min, "max": max, "ceil": math.ceil, "len": len, "isnormal": _isnormal,
}


#: Number of arguments each function takes: (at least, at most).
_ARITY: dict[str, tuple[int, int]] = {
    "abs": (1, 1), "min": (1, 99), "max": (1, 99), "ceil": (1, 1), "len": (1, 1),
    "isnormal": (1, 1),
}


class ExpressionError(ValueError):
    """The expression uses something not allowed, or a name that does not exist."""


class Undecided(ExpressionError):
    """The expression has no value for this op: a name without a value (an absent
    operand, the contents of a non-constant operand, an unquantized tensor's
    scale), an element the operand does not have, or a division by zero."""


@cache
def _parse(text: str) -> ast.expr:
    return ast.parse(text, mode="eval").body


def evaluate(text: str, names: Mapping[str, Any]) -> Any:
    """The value of ``text``.  Raises :class:`Undecided` when a value it needs is
    missing, and :class:`ExpressionError`, ``TypeError``... on a real mistake."""
    return _eval(_parse(text), names)


@cache
def check(text: str) -> frozenset[str]:
    """The names ``text`` reads; :class:`ExpressionError` when it is not valid
    Python syntax or uses anything :func:`evaluate` does not allow."""
    try:
        tree = _parse(text)
    except SyntaxError as exc:
        raise ExpressionError(f"syntax error in {text!r}: {exc.msg}") from None
    names: set[str] = set()
    _check(tree, names, text)
    return frozenset(names)


def _check(node: ast.AST, names: set[str], text: str) -> None:
    children: list[ast.AST]
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, (int, float, str, type(None))):
            raise ExpressionError(f"constant {node.value!r} not allowed in {text!r}")
        children = []
    elif isinstance(node, ast.Name):
        names.add(node.id)
        children = []
    elif isinstance(node, ast.BoolOp):
        children = list(node.values)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
        children = [node.operand]
    elif isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        children = [node.left, node.right]
    elif isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
        children = [node.left, *node.comparators]
    elif isinstance(node, ast.Subscript) and not isinstance(node.slice, ast.Slice):
        children = [node.value, node.slice]
    elif isinstance(node, ast.IfExp):
        children = [node.test, node.body, node.orelse]
    elif isinstance(node, (ast.Tuple, ast.List)):
        children = list(node.elts)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        function = node.func.id
        if function not in FUNCTIONS:
            raise ExpressionError(f"unknown function {function!r} in {text!r} (known: "
                                  f"{', '.join(sorted(FUNCTIONS))})")
        low, high = _ARITY[function]
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args) or not (
                low <= len(node.args) <= high):
            raise ExpressionError(f"{function}() called with the wrong arguments in {text!r}")
        children = list(node.args)
    else:
        raise ExpressionError(f"{ast.unparse(node)!r} is not allowed in a data expression "
                              f"({text!r})")
    for child in children:
        _check(child, names, text)


def _eval(node: ast.expr, names: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        try:
            value = names[node.id]
        except KeyError:
            raise ExpressionError(f"unknown name {node.id!r}") from None
        if value is None:
            raise Undecided(f"no value for {node.id!r}")
        return value
    if isinstance(node, ast.BoolOp):
        # Python semantics: the deciding operand itself, evaluated lazily
        # (``new_shape or []`` is a list, and a guard skips what it protects).
        want = not isinstance(node.op, ast.And)
        value = None
        for operand in node.values:
            value = _eval(operand, names)
            if bool(value) == want:
                return value
        return value
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, names)
        if isinstance(node.op, ast.Not):
            return not value
        if isinstance(node.op, ast.USub):
            return -value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        try:
            return _BINARY[type(node.op)](_eval(node.left, names), _eval(node.right, names))
        except ZeroDivisionError:
            raise Undecided(f"division by zero in {ast.unparse(node)!r}") from None
    if isinstance(node, ast.Compare):
        left = _eval(node.left, names)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _eval(comparator, names)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.Subscript):
        value, index = _eval(node.value, names), _eval(node.slice, names)
        try:
            return value[index]
        except IndexError:
            raise Undecided(f"no element {index!r} in {ast.unparse(node.value)!r}") from None
    if isinstance(node, ast.IfExp):
        return _eval(node.body if _eval(node.test, names) else node.orelse, names)
    if isinstance(node, (ast.Tuple, ast.List)):
        return tuple(_eval(e, names) for e in node.elts)
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in FUNCTIONS and not node.keywords):
        return FUNCTIONS[node.func.id](*(_eval(a, names) for a in node.args))
    raise ExpressionError(f"not allowed in a data expression: {ast.dump(node)[:60]}")
