"""The station x community response times the reliability solves on: the coverage's own.

:func:`response_times` computes them the way :func:`planning.layer_coverage` does, so that the
nearest station's time of every community equals the coverage's ``response_time_s``: stations
at their snapped node (the coverage's ``node`` column when a coverage is given), communities
snapped on their edge (:func:`planning.snapping.snap_points`, the one snapping function),
turnout + road travel divided by the speed factor. Communities farther than the snap limit
from every road are marked ``off_network`` (the coverage's ``flagged``,
:data:`planning.response.OFF_ROAD_RULE`): no engine reaches them by road, so they get no
response time (the reliability leaves them out, and says how many).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from gis.errors import InputError

from ..snapping import snap_points, snap_stations
from ..travel import CHUNK_FLOATS, road_matrix

if TYPE_CHECKING:
    import geopandas as gpd

    from gis.network.graph import GraphLike

    from ..coverage import CoverageResult
    from ..standards import ResponseStandard

__all__ = ["response_times"]


def response_times(
    graph: GraphLike,
    stations: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    *,
    standard: ResponseStandard,
    speed_factor: float = 1.0,
    max_snap_m: float | None = None,
    coverage: CoverageResult | None = None,
) -> tuple[pd.DataFrame, pd.Series]:
    """Response seconds from every station to every community, and which are off the network.

    Parameters
    ----------
    graph
        The road graph the coverage ran on (the hour's, for a coverage at an hour).
    stations, communities
        The scenario's layers, indexed by id.
    standard
        The response profile (its turnout is added).
    speed_factor
        Engine speed relative to the edge speeds (a given coverage's own is used instead).
    max_snap_m
        Snap limit (default ``road_speeds.toml``'s); unused when ``coverage`` is given.
    coverage
        A coverage of the same scenario: its stations' snapped ``node``, its communities'
        ``flagged`` and its speed factor are taken, so that the times are the coverage's.

    Returns
    -------
    tuple
        ``(communities, stations)`` DataFrame of response seconds (``inf`` unreachable; ``inf``
        for the off-network communities too, whose rows the caller leaves out) on the
        communities' index with the station ids as columns, and the boolean ``off_network``
        Series on the communities' index.

    Raises
    ------
    gis.InputError
        When the coverage's stations or communities are not the scenario's.
    """
    m = road_matrix(graph, edge_weight="travel_time_s")
    if coverage is not None:
        speed_factor = coverage.speed_factor
        nodes = coverage.stations.get("node")
        flags = coverage.communities.get("flagged")
        if (
            nodes is None
            or flags is None
            or not nodes.index.equals(stations.index)
            or not flags.index.equals(communities.index)
        ):
            msg = (
                "reliability: the coverage's stations or communities are not the scenario's "
                f"({len(coverage.stations)} / {len(coverage.communities)} against {len(stations)} / "
                f"{len(communities)}). Fix: pass the coverage computed on this scenario."
            )
            raise InputError(msg)
        station_nodes = nodes.tolist()
        snaps = snap_points(graph, communities, layer="communities")
        off = flags.astype(bool).rename("off_network")
    else:
        station_nodes = snap_stations(graph, stations, max_snap_m=max_snap_m)["node"].tolist()
        snaps = snap_points(graph, communities, layer="communities", max_snap_m=max_snap_m)
        off = snaps["flagged"].astype(bool).rename("off_network")
    pos = m.positions(station_nodes)
    chunk = max(1, min(64, CHUNK_FLOATS // max(m.n_nodes, 1)))
    travel = np.empty((len(communities), len(pos)))
    for start in range(0, len(pos), chunk):
        node_times = m.one_to_all(pos[start : start + chunk])
        travel[:, start : start + chunk] = m.point_times(node_times, snaps)
    times = standard.turnout_s + travel / speed_factor
    times[off.to_numpy()] = np.inf
    return pd.DataFrame(times, index=communities.index, columns=stations.index), off
