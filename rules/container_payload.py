from __future__ import annotations

from collections.abc import Iterator

from tflint.analyses.security import PAYLOAD
from tflint.diagnostics import Diagnostic, Severity
from tflint.rule import Rule, RuleContext


class ContainerPayload(Rule):
    """A `.keras` archive holds code or unsafe entries next to the model.

    ## What it does
    Checks every entry of a `.keras` zip archive, not only `config.json`:
    entry names that would escape an extraction folder (`../`, absolute
    paths, backslashes); pickles, disassembled with `pickletools` (never
    unpickled) and judged by the globals their `GLOBAL`/`STACK_GLOBAL`
    opcodes import and their `REDUCE` opcodes call; NumPy files of pickled
    objects; Python sources, `.pyc` and `.pth` files, scripts, shared
    libraries and executables, told from their content as well as their
    name.  Entries too large to check, and nested archives, are warnings;
    a pickle of plain data (NumPy arrays) is a warning too.

    ## Why is this bad
    Keras never needs such entries, so they are there for someone else to
    run: a pickle runs `os.system` the moment it is unpickled, a `.pth`
    file runs its `import` lines when it lands in site-packages, and an
    unsafe name writes outside the folder an archive is extracted into.
    Scanners that read only the config miss them.

    ## Example
    ```
    model.keras:1:1: error TFL608 zip entry 'extra/state.pkl' of the archive is a pickle that calls posix.system when unpickled
    ```

    ## How to fix
    Do not load, extract or unpickle the file.  Save the model again from a
    trusted source with `model.save("model.keras")`, which writes only the
    config, the metadata, the weights and the assets.
    """

    code = "TFL608"
    name = "container-payload"
    category = "security"
    severity = Severity.ERROR
    file_kinds = frozenset({"keras"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        for finding in ctx.analyses.security().of(PAYLOAD):
            yield ctx.diagnostic(
                None,
                f"zip entry '{finding.ref}' of {finding.owner} {finding.detail}",
                suggestion=("do not load, extract or unpickle this file; save the model again "
                            "from a trusted source"),
                severity=Severity(finding.severity),
            )
