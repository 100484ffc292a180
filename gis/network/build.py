"""Build routable road graphs: from OSM files, line layers and osmnx (the graph model: :mod:`gis.network`)."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..errors import InputError, NetworkError
from ..io import gdal_path
from ..osm import is_osm_file, read_osm_way_arrays
from ..tables import TableOverrides
from ._build import CRSArg, _assemble, _metric_crs, _prepare
from ._cache import cached_graph
from ._osm_lines import _prepare_osm
from ._speeds import speed_table
from .graph import GraphLike, RoadGraph, as_road_graph

if TYPE_CHECKING:
    import networkx as nx

__all__ = [
    "graph_edges",
    "graph_from_file",
    "graph_from_lines",
    "graph_from_osm",
    "graph_from_osmnx",
    "graph_from_query",
]


def graph_from_lines(
    lines: gpd.GeoDataFrame,
    *,
    road_speeds: TableOverrides = None,
    keep_largest: bool = True,
    source: str | None = None,
    crs: CRSArg = None,
) -> RoadGraph:
    """Build the road graph from a line layer (any CRS), e.g. an ogr2ogr OSM export.

    Columns read: ``highway`` (lines without one, such as railways in an OSM export, and
    non-drivable classes are skipped; a layer without the column is all roads at
    ``default_speed_kph``), ``oneway`` (``yes``/``true``/``1`` forward, ``-1``/``reverse``
    backward, ``no``; ``junction=roundabout`` and ``highway=motorway`` imply oneway),
    ``maxspeed``, ``junction``, ``area``, ``name``, ``osm_id``/``osmid``; tags missing as
    columns are read from an ogr2ogr ``other_tags`` column. A ``node_ids`` column (as from
    :func:`gis.osm.read_osm_ways`) joins lines on node ids instead of coordinates. A ``city``
    column (a province's roads: the city a road lies in) goes to every edge of its line, as
    ``edge_attrs["city"]`` (text, None where empty), kept by ``save_graph`` / ``load_graph``,
    ``subgraph`` and ``to_networkx`` (an edge attribute ``city``).

    Parameters
    ----------
    lines
        Road lines (LineString or MultiLineString) with a CRS.
    road_speeds
        Speed table overrides (see :func:`speed_table`).
    keep_largest
        Keep only the largest strongly connected component.
    source
        Name of the input, kept in :attr:`RoadGraph.source` and in messages.
    crs
        Projected CRS in metres for the graph; default: the input's own CRS when it is
        projected in metres with little distortion (see :data:`MAX_SCALE_ERROR`), else the
        local UTM zone.

    Returns
    -------
    RoadGraph
        The graph described in :mod:`gis.network` (``.to_networkx()`` for networkx).

    Raises
    ------
    CRSError
        When ``lines`` has no CRS or swapped coordinates, or ``crs`` is not metric.
    NetworkError
        When no drivable road is left.

    Examples
    --------
    >>> from shapely import LineString
    >>> roads = gpd.GeoDataFrame(
    ...     {"highway": ["primary", "residential"], "oneway": ["yes", None]},
    ...     geometry=[LineString([(112.55, 37.85), (112.56, 37.85)]),
    ...               LineString([(112.56, 37.85), (112.555, 37.855), (112.55, 37.85)])],
    ...     crs=4326)
    >>> G = graph_from_lines(roads)
    >>> G.n_nodes, G.n_edges, G.crs.to_epsg()
    (2, 3, 32649)
    >>> G.targets.tolist(), G.travel_time_s.round(1).tolist()  # 880 m at 50 km/h, 1.4 km at 25
    ([1, 1, 0], [63.4, 203.9, 203.9])
    """
    t0 = time.perf_counter()
    table = speed_table(road_speeds)
    where = f"`{source}`" if source else "`lines`"
    prepared = _prepare(lines, table, where, source, crs)
    return _assemble(prepared, keep_largest=keep_largest, source=source, t0=t0)


def graph_from_osm(
    path: str | Path,
    *,
    road_speeds: TableOverrides = None,
    keep_largest: bool = True,
    crs: CRSArg = None,
) -> RoadGraph:
    """Build the road graph from an OSM XML (``.osm``, ``.osm.bz2``, ``.osm.gz``) or PBF file.

    Ways join at shared OSM nodes; nodes carry their OSM id in ``osmid``. Tag handling is
    that of :func:`graph_from_lines`, and so are ``road_speeds``, ``keep_largest`` and ``crs``.

    The file is streamed into arrays (:func:`gis.osm.read_osm_way_arrays`) and the graph is
    built from them, without a shapely line per way; the graph equals
    ``graph_from_lines(read_osm_ways(path), source=str(path))`` array for array.

    Examples
    --------
    >>> G = graph_from_osm("tests/fixtures/tiny_city.osm.xml")
    >>> G.report.n_nodes, G.report.n_dropped_nodes, G.osm_node_id[:3].tolist()
    (10, 2, [1, 2, 3])
    """
    t0 = time.perf_counter()
    table = speed_table(road_speeds)
    ways = read_osm_way_arrays(path)
    if len(ways) == 0:
        msg = f"`{path}` has no way with a `highway` tag. Fix: use an extract that holds roads."
        raise NetworkError(msg)
    lines = _prepare_osm(ways, table, f"`{path}`", crs)
    del ways
    return _assemble(lines, keep_largest=keep_largest, source=str(path), t0=t0)


def graph_from_osmnx(
    graph: nx.MultiDiGraph,
    *,
    road_speeds: TableOverrides = None,
    keep_largest: bool = True,
    source: str | None = None,
    crs: CRSArg = None,
) -> RoadGraph:
    """Convert an osmnx graph (projected or not) to the riskplan graph model.

    Each osmnx edge becomes one edge; its ``oneway`` flag is kept. Lengths are recomputed in
    the local metric CRS, speeds come from the speed table. List-valued attributes of merged
    edges keep their first item (``maxspeed``: the lowest).

    Examples
    --------
    >>> import networkx as nx
    >>> H = nx.MultiDiGraph(crs="EPSG:4326")
    >>> H.add_node(11, x=112.55, y=37.85)
    >>> H.add_node(12, x=112.56, y=37.85)
    >>> H.add_edge(11, 12, osmid=5, highway="primary", oneway=False)
    0
    >>> H.add_edge(12, 11, osmid=5, highway="primary", oneway=False)
    0
    >>> G = graph_from_osmnx(H)
    >>> sorted(G.osm_node_id.tolist()), G.n_edges
    ([11, 12], 2)
    """
    t0 = time.perf_counter()
    table = speed_table(road_speeds)
    in_crs = graph.graph.get("crs")
    if in_crs is None:
        msg = "The osmnx graph has no `crs` graph attribute. Fix: set `G.graph['crs']`."
        raise InputError(msg)
    node_ids = list(graph.nodes)
    pos = {n: i for i, n in enumerate(node_ids)}
    node_xy = np.array([(d["x"], d["y"]) for _, d in graph.nodes(data=True)], dtype=np.float64)
    edges = list(graph.edges(keys=True, data=True))
    geoms = np.array([d.get("geometry") for *_, d in edges], dtype=object)
    ui = np.array([pos[e[0]] for e in edges], dtype=np.int64)
    vi = np.array([pos[e[1]] for e in edges], dtype=np.int64)
    straight = pd.isna(geoms)
    geoms[straight] = shapely.linestrings(np.stack([node_xy[ui[straight]], node_xy[vi[straight]]], axis=1))
    # make every geometry end exactly at its nodes, and key vertices by node
    xy = shapely.get_coordinates(geoms)
    counts = shapely.get_num_coordinates(geoms).astype(np.int64)
    ends = np.cumsum(counts)
    xy[ends - counts], xy[ends - 1] = node_xy[ui], node_xy[vi]
    ints = all(isinstance(n, (int, np.integer)) and n >= 0 for n in node_ids)
    ids = np.array(node_ids if ints else range(len(node_ids)), dtype=np.int64)
    keys = -1 - np.arange(len(xy), dtype=np.int64)  # interior vertices never join
    keys[ends - counts], keys[ends - 1] = ids[ui], ids[vi]

    def first(value: Any) -> Any:
        return value[0] if isinstance(value, list) and value else value

    lines = gpd.GeoDataFrame(
        {
            "osm_id": [first(d.get("osmid")) for *_, d in edges],
            "highway": [first(d.get("highway")) for *_, d in edges],
            "name": [first(d.get("name")) for *_, d in edges],
            "maxspeed": [
                ";".join(map(str, m)) if isinstance(m := d.get("maxspeed"), list) else m for *_, d in edges
            ],
            "oneway": "yes",
            "node_ids": np.split(keys, ends[:-1]) if edges else [],
        },
        geometry=shapely.linestrings(xy, indices=np.repeat(np.arange(len(edges)), counts)),
        crs=in_crs,
    )
    prepared = _prepare(lines, table, f"`{source or 'osmnx graph'}`", source, crs)
    flags = np.array([bool(d.get("oneway", False)) for *_, d in edges], dtype=bool)
    prepared.oneway = flags[prepared.rows]
    out = _assemble(prepared, keep_largest=keep_largest, source=source, t0=t0)
    if not ints:  # node keys were positions, not OSM ids
        out = dataclasses.replace(out, osm_node_id=None)
    return out


def graph_from_query(
    *,
    place: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    road_speeds: TableOverrides = None,
    keep_largest: bool = True,
    crs: CRSArg = None,
) -> RoadGraph:
    """Download the drivable network with osmnx (online) and convert it.

    Parameters
    ----------
    place
        A place name osmnx can geocode, such as ``"Yingze District, Taiyuan, China"``.
    bbox
        ``(west, south, east, north)`` in degrees (osmnx 2 order).
    road_speeds, keep_largest, crs
        As in :func:`graph_from_lines`.

    Raises
    ------
    NetworkError
        When the download fails (offline, server error, nothing found).
    """
    import osmnx as ox
    import requests
    from osmnx._errors import InsufficientResponseError, ResponseStatusCodeError

    if (place is None) == (bbox is None):
        msg = "Give exactly one of `place` and `bbox` to graph_from_query."
        raise InputError(msg)
    what = f"place {place!r}" if place is not None else f"bbox {bbox}"
    try:
        if place is not None:
            raw = ox.graph_from_place(place, network_type="drive", retain_all=True)
        else:
            assert bbox is not None
            raw = ox.graph_from_bbox(bbox, network_type="drive", retain_all=True)
    except (requests.RequestException, OSError, InsufficientResponseError, ResponseStatusCodeError) as exc:
        msg = (
            f"Could not download the road network for {what} from OpenStreetMap ({exc}). "
            "Fix: check the internet connection and the query, or download an OSM extract "
            "and use `graph_from_file`."
        )
        raise NetworkError(msg) from exc
    return graph_from_osmnx(
        raw, road_speeds=road_speeds, keep_largest=keep_largest, source=f"osmnx {what}", crs=crs
    )


def _read_lines(path: Path, layer: str | None) -> gpd.GeoDataFrame:
    try:
        return gpd.read_file(gdal_path(path), layer=layer, engine="pyogrio")
    except Exception as exc:  # pyogrio raises several types for unreadable files
        msg = (
            f"Could not read road lines from `{path}`"
            f"{f' layer `{layer}`' if layer else ''} ({exc}). Fix: give a vector file "
            "(GeoPackage, GeoJSON, Shapefile...) or an OSM file (.osm, .osm.bz2, .osm.pbf)."
        )
        raise InputError(msg) from exc


def graph_from_file(
    path: str | Path,
    *,
    road_speeds: TableOverrides = None,
    keep_largest: bool = True,
    layer: str | None = None,
    cache: bool = True,
    crs: CRSArg = None,
) -> RoadGraph:
    """Build (or load from the cache) the road graph of an OSM file or a line layer.

    ``.osm``, ``.osm.bz2``, ``.osm.gz``, ``.pbf`` and ``.osm.pbf`` files go through
    :func:`graph_from_osm`; anything else is read with geopandas (``.gz`` files through
    GDAL's ``/vsigzip/``) and built with :func:`graph_from_lines`. The cache key covers the
    file contents, ``layer``, the speed table, ``keep_largest`` and ``crs`` (see
    :mod:`gis.network._cache`). Other parameters are those of :func:`graph_from_lines`.

    Examples
    --------
    >>> G = graph_from_file("tests/fixtures/tiny_city.osm.xml", cache=False)
    >>> G.n_nodes
    10
    """
    path = Path(path)
    if not path.is_file():
        msg = f"Road network file `{path}` does not exist. Fix: check the path."
        raise InputError(msg)
    table = speed_table(road_speeds)
    metric = _metric_crs(crs)

    def build() -> RoadGraph:
        if is_osm_file(path):
            return graph_from_osm(path, road_speeds=table, keep_largest=keep_largest, crs=metric)
        lines = _read_lines(path, layer)
        return graph_from_lines(
            lines, road_speeds=table, keep_largest=keep_largest, source=str(path), crs=metric
        )

    if not cache:
        return build()
    key: dict[str, str | Path] = {
        "input": path,
        "layer": layer or "",
        "speeds": json.dumps(table, sort_keys=True),
        "keep_largest": str(keep_largest),
        "crs": metric.to_wkt() if metric is not None else "",
    }
    return cached_graph(key, build)


def graph_edges(graph: GraphLike) -> gpd.GeoDataFrame:
    """The road lines of a graph, one row per edge, for stages that need roads as lines.

    A scenario whose roads come from an OSM file has no ``roads`` layer; its graph stands in
    (candidate sites along arterials, the arterial-frontage siting rule, map context).
    :meth:`RoadGraph.edges_gdf` gives every edge attribute.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``u``, ``v``, ``key``, ``highway``, ``name``, ``length_m`` and the edge
        geometry, in the graph CRS.

    Examples
    --------
    >>> G = graph_from_osm("tests/fixtures/tiny_city.osm.xml")
    >>> edges = graph_edges(G)
    >>> len(edges) == G.n_edges, edges.crs == G.crs
    (True, True)
    """
    edges = as_road_graph(graph).edges_gdf()
    return edges[["u", "v", "key", "highway", "name", "length_m", "geometry"]]
