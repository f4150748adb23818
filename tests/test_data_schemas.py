"""The data files and their JSON Schemas: the schemas are real JSON Schema 2020-12,
tflint's own validator (:mod:`tflint.schema`) agrees with the ``jsonschema``
package on the shipped files and on broken variants of them, and a broken file
or expression is refused when it is loaded with a one-line message."""

from __future__ import annotations

import copy
import json
import random
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import tflint.targets.profile as profile_module
from tflint.expressions import ExpressionError, Undecided, evaluate
from tflint.expressions import check as check_expression
from tflint.schema import (
    CheckedOnFirstRead,
    DataFileError,
    Invalid,
    SchemaError,
    Validator,
    load_data_file,
    schema_path,
)

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "tflint" / "targets" / "xnnpack_ops.json"
DATA_FILES = [
    PROFILE,
    ROOT / "tflint" / "data" / "keras_lowering.json",
    ROOT / "tflint" / "data" / "unsafe_references.json",
    ROOT / "rules" / "data" / "custom_ops.json",
    ROOT / "rules" / "data" / "xnnpack_advice.json",
]
FILE_IDS = [path.name for path in DATA_FILES]
OPTION_DEFAULTS = next(g["defaults"] for g in json.loads(PROFILE.read_text())["general"]
                       if g["id"] == "options_defaults")


def _expression_problem(text: str) -> str | None:
    try:
        check_expression(text)
    except ExpressionError as exc:
        return str(exc)
    return None


def _option_field_problem(name: str) -> str | None:
    return None if name in OPTION_DEFAULTS else f"no default for option field {name!r}"


FORMATS: dict[str, Callable[[str], str | None]] = {
    "tflint-expression": _expression_problem,
    "tflint-option-field": _option_field_problem,
}


def _format_checker() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker(formats=())
    for name, problem in FORMATS.items():
        # As in JSON Schema, a format says nothing about values that are not strings.
        checker.checks(name)(lambda value, problem=problem: not isinstance(value, str)
                             or problem(value) is None)
    return checker


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _schema(path: Path) -> dict[str, Any]:
    schema: dict[str, Any] = _load(schema_path(path))
    return schema


def _reference_errors(schema: dict[str, Any], data: Any) -> list[jsonschema.ValidationError]:
    validator = jsonschema.Draft202012Validator(schema, format_checker=_format_checker())
    return list(validator.iter_errors(data))


def _own_error(schema: dict[str, Any], data: Any) -> Invalid | None:
    try:
        Validator(schema, FORMATS).validate(data)
    except Invalid as exc:
        return exc
    return None


def _assert_agree(schema: dict[str, Any], data: Any, what: str) -> Invalid | None:
    """Both validators accept ``data``, or both refuse it at a place jsonschema names."""
    reference = _reference_errors(schema, data)
    own = _own_error(schema, data)
    assert (own is None) == (not reference), (
        f"{what}: jsonschema says {[e.message for e in reference][:2]}, tflint says "
        f"{own and own.message}")
    if own is not None:
        places = [list(e.absolute_path) for e in reference]
        # For alternatives jsonschema reports the value, tflint the closest branch's place.
        assert list(reversed(own.location)) in places or any(
            e.validator in ("anyOf", "oneOf") for e in reference), (what, own.path, places)
    return own


# -- the schemas and the shipped files -----------------------------------------------------
@pytest.mark.parametrize("path", DATA_FILES, ids=FILE_IDS)
def test_schema_is_valid_json_schema_2020_12(path: Path) -> None:
    schema = _schema(path)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("path", DATA_FILES, ids=FILE_IDS)
def test_shipped_file_is_valid_for_both_validators(path: Path) -> None:
    data = _load(path)
    assert _reference_errors(_schema(path), data) == []
    assert _own_error(_schema(path), data) is None
    assert load_data_file(path, FORMATS) == data


def _checked_profile() -> profile_module.Profile:
    """The profile with every op entry checked (they are checked when first read)."""
    profile = profile_module.load_profile()
    assert isinstance(profile.ops, CheckedOnFirstRead)
    profile.ops.check_all()
    return profile


def test_profile_loads_and_every_expression_reads_known_names() -> None:
    profile_module.load_profile.cache_clear()
    assert "CONV_2D" in _checked_profile().ops


def test_vocabulary_documents_every_key_of_an_op_entry() -> None:
    documented = {name.strip() for key in _load(PROFILE)["vocabulary"] for name in key.split("/")}
    keys = set(_schema(PROFILE)["$defs"]["op_entry"]["properties"])
    assert keys <= documented, keys - documented
    # Documented but refused as keys: the expression language and unused version bounds.
    assert documented - keys == {"expressions", "min_version", "max_version"}


