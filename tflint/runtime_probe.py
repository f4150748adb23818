"""Load a model in the LiteRT interpreter and report its nodes after delegation.

Meant to run in a child process (``tflint.isolation``): native code may
crash or hang on a bad model.  The report lists every node of the main
subgraph after the default XNNPACK delegate was applied (delegated
partitions appear as ``DELEGATE`` nodes).
"""

from __future__ import annotations

import json
from typing import Any

#: Characters of an interpreter error message kept in the report.
MESSAGE_LIMIT = 2000


def probe(path: str) -> dict[str, Any]:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        return {"error": "missing-runtime"}
    interpreter = Interpreter(model_path=path)
    allocation_error: str | None
    try:
        interpreter.allocate_tensors()
    except (RuntimeError, ValueError) as exc:
        # Delegation happens before tensors are planned, so the node list is
        # still meaningful when allocation fails later (e.g. a Flex op).  The
        # whole message is kept: its first line names an unresolved custom op.
        allocation_error = one_line(str(exc)) or type(exc).__name__
    else:
        allocation_error = None
    # Without node fusion every delegated node gets a DELEGATE node of its own,
    # which names it exactly (boundary tensors cannot name an op without
    # outputs, such as ASSIGN_VARIABLE, in a partition without outputs).
    unfused = Interpreter(model_path=path, experimental_disable_delegate_node_fusion=True)
    try:
        unfused.allocate_tensors()
    except (RuntimeError, ValueError):
        pass  # the same failure as above; delegation has happened
    return {"nodes": node_list(interpreter), "allocation_error": allocation_error,
            "unfused_nodes": node_list(unfused)}


def one_line(message: str, limit: int = MESSAGE_LIMIT) -> str:
    """The interpreter's multi-line message as one line, cut only when very long."""
    text = " ".join(line.strip() for line in message.splitlines() if line.strip())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def node_list(interpreter: object) -> list[dict[str, Any]]:
    """The interpreter's nodes in the form ``tflint.verify.delegation_from_nodes`` reads."""
    return [
        {"index": int(op["index"]), "op": op["op_name"],
         "inputs": [int(i) for i in op["inputs"]], "outputs": [int(o) for o in op["outputs"]]}
        for op in interpreter._get_ops_details()  # type: ignore[attr-defined]
    ]


def main(path: str) -> None:
    """Print the report as one JSON line, for runners that batch many models per process."""
    print(json.dumps(probe(path)))
