"""Checking tflint's data files against their JSON Schemas when they are loaded.

Each data file ``NAME.json`` has a JSON Schema 2020-12 file ``NAME.schema.json``
next to it.  The ``jsonschema`` package would cost more to import than the
check itself, so this module validates the subset of the standard the schemas
use: ``type``, ``properties``, ``required``, ``additionalProperties``,
``patternProperties``, ``propertyNames``, ``items``, ``prefixItems``, ``enum``,
``const``, ``minimum``, ``maximum``, ``minItems``, ``maxItems``, ``contains``,
``minLength``, ``pattern``, ``allOf``, ``anyOf``, ``oneOf``, ``if``/``then``/``else``,
``$ref`` into ``$defs`` and ``format`` (with checkers the caller supplies).  A
schema using any other keyword is refused, so nothing in a schema is silently
ignored.  A schema is compiled once into nested closures, with yes/no fast paths
for simple values; messages are only built for the first violation.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import Any

#: A format checker: the problem with a string, or None when it is fine.
FormatChecker = Callable[[str], str | None]
_Check = Callable[[Any], None]

_ANNOTATIONS = frozenset({
    "$schema", "$id", "$comment", "$defs", "title", "description", "default", "examples",
})
_KEYWORDS = frozenset({
    "type", "properties", "required", "additionalProperties", "patternProperties",
    "propertyNames", "items", "prefixItems", "enum", "const", "minimum", "maximum", "minItems",
    "maxItems", "contains", "minLength", "pattern", "allOf", "anyOf", "oneOf", "if", "then",
    "else", "$ref", "format",
}) | _ANNOTATIONS
_INT = frozenset({int})
_LIST = frozenset({list})
_STR = frozenset({str})
_DICT = frozenset({dict})
_NUMBER = frozenset({int, float})
#: The Python types of decoded JSON values of each type ("integer" without 1.0, which the
#: full check accepts).
_PYTHON_TYPES = {
    "object": (dict,), "array": (list,), "string": (str,), "boolean": (bool,),
    "null": (type(None),), "integer": (int,), "number": (int, float),
}
_OBJECT_KEYWORDS = frozenset({
    "properties", "required", "additionalProperties", "patternProperties", "propertyNames",
})
_ARRAY_KEYWORDS = frozenset({"items", "prefixItems", "minItems", "maxItems"})
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class DataFileError(ValueError):
    """A data file that is not what its schema says, as one line:
    ``FILE: JSON-PATH: what is wrong``."""

    def __init__(self, file: Path | str, path: str, message: str) -> None:
        super().__init__(f"{file}: {path}: {message}")
        self.file = str(file)
        self.path = path
        self.message = message


class SchemaError(ValueError):
    """A schema this validator cannot apply faithfully."""


class Invalid(Exception):
    """A value breaks the schema; ``location`` is filled in, innermost first,
    while the error travels up (so valid data never pays for paths)."""

    def __init__(self, message: str, wrong_type: bool = False) -> None:
        super().__init__(message)
        self.message = message
        #: The value is not even of a type the schema allows here.
        self.wrong_type = wrong_type
        self.location: list[str | int] = []

    @property
    def path(self) -> str:
        return json_path(reversed(self.location))


def json_path(parts: Iterator[str | int] | list[str | int]) -> str:
    """``$.ops.CONV_2D.options[3].expr``; keys that are not identifiers are quoted."""
    text = "$"
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _IDENTIFIER.match(part):
            text += f".{part}"
        else:
            text += f"[{json.dumps(part)}]"
    return text


class Validator:
    """A schema compiled into a check of a decoded JSON value."""

    def __init__(self, schema: Mapping[str, Any],
                 formats: Mapping[str, FormatChecker] | None = None) -> None:
        self._root = schema
        self._formats = dict(formats or {})
        self._refs: dict[str, _Check] = {}
        self._predicates: dict[int, Callable[[Any], bool] | None] = {}
        self._batches: dict[int, Callable[[list[Any]], bool] | None] = {}
        # A schema simple enough for the yes/no check is compiled in full only to
        # explain a failure.
        self._quick = self._batch(schema)
        self._full: _Check | None = None if self._quick else self._compile(schema)

    def compiled(self, schema: Any) -> Callable[[Any], None]:
        """The check of a part of this validator's schema (raises :class:`Invalid`)."""
        return self._compile(schema)

    def keys_of(self, schema: Any) -> tuple[frozenset[str] | None, frozenset[str]]:
        """The keys an object schema allows (None: any) and the keys it requires."""
        schema = self._resolved(schema)
        if not isinstance(schema, dict):
            return None, frozenset()
        closed = schema.get("additionalProperties", True) is False and not schema.get(
            "patternProperties")
        allowed = frozenset(schema.get("properties", {})) if closed else None
        return allowed, frozenset(schema.get("required", ()))

    def validate(self, value: Any) -> None:
        """Raise :class:`Invalid` at the first place ``value`` breaks the schema."""
        if self._quick is not None and self._quick([value]):
            return
        if self._full is None:
            self._full = self._compile(self._root)
        self._full(value)

    def _compile(self, schema: Any) -> _Check:
        if schema is True or schema == {}:
            return _accept
        if schema is False:
            return _refuse
        if not isinstance(schema, dict):
            raise SchemaError(f"a schema must be an object or a boolean, not {schema!r}")
        unknown = set(schema) - _KEYWORDS
        if unknown:
            raise SchemaError(f"unsupported schema keywords: {', '.join(sorted(unknown))}")
        checks: list[_Check] = []
        if "$ref" in schema:
            checks.append(self._reference(schema["$ref"]))
        kind = schema.get("type")
        is_object = not _OBJECT_KEYWORDS.isdisjoint(schema)
        is_array = not _ARRAY_KEYWORDS.isdisjoint(schema)
        # The container checks test the type themselves (one call less per value).
        if kind is not None and not ((kind == "object" and is_object)
                                     or (kind == "array" and is_array)):
            checks.append(_type_check(kind))
        if "enum" in schema:
            checks.append(_enum_check(schema["enum"]))
        if "const" in schema:
            checks.append(_enum_check([schema["const"]], const=True))
        if "minimum" in schema or "maximum" in schema:
            checks.append(_range_check(schema.get("minimum"), schema.get("maximum")))
        if "minLength" in schema:
            checks.append(_min_length_check(schema["minLength"]))
        if "pattern" in schema:
            checks.append(_pattern_check(schema["pattern"]))
        if "format" in schema and schema["format"] in self._formats:
            checks.append(_format_check(self._formats[schema["format"]]))
        if is_object:
            checks.append(self._object_check(schema, typed=kind == "object"))
        if is_array:
            checks.append(self._array_check(schema, typed=kind == "array"))
        if "contains" in schema:
            checks.append(_contains_check(self._compile(schema["contains"]), schema["contains"]))
        dispatch = self._dispatch(schema.get("allOf", ()))
        if dispatch is not None:
            checks.append(dispatch)
        else:
            checks.extend(self._compile(part) for part in schema.get("allOf", ()))
        if "if" in schema:
            checks.append(_condition_check(self._predicate(schema["if"])
                                           or _as_predicate(self._compile(schema["if"])),
                                           self._compile(schema.get("then", True)),
                                           self._compile(schema.get("else", True))))
        for keyword in ("anyOf", "oneOf"):
            if keyword in schema:
                branches = [self._compile(s) for s in schema[keyword]]
                quick = [self._predicate(s) for s in schema[keyword]]
                checks.append(_alternatives_check(branches, quick, exactly_one=keyword == "oneOf"))
        if not checks:
            return _accept
        if len(checks) == 1:
            return checks[0]
        return _all_of(checks)

    def _dispatch(self, parts: list[Any]) -> _Check | None:
        """``allOf`` of ``{"if": {"properties": {K: {"const": C}}}, "then": S}`` with one
        key K and string constants, compiled to a table lookup on the value of K."""
        table: dict[str, _Check] = {}
        keys = set()
        for part in parts:
            condition = part.get("if") if isinstance(part, dict) else None
            if (not isinstance(condition, dict) or set(part) != {"if", "then"}
                    or set(condition) != {"properties"} or len(condition["properties"]) != 1):
                return None
            ((key, wanted),) = condition["properties"].items()
            if (not isinstance(wanted, dict) or set(wanted) != {"const"}
                    or type(wanted["const"]) is not str or wanted["const"] in table):
                return None
            keys.add(key)
            table[wanted["const"]] = self._compile(part["then"])
        if len(keys) != 1:
            return None
        (key,) = keys
        every = list(table.values())

        def check(value: Any) -> None:
            if type(value) is not dict or key not in value:
                # Every condition holds vacuously.
                for each in every:
                    each(value)
                return
            selected = value[key]
            then = table.get(selected) if type(selected) is str else None
            if then is not None:
                then(value)
        return check

    def _reference(self, ref: str) -> _Check:
        name = self._definition_name(ref)
        if name in self._refs:
            return self._refs[name]
        compiled: list[_Check] = []
        # Registered before compiling so that a recursive definition finds itself.
        self._refs[name] = lambda value: compiled[0](value)
        compiled.append(self._compile(self._root["$defs"][name]))
        self._refs[name] = compiled[0]
        return compiled[0]

    def _definition_name(self, ref: str) -> str:
        name = ref.removeprefix("#/$defs/")
        if name == ref or "/" in name:
            raise SchemaError(f"only '#/$defs/NAME' references are supported, not {ref!r}")
        if name not in self._root.get("$defs", {}):
            raise SchemaError(f"$ref to an undefined schema: {ref!r}")
        return name

    def _resolved(self, schema: Any) -> Any:
        """``schema`` with a lone ``$ref`` followed (for the fast paths)."""
        seen = 0
        while isinstance(schema, dict) and set(schema) - _ANNOTATIONS == {"$ref"} and seen < 8:
            name = self._definition_name(schema["$ref"])
            schema = self._root["$defs"][name]
            seen += 1
        return schema

    def _predicate(self, schema: Any) -> Callable[[Any], bool] | None:
        """A fast yes/no check for a simple schema (one type, bounds, string enum,
        arrays of simple items), or None; errors are then explained by the full check."""
        schema = self._resolved(schema)
        key = id(schema)
        if key not in self._predicates:
            self._predicates[key] = self._new_predicate(schema)
        return self._predicates[key]

    def _new_predicate(self, schema: Any) -> Callable[[Any], bool] | None:
        if schema is True or schema == {}:
            return lambda value: True
        if not isinstance(schema, dict):
            return None
        keywords = set(schema) - _ANNOTATIONS
        if keywords == {"enum"} and all(type(v) is str for v in schema["enum"]):
            allowed = frozenset(schema["enum"])
            return lambda value: type(value) is str and value in allowed
        if keywords == {"const"}:
            constant = schema["const"]
            return lambda value: _json_equal(value, constant)
        if keywords and keywords <= {"properties", "required"}:
            return self._object_predicate(schema)
        kind = schema.get("type")
        if not isinstance(kind, str):
            return None
        if kind in ("integer", "number") and keywords <= {"type", "minimum", "maximum"}:
            low = schema.get("minimum", -math.inf)
            high = schema.get("maximum", math.inf)
            if kind == "integer":
                return lambda value: type(value) is int and low <= value <= high
            return lambda value: type(value) in (int, float) and low <= value <= high
        if kind == "array" and keywords <= {"type", "items", "minItems", "maxItems"}:
            return self._array_predicate(schema)
        if kind == "string" and keywords == {"type", "pattern"}:
            search = re.compile(schema["pattern"]).search
            return lambda value: type(value) is str and search(value) is not None
        if kind == "string" and keywords == {"type", "minLength"}:
            shortest = schema["minLength"]
            return lambda value: type(value) is str and len(value) >= shortest
        exact = _primitive_type(schema)
        if exact is not None or (kind in ("object", "array") and keywords == {"type"}):
            wanted = exact or (dict if kind == "object" else list)
            return lambda value: type(value) is wanted
        return None

    def _array_predicate(self, schema: dict[str, Any]) -> Callable[[Any], bool] | None:
        shortest = schema.get("minItems", 0)
        longest = schema.get("maxItems", math.inf)
        items = self._batch(schema.get("items", True))
        if items is None:
            return None
        return lambda value: (type(value) is list and shortest <= len(value) <= longest
                              and items(value))

    def _object_predicate(self, schema: dict[str, Any]) -> Callable[[Any], bool] | None:
        required = frozenset(schema.get("required", ()))
        checks = []
        for key, part in schema.get("properties", {}).items():
            predicate = self._predicate(part)
            if predicate is None:
                return None
            checks.append((key, predicate))
        return lambda value: type(value) is not dict or (
            required <= value.keys()
            and all(predicate(value[key]) for key, predicate in checks if key in value))

    def _batch(self, schema: Any) -> Callable[[list[Any]], bool] | None:
        """A yes/no check of a whole list of values against a simple schema, column by
        column with C-level map/set/min/max (a table of 400 entries costs a few
        hundred calls, not a few per value); None for schemas it cannot do."""
        schema = self._resolved(schema)
        key = id(schema)
        if key not in self._batches:
            self._batches[key] = None  # a recursive schema has no batch check
            self._batches[key] = self._new_batch(schema)
        return self._batches[key]

    def _new_batch(self, schema: Any) -> Callable[[list[Any]], bool] | None:
        if schema is True or schema == {}:
            return lambda values: True
        if not isinstance(schema, dict):
            return None
        keywords = set(schema) - _ANNOTATIONS
        kind = schema.get("type")
        if keywords == {"enum"} and all(type(v) is str for v in schema["enum"]):
            allowed = frozenset(schema["enum"])
            return lambda values: set(map(type, values)) <= _STR and allowed.issuperset(values)
        if isinstance(kind, list) and keywords == {"type"} and set(kind) <= set(_PYTHON_TYPES):
            union = frozenset(t for name in kind for t in _PYTHON_TYPES[name])
            return lambda values: set(map(type, values)) <= union
        if kind == "string" and keywords <= {"type", "minLength", "pattern"}:
            shortest = schema.get("minLength", 0)
            search = re.compile(schema["pattern"]).search if "pattern" in schema else None
            return lambda values: (
                set(map(type, values)) <= _STR
                and (not shortest or not values or min(map(len, values)) >= shortest)
                and (search is None or None not in map(search, values)))
        if kind in ("integer", "number") and keywords <= {"type", "minimum", "maximum"}:
            low = schema.get("minimum", -math.inf)
            high = schema.get("maximum", math.inf)
            types = _INT if kind == "integer" else _NUMBER
            return lambda values: (set(map(type, values)) <= types
                                   and (not values or (low <= min(values) and max(values) <= high)))
        if kind == "array" and keywords <= {"type", "items", "minItems", "maxItems"}:
            return self._array_batch(schema)
        if kind == "object" and keywords <= {"type", "properties", "required",
                                             "additionalProperties"}:
            return self._object_batch(schema)
        exact = _primitive_type(schema) or (
            {"object": dict, "array": list}.get(kind)
            if keywords == {"type"} and isinstance(kind, str) else None)
        if exact is not None:
            types = frozenset({exact})
            return lambda values: set(map(type, values)) <= types
        return None

    def _array_batch(self, schema: dict[str, Any]) -> Callable[[list[Any]], bool] | None:
        shortest = schema.get("minItems", 0)
        longest = schema.get("maxItems", math.inf)
        items = self._batch(schema.get("items", True))
        if items is None:
            return None
        bounded = "minItems" in schema or "maxItems" in schema

        def check(values: list[Any]) -> bool:
            if not set(map(type, values)) <= _LIST:
                return False
            if bounded and values:
                lengths = list(map(len, values))
                if min(lengths) < shortest or max(lengths) > longest:
                    return False
            return items(list(chain.from_iterable(values)))
        return check

    def _object_batch(self, schema: dict[str, Any]) -> Callable[[list[Any]], bool] | None:
        columns = []
        for key, part in schema.get("properties", {}).items():
            column = self._batch(part)
            if column is None:
                return None
            columns.append((key, column))
        additional_schema = schema.get("additionalProperties", True)
        closed = additional_schema is False
        additional = None
        if not closed and additional_schema is not True:
            additional = self._batch(additional_schema)
            if additional is None:
                return None
        known = frozenset(schema.get("properties", {}))
        required = frozenset(schema.get("required", ()))
        # Required keys are read with a C-level map, the others in one pass over the values.
        dense = [(key, column) for key, column in columns if key in required]
        sparse = {key: column for key, column in columns if key not in required}
        sparse_keys = frozenset(sparse)

        def check(values: list[Any]) -> bool:
            if not set(map(type, values)) <= _DICT:
                return False
            if required and not all(map(required.issubset, values)):
                return False
            if closed and not all(map(known.issuperset, values)):
                return False
            for key, column in dense:
                if not column(list(map(itemgetter(key), values))):
                    return False
            if sparse:
                found: dict[str, list[Any]] = {key: [] for key in sparse}
                for value in values:
                    for key in sparse_keys.intersection(value):
                        found[key].append(value[key])
                for key, column in sparse.items():
                    if found[key] and not column(found[key]):
                        return False
            if additional is not None:
                rest = [item for value in values for key, item in value.items()
                        if key not in known]
                return not rest or additional(rest)
            return True
        return check

    def _object_check(self, schema: dict[str, Any], typed: bool) -> _Check:
        properties = {k: self._compile(s) for k, s in schema.get("properties", {}).items()}
        quick = {k: p for k, s in schema.get("properties", {}).items()
                 if (p := self._predicate(s)) is not None}
        patterns = [(re.compile(p), self._compile(s))
                    for p, s in schema.get("patternProperties", {}).items()]
        additional_schema = schema.get("additionalProperties", True)
        additional = None if additional_schema is True else self._compile(additional_schema)
        names = self._compile(schema["propertyNames"]) if "propertyNames" in schema else None
        required = frozenset(schema.get("required", ()))
        required_order = list(schema.get("required", ()))
        closed = additional_schema is False
        known = frozenset(properties)
        simple = not patterns and names is None

        def check(value: Any) -> None:
            if type(value) is not dict:
                if typed:
                    raise Invalid(f"expected an object, got {_describe(value)}", wrong_type=True)
                return
            keys = value.keys()
            if not required <= keys:
                missing = next(k for k in required_order if k not in value)
                raise Invalid(f"missing required key {missing!r}")
            if simple and (not closed or keys <= known):
                # Known keys only: the usual case, kept to one dict lookup per key.
                for key, item in value.items():
                    fast = quick.get(key)
                    if fast is not None and fast(item):
                        continue
                    checker = properties.get(key, additional)
                    if checker is None:
                        continue
                    try:
                        checker(item)
                    except Invalid as exc:
                        exc.location.append(key)
                        raise
                return
            for key, item in value.items():
                if names is not None:
                    try:
                        names(key)
                    except Invalid as exc:
                        raise Invalid(f"key {key!r}: {exc.message}") from None
                matched = key in properties
                if not matched and closed and not any(p.search(key) for p, _ in patterns):
                    raise Invalid(_unknown_key(key, sorted(known)))
                try:
                    if matched:
                        properties[key](item)
                    for pattern, pattern_check in patterns:
                        if pattern.search(key):
                            matched = True
                            pattern_check(item)
                    if not matched and additional is not None:
                        additional(item)
                except Invalid as exc:
                    exc.location.append(key)
                    raise
        return check

    def _array_check(self, schema: dict[str, Any], typed: bool) -> _Check:
        prefix = [self._compile(s) for s in schema.get("prefixItems", ())]
        items_schema = schema.get("items", True)
        items = None if items_schema is True else self._compile(items_schema)
        quick = self._batch(items_schema) if items is not None else None
        low = schema.get("minItems")
        high = schema.get("maxItems")

        def check(value: Any) -> None:
            if type(value) is not list:
                if typed:
                    raise Invalid(f"expected an array, got {_describe(value)}", wrong_type=True)
                return
            if low is not None and len(value) < low:
                raise Invalid(f"{len(value)} items, fewer than {low}")
            if high is not None and len(value) > high:
                raise Invalid(f"{len(value)} items, more than {high}")
            for index, (item, item_check) in enumerate(zip(value, prefix, strict=False)):
                try:
                    item_check(item)
                except Invalid as exc:
                    exc.location.append(index)
                    raise
            if items is None or len(value) <= len(prefix):
                return
            rest = value[len(prefix):] if prefix else value
            # The common case, a list of simple values, checked as a whole.
            if quick is not None and quick(rest):
                return
            for index, item in enumerate(rest, start=len(prefix)):
                try:
                    items(item)
                except Invalid as exc:
                    exc.location.append(index)
                    raise
        return check


