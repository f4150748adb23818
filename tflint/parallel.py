"""Lint many files at once in worker processes, results in the order of the files.

Workers are forked from the linting process after it has linted the first file
itself, so they start with the loader, the analyses and the rules of that
file's kind already imported.  A result crosses back without its graph and
analyses (large, and not meant to be pickled): everything a report shows is
kept, but ``--fix`` and ``--verify``, which need the graph, lint in-process.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tflint.config import Config
    from tflint.engine import FileResult
    from tflint.rule import Rule

LintFile = Callable[[str, Sequence[type["Rule"]], "Config"], "FileResult"]

_worker_job: tuple[LintFile, Sequence[type[Rule]], Config] | None = None


def default_jobs() -> int:
    """One worker per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def lint_files(paths: Sequence[str], lint_file: LintFile, rules: Sequence[type[Rule]],
               config: Config, jobs: int) -> list[FileResult]:
    """``[lint_file(path, rules, config) for path in paths]``, on up to ``jobs`` processes."""
    if jobs <= 1 or len(paths) <= 2:
        return [lint_file(path, rules, config) for path in paths]
    # Linted here first, so the forked workers inherit what it imported.
    first = portable(lint_file(paths[0], rules, config))
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    rest = paths[1:]
    with ProcessPoolExecutor(max_workers=min(jobs, len(rest)), mp_context=context,
                             initializer=_start_worker,
                             initargs=(lint_file, rules, config)) as pool:
        return [first, *pool.map(_lint_in_worker, rest)]


def _start_worker(lint_file: LintFile, rules: Sequence[type[Rule]], config: Config) -> None:
    global _worker_job
    _worker_job = (lint_file, rules, config)


def _lint_in_worker(path: str) -> FileResult:
    assert _worker_job is not None, "worker not started"
    lint_file, rules, config = _worker_job
    return portable(lint_file(path, rules, config))


def portable(result: FileResult) -> FileResult:
    """The result without its graph and analyses, fit to cross a process boundary."""
    return replace(result, graph=None, analyses=None)
