"""The fusion rules stay silent on well-built architectures, float32 and full int8.

The ``applications`` fixture converts untrained ``keras.applications`` models
(MobileNetV2 alpha 0.35 and MobileNetV3Small at 96x96) and the small
ResNet-like model of ``fixtures/generate_fusion.py`` with the real converter,
once per session in a child process (TensorFlow stays out of the test
process).  MobileNetV3's hard-swish comes out as the HARD_SWISH builtin and
its squeeze-excite hard-sigmoid as CONV_2D+RELU6 (the +3 folded into the
bias) then MUL by 1/6, which is no expanded hard-swish: nothing to report.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import tflint
from tflint.config import Config

pytestmark = pytest.mark.slow

#: Test id -> model name in ``applications.py``.
MODEL_NAMES = {"mobilenet_v2_035_96": "mobilenet_v2", "mobilenet_v3_small_96": "mobilenet_v3_small",
               "resnet_like_64": "resnet_like"}
MODELS = list(MODEL_NAMES)


@pytest.fixture(scope="module")
def converted(applications: dict[str, Path]) -> dict[str, Path]:
    """Model file by test id and precision: ``converted["resnet_like_64_int8"]``."""
    return {f"{model}_{precision}": applications[f"{name}_{precision}"]
            for model, name in MODEL_NAMES.items() for precision in ("float32", "int8")}


@pytest.mark.tensorflow
@pytest.mark.parametrize("precision", ["float32", "int8"])
@pytest.mark.parametrize("model", MODELS)
def test_no_fusion_finding(converted: dict[str, Path], model: str, precision: str) -> None:
    [file] = tflint.lint(str(converted[f"{model}_{precision}"]),
                         Config(select=["fusion"])).files
    assert file.error is None
    histogram = file.graph.op_histogram()
    assert sum(histogram.values()) >= 10, histogram  # a real network, not an empty conversion
    assert [(d.code, d.message) for d in file.diagnostics] == []
    dtype = {t.dtype for node in file.graph.nodes() for t in node.outputs
             if node.op_type == "CONV_2D"}
    assert dtype == {precision}


@pytest.mark.tensorflow
@pytest.mark.parametrize("precision", ["float32", "int8"])
def test_mobilenet_v3_hard_swish_is_the_builtin(converted: dict[str, Path],
                                                precision: str) -> None:
    [file] = tflint.lint(str(converted[f"mobilenet_v3_small_96_{precision}"]),
                         Config(select=["fusion"])).files
    histogram = file.graph.op_histogram()
    assert histogram.get("HARD_SWISH", 0) > 0 and "RELU6" not in histogram
