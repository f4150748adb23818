"""Run in a child process: load a model in the LiteRT interpreter, report its nodes.

``python -m tflint.runtime_probe MODEL`` prints one JSON object: every node
of the main subgraph after the default XNNPACK delegate was applied
(delegated partitions appear as ``DELEGATE`` nodes).  It lives in its own
process because native code may crash or hang on a bad model.
"""

from __future__ import annotations

import json
import sys


def main(path: str) -> None:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        print(json.dumps({"error": "missing-runtime"}))
        return
    interpreter = Interpreter(model_path=path)
    try:
        interpreter.allocate_tensors()
    except (RuntimeError, ValueError) as exc:
        # Delegation happens before tensors are planned, so the node list is
        # still meaningful when allocation fails later (e.g. a Flex op).
        allocation_error = str(exc).strip().splitlines()[-1] if str(exc).strip() else str(exc)
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
    print(json.dumps({"nodes": _nodes(interpreter), "allocation_error": allocation_error,
                      "unfused_nodes": _nodes(unfused)}))


def _nodes(interpreter: object) -> list[dict[str, object]]:
    return [
        {"index": int(op["index"]), "op": op["op_name"],
         "inputs": [int(i) for i in op["inputs"]], "outputs": [int(o) for o in op["outputs"]]}
        for op in interpreter._get_ops_details()  # type: ignore[attr-defined]
    ]


if __name__ == "__main__":
    main(sys.argv[1])
