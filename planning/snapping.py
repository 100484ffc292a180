"""Snap point layers (stations, hazards, communities, candidate sites) to the road graph.

:func:`snap_points` is the one snapping function of riskplan. Each feature (a point inside
lines and polygons) is matched to the nearest edge of the graph's :class:`~planning.travel.RoadMatrix`
(one shapely STRtree per graph, built once and shared by every layer and by the travel-time
engine), then to the end node of that edge nearer the snapped position. Features farther from
every road than ``max_snap_m`` are *flagged*, never silently snapped or dropped:
:func:`gis.require_snapped` turns flags into a :class:`gis.errors.SnapError`, and
:func:`snap_stations` adds the check that every station reaches the whole network.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from gis.errors import InputError, NetworkError, SnapError
from gis.executor import Executor, InProcessExecutor, as_executor
from gis.network import EdgeShapes, as_road_graph
from gis.snap import default_max_snap_m, flag_far, require_snapped, road_distances, snap_targets

from .travel import RoadMatrix, nearest_edges, road_matrix

if TYPE_CHECKING:
    import geopandas as gpd

    from gis.network.graph import GraphLike

__all__ = ["share_road_edges", "snap_points", "snap_stations"]

#: On a cluster, the places of a snap are split into about this many tasks per worker (each
#: place is answered on its own, so the split never changes a row).
SNAP_TASKS_PER_WORKER = 8


def snap_points(
    graph: GraphLike,
    points: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    layer: str | None = None,
    max_snap_m: float | None = None,
    edge_weight: str = "travel_time_s",
) -> pd.DataFrame:
    """Snap ``points`` to the nearest road of ``graph`` and pick a graph node for each.

    Points are reprojected to the graph CRS; polygons and lines are represented by a point
    on their surface. Features farther than ``max_snap_m`` from every road are ``flagged``
    (never dropped).

    Parameters
    ----------
    graph
        Road graph from :mod:`gis.network` (metric CRS), or a networkx graph.
    points
        Features with a CRS, indexed by id.
    layer
        Layer name for messages.
    max_snap_m
        Features farther than this from every road are flagged; defaults to ``max_snap_m`` in
        ``road_speeds.toml`` (500 m).
    edge_weight
        Edge attribute of the road matrix the snap runs on (the snap itself does not depend on
        it; pass the weight of your travel times so that their matrix is reused).

    Returns
    -------
    pandas.DataFrame
        On the index of ``points``: ``node`` (the end node of the nearest edge nearer the
        snapped position, along the edge), ``snap_distance_m`` (the feature's point to the
        nearest edge), ``node_distance_m`` (point to ``node``, straight line), ``flagged``
        (``road_distance_m`` above the limit), ``u``, ``v``, ``key`` (the nearest edge),
        ``along_m`` (distance along it, from ``u``, to the snapped position),
        ``road_distance_m`` (the feature itself to the nearest edge: 0 for a polygon a road
        crosses, see :func:`gis.snap.road_distances`), ``edge`` (row of the road matrix's edge
        arrays) and ``frac`` (``along_m`` as a share of the edge length). ``df.attrs`` holds
        ``max_snap_m`` and ``layer``.

    Raises
    ------
    CRSError
        When ``points`` has no CRS.
    InputError
        When some geometries are missing or empty.
    NetworkError
        When the graph has no edge to snap to.

    Examples
    --------
    >>> from gis.network import graph_from_osm
    >>> import geopandas as gpd
    >>> G = graph_from_osm("tests/fixtures/tiny_city.osm.xml")
    >>> pts = gpd.GeoSeries.from_xy([112.5505, 112.60], [37.8502, 37.90], crs=4326)
    >>> df = snap_points(G, pts, layer="stations")
    >>> df["snap_distance_m"].round(1).tolist(), df["flagged"].tolist()
    ([22.2, 6570.4], [False, True])
    """
    road = as_road_graph(graph)
    if road.n_edges == 0:
        msg = "The road graph has no edges to snap to. Fix: build it from a road layer."
        raise NetworkError(msg)
    return _snap_points(
        road_matrix(road, edge_weight=edge_weight), points, layer=layer, max_snap_m=max_snap_m
    )


def _snap_points(
    m: RoadMatrix,
    points: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    layer: str | None,
    max_snap_m: float | None,
    executor: Executor | Any | None = None,
) -> pd.DataFrame:
    """:func:`snap_points` on a road matrix already looked up (on the executor's workers when given)."""
    return _snap_layers(m, {layer: points}, max_snap_m=max_snap_m, executor=executor)[layer]


def _snap_layers(
    m: RoadMatrix,
    layers: Mapping[str | None, gpd.GeoDataFrame | gpd.GeoSeries],
    *,
    max_snap_m: float | None,
    executor: Executor | Any | None = None,
    exact_road_distance: bool = True,
) -> dict[str | None, pd.DataFrame]:
    """:func:`snap_points` of several layers; on the workers once they hold the graph's edges.

    In process, or on a cluster that was not given the edges, the driver's STRtree answers every
    place. After :func:`share_road_edges` (the graph's lines sent to every worker once, a tree
    built on each), the places go in chunks as tasks: a task carries the coordinates of its
    chunk (and the polygons of the area features, as WKB) and returns the nearest edge, the
    distances and the fraction along it; the driver puts the rows together. Every place is
    answered on its own against the same lines, so the rows are the same either way.

    ``exact_road_distance=False``: ``road_distance_m`` only as far as ``flagged`` needs it
    (:func:`gis.snap.road_distances` with ``within_m``); every other column is the same.
    """
    if max_snap_m is None:
        max_snap_m = default_max_snap_m()
    ex = as_executor(executor)
    where = {name: f"layer `{name}`" if name else "`points`" for name in layers}
    crs = {name: m.crs if m.crs is not None else pts.crs for name, pts in layers.items()}
    targets = {name: snap_targets(pts, crs[name], where=where[name]) for name, pts in layers.items()}
    found: dict[str | None, tuple[Any, ...]] = {}
    handle = None if isinstance(ex, InProcessExecutor) else ex.held(m.graph.edge_shapes())
    if handle is not None:
        within = None if exact_road_distance else float(max_snap_m)
        found = _snap_on_workers({n: (t[1], t[2]) for n, t in targets.items()}, ex, handle, within)
    out = {}
    for name, (index, pts, geoms) in targets.items():
        if name in found:
            edge, dist, along, frac, road = found[name]
            frame = m._snap(pts, (edge, dist, along, frac)).set_index(index)
        else:
            frame = m._snap(pts).set_index(index)
            road = road_distances(
                geoms,
                pts,
                frame["snap_distance_m"].to_numpy(),
                m.edge_tree,
                within_m=None if exact_road_distance else float(max_snap_m),
            )
        frame.insert(3, "flagged", False)  # set by flag_far
        frame.insert(frame.columns.get_loc("along_m") + 1, "road_distance_m", road)
        out[name] = flag_far(frame, max_snap_m, where=where[name], layer=name)
    return out


def _snap_on_workers(
    layers: Mapping[str | None, tuple[npt.NDArray[np.object_], npt.NDArray[np.object_]]],
    ex: Executor,
    handle: Any,
    within_m: float | None,
) -> dict[str | None, tuple[Any, ...]]:
    """``{layer: (edge, distance, along, frac, road distance)}`` of every place, from tasks."""
    empty = (np.empty(0, np.int64), *(np.empty(0) for _ in range(4)))
    sizes = {name: len(pts) for name, (pts, _) in layers.items() if len(pts)}
    if not sizes:
        return dict.fromkeys(layers, empty)
    step = max(1_000, math.ceil(sum(sizes.values()) / (SNAP_TASKS_PER_WORKER * ex.n_workers)))
    tasks, where = [], []
    for name, (pts, geoms) in layers.items():
        xy = shapely.get_coordinates(pts)
        for a in range(0, len(pts), step):
            part = geoms[a : a + step]
            area = np.flatnonzero(shapely.get_type_id(part) != shapely.get_type_id(pts[a : a + step]))
            tasks.append((xy[a : a + step], area, shapely.to_wkb(part[area]), within_m))
            where.append((name, a))
    parts: dict[str | None, list[tuple[int, tuple[Any, ...]]]] = {name: [] for name in sizes}
    for i, res in ex.run(_snap_chunk, tasks, shared=(handle,), name="snap_points"):
        name, a = where[i]
        parts[name].append((a, res))
    out = dict.fromkeys(layers, empty)
    for name, got in parts.items():
        got.sort(key=lambda p: p[0])
        out[name] = tuple(np.concatenate([r[k] for _, r in got]) for k in range(5))
    return out


def _snap_chunk(
    shapes: EdgeShapes,
    xy: npt.NDArray[np.float64],
    area: npt.NDArray[np.int64],
    area_wkb: Any,
    within_m: float | None,
) -> tuple[Any, ...]:
    """One task: nearest edges of the points ``xy``, and the road distance of the area features."""
    pts = shapely.points(xy)
    edge, dist, along, frac = nearest_edges(shapes.geoms, shapes.tree, pts)
    road = dist.copy()
    if len(area):
        road[area] = road_distances(
            shapely.from_wkb(area_wkb), pts[area], dist[area], shapes.tree, within_m=within_m
        )
    return edge, dist, along, frac, road


def _build_tree(shapes: EdgeShapes) -> int:
    return len(shapes.tree)


def share_road_edges(graph: GraphLike, executor: Executor | Any | None, *, build: bool = True) -> Any:
    """Send the road graph's edge lines to every worker once and build their STRtree there.

    From then on every snap of this graph on this executor (the places of coverage, the
    stations) runs on the workers, in chunks of places, and the driver never builds the tree
    (:meth:`gis.executor.Executor.share` with ``keep``: one send per executor). The cost is
    the tree on every worker: for the 3M-node province (11 M edges) about 17 s of CPU and
    3.6 GB on each, once per cluster. Without this call, snaps run in the driver. In process
    it returns the graph's :class:`~gis.network.EdgeShapes`.

    Examples
    --------
    >>> from gis import graph_from_lines
    >>> share_road_edges(graph_from_lines(city["roads"]), None).tree is not None
    True
    """
    ex = as_executor(executor)
    shapes = as_road_graph(graph).edge_shapes()
    handle = ex.share(shapes, keep=True)
    if build:
        ex.on_each_worker(_build_tree, handle)
    return handle


def snap_stations(
    graph: GraphLike,
    stations: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    layer: str = "fire_stations",
    max_snap_m: float | None = None,
    edge_weight: str = "travel_time_s",
) -> pd.DataFrame:
    """Snap stations to ``graph`` and check that every one can reach the whole network.

    Parameters
    ----------
    graph
        Road graph in a metric CRS (from :mod:`gis.network`), or a networkx graph.
    stations
        Station points (GeoDataFrame or GeoSeries with a CRS), indexed by station id.
    layer
        Layer name for messages.
    max_snap_m
        Largest allowed distance from a station to the nearest road (default: the
        ``road_speeds.toml`` value, 500 m).
    edge_weight
        Edge attribute of the travel-time engine.

    Returns
    -------
    pandas.DataFrame
        :func:`snap_points` output on the stations' index.

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
    >>> snap_stations(graph, city["fire_stations"])["node"].size
    6
    """
    m = road_matrix(graph, edge_weight=edge_weight)
    return _snap_stations(m, stations, max_snap_m=max_snap_m, layer=layer)


def _snap_stations(
    m: RoadMatrix,
    stations: gpd.GeoDataFrame | gpd.GeoSeries | None,
    *,
    max_snap_m: float | None,
    layer: str,
    executor: Executor | Any | None = None,
) -> pd.DataFrame:
    """:func:`snap_stations` on a road matrix already looked up."""
    if stations is None or len(stations) == 0:
        msg = (
            f"Layer `{layer}` has no stations, so no response time can be computed. "
            "Fix: add at least one fire station to the scenario."
        )
        raise InputError(msg)
    snaps = _snap_points(m, stations, layer=layer, max_snap_m=max_snap_m, executor=executor)
    try:
        require_snapped(snaps, layer=layer)
    except SnapError as exc:
        report = m.graph.report
        hint = ""
        if report is not None and report.n_dropped_nodes:
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
