"""Routes: reliability with busy stations, ``GET /scenarios/{id}/reliability`` and its layers.

This router is mounted under ``/api/v1/scenarios/{scenario_id}``:

=================================================================  ===============================
endpoint                                                           answer
=================================================================  ===============================
``GET /reliability?standard=&hour=&worst_hour=&calls_per_year=``    the city's summary (JSON)
``GET /reliability/{layer}?...&bbox=``                             ``communities`` or
                                                                   ``station_workload`` (GeoJSON)
=================================================================  ===============================

Reliability has its own path rather than parameters on ``/coverage``: its answer is another
document (expected coverage and P90 with busy stations, busy fractions, concurrency by hour),
``calls_per_year`` means nothing to the coverage, and the OpenAPI document then gives each
answer its own schema instead of one whose fields depend on a flag.

The result (:func:`service.jobs.reliability.reliability_output`, the same as the
``reliability`` job's) is computed on the first request for a scenario, standard, hour and
call rate, stored as the result ``reliability_<standard>[_hHH][_c<calls>]`` (layers, then the
``_summary`` JSON written last) and kept in memory; concurrent first requests compute once and
requests without the API token compute within the anonymous limits. ``calls_per_year`` is
part of the key only for a scenario without incidents (with incidents it changes nothing).
For a big scenario, token holders can run the ``reliability`` job instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import geopandas as gpd
from fastapi import APIRouter, Depends, Request, Response
from fastapi import Path as PathParam

from gis.atomic import storable

from ...jobs.reliability import (
    CALLS_NOT_USED,
    RELIABILITY_LAYERS,
    calls_per_year_used,
    reliability_output,
)
from ...store import NotFoundError
from ..caches import cached, get_caches
from ..deps import ReadAccess, ServiceState, get_service
from ..geojson import RenderedLayer
from ..hours import HOUR_HEADERS_DOC, chosen_hour, hour_headers, standard_slug
from ..params import (
    DEFAULT_STANDARD,
    BBox,
    CallsPerYearParam,
    ScenarioId,
    StandardParam,
    When,
    WhenParams,
    check_standard,
    parse_bbox,
)
from ..problems import PROBLEM_RESPONSES
from ..reliability_models import ReliabilitySummaryOut
from .coverage import GEOJSON_AT_HOUR_DOC

__all__ = ["ReliabilityEntry", "reliability_entry", "router"]

router = APIRouter(prefix="/scenarios/{scenario_id}", tags=["results"], responses=PROBLEM_RESPONSES)

ReliabilityLayer = Literal["communities", "station_workload"]


@dataclass(frozen=True)
class ReliabilityEntry:
    """A reliability result as served: the summary and its layers rendered in EPSG:4326."""

    summary: Mapping[str, Any]
    rendered: Mapping[str, RenderedLayer]


def _calls_slug(calls: float) -> str:
    return repr(float(calls)).replace(".", "d").replace("+", "p").replace("-", "m")


def _result_name(standard: str, hour: int | None, calls: float | None) -> str:
    name = f"reliability_{standard_slug(standard)}"
    if hour is not None:
        name += f"_h{hour:02d}"
    return name if calls is None else f"{name}_c{_calls_slug(calls)}"


def _load(
    service: ServiceState,
    scenario_id: str,
    standard: str,
    hour: int | None,
    calls: float | None,
) -> ReliabilityEntry:
    name = _result_name(standard, hour, calls)
    try:
        raw, _ = service.store.get_result(scenario_id, f"{name}_summary")
    except NotFoundError:
        scenario = service.scenarios.get(scenario_id)
        graph = service.graphs.graph(scenario_id, scenario)
        out = reliability_output(scenario, graph, standard=standard, hour=hour, calls_per_year=calls)
        layers = {k: storable(v) for k, v in out.layers.items() if len(v)}
        service.store.put_result_layers(scenario_id, name, layers)
        data = {"scenario_id": scenario_id, **out.data}
        body = json.dumps(data, allow_nan=False).encode()
        service.store.put_result(scenario_id, f"{name}_summary", body, media_type="application/json")
        raw = body
    rendered: dict[str, RenderedLayer] = {}
    for layer in RELIABILITY_LAYERS:
        try:
            gdf = service.store.read_result_layer(scenario_id, name, layer)
        except NotFoundError:
            service.store.get_scenario(scenario_id)  # a deleted scenario is a 404, not an empty layer
            gdf = gpd.GeoDataFrame(geometry=[], crs=4326)
        rendered[layer] = RenderedLayer.of(gdf)
    return ReliabilityEntry(json.loads(raw), rendered)


def reliability_entry(
    request: Request, scenario_id: str, standard: str, when: When, calls_per_year: float | None
) -> tuple[ReliabilityEntry, dict[str, str]]:
    """The reliability of a scenario at the hour ``when`` asks for: from memory, the store, or computed once.

    Returns the entry and the headers saying its hour. A 422 for an unknown standard and a 404
    for an unknown scenario come before any computation.
    """
    check_standard(standard)
    service = get_service(request)
    service.store.get_scenario(scenario_id)
    hour = chosen_hour(request, scenario_id, standard, when)
    calls = calls_per_year_used(service.scenarios.get(scenario_id), calls_per_year)
    at = "" if hour is None else f" at {hour:02d}:00"
    entry = cached(
        request,
        get_caches(request).coverage,
        ("reliability", scenario_id, standard, hour, calls),
        lambda: _load(service, scenario_id, standard, hour, calls),
        scenario_id=scenario_id,
        what=f"The reliability (busy stations) of scenario `{scenario_id}` under {standard}{at}",
    )
    assert isinstance(entry, ReliabilityEntry)
    return entry, hour_headers(hour, when)


@router.get(
    "/reliability",
    response_model=ReliabilitySummaryOut,
    dependencies=[ReadAccess],
    responses={200: {"description": "OK.", "headers": HOUR_HEADERS_DOC}},
    summary="Reliability with busy stations",
)
def reliability_summary(
    *,
    scenario_id: ScenarioId,
    request: Request,
    response: Response,
    when: WhenParams,
    standard: StandardParam = DEFAULT_STANDARD,
    calls_per_year: CallsPerYearParam = None,
) -> ReliabilitySummaryOut:
    """Expected coverage and 90th-percentile response with busy stations (a hypercube queueing model).

    Call rates come from the scenario's incidents (else ``calls_per_year`` shared by risk), service
    times from the incidents' durations (else the shipped table). The answer: the city's figures,
    each station's busy fraction and calls, the concurrency of calls by hour and the expected P90
    by district and hour. With ``hour`` (or ``worst_hour=true``) the travel times are that hour's.
    """
    entry, headers = reliability_entry(request, scenario_id, standard, when, calls_per_year)
    response.headers.update(headers)
    notes = list(entry.summary["notes"])
    if calls_per_year is not None and entry.summary["calls_per_year"] is None:
        notes.append(CALLS_NOT_USED)
    return ReliabilitySummaryOut(**{**entry.summary, "worst_hour": when.worst, "notes": notes})


@router.get(
    "/reliability/{layer}",
    dependencies=[ReadAccess],
    response_class=Response,
    responses=GEOJSON_AT_HOUR_DOC,
    summary="A reliability layer as GeoJSON",
)
def reliability_layer(
    *,
    scenario_id: ScenarioId,
    layer: Annotated[ReliabilityLayer, PathParam(description="communities or station_workload")],
    request: Request,
    bbox: Annotated[BBox | None, Depends(parse_bbox)],
    when: WhenParams,
    standard: StandardParam = DEFAULT_STANDARD,
    calls_per_year: CallsPerYearParam = None,
) -> Response:
    """The communities with ``expected_response_p90_s``, ``busy_fraction_first_due``, ``first_due`` ...

    or the stations with ``busy_fraction``, ``calls_per_day``, ``peak_hour`` ...
    (``station_workload``), in EPSG:4326.
    """
    entry, headers = reliability_entry(request, scenario_id, standard, when, calls_per_year)
    return entry.rendered[layer].response(bbox=bbox, headers=headers)
