"""The engine: analyses that do not depend on rule selection, targets as plug-ins, rule
isolation, typed options, the security gate and the in-memory test helper."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import fixture, run_tflint
from test_plugins import _install_plugin

import tflint
import tflint.engine
from tflint.analyses.delegation import predict_delegation, subgraph_partitions
from tflint.analyses.keras_prediction import count_partitions
from tflint.config import Config, from_table
from tflint.diagnostics import Severity
from tflint.errors import UsageError
from tflint.gate import concerns, refusal
from tflint.partition import partition, topological_order
from tflint.registry import find_rule, load_rules
from tflint.rule import Option, Rule
from tflint.signature import OpSignature
from tflint.targets import Assessment, Placement, Target, get_target, load_targets
from tflint.testing import GraphBuilder, registered_target, run_rule

SEED = "seed/custom_activation.tflite"


# -- analyses whatever the rule selection -------------------------------------------------


def test_delegation_block_does_not_depend_on_the_fallback_rule() -> None:
    full = tflint.lint(fixture(SEED)).files[0]
    without = tflint.lint(fixture(SEED), Config(ignore=["TFL110"])).files[0]
    assert not any(d.code == "TFL110" for d in without.diagnostics)
    assert without.delegation is not None and without.delegation == full.delegation
    assert (without.delegation["delegated"], without.delegation["partitions"]) == (11, 4)
    assert without.placement_summaries == full.placement_summaries


def test_cli_json_keeps_the_delegation_block_with_the_rule_ignored() -> None:
    run = run_tflint("--ignore", "TFL110", "--format", "json", fixture(SEED))
    [file] = json.loads(run.out)["files"]
    assert file["delegation"]["target"] == "xnnpack" and file["delegation"]["ops"] == 17
    assert file["delegations"] == [file["delegation"]]


def test_keras_prediction_block_does_not_depend_on_the_keras_rules() -> None:
    # TFL101 never runs on a Keras file; a security-only run skips placements altogether.
    [file] = tflint.lint(fixture("clean/mobile_cnn.keras"), Config(select=["TFL101"])).files
    assert file.delegation is not None and file.delegation["predicted_from"] == "keras"
    assert file.analyses is not None
    prediction = file.analyses.keras_prediction()
    assert prediction is not None and prediction.target == "xnnpack"


def test_analyses_are_computed_once_per_file() -> None:
    [file] = tflint.lint(fixture(SEED)).files
    assert file.analyses is not None
    assert file.analyses.delegation() is file.analyses.delegation("xnnpack")
    assert file.analyses.security() is file.analyses.security()


# -- one partitioner ----------------------------------------------------------------------


def test_tflite_delegation_and_keras_prediction_share_the_partitioner() -> None:
    # Two delegated branches join after a CPU op on one of them (as in the runtime).
    delegated = [True, False, True, True]
    deps = [[], [0], [], [1, 2]]
    assert partition(delegated, deps) == [[0, 2], [3]]
    assert count_partitions(delegated, deps) == 2
    g = GraphBuilder()
    x = g.input("x", "float32", (1, 4))
    [a] = g.op("ADD", [x, x], [("a", "float32", (1, 4))])
    [b] = g.op("LESS", [a, x], [("b", "bool", (1, 4))])
    [c] = g.op("MUL", [x, x], [("c", "float32", (1, 4))])
    g.op("SELECT_V2", [b, a, c], [("d", "float32", (1, 4))])
    graph = g.build()
    nodes = list(graph.nodes())
    assert subgraph_partitions(graph, nodes, {nodes[1].id}) == [
        [nodes[0].id, nodes[2].id], [nodes[3].id]]


def test_topological_order_leaves_out_cycles() -> None:
    assert topological_order([[], [0], [0, 1]]) == [0, 1, 2]
    assert topological_order([[1], [0], []]) == [2]
    assert topological_order([[0], []]) == [1]  # a node waiting for itself is a cycle


# -- targets ------------------------------------------------------------------------------


def test_xnnpack_is_a_registered_target() -> None:
    targets = load_targets()
    assert "xnnpack" in targets and targets["xnnpack"].title == "XNNPACK"
    assert get_target("xnnpack") is get_target("xnnpack")
    run = run_tflint("targets", "--format", "json")
    assert any(entry["name"] == "xnnpack" for entry in json.loads(run.out))


def test_unknown_target_is_a_usage_error() -> None:
    run = run_tflint("--target", "xnnpack,nope", fixture(SEED))
    assert run.code == 2 and "unknown target 'nope' (known: " in run.err
    assert "Traceback" not in run.err


class _EverythingOnCpu(Target):
    name = "test-cpu-only"
    title = "TESTNPU"

    def verdict_reason(self, op: OpSignature) -> tuple[str | None, bool]:
        return (None, False) if op.op_type == "ADD" else (f"{op.op_type} is not for us", False)


def test_a_target_plugin_uses_the_shared_partitioner_and_its_own_name() -> None:
    graph = tflint.loaders.load(fixture(SEED))
    delegation = predict_delegation(graph, _EverythingOnCpu())
    assert delegation.target == "test-cpu-only"
    assert all(graph.node(n).op_type != "ADD" for n in delegation.cpu_reasons)
    assert "on TESTNPU in" in delegation.summary(graph)
    assert delegation.to_section(graph)["target"] == "test-cpu-only"


def test_target_default_placement_collects_claimed_ops() -> None:
    class Claiming(Target):
        name, title = "claiming", "CLAIM"

        def verdict_reason(self, op: OpSignature) -> tuple[str | None, bool]:
            return "claimed but fails", True

    g = GraphBuilder()
    x = g.input("x", "float32", (1, 4))
    g.op("ADD", [x, x], [("a", "float32", (1, 4))])
    graph = g.build()
    nodes = list(graph.nodes())
    placement = Claiming().place(graph, nodes, {n.id: OpSignature.of(graph, n) for n in nodes})
    assert placement == Placement({nodes[0].id: "claimed but fails"}, {nodes[0].id})


def test_target_plugin_is_discovered_through_its_entry_point(tmp_path: Path) -> None:
    env = _install_plugin(
        tmp_path,
        "from tflint.targets import Target\n"
        "class AcmeNpu(Target):\n"
        "    name = 'acme-npu'\n"
        "    title = 'ACME NPU'\n"
        "    description = 'an NPU that runs only ADD'\n"
        "    def verdict_reason(self, op):\n"
        "        return (None, False) if op.op_type == 'ADD' else ('only ADD', False)\n",
        "acme-npu = acme_npu:AcmeNpu", module="acme_npu", group="tflint.targets")
    assert "acme-npu" in run_tflint("targets", env=env).out
    run = run_tflint("--target", "xnnpack,acme-npu", "--format", "json", fixture(SEED), env=env)
    [file] = json.loads(run.out)["files"]
    assert [b["target"] for b in file["delegations"]] == ["xnnpack", "acme-npu"]
    assert file["delegation"]["target"] == "xnnpack"
    text = run_tflint("--target", "xnnpack,acme-npu", fixture(SEED), env=env).out
    assert "on XNNPACK in" in text and "on ACME NPU in" in text
    # A Keras file: the new target places the predicted ops of the conversion, as it
    # places a .tflite's (it takes only ADD, so none of this model's ops).
    keras = run_tflint("--target", "acme-npu", "--format", "json",
                       fixture("clean/mobile_cnn.keras"), env=env)
    [block] = json.loads(keras.out)["files"][0]["delegations"]
    assert block["target"] == "acme-npu" and block["predicted_from"] == "keras"
    assert block["conversion"] == "float32" and block["delegated"] == 0
    assert {op["op"] for op in block["cpu_ops"]} >= {"CONV_2D", "FULLY_CONNECTED"}
    assert all(op["reason"].startswith("only ADD") for op in block["cpu_ops"])


# -- rule isolation -----------------------------------------------------------------------


class _Exploding(Rule):
    """Raises."""

    code = "TST900"
    name = "exploding"
    category = "model"

    def check(self, ctx):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")


def test_a_rule_that_raises_is_reported_and_the_others_still_run() -> None:
    rules = [_Exploding, find_rule("TFL110")]
    result = tflint.engine.Result([tflint.engine.lint_file(fixture(SEED), rules, Config())])
    [file] = result.files
    assert file.error is None
    internal = [d for d in file.diagnostics if d.code == "TFL000"]
    assert len(internal) == 1 and internal[0].severity is Severity.ERROR
    assert "rule TST900" in internal[0].message and "RuntimeError: boom" in internal[0].message
    assert sum(d.code == "TFL110" for d in file.diagnostics) == 3  # one per custom layer
    assert "Traceback" in file.internal_errors[0].traceback
    assert result.exit_code() == 2 and result.exit_code(exit_zero=True) == 2


def test_cli_prints_the_traceback_of_a_failing_rule_with_verbose(tmp_path: Path) -> None:
    env = _install_plugin(
        tmp_path,
        "from tflint import Rule\n"
        "class Boom(Rule):\n"
        '    """Raises.\n\n    ## What it does\n    x\n\n    ## Why is this bad\n    x\n\n'
        '    ## Example\n    x\n\n    ## How to fix\n    x\n    """\n'
        "    code, name, category = 'BOOM001', 'boom', 'model'\n"
        "    def check(self, ctx):\n"
        "        raise ValueError('kaputt')\n",
        "BOOM001 = boom_rules:Boom", module="boom_rules")
    run = run_tflint(fixture(SEED), env=env)
    assert run.code == 2
    assert "error TFL000 internal error in rule BOOM001: ValueError: kaputt" in run.out
    assert "warning TFL110" in run.out and "Traceback" not in run.err
    verbose = run_tflint("--verbose", fixture(SEED), env=env)
    assert "Traceback" in verbose.err and "kaputt" in verbose.err


