"""The Ethos-U targets place ops as Arm's Vela compiler does.

``fixtures/probe_ethosu`` holds about 300 tiny models (one op or a short
pattern each) with a manifest of where Vela 5.2.0 placed every op, for every
registered accelerator configuration (``scripts/probe_ethosu.py``).  Here
tflint's prediction is compared with that manifest op by op; when Vela is
installed (marker ``vela``) a sample is compiled again and must still match
the manifest.  The unit tests check the decisions on in-memory graphs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, ROOT
from tflint_rules.target_fallback import TargetFallback
from tflint_rules.target_refused import TargetRefusesModel

from tflint.analyses.delegation import predict_delegation
from tflint.graph import Quantization
from tflint.loaders.tflite import load_tflite
from tflint.targets import load_targets
from tflint.targets.ethosu import EthosUTarget, load_ethosu_profile
from tflint.testing import GraphBuilder, run_rule

sys.path.insert(0, str(ROOT / "scripts"))

PROBE = FIXTURES / "probe_ethosu"
U55, U85 = "ethos-u55-128", "ethos-u85-256"
#: Vela groups NPU ops of independent branches into one partition when the CPU op
#: between them depends on no NPU op; the shared partitioner cuts there (see
#: ETHOSU_NOTES.md), so tflint counts one partition more on these two patterns.
MERGED_BY_VELA = {"pattern__two_outputs.tflite", "pattern__branch_cpu_first.tflite"}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PROBE / "manifest.json").read_text(encoding="utf-8"))
    return data


def _prediction(name: str, config: str) -> tuple[list[bool], int, dict[str, str]]:
    graph = load_tflite(str(PROBE / name))
    delegation = predict_delegation(graph, config)
    flags = [node.id not in delegation.cpu_reasons for node in graph.nodes()]
    reasons = {node.outputs[0].name: delegation.cpu_reasons[node.id] for node in graph.nodes()
               if node.id in delegation.cpu_reasons and node.outputs}
    return flags, delegation.partition_count, reasons


def test_the_manifest_covers_every_registered_configuration(manifest: dict[str, Any]) -> None:
    registered = {name for name, cls in load_targets().items() if issubclass(cls, EthosUTarget)}
    assert registered == set(manifest["configs"])
    assert len(manifest["models"]) >= 250
    assert sum(p.stat().st_size for p in PROBE.iterdir()) < 3 << 20


def test_prediction_equals_vela_op_by_op_on_every_probe_model(manifest: dict[str, Any]) -> None:
    wrong = []
    compared = 0
    for name, entry in sorted(manifest["models"].items()):
        for config, seen in entry["vela"].items():
            if "error" in seen:
                continue  # Vela itself failed on this model: nothing to compare
            flags, partitions, _ = _prediction(name, config)
            compared += 1
            if flags != seen["npu"]:
                wrong.append(f"{name} [{config}]: NPU flags {flags} vs Vela {seen['npu']}")
            elif name in MERGED_BY_VELA:
                if partitions != seen["partitions"] + 1:
                    wrong.append(f"{name} [{config}]: the documented partition gap changed")
            elif partitions != seen["partitions"]:
                wrong.append(f"{name} [{config}]: {partitions} partitions vs Vela "
                             f"{seen['partitions']}")
    assert compared > 1500
    assert not wrong, "\n".join(wrong)


def test_every_supported_op_is_probed_on_and_off_the_npu(manifest: dict[str, Any]) -> None:
    """Each op of the profile has a probe Vela put on the NPU and, for most, one it did not."""
    on: set[str] = set()
    off: set[str] = set()
    for entry in manifest["models"].values():
        seen = entry["vela"][U55]
        if "error" not in seen and len(seen["npu"]) == 1:
            (on if seen["npu"][0] else off).add(entry["op"])
    u55_ops = set(load_ethosu_profile()["families"]["u55"]["ops"])
    # The LSTM needs a recurrent model to build; Ethos-U55/U65 never reverse an axis.
    untested = {"UNIDIRECTIONAL_SEQUENCE_LSTM", "REVERSE_V2"}
    assert u55_ops - on - untested == set()
    assert len(off & u55_ops) >= 30


def test_reasons_name_the_constraint_vela_reports(manifest: dict[str, Any]) -> None:
    """Where Vela gives a limit in its warning, tflint's reason carries the same number."""
    for name, number in (("depthwise_conv_2d__stride4_valid.tflite", "1 to 3"),
                         ("arg_max__qs8_c200.tflite", "127"),
                         ("mean__qs16_70000.tflite", "65536"),
                         ("conv_2d__weight_sum_over.tflite", "8323072"),
                         ("average_pool_2d__same_9x9.tflite", "8x8")):
        seen = manifest["models"][name]["vela"][U55]
        assert seen["npu"] == [False]
        _, _, reasons = _prediction(name, U55)
        (reason,) = reasons.values()
        assert number in reason, reason


