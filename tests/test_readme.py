"""README stays true: its first commands, its rule table, its CI command."""

from __future__ import annotations

import re

from conftest import ROOT

from tflint.registry import load_rules

README = (ROOT / "README.md").read_text()


def test_readme_starts_with_the_two_commands_and_ci_runs_the_second() -> None:
    block = re.search(r"```sh\n(.*?)```", README, re.S)
    assert block is not None and README.index("```sh") < README.index("\n## ")
    install_and_lint, install_and_test = block.group(1).strip().splitlines()
    assert install_and_lint == "pip install -e . && tflint fixtures/"
    assert install_and_test.startswith('pip install -e ".[test]" && ')
    ci = (ROOT / ".ci" / "run").read_text()
    assert install_and_test in ci.splitlines()


def test_every_rule_is_in_the_readme_table_with_its_name_and_category() -> None:
    rows = {m.group(1): (m.group(2), m.group(3)) for m in re.finditer(
        r"^\| (TFL\d{3}) \| ([a-z0-9-]+) \| ([a-z-]+) \|", README, re.M)}
    for rule in load_rules():
        assert rows.get(rule.code) == (rule.name, rule.category), rule.code
    assert set(rows) == {rule.code for rule in load_rules()}


def test_plugin_api_examples_run_as_written() -> None:
    """The rule, the target and the test-helper snippets of the Plugin API section, in order."""
    section = README[README.index("## Plugin API"):]
    section = section[:section.index("\n## ", 1)]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 3
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)  # our own README's snippets
    from tflint.registry import validate

    validate(namespace["TooManyCpuOps"], "README")  # type: ignore[arg-type]


def test_every_package_folder_is_installed() -> None:
    """An editable install finds any folder; a real one (pre-commit, pip) only listed ones."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "tflint").rglob(
        "__init__.py")} | {"tflint_rules"}
    assert found == listed
