"""SARIF 2.1.0 log, for GitHub code scanning and other SARIF viewers.

A model file has no source lines: every result points at line 1 of the file
(GitHub requires a region) and names the layer or op in its message and in
``logicalLocations``.  File paths are URIs relative to the current directory
under the ``%SRCROOT%`` base, so a report made at the repository root lines up
with the repository's files.  Files that could not be read are reported as
tool execution notifications, and the invocation is then marked unsuccessful.

The output depends only on the lint result and the current directory: no
time stamps, no absolute paths for files under the current directory.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tflint.diagnostics import Diagnostic, Severity
from tflint.engine import FileResult, Result
from tflint.rule import Rule

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
SRCROOT = "%SRCROOT%"
DEFAULT_INFORMATION_URI = "https://pypi.org/project/tflint/"

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}

_FILE_ERROR = "file-error"
_FILE_ERROR_HELP = ("The file is missing, unreadable, empty, not a model tflint knows, or a "
                    "rule failed on it; the message says which. Nothing else was checked in "
                    "that file.")


def render(result: Result, *, statistics: bool = False, **_: object) -> str:
    log = sarif_log(result)
    if statistics:  # the counts ride along as run properties; results stay for code scanning
        from tflint.reporters.text_report import statistics_rows

        log["runs"][0]["properties"] = {"statistics": statistics_rows(result)}
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def sarif_log(result: Result) -> dict[str, Any]:
    """The SARIF log as a JSON-ready dict (one run)."""
    from tflint import __version__

    cwd = os.getcwd()
    artifacts: list[dict[str, Any]] = []
    artifact_index: dict[str, int] = {}
    for file in result.files:
        if file.path not in artifact_index:
            artifact_index[file.path] = len(artifacts)
            artifacts.append({"location": _artifact_location(file.path, cwd),
                              "roles": ["analysisTarget"]})

    rules = _referenced_rules(result.diagnostics)
    rule_index = {code: i for i, code in enumerate(rules)}

    results: list[dict[str, Any]] = []
    notifications: list[dict[str, Any]] = []
    for file in result.files:
        location = _artifact_location(file.path, cwd, artifact_index[file.path])
        if file.error is not None:
            notifications.append(_notification(file, location))
            continue
        seen: dict[str, int] = {}
        for diagnostic in file.diagnostics:
            results.append(_result(diagnostic, location, rule_index[diagnostic.code], seen))

    driver: dict[str, Any] = {
        "name": "tflint",
        "version": __version__,
        "informationUri": _information_uri(),
        "rules": list(rules.values()),
    }
    if notifications:
        driver["notifications"] = [{
            "id": _FILE_ERROR,
            "name": "FileError",
            "shortDescription": {"text": "A model file could not be read or checked."},
            "fullDescription": {"text": _FILE_ERROR_HELP},
            "help": {"text": _FILE_ERROR_HELP},
            "defaultConfiguration": {"level": "error"},
        }]
    invocation: dict[str, Any] = {
        "executionSuccessful": not notifications and not result.internal_errors}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "invocations": [invocation],
        "artifacts": artifacts,
        "results": results,
    }
    return {"$schema": SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}


def _information_uri() -> str:
    """The project's home page from the installed metadata, else its PyPI page."""
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        meta = metadata("tflint")
    except PackageNotFoundError:
        return DEFAULT_INFORMATION_URI
    fields: Any = meta  # an email.message.Message at run time
    for entry in fields.get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        if label.strip().lower() in ("homepage", "home", "repository", "source",
                                     "documentation") and url.strip().startswith("https://"):
            return url.strip()
    home = (fields.get("Home-page") or "").strip()
    return home if home.startswith("https://") else DEFAULT_INFORMATION_URI


def _artifact_location(path: str, cwd: str, index: int | None = None) -> dict[str, Any]:
    """A relative URI under %SRCROOT% when PATH is below CWD, else an absolute file URI."""
    absolute = os.path.abspath(path)
    relative = _below(absolute, cwd)
    if relative is None:  # maybe the same place through a symbolic link
        relative = _below(os.path.realpath(absolute), os.path.realpath(cwd))
    location: dict[str, Any]
    if relative is not None:
        location = {"uri": quote(relative.replace(os.sep, "/"), safe="/"), "uriBaseId": SRCROOT}
    else:
        location = {"uri": Path(absolute).as_uri()}
    if index is not None:
        location["index"] = index
    return location


def _below(path: str, folder: str) -> str | None:
    """PATH relative to FOLDER, or None when PATH is not inside FOLDER."""
    try:
        relative = os.path.relpath(path, folder)
    except ValueError:  # another drive (Windows)
        return None
    if relative == os.curdir or relative == os.pardir or relative.startswith(os.pardir + os.sep):
        return None
    return relative


