"""Extension point: the result endpoints of a scenario, filled by the analysis stages.

This router is mounted under ``/api/v1/scenarios/{scenario_id}`` and is deliberately empty
until the analysis packages exist; it adds no analysis of its own and no placeholder data.
Each stage adds its routes here (or in a ``service/_api_<stage>.py`` module whose router is
included below), following the same pattern:

==========================================  ================================================
endpoint                                    computed by
==========================================  ================================================
``GET /risk-units?level=&bbox=``            ``risk_models`` (risk units as GeoJSON)
``GET /coverage`` / ``/coverage/units``     ``planning.coverage`` (summary, per-unit results)
``GET /districts`` / ``/violations``        ``planning.districts``
``GET /map``, ``GET /report``               ``maps`` (HTML map, report)
``GET /response-times?lon=&lat=&k=``        ``planning.query`` (point-query precomputation)
==========================================  ================================================

How a route is written (see ``service/api.py`` for working examples)::

    @router.get("/risk-units", dependencies=[ReadAccess], responses=PROBLEM_RESPONSES)
    def risk_units(scenario_id: str, request: Request, bbox: BBox | None = Depends(parse_bbox)):
        service = get_service(request)
        scenario = service.scenarios.get(scenario_id)          # 404 for unknown ids
        units = cached_layer(service, scenario_id, "risk_units", lambda: score(scenario))
        return geojson_response(units, bbox=bbox)

:func:`cached_layer` and :func:`cached_bytes` compute a result once per scenario and keep it
in the store (atomically written, deleted with the scenario); anything slow should rather
be a job kind (see :mod:`service.jobs`) whose result the endpoint reads.
"""

from __future__ import annotations

from collections.abc import Callable

import geopandas as gpd
from fastapi import APIRouter

from ._api_deps import ServiceState
from ._api_problems import PROBLEM_RESPONSES
from .store import NotFoundError

__all__ = ["cached_bytes", "cached_layer", "router"]

router = APIRouter(prefix="/scenarios/{scenario_id}", tags=["results"], responses=PROBLEM_RESPONSES)


def cached_layer(
    service: ServiceState, scenario_id: str, name: str, compute: Callable[[], gpd.GeoDataFrame]
) -> gpd.GeoDataFrame:
    """The stored result layer ``name`` of a scenario, computed and stored on first use."""
    try:
        return service.store.read_result_layer(scenario_id, name, name)
    except NotFoundError:
        service.store.get_scenario(scenario_id)  # unknown scenario: 404, not a computation
    gdf = compute()
    service.store.put_result_layers(scenario_id, name, {name: gdf})
    return gdf


def cached_bytes(
    service: ServiceState, scenario_id: str, name: str, compute: Callable[[], tuple[bytes, str]]
) -> tuple[bytes, str]:
    """The stored result ``name`` as ``(data, media_type)``, computed and stored on first use."""
    try:
        return service.store.get_result(scenario_id, name)
    except NotFoundError:
        service.store.get_scenario(scenario_id)
    data, media_type = compute()
    service.store.put_result(scenario_id, name, data, media_type=media_type)
    return data, media_type
