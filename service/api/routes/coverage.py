"""Routes: the response coverage of a scenario, ``GET /scenarios/{id}/coverage`` and its layers.

This router is mounted under ``/api/v1/scenarios/{scenario_id}``:

==========================================  ================================================
endpoint                                    computed by
==========================================  ================================================
``GET /coverage?standard=&hour=``           ``planning.analyse_coverage`` (summary JSON)
``GET /coverage/{layer}?standard=&bbox=``   communities, hazards, area_units, stations
``GET /isochrones``, ``GET /districts``     isochrone and station-district polygons
``GET /violations``                         district rule violations (JSON list)
==========================================  ================================================

Every one takes ``hour`` (0-23: ``planning.coverage_at_hour``, the roads at that hour's speeds)
or ``worst_hour=true`` (the hour of the longest residents' P90, :mod:`service.api.hours`), and
says the hour it answers at in the ``X-Hour`` header (the summary also in its body).

Coverage is computed on the first request for a scenario and standard (about two seconds
on the small demo city), stored in the store as the result ``coverage_<standard>`` (layers)
plus ``coverage_<standard>_summary`` (JSON, written last, so it marks a complete result),
and kept in memory in EPSG:4326 with each feature's GeoJSON pre-rendered
(:class:`service.api.geojson.RenderedLayer`), so a ``bbox`` request only slices. Concurrent
first requests compute once (:class:`service.api.caches.BuildCache`); requests without the
API token compute within the anonymous limits (:mod:`service.api.budget`). The risk routes
take the communities' response times from here (:func:`coverage_entry`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Request, Response
from fastapi import Path as PathParam

from gis.atomic import storable
from planning import CoverageResult, analyse_coverage, coverage_at_hour

from ...store import NotFoundError
from ..caches import cached, get_caches
from ..deps import ReadAccess, ServiceState, get_service
from ..geojson import GEOJSON, RenderedLayer
from ..hours import HOUR_HEADERS_DOC, by_hour_entry, chosen_hour, hour_headers, standard_slug
from ..models import CoverageSummaryOut, HourResponseOut, ViolationOut
from ..params import (
    DEFAULT_STANDARD,
    BBox,
    ScenarioId,
    StandardParam,
    When,
    WhenParams,
    check_standard,
    parse_bbox,
)
from ..problems import PROBLEM_RESPONSES

__all__ = ["COVERAGE_LAYERS", "GEOJSON_AT_HOUR_DOC", "CoverageEntry", "coverage_entry", "number", "router"]

router = APIRouter(prefix="/scenarios/{scenario_id}", tags=["results"], responses=PROBLEM_RESPONSES)

#: Spatial layers of a coverage result kept in the store and served as GeoJSON.
COVERAGE_LAYERS = ("communities", "hazards", "area_units", "stations", "isochrones", "districts", "enclaves")
CoverageLayer = Literal["communities", "hazards", "area_units", "stations"]
#: The OpenAPI ``responses`` entry of a GeoJSON answer that may be at an hour.
GEOJSON_AT_HOUR_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {GEOJSON: {}},
        "description": "A GeoJSON FeatureCollection in EPSG:4326.",
        "headers": HOUR_HEADERS_DOC,
    }
}
_AT_HOUR_DOC: dict[int | str, dict[str, Any]] = {200: {"description": "OK.", "headers": HOUR_HEADERS_DOC}}


@dataclass(frozen=True)
class CoverageEntry:
    """A coverage result as served: summary, violations, and its layers rendered in EPSG:4326."""

    summary: Mapping[str, Any]
    violations: tuple[Mapping[str, Any], ...]
    rendered: Mapping[str, RenderedLayer]

    @property
    def layers(self) -> Mapping[str, gpd.GeoDataFrame]:
        """The layers in EPSG:4326."""
        return {name: layer.frame for name, layer in self.rendered.items()}


def _result_name(standard: str, hour: int | None = None) -> str:
    name = f"coverage_{standard_slug(standard)}"
    return name if hour is None else f"{name}_h{hour:02d}"


def number(value: Any) -> float | None:
    """``value`` as a float, None when it is missing or not finite (JSON has no infinity)."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out) else None