def test_schema_dtype_classes_are_the_profile_classes() -> None:
    classes = _schema(PROFILE)["$defs"]["dtype_class"]["enum"]
    assert sorted(classes) == sorted(_load(PROFILE)["dtype_classes"])
    advice = _load(ROOT / "rules" / "data" / "xnnpack_advice.json")
    assert set(advice["dtypes"]) <= set(classes)


def test_option_defaults_are_fields_of_the_tflite_schema() -> None:
    text = (ROOT / "tflint" / "loaders" / "tflite_schema.json").read_text(encoding="utf-8")
    missing = [name for name in OPTION_DEFAULTS if f'"name": "{name}"' not in text]
    assert missing == []


# -- broken variants -----------------------------------------------------------------------
def _places(value: Any, location: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield location
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _places(child, (*location, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _places(child, (*location, index))


def _get(data: Any, location: tuple[Any, ...]) -> Any:
    for part in location:
        data = data[part]
    return data


def _other_type(value: Any) -> Any:
    if isinstance(value, bool):
        return "yes"
    if isinstance(value, (int, float)):
        return [value]
    if isinstance(value, str):
        return 7
    if isinstance(value, list):
        return {"items": value}
    return None if isinstance(value, dict) else False


def _mutations(data: Any) -> Iterator[tuple[str, Callable[[Any], None]]]:
    """Single-fault edits: a removed key, a misspelt key, a value of another type."""
    def without(location: tuple[Any, ...], key: str) -> Callable[[Any], None]:
        return lambda variant: _get(variant, location).pop(key)

    def misspelt(location: tuple[Any, ...], key: str) -> Callable[[Any], None]:
        def edit(variant: Any) -> None:
            target = _get(variant, location)
            target[key + "s"] = target.pop(key)
        return edit

    def retyped(location: tuple[Any, ...], value: Any) -> Callable[[Any], None]:
        def edit(variant: Any) -> None:
            _get(variant, location[:-1])[location[-1]] = _other_type(value)
        return edit

    for location in _places(data):
        value = _get(data, location)
        if isinstance(value, dict):
            for key in value:
                yield f"{location} without {key!r}", without(location, key)
                yield f"{location} {key!r} misspelt", misspelt(location, key)
        if location:
            yield f"{location} of another type", retyped(location, value)


def _small(path: Path, data: Any) -> Any:
    """The file cut to a few entries, so that jsonschema checks variants quickly."""
    if path == PROFILE:
        return {**data, "ops": {k: data["ops"][k] for k in (
            "ABS", "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEQUANTIZE",
            "FULLY_CONNECTED", "GELU", "LEAKY_RELU", "PAD", "QUANTIZE", "RESHAPE", "SOFTMAX",
            "SPLIT")}}
    if "entries" in data:
        keep = [e for e in data["entries"] if e["id"] in (
            "Conv2D/activation=selu", "Resizing/bicubic", "LSTM") or "error" in e][:4]
        return {**data, "entries": keep}
    return data


@pytest.mark.parametrize("path", DATA_FILES, ids=FILE_IDS)
def test_validators_agree_on_broken_variants(path: Path) -> None:
    schema = _schema(path)
    data = _small(path, _load(path))
    edits = list(_mutations(data))
    random.Random(2024).shuffle(edits)
    refused = 0
    for what, edit in edits[:150]:
        variant = copy.deepcopy(data)
        edit(variant)
        refused += _assert_agree(schema, variant, what) is not None
    assert refused > 50  # most single faults break the schema


BAD_PROFILE_EDITS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("mistyped key", lambda d: d["ops"]["LEAKY_RELU"].update(
        quant_constrains=d["ops"]["LEAKY_RELU"].pop("quant_constraints")),
     "$.ops.LEAKY_RELU: unknown key 'quant_constrains' (did you mean 'quant_constraints'?)"),
    ("mistyped operand key", lambda d: d["ops"]["CONV_2D"]["operands"]["1"].update(statik=True),
     "$.ops.CONV_2D.operands[\"1\"]: unknown key 'statik' (did you mean 'static'?)"),
    ("wrong type", lambda d: d["ops"]["ADD"].update(num_inputs="2"),
     "$.ops.ADD.num_inputs: expected an array, got a string \"2\""),
    ("missing required key", lambda d: d["ops"]["ABS"].pop("type_sets"),
     "$.ops.ABS: missing required key 'type_sets'"),
    ("unknown dtype class", lambda d: d["ops"]["ABS"]["type_sets"].append(["f23", "f32"]),
     "$.ops.ABS.type_sets[2][0]: 'f23' does not match"),
    ("general entry", lambda d: d["general"][3].update(max_rnak=6),
     "$.general[3]: unknown key 'max_rnak' (did you mean 'max_rank'?)"),
    ("option constraint", lambda d: d["ops"]["SOFTMAX"]["options"][0].update(eqq=1.0),
     "$.ops.SOFTMAX.options[0]: unknown key 'eqq' (did you mean 'eq'?)"),
    ("syntax error", lambda d: d["ops"]["SPLIT"]["options"][0].update(expr="num_splits =="),
     "$.ops.SPLIT.options[0].expr: syntax error in 'num_splits =='"),
    ("unknown function", lambda d: d["ops"]["SOFTMAX"]["creation_constraints"][0].update(
        expr="floor(in0_rank) >= 1"),
     "$.ops.SOFTMAX.creation_constraints[0].expr: unknown function 'floor'"),
    ("disallowed construct", lambda d: d["ops"]["PAD"]["operands"]["1"].update(
        shape_expr="[in0_rank, 2] if in0_shape is None else in0_shape[1:]"),
     "$.ops.PAD.operands[\"1\"].shape_expr: 'in0_shape is None' is not allowed"),
]
BAD_NAME_EDITS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("unknown option name", lambda d: d["ops"]["AVERAGE_POOL_2D"]["options"][5].update(
        expr="strid_w <= filter_width"),
     "$.ops.AVERAGE_POOL_2D.options[5].expr: unknown name 'strid_w' in 'strid_w <= filter_width'"),
    ("unknown operand field", lambda d: d["ops"]["SOFTMAX"]["creation_constraints"][0].update(
        expr="in0_rnak >= 1"),
     "$.ops.SOFTMAX.creation_constraints[0].expr: unknown name 'in0_rnak'"),
    ("unknown quant name", lambda d: d["ops"]["QUANTIZE"].update(
        quant_constraints=["in0_scale / out_scale < 256"]),
     "$.ops.QUANTIZE.quant_constraints[0]: unknown name 'out_scale'"),
    ("option field without default", lambda d: d["ops"]["GELU"]["options"][0].update(
        field="aproximate"),
     "$.ops.GELU.options[0].field: option field 'aproximate' has no default"),
]


@pytest.mark.parametrize(("edit", "expected"), [(e, x) for _, e, x in BAD_PROFILE_EDITS],
                         ids=[n for n, _, _ in BAD_PROFILE_EDITS])
def test_validators_agree_on_broken_profiles(edit: Callable[[dict[str, Any]], None],
                                             expected: str) -> None:
    data = _small(PROFILE, _load(PROFILE))
    edit(data)
    own = _assert_agree(_schema(PROFILE), data, expected)
    assert own is not None
    assert f"{own.path}: {own.message}".startswith(expected)


@pytest.fixture
def broken_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                   ) -> Iterator[Callable[[Callable[[dict[str, Any]], None]], Path]]:
    """Point load_profile at an edited copy of the profile (and its schema)."""
    def write(edit: Callable[[dict[str, Any]], None]) -> Path:
        data = _load(PROFILE)
        edit(data)
        target = tmp_path / PROFILE.name
        target.write_text(json.dumps(data), encoding="utf-8")
        shutil.copy(schema_path(PROFILE), schema_path(target))
        monkeypatch.setattr(profile_module, "PROFILE_FILE", target)
        profile_module.load_profile.cache_clear()
        return target

    yield write
    profile_module.load_profile.cache_clear()


