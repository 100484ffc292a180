"""Response times of area units read from a coverage already computed, not searched again.

A scenario's risk on ``grid:`` units needs the first engine's response time of every cell.
:func:`planning.unit_response_times` snaps the cells and runs the travel-time engine again
(road matrix, station snaps, nearest-station search); but :func:`planning.analyse_coverage`
has just done all of that for its own grid, which on a province is the same 500 m lattice.
:func:`area_response_times` takes the coverage's rows for the cells whose snap point (the point
on the cell's surface, :func:`gis.snap.snap_targets`) is exactly one of the coverage's, and
runs :func:`planning.unit_response_times` only on the others. A unit's time depends only on its
point (the same nearest edge, the same position along it, the same station times), so the times
are the same bit for bit; the off-road flag also looks at the cell itself
(:func:`gis.snap.road_distances`), so it is measured again on the risk's own polygon.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from gis.network import as_road_graph
from gis.snap import default_max_snap_m, road_distances, snap_targets

from .names import DEFAULT_STANDARD
from .response import unit_response_times

if TYPE_CHECKING:
    import geopandas as gpd

    from gis.executor import Executor
    from gis.network.graph import GraphLike

    from .standards import ResponseStandard

__all__ = ["area_response_times"]

log = logging.getLogger(__name__)


def _point_key(points: Any) -> pd.MultiIndex:
    return pd.MultiIndex.from_arrays([shapely.get_x(points), shapely.get_y(points)])


def _flags(geoms: Any, points: Any, snap_m: npt.NDArray[np.float64], road: Any, limit: float) -> Any:
    """The off-road flag of each unit itself, as the snap sets it (:func:`gis.snap.road_distances`).

    A unit every vertex of which lies within ``r`` of its point lies wholly within ``r`` of it,
    so it is at least ``snap_m - r`` from every road: where that clears the limit by a metre
    (far above any rounding), the unit is off the road network without a search. Only the
    others are searched, up to the limit, as the snap searches them.
    """
    sure = np.zeros(len(geoms), dtype=bool)
    beyond = np.flatnonzero(snap_m > limit)
    if len(beyond):
        xy, which = shapely.get_coordinates(geoms[beyond], return_index=True)
        px, py = shapely.get_x(points[beyond])[which], shapely.get_y(points[beyond])[which]
        reach = np.zeros(len(beyond))
        np.maximum.at(reach, which, np.hypot(xy[:, 0] - px, xy[:, 1] - py))
        sure[beyond] = snap_m[beyond] - reach > limit + 1.0
    flagged = sure.copy()
    rest = np.flatnonzero(~sure)
    road_m = road_distances(geoms[rest], points[rest], snap_m[rest], road.edge_tree(), within_m=limit)
    flagged[rest] = road_m > limit
    return flagged


def area_response_times(
    graph: GraphLike,
    stations: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    *,
    coverage: gpd.GeoDataFrame,
    standard: str | Mapping[str, Any] | ResponseStandard = DEFAULT_STANDARD,
    max_snap_m: float | None = None,
    executor: Executor | Any | None = None,
) -> pd.Series:
    """:func:`planning.unit_response_times` of ``units``, reusing ``coverage`` where it can.

    Parameters
    ----------
    graph, stations, units, standard, max_snap_m, executor
        As for :func:`planning.unit_response_times`.
    coverage
        A :func:`planning.layer_coverage` table (such as ``CoverageResult.area_units``) computed
        on the same graph and stations, under the same standard and snap limit, at speed factor
        1. Its ``response_time_s`` and ``snap_distance_m`` are taken for every unit whose point
        is exactly one of its rows' points.

    Returns
    -------
    pandas.Series
        ``response_time_s`` on the index of ``units``, ``inf`` for units off the road network:
        equal to ``unit_response_times(graph, stations, units, ...)``.

    Examples
    --------
    With the demo city ``city = gis.demo_city(n_road_nodes=2000)`` (built once for all doctests):

    >>> import shapely
    >>> from gis import graph_from_lines
    >>> from planning import area_grid, layer_coverage, unit_response_times
    >>> g = graph_from_lines(city["roads"])
    >>> cells = area_grid(shapely.box(*city["roads"].total_bounds), cell_m=2000, crs=city["roads"].crs)
    >>> cov = layer_coverage(g, city["fire_stations"], cells)
    >>> t = area_response_times(g, city["fire_stations"], cells, coverage=cov)
    >>> t.equals(unit_response_times(g, city["fire_stations"], cells))
    True
    """
    road = as_road_graph(graph)
    limit = default_max_snap_m() if max_snap_m is None else float(max_snap_m)
    if not len(units) or not len(coverage):
        return unit_response_times(
            graph, stations, units, standard=standard, max_snap_m=max_snap_m, executor=executor
        )
    _, points, geoms = snap_targets(units, road.crs, where="the area units")
    _, known, _ = snap_targets(coverage, road.crs, where="the coverage's area units")
    keys = _point_key(known)
    first = ~keys.duplicated()
    pos = keys[first].get_indexer(_point_key(points))
    rows = np.flatnonzero(first)
    hit = np.flatnonzero(pos >= 0)
    times = np.full(len(units), np.nan)
    flagged = np.zeros(len(units), dtype=bool)
    if len(hit):
        src = rows[pos[hit]]
        times[hit] = coverage["response_time_s"].to_numpy(np.float64)[src]
        snap = coverage["snap_distance_m"].to_numpy(np.float64)[src]
        flagged[hit] = _flags(geoms[hit], points[hit], snap, road, limit)
    miss = np.flatnonzero(pos < 0)
    log.info("area response times: %d units from the coverage, %d searched", len(hit), len(miss))
    out = pd.Series(np.where(flagged, np.inf, times), index=units.index, name="response_time_s")
    if len(miss):
        rest = unit_response_times(
            graph, stations, units.iloc[miss], standard=standard, max_snap_m=max_snap_m, executor=executor
        )
        out.iloc[miss] = rest.to_numpy(np.float64)
    return out
