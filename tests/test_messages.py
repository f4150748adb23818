"""Messages fit the case: advice matches the op, layer and dtype it is attached to; plurals are
right; a message does not repeat the location printed next to it."""

from __future__ import annotations

import re

import pytest

import tflint
from tflint.graph import Quantization
from tflint.registry import find_rule
from tflint.testing import GraphBuilder, run_rule

#: A count followed by the wrong number of its noun (``1 ops``, ``2 partition``).
_WRONG_PLURAL = re.compile(
    r"(?<![\w.])1 (ops|partitions|layers|files|diagnostics|findings|inputs|outputs)\b"
    r"|(?<![\w.])(?:[02-9]|\d\d+) (op|partition|layer|file|diagnostic|input|output)\b"
    r"(?![-_]| call)")


def _fallback(graph: tflint.graph.ModelGraph) -> list[tflint.Diagnostic]:
    return run_rule(find_rule("TFL110"), graph)


def test_weights_dequantize_goes_with_its_consumer_and_its_advice() -> None:
    g = GraphBuilder()
    x = g.input("x", "float32", (1, 4))
    w16 = g.constant("model/act/w16", "float16", (1, 4), values=[0.5] * 4)
    [w] = g.op("DEQUANTIZE", [w16], [("model/act/w", "float32", (1, 4))])
    [c] = g.op("LESS", [x, w], [("model/act/Less", "bool", (1, 4))])
    g.output(c)
    [finding] = _fallback(g.build())
    assert sorted(op["op"] for op in finding.related) == ["DEQUANTIZE", "LESS"]
    assert finding.suggestion and "comparison" in finding.suggestion
    assert "activation" not in finding.suggestion  # not the float16-activation advice


@pytest.mark.parametrize("op_type, words", [
    ("DENSIFY", ("sparse",)),
    ("CALL_ONCE", ("initialization",)),
])
def test_ops_without_a_keras_layer_get_advice_of_their_own(op_type: str, words: tuple) -> None:
    g = GraphBuilder()
    x = g.input("x", "float32", (4,))
    g.op(op_type, [x], [("y", "float32", (4,))])
    [finding] = _fallback(g.build())
    assert finding.suggestion is not None
    assert "see which Keras layer" not in finding.suggestion
    assert all(word in finding.suggestion for word in words), finding.suggestion


def test_dtype_advice_only_when_the_dtype_is_the_reason() -> None:
    q = Quantization(scale=(0.1,), zero_point=(0,))
    g = GraphBuilder()
    x = g.input("x", "int16", (1, 4), q)
    g.op("TANH", [x], [("y", "int16", (1, 4), q)])
    [int16] = _fallback(g.build())
    assert "on int16" in int16.message and int16.suggestion is not None
    assert "int16" in int16.suggestion or "16x8" in int16.suggestion
    g = GraphBuilder()
    x = g.input("x", "float32", (1, 4))
    g.op("SELECT_V2", [x, x, x], [("y", "float32", (1, 4))])
    [select] = _fallback(g.build())
    assert select.suggestion and "select" in select.suggestion.lower()


def test_identity_arithmetic_advice_names_the_keras_layer_it_came_from() -> None:
    g = GraphBuilder()
    x = g.input("x", "float32", (1, 4))
    zero = g.constant("model/normalization/sub/y", "float32", (), values=[0.0])
    g.op("SUB", [x, zero], [("model/normalization/sub", "float32", (1, 4))],
         options={"fused_activation_function": "NONE"})
    [finding] = run_rule(find_rule("TFL411"), g.build())
    assert finding.suggestion and "Normalization layer 'normalization'" in finding.suggestion
    assert "adapt()" in finding.suggestion and "Lambda" not in finding.suggestion


def test_fixture_messages_have_right_plurals_and_no_repeated_location(
        fixtures_result: tflint.Result) -> None:
    from conftest import render_from_root

    text = render_from_root(fixtures_result, "text", verbose=True)
    assert not _WRONG_PLURAL.search(text), _WRONG_PLURAL.search(text)
    assert "+ -" not in text and "runs in 0 partitions" not in text
    for line in text.splitlines():  # the op or layer named once per finding line
        if ":1:1: " in line and "(" in line:
            for name in re.findall(r'"([^"]{6,})"', line):
                assert line.count(name) == 1, line
    for file in fixtures_result.files:
        for d in file.diagnostics:
            if d.location is not None and d.location.op_index is not None and len(
                    d.location.name) > 12:  # a tensor name the location prints
                assert d.location.name not in d.message, (file.path, d.code, d.message)
            assert not _WRONG_PLURAL.search(d.message), (d.code, d.message)
            if d.suggestion:
                assert not _WRONG_PLURAL.search(d.suggestion), (d.code, d.suggestion)
