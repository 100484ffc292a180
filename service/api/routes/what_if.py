"""Route: ``POST /scenarios/{id}/what-if``: close roads, take stations out, add temporary ones.

The baseline (:func:`planning.what_if_baseline`: the stations' nearest-station forest and the
communities' snaps) is built on the first request for a scenario and standard and kept in the
app's caches; every what-if then searches only what the change touches (tens of milliseconds
on the 100k-node demo city) and answers with the city's summary, the communities whose time or
coverage changed, and the closed roads as GeoJSON for the map. Bad input (unknown edges,
names, stations; an area that closes no road; a click far from any road) is a 422 that says
which and how to fix it.

With ``layers`` (``isochrones``, ``districts``) the answer also carries the isochrones and the
station districts after the change, so the web page can draw the closed-road districts: the
changed scenario's whole coverage (:meth:`planning.change.ScenarioChange.apply`, then
:func:`planning.analyse_coverage`, as ``riskplan coverage --close``), computed once per
scenario, standard, change and layers and kept in the app's caches.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from fastapi import APIRouter, Request

from gis.atomic import storable
from planning import analyse_coverage
from planning.change import ScenarioChange
from planning.what_if import WhatIfBaseline, what_if, what_if_baseline

from ..caches import cached, get_caches
from ..deps import READ_OPERATION, ReadAccess, get_service
from ..geojson import RenderedLayer
from ..params import ScenarioId, check_standard
from ..problems import PROBLEM_RESPONSES
from ..what_if_models import WhatIfCommunityOut, WhatIfIn, WhatIfOut, WhatIfSummaryOut
from .coverage import number
from .query import stations_indexed

__all__ = ["changed_layers", "router", "what_if_entry"]

router = APIRouter(prefix="/scenarios/{scenario_id}", tags=["results"], responses=PROBLEM_RESPONSES)


def what_if_entry(request: Request, scenario_id: str, standard: str) -> WhatIfBaseline:
    """The what-if baseline of a scenario under ``standard``, built once and kept in memory."""
    check_standard(standard)
    service = get_service(request)
    service.store.get_scenario(scenario_id)  # 404 before any computation

    def build() -> WhatIfBaseline:
        scenario = service.scenarios.get(scenario_id)
        graph = service.graphs.graph(scenario_id, scenario)
        return what_if_baseline(graph, stations_indexed(scenario), scenario["communities"], standard=standard)

    entry = cached(
        request,
        get_caches(request).coverage,
        ("what-if", scenario_id, standard),
        build,
        scenario_id=scenario_id,
        what=f"The what-if baseline of scenario `{scenario_id}` under {standard}",
    )
    assert isinstance(entry, WhatIfBaseline)
    return entry


def _change(body: WhatIfIn) -> ScenarioChange:
    areas = None
    if body.closed_areas:
        polys = [shapely.Polygon(a.coordinates[0], a.coordinates[1:]) for a in body.closed_areas]
        areas = gpd.GeoSeries(polys, crs=4326, index=[f"area {i + 1}" for i in range(len(polys))])
    at = None
    if body.closed_at:
        at = gpd.GeoSeries(
            gpd.points_from_xy([p.lon for p in body.closed_at], [p.lat for p in body.closed_at]),
            crs=4326,
            index=[f"point {i + 1}" for i in range(len(body.closed_at))],
        )
    temp = None
    if body.temporary_stations:
        ids = [s.id for s in body.temporary_stations]
        temp = gpd.GeoDataFrame(
            {"id": ids},
            geometry=gpd.points_from_xy(
                [s.lon for s in body.temporary_stations], [s.lat for s in body.temporary_stations]
            ),
            crs=4326,
            index=pd.Index(ids, name="id"),
        )
    return ScenarioChange(
        closed_edges=tuple(body.closed_edges),
        closed_ways=tuple(body.closed_ways),
        closed_names=tuple(body.closed_names),
        closed_areas=areas,
        closed_at=at,
        stations_out=tuple(body.stations_out),
        temporary_stations=temp,
        source="the request body",
    )


def changed_layers(
    request: Request, scenario_id: str, body: WhatIfIn, change: ScenarioChange
) -> dict[str, dict[str, object]]:
    """The isochrones and districts ``body.layers`` asks for after ``change``, as GeoJSON (WGS84).

    Computed once per scenario, standard, change and layers (the body is the key), within the
    anonymous limits for requests without the API token.
    """
    asked = sorted(set(body.layers))
    if not asked:
        return {}
    service = get_service(request)
    key_body = body.model_dump(mode="json", exclude={"layers"})

    def build() -> dict[str, dict[str, object]]:
        scenario = service.scenarios.get(scenario_id)
        graph = service.graphs.graph(scenario_id, scenario)
        indexed = dataclasses.replace(
            scenario, layers={**scenario.layers, "fire_stations": stations_indexed(scenario)}
        )
        changed, closed_graph = change.apply(indexed, graph)
        options: dict[str, Any] = {} if "isochrones" in asked else {"breaks_s": None}
        result = analyse_coverage(
            changed, closed_graph, standard=body.standard, districts="districts" in asked, **options
        )
        return {name: json.loads(RenderedLayer.of(storable(getattr(result, name))).body) for name in asked}

    layers = cached(
        request,
        get_caches(request).coverage,
        ("what-if-layers", scenario_id, json.dumps(key_body, sort_keys=True), tuple(asked)),
        build,
        scenario_id=scenario_id,
        what=f"The {' and '.join(asked)} of scenario `{scenario_id}` after the change",
    )
    assert isinstance(layers, dict)
    return layers


def _text(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and not np.isfinite(value)) else str(value)


@router.post(
    "/what-if",
    response_model=WhatIfOut,
    dependencies=[ReadAccess],
    summary="What if roads close",
    openapi_extra={READ_OPERATION: True},  # a read: computes, stores nothing
)
def what_if_route(scenario_id: ScenarioId, body: WhatIfIn, request: Request) -> WhatIfOut:
    """The first-engine coverage of the communities with roads closed and stations changed.

    Roads close by edge position, OSM way id, street name (a bridge), polygon (a flooded area:
    every road crossing it) or point (the road segment nearest a click); stations go out of
    service by id; temporary stations are points. The answer: the city's residents losing
    coverage and resident-seconds lost, each community whose time or coverage changed, and
    the closed roads as GeoJSON; with ``layers``, the isochrones and station districts after
    the change too.
    """
    from gis.errors import InputError

    if len({s.id for s in body.temporary_stations}) < len(body.temporary_stations):
        msg = "`temporary_stations` repeat an id. Fix: give each temporary station its own id."
        raise InputError(msg)
    base = what_if_entry(request, scenario_id, body.standard)
    change = _change(body)  # an empty change answers the baseline, every difference 0
    clash = set(change.temporary_station_ids()) & {str(i) for i in base.stations.index}
    if clash:
        msg = f"Temporary station ids {sorted(clash)} are ids of the scenario's stations. Fix: rename them."
        raise InputError(msg)
    result = what_if(base, change)
    after = changed_layers(request, scenario_id, body, change)
    c = result.communities
    changed = c[
        (c["seconds_lost"].fillna(0.0) != 0.0) | c["loses_coverage"] | c["gains_coverage"] | c["cut_off"]
    ]
    pts = (
        changed.geometry.representative_point().to_crs(4326) if len(changed) else gpd.GeoSeries([], crs=4326)
    )
    rows = [
        WhatIfCommunityOut(
            community_id=str(cid),
            name=_text(row["name"]),
            population=float(row["population"]),
            response_before_s=number(row["response_before_s"]),
            response_after_s=number(row["response_after_s"]),
            seconds_lost=number(row["seconds_lost"]) if pd.notna(row["seconds_lost"]) else None,
            covered_before=bool(row["covered_before"]),
            covered_after=bool(row["covered_after"]),
            loses_coverage=bool(row["loses_coverage"]),
            gains_coverage=bool(row["gains_coverage"]),
            cut_off=bool(row["cut_off"]),
            nearest_before=_text(row["nearest_before"]),
            nearest_after=_text(row["nearest_after"]),
            lon=round(float(pt.x), 6),
            lat=round(float(pt.y), 6),
        )
        for (cid, row), pt in zip(changed.iterrows(), pts, strict=True)
    ]
    s = result.summary
    ints = {
        "communities_losing_coverage",
        "communities_slower",
        "closed_edges",
        "stations_out",
        "temporary_stations",
        "nodes_searched",
    }
    values: dict[str, Any] = {k: int(v) if k in ints else round(float(v), 3) for k, v in s.items()}
    summary = WhatIfSummaryOut(**values)
    roads = result.closed_edges.to_crs(4326)
    roads = roads.assign(highway=roads["highway"].astype(object), name=roads["name"].astype(object))
    roads["osmid"] = roads["osmid"].where(roads["osmid"] > np.iinfo(np.int64).min, None)
    return WhatIfOut(
        scenario_id=scenario_id,
        standard=body.standard,
        change=change.describe(),
        summary=summary,
        communities=rows,
        closed_roads=json.loads(roads.to_json(drop_id=True, na="null")),
        isochrones=after.get("isochrones"),
        districts=after.get("districts"),
    )
