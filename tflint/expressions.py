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


class ExpressionError(ValueError):
    """The expression uses something not allowed, or a name with no value."""


@cache
def _parse(text: str) -> ast.expr:
    return ast.parse(text, mode="eval").body


def evaluate(text: str, names: Mapping[str, Any]) -> Any:
    return _eval(_parse(text), names)


def _eval(node: ast.expr, names: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        try:
            value = names[node.id]
        except KeyError:
            value = None
        if value is None:
            raise ExpressionError(f"no value for {node.id!r}")
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
        return _BINARY[type(node.op)](_eval(node.left, names), _eval(node.right, names))
    if isinstance(node, ast.Compare):
        left = _eval(node.left, names)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _eval(comparator, names)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.Subscript):
        return _eval(node.value, names)[_eval(node.slice, names)]
    if isinstance(node, ast.IfExp):
        return _eval(node.body if _eval(node.test, names) else node.orelse, names)
    if isinstance(node, (ast.Tuple, ast.List)):
        return tuple(_eval(e, names) for e in node.elts)
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in FUNCTIONS and not node.keywords):
        return FUNCTIONS[node.func.id](*(_eval(a, names) for a in node.args))
    raise ExpressionError(f"not allowed in a data expression: {ast.dump(node)[:60]}")
