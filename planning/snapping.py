"""Snap point layers (stations, hazards, communities, candidate sites) to the road graph.

:func:`snap_points` is the one snapping function of riskplan. Each feature (a point inside
lines and polygons) is matched to the nearest edge of the graph's :class:`~planning.travel.RoadMatrix`
(one shapely STRtree per graph, built once and shared by every layer and by the travel-time
engine; of equally near edges the lowest-numbered), then to the end node of that edge nearer
the snapped position. On Dask, :func:`share_road_edges` gives each worker a strip of the lines
(:func:`road_regions`) and the snaps run there, with the same rows. Features farther from
every road than ``max_snap_m`` are *flagged*, never silently snapped or dropped:
:func:`gis.require_snapped` turns flags into a :class:`gis.errors.SnapError`, and
:func:`snap_stations` adds the check that every station reaches the whole network.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from gis.errors import InputError, NetworkError, SnapError
from gis.executor import Executor, InProcessExecutor, as_executor
from gis.network import EdgeShapes, as_road_graph
from gis.snap import (
    default_max_snap_m,
    flag_far,
    nearest_distances,
    require_snapped,
    road_distances,
    snap_targets,
)

from .travel import RoadMatrix, lowest_nearest, nearest_edges, road_matrix

if TYPE_CHECKING:
    import geopandas as gpd

    from gis.network.graph import GraphLike, RoadGraph

__all__ = [
    "REGION_REACH_M",
    "RoadRegion",
    "road_regions",
    "share_road_edges",
    "snap_points",
    "snap_stations",
    "start_snaps",
]

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
    pending: Future[tuple[dict[str | None, Any], dict[str | None, Any]]] | None = None,
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
    ``pending``: the same layers' :func:`start_snaps`, begun on the workers earlier.
    """
    if max_snap_m is None:
        max_snap_m = default_max_snap_m()
    if pending is not None:  # started on the workers before the road matrix was built
        targets, found = pending.result()
    else:
        targets, found = _worker_snaps(m.graph, layers, float(max_snap_m), executor, exact_road_distance)
    where = {name: f"layer `{name}`" if name else "`points`" for name in layers}
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


#: A worker's share of the road lines: the edges whose x-range comes within this of its strip.
#: A place whose nearest edge in the strip lies within this (plus its distance to the strip's
#: sides) is answered there exactly; the others are also asked of the other strips.
REGION_REACH_M = 2_000.0


class RoadRegion:
    """The road lines of one strip ``x_lo <= x < x_hi`` of a graph, grown by ``reach_m``: one worker's share.

    ``edges`` are the edge numbers (ascending) of the lines whose x-range comes within
    ``reach_m`` of the strip, ``shapes`` their lines (:class:`~gis.network.EdgeShapes`, in the
    same order; pickled as packed coordinates, the tree made where it is used).
    """

    def __init__(
        self, x_lo: float, x_hi: float, reach_m: float, edges: npt.NDArray[np.int64], shapes: EdgeShapes
    ):
        self.x_lo, self.x_hi, self.reach_m = float(x_lo), float(x_hi), float(reach_m)
        self.edges = edges
        self.shapes = shapes

    def bounds(self) -> tuple[float, float, float]:
        """``(x_lo, x_hi, reach_m)``."""
        return self.x_lo, self.x_hi, self.reach_m


def road_regions(shapes: EdgeShapes, n: int, *, reach_m: float = REGION_REACH_M) -> list[RoadRegion]:
    """Split the road lines into ``n`` vertical strips of about as many edges each, each grown by ``reach_m``.

    The strips' sides are quantiles of the edges' x-midpoints; the first and last strips are
    open to the side. An edge belongs to every strip its x-range comes within ``reach_m`` of
    (so the strips overlap by about two reaches).

    Examples
    --------
    >>> from gis import graph_from_lines
    >>> regions = road_regions(graph_from_lines(city["roads"]).edge_shapes(), 2)
    >>> [r.x_lo for r in regions][0], len(regions)
    (-inf, 2)
    """
    xy, offsets = shapes.xy, shapes.offsets
    m = len(offsets) - 1
    if m == 0 or n < 1:
        msg = "Road regions need at least one edge and one strip."
        raise InputError(msg)
    x_min = np.minimum.reduceat(xy[:, 0], offsets[:-1])
    x_max = np.maximum.reduceat(xy[:, 0], offsets[:-1])
    cuts = np.quantile((x_min + x_max) / 2, np.arange(1, n) / n) if n > 1 else np.empty(0)
    sides = np.r_[-np.inf, cuts, np.inf]
    counts = np.diff(offsets)
    out = []
    for lo, hi in itertools.pairwise(sides):
        edges = np.flatnonzero((x_max >= lo - reach_m) & (x_min <= hi + reach_m)).astype(np.int64)
        c = counts[edges]
        rows = np.repeat(offsets[edges], c) + (np.arange(int(c.sum())) - np.repeat(np.cumsum(c) - c, c))
        part = EdgeShapes(xy[rows], np.r_[0, np.cumsum(c)].astype(np.int64))
        out.append(RoadRegion(lo, hi, reach_m, edges, part))
    return out


