"""Routable road graphs from OSM files, line layers and osmnx, in one graph model.

Public functions live in :mod:`gis.network.build` (building) and :mod:`gis.network.graph`
(the graph model), the private ``_build`` (lines to graph), ``_networkx`` (to and from
networkx), ``_gpkg`` (GeoPackage save and load), ``_store`` (arrays on disk), ``_speeds`` (the
speed table, ``maxspeed``), ``_cache`` (the build cache) and :mod:`gis.network.speed_profiles`
(the time of day); this module names them.

Graph model: a :class:`RoadGraph` (:mod:`gis.network.graph`), arrays in a local metric CRS
(UTM unless the input is already projected in metres), with ``crs`` (a :class:`pyproj.CRS`),
``source`` and ``report`` (a :class:`NetworkReport`):

- nodes are the positions ``0..n-1``, with coordinates (``node_xy``, metres) and OSM ids
  (``osm_node_id``) when the nodes are OSM nodes;
- directed edges are grouped by source node (``indptr``, ``targets``: CSR), keyed among
  parallel edges (``key``), with ``length_m``, ``speed_kph``, ``travel_time_s``, ``highway``
  and ``name`` (dictionary-encoded), ``oneway``, ``osm_way_id`` and every edge's line, packed
  (``geometry_xy``, ``geometry_offsets``). A two-way road gives two edges, u->v and v->u (with
  reversed line);
- by default only the largest strongly connected component is kept, so that every node can
  reach every other node.

:meth:`RoadGraph.to_networkx` gives the same graph as an osmnx-compatible
:class:`networkx.MultiDiGraph` (``osmnx.graph_to_gdfs`` works on it): ``G.graph["crs"]``,
``["source"]``, ``["report"]``; nodes with ``x``, ``y`` and ``osmid``; edges with
``length_m``, ``speed_kph``, ``travel_time_s``, ``highway``, ``oneway`` (bool), ``name`` and
``osmid`` when known, and ``geometry`` (a LineString) only when the edge is not a straight
segment between its end nodes. Every function of riskplan that takes a graph also takes such a
networkx graph (:func:`as_road_graph` converts it, once).

Lines are joined where they share a vertex (OSM ways: where they share an OSM node). A node is
made wherever a vertex is shared by two or more lines (or repeated within one line) and at line
ends; other vertices stay in the edge geometry. Vertices of line layers are matched after
rounding their metric coordinates to :data:`JOIN_TOLERANCE_M` (1 cm); lines that only cross,
without a shared vertex (bridges, tunnels), are not joined.

Lengths are planar lengths in the metric CRS: within a UTM zone they differ from geodesic
lengths by less than 0.1 %. Speeds come from ``gis/data/road_speeds.toml`` (see its comments).
"""

from typing import TYPE_CHECKING

from ..lazy import attach

#: Public names by module, imported on first use (see :mod:`gis.lazy`).
_EXPORTS: dict[str, tuple[str, ...]] = {
    "build": (
        "graph_edges",
        "graph_from_file",
        "graph_from_lines",
        "graph_from_osm",
        "graph_from_osmnx",
        "graph_from_query",
    ),
    "_build": ("JOIN_TOLERANCE_M", "MAX_SCALE_ERROR"),
    "graph": ("GraphLike", "RoadGraph", "as_road_graph"),
    "_columns": ("MISSING_ID",),
    "_report": ("NetworkReport",),
    "_shapes": ("EdgeShapes",),
    "_gpkg": ("load_graph", "save_graph"),
    "_speeds": ("parse_maxspeed", "parse_other_tags", "speed_table"),
    "_cache": ("GraphCache", "cache_max_bytes"),
    "speed_profiles": (
        "HOURS",
        "ObservedSpeeds",
        "check_hour",
        "edge_factors",
        "graph_at_hour",
        "hour_speeds",
        "read_observed_speeds",
        "speed_profile_table",
    ),
}
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from ._build import JOIN_TOLERANCE_M, MAX_SCALE_ERROR
    from ._cache import GraphCache, cache_max_bytes
    from ._columns import MISSING_ID
    from ._gpkg import load_graph, save_graph
    from ._report import NetworkReport
    from ._shapes import EdgeShapes
    from ._speeds import parse_maxspeed, parse_other_tags, speed_table
    from .build import (
        graph_edges,
        graph_from_file,
        graph_from_lines,
        graph_from_osm,
        graph_from_osmnx,
        graph_from_query,
    )
    from .graph import GraphLike, RoadGraph, as_road_graph
    from .speed_profiles import (
        HOURS,
        ObservedSpeeds,
        check_hour,
        edge_factors,
        graph_at_hour,
        hour_speeds,
        read_observed_speeds,
        speed_profile_table,
    )

__all__ = [
    "HOURS",
    "JOIN_TOLERANCE_M",
    "MAX_SCALE_ERROR",
    "MISSING_ID",
    "EdgeShapes",
    "GraphCache",
    "GraphLike",
    "NetworkReport",
    "ObservedSpeeds",
    "RoadGraph",
    "as_road_graph",
    "cache_max_bytes",
    "check_hour",
    "edge_factors",
    "graph_at_hour",
    "graph_edges",
    "graph_from_file",
    "graph_from_lines",
    "graph_from_osm",
    "graph_from_osmnx",
    "graph_from_query",
    "hour_speeds",
    "load_graph",
    "parse_maxspeed",
    "parse_other_tags",
    "read_observed_speeds",
    "save_graph",
    "speed_profile_table",
    "speed_table",
]