def _summary(scenario_id: str, synthetic: bool, result: CoverageResult) -> dict[str, Any]:
    std = result.standard
    layers = {
        str(name): {
            "features": int(row["features"]),
            "covered": int(row["covered"]),
            "flagged": int(row["flagged"]),
            "weight": str(row["weight"]),
            "weight_total": float(row["weight_total"]),
            "weight_covered": float(row["weight_covered"]),
            "share_covered": number(row["share_weight"]),
            "p50_response_s": number(row["p50_response_s"]),
            "p90_response_s": number(row["p90_response_s"]),
            "p95_response_s": number(row["p95_response_s"]),
            "max_response_s": number(row["max_response_s"]),
            "meets_standard": bool(row["meets_standard"]),
        }
        for name, row in result.summary.iterrows()
    }
    grades = [
        {
            "grade": str(grade),
            "hazards": int(row["hazards"]),
            "covered": int(row["covered"]),
            "share_covered": number(row["share_covered"]),
            "median_response_s": number(row["median_response_s"]),
            "p90_response_s": number(row["p90_response_s"]),
        }
        for grade, row in result.hazards_by_grade.iterrows()
    ]
    kinds = result.violations["kind"].value_counts() if len(result.violations) else pd.Series(dtype=int)
    return {
        "scenario_id": scenario_id,
        "scenario": result.scenario,
        "synthetic": synthetic,
        "standard": {
            "name": std.name,
            "title": std.title,
            "turnout_s": std.turnout_s,
            "travel_s": std.travel_s,
            "response_s": std.response_s,
            "required_share": std.required_share,
        },
        "layers": layers,
        "hazards_by_grade": grades,
        "grade_column": str(result.hazards_by_grade.attrs.get("grade_column", "")),
        "violations": len(result.violations),
        "violations_by_kind": {str(k): int(v) for k, v in kinds.items()},
        "timings_s": {k: round(float(v), 3) for k, v in result.timings_s.items()},
        "hour": result.hour,
    }


def _violations(result: CoverageResult) -> list[dict[str, Any]]:
    return [
        {
            "station": str(row["station"]),
            "kind": str(row["kind"]),
            "value": number(row["value"]),
            "limit": number(row["limit"]),
            "unit": str(row["unit"]),
            "message": str(row["message"]),
        }
        for _, row in result.violations.iterrows()
    ]


def _compute_and_store(service: ServiceState, scenario_id: str, standard: str, hour: int | None) -> None:
    record = service.store.get_scenario(scenario_id)
    scenario = service.scenarios.get(scenario_id)
    graph = service.graphs.graph(scenario_id, scenario)
    if hour is None:
        result = analyse_coverage(scenario, graph, standard=standard)
    else:  # the hour's travel times on the same graph arrays (riskplan's speed profiles)
        result = coverage_at_hour(scenario, graph, hour, standard=standard)
    name = _result_name(standard, hour)
    layers = {layer: storable(getattr(result, layer)) for layer in COVERAGE_LAYERS}
    service.store.put_result_layers(scenario_id, name, {k: v for k, v in layers.items() if len(v)})
    data = {"summary": _summary(scenario_id, record.synthetic, result), "violations": _violations(result)}
    body = json.dumps(data, allow_nan=False).encode()
    service.store.put_result(scenario_id, f"{name}_summary", body, media_type="application/json")


def _load(service: ServiceState, scenario_id: str, standard: str, hour: int | None) -> CoverageEntry:
    name = _result_name(standard, hour)
    try:
        raw, _ = service.store.get_result(scenario_id, f"{name}_summary")
    except NotFoundError:
        _compute_and_store(service, scenario_id, standard, hour)
        raw, _ = service.store.get_result(scenario_id, f"{name}_summary")
    data = json.loads(raw)
    rendered: dict[str, RenderedLayer] = {}
    for layer in COVERAGE_LAYERS:
        try:
            gdf = service.store.read_result_layer(scenario_id, name, layer)
        except NotFoundError:
            service.store.get_scenario(scenario_id)  # a deleted scenario is a 404, not an empty layer
            gdf = gpd.GeoDataFrame(geometry=[], crs=4326)
        rendered[layer] = RenderedLayer.of(gdf)
    return CoverageEntry(data["summary"], tuple(data["violations"]), rendered)


def coverage_entry(
    request: Request, scenario_id: str, standard: str, hour: int | None = None
) -> CoverageEntry:
    """The coverage of a scenario under ``standard``: from memory, the store, or computed once.

    ``hour`` (0-23) takes the travel times of that hour (:func:`planning.coverage_at_hour`).
    Raises a 422 for an unknown standard and a 404 for an unknown scenario before computing.
    """
    check_standard(standard)
    service = get_service(request)
    service.store.get_scenario(scenario_id)
    at = "" if hour is None else f" at {hour:02d}:00"
    entry = cached(
        request,
        get_caches(request).coverage,
        (scenario_id, standard) if hour is None else (scenario_id, standard, hour),
        lambda: _load(service, scenario_id, standard, hour),
        scenario_id=scenario_id,
        what=f"The coverage of scenario `{scenario_id}` under {standard}{at}",
    )
    assert isinstance(entry, CoverageEntry)
    return entry


