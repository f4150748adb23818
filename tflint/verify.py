"""``tflint --verify``: compare the predicted delegation with the real runtime.

The prediction is the engine's XNNPACK delegation analysis of the file;
the truth comes from the LiteRT interpreter (extra ``runtime``), run in a
child process with a time limit.  After delegation the interpreter lists
the original nodes plus one ``DELEGATE`` node per partition; a partition's
members are the original nodes between its input and output tensors.
"""

from __future__ import annotations

import re
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
    """Per-op agreement of the main subgraph, partition counts, and how preparing went."""
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
        # The interpreter could not prepare the model, for whatever reason...
        "allocation_fails": actual.allocation_error is not None,
        "allocation_error": actual.allocation_error,
        "unresolved_ops": unresolved_ops(actual.allocation_error),
        # ...and whether the XNNPACK delegate was the reason, which is predicted.
        "delegate_allocation_fails": delegate_failed,
        "predicted_allocation_fails": bool(failing),
        "matches": (not disagreements and predicted_partitions == actual.partitions
                    and bool(failing) == delegate_failed),
    }


def delegate_allocation_failed(error: str | None) -> bool:
    """Whether an allocation error comes from building the XNNPACK delegate's subgraph."""
    return error is not None and "TfLiteXNNPackDelegate" in error


_UNRESOLVED = re.compile(r"unresolved custom op: (.+?)\.(?:\s|$)")


def unresolved_ops(error: str | None) -> list[str]:
    """Custom ops the interpreter has no kernel for, as its error message names them."""
    return list(dict.fromkeys(_UNRESOLVED.findall(error or "")))


#: Op indexes shown per op type in a disagreement; the json report has them all.
SHOWN_INDEXES = 3


def summary_lines(verification: dict[str, Any]) -> list[str]:
    """The verification as text: how preparing went (when it failed), then the prediction."""
    lines = []
    prepare = prepare_line(verification)
    if prepare is not None:
        lines.append(prepare)
    lines.append(summary(verification))
    return lines


def prepare_line(verification: dict[str, Any]) -> str | None:
    """``verify: LiteRT cannot prepare the model: ...``, when it could not."""
    error = verification.get("allocation_error")
    if not error:
        return None
    unresolved = verification.get("unresolved_ops") or []
    if unresolved:
        names = ", ".join(unresolved)
        what = (f"no kernel for custom op{'s' if len(unresolved) > 1 else ''} {names} "
                "(register it with the interpreter in every app that loads the model)")
    elif verification.get("delegate_allocation_fails"):
        expected = ("as predicted" if verification.get("predicted_allocation_fails")
                    else "not predicted")
        what = f"the XNNPACK delegate failed to prepare its subgraph ({expected}): {error}"
    else:
        what = error
    return f"verify: LiteRT cannot prepare the model: {what}"


def summary(verification: dict[str, Any]) -> str:
    ops, partitions = verification["ops"], verification["actual_partitions"]
    if verification["matches"]:
        return (f"verify: prediction matches LiteRT ({ops} op{'s' if ops != 1 else ''}, "
                f"{partitions} partition{'s' if partitions != 1 else ''})")
    parts = []
    disagreements = verification["disagreements"]
    if disagreements:
        parts.append(f"{len(disagreements)} of {ops} ops placed otherwise: "
                     + "; ".join(_grouped(disagreements)))
    if verification["delegate_allocation_fails"] != verification["predicted_allocation_fails"]:
        parts.append("XNNPACK allocation failure predicted "
                     f"{'yes' if verification['predicted_allocation_fails'] else 'no'}, runtime "
                     f"{'yes' if verification['delegate_allocation_fails'] else 'no'}")
    if verification["predicted_partitions"] != partitions:
        parts.append(f"partitions predicted {verification['predicted_partitions']}, "
                     f"runtime {partitions}")
    return "verify: prediction differs from LiteRT: " + "; ".join(parts)


def _grouped(disagreements: list[dict[str, Any]]) -> list[str]:
    """``predicted on CPU, delegated by LiteRT: CONV_2D x40 (ops 3, 7, 9, ...), ADD (op 5)``."""
    groups: dict[tuple[str, str], dict[str, list[int]]] = {}
    for d in disagreements:
        groups.setdefault((d["predicted"], d["actual"]), {}).setdefault(d["op"], []).append(
            d["index"])
    words = {"cpu": "on CPU", "delegated": "delegated"}
    texts = []
    for (predicted, actual), by_op in groups.items():
        items = []
        for op, indexes in sorted(by_op.items(), key=lambda item: (-len(item[1]), item[0])):
            shown = ", ".join(map(str, indexes[:SHOWN_INDEXES]))
            more = ", ..." if len(indexes) > SHOWN_INDEXES else ""
            count = f" x{len(indexes)}" if len(indexes) > 1 else ""
            label = "ops" if len(indexes) > 1 else "op"
            items.append(f"{op}{count} ({label} {shown}{more})")
        texts.append(f"predicted {words[predicted]}, {words[actual]} in LiteRT: "
                     + ", ".join(items))
    return texts


def verify_result(result: Any, timeout: float = 60.0, *, trust_model: bool = False) -> int:
    """Check every ``.tflite`` file of a lint result against the runtime.

    Adds a ``verification`` section and its summary lines to each file; a
    runtime that cannot report (missing, crashed, refused by the security
    gate) makes the file "not verified".  Returns how many files disagree
    with the prediction.
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
            file.fail("verify", refused.removeprefix("--verify refused: "))
            continue
        predicted = delegation.to_section(file.graph)
        try:
            actual = run_runtime(file.path, timeout)
        except VerifyError as exc:
            file.fail("verify", str(exc))
            continue
        verification = compare(predicted, actual)
        file.sections["verification"] = verification
        file.outcomes.extend(summary_lines(verification))
        mismatches += not verification["matches"]
    return mismatches
