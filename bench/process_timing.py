"""Whole-process wall time and peak memory of a command, repeated."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from dataclasses import dataclass


@dataclass
class Timing:
    median_s: float
    min_s: float
    peak_rss_mib: float
    returncode: int
    #: Median CPU time (user + system) of the process: less sensitive than wall time
    #: to other work on the machine.
    median_cpu_s: float = 0.0


def measure(command: list[str], repeat: int = 5, env: dict[str, str] | None = None) -> Timing:
    """Run ``command`` ``repeat`` times; wall time per run and the largest peak RSS."""
    times: list[float] = []
    cpu_times: list[float] = []
    peak_kib = 0
    returncode = 0
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=env)
        # wait4 gives the resource usage of this child alone, peak RSS included.
        _, status, usage = os.wait4(proc.pid, 0)
        times.append(time.perf_counter() - start)
        cpu_times.append(usage.ru_utime + usage.ru_stime)
        peak_kib = max(peak_kib, usage.ru_maxrss)
        returncode = os.waitstatus_to_exitcode(status)
    return Timing(statistics.median(times), min(times), peak_kib / 1024, returncode,
                  statistics.median(cpu_times))