def _strip_of(x: npt.NDArray[np.float64], bounds: list[tuple[float, float, float]]) -> npt.NDArray[np.int64]:
    """The strip of every x (strips in order, each ``x_lo <= x < x_hi``)."""
    inner = np.array([b[0] for b in bounds[1:]], dtype=np.float64)
    return np.searchsorted(inner, x, side="right").astype(np.int64)


def _worker_snaps(  # noqa: PLR0917 - called positionally by a thread pool
    graph: RoadGraph,
    layers: Mapping[str | None, gpd.GeoDataFrame | gpd.GeoSeries],
    max_snap_m: float,
    executor: Executor | Any | None,
    exact_road_distance: bool,
    priority: int = 0,
) -> tuple[dict[str | None, Any], dict[str | None, Any]]:
    """``(targets, found)``: the layers checked and, when the workers hold the strips, their snaps.

    ``targets`` per layer as :func:`gis.snap.snap_targets` gives them; ``found`` is empty unless
    the workers hold the graph's strips (:func:`share_road_edges`).
    """
    ex = as_executor(executor)
    where = {name: f"layer `{name}`" if name else "`points`" for name in layers}
    crs = {name: graph.crs if graph.crs is not None else pts.crs for name, pts in layers.items()}
    targets = {name: snap_targets(pts, crs[name], where=where[name]) for name, pts in layers.items()}
    held = None if isinstance(ex, InProcessExecutor) else ex.held(graph.edge_shapes())
    if held is None:
        return targets, {}
    within = None if exact_road_distance else max_snap_m
    places = {n: (t[1], t[2]) for n, t in targets.items()}
    return targets, _snap_on_workers(places, ex, held, within, priority)


def start_snaps(
    graph: GraphLike,
    layers: Mapping[str | None, gpd.GeoDataFrame | gpd.GeoSeries],
    *,
    max_snap_m: float | None,
    executor: Executor | Any,
    exact_road_distance: bool = True,
) -> Future[tuple[dict[str | None, Any], dict[str | None, Any]]]:
    """Begin the snaps of ``layers`` on the workers (which hold the graph's strips) and return at once.

    The tasks are submitted and collected from a thread of this process, so the driver can
    build the road matrix and search the nearest stations meanwhile; pass the result to the
    snap as ``pending`` (the rows are those of a snap begun then). Errors surface there.
    """
    road = as_road_graph(graph)
    limit = float(default_max_snap_m() if max_snap_m is None else max_snap_m)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="riskplan-snaps")
    try:
        # below the tasks the driver waits for meanwhile (the stations' snap): those go first
        return pool.submit(_worker_snaps, road, layers, limit, executor, exact_road_distance, -1)
    finally:
        pool.shutdown(wait=False)


