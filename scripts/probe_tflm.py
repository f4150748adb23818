"""Probe which ops TensorFlow Lite for Microcontrollers prepares and runs, and its arena.

Builds one-op .tflite models (across op x dtype x quantization x option
variants) plus one-op models cut out of the benchmark zoo, runs each in the
installed ``tflite-micro`` Python interpreter and records whether it
prepares (``AllocateTensors``) and invokes, the message it printed when it
did not, and the arena it used (``RecordingMicroAllocator``: head = the
planned activations and scratch buffers, tail = persistent allocations).

    python scripts/probe_tflm.py            # write fixtures/probe_tflm/ and its manifest
    python scripts/probe_tflm.py --check    # compare tflint's prediction with the manifest
    python scripts/probe_tflm.py --run M.tflite ...   # print the runtime's report on models

The interpreter always runs in child processes, many models per process; a
model that aborts the process (TFLM checks with ``abort()``) is recorded as
a crash and the next process carries on.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from parallel_chunks import in_chunks

ROOT = Path(__file__).resolve().parent.parent
PROBE_DIR = ROOT / "fixtures" / "probe_tflm"
MANIFEST = "manifest.json"
RUNTIME_PACKAGE = "tflite-micro"
#: Large enough for every probe and zoo model; untouched pages cost nothing.
ARENA_SIZE = 512 << 20
#: Probe models named so only check whether the resolver registers the op.
RESOLVER_PREFIX = "resolver__"
#: Arenas below this are compared in absolute terms by the tests, not by the 10% rule:
#: a few dozen bytes of op data are a large share of a one-op model's arena.
ARENA_COMPARED_FROM = 4096

_ALLOCATION = re.compile(r"\[RecordingMicroAllocator\] (?:Arena allocation (\w+) (\d+) bytes|"
                         r"'([^']+)' used (\d+) bytes)")


def runtime_version() -> str:
    try:
        return f"{RUNTIME_PACKAGE} {version(RUNTIME_PACKAGE)}"
    except PackageNotFoundError:
        return f"{RUNTIME_PACKAGE} not installed"


# ---------------------------------------------------------------------------
# Runtime: many models per child process, crash-tolerant.
# ---------------------------------------------------------------------------

def _child() -> None:
    """Read model paths from stdin; write one JSON report per model to the original stdout.

    TFLM prints (its errors and the allocation record) go to fds 1 and 2, which are
    redirected to a file per model so the report channel stays clean."""
    import numpy as np
    from tflite_micro import runtime

    report_fd = os.dup(1)
    reports = os.fdopen(report_fd, "w", buffering=1)
    capture = tempfile.TemporaryFile(mode="w+b")
    os.dup2(capture.fileno(), 1)
    os.dup2(capture.fileno(), 2)

    def printed() -> str:
        sys.stdout.flush()
        sys.stderr.flush()
        capture.seek(0)
        text = capture.read().decode("utf-8", errors="replace")
        capture.seek(0)
        capture.truncate()
        return text

    for line in sys.stdin:
        path = line.strip()
        report: dict[str, Any] = {}
        try:
            interpreter = runtime.Interpreter.from_file(path, arena_size=ARENA_SIZE)
        except Exception as exc:  # the interpreter's own error: prepare failed
            report = {"status": "prepare-error", "message": _last_lines(printed() or str(exc))}
        else:
            interpreter.print_allocations()
            report["arena"] = _allocations(printed())
            reports.write(json.dumps({"prepared": True, "arena": report["arena"]}) + "\n")
            try:
                index = 0
                while True:
                    try:
                        details = interpreter.get_input_details(index)
                    except (IndexError, ValueError, RuntimeError):
                        break
                    interpreter.set_input(_sample(np, details), index)
                    index += 1
                printed()  # the probing of input indices prints an error at the end
                interpreter.invoke()
            except Exception as exc:
                report.update(status="invoke-error",
                              message=_last_lines(printed() or str(exc)))
            else:
                printed()
                report["status"] = "ok"
        reports.write(json.dumps(report) + "\n")


def _sample(np: Any, details: dict[str, Any]) -> Any:
    """Input values that keep integer kernels out of trouble (no zero divisors, small indices)."""
    dtype = np.dtype(details["dtype"])
    shape = [int(d) for d in details["shape"]]
    if dtype == np.bool_:
        return np.ones(shape, dtype)
    if dtype.kind == "f":
        return np.full(shape, 0.5, dtype)
    return np.ones(shape, dtype)


def _last_lines(text: str, count: int = 3) -> str:
    lines = [s.strip() for s in text.splitlines()
             if s.strip() and not s.startswith("[RecordingMicroAllocator]")]
    return " | ".join(lines[-count:])[-400:]


def _allocations(text: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for match in _ALLOCATION.finditer(text):
        if match.group(1):
            found[match.group(1)] = int(match.group(2))
        else:
            found[match.group(3)] = int(match.group(4))
    return found


def runtime_reports(paths: Sequence[Path], workers: int = 2,
                    stall_timeout: float = 120.0) -> dict[Path, dict[str, Any]]:
    """The interpreter's report on each model: ``status`` (``ok``, ``prepare-error``,
    ``invoke-error`` or ``crash``), ``message`` and ``arena`` (bytes by allocation kind)."""
    return in_chunks(paths, workers, lambda chunk: _run_chunk(chunk, stall_timeout))


def _feed(stream: Any, paths: list[Path]) -> None:
    try:
        for path in paths:
            stream.write(f"{path}\n")
        stream.close()
    except BrokenPipeError:
        pass  # the child died; the runner restarts it with the rest


def _run_chunk(paths: list[Path], stall_timeout: float) -> dict[Path, dict[str, Any]]:
    results: dict[Path, dict[str, Any]] = {}
    pending = list(paths)
    while pending:
        proc = subprocess.Popen([sys.executable, "-u", __file__, "--child"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        assert proc.stdin is not None and proc.stdout is not None
        # Fed from a thread: with many models both pipes fill, and a blocking write
        # here would wait on a child waiting for its reports to be read.
        feeder = threading.Thread(target=_feed, args=(proc.stdin, list(pending)), daemon=True)
        feeder.start()
        # A model that hangs the runtime is killed after stall_timeout without output.
        watchdog = threading.Timer(stall_timeout, proc.kill)
        watchdog.start()
        done = 0
        partial: dict[str, Any] = {}
        for line in proc.stdout:
            watchdog.cancel()
            report = json.loads(line)
            if report.pop("prepared", False):
                partial = report  # the arena, kept if Invoke then aborts
            else:
                results[pending[done]] = report
                partial = {}
                done += 1
            watchdog = threading.Timer(stall_timeout, proc.kill)
            watchdog.start()
        watchdog.cancel()
        code = proc.wait()
        if done < len(pending):
            how = signal.Signals(-code).name if code < 0 else f"exit {code}"
            stage = "invoke" if partial else "prepare"
            results[pending[done]] = {**partial, "status": "crash",
                                      "message": f"{how} during {stage}"}
            done += 1
        pending = pending[done:]
    return results


# ---------------------------------------------------------------------------
# One-op models cut out of a model (LiteRT schema object API).
# ---------------------------------------------------------------------------

def cut_ops(data: bytes) -> list[tuple[str, bytes]]:
    """One model per op of the main subgraph: the op, its tensors and constant buffers; its
    non-constant inputs become the model's inputs.  Ops that call subgraphs are skipped."""
    import copy

    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    source = model.subgraphs[0]
    result: list[tuple[str, bytes]] = []
    for index, op in enumerate(source.operators or []):
        code = model.operatorCodes[op.opcodeIndex]
        op_type = names.get(max(code.builtinCode, code.deprecatedBuiltinCode), "UNKNOWN")
        if op_type in ("IF", "WHILE", "CALL_ONCE"):
            continue
        new = schema.ModelT()
        new.version = 3
        new.description = "tflint TFLM probe"
        new.buffers = [schema.BufferT()]
        new.operatorCodes = [code]
        subgraph = schema.SubGraphT()
        subgraph.name = "main"
        subgraph.tensors = []
        remap: dict[int, int] = {}

        def take(position: int, remap: dict[int, int] = remap, new: Any = new,
                 subgraph: Any = subgraph) -> int:
            if position < 0:
                return -1
            if position not in remap:
                tensor = copy.copy(source.tensors[position])
                buffer = model.buffers[tensor.buffer] if tensor.buffer else None
                if buffer is not None and buffer.data is not None and len(buffer.data):
                    new.buffers.append(buffer)
                    tensor.buffer = len(new.buffers) - 1
                else:
                    tensor.buffer = 0
                subgraph.tensors.append(tensor)
                remap[position] = len(subgraph.tensors) - 1
            return remap[position]

        cut = copy.copy(op)
        cut.opcodeIndex = 0
        cut.inputs = [take(t) for t in op.inputs]
        cut.outputs = [take(t) for t in op.outputs]
        if op.intermediates is not None:
            cut.intermediates = [take(t) for t in op.intermediates]
        subgraph.inputs = list(dict.fromkeys(
            t for t in cut.inputs if t >= 0 and subgraph.tensors[t].buffer == 0
            and not subgraph.tensors[t].isVariable))
        subgraph.outputs = list(cut.outputs)
        subgraph.operators = [cut]
        new.subgraphs = [subgraph]
        builder = flatbuffers.Builder(1024)
        builder.Finish(new.Pack(builder), file_identifier=b"TFL3")
        result.append((f"op{index:03d}_{op_type.lower()}", bytes(builder.Output())))
    return result


