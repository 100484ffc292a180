"""The travel-time engine: the road graph exported once to a sparse matrix, Dijkstra in C.

:func:`road_matrix` turns a :class:`~gis.network.RoadGraph` (or a networkx (Multi)DiGraph,
converted by :func:`gis.network.as_road_graph`) into a :class:`RoadMatrix`, straight from its
arrays: a CSR matrix of the fastest parallel edge between each pair of nodes, plus the edge
arrays and node coordinates, cached per graph and edge weight. Every search runs in
:func:`scipy.sparse.csgraph.dijkstra`: one-to-all with a cutoff, multi-source nearest with the
source identified, and many-to-many in chunks that bound memory. Travel is directed, from the
sources (stations, candidate sites, depots) to the targets (nodes, communities, incidents).
:func:`cost_matrix` is the one builder of the cost matrices of point layers that the location
models, station plans and depot plans solve on.

Every matrix of :mod:`planning` has one orientation, :data:`TargetsBySources`: one row per
target (the place reached), one column per source (the place travelled from), like the demand x
candidate matrices of :mod:`planning.location`.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, dijkstra

from gis.errors import InputError, NetworkError
from gis.network.graph import RoadGraph, as_road_graph
from gis.snap import nearest_distances
from gis.tables import TableOverrides

from .names import DISTANCES, Distance

if TYPE_CHECKING:
    import geopandas as gpd
    import shapely

    from gis.network.graph import GraphLike

__all__ = [
    "CHUNK_FLOATS",
    "RoadMatrix",
    "TargetsBySources",
    "cost_matrix",
    "lowest_nearest",
    "many_to_many",
    "nearest_edges",
    "nearest_sources",
    "road_matrix",
    "travel_times",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
#: A matrix of travel times or costs, ``(targets, sources)``: row ``i`` is the target reached
#: (road node, demand point, community), column ``j`` the source travelled from (station,
#: candidate site, depot). The one orientation of every matrix in :mod:`planning`.
TargetsBySources: TypeAlias = npt.NDArray[np.float64]

_CACHE: weakref.WeakKeyDictionary[RoadGraph, dict[str, RoadMatrix]] = weakref.WeakKeyDictionary()

#: Travel times held at once by :func:`cost_matrix`'s searches (sources x nodes): 128 MB.
CHUNK_FLOATS = 16 * 1024 * 1024


@dataclass(frozen=True, eq=False)
class RoadMatrix:
    """A road graph as arrays: what every travel-time search runs on.

    Build it with :func:`road_matrix`. Node *positions* ``0..n-1`` are the graph's
    (:attr:`gis.network.RoadGraph.nodes`, or ``list(G.nodes)`` of a networkx graph);
    :meth:`positions` maps node labels to them. Edges are the graph's, in its order. Its
    searches return :data:`TargetsBySources` matrices: one row per node (or point) reached,
    one column per source.

    Attributes
    ----------
    csr
        ``n x n`` CSR matrix of the cost of the fastest edge from row to column node (the
        graph's adjacency, not a travel-time matrix).
    nodes
        Node labels by position (``0..n-1`` for the graphs of :mod:`gis.network`).
    xy
        ``(n, 2)`` node coordinates in the graph CRS (metres).
    edge_uv
        ``(m, 2)`` positions of the ends of every edge of the graph (parallel edges kept).
    edge_key
        Multigraph key of every edge (0 for a DiGraph).
    edge_cost
        Cost of every edge: its ``edge_weight`` attribute (seconds for ``travel_time_s``).
    edge_weight
        Name of the edge attribute minimised.
    crs
        The graph CRS, or None.
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
    edge_cost: FloatArray
    edge_weight: str
    crs: Any
    component: IntArray
    main_component: int
    _index: pd.Index
    _graph: weakref.ReferenceType[RoadGraph]

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

    @property
    def graph(self) -> RoadGraph:
        """The road graph of this matrix (held weakly: the cache of matrices does not keep it alive)."""
        graph = self._graph()
        if graph is None:
            msg = (
                "The road graph of this RoadMatrix is gone. "
                "Fix: keep a reference to the graph while using its matrix."
            )
            raise NetworkError(msg)
        return graph

    @property
    def edge_geometry(self) -> npt.NDArray[np.object_]:
        """Shapely LineString of every edge (:meth:`gis.network.RoadGraph.edge_geometries`)."""
        return self.graph.edge_geometries()

    @property
    def edge_tree(self) -> shapely.STRtree:
        """A shapely STRtree over :attr:`edge_geometry` (built once per graph's lines)."""
        return self.graph.edge_tree()

    @cached_property
    def reverse_cost(self) -> FloatArray:
        """Cost of the fastest edge back from ``v`` to ``u`` for every edge (inf on one-way roads)."""
        return self.reverse_costs(np.arange(len(self.edge_uv)))

    @cached_property
    def _keys(self) -> tuple[IntArray, FloatArray]:
        """The CSR's ``(u * n + v)`` keys, ascending, and their costs."""
        n = np.int64(self.n_nodes)
        coo = self.csr.tocoo()
        keys = coo.row.astype(np.int64) * n + coo.col
        data = coo.data
        if len(keys) > 1 and not bool((keys[1:] > keys[:-1]).all()):  # built in order: no sort needed
            order = np.argsort(keys)
            keys, data = keys[order], data[order]
        return keys, data

    def reverse_costs(self, edges: IntArray) -> FloatArray:
        """:attr:`reverse_cost` of the given edges only (the edges places are snapped to), same values."""
        keys, data = self._keys
        uv = self.edge_uv[np.asarray(edges, dtype=np.int64)]
        want = uv[:, 1] * np.int64(self.n_nodes) + uv[:, 0]
        at = np.minimum(np.searchsorted(keys, want), max(len(keys) - 1, 0))
        found = keys[at] == want if len(keys) else np.zeros(len(want), bool)
        return np.where(found, data[at] if len(keys) else np.inf, np.inf)

    def _snap(
        self,
        points: npt.NDArray[np.object_],
        found: tuple[IntArray, FloatArray, FloatArray, FloatArray] | None = None,
    ) -> pd.DataFrame:
        """Snap shapely points (graph CRS) to their nearest edge: the columns of :func:`planning.snap_points`.

        ``node`` (the end of the edge nearer the snapped position, along the edge),
        ``snap_distance_m`` (point to the edge), ``node_distance_m`` (point to ``node``), ``u``,
        ``v``, ``key`` (the edge), ``along_m`` (from ``u`` to the snapped position), ``edge`` (row of
        the edge arrays) and ``frac`` (``along_m`` as a share of the edge length), one row per point.
        ``found`` is :func:`nearest_edges` of the points when already computed (on Dask workers).
        """
        import shapely

        if len(points) == 0:
            empty = np.empty(0, dtype=np.float64)
            labels = self.nodes[:0]
            return pd.DataFrame(
                {
                    "node": labels,
                    "snap_distance_m": empty,
                    "node_distance_m": empty,
                    "u": labels,
                    "v": labels,
                    "key": self.edge_key[:0],
                    "along_m": empty,
                    "edge": np.empty(0, dtype=np.int64),
                    "frac": empty,
                }
            ).infer_objects()
        edge, dist, along, frac = (
            nearest_edges(self.edge_geometry, self.edge_tree, points) if found is None else found
        )
        u, v = self.edge_uv[edge, 0], self.edge_uv[edge, 1]
        end = np.where(frac > 0.5, v, u)
        return pd.DataFrame(
            {
                "node": self.nodes[end],
                "snap_distance_m": dist,
                "node_distance_m": np.hypot(*(shapely.get_coordinates(points) - self.xy[end]).T),
                "u": self.nodes[u],
                "v": self.nodes[v],
                "key": self.edge_key[edge],
                "along_m": along,
                "edge": edge,
                "frac": frac,
            }
        ).infer_objects()

    def point_times(self, node_times: TargetsBySources, snaps: pd.DataFrame) -> TargetsBySources:
        """Travel times ``(p, k)`` to snapped points from ``node_times`` ``(n, k)``.

        Each point's edge is entered from either end.

        A point at fraction ``f`` along edge ``u -> v`` is reached at
        ``min(t[u] + f * w(u, v), t[v] + (1 - f) * w(v, u))``, the second term only when the
        road runs both ways.
        """
        edge = snaps["edge"].to_numpy(np.int64)
        frac = snaps["frac"].to_numpy(np.float64)[:, None]
        u, v = self.edge_uv[edge, 0], self.edge_uv[edge, 1]
        from_u = node_times[u] + frac * self.edge_cost[edge][:, None]
        back = self.reverse_costs(edge)[:, None]
        from_v = np.where(np.isfinite(back), node_times[v] + (1.0 - frac) * np.nan_to_num(back), np.inf)
        return np.minimum(from_u, from_v)

    def one_to_all(self, sources: IntArray, *, cutoff: float | None = None) -> TargetsBySources:
        """Travel from each source position to every node: ``(n, len(sources))``, inf beyond reach."""
        if len(sources) == 0:
            return np.empty((self.n_nodes, 0), np.float64)
        limit = np.inf if cutoff is None else float(cutoff)
        return np.atleast_2d(dijkstra(self.csr, directed=True, indices=sources, limit=limit)).T

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

    def many_to_many(self, sources: IntArray, targets: IntArray, *, chunk_size: int = 64) -> TargetsBySources:
        """Travel from source to target positions, ``(len(targets), len(sources))``, in chunks.

        Each chunk runs ``chunk_size`` one-to-all searches and keeps only the target
        rows, so memory stays at ``chunk_size x n`` floats whatever the number of sources.
        """
        out = np.empty((len(targets), len(sources)), np.float64)
        step = max(1, int(chunk_size))
        for start in range(0, len(sources), step):
            out[:, start : start + step] = self.one_to_all(sources[start : start + step])[targets]
        return out


def nearest_edges(
    geoms: npt.NDArray[np.object_], tree: shapely.STRtree, points: npt.NDArray[np.object_]
) -> tuple[IntArray, FloatArray, FloatArray, FloatArray]:
    """The nearest edge of each point: ``(edge, distance, along, frac)``, the arithmetic of every snap.

    ``geoms`` are the edge lines and ``tree`` their STRtree (:meth:`gis.network.RoadGraph.edge_shapes`);
    ``along`` is the distance along the edge from its start to the point's projection and
    ``frac`` that as a share of the edge's length. Each point is answered on its own, so any
    split of the points into chunks gives the same rows. Of edges equally near (the two
    directions of a two-way road, a point halfway between roads) the lowest-numbered is taken
    (:func:`lowest_nearest`): one fixed rule, so a split of the edges gives the same rows too.

    Examples
    --------
    >>> import shapely
    >>> lines = np.array([shapely.LineString([(0, 0), (10, 0)]), shapely.LineString([(0, 5), (0, 9)])])
    >>> e, d, a, f = nearest_edges(lines, shapely.STRtree(lines), shapely.points([[4.0, 1.0]]))
    >>> e.tolist(), d.tolist(), a.tolist(), f.tolist()
    ([0], [1.0], [4.0], [0.4])
    """
    import shapely

    _, edge, dist = lowest_nearest(tree, points)
    lines = geoms[edge]
    along = shapely.line_locate_point(lines, points)
    length = shapely.length(lines)
    frac = np.divide(along, length, out=np.zeros_like(along), where=length > 0)
    return edge.astype(np.int64, copy=False), dist, along, frac


def lowest_nearest(
    tree: shapely.STRtree, points: npt.NDArray[np.object_], *, max_distance: float | None = None
) -> tuple[IntArray, IntArray, FloatArray]:
    """The nearest tree geometry of each point, the lowest-numbered of those equally near.

    Returns ``(inputs, item, distance)`` for the points that have one (all of them unless
    ``max_distance`` left some out), inputs ascending. GEOS's ``query_nearest(all_matches=True)``
    does not always list every equally near geometry (its search prunes branches that only tie),
    so the nearest distance is taken from it and the ties from every geometry within that
    distance (``query(predicate="dwithin")``, then the same distance).

    Examples
    --------
    >>> import shapely
    >>> lines = np.array([shapely.LineString([(0, 1), (9, 1)]), shapely.LineString([(9, -1), (0, -1)])])
    >>> w, i, d = lowest_nearest(shapely.STRtree(lines[::-1]), shapely.points([[4.0, 0.0], [4.0, 5.0]]))
    >>> w.tolist(), i.tolist(), d.tolist()
    ([0, 1], [0, 1], [1.0, 4.0])
    """
    which, dist, item = nearest_distances(tree, points, max_distance=max_distance, items=True)
    return which, item, dist


def road_matrix(graph: GraphLike, *, edge_weight: str = "travel_time_s") -> RoadMatrix:
    """Export ``graph`` to a :class:`RoadMatrix`, straight from its arrays; cached per graph and weight.

    A :class:`~gis.network.RoadGraph` is frozen, so its matrix is built once per edge weight;
    a graph with other weights (:meth:`~gis.network.RoadGraph.with_travel_times`) gets its own.
    A networkx graph is converted first (:func:`gis.network.as_road_graph`, cached and redone
    when its node or edge count changes; after changing weights in place, pass a copy).

    Parameters
    ----------
    graph
        Road graph, or a networkx DiGraph or MultiDiGraph whose nodes have ``x`` and ``y`` (or
        not: then the coordinates are NaN and only travel times work).
    edge_weight
        Edge attribute to minimise; it must be present, finite and not negative on every edge.

    Raises
    ------
    NetworkError
        For an empty graph, an undirected graph, or missing / negative weights.

    Examples
    --------
    >>> import networkx as nx
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
    road = as_road_graph(graph)
    per_graph = _CACHE.setdefault(road, {})
    hit = per_graph.get(edge_weight)
    if hit is not None:
        return hit
    matrix = per_graph[edge_weight] = _build(road, edge_weight)
    return matrix


def _weights(graph: RoadGraph, weight: str) -> FloatArray:
    values = graph.edge_attribute(weight)
    if values.dtype.kind == "f":
        return np.asarray(values, dtype=np.float64)
    numbers = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
    return numbers.to_numpy(np.float64, na_value=np.nan)


def _build(graph: RoadGraph, weight: str) -> RoadMatrix:
    n = graph.n_nodes
    if n == 0:
        msg = "The road graph has no nodes. Fix: build it from a road layer with `gis.graph_from_lines`."
        raise NetworkError(msg)
    nodes = graph.nodes
    index = pd.RangeIndex(n) if graph.labels is None else pd.Index(nodes)
    uv = np.column_stack([graph.sources, graph.targets]).astype(np.int64).reshape(-1, 2)
    w = _weights(graph, weight)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        at = np.flatnonzero(bad)[:5]
        shown = list(
            zip(nodes[uv[at, 0]].tolist(), nodes[uv[at, 1]].tolist(), graph.key[at].tolist(), strict=True)
        )
        msg = (
            f"{int(bad.sum())} road edge(s) have a missing, negative or non-finite `{weight}`, "
            f"for example {shown}. Fix: compute `{weight}` on every edge (gis.graph_from_lines does)."
        )
        raise NetworkError(msg)
    # fastest parallel edge per (u, v), rows and columns in order; explicit zeros stay edges in
    # scipy's csgraph. One sort of the (u, v) keys and a minimum per run of equal keys (a lexsort
    # over (u, v, w) gives the same arrays at several times the cost on 11 M edges)
    key = uv[:, 0] * np.int64(n) + uv[:, 1]
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    first = np.ones(len(sorted_key), bool)
    first[1:] = sorted_key[1:] != sorted_key[:-1]
    starts = np.flatnonzero(first)
    sw = np.minimum.reduceat(w[order], starts) if len(starts) else w[:0]
    su, sv = np.divmod(sorted_key[starts], np.int64(n))
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
        xy=graph.node_xy,
        edge_uv=uv,
        edge_key=graph.key,
        edge_cost=w,
        edge_weight=weight,
        crs=graph.crs,
        component=labels,
        main_component=main,
        _index=index,
        _graph=weakref.ref(graph),
    )


def travel_times(
    graph: GraphLike,
    sources: Sequence[Hashable] | npt.ArrayLike,
    *,
    edge_weight: str = "travel_time_s",
    cutoff_s: float | None = None,
) -> TargetsBySources:
    """Travel time from each source node to every node of ``graph``.

    Parameters
    ----------
    graph
        Road graph (:class:`~gis.network.RoadGraph`, or a networkx DiGraph or MultiDiGraph).
    sources
        Source node labels (stations).
    edge_weight
        Edge attribute to minimise.
    cutoff_s
        Stop searching beyond this time; farther nodes get ``inf``.

    Returns
    -------
    TargetsBySources
        ``(n_nodes, len(sources))`` seconds, rows in node order (``graph.nodes``),
        one column per source, ``inf`` where unreachable.

    Examples
    --------
    >>> import networkx as nx
    >>> graph = nx.MultiDiGraph()
    >>> nx.add_path(graph, [0, 1, 2], travel_time_s=30.0)
    >>> travel_times(graph, [0, 1]).tolist()
    [[0.0, inf], [30.0, 0.0], [60.0, 30.0]]
    >>> travel_times(graph, [0], cutoff_s=45).tolist()
    [[0.0], [30.0], [inf]]
    """
    m = road_matrix(graph, edge_weight=edge_weight)
    return m.one_to_all(m.positions(np.asarray(sources, dtype=object).tolist()), cutoff=cutoff_s)


def nearest_sources(
    graph: GraphLike,
    sources: Sequence[Hashable] | npt.ArrayLike,
    *,
    edge_weight: str = "travel_time_s",
    cutoff_s: float | None = None,
) -> tuple[FloatArray, IntArray]:
    """Travel time from the nearest source to every node, and which source it is.

    Returns
    -------
    tuple of numpy.ndarray
        ``travel_time_s`` (``inf`` where unreachable) and ``source``, the index into
        ``sources`` of the nearest one (``-1`` where unreachable), both in node order.

    Examples
    --------
    >>> import networkx as nx
    >>> graph = nx.MultiDiGraph()
    >>> nx.add_path(graph, [0, 1, 2, 3], travel_time_s=10.0)
    >>> t, s = nearest_sources(graph, [0, 2])
    >>> t.tolist(), s.tolist()
    ([0.0, 10.0, 0.0, 10.0], [0, 0, 1, 1])
    """
    m = road_matrix(graph, edge_weight=edge_weight)
    return m.nearest(m.positions(np.asarray(sources, dtype=object).tolist()), cutoff=cutoff_s)


def many_to_many(
    graph: GraphLike,
    sources: Sequence[Hashable] | npt.ArrayLike,
    targets: Sequence[Hashable] | npt.ArrayLike,
    *,
    edge_weight: str = "travel_time_s",
    chunk_size: int = 64,
) -> TargetsBySources:
    """Travel times from every source to every target node, ``(len(targets), len(sources))``.

    Sources are searched ``chunk_size`` at a time so memory stays bounded. The matrix is
    :data:`TargetsBySources`, ready for the location models (targets as demand rows,
    sources as candidate columns).

    Examples
    --------
    >>> import networkx as nx
    >>> graph = nx.MultiDiGraph()
    >>> nx.add_path(graph, [0, 1, 2], travel_time_s=5.0)
    >>> many_to_many(graph, [0, 1], [2, 0], chunk_size=1).tolist()
    [[10.0, 5.0], [0.0, inf]]
    """
    m = road_matrix(graph, edge_weight=edge_weight)
    src = m.positions(np.asarray(sources, dtype=object).tolist())
    dst = m.positions(np.asarray(targets, dtype=object).tolist(), what="target nodes")
    return m.many_to_many(src, dst, chunk_size=chunk_size)


def _points(gdf: gpd.GeoDataFrame | gpd.GeoSeries) -> npt.NDArray[np.object_]:
    """One point per feature: the feature itself, or a point on its surface (lines, polygons)."""
    import shapely

    geoms = gdf.geometry.to_numpy()
    not_point = shapely.get_type_id(geoms) != 0
    if not_point.any():
        geoms = geoms.copy()
        geoms[not_point] = shapely.point_on_surface(geoms[not_point])
    return geoms


def cost_matrix(
    graph: GraphLike | None,
    sources: gpd.GeoDataFrame,
    targets: gpd.GeoDataFrame,
    *,
    turnout_s: float = 0.0,
    distance: Distance = "network",
    planning_norms: TableOverrides = None,
    chunk_size: int | None = None,
) -> TargetsBySources:
    """Time from every source (station, candidate, depot) to every target point, in seconds.

    The one builder of the cost matrices of point layers: station plans add the profile's
    turnout, depot plans use the travel alone (and divide by 3600 for hours). Lines and
    polygons are represented by a point on their surface.

    Parameters
    ----------
    graph
        Road graph for ``distance="network"``; may be None with ``"euclidean"``.
    sources, targets
        Point layers in the graph CRS (or any one metric CRS with ``"euclidean"``).
    turnout_s
        Seconds added to every finite entry (the turnout of a response profile).
    distance
        ``network``: turnout + road travel from the road node nearest each source to the
        target snapped on its edge (directed, one-way roads respected); ``euclidean``: turnout
        + straight-line distance x ``euclidean.detour_factor`` / ``euclidean.speed_kph`` of
        ``planning_norms.toml``.
    planning_norms
        Overrides of ``planning/data/planning_norms.toml`` (its ``[euclidean]`` speed and detour).
    chunk_size
        Sources searched at once (memory: ``chunk_size`` x nodes floats). Default: 64, or fewer
        on a graph of more than 262,144 nodes, to keep a chunk within :data:`CHUNK_FLOATS` floats
        (128 MB; the same matrix, searched in more, smaller chunks).

    Returns
    -------
    TargetsBySources
        ``(len(targets), len(sources))`` seconds; ``inf`` = unreachable.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import Point
    >>> src = gpd.GeoDataFrame(geometry=[Point(0, 0)], crs="EPSG:32649")
    >>> dem = gpd.GeoDataFrame(geometry=[Point(0, 0), Point(900, 0)], crs="EPSG:32649")
    >>> cost_matrix(None, src, dem, turnout_s=60, distance="euclidean").round(1).tolist()
    [[60.0], [159.7]]
    """
    import shapely

    from .siting import load_norms  # geopandas: imported when a cost matrix is built

    src_pts, dst_pts = _points(sources), _points(targets)
    if distance == "euclidean":
        eu = load_norms(planning_norms)["euclidean"]
        speed, detour = float(eu["speed_kph"]) / 3.6, float(eu["detour_factor"])
        dx = shapely.get_x(dst_pts)[:, None] - shapely.get_x(src_pts)[None, :]
        dy = shapely.get_y(dst_pts)[:, None] - shapely.get_y(src_pts)[None, :]
        return turnout_s + np.hypot(dx, dy) * detour / speed
    if distance != "network":
        msg = f"`distance` is {distance!r}. Fix: use one of {', '.join(DISTANCES)}."
        raise InputError(msg)
    if graph is None:
        msg = "`graph` is None but `distance='network'`. Fix: pass the road graph (gis.scenario_graph)."
        raise InputError(msg)
    m = road_matrix(graph)
    src_nodes = m.positions(m._snap(src_pts)["node"].tolist())
    dst_snaps = m._snap(dst_pts)
    if chunk_size is None:
        chunk_size = max(1, min(64, CHUNK_FLOATS // max(m.n_nodes, 1)))
    out = np.empty((len(dst_pts), len(src_pts)))
    for start in range(0, len(src_nodes), chunk_size):
        node_times = m.one_to_all(src_nodes[start : start + chunk_size])
        out[:, start : start + chunk_size] = m.point_times(node_times, dst_snaps)
    return turnout_s + out
