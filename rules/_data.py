"""Loading of the data files that hold release-dependent knowledge."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from tflint.schema import load_data_file

DATA_DIR = Path(__file__).parent / "data"


@cache
def load(name: str) -> Any:
    """A JSON data file from ``data/``, checked against its ``.schema.json``
    (:class:`tflint.schema.DataFileError` when it breaks it), read once per process."""
    return load_data_file(DATA_DIR / name)