@pytest.mark.vela
@pytest.mark.slow
def test_vela_still_places_a_sample_as_the_manifest_records(manifest: dict[str, Any]) -> None:
    from probe_ethosu import observed
    from vela_runner import run_vela, vela_version

    assert manifest["vela"] == vela_version()
    names = sorted(manifest["models"])[::24] + sorted(MERGED_BY_VELA)
    results = run_vela([(PROBE / n, c) for n in names for c in (U55, U85)])
    changed = [f"{n} [{c}]" for n in names for c in (U55, U85)
               if observed(results[(PROBE / n, c)]) != manifest["models"][n]["vela"][c]]
    assert not changed


# -- decisions on in-memory graphs --------------------------------------------------------

def _q(scale: float = 0.05, zero_point: int = 0) -> Quantization:
    return Quantization(scale=(scale,), zero_point=(zero_point,))


def _binary(op: str, dtype: str = "int8", q: Quantization | None = None) -> GraphBuilder:
    g = GraphBuilder()
    quant = q if q is not None else (_q() if dtype in ("int8", "int16") else None)
    a = g.input("a", dtype, (1, 4, 4, 8), quant)
    b = g.input("b", dtype, (1, 4, 4, 8), quant)
    (y,) = g.op(op, [a, b], [("y", dtype, (1, 4, 4, 8))], options={})
    y.quantization = quant
    g.output(y)
    return g


def test_an_int8_division_runs_on_u85_but_stays_on_the_cpu_on_u55() -> None:
    graph = _binary("DIV").build()
    assert predict_delegation(graph, U85).cpu_reasons == {}
    (reason,) = predict_delegation(graph, U55).cpu_reasons.values()
    assert reason == "DIV is not an op Vela places on Ethos-U55/U65"
    diagnostics = run_rule(TargetFallback, graph, targets=[U55])
    assert [d.code for d in diagnostics] == ["TFL130"]
    assert "Ethos-U55-128" in diagnostics[0].message


def test_a_float_model_is_refused_once_with_the_quantization_advice() -> None:
    graph = _binary("ADD", "float32").build()
    delegation = predict_delegation(graph, U55)
    assert delegation.refused and "floating point" in delegation.refused
    assert run_rule(TargetFallback, graph, targets=[U55]) == []
    (finding,) = run_rule(TargetRefusesModel, graph, targets=[U55])
    assert "TFLITE_BUILTINS_INT8" in (finding.suggestion or "")


def test_an_int8_model_with_float_io_is_not_refused() -> None:
    g = GraphBuilder()
    x = g.input("x", "float32", (1, 8))
    (q,) = g.op("QUANTIZE", [x], [("q", "int8", (1, 8))])
    q.quantization = _q()
    (r,) = g.op("RELU", [q], [("r", "int8", (1, 8))])
    r.quantization = _q()
    (y,) = g.op("DEQUANTIZE", [r], [("y", "float32", (1, 8))])
    g.output(y)
    delegation = predict_delegation(g.build(), U55)
    assert delegation.refused is None
    assert delegation.delegated == 1 and delegation.partition_count == 1
    assert "float32 input 0" in delegation.cpu_reasons["0:0"]


