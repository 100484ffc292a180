"""Routes: risk units of a scenario, ``GET /scenarios/{id}/risk`` and ``/risk/top``.

Units are scored by :func:`risk_models.score_scenario` with their road response times under
``standard`` (communities: the coverage's; grid and H3 cells: each snapped to the roads,
:func:`planning.unit_response_times`) (incident learning off), once per scenario, canonical
units spec (:func:`service.units.canonical_units`: ``grid:0100`` is ``grid:100``) and
standard, and kept in memory with each unit's GeoJSON rendered on the first GeoJSON request
(:class:`service.api.geojson.RenderedLayer`): ``bbox`` and ``level`` filters slice it. A layer
the web page draws from vector tiles (more than :data:`GEOJSON_MAX_FEATURES` units) has its
tile index (:class:`maps.TileSource`) built when it is scored, so its first view only builds
the tiles it shows; a smaller layer builds its index on its first tile request.

A request without the API token may have a layer built only within the anonymous limits
(:mod:`service.api.budget`): at most ``max_units`` units, estimated before anything is
built, by the one anonymous worker. Bigger layers are for token holders, or a ``risk`` job.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

import maps
from gis.atomic import storable
from gis.i18n import LANGS
from gis.speech import speaking
from planning import unit_response_times
from risk_models import UnitsSpec, score_scenario

from ...units import GRID_RANGE_M, H3_RANGE, UNITS_PATTERN, canonical_units, estimate_units
from ..budget import is_trusted, over_units
from ..caches import cached, get_caches
from ..deps import ReadAccess, get_service
from ..geojson import GEOJSON_DOC, RenderedLayer
from ..lang import LangQuery, request_lang
from ..params import DEFAULT_STANDARD, BBox, ScenarioId, StandardParam, check_standard, parse_bbox
from ..problems import PROBLEM_RESPONSES
from .coverage import coverage_entry, number

__all__ = ["GEOJSON_MAX_FEATURES", "TILE_COLUMNS", "RiskEntry", "risk_entry", "router"]

router = APIRouter(prefix="/scenarios/{scenario_id}", tags=["results"], responses=PROBLEM_RESPONSES)

RiskLevel = Literal["blue", "yellow", "orange", "red"]
UnitsParam = Annotated[
    str,
    Query(
        description=(
            f"`communities`, `h3:RES` (H3 resolution {H3_RANGE[0]}..{H3_RANGE[1]}) or `grid:METRES` "
            f"({GRID_RANGE_M[0]}..{GRID_RANGE_M[1]} m cells). Leading zeros are ignored: "
            "`grid:0100` is `grid:100`."
        ),
        pattern=UNITS_PATTERN,
        max_length=32,
    ),
]


#: Above this many units the web page draws a layer from vector tiles instead of GeoJSON.
GEOJSON_MAX_FEATURES = 20_000
#: The risk attributes each tile feature carries (what the page's styling and tooltip read).
TILE_COLUMNS = maps.RISK_TILE_COLUMNS


@dataclass(frozen=True)
class RiskEntry:
    """Scored risk units in EPSG:4326, their levels, the top units' reasons and the tile index.

    Build one with :meth:`of`, which builds the tile index at once for a layer the page draws
    from tiles (more than :data:`GEOJSON_MAX_FEATURES` units); :meth:`tile_source` builds it
    for the others on first use. The GeoJSON is rendered on the first GeoJSON request.
    """

    rendered: RenderedLayer
    levels: npt.NDArray[np.str_]
    top: tuple[Mapping[str, Any], ...]
    _tiles: list[maps.TileSource] = field(default_factory=list, repr=False, compare=False)
    _tiles_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def of(cls, scored: gpd.GeoDataFrame, top: tuple[Mapping[str, Any], ...] = ()) -> RiskEntry:
        """The entry of the scored units ``scored`` (indexed by unit id, any CRS)."""
        rendered = RenderedLayer.of(scored)
        entry = cls(rendered, rendered.frame["level"].astype(str).to_numpy(), tuple(top))
        if len(rendered) > GEOJSON_MAX_FEATURES:
            entry.tile_source()
        return entry

    @property
    def units(self) -> Any:
        """The scored units (EPSG:4326, indexed by unit id)."""
        return self.rendered.frame

    def tile_source(self) -> maps.TileSource:
        """The units' tile index (layer ``risk``, :data:`TILE_COLUMNS`), built once."""
        with self._tiles_lock:
            if not self._tiles:
                frame = self.units
                columns = [c for c in TILE_COLUMNS if c in frame.columns]
                rank_by = "score" if "score" in columns else None
                self._tiles.append(maps.TileSource(frame, name="risk", columns=columns, rank_by=rank_by))
            return self._tiles[0]


