"""The fusion rules stay silent on well-built architectures, float32 and full int8.

``fixtures/generate_fusion.py --applications`` converts untrained
``keras.applications`` models (MobileNetV2 alpha 0.35 and MobileNetV3Small at
96x96) and a small ResNet-like model with the real converter, in a child
process (the conversions take a minute or two; TensorFlow stays out of the
test process).  MobileNetV3's hard-swish comes out as the HARD_SWISH builtin
and its squeeze-excite hard-sigmoid as CONV_2D+RELU6 (the +3 folded into the
bias) then MUL by 1/6, which is no expanded hard-swish: nothing to report.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES

import tflint
from tflint.config import Config

MODELS = ["mobilenet_v2_035_96", "mobilenet_v3_small_96", "resnet_like_64"]


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("applications")
    subprocess.run([sys.executable, str(FIXTURES / "generate_fusion.py"), "--applications",
                    str(folder)], check=True, capture_output=True, timeout=1800)
    return folder


@pytest.mark.tensorflow
@pytest.mark.parametrize("precision", ["float32", "int8"])
@pytest.mark.parametrize("model", MODELS)
def test_no_fusion_finding(converted: Path, model: str, precision: str) -> None:
    [file] = tflint.lint(str(converted / f"{model}_{precision}.tflite"),
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
def test_mobilenet_v3_hard_swish_is_the_builtin(converted: Path, precision: str) -> None:
    [file] = tflint.lint(str(converted / f"mobilenet_v3_small_96_{precision}.tflite"),
                         Config(select=["fusion"])).files
    histogram = file.graph.op_histogram()
    assert histogram.get("HARD_SWISH", 0) > 0 and "RELU6" not in histogram
