"""The Model Explorer overlay (``--model-explorer FILE``): a node-data file colouring a .tflite's
ops by placement, keyed as Model Explorer's own TFLite adapter names graphs and nodes, the
same whether Model Explorer's classes build it or tflint writes it alone, and shown by
Model Explorer's page in a real headless Chromium.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from conftest import fixture, run_tflint

import tflint
from tflint.reporters.model_explorer import graph_ids, node_data_json
from tflint.reporters.placement_view import (
    CPU_COLORS,
    PARTITION_COLORS,
    target_placements,
)

MODELS = ("tflite/while_loop.tflite", "tflite/custom_op.tflite", "tflite/lstm.tflite",
          "tflite/flex_op.tflite", "clean/mobile_cnn_int8.tflite")


def linted(path: Path, targets: tuple[str, ...] = ("xnnpack",)) -> tflint.FileResult:
    file = tflint.lint(str(path), tflint.Config(targets=list(targets))).files[0]
    assert file.graph is not None and file.analyses is not None
    return file


def overlay(path: Path, target: str = "xnnpack", use_package: bool | None = None) -> dict:
    file = linted(path, (target,))
    assert file.graph is not None and file.analyses is not None
    placement = target_placements(file.graph, file.analyses)[0]
    return json.loads(node_data_json(file.graph, placement, use_package=use_package))


def adapter_graphs(path: Path) -> dict[str, dict[str, str]]:
    """Model Explorer's own reading of a .tflite: graph id -> node id -> label."""
    import ai_edge_model_explorer_adapter as adapter

    collections = json.loads(adapter.ConvertFlatbufferDirectlyToJson(
        adapter.VisualizeConfig(), str(path)))
    return {graph["id"]: {node["id"]: node["label"] for node in graph["nodes"]}
            for collection in collections for graph in collection["subgraphs"]}


def two_unnamed_subgraphs() -> bytes:
    """Two subgraphs without names, one custom op each."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema
    from tflite_builder import single_custom_op_model

    model = schema.ModelT.InitFromPackedBuf(single_custom_op_model("Erfinv"), 0)
    second = schema.ModelT.InitFromPackedBuf(single_custom_op_model("Erfinv"), 0).subgraphs[0]
    model.subgraphs.append(second)
    for subgraph in model.subgraphs:
        subgraph.name = None
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


# -- the file ----------------------------------------------------------------------------------


@pytest.mark.model_explorer
@pytest.mark.parametrize("model", MODELS)
def test_results_are_keyed_as_model_explorer_names_graphs_and_ops(model: str) -> None:
    path = fixture(model)
    graphs = adapter_graphs(path)
    data = overlay(path)
    graph = linted(path).graph
    assert graph is not None
    assert set(data) == set(graphs)
    for graph_id, subgraph in zip(data, graph.facts["tflite"]["subgraphs"], strict=True):
        ops = [n for n in graph.nodes() if n.subgraph == subgraph["index"]]
        assert set(data[graph_id]["results"]) == {str(n.location.op_index) for n in ops}
        for node in ops:  # the node Model Explorer draws under that id is that op
            assert graphs[graph_id][str(node.location.op_index)].lower() == node.op_type.lower()


@pytest.mark.model_explorer
@pytest.mark.runtime
def test_unnamed_subgraphs_get_model_explorer_graph_ids(tmp_path: Path) -> None:
    path = tmp_path / "unnamed.tflite"
    path.write_bytes(two_unnamed_subgraphs())
    graph = linted(path).graph
    assert graph is not None
    assert list(graph_ids(graph).values()) == list(adapter_graphs(path)) == ["main", "subgraph_1"]
    assert list(overlay(path)) == ["main", "subgraph_1"]


@pytest.mark.model_explorer
@pytest.mark.parametrize("model", MODELS)
def test_model_explorer_classes_and_the_fallback_write_the_same_file(model: str) -> None:
    file = linted(fixture(model), ("xnnpack", "edgetpu"))
    assert file.graph is not None and file.analyses is not None
    for placement in target_placements(file.graph, file.analyses):
        built = node_data_json(file.graph, placement, use_package=True)
        written = node_data_json(file.graph, placement, use_package=False)
        assert built == written


def test_each_op_has_its_partition_number_and_colour() -> None:
    path = fixture("clean/mobile_cnn_int8.tflite")
    file = linted(path)
    assert file.analyses is not None and file.graph is not None
    delegation = file.analyses.delegation("xnnpack")
    assert delegation is not None
    results = overlay(path, use_package=False)["main"]["results"]
    on_cpu = {str(file.graph.node(n).location.op_index) for n in delegation.cpu_reasons}
    assert on_cpu and all(results[i] == {"value": 0, "bgColor": CPU_COLORS[1],
                                         "textColor": "#ffffff"} for i in on_cpu)
    for number, members in enumerate(delegation.partitions[0], start=1):
        for node_id in members:
            result = results[str(file.graph.node(node_id).location.op_index)]
            assert result["value"] == number
            assert result["bgColor"] == PARTITION_COLORS[number - 1][0]
    assert len(results) == len(file.graph)


def test_edge_tpu_overlay_colours_the_refused_model_red() -> None:
    data = overlay(fixture("tflite/lstm.tflite"), "edgetpu", use_package=False)
    assert data["main"]["name"] == "tflint: Edge TPU placement"
    assert {r["value"] for r in data["main"]["results"].values()} == {0}


def test_the_command_line_writes_the_overlay_beside_the_report(tmp_path: Path) -> None:
    path = fixture("tflite/while_loop.tflite")
    out = tmp_path / "overlay.json"
    run = run_tflint("--isolated", path, "--model-explorer", out)
    assert run.code == 1, run.err
    assert "TFL110" in run.out  # the text report is printed as usual
    assert json.loads(out.read_text()) == overlay(path)
    run = run_tflint("--isolated", "--target", "edgetpu,xnnpack", path, "--model-explorer", out)
    assert json.loads(out.read_text()) == overlay(path, "edgetpu")


@pytest.mark.parametrize("paths", [("tflite/while_loop.tflite", "tflite/lstm.tflite"),
                                   ("clean/mobile_cnn.h5",)])
def test_the_overlay_needs_exactly_one_tflite(paths: tuple[str, ...], tmp_path: Path) -> None:
    out = tmp_path / "overlay.json"
    run = run_tflint("--isolated", *(fixture(p) for p in paths), "--model-explorer", out)
    assert run.code == 2
    assert run.err.count("\n") == 1 and "one .tflite" in run.err
    assert not out.exists()


# -- Model Explorer's page ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_model_explorer(model: Path, node_data: Path, log: Path) -> tuple[Any, str]:
    """Model Explorer's server on a free loopback port, and the page showing both files."""
    from model_explorer.config import ModelExplorerConfig

    port = free_port()
    # Its update check asks the internet; through a closed local port it gets nowhere.
    env = {**os.environ, "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
           "NO_PROXY": "127.0.0.1,localhost"}
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "model_explorer", str(model),
             f"--node_data_paths={node_data}", "--no_open_in_browser", "--host=127.0.0.1",
             f"--port={port}"], stdout=out, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/check_health", timeout=2) as answer:
                if answer.read() == b"model_explorer_ok":
                    break
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise AssertionError(f"Model Explorer did not start:\n{log.read_text()}")
        time.sleep(0.3)
    config = ModelExplorerConfig().add_model_from_path(str(model))
    config.add_node_data_from_path(str(node_data))
    return server, f"{base}/?data={config.to_url_param_value()}"


