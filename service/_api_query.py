"""Routes: the point query ``GET /scenarios/{id}/response-times``, and the per-app analysis caches.

The first query of a scenario and standard builds a :class:`planning.ResponseQuery` (one
Dijkstra per station plus a KD-tree on the road nodes) in the request's worker thread, never
on the event loop; later queries only read it and answer in about a millisecond.

Built objects live in :class:`BuildCache` instances on ``app.state.analysis`` (an
:class:`AnalysisCaches`): bounded LRU maps with one build lock per key, so concurrent first
requests for the same key compute once while the others wait, and requests for other keys
are not held up. Everything cached is immutable (frozen results, read-only frames).
"""

from __future__ import annotations

import functools
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool

from gis import InputError, Scenario
from planning import ResponseQuery, standard_names

from ._api_budget import is_trusted
from ._api_deps import ReadAccess, ServiceState, get_service
from ._api_models import ResponseTimesOut, StationTimeOut
from ._api_problems import PROBLEM_RESPONSES
from .store import NotFoundError

__all__ = [
    "DEFAULT_STANDARD",
    "AnalysisCaches",
    "BuildCache",
    "QueryEntry",
    "ScenarioId",
    "StandardParam",
    "cached",
    "cached_async",
    "check_standard",
    "get_caches",
    "router",
    "stations_indexed",
]

V = TypeVar("V")

DEFAULT_STANDARD = "cn-gb51080"

ScenarioId = Annotated[str, PathParam(description="Scenario id (from the list).", max_length=64)]
StandardParam = Annotated[
    str,
    Query(
        description="Response-time standard: `cn-gb51080`, `nfpa-1710` or `cn-micro-135`.",
        min_length=1,
        max_length=64,
        json_schema_extra={"enum": sorted(standard_names())},
    ),
]

router = APIRouter(tags=["results"], responses=PROBLEM_RESPONSES)


class BuildCache(Generic[V]):
    """A bounded LRU of built values with one build lock per key.

    ``get(key, build)`` returns the cached value or calls ``build()`` once, however many
    threads ask for the same missing key at the same time; a failed build is not cached.

    Parameters
    ----------
    size
        Values kept; the least recently used one is dropped beyond it.

    Examples
    --------
    >>> cache = BuildCache[int](size=2)
    >>> cache.get("a", lambda: 1), cache.get("a", lambda: 2), cache.builds
    (1, 1, 1)
    """

    def __init__(self, size: int) -> None:
        self._size = max(1, size)
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._building: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()
        self.builds = 0

    def _lookup(self, key: Hashable) -> tuple[bool, V | None]:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return True, self._items[key]
            return False, None

    def get(self, key: Hashable, build: Callable[[], V]) -> V:
        """The value of ``key``, built by ``build()`` on a miss (once, under the key's lock)."""
        hit, value = self._lookup(key)
        if hit:
            return value  # type: ignore[return-value]
        with self._lock:
            key_lock = self._building.setdefault(key, threading.Lock())
        with key_lock:
            hit, value = self._lookup(key)
            if hit:
                return value  # type: ignore[return-value]
            try:
                built = build()
                with self._lock:
                    self.builds += 1
                    self._items[key] = built
                    while len(self._items) > self._size:
                        self._items.popitem(last=False)
            finally:
                with self._lock:
                    self._building.pop(key, None)
            return built

    def peek(self, key: Hashable) -> V | None:
        """The cached value of ``key`` (marked recently used), or None; never builds."""
        return self._lookup(key)[1]

    def evict(self, key: Hashable) -> None:
        """Forget ``key``."""
        with self._lock:
            self._items.pop(key, None)

    def evict_where(self, predicate: Callable[[Hashable], bool]) -> int:
        """Forget every key for which ``predicate(key)`` holds; return how many."""
        with self._lock:
            doomed = [key for key in self._items if predicate(key)]
            for key in doomed:
                del self._items[key]
        return len(doomed)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


@dataclass(frozen=True)
class QueryEntry:
    """A built point query with each station's ``(name, lon, lat)`` (WGS84) by station id."""

    query: ResponseQuery
    stations: Mapping[str, tuple[str, float, float]]


def _of_scenario(scenario_id: str) -> Callable[[Hashable], bool]:
    def matches(key: Hashable) -> bool:
        return isinstance(key, tuple) and scenario_id in key

    return matches


