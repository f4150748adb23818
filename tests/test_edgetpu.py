"""The edgetpu target: exact on Coral's compiled pairs, and each documented constraint on its own.

The pairs (``../shared/edgetpu_pairs`` from the repository root) are the
compiler's real output; ``fixtures/probe_edgetpu/manifest.json`` records what it
mapped in each, derived by ``scripts/probe_edgetpu.py``.  Constraints no pair
exercises are tested on in-memory graphs.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import pytest

from tflint.analyses.delegation import Delegation, predict_delegation
from tflint.graph import ModelGraph, Quantization, Tensor
from tflint.schema import DataFileError
from tflint.targets import get_target
from tflint.targets.edgetpu import PROFILE_FILE, load_edgetpu_profile
from tflint.testing import GraphBuilder, run_rule

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import probe_edgetpu  # noqa: E402

MANIFEST = probe_edgetpu.load_manifest()
PAIRS = {entry["model"]: entry for entry in MANIFEST["pairs"]}
Q = Quantization(scale=(0.05,), zero_point=(0,))
_ids = itertools.count()


# -- the compiled pairs ------------------------------------------------------------------------


def test_manifest_is_what_the_pairs_say():
    assert len(PAIRS) == 5
    assert probe_edgetpu.derive_manifest()["pairs"] == MANIFEST["pairs"]


@pytest.mark.parametrize("model", sorted(PAIRS))
def test_cpu_ops_and_segments_exact_on_pair(model):
    entry = PAIRS[model]
    guess = probe_edgetpu.predicted(entry)
    assert guess["refused"] is None
    assert guess["cpu_ops"] == sorted(
        (op["subgraph"], op["index"], op["op"]) for op in entry["cpu_ops"])
    assert guess["edgetpu_segments"] == entry["edgetpu_segments"]
    assert probe_edgetpu.disagreements(entry) == []


def test_deeplab_stops_at_the_resize_and_keeps_the_branch_before_it():
    entry = PAIRS["deeplabv3_mnv2_dm05_pascal_quant.tflite"]
    guess = probe_edgetpu.predicted(entry)
    reasons = guess["delegation"].cpu_reasons
    assert "loss of precision" in reasons["0:64"]
    assert "computed from RESIZE_BILINEAR (op 64)" in reasons["0:67"]
    assert "0:62" not in reasons  # the ASPP branch beside the resize is mapped


def test_check_reports_a_wrong_manifest(tmp_path, monkeypatch):
    wrong = json.loads(json.dumps(MANIFEST))
    wrong["pairs"][0]["cpu_ops"] = []
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(wrong))
    monkeypatch.setattr(probe_edgetpu, "MANIFEST", path)
    monkeypatch.setattr(probe_edgetpu, "load_manifest", lambda: wrong)
    assert probe_edgetpu.main(["--check"]) == 1


# -- in-memory graphs --------------------------------------------------------------------------


def run_time(name: str, shape: tuple[int | None, ...], dtype: str = "int8",
             quantization: Quantization | None = Q) -> Tensor:
    return Tensor(id=f"0:r{next(_ids)}", name=name, dtype=dtype, shape=shape,
                  quantization=quantization)


def placed(graph: ModelGraph) -> Delegation:
    return predict_delegation(graph, "edgetpu")


def one_op(op_type: str, inputs_spec, output_shape, *, options=None, output_dtype="int8",
           input_dtype="int8", version=1) -> Delegation:
    """A model of one op: ``inputs_spec`` items are a shape (run-time input) or
    ``(dtype, shape, values)`` (a constant)."""
    g = GraphBuilder()
    inputs = []
    for position, spec in enumerate(inputs_spec):
        if spec is None:
            inputs.append(None)
        elif isinstance(spec, tuple) and spec and isinstance(spec[0], str):
            dtype, shape, values = spec
            inputs.append(g.constant(f"c{position}", dtype, shape, values=values,
                                     quantization=Q if dtype in ("int8", "uint8") else None))
        else:
            inputs.append(g.input(f"x{position}", input_dtype, spec,
                                  Q if input_dtype in ("int8", "uint8") else None))
    out = run_time("y", output_shape, output_dtype,
                   Q if output_dtype in ("int8", "uint8") else None)
    g.op(op_type, inputs, [out], options=options or {}, version=version)
    g.output(out)
    return placed(g.build())


def reason(delegation: Delegation) -> str | None:
    return delegation.cpu_reasons.get("0:0")


def weights(shape, value=1):
    import math
    return ("int8", shape, [value] * math.prod(shape))


def bias(n):
    return ("int32", (n,), [0] * n)


def test_float_model_is_refused_as_a_whole():
    g = GraphBuilder()
    x = g.input("x", "float32", (1, 8))
    w = g.constant("w", "float32", (4, 8), values=[0.0] * 32)
    y = g.op("FULLY_CONNECTED", [x, w, None], [("y", "float32", (1, 4))])[0]
    g.output(y)
    delegation = placed(g.build())
    assert delegation.refused and "full-integer" in delegation.refused
    assert "float model" in delegation.refused
    assert delegation.delegated == 0 and delegation.partition_count == 0
    assert get_target("edgetpu").refusal_advice


def test_dynamic_range_model_is_refused_and_named():
    g = GraphBuilder()
    x = g.input("x", "float32", (1, 8))
    w = g.constant("w", "int8", (4, 8), values=[1] * 32, quantization=Q)
    y = g.op("FULLY_CONNECTED", [x, w, None], [("y", "float32", (1, 4))])[0]
    g.output(y)
    assert "dynamic-range" in placed(g.build()).refused


def test_integer_model_with_float_io_keeps_the_boundary_on_the_cpu_only():
    g = GraphBuilder()
    x = g.input("x", "float32", (1, 8, 8, 4))
    q = run_time("q", (1, 8, 8, 4))
    g.op("QUANTIZE", [x], [q])
    r = run_time("r", (1, 8, 8, 4))
    g.op("RELU", [q], [r])
    y = g.op("DEQUANTIZE", [r], [("y", "float32", (1, 8, 8, 4))])[0]
    g.output(y)
    delegation = placed(g.build())
    assert delegation.refused is None
    assert set(delegation.cpu_reasons) == {"0:0", "0:2"}
    assert "float model input" in delegation.cpu_reasons["0:0"]
    assert "float model output" in delegation.cpu_reasons["0:2"]
    assert delegation.partition_count == 1


def test_first_unsupported_op_stops_everything_computed_from_it():
    g = GraphBuilder()
    x = g.input("x", "int8", (1, 8, 8, 4), Q)
    a = run_time("a", (1, 8, 8, 4))
    g.op("RELU", [x], [a])                              # 0: mapped
    b = run_time("b", (1, 8, 8, 4))
    g.op("LEAKY_RELU", [a], [b], options={"alpha": 0.1})  # 1: not in the table
    c = run_time("c", (1, 8, 8, 4))
    g.op("RELU", [b], [c])                              # 2: supported, but after the stop
    d = run_time("d", (1, 8, 8, 4))
    g.op("LOGISTIC", [a], [d])                          # 3: beside the stop: mapped
    e = run_time("e", (1, 8, 8, 4))
    g.op("ADD", [c, d], [e], options={"fused_activation_function": "NONE"})  # 4: after it
    g.output(e)
    delegation = placed(g.build())
    assert set(delegation.cpu_reasons) == {"0:1", "0:2", "0:4"}
    assert "not in the Edge TPU's supported operations" in delegation.cpu_reasons["0:1"]
    assert "computed from LEAKY_RELU (op 1)" in delegation.cpu_reasons["0:4"]
    assert delegation.partition_count == 1  # one edgetpu-custom-op, as the compiler makes


def test_ops_after_the_stop_are_one_finding_with_the_stopping_op():
    from tflint_rules.target_fallback import TargetFallback

    g = GraphBuilder()
    x = g.input("x", "int8", (1, 8, 8, 4), Q)
    a = run_time("a", (1, 8, 8, 4))
    g.op("LEAKY_RELU", [x], [a], options={"alpha": 0.1})  # 0: where mapping stops
    b = run_time("b", (1, 8, 8, 4))
    g.op("RELU", [a], [b])                               # 1: follows it
    c = run_time("c", (1, 8, 8, 4))
    g.op("LOGISTIC", [b], [c])                           # 2: follows it
    g.output(c)
    graph = g.build()
    delegation = placed(graph)
    assert delegation.follows == {"0:1": "0:0", "0:2": "0:0"}
    found = run_rule(TargetFallback, graph, targets=("xnnpack", "edgetpu"))
    assert len(found) == 1
    message = found[0].message
    assert message.startswith("on Edge TPU: 3 ops stay on the CPU (LEAKY_RELU, RELU, LOGISTIC): "
                              "LEAKY_RELU is not in the Edge TPU's supported operations")
    assert "other reason" not in message  # the followers' reasons are the stop's consequence
    assert "fixing it takes 3 ops off the CPU" in message
    assert "stops at the first it cannot map" in (found[0].suggestion or "")


def test_deeplab_reports_the_resize_stop_once_with_everything_after_it():
    from tflint_rules.target_fallback import TargetFallback

    from tflint.loaders import load

    graph = load(str(probe_edgetpu.PAIRS_DIR / "deeplabv3_mnv2_dm05_pascal_quant.tflite"))
    found = run_rule(TargetFallback, graph, targets=("xnnpack", "edgetpu"))
    stop = [d for d in found if "RESIZE_BILINEAR on the Edge TPU" in d.message]
    assert len(stop) == 1
    assert "CONV_2D x2" in stop[0].message and "CONCATENATION" in stop[0].message
    assert not [d for d in found if "where the Edge TPU compiler stopped" in d.message]
    assert not [d for d in found if "CONV_2D stays on the CPU: CONV_2D" in d.message]


def test_custom_and_flex_ops_are_not_mapped():
    assert "custom op 'MyOp'" in reason(_custom("MyOp", "custom"))
    assert "Select TF ops" in reason(_custom("FlexErf", "flex"))


def _custom(name: str, origin: str) -> Delegation:
    g = GraphBuilder()
    x = g.input("x", "int8", (1, 8), Q)
    y = run_time("y", (1, 8))
    g.op(name, [x], [y], origin=origin)
    g.output(y)
    return placed(g.build())


def test_only_three_innermost_dimensions_may_exceed_one():
    assert reason(one_op("RELU", [(1, 4, 4, 8)], (1, 4, 4, 8))) is None
    assert "3 innermost dimensions" in reason(one_op("RELU", [(2, 4, 4, 8)], (2, 4, 4, 8)))


def test_dynamic_shapes_are_not_mapped():
    assert "dynamic shape" in reason(one_op("RELU", [(1, None, 8)], (1, None, 8)))
    assert reason(one_op("RELU", [(None, 4, 4, 8)], (None, 4, 4, 8))) is None  # batch only


def test_tensors_must_be_8_bit_quantized():
    assert "16x8" in one_op("RELU", [(1, 8)], (1, 8), input_dtype="int16",
                            output_dtype="int16").refused
    g = GraphBuilder()
    x = g.input("x", "int8", (1, 8), Q)
    a = run_time("a", (1, 8))
    g.op("RELU", [x], [a])
    b = run_time("b", (1, 8), "int16")
    g.op("QUANTIZE", [a], [b])
    g.output(b)
    assert "int16 run-time tensor" in placed(g.build()).cpu_reasons["0:1"]
    g = GraphBuilder()
    x = g.input("x", "uint8", (1, 8), None)
    y = run_time("y", (1, 8), "uint8")
    g.op("RELU", [x], [y])
    g.output(y)
    assert "unquantized uint8" in reason(placed(g.build()))


def test_pooling_takes_no_fused_activation():
    options = {"padding": "VALID", "stride_w": 2, "stride_h": 2, "filter_width": 2,
               "filter_height": 2}
    assert reason(one_op("MAX_POOL_2D", [(1, 8, 8, 4)], (1, 4, 4, 4),
                         options={**options, "fused_activation_function": "NONE"})) is None
    assert "no fused activation" in reason(one_op(
        "AVERAGE_POOL_2D", [(1, 8, 8, 4)], (1, 4, 4, 4),
        options={**options, "fused_activation_function": "RELU"}))


def test_concatenation_takes_only_a_zero_constant_pair():
    options = {"axis": 3, "fused_activation_function": "NONE"}
    assert reason(one_op("CONCATENATION", [(1, 4, 4, 4), ("int8", (1, 4, 4, 4), [0] * 64)],
                         (1, 4, 4, 8), options=options)) is None
    assert "zero padding" in reason(one_op(
        "CONCATENATION", [(1, 4, 4, 4), ("int8", (1, 4, 4, 4), [3] * 64)], (1, 4, 4, 8),
        options=options))
    assert "zero padding" in reason(one_op(
        "CONCATENATION", [(1, 4, 4, 4), (1, 4, 4, 4), ("int8", (1, 4, 4, 4), [0] * 64)],
        (1, 4, 4, 12), options=options))


def test_convolution_needs_the_same_dilation_and_constant_weights():
    base = {"padding": "SAME", "stride_w": 1, "stride_h": 1, "fused_activation_function": "NONE"}
    specs = [(1, 8, 8, 4), weights((4, 3, 3, 4)), bias(4)]
    assert reason(one_op("CONV_2D", specs, (1, 8, 8, 4), options={
        **base, "dilation_w_factor": 2, "dilation_h_factor": 2})) is None
    assert "same in x and y" in reason(one_op("CONV_2D", specs, (1, 8, 8, 4), options={
        **base, "dilation_w_factor": 2, "dilation_h_factor": 1}))
    assert "constants" in reason(one_op(
        "CONV_2D", [(1, 8, 8, 4), (4, 3, 3, 4), bias(4)], (1, 8, 8, 4), options=base))


def test_fully_connected_needs_a_one_dimensional_output_and_default_weights():
    specs = [(1, 8), weights((4, 8)), bias(4)]
    assert reason(one_op("FULLY_CONNECTED", specs, (1, 4))) is None
    assert reason(one_op("FULLY_CONNECTED", [(None, 8), weights((4, 8)), bias(4)],
                         (None, 4))) is None
    assert "one-dimensional" in reason(one_op(
        "FULLY_CONNECTED", [(1, 3, 8), weights((4, 8)), bias(4)], (1, 3, 4),
        options={"keep_num_dims": True}))
    assert "default weights format" in reason(one_op(
        "FULLY_CONNECTED", specs, (1, 4), options={"weights_format": "SHUFFLED4x16INT8"}))


def test_mean_leaves_the_batch_alone_and_z_reductions_need_multiples_of_4():
    assert reason(one_op("MEAN", [(1, 8, 8, 16), ("int32", (2,), [1, 2])], (1, 16))) is None
    assert "batch dimension" in reason(one_op(
        "MEAN", [(1, 8, 8, 16), ("int32", (1,), [0])], (8, 8, 16)))
    assert reason(one_op("MEAN", [(1, 8, 8, 16), ("int32", (1,), [-1])], (1, 8, 8))) is None
    assert "multiple of 4" in reason(one_op(
        "MEAN", [(1, 8, 8, 6), ("int32", (1,), [3])], (1, 8, 8)))


def test_pad_split_pack_and_reductions_leave_the_batch_alone():
    assert reason(one_op("PAD", [(1, 4, 4, 4), ("int32", (4, 2), [0, 0, 1, 1, 1, 1, 0, 0])],
                         (1, 6, 6, 4))) is None
    assert "batch dimension" in reason(one_op(
        "PAD", [(1, 4, 4, 4), ("int32", (4, 2), [1, 0, 0, 0, 0, 0, 0, 0])], (2, 4, 4, 4)))
    assert reason(one_op("SPLIT", [("int32", (), [3]), (1, 4, 4, 4)], (1, 4, 4, 4),
                         options={"num_splits": 1})) is None
    assert "batch dimension" in reason(one_op(
        "SPLIT", [("int32", (), [0]), (1, 4, 4, 4)], (1, 4, 4, 4), options={"num_splits": 1}))
    assert "batch dimension" in reason(one_op(
        "PACK", [(4, 4, 4)], (1, 4, 4, 4), options={"axis": 0, "values_count": 1}))
    assert "batch dimension" in reason(one_op(
        "SUM", [(1, 4, 4, 4), ("int32", (1,), [0])], (4, 4, 4)))
    assert "batch dimension" in reason(one_op(
        "REDUCE_MAX", [(1, 4, 4, 4), ("int32", (1,), [0])], (4, 4, 4)))


def test_softmax_takes_a_one_dimensional_input_of_at_most_16000_elements():
    assert reason(one_op("SOFTMAX", [(1, 1001)], (1, 1001), options={"beta": 1.0})) is None
    assert "16,000" in reason(one_op("SOFTMAX", [(4, 10)], (4, 10), options={"beta": 1.0}))
    assert "16,000" in reason(one_op("SOFTMAX", [(1, 16001)], (1, 16001),
                                     options={"beta": 1.0}))


def test_strided_slice_needs_unit_strides_and_no_ellipsis_or_new_axis():
    def sliced(strides, **options):
        return reason(one_op("STRIDED_SLICE", [
            (1, 8, 8, 4), ("int32", (4,), [0, 0, 0, 0]), ("int32", (4,), [1, 4, 4, 4]),
            ("int32", (4,), strides)], (1, 4, 4, 4), options=options))
    assert sliced([1, 1, 1, 1]) is None
    assert "strides" in sliced([1, 2, 2, 1])
    assert "new_axis_mask" in sliced([1, 1, 1, 1], new_axis_mask=1)


def test_squeeze_only_of_leading_ones():
    assert reason(one_op("SQUEEZE", [(1, 5, 10)], (5, 10),
                         options={"squeeze_dims": [0]})) is None
    assert "leading" in reason(one_op("SQUEEZE", [(5, 1, 10)], (5, 10),
                                      options={"squeeze_dims": [1]}))


def test_prelu_alpha_must_be_one_dimensional():
    assert reason(one_op("PRELU", [(1, 4, 4, 8), ("int8", (1, 1, 8), [1] * 8)],
                         (1, 4, 4, 8))) is None
    assert "alpha" in reason(one_op("PRELU", [(1, 4, 4, 8), ("int8", (4, 4, 8), [1] * 128)],
                                    (1, 4, 4, 8)))


def test_resize_is_not_mapped_at_sizes_that_lose_precision():
    size = ("int32", (2,), [16, 16])
    options = {"align_corners": False, "half_pixel_centers": True}
    assert reason(one_op("RESIZE_NEAREST_NEIGHBOR", [(1, 8, 8, 4), size], (1, 16, 16, 4),
                         options=options)) is None
    assert "precision" in reason(one_op("RESIZE_BILINEAR", [(1, 256, 256, 4), size],
                                        (1, 512, 512, 4), options=options))
    assert "precision" in reason(one_op("RESIZE_BILINEAR", [(1, 1, 1, 4), size],
                                        (1, 33, 33, 4), options=options))


def test_ops_of_other_subgraphs_stay_on_the_cpu():
    g = GraphBuilder()
    x = g.input("x", "int8", (1, 8), Q)
    y = run_time("y", (1, 8))
    g.op("RELU", [x], [y])
    g.output(y)
    graph = g.build()
    graph.node("0:0").subgraph = 1
    assert "only the main subgraph" in placed(graph).cpu_reasons["0:0"]


def test_rules_report_for_the_edge_tpu():
    from tflint_rules.target_fallback import TargetFallback
    from tflint_rules.target_refused import TargetRefusesModel

    g = GraphBuilder()
    x = g.input("x", "int8", (1, 8), Q)
    y = run_time("y", (1, 8))
    g.op("GELU", [x], [y])
    g.output(y)
    found = run_rule(TargetFallback, g.build(), targets=("xnnpack", "edgetpu"))
    assert len(found) == 1 and "on Edge TPU: GELU is not in" in found[0].message

    g = GraphBuilder()
    x = g.input("x", "float32", (1, 8))
    y = g.op("RELU", [x], [("y", "float32", (1, 8))])[0]
    g.output(y)
    refused = run_rule(TargetRefusesModel, g.build(), targets=("edgetpu",))
    assert len(refused) == 1 and "Edge TPU refuses this model" in refused[0].message


def test_profile_is_checked_against_its_schema(tmp_path):
    data = json.loads(PROFILE_FILE.read_text())
    data["ops"]["RELU"]["limits"] = [{"check": "no_such_check", "text": "x"}]
    broken = tmp_path / "edgetpu_ops.json"
    broken.write_text(json.dumps(data))
    (tmp_path / "edgetpu_ops.schema.json").write_text(
        PROFILE_FILE.with_name("edgetpu_ops.schema.json").read_text())
    with pytest.raises(DataFileError, match="ops"):
        load_edgetpu_profile(broken)
    assert len(load_edgetpu_profile().ops) >= 40
