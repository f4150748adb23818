"""Write ``rules/data/rule_index.json``: the metadata of every built-in rule.

The registry reads it to know each rule's code, name, category, severity,
file kinds and fix availability without importing the rule's module, so a
lint imports only the rules it runs.  ``tests/test_startup.py`` fails when the
index no longer agrees with the rule classes; run this script then.
"""

from __future__ import annotations

from tflint.registry import write_rule_index


def main() -> None:
    print(f"wrote {write_rule_index('tflint_rules')}")


if __name__ == "__main__":
    main()
