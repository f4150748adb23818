"""The json report: the contract other tools and tests rely on."""

from __future__ import annotations

import json

from tflint.engine import Result


def render(result: Result, **_: object) -> str:
    return json.dumps(result.to_dict(), indent=2, sort_keys=False) + "\n"
