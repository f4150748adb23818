"""``tflint MODEL.keras --fix --keep-float LAYER --convert --quantize int8``: the conversion
``tflint compare --keep-float`` measures, written by the fixer (real converter)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_tflint
from tflint import loaders

pytestmark = [pytest.mark.tensorflow, pytest.mark.runtime, pytest.mark.slow]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import keras

    layers = keras.layers
    keras.utils.set_random_seed(0)
    inputs = keras.Input((10, 10, 3), name="pixels")
    x = layers.Conv2D(6, 3, activation="relu", name="conv")(inputs)
    x = layers.Flatten(name="flat")(x)
    outputs = layers.Dense(5, name="scores")(x)
    path = tmp_path_factory.mktemp("keep-float") / "plain.keras"
    keras.Model(inputs, outputs).save(path)
    return path


def _op_dtypes(tflite: Path) -> dict[str, str]:
    """Each op type's output dtype (the model has one op of each kind that matters)."""
    graph = loaders.load(str(tflite))
    return {node.op_type: str(node.outputs[0].dtype) for node in graph.nodes()}


def test_keep_float_writes_the_selective_int8_conversion(model: Path, tmp_path: Path) -> None:
    source = tmp_path / model.name
    source.write_bytes(model.read_bytes())
    # The unsafe fix gives the input a static batch: a fixed model is written and converted.
    run = run_tflint(source, "--fix", "--unsafe-fixes", "--convert", "--quantize", "int8",
                     "--keep-float", "conv", "--latency-runs", "0")
    assert run.code in (0, 1), run.err
    tflite = tmp_path / "plain.fixed.tflite"
    assert "kept in float: 1 op of conv" in run.out
    assert "before: converted from" in run.out and "(no layer kept in float)" in run.out
    dtypes = _op_dtypes(tflite)
    assert dtypes["CONV_2D"] == "float32"  # kept in float
    assert dtypes["FULLY_CONNECTED"] == "int8"  # the rest quantized
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "plain.fixed.keras", "plain.fixed.tflite", "plain.keras"]


def test_keep_float_converts_even_when_nothing_needs_fixing(model: Path,
                                                             tmp_path: Path) -> None:
    source = tmp_path / model.name
    source.write_bytes(model.read_bytes())
    existing = tmp_path / "plain.fixed.tflite"
    existing.write_bytes(b"old")
    run = run_tflint(source, "--fix", "--convert", "--quantize", "int8", "--keep-float",
                     "scores", "--latency-runs", "0")
    assert "plain.fixed.tflite already exists" in run.out  # not overwritten without --force
    assert existing.read_bytes() == b"old"
    run = run_tflint(source, "--fix", "--convert", "--quantize", "int8", "--keep-float",
                     "scores", "--latency-runs", "0", "--force")
    assert "nothing to fix" in run.out
    assert "converted the model to" in run.out, run.out + run.err
    dtypes = _op_dtypes(existing)
    assert dtypes["FULLY_CONNECTED"] == "float32" and dtypes["CONV_2D"] == "int8"
    assert not (tmp_path / "plain.fixed.keras").exists()  # no copy of an unchanged model


def test_an_unknown_layer_is_named_and_nothing_is_written(model: Path, tmp_path: Path) -> None:
    source = tmp_path / model.name
    source.write_bytes(model.read_bytes())
    run = run_tflint(source, "--fix", "--unsafe-fixes", "--convert", "--quantize", "int8",
                     "--keep-float", "conv,nope")
    assert run.code == 2
    assert run.err.strip().splitlines() == [
        f"tflint: error: {source}: no layer named 'nope' (--keep-float)"]
    assert [p.name for p in tmp_path.iterdir()] == ["plain.keras"]


@pytest.mark.parametrize(("options", "message"), [
    (["--fix", "--keep-float", "conv"], "need --convert"),
    (["--fix", "--convert", "--keep-float", "conv"], "--keep-float is for --quantize int8"),
    (["--keep-float", "conv"], "--keep-float needs --fix"),
])
def test_keep_float_needs_an_int8_conversion(model: Path, options: list[str],
                                             message: str) -> None:
    run = run_tflint(model, *options)
    assert run.code == 2 and message in run.err
