"""The html report: one self-contained page whose counts are the json report's, drawing each
model's graph by placement; checked as a page in a real headless Chromium.

The browser tests open the page the real command line wrote and use it as a person would:
they click findings, ops, groups and tabs, type in the search box, and take screenshots
(kept in $TFLINT_SCREENSHOTS when set).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from contextlib import ExitStack
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, run_tflint

import tflint
from tflint.reporters import render

FILES = ("fixtures/tflite/while_loop.tflite", "fixtures/tflite/custom_op.tflite",
         "fixtures/clean/mobile_cnn.h5", "fixtures/tflite/lstm.tflite",
         "fixtures/tflite/flex_op.tflite", "fixtures/clean/mobile_cnn_int8.tflite")
TARGETS = "xnnpack,edgetpu"
LARGE_BLOCKS = 50
LARGE_OPS = LARGE_BLOCKS * 14


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The html page and json report the command line writes for FILES, on two targets."""
    folder = tmp_path_factory.mktemp("html_report")
    page, report = folder / "report.html", folder / "report.json"
    for output_format, path in (("html", page), ("json", report)):
        run = run_tflint("--isolated", "--target", TARGETS, "--format", output_format,
                         "-o", path, *FILES)
        assert run.code == 1, run.err
    return {"page": page, "html": page.read_text(), "json": json.loads(report.read_text())}


def embedded_data(page: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="tflint-data">(.*?)</script>', page,
                      re.S)
    assert match is not None
    return json.loads(match.group(1))