@pytest.mark.parametrize(("edit", "expected"),
                         [(e, x) for _, e, x in BAD_PROFILE_EDITS + BAD_NAME_EDITS],
                         ids=[n for n, _, _ in BAD_PROFILE_EDITS + BAD_NAME_EDITS])
def test_load_profile_refuses_a_broken_profile_in_one_line(
        broken_profile: Callable[[Callable[[dict[str, Any]], None]], Path],
        edit: Callable[[dict[str, Any]], None], expected: str) -> None:
    target = broken_profile(edit)
    with pytest.raises(DataFileError) as caught:
        _checked_profile()
    message = str(caught.value)
    assert message.startswith(f"{target}: {expected}")
    assert "\n" not in message


@pytest.mark.parametrize("edit", [
    lambda d: d["ops"]["LEAKY_RELU"].update(notess=""),
    lambda d: d["ops"]["ABS"].pop("notes"),
    lambda d: d["ops"].update(ABS=[]),
    lambda d: d.update(opps={}),
    lambda d: d["general"][0].update(flagz={}),
])
def test_unknown_keys_of_an_op_entry_are_found_when_the_profile_loads(
        broken_profile: Callable[[Callable[[dict[str, Any]], None]], Path],
        edit: Callable[[dict[str, Any]], None]) -> None:
    broken_profile(edit)
    with pytest.raises(DataFileError):
        profile_module.load_profile()


