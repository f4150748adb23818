"""mypy finds no type error in tflint and its built-in rules.

The settings are the ``[tool.mypy]`` table of pyproject.toml.  ``rules/`` is
installed as the package ``tflint_rules``, and mypy names packages after their
folders, so it checks a folder of links that name each package as it is
imported (kept, with mypy's cache, outside the checkout: later runs only
recheck what changed).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from conftest import ROOT, cache_folder

#: Import name -> source folder.
PACKAGES = {"tflint": ROOT / "tflint", "tflint_rules": ROOT / "rules"}


@pytest.mark.slow
def test_packages_type_check() -> None:
    pytest.importorskip("mypy", reason="mypy is in the test extra: pip install -e '.[test]'")
    cache = cache_folder() / "mypy"
    view = cache / "packages"
    view.mkdir(parents=True, exist_ok=True)
    for name, source in PACKAGES.items():
        link = view / name
        if not (link.is_symlink() and link.resolve() == source):
            link.unlink(missing_ok=True)
            link.symlink_to(source, target_is_directory=True)
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
         "--cache-dir", str(cache / "cache"), *(f"-p{name}" for name in PACKAGES)],
        cwd=view, capture_output=True, text=True, timeout=600,
        env={**os.environ, "MYPYPATH": str(view)})
    report = re.sub(r"^tflint_rules/", "rules/", proc.stdout, flags=re.MULTILINE)
    assert proc.returncode == 0, report + proc.stderr
    assert "Success: no issues found" in proc.stdout
