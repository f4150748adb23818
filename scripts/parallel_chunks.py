"""Run the probe models through a runtime in a few child processes at once, one per chunk."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

Reports = dict[Path, dict[str, Any]]


def in_chunks(paths: Sequence[Path], workers: int,
              run_chunk: Callable[[list[Path]], Reports]) -> Reports:
    """``run_chunk`` on ``workers`` interleaved slices of ``paths``, each in a thread (each
    chunk drives its own child process), the reports merged."""
    chunks = [list(paths[i::workers]) for i in range(workers)]
    results: Reports = {}
    threads = [threading.Thread(target=lambda c=chunk: results.update(run_chunk(c)))
               for chunk in chunks if chunk]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