# -- typed options ------------------------------------------------------------------------


def test_options_are_kebab_case_and_typed() -> None:
    config = from_table({"rules": {"TFL312": {"bias-scale-tolerance": 0.5}}}, root=Path("."))
    assert config.options_for(find_rule("TFL312"))["bias-scale-tolerance"] == 0.5
    snake = from_table({"rules": {"TFL312": {"bias_scale_tolerance": 1}}}, root=Path("."))
    assert snake.options_for(find_rule("TFL312"))["bias-scale-tolerance"] == 1.0


@pytest.mark.parametrize("table, message", [
    ({"TFL312": {"bias-scale-tolerance": "3"}}, "must be a number, not '3'"),
    ({"TFL312": {"bias-scale-tolerance": -1.0}}, "must not be negative"),
    ({"TFL301": {"integer-io": 1}}, "must be a boolean"),
    ({"TFL420": {"name-pattern": "("}}, "is not a valid regular expression"),
    ({"TFL312": {"max-kernel": 3}}, "has no option 'max-kernel'"),
    ({"TFL999": {"x": 1}}, r"\[tool.tflint.rules.TFL999\] names no rule"),
])
def test_bad_options_are_refused_before_any_file_is_read(table: dict, message: str) -> None:
    config = from_table({"rules": table}, root=Path("."))
    with pytest.raises(UsageError, match=message):
        tflint.lint(fixture(SEED), config)