def test_an_op_entry_is_checked_when_first_read(
        broken_profile: Callable[[Callable[[dict[str, Any]], None]], Path]) -> None:
    target = broken_profile(lambda d: d["ops"]["PAD"]["operands"]["1"].update(statik=True))
    profile = profile_module.load_profile()  # the entry's own keys are fine
    assert profile.ops.get("ADD") is not None
    unknown = r"PAD.operands\[\"1\"\]: unknown key 'statik'"
    with pytest.raises(DataFileError, match=unknown) as caught:
        profile.ops.get("PAD")
    assert str(caught.value).startswith(str(target))
    with pytest.raises(DataFileError):
        dict(profile.ops)  # copying reads every entry
    assert "PAD" in profile.ops.keys()  # names alone are read without a check


@pytest.mark.parametrize("path", DATA_FILES[1:], ids=FILE_IDS[1:])
def test_load_refuses_an_unknown_key_in_one_line(path: Path, tmp_path: Path) -> None:
    data = _load(path)
    data["abut"] = "a mistyped key"
    target = tmp_path / path.name
    target.write_text(json.dumps(data), encoding="utf-8")
    shutil.copy(schema_path(path), schema_path(target))
    with pytest.raises(DataFileError) as caught:
        load_data_file(target)
    assert str(caught.value) == f"{target}: $: unknown key 'abut' (did you mean 'about'?)"


def test_load_refuses_invalid_json(tmp_path: Path) -> None:
    target = tmp_path / "custom_ops.json"
    target.write_text('{"about": "x",\n "ops": }', encoding="utf-8")
    with pytest.raises(DataFileError, match=r"custom_ops.json: line 2 column 9: not valid JSON"):
        load_data_file(target)


