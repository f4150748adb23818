"""Small pieces of English shared by the reports and the analyses' summaries."""

from __future__ import annotations


def plural(count: int, word: str) -> str:
    """``1 op``, ``2 ops``: a count with its noun in the right number."""
    return f"{count} {word}{'' if count == 1 else 's'}"
