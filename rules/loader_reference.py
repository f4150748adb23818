from __future__ import annotations

from collections.abc import Iterator

from tflint.analyses.security import LOADER
from tflint.diagnostics import Diagnostic, Severity
from tflint.rule import Rule, RuleContext


class LoaderReference(Rule):
    """Keras config refers to a Keras API that loads, saves or downloads files.

    ## What it does
    Flags references anywhere in a Keras config to the Keras and TensorFlow
    APIs that are not about modeling: `keras.models.load_model`,
    `keras.saving.load_model`, `keras.utils.get_file`,
    `keras.models.model_from_json`, `save_model`, `load_weights`,
    `tf.saved_model.load`... (Keras 3's own list of "non-modeling APIs", kept
    in `tflint/data/unsafe_references.json`), written as a function object or
    as a dotted string.

    ## Why is this bad
    Keras calls a function named in the config while it loads the model.
    `get_file` then downloads a file to any path (CVE-2025-8747), and
    `load_model` loads a second model, possibly from the attacker, with its
    own code and settings.  Keras 3.9 and later refuse these names; older
    Keras 3 and tf.keras call them.

    ## Example
    ```json
    "function": {"module": "keras.utils", "class_name": "function", "config": "get_file"}
    ```
    ```
    model.keras:1:1: error TFL605 'function' of layer 'fetch' (Lambda) refers to keras.utils.get_file, which downloads a file (layer "fetch" (Lambda))
    ```

    ## How to fix
    Remove the reference: a model config names layers, operations, losses
    and metrics only.  Load any other file from your own code.
    """

    code = "TFL605"
    name = "loader-reference"
    category = "security"
    severity = Severity.ERROR
    file_kinds = frozenset({"keras"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        for finding in ctx.analyses.security().of(LOADER):
            yield ctx.diagnostic(
                finding.node,
                f"{finding.subject} refers to {finding.ref}, which {finding.detail}",
                suggestion=(f"remove the reference to {finding.ref}: a model config should name "
                            "layers, operations, losses and metrics only"),
            )
