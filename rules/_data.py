"""Loading of the data files that hold release-dependent knowledge."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).parent / "data"


@cache
def load(name: str) -> Any:
    """A JSON data file from ``data/``, read once per process."""
    with (DATA_DIR / name).open(encoding="utf-8") as handle:
        return json.load(handle)
