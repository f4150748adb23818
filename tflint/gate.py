"""The security gate: actions that load or run a model refuse one the security scan flags.

``--fix`` (which loads the rewritten model with Keras), ``--convert`` and
``--verify`` (which run the converter and the interpreter) ask the gate first.
It reads the engine's security scan, not the diagnostics of whatever rules
happen to be selected or installed, so ``--ignore security`` or a per-node
ignore cannot open it; only ``--trust-model`` does.
"""

from __future__ import annotations

from dataclasses import dataclass

from tflint.analyses.security import (
    BYTECODE,
    EXTERNAL_DATA,
    FILE,
    FOREIGN,
    LOADER,
    NAMED_FUNCTION,
    PAYLOAD,
    TOGGLE,
    UNSAFE,
    ConfigScan,
    Finding,
)
from tflint.graph import ModelGraph

#: The built-in rule that reports each kind of finding, so the user can look it up.
_REPORTED_BY = {BYTECODE: "TFL601", NAMED_FUNCTION: "TFL601", FOREIGN: "TFL602",
                UNSAFE: "TFL603", TOGGLE: "TFL604", LOADER: "TFL605", FILE: "TFL606",
                PAYLOAD: "TFL608", EXTERNAL_DATA: "TFL609"}
_UNSCANNED = "TFL607"


@dataclass(frozen=True)
class Concern:
    """One reason not to load a model: what the scan found, in one line."""

    code: str
    message: str


def _describe(finding: Finding) -> str:
    if finding.kind == BYTECODE:
        return f"{finding.subject} is marshalled Python bytecode"
    if finding.kind == NAMED_FUNCTION:
        return f"{finding.subject} calls function '{finding.ref}' by name"
    if finding.kind == FOREIGN:
        return f"{finding.subject} names module '{finding.ref}', outside Keras"
    if finding.kind == FILE:
        return f"{finding.owner} reads its {finding.detail or 'data'} from '{finding.ref}'"
    if finding.kind in (PAYLOAD, EXTERNAL_DATA):
        return f"'{finding.ref}' of {finding.owner} {finding.detail}"
    what = f", which {finding.detail}" if finding.detail else ""
    return f"{finding.subject} refers to {finding.ref}{what}"


def concerns(scan: ConfigScan) -> list[Concern]:
    """Everything in a scan that makes loading the model unsafe, in config order."""
    found = [Concern(_REPORTED_BY.get(kind, "TFL6"), _describe(finding))
             for kind, findings in scan.findings.items() for finding in findings]
    if not scan.complete:
        found.append(Concern(_UNSCANNED, f"the Keras config holds more than {scan.limit} "
                                         "values; the scan stopped before the end"))
    return found


def graph_concerns(graph: ModelGraph) -> list[Concern]:
    from tflint.analyses.security import scan_keras_config

    return concerns(scan_keras_config(graph, ""))


def refusal(found: list[Concern], action: str) -> str | None:
    """The one-line reason ``action`` is refused, or None when nothing was found."""
    if not found:
        return None
    codes = ", ".join(sorted({c.code for c in found}))
    return (f"{action} refused: loading this model would run or import code it names "
            f"({codes}: {found[0].message}); pass --trust-model only for a file you wrote")
