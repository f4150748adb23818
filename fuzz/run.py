"""Fuzz tflint with mutated real model files, each linted in a watched worker process.

Usage::

    python fuzz/run.py --count 100000 --seed 1 --report
    python fuzz/run.py --seed 1 --only 4242 --save-inputs /tmp/repro   # make one input again

Inputs cycle through the four formats (``.tflite``, ``.h5``, ``.keras``,
``.json``); input ``i`` is the mutation of a fixture chosen, with the
mutator, by ``random.Random(f"{seed}:{i}")``, so any input can be made again
from its index.  Each is written to a temporary file and linted with
``tflint.lint`` (plus the text and JSON reports) in a worker process.  The
harness checks, for every input:

* no crash: no exception escapes, the worker does not die, and the file's
  ``error`` (if any) is one clean line, neither ``rule ... failed`` nor a
  Python exception's name;
* no hang: each file is done within ``--timeout`` seconds (2 s) of CPU time
  (the worker's and its children's, read from ``/proc``), or the worker is
  killed; CPU time, not wall time, because the machine may be shared and
  busy.  A worker that does not answer within ten times the timeout of wall
  time is killed too (a deadlock uses no CPU).  A killed input is run once
  more in a fresh worker before it counts as a hang;
* bounded memory: the worker's peak RSS (``VmHWM``, or ``resource.getrusage``,
  after each file, including the child process tflint forks to read HDF5;
  ``os.wait4`` when it dies) stays under ``--memory-mib`` (300 MiB); a
  worker over the limit is replaced, so that each peak is one file's;
* every input ends as a lint result or a per-file error.

Crashing, hanging and memory-hungry inputs are saved under ``--crash-dir``
with a text file saying how they were made.  The exit code is 1 when any
was found.
"""

from __future__ import annotations

import argparse
import builtins
import json
import os
import random
import re
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the checkout importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fuzz import mutators

DEFAULT_CRASH_DIR = Path(__file__).resolve().parent / "crashes"
PROBLEMS = ("crash", "hang", "memory")

#: Every built-in exception name, plus the module-level ones tflint's dependencies raise.
EXCEPTION_NAMES = sorted(
    {name for name, value in vars(builtins).items()
     if isinstance(value, type) and issubclass(value, BaseException)}
    | {"BadZipFile", "JSONDecodeError", "UnpicklingError", "LargeZipFile"}
)
_EXCEPTION_WORD = re.compile(
    r"\b(?:" + "|".join(EXCEPTION_NAMES) + r")\b|Traceback \(most recent")


def crash_reason(error: str | None) -> str | None:
    """Why a file result's ``error`` is a crash rather than a clean per-file error."""
    if error is None:
        return None
    if not error.strip():
        return "empty error message"
    if "\n" in error:
        return "error message spans several lines"
    if error.startswith("rule "):
        return "a rule failed"
    match = _EXCEPTION_WORD.search(error)
    if match:
        return f"error names a Python exception ({match.group(0)})"
    return None


# -- worker process ----------------------------------------------------------------------------


def worker_main() -> int:
    """Lint the files named on stdin, one JSON line in and one out per file."""
    # A guard for the shared machine: runaway allocations fail instead of swapping.
    limit = 4 << 30
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import h5py  # noqa: F401  (imported up front: import cost is not lint time)

    import tflint
    from tflint.engine import select_rules
    from tflint.loaders import keras, tflite  # noqa: F401
    from tflint.reporters import render

    config = tflint.Config()
    select_rules(config)
    out = sys.stdout
    out.write(json.dumps({"ready": True, "maxrss_kib": _maxrss()}) + "\n")
    out.flush()
    for line in sys.stdin:
        task = json.loads(line)
        start = time.perf_counter()
        cpu_start = _cpu_time()
        children_before = _children_maxrss()
        try:
            result = tflint.lint(task["path"], config)
            for name in ("text", "json"):
                render(result, name)
            verdict, detail = _verdict(result)
        except BaseException as exc:  # anything escaping tflint is the finding
            verdict = "crash"
            detail = "".join(traceback.format_exception(exc))[-4000:]
        seconds = time.perf_counter() - start
        cpu = _cpu_time() - cpu_start
        # tflint reads HDF5 in a forked child: its peak counts when this file raised it.
        children = _children_maxrss()
        peak = max(_maxrss(), children if children > children_before else 0)
        out.write(json.dumps({"index": task["index"], "verdict": verdict, "detail": detail,
                              "seconds": seconds, "cpu": cpu, "maxrss_kib": peak}) + "\n")
        out.flush()
    return 0