# -- the leaf checks ---------------------------------------------------------------------
_TYPE_NAMES = {
    dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "an integer",
    float: "a number", type(None): "null",
}


def _is_type(value: Any, name: str) -> bool:
    kind = type(value)
    if name == "integer":
        return kind is int or (kind is float and value.is_integer())
    if name == "number":
        return kind is int or kind is float
    return kind is {"object": dict, "array": list, "string": str, "boolean": bool,
                    "null": type(None)}[name]


def _type_check(expected: str | list[str]) -> _Check:
    names = [expected] if isinstance(expected, str) else list(expected)
    for name in names:
        if name not in ("object", "array", "string", "integer", "number", "boolean", "null"):
            raise SchemaError(f"unknown type {name!r}")
    wanted = " or ".join(names)
    if names == ["integer"]:
        def check_integer(value: Any) -> None:
            if type(value) is not int and not (type(value) is float and value.is_integer()):
                raise Invalid(f"expected {wanted}, got {_describe(value)}", wrong_type=True)
        return check_integer
    if len(names) == 1 and names[0] not in ("integer", "number"):
        exact = {"object": dict, "array": list, "string": str, "boolean": bool,
                 "null": type(None)}[names[0]]

        def check_exact(value: Any) -> None:
            if type(value) is not exact:
                raise Invalid(f"expected {wanted}, got {_describe(value)}", wrong_type=True)
        return check_exact

    def check(value: Any) -> None:
        if not any(_is_type(value, name) for name in names):
            raise Invalid(f"expected {wanted}, got {_describe(value)}", wrong_type=True)
    return check