def _snap_on_workers(
    layers: Mapping[str | None, tuple[npt.NDArray[np.object_], npt.NDArray[np.object_]]],
    ex: Executor,
    held: Any,
    within_m: float | None,
    priority: int = 0,
) -> dict[str | None, tuple[Any, ...]]:
    """``{layer: (edge, distance, along, frac, road distance)}`` of every place, from tasks on the strips.

    Round 1: each place is asked of its own strip (the worker holding it): its nearest edge,
    and for an area feature its own distance to the roads. Where that cannot be beaten by an
    edge outside the strip (the nearest found lies within the strip's reach plus the place's
    distance to the strip's sides; an area's search stays within it), the answer is final.
    Round 2: the other places are asked of every other strip, no farther than what their own
    strip found, and the nearest wins, equally near edges to the lowest number (the rule of
    :func:`planning.travel.nearest_edges`). So the rows equal the whole tree's.
    """
    handles, bounds = held
    empty = (np.empty(0, np.int64), *(np.empty(0) for _ in range(4)))
    names = [name for name, (pts, _) in layers.items() if len(pts)]
    if not names:
        return dict.fromkeys(layers, empty)
    pts = np.concatenate([layers[n][0] for n in names])
    geoms = np.concatenate([layers[n][1] for n in names])
    xy = shapely.get_coordinates(pts)
    n = len(pts)
    area = np.flatnonzero(shapely.get_type_id(geoms) != shapely.get_type_id(pts))
    a_box = shapely.bounds(geoms[area])
    strip = _strip_of(xy[:, 0], bounds)
    lo = np.array([b[0] for b in bounds])[strip]
    hi = np.array([b[1] for b in bounds])[strip]
    reach = np.array([b[2] for b in bounds])[strip]
    is_area = np.zeros(n, dtype=bool)
    is_area[area] = True
    wkb = np.empty(n, dtype=object)
    wkb[area] = shapely.to_wkb(geoms[area])
    # round 1: every place on its own strip
    edge = np.full(n, -1, dtype=np.int64)
    dist, along, frac = np.full(n, np.inf), np.zeros(n), np.zeros(n)
    road = np.full(n, np.inf)
    tasks: list[tuple[Any, ...]] = []
    pin: list[Any] = []
    rows: list[npt.NDArray[np.int64]] = []
    per = SNAP_TASKS_PER_WORKER  # tasks per strip (a strip is one worker's)
    for j, h in enumerate(handles):
        mine = np.flatnonzero(strip == j)
        for part in np.array_split(mine, per) if len(mine) else []:
            if len(part):
                tasks.append((h, xy[part], None, is_area[part], wkb[part], within_m, None))
                pin.append(h)
                rows.append(part)
    for i, got in ex.run(_region_snap, tasks, pin=pin, name="snap_points", priority=priority):
        r = rows[i]
        edge[r], dist[r], along[r], frac[r], road[r] = got
    # final where no edge outside the strip can be nearer (it lies beyond the reach of the strip)
    margin = reach + np.minimum(xy[:, 0] - lo, hi - xy[:, 0])
    slack = 1e-9 * (1.0 + np.abs(xy[:, 0])) + 1e-6
    point_open = ~(dist <= margin - slack)
    area_open = np.zeros(n, dtype=bool)
    if len(area):
        a_lo, a_hi, a_reach = lo[area], hi[area], reach[area]
        room = a_reach + np.minimum(a_box[:, 0] - a_lo, a_hi - a_box[:, 2])  # the area's margin
        # searched: within the limit (bounded), or unbounded: as far as what its strip found
        searched = dist[area] > within_m if within_m is not None else np.ones(len(area), dtype=bool)
        need = road[area] if within_m is None else np.full(len(area), float(within_m))
        sl = 1e-9 * (1.0 + np.abs(a_box[:, [0, 2]]).max(axis=1)) + 1e-6
        area_open[area] = searched & ~(need <= room - sl)
    # round 2: the open places on every other strip
    again = np.flatnonzero(point_open | area_open)
    if len(again) and len(handles) > 1:
        tasks, pin, rows = [], [], []
        for j, h in enumerate(handles):
            ask = again[strip[again] != j]
            if not len(ask):
                continue
            bound = np.where(point_open[ask], dist[ask], -1.0)  # -1: the point is final already
            a_reach = np.where(area_open[ask], road[ask] if within_m is None else float(within_m), -1.0)
            for part in np.array_split(np.arange(len(ask)), per):
                if len(part):
                    k = ask[part]
                    tasks.append(
                        (h, xy[k], bound[part], is_area[k] & area_open[k], wkb[k], within_m, a_reach[part])
                    )
                    pin.append(h)
                    rows.append(k)
        for i, got in ex.run(_region_snap, tasks, pin=pin, name="snap_points", priority=priority):
            k = rows[i]
            e2, d2, al2, f2, r2 = got
            better = (e2 >= 0) & ((d2 < dist[k]) | ((d2 == dist[k]) & (e2 < edge[k])))
            better &= point_open[k]
            kk = k[better]
            edge[kk], dist[kk], along[kk], frac[kk] = e2[better], d2[better], al2[better], f2[better]
            road[k] = np.where(area_open[k], np.minimum(road[k], r2), road[k])
    # the road distance of the points (and of areas not searched) is their point's
    if within_m is None:
        road = np.where(is_area, np.minimum(road, dist), dist)
    else:
        searched_all = is_area & (dist > within_m)
        road = np.where(searched_all, np.minimum(road, dist), dist)
    out = dict.fromkeys(layers, empty)
    start = 0
    for name in names:
        k = slice(start, start + len(layers[name][0]))
        start += len(layers[name][0])
        out[name] = (edge[k], dist[k], along[k], frac[k], road[k])
    return out


