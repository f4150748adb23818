from __future__ import annotations

from collections.abc import Iterator

from tflint.analyses.security import FILE
from tflint.diagnostics import Diagnostic, Severity
from tflint.rule import Rule, RuleContext


class FileReference(Rule):
    """Keras layer config holds a file path or URL that Keras reads when loading the model.

    ## What it does
    Flags the layer settings that Keras reads as a path or URL when it
    rebuilds the layer: the `vocabulary` of `StringLookup`, `IntegerLookup`
    and `TextVectorization` given as a string instead of a list, and the
    `filepath` of `TFSMLayer`.

    ## Why is this bad
    Loading the model then reads any local file the loading user can read
    (`/etc/passwd`, credentials) into the model, or fetches a URL from the
    loading machine, even in safe mode (CVE-2025-12058).  A `TFSMLayer`
    loads a whole SavedModel from that path.  The model also breaks on any
    machine where the path does not exist.

    ## Example
    ```
    model.keras:1:1: error TFL606 layer 'lookup' (StringLookup) reads its vocabulary from '/etc/passwd' (layer "lookup" (StringLookup))
    ```

    ## How to fix
    Store the vocabulary in the model: pass a list (or call `adapt`) before
    saving, so that Keras writes it into the `.keras` archive.  Convert a
    `TFSMLayer` into Keras layers instead of pointing at a folder.
    """

    code = "TFL606"
    name = "file-reference"
    category = "security"
    severity = Severity.ERROR
    file_kinds = frozenset({"keras"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        for finding in ctx.analyses.security().of(FILE):
            yield ctx.diagnostic(
                finding.node,
                f"{finding.owner} reads its {finding.detail} from '{finding.ref}'",
                suggestion=(f"store the {finding.detail} in the model (a list, saved with it) "
                            "instead of a path or URL that Keras reads when loading"),
            )
