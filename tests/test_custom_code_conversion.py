"""Lambda and custom-layer predictions against the real converter, and the fix that
replaces a Lambda by the built-in layer computing the same function."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, fixture, run_tflint
from test_fix_end_to_end import copy_fixtures, keras_arrays, load_safely

import tflint
from tflint.analyses import Analyses
from tflint.loaders import load

pytestmark = [pytest.mark.tensorflow, pytest.mark.slow]

SOURCE = fixture("custom_code/custom_layers.py").parent
BENCH = ROOT / "bench" / "bench_custom_code.py"


@cache
def real_conversion() -> dict:
    """What TensorFlow and LiteRT do with the Keras 3 fixtures (the benchmark's truth)."""
    run = subprocess.run([sys.executable, str(BENCH), "--truth", "keras3"], capture_output=True,
                         text=True, timeout=900, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.runtime
@pytest.mark.parametrize("name", ["lambda_activations.keras", "custom_layers.keras",
                                  "custom_ops.keras", "lambda_cumprod.keras"])
def test_predicted_cpu_ops_match_the_real_conversion(name: str) -> None:
    real = real_conversion()[name]
    graph = load(str(SOURCE / name))
    prediction = Analyses(graph, sources=(str(SOURCE),)).keras_prediction()
    assert prediction is not None
    predicted = {p.layer: Counter(p.lowering.cpu_ops) for p in prediction.layers
                 if p.lowering.cpu_ops}
    # The converter names a Select TF op by its TensorFlow name (FlexCumprod).
    assert predicted == {layer: Counter(ops) for layer, ops in real["cpu_layers"].items()}
    assert real["converts_builtin"] == all(p.lowering.converts_builtin
                                           for p in prediction.layers)


def test_fix_replaces_lambdas_by_builtins_and_keeps_the_weights(tmp_path: Path) -> None:
    (source,) = copy_fixtures(tmp_path, "custom_code/lambda_ops.keras")
    run = run_tflint("--isolated", "--fix", source.name, cwd=tmp_path)
    assert run.code in (0, 1), run.out + run.err
    assert ('fixed TFL121 in layer "ops_leaky": replaced Lambda with '
            "LeakyReLU(negative_slope=0.1)") in run.out
    assert ('fixed TFL420 in layer "ops_swish": replaced Lambda with Activation(\'silu\') '
            "[safe]") in run.out
    assert "wrote lambda_ops.fixed.keras (weights of 3 layers copied unchanged)" in run.out
    output = tmp_path / "lambda_ops.fixed.keras"
    model = load_safely(output)  # no Lambda left: safe mode loads it
    assert type(model.get_layer("ops_leaky")).__name__ == "LeakyReLU"
    assert model.get_layer("ops_leaky").get_config()["negative_slope"] == pytest.approx(0.1)
    original, fixed = keras_arrays(source), keras_arrays(output)
    assert fixed.keys() == original.keys() and original
    for key, array in original.items():
        assert np.array_equal(fixed[key], array), key
    after = tflint.lint(str(output), tflint.Config(select=["TFL121", "TFL601", "TFL103"]))
    assert after.diagnostics == []
