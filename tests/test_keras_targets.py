"""Keras files on targets without lowering-table data: the targets place the predicted ops."""

from __future__ import annotations

import pytest
from conftest import fixture

import tflint
from tflint.analyses import Analyses
from tflint.analyses.keras_ops import predicted_graph
from tflint.analyses.keras_targets import TargetPrediction
from tflint.config import Config
from tflint.loaders import load

OTHER_TARGETS = ("ethos-u55-128", "ethos-u85-256", "tflm", "edgetpu", "gpu")


def lint(path: str, targets: tuple[str, ...], select: str = "ALL") -> tflint.FileResult:
    config = Config(select=[select], targets=list(targets))
    [result] = tflint.lint(str(fixture(path)), config).files
    return result


@pytest.mark.parametrize("target", OTHER_TARGETS)
def test_a_clean_cnn_runs_whole_on_every_target(target: str) -> None:
    analyses = Analyses(load(str(fixture("clean/mobile_cnn.keras"))), (target,))
    prediction = analyses.keras_prediction()
    assert isinstance(prediction, TargetPrediction)
    base = analyses.keras_prediction("xnnpack")
    assert base is not None and prediction.ops == base.ops == 6
    assert prediction.delegated == 6 and prediction.partitions == 1
    assert prediction.conversion == ("float32" if target == "gpu" else "int8")
    block = analyses.placement_block()
    assert block is not None and block["target"] == target and block["cpu_ops"] == []


def test_the_predicted_graph_carries_what_the_targets_read() -> None:
    keras = load(str(fixture("clean/mobile_cnn.keras")))
    base = Analyses(keras).keras_prediction()
    assert base is not None
    built = predicted_graph(keras, base, "int8")
    conv = next(built.graph.nodes())
    assert conv.op_type == "CONV_2D"
    assert conv.options["stride_w"] == conv.options["stride_h"] == 2
    assert conv.options["padding"] == "SAME"
    assert conv.options["fused_activation_function"] == "RELU6"  # the ReLU(6) after it
    data, weights, bias = conv.inputs
    assert data.dtype == "int8" and data.shape == (1, 16, 16, 3)
    assert weights.is_constant and weights.shape == (16, 3, 3, 3)
    assert weights.quantization is not None and len(weights.quantization.scale) == 16
    assert bias.dtype == "int32"
    softmax = list(built.graph.nodes())[-1]
    assert softmax.op_type == "SOFTMAX"
    assert softmax.outputs[0].quantization.scale == (1 / 256,)
    float_graph = predicted_graph(keras, base, "float32").graph
    dtypes = {t.dtype for n in float_graph.nodes() for t in n.inputs if not t.is_constant}
    assert dtypes == {"float32"}  # and the MEAN's axes stay int32
    assert all(t.quantization is None for n in float_graph.nodes() for t in n.inputs)


def test_a_non_xnnpack_primary_target_gives_no_internal_error() -> None:
    result = lint("seed/custom_activation.keras", ("ethos-u55-128",))
    assert result.internal_errors == []
    assert "ethos-u55-128" in result.placement_summaries
    assert not [d for d in result.diagnostics if d.code in ("TFL121", "TFL222")]


def test_an_embedding_lookup_fails_on_tflm_and_stops_the_edge_tpu() -> None:
    result = lint("keras_cases/embedding_lookup.json", ("xnnpack", "tflm", "edgetpu"), "TFL130")
    tflm = [d for d in result.diagnostics if d.target == "tflm"]
    assert len(tflm) == 1 and tflm[0].severity.value == "error"
    assert "SELECT" in tflm[0].message and "int8 conversion" in tflm[0].message
    [edgetpu] = [d for d in result.diagnostics if d.target == "edgetpu"]
    # The compiler stops at the lookup: the layers after it go with that one finding.
    assert "LESS is not in the Edge TPU's supported operations" in edgetpu.message
    assert "2 ops of 2 layers after it ('pool', 'classifier')" in edgetpu.message
    assert edgetpu.suggestion and "stops at the first" in edgetpu.suggestion


def test_a_dynamic_batch_is_fixed_for_a_device() -> None:
    # With a dynamic batch Flatten needs shape ops; a conversion for a device fixes it.
    result = lint("keras_cases/flatten_dynamic_batch.json", ("ethos-u55-128", "tflm"))
    assert not [d for d in result.diagnostics if d.code == "TFL130"]
    assert "in 1 partition, 0 on CPU" in result.placement_summaries["ethos-u55-128"]


def test_layers_off_the_gpu_for_one_shared_reason_are_one_finding() -> None:
    result = lint("keras_cases/mixed_float16.json", ("gpu",), "TFL130")
    shared = [d for d in result.diagnostics if "largest partition" in d.message]
    assert len(shared) == 1
    assert "the ops of 3 layers ('conv', 'gap', 'classifier'" in shared[0].message
