"""``--format github``: one valid workflow command per diagnostic and per unreadable file.

Lines are parsed as the Actions runner parses them (``ActionCommand.TryParseV2``
in actions/runner): ``::NAME key=value,...::DATA``, properties split on ``,``
and ``=``, then unescaped (``%0D %0A %3A %2C %25`` in properties, ``%0D %0A %25``
in data).  Escaping must be complete, so that the runner gets back exactly the
path and message the json report holds, even for a file named
``odd, name: 100%.tflite``.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import fixture, render_from_root, with_severities, working_directory

import tflint

COMMAND = {"error": "error", "warning": "warning", "info": "notice"}
ANNOTATION_KEYS = {"title", "file", "line", "endLine", "col", "endColumn"}
ODD_NAME = "odd, name: 100%.tflite"
_PROPERTY_ESCAPES = (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%"))
_DATA_ESCAPES = (("%0D", "\r"), ("%0A", "\n"), ("%25", "%"))


def _unescape(text: str, escapes: tuple[tuple[str, str], ...]) -> str:
    for escaped, raw in escapes:  # the runner's order: %25 last
        text = text.replace(escaped, raw)
    return text


def parse_command(line: str) -> tuple[str, dict[str, str], str]:
    """NAME, properties and data of one workflow command line, strictly."""
    assert line.startswith("::"), f"not a workflow command: {line!r}"
    assert "\r" not in line, f"raw carriage return: {line!r}"
    end = line.find("::", 2)
    assert end > 0, f"no '::' before the data: {line!r}"
    name, _, raw_properties = line[2:end].partition(" ")
    assert name in ("error", "warning", "notice"), line
    properties: dict[str, str] = {}
    for pair in raw_properties.strip().split(","):
        key, sep, value = pair.partition("=")
        assert sep and key and value, f"property {pair!r} would be dropped: {line!r}"
        assert key in ANNOTATION_KEYS and key not in properties, f"property {key!r}: {line!r}"
        assert not re.search(r"%(?!25|0D|0A|3A|2C)", value), f"bare % in {key}: {line!r}"
        properties[key] = _unescape(value, _PROPERTY_ESCAPES)
    data = line[end + 2:]
    assert not re.search(r"%(?!25|0D|0A)", data), f"bare % in the message: {line!r}"
    return name, properties, _unescape(data, _DATA_ESCAPES)


@pytest.fixture(scope="module")
def reports(fixtures_result: tflint.Result,
            tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    """github and json reports: fixtures, an odd file name, unreadable files, all severities."""
    work = tmp_path_factory.mktemp("github")
    shutil.copy(fixture("tflite/flex_op.tflite"), work / ODD_NAME)
    (work / "empty.tflite").write_bytes(b"")
    with working_directory(work):
        others = tflint.lint([ODD_NAME, "empty.tflite", "missing.h5"], tflint.Config())
    result = with_severities(tflint.Result([*fixtures_result.files, *others.files]),
                             {"TFL102": "warning", "TFL103": "info"})
    assert result.exit_code() == 2
    return (render_from_root(result, "github"),
            json.loads(render_from_root(result, "json")))


def test_one_valid_command_per_diagnostic_and_error(reports) -> None:
    text, report = reports
    assert text.endswith("\n")
    lines = text[:-1].split("\n")
    expected: list[tuple[str, dict[str, Any]]] = []
    for file in report["files"]:
        if file["error"] is not None:
            expected.append((file["path"], {"error": file["error"]}))
        expected += [(file["path"], d) for d in file["diagnostics"]]
    assert len(lines) == len(expected), text

    names = set()
    for line, (path, item) in zip(lines, expected, strict=True):
        name, properties, data = parse_command(line)
        names.add(name)
        assert properties["file"] == path, line
        if "error" in item:
            assert name == "error", line
            assert data == item["error"], line
            continue
        assert name == COMMAND[item["severity"]], line
        assert (properties["line"], properties["col"]) == ("1", "1"), line
        assert properties["title"].startswith(item["code"]), line
        assert data.startswith(item["message"]), line
        if item["location"]:
            assert item["location"]["text"] in data, line
        if item["suggestion"]:
            assert item["suggestion"] in data, line
    assert names == {"error", "warning", "notice"}, names


def test_properties_and_data_are_escaped(reports) -> None:
    text, _ = reports
    odd = [line for line in text.splitlines() if "odd%2C name" in line]
    assert odd, text
    for line in odd:
        _, properties, _ = parse_command(line)
        assert Path(properties["file"]).name == ODD_NAME
        assert "%2C" in line and "%3A" in line and "%25" in line, line
    commands = [parse_command(line) for line in text.splitlines()]
    assert any("\n" in data for _, _, data in commands), "no message carried a help line"
    unreadable = {properties["file"] for name, properties, _ in commands
                  if name == "error" and "line" not in properties}
    assert unreadable == {"empty.tflite", "missing.h5"}
