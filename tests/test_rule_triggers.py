"""Rules skipped for lack of their triggers would have found nothing, and are not imported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import tflint.engine as engine
from tflint.config import Config
from tflint.engine import lint_file, select_rules
from tflint.loaders import load
from tflint.registry import load_rules

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
#: Every probe folder is sampled (one model in SAMPLE_EVERY); the other fixtures all count.
SAMPLE_EVERY = 3


def sampled_models() -> list[Path]:
    models = sorted(FIXTURES.rglob("*.tflite"))
    probes = [m for m in models if m.relative_to(FIXTURES).parts[0].startswith("probe")]
    others = [m for m in models if m not in probes]
    return others + probes[::SAMPLE_EVERY]


def test_some_rules_have_triggers() -> None:
    triggered = {rule.code for rule in load_rules() if rule.triggers}
    assert {"TFL101", "TFL102", "TFL301", "TFL401", "TFL133"} <= triggered


def test_graph_traits_name_ops_origins_and_quantization() -> None:
    from tflint.graph import Quantization
    from tflint.testing import GraphBuilder

    builder = GraphBuilder()
    x = builder.input("x", "float32", (1, 4))
    builder.op("CUSTOM_THING", [x], [("y", "float32", (1, 4))], origin="custom")
    assert builder.graph.traits() == {"CUSTOM_THING", "origin:custom"}
    builder.op("QUANTIZE", [x], [("q", "int8", (1, 4))])
    assert "quantized" in builder.graph.traits()  # an int8 tensor, even without parameters
    scaled = GraphBuilder()
    y = scaled.input("y", "int32", (1, 4), Quantization(scale=(0.5,), zero_point=(0,)))
    scaled.op("RELU", [y], [("z", "int32", (1, 4))])
    assert scaled.graph.traits() == {"RELU", "quantized"}


@pytest.mark.slow
@pytest.mark.parametrize("targets", [["xnnpack"], ["xnnpack", "tflm", "ethos-u55-128"]])
def test_skipped_rules_would_find_nothing(monkeypatch: pytest.MonkeyPatch,
                                          targets: list[str]) -> None:
    config = Config(select=["ALL"], targets=targets)
    rules = select_rules(config)
    triggered = [rule for rule in rules if rule.triggers and "tflite" in rule.file_kinds]
    checked = 0
    skipped_somewhere: set[str] = set()
    monkeypatch.setattr(engine, "_may_find", lambda rule, traits: True)
    for model in sampled_models():
        try:
            graph = load(str(model))
        except Exception:
            continue  # unreadable fixtures have their own tests
        traits = graph.traits() | {f"target:{name}" for name in config.targets}
        skipped = [rule for rule in triggered if rule.triggers.isdisjoint(traits)]
        if not skipped:
            continue
        result = lint_file(str(model), skipped, config)
        found = [(d.code, d.message) for d in result.diagnostics]
        assert not found, f"{model}: rules skipped by their triggers would report {found}"
        checked += 1
        skipped_somewhere.update(rule.code for rule in skipped)
    assert checked > 100
    assert {"TFL101", "TFL102", "TFL301", "TFL408"} <= skipped_somewhere


def test_a_float_model_imports_no_quantization_rule(tmp_path: Path) -> None:
    model = FIXTURES / "clean" / "mobile_cnn.tflite"
    code = (
        "import sys, tflint\n"
        f"tflint.lint({str(model)!r})\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('tflint_rules.quant_'))\n"
        "print(','.join(loaded))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, check=True)
    assert run.stdout.strip() == ""
    quantized = FIXTURES / "clean" / "mobile_cnn_int8.tflite"
    code = code.replace(repr(str(model)), repr(str(quantized)))
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, check=True)
    assert "tflint_rules.quant_bias" in run.stdout