def _at(
    request: Request, scenario_id: str, standard: str, when: When
) -> tuple[CoverageEntry, dict[str, str]]:
    """The coverage at the hour ``when`` asks for, and the headers saying which hour."""
    check_standard(standard)
    hour = chosen_hour(request, scenario_id, standard, when)
    return coverage_entry(request, scenario_id, standard, hour), hour_headers(hour, when)


def _layer_response(
    request: Request, scenario_id: str, standard: str, when: When, *, layer: str, bbox: BBox | None
) -> Response:
    entry, headers = _at(request, scenario_id, standard, when)
    return entry.rendered[layer].response(bbox=bbox, headers=headers)


@router.get(
    "/coverage",
    response_model=CoverageSummaryOut,
    dependencies=[ReadAccess],
    responses=_AT_HOUR_DOC,
    summary="Coverage summary",
)
def coverage_summary(
    scenario_id: ScenarioId,
    request: Request,
    response: Response,
    when: WhenParams,
    standard: StandardParam = DEFAULT_STANDARD,
) -> CoverageSummaryOut:
    """Covered shares (population, hazards, area), response-time percentiles and violations.

    Computed on the first request for a scenario, standard and hour, then stored. With ``hour``
    the roads run at that hour's speeds (riskplan's speed profiles by road class); with
    ``worst_hour=true`` at the hour of the longest residents' P90 response, and the answer
    gives the response at every hour it was chosen from.
    """
    entry, headers = _at(request, scenario_id, standard, when)
    response.headers.update(headers)
    by_hour = None
    if when.worst:
        by_hour = [HourResponseOut(**row) for row in by_hour_entry(request, scenario_id, standard).rows]
    return CoverageSummaryOut(**entry.summary, worst_hour=when.worst, response_by_hour=by_hour)


@router.get(
    "/coverage/{layer}",
    dependencies=[ReadAccess],
    response_class=Response,
    responses=GEOJSON_AT_HOUR_DOC,
    summary="Coverage of a layer as GeoJSON",
)
def coverage_layer(
    *,
    scenario_id: ScenarioId,
    layer: Annotated[CoverageLayer, PathParam(description="communities, hazards, area_units or stations")],
    request: Request,
    bbox: Annotated[BBox | None, Depends(parse_bbox)],
    when: WhenParams,
    standard: StandardParam = DEFAULT_STANDARD,
) -> Response:
    """Each feature with its nearest stations, ``response_time_s``, ``travel_time_s`` and ``covered``.

    Stations carry their district figures instead (area, farthest edge, checks). ``hour`` or
    ``worst_hour`` as for the summary.
    """
    return _layer_response(request, scenario_id, standard, when, layer=layer, bbox=bbox)


@router.get(
    "/isochrones",
    dependencies=[ReadAccess],
    response_class=Response,
    responses=GEOJSON_AT_HOUR_DOC,
    summary="Response isochrones as GeoJSON",
)
def isochrones(
    scenario_id: ScenarioId,
    request: Request,
    bbox: Annotated[BBox | None, Depends(parse_bbox)],
    when: WhenParams,
    standard: StandardParam = DEFAULT_STANDARD,
) -> Response:
    """Areas reached within 3, 5 and 8 minutes of response time, per station, with population.

    With ``hour`` at that hour's road speeds; with ``worst_hour=true`` at the worst hour
    (``X-Hour`` says which).
    """
    return _layer_response(request, scenario_id, standard, when, layer="isochrones", bbox=bbox)


@router.get(
    "/districts",
    dependencies=[ReadAccess],
    response_class=Response,
    responses=GEOJSON_AT_HOUR_DOC,
    summary="Station districts as GeoJSON",
)
def districts(
    scenario_id: ScenarioId,
    request: Request,
    bbox: Annotated[BBox | None, Depends(parse_bbox)],
    when: WhenParams,
    standard: StandardParam = DEFAULT_STANDARD,
) -> Response:
    """Each station's district (network Voronoi) with its area, cap and farthest-edge checks.

    ``hour`` or ``worst_hour`` as for the isochrones.
    """
    return _layer_response(request, scenario_id, standard, when, layer="districts", bbox=bbox)


@router.get(
    "/violations",
    response_model=list[ViolationOut],
    dependencies=[ReadAccess],
    responses=_AT_HOUR_DOC,
    summary="District rule violations",
)
def violations(
    scenario_id: ScenarioId,
    request: Request,
    response: Response,
    when: WhenParams,
    standard: StandardParam = DEFAULT_STANDARD,
) -> list[ViolationOut]:
    """Districts over their area cap, with edges too far to reach, or split by a barrier.

    ``hour`` or ``worst_hour`` as for the districts.
    """
    entry, headers = _at(request, scenario_id, standard, when)
    response.headers.update(headers)
    return [ViolationOut(**v) for v in entry.violations]
