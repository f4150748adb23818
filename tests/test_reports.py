"""The command line prints, in every format, what the in-process render of the same lint gives.

The fixtures folder is linted once per test session in process
(``fixtures_result``); the format tests check those reports.  Here the real
``tflint`` runs once per format on the same folder, in its own process: its
output and exit code must be the ones rendered in process, so what the format
tests check is what users get (and the output does not depend on the process).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import Run

import tflint
from tflint.reporters import FORMATS


@pytest.mark.slow
@pytest.mark.parametrize("output_format", FORMATS)
def test_command_line_prints_the_in_process_report(
        output_format: str, fixtures_result: tflint.Result, fixtures_reports: dict[str, str],
        fixtures_cli: Callable[[str], Run]) -> None:
    run = fixtures_cli(output_format)
    assert "Traceback" not in run.err, run.err
    assert run.code == fixtures_result.exit_code() == 1, run.err
    assert run.out == fixtures_reports[output_format]


def test_every_format_is_covered(fixtures_reports: dict[str, str]) -> None:
    assert set(fixtures_reports) == {"text", "json", "sarif", "github", "html"}
    assert all(report.strip() for report in fixtures_reports.values())
