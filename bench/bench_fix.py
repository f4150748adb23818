"""``tflint --fix --unsafe-fixes --convert`` on the seed models: before/after table with latency.

Each seed model is copied to a temporary folder with its original conversion
(``fixtures/seed/NAME.tflite``, given as ``--baseline``) and run through the
real command line; the table it prints is repeated here with the command's
wall time.  A seed with nothing to fix is measured as it is.  Run:
    python bench/bench_fix.py [--runs N]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ("custom_activation", "dynamic_reshape", "lambda_sincos")


def versions() -> str:
    found = []
    for package in ("tensorflow-cpu", "keras", "ai-edge-litert"):
        try:
            found.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            found.append(f"{package} (not installed)")
    return ", ".join(found)


def table_of(output: str) -> list[str]:
    """The lines of the before/after table and its notes, as tflint printed them."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("before")), None)
    if start is None:
        return []
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("latency:")),
               len(lines) - 1)
    return lines[start:end + 1]


def run_seed(seed: str, runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-fix-") as folder:
        work = Path(folder)
        for name in (f"{seed}.keras", f"{seed}.tflite"):
            shutil.copyfile(ROOT / "fixtures" / "seed" / name, work / name)
        command = [sys.executable, "-m", "tflint", "--isolated", "--fix", "--unsafe-fixes",
                   "--convert", "--baseline", f"{seed}.tflite", "--latency-runs", str(runs),
                   f"{seed}.keras"]
        start = time.perf_counter()
        proc = subprocess.run(command, cwd=work, capture_output=True, text=True, check=False,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        elapsed = time.perf_counter() - start
        print(f"\n## {seed}  (exit {proc.returncode}, whole command {elapsed:.1f} s)")
        for line in proc.stdout.splitlines():
            if ": fixed " in line or ": left " in line or "nothing to fix" in line:
                print(line)
        table = table_of(proc.stdout)
        if table:
            print("\n".join(table))
        else:
            measure_alone(work / f"{seed}.tflite", runs)


def measure_alone(path: Path, runs: int) -> None:
    """No fixed model to compare with: the original conversion as the runtime runs it."""
    sys.path.insert(0, str(ROOT))
    from tflint.fixer.measure import measure

    outcome = measure([str(path)], runs=runs)
    if not outcome.ok:
        print(f"{path.name}: {outcome.error}")
        return
    stats = outcome.value[0]
    cpu = ", ".join(stats.get("cpu_ops", [])) or "none"
    print(f"{path.name} as converted: {stats['ops']} ops, {stats['delegated']} on XNNPACK in "
          f"{stats['partitions']} partition(s), CPU ops: {cpu}, "
          f"median latency {stats['latency_ms'] * 1000:.1f} µs over {runs} runs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500, help="latency runs per model")
    args = parser.parse_args()
    print(f"date: {datetime.date.today().isoformat()}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}; {versions()}")
    for seed in SEEDS:
        run_seed(seed, args.runs)


if __name__ == "__main__":
    main()