def _region_snap(  # noqa: PLR0917 - one task's arguments, positional for Executor.run
    region: RoadRegion,
    xy: npt.NDArray[np.float64],
    bound: npt.NDArray[np.float64] | None,
    is_area: npt.NDArray[np.bool_],
    wkb: npt.NDArray[np.object_],
    within_m: float | None,
    area_reach: npt.NDArray[np.float64] | None,
) -> tuple[Any, ...]:
    """One task on one strip: ``(edge, distance, along, frac, area distance)`` of the places ``xy``.

    ``bound`` (round 2): search each point no farther than it (-1: not at all); None: unbounded.
    Areas (``is_area``, their WKB): their own distance to the strip's roads, within ``within_m``
    for those whose point lies beyond it (or ``area_reach`` each, round 2), unbounded when
    ``within_m`` is None. Edge -1 and distance inf where nothing was found; edge numbers are the
    graph's. Equally near edges: the lowest number.
    """
    geoms, tree = region.shapes.geoms, region.shapes.tree
    n = len(xy)
    pts = shapely.points(xy)
    edge = np.full(n, -1, dtype=np.int64)
    dist, along, frac = np.full(n, np.inf), np.zeros(n), np.zeros(n)
    if bound is None:
        e, dist, along, frac = nearest_edges(geoms, tree, pts)
        edge = region.edges[e]
    else:
        ask = np.flatnonzero(bound >= 0)
        for grp in _by_bound(bound[ask]):
            k = ask[grp]
            reach = float(bound[k].max()) * (1 + 1e-9) + 1e-9
            w, e, d = lowest_nearest(tree, pts[k], max_distance=reach)
            keep = d <= bound[k[w]] * (1 + 1e-9) + 1e-9
            w, e, d = w[keep], e[keep], d[keep]
            rows = k[w]
            lines = geoms[e]
            al = shapely.line_locate_point(lines, pts[rows])
            length = shapely.length(lines)
            edge[rows], dist[rows], along[rows] = region.edges[e], d, al
            frac[rows] = np.divide(al, length, out=np.zeros_like(al), where=length > 0)
    road = np.full(n, np.inf)
    areas = np.flatnonzero(is_area)
    if len(areas):
        if area_reach is not None:
            lim = area_reach[areas]
        elif within_m is None:
            lim = np.full(len(areas), np.inf)
        else:
            lim = np.where(dist[areas] > within_m, float(within_m), -1.0)
        polys = np.empty(len(areas), dtype=object)
        asked = lim >= 0
        polys[asked] = shapely.from_wkb(wkb[areas[asked]])  # only the polygons searched
        unb = np.flatnonzero(np.isinf(lim))
        if len(unb):
            w, d = nearest_distances(tree, polys[unb])
            road[areas[unb[w]]] = d
        fin = np.flatnonzero(np.isfinite(lim) & (lim >= 0))
        for grp in _by_bound(lim[fin]):
            k = fin[grp]
            reach = float(lim[k].max()) * (1 + 1e-9) + 1e-9
            w, d = nearest_distances(tree, polys[k], max_distance=reach)
            road[areas[k[w]]] = d
    return edge, dist, along, frac, road


def _by_bound(bound: npt.NDArray[np.float64], groups: int = 8) -> list[npt.NDArray[np.int64]]:
    """Positions of ``bound`` in a few groups of similar bounds (each searched up to its largest)."""
    if not len(bound):
        return []
    order = np.argsort(bound, kind="stable")
    return [g for g in np.array_split(order, min(groups, len(order))) if len(g)]


def _build_tree(region: RoadRegion) -> int:
    return len(region.shapes.tree)


def share_road_edges(graph: GraphLike, executor: Executor | Any | None, *, build: bool = True) -> Any:
    """Give every worker a strip of the road graph's lines, and build its STRtree there.

    The lines are split into one strip per worker (:func:`road_regions`, about as many edges
    each, overlapping by :data:`REGION_REACH_M` on either side) and each worker gets its own,
    once per executor (:meth:`gis.executor.Executor.share_each`). From then on every snap of
    this graph on this executor (the places of coverage, the stations) runs on the workers: a
    place is asked of its own strip, and of the others only when an edge there could be nearer
    (:func:`_snap_on_workers`); the rows equal the whole tree's. The driver never builds the
    tree. In process it returns the graph's :class:`~gis.network.EdgeShapes`.

    Examples
    --------
    >>> from gis import graph_from_lines
    >>> share_road_edges(graph_from_lines(city["roads"]), None).tree is not None
    True
    """
    ex = as_executor(executor)
    shapes = as_road_graph(graph).edge_shapes()
    if isinstance(ex, InProcessExecutor):
        return shapes
    held = ex.held(shapes)
    if held is not None:
        return held
    regions = road_regions(shapes, ex.n_workers)
    bounds = [r.bounds() for r in regions]
    handles = ex.share_each(regions, keep_for=shapes, meta=bounds)
    del regions
    if build:
        list(ex.run(_build_tree, [(h,) for h in handles], pin=handles, name="road_tree"))
    return ex.held(shapes)


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
