"""``tflint compare`` and ``--compare-with``: tiny Keras models, the real converter and LiteRT.

The models are built once per session in a temporary folder.  One of them
has a layer made hard to quantize on purpose: conv2 reads a channel that is
always 0 (conv1's channel 7, bias -1 before a ReLU) with weights of 200, so
each of its output channels gets a weight scale that rounds every other
weight to 0, while its activations keep their range.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import run_tflint

pytestmark = [pytest.mark.tensorflow, pytest.mark.runtime, pytest.mark.slow]


def _outlier_model(keras: Any) -> Any:
    layers = keras.layers
    inputs = keras.Input((12, 12, 3), name="image")
    x = layers.Conv2D(8, 3, activation="relu", name="conv1")(inputs)
    x = layers.Conv2D(8, 3, activation="relu", name="conv2")(x)
    x = layers.Conv2D(8, 3, activation="relu", name="conv3")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(4, name="head")(x)
    model = keras.Model(inputs, outputs)
    kernel, bias = model.get_layer("conv1").get_weights()
    kernel[..., 7], bias[7] = 0.0, -1.0
    model.get_layer("conv1").set_weights([kernel, bias])
    kernel, bias = model.get_layer("conv2").get_weights()
    kernel[:, :, 7, :] = 200.0
    model.get_layer("conv2").set_weights([kernel, bias])
    return model


def _plain_model(keras: Any) -> Any:
    layers = keras.layers
    inputs = keras.Input((10, 10, 3), name="pixels")
    x = layers.Conv2D(6, 3, activation="relu", name="conv")(inputs)
    x = layers.Flatten(name="flat")(x)
    outputs = layers.Dense(5, name="scores")(x)
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import keras

    folder = tmp_path_factory.mktemp("compare")
    keras.utils.set_random_seed(0)
    paths = {"outlier": folder / "outlier.keras", "plain": folder / "plain.keras"}
    _outlier_model(keras).save(paths["outlier"])
    _plain_model(keras).save(paths["plain"])
    return paths


@pytest.fixture(scope="session")
def outlier_int8(models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """``tflint compare outlier.keras --quantize int8`` (json, timing on), run once."""
    folder = tmp_path_factory.mktemp("compare-int8")
    report, saved = folder / "report.json", folder / "outlier.int8.tflite"
    run = run_tflint("compare", models["outlier"], "--quantize", "int8", "--format", "json",
                     "--runs", "3", "--samples", "2", "--candidates", "2", "-o", report,
                     "--save", saved, "--target", "xnnpack,tflm")
    assert run.code == 0, run.err
    return {"data": json.loads(report.read_text()), "saved": saved}


def _analyse(model: Path, work: Path, **options: Any) -> dict[str, Any]:
    """The child's measurement, called in this process (TensorFlow is loaded once)."""
    from tflint.compare_child import analyse

    work.mkdir(exist_ok=True)
    return analyse(str(model), None, str(work), {"batch_size": 1, **options})


def test_table_has_latency_memory_and_errors(outlier_int8: dict) -> None:
    data = outlier_int8["data"]
    assert set(data["timing"]) == {"keras/1", "tflite/1", f"keras/{data['cores']}",
                                   f"tflite/{data['cores']}"}
    for row in data["timing"].values():
        assert row["latency_ms"] > 0 and row["runs"] >= 3 and row["peak_mb"] >= 0
    [output] = data["outputs"]
    assert output["output"] == "head"
    assert 0 < output["mean_abs_error"] <= output["max_abs_error"]
    assert output["snr_db"] < 60  # an int8 model with a broken layer is far from Keras
    assert data["placement"]["targets"]["xnnpack"]["cpu_ops"] == 0
    assert any("SNR" in sentence for sentence in data["explanation"])
    assert any(sentence.startswith("xnnpack: all") for sentence in data["explanation"])


def test_the_layer_made_hard_to_quantize_ranks_first(outlier_int8: dict) -> None:
    layers = outlier_int8["data"]["layers"]
    assert layers[0]["layers"] == ["conv2"]
    assert layers[0]["rank"] == 1
    assert layers[0]["removable_rmse"] > 3 * max(row["removable_rmse"] for row in layers[1:])
    assert layers[0]["output_gain"] > 0.5  # keeping it float removes most of the output error
    assert layers[0]["scale"] > 0


def test_keeping_the_worst_layer_float_buys_error_and_costs_placement(
        outlier_int8: dict) -> None:
    data = outlier_int8["data"]
    best = data["candidates"][0]
    assert best["layers"] == ["conv2"]
    assert best["outputs"][0]["snr_db"] > data["outputs"][0]["snr_db"] + 10
    # conv2 kept float: a DEQUANTIZE/QUANTIZE pair around it; TFLite Micro has no float conv
    # in an int8 model's arena plan, XNNPACK takes all of it.
    assert set(best["placement"]) == {"xnnpack", "tflm"}
    assert best["placement"]["xnnpack"]["ops"] > data["placement"]["targets"]["xnnpack"]["ops"]
    assert best["latency_ms"] > 0
    assert outlier_int8["saved"].stat().st_size > 0


def test_keep_float_quantizes_around_that_layer(models: dict[str, Path], tmp_path: Path) -> None:
    from ai_edge_litert.interpreter import Interpreter

    result = _analyse(models["outlier"], tmp_path / "k", quantize="int8", keep_float=["conv2"],
                      samples=1)
    ops = [d["op_name"] for d in Interpreter(model_path=result["tflite"])._get_ops_details()]
    assert ops.count("DEQUANTIZE") >= 1 and ops.count("QUANTIZE") >= 2
    assert "kept in float: 1 op of conv2" in result["notes"]
    with pytest.raises(ValueError, match="no layer named 'conv9'"):
        _analyse(models["outlier"], tmp_path / "k2", quantize="int8", keep_float=["conv9"])


