"""Keras layer names recovered from the tensor names the TFLite converter writes.

The converter names a tensor after the TensorFlow ops it came from, scoped by
model and layer: ``model/dense_1/MatMul`` (tf.keras), or
``functional_1/conv_1/convolution`` (Keras 3, whose export traces the model a
second time, so every scope carries a ``_1`` suffix), and joins the names of
fused ops with ``;``.  Rules quote the layer so that the user finds the place
in their own model, and keep the full tensor name in the location.
"""

from __future__ import annotations

import re

from tflint.graph import ModelGraph, Node, Tensor

_SCOPE_SUFFIX = re.compile(r"_\d+$")


class LayerNames:
    """How the tensor names of one model map to Keras layer names."""

    __slots__ = ("strip_suffix",)

    def __init__(self, strip_suffix: bool) -> None:
        #: True when every model/layer scope carries a uniquifying ``_N``
        #: suffix (Keras 3 export), which is then dropped from layer names.
        self.strip_suffix = strip_suffix

    def of_tensor(self, tensor: Tensor) -> str | None:
        """The Keras layer a tensor comes from, or None if its name has no layer scope."""
        scopes = _layer_scopes(tensor.name)
        if scopes is None:
            return None
        if not self.strip_suffix:
            return scopes[1]
        # Nested models add one suffixed scope per level; TensorFlow's own
        # scopes inside a layer (``batchnorm/add_1``) have no suffix.
        layer = scopes[1]
        for scope in scopes[2:-1]:
            if not _SCOPE_SUFFIX.search(scope):
                break
            layer = scope
        return _SCOPE_SUFFIX.sub("", layer)

    def of_node(self, node: Node) -> str | None:
        # A model output is renamed after the signature; the op's weights
        # still carry the layer's name.
        for tensor in (*node.outputs, *(t for t in node.inputs if t.is_constant)):
            layer = self.of_tensor(tensor)
            if layer is not None:
                return layer
        return None

    def subject(self, node: Node) -> str:
        """``RESHAPE in layer 'flatten'``, or the op alone: for the node a diagnostic is
        about, whose tensor name the location already prints."""
        layer = self.of_node(node)
        return f"{node.op_type} in layer '{layer}'" if layer is not None else node.op_type

    def describe(self, node: Node) -> str:
        """``RESHAPE in layer 'flatten'``, or the op and its tensor name."""
        layer = self.of_node(node)
        if layer is not None:
            return f"{node.op_type} in layer '{layer}'"
        if node.name:
            return f"{node.op_type} '{node.name}'"
        return node.op_type


def _layer_scopes(name: str) -> list[str] | None:
    """The scopes (model, layer, ..., op) of the first fused name with at least three parts."""
    for part in name.split(";"):
        scopes = part.split("/")
        if len(scopes) >= 3 and scopes[0] and scopes[1]:
            return scopes
    return None


def layer_names(graph: ModelGraph, target: str) -> LayerNames:
    """Analysis shared by the rules of one file (``ctx.analysis(layer_names)``)."""
    scoped = 0
    suffixed = 0
    for node in graph.nodes():
        for tensor in node.outputs:
            scopes = _layer_scopes(tensor.name)
            if scopes is None:
                continue
            scoped += 1
            if _SCOPE_SUFFIX.search(scopes[0]) and _SCOPE_SUFFIX.search(scopes[1]):
                suffixed += 1
    return LayerNames(strip_suffix=scoped > 0 and suffixed == scoped)