def _primitive_type(schema: Any) -> type | None:
    """The Python type a schema of the form ``{"type": "string"}`` is exactly."""
    if (not isinstance(schema, dict) or set(schema) - _ANNOTATIONS != {"type"}
            or not isinstance(schema["type"], str)):
        return None
    return {"string": str, "boolean": bool, "null": type(None)}.get(schema["type"])


def _enum_check(values: list[Any], const: bool = False) -> _Check:
    kinds = {_json_type(v) for v in values}
    if kinds == {"string"}:
        allowed = frozenset(values)

        def check_strings(value: Any) -> None:
            if type(value) is not str or value not in allowed:
                raise Invalid(_not_allowed(value, values, const), type(value) is not str)
        return check_strings

    def check(value: Any) -> None:
        if not any(_json_equal(value, v) for v in values):
            raise Invalid(_not_allowed(value, values, const), _json_type(value) not in kinds)
    return check


def _json_type(value: Any) -> str:
    if type(value) in (int, float):
        return "number"
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(type(value), "null")


def _range_check(low: float | None, high: float | None) -> _Check:
    def check(value: Any) -> None:
        if type(value) not in (int, float):
            return
        if low is not None and value < low:
            raise Invalid(f"{value!r} is less than the minimum {low!r}")
        if high is not None and value > high:
            raise Invalid(f"{value!r} is greater than the maximum {high!r}")
    return check


