"""The Keras conversion-prediction rules (TFL120-TFL423) on real models.

``fixtures/keras_cases/`` holds pairs of tiny models made by
``fixtures/generate_keras_cases.py`` (one shows a problem, a close variant
does not) and ``truth.json``: what the real converter and LiteRT runtime did
with each of them.  The prediction is checked against that truth, and every
rule against its pair; the seed models check the fixes the rules offer.
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT, fixture, run_tflint

import tflint
from tflint.diagnostics import Diagnostic
from tflint.loaders import load

CASES = FIXTURES / "keras_cases"
CODES = ["TFL120", "TFL121", "TFL220", "TFL221", "TFL222", "TFL320", "TFL321", "TFL420",
         "TFL422", "TFL423"]


@cache
def truth() -> dict[str, dict]:
    return json.loads((CASES / "truth.json").read_text())


@cache
def lint(relative: str) -> tflint.FileResult:
    result = tflint.lint(str(fixture(relative)), tflint.Config(select=list(CODES)))
    (file,) = result.files
    assert file.error is None, file.error
    return file


def found(relative: str, code: str) -> list[Diagnostic]:
    return [d for d in lint(relative).diagnostics if d.code == code]


def prediction(relative: str):
    from tflint.analyses.keras_prediction import predict

    return predict(load(str(fixture(relative))))


# -- the prediction against what the converter and LiteRT did ----------------------------------


@pytest.mark.parametrize("name", sorted(truth()))
def test_prediction_matches_the_real_conversion(name: str) -> None:
    real = truth()[name]
    predicted = prediction(f"keras_cases/{name}")
    flex = {p.layer for p in predicted.layers if p.status == "flex"}
    real_flex = {layer for layer, ops in real["cpu_layers"].items()
                 if any(op.startswith("Flex") for op in ops)}
    assert flex == real_flex
    assert (not flex) == real["converts_builtin"]
    if real["delegated"] is None:
        return  # needs Flex or cannot be allocated: nothing delegated to compare
    on_cpu = {p.layer for p in predicted.layers if p.lowering.cpu_ops}
    # Layers tflint cannot predict (opaque, QAT wrappers) are left out, never guessed.
    unknown = {p.layer for p in predicted.unknown_layers}
    assert on_cpu == set(real["cpu_layers"]) - unknown
    if not predicted.unknown_layers:
        assert predicted.ops == real["ops"]
        assert predicted.delegated == real["delegated"]
        assert predicted.partitions == real["partitions"]


def test_partitions_match_the_runtime() -> None:
    """The partitioner model counts the delegate nodes LiteRT created."""
    from tflint.analyses.keras_prediction import count_partitions

    # CONV (delegated) -> LESS (CPU) and SQUARE, MUL (delegated, read CONV) -> SELECT (CPU)
    # -> CONV: LiteRT makes {CONV, SQUARE, MUL} and {CONV} (see the seed custom_activation).
    kinds = [True, False, True, True, False, True]
    deps = [[], [0], [0], [0], [1, 2, 3], [4]]
    assert count_partitions(kinds, deps) == 2
    assert count_partitions([True, True], [[], [0]]) == 1
    assert count_partitions([False, True, False, True], [[], [0], [1], [2]]) == 2
    assert count_partitions([], []) == 0


# -- each rule on its pair --------------------------------------------------------------------


PAIRS = [
    ("TFL120", "resize_bicubic.keras", "resize_bilinear.json"),
    ("TFL120", "lstm_dynamic_batch.json", "lstm_static_batch.json"),
    ("TFL121", "embedding_lookup.json", "no_dropout.json"),
    ("TFL221", "image_dynamic_size.json", "image_static_size.json"),
    ("TFL222", "flatten_dynamic_batch.json", "flatten_static_batch.json"),
    ("TFL320", "qat.h5", "qat_base.json"),
    ("TFL321", "mixed_float16.json", "float32_policy.json"),
    ("TFL422", "batchnorm_on_input.json", "batchnorm_after_conv.json"),
    ("TFL423", "dropout.json", "no_dropout.json"),
]


@pytest.mark.parametrize(("code", "bad", "good"), PAIRS)
def test_rule_fires_on_the_problem_and_not_on_the_variant(code: str, bad: str, good: str) -> None:
    assert found(f"keras_cases/{bad}", code), f"{code} silent on {bad}"
    assert not found(f"keras_cases/{good}", code), f"{code} fired on {good}"


def test_select_tf_ops_offers_the_measured_alternative() -> None:
    (diagnostic,) = found("keras_cases/resize_bicubic.keras", "TFL120")
    assert "FlexResizeBicubic" in diagnostic.message
    assert diagnostic.fix is not None and diagnostic.fix.applicability == "unsafe"
    action = diagnostic.fix.action
    assert action["op"] == "replace_layer" and action["layer"] == "resize"
    assert action["with"]["class_name"] == "Resizing"
    assert action["with"]["config"]["interpolation"] == "bilinear"


def test_dynamic_batch_cause_gets_a_static_shape_fix() -> None:
    (diagnostic,) = found("keras_cases/lstm_dynamic_batch.json", "TFL120")
    assert "dynamic" in diagnostic.message
    assert diagnostic.fix.action == {"op": "set_input_shape", "input": "sequence",
                                     "shape": [1, 6, 5]}
    (flatten,) = found("keras_cases/flatten_dynamic_batch.json", "TFL222")
    assert "SHAPE" in flatten.message
    assert flatten.fix.action["shape"] == [1, 8, 8, 3]


def test_cpu_fallback_names_the_ops() -> None:
    (diagnostic,) = found("keras_cases/embedding_lookup.json", "TFL121")
    real = truth()["embedding_lookup.json"]["cpu_layers"]["embed"]
    assert all(op.split("_V2")[0] in diagnostic.message for op in real)
    (lstm,) = found("keras_cases/lstm_static_batch.json", "TFL121")
    assert "WHILE" in lstm.message
    assert lstm.fix.applicability == "safe" and lstm.fix.action["with"]["config"]["unroll"]


def test_dynamic_input_fix() -> None:
    (diagnostic,) = found("keras_cases/image_dynamic_size.json", "TFL221")
    assert diagnostic.fix.action == {"op": "set_input_shape", "input": "image",
                                     "shape": [1, 224, 224, 3]}
    assert "(1, 224, 224, 3)" in diagnostic.suggestion


def test_mixed_precision_is_reported_once_not_per_layer() -> None:
    assert len(found("keras_cases/mixed_float16.json", "TFL321")) == 1
    assert not found("keras_cases/mixed_float16.json", "TFL120")


# -- the seed models: fixes asked for --------------------------------------------------------


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_custom_activation_gets_leaky_relu(suffix: str) -> None:
    diagnostics = found(f"seed/custom_activation{suffix}", "TFL420")
    assert [d.location.name for d in diagnostics] == ["custom_act1", "custom_act2",
                                                      "custom_act3"]
    for d in diagnostics:
        assert d.fix.applicability == "unsafe"
        assert d.fix.action == {"op": "replace_layer", "layer": d.location.name,
                                "with": {"class_name": "LeakyReLU",
                                         "config": {"name": d.location.name,
                                                    "negative_slope": 0.1}}}


@pytest.mark.parametrize("name", ["dynamic_reshape.keras", "dynamic_reshape.h5",
                                  "dynamic_reshape_layer.keras", "dynamic_reshape_layer.h5"])
def test_dynamic_reshape_gets_a_static_reshape(name: str) -> None:
    (diagnostic,) = found(f"seed/{name}", "TFL220")
    assert diagnostic.fix.applicability == "unsafe"
    assert diagnostic.fix.action == {"op": "static_reshape", "layer": "batch_reshape",
                                     "target_shape": [256]}


@pytest.mark.parametrize("name", ["seed/lambda_sincos.keras", "seed/lambda_sincos.h5",
                                  "keras2/lambda_sincos_tfkeras.h5"])
def test_sincos_lambda_is_only_opaque(name: str) -> None:
    """SIN, COS and MUL convert to builtins XNNPACK takes (see the seed .tflite): no finding.
    The Lambda's bytecode is read, so its ops are predicted instead of left unknown."""
    assert not lint(name).diagnostics
    section = lint(name).delegation
    assert section["unknown_layers"] == [] and section["cpu_ops"] == []


