"""Sizes in bytes as options give them (``"256KiB"``, ``"1.5 MB"``, ``300000``) and as
reports print them."""

from __future__ import annotations

import math

_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000 ** 2, "mb": 1000 ** 2,
          "mib": 1024 ** 2, "g": 1000 ** 3, "gb": 1000 ** 3, "gib": 1024 ** 3}


def parse_size(value: object) -> int:
    """Bytes from an int or a string such as ``"256KiB"``, ``"1.5 MB"`` or ``"300000"``."""
    if isinstance(value, bool):
        raise ValueError(f"not a size: {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"a size cannot be negative: {value}")
        return value
    if not isinstance(value, str):
        raise ValueError(f"not a size: {value!r}")
    text = value.strip().lower().replace(" ", "")
    number = text.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = text[len(number):]
    try:
        amount = float(number)
    except ValueError:
        raise ValueError(f"not a size: {value!r} (examples: 262144, \"256KiB\", \"1MB\")") from None
    if unit not in _UNITS or not math.isfinite(amount) or amount < 0:
        raise ValueError(f"not a size: {value!r} (units: B, KB, KiB, MB, MiB, GB, GiB)")
    return int(amount * _UNITS[unit])


def size_problem(value: object) -> str | None:
    """What is wrong with a size option's value, or None."""
    try:
        parse_size(value)
    except ValueError as exc:
        return str(exc)
    return None


def format_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 ** 2:
        return f"{size / 1024:.1f} KiB"
    return f"{size / 1024 ** 2:.2f} MiB"
