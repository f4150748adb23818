"""The pre-commit hook, installed and run by the real pre-commit as a user's repo would.

``pre-commit try-repo`` pip-installs the hook repository into a fresh virtualenv
(dependencies come from the package index) and runs it on the user's files.
try-repo only sees a repository's commits plus its changes to tracked files,
so the test commits a snapshot of this checkout's working tree (tracked and
untracked files, ``.gitignore`` applied) into a throwaway repository and tries
that: what is tested is exactly the code on disk.  The first try-repo builds
the hook's environment (about 20-30 s); the tests share one pre-commit home,
so the next ones reuse it, as a user's later commits do.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, fixture

BAD_MODEL = "seed/lambda_sincos.h5"
CLEAN_MODEL = "clean/mobile_cnn.h5"
MANIFEST = ROOT / ".pre-commit-hooks.yaml"
# What a packaged install needs when the checkout is not a git working tree.
_SOURCE_TREE = ("pyproject.toml", "README.md", "LICENSE", ".pre-commit-hooks.yaml",
                "tflint", "rules")


def _env(**extra: str) -> dict[str, str]:
    """The environment minus any GIT_* variable (pytest may itself run in a git hook)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(extra)
    return env


def _git(*args: str, cwd: Path) -> str:
    if shutil.which("git") is None:
        pytest.fail("git is not on PATH: pre-commit needs it", pytrace=False)
    proc = subprocess.run(
        ["git", "-c", "user.name=tflint tests", "-c", "user.email=tests@tflint.invalid",
         "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", *args],
        cwd=cwd, capture_output=True, text=True, env=_env(), timeout=120)
    assert proc.returncode == 0, f"git {' '.join(args)}:\n{proc.stderr}"
    return proc.stdout


def _working_tree_files() -> list[str]:
    try:
        listed = _git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT)
    except AssertionError:  # not a git checkout (e.g. an unpacked sdist)
        files: list[str] = []
        for name in _SOURCE_TREE:
            path = ROOT / name
            found = [path] if path.is_file() else sorted(path.rglob("*"))
            files += [str(p.relative_to(ROOT)) for p in found if p.is_file()]
        return files
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout's working tree, committed in a repository of its own."""
    snapshot = tmp_path_factory.mktemp("hook-repo")
    for name in _working_tree_files():
        if "__pycache__" in Path(name).parts:
            continue
        (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, snapshot / name)
    assert (snapshot / ".pre-commit-hooks.yaml").is_file()
    _git("init", "-q", cwd=snapshot)
    _git("add", "-A", cwd=snapshot)
    _git("commit", "-q", "--no-verify", "-m", "snapshot of the working tree", cwd=snapshot)
    return snapshot


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One pre-commit store for the module: the hook's environment is built once."""
    return tmp_path_factory.mktemp("pre-commit-home")


def _user_repo(path: Path, models: dict[str, str]) -> Path:
    path.mkdir()
    _git("init", "-q", cwd=path)
    for name, source in models.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(fixture(source), path / name)
    (path / "notes.txt").write_text("not a model\n")
    _git("add", "-A", cwd=path)
    return path


def _try_repo(hook_repo: Path, user_repo: Path, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(hook_repo), "tflint",
         "--all-files", "--color", "never"],
        cwd=user_repo, capture_output=True, text=True, timeout=600,
        env=_env(PRE_COMMIT_HOME=str(home), PIP_DISABLE_PIP_VERSION_CHECK="1"),
    )


def test_manifest_is_valid_and_selects_model_files() -> None:
    check = subprocess.run([sys.executable, "-m", "pre_commit", "validate-manifest",
                            str(MANIFEST)], capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    (hook,) = yaml.safe_load(MANIFEST.read_text())
    assert (hook["id"], hook["entry"], hook["language"]) == (
        "tflint", "tflint --models-only", "python")
    files = re.compile(hook["files"])
    for name in ("m.tflite", "models/m.h5", "m.hdf5", "a/b/m.keras", "config.json"):
        assert files.search(name), name
    for name in ("notes.txt", "m.tflite.bak", "h5"):
        assert not files.search(name), name


@pytest.mark.slow
def test_hook_fails_on_a_bad_model_and_names_it(hook_repo: Path, pre_commit_home: Path,
                                                tmp_path: Path) -> None:
    user = _user_repo(tmp_path / "user", {"models/lambda_sincos.h5": BAD_MODEL,
                                          "models/mobile_cnn.h5": CLEAN_MODEL})
    proc = _try_repo(hook_repo, user, pre_commit_home)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert re.search(r"^tflint\.+Failed$", out, re.MULTILINE), out
    assert "- exit code: 1" in out, out
    flagged = re.findall(r"^(\S+):1:1: (?:error|warning|info) (TFL\d{3}) ", out, re.MULTILINE)
    # The Lambda's marshalled bytecode (its sin/cos is predicted, no longer opaque).
    assert ("models/lambda_sincos.h5", "TFL601") in flagged, out
    assert all(path == "models/lambda_sincos.h5" for path, _ in flagged), out
    assert "notes.txt" not in out


@pytest.mark.slow
def test_hook_passes_on_a_clean_model(hook_repo: Path, pre_commit_home: Path,
                                      tmp_path: Path) -> None:
    user = _user_repo(tmp_path / "user", {"models/mobile_cnn.h5": CLEAN_MODEL})
    proc = _try_repo(hook_repo, user, pre_commit_home)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert re.search(r"^tflint\.+Passed$", out, re.MULTILINE), out
