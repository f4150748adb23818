"""Release-dependent knowledge kept as data next to the code, read once per process."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).parent


@cache
def load(name: str) -> Any:
    """A JSON data file of this folder."""
    with (DATA_DIR / name).open(encoding="utf-8") as handle:
        return json.load(handle)
