"""``--diff``: what the fixes would change, as a unified diff of the pretty-printed configs."""

from __future__ import annotations

import difflib
import json
from typing import Any


def pretty(document: dict[str, Any]) -> list[str]:
    """One key per line, in the file's own key order, so a change shows where it is."""
    return json.dumps(document, indent=2, ensure_ascii=False).splitlines()


def config_diff(path: str, original: dict[str, Any], rewritten: dict[str, Any],
                context: int = 3) -> str:
    lines = difflib.unified_diff(pretty(original), pretty(rewritten),
                                 fromfile=f"{path} (model config)",
                                 tofile=f"{path} (fixed model config)",
                                 lineterm="", n=context)
    return "".join(line + "\n" for line in lines)