def test_float32_conversion_agrees_with_keras(models: dict[str, Path], tmp_path: Path) -> None:
    result = _analyse(models["plain"], tmp_path / "a", quantize="none", samples=2)
    [output] = result["outputs"]
    assert output["max_abs_error"] / result["output_scale"][0] <= 1e-4
    assert output["snr_db"] > 80
    assert result["layers"] == []


def test_generated_inputs_are_seeded() -> None:
    from tflint.compare_child import make_inputs

    specs = [{"name": "x", "shape": [1, 4], "dtype": "float32"},
             {"name": "ids", "shape": [1, 3], "dtype": "int32"}]
    first, again, other = (make_inputs(specs, 2, seed) for seed in (0, 0, 1))
    assert all(np.array_equal(a[k], b[k]) for a, b in zip(first, again, strict=True)
               for k in ("x", "ids"))
    assert not np.array_equal(first[0]["x"], other[0]["x"])
    assert first[0]["ids"].dtype == np.int32 and first[0]["ids"].min() >= 0


def test_inputs_from_npz(models: dict[str, Path], tmp_path: Path) -> None:
    data = np.random.default_rng(5).uniform(-1, 1, (3, 1, 10, 10, 3)).astype("float32")
    np.savez(tmp_path / "real.npz", pixels=data)
    result = _analyse(models["plain"], tmp_path / "w", quantize="none",
                      inputs=str(tmp_path / "real.npz"))
    assert result["samples"] == 3


def test_mismatched_npz_is_one_line_naming_the_file(models: dict[str, Path],
                                                     tmp_path: Path) -> None:
    np.savez(tmp_path / "bad.npz", pixels=np.zeros((1, 9, 9, 3), "float32"))
    report = tmp_path / "report.json"
    run = run_tflint("compare", models["plain"], "--inputs", tmp_path / "bad.npz",
                     "--runs", "0", "--format", "json", "-o", report)
    assert run.code == 2
    [line] = run.err.strip().splitlines()
    assert str(tmp_path / "bad.npz") in line and "(1, 10, 10, 3)" in line
    assert not report.exists() and run.out == ""


@pytest.mark.parametrize("which", ["model", "tflite", "inputs"])
def test_missing_file_is_one_line_naming_it(models: dict[str, Path], tmp_path: Path,
                                            which: str) -> None:
    missing = tmp_path / f"missing-{which}"
    args: list[Any] = {"model": [missing.with_suffix(".keras")],
                       "tflite": [models["plain"], missing.with_suffix(".tflite")],
                       "inputs": [models["plain"], "--inputs", missing.with_suffix(".npz")]
                       }[which]
    run = run_tflint("compare", *args, "-o", tmp_path / "report.txt")
    assert run.code == 2
    [line] = run.err.strip().splitlines()
    assert missing.name in line
    assert not (tmp_path / "report.txt").exists()


def test_compare_with_reports_output_error_and_worst_layers(
        models: dict[str, Path], outlier_int8: dict, tmp_path: Path) -> None:
    config = tmp_path / "pyproject.toml"
    config.write_text("[tool.tflint.rules.TFL330]\nmin-snr-db = 80.0\n"
                      "[tool.tflint.rules.TFL331]\nlayers = 2\n")
    run = run_tflint(outlier_int8["saved"], "--compare-with", models["outlier"],
                     "--select", "TFL330,TFL331", "--config", config, "--format", "json")
    assert run.code == 1, run.err
    found = run.json()["files"][0]["diagnostics"]
    codes = [d["code"] for d in found]
    # TFL331 reports at most `layers` ops, those whose float-keeping helps the output.
    assert codes.count("TFL330") == 1 and 1 <= codes.count("TFL331") <= 2
    output = next(d for d in found if d["code"] == "TFL330")
    assert "output 'head'" in output["message"] and "< 80 dB" in output["message"]
    worst = next(d for d in found if d["code"] == "TFL331" and "rank 1" in d["message"])
    assert worst["message"].startswith("layer conv2 (CONV_2D)")
    assert "--keep-float conv2" in worst["suggestion"]


def test_without_compare_with_the_rules_stay_silent(outlier_int8: dict) -> None:
    run = run_tflint(outlier_int8["saved"], "--select", "TFL330,TFL331", "--isolated")
    assert run.code == 0, run.err


def test_text_report_has_the_tables(outlier_int8: dict) -> None:
    from tflint.compare_report import render_text

    text = render_text(outlier_int8["data"])
    assert "Keras (TensorFlow, graph mode)  1 " in text
    assert "TFLite (LiteRT, XNNPACK)" in text and "peak memory (MB)" in text
    assert "\nhead " in text and "SNR (dB)" in text
    assert "\n1     conv2 " in text  # rank 1 of the layer table
    assert "xnnpack: CPU ops" in text and "tflm: CPU ops" in text


def test_int16x8_ranks_layers_without_candidates(models: dict[str, Path],
                                                 tmp_path: Path) -> None:
    result = _analyse(models["plain"], tmp_path / "q16", quantize="int16x8", samples=2,
                      candidates=3)
    assert result["outputs"][0]["snr_db"] > 30
    assert {tuple(row["layers"]) for row in result["layers"]} >= {("conv",), ("scores",)}
    assert result["candidates"] == []
