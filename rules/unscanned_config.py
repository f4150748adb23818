from __future__ import annotations

from collections.abc import Iterator

from tflint.diagnostics import Diagnostic, Severity
from tflint.rule import Rule, RuleContext


class UnscannedConfig(Rule):
    """Keras config too large for the security rules to check to the end.

    ## What it does
    The security rules (TFL601-TFL606) walk every value of a Keras config,
    up to a bound (4 million values, five times what a 10 000-layer model
    holds) that keeps a padded file from making the lint slow.  This rule
    reports a config that goes past the bound: the part after it was not
    checked.

    ## Why is this bad
    Padding a config until a checker gives up is a way to hide a payload
    behind it.  A real model config stays far below the bound.

    ## Example
    ```
    model.keras:1:1: error TFL607 the Keras config holds more than 4000000 values; the security rules checked only the first 4000000
    ```

    ## How to fix
    Find out what makes the config so large (a vocabulary or weights
    written into the config, a generated layer list) and store it in the
    weights or assets instead.  Do not load the file with Keras until its
    config has been checked by other means.
    """

    code = "TFL607"
    name = "unscanned-config"
    category = "security"
    severity = Severity.ERROR
    file_kinds = frozenset({"keras"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        scan = ctx.analyses.security()
        if not scan.complete:
            yield ctx.diagnostic(
                None,
                f"the Keras config holds more than {scan.limit} values; the security rules "
                f"checked only the first {scan.limit}",
                suggestion=("store large data (vocabularies, tables) in the weights or assets "
                            "instead of the config, and check the file by other means before "
                            "loading it with Keras"),
            )
