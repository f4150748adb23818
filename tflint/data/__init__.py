"""Release-dependent knowledge kept as data next to the code, read once per process."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from tflint.schema import load_data_file

DATA_DIR = Path(__file__).parent


@cache
def load(name: str) -> Any:
    """A JSON data file of this folder, checked against its ``.schema.json``
    (:class:`tflint.schema.DataFileError` when it breaks it)."""
    return load_data_file(DATA_DIR / name)
