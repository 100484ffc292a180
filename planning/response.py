"""Response times of places: how long the first engine takes to reach each feature of a layer.

:func:`layer_coverage` answers it for any layer (communities, hazards, area units) from the
stations, by road: turnout + travel to the point of the feature on its nearest road, the
nearest and second station, the stations within the standard, and the one rule for places off
the road network (:data:`OFF_ROAD_RULE`). :func:`unit_response_times` and :func:`reached_times`
give the times the risk model and the plans read; :func:`summarise_coverage` the shares covered.
:func:`planning.analyse_coverage` runs it on a whole scenario.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from gis.errors import InputError
from gis.executor import InProcessExecutor, as_executor

from ._stats import quantile
from .names import DEFAULT_STANDARD
from .parallel import SnappedPointEngine, SourceReduction, reduce_sources
from .snapping import _snap_layers, _snap_points, _snap_stations, share_road_edges
from .standards import ResponseStandard, response_standard
from .travel import RoadMatrix, TargetsBySources, road_matrix

if TYPE_CHECKING:
    from gis.executor import Executor
    from gis.network.graph import GraphLike, RoadGraph

__all__ = [
    "FULL_MATRIX_MAX",
    "OFF_ROAD_RULE",
    "SECOND_BEYOND_RULE",
    "TravelMatrix",
    "area_grid",
    "layer_coverage",
    "reached_times",
    "summarise_coverage",
    "unit_response_times",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
PERCENTILES = (50, 90, 95)

#: How coverage gets the station times: ``full`` holds the stations x nodes travel-time matrix
#: (one search per station over the whole graph); ``chunked`` never does (one multi-source search
#: for the nearest station, per-station searches cut off at the largest threshold, a chunk of
#: stations at a time); ``auto`` picks ``full`` while stations x nodes <= :data:`FULL_MATRIX_MAX`.
TravelMatrix = Literal["auto", "full", "chunked"]
TRAVEL_MATRICES: tuple[str, ...] = ("auto", "full", "chunked")

#: Stations x road nodes up to which ``travel_matrix="auto"`` holds the full matrix: 25 million
#: float64 entries (200 MB; the 100k-node demo city with 250 stations). Above it, ``chunked``.
FULL_MATRIX_MAX = 25_000_000

#: What the chunked path reports where the second station lies beyond the per-station searches.
SECOND_BEYOND_RULE = (
    "the second station is farther than the cut-off of the per-station searches (or unreachable): "
    "`second_beyond_cutoff` is True, `second_station` empty and `second_response_time_s` NaN "
    "(not inf, which would read as unreachable); the cut-off is in `attrs['second_cutoff_s']`"
)

#: One rule for places off the road network, in coverage and in plans alike.
OFF_ROAD_RULE = (
    "farther than the snap limit (road_speeds.toml `max_snap_m`) from any road: no engine reaches "
    "them by road, so they count as not covered, before and after any plan"
)


def _speed(speed_factor: float) -> float:
    if not np.isfinite(speed_factor) or speed_factor <= 0:
        msg = f"`speed_factor` is {speed_factor}. Fix: give a positive factor (1.0 = road speeds as built)."
        raise InputError(msg)
    return float(speed_factor)


@dataclass(frozen=True)
class _Engine:
    """Station times computed once and shared by every layer.

    The full path holds ``node_times`` (stations x nodes). The chunked path holds the
    multi-source result instead (``nearest_cost`` and ``nearest_station`` per node) and searches
    the stations again, ``chunk_size`` at a time cut off at ``cutoff_cost``, for each set of places.
    """

    graph: RoadGraph
    matrix: RoadMatrix
    standard: ResponseStandard
    speed_factor: float
    station_ids: pd.Index
    node_times: TargetsBySources | None  # (n, k) travel at speed factor 1; None when chunked
    edge_weight: str
    max_snap_m: float | None
    station_pos: IntArray
    nearest_cost: FloatArray | None = None  # (n,) cost from the nearest station (chunked)
    nearest_station: IntArray | None = None  # (n,) its position in the stations, -1 unreached
    cutoff_cost: float | None = None  # per-station searches stop here (graph cost)
    chunk_size: int = 16
    executor: Executor | Any | None = None

    @property
    def chunked(self) -> bool:
        """Whether the stations x nodes matrix is never held."""
        return self.node_times is None

    @property
    def second_cutoff_s(self) -> float:
        """Response time up to which the chunked path finds every station (inf on the full path)."""
        if self.cutoff_cost is None:
            return np.inf
        return float(self.standard.turnout_s + self.cutoff_cost / self.speed_factor)


def _cutoff_cost(standard: ResponseStandard, speed_factor: float, *more_response_s: float) -> float:
    """Graph cost bounding every travel whose response is within the standard (and ``more_response_s``).

    A hair above the exact conversion, so that rounding never drops a place at the threshold;
    places found a little beyond it simply do not count.
    """
    limits = [standard.response_s, *more_response_s]
    if standard.full_alarm_response_s is not None:
        limits.append(standard.full_alarm_response_s)
    travel = max(max(limits) - standard.turnout_s, 0.0) * speed_factor
    return float(travel * (1.0 + 1e-9) + 1e-6)


def _travel_matrix(travel_matrix: str, n_stations: int, n_nodes: int) -> bool:
    """Whether to take the chunked path (see :data:`TravelMatrix`)."""
    if travel_matrix not in TRAVEL_MATRICES:
        msg = f"`travel_matrix` is {travel_matrix!r}. Fix: use one of {', '.join(TRAVEL_MATRICES)}."
        raise InputError(msg)
    if travel_matrix == "auto":
        return n_stations * n_nodes > FULL_MATRIX_MAX
    return travel_matrix == "chunked"


def _engine(
    graph: GraphLike,
    stations: gpd.GeoDataFrame,
    *,
    standard: str | Mapping[str, Any] | ResponseStandard,
    speed_factor: float,
    max_snap_m: float | None,
    edge_weight: str,
    travel_matrix: str = "auto",
    chunk_size: int = 16,
    executor: Executor | Any | None = None,
) -> tuple[_Engine, pd.DataFrame]:
    std = response_standard(standard)
    speed = _speed(speed_factor)
    m = road_matrix(graph, edge_weight=edge_weight)
    if executor is not None and stations is not None:
        ex = as_executor(executor)
        if not isinstance(ex, InProcessExecutor) and _travel_matrix(travel_matrix, len(stations), m.n_nodes):
            # every snap of the chunked path on the workers: each holds a strip of the road lines
            share_road_edges(m.graph, ex)
    snaps = _snap_stations(m, stations, max_snap_m=max_snap_m, layer="fire_stations", executor=executor)
    pos = m.positions(snaps["node"].tolist())
    if not _travel_matrix(travel_matrix, len(pos), m.n_nodes):
        times = m.one_to_all(pos)
        return _Engine(m.graph, m, std, speed, snaps.index, times, edge_weight, max_snap_m, pos), snaps
    cost, which = m.nearest(pos)
    cutoff = _cutoff_cost(std, speed)
    log.info(
        "coverage, chunked: %d stations x %d nodes, per-station searches cut off at %.0f s travel",
        len(pos),
        m.n_nodes,
        cutoff,
    )
    engine = _Engine(
        m.graph,
        m,
        std,
        speed,
        snaps.index,
        None,
        edge_weight,
        max_snap_m,
        pos,
        nearest_cost=cost,
        nearest_station=which,
        cutoff_cost=cutoff,
        chunk_size=int(chunk_size),
        executor=executor,
    )
    return engine, snaps


def _empty_layer(points: gpd.GeoDataFrame, std: ResponseStandard) -> gpd.GeoDataFrame:
    out = points.copy()
    for col in ("nearest_station", "second_station"):
        out[col] = pd.Series(dtype=object)
    for col in ("travel_time_s", "response_time_s", "second_response_time_s", "snap_distance_m"):
        out[col] = pd.Series(dtype=float)
    out["n_stations_within"] = pd.Series(dtype=int)
    if std.full_alarm_response_s is not None:
        out["n_stations_full_alarm"] = pd.Series(dtype=int)
    out["covered"] = pd.Series(dtype=bool)
    out["flagged"] = pd.Series(dtype=bool)
    return out


def _layers(
    engine: _Engine, layers: Mapping[str, gpd.GeoDataFrame], *, pending: Any = None
) -> dict[str, gpd.GeoDataFrame]:
    """:func:`layer_coverage` of several layers; on the chunked path one pass of searches for all.

    ``pending``: :func:`planning.snapping.start_snaps` of the same (non-empty) layers, begun
    on the workers before the engine was built (chunked path only).
    """
    if not engine.chunked:
        return {name: _layer(engine, points, name) for name, points in layers.items()}
    snaps = _snap_layers(
        engine.matrix,
        {name: points for name, points in layers.items() if len(points)},
        max_snap_m=engine.max_snap_m,
        executor=engine.executor,
        exact_road_distance=False,  # the layers carry `flagged`, not `road_distance_m`
        pending=pending,
    )
    together = pd.concat(list(snaps.values()), ignore_index=True) if snaps else None
    reduction = _reduce_points(engine, together) if together is not None else None
    out, start = {}, 0
    for name, points in layers.items():
        if not len(points):
            out[name] = _empty_layer(points, engine.standard)
            out[name]["second_beyond_cutoff"] = pd.Series(dtype=bool)
            continue
        part = slice(start, start + len(points))
        start += len(points)
        assert reduction is not None
        out[name] = _chunked_layer(engine, points, snaps[name], reduction, part)
    return out


def _reduce_points(engine: _Engine, snaps: pd.DataFrame) -> SourceReduction:
    """Nearest, second and counts of the snapped points from per-station searches cut off."""
    std = engine.standard
    thresholds = [std.response_s]
    if std.full_alarm_response_s is not None:
        thresholds.append(std.full_alarm_response_s)
    points = SnappedPointEngine.from_snaps(
        engine.matrix,
        snaps,
        speed_factor=engine.speed_factor,
        offset_s=std.turnout_s,
        cutoff=engine.cutoff_cost,
    )
    sources = engine.station_pos
    live = None
    if engine.nearest_cost is not None and engine.cutoff_cost is not None:
        csr, new = _within_reach(engine.matrix.csr, engine.nearest_cost, engine.cutoff_cost)
        u, v = new[points.u], new[points.v]
        k = csr.shape[0] - 1  # the isolated node: beyond every station's reach
        # a place whose edge has neither end within reach is beyond every station (all inf):
        # only the others are searched, and the rest get the empty reduction, as they would
        live = np.flatnonzero((u < k) | (v < k))
        points = dataclasses.replace(
            points,
            csr=csr,
            u=u[live],
            v=v[live],
            cost_uv=points.cost_uv[live],
            cost_vu=points.cost_vu[live],
            frac=points.frac[live],
        )
        sources = new[sources]
    r = reduce_sources(
        points,
        sources,
        thresholds=thresholds,
        chunk_size=engine.chunk_size,
        executor=engine.executor,
    )
    if live is None:
        return r
    full = SourceReduction(
        nearest=np.full(len(snaps), -1, np.int64),
        nearest_time=np.full(len(snaps), np.inf),
        second=np.full(len(snaps), -1, np.int64),
        second_time=np.full(len(snaps), np.inf),
        within=np.zeros((len(snaps), len(r.thresholds)), r.within.dtype),
        thresholds=r.thresholds,
    )
    full.nearest[live], full.nearest_time[live] = r.nearest, r.nearest_time
    full.second[live], full.second_time[live] = r.second, r.second_time
    full.within[live] = r.within
    return full


def _within_reach(csr: Any, nearest_cost: FloatArray, cutoff: float) -> tuple[Any, IntArray]:
    """The road graph cut to the nodes some station reaches within ``cutoff``, and the new positions.

    A path of cost <= ``cutoff`` from a station only passes nodes whose nearest-station cost
    (the multi-source search) is <= ``cutoff``, so a search cut off at ``cutoff`` finds the
    same costs, bit for bit, on this subgraph (the same edges between those nodes, in the same
    order). The other nodes map to one extra isolated node, unreached from every station. On
    the province (317 stations, 240 s) the searches then cover a fraction of the 3M nodes.
    """
    import scipy.sparse as sp

    n = csr.shape[0]
    keep = np.flatnonzero(nearest_cost <= cutoff)
    k = len(keep)
    new = np.full(n, k, dtype=np.int64)  # k: the isolated node
    new[keep] = np.arange(k)
    rows = csr[keep]
    cols = new[rows.indices]
    ok = cols < k
    kept = np.r_[0, np.cumsum(ok)][rows.indptr]  # entries kept before each row
    indptr = np.r_[kept - kept[0], kept[-1] - kept[0]].astype(np.int64)
    sub = sp.csr_matrix((rows.data[ok], cols[ok], indptr), shape=(k + 1, k + 1))
    return sub, new


def _chunked_layer(
    engine: _Engine, points: gpd.GeoDataFrame, snaps: pd.DataFrame, r: SourceReduction, part: slice
) -> gpd.GeoDataFrame:
    """One layer of the chunked path: nearest from the multi-source search, the rest from ``r``."""
    std, m = engine.standard, engine.matrix
    assert engine.nearest_cost is not None and engine.nearest_station is not None
    cost, which = engine.nearest_cost, engine.nearest_station
    edge = snaps["edge"].to_numpy(np.int64)
    frac = snaps["frac"].to_numpy(np.float64)
    u, v = m.edge_uv[edge, 0], m.edge_uv[edge, 1]
    # the arithmetic of RoadMatrix.point_times on the nearest-station costs (min commutes with +)
    from_u = cost[u] + frac * m.edge_cost[edge]
    back = m.reverse_costs(edge)
    from_v = np.where(np.isfinite(back), cost[v] + (1.0 - frac) * np.nan_to_num(back), np.inf)
    first = std.turnout_s + np.minimum(from_u, from_v) / engine.speed_factor
    tie = np.where(
        (which[u] < 0) | (which[v] < 0), np.maximum(which[u], which[v]), np.minimum(which[u], which[v])
    )
    by_end = np.where(from_u < from_v, which[u], np.where(from_v < from_u, which[v], tie))
    near, second = r.nearest[part], r.second[part]
    # within the cut-off the reduction knows every station: ties go to the earlier one, as on the full path
    nearest = np.where(near >= 0, near, np.where(np.isfinite(first), by_end, -1))
    k = len(engine.station_ids)
    ids = np.asarray(engine.station_ids, dtype=object)
    none = np.array(None, dtype=object)
    out = points.copy()
    out["node"] = snaps["node"].to_numpy()
    out["snap_distance_m"] = snaps["snap_distance_m"].to_numpy()
    out["flagged"] = snaps["flagged"].to_numpy()
    out["nearest_station"] = np.where(nearest >= 0, ids[np.maximum(nearest, 0)], none)
    out["travel_time_s"] = first - std.turnout_s
    out["response_time_s"] = first
    beyond = (second < 0) & np.isfinite(first) & (k > 1)
    out["second_station"] = np.where(second >= 0, ids[np.maximum(second, 0)], none)
    out["second_response_time_s"] = np.where(beyond, np.nan, r.second_time[part])
    out["second_beyond_cutoff"] = beyond
    out["n_stations_within"] = r.within[part, 0]
    if std.full_alarm_response_s is not None:
        out["n_stations_full_alarm"] = r.within[part, 1]
    out["covered"] = (first <= std.response_s) & ~out["flagged"].to_numpy()
    out.attrs["second_cutoff_s"] = engine.second_cutoff_s
    return out


def _layer(engine: _Engine, points: gpd.GeoDataFrame, layer: str) -> gpd.GeoDataFrame:
    if engine.chunked:
        return _layers(engine, {layer: points})[layer]
    assert engine.node_times is not None
    std = engine.standard
    out = points.copy()
    if len(points) == 0:
        for col in ("nearest_station", "second_station"):
            out[col] = pd.Series(dtype=object)
        for col in ("travel_time_s", "response_time_s", "second_response_time_s", "snap_distance_m"):
            out[col] = pd.Series(dtype=float)
        out["n_stations_within"] = pd.Series(dtype=int)
        out["covered"] = pd.Series(dtype=bool)
        out["flagged"] = pd.Series(dtype=bool)
        return out
    snaps = _snap_points(engine.matrix, points, layer=layer, max_snap_m=engine.max_snap_m)
    travel = engine.matrix.point_times(engine.node_times, snaps) / engine.speed_factor
    response = std.turnout_s + travel  # (points, stations)
    k = len(engine.station_ids)
    order = np.argsort(response, axis=1, kind="stable")
    rows = np.arange(response.shape[0])
    ids = np.asarray(engine.station_ids, dtype=object)
    first = response[rows, order[:, 0]]
    out["node"] = snaps["node"].to_numpy()
    out["snap_distance_m"] = snaps["snap_distance_m"].to_numpy()
    out["flagged"] = snaps["flagged"].to_numpy()
    none = np.array(None, dtype=object)
    out["nearest_station"] = np.where(np.isfinite(first), ids[order[:, 0]], none)
    out["travel_time_s"] = first - std.turnout_s
    out["response_time_s"] = first
    if k > 1:
        second = response[rows, order[:, 1]]
        out["second_station"] = np.where(np.isfinite(second), ids[order[:, 1]], none)
        out["second_response_time_s"] = second
    else:
        out["second_station"] = None
        out["second_response_time_s"] = np.inf
    out["n_stations_within"] = (response <= std.response_s).sum(axis=1)
    if std.full_alarm_response_s is not None:
        out["n_stations_full_alarm"] = (response <= std.full_alarm_response_s).sum(axis=1)
    out["covered"] = (first <= std.response_s) & ~out["flagged"].to_numpy()
    return out


def layer_coverage(
    graph: GraphLike,
    stations: gpd.GeoDataFrame,
    points: gpd.GeoDataFrame,
    *,
    standard: str | Mapping[str, Any] | ResponseStandard = DEFAULT_STANDARD,
    speed_factor: float = 1.0,
    max_snap_m: float | None = None,
    layer: str = "points",
    edge_weight: str = "travel_time_s",
    travel_matrix: TravelMatrix = "auto",
    executor: Executor | Any | None = None,
) -> gpd.GeoDataFrame:
    """Response times from the stations to every feature of a layer.

    Polygons are represented by a point inside them. Features farther than ``max_snap_m``
    from any road keep their times but are ``flagged`` and never count as covered.

    On a large graph (stations x road nodes above :data:`FULL_MATRIX_MAX`) the stations x nodes
    matrix is never held: the nearest station and its time come from one multi-source search,
    the second station and the counts from per-station searches, a chunk of stations at a time,
    cut off just above the standard (the full-alarm time too under NFPA 1710). Every figure is
    the full path's, except that a second station beyond the cut-off is reported as such
    (:data:`SECOND_BEYOND_RULE`).

    Parameters
    ----------
    graph
        Road graph in a metric CRS (or a networkx graph).
    stations
        Fire stations indexed by id.
    points
        Communities, hazard sources, area units... (any geometry, with a CRS).
    standard
        Response profile (:class:`~planning.standards.ResponseStandard`: the turnout plus the
        travel time allowed for the first engine): a profile name of
        ``planning/data/response_standards.toml`` (``cn-gb51080``, ``nfpa-1710``,
        ``cn-micro-135``), a mapping with ``turnout_s`` and ``travel_s``, or a ResponseStandard.
    speed_factor
        Engine speed relative to the edge speeds (travel time divided by it).
    max_snap_m
        Snap limit (default 500 m, from ``road_speeds.toml``).
    layer
        Layer name for messages.
    edge_weight
        Edge attribute to minimise (seconds).
    travel_matrix
        ``auto`` (the rule above), ``full`` or ``chunked`` to force a path (:data:`TravelMatrix`).
    executor
        Where the chunks of per-station searches run (chunked path): None (here), an executor of
        :func:`gis.executor.open_executor` or a ``distributed.Client``. Results are identical.

    Returns
    -------
    geopandas.GeoDataFrame
        ``points`` (same index) plus ``node``, ``snap_distance_m``, ``flagged``,
        ``nearest_station``, ``travel_time_s``, ``response_time_s``, ``second_station``,
        ``second_response_time_s``, ``n_stations_within`` (stations within the standard),
        ``n_stations_full_alarm`` (NFPA 1710 only) and ``covered``; on the chunked path also
        ``second_beyond_cutoff``, with the cut-off (response seconds) in ``attrs["second_cutoff_s"]``.

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from gis import graph_from_lines
    >>> graph = graph_from_lines(city["roads"])
    >>> com = layer_coverage(graph, city["fire_stations"], city["communities"], layer="communities")
    >>> bool((com["second_response_time_s"] >= com["response_time_s"]).all())
    True
    """
    engine, _ = _engine(
        graph,
        stations,
        standard=standard,
        speed_factor=speed_factor,
        max_snap_m=max_snap_m,
        edge_weight=edge_weight,
        travel_matrix=travel_matrix,
        executor=executor,
    )
    return _layer(engine, points, layer)


def area_grid(extent: shapely.Geometry, *, cell_m: float = 500.0, crs: Any = None) -> gpd.GeoDataFrame:
    """Square area units of ``cell_m`` covering ``extent``, clipped to it, with ``area_km2``.

    Examples
    --------
    >>> g = area_grid(shapely.box(0, 0, 1000, 600), cell_m=500, crs=32649)
    >>> len(g), round(float(g["area_km2"].sum()), 2)
    (4, 0.6)
    """
    if cell_m <= 0:
        msg = f"`cell_m` is {cell_m}. Fix: give a positive cell size in metres."
        raise InputError(msg)
    x0, y0, x1, y1 = extent.bounds
    xs = np.arange(x0, x1, cell_m)
    ys = np.arange(y0, y1, cell_m)
    gx, gy = np.meshgrid(xs, ys)
    boxes = shapely.box(gx.ravel(), gy.ravel(), gx.ravel() + cell_m, gy.ravel() + cell_m)
    extent = shapely.from_wkb(shapely.to_wkb(extent))  # a copy to prepare, the caller's left as it is
    shapely.prepare(extent)
    keep = shapely.intersects(boxes, extent)
    boxes = boxes[keep]
    # a box inside the extent is its own clip: GEOS gives it back clockwise from its lower-left
    # corner, which `box(ccw=False)` writes directly (the same coordinates in the same order,
    # tests/test_coverage.py); only the boxes on the boundary are clipped
    inside = shapely.contains_properly(extent, boxes)
    cells = np.empty(len(boxes), dtype=object)
    cells[inside] = shapely.box(*shapely.bounds(boxes[inside]).T, ccw=False)
    cells[~inside] = shapely.intersection(boxes[~inside], extent)
    cells = cells[shapely.area(cells) > 0]
    index = pd.Index([f"C{i:05d}" for i in range(len(cells))], name="id")
    return gpd.GeoDataFrame({"area_km2": shapely.area(cells) / 1e6}, geometry=cells, crs=crs, index=index)


def _percentiles(values: FloatArray) -> dict[str, float]:
    finite = values[np.isfinite(values)]
    out = {f"p{p}_response_s": quantile(values, p / 100) for p in PERCENTILES}
    out["max_response_s"] = float(finite.max()) if len(finite) else np.nan
    return out


def summarise_coverage(
    layers: Mapping[str, gpd.GeoDataFrame],
    standard: ResponseStandard,
    *,
    weight_columns: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One row per layer: features and weight (population, area) covered, response percentiles.

    Parameters
    ----------
    layers
        ``{layer: layer_coverage output}``.
    standard
        The response profile used (its ``required_share`` decides ``meets_standard``).
    weight_columns
        ``{layer: column}`` to weigh by, such as ``{"communities": "population"}``; other
        layers count features.

    Examples
    --------
    >>> gdf = gpd.GeoDataFrame({"covered": [True, False], "response_time_s": [200.0, 400.0],
    ...                         "flagged": [False, False], "population": [300, 100]})
    >>> s = summarise_coverage({"communities": gdf}, response_standard("cn-gb51080"),
    ...                        weight_columns={"communities": "population"})
    >>> float(s.loc["communities", "share_weight"])
    0.75
    """
    columns = dict(weight_columns or {})
    rows = []
    for name, gdf in layers.items():
        covered = gdf["covered"].to_numpy(bool)
        col = columns.get(name)
        w = gdf[col].to_numpy(float) if col else np.ones(len(gdf))
        total = float(w.sum())
        share = float(w[covered].sum() / total) if total > 0 else np.nan
        rows.append(
            {
                "layer": name,
                "features": len(gdf),
                "covered": int(covered.sum()),
                "flagged": int(gdf["flagged"].sum()),
                "weight": col or "count",
                "weight_total": total,
                "weight_covered": float(w[covered].sum()),
                "share_weight": share,
                **_percentiles(gdf["response_time_s"].to_numpy(float)),
                "required_share": standard.required_share,
                "meets_standard": bool(share >= standard.required_share) if total > 0 else False,
            }
        )
    return pd.DataFrame(rows).set_index("layer")