@pytest.mark.runtime
def test_sincos_ops_are_delegated_in_the_seed_tflite() -> None:
    from ai_edge_litert.interpreter import Interpreter

    path = fixture("seed/lambda_sincos.tflite")
    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    names = [d["op_name"] for d in interpreter._get_ops_details()]
    assert {"SIN", "COS", "MUL"} <= set(names)
    # One DELEGATE node replacing all five ops: nothing left on the CPU.
    assert names.count("DELEGATE") == 1 and len(names) == 6


# -- report plumbing -------------------------------------------------------------------------------


def test_delegation_section_and_note() -> None:
    run = run_tflint("--format", "json", "--select", "TFL121",
                     fixture("keras_cases/lstm_static_batch.json"))
    (file,) = run.json()["files"]
    section = file["delegation"]
    real = truth()["lstm_static_batch.json"]
    assert section["predicted_from"] == "keras" and section["target"] == "xnnpack"
    assert section["ops"] == real["ops"] and section["delegated"] == real["delegated"]
    assert {r["layer"] for r in section["cpu_ops"]} == set(real["cpu_layers"])
    text = run_tflint("--select", "TFL121", fixture("keras_cases/lstm_static_batch.json")).out
    assert f"~{real['ops']} ops, {real['delegated']} on XNNPACK in " in text
    assert "WHILE x1" in text


