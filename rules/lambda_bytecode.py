from __future__ import annotations

from collections.abc import Iterator

from tflint.analyses.security import BYTECODE, NAMED_FUNCTION
from tflint.diagnostics import Diagnostic, Severity
from tflint.rule import Rule, RuleContext


class LambdaBytecode(Rule):
    """Keras config stores marshalled Python bytecode that loading the model would execute.

    ## What it does
    Flags every function stored as bytecode in a Keras model: the `function`
    (and `output_shape`, `mask`) of a `Lambda` layer, written by Keras 3 as
    `{"class_name": "__lambda__", "config": {"code": ...}}` and by tf.keras
    as `"function_type": "lambda"`, and any other `__lambda__` object in the
    config.  The bytecode is read in a child process with CPU and memory
    limits (`marshal` and `dis` only, never run, never importing what it
    names) to grade it: code that refers only to tensor math (`tf`, `ops`,
    `K`, `np`, `abs`...) is a warning, since it still stores code that only
    `safe_mode=False` loads; imports, builtins such as `open`, `os`,
    `subprocess`, file or network APIs, and obfuscation (`chr`, `bytes`,
    `__import__`, `getattr` with a computed name, `exec`, `eval`, `compile`)
    are errors, and so is code compiled for another Python version, which
    cannot be read (the message says which version it needs).  A `Lambda` that names
    a function instead (`{"class_name": "function", "config": "my_fn"}`, or
    tf.keras `"function_type": "function"`) stores no code: it is reported
    as a warning that says which name it calls.

    ## Why is this bad
    Keras unmarshals the bytecode and runs it when the model is loaded and
    called: whoever wrote the file runs code on the machine that loads it.
    Keras 3 refuses it only in safe mode, and `.h5` files were loaded without
    that check (CVE-2024-3660, CVE-2025-9905); tf.keras `.h5` files load it
    unconditionally.  A named function runs whatever that name resolves to in
    the loading program.

    ## Example
    ```python
    x = keras.layers.Lambda(lambda t: t * 2, name="double")(x)
    ```
    ```
    model.keras:1:1: warning TFL601 'function' of layer 'double' (Lambda) is marshalled Python bytecode that refers only to tensor math (operators only) (layer "double" (Lambda))
    model.keras:1:1: error TFL601 'function' of layer 'evil' (Lambda) is marshalled Python bytecode that calls os.system (layer "evil" (Lambda))
    ```

    ## How to fix
    Replace the `Lambda` by built-in layers, or by a function or layer class
    registered with `keras.saving.register_keras_serializable` in your own
    code, so that the file carries a name instead of code.  Never load a file
    with bytecode from someone else with `safe_mode=False`.
    """

    code = "TFL601"
    name = "lambda-bytecode"
    category = "security"
    severity = Severity.ERROR
    file_kinds = frozenset({"keras"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        scan = ctx.analyses.security()
        for finding in scan.of(BYTECODE):
            what = f" {finding.detail}" if finding.detail else ""
            yield ctx.diagnostic(
                finding.node,
                f"{finding.subject} is marshalled Python bytecode{what}",
                severity=Severity(finding.severity),
                suggestion=(f"replace the code stored in {finding.owner} with built-in layers or "
                            "a function registered in your own code "
                            "(keras.saving.register_keras_serializable); never load this file "
                            "with safe_mode=False"),
            )
        for finding in scan.of(NAMED_FUNCTION):
            yield ctx.diagnostic(
                finding.node,
                f"{finding.subject} calls function '{finding.ref}' by name (no bytecode stored)",
                suggestion=(f"make sure '{finding.ref}' is your own registered function in every "
                            "program that loads the model, or replace the Lambda with built-in "
                            "layers"),
                severity=Severity.WARNING,
            )
