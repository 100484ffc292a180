"""Per-app state and the dependencies every route uses (token checks, scenario loading, GeoJSON).

The state of one app lives in ``app.state.service`` (a :class:`ServiceState`); nothing is
module-global, so two apps in one process (tests) never share anything.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gis import InputError, Scenario

from ._api_budget import AnonymousGate, mark_trusted
from ._api_settings import Settings
from ._graphs import ServiceGraphs
from .auth import TokenSource, check_bearer
from .jobs import JobRegistry, JobRunner
from .store import Store
from .uploads import UnpackBudget

__all__ = [
    "BBOX_PATTERN",
    "GEOJSON",
    "BBox",
    "ScenarioCache",
    "ServiceState",
    "get_service",
    "parse_bbox",
    "require_read",
    "require_write",
]

GEOJSON = "application/geo+json"
BBox = tuple[float, float, float, float]


class ScenarioCache:
    """The last few loaded scenarios (immutable, so safe to share between requests)."""

    def __init__(self, load: Callable[[str], Scenario], size: int) -> None:
        self._load = load
        self._size = max(1, size)
        self._items: OrderedDict[str, Scenario] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, scenario_id: str) -> Scenario:
        """The scenario, loaded on first use."""
        with self._lock:
            if scenario_id in self._items:
                self._items.move_to_end(scenario_id)
                return self._items[scenario_id]
        scenario = self._load(scenario_id)
        with self._lock:
            self._items[scenario_id] = scenario
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return scenario

    def evict(self, scenario_id: str) -> None:
        """Forget a scenario (after it was deleted)."""
        with self._lock:
            self._items.pop(scenario_id, None)


@dataclass(frozen=True)
class ServiceState:
    """Everything one app instance holds.

    Attributes
    ----------
    settings, store, registry, runner, token
        Configuration, storage, job kinds and runner, the API token.
    scenarios
        Loaded scenarios (LRU).
    gate
        Where analyses are built for requests without the token (:mod:`service._api_budget`).
    graphs
        The road-graph cache in ``DATA_DIR/cache/graphs`` (:mod:`service._graphs`).
    unpacking
        Bytes being unpacked by uploads in progress, bounded for the whole server.
    """

    settings: Settings
    store: Store
    registry: JobRegistry
    runner: JobRunner
    token: TokenSource
    scenarios: ScenarioCache
    gate: AnonymousGate
    graphs: ServiceGraphs
    unpacking: UnpackBudget


def get_service(request: Request) -> ServiceState:
    """The :class:`ServiceState` of the app serving ``request``."""
    state: ServiceState = request.app.state.service
    return state


_bearer = HTTPBearer(auto_error=False, description="The token from DATA_DIR/api_token.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _header(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str | None:
    if credentials is not None:
        return f"{credentials.scheme} {credentials.credentials}"
    return request.headers.get("authorization")


# Both checks are async on purpose: they only compare strings, and a sync dependency would
# cost every request a round trip through the threadpool.
async def require_write(request: Request, credentials: Credentials) -> None:
    """Write endpoints need the API token."""
    check_bearer(_header(request, credentials), get_service(request).token.token)
    mark_trusted(request, True)


async def require_read(request: Request, credentials: Credentials) -> None:
    """Read endpoints need the token only when ``protect_reads`` is set.

    A token sent on a public read is checked all the same (a wrong one is a 403, so a typo
    shows), and marks the request as trusted: the anonymous limits do not apply to it.
    """
    service = get_service(request)
    header = _header(request, credentials)
    if service.settings.protect_reads or header:
        check_bearer(header, service.token.token)
    mark_trusted(request, header is not None)


_LON = r"-?(?:180(?:\.0+)?|(?:1[0-7][0-9]|[0-9]{1,2})(?:\.[0-9]+)?)"
_LAT = r"-?(?:90(?:\.0+)?|[1-8]?[0-9](?:\.[0-9]+)?)"
#: Exactly the bboxes the API takes: four plain decimal numbers, longitudes in -180..180 and
#: latitudes in -90..90 (so every value the schema allows, the server accepts).
BBOX_PATTERN = rf"^ *{_LON} *, *{_LAT} *, *{_LON} *, *{_LAT} *$"


def parse_bbox(
    bbox: Annotated[
        str | None,
        Query(
            description=(
                "west,south,east,north in degrees (EPSG:4326). A west greater than east crosses the "
                "antimeridian (RFC 7946); the two latitudes may come in either order."
            ),
            pattern=BBOX_PATTERN,
            max_length=200,
        ),
    ] = None,
) -> BBox | None:
    """Parse ``bbox=w,s,e,n`` (degrees) or raise a 422 naming the fix.

    Examples
    --------
    >>> parse_bbox("112.5,37.8,112.6,37.9")
    (112.5, 37.8, 112.6, 37.9)
    >>> parse_bbox("170,10,-170,-10")  # across the antimeridian, latitudes reversed
    (170.0, -10.0, -170.0, 10.0)
    """
    if bbox is None:
        return None
    try:
        west, south, east, north = (float(v) for v in bbox.split(","))
    except ValueError:
        msg = "`bbox` must be four numbers west,south,east,north. Fix: e.g. bbox=112.5,37.8,112.6,37.9"
        raise InputError(msg) from None
    values = (west, south, east, north)
    if not all(math.isfinite(v) for v in values) or not (
        min(west, east) >= -180
        and max(west, east) <= 180
        and min(south, north) >= -90
        and max(south, north) <= 90
    ):
        msg = (
            "`bbox` must be west,south,east,north in degrees: longitudes in -180..180, latitudes in "
            "-90..90. Fix: check the order (longitude first)."
        )
        raise InputError(msg)
    return west, min(south, north), east, max(south, north)


ReadAccess = Depends(require_read)
WriteAccess = Depends(require_write)
