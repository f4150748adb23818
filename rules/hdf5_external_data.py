from __future__ import annotations

from collections.abc import Iterator

from tflint.analyses.security import EXTERNAL_DATA
from tflint.diagnostics import Diagnostic, Severity
from tflint.rule import Rule, RuleContext


class Hdf5ExternalData(Rule):
    """An HDF5 model or weights file keeps data in, or links to, other files.

    ## What it does
    Lists every object of the HDF5 files of a model (the `.h5` model itself,
    and `model.weights.h5` or any HDF5 entry inside a `.keras` archive)
    whose data lives outside the file: datasets with external storage,
    external links, virtual datasets, and region references.  Only the
    file's metadata is read, in a child process with CPU and memory limits;
    links are never followed and external files never opened.

    ## Why is this bad
    Keras reads every weight when it loads a model; libhdf5 then reads a
    dataset's external storage from whatever local path the file names
    (`/etc/hostname`, `~/.ssh/id_rsa`), which ends up in the model's
    weights, and follows external links and virtual sources to other files.
    Keras itself never writes any of these.

    ## Example
    ```
    model.h5:1:1: error TFL609 HDF5 object '/model_weights/dense/dense/kernel:0' of the HDF5 file keeps its data in the external file '/etc/hostname'
    ```

    ## How to fix
    Do not load the file.  Save the model again from a trusted source; Keras
    writes every weight into the file itself.
    """

    code = "TFL609"
    name = "hdf5-external-data"
    category = "security"
    severity = Severity.ERROR
    file_kinds = frozenset({"keras"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        for finding in ctx.analyses.security().of(EXTERNAL_DATA):
            yield ctx.diagnostic(
                None,
                f"HDF5 object '{finding.ref}' of {finding.owner} {finding.detail}",
                suggestion=("do not load this file; save the model again from a trusted "
                            "source so that every weight is stored in the file itself"),
                severity=Severity(finding.severity),
            )