def _rgb(color: str) -> str:
    return "rgb({}, {}, {})".format(*(int(color[i:i + 2], 16) for i in (1, 3, 5)))


@pytest.mark.browser
@pytest.mark.model_explorer
@pytest.mark.slow
def test_model_explorer_shows_the_overlay(tmp_path: Path) -> None:
    from headless import chromium, new_page, screenshot

    model = fixture("clean/mobile_cnn_int8.tflite")
    node_data = tmp_path / "overlay.json"
    assert run_tflint("--isolated", model, "--model-explorer", node_data).code == 1
    expected = overlay(model)["main"]["results"]
    graph = linted(model).graph
    assert graph is not None
    server, url = start_model_explorer(model, node_data, tmp_path / "server.log")
    try:
        with chromium() as browser, new_page(browser, 1500, 1000) as (page, log):
            page.goto(url)
            page.get_by_text("tflint: XNNPACK placement").first.wait_for(timeout=90_000)
            page.locator("td.value-col").first.wait_for(timeout=30_000)
            rows = page.evaluate("""() => [...document.querySelectorAll('td.value-col')]
              .map(td => [[...td.parentElement.children].map(c => c.textContent.trim()),
                          getComputedStyle(td).backgroundColor])
              .filter(([, color]) => color !== 'rgba(0, 0, 0, 0)')""")
            shown = [(cells[-2], cells[-1], color) for cells, color in rows]  # coloured rows
            assert shown == [
                (node.op_type.lower(), str(expected[str(node.location.op_index)]["value"]),
                 _rgb(expected[str(node.location.op_index)]["bgColor"]))
                for node in graph.nodes()]
            # Open every layer, so that the screenshot shows the coloured ops.
            page.locator("mat-icon", has_text="unfold_more_double").first.click()
            page.wait_for_timeout(1500)
            screenshot(page, tmp_path, "model-explorer-overlay")
            # Model Explorer's page asks for a web font; only that request may fail here.
            assert all(not u.startswith("http://127.0.0.1") for u in log.failed)
            assert len(log.errors) == len(log.failed), log.errors
            assert all("ERR_NAME_NOT_RESOLVED" in e for e in log.errors)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