def unit_response_times(
    graph: GraphLike,
    stations: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    *,
    standard: str | Mapping[str, Any] | ResponseStandard = DEFAULT_STANDARD,
    speed_factor: float = 1.0,
    max_snap_m: float | None = None,
    executor: Executor | Any | None = None,
) -> pd.Series:
    """First-engine response time of every unit by road, ``inf`` where none is reached.

    Each unit is snapped to the road network itself (by a point inside it), never given the
    time of the community it lies in; units off the road network (:data:`OFF_ROAD_RULE`)
    count as not reached. Pass it to :func:`risk_models.score_scenario` as
    ``response_time_s=lambda units: unit_response_times(graph, stations, units)``. ``standard``
    is the response profile (turnout + first-engine travel), as in :func:`layer_coverage`;
    ``executor`` too (a province's grid: its snaps and searches on the workers, same times).

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> from gis import graph_from_lines
    >>> cells = area_grid(shapely.box(*city["roads"].total_bounds), cell_m=2000, crs=city["roads"].crs)
    >>> t = unit_response_times(graph_from_lines(city["roads"]), city["fire_stations"], cells)
    >>> t.index.equals(cells.index), bool((t > 60).all())
    (True, True)
    """
    table = layer_coverage(
        graph,
        stations,
        units,
        standard=standard,
        speed_factor=speed_factor,
        max_snap_m=max_snap_m,
        layer="units",
        executor=executor,
    )
    return reached_times(table)


def reached_times(table: pd.DataFrame) -> pd.Series:
    """Response times of a :func:`layer_coverage` table, ``inf`` for places off the road network.

    The one rule (:data:`OFF_ROAD_RULE`) by which risk and plans read coverage: a place farther
    than the snap limit from every road is not reached.

    Examples
    --------
    >>> t = pd.DataFrame({"response_time_s": [200.0, 250.0], "flagged": [False, True]})
    >>> reached_times(t).tolist()
    [200.0, inf]
    """
    t = table["response_time_s"].astype(float).where(~table["flagged"].astype(bool), np.inf)
    return t.rename("response_time_s")