def _min_length_check(low: int) -> _Check:
    def check(value: Any) -> None:
        if type(value) is str and len(value) < low:
            raise Invalid(f"{value!r} is shorter than {low} characters")
    return check


def _pattern_check(pattern: str) -> _Check:
    compiled = re.compile(pattern)

    def check(value: Any) -> None:
        if type(value) is str and not compiled.search(value):
            raise Invalid(f"{value!r} does not match {pattern!r}")
    return check


def _format_check(checker: FormatChecker) -> _Check:
    def check(value: Any) -> None:
        if type(value) is str:
            problem = checker(value)
            if problem is not None:
                raise Invalid(problem)
    return check


def _alternatives_check(branches: list[_Check], quick: list[Callable[[Any], bool] | None],
                        exactly_one: bool) -> _Check:
    decisive = None if None in quick else [q for q in quick if q is not None]

    def check(value: Any) -> None:
        if decisive is not None:
            # Every branch has a fast yes/no check: the full checks only explain failures.
            passed = sum(1 for branch in decisive if branch(value))
            if passed == 1 or (passed and not exactly_one):
                return
        matched = 0
        failures: list[Invalid] = []
        for branch in branches:
            try:
                branch(value)
            except Invalid as exc:
                failures.append(exc)
                continue
            matched += 1
            if not exactly_one:
                return
        if matched == 1 or (matched and not exactly_one):
            return
        if matched > 1:
            raise Invalid(f"matches {matched} of the alternatives; exactly one must match")
        # The alternative meant is most likely one of the value's type that got furthest.
        best = max(failures, key=lambda exc: (not exc.wrong_type, len(exc.location)))
        raise Invalid(f"matches none of the {len(branches)} alternatives (closest: "
                      f"{best.path.replace('$', 'value', 1)}: {best.message})")
    return check