def test_rules_only_run_on_keras_files() -> None:
    result = tflint.lint(str(fixture("seed/custom_activation.tflite")),
                         tflint.Config(select=list(CODES)))
    assert not result.diagnostics
    section = result.files[0].delegation or {}
    assert section.get("predicted_from") != "keras"


def test_prediction_imports_no_tensorflow() -> None:
    code = ("import sys, tflint; tflint.lint(sys.argv[1:]); "
            "bad = [m for m in ('tensorflow', 'keras', 'tf_keras', 'ai_edge_litert') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    paths = [str(p) for p in sorted(CASES.iterdir()) if p.suffix in (".json", ".keras", ".h5")
             and p.name != "truth.json"]
    proc = subprocess.run([sys.executable, "-c", code, *paths], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_fixture_is_small() -> None:
    total = sum(p.stat().st_size for p in CASES.iterdir() if p.is_file())
    assert total < 300_000, total
    assert all(isinstance(Path(p), Path) for p in truth())


def test_a_huge_integer_in_a_config_is_not_a_crash(tmp_path: Path) -> None:
    """Found by fuzzing: float() of a 4 300-digit integer raised OverflowError."""
    from tflint.analyses.keras_prediction import _number

    assert _number(10**4300) is None and _number(7) == 7.0
    config = json.loads(fixture("keras3/functional_multi_io.json").read_text())
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(config).replace('"units": 3', '"units": ' + "9" * 4300, 1))
    [file] = tflint.lint(str(path)).files
    assert file.error is None or not file.error.startswith("rule "), file.error


# -- shape-aware lowering -------------------------------------------------------------------


def _tf_keras_model(tmp_path: Path, name: str, input_shape: list, layers: list[tuple]) -> Path:
    """A tf.keras 2 functional config (shapes recorded for the input only) of a chain of
    ``(class, config)`` layers."""
    entries = [{"class_name": "InputLayer", "name": "x", "inbound_nodes": [],
                "config": {"batch_input_shape": input_shape, "dtype": "float32", "name": "x"}}]
    previous = "x"
    for i, (cls, config) in enumerate(layers):
        layer = f"l{i}"
        entries.append({"class_name": cls, "name": layer, "config": {"name": layer, **config},
                        "inbound_nodes": [[[previous, 0, 0, {}]]]})
        previous = layer
    model = {"class_name": "Functional", "keras_version": "2.15.0", "backend": "tensorflow",
             "config": {"name": name, "layers": entries, "input_layers": [["x", 0, 0]],
                        "output_layers": [[previous, 0, 0]]}}
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(model))
    return path