def _referenced_rules(diagnostics: list[Diagnostic]) -> dict[str, dict[str, Any]]:
    """Rule descriptors of the codes in DIAGNOSTICS, sorted by code."""
    from tflint.registry import load_rules

    registered = {rule.code: rule for rule in load_rules()}
    first: dict[str, Diagnostic] = {}
    for diagnostic in diagnostics:
        first.setdefault(diagnostic.code, diagnostic)
    descriptors: dict[str, dict[str, Any]] = {}
    for code in sorted(first):
        rule = registered.get(code)
        descriptors[code] = (_rule_descriptor(rule) if rule is not None
                             else _unregistered_descriptor(first[code]))
    return descriptors


def _rule_descriptor(rule: type[Rule]) -> dict[str, Any]:
    from tflint.registry import parse_doc

    doc = parse_doc(rule)
    summary = doc.summary or rule.name
    facts = (f"Category: {rule.category}. Default severity: {rule.severity.value}. "
             f"Fix: {rule.fix_availability}.")
    text_parts = [summary, *(f"{title}:\n{body}" for title, body in doc.sections.items()), facts]
    markdown_parts = [summary, *(f"## {title}\n\n{body}" for title, body in doc.sections.items()),
                      facts]
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": summary},
        "fullDescription": {"text": doc.sections.get("What it does") or summary},
        "help": {"text": "\n\n".join(text_parts), "markdown": "\n\n".join(markdown_parts)},
        "defaultConfiguration": {"level": _LEVEL[rule.severity]},
        "properties": {
            "tags": [rule.category],
            "category": rule.category,
            "fixAvailability": rule.fix_availability,
            "fileKinds": sorted(rule.file_kinds),
        },
    }


def _unregistered_descriptor(diagnostic: Diagnostic) -> dict[str, Any]:
    """A diagnostic from a rule the registry does not know (e.g. built by hand)."""
    return {
        "id": diagnostic.code,
        "name": diagnostic.rule,
        "shortDescription": {"text": diagnostic.rule},
        "defaultConfiguration": {"level": _LEVEL[diagnostic.severity]},
        "properties": {"tags": [diagnostic.category], "category": diagnostic.category},
    }


def _result(diagnostic: Diagnostic, artifact: dict[str, Any], rule_index: int,
            seen: dict[str, int]) -> dict[str, Any]:
    where = str(diagnostic.location) if diagnostic.location is not None else ""
    text = f"{diagnostic.message} ({where})" if where else diagnostic.message
    if diagnostic.suggestion:
        text += f". Help: {diagnostic.suggestion}"
    location: dict[str, Any] = {
        "physicalLocation": {"artifactLocation": artifact, "region": {"startLine": 1}},
    }
    if diagnostic.location is not None:
        location["logicalLocations"] = [{
            "name": diagnostic.location.name or diagnostic.location.op_type,
            "fullyQualifiedName": where,
            "kind": "function",
        }]
    properties: dict[str, Any] = {
        "category": diagnostic.category,
        "ruleName": diagnostic.rule,
        "fixAvailable": diagnostic.fix is not None,
    }
    if diagnostic.fix is not None:
        properties["fix"] = diagnostic.fix.to_dict()
    return {
        "ruleId": diagnostic.code,
        "ruleIndex": rule_index,
        "level": _LEVEL[diagnostic.severity],
        "message": {"text": text},
        "locations": [location],
        "partialFingerprints": _fingerprints(diagnostic.code, artifact["uri"], where, seen),
        "properties": properties,
    }


def _fingerprints(code: str, uri: str, where: str, seen: dict[str, int]) -> dict[str, str]:
    """Stable across runs: a hash of code, path and node location, numbered on repeats.

    ``primaryLocationLineHash`` is set too: GitHub's uploader would otherwise
    compute it from the text of line 1, which for a binary model file changes
    with every retraining and would reopen every alert.
    """
    digest = hashlib.sha256("\0".join((code, uri, where)).encode("utf-8")).hexdigest()
    seen[digest] = occurrence = seen.get(digest, 0) + 1
    return {
        "primaryLocationLineHash": f"{digest[:16]}:{occurrence}",
        "tflintLocationHash/v1": f"{digest}:{occurrence}",
    }


def _notification(file: FileResult, location: dict[str, Any]) -> dict[str, Any]:
    return {
        "descriptor": {"id": _FILE_ERROR, "index": 0},
        "level": "error",
        "message": {"text": f"{file.path}: {file.error}"},
        "locations": [{"physicalLocation": {"artifactLocation": location}}],
    }