def _contains_check(item_check: _Check, item_schema: Any) -> _Check:
    def check(value: Any) -> None:
        if type(value) is not list:
            return
        for item in value:
            try:
                item_check(item)
            except Invalid:
                continue
            return
        raise Invalid(f"no item matches {json.dumps(item_schema)}")
    return check


def _condition_check(condition: Callable[[Any], bool], then: _Check,
                     otherwise: _Check) -> _Check:
    def check(value: Any) -> None:
        if condition(value):
            then(value)
        else:
            otherwise(value)
    return check


def _as_predicate(check: _Check) -> Callable[[Any], bool]:
    def predicate(value: Any) -> bool:
        try:
            check(value)
        except Invalid:
            return False
        return True
    return predicate


def _all_of(checks: list[_Check]) -> _Check:
    def check(value: Any) -> None:
        for one in checks:
            one(value)
    return check


def _accept(value: Any) -> None:
    return None


def _refuse(value: Any) -> None:
    raise Invalid("no value is allowed here")


def _json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON Schema defines it: 1 == 1.0, but true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if type(a) in (int, float) and type(b) in (int, float):
        return a == b
    return type(a) is type(b) and a == b


def _describe(value: Any) -> str:
    text = json.dumps(value)
    shown = text if len(text) <= 40 else text[:37] + "..."
    return f"{_TYPE_NAMES.get(type(value), type(value).__name__)} {shown}"


