"""Run ``.tflite`` models in the real LiteRT interpreter (the ``runtime`` extra).

In a child process (:mod:`tflint.isolation`), every model is loaded with the
interpreter's default XNNPACK delegate, and the execution plan is read back:
ops left outside the ``DELEGATE`` nodes run on the CPU kernels.  Latency is
measured side by side: the models are invoked in turn, run after run, so
that whatever else the machine does weighs on all of them alike.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from tflint.isolation import Outcome, run_isolated

DEFAULT_RUNS = 100
WARMUP_RUNS = 5


def runtime_available() -> bool:
    try:
        return importlib.util.find_spec("ai_edge_litert") is not None
    except (ImportError, ValueError):
        return False


def measure(paths: list[str], runs: int = DEFAULT_RUNS, threads: int = 1,
            timeout: float = 300.0) -> Outcome:
    """Per path, a dict of delegation figures and median latency (or ``{"error": ...}``)."""
    return run_isolated(measure_in_child, list(paths), runs, threads, timeout=timeout,
                        what="interpreter")


def delegated_ops(ops: list[dict[str, Any]], delegates: list[dict[str, Any]]) -> set[int]:
    """Indexes of the ops some ``DELEGATE`` node took over.

    A delegate node consumes its partition's inputs and produces the outputs
    used outside it; walking back from those outputs through producers, up to
    the inputs, visits exactly the partition's ops.
    """
    producer = {int(t): op["index"] for op in ops for t in op["outputs"]}
    by_index = {op["index"]: op for op in ops}
    taken: set[int] = set()
    for delegate in delegates:
        boundary = {int(t) for t in delegate["inputs"]}
        pending = [int(t) for t in delegate["outputs"]]
        seen: set[int] = set()
        while pending:
            tensor = pending.pop()
            if tensor in seen or tensor in boundary or tensor not in producer:
                continue
            seen.add(tensor)
            index = producer[tensor]
            if index not in taken:
                taken.add(index)
                pending.extend(int(t) for t in by_index[index]["inputs"] if int(t) >= 0)
    return taken


def measure_in_child(paths: list[str], runs: int, threads: int) -> list[dict[str, Any]]:
    import statistics
    import time

    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    results: list[dict[str, Any]] = []
    runnable = []
    for path in paths:
        try:
            interpreter = Interpreter(model_path=path, num_threads=threads)
            interpreter.allocate_tensors()
        except (RuntimeError, ValueError) as exc:
            lines = str(exc).strip().splitlines()
            results.append({"error": lines[-1] if lines else type(exc).__name__})
            continue
        details = interpreter._get_ops_details()
        ops = [d for d in details if d["op_name"] != "DELEGATE"]
        delegates = [d for d in details if d["op_name"] == "DELEGATE"]
        taken = delegated_ops(ops, delegates)
        rng = np.random.default_rng(0)
        for detail in interpreter.get_input_details():
            shape, dtype = detail["shape"], detail["dtype"]
            data = (rng.uniform(-1, 1, shape) if np.issubdtype(dtype, np.floating)
                    else np.zeros(shape))
            interpreter.set_tensor(detail["index"], data.astype(dtype))
        results.append({"ops": len(ops), "delegated": len(taken), "partitions": len(delegates),
                        "cpu_ops": [op["op_name"] for op in ops if op["index"] not in taken],
                        "timings": []})
        runnable.append((interpreter, results[-1]))
    for _ in range(WARMUP_RUNS):
        for interpreter, _result in runnable:
            interpreter.invoke()
    for run in range(runs):
        # Alternate the order so neither model always runs right after the other.
        order = runnable if run % 2 == 0 else list(reversed(runnable))
        for interpreter, result in order:
            start = time.perf_counter()
            interpreter.invoke()
            result["timings"].append(time.perf_counter() - start)
    for _interpreter, result in runnable:
        result["latency_ms"] = statistics.median(result.pop("timings")) * 1000
        result["runs"] = runs
    return results