def _layer(path: Path, index: int):
    from tflint.analyses.keras_prediction import predict

    result = predict(load(str(path)))
    return result, [p for p in result.layers if p.node.op_type != "InputLayer"][index]


def test_a_dense_layer_is_keyed_by_the_rank_shapes_propagate_to_it(tmp_path: Path) -> None:
    """tf.keras records only the input's shape: the rank Dense sees (4, after an
    EinsumDense that splits heads) is propagated, and picks the rank-4 lowering."""
    heads = ("EinsumDense", {"equation": "abc,cde->abde", "output_shape": [None, 2, 4]})
    dense = ("Dense", {"units": 3, "activation": "linear"})
    dynamic = _tf_keras_model(tmp_path, "heads", [None, 6, 5], [heads, dense])
    prediction, layer = _layer(dynamic, 1)
    assert layer.input_shapes == [(None, 6, 2, 4)] and layer.output_shapes == [(None, 6, 2, 3)]
    assert layer.features["input_rank"] == 4 and layer.entry["id"] == "Dense/image"
    assert layer.cpu_ops and layer.caused_by_dynamic_batch  # the tensordot reads the batch
    assert prediction.shapes[layer.node.outputs[0].id] == (None, 6, 2, 3)
    static = _tf_keras_model(tmp_path, "heads_b1", [1, 6, 5], [heads, dense])
    assert not _layer(static, 1)[1].cpu_ops


def test_an_unknown_sequence_length_keeps_shape_ops_with_a_static_batch(tmp_path: Path) -> None:
    dense = ("Dense", {"units": 3, "activation": "linear"})
    fixed = _tf_keras_model(tmp_path, "fixed", [1, 6, 5], [dense])
    assert not _layer(fixed, 0)[1].cpu_ops
    any_length = _tf_keras_model(tmp_path, "any_length", [1, None, 5], [dense])
    layer = _layer(any_length, 0)[1]
    assert layer.features["dynamic_dims"] is True and layer.cpu_ops
    assert "SHAPE" in layer.cpu_ops and not layer.caused_by_dynamic_batch
    [ops] = [[op for op in layer.predicted_ops() if op.op == "FULLY_CONNECTED"]]
    assert ops and all(op.delegated for op in ops)
    first = layer.predicted_ops()[0]
    assert first.input_shapes == ((1, None, 5),)


def test_a_flatten_after_pooling_is_predicted_from_propagated_shapes(tmp_path: Path) -> None:
    """Flatten on a rank-5 tensor: Keras 3 and tf.keras lower it differently with a dynamic
    batch; the rank comes from the pooling layer's propagated shape."""
    layers = [("MaxPooling3D", {"pool_size": [2, 2, 2], "padding": "valid"}),
              ("Flatten", {})]
    path = _tf_keras_model(tmp_path, "volume", [None, 4, 4, 4, 2], layers)
    _, flatten = _layer(path, 1)
    assert flatten.input_shapes == [(None, 2, 2, 2, 2)] and flatten.output_shapes == [(None, 16)]
    assert flatten.features["input_rank"] == 5 and flatten.entry["when"]["input_rank"] == 5


def test_an_unknown_sequence_length_is_reported_with_the_fixed_size_advice(
        tmp_path: Path) -> None:
    dense = ("Dense", {"units": 3, "activation": "linear"})
    path = _tf_keras_model(tmp_path, "any_length", [1, None, 5], [dense])
    [file] = tflint.lint(str(path), tflint.Config(select=["TFL121", "TFL222"])).files
    [finding] = file.diagnostics
    assert finding.code == "TFL121" and "SHAPE" in finding.message
    assert "input dimension other than the batch is unknown" in (finding.suggestion or "")
    fixed = _tf_keras_model(tmp_path, "fixed", [1, 6, 5], [dense])
    assert not tflint.lint(str(fixed), tflint.Config(select=["TFL121", "TFL222"])).files[
        0].diagnostics
