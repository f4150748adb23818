"""The dynamic-shape and quantization rules stay quiet on real architectures.

``keras.applications`` models (random weights, ``weights=None``) at small
input sizes, with a static batch of 1, converted once per test session in a
child process (the ``applications`` fixture; the test process never imports
TensorFlow): float32, full-int8 with int8 input/output, and for MobileNetV2
also full-int8 with the converter's default float32 input/output.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import tflint
from tflint.diagnostics import Severity
from tflint.loaders import load
from tflint.registry import load_rules

pytestmark = [pytest.mark.tensorflow, pytest.mark.slow]

OWN_RULES = sorted(r.code for r in load_rules()
                   if r.__module__.startswith(("tflint_rules.dynamic_", "tflint_rules.quant_")))

ARCHITECTURES = ("mobilenet_v2", "mobilenet_v3_small")
VARIANTS = ("float32", "int8")
#: Findings that are true facts about a variant, with why they are expected.
EXPECTED_INFO: dict[str, dict[str, str]] = {
    "mobilenet_v2_int8_float_io": {
        "TFL301": "the converter's default keeps float32 input/output around the int8 graph; "
                  "that is exactly what TFL301 reports, as information",
    },
}


@pytest.fixture(scope="session")
def converted(applications: dict[str, Path]) -> dict[str, Path]:
    return {stem: path for stem, path in applications.items()
            if stem.startswith(tuple(f"{name}_" for name in ARCHITECTURES))}


def test_every_variant_was_converted(converted: dict[str, Path]) -> None:
    expected = {f"{name}_{variant}" for name in ARCHITECTURES for variant in VARIANTS}
    assert expected | set(EXPECTED_INFO) == set(converted)
    for stem, path in converted.items():
        graph = load(str(path))
        assert len(graph) > 50, stem  # the whole network, not a stub
        [image] = graph.inputs
        assert image.shape == (1, 96, 96, 3)
        wanted = "int8" if stem.endswith("_int8") else "float32"
        assert image.dtype == wanted, (stem, image.dtype)


@pytest.mark.parametrize("stem", [f"{name}_{variant}" for name in ARCHITECTURES
                                  for variant in VARIANTS] + sorted(EXPECTED_INFO))
def test_no_findings_beyond_the_expected_facts(converted: dict[str, Path], stem: str) -> None:
    result = tflint.lint(converted[stem], tflint.Config(select=OWN_RULES))
    [file] = result.files
    assert file.error is None, file.error
    expected = EXPECTED_INFO.get(stem, {})
    unexpected = [f"{d.code} {d.message} ({d.location})" for d in file.diagnostics
                  if d.code not in expected]
    assert unexpected == []
    for diagnostic in file.diagnostics:
        assert diagnostic.severity is Severity.INFO, diagnostic
    # The expected facts are found: the rules did run on this model.
    assert {d.code for d in file.diagnostics} == set(expected)