# ---------------------------------------------------------------------------
# The probe cases: the XNNPACK probe's flatbuffer cases (op x dtype x option
# variants, built by its helpers), one model per builtin for the resolver, and
# cases for TFLM's own constraints.
# ---------------------------------------------------------------------------

def _xnnpack_probe() -> Any:
    sys.path.insert(0, str(ROOT / "scripts"))
    import probe_xnnpack

    return probe_xnnpack


def cases() -> dict[str, tuple[str, str, Callable[[], bytes]]]:
    """name -> (op, variant, make)."""
    px = _xnnpack_probe()
    px.CASES.clear()
    px.builder_cases()
    found: dict[str, tuple[str, str, Callable[[], bytes]]] = {
        name: (case.op, case.variant, case.make) for name, case in px.CASES.items()
        if case.source == "flatbuffer"}
    from ai_edge_litert import schema_py_generated as schema

    for code, op in sorted((v, k) for k, v in vars(schema.BuiltinOperator).items()
                           if not k.startswith("_")):
        if op in ("CUSTOM", "DELEGATE", "PLACEHOLDER_FOR_GREATER_OP_CODES"):
            continue
        found[f"{RESOLVER_PREFIX}{op.lower()}"] = (op, f"builtin code {code}, float32 [1, 4]",
                                             partial(px.single, op, [px.f32(1, 4)],
                                                     [px.f32(1, 4)]))
    beta = ("SoftmaxOptions", {"beta": 1.0})
    for depth in (10, 511, 512, 1000):
        found[f"softmax__tflm_qs8_depth{depth}"] = ("SOFTMAX", f"int8 over {depth} values",
            partial(px.single, "SOFTMAX", [px.qs8([1, depth], 0.1, -2)],
                    [px.qs8([1, depth], 1 / 256, -128)], options=beta))
    for scale in (1e-9, 1e-8, 2e-8):
        found[f"softmax__tflm_qs8_scale{scale:g}"] = ("SOFTMAX", f"int8, input scale {scale:g}",
            partial(px.single, "SOFTMAX", [px.qs8([1, 10], scale, 0)],
                    [px.qs8([1, 10], 1 / 256, -128)], options=beta))
    found["softmax__tflm_qs8_out_zp0"] = ("SOFTMAX", "int8 output zero point 0",
        partial(px.single, "SOFTMAX", [px.qs8([1, 10], 0.1, 0)], [px.qs8([1, 10], 1 / 256, 0)],
                options=beta))
    found["softmax__tflm_qs8_to_qs16"] = ("SOFTMAX", "int8 input, int16 output",
        partial(px.single, "SOFTMAX", [px.qs8([1, 10], 0.1, 0)],
                [px.Spec("i16", [1, 10], scale=[1 / 65536], zero_point=[-32768])], options=beta))
    for op in ("ADD", "SUB", "MUL", "MAXIMUM", "SQUARED_DIFFERENCE", "DIV"):
        options = {"ADD": "AddOptions", "SUB": "SubOptions", "MUL": "MulOptions",
                   "DIV": "DivOptions"}.get(op)
        found[f"{op.lower()}__tflm_i64"] = (op, "int64 data", partial(
            px.single, op, [px.Spec("i64", [2, 4]), px.Spec("i64", [2, 4])],
            [px.Spec("i64", [2, 4])], options=(options, {}) if options else None))
    for op in ("EXP", "LOG", "SQRT", "RSQRT", "NEG", "ABS"):
        found[f"{op.lower()}__tflm_i32"] = (op, "int32 data", partial(
            px.single, op, [px.Spec("i32", [2, 4])], [px.Spec("i32", [2, 4])]))
    for model in ZOO_CUTS:
        path = ROOT / "bench" / ".cache" / "tflite_zoo" / model
        if not path.is_file():
            print(f"  {model}: not in the zoo cache (python bench/tflite_zoo.py); no cuts")
            continue
        for name, data in cut_ops(path.read_bytes()):
            if len(data) <= ZOO_CUT_MAX_BYTES:
                op = name.split("_", 1)[1].upper()
                found[f"zoo__{path.stem}_{name}"] = (op, f"cut from {model}",
                                                    partial(bytes, data))
    return found