def _score(request: Request, scenario_id: str, units: UnitsSpec, standard: str) -> RiskEntry:
    service = get_service(request)
    scenario = service.scenarios.get(scenario_id)
    response: Any
    if units.kind == "communities":
        communities = coverage_entry(request, scenario_id, standard).layers["communities"]
        stored = communities["response_time_s"].astype(float).fillna(np.inf)  # stored NaN = unreached
        response = stored.where(~communities["flagged"].astype(bool), np.inf)  # planning.OFF_ROAD_RULE
    else:  # each cell is snapped to the roads itself, never given the time of its community
        graph = service.graphs.graph(scenario_id, scenario)
        stations = scenario["fire_stations"]

        def response(cells: gpd.GeoDataFrame) -> pd.Series:
            return unit_response_times(graph, stations, cells, standard=standard)

    result = score_scenario(scenario, units=str(units), response_time_s=response, learn=False)
    why = {}  # the reasons in each language: one scoring cached, each request reads its own language
    for code in LANGS:
        with speaking(code):
            ranked = result.top(50)
        why[code] = ranked["reasons"]
    scored = storable(result.units)
    scored.index = result.units.index.astype(str)
    top = [
        {
            "unit_id": str(unit),
            "rank": int(row["rank"]),
            "name": str(row["name"]) if "name" in row else None,
            "score": number(row["score"]),
            "percentile": number(row["percentile"]),
            "level": str(row["level"]),
            "reasons": {code: str(why[code][unit]) for code in LANGS},
        }
        for unit, row in ranked.iterrows()  # the ranking is the same in every language
    ]
    return RiskEntry.of(scored, tuple(top))


def risk_entry(request: Request, scenario_id: str, units: str, standard: str) -> RiskEntry:
    """Risk units of a scenario, scored once per canonical units spec and standard (in memory).

    Raises a 422 for units outside the served range, a 404 for an unknown scenario, and,
    for a request without the token, a 403 when the layer would have more units than the
    anonymous limit allows.
    """
    check_standard(standard)
    spec = canonical_units(units)
    service = get_service(request)
    service.store.get_scenario(scenario_id)
    caches = get_caches(request).coverage
    key = ("risk", scenario_id, str(spec), standard)
    if caches.peek(key) is None and not is_trusted(request):
        count = estimate_units(service.scenarios.get(scenario_id), spec)
        limits = service.settings.anonymous
        if count > limits.max_units:
            params = f'{{"kind": "risk", "params": {{"units": "{spec}"}}}}'
            job = f"POST /api/v1/scenarios/{scenario_id}/jobs {params}"
            raise over_units(count, limits, what=f"`units={spec}` on scenario `{scenario_id}`", job=job)
    entry = cached(
        request,
        caches,
        key,
        lambda: _score(request, scenario_id, spec, standard),
        scenario_id=scenario_id,
        what=f"The `{spec}` risk layer of scenario `{scenario_id}`",
    )
    assert isinstance(entry, RiskEntry)
    return entry


def _cached_entry(request: Request, scenario_id: str, units: str, standard: str) -> RiskEntry | None:
    """The risk layer if it is in memory (after the same checks as :func:`risk_entry`), else None."""
    check_standard(standard)
    spec = canonical_units(units)
    get_service(request).store.get_scenario(scenario_id)
    entry = get_caches(request).coverage.peek(("risk", scenario_id, str(spec), standard))
    return entry if isinstance(entry, RiskEntry) else None


@router.get(
    "/risk", dependencies=[ReadAccess], response_class=Response, responses=GEOJSON_DOC, summary="Risk units"
)
async def risk_units(
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
    ``X-Riskplan-Units`` gives the canonical units spec the layer was scored for.
    """
    # Async on purpose: a layer in memory is sliced on the event loop in well under a
    # millisecond, without a thread hop; building one runs in the threadpool.
    entry = _cached_entry(request, scenario_id, units, standard)
    if entry is None:
        entry = await run_in_threadpool(risk_entry, request, scenario_id, units, standard)
    mask = np.isin(entry.levels, level) if level else None
    headers = {"X-Riskplan-Units": str(canonical_units(units))}
    return entry.rendered.response(bbox=bbox, mask=mask, headers=headers)


@router.get("/risk/top", dependencies=[ReadAccess], summary="Highest-risk units")
def risk_top(
    scenario_id: ScenarioId,
    request: Request,
    units: UnitsParam = "communities",
    n: Annotated[int, Query(ge=1, le=50, description="How many units.")] = 10,
    standard: StandardParam = DEFAULT_STANDARD,
    *,
    lang: LangQuery = None,
) -> list[dict[str, Any]]:
    """The ``n`` highest-scoring units with the reasons for their score (in the request's language)."""
    code = request_lang(request, lang)
    return [
        {**t, "reasons": t["reasons"][code]}
        for t in risk_entry(request, scenario_id, units, standard).top[:n]
    ]
