"""``tflint --verify``: compare the predicted delegation with the real runtime.

The prediction is the json ``delegation`` block a rule wrote for the file;
the truth comes from the LiteRT interpreter (extra ``runtime``), run in a
child process with a time limit.  After delegation the interpreter lists
the original nodes plus one ``DELEGATE`` node per partition; a partition's
members are the original nodes between its input and output tensors.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

INSTALL_HINT = 'install the runtime extra: pip install "tflint[runtime]"'


class VerifyError(Exception):
    """The runtime could not report on the model (crash, hang, missing extra)."""


@dataclass
class RuntimeDelegation:
    ops: int
    delegated: set[int] = field(default_factory=set)
    partitions: int = 0
    op_names: dict[int, str] = field(default_factory=dict)
    allocation_error: str | None = None


def run_runtime(path: str, timeout: float = 60.0) -> RuntimeDelegation:
    """What the installed LiteRT runtime delegates, read in a child process."""
    try:
        proc = subprocess.run([sys.executable, "-m", "tflint.runtime_probe", path],
                              capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise VerifyError(f"LiteRT runtime timed out after {timeout:.0f} s") from None
    if proc.returncode < 0:
        name = signal.Signals(-proc.returncode).name
        raise VerifyError(f"LiteRT runtime crashed ({name}) while loading the model")
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        detail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise VerifyError(f"LiteRT runtime could not load the model: {detail}")
    report = json.loads(lines[-1])
    if report.get("error") == "missing-runtime":
        raise VerifyError(f"--verify needs the LiteRT interpreter: {INSTALL_HINT}")
    return delegation_from_nodes(report["nodes"], report.get("allocation_error"))


def delegation_from_nodes(nodes: list[dict[str, Any]],
                          allocation_error: str | None = None) -> RuntimeDelegation:
    originals = [n for n in nodes if n["op"] != "DELEGATE"]
    producer = {t: n["index"] for n in originals for t in n["outputs"]}
    by_index = {n["index"]: n for n in originals}
    result = RuntimeDelegation(ops=len(originals), allocation_error=allocation_error,
                               op_names={n["index"]: n["op"] for n in originals})
    for delegate in (n for n in nodes if n["op"] == "DELEGATE"):
        result.partitions += 1
        boundary = set(delegate["inputs"])
        pending = list(delegate["outputs"])
        while pending:
            tensor = pending.pop()
            index = producer.get(tensor)
            if tensor in boundary or index is None or index in result.delegated:
                continue
            result.delegated.add(index)
            pending.extend(t for t in by_index[index]["inputs"] if t >= 0)
    return result


def compare(predicted: dict[str, Any], actual: RuntimeDelegation) -> dict[str, Any]:
    """Per-op agreement of the main subgraph, and partition counts."""
    predicted_cpu = {op["index"] for op in predicted["cpu_ops"] if op["subgraph"] == 0}
    disagreements = []
    for index in sorted(actual.op_names):
        predicted_on = index not in predicted_cpu
        actual_on = index in actual.delegated
        if predicted_on != actual_on:
            disagreements.append({
                "index": index, "op": actual.op_names[index],
                "predicted": "delegated" if predicted_on else "cpu",
                "actual": "delegated" if actual_on else "cpu",
            })
    predicted_partitions = int(predicted.get("partitions_by_subgraph", {}).get(
        "0", predicted["partitions"]))
    return {
        "ops": actual.ops,
        "agreeing_ops": actual.ops - len(disagreements),
        "predicted_partitions": predicted_partitions,
        "actual_partitions": actual.partitions,
        "disagreements": disagreements,
        "allocation_error": actual.allocation_error,
        "matches": not disagreements and predicted_partitions == actual.partitions,
    }


def summary(verification: dict[str, Any]) -> str:
    if verification["matches"]:
        return (f"verify: prediction matches LiteRT ({verification['ops']} ops, "
                f"{verification['actual_partitions']} partitions)")
    parts = [f"{d['op']} (op {d['index']}) predicted {d['predicted']}, runtime {d['actual']}"
             for d in verification["disagreements"]]
    if verification["predicted_partitions"] != verification["actual_partitions"]:
        parts.append(f"partitions predicted {verification['predicted_partitions']}, "
                     f"runtime {verification['actual_partitions']}")
    return "verify: prediction differs from LiteRT: " + "; ".join(parts)


def verify_result(result: Any, timeout: float = 60.0) -> int:
    """Check every ``.tflite`` file of a lint result against the runtime.

    Adds a ``verification`` section and a summary note to each file; a
    runtime failure becomes the file's error.  Returns how many files
    disagree with the prediction.
    """
    mismatches = 0
    for file in result.files:
        if file.kind != "tflite" or file.error is not None:
            continue
        predicted = file.sections.get("delegation")
        if predicted is None:
            file.notes.append("verify: no delegation prediction to check "
                              "(the rule that predicts delegation is not selected)")
            continue
        try:
            actual = run_runtime(file.path, timeout)
        except VerifyError as exc:
            file.error = str(exc)
            continue
        verification = compare(predicted, actual)
        file.sections["verification"] = verification
        file.notes.append(summary(verification))
        mismatches += not verification["matches"]
    return mismatches
