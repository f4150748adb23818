"""``--jobs N``: files linted in worker processes give the same report, in the same order."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, fixture, run_tflint

import tflint
import tflint.engine
from tflint.cli import main
from tflint.config import Config
from tflint.engine import Result
from tflint.parallel import default_jobs
from tflint.registry import load_rules


def test_jobs_give_the_same_json_report_as_one_process() -> None:
    # The project's configuration leaves out the ~960 single-op probe models.
    one = run_tflint("--format", "json", "--jobs", "1", FIXTURES)
    two = run_tflint("--format", "json", "--jobs", "2", FIXTURES)
    assert one.code == two.code and one.code in (1, 2), one.err
    assert len(one.json()["files"]) > 20
    assert two.out == one.out
    assert two.err == one.err


def test_results_keep_the_order_of_the_files(tmp_path: Path) -> None:
    sources = ["seed/lambda_sincos.tflite", "fusion/silu_exp.tflite",
               "seed/dynamic_reshape.tflite", "fusion/gelu_builtin.tflite"]
    for i, source in enumerate(sources * 3):
        shutil.copy(fixture(source), tmp_path / f"m{i:02d}.tflite")
    (tmp_path / "m05.tflite").write_bytes(b"not a model")
    expected = sorted(str(path) for path in tmp_path.iterdir())
    sequential = tflint.lint(tmp_path, Config())
    parallel = tflint.lint(tmp_path, Config(), jobs=3)
    assert [f.path for f in parallel.files] == [f.path for f in sequential.files] == expected
    assert parallel.to_dict() == sequential.to_dict()
    assert parallel.files[5].error is not None
    for one, many in zip(sequential.files, parallel.files, strict=True):
        assert (many.placements, many.placement_summaries, many.notes, many.internal_errors) == (
            one.placements, one.placement_summaries, one.notes, one.internal_errors)
    # Workers send no graph back; a lint in one process keeps it for --fix and --verify.
    assert all(f.graph is None and f.analyses is None for f in parallel.files)
    assert all(f.graph is not None for f in sequential.files if f.error is None)


@pytest.mark.parametrize(("options", "expected_jobs"), [
    ((), default_jobs()), (("--jobs", "3"), 3), (("--jobs", "3", "--verify"), 1),
    (("--jobs", "3", "--diff"), 1), (("--fix",), 1),
])
def test_verify_and_the_fixer_lint_in_one_process(monkeypatch: pytest.MonkeyPatch,
                                                  options: tuple[str, ...],
                                                  expected_jobs: int) -> None:
    """--verify and the fixer read each file's graph, which workers do not send back."""
    asked: list[int] = []

    def spy(paths: list[str], config: Config, jobs: int = 1) -> Result:
        asked.append(jobs)
        return Result([])

    monkeypatch.setattr(tflint.engine, "lint", spy)
    run = CliRunner().invoke(main, ["check", "--isolated", *options, "model.tflite"])
    assert asked == [expected_jobs], run.output


def test_rules_pickle_as_themselves() -> None:
    """Where workers are spawned, not forked, the selected rules reach them pickled."""
    for rule in load_rules():
        assert pickle.loads(pickle.dumps(rule)) is rule
