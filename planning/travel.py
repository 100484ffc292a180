"""The travel-time engine: the road graph exported once to a sparse matrix, Dijkstra in C.

:func:`road_matrix` turns a networkx (Multi)DiGraph into a :class:`RoadMatrix` (a CSR
matrix of the fastest parallel edge between each pair of nodes, plus the edge arrays and node
coordinates) and caches it per graph and weight. Every search runs in
:func:`scipy.sparse.csgraph.dijkstra`: one-to-all with a cutoff, multi-source nearest with the
source identified, and many-to-many in chunks that bound memory. Travel is directed, from the
sources (stations) to the targets (incidents).
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import chain
from typing import Any, TypeAlias

import networkx as nx
import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, dijkstra

from gis.errors import NetworkError
from gis.snap import default_max_snap_m, flag_far, road_distances, snap_targets

__all__ = [
    "RoadMatrix",
    "many_to_many",
    "nearest_sources",
    "road_matrix",
    "snap_layer",
    "snap_stations",
    "travel_times",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Graph: TypeAlias = nx.DiGraph | nx.MultiDiGraph

_CACHE: weakref.WeakKeyDictionary[Any, dict[str, tuple[tuple[int, int], RoadMatrix]]] = (
    weakref.WeakKeyDictionary()
)


@dataclass(frozen=True, eq=False)
class RoadMatrix:
    """A road graph as arrays: what every travel-time search runs on.

    Build it with :func:`road_matrix`. Node *positions* ``0..n-1`` follow ``list(graph.nodes)``;
    :meth:`positions` maps node labels to them.

    Attributes
    ----------
    csr
        ``n x n`` CSR matrix of the weight of the fastest edge from row to column node.
    nodes
        Node labels by position.
    xy
        ``(n, 2)`` node coordinates in the graph CRS (metres).
    edge_uv
        ``(m, 2)`` positions of the ends of every edge of the graph (parallel edges kept).
    edge_key
        Multigraph key of every edge (0 for a DiGraph).
    edge_weight
        Weight of every edge.
    weight
        Name of the edge attribute used as weight.
    crs
        The graph CRS (``graph.graph["crs"]``), or None.
    component
        Strongly connected component label of every node.
    main_component
        Label of the largest strongly connected component.
    """

    csr: sp.csr_matrix
    nodes: npt.NDArray[Any]
    xy: FloatArray
    edge_uv: IntArray
    edge_key: npt.NDArray[Any]
    edge_weight: FloatArray
    weight: str
    crs: Any
    component: IntArray
    main_component: int
    _index: pd.Index
    _graph: weakref.ReferenceType[Any]

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.nodes)

    def positions(self, nodes: Iterable[Hashable], *, what: str = "source nodes") -> IntArray:
        """Positions of node labels; raise :class:`NetworkError` naming any unknown label."""
        labels = list(nodes)
        pos = self._index.get_indexer(labels) if labels else np.empty(0, np.int64)
        if (pos < 0).any():
            bad = [labels[i] for i in np.flatnonzero(pos < 0)[:10]]
            msg = f"{what} {bad} are not nodes of the road graph. Fix: snap the points to this graph first."
            raise NetworkError(msg)
        return np.asarray(pos, dtype=np.int64)

    @cached_property
    def edge_geometry(self) -> npt.NDArray[np.object_]:
        """Shapely LineString of every edge (``geometry`` attribute, else a straight segment)."""
        import shapely

        graph = self._graph()
        geoms = np.full(len(self.edge_uv), None, dtype=object)
        if graph is not None and graph.is_multigraph():
            for i, (*_, g) in enumerate(graph.edges(keys=True, data="geometry")):
                geoms[i] = g
        elif graph is not None:
            for i, (*_, g) in enumerate(graph.edges(data="geometry")):
                geoms[i] = g
        straight = pd.isna(geoms)
        if straight.any():
            ends = self.xy[self.edge_uv[straight]]
            geoms[straight] = shapely.linestrings(ends)
        return geoms

    @cached_property
    def edge_tree(self) -> Any:
        """A shapely STRtree over :attr:`edge_geometry` (built once)."""
        import shapely

        return shapely.STRtree(self.edge_geometry)

    @cached_property
    def reverse_weight(self) -> FloatArray:
        """Weight of the fastest edge back from ``v`` to ``u`` for every edge (inf on one-way roads)."""
        n = np.int64(self.n_nodes)
        coo = self.csr.tocoo()
        keys = coo.row.astype(np.int64) * n + coo.col
        order = np.argsort(keys)
        keys, data = keys[order], coo.data[order]
        want = self.edge_uv[:, 1] * n + self.edge_uv[:, 0]
        at = np.minimum(np.searchsorted(keys, want), max(len(keys) - 1, 0))
        found = keys[at] == want if len(keys) else np.zeros(len(want), bool)
        return np.where(found, data[at] if len(keys) else np.inf, np.inf)

    def snap(self, points: npt.NDArray[np.object_]) -> pd.DataFrame:
        """Snap shapely points (graph CRS) to their nearest edge.

        Returns ``edge`` (row of the edge arrays), ``frac`` (position along it, 0 at ``u``),
        ``along_m``, ``snap_distance_m`` and ``node`` (label of the nearer end), one row per point.
        """
        import shapely

        if len(points) == 0:
            cols: dict[str, list[Any]] = {
                "edge": [],
                "frac": [],
                "along_m": [],
                "snap_distance_m": [],
                "node": [],
            }
            return pd.DataFrame(cols)
        (_, edge), dist = self.edge_tree.query_nearest(points, return_distance=True, all_matches=False)
        geoms = self.edge_geometry[edge]
        along = shapely.line_locate_point(geoms, points)
        length = shapely.length(geoms)
        frac = np.divide(along, length, out=np.zeros_like(along), where=length > 0)
        end = np.where(frac > 0.5, self.edge_uv[edge, 1], self.edge_uv[edge, 0])
        return pd.DataFrame(
            {"edge": edge, "frac": frac, "along_m": along, "snap_distance_m": dist, "node": self.nodes[end]}
        )

    def point_times(self, node_times: FloatArray, snaps: pd.DataFrame) -> FloatArray:
        """Travel times ``(k, p)`` to snapped points, entering their edge from either end.

        A point at fraction ``f`` along edge ``u -> v`` is reached at
        ``min(t[u] + f * w(u, v), t[v] + (1 - f) * w(v, u))``, the second term only when the
        road runs both ways.
        """
        edge = snaps["edge"].to_numpy(np.int64)
        frac = snaps["frac"].to_numpy(np.float64)
        u, v = self.edge_uv[edge, 0], self.edge_uv[edge, 1]
        from_u = node_times[:, u] + frac * self.edge_weight[edge]
        back = self.reverse_weight[edge]
        from_v = np.where(np.isfinite(back), node_times[:, v] + (1.0 - frac) * np.nan_to_num(back), np.inf)
        return np.minimum(from_u, from_v)

    def one_to_all(self, sources: IntArray, *, cutoff: float | None = None) -> FloatArray:
        """Travel from each source position to every node: ``(len(sources), n)``, inf beyond reach."""
        if len(sources) == 0:
            return np.empty((0, self.n_nodes), np.float64)
        limit = np.inf if cutoff is None else float(cutoff)
        return np.atleast_2d(dijkstra(self.csr, directed=True, indices=sources, limit=limit))

    def nearest(self, sources: IntArray, *, cutoff: float | None = None) -> tuple[FloatArray, IntArray]:
        """Travel from the nearest source to every node, and which source (index into ``sources``).

        Unreached nodes get ``inf`` and source ``-1``.
        """
        n = self.n_nodes
        if len(sources) == 0:
            return np.full(n, np.inf), np.full(n, -1, np.int64)
        limit = np.inf if cutoff is None else float(cutoff)
        dist, _, origin = dijkstra(
            self.csr, directed=True, indices=sources, limit=limit, min_only=True, return_predecessors=True
        )
        which = np.full(n, -1, np.int64)
        reached = origin >= 0
        # several sources may share a node: report the first of them
        first = pd.Series(np.arange(len(sources))).groupby(np.asarray(sources)).min()
        which[reached] = first.reindex(origin[reached]).to_numpy()
        return dist, which

    def many_to_many(self, sources: IntArray, targets: IntArray, *, chunk_size: int = 64) -> FloatArray:
        """Travel from source to target positions, ``(len(sources), len(targets))``, in chunks.

        Each chunk runs ``chunk_size`` one-to-all searches and keeps only the target
        columns, so memory stays at ``chunk_size x n`` floats whatever the number of sources.
        """
        out = np.empty((len(sources), len(targets)), np.float64)
        step = max(1, int(chunk_size))
        for start in range(0, len(sources), step):
            out[start : start + step] = self.one_to_all(sources[start : start + step])[:, targets]
        return out


def _signature(graph: Graph) -> tuple[int, int]:
    """Node and edge counts (parallel edges included) of a graph, counted at C speed.

    ``graph.number_of_edges()`` walks a multigraph's edges in Python (0.15 s for 400k edges,
    paid on every cache lookup); summing the sizes of the adjacency dicts gives the same count.
    """
    if not graph.is_directed():  # rejected by _build; let networkx count
        return (graph.number_of_nodes(), graph.number_of_edges())
    succ = graph._succ  # networkx's dict of dicts {u: {v: {key: data}}} / {u: {v: data}}
    if graph.is_multigraph():
        n_edges = sum(map(len, chain.from_iterable(map(dict.values, succ.values()))))
    else:
        n_edges = sum(map(len, succ.values()))
    return (graph.number_of_nodes(), n_edges)


def road_matrix(graph: Graph, *, weight: str = "travel_time_s") -> RoadMatrix:
    """Export ``graph`` to a :class:`RoadMatrix`, cached per graph and weight.

    The cache is keyed by the graph object and checked against its node and edge counts;
    rebuild after changing edge weights in place by passing a copy of the graph.

    Parameters
    ----------
    graph
        networkx DiGraph or MultiDiGraph whose nodes have ``x`` and ``y`` (or not: then the
        coordinates are NaN and only travel times work).
    weight
        Edge attribute to minimise; it must be present, finite and not negative on every edge.

    Raises
    ------
    NetworkError
        For an empty graph, an undirected graph, or missing / negative weights.

    Examples
    --------
    >>> graph = nx.MultiDiGraph()
    >>> graph.add_edge("a", "b", travel_time_s=10.0); graph.add_edge("a", "b", travel_time_s=4.0)
    0
    1
    >>> m = road_matrix(graph)
    >>> m.csr.toarray().tolist(), m.nodes.tolist()
    ([[0.0, 4.0], [0.0, 0.0]], ['a', 'b'])
    >>> road_matrix(graph) is m
    True
    """
    per_graph = _CACHE.setdefault(graph, {})
    sig = _signature(graph)
    hit = per_graph.get(weight)
    if hit is not None and hit[0] == sig:
        return hit[1]
    matrix = _build(graph, weight)
    per_graph[weight] = (sig, matrix)
    return matrix


def _build(graph: Graph, weight: str) -> RoadMatrix:
    if not graph.is_directed():
        msg = (
            "The road graph is undirected. Fix: pass a networkx DiGraph or MultiDiGraph (travel is directed)."
        )
        raise NetworkError(msg)
    if graph.number_of_nodes() == 0:
        msg = "The road graph has no nodes. Fix: build it from a road layer with `gis.graph_from_lines`."
        raise NetworkError(msg)
    nodes = np.empty(graph.number_of_nodes(), dtype=object)
    nodes[:] = list(graph.nodes)
    index = pd.Index(nodes)
    xy = np.array(
        [(d.get("x", np.nan), d.get("y", np.nan)) for _, d in graph.nodes(data=True)], dtype=np.float64
    ).reshape(-1, 2)
    if graph.is_multigraph():
        edges = list(graph.edges(keys=True, data=weight))
        keys = np.array([k for _, _, k, _ in edges], dtype=object)
    else:
        edges = [(u, v, 0, w) for u, v, w in graph.edges(data=weight)]
        keys = np.zeros(len(edges), dtype=object)
    uv = index.get_indexer(np.array([e[:2] for e in edges], dtype=object).reshape(-1, 2).ravel())
    uv = np.asarray(uv, np.int64).reshape(-1, 2)
    w = pd.to_numeric(pd.Series([e[3] for e in edges], dtype=object), errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        shown = [edges[i][:3] for i in np.flatnonzero(bad)[:5]]
        msg = (
            f"{int(bad.sum())} road edge(s) have a missing, negative or non-finite `{weight}`, "
            f"for example {shown}. Fix: compute `{weight}` on every edge (gis.graph_from_lines does)."
        )
        raise NetworkError(msg)
    n = len(nodes)
    # fastest parallel edge per (u, v); explicit zeros stay edges in scipy's csgraph
    order = np.lexsort((w, uv[:, 1], uv[:, 0]))
    su, sv, sw = uv[order, 0], uv[order, 1], w[order]
    first = np.ones(len(su), bool)
    first[1:] = (su[1:] != su[:-1]) | (sv[1:] != sv[:-1])
    su, sv, sw = su[first], sv[first], sw[first]
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(su, minlength=n), out=indptr[1:])
    csr = sp.csr_matrix((sw, sv.astype(np.int32), indptr), shape=(n, n))
    _, labels = connected_components(csr, directed=True, connection="strong")
    labels = labels.astype(np.int64)
    main = int(np.bincount(labels).argmax())
    log.debug("road matrix: %d nodes, %d edges (%d after merging parallels)", n, len(w), len(sw))
    return RoadMatrix(
        csr=csr,
        nodes=nodes,
        xy=xy,
        edge_uv=uv,
        edge_key=keys,
        edge_weight=w,
        weight=weight,
        crs=graph.graph.get("crs"),
        component=labels,
        main_component=main,
        _index=index,
        _graph=weakref.ref(graph),
    )


def travel_times(
    graph: Graph,
    sources: Sequence[Hashable] | npt.ArrayLike,
    *,
    weight: str = "travel_time_s",
    cutoff_s: float | None = None,
) -> FloatArray:
    """Travel time from each source node to every node of ``graph``.

    Parameters
    ----------
    graph
        Road graph (networkx DiGraph or MultiDiGraph).
    sources
        Source node labels (stations).
    weight
        Edge attribute to minimise.
    cutoff_s
        Stop searching beyond this time; farther nodes get ``inf``.

    Returns
    -------
    numpy.ndarray
        ``(len(sources), graph.number_of_nodes())`` seconds, columns in ``list(graph.nodes)`` order,
        ``inf`` where unreachable.

    Examples
    --------
    >>> graph = nx.MultiDiGraph()
    >>> nx.add_path(graph, [0, 1, 2], travel_time_s=30.0)
    >>> travel_times(graph, [0, 1]).tolist()
    [[0.0, 30.0, 60.0], [inf, 0.0, 30.0]]
    >>> travel_times(graph, [0], cutoff_s=45).tolist()
    [[0.0, 30.0, inf]]
    """
    m = road_matrix(graph, weight=weight)
    return m.one_to_all(m.positions(np.asarray(sources, dtype=object).tolist()), cutoff=cutoff_s)


def nearest_sources(
    graph: Graph,
    sources: Sequence[Hashable] | npt.ArrayLike,
    *,
    weight: str = "travel_time_s",
    cutoff_s: float | None = None,
) -> tuple[FloatArray, IntArray]:
    """Travel time from the nearest source to every node, and which source it is.

    Returns
    -------
    tuple of numpy.ndarray
        ``travel_time_s`` (``inf`` where unreachable) and ``source``, the index into
        ``sources`` of the nearest one (``-1`` where unreachable), both in ``list(graph.nodes)`` order.

    Examples
    --------
    >>> graph = nx.MultiDiGraph()
    >>> nx.add_path(graph, [0, 1, 2, 3], travel_time_s=10.0)
    >>> t, s = nearest_sources(graph, [0, 2])
    >>> t.tolist(), s.tolist()
    ([0.0, 10.0, 0.0, 10.0], [0, 0, 1, 1])
    """
    m = road_matrix(graph, weight=weight)
    return m.nearest(m.positions(np.asarray(sources, dtype=object).tolist()), cutoff=cutoff_s)


def many_to_many(
    graph: Graph,
    sources: Sequence[Hashable] | npt.ArrayLike,
    targets: Sequence[Hashable] | npt.ArrayLike,
    *,
    weight: str = "travel_time_s",
    chunk_size: int = 64,
) -> FloatArray:
    """Travel times from every source to every target node, ``(len(sources), len(targets))``.

    Sources are searched ``chunk_size`` at a time so memory stays bounded.

    Examples
    --------
    >>> graph = nx.MultiDiGraph()
    >>> nx.add_path(graph, [0, 1, 2], travel_time_s=5.0)
    >>> many_to_many(graph, [0, 1], [2, 0], chunk_size=1).tolist()
    [[10.0, 0.0], [5.0, inf]]
    """
    m = road_matrix(graph, weight=weight)
    src = m.positions(np.asarray(sources, dtype=object).tolist())
    dst = m.positions(np.asarray(targets, dtype=object).tolist(), what="target nodes")
    return m.many_to_many(src, dst, chunk_size=chunk_size)


def snap_layer(
    graph: nx.MultiDiGraph,
    features: Any,
    *,
    layer: str = "points",
    max_snap_m: float | None = None,
    weight: str = "travel_time_s",
) -> pd.DataFrame:
    """Snap features to the nearest road edge (one STRtree per graph, reused by every layer).

    Polygons and lines are represented by a point inside them. Features farther than
    ``max_snap_m`` from every road are ``flagged`` (never dropped).

    Returns
    -------
    pandas.DataFrame
        On the features' index: ``node``, ``snap_distance_m``, ``flagged``, ``edge``, ``frac``,
        ``along_m``; ``attrs`` holds ``max_snap_m`` and ``layer``.

    Raises
    ------
    CRSError
        When the features have no CRS.
    InputError
        For missing or empty geometries.

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from gis import graph_from_lines
    >>> graph = graph_from_lines(city["roads"])
    >>> snap_layer(graph, city["fire_stations"], layer="fire_stations")["flagged"].tolist()
    [False, False, False, False, False, False]
    """
    return _snap_layer(road_matrix(graph, weight=weight), features, layer=layer, max_snap_m=max_snap_m)


def _snap_layer(m: RoadMatrix, features: Any, *, layer: str, max_snap_m: float | None) -> pd.DataFrame:
    """:func:`snap_layer` on a road matrix already looked up."""
    if max_snap_m is None:
        max_snap_m = default_max_snap_m()
    where = f"layer `{layer}`"
    index, pts, geoms = snap_targets(features, m.crs if m.crs is not None else features.crs, where=where)
    out = m.snap(pts).set_index(index)
    out["road_distance_m"] = road_distances(geoms, pts, out["snap_distance_m"].to_numpy(), m.edge_tree)
    return flag_far(out, max_snap_m, where=where, layer=layer)


def snap_stations(
    graph: nx.MultiDiGraph,
    stations: Any,
    *,
    max_snap_m: float | None = None,
    layer: str = "fire_stations",
    weight: str = "travel_time_s",
) -> pd.DataFrame:
    """Snap stations to ``graph`` and check that every one can reach the whole network.

    Parameters
    ----------
    graph
        Road graph in a metric CRS (from :mod:`gis.network`).
    stations
        Station points (GeoDataFrame or GeoSeries with a CRS), indexed by station id.
    max_snap_m
        Largest allowed distance from a station to the nearest road (default: the
        ``road_speeds.toml`` value, 500 m).
    layer
        Layer name for messages.
    weight
        Edge weight of the travel-time engine.

    Returns
    -------
    pandas.DataFrame
        :func:`snap_layer` output on the stations' index.

    Raises
    ------
    InputError
        When there are no stations.
    SnapError
        When stations lie farther than ``max_snap_m`` from every road (ids and distances listed).
    NetworkError
        When a station sits on a part of the network cut off from the rest.

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from gis import graph_from_lines
    >>> graph = graph_from_lines(city["roads"])
    >>> snap_stations(graph, city["fire_stations"].set_index("id"))["node"].size
    6
    """
    return _snap_stations(
        road_matrix(graph, weight=weight), graph, stations, max_snap_m=max_snap_m, layer=layer
    )


def _snap_stations(
    m: RoadMatrix, graph: Graph, stations: Any, *, max_snap_m: float | None, layer: str
) -> pd.DataFrame:
    """:func:`snap_stations` on a road matrix already looked up."""
    from gis.errors import InputError, SnapError
    from gis.snap import require_snapped

    if stations is None or len(stations) == 0:
        msg = (
            f"Layer `{layer}` has no stations, so no response time can be computed. "
            "Fix: add at least one fire station to the scenario."
        )
        raise InputError(msg)
    snaps = _snap_layer(m, stations, layer=layer, max_snap_m=max_snap_m)
    try:
        require_snapped(snaps, layer=layer)
    except SnapError as exc:
        report = graph.graph.get("report")
        hint = ""
        if getattr(report, "n_dropped_nodes", 0):
            hint = (
                f" Note: {report.n_dropped_nodes:,} road nodes were dropped as disconnected from the "
                "main network; a station on such a road is far from every kept road."
            )
        raise SnapError(f"{exc}{hint}") from None
    pos = m.positions(snaps["node"].tolist())
    cut_off = m.component[pos] != m.main_component
    if cut_off.any():
        sizes = np.bincount(m.component)
        shown = ", ".join(
            f"{sid} (node {node}, reaches a part of {sizes[m.component[p]]:,} of {m.n_nodes:,} nodes)"
            for sid, node, p in zip(
                snaps.index[cut_off][:10], snaps["node"][cut_off][:10], pos[cut_off][:10], strict=True
            )
        )
        msg = (
            f"Layer `{layer}`: station(s) {shown} lie on a part of the road network cut off from the "
            "rest (not in its largest strongly connected component). Fix: connect that road to the "
            "network (check `oneway` tags), move the station, or build the graph with "
            "`keep_largest=True`."
        )
        raise NetworkError(msg)
    return snaps