def _children_maxrss() -> int:
    """Peak RSS in KiB of the largest child this process has waited for."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def _cpu_time() -> float:
    """CPU seconds of this process and of the children it has waited for."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _proc_cpu(pid: int) -> float | None:
    """CPU seconds of a running process and its waited-for children (Linux ``/proc``)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _maxrss() -> int:
    """Peak RSS of this process in KiB.

    ``getrusage`` keeps, across ``exec``, the peak of the process that forked
    it (here the harness, which holds tens of MiB of inputs), so the peak of
    the worker's own address space (``VmHWM``) is read where Linux has it.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def _verdict(result: Any) -> tuple[str, str]:
    if len(result.files) != 1:
        return "crash", f"{len(result.files)} file results for one input"
    file = result.files[0]
    reason = crash_reason(file.error)
    if reason is not None:
        return "crash", f"{reason}: {file.error}"
    if file.error is not None:
        return "error", file.error
    if file.graph is None:
        return "crash", "no error and no graph"
    return "linted", f"{len(file.diagnostics)} diagnostics"


# -- the harness --------------------------------------------------------------------------------


@dataclass
class Input:
    index: int
    format: str
    seed: str
    mutator: str
    path: Path
    size: int
    retried: bool = False


@dataclass
class Outcome:
    index: int
    format: str
    seed: str
    mutator: str
    verdict: str
    #: Wall-clock and CPU seconds the lint took (the limit applies to CPU time).
    seconds: float
    cpu: float
    maxrss_kib: int
    detail: str


@dataclass
class Stats:
    seed: int
    count: int = 0
    by_format: dict[str, Counter] = field(default_factory=dict)
    mutators: Counter = field(default_factory=Counter)
    errors: dict[str, Counter] = field(default_factory=dict)
    problems: list[Outcome] = field(default_factory=list)
    slowest: Outcome | None = None
    slowest_wall: Outcome | None = None
    peak_rss_kib: int = 0
    baseline_rss_kib: int = 0
    retried: int = 0
    workers_started: int = 0
    elapsed: float = 0.0
    input_bytes: int = 0

    def add(self, item: Input, outcome: Outcome) -> None:
        self.count += 1
        self.by_format.setdefault(item.format, Counter())[outcome.verdict] += 1
        self.by_format[item.format]["inputs"] += 1
        self.mutators[item.mutator] += 1
        self.input_bytes += item.size
        if outcome.verdict == "error":
            # Messages with their numbers taken out: how many distinct ways inputs failed.
            key = re.sub(r"0x[0-9a-f]+|\d+", "N", outcome.detail)[:90]
            self.errors.setdefault(item.format, Counter())[key] += 1
        if outcome.verdict in PROBLEMS:
            self.problems.append(outcome)
        if outcome.verdict != "hang":
            if self.slowest is None or outcome.cpu > self.slowest.cpu:
                self.slowest = outcome
            if self.slowest_wall is None or outcome.seconds > self.slowest_wall.seconds:
                self.slowest_wall = outcome
        self.peak_rss_kib = max(self.peak_rss_kib, outcome.maxrss_kib)

    @property
    def ok(self) -> bool:
        return not self.problems


