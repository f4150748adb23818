"""GitHub Actions workflow commands: ``::error file=...::message``."""

from __future__ import annotations

from tflint.diagnostics import Severity
from tflint.engine import Result

_COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render(result: Result, *, statistics: bool = False, **_: object) -> str:
    if statistics:  # plain count lines in the workflow log, as the text format prints them
        from tflint.reporters.text_report import render as render_text

        return render_text(result, statistics=True)
    lines: list[str] = []
    for file in result.files:
        path = _escape_property(file.path)
        if file.error is not None:
            lines.append(f"::error file={path},title=tflint::{_escape_data(file.error)}")
            continue
        for d in file.diagnostics:
            title = _escape_property(f"{d.code} {d.rule}")
            message = f"{d.message} ({d.location})" if d.location else d.message
            if d.suggestion:
                message += f"\nhelp: {d.suggestion}"
            lines.append(f"::{_COMMAND[d.severity]} file={path},line=1,col=1,title={title}::"
                         f"{_escape_data(message)}")
    return "".join(line + "\n" for line in lines)
