"""Wall time of the README test command: ``pip install -e ".[test]" && python -m pytest``.

Times the install and the whole test suite separately and prints the date,
the wall times, the suite's CPU time (all its processes) and pytest's closing
line.  Extra arguments go to pytest, e.g. to
compare with one process instead of the configured xdist workers:

    python bench/bench_tests.py              # as README and .ci/run run it
    python bench/bench_tests.py -n 0         # the same suite in one process
    python bench/bench_tests.py --no-install -n 2
"""

from __future__ import annotations

import argparse
import datetime
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cpu_seconds() -> float:
    """User and system CPU time of every finished child process so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], log: Path | None = None) -> tuple[float, float, int, str]:
    """Wall seconds, CPU seconds (all its processes), exit code and output of COMMAND."""
    start, cpu = time.perf_counter(), cpu_seconds()
    proc = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, check=False)
    seconds = time.perf_counter() - start
    if log is not None:
        log.write_text(proc.stdout)
    return seconds, cpu_seconds() - cpu, proc.returncode, proc.stdout


def closing_line(output: str) -> str:
    lines = [line.strip("= ") for line in output.splitlines() if line.startswith("=")]
    return lines[-1] if lines else (output.strip().splitlines() or ["(no output)"])[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-install", action="store_true",
                        help="time the test suite only (the package is installed already)")
    parser.add_argument("--log", type=Path, help="write pytest's output to this file")
    options, pytest_args = parser.parse_known_args()

    started = datetime.datetime.now(datetime.UTC)
    print(f"date: {started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores")
    if not options.no_install:
        seconds, _, code, output = timed([sys.executable, "-m", "pip", "install", "-q", "-e",
                                          ".[test]"])
        print(f"pip install -e \".[test]\": {seconds:6.1f} s (exit {code})")
        if code != 0:
            print(output[-3000:])
            return code
    command = [sys.executable, "-m", "pytest", *pytest_args]
    seconds, cpu, code, output = timed(command, options.log)
    shown = " ".join(["python", "-m", "pytest", *pytest_args])
    print(f"{shown}: {seconds:6.1f} s wall, {cpu:6.1f} s CPU (exit {code}): "
          f"{closing_line(output)}")
    # Wall time depends on what else the machine runs; so does this figure, less.
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f}")
    return code


if __name__ == "__main__":
    sys.exit(main())
