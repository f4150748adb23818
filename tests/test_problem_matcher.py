"""The problem matcher README.md gives, run on real ``tflint`` text output.

The README's fenced ```json block holding ``"problemMatcher"`` is what users
register in GitHub Actions (``::add-matcher::``).  This test applies it the way
the Actions runner does (``IssueMatcher.cs``/``OutputManager.cs`` of
actions/runner): single-line patterns searched in each output line, the
severity taken from the pattern's group or the matcher's default, and a match
dropped unless its severity is ``error``, ``warning`` or ``notice``.  The runner
compiles the regexps with ECMAScript semantics; they are run both with Python's
``re`` and with Node's ``RegExp`` and must agree.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, render_from_root, run_tflint, with_severities

import tflint

README = ROOT / "README.md"
GITHUB_SEVERITY = {"error": "error", "warning": "warning", "info": "notice"}
FIELDS = ("file", "line", "column", "severity", "code", "message", "fromPath")
_NODE_MATCH = """
const {patterns, lines} = JSON.parse(require("fs").readFileSync(0, "utf8"));
const found = lines.map(line => patterns.map(p => {
  const m = new RegExp(p).exec(line);
  return m === null ? null : Array.from(m, g => g === undefined ? null : g);
}));
process.stdout.write(JSON.stringify(found));
"""


@dataclass(frozen=True)
class Issue:
    owner: str
    severity: str  # as the runner resolves it: group, else matcher default, else "error"
    file: str | None
    line: str | None
    column: str | None
    code: str | None
    message: str | None


def readme_matchers() -> list[dict[str, Any]]:
    text = README.read_text(encoding="utf-8")
    blocks = [textwrap.dedent(body) for indent, body in re.findall(
        r"^([ \t]*)```json[ \t]*\n(.*?)^\1```", text, re.MULTILINE | re.DOTALL)]
    found = [block for block in blocks if '"problemMatcher"' in block]
    assert len(found) == 1, ("README.md must contain exactly one ```json block with a "
                             f"\"problemMatcher\" (found {len(found)})")
    matchers = json.loads(found[0])["problemMatcher"]
    _validate(matchers)
    return matchers


def _validate(matchers: list[dict[str, Any]]) -> None:
    """The checks the runner makes when a matcher file is added (``Validate()``)."""
    owners = [m.get("owner", "") for m in matchers]
    assert all(owners), "every matcher needs an owner"
    assert len({o.lower() for o in owners}) == len(owners), f"duplicate owners: {owners}"
    for matcher in matchers:
        default = matcher.get("severity", "")
        assert default.lower() in ("", "error", "warning", "notice"), (
            f"{matcher['owner']}: default severity {default!r} is refused by the runner")
        (pattern,) = matcher["pattern"]  # this test handles single-line patterns only
        groups = re.compile(pattern["regexp"]).groups
        for field in FIELDS:
            if field in pattern:
                assert 0 <= pattern[field] <= groups, f"{matcher['owner']}: {field} group"
        assert "message" in pattern, f"{matcher['owner']}: no message group"


def _node_groups(patterns: list[str], lines: list[str]) -> list[list[list[str | None] | None]]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH: the matcher regexps are checked with JavaScript "
                    "RegExp (install Node.js)", pytrace=False)
    proc = subprocess.run([node, "-e", _NODE_MATCH], input=json.dumps(
        {"patterns": patterns, "lines": lines}), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def apply(matchers: list[dict[str, Any]], lines: list[str]) -> list[list[Issue]]:
    """For each line, the issues each matcher would raise (the runner keeps the first)."""
    patterns = [m["pattern"][0]["regexp"] for m in matchers]
    in_js = _node_groups(patterns, lines)
    issues: list[list[Issue]] = []
    for line, js_line in zip(lines, in_js, strict=True):
        found = []
        for matcher, regexp, js in zip(matchers, patterns, js_line, strict=True):
            match = re.search(regexp, line)
            py = None if match is None else [match.group(0), *match.groups()]
            assert py == js, f"Python and JavaScript disagree on {regexp!r} for {line!r}"
            if match is not None:
                found.append(_issue(matcher, match))
        issues.append(found)
    return issues


def _issue(matcher: dict[str, Any], match: re.Match[str]) -> Issue:
    pattern = matcher["pattern"][0]
    value = {field: match.group(pattern[field]) if field in pattern else None
             for field in FIELDS}
    severity = value["severity"] or matcher.get("severity") or "error"
    return Issue(matcher["owner"], severity.lower(), value["file"], value["line"],
                 value["column"], value["code"], value["message"])


@pytest.fixture(scope="module")
def outputs(fixtures_result: tflint.Result,
            tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, dict[str, Any]]]:
    """Text and json reports of the fixtures plus unreadable files, with every severity."""
    from tflint.registry import load_rules

    tmp = tmp_path_factory.mktemp("matcher")
    (tmp / "empty.tflite").write_bytes(b"")
    unreadable = tflint.lint([str(tmp / "empty.tflite"), str(tmp / "missing.h5")],
                             tflint.Config())
    result = tflint.Result([*fixtures_result.files, *unreadable.files])
    as_info = with_severities(result, {rule.code: "info" for rule in load_rules()})
    runs = []
    for report in (result, as_info):
        assert report.exit_code() == 2
        # --verbose: every line a text report can hold (findings' ops, facts, notes).
        text = render_from_root(report, "text", verbose=True)
        runs.append((text, json.loads(render_from_root(report, "json"))))
    return runs


def test_readme_matcher_annotates_every_diagnostic_and_file_error(outputs) -> None:
    matchers = readme_matchers()
    severities = set()
    for text, report in outputs:
        lines = text.splitlines()
        issues = apply(matchers, lines)
        for line, found in zip(lines, issues, strict=True):
            assert len(found) <= 1, f"several matchers match {line!r}: {found}"
        raised = [found[0] for found in issues if found]
        expected: list[tuple[str, dict[str, Any]]] = []
        for file in report["files"]:
            if file["error"] is not None:
                expected.append((file["path"], {"error": file["error"]}))
            expected += [(file["path"], d) for d in file["diagnostics"]]
        assert [i.file for i in raised] == [path for path, _ in expected], (
            "matched lines differ from the report's diagnostics and file errors:\n"
            + "\n".join(line for line, found in zip(lines, issues, strict=True) if found))
        for issue, (path, item) in zip(raised, expected, strict=True):
            assert issue.file == path
            if "error" in item:
                assert issue.severity == "error", issue
                assert issue.message == item["error"], issue
                continue
            assert issue.severity == GITHUB_SEVERITY[item["severity"]], (
                f"{item['severity']} diagnostic raised as {issue.severity!r}: the runner "
                "only knows error, warning and notice", issue)
            assert (issue.line or "1", issue.column or "1") == ("1", "1"), issue
            assert issue.code == item["code"], issue
            assert issue.message and issue.message.startswith(item["message"]), issue
            severities.add(item["severity"])
    assert {"error", "warning", "info"} <= severities, severities


def test_summary_lines_match_no_pattern(outputs) -> None:
    matchers = readme_matchers()
    for text, report in outputs:
        paths = [file["path"] for file in report["files"]]
        summary = [line for line in text.splitlines()
                   if line.startswith(("  help: ", "  fix ", "Found ", "All checks passed"))
                   or re.fullmatch(r"\s+\d+\s+[A-Z]+\d+\s+\S+", line)
                   or any(line.startswith(f"{path}: ") and not line.startswith(f"{path}: error: ")
                          for path in paths)]
        assert any(line.startswith("Found ") for line in summary), text
        assert any(line.startswith("  help: ") for line in summary), text
        assert any(": tflite, " in line for line in summary), text
        for line, found in zip(summary, apply(matchers, summary), strict=True):
            assert found == [], f"summary line annotated: {line!r} -> {found}"


def test_the_shipped_matcher_file_is_the_one_readme_shows() -> None:
    from tflint.data import DATA_DIR

    shipped = json.loads((DATA_DIR / "problem-matcher.json").read_text(encoding="utf-8"))
    assert shipped["problemMatcher"] == readme_matchers()
    run = run_tflint("problem-matcher")
    assert run.code == 0 and Path(run.out.strip()) == DATA_DIR / "problem-matcher.json"