#: Zoo models whose small ops are cut into probes (activations of real sizes).
ZOO_CUTS = ("mobilenet_int8.tflite", "mobilenet_v3_small_float32.tflite",
            "mobilenet_v3_small_int8.tflite")
ZOO_CUT_MAX_BYTES = 12_000


def generate(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.tflite"):
        stale.unlink()
    made: dict[Path, tuple[str, str]] = {}
    for name, (op, variant, make) in cases().items():
        path = out / f"{name}.tflite"
        path.write_bytes(make())
        made[path] = (op, variant)
    reports = runtime_reports(list(made))
    models = {}
    for path, (op, variant) in sorted(made.items()):
        report = reports[path]
        models[path.name] = {"op": op, "variant": variant, "status": report["status"],
                             "message": report.get("message", ""),
                             **({"arena": report["arena"]} if "arena" in report else {})}
    manifest = {
        "about": "TFLite Micro probe models written by scripts/probe_tflm.py: one op each, with "
                 "what the interpreter below did (status: ok, prepare-error, invoke-error or "
                 "crash; its message; the arena its recording allocator reported).",
        "runtime": runtime_version(),
        "models": models,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n",
                                encoding="utf-8")
    size = sum(p.stat().st_size for p in out.iterdir())
    print(f"{len(models)} probe models, {size / 1024:.0f} KB, in {out}")
    return 0


# ---------------------------------------------------------------------------
# Prediction and comparison (tflint never imports the interpreter).
# ---------------------------------------------------------------------------

def predicted_failures(path: Path) -> dict[str, tuple[str, str]]:
    """Node id -> (reason, how it fails) for every op tflint predicts TFLM does not run."""
    from tflint.loaders.tflite import load_tflite
    from tflint.signature import OpSignature
    from tflint.targets.tflm import load_tflm_profile

    graph = load_tflite(str(path))
    profile = load_tflm_profile()
    inputs = frozenset(t.id for t in graph.inputs)
    found = {}
    for node in graph.nodes():
        reason = profile.reason(OpSignature.of(graph, node, inputs))
        if reason is not None:
            found[node.id] = reason
    return found


def predicted_arena(path: Path) -> int:
    from tflint.loaders.tflite import load_tflite
    from tflint.targets.tflm_arena import estimate_arena

    return estimate_arena(load_tflite(str(path))).total


def disagreements(out: Path, entries: dict[str, dict[str, Any]]) -> list[str]:
    """Probe models whose predicted outcome (runs or fails) differs from the recorded one,
    and arena estimates more than 10% off the recorded arena."""
    problems = []
    for name, entry in sorted(entries.items()):
        failures = predicted_failures(out / name)
        if name.startswith(RESOLVER_PREFIX):
            # Arity-blind models: they only tell whether the resolver has the op.
            missing = "Didn't find op for builtin" in entry["message"]
            if missing != any("no kernel in TFLite Micro's op resolver" in r
                              for r, _ in failures.values()):
                problems.append(f"{name}: resolver {'lacks' if missing else 'has'} "
                                f"{entry['op']}, tflint says otherwise")
            continue
        if bool(failures) != (entry["status"] != "ok"):
            said = "; ".join(r for r, _ in failures.values()) or "runs"
            problems.append(f"{name}: runtime {entry['status']} ({entry['message'][:120]}), "
                            f"tflint: {said}")
        arena = entry.get("arena", {}).get("total")
        if arena and arena >= ARENA_COMPARED_FROM:
            estimate = predicted_arena(out / name)
            if abs(estimate - arena) > 0.1 * arena:
                problems.append(f"{name}: arena {arena} B, estimated {estimate} B")
    return problems


def check(out: Path) -> int:
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    entries = manifest["models"]
    problems = disagreements(out, entries)
    try:
        import tflite_micro  # noqa: F401
    except ImportError:
        print("tflite-micro is not installed: compared with the manifest only")
    else:
        reports = runtime_reports([out / name for name in entries])
        for path, report in sorted(reports.items()):
            if report["status"] != entries[path.name]["status"]:
                problems.append(f"{path.name}: manifest {entries[path.name]['status']}, "
                                f"runtime now {report['status']} ({report.get('message', '')})")
    for problem in problems:
        print(problem)
    print(f"{len(entries)} probe models, {len(problems)} disagreements")
    return 1 if problems else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--run", nargs="+", type=Path, help="print the runtime's report")
    parser.add_argument("--check", action="store_true",
                        help="compare tflint's prediction and the runtime with the manifest")
    parser.add_argument("--out", type=Path, default=PROBE_DIR, help="probe folder")
    args = parser.parse_args(argv)
    if args.child:
        _child()
        return 0
    if args.run:
        for path, report in sorted(runtime_reports(args.run).items()):
            print(path, json.dumps(report))
        return 0
    return check(args.out) if args.check else generate(args.out)


if __name__ == "__main__":
    sys.exit(main())
