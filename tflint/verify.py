"""``tflint --verify``: compare the predicted delegation with the real runtime.

The prediction is the engine's XNNPACK delegation analysis of the file;
the truth comes from the LiteRT interpreter (extra ``runtime``), run in a
child process with a time limit.  After delegation the interpreter lists
the original nodes plus one ``DELEGATE`` node per partition; a partition's
members are the original nodes between its input and output tensors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tflint.gate import concerns, refusal

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
    from tflint.isolation import run_isolated

    outcome = run_isolated("tflint.runtime_probe:probe", path, timeout=timeout,
                           what="LiteRT runtime")
    if not outcome.ok:
        raise VerifyError(outcome.error)
    report = outcome.value
    if report.get("error") == "missing-runtime":
        raise VerifyError(f"--verify needs the LiteRT interpreter: {INSTALL_HINT}")
    return delegation_from_nodes(report["nodes"], report.get("allocation_error"),
                                 report.get("unfused_nodes"))


def delegation_from_nodes(nodes: list[dict[str, Any]], allocation_error: str | None = None,
                          unfused_nodes: list[dict[str, Any]] | None = None) -> RuntimeDelegation:
    """Delegated ops and partition count from the node lists of the runtime probe.

    ``unfused_nodes`` (the same model delegated without node fusion: one
    DELEGATE node per delegated op, with that op's operands) names members
    exactly; without it they are found from the partitions' boundary tensors.
    """
    originals = [n for n in nodes if n["op"] != "DELEGATE"]
    producer = {t: n["index"] for n in originals for t in n["outputs"]}
    by_index = {n["index"]: n for n in originals}
    result = RuntimeDelegation(ops=len(originals), allocation_error=allocation_error,
                               op_names={n["index"]: n["op"] for n in originals})
    if unfused_nodes is not None:
        result.partitions = sum(n["op"] == "DELEGATE" for n in nodes)
        sinks = [n for n in originals if not n["outputs"]]
        for delegate in (n for n in unfused_nodes if n["op"] == "DELEGATE"):
            if delegate["outputs"]:
                index = producer.get(delegate["outputs"][0])
            else:  # an op without outputs: the one reading exactly these tensors
                wanted = set(delegate["inputs"])
                index = next((n["index"] for n in sinks
                              if wanted <= set(n["inputs"]) <= wanted | {-1}), None)
            if index is not None:
                result.delegated.add(index)
        return result
    consumers: dict[int, list[int]] = {}
    for n in originals:
        for t in n["inputs"]:
            consumers.setdefault(t, []).append(n["index"])
    for delegate in (n for n in nodes if n["op"] == "DELEGATE"):
        result.partitions += 1
        boundary, exported = set(delegate["inputs"]), set(delegate["outputs"])
        # Members produce the partition's outputs from its inputs (backwards);
        # a tensor a member produces that never leaves the partition can only
        # have members as consumers (forwards: ops without outputs, such as
        # ASSIGN_VARIABLE, are found this way).
        pending = [(t, True) for t in delegate["outputs"]]
        while pending:
            tensor, backwards = pending.pop()
            if backwards:
                index = producer.get(tensor)
                candidates = [] if tensor in boundary or index is None else [index]
            else:
                candidates = consumers.get(tensor, [])
            for index in candidates:
                if index in result.delegated:
                    continue
                result.delegated.add(index)
                node = by_index[index]
                pending.extend((t, True) for t in node["inputs"] if t >= 0)
                pending.extend((t, False) for t in node["outputs"] if t not in exported)
    return result


def compare(predicted: dict[str, Any], actual: RuntimeDelegation) -> dict[str, Any]:
    """Per-op agreement of the main subgraph, and partition counts."""
    main = [op for op in predicted["cpu_ops"] if op["subgraph"] == 0]
    predicted_cpu = {op["index"] for op in main}
    # An op predicted to be claimed by the delegate but to fail when it is
    # built sits in a DELEGATE node and makes allocation fail: it agrees with a
    # runtime whose allocation failed inside the XNNPACK delegate.
    failing = {op["index"] for op in main if op.get("fails_allocation")}
    delegate_failed = delegate_allocation_failed(actual.allocation_error)
    disagreements = []
    for index in sorted(actual.op_names):
        predicted_on = index not in predicted_cpu or (index in failing and delegate_failed)
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
        "predicted_allocation_fails": bool(failing),
        "allocation_fails": delegate_failed,
        "matches": (not disagreements and predicted_partitions == actual.partitions
                    and bool(failing) == delegate_failed),
    }


def delegate_allocation_failed(error: str | None) -> bool:
    """Whether an allocation error comes from building the XNNPACK delegate's subgraph."""
    return error is not None and "TfLiteXNNPackDelegate" in error


def summary(verification: dict[str, Any]) -> str:
    if verification["matches"]:
        return (f"verify: prediction matches LiteRT ({verification['ops']} ops, "
                f"{verification['actual_partitions']} partitions)")
    parts = [f"{d['op']} (op {d['index']}) predicted {d['predicted']}, runtime {d['actual']}"
             for d in verification["disagreements"]]
    if verification.get("allocation_fails") is not None and \
            verification["allocation_fails"] != verification["predicted_allocation_fails"]:
        parts.append("XNNPACK allocation failure predicted "
                     f"{'yes' if verification['predicted_allocation_fails'] else 'no'}, runtime "
                     f"{'yes' if verification['allocation_fails'] else 'no'}")
    if verification["predicted_partitions"] != verification["actual_partitions"]:
        parts.append(f"partitions predicted {verification['predicted_partitions']}, "
                     f"runtime {verification['actual_partitions']}")
    return "verify: prediction differs from LiteRT: " + "; ".join(parts)


def verify_result(result: Any, timeout: float = 60.0, *, trust_model: bool = False) -> int:
    """Check every ``.tflite`` file of a lint result against the runtime.

    Adds a ``verification`` section and a summary note to each file; a
    runtime failure becomes the file's error.  Returns how many files
    disagree with the prediction.
    """
    mismatches = 0
    for file in result.files:
        if file.kind == "keras" and file.error is None:
            file.outcomes.append("verify: not run: --verify checks a .tflite against LiteRT; "
                              "for a Keras model, --fix --convert converts it and measures both")
        if file.kind != "tflite" or file.error is not None:
            continue
        delegation = file.analyses.delegation("xnnpack") if file.analyses else None
        if delegation is None or file.graph is None:
            continue
        refused = None if trust_model else refusal(concerns(file.analyses.security()), "--verify")
        if refused:
            file.error = refused
            continue
        predicted = delegation.to_section(file.graph)
        try:
            actual = run_runtime(file.path, timeout)
        except VerifyError as exc:
            file.error = str(exc)
            continue
        verification = compare(predicted, actual)
        file.sections["verification"] = verification
        file.outcomes.append(summary(verification))
        mismatches += not verification["matches"]
    return mismatches
