from __future__ import annotations

from collections.abc import Iterator

from tflint.analyses.security import TOGGLE
from tflint.diagnostics import Diagnostic, Severity
from tflint.rule import Rule, RuleContext


class UnsafeDeserialization(Rule):
    """Keras config refers to `enable_unsafe_deserialization`, which turns safe mode off.

    ## What it does
    Flags every mention of `enable_unsafe_deserialization` in a Keras
    config: as a function object (`{"module": "keras.config", "class_name":
    "function", "config": "enable_unsafe_deserialization"}`), as a dotted
    string, or inside any key or string value.

    ## Why is this bad
    A model config has no reason to change how Keras loads code.  Keras
    calls a function named in the config while it deserializes the model;
    calling this one switches safe mode off for the rest of the load, so a
    `Lambda` with bytecode later in the same file runs even though the user
    asked for safe mode (CVE-2025-9906).

    ## Example
    ```
    model.keras:1:1: error TFL604 'function' of layer 'setup' (Lambda) refers to keras.config.enable_unsafe_deserialization (layer "setup" (Lambda))
    ```

    ## How to fix
    Treat the file as hostile: do not load it with Keras.  Rebuild the
    model from a trusted source.
    """

    code = "TFL604"
    name = "unsafe-deserialization"
    category = "security"
    severity = Severity.ERROR
    file_kinds = frozenset({"keras"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        for finding in ctx.analyses.security().of(TOGGLE):
            yield ctx.diagnostic(
                finding.node,
                f"{finding.subject} refers to {finding.ref}, which turns Keras safe mode off",
                suggestion=("do not load this file with Keras; remove the reference (whatever "
                            "follows it in the config would load with safe mode off)"),
            )