# -- the validator on each keyword ---------------------------------------------------------
KEYWORD_CASES: list[tuple[dict[str, Any], list[Any]]] = [
    ({"type": "integer"}, [1, 1.0, 1.5, True, "1", None]),
    ({"type": "number", "minimum": 0, "maximum": 1}, [0, 0.5, 1, 2, -1, False, "x"]),
    ({"type": ["string", "null"]}, ["a", None, 0, []]),
    ({"enum": [1, "a", True, None, [1]]}, [1, 1.0, True, "a", None, [1], [True], 0, "b"]),
    ({"const": False}, [False, 0, None]),
    ({"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2},
     [[], ["a"], ["a", "b"], ["a", 1], ["a", "b", "c"], "ab"]),
    ({"type": "array", "items": {"type": "array", "items": {"type": "integer", "minimum": 0}}},
     [[[0, 1], []], [[0, -1]], [[0.0]], [[True]], [0]]),
    ({"prefixItems": [{"type": "integer"}, {"type": "string"}], "items": {"type": "boolean"}},
     [[1], [1, "a", True], [1, "a", 2], ["a"], {}]),
    ({"type": "object", "required": ["a"], "additionalProperties": False,
      "properties": {"a": {"type": "string", "minLength": 2}, "b": {}}},
     [{"a": "xy"}, {"a": "x"}, {"b": 1}, {"a": "xy", "c": 1}, [], {"a": "xy", "b": None}]),
    ({"type": "object", "patternProperties": {"^x": {"type": "integer"}},
      "additionalProperties": {"type": "string"}, "propertyNames": {"pattern": "^[a-z]+$"}},
     [{"xa": 1, "b": "s"}, {"xa": "s"}, {"b": 1}, {"B": "s"}]),
    ({"anyOf": [{"type": "boolean"}, {"enum": ["detection", "creation"]}]},
     [True, "creation", "other", 1]),
    ({"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 2}]}, [1, 2, 3, 2.5, 1.5]),
    ({"type": "array", "contains": {"const": 3}}, [[1, 3], [1, 2], [], "3"]),
    ({"type": "object", "if": {"required": ["expr"]},
      "then": {"properties": {"expr": {"type": "string"}}},
      "else": {"required": ["field"]}}, [{"expr": "x"}, {"expr": 1}, {"field": 1}, {}]),
    ({"allOf": [{"if": {"properties": {"id": {"const": "a"}}},
                 "then": {"required": ["x"]}},
                {"if": {"properties": {"id": {"const": "b"}}},
                 "then": {"required": ["y"]}}]},
     [{"id": "a", "x": 1}, {"id": "a", "y": 1}, {"id": "b", "y": 1}, {"id": "c"}, {}, 3]),
    # Lists of objects are first checked column by column, then in full on a failure.
    ({"type": "array", "items": {
        "type": "object", "required": ["a"], "additionalProperties": False, "properties": {
            "a": {"type": "array", "items": {"type": "integer", "minimum": 0}},
            "b": {"type": ["string", "null"]},
            "c": {"type": "string", "minLength": 2, "pattern": "^x"}}}},
     [[{"a": [1]}], [{"a": [1], "b": None, "c": "xy"}], [{"a": [-1]}], [{"a": [1], "c": "x"}],
      [{"a": [1], "c": "yy"}], [{"a": [1], "d": 1}], [{"b": "s"}], [{"a": [1]}, {"a": [True]}],
      [{"a": [1.0]}], [{"a": [1]}, []]]),
    ({"type": "object", "additionalProperties": {"type": "number", "maximum": 3}},
     [{"x": 1, "y": 2.5}, {"x": 4}, {"x": "1"}, {}]),
    ({"$ref": "#/$defs/tree", "$defs": {"tree": {"type": "array", "items": {"anyOf": [
        {"type": "integer"}, {"$ref": "#/$defs/tree"}]}}}},
     [[1, [2, [3]]], [1, ["x"]], [], 1]),
]


@pytest.mark.parametrize(("schema", "values"), KEYWORD_CASES)
def test_validator_agrees_with_jsonschema_on_each_keyword(schema: dict[str, Any],
                                                          values: list[Any]) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    for value in values:
        _assert_agree(schema, value, f"{schema} on {value!r}")


def test_validator_refuses_keywords_it_does_not_implement() -> None:
    with pytest.raises(SchemaError, match="unsupported schema keywords: uniqueItems"):
        Validator({"type": "array", "uniqueItems": True})
    with pytest.raises(SchemaError, match="only '#/\\$defs/NAME' references"):
        Validator({"$ref": "other.json"})


# -- expressions ---------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["in0_shape[", "x ** 2", "x is None", "x[1:]", "f(x)", "min()",
                                  "max(*x)", "len(x=1)", "lambda: 1", "(y := 1)"])
def test_check_refuses_what_evaluate_cannot_do(text: str) -> None:
    with pytest.raises(ExpressionError):
        check_expression(text)


def test_check_lists_the_names_an_expression_reads() -> None:
    text = "in0_class not in ('qs8', 'qu8') or in0_scale * max(in1_scales) / out0_scale < 256"
    assert check_expression(text) == {"in0_class", "in0_scale", "in1_scales", "out0_scale"}


@pytest.mark.parametrize(("text", "names"), [
    # no quantization; a non-constant operand; an element the operand does not have;
    # a division by zero
    ("in0_scale / out0_scale < 256", {"in0_scale": None, "out0_scale": 0.5}),
    ("in1_shape[0] == in0_value[3]", {"in1_shape": [8, 3, 3, 4], "in0_value": None}),
    ("in0_value[3] == 1", {"in0_value": [1, 2, 3]}),
    ("in0_scale / out0_scale < 256", {"in0_scale": 0.5, "out0_scale": 0.0}),
])
def test_missing_values_leave_an_expression_undecided(text: str, names: dict[str, Any]) -> None:
    with pytest.raises(Undecided):
        evaluate(text, names)
    assert profile_module._safe_evaluate(text, names) is None


@pytest.mark.parametrize(("text", "names", "error"), [
    ("in0_rnak >= 1", {"in0_rank": 4}, "unknown name 'in0_rnak'"),
    ("in0_class / 2 > 1", {"in0_class": "f32"}, "TypeError"),
    ("in0_rank[0] == 1", {"in0_rank": 4}, "TypeError"),
])
def test_mistakes_in_an_expression_raise_at_evaluation(text: str, names: dict[str, Any],
                                                       error: str) -> None:
    with pytest.raises(ExpressionError, match=error):
        profile_module._safe_evaluate(text, names)


def test_an_expression_evaluates_as_python_does() -> None:
    names = {"new_shape": [], "num_inputs": 1, "in0_rank": 0, "in0_value": [0, 4]}
    assert evaluate("num_inputs == 2 or len(new_shape or []) > 0 or in0_rank == 0", names)
    assert evaluate("in0_value[1] // 3 % 2", names) == 1
