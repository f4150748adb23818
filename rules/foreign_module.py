from __future__ import annotations

from collections.abc import Iterator

from tflint.analyses.security import FOREIGN
from tflint.diagnostics import Diagnostic, Severity
from tflint.rule import Rule, RuleContext


class ForeignModule(Rule):
    """Keras config names a module outside Keras that loading the model would import.

    ## What it does
    Flags every Keras 3 object in the config (layer, function, initializer,
    regularizer, constraint, activation, loss, metric, optimizer...) whose
    `module` is outside `keras`, `tensorflow` and `tf_keras` (and the Keras
    packages `keras_hub`, `keras_cv`, `keras_nlp` that Keras itself allows),
    wherever it is nested in the config, including the training config of
    an `.h5` file.  A module defined in the project's own source (the
    `--source` folders, `source = [...]` in `[tool.tflint]`, default the
    project root; found by parsing the Python files, never importing them)
    is no finding; a module found nowhere is a warning.  Modules and
    functions dangerous in themselves are errors of TFL603.

    ## Why is this bad
    Keras 3 before 3.9 imported the module named by a config to find the
    class or function, even in safe mode (CVE-2025-1550): importing runs the
    module's code, and the function found is then called.  A file can name
    any installed module this way.

    ## Example
    ```json
    "kernel_initializer": {"module": "evil_pkg.init", "class_name": "Backdoor", "config": {}}
    ```
    ```
    model.keras:1:1: warning TFL602 'kernel_initializer' of layer 'dense' (Dense) names module 'evil_pkg.init', outside Keras (not found in the project's source) (layer "dense" (Dense))
    ```

    ## How to fix
    Remove the reference or replace it with the Keras built-in it stands
    for.  If the module is your own code, register the object with
    `keras.saving.register_keras_serializable`, import it before loading,
    and load with Keras 3.9 or later.
    """

    code = "TFL602"
    name = "foreign-module"
    category = "security"
    severity = Severity.ERROR
    file_kinds = frozenset({"keras"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        for finding in ctx.analyses.security().of(FOREIGN):
            found = f" ({finding.detail})" if finding.detail else ""
            yield ctx.diagnostic(
                finding.node,
                f"{finding.subject} names module '{finding.ref}', outside Keras{found}",
                severity=Severity(finding.severity),
                suggestion=(f"remove the reference to module '{finding.ref}' or replace it with "
                            "a Keras built-in; if the module is yours, register the object and "
                            "load with Keras 3.9 or later"),
            )