def test_a_16bit_zero_point_is_refused_by_u85_only() -> None:
    graph = _binary("ADD", "int16", _q(0.05, 5)).build()
    assert predict_delegation(graph, U55).cpu_reasons == {}
    (reason,) = predict_delegation(graph, U85).cpu_reasons.values()
    assert "zero point 5" in reason


def test_the_shape_computation_of_a_flatten_is_folded_away() -> None:
    g = GraphBuilder()
    x = g.input("x", "int8", (1, 4, 4, 8), _q())
    (shape,) = g.op("SHAPE", [x], [("shape", "int32", (4,))])
    begin = g.constant("begin", "int32", (1,), [0])
    end = g.constant("end", "int32", (1,), [1])
    (batch,) = g.op("STRIDED_SLICE", [shape, begin, end, end], [("batch", "int32", ())],
                    options={"shrink_axis_mask": 1})
    rest = g.constant("rest", "int32", (), [128])
    (target,) = g.op("PACK", [batch, rest], [("target", "int32", (2,))],
                     options={"values_count": 2, "axis": 0})
    (y,) = g.op("RESHAPE", [x, target], [("y", "int8", (1, 128))])
    y.quantization = _q()
    g.output(y)
    delegation = predict_delegation(g.build(), U55)
    assert delegation.cpu_reasons == {}
    assert delegation.partition_count == 1


def test_a_shape_computation_feeding_the_cpu_stays_on_the_cpu() -> None:
    g = GraphBuilder()
    x = g.input("x", "int8", (1, 4, 4, 8), _q())
    (shape,) = g.op("SHAPE", [x], [("shape", "int32", (4,))])
    g.output(shape)
    delegation = predict_delegation(g.build(), U85)
    assert list(delegation.cpu_reasons) == ["0:0"]


def test_u55_limits_depthwise_strides_and_u85_does_not() -> None:
    g = GraphBuilder()
    x = g.input("x", "int8", (1, 9, 9, 8), _q())
    w = g.constant("w", "int8", (1, 3, 3, 8), [1] * 72,
                   quantization=Quantization(scale=(0.02,) * 8, zero_point=(0,) * 8,
                                             quantized_dimension=3))
    b = g.constant("b", "int32", (8,), [0] * 8, quantization=Quantization((0.001,), (0,)))
    (y,) = g.op("DEPTHWISE_CONV_2D", [x, w, b], [("y", "int8", (1, 2, 2, 8))],
                options={"padding": "VALID", "stride_w": 4, "stride_h": 4,
                         "depth_multiplier": 1, "dilation_w_factor": 1,
                         "dilation_h_factor": 1})
    y.quantization = _q(0.5)
    g.output(y)
    graph = g.build()
    (reason,) = predict_delegation(graph, U55).cpu_reasons.values()
    assert reason.startswith("DEPTHWISE_CONV_2D has stride 4x4")
    assert predict_delegation(graph, U85).cpu_reasons == {}


def test_every_check_of_the_profile_has_an_evaluator() -> None:
    from tflint.targets.ethosu import CHECKS

    profile = load_ethosu_profile()
    used = {c["check"] for f in profile["families"].values()
            for c in [*f["generic"], *(c for e in f["ops"].values() for c in e["checks"])]}
    assert used - {"op_type"} <= set(CHECKS)
    assert set(CHECKS) <= used


def test_the_profile_schema_refuses_an_unknown_check(tmp_path: Path) -> None:
    from tflint.schema import DataFileError, load_data_file

    source = ROOT / "tflint" / "targets" / "ethosu_ops.json"
    data = json.loads(source.read_text(encoding="utf-8"))
    data["families"]["u55"]["ops"]["ADD"]["checks"].append({"check": "guess", "text": "x"})
    broken = tmp_path / "ethosu_ops.json"
    broken.write_text(json.dumps(data), encoding="utf-8")
    (tmp_path / "ethosu_ops.schema.json").write_text(
        (source.with_name("ethosu_ops.schema.json")).read_text(encoding="utf-8"),
        encoding="utf-8")
    with pytest.raises(DataFileError, match="guess"):
        load_data_file(broken)
