from __future__ import annotations

from collections.abc import Iterator

from tflint_rules import _data

from tflint.diagnostics import Diagnostic, Severity
from tflint.rule import Rule, RuleContext
from tflint.targets.profile import load_profile


class CustomOp(Rule):
    """Custom op in a `.tflite` model that the runtime must have registered.

    ## What it does
    Flags every operator with a custom code other than the Flex ops, and says
    whether the stock LiteRT op resolver registers it (for example
    `TFLite_Detection_PostProcess`), whether it needs a vendor runtime
    (`edgetpu-custom-op`), or whether the app must register it itself.  The
    custom ops the XNNPACK delegate implements itself (MediaPipe's
    `Convolution2DTransposeBias`, `MaxPoolingWithArgmax2D`, `MaxUnpooling2D`)
    are an info finding when XNNPACK takes them (the stock interpreter runs
    them through it) and an error naming XNNPACK's reason when it does not
    (float16 pooling, an unquantized int32 index, a filter unlike the stride...).

    ## Why is this bad
    An unregistered custom op makes the interpreter refuse the model
    ("Encountered unresolved custom op").  Apart from those XNNPACK
    implements, a custom op is never taken by the XNNPACK delegate, so it
    runs on the CPU and splits the graph into extra partitions.

    ## Example
    ```
    model.tflite:1:1: error TFL102 custom op 'MyNorm' is not registered by the stock op resolver (subgraph 0 / op 7 (MyNorm) "model/my_norm")
    ```

    ## How to fix
    Replace the custom op by builtin ops in the model (the converter emits
    one when `allow_custom_ops=True` lets an unsupported op through), or
    register its kernel with the interpreter (`AddCustom` in C++) in every app
    that loads the model.
    """

    code = "TFL102"
    name = "custom-op"
    category = "unsupported-op"
    severity = Severity.ERROR
    file_kinds = frozenset({"tflite"})
    triggers = frozenset({"origin:custom"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        known = _data.load("custom_ops.json")["ops"]
        xnnpack_codes = load_profile("xnnpack").custom_codes
        delegation = ctx.analyses.delegation("xnnpack")
        for node in ctx.graph.nodes():
            if node.origin != "custom":
                continue
            entry = known.get(node.op_type)
            if entry is None and delegation is not None and node.id not in delegation.cpu_reasons:
                # XNNPACK registers some custom ops itself (MediaPipe's transposed
                # convolution, pooling with argmax): the stock interpreter runs them.
                yield ctx.diagnostic(
                    node,
                    f"custom op '{node.op_type}' has no kernel in the stock op resolver but the "
                    "XNNPACK delegate implements it: the model runs only with XNNPACK applied",
                    suggestion=("keep LiteRT's default XNNPACK delegate enabled; another runtime "
                                "or delegate needs the op's kernel registered"),
                    severity=Severity.INFO,
                )
            elif entry is None and delegation is not None and node.op_type in xnnpack_codes:
                # XNNPACK implements the op only in some forms; refused (or claimed
                # and failing), it has no kernel at all.
                reason = delegation.cpu_reasons[node.id]
                yield ctx.diagnostic(
                    node,
                    f"custom op '{node.op_type}' has no kernel in the stock op resolver and the "
                    f"XNNPACK delegate, which implements it, does not run it here: {reason}",
                    suggestion=("give the op the form XNNPACK takes (see the reason), or "
                                "register its kernel with the interpreter"),
                )
            elif entry is None:
                yield ctx.diagnostic(
                    node,
                    f"custom op '{node.op_type}' is not registered by the stock op resolver",
                    suggestion=("register its kernel with the interpreter in every app that loads "
                                "the model, or rebuild the model without it (builtin ops only)"),
                )
            elif entry["registered_by_default"]:
                yield ctx.diagnostic(
                    node,
                    f"custom op '{node.op_type}' runs on the CPU, outside XNNPACK",
                    suggestion=entry["advice"],
                    severity=Severity.INFO,
                )
            else:
                yield ctx.diagnostic(
                    node,
                    f"custom op '{node.op_type}' needs {entry['needs']}",
                    suggestion=entry["advice"],
                )
