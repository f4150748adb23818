from __future__ import annotations

from collections.abc import Iterator

from tflint_rules._layer_names import LayerNames, layer_names
from tflint_rules._quant_params import FLOAT_DTYPES, quantized_model

from tflint.diagnostics import Diagnostic, Severity
from tflint.graph import ModelGraph, Node
from tflint.rule import Rule, RuleContext

#: Ops listed in one message; the rest are counted.
MAX_LISTED = 5


class FloatFallbackInQuantizedModel(Rule):
    """Ops left in float inside a quantized model (partial quantization).

    ## What it does
    In a model whose activations are quantized (int8, int16 or uint8),
    finds the ops that still compute in float32: the islands the converter
    leaves between a `DEQUANTIZE` and a `QUANTIZE` when an op has no
    quantized kernel and the conversion allowed float fallback
    (`supported_ops` including `TFLITE_BUILTINS`).  One finding per island,
    at its first op, listing the ops that stayed float and their Keras
    layers.

    ## Why is this bad
    Each island costs a `DEQUANTIZE` and a `QUANTIZE` per inference, float
    compute in the middle of an integer graph, and four times the memory
    traffic for those tensors.  It also makes the model unusable on
    integer-only runtimes (TFLite Micro, Edge TPU, NPUs).  The converter
    does this silently: the model looks fully quantized from the outside.

    ## Example
    ```python
    x = keras.layers.Lambda(lambda t: tf.sin(t))(x)   # SIN has no int8 kernel
    ```
    ```
    model.tflite:1:1: warning TFL303 1 op stays float32 in the int8 model: SIN in layer 'sine' (between DEQUANTIZE and QUANTIZE) (subgraph 0 / op 3 (SIN) "model_1/sine_1/Sin")
    ```

    ## How to fix
    Convert once with `target_spec.supported_ops =
    [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]`: the converter then fails and
    names every op without an int8 kernel.  Replace those layers with ones
    that have quantized kernels (e.g. a `Dense`/`ReLU`/`tanh` approximation
    instead of `sin`), or keep the island knowingly when the op must stay
    float for accuracy.
    """

    code = "TFL303"
    name = "float-fallback-in-quantized-model"
    category = "quantization"
    severity = Severity.WARNING
    file_kinds = frozenset({"tflite"})
    triggers = frozenset({"quantized"})

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        model = ctx.analysis(quantized_model)
        if not model.quantized or not model.float_ops:
            return
        names = ctx.analysis(layer_names)
        for island in _islands(ctx.graph, model.float_ops):
            # The first op is the diagnostic's location: named there, not again here.
            listed = ", ".join(names.subject(n) if i == 0 else names.describe(n)
                               for i, n in enumerate(island[:MAX_LISTED]))
            if len(island) > MAX_LISTED:
                listed += f" and {len(island) - MAX_LISTED} more"
            plural = len(island) > 1
            yield ctx.diagnostic(
                island[0],
                f"{len(island)} op{'s' if plural else ''} stay{'' if plural else 's'} float32 in "
                f"the {model.main_type} model: {listed} ({_bounds(ctx.graph, island)})",
                suggestion=_suggestion(island, names, model.main_type),
            )


def _islands(graph: ModelGraph, float_ops: list[Node]) -> list[list[Node]]:
    """Float ops grouped by the float tensors joining them (union-find, linear)."""
    parent = {node.id: node.id for node in float_ops}

    def root(node_id: str) -> str:
        while parent[node_id] != node_id:
            parent[node_id] = parent[parent[node_id]]
            node_id = parent[node_id]
        return node_id

    for node in float_ops:
        for tensor in node.inputs:
            producer = graph.producer(tensor)
            if producer is not None and producer.id in parent and tensor.dtype in FLOAT_DTYPES:
                parent[root(node.id)] = root(producer.id)
    groups: dict[str, list[Node]] = {}
    for node in float_ops:
        groups.setdefault(root(node.id), []).append(node)
    return list(groups.values())


def _bounds(graph: ModelGraph, island: list[Node]) -> str:
    members = {n.id for n in island}
    entries: set[str] = set()
    exits: set[str] = set()
    for node in island:
        for tensor in node.inputs:
            producer = graph.producer(tensor)
            if tensor.is_constant or (producer is not None and producer.id in members):
                continue
            entries.add(producer.op_type if producer is not None else "the model input")
        for tensor in node.outputs:
            if graph.is_graph_output(tensor):
                exits.add("the model output")
            exits.update(c.op_type for c in graph.consumers(tensor) if c.id not in members)
    start = " / ".join(sorted(entries)) or "constants"
    end = " / ".join(sorted(exits)) or "nothing"
    return f"between {start} and {end}"


def _suggestion(island: list[Node], names: LayerNames, dtype: str) -> str:
    layers = sorted({layer for n in island if (layer := names.of_node(n))})
    ops = sorted({n.op_type for n in island})
    quoted = ", ".join(f"'{layer}'" for layer in layers)
    what = f"layer{'s' if len(layers) > 1 else ''} {quoted}" if layers \
        else f"the {', '.join(ops)} op{'s' if len(ops) > 1 else ''}"
    return (f"replace {what} with layers that have {dtype} kernels, or check which ops block "
            f"full quantization by converting with target_spec.supported_ops="
            f"[tf.lite.OpsSet.TFLITE_BUILTINS_INT8]")
