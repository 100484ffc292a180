"""Response times of places: how long the first engine takes to reach each feature of a layer.

:func:`layer_coverage` answers it for any layer (communities, hazards, area units) from the
stations, by road: turnout + travel to the point of the feature on its nearest road, the
nearest and second station, the stations within the standard, and the one rule for places off
the road network (:data:`OFF_ROAD_RULE`). :func:`unit_response_times` and :func:`reached_times`
give the times the risk model and the plans read; :func:`summarise_coverage` the shares covered.
:func:`planning.analyse_coverage` runs it on a whole scenario.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from gis.errors import InputError

from .names import DEFAULT_STANDARD
from .snapping import _snap_points, _snap_stations
from .standards import ResponseStandard, response_standard
from .travel import RoadMatrix, TargetsBySources, road_matrix

if TYPE_CHECKING:
    from gis.network.graph import GraphLike, RoadGraph

__all__ = [
    "OFF_ROAD_RULE",
    "area_grid",
    "layer_coverage",
    "reached_times",
    "summarise_coverage",
    "unit_response_times",
]

FloatArray = npt.NDArray[np.float64]
PERCENTILES = (50, 90, 95)

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
    """Station times computed once and shared by every layer."""

    graph: RoadGraph
    matrix: RoadMatrix
    standard: ResponseStandard
    speed_factor: float
    station_ids: pd.Index
    node_times: TargetsBySources  # (n, k) travel at speed factor 1
    edge_weight: str
    max_snap_m: float | None


def _engine(
    graph: GraphLike,
    stations: gpd.GeoDataFrame,
    *,
    standard: str | Mapping[str, Any] | ResponseStandard,
    speed_factor: float,
    max_snap_m: float | None,
    edge_weight: str,
) -> tuple[_Engine, pd.DataFrame]:
    std = response_standard(standard)
    speed = _speed(speed_factor)
    m = road_matrix(graph, edge_weight=edge_weight)
    snaps = _snap_stations(m, stations, max_snap_m=max_snap_m, layer="fire_stations")
    times = m.one_to_all(m.positions(snaps["node"].tolist()))
    return _Engine(m.graph, m, std, speed, snaps.index, times, edge_weight, max_snap_m), snaps


def _layer(engine: _Engine, points: gpd.GeoDataFrame, layer: str) -> gpd.GeoDataFrame:
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
) -> gpd.GeoDataFrame:
    """Response times from the stations to every feature of a layer.

    Polygons are represented by a point inside them. Features farther than ``max_snap_m``
    from any road keep their times but are ``flagged`` and never count as covered.

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

    Returns
    -------
    geopandas.GeoDataFrame
        ``points`` (same index) plus ``node``, ``snap_distance_m``, ``flagged``,
        ``nearest_station``, ``travel_time_s``, ``response_time_s``, ``second_station``,
        ``second_response_time_s``, ``n_stations_within`` (stations within the standard),
        ``n_stations_full_alarm`` (NFPA 1710 only) and ``covered``.

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
    keep = shapely.intersects(boxes, extent)
    cells = shapely.intersection(boxes[keep], extent)
    cells = cells[shapely.area(cells) > 0]
    index = pd.Index([f"C{i:05d}" for i in range(len(cells))], name="id")
    return gpd.GeoDataFrame({"area_km2": shapely.area(cells) / 1e6}, geometry=cells, crs=crs, index=index)


def _percentiles(values: FloatArray) -> dict[str, float]:
    finite = values[np.isfinite(values)]
    out = {
        f"p{p}_response_s": float(np.percentile(values, p)) if len(values) else np.nan for p in PERCENTILES
    }
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
) -> pd.Series:
    """First-engine response time of every unit by road, ``inf`` where none is reached.

    Each unit is snapped to the road network itself (by a point inside it), never given the
    time of the community it lies in; units off the road network (:data:`OFF_ROAD_RULE`)
    count as not reached. Pass it to :func:`risk_models.score_scenario` as
    ``response_time_s=lambda units: unit_response_times(graph, stations, units)``. ``standard``
    is the response profile (turnout + first-engine travel), as in :func:`layer_coverage`.

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