def test_bad_option_in_pyproject_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.tflint.rules.TFL312]\nbias-scale-tolerance = "3"\n')
    run = run_tflint("--config", tmp_path / "pyproject.toml", fixture(SEED))
    assert run.code == 2 and run.out == ""
    assert run.err.strip().count("\n") == 0 and "must be a number" in run.err


def test_rule_documentation_lists_typed_options() -> None:
    out = run_tflint("rule", "TFL312").out
    assert "- `bias-scale-tolerance` (float, default `0.001`): relative difference" in out
    for rule in load_rules():
        for name in rule.options:
            assert name == name.lower() and "_" not in name, (rule.code, name)
            assert isinstance(rule.options[name], Option), (rule.code, name)


# -- the security gate --------------------------------------------------------------------


def test_the_gate_reads_the_scan_not_the_selected_rules() -> None:
    path = fixture("malicious/os_system.keras")
    [file] = tflint.lint(path, Config(select=["TFL1"])).files
    assert not any(d.category == "security" for d in file.diagnostics)
    assert file.analyses is not None
    found = concerns(file.analyses.security())
    assert found and found[0].code == "TFL603"
    reason = refusal(found, "--convert")
    assert reason is not None and "--trust-model" in reason and "os.system" in reason
    assert refusal(concerns(tflint.lint(fixture("malicious/plain.keras")).files[0]
                            .analyses.security()), "--fix") is None  # type: ignore[union-attr]


