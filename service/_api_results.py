"""Routes: the result endpoints of a scenario (response coverage), and how stages add theirs.

This router is mounted under ``/api/v1/scenarios/{scenario_id}``; it adds no analysis of its
own and no placeholder data. Implemented:

==========================================  ================================================
endpoint                                    computed by
==========================================  ================================================
``GET /coverage?standard=``                 ``planning.analyse_coverage`` (summary JSON)
``GET /coverage/{layer}?standard=&bbox=``   communities, hazards, area_units, stations
``GET /isochrones``, ``GET /districts``     isochrone and station-district polygons
``GET /violations``                         district rule violations (JSON list)
``GET /response-times?lon=&lat=&k=``        ``planning.query`` (see :mod:`service._api_query`)
``GET /risk?units=&level=&bbox=``            ``risk_models.score_scenario`` (risk units)
``GET /risk/top?units=&n=``                  the highest-scoring units with their reasons
==========================================  ================================================

Still to come: ``GET /map``, ``/report`` (``maps``).

Coverage is computed on the first request for a scenario and standard (about two seconds
on the small demo city), stored in the store as the result ``coverage_<standard>`` (layers)
plus ``coverage_<standard>_summary`` (JSON, written last, so it marks a complete result),
and kept in memory in EPSG:4326 with each layer's whole GeoJSON pre-rendered. Concurrent
first requests compute once (:class:`service._api_query.BuildCache`).

How a route is written::

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

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam

from gis import scenario_graph
from planning import CoverageResult, analyse_coverage, unit_response_times
from risk_models import score_scenario

from ._api_deps import GEOJSON, BBox, ReadAccess, ServiceState, geojson_response, get_service, parse_bbox
from ._api_models import CoverageSummaryOut, ViolationOut
from ._api_problems import PROBLEM_RESPONSES
from ._api_query import DEFAULT_STANDARD, ScenarioId, StandardParam, check_standard, get_caches
from .store import NotFoundError

__all__ = [
    "COVERAGE_LAYERS",
    "CoverageEntry",
    "RiskEntry",
    "cached_bytes",
    "cached_layer",
    "coverage_entry",
    "risk_entry",
    "router",
]

router = APIRouter(prefix="/scenarios/{scenario_id}", tags=["results"], responses=PROBLEM_RESPONSES)

#: Spatial layers of a coverage result kept in the store and served as GeoJSON.
COVERAGE_LAYERS = ("communities", "hazards", "area_units", "stations", "isochrones", "districts", "enclaves")
CoverageLayer = Literal["communities", "hazards", "area_units", "stations"]
_GEOJSON_DOC: dict[int | str, dict[str, Any]] = {
    200: {"content": {GEOJSON: {}}, "description": "A GeoJSON FeatureCollection in EPSG:4326."}
}


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


# -- coverage -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CoverageEntry:
    """A coverage result as served: summary, violations, layers in EPSG:4326 and their GeoJSON."""

    summary: Mapping[str, Any]
    violations: tuple[Mapping[str, Any], ...]
    layers: Mapping[str, gpd.GeoDataFrame]
    bodies: Mapping[str, bytes]


def _result_name(standard: str) -> str:
    return "coverage_" + re.sub(r"[^a-z0-9]+", "_", standard.lower()).strip("_")


def _number(value: Any) -> float | None:
    number = float(value)
    return number if np.isfinite(number) else None


def _storable(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Plain columns for a GeoPackage: the index as a column, no infinities, strings as str."""
    out = gdf.reset_index() if gdf.index.name and gdf.index.name not in gdf.columns else gdf.copy()
    for col in out.columns:
        if col == out.geometry.name:
            continue
        if isinstance(out[col].dtype, pd.CategoricalDtype):
            out[col] = out[col].astype(str)
        elif out[col].dtype.kind == "f":
            out[col] = out[col].replace([np.inf, -np.inf], np.nan)
        elif out[col].dtype == object:
            out[col] = out[col].map(lambda v: None if v is None or v is pd.NA else str(v))
    return out.reset_index(drop=True)


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
            "share_covered": _number(row["share_weight"]),
            "p50_response_s": _number(row["p50_response_s"]),
            "p90_response_s": _number(row["p90_response_s"]),
            "p95_response_s": _number(row["p95_response_s"]),
            "max_response_s": _number(row["max_response_s"]),
            "meets_standard": bool(row["meets_standard"]),
        }
        for name, row in result.summary.iterrows()
    }
    grades = [
        {
            "grade": str(grade),
            "hazards": int(row["hazards"]),
            "covered": int(row["covered"]),
            "share_covered": _number(row["share_covered"]),
            "median_response_s": _number(row["median_response_s"]),
            "p90_response_s": _number(row["p90_response_s"]),
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
    }


def _violations(result: CoverageResult) -> list[dict[str, Any]]:
    return [
        {
            "station": str(row["station"]),
            "kind": str(row["kind"]),
            "value": _number(row["value"]),
            "limit": _number(row["limit"]),
            "unit": str(row["unit"]),
            "message": str(row["message"]),
        }
        for _, row in result.violations.iterrows()
    ]


def _compute_and_store(service: ServiceState, scenario_id: str, standard: str) -> None:
    record = service.store.get_scenario(scenario_id)
    scenario = service.scenarios.get(scenario_id)
    result = analyse_coverage(scenario, scenario_graph(scenario, cache=True), standard=standard)
    name = _result_name(standard)
    layers = {layer: _storable(getattr(result, layer)) for layer in COVERAGE_LAYERS}
    service.store.put_result_layers(scenario_id, name, {k: v for k, v in layers.items() if len(v)})
    data = {"summary": _summary(scenario_id, record.synthetic, result), "violations": _violations(result)}
    body = json.dumps(data, allow_nan=False).encode()
    service.store.put_result(scenario_id, f"{name}_summary", body, media_type="application/json")


def _load(service: ServiceState, scenario_id: str, standard: str) -> CoverageEntry:
    name = _result_name(standard)
    try:
        raw, _ = service.store.get_result(scenario_id, f"{name}_summary")
    except NotFoundError:
        _compute_and_store(service, scenario_id, standard)
        raw, _ = service.store.get_result(scenario_id, f"{name}_summary")
    data = json.loads(raw)
    layers: dict[str, gpd.GeoDataFrame] = {}
    bodies: dict[str, bytes] = {}
    for layer in COVERAGE_LAYERS:
        try:
            gdf = service.store.read_result_layer(scenario_id, name, layer).to_crs(4326)
        except NotFoundError:
            gdf = gpd.GeoDataFrame(geometry=[], crs=4326)
        gdf.sindex  # noqa: B018 - build the spatial index now, not lazily in concurrent requests
        layers[layer] = gdf
        bodies[layer] = bytes(geojson_response(gdf).body)
    return CoverageEntry(data["summary"], tuple(data["violations"]), layers, bodies)


def coverage_entry(request: Request, scenario_id: str, standard: str) -> CoverageEntry:
    """The coverage of a scenario under ``standard``: from memory, the store, or computed once.

    Raises a 422 for an unknown standard and a 404 for an unknown scenario before computing.
    """
    check_standard(standard)
    service = get_service(request)
    service.store.get_scenario(scenario_id)
    entry = get_caches(request).coverage.get(
        (scenario_id, standard), lambda: _load(service, scenario_id, standard)
    )
    assert isinstance(entry, CoverageEntry)
    return entry


def _layer_response(entry: CoverageEntry, layer: str, bbox: BBox | None) -> Response:
    gdf = entry.layers[layer]
    if bbox is None:
        return Response(entry.bodies[layer], media_type=GEOJSON, headers={"X-Total-Count": str(len(gdf))})
    return geojson_response(gdf, bbox=bbox)


@router.get(
    "/coverage", response_model=CoverageSummaryOut, dependencies=[ReadAccess], summary="Coverage summary"
)
def coverage_summary(
    scenario_id: ScenarioId, request: Request, standard: StandardParam = DEFAULT_STANDARD
) -> CoverageSummaryOut:
    """Covered shares (population, hazards, area), response-time percentiles and violations.

    Computed on the first request for a scenario and standard, then stored.
    """
    return CoverageSummaryOut(**coverage_entry(request, scenario_id, standard).summary)


@router.get(
    "/coverage/{layer}",
    dependencies=[ReadAccess],
    response_class=Response,
    responses=_GEOJSON_DOC,
    summary="Coverage of a layer as GeoJSON",
)
def coverage_layer(
    scenario_id: ScenarioId,
    layer: Annotated[CoverageLayer, PathParam(description="communities, hazards, area_units or stations")],
    request: Request,
    bbox: Annotated[BBox | None, Depends(parse_bbox)],
    standard: StandardParam = DEFAULT_STANDARD,
) -> Response:
    """Each feature with its nearest stations, ``response_time_s``, ``travel_time_s`` and ``covered``.

    Stations carry their district figures instead (area, farthest edge, checks).
    """
    return _layer_response(coverage_entry(request, scenario_id, standard), layer, bbox)


@router.get(
    "/isochrones",
    dependencies=[ReadAccess],
    response_class=Response,
    responses=_GEOJSON_DOC,
    summary="Response isochrones as GeoJSON",
)
def isochrones(
    scenario_id: ScenarioId,
    request: Request,
    bbox: Annotated[BBox | None, Depends(parse_bbox)],
    standard: StandardParam = DEFAULT_STANDARD,
) -> Response:
    """Areas reached within 3, 5 and 8 minutes of response time, per station, with population."""
    return _layer_response(coverage_entry(request, scenario_id, standard), "isochrones", bbox)


@router.get(
    "/districts",
    dependencies=[ReadAccess],
    response_class=Response,
    responses=_GEOJSON_DOC,
    summary="Station districts as GeoJSON",
)
def districts(
    scenario_id: ScenarioId,
    request: Request,
    bbox: Annotated[BBox | None, Depends(parse_bbox)],
    standard: StandardParam = DEFAULT_STANDARD,
) -> Response:
    """Each station's district (network Voronoi) with its area, cap and farthest-edge checks."""
    return _layer_response(coverage_entry(request, scenario_id, standard), "districts", bbox)


@router.get(
    "/violations",
    response_model=list[ViolationOut],
    dependencies=[ReadAccess],
    summary="District rule violations",
)
def violations(
    scenario_id: ScenarioId, request: Request, standard: StandardParam = DEFAULT_STANDARD
) -> list[ViolationOut]:
    """Districts over their area cap, with edges too far to reach, or split by a barrier."""
    return [ViolationOut(**v) for v in coverage_entry(request, scenario_id, standard).violations]


# -- risk ---------------------------------------------------------------------------------------

RiskLevel = Literal["blue", "yellow", "orange", "red"]
UnitsParam = Annotated[
    str,
    Query(
        description="`communities`, `h3:RES` (H3 resolution 5..10) or `grid:METRES` (100..9999 m cells).",
        pattern=r"^(communities|h3:([5-9]|10)|grid:[0-9]{3,4})$",
    ),
]


@dataclass(frozen=True)
class RiskEntry:
    """Scored risk units in EPSG:4326, their whole GeoJSON and the top units with their reasons."""

    units: gpd.GeoDataFrame
    top: tuple[Mapping[str, Any], ...]
    body: bytes


def _score(request: Request, scenario_id: str, units: str, standard: str) -> RiskEntry:
    service = get_service(request)
    scenario = service.scenarios.get(scenario_id)
    communities = coverage_entry(request, scenario_id, standard).layers["communities"]
    response: Any
    if units == "communities":
        stored = communities["response_time_s"].astype(float).fillna(np.inf)  # stored NaN = unreached
        response = stored.where(~communities["flagged"].astype(bool), np.inf)  # planning.OFF_ROAD_RULE
    else:  # each cell snapped to the roads itself, never the time of the community it lies in
        graph = scenario_graph(scenario, cache=True)
        stations = scenario["fire_stations"]

        def response(cells: gpd.GeoDataFrame) -> pd.Series:
            return unit_response_times(graph, stations, cells, standard=standard)

    result = score_scenario(scenario, units=units, response_time_s=response, learn=False)
    scored = _storable(result.units).to_crs(4326)
    scored.index = result.units.index.astype(str)
    scored.sindex  # noqa: B018 - built now, not lazily in concurrent requests
    top = [
        {
            "unit_id": str(unit),
            "rank": int(row["rank"]),
            "name": str(row["name"]) if "name" in row else None,
            "score": _number(row["score"]),
            "percentile": _number(row["percentile"]),
            "level": str(row["level"]),
            "reasons": str(row["reasons"]),
        }
        for unit, row in result.top(50).iterrows()
    ]
    return RiskEntry(scored, tuple(top), bytes(geojson_response(scored).body))


def risk_entry(request: Request, scenario_id: str, units: str, standard: str) -> RiskEntry:
    """Risk units of a scenario, scored once per units spec and standard (kept in memory)."""
    check_standard(standard)
    get_service(request).store.get_scenario(scenario_id)
    key = ("risk", scenario_id, units, standard)
    entry = get_caches(request).coverage.get(key, lambda: _score(request, scenario_id, units, standard))
    assert isinstance(entry, RiskEntry)
    return entry


@router.get(
    "/risk", dependencies=[ReadAccess], response_class=Response, responses=_GEOJSON_DOC, summary="Risk units"
)
def risk_units(
    scenario_id: ScenarioId,
    request: Request,
    *,
    bbox: Annotated[BBox | None, Depends(parse_bbox)],
    units: UnitsParam = "communities",
    level: Annotated[list[RiskLevel] | None, Query(description="Only these levels (repeatable).")] = None,
    standard: StandardParam = DEFAULT_STANDARD,
) -> Response:
    """Risk units with hazard, exposure, vulnerability and response factors, score and level.

    Response times come from the coverage under ``standard``; incident learning is off.
    """
    entry = risk_entry(request, scenario_id, units, standard)
    gdf = entry.units
    if not level and bbox is None:  # the whole layer, rendered once
        return Response(entry.body, media_type=GEOJSON, headers={"X-Total-Count": str(len(gdf))})
    if level:
        gdf = gdf[gdf["level"].isin(level)]
    return geojson_response(gdf, bbox=bbox)


@router.get("/risk/top", dependencies=[ReadAccess], summary="Highest-risk units")
def risk_top(
    scenario_id: ScenarioId,
    request: Request,
    units: UnitsParam = "communities",
    n: Annotated[int, Query(ge=1, le=50, description="How many units.")] = 10,
    standard: StandardParam = DEFAULT_STANDARD,
) -> list[dict[str, Any]]:
    """The ``n`` highest-scoring units with the reasons for their score."""
    return [dict(t) for t in risk_entry(request, scenario_id, units, standard).top[:n]]
