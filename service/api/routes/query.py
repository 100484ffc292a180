"""Routes: the point query ``GET /scenarios/{id}/response-times``.

The first query of a scenario and standard builds a :class:`planning.ResponseQuery` (one
Dijkstra per station plus a KD-tree on the road nodes) in the request's worker thread, never
on the event loop; later queries only read it (from :class:`service.api.caches.AnalysisCaches`)
and answer in about a millisecond.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Query, Request

from gis import InputError, Scenario
from planning import ResponseQuery

from ...store import NotFoundError
from ..caches import cached_async, get_caches
from ..deps import ReadAccess, ServiceState, get_service
from ..models import ResponseTimesOut, StationTimeOut
from ..params import DEFAULT_STANDARD, ScenarioId, StandardParam, check_standard
from ..problems import PROBLEM_RESPONSES

__all__ = ["QueryEntry", "router", "stations_indexed"]

router = APIRouter(tags=["results"], responses=PROBLEM_RESPONSES)


@dataclass(frozen=True)
class QueryEntry:
    """A built point query with each station's ``(name, lon, lat)`` (WGS84) by station id."""

    query: ResponseQuery
    stations: Mapping[str, tuple[str, float, float]]


def stations_indexed(scenario: Scenario) -> pd.DataFrame:
    """The scenario's fire stations indexed by their ``id``."""
    stations = scenario["fire_stations"]
    if "id" in stations.columns and stations.index.name != "id":
        stations = stations.set_index("id", drop=False)
        stations.index.name = None
    return stations


def _build_query(service: ServiceState, scenario_id: str, standard: str) -> QueryEntry:
    scenario = service.scenarios.get(scenario_id)
    graph = service.graphs.graph(scenario_id, scenario)
    stations = stations_indexed(scenario)
    query = ResponseQuery.build(graph, stations, standard=standard)
    points = stations.geometry.representative_point().to_crs(4326)
    names = stations["name"].astype(str) if "name" in stations.columns else stations.index.astype(str)
    table = {
        str(sid): (str(name), float(lon), float(lat))
        for sid, name, lon, lat in zip(
            stations.index, names.to_numpy(), points.x.to_numpy(), points.y.to_numpy(), strict=True
        )
    }
    return QueryEntry(query, table)


def _finite(value: float) -> float | None:
    return round(float(value), 1) if math.isfinite(value) else None


@router.get(
    "/scenarios/{scenario_id}/response-times",
    response_model=ResponseTimesOut,
    dependencies=[ReadAccess],
    summary="Response times to a point",
)
async def response_times(
    scenario_id: ScenarioId,
    request: Request,
    *,
    lon: Annotated[float, Query(ge=-180, le=180, description="Longitude in degrees (WGS84).")],
    lat: Annotated[float, Query(ge=-90, le=90, description="Latitude in degrees (WGS84).")],
    k: Annotated[int, Query(ge=1, le=20, description="How many of the fastest stations.")] = 3,
    standard: StandardParam = DEFAULT_STANDARD,
) -> ResponseTimesOut:
    """The ``k`` fastest stations to a point: response time (turnout + travel) and coverage.

    The point is snapped to its nearest road node; for a point farther than the snap limit
    from every road (outside the network) there is no answer: a 404 that says so.
    """
    # Async on purpose: a cached query answers in about a millisecond on the event loop,
    # without a thread hop; the slow first build runs in the threadpool.
    if not (math.isfinite(lon) and math.isfinite(lat)):
        msg = "`lon` and `lat` must be finite numbers of degrees. Fix: e.g. lon=112.9&lat=38.3."
        raise InputError(msg)
    check_standard(standard)
    service = get_service(request)
    service.store.get_scenario(scenario_id)  # 404 before any computation (a sub-ms lookup)
    entry = await cached_async(
        request,
        get_caches(request).queries,
        (scenario_id, standard),
        lambda: _build_query(service, scenario_id, standard),
        scenario_id=scenario_id,
        what=f"The response-time table of scenario `{scenario_id}` under {standard}",
    )
    query = entry.query
    try:
        near = query.nearest(lon, lat, k=k)  # numpy only: (k, 1) arrays for the one point
        snap_m = float(near.snap_distance_m[0])
    except InputError:  # so far away that the scenario's metric CRS cannot hold it
        snap_m = math.inf
    if snap_m > query.max_snap_m:
        distance = f"{snap_m:,.0f} m" if math.isfinite(snap_m) else "too far (outside its map projection)"
        msg = (
            f"The point ({lon:.6f}, {lat:.6f}) is {distance} from the nearest road of scenario "
            f"`{scenario_id}`, beyond the {query.max_snap_m:,.0f} m snap limit: it is outside the "
            "road network, so no station reaches it. Fix: pick a point inside the study area "
            "(longitude first, then latitude)."
        )
        words = {
            "lon": f"{lon:.6f}",
            "lat": f"{lat:.6f}",
            "distance": distance,
            "scenario": scenario_id,
            "limit": f"{query.max_snap_m:,.0f}",
        }
        raise NotFoundError(msg, key="point_off_network", values=words)
    turnout_s = query.standard.turnout_s
    rows = []
    for rank, (station_id, response_s, covered) in enumerate(
        zip(
            near.station[0].tolist(),
            near.response_time_s[0].tolist(),
            near.covered[0].tolist(),
            strict=True,
        ),
        start=1,
    ):
        station = str(station_id)
        name, station_lon, station_lat = entry.stations[station]
        rows.append(
            StationTimeOut(
                rank=rank,
                station=station,
                name=name,
                lon=station_lon,
                lat=station_lat,
                response_time_s=_finite(response_s),
                travel_time_s=_finite(response_s - turnout_s),
                covered=bool(covered),
            )
        )
    return ResponseTimesOut(
        scenario_id=scenario_id,
        standard=standard,
        lon=lon,
        lat=lat,
        snap_distance_m=round(snap_m, 1),
        max_snap_m=query.max_snap_m,
        turnout_s=turnout_s,
        response_standard_s=query.standard.response_s,
        covered=bool(rows and rows[0].covered),
        stations=rows,
    )
