"""The travel-time engine agrees exactly with networkx Dijkstra; bad graphs give clear errors.

Every matrix is ``(targets, sources)``: one column per source.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gis import NetworkError
from gis.network._networkx import nx_signature
from planning.travel import many_to_many, nearest_sources, road_matrix, travel_times


@st.composite
def graphs(draw: st.DrawFn) -> nx.MultiDiGraph:
    """Small random MultiDiGraphs with parallel edges and zero weights."""
    n = draw(st.integers(2, 12))
    edges = draw(
        st.lists(
            st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.integers(0, 50)),
            min_size=1,
            max_size=40,
        )
    )
    graph = nx.MultiDiGraph()
    graph.add_nodes_from(range(n))
    for u, v, w in edges:
        graph.add_edge(u, v, travel_time_s=float(w))
    return graph


def _reference(graph: nx.MultiDiGraph, source: int) -> list[float]:
    lengths = nx.single_source_dijkstra_path_length(graph, source, weight="travel_time_s")
    return [lengths.get(v, math.inf) for v in graph.nodes]


@settings(max_examples=60, deadline=None)
@given(graphs(), st.data())
def test_one_to_all_matches_networkx(graph: nx.MultiDiGraph, data: st.DataObject) -> None:
    sources = data.draw(st.lists(st.sampled_from(list(graph.nodes)), min_size=1, max_size=4))
    got = travel_times(graph, sources)
    assert got.shape == (graph.number_of_nodes(), len(sources))
    for column, s in zip(got.T, sources, strict=True):
        assert column.tolist() == _reference(graph, s)


@settings(max_examples=60, deadline=None)
@given(graphs(), st.data())
def test_nearest_and_cutoff_match_networkx(graph: nx.MultiDiGraph, data: st.DataObject) -> None:
    sources = data.draw(st.lists(st.sampled_from(list(graph.nodes)), min_size=1, max_size=4, unique=True))
    t, which = nearest_sources(graph, sources)
    ref = nx.multi_source_dijkstra_path_length(graph, set(sources), weight="travel_time_s")
    assert t.tolist() == [ref.get(v, math.inf) for v in graph.nodes]
    full = travel_times(graph, sources)
    reached = which >= 0
    assert (full[np.flatnonzero(reached), which[reached]] == t[reached]).all()
    assert (which[~reached] == -1).all()
    cutoff = data.draw(st.integers(0, 60))
    cut = travel_times(graph, sources, cutoff_s=cutoff)
    expect = np.where(full <= cutoff, full, np.inf)
    assert np.array_equal(cut, expect)


@settings(max_examples=30, deadline=None)
@given(graphs(), st.data())
def test_many_to_many_chunks(graph: nx.MultiDiGraph, data: st.DataObject) -> None:
    nodes = list(graph.nodes)
    sources = data.draw(st.lists(st.sampled_from(nodes), min_size=1, max_size=6))
    targets = data.draw(st.lists(st.sampled_from(nodes), min_size=1, max_size=6))
    got = many_to_many(graph, sources, targets, chunk_size=data.draw(st.integers(1, 4)))
    assert got.shape == (len(targets), len(sources))
    for j, s in enumerate(sources):
        ref = _reference(graph, s)
        assert got[:, j].tolist() == [ref[nodes.index(t)] for t in targets]


def test_matrix_is_cached_and_refreshed() -> None:
    graph = nx.MultiDiGraph()
    nx.add_path(graph, ["a", "b", "c"], travel_time_s=1.0)
    m = road_matrix(graph)
    assert road_matrix(graph) is m
    graph.add_edge("c", "a", travel_time_s=1.0)
    assert road_matrix(graph) is not m
    assert travel_times(graph, ["c"]).tolist() == [[1.0], [2.0], [0.0]]


@settings(max_examples=40, deadline=None)
@given(graphs())
def test_cache_signature_counts_like_networkx(graph: nx.MultiDiGraph) -> None:
    # the fast count behind the cache check: parallel edges and self-loops included
    for g in (graph, nx.DiGraph(graph)):
        assert nx_signature(g) == (g.number_of_nodes(), g.number_of_edges())
    graph.add_edge(0, 0, travel_time_s=1.0)
    graph.add_edge(0, 0, travel_time_s=2.0)
    assert nx_signature(graph) == (graph.number_of_nodes(), graph.number_of_edges())


def test_bad_graphs() -> None:
    graph = nx.MultiDiGraph()
    graph.add_edge(0, 1, travel_time_s=-3.0)
    with pytest.raises(NetworkError, match="negative"):
        travel_times(graph, [0])
    graph = nx.MultiDiGraph()
    graph.add_edge(0, 1)
    with pytest.raises(NetworkError, match="travel_time_s"):
        travel_times(graph, [0])
    with pytest.raises(NetworkError, match="undirected"):
        travel_times(nx.Graph([(0, 1)]), [0])
    graph = nx.MultiDiGraph()
    graph.add_edge(0, 1, travel_time_s=1.0)
    with pytest.raises(NetworkError, match=r"\[7\] are not nodes"):
        travel_times(graph, [7])