def _not_allowed(value: Any, values: list[Any], const: bool) -> str:
    shown = json.dumps(value)[:40]
    if const:
        return f"{shown} is not {json.dumps(values[0])}"
    listed = ", ".join(json.dumps(v) for v in values)
    return f"{shown} is not one of {listed[:200]}"


def _unknown_key(key: str, known: list[str]) -> str:
    import difflib  # only on the error path

    close = difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key {key!r}{hint}"


# -- data files ----------------------------------------------------------------------------
def schema_path(data_file: Path) -> Path:
    """``NAME.schema.json`` next to ``NAME.json``."""
    return data_file.with_name(data_file.stem + ".schema.json")


@cache
def _schema(schema_file: Path) -> dict[str, Any]:
    with schema_file.open(encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    return schema


@cache
def _validator(schema_file: Path) -> Validator:
    return Validator(_schema(schema_file))


def load_data_file(data_file: Path, formats: Mapping[str, FormatChecker] | None = None, *,
                   lazy: str | None = None) -> Any:
    """A data file, decoded and checked against its schema.

    Raises :class:`DataFileError` (one line: file, JSON path, problem) when the
    file is not valid JSON or breaks its schema.  ``formats`` checks the
    strings of the schema's ``format`` values; without a checker a format is
    only a name, as in JSON Schema.  ``lazy`` names a top-level object of
    entries (its schema: ``additionalProperties`` holding the entry schema):
    each entry's keys are checked now, the rest of an entry the first time it
    is read (see :class:`CheckedOnFirstRead`).
    """
    try:
        with data_file.open(encoding="utf-8") as handle:
            data = json.load(handle)
    except json.JSONDecodeError as exc:
        raise DataFileError(data_file, f"line {exc.lineno} column {exc.colno}",
                            f"not valid JSON: {exc.msg}") from None
    schema = _schema(schema_path(data_file))
    entry_schema: Any = None
    if lazy is not None:
        entries_schema = dict(schema["properties"][lazy])
        entry_schema = entries_schema.pop("additionalProperties")
        schema = {**schema, "properties": {**schema["properties"], lazy: entries_schema}}
    validator = (Validator(schema, formats) if formats or lazy is not None
                 else _validator(schema_path(data_file)))
    try:
        validator.validate(data)
    except Invalid as exc:
        raise DataFileError(data_file, exc.path, exc.message) from None
    if lazy is not None and type(data.get(lazy)) is dict:
        data[lazy] = _lazily_checked(data_file, validator, lazy, data[lazy], entry_schema)
    return data


def _lazily_checked(data_file: Path, validator: Validator, lazy: str, entries: dict[str, Any],
                    entry_schema: Any) -> CheckedOnFirstRead:
    allowed, required = validator.keys_of(entry_schema)
    for name, entry in entries.items():
        problem = None
        if type(entry) is not dict:
            problem = f"expected an object, got {_describe(entry)}"
        elif allowed is not None and not entry.keys() <= allowed:
            problem = _unknown_key(next(k for k in entry if k not in allowed), sorted(allowed))
        elif not required <= entry.keys():
            problem = f"missing required key {min(required - entry.keys())!r}"
        if problem:
            raise DataFileError(data_file, json_path([lazy, name]), problem)
    check_entry: list[_Check] = []

    def check(name: str, entry: Any) -> None:
        if not check_entry:
            check_entry.append(validator.compiled(entry_schema))
        try:
            check_entry[0](entry)
        except Invalid as exc:
            raise DataFileError(data_file, json_path([lazy, name, *reversed(exc.location)]),
                                exc.message) from None
    return CheckedOnFirstRead(entries, check)


class CheckedOnFirstRead(dict[str, Any]):
    """A JSON object whose entries are validated the first time they are read
    (``[]``, ``get``, or iterating, which checks them all): a process that
    looks at five op entries of a profile does not pay for fifty."""

    def __init__(self, entries: dict[str, Any], check: Callable[[str, Any], None]) -> None:
        super().__init__(entries)
        self._check = check
        self._unchecked = set(entries)

    def _read(self, key: str) -> Any:
        value = dict.__getitem__(self, key)
        if key in self._unchecked:
            self._check(key, value)
            self._unchecked.discard(key)
        return value

    def __getitem__(self, key: str) -> Any:
        return self._read(key)

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return self._read(key) if key in self else default

    def check_all(self) -> None:
        for key in sorted(self._unchecked):
            self._read(key)

    def __iter__(self) -> Iterator[str]:
        self.check_all()
        return super().__iter__()

    def values(self) -> Any:
        self.check_all()
        return super().values()

    def items(self) -> Any:
        self.check_all()
        return super().items()

    def copy(self) -> dict[str, Any]:
        self.check_all()
        return dict(super().items())
