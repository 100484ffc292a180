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

import geopandas as gpd
import pyproj
import shapely
from fastapi import Depends, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gis import InputError, Scenario

from ._api_settings import Settings
from .auth import TokenSource, check_bearer
from .jobs import JobRegistry, JobRunner
from .store import Store

__all__ = [
    "GEOJSON",
    "BBox",
    "ScenarioCache",
    "ServiceState",
    "geojson_response",
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
    """Everything one app instance holds: settings, store, jobs, token, scenario cache."""

    settings: Settings
    store: Store
    registry: JobRegistry
    runner: JobRunner
    token: TokenSource
    scenarios: ScenarioCache


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


async def require_read(request: Request, credentials: Credentials) -> None:
    """Read endpoints need the token only when ``protect_reads`` is set."""
    service = get_service(request)
    if service.settings.protect_reads:
        check_bearer(_header(request, credentials), service.token.token)


def parse_bbox(
    bbox: Annotated[
        str | None,
        Query(
            description="west,south,east,north in degrees (EPSG:4326)",
            pattern=r"^\s*-?[0-9.eE+-]+(\s*,\s*-?[0-9.eE+-]+){3}\s*$",
            max_length=200,
        ),
    ] = None,
) -> BBox | None:
    """Parse ``bbox=w,s,e,n`` (degrees) or raise a 422 naming the fix.

    Examples
    --------
    >>> parse_bbox("112.5,37.8,112.6,37.9")
    (112.5, 37.8, 112.6, 37.9)
    """
    if bbox is None:
        return None
    try:
        west, south, east, north = (float(v) for v in bbox.split(","))
    except ValueError:
        msg = "`bbox` must be four numbers west,south,east,north. Fix: e.g. bbox=112.5,37.8,112.6,37.9"
        raise InputError(msg) from None
    values = (west, south, east, north)
    if (
        not all(math.isfinite(v) for v in values)
        or not (-180 <= west <= east <= 180)
        or not (-90 <= south <= north <= 90)
    ):
        msg = (
            "`bbox` must be west,south,east,north in degrees with west <= east and south <= north. "
            "Fix: check the order (longitude first)."
        )
        raise InputError(msg)
    return values


def geojson_response(
    gdf: gpd.GeoDataFrame, *, bbox: BBox | None = None, limit: int | None = None
) -> Response:
    """``gdf`` (any CRS) as a GeoJSON FeatureCollection in EPSG:4326, optionally clipped to ``bbox``.

    Features are selected when they intersect ``bbox``; ``limit`` keeps the first ones and
    sets the header ``X-Total-Count`` to the number that matched.
    """
    if bbox is not None and len(gdf):
        transformer = pyproj.Transformer.from_crs(4326, gdf.crs, always_xy=True)
        area = shapely.box(*transformer.transform_bounds(*bbox))
        hits = gdf.sindex.query(area, predicate="intersects")
        gdf = gdf.iloc[sorted(hits)]
    total = len(gdf)
    if limit is not None:
        gdf = gdf.iloc[:limit]
    out = gdf.to_crs(4326) if gdf.crs is not None else gdf
    out = out[out.geometry.notna()]
    body = out.to_json(na="null", drop_id=False)
    return Response(body, media_type=GEOJSON, headers={"X-Total-Count": str(total)})


ReadAccess = Depends(require_read)
WriteAccess = Depends(require_write)
