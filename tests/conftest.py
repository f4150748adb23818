"""Shared helpers: the real fixtures and a way to run the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> dict:
        return json.loads(self.out)


def run_tflint(*args: str | Path, cwd: Path | None = None, env: dict | None = None) -> Run:
    """Run tflint as a user would, in its own process."""
    proc = subprocess.run(
        [sys.executable, "-m", "tflint", *map(str, args)],
        capture_output=True, text=True, cwd=cwd or ROOT, env=env, timeout=120,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def fixture(relative: str) -> Path:
    path = FIXTURES / relative
    assert path.is_file(), f"missing fixture {relative}: run python fixtures/generate.py"
    return path


@pytest.fixture
def cli():
    return run_tflint