class Worker:
    """One lint process, fed one input at a time, killed when it overruns."""

    def __init__(self, selector: selectors.BaseSelector) -> None:
        self.selector = selector
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=dict(os.environ, PYTHONHASHSEED="0"),
        )
        # What os.wait4 reports for a child includes this inherited peak.
        self.inherited_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        self.last_rss_kib = 0
        self.buffer = b""
        self.task: Input | None = None
        self.deadline = 0.0
        self.sent = 0.0
        self.cpu_at_send = 0.0
        self.cpu_limit = 0.0
        self.dead = False
        selector.register(self.proc.stdout, selectors.EVENT_READ, self)
        ready = self.read_line(time.monotonic() + 120)
        if ready is None or not ready.get("ready"):
            self.kill()
            raise RuntimeError("a fuzz worker did not start")
        self.baseline = ready["maxrss_kib"]

    def read_line(self, deadline: float) -> dict[str, Any] | None:
        """A line the worker wrote, waiting at most until ``deadline``; None on EOF/timeout."""
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready = select_one(self.proc.stdout, left)
            if not ready:
                return None
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def send(self, item: Input, timeout: float) -> None:
        self.task = item
        self.sent = time.monotonic()
        self.cpu_at_send = _proc_cpu(self.proc.pid) or 0.0
        self.cpu_limit = timeout
        # Without /proc only wall time can tell; with it, wall time only catches deadlocks.
        self.deadline = self.sent + (timeout if _proc_cpu(self.proc.pid) is None
                                     else max(10 * timeout, 20.0))
        self.proc.stdin.write(json.dumps({"index": item.index, "path": str(item.path)}).encode()
                              + b"\n")
        self.proc.stdin.flush()

    def overran(self, now: float) -> bool:
        if now >= self.deadline:
            return True
        cpu = _proc_cpu(self.proc.pid)
        return cpu is not None and cpu - self.cpu_at_send > self.cpu_limit

    def kill(self) -> int:
        """Stop the process; its peak RSS in KiB, from ``os.wait4`` or its last report."""
        if self.dead:
            return 0
        self.dead = True
        self.selector.unregister(self.proc.stdout)
        # Not Popen.kill: it polls first, reaping the child before wait4 can read its usage.
        try:
            os.kill(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _, status, usage = os.wait4(self.proc.pid, 0)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        if usage.ru_maxrss > self.inherited_kib:
            return usage.ru_maxrss  # above what it inherited: its own
        return self.last_rss_kib

    def exit_status(self) -> str:
        code = self.proc.returncode
        if code is not None and code < 0:
            return f"killed by signal {signal.Signals(-code).name}"
        return f"exited with status {code}"


def select_one(stream: Any, timeout: float) -> bool:
    with selectors.DefaultSelector() as one:
        one.register(stream, selectors.EVENT_READ)
        return bool(one.select(timeout))


class Campaign:
    def __init__(self, seed: int, jobs: int, timeout: float, memory_mib: int,
                 crash_dir: Path | None, progress: int) -> None:
        self.seed = seed
        self.jobs = jobs
        self.timeout = timeout
        self.memory_kib = memory_mib * 1024
        self.crash_dir = crash_dir
        self.progress = progress
        self.seeds = mutators.load_seeds()
        missing = [name for name, found in self.seeds.items() if not found]
        if missing:
            raise SystemExit(f"no fixture of format(s) {', '.join(missing)} under "
                             f"{mutators.FIXTURES}: run the fixture generators first")
        self.stats = Stats(seed=seed)
        self.selector = selectors.DefaultSelector()
        self.workers: list[Worker] = []
        self.tmp = Path(tempfile.mkdtemp(prefix="tflint-fuzz-"))
        self.scratch = self.tmp / "scratch"
        self.scratch.mkdir()

    # -- inputs --------------------------------------------------------------------------
    def make_input(self, index: int) -> Input:
        rng = random.Random(f"{self.seed}:{index}")
        format_name = mutators.FORMATS[index % len(mutators.FORMATS)]
        seed = rng.choice(self.seeds[format_name])
        name = mutators.pick_mutator(format_name, rng)
        data = mutators.mutate(seed, name, rng, self.scratch)
        path = self.tmp / f"input-{index}{mutators.EXTENSIONS[format_name]}"
        path.write_bytes(data)
        return Input(index, format_name, seed.name, name, path, len(data))

    # -- workers -------------------------------------------------------------------------
    def start_worker(self) -> Worker:
        worker = Worker(self.selector)
        self.stats.workers_started += 1
        self.stats.baseline_rss_kib = max(self.stats.baseline_rss_kib, worker.baseline)
        self.workers.append(worker)
        return worker

    def replace(self, worker: Worker) -> int:
        peak = worker.kill()
        self.workers.remove(worker)
        self.start_worker()
        return peak

    def finish(self, item: Input, outcome: Outcome) -> None:
        if outcome.verdict in PROBLEMS:
            self.save(item, outcome)
        item.path.unlink(missing_ok=True)
        self.stats.add(item, outcome)
        if self.progress and self.stats.count % self.progress == 0:
            self.print_progress()

    def save(self, item: Input, outcome: Outcome) -> None:
        if self.crash_dir is None or not item.path.is_file():
            return
        if not self.crash_dir.exists():
            self.crash_dir.mkdir(parents=True)
            # Saved inputs are for reproducing, not for committing.
            (self.crash_dir / ".gitignore").write_text("*\n")
        stem = f"seed{self.seed}-{item.index:07d}-{outcome.verdict}"
        target = self.crash_dir / f"{stem}{item.path.suffix}"
        target.write_bytes(item.path.read_bytes())
        (self.crash_dir / f"{stem}.txt").write_text(
            f"input {item.index} of seed {self.seed}: {item.mutator} on {item.seed}\n"
            f"reproduce: python fuzz/run.py --seed {self.seed} --only {item.index}\n"
            f"verdict: {outcome.verdict} after {outcome.seconds:.3f} s ({outcome.cpu:.3f} s CPU), "
            f"peak RSS {outcome.maxrss_kib / 1024:.0f} MiB\n\n{outcome.detail}\n")

    def handle_reply(self, worker: Worker, reply: dict[str, Any]) -> None:
        item = worker.task
        assert item is not None and reply["index"] == item.index
        worker.task = None
        worker.last_rss_kib = reply["maxrss_kib"]
        outcome = Outcome(item.index, item.format, item.seed, item.mutator, reply["verdict"],
                          reply["seconds"], reply["cpu"], reply["maxrss_kib"], reply["detail"])
        if reply["maxrss_kib"] > self.memory_kib:
            outcome.verdict = "memory"
            outcome.detail = (f"peak RSS {reply['maxrss_kib'] / 1024:.0f} MiB "
                              f"(limit {self.memory_kib // 1024} MiB); {reply['detail']}")
            self.replace(worker)  # the next inputs get a fresh peak
        self.finish(item, outcome)

    def handle_death(self, worker: Worker) -> None:
        item = worker.task
        peak = self.replace(worker)
        if item is None:
            return
        elapsed = time.monotonic() - worker.sent
        outcome = Outcome(item.index, item.format, item.seed, item.mutator, "crash",
                          elapsed, elapsed, peak,
                          f"worker {worker.exit_status()} while linting")
        self.finish(item, outcome)

    def handle_timeout(self, worker: Worker, retry: list[Input]) -> None:
        item = worker.task
        assert item is not None
        peak = self.replace(worker)
        if not item.retried:
            item.retried = True  # the machine may have been busy: once more, alone
            self.stats.retried += 1
            retry.append(item)
            return
        elapsed = time.monotonic() - worker.sent
        outcome = Outcome(item.index, item.format, item.seed, item.mutator, "hang",
                          elapsed, elapsed, peak,
                          f"not done within {self.timeout:g} s of CPU time, twice: killed")
        self.finish(item, outcome)

    # -- the loop --------------------------------------------------------------------------
    def run(self, indices: range | list[int]) -> Stats:
        started = time.monotonic()
        pending = iter(indices)
        retry: list[Input] = []
        try:
            for _ in range(self.jobs):
                self.start_worker()
            exhausted = False
            while True:
                for worker in [w for w in self.workers if w.task is None]:
                    if retry:
                        item = retry.pop()
                    else:
                        index = next(pending, None)
                        if index is None:
                            exhausted = True
                            break
                        item = self.make_input(index)
                    worker.send(item, self.timeout)
                busy = [w for w in self.workers if w.task is not None]
                if not busy:
                    if exhausted and not retry:
                        break
                    continue
                self.wait(busy, retry)
        finally:
            self.close()
        self.stats.elapsed = time.monotonic() - started
        return self.stats

    def close(self) -> None:
        """Stop the workers and remove the temporary inputs."""
        for worker in list(self.workers):
            peak = worker.kill()
            self.stats.peak_rss_kib = max(self.stats.peak_rss_kib, peak)
        self.workers.clear()
        self.selector.close()
        if self.tmp.exists():
            shutil.rmtree(self.tmp)

    def wait(self, busy: list[Worker], retry: list[Input]) -> None:
        # Short waits: CPU time is polled, and a finished worker is served at once.
        deadline = min(w.deadline for w in busy)
        events = self.selector.select(min(max(deadline - time.monotonic(), 0), 0.1))
        for key, _ in events:
            worker: Worker = key.data
            if worker.dead or worker.task is None:
                continue
            chunk = os.read(worker.proc.stdout.fileno(), 65536)
            if not chunk:
                self.handle_death(worker)
                continue
            worker.buffer += chunk
            while b"\n" in worker.buffer and worker.task is not None:
                line, worker.buffer = worker.buffer.split(b"\n", 1)
                self.handle_reply(worker, json.loads(line))
        now = time.monotonic()
        for worker in [w for w in self.workers if w.task is not None and w.overran(now)]:
            self.handle_timeout(worker, retry)

    def print_progress(self) -> None:
        stats = self.stats
        slowest = stats.slowest.cpu if stats.slowest else 0.0
        print(f"[{datetime.now(UTC):%H:%M:%S}] {stats.count} inputs, "
              f"{len(stats.problems)} problems, peak RSS {stats.peak_rss_kib / 1024:.0f} MiB, "
              f"slowest {slowest:.3f} s CPU", file=sys.stderr, flush=True)


# -- reporting --------------------------------------------------------------------------------


def report_lines(stats: Stats, timeout: float, memory_mib: int, detailed: bool) -> list[str]:
    kinds = Counter(p.verdict for p in stats.problems)
    lines = [
        f"tflint fuzzing, seed {stats.seed}, {datetime.now(UTC):%Y-%m-%d}: {stats.count} inputs "
        f"in {stats.elapsed:.0f} s ({stats.count / max(stats.elapsed, 1e-9):.0f}/s)",
        f"  crashes: {kinds['crash']}   hangs (> {timeout:g} s CPU, twice): {kinds['hang']}   "
        f"over {memory_mib} MiB: {kinds['memory']}   retried after a timeout: {stats.retried}",
    ]
    if stats.slowest is not None and stats.slowest_wall is not None:
        slow, wall = stats.slowest, stats.slowest_wall
        lines.append(f"  slowest file: {slow.cpu:.3f} s CPU, {slow.seconds:.3f} s wall (input "
                     f"{slow.index}, {slow.format}, {slow.mutator} on {slow.seed}); longest wall "
                     f"time: {wall.seconds:.3f} s (input {wall.index}, {wall.cpu:.3f} s CPU)")
    lines.append(f"  peak RSS of a worker: {stats.peak_rss_kib / 1024:.0f} MiB "
                 f"(after start-up: {stats.baseline_rss_kib / 1024:.0f} MiB); "
                 f"{stats.workers_started} worker(s) started")
    if not detailed:
        return lines
    lines.append("  per format:          inputs   linted   errors  crashes    hangs   memory  "
                 "distinct errors")
    for name in mutators.FORMATS:
        counts = stats.by_format.get(name, Counter())
        lines.append(f"    {name:<16} {counts['inputs']:>8} {counts['linted']:>8} "
                     f"{counts['error']:>8} {counts['crash']:>8} {counts['hang']:>8} "
                     f"{counts['memory']:>8} {len(stats.errors.get(name, {})):>8}")
    lines.append(f"  mutators: {', '.join(f'{k} {v}' for k, v in sorted(stats.mutators.items()))}")
    lines.append(f"  input bytes linted: {stats.input_bytes / 2**20:.0f} MiB")
    for problem in stats.problems[:20]:
        first = problem.detail.strip().splitlines()[-1] if problem.detail.strip() else ""
        lines.append(f"  {problem.verdict}: input {problem.index} ({problem.format}, "
                     f"{problem.mutator} on {problem.seed}): {first[:160]}")
    return lines


def figures(stats: Stats) -> dict[str, Any]:
    """The figures of a run as plain JSON data."""
    return {
        "seed": stats.seed,
        "date": f"{datetime.now(UTC):%Y-%m-%d}",
        "inputs": stats.count,
        "elapsed_seconds": round(stats.elapsed, 1),
        "by_format": {name: dict(counts) for name, counts in stats.by_format.items()},
        "distinct_errors": {name: len(errors) for name, errors in stats.errors.items()},
        "mutators": dict(stats.mutators),
        "problems": [asdict(problem) for problem in stats.problems],
        "slowest_cpu": None if stats.slowest is None else asdict(stats.slowest),
        "slowest_wall": None if stats.slowest_wall is None else asdict(stats.slowest_wall),
        "peak_rss_mib": round(stats.peak_rss_kib / 1024, 1),
        "baseline_rss_mib": round(stats.baseline_rss_kib / 1024, 1),
        "retried": stats.retried,
        "workers_started": stats.workers_started,
        "input_mib": round(stats.input_bytes / 2**20, 1),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="inputs to lint")
    parser.add_argument("--seed", type=int, default=1, help="seed of the input sequence")
    parser.add_argument("--start", type=int, default=0, help="index of the first input")
    parser.add_argument("--only", type=int, action="append",
                        help="lint only this input index (repeatable)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--timeout", type=float, default=2.0, help="CPU seconds per file")
    parser.add_argument("--memory-mib", type=int, default=300, help="peak RSS limit per worker")
    parser.add_argument("--crash-dir", type=Path, default=DEFAULT_CRASH_DIR,
                        help="where failing inputs are saved (default: %(default)s)")
    parser.add_argument("--save-inputs", type=Path,
                        help="also write the inputs of --only to this folder")
    parser.add_argument("--progress", type=int, default=5000,
                        help="print a progress line every N inputs (0: never)")
    parser.add_argument("--report", action="store_true", help="print every figure")
    parser.add_argument("--json", type=Path, help="write the figures as JSON to this file")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        return worker_main()
    # A plain kill still stops the workers and removes the temporary inputs.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    campaign = Campaign(args.seed, args.jobs, args.timeout, args.memory_mib, args.crash_dir,
                        args.progress)
    indices: range | list[int] = (
        args.only if args.only else range(args.start, args.start + args.count))
    if args.only and args.save_inputs:
        args.save_inputs.mkdir(parents=True, exist_ok=True)
        for index in args.only:
            item = campaign.make_input(index)
            saved = args.save_inputs / item.path.name
            saved.write_bytes(item.path.read_bytes())
            print(f"input {index}: {item.mutator} on {item.seed} -> {saved}")
    stats = campaign.run(indices)
    print("\n".join(report_lines(stats, args.timeout, args.memory_mib, args.report)))
    if args.json:
        args.json.write_text(json.dumps(figures(stats), indent=2) + "\n")
    return 0 if stats.ok else 1


if __name__ == "__main__":
    sys.exit(main())
