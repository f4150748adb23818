"""Run Arm's Vela compiler on .tflite models and read back where it placed every op.

Used by ``scripts/probe_ethosu.py``, ``tests/test_ethosu.py`` and
``bench/bench_ethosu.py``.  Vela (``ethos-u-vela``) compiles in child processes,
many models per process, each model's console output captured on its own:
Vela's compiler core writes to the process's file descriptors, and a crash
in it must only lose the model that caused it.

What Vela did is read from its output model, never guessed: every NPU
partition becomes one ``ethos-u`` custom op and every op left on the CPU stays
a builtin, so an input op is on the CPU when one of its output tensors is the
output of a builtin in the compiled model, and on the NPU otherwise (that
includes ops Vela folded away, which run nowhere).  The per-op warnings Vela
prints give its reasons.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "ethos-u-vela"
NPU_OP = "ethos-u"

_WARNING = re.compile(r"Warning \(supported operators\) operator:\s*(\S+),?\s+ofm:\s*'?(.*?)'?\s*$")


def vela_version() -> str:
    try:
        return f"{PACKAGE} {version(PACKAGE)}"
    except PackageNotFoundError:
        return f"{PACKAGE} not installed"


def vela_installed() -> bool:
    try:
        version(PACKAGE)
    except PackageNotFoundError:
        return False
    return True


def parse_warnings(text: str) -> dict[str, list[str]]:
    """Vela's per-op warnings: output tensor name -> the reason and constraint lines."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        match = _WARNING.search(line)
        if match:
            current = found.setdefault(match.group(2), [])
            continue
        if current is not None:
            if not line.strip() or line.startswith(("Warning", "Network summary", "Tensor ")):
                current = None
            else:
                current.append(line.strip())
    return found


def placement(source: Path, compiled: Path) -> dict[str, Any]:
    """Per op of ``source`` (every subgraph, in order): on the NPU or not; the partitions."""
    from tflint.loaders.tflite import load_tflite

    original = load_tflite(str(source))
    output = load_tflite(str(compiled))
    on_cpu: set[str] = set()
    partitions: dict[int, int] = {}
    for node in output.nodes():
        if node.op_type == NPU_OP:
            partitions[node.subgraph] = partitions.get(node.subgraph, 0) + 1
        else:
            on_cpu.update(f"{node.subgraph}:{t.name}" for t in node.outputs)
    ops = []
    for node in original.nodes():
        cpu = any(f"{node.subgraph}:{t.name}" in on_cpu for t in node.outputs)
        ops.append({"op": node.op_type, "subgraph": node.subgraph, "npu": not cpu,
                    "ofm": node.outputs[0].name if node.outputs else ""})
    return {"ops": ops, "partitions": sum(partitions.values()),
            "partitions_by_subgraph": {str(k): v for k, v in sorted(partitions.items())}}


def compile_one(path: Path, config: str, out_dir: Path) -> dict[str, Any]:
    """Compile ``path`` for ``config`` in this process, console output captured."""
    from ethosu.vela import vela

    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.iterdir():
        stale.unlink()
    log = out_dir / "console.txt"
    saved = os.dup(1), os.dup(2)
    started = time.perf_counter()
    error = None
    with open(log, "w", encoding="utf-8") as sink:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            code = vela.main(["--accelerator-config", config, str(path),
                              "--output-dir", str(out_dir)])
            if code:
                error = f"vela exited with {code}"
        except SystemExit as exc:
            error = f"vela exited with {exc.code}"
        except Exception as exc:  # a model Vela cannot compile is a result, not a crash
            error = f"{type(exc).__name__}: {exc}"
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
    seconds = time.perf_counter() - started
    text = log.read_text(encoding="utf-8", errors="replace")
    compiled = out_dir / f"{path.stem}_vela.tflite"
    result: dict[str, Any] = {"seconds": round(seconds, 4), "warnings": parse_warnings(text)}
    if error or not compiled.is_file():
        tail = [line for line in text.splitlines() if line.strip()][-3:]
        result["error"] = error or "no output model"
        result["detail"] = " | ".join(tail)[-400:]
        return result
    result.update(placement(path, compiled))
    return result


_CHILD = ("import json, sys\n"
          "from pathlib import Path\n"
          "sys.path.insert(0, {scripts!r})\n"
          "from vela_runner import compile_one\n"
          "work = Path({work!r})\n"
          "for line in sys.stdin:\n"
          "    path, config = json.loads(line)\n"
          "    result = compile_one(Path(path), config, work)\n"
          "    print('RESULT ' + json.dumps(result), flush=True)\n")


def run_vela(jobs: Sequence[tuple[Path, str]], workers: int = 2, work_root: Path | None = None,
             python: str = sys.executable) -> dict[tuple[Path, str], dict[str, Any]]:
    """Vela's result for every (model, accelerator configuration) pair."""
    import tempfile

    root = Path(work_root or tempfile.mkdtemp(prefix="vela-"))
    chunks = [list(jobs[i::workers]) for i in range(workers)]
    results: dict[tuple[Path, str], dict[str, Any]] = {}
    threads = [threading.Thread(target=lambda c=chunk, i=index: results.update(
        _run_chunk(c, root / f"w{i}", python))) for index, chunk in enumerate(chunks) if chunk]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _feed(stream: Any, text: str) -> None:
    try:
        stream.write(text)
        stream.close()
    except BrokenPipeError:  # the child died; the reader records on which model
        pass


def _run_chunk(jobs: list[tuple[Path, str]], work: Path,
               python: str) -> dict[tuple[Path, str], dict[str, Any]]:
    results: dict[tuple[Path, str], dict[str, Any]] = {}
    pending = list(jobs)
    while pending:
        code = _CHILD.format(scripts=str(ROOT / "scripts"), work=str(work))
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen([python, "-c", code], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, env=env)
        assert proc.stdin is not None and proc.stdout is not None
        feed = "".join(json.dumps([str(p), c]) + "\n" for p, c in pending)
        writer = threading.Thread(target=_feed, args=(proc.stdin, feed))
        writer.start()
        done = 0
        for line in proc.stdout:
            if line.startswith("RESULT "):
                results[pending[done]] = json.loads(line[7:])
                done += 1
        proc.wait()
        writer.join()
        if done < len(pending):  # the compiler killed its process on this model
            results[pending[done]] = {"error": f"vela crashed (exit {proc.returncode})",
                                      "warnings": {}}
            done += 1
        pending = pending[done:]
    return results


if __name__ == "__main__":
    configs = sys.argv[1].split(",")
    models = [Path(p) for p in sys.argv[2:]]
    results = run_vela([(m, c) for m in models for c in configs])
    for (model, config), result in sorted(results.items()):
        cpu = [op["op"] for op in result.get("ops", ()) if not op["npu"]]
        print(model.name, config, result.get("error") or
              f"{len(result['ops'])} ops, {len(cpu)} on CPU {cpu[:8]}, "
              f"{result['partitions']} partitions, {result['seconds']}s")