class _Counts(HTMLParser):
    """The data-count and data-severity-count cells of each file section."""

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, dict[str, Any]] = {}
        self.totals: dict[str, str] = {}
        self._file: str | None = None
        self._target: str | None = None
        self._key: tuple[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section" and a.get("data-file"):
            self._file = a["data-file"]
            self.files[self._file] = {"targets": {}, "severities": {}}
        elif tag == "tr" and a.get("data-target") and self._file:
            self._target = a["data-target"]
        elif a.get("data-severity-count"):
            self._key = ("severity", a["data-severity-count"] or "")
        elif a.get("data-count") and self._file and self._target:
            self._key = ("target", a["data-count"] or "")

    def handle_endtag(self, tag: str) -> None:
        self._key = None
        if tag == "tr":
            self._target = None

    def handle_data(self, data: str) -> None:
        if self._key is None:
            return
        kind, name = self._key
        if kind == "severity":
            if self._file is None:
                self.totals[name] = data
            else:
                self.files[self._file]["severities"][name] = int(data)
        elif self._file and self._target:
            self.files[self._file]["targets"].setdefault(self._target, {})[name] = int(data)
        self._key = None


def expected_counts(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What the page must show, from the json report."""
    return {file["path"]: {
        "targets": {block["target"]: {"ops": block["ops"], "delegated": block["delegated"],
                                      "partitions": block["partitions"],
                                      "cpu": block["ops"] - block["delegated"]}
                    for block in file["delegations"]},
        "severities": {s: sum(d["severity"] == s for d in file["diagnostics"])
                       for s in ("error", "warning", "info")},
    } for file in report["files"]}


def finding_node_ids(diagnostic: dict[str, Any]) -> set[str]:
    """The ops a json finding is about, as the page's node ids (``subgraph:index``)."""
    ids = set()
    location = diagnostic["location"]
    if location and location.get("op_index") is not None:
        ids.add(f"{location['subgraph'] or 0}:{location['op_index']}")
    for op in diagnostic.get("related") or []:
        if op.get("index") is not None:
            ids.add(f"{op.get('subgraph') or 0}:{op['index']}")
    return ids


def scoped_model(blocks: int = LARGE_BLOCKS) -> bytes:
    """A .tflite of ``blocks`` residual blocks of 14 float ops, named as a converted Keras
    model names them (``net/block_3_step5/mul``); every tenth block has a FLOOR_MOD, which
    no delegate takes."""
    import flatbuffers
    import numpy as np
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT()
    model.version = 3
    codes = []
    for builtin in (schema.BuiltinOperator.ADD, schema.BuiltinOperator.MUL,
                    schema.BuiltinOperator.FLOOR_MOD):
        code = schema.OperatorCodeT()
        code.builtinCode = code.deprecatedBuiltinCode = builtin
        code.version = 1
        codes.append(code)
    model.operatorCodes = codes
    model.buffers = [schema.BufferT()]
    tensors: list[Any] = []
    operators = []

    def tensor(name: str, constant: bool) -> int:
        t = schema.TensorT()
        t.name, t.shape, t.type = name, [1, 8], schema.TensorType.FLOAT32
        t.buffer = 0
        if constant:
            buffer = schema.BufferT()
            buffer.data = np.full(8, 0.5, np.float32).view(np.uint8)
            model.buffers.append(buffer)
            t.buffer = len(model.buffers) - 1
        tensors.append(t)
        return len(tensors) - 1

    def op(code: int, inputs: list[int], name: str) -> int:
        out = tensor(name, False)
        operator = schema.OperatorT()
        operator.opcodeIndex, operator.inputs, operator.outputs = code, inputs, [out]
        operators.append(operator)
        return out

    x = tensor("input", False)
    for b in range(blocks):
        start = x
        for step in range(12):
            on_cpu = b % 10 == 4 and step == 5
            code = 2 if on_cpu else step % 2
            x = op(code, [x, tensor(f"net/block_{b}_step{step}/c", True)],
                   f"net/block_{b}_step{step}/{'floormod' if on_cpu else 'op'}")
        x = op(0, [x, start], f"net/block_{b}_add/add")
        x = op(1, [x, tensor(f"net/block_{b}_out/c", True)], f"net/block_{b}_out/mul")
    subgraph = schema.SubGraphT()
    subgraph.name, subgraph.tensors, subgraph.operators = "main", tensors, operators
    subgraph.inputs, subgraph.outputs = [0], [x]
    model.subgraphs = [subgraph]
    builder = flatbuffers.Builder(1 << 16)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.fixture(scope="module")
def large_page(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    pytest.importorskip("ai_edge_litert")
    folder = tmp_path_factory.mktemp("large")
    model, page = folder / "blocks.tflite", folder / "blocks.html"
    model.write_bytes(scoped_model())
    run = run_tflint("--isolated", "--format", "html", "-o", page, model)
    assert run.code == 1, run.err
    report = run_tflint("--isolated", "--format", "json", model).json()
    return {"page": page, "html": page.read_text(), "json": report}


# -- the page as a file ------------------------------------------------------------------------


def test_page_is_one_file_that_fetches_nothing(reports: dict[str, Any]) -> None:
    page = reports["html"]
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"<(script|img|iframe)[^>]*\ssrc=|<link\b|@import|url\((?!#)", page)
    assert set(re.findall(r"https?://[^\s\"'`)]+", page)) <= {"http://www.w3.org/2000/svg"}


def test_counts_in_the_page_are_the_json_report_counts(reports: dict[str, Any]) -> None:
    parser = _Counts()
    parser.feed(reports["html"])
    expected = expected_counts(reports["json"])
    assert parser.files == expected
    totals = Counter(d["severity"] for f in reports["json"]["files"] for d in f["diagnostics"])
    assert parser.totals == {s: str(totals.get(s, 0)) for s in ("error", "warning", "info")}
    # Every target predicts a Keras model's placement too (from its predicted ops).
    keras = parser.files["fixtures/clean/mobile_cnn.h5"]["targets"]
    assert keras["edgetpu"] == {"cpu": 0, "delegated": 6, "ops": 6, "partitions": 1}


def test_a_lint_in_worker_processes_gives_the_same_page(reports: dict[str, Any],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    in_process = tflint.lint(list(FILES), tflint.Config(targets=TARGETS.split(",")))
    assert all(f.graph is not None for f in in_process.files)
    assert render(in_process, "html") == reports["html"]


def test_each_finding_names_the_ops_it_is_about(reports: dict[str, Any]) -> None:
    data = embedded_data(reports["html"])
    for file, report in zip(data["files"], reports["json"]["files"], strict=True):
        ids = [node["id"] for node in file["nodes"]]
        for finding, diagnostic in zip(file["findings"], report["diagnostics"], strict=True):
            assert {ids[i] for i in finding["nodes"]} == finding_node_ids(diagnostic)


def test_each_target_places_every_op(reports: dict[str, Any]) -> None:
    data = embedded_data(reports["html"])
    for file, report in zip(data["files"], reports["json"]["files"], strict=True):
        blocks = {block["target"]: block for block in report["delegations"]}
        for target in file["targets"]:
            block = blocks.get(target["name"])
            if block is None or block["predicted_from"] != "tflite":
                continue
            assert len(target["place"]) == block["ops"]
            assert target["place"].count(0) == len(block["cpu_ops"])
            assert len(target["partitions"]) == block["partitions"]
            assert sum(target["partitions"]) == block["delegated"]
            assert sorted(i for island in target["islands"] for i in island) == [
                i for i, place in enumerate(target["place"]) if place == 0]


@pytest.mark.runtime
def test_a_large_model_starts_collapsed(large_page: dict[str, Any]) -> None:
    file = embedded_data(large_page["html"])["files"][0]
    assert len(file["nodes"]) == LARGE_OPS
    assert file["groups"] and not any(g["expanded"] for g in file["groups"])
    # Blocks gathered by their names: every op sits in the group of its own block.
    labels = {g["id"]: g for g in file["groups"]}
    for node in file["nodes"]:
        block = re.match(r"net/(block_\d+)_", node["name"]).group(1)
        assert labels[node["group"]]["label"] == f"{block}…", node["name"]


def test_a_small_model_starts_expanded(reports: dict[str, Any]) -> None:
    for file in embedded_data(reports["html"])["files"]:
        assert all(g["expanded"] for g in file["groups"])


# -- the page in Chromium ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    from headless import chromium

    with chromium() as launched:
        yield launched


@pytest.fixture
def open_page(browser):
    """Opens a page file in a new tab, closed after the test; gives the page and its log."""
    from headless import new_page

    with ExitStack() as stack:
        def opened(path: Path):
            page, log = stack.enter_context(new_page(browser))
            page.goto(path.as_uri())
            page.wait_for_selector("body[data-ready]")
            return page, log

        yield opened


def show_file(page, path: str) -> Any:
    index = page.get_attribute(f'section.file[data-file="{path}"]', "data-file-index")
    page.click(f'.file-tab[data-file-index="{index}"]')
    return page.locator(f'section.file[data-file-index="{index}"]')


@pytest.mark.browser
def test_page_loads_without_errors_or_requests(open_page, reports: dict[str, Any],
                                               tmp_path: Path) -> None:
    from headless import screenshot

    page, log = open_page(reports["page"])
    for path in FILES:  # draw every model once
        section = show_file(page, path)
        assert section.is_visible()
    show_file(page, "fixtures/tflite/while_loop.tflite")
    screenshot(page, tmp_path, "html-report-while-loop")
    assert log.errors == []
    assert log.requests == [reports["page"].as_uri()]


@pytest.mark.browser
def test_counts_on_the_page_are_the_json_report_counts(open_page, reports: dict[str, Any]) -> None:
    page, log = open_page(reports["page"])
    shown = page.evaluate("""() => Object.fromEntries(
      [...document.querySelectorAll('section.file')].map(s => [s.dataset.file, {
        targets: Object.fromEntries([...s.querySelectorAll('table.counts tr[data-target]')]
          .filter(tr => tr.querySelector('[data-count]'))
          .map(tr => [tr.dataset.target, Object.fromEntries(
            [...tr.querySelectorAll('[data-count]')]
              .map(td => [td.dataset.count, Number(td.textContent)]))])),
        severities: Object.fromEntries([...s.querySelectorAll('[data-severity-count]')]
          .map(e => [e.dataset.severityCount, Number(e.textContent)])),
      }]))""")
    assert shown == expected_counts(reports["json"])
    assert log.errors == []


@pytest.mark.browser
def test_clicking_a_finding_highlights_its_ops(open_page, reports: dict[str, Any],
                                               tmp_path: Path) -> None:
    from headless import screenshot

    page, log = open_page(reports["page"])
    checked = 0
    for report in reports["json"]["files"]:
        if not report["path"].endswith(".tflite"):
            continue
        section = show_file(page, report["path"])
        for index, diagnostic in enumerate(report["diagnostics"]):
            expected = finding_node_ids(diagnostic)
            section.locator(f'.finding[data-finding="{index}"]').click()
            highlighted = set(section.locator(".node.hl").evaluate_all(
                "nodes => nodes.map(n => n.dataset.nodeId)"))
            assert highlighted == expected, (report["path"], diagnostic["message"])
            assert section.locator(f'.finding[data-finding="{index}"].active').count() == 1
            if diagnostic["target"]:  # a finding about one target shows that target
                active = section.locator(".target-tab.active").get_attribute("data-target")
                assert active == diagnostic["target"]
            checked += bool(expected)
    assert checked >= 5
    screenshot(page, tmp_path, "html-report-finding")
    assert log.errors == []


@pytest.mark.browser
def test_clicking_an_op_shows_its_placement_and_findings(open_page,
                                                          reports: dict[str, Any]) -> None:
    page, log = open_page(reports["page"])
    section = show_file(page, "fixtures/tflite/lstm.tflite")
    report = next(f for f in reports["json"]["files"]
                  if f["path"] == "fixtures/tflite/lstm.tflite")
    on_cpu = report["delegation"]["cpu_ops"][0]
    node_id = f"{on_cpu['subgraph']}:{on_cpu['index']}"
    section.locator(f'.node[data-node-id="{node_id}"]').click()
    details = section.locator(".details")
    assert details.get_attribute("data-node-id") == node_id
    text = details.inner_text()
    assert on_cpu["op"] in text and on_cpu["reason"] in text
    codes = [d["code"] for d in report["diagnostics"] if node_id in finding_node_ids(d)]
    assert codes
    assert details.locator(".node-findings .link").all_inner_texts() == codes
    assert section.locator(f'.node.sel[data-node-id="{node_id}"]').count() == 1
    assert log.errors == []


@pytest.mark.browser
def test_target_tabs_recolour_the_ops(open_page, reports: dict[str, Any]) -> None:
    page, log = open_page(reports["page"])
    path = "fixtures/clean/mobile_cnn_int8.tflite"
    section = show_file(page, path)
    report = next(f for f in reports["json"]["files"] if f["path"] == path)
    seen = set()
    for block in report["delegations"]:
        section.locator(f'.target-tab[data-target="{block["target"]}"]').click()
        assert section.locator('.node[data-place="0"]').count() == len(block["cpu_ops"])
        seen.add(len(block["cpu_ops"]))
    assert len(seen) == 2, "the targets place this model differently"
    assert log.errors == []


@pytest.mark.browser
def test_search_marks_the_ops_it_finds(open_page, reports: dict[str, Any]) -> None:
    page, log = open_page(reports["page"])
    path = "fixtures/tflite/while_loop.tflite"
    section = show_file(page, path)
    graph = tflint.lint(str(ROOT / path), tflint.Config()).files[0].graph
    assert graph is not None
    expected = {n.id for n in graph.nodes() if any(
        "add" in text.lower() for text in (n.op_type, n.name, n.id,
                                           *(t.name for t in (*n.inputs, *n.outputs))))}
    section.locator(".search").fill("add")
    assert section.locator(".match-count").get_attribute("data-matches") == str(
        len(expected))
    marked = section.locator(".node.match").evaluate_all("n => n.map(x => x.dataset.nodeId)")
    assert set(marked) == expected
    section.locator(".search").press("Enter")
    assert section.locator(".details").get_attribute("data-node-id") in expected
    assert log.errors == []


@pytest.mark.browser
@pytest.mark.runtime
def test_a_large_model_renders_collapsed_and_expands(open_page, large_page: dict[str, Any],
                                                     tmp_path: Path) -> None:
    from headless import screenshot

    page, log = open_page(large_page["page"])
    items = page.locator("svg.graph")
    collapsed = int(items.get_attribute("data-items"))
    assert collapsed <= 40
    assert page.locator(".group-node").count() >= 2
    assert page.locator(".node").count() < LARGE_OPS
    screenshot(page, tmp_path, "html-report-large-collapsed")
    # Opening one group shows what it holds, in place of the group.
    group = page.locator(".group-node").first
    size = int(group.get_attribute("data-size"))
    group.click()
    assert int(items.get_attribute("data-items")) > collapsed
    page.click(".expand-all")
    assert page.locator(".node").count() == LARGE_OPS
    assert page.locator(".group-node").count() == 0
    page.click(".zoom-fit")
    screenshot(page, tmp_path, "html-report-large-expanded")
    page.click(".collapse-all")
    assert int(items.get_attribute("data-items")) <= collapsed
    # A finding about ops in collapsed groups opens them and shows its ops, scrolled to.
    findings = large_page["json"]["files"][0]["diagnostics"]
    assert [d["code"] for d in findings] == ["TFL110"] * (LARGE_BLOCKS // 10)
    for index, diagnostic in enumerate(findings):
        page.click(".collapse-all")
        expected = finding_node_ids(diagnostic)
        assert page.locator(".node").evaluate_all(
            "n => n.map(x => x.dataset.nodeId)").count(next(iter(expected))) == 0
        page.click(f'.finding[data-finding="{index}"]')
        highlighted = page.locator(".node.hl").evaluate_all("n => n.map(x => x.dataset.nodeId)")
        assert set(highlighted) == expected
        box = page.locator(".node.hl").first.bounding_box()
        canvas = page.locator(".canvas").bounding_box()
        assert box and canvas
        assert canvas["y"] <= box["y"]
        assert box["y"] + box["height"] <= canvas["y"] + canvas["height"]
    # Each CPU island is listed with its cause and linked to its finding.
    islands = page.locator(".islands .island")
    assert islands.count() == len(findings)
    assert "FLOOR_MOD is not supported by XNNPACK" in islands.first.inner_text()
    islands.nth(2).locator(".link").click()
    assert page.locator('.finding.active').get_attribute("data-finding") == "2"
    screenshot(page, tmp_path, "html-report-large-finding")
    assert size > 1
    assert log.errors == []