def test_the_fixer_gate_holds_without_any_security_rule_loaded(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from tflint.fixer.apply import check_rewritten, parse_input_shape, plan_fixes

    without_security = tuple(r for r in load_rules() if r.category != "security")
    monkeypatch.setattr(tflint.engine, "load_rules", lambda: without_security)
    [file] = tflint.lint(fixture("seed/lambda_sincos.keras"), Config()).files
    plan = plan_fixes(file, input_shapes=[parse_input_shape("features=1,16")])
    check_rewritten(plan, Config())
    assert "TFL601" in {c.code for c in plan.security}


# -- the in-memory test helper ------------------------------------------------------------


def test_run_rule_on_an_in_memory_graph() -> None:
    g = GraphBuilder()
    x = g.input("x", "float32", (1, 4))
    zero = g.constant("zero", "float32", (1,), values=[0.0])
    [y] = g.op("ADD", [x, zero], [("y", "float32", (1, 4))],
               options={"fused_activation_function": "NONE"})
    [z] = g.op("LESS", [y, x], [("z", "bool", (1, 4))])
    g.output(z)
    graph = g.build()
    identity = run_rule(find_rule("TFL411"), graph)
    assert [d.location.op_type for d in identity if d.location] == ["ADD"]
    fallback = run_rule(find_rule("TFL110"), graph)
    assert [d.location.op_type for d in fallback if d.location] == ["LESS"]
    with pytest.raises(ValueError, match="must be a boolean"):
        run_rule(find_rule("TFL301"), graph, options={"integer-io": "yes"})


# -- rules that speak per target ----------------------------------------------------------


class _IntegerOnly(Target):
    name = "test-integer-npu"
    title = "TESTNPU"
    refusal_advice = "quantize to int8"

    def assess(self, graph):  # type: ignore[no-untyped-def]
        if any(t.dtype == "float32" for t in graph.inputs):
            return Assessment(refused="it needs a full-integer model", details={"npu": True})
        return Assessment(details={"npu": True})

    def verdict_reason(self, op: OpSignature) -> tuple[str | None, bool]:
        return (None, False) if op.op_type == "ADD" else (f"{op.op_type} is not for us", False)


class _NoFallback(_IntegerOnly):
    name = "test-micro"
    title = "TESTMICRO"
    has_fallback = False

    def assess(self, graph):  # type: ignore[no-untyped-def]
        return Assessment()


def _small(dtype: str) -> tflint.graph.ModelGraph:
    g = GraphBuilder()
    x = g.input("x", dtype, (1, 4))
    [a] = g.op("ADD", [x, x], [("a", dtype, (1, 4))])
    [b] = g.op("LESS", [a, x], [("b", "bool", (1, 4))])
    g.output(b)
    return g.build()


def test_target_rules_name_their_target() -> None:
    with registered_target(_IntegerOnly), registered_target(_NoFallback):
        graph = _small("int8")
        [finding] = run_rule(find_rule("TFL130"), graph,
                             targets=["xnnpack", "test-integer-npu"])
        assert finding.target == "test-integer-npu"
        assert finding.to_dict()["target"] == finding.target
        assert finding.message == ("on TESTNPU: LESS is not for us; fixing it takes 1 op off "
                                   "the CPU (TESTNPU partitions: 1 → 1)")
        [micro] = run_rule(find_rule("TFL130"), graph, targets=["test-micro"])
        assert micro.severity is Severity.ERROR and "fails to load" in micro.message
        assert micro.message.startswith("on TESTMICRO: LESS is not for us")
        assert run_rule(find_rule("TFL131"), graph, targets=["test-integer-npu"]) == []
        float_graph = _small("float32")
        [refused] = run_rule(find_rule("TFL131"), float_graph, targets=["test-integer-npu"])
        assert refused.message == "TESTNPU refuses this model: it needs a full-integer model"
        assert refused.suggestion == "quantize to int8"
        assert run_rule(find_rule("TFL130"), float_graph, targets=["test-integer-npu"]) == []
        delegation = predict_delegation(float_graph, "test-integer-npu")
        assert delegation.delegated == 0 and delegation.partition_count == 0
        section = delegation.to_section(float_graph)
        assert section["refused"] == "it needs a full-integer model" and section["npu"] is True
        assert delegation.summary(float_graph) == (
            "2 ops, none on TESTNPU: it needs a full-integer model")
        assert "1 not supported by TESTMICRO" in predict_delegation(graph, "test-micro").summary(
            graph)
    assert "test-micro" not in load_targets()


def test_a_lint_for_one_target_imports_no_other_target() -> None:
    import subprocess
    import sys

    script = ("import sys, tflint; tflint.lint(sys.argv[1]); "
              "print(sorted(m for m in sys.modules if m.startswith('tflint.targets.')))")
    out = subprocess.run([sys.executable, "-c", script, str(fixture(SEED))], check=True,
                         capture_output=True, text=True).stdout
    assert "tflint.targets.gpu" not in out and "tflint.targets.ethosu" not in out, out
    assert "tflint.targets.xnnpack" in out


def test_custom_ops_xnnpack_implements_are_an_info_not_an_error() -> None:
    g = GraphBuilder()
    x = g.input("x", "float32", (1, 4, 4, 8))
    g.op("Convolution2DTransposeBias", [x], [("y", "float32", (1, 8, 8, 8))], origin="custom")
    g.op("MyVendorOp", [x], [("z", "float32", (1, 4, 4, 8))], origin="custom")
    implemented, unknown = run_rule(find_rule("TFL102"), g.build())
    assert implemented.severity is Severity.INFO and "XNNPACK delegate implements" in (
        implemented.message)
    assert unknown.severity is Severity.ERROR and "not registered" in unknown.message