@dataclass(frozen=True)
class AnalysisCaches:
    """The analysis results one app keeps in memory (bounded, locked; see :class:`BuildCache`).

    Every key is a tuple that holds the scenario id, so :meth:`forget` drops a deleted
    scenario's entries at once.

    Attributes
    ----------
    queries
        ``(scenario id, standard) -> QueryEntry``.
    coverage
        ``(scenario id, standard) -> service._api_results.CoverageEntry`` and
        ``("risk", scenario id, canonical units, standard) -> service._api_risk.RiskEntry``.
    layers
        ``(scenario id, layer) -> service._api_geojson.RenderedLayer``: scenario layers as GeoJSON.
    assessments, pages
        ``(scenario id, standard) -> (coverage, risk)`` and the map and report pages
        (:mod:`service._api_maps`).
    """

    queries: BuildCache[QueryEntry]
    coverage: BuildCache[object]
    layers: BuildCache[object]
    assessments: BuildCache[tuple[Any, Any]]
    pages: BuildCache[bytes]

    @classmethod
    def sized(cls, scenarios: int) -> AnalysisCaches:
        """Caches holding a couple of standards for each of ``scenarios`` scenarios."""
        size = max(2, 2 * scenarios)
        return cls(
            BuildCache(size),
            BuildCache(size),
            BuildCache(max(4, 4 * scenarios)),
            BuildCache(max(2, scenarios)),
            BuildCache(max(4, 2 * scenarios)),
        )

    def forget(self, scenario_id: str) -> int:
        """Drop every entry of a (deleted) scenario; return how many."""
        matches = _of_scenario(scenario_id)
        caches: tuple[BuildCache[Any], ...] = (
            self.queries,
            self.coverage,
            self.layers,
            self.assessments,
            self.pages,
        )
        return sum(cache.evict_where(matches) for cache in caches)


def cached(
    request: Request,
    cache: BuildCache[V],
    key: tuple[Any, ...],
    build: Callable[[], V],
    *,
    scenario_id: str,
    what: str,
) -> V:
    """The value of ``key``: from memory, else built, for anonymous readers through the gate.

    Requests with the API token build directly; the others within the anonymous limits
    (:class:`service._api_budget.AnonymousGate`). A value built for a scenario deleted
    meanwhile is dropped (404), never kept.
    """
    value = cache.peek(key)
    if value is not None:
        return value
    service = get_service(request)
    if is_trusted(request) or service.gate.inside:
        value = cache.get(key, build)
    else:
        value = service.gate.run(what, lambda: cache.get(key, build))
    _still_there(service, cache, key, scenario_id)
    return value


async def cached_async(
    request: Request,
    cache: BuildCache[V],
    key: tuple[Any, ...],
    build: Callable[[], V],
    *,
    scenario_id: str,
    what: str,
) -> V:
    """:func:`cached` for ``async`` routes: the build never runs on the event loop."""
    value = cache.peek(key)
    if value is not None:
        return value
    service = get_service(request)
    if is_trusted(request):
        value = await run_in_threadpool(cache.get, key, build)
    else:
        value = await service.gate.run_async(what, lambda: cache.get(key, build))
    _still_there(service, cache, key, scenario_id)
    return value


def _still_there(
    service: ServiceState, cache: BuildCache[Any], key: tuple[Any, ...], scenario_id: str
) -> None:
    try:
        service.store.get_scenario(scenario_id)
    except NotFoundError:
        cache.evict(key)
        raise


def get_caches(request: Request) -> AnalysisCaches:
    """The :class:`AnalysisCaches` of the app serving ``request``."""
    caches: AnalysisCaches = request.app.state.analysis
    return caches


def check_standard(standard: str) -> str:
    """Return ``standard`` if it is a shipped response profile, else raise a 422 naming them.

    Examples
    --------
    >>> check_standard("nfpa-1710")
    'nfpa-1710'
    """
    names = _shipped_standards()
    if standard not in names:
        msg = f"Unknown response standard `{standard}`. Fix: use one of {list(names)}."
        raise InputError(msg)
    return standard


@functools.cache
def _shipped_standards() -> tuple[str, ...]:
    """The shipped profile names, read once (the table ships with the package)."""
    return tuple(standard_names())


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
        raise NotFoundError(msg)
    turnout_s = query.standard.turnout_s
    rows = []
    for rank, (station_id, response_s, covered) in enumerate(
        zip(
            near.station[:, 0].tolist(),
            near.response_time_s[:, 0].tolist(),
            near.covered[:, 0].tolist(),
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
