"""Human-readable report, one line per diagnostic.

Diagnostic lines read ``PATH:LINE:COL: SEVERITY CODE message (location)`` so
that editor and CI problem matchers can parse them.  A model has no source
lines, so LINE:COL is always ``1:1``; the location names the layer or op.
"""

from __future__ import annotations

from collections import Counter

from tflint.engine import Result
from tflint.summary import detail_lines, summary_line


def render(result: Result, *, quiet: bool = False, statistics: bool = False,
           show_fixes: bool = True, **_: object) -> str:
    lines: list[str] = []
    for file in result.files:
        if file.error is not None:
            lines.append(f"{file.path}: error: {file.error}")
            continue
        for d in file.diagnostics:
            where = f" ({d.location})" if d.location else ""
            lines.append(f"{file.path}:1:1: {d.severity.value} {d.code} {d.message}{where}")
            if not quiet and d.suggestion:
                lines.append(f"  help: {d.suggestion}")
            if not quiet and show_fixes and d.fix is not None:
                lines.append(f"  fix ({d.fix.applicability}): {d.fix.title}")
        if not quiet and file.model is not None and file.kind is not None:
            lines.append(f"{file.path}: {summary_line(file.kind, file.model)}")
            lines.extend(f"{file.path}: {line}" for line in detail_lines(file.kind, file.model))
            lines.extend(f"{file.path}: {line}" for line in file.placement_summaries.values())
            lines.extend(f"{file.path}: {note}" for note in file.notes)
    if statistics:
        lines.extend(_statistics(result))
    if not quiet:
        lines.append(_closing_line(result))
    return "".join(line + "\n" for line in lines)


def _statistics(result: Result) -> list[str]:
    counts = Counter((d.code, d.rule) for d in result.diagnostics)
    return [f"{count:5d}  {code}  {rule}" for (code, rule), count in
            sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


def _closing_line(result: Result) -> str:
    files = len(result.files)
    unreadable = len(result.errors)
    tail = ""
    if unreadable:
        tail = f"; {unreadable} file{'s' if unreadable != 1 else ''} could not be read"
    total = len(result.diagnostics)
    if total == 0:
        return f"All checks passed ({files} file{'s' if files != 1 else ''}){tail}."
    by_severity = Counter(d.severity.value for d in result.diagnostics)
    detail = ", ".join(f"{n} {s}{'s' if n != 1 else ''}" for s, n in sorted(by_severity.items()))
    return (f"Found {total} diagnostic{'s' if total != 1 else ''} ({detail}) in "
            f"{files} file{'s' if files != 1 else ''}{tail}.")
