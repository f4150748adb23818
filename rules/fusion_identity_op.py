from __future__ import annotations

import math
from collections.abc import Iterator

from tflint_rules._layer_names import layer_names

from tflint.diagnostics import Diagnostic, Severity
from tflint.graph import Node, Tensor
from tflint.patterns import Match, alt, const, find, op, options_are, root_types, var
from tflint.rule import Rule, RuleContext

NONE = options_are(fused_activation_function="NONE")
RESHAPES = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS")
PADS = ("PAD", "PADV2", "MIRROR_PAD")
X = var("x")
# Exact comparisons: an ADD of 1e-4 is not an identity.
ZERO = const(where=lambda values: all(v == 0 for v in values))
ONE = const(where=lambda values: all(math.isclose(v, 1.0, rel_tol=1e-6) for v in values))
IDENTITY_PERM = const(where=lambda values: list(values) == list(range(len(values))))

PATTERN = alt(
    op(RESHAPES, X, partial=True),
    op("TRANSPOSE", X, IDENTITY_PERM),
    op("ADD", X, ZERO, where=NONE),
    op("SUB", X, ZERO, where=NONE),
    op("MUL", X, ONE, where=NONE),
    op("DIV", X, ONE, where=NONE),
    op("CAST", X),
    op(PADS, X, ZERO, partial=True),
)
WHAT = {
    "TRANSPOSE": "with the identity permutation",
    "ADD": "of a constant zero", "SUB": "of a constant zero",
    "MUL": "by a constant one", "DIV": "by a constant one",
    "PAD": "with all-zero paddings", "PADV2": "with all-zero paddings",
    "MIRROR_PAD": "with all-zero paddings",
}
KERAS_HINT = {
    "RESHAPE": "the Reshape layer", "SQUEEZE": "the squeeze", "EXPAND_DIMS": "the expand_dims",
    "TRANSPOSE": "the Permute layer that keeps the order",
    "ADD": "the addition of 0 (a Rescaling with offset 0, or a Lambda)",
    "SUB": "the subtraction of 0 (a Lambda, or a constant in a custom layer)",
    "MUL": "the multiplication by 1 (a Rescaling with scale 1, or a Lambda)",
    "DIV": "the division by 1 (a Lambda, or a constant in a custom layer)",
    "CAST": "the cast to the type the tensor already has",
    "PAD": "the ZeroPadding layer with padding 0", "PADV2": "the padding of 0",
    "MIRROR_PAD": "the padding of 0",
}


class IdentityOp(Rule):
    """Op that returns its input unchanged: same-shape reshape, identity transpose, +0, *1, ...

    ## What it does
    Finds ops whose output equals their input: `RESHAPE`/`SQUEEZE`/
    `EXPAND_DIMS` to the same shape, `TRANSPOSE` with the identity
    permutation, `ADD`/`SUB` of a constant zero, `MUL`/`DIV` by a constant
    one (without a fused activation), `CAST` to the same type, and `PAD`
    with all-zero paddings.  Output shape, type and quantization must equal
    the input's, so broadcasts and requantizations are not reported.

    ## Why is this bad
    Each is a full pass over the tensor (or a copy) for nothing.  The
    converter removes these when shapes are static; with a dynamic batch
    dimension a `Reshape` to the shape the tensor already has stays, and
    models written by other tools carry the others.  Same-shape reshapes are
    cheap copies and are reported as info.

    ## Example
    ```python
    x = tf.reshape(x * 2.0, (-1, 4, 6, 8))   # x is already [batch, 4, 6, 8]
    ```
    ```
    model.tflite:1:1: info TFL411 RESHAPE to the same shape [?, 4, 6, 8] does nothing (subgraph 0 / op 1 (RESHAPE) "Identity")
    ```

    ## How to fix
    Remove the layer or expression that produces the op (a `Reshape` to
    the current shape, a `Permute` keeping the order, a `Rescaling(1.0)`, a
    cast to the same dtype, a zero padding of 0).
    """

    code = "TFL411"
    name = "identity-op"
    category = "fusion"
    file_kinds = frozenset({"tflite"})
    triggers = root_types(PATTERN)

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        names = ctx.analysis(layer_names)
        for match in find(ctx.graph, PATTERN, accept=_output_is_input):
            node, source = match.root, match.bindings["x"]
            if node.op_type in RESHAPES:
                message = f"{node.op_type} to the same shape {_shape(source)} does nothing"
                severity = Severity.INFO
            elif node.op_type == "CAST":
                message = f"CAST from {source.dtype} to {source.dtype} does nothing"
                severity = None
            else:
                message = f"{node.op_type} {WHAT[node.op_type]} does nothing"
                severity = None
            yield ctx.diagnostic(node, message, severity=severity,
                                 suggestion=_suggestion(node, names.of_node(node)))


def _suggestion(node: Node, layer: str | None) -> str:
    """What to remove, in the terms of the Keras layer the op came from when its name says."""
    kind = (layer or "").lower()
    if "normaliz" in kind and node.op_type in ("SUB", "DIV", "ADD", "MUL"):
        return (f"Normalization layer '{layer}' has mean 0 and variance 1 (not adapted?): call "
                "adapt() on the training data, or remove the layer if the inputs are already "
                "normalized")
    if "rescal" in kind and node.op_type in ("ADD", "MUL"):
        return (f"Rescaling layer '{layer}' has scale 1 and offset 0: remove it, or give it "
                "the scale it was meant to have")
    where = f" in layer '{layer}'" if layer else ""
    return f"remove {KERAS_HINT[node.op_type]}{where}: its output equals its input"


def _output_is_input(match: Match) -> bool:
    node, source = match.root, match.bindings["x"]
    if source.is_constant or len(node.outputs) != 1:
        return False
    result = node.outputs[0]
    return _same_shape(source, result) and source.dtype == result.dtype \
        and _same_quantization(source, result)


def _same_shape(a: Tensor, b: Tensor) -> bool:
    # Two unknown dimensions could trade sizes in a reshape: not provably the same.
    return a.shape is not None and a.shape == b.shape and list(a.shape).count(None) <= 1


def _same_quantization(a: Tensor, b: Tensor) -> bool:
    qa, qb = a.quantization, b.quantization
    if qa is None or qb is None:
        return qa is None and qb is None
    return qa.scale == qb.scale and qa.zero_point == qb.zero_point


def _shape(tensor: Tensor) -> str:
    if tensor.shape is None:
        return "of unknown rank"
    return "[" + ", ".join("?" if d is None else str(d) for d in tensor.shape) + "]"
