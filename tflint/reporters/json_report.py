"""The json report: the contract other tools and tests rely on."""

from __future__ import annotations

import json

from tflint.engine import Result


def render(result: Result, *, statistics: bool = False, **_: object) -> str:
    if statistics:
        from tflint.reporters.text_report import statistics_rows

        report: dict[str, object] = {"statistics": statistics_rows(result)}
    else:
        report = result.to_dict()
    return json.dumps(report, indent=2, sort_keys=False) + "\n"
