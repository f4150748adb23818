"""Fuzzing in the normal test suite: mutated real fixtures must lint cleanly.

Hypothesis picks the fixture, the mutator and its random state; each input
is linted in this process (tflint itself puts libhdf5 in a child process).
A bounded run of the harness (``fuzz/run.py``) then lints a few hundred
inputs in watched worker processes, as the long runs do, and the harness's
own detectors are checked on inputs made to trip them.
"""

from __future__ import annotations

import os
import random
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tflint
from tflint.reporters import render

sys.path.insert(0, str(ROOT))
from fuzz import mutators
from fuzz import run as harness

SEEDS = mutators.load_seeds()
#: Left to the harness runs: each writes tens of MiB.
HEAVY = {"h5_huge_attribute", "zip_many_entries"}


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Turn a Python-level endless loop into a test failure instead of a stuck suite."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"lint still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


@st.composite
def mutations(draw: st.DrawFn) -> tuple[mutators.Seed, str, int]:
    format_name = draw(st.sampled_from(mutators.FORMATS))
    seed = draw(st.sampled_from(SEEDS[format_name]))
    names = sorted(set(mutators.all_mutators(format_name)) - HEAVY)
    return seed, draw(st.sampled_from(names)), draw(st.integers(0, 2**32 - 1))


def test_every_format_has_seeds() -> None:
    assert {name: bool(found) for name, found in SEEDS.items()} == dict.fromkeys(
        mutators.FORMATS, True)


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(mutations())
def test_mutated_file_lints_or_fails_cleanly(case: tuple[mutators.Seed, str, int]) -> None:
    seed, name, state = case
    with tempfile.TemporaryDirectory() as tmp:
        data = mutators.mutate(seed, name, random.Random(state), Path(tmp))
        path = Path(tmp) / f"input{mutators.EXTENSIONS[seed.format]}"
        path.write_bytes(data)
        start = cpu_seconds()
        with time_limit(20):
            result = tflint.lint(path, tflint.Config())
            for report in ("text", "json", "sarif"):
                render(result, report)
        spent = cpu_seconds() - start
    [file] = result.files
    assert harness.crash_reason(file.error) is None, file.error
    assert file.error is not None or file.graph is not None
    assert spent < 2.0, f"{spent:.2f} s of CPU for {name} on {seed.name}"


def test_bounded_harness_run(tmp_path: Path) -> None:
    crashes = tmp_path / "crashes"
    campaign = harness.Campaign(seed=11, jobs=2, timeout=2.0, memory_mib=300,
                                crash_dir=crashes, progress=0)
    stats = campaign.run(range(240))
    report = "\n".join(harness.report_lines(stats, 2.0, 300, detailed=True))
    assert stats.count == 240, report
    assert stats.problems == [], report
    assert not crashes.exists()
    assert 0 < stats.peak_rss_kib < 300 * 1024
    for name in mutators.FORMATS:
        counts = stats.by_format[name]
        assert counts["inputs"] == 60
        # Damage that still parses, and damage refused: both paths are exercised.
        assert counts["linted"] > 0 and counts["error"] > 0, report


def test_inputs_are_reproducible_from_their_index() -> None:
    def make(index: int) -> bytes:
        campaign = harness.Campaign(seed=5, jobs=1, timeout=2.0, memory_mib=300,
                                    crash_dir=None, progress=0)
        try:
            return campaign.make_input(index).path.read_bytes()
        finally:
            campaign.close()

    assert make(37) == make(37)
    assert make(37) != make(38)


# -- the harness's detectors ---------------------------------------------------------------


@pytest.mark.parametrize("error, crash", [
    (None, False),
    ("cannot read HDF5 file: truncated file: eof = 100", False),
    ("invalid JSON at line 1 column 40: Expecting value", False),
    ("offset 0x40 of Tensor.name points outside the file (size 20)", False),
    ("rule TFL101 failed: KeyError: 'x'", True),
    ("maximum recursion depth exceeded (RecursionError)", True),
    ("unpack requires a buffer of 4 bytes: struct.error", False),
    ("list index out of range: IndexError", True),
    ("two\nlines", True),
    ("", True),
])
def test_crash_reason(error: str | None, crash: bool) -> None:
    assert (harness.crash_reason(error) is not None) == crash


def _single_input(campaign: harness.Campaign, path: Path, format_name: str) -> None:
    """Make the campaign lint ``path`` as its input 0."""

    def make_input(index: int) -> harness.Input:
        target = campaign.tmp / f"input-{index}{path.suffix}"
        target.write_bytes(path.read_bytes()) if path.is_file() else os.mkfifo(target)
        return harness.Input(index, format_name, path.name, "none", target,
                             target.stat().st_size)

    campaign.make_input = make_input  # type: ignore[method-assign]


def _big_config(tmp_path: Path, layers: int) -> Path:
    import json

    dense = {"class_name": "Dense", "config": {"name": "d", "units": 4}}
    config = {"class_name": "Sequential", "config": {"name": "big", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 4], "name": "in"}},
        *({**dense, "config": {**dense["config"], "name": f"d{i}"}} for i in range(layers)),
    ]}}
    path = tmp_path / "big.json"
    path.write_text(json.dumps(config))
    return path


def test_harness_kills_and_reports_a_file_over_its_cpu_time(tmp_path: Path) -> None:
    campaign = harness.Campaign(seed=0, jobs=1, timeout=0.02, memory_mib=300,
                                crash_dir=tmp_path / "crashes", progress=0)
    _single_input(campaign, _big_config(tmp_path, 5000), "json")
    stats = campaign.run([0])
    assert [p.verdict for p in stats.problems] == ["hang"]
    assert stats.retried == 1 and stats.workers_started == 3
    saved = sorted(p.name for p in (tmp_path / "crashes").iterdir())
    assert saved == [".gitignore", "seed0-0000000-hang.json", "seed0-0000000-hang.txt"]


def test_harness_reports_memory_over_the_limit(tmp_path: Path) -> None:
    campaign = harness.Campaign(seed=0, jobs=1, timeout=2.0, memory_mib=10,
                                crash_dir=None, progress=0)
    _single_input(campaign, ROOT / "fixtures/clean/mobile_cnn.tflite", "tflite")
    stats = campaign.run([0])
    [problem] = stats.problems
    assert problem.verdict == "memory" and "limit 10 MiB" in problem.detail


def test_harness_reports_a_dead_worker_as_a_crash(tmp_path: Path) -> None:
    campaign = harness.Campaign(seed=0, jobs=1, timeout=2.0, memory_mib=300,
                                crash_dir=None, progress=0)
    # The worker blocks opening a FIFO (using no CPU) until it is killed.
    _single_input(campaign, tmp_path / "fifo.json", "json")

    def kill_worker() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            busy = [w for w in campaign.workers if w.task is not None]
            if busy:
                time.sleep(0.5)
                os.kill(busy[0].proc.pid, signal.SIGKILL)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_worker)
    killer.start()
    stats = campaign.run([0])
    killer.join()
    [problem] = stats.problems
    assert problem.verdict == "crash" and "SIGKILL" in problem.detail
