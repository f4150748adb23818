"""The graph model: indexes and the networkx view agree."""

from __future__ import annotations

from conftest import fixture

from tflint.loaders import load


def test_networkx_view_matches_the_graph_indexes() -> None:
    graph = load(str(fixture("seed/custom_activation.tflite")))
    g = graph.g
    assert set(g.nodes) == set(graph.node_ids())
    for node in graph.nodes():
        assert g.nodes[node.id]["node"] is node
        expected = {(p.id, node.id) for p in graph.predecessors(node)}
        assert {(u, v) for u, v, _ in g.in_edges(node.id, keys=True)} == expected
        for u, _, key, data in g.in_edges(node.id, keys=True, data=True):
            assert data["tensor"].id == key and graph.producer(data["tensor"]).id == u
    import networkx as nx

    assert nx.is_directed_acyclic_graph(g)
    assert next(iter(nx.topological_sort(g))) == graph.node_ids()[0]


def test_keras_graph_edges_follow_layer_calls() -> None:
    graph = load(str(fixture("keras3/functional_multi_io.keras")))
    shared = [n for n in graph.nodes() if n.layer_name == "shared_dense"]
    assert len(shared) == 2
    for call in shared:
        assert graph.predecessors(call), call.id
