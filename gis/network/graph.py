"""The road graph as arrays: :class:`RoadGraph`, the graph model of every riskplan stage.

A :class:`RoadGraph` holds nodes (coordinates in a metric CRS, OSM ids) and directed edges
grouped by source node, CSR style (``indptr`` and ``targets``), with one array per edge
attribute and every edge's line packed GeoArrow style (``geometry_xy`` and
``geometry_offsets``). It is frozen and shares its arrays: :meth:`RoadGraph.with_travel_times`
gives the same roads with other weights without copying them. :meth:`RoadGraph.to_networkx`
gives the osmnx-compatible :class:`networkx.MultiDiGraph` described in :mod:`gis.network`,
and :meth:`RoadGraph.from_networkx` (or :func:`as_road_graph`, the one conversion every
function that takes a graph applies) reads one back, so osmnx-style graphs keep working.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj

from ..errors import InputError
from ._columns import EDGE_FIELDS, MISSING_ID, decode, none_where
from ._report import NetworkReport
from ._shapes import EdgeShapes

if TYPE_CHECKING:
    import geopandas as gpd
    import networkx as nx
    import shapely

__all__ = ["GraphLike", "RoadGraph", "as_road_graph"]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: What the functions that take a road graph accept: a RoadGraph, or a networkx (Multi)DiGraph
#: converted by :func:`as_road_graph`.
GraphLike: TypeAlias = "RoadGraph | nx.DiGraph | nx.MultiDiGraph"


@dataclass(frozen=True, eq=False)
class RoadGraph:
    """A directed road multigraph held as arrays, in a metric CRS.

    Build it with :mod:`gis.network` (:func:`gis.graph_from_lines`, :func:`gis.graph_from_osm`,
    ...). Nodes are the positions ``0..n-1`` (or the :attr:`labels` of a converted networkx
    graph); edges are the positions ``0..m-1``, grouped by source node: the edges leaving node
    ``i`` are ``indptr[i]:indptr[i + 1]``, in the order :meth:`to_networkx` iterates them. The
    arrays are shared, never copied: treat them as read-only.

    Attributes
    ----------
    node_xy
        ``(n, 2)`` node coordinates in :attr:`crs` (metres).
    indptr
        ``(n + 1,)`` offsets of each node's outgoing edges (CSR).
    targets
        ``(m,)`` target node of every edge.
    key
        ``(m,)`` multigraph key of every edge among the parallel edges with its ends (0, 1, ...).
    length_m, speed_kph, travel_time_s
        ``(m,)`` planar length, speed and travel time of every edge (NaN where unknown).
    highway
        Road class of every edge, dictionary-encoded (a :class:`pandas.Categorical`).
    oneway
        ``(m,)`` True where the road runs one way.
    osm_way_id
        ``(m,)`` OSM way id of every edge (:data:`MISSING_ID` where unknown).
    name
        Street name of every edge, dictionary-encoded.
    geometry_xy, geometry_offsets
        Every edge's full line, from its source to its target: the vertices of edge ``j`` are
        ``geometry_xy[geometry_offsets[j]:geometry_offsets[j + 1]]`` (GeoArrow style).
    crs
        The graph's CRS (metric), or None.
    source
        Name of the input.
    report
        What the build kept and dropped (None for a converted graph without one).
    osm_node_id
        ``(n,)`` OSM node id of every node (:data:`MISSING_ID` where unknown), or None.
    labels
        Node labels of a graph converted from networkx whose nodes are not ``0..n-1``, else None.
    node_attrs, edge_attrs
        Other node and edge attributes of a converted networkx graph, one array each.

    Examples
    --------
    >>> from gis.network import graph_from_osm
    >>> G = graph_from_osm("tests/fixtures/tiny_city.osm.xml")
    >>> G
    RoadGraph(10 nodes, 19 edges, crs=EPSG:32649, source='tests/fixtures/tiny_city.osm.xml')
    >>> first, last = G.indptr[2], G.indptr[3]  # the edges leaving node 2
    >>> G.targets[first:last].tolist(), G.highway[first:last].tolist()
    ([1, 3, 5], ['residential', 'residential', 'unclassified'])
    >>> G.length_m[first:last].round(1).tolist()
    [88.0, 88.0, 199.0]
    """

    node_xy: FloatArray
    indptr: IntArray
    targets: IntArray
    key: IntArray
    length_m: FloatArray
    speed_kph: FloatArray
    travel_time_s: FloatArray
    highway: pd.Categorical
    oneway: BoolArray
    osm_way_id: IntArray
    name: pd.Categorical
    geometry_xy: FloatArray
    geometry_offsets: IntArray
    crs: pyproj.CRS | None
    source: str | None = None
    report: NetworkReport | None = None
    osm_node_id: IntArray | None = None
    labels: npt.NDArray[Any] | None = None
    node_attrs: Mapping[str, npt.NDArray[Any]] = field(default_factory=lambda: MappingProxyType({}))
    edge_attrs: Mapping[str, npt.NDArray[Any]] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        n, m = len(self.node_xy), len(self.targets)
        sizes = {
            "indptr": (len(self.indptr), n + 1),
            "geometry_offsets": (len(self.geometry_offsets), m + 1),
            **{
                name: (len(getattr(self, name)), m)
                for name in ("key", "length_m", "speed_kph", "travel_time_s", "highway", "oneway")
            },
            **{name: (len(getattr(self, name)), m) for name in ("osm_way_id", "name")},
            **{f"edge_attrs[{k!r}]": (len(v), m) for k, v in self.edge_attrs.items()},
            **{f"node_attrs[{k!r}]": (len(v), n) for k, v in self.node_attrs.items()},
        }
        for name in ("osm_node_id", "labels"):
            if getattr(self, name) is not None:
                sizes[name] = (len(getattr(self, name)), n)
        bad = {k: v for k, v in sizes.items() if v[0] != v[1]}
        if bad or (n + 1 == len(self.indptr) and int(self.indptr[-1]) != m):
            shown = ", ".join(f"`{k}` has {got:,} (expected {want:,})" for k, (got, want) in bad.items())
            msg = (
                f"Inconsistent RoadGraph arrays for {n:,} nodes and {m:,} edges: "
                f"{shown or '`indptr[-1]` is not the number of edges'}. Fix: build the graph with "
                "gis.network, or derive it with `RoadGraph.with_travel_times`."
            )
            raise InputError(msg)
        object.__setattr__(self, "_shapes", EdgeShapes(self.geometry_xy, self.geometry_offsets))

    def __repr__(self) -> str:
        crs = self.crs.to_string() if self.crs is not None else None
        return f"RoadGraph({self.n_nodes:,} nodes, {self.n_edges:,} edges, crs={crs}, source={self.source!r})"

    # ------------------------------------------------------------------------ counts and labels

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.node_xy)

    @property
    def n_edges(self) -> int:
        """Number of directed edges (parallel edges counted)."""
        return len(self.targets)

    @property
    def nodes(self) -> npt.NDArray[Any]:
        """Node labels by position: ``0..n-1``, or the :attr:`labels` of a converted networkx graph."""
        return np.arange(self.n_nodes, dtype=np.int64) if self.labels is None else self.labels

    @cached_property
    def sources(self) -> IntArray:
        """``(m,)`` source node position of every edge (made from :attr:`indptr` on first use)."""
        out: IntArray = np.repeat(np.arange(self.n_nodes, dtype=np.int64), np.diff(self.indptr))
        return out

    def edge_attribute(self, name: str) -> npt.NDArray[Any]:
        """The array of edge attribute ``name``: a field such as ``length_m``, or one of :attr:`edge_attrs`.

        Examples
        --------
        >>> from gis.network import graph_from_osm
        >>> G = graph_from_osm("tests/fixtures/tiny_city.osm.xml")
        >>> G.edge_attribute("length_m") is G.length_m
        True
        """
        if name in self.edge_attrs:
            return self.edge_attrs[name]
        if name in ("length_m", "speed_kph", "travel_time_s", "oneway", "key"):
            out: npt.NDArray[Any] = getattr(self, name)
            return out
        if name in ("highway", "name"):
            return decode(getattr(self, name))
        if name == "osmid":
            return none_where(self.osm_way_id == MISSING_ID, self.osm_way_id)
        known = ["length_m", "speed_kph", "travel_time_s", "oneway", "highway", "name", "osmid"]
        msg = (
            f"The road graph has no edge attribute `{name}`: it has {[*known, *self.edge_attrs]}. "
            "Fix: pick one of them, or set another weight with `RoadGraph.with_travel_times`."
        )
        raise InputError(msg)

    # ------------------------------------------------------------------------------ geometry

    def edge_geometries(self) -> npt.NDArray[np.object_]:
        """Shapely LineString of every edge, made on first use and shared by re-weighted graphs.

        Examples
        --------
        >>> from gis.network import graph_from_osm
        >>> G = graph_from_osm("tests/fixtures/tiny_city.osm.xml")
        >>> geoms = G.edge_geometries()
        >>> len(geoms) == G.n_edges, bool(abs(geoms[0].length - G.length_m[0]) < 1e-6)
        (True, True)
        """
        return self._edge_shapes.geoms

    def edge_tree(self) -> shapely.STRtree:
        """A shapely STRtree over :meth:`edge_geometries` (built once, shared by re-weighted graphs).

        Examples
        --------
        >>> from gis.network import graph_from_osm
        >>> G = graph_from_osm("tests/fixtures/tiny_city.osm.xml")
        >>> G.edge_tree() is G.with_travel_times(G.travel_time_s).edge_tree()
        True
        """
        return self._edge_shapes.tree

    def edge_shapes(self) -> EdgeShapes:
        """The edges' lines and STRtree as one picklable object (only its arrays are pickled).

        Examples
        --------
        >>> from gis.network import graph_from_osm
        >>> G = graph_from_osm("tests/fixtures/tiny_city.osm.xml")
        >>> G.edge_shapes().tree is G.edge_tree()
        True
        """
        return self._edge_shapes

    @property
    def _edge_shapes(self) -> EdgeShapes:
        shapes: EdgeShapes = self.__dict__["_shapes"]
        return shapes

    @cached_property
    def own_geometry(self) -> BoolArray:
        """True where an edge's line is more than the straight segment between its nodes.

        These edges carry ``geometry`` in :meth:`to_networkx` and ``has_geometry`` in a
        GeoPackage: interior vertices, or ends that differ from the nodes' coordinates.
        """
        starts, ends = self.geometry_offsets[:-1], self.geometry_offsets[1:] - 1
        if self.n_edges == 0:
            return np.zeros(0, dtype=bool)
        first, last = self.geometry_xy[starts], self.geometry_xy[ends]
        a, b = self.node_xy[self.sources], self.node_xy[self.targets]
        same = ((first == a) | (np.isnan(first) & np.isnan(a))).all(axis=1)
        same &= ((last == b) | (np.isnan(last) & np.isnan(b))).all(axis=1)
        out: BoolArray = (ends - starts > 1) | ~same
        return out

    def edges_gdf(self) -> gpd.GeoDataFrame:
        """One row per edge: ``u``, ``v``, ``key``, the edge attributes and the line, in the graph CRS.

        Columns ``u``, ``v``, ``key`` (node labels and key), ``osmid``, ``highway``, ``name``
        (None where unknown), ``oneway``, ``length_m``, ``speed_kph``, ``travel_time_s``, the
        :attr:`edge_attrs` and ``geometry``; rows in edge order.

        Examples
        --------
        >>> from gis.network import graph_from_osm
        >>> edges = graph_from_osm("tests/fixtures/tiny_city.osm.xml").edges_gdf()
        >>> len(edges), edges.crs.to_epsg(), edges.columns[:4].tolist()
        (19, 32649, ['u', 'v', 'key', 'osmid'])
        """
        import geopandas as gpd

        nodes = self.nodes
        columns: dict[str, Any] = {"u": nodes[self.sources], "v": nodes[self.targets], "key": self.key}
        columns |= {name: self.edge_attribute(name) for name in EDGE_FIELDS}
        columns |= dict(self.edge_attrs)
        return gpd.GeoDataFrame(columns, geometry=self.edge_geometries(), crs=self.crs)

    def nodes_gdf(self) -> gpd.GeoDataFrame:
        """One point per node, indexed by node label (``node``): ``x``, ``y``, ``osmid`` when known.

        Examples
        --------
        >>> from gis.network import graph_from_osm
        >>> nodes = graph_from_osm("tests/fixtures/tiny_city.osm.xml").nodes_gdf()
        >>> nodes.index.name, nodes.columns.tolist()
        ('node', ['x', 'y', 'osmid', 'geometry'])
        """
        import geopandas as gpd

        columns: dict[str, Any] = {"x": self.node_xy[:, 0], "y": self.node_xy[:, 1]}
        if self.osm_node_id is not None:
            ids = self.osm_node_id
            columns["osmid"] = pd.array(none_where(ids == MISSING_ID, ids), dtype="Int64")
        columns |= dict(self.node_attrs)
        return gpd.GeoDataFrame(
            columns,
            geometry=gpd.points_from_xy(self.node_xy[:, 0], self.node_xy[:, 1]),
            index=pd.Index(self.nodes, name="node"),
            crs=self.crs,
        )

    # --------------------------------------------------------------------------- re-weighting

    def with_travel_times(self, travel_time_s: npt.ArrayLike) -> RoadGraph:
        """The same roads with other edge travel times (seconds), sharing every other array.

        For time-dependent travel (rush hour): the graph, its shapes and its snapping index are
        not rebuilt, only the travel-time engine's matrix for the new weights. ``speed_kph``
        keeps the speeds of the build.

        Raises
        ------
        InputError
            When ``travel_time_s`` is not one finite, non-negative value per edge.

        Examples
        --------
        >>> from gis.network import graph_from_osm
        >>> G = graph_from_osm("tests/fixtures/tiny_city.osm.xml")
        >>> slow = G.with_travel_times(G.travel_time_s * 2)
        >>> bool((slow.travel_time_s == 2 * G.travel_time_s).all()), slow.length_m is G.length_m
        (True, True)
        """
        times = np.asarray(travel_time_s, dtype=np.float64)
        if times.shape != (self.n_edges,):
            msg = (
                f"`travel_time_s` has shape {times.shape}; the graph has {self.n_edges:,} edges. "
                "Fix: give one time per edge, in edge order (`graph.travel_time_s` is one)."
            )
            raise InputError(msg)
        bad = ~np.isfinite(times) | (times < 0)
        if bad.any():
            msg = (
                f"`travel_time_s` has {int(bad.sum())} missing, negative or infinite values "
                f"(edges {np.flatnonzero(bad)[:10].tolist()}). Fix: give every edge a time >= 0 s; "
                "close a road by leaving it out of the graph instead."
            )
            raise InputError(msg)
        return self._replace(travel_time_s=times)

    def with_speeds(self, speed_kph: npt.ArrayLike) -> RoadGraph:
        """The same roads at other speeds: ``speed_kph`` and ``travel_time_s = length_m / speed``.

        Examples
        --------
        >>> from gis.network import graph_from_osm
        >>> G = graph_from_osm("tests/fixtures/tiny_city.osm.xml")
        >>> H = G.with_speeds(G.speed_kph)
        >>> bool((H.travel_time_s == G.travel_time_s).all())
        True
        """
        speed = np.asarray(speed_kph, dtype=np.float64)
        if speed.shape != (self.n_edges,) or not (np.isfinite(speed) & (speed > 0)).all():
            msg = (
                f"`speed_kph` must be one positive, finite speed per edge ({self.n_edges:,}). "
                "Fix: give a speed for every edge, in edge order (`graph.speed_kph` is one)."
            )
            raise InputError(msg)
        return self._replace(speed_kph=speed, travel_time_s=self.length_m / (speed / 3.6))

    def without_edges(self, edges: npt.ArrayLike) -> RoadGraph:
        """The same nodes without the edges at positions ``edges`` (closed roads, cut bridges).

        The other edges keep their attributes, keys and lines; nodes are kept, even when no
        edge is left at them (travel times to them become ``inf``).

        Examples
        --------
        >>> from gis.network import graph_from_osm
        >>> G = graph_from_osm("tests/fixtures/tiny_city.osm.xml")
        >>> H = G.without_edges([0, 1])
        >>> H.n_nodes, H.n_edges, bool((H.length_m == G.length_m[2:]).all())
        (10, 17, True)
        """
        drop = np.asarray(edges, dtype=np.int64).reshape(-1)
        if len(drop) and (drop.min() < 0 or drop.max() >= self.n_edges):
            msg = (
                f"`edges` holds positions outside 0..{self.n_edges - 1}. Fix: give edge "
                "positions, such as the index of `graph.edges_gdf()`."
            )
            raise InputError(msg)
        keep = np.ones(self.n_edges, dtype=bool)
        keep[drop] = False
        return self._subset(np.ones(self.n_nodes, dtype=bool), keep)

    def subgraph(self, nodes: npt.ArrayLike, *, source: str | None = None) -> RoadGraph:
        """The graph induced by ``nodes`` (a boolean mask or node positions), renumbered.

        Every edge with both ends among ``nodes`` is kept with its attributes, key and line;
        nodes keep their order, coordinates, OSM ids and attributes. ``source`` labels the
        result (default: this graph's).

        Examples
        --------
        >>> from gis.network import graph_from_osm
        >>> G = graph_from_osm("tests/fixtures/tiny_city.osm.xml")
        >>> H = G.subgraph(G.node_xy[:, 0] <= np.median(G.node_xy[:, 0]))
        >>> H.n_nodes < G.n_nodes and H.n_edges < G.n_edges
        True
        >>> G.subgraph(np.arange(G.n_nodes)).n_edges == G.n_edges
        True
        """
        sel = np.asarray(nodes)
        if sel.dtype == bool:
            if sel.shape != (self.n_nodes,):
                msg = f"A node mask needs one value per node ({self.n_nodes:,}). Fix: give one per node."
                raise InputError(msg)
            keep = sel
        else:
            pos = sel.astype(np.int64).reshape(-1)
            if len(pos) and (pos.min() < 0 or pos.max() >= self.n_nodes):
                msg = f"`nodes` holds positions outside 0..{self.n_nodes - 1}. Fix: give node positions."
                raise InputError(msg)
            keep = np.zeros(self.n_nodes, dtype=bool)
            keep[pos] = True
        out = self._subset(keep, keep[self.sources] & keep[self.targets])
        return out if source is None else out._replace(source=source)

    def _subset(self, nodes: npt.NDArray[np.bool_], edges: npt.NDArray[np.bool_]) -> RoadGraph:
        """The ``nodes`` (mask) and the ``edges`` (mask, both ends among ``nodes``), renumbered."""
        from ._csr import ragged_arange

        n = int(nodes.sum())
        new_id = np.cumsum(nodes, dtype=np.int64) - 1
        starts, counts = self.geometry_offsets[:-1][edges], np.diff(self.geometry_offsets)[edges]
        offsets = np.zeros(len(counts) + 1, np.int64)
        np.cumsum(counts, out=offsets[1:])
        indptr = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(new_id[self.sources[edges]], minlength=n), out=indptr[1:])
        fields = ("key", "length_m", "speed_kph", "travel_time_s", "oneway", "osm_way_id")
        out = dataclasses.replace(
            self,
            node_xy=self.node_xy[nodes],
            indptr=indptr,
            targets=new_id[self.targets[edges]],
            highway=self.highway[edges],
            name=self.name[edges],
            geometry_xy=self.geometry_xy[ragged_arange(starts, counts)],
            geometry_offsets=offsets,
            osm_node_id=None if self.osm_node_id is None else self.osm_node_id[nodes],
            labels=None if self.labels is None else self.labels[nodes],
            node_attrs=MappingProxyType({k: v[nodes] for k, v in self.node_attrs.items()}),
            edge_attrs=MappingProxyType({k: v[edges] for k, v in self.edge_attrs.items()}),
            **{name: getattr(self, name)[edges] for name in fields},
        )
        out._edge_shapes.take_lines(self._edge_shapes, edges)  # the same lines, not made again
        return out

    def _replace(self, **changes: Any) -> RoadGraph:
        new = dataclasses.replace(self, **changes)
        object.__setattr__(new, "_shapes", self._edge_shapes)  # same lines, same STRtree
        return new

    # ------------------------------------------------------------------------------ networkx

    def to_networkx(self) -> nx.MultiDiGraph:
        """The osmnx-compatible :class:`networkx.MultiDiGraph` of this graph (see :mod:`gis.network`).

        Nodes carry ``x``, ``y`` and ``osmid``; edges ``osmid``, ``highway``, ``name`` (when
        known), ``oneway``, ``length_m``, ``speed_kph``, ``travel_time_s`` and ``geometry`` when
        the line is not the straight segment between its nodes; ``G.graph`` holds ``crs``,
        ``source`` and ``report``. Millions of Python dicts: build it only for networkx or osmnx.

        Examples
        --------
        >>> from gis.network import graph_from_osm
        >>> G = graph_from_osm("tests/fixtures/tiny_city.osm.xml")
        >>> H = G.to_networkx()
        >>> H.number_of_edges(), sorted(H.edges[0, 1, 0])
        (19, ['highway', 'length_m', 'name', 'oneway', 'osmid', 'speed_kph', 'travel_time_s'])
        """
        from ._networkx import to_networkx

        return to_networkx(self)

    @classmethod
    def from_networkx(cls, graph: nx.DiGraph | nx.MultiDiGraph) -> RoadGraph:
        """Read a networkx or osmnx (Multi)DiGraph as it is: nodes, edges and attributes kept.

        Node labels are kept (:attr:`labels`) unless they are ``0..n-1``; ``x``/``y`` give the
        coordinates, ``osmid`` the OSM ids; edges take ``length_m`` (else osmnx's ``length``),
        ``travel_time_s`` (else osmnx's ``travel_time``), ``speed_kph``, ``highway``, ``name``,
        ``oneway``, ``osmid`` (the first item of osmnx's lists) and ``geometry`` (else the
        straight segment); other attributes go to :attr:`node_attrs` and :attr:`edge_attrs`.
        Nothing is recomputed: to rebuild an osmnx download with riskplan's lengths and speeds,
        use :func:`gis.network.graph_from_osmnx`.

        Raises
        ------
        NetworkError
            When the graph is undirected.
        CRSError
            When its ``crs`` is geographic (degrees).

        Examples
        --------
        >>> import networkx as nx
        >>> H = nx.MultiDiGraph(crs="EPSG:32649")
        >>> H.add_node("a", x=0.0, y=0.0); H.add_node("b", x=300.0, y=400.0)
        >>> _ = H.add_edge("a", "b", travel_time_s=36.0, lanes="2")
        >>> G = RoadGraph.from_networkx(H)
        >>> G.nodes.tolist(), G.geometry_xy.tolist(), G.edge_attrs["lanes"].tolist()
        (['a', 'b'], [[0.0, 0.0], [300.0, 400.0]], ['2'])
        """
        from ._networkx import from_networkx

        return from_networkx(graph)


def as_road_graph(graph: GraphLike) -> RoadGraph:
    """``graph`` as a :class:`RoadGraph`: itself, or a networkx graph converted once and cached.

    The conversion (:meth:`RoadGraph.from_networkx`) is cached per networkx graph and redone
    when its node or edge count changes; after changing edge attributes in place, pass a copy.

    Raises
    ------
    InputError
        When ``graph`` is neither a RoadGraph nor a networkx graph.

    Examples
    --------
    >>> import networkx as nx
    >>> H = nx.MultiDiGraph()
    >>> nx.add_path(H, [0, 1, 2], travel_time_s=30.0)
    >>> G = as_road_graph(H)
    >>> G.n_nodes, G.travel_time_s.tolist(), as_road_graph(H) is G, as_road_graph(G) is G
    (3, [30.0, 30.0], True, True)
    """
    if isinstance(graph, RoadGraph):
        return graph
    from ._networkx import cached_from_networkx

    return cached_from_networkx(graph)
