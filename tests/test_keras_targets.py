"""Keras files on targets without lowering-table data: the targets place the predicted ops."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, fixture

import tflint
from tflint.analyses import Analyses
from tflint.analyses.delegation import predict_delegation
from tflint.analyses.keras_ops import PredictedGraph, int8_lowering, predicted_graph
from tflint.analyses.keras_prediction import Lowering
from tflint.analyses.keras_targets import TargetPrediction
from tflint.config import Config
from tflint.graph import Node, Tensor
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


# -- the ops as a conversion for the target writes them ---------------------------------------

KERAS_TARGETS = ROOT / "fixtures" / "keras_targets"
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "scripts"))


@pytest.fixture(scope="module")
def truth() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((KERAS_TARGETS / "manifest.json").read_text("utf-8"))
    return data


def _built(name: str, conversion: str) -> PredictedGraph:
    keras = load(str(KERAS_TARGETS / f"{name}.json"))
    base = Analyses(keras).keras_prediction()
    assert base is not None
    return predicted_graph(keras, base, conversion)


def _ops_of(built: PredictedGraph, layer: str) -> list[Node]:
    [node_id] = [k for k, v in built.layer_of_op.items() if v.layer_name == layer][:1] or [None]
    assert node_id is not None, f"no op for {layer}"
    keras_id = built.layer_of_op[node_id].id
    return [built.graph.node(i) for i in built.ops_of_layer[keras_id]]


def test_the_int8_conversion_keeps_a_float_only_op_between_dequantize_and_quantize() -> None:
    lowering = int8_lowering(Lowering(["FULLY_CONNECTED", "ELU"], [True, True], [[], [0]]))
    assert lowering.ops == ["FULLY_CONNECTED", "DEQUANTIZE", "ELU", "QUANTIZE"]
    assert lowering.deps == [[], [0], [1], [2]] and lowering.exits() == [3]
    # A float op reading the layer's input is dequantized from it.
    first = int8_lowering(Lowering(["ELU", "ADD"], [True, True], [[], [0]]))
    assert first.ops == ["DEQUANTIZE", "ELU", "QUANTIZE", "ADD"]
    unchanged = Lowering(["CONV_2D", "HARD_SWISH"], [True, True], [[], [0]])
    assert int8_lowering(unchanged) is unchanged  # measured: both run in int8


def test_the_int8_graph_computes_elu_in_float_and_ethos_u_leaves_it_on_the_cpu() -> None:
    built = _built("cnn_elu", "int8")
    ops = {n.op_type: n for n in _ops_of(built, "stem_elu")}
    assert list(ops) == ["DEQUANTIZE", "ELU", "QUANTIZE"]
    assert ops["DEQUANTIZE"].inputs[0].dtype == "int8"
    assert ops["ELU"].inputs[0].dtype == ops["ELU"].outputs[0].dtype == "float32"
    assert ops["ELU"].inputs[0].quantization is None
    assert ops["QUANTIZE"].outputs[0].dtype == "int8"
    placed = predict_delegation(built.graph, "ethos-u55-128")
    assert {built.graph.node(n).op_type for n in placed.cpu_reasons} == {
        "DEQUANTIZE", "ELU", "QUANTIZE"}


def test_small_constant_operands_hold_the_values_the_targets_read() -> None:
    built = _built("cnn_elu", "int8")
    [crop] = _ops_of(built, "crop")
    begin, end, strides = (_values(built, t) for t in crop.inputs[1:])
    assert strides == (1, 1, 1, 1)  # the Edge TPU and the GPU read them
    assert begin == (0, 1, 1, 0) and end == (1, 4, 4, 12)
    [mean] = _ops_of(built, "gap")
    assert _values(built, mean.inputs[1]) == (1, 2)
    [pad] = _ops_of(built, "pad")
    assert _values(built, pad.inputs[1]) == (0, 0, 0, 1, 0, 1, 0, 0)
    assert pad.inputs[1].shape == (4, 2)
    edgetpu = predict_delegation(built.graph, "edgetpu")
    # Off the Edge TPU only because it follows the float ELU, not for its strides.
    assert crop.id in edgetpu.follows


def _values(built: PredictedGraph, tensor: Tensor) -> tuple[float, ...] | None:
    from tflint.patterns import constant_values

    return constant_values(built.graph, tensor)


def test_a_separable_convolution_s_depthwise_half_keeps_the_input_channels() -> None:
    built = _built("cnn_elu", "float32")
    depthwise, pointwise = _ops_of(built, "sep")
    assert depthwise.op_type == "DEPTHWISE_CONV_2D" and pointwise.op_type == "CONV_2D"
    assert depthwise.inputs[0].shape == (1, 8, 8, 8)
    assert depthwise.outputs[0].shape == (1, 4, 4, 8)  # strided, channels x multiplier 1
    assert pointwise.outputs[0].shape == (1, 4, 4, 12)
    assert not predict_delegation(built.graph, "gpu").cpu_reasons


def test_a_padding_equal_to_same_folds_into_the_convolution_after_it() -> None:
    built = _built("cnn_elu", "int8")
    assert not [n for n in built.graph.nodes() if n.layer_name == "dw_pad"]
    [depthwise] = _ops_of(built, "dw")
    assert depthwise.options["padding"] == "SAME"
    assert depthwise.inputs[0].shape == (1, 16, 16, 8)
    # A padding that a 1x1 convolution would not add stays a PAD.
    assert [n.op_type for n in _ops_of(built, "pad")] == ["PAD"]


def test_a_1d_layer_s_squeeze_and_the_next_one_s_expand_cancel() -> None:
    built = _built("audio_conv1d", "int8")
    assert [n.op_type for n in _ops_of(built, "c1")] == ["RESHAPE", "CONV_2D"]
    assert [n.op_type for n in _ops_of(built, "pool1")] == ["MAX_POOL_2D"]
    [pool] = _ops_of(built, "pool1")
    assert pool.inputs[0].shape == (1, 1, 14, 8)


def test_a_normalization_keeps_the_reduced_axis_inside_the_layer() -> None:
    built = _built("sequence_attention", "float32")
    ops = _ops_of(built, "ln")
    means = [n for n in ops if n.op_type == "MEAN"]
    assert all(n.outputs[0].shape == (1, 8, 1) and n.options["keep_dims"] for n in means)
    add_epsilon = next(n for n in ops if n.op_type == "ADD")
    assert add_epsilon.inputs[1].shape == ()


@pytest.mark.parametrize("target", OTHER_TARGETS)
def test_layers_off_each_target_match_the_real_tools(truth: dict[str, Any], target: str) -> None:
    """The layers with ops off the target, predicted from the Keras config, are the ones the
    real tool (Vela, the TFLite Micro interpreter, the GPU Analyzer) left off the real
    conversion, and so are the accelerator partitions."""
    wrong = []
    for name, entry in truth["models"].items():
        seen = entry["targets"][target]
        analyses = Analyses(load(str(KERAS_TARGETS / entry["file"])), (target,))
        prediction = analyses.keras_prediction()
        assert isinstance(prediction, TargetPrediction)
        off = {p.layer for p in prediction.layers
               if any(r is not None for r in prediction.op_reasons.get(p.node.id, []))}
        if off != set(seen["off_layers"]) - {"(no layer)"}:
            wrong.append(f"{name}: predicted {sorted(off)}, real {seen['off_layers']}")
        if target != "tflm" and prediction.partitions != seen["partitions"]:
            wrong.append(f"{name}: {prediction.partitions} partitions, real {seen['partitions']}")
    assert not wrong


@pytest.mark.vela
@pytest.mark.slow
def test_vela_still_places_the_sample_as_the_manifest_records(truth: dict[str, Any]) -> None:
    import bench_keras_targets as bench
    from generate_keras_targets_fixtures import VELA_SAMPLE
    from vela_runner import vela_version

    assert vela_version() in truth["versions"]
    tflite = KERAS_TARGETS / f"{VELA_SAMPLE}_int8.tflite"
    configs = ("ethos-u55-128", "ethos-u85-256")
    measured = bench.measure_truth({c: [tflite] for c in configs})
    keras = load(str(KERAS_TARGETS / f"{VELA_SAMPLE}.json"))
    for config in configs:
        seen = measured[(config, tflite.name)]
        prediction = Analyses(keras, (config,)).keras_prediction()
        assert isinstance(prediction, TargetPrediction)
        layers = bench.op_layers(tflite, keras, bench.built_ops(prediction))
        off = {layers[i] or "(no layer)" for i, o in enumerate(seen["off"]) if o}
        recorded = truth["models"][VELA_SAMPLE]["targets"][config]
        assert sorted(off) == recorded["off_layers"]
        assert seen["off"].count(False) == recorded["on_target"]
        assert seen["partitions"] == recorded["partitions"]


def test_a_reshape_to_unit_axes_after_a_global_average_folds_into_it() -> None:
    built = _built("squeeze_excite", "int8")
    assert not [n for n in built.graph.nodes() if n.layer_name == "se_shape"]
    [mean] = _ops_of(built, "se_pool")
    assert mean.options["keep_dims"] and mean.outputs[0].shape == (1, 1, 1, 8)
    reduce = _ops_of(built, "se_reduce")[0]
    assert reduce.inputs[0] is mean.outputs[0]  # a 4-D input, as TFLite Micro needs
    assert not predict_delegation(built.graph, "tflm").cpu_reasons


def test_attention_multiplies_its_weights_by_the_values() -> None:
    built = _built("sequence_attention", "int8")
    first, _, second = _ops_of(built, "dot")
    assert first.op_type == second.op_type == "BATCH_MATMUL"
    assert len(second.inputs) == 2 and second.inputs[1] is first.inputs[1]
    assert not predict_delegation(built.graph, "tflm").cpu_reasons.get(second.id)


def test_the_finding_says_the_int8_conversion_leaves_the_op_in_float() -> None:
    config = Config(select=["TFL130"], targets=["ethos-u55-128"])
    [result] = tflint.lint(str(KERAS_TARGETS / "cnn_elu.json"), config).files
    [finding] = [d for d in result.diagnostics if d.code == "TFL130"]
    assert "'stem_elu' becomes DEQUANTIZE, ELU, QUANTIZE" in finding.message
    assert "the int8 conversion leaves ELU in float" in finding.message


def test_a_recurrent_layer_s_last_step_is_a_shrinking_slice_the_gpu_does_not_take() -> None:
    keras = load(str(fixture("keras_cases/lstm_static_batch.json")))
    base = Analyses(keras).keras_prediction()
    assert base is not None
    built = predicted_graph(keras, base, "float32")
    [last_step] = [n for n in built.graph.nodes() if n.op_type == "STRIDED_SLICE"]
    assert last_step.options["shrink_axis_mask"] == 2
    reason = predict_delegation(built.graph, "gpu").cpu_reasons[last_step.id]
    assert "shrink_axis_mask" in reason


def test_an_embedding_reads_its_table_at_integer_token_ids() -> None:
    keras = load(str(fixture("keras_cases/embedding_lookup.json")))
    base = Analyses(keras).keras_prediction()
    assert base is not None
    built = predicted_graph(keras, base, "int8")
    assert [t.dtype for t in built.graph.inputs] == ["int32"]  # token ids stay integer
    [gather] = [n for n in built.graph.nodes() if n.op_type == "GATHER"]
    table, ids = gather.inputs
    assert table.is_constant and table.dtype == "int8" and table.shape == (20, 4)
    assert table.quantization is not None and len(table.quantization.scale) == 1
    assert ids.dtype == "int32" and ids.shape == (1, 6)
    reasons = predict_delegation(built.graph, "gpu").cpu_reasons
    assert "1-D indices" in reasons[gather.id]


def test_constants_fold_into_the_convolutions_around_them_and_a_1x1_pooling_goes() -> None:
    built = _built("hard_sigmoid_head", "int8")
    ops = [n.op_type for n in built.graph.nodes()]
    assert "ADD" not in ops and "MEAN" not in ops  # + 3 into the bias; a mean over 1x1
    [squash] = _ops_of(built, "squash")
    assert squash.options["fused_activation_function"] == "RELU6"
    # The / 6 after the activation goes into the weights of the convolution reading it.
    assert ops == ["CONV_2D", "CONV_2D", "RESHAPE"]
    [head] = _ops_of(built, "head")
    assert head.inputs[0] is squash.outputs[0]


def test_a_swish_multiplies_by_its_own_input() -> None:
    built = _built("squeeze_excite", "int8")
    logistic, mul = _ops_of(built, "dw_swish")
    assert (logistic.op_type, mul.op_type) == ("LOGISTIC", "MUL")
    assert {t.id for t in mul.inputs} == {logistic.inputs[0].id, logistic.outputs[0].id}
    conv, logistic, mul = _ops_of(built, "se_reduce")  # a convolution's swish
    assert {t.id for t in mul.inputs} == {conv.outputs[0].id, logistic.outputs[0].id}
    assert not any(t.is_constant for t in mul.inputs)


def _chain(tmp_path: Path, layers: list[tuple[str, dict]]) -> Path:
    """A tf.keras 2 functional config: an image input and a chain of ``(class, config)``."""
    entries: list[dict] = [{"class_name": "InputLayer", "name": "x", "inbound_nodes": [],
                            "config": {"batch_input_shape": [1, 8, 8, 4], "dtype": "float32",
                                       "name": "x"}}]
    previous = "x"
    for i, (cls, config) in enumerate(layers):
        name = f"{cls.lower()}{i}"
        entries.append({"class_name": cls, "name": name, "config": {"name": name, **config},
                        "inbound_nodes": [[[previous, 0, 0, {}]]]})
        previous = name
    model = {"class_name": "Functional", "keras_version": "2.15.0", "backend": "tensorflow",
             "config": {"name": "chain", "layers": entries, "input_layers": [["x", 0, 0]],
                        "output_layers": [[previous, 0, 0]]}}
    path = tmp_path / "chain.json"
    path.write_text(json.dumps(model))
    return path


def test_layers_of_one_class_off_for_one_reason_are_one_finding(tmp_path: Path) -> None:
    conv = ("Conv2D", {"filters": 4, "kernel_size": [1, 1], "activation": "linear",
                       "padding": "same", "strides": [1, 1]})
    gelu = ("Activation", {"activation": "gelu"})
    path = _chain(tmp_path, [conv, gelu, conv, gelu, conv, gelu])
    config = Config(select=["TFL130"], targets=["tflm"])
    [result] = tflint.lint(str(path), config).files
    [finding] = result.diagnostics
    assert finding.message.startswith("on TFLite Micro: 3 Activation layers ('activation1', "
                                      "'activation3', 'activation5') each become GELU, which is "
                                      "not supported: GELU")
    two = _chain(tmp_path, [conv, gelu, conv, gelu])
    [result] = tflint.lint(str(two), config).files
    assert len(result.diagnostics) == 2  # fewer than three: one finding per layer


def test_a_custom_layer_keeps_the_shape_for_the_layers_after_it() -> None:
    result = lint("custom_code/lambda_activations.h5", ("ethos-u55-128",), "TFL130")
    assert not [d for d in result.diagnostics if "unknown-rank" in d.message]
