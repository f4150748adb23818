from __future__ import annotations

from collections.abc import Iterator

from tflint_rules._layer_names import layer_names

from tflint.diagnostics import Diagnostic, Severity
from tflint.graph import ModelGraph, Node, Shape
from tflint.patterns import ELEMENTWISE_UNARY, Match, find, op, root_types, through, var
from tflint.rule import Rule, RuleContext

#: Ops that only change the shape, not the data order.
RESHAPES = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS")
#: Element-wise ops looked through between a reshape and the reshape back.
MAX_BETWEEN = 3

PATTERN = op(RESHAPES,
             through(ELEMENTWISE_UNARY, op(RESHAPES, var("x"), partial=True, label="first"),
                     MAX_BETWEEN),
             partial=True)


class ReshapeChain(Rule):
    """Reshapes in a row, or a reshape undone after element-wise ops.

    ## What it does
    Finds a `RESHAPE` (or `SQUEEZE`, `EXPAND_DIMS`) fed by another one, and
    reports the whole run once, at its last op.  Also finds a reshape
    followed by up to three element-wise ops and a reshape back to the
    original shape.

    ## Why is this bad
    Reshaping twice is reshaping once to the final shape: each extra op is
    a tensor copy on most runtimes and an op to dispatch.  A reshape that is
    undone around element-wise ops is two useless copies.  The converter
    merges consecutive reshapes itself, so a chain in a converted model means
    another tool wrote it, while reshapes around an op the converter does
    not know to be element-wise (`SIN`, ...) survive conversion.

    ## Example
    ```python
    x = keras.layers.Reshape((2, 4, 8))(x)
    x = keras.ops.sin(x)
    x = keras.layers.Reshape((8, 8))(x)
    ```
    ```
    model.tflite:1:1: info TFL409 RESHAPE to [1, 2, 4, 8] and RESHAPE back to [1, 8, 8] around SIN cancel out (subgraph 0 / op 3 (RESHAPE) "functional_1/reshape_1_1/Reshape")
    ```

    ## How to fix
    Reshape once, straight to the final shape (drop the intermediate
    `Reshape`/`Flatten` layer), or drop both reshapes around element-wise
    ops: the result is the same.
    """

    code = "TFL409"
    name = "reshape-chain"
    category = "fusion"
    severity = Severity.INFO
    file_kinds = frozenset({"tflite"})
    triggers = root_types(PATTERN)

    def check(self, ctx: RuleContext) -> Iterator[Diagnostic]:
        graph = ctx.graph
        names = ctx.analysis(layer_names)
        for match in find(graph, PATTERN, accept=lambda m: _worth_reporting(graph, m)):
            first, last = match.labels["first"], match.root
            between = [n.op_type for n in match.nodes[1:-1]]
            if between:
                yield ctx.diagnostic(
                    last,
                    f"{first.op_type} to {_shape(first)} and {last.op_type} back to "
                    f"{_shape(last)} around {', '.join(between)} cancel out",
                    suggestion=(f"remove both reshapes (the first is {names.describe(first)}); "
                                "the ops between them work value by value"),
                )
                continue
            chain = [*_run_before(graph, first), first, last]
            yield ctx.diagnostic(
                last,
                f"{len(chain)} reshapes in a row ({', '.join(n.op_type for n in chain)}), "
                f"ending at {_shape(last)}",
                suggestion=(f"reshape once, straight to {_shape(last)} (the run starts at "
                            f"{names.describe(chain[0])})"),
            )


def _worth_reporting(graph: ModelGraph, match: Match) -> bool:
    last = match.root
    if len(match.nodes) == 2:
        return not _feeds_a_reshape(graph, last)  # report a run once, at its end
    start, end = match.bindings["x"].shape, last.outputs[0].shape
    return start is not None and start == end and list(start).count(None) <= 1


def _feeds_a_reshape(graph: ModelGraph, node: Node) -> bool:
    output = node.outputs[0]
    consumers = graph.consumers(output)
    return (len(consumers) == 1 and consumers[0].op_type in RESHAPES
            and not graph.is_graph_output(output))


def _run_before(graph: ModelGraph, first: Node) -> list[Node]:
    """Reshapes feeding ``first`` one after the other, earliest first."""
    run: list[Node] = []
    node = first
    while node.inputs:
        producer = graph.producer(node.inputs[0])
        if producer is None or producer.op_type not in RESHAPES \
                or not _feeds_a_reshape(graph, producer):
            break
        run.append(producer)
        node = producer
    return run[::-1]


def _shape(node: Node) -> str:
    shape: Shape | None = node.outputs[0].shape if node.outputs else None
    if shape is None:
        return "an unknown shape"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"
