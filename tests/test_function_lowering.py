"""The function-lowering table: well-formed, covering what the reader produces, and current.

``tflint/data/function_lowering.json`` is measured with the real converter and
LiteRT runtime by ``scripts/generate_function_lowering.py``.  The fast tests
check its shape and that every function the dataflow reader names has data;
the slow one re-measures a sample (shape arithmetic, a Select TF op, float32
and int32, operators and calls) with the installed TensorFlow and LiteRT and
compares it with the committed entries.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT

from tflint import data
from tflint.analyses.custom_code import known_functions, lookup
from tflint.dataflow import BINARY_OPERATORS, COMPARISONS, SYNONYMS

TABLE = ROOT / "tflint" / "data" / "function_lowering.json"
SCRIPT = ROOT / "scripts" / "generate_function_lowering.py"
#: Re-measured by the currentness test.
SAMPLE = ["where/ttt/float32", "cumprod/t/float32", "reshape/tl/float32", "getitem/sc/int32",
          "multiply/tc/int32", "greater/tc/float32", "clip/tcc/float32", "silu/t/float32"]


@pytest.fixture(scope="module")
def table() -> dict:
    return json.loads(TABLE.read_text(encoding="utf-8"))


def test_table_is_valid_against_its_schema() -> None:
    loaded = data.load("function_lowering.json")
    assert loaded["entries"]


def test_each_lowering_is_consistent(table: dict) -> None:
    for entry in table["entries"]:
        for mode in ("static", "dynamic"):
            part = entry[mode]
            count = len(part["ops"])
            assert len(part["delegated"]) == len(part["deps"]) == count, entry["expression"]
            assert all(0 <= d < i for i, deps in enumerate(part["deps"]) for d in deps)
            assert part["flex_ops"] == [op for op in part["ops"] if op.startswith("Flex")]
            assert part["converts_builtin"] == (not part["flex_ops"]), entry["expression"]


def test_operators_and_common_functions_have_data() -> None:
    known = known_functions()
    operators = set(BINARY_OPERATORS.values()) - {"floordiv", "mod"} | set(COMPARISONS.values())
    assert operators <= known
    assert {"where", "shape", "reshape", "getitem", "cumprod", "clip", "relu6", "sigmoid",
            "cast", "concatenate", "matmul"} <= known
    targets = set(SYNONYMS.values()) - {"cumsum", "cumprod"}
    missing = sorted(t for t in targets if t not in known)
    assert missing == [], missing


def test_int32_is_measured_where_it_matters() -> None:
    float_mul = lookup("multiply", "tc", "float32")
    int_mul = lookup("multiply", "tc", "int32")
    assert float_mul is not None and int_mul is not None
    assert float_mul["static"]["delegated"] == [True]
    assert int_mul["static"]["delegated"] == [False]  # XNNPACK computes in float only


def test_shape_functions_differ_with_a_dynamic_batch() -> None:
    shape = lookup("shape", "t", "float32")
    assert shape is not None
    assert shape["static"]["ops"] == [] and shape["dynamic"]["ops"] == ["SHAPE"]


@pytest.mark.tensorflow
@pytest.mark.runtime
@pytest.mark.slow
def test_sample_matches_the_installed_converter_and_runtime() -> None:
    run = subprocess.run([sys.executable, str(SCRIPT), "--check", "--only", ",".join(SAMPLE)],
                         capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr[-2000:]
    assert f"{len(SAMPLE)} samples match the table" in run.stdout
