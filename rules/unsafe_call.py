from __future__ import annotations

from collections.abc import Iterator

from tflint.analyses.security import UNSAFE
from tflint.diagnostics import Diagnostic, Severity
from tflint.rule import Rule, RuleContext


class UnsafeCall(Rule):
    """Keras config refers to a function that runs commands, executes code or touches files.

    ## What it does
    Flags references anywhere in a Keras config to members of `os`,
    `subprocess`, `builtins` (`exec`, `eval`, `open`, `__import__`...),
    `posix`, `shutil`, `sys`, `importlib`, `pickle`, `marshal`, `runpy` and
    similar modules, and to TensorFlow functions that call back into Python
    or read and write files (`tf.py_function`, `tf.io.write_file`,
    `tf.io.gfile`).  A reference is a Keras 3 object (`{"module": "os",
    "class_name": "system"}`, `{"module": "builtins", "class_name":
    "function", "config": "exec"}`), a tf.keras `Lambda` naming a function
    in such a module, or a dotted string (`"function": "os.system"`).  The
    list lives in `tflint/data/unsafe_references.json`.

    ## Why is this bad
    Such a reference has no modeling purpose: it is how a crafted model file
    gets Keras to run a shell command or arbitrary Python when the model is
    loaded or called (CVE-2025-1550).  Keras versions that resolve module
    names from the config call it with whatever the file supplies.

    ## Example
    ```json
    "activation": {"module": "os", "class_name": "system", "config": "touch pwned"}
    ```
    ```
    model.keras:1:1: error TFL603 'activation' of layer 'dense' (Dense) refers to os.system (layer "dense" (Dense))
    ```

    ## How to fix
    Do not load the file with Keras.  Rebuild the model from a trusted
    source, or remove the reference and use a Keras built-in in its place.
    """

    code = "TFL603"
    name = "unsafe-call"
    category = "security"
    severity = Severity.ERROR
    file_kinds = frozenset({"keras"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        for finding in ctx.analyses.security().of(UNSAFE):
            what = f", which {finding.detail}" if finding.detail else ""
            yield ctx.diagnostic(
                finding.node,
                f"{finding.subject} refers to {finding.ref}{what}",
                suggestion=(f"do not load this file with Keras; remove the reference to "
                            f"{finding.ref} (or rebuild the model from a trusted source)"),
            )
