"""Human-readable report, one line per diagnostic.

Diagnostic lines read ``PATH:LINE:COL: SEVERITY CODE message (location)`` so
that editor and CI problem matchers can parse them.  A model has no source
lines, so LINE:COL is always ``1:1``; the location names the layer or op.
"""

from __future__ import annotations

from collections import Counter

from tflint.diagnostics import Diagnostic
from tflint.engine import Result
from tflint.summary import detail_lines, summary_line
from tflint.wording import plural


def render(result: Result, *, quiet: bool = False, statistics: bool = False,
           show_fixes: bool = True, verbose: bool = False, show_facts: bool = False,
           **_: object) -> str:
    """Findings, then one placement line per file and target; the model's facts and each
    finding's per-op detail only with ``show_facts`` / ``verbose``."""
    lines: list[str] = []
    if statistics:  # counts instead of the findings, as in ruff
        lines = _statistics(result)
        if not quiet:
            lines.append(_closing_line(result))
        return "".join(line + "\n" for line in lines)
    facts = show_facts or verbose
    for file in result.files:
        if file.error is not None:
            lines.append(f"{file.path}: error: {file.error}")
            continue
        for d in file.diagnostics:
            where = f" ({d.location})" if d.location and not names_location(d) else ""
            lines.append(f"{file.path}:1:1: {d.severity.value} {d.code} {d.message}{where}")
            if not quiet and d.suggestion:
                lines.append(f"  help: {d.suggestion}")
            if not quiet and show_fixes and d.fix is not None:
                lines.append(f"  fix ({d.fix.applicability}): {d.fix.title}")
            if verbose:
                lines.extend(f"  {_related_line(op)}" for op in d.related)
        if not quiet:
            if facts and file.model is not None and file.kind is not None:
                lines.append(f"{file.path}: {summary_line(file.kind, file.model)}")
                lines.extend(f"{file.path}: {line}" for line in detail_lines(file.kind,
                                                                             file.model))
                lines.extend(f"{file.path}: {note}" for note in file.notes)
            lines.extend(f"{file.path}: {line}" for line in file.placement_summaries.values())
        lines.extend(f"{file.path}: {line}" for line in file.outcomes)
    if not quiet:
        fixable = fixable_line(result)
        if fixable:
            lines.append(fixable)
        lines.append(_closing_line(result))
    return "".join(line + "\n" for line in lines)


def names_location(diagnostic: Diagnostic) -> bool:
    """Whether the message already names the Keras layer its location would print."""
    location = diagnostic.location
    return (location is not None and location.op_index is None and bool(location.name)
            and f"'{location.name}'" in diagnostic.message)


def _related_line(op: dict[str, object]) -> str:
    """``op 12 (LESS) in layer 'act': LESS is not supported by XNNPACK``."""
    where = f"subgraph {op['subgraph']} / " if op.get("subgraph") else ""
    layer = f" in layer '{op['layer']}'" if op.get("layer") else ""
    return f"- {where}op {op['index']} ({op['op']}){layer}: {op['reason']}"


def statistics_rows(result: Result) -> list[dict[str, object]]:
    """Findings counted by rule, most frequent first, with how many carry a safe fix."""
    counts: Counter[tuple[str, str]] = Counter()
    fixable: Counter[str] = Counter()
    for d in result.diagnostics:
        counts[(d.code, d.rule)] += 1
        if d.fix is not None and d.fix.applicability == "safe":
            fixable[d.code] += 1
    return [{"code": code, "rule": rule, "count": count, "fixable": fixable[code]}
            for (code, rule), count in sorted(counts.items(), key=lambda i: (-i[1], i[0]))]


def _statistics(result: Result) -> list[str]:
    """As ruff prints them: count, code, ``[*]`` when a safe fix exists, rule name."""
    return [f"{row['count']:5d}  {row['code']:<7} {'[*]' if row['fixable'] else '[ ]'} "
            f"{row['rule']}" for row in statistics_rows(result)]


def fixable_line(result: Result) -> str | None:
    """How many findings --fix and --fix --unsafe-fixes would fix, if any."""
    safe = sum(1 for d in result.diagnostics if d.fix and d.fix.applicability == "safe")
    unsafe = sum(1 for d in result.diagnostics if d.fix and d.fix.applicability == "unsafe")
    if not safe and not unsafe:
        return None
    text = f"[*] {safe} fixable with --fix"
    if unsafe:
        text += f" ({unsafe} more with --fix --unsafe-fixes)"
    return text + "."


def _closing_line(result: Result) -> str:
    files = len(result.files)
    if files == 0:
        return "No model files found in the given paths."
    unreadable = len(result.errors)
    failed_rules = len(result.internal_errors)
    problems = []
    if unreadable:
        problems.append(f"{plural(unreadable, 'file')} could not be read")
    if failed_rules:
        problems.append(f"{plural(failed_rules, 'rule run')} failed")
    # A file an action failed for was still read and linted: "1 file not fixed".
    not_done = Counter(f.not_done for f in result.files if f.not_done is not None)
    problems.extend(f"{plural(count, 'file')} {what}" for what, count in not_done.items())
    tail = "; " + "; ".join(problems) if problems else ""
    findings = [d for d in result.diagnostics if d.code != "TFL000"]
    linted = files - unreadable
    if not findings:
        if problems:
            return f"No findings in {plural(linted, 'file')} linted{tail}."
        return f"All checks passed ({plural(files, 'file')})."
    by_severity = Counter(d.severity.value for d in findings)
    detail = ", ".join(plural(n, s) for s, n in sorted(by_severity.items()))
    return (f"Found {plural(len(findings), 'diagnostic')} ({detail}) in "
            f"{plural(linted, 'file')}{tail}.")
