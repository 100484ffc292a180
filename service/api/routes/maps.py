"""Routes: the interactive map and the self-contained HTML report of a scenario.

==========================================  ================================================
endpoint                                    built by
==========================================  ================================================
``GET /scenarios/{id}/map?standard=``       :func:`maps.risk_map` (one HTML file, assets inlined)
``GET /scenarios/{id}/report?standard=``    :func:`maps.report_html`
==========================================  ================================================

Both start from :func:`service.workflow.assess` (coverage under ``standard``, then risk) and
add the proposed stations and trade-off curve of the scenario's latest succeeded ``placement``
job; the report adds the depot plan of the latest succeeded ``depots`` job. A page is built
once per scenario, standard and those jobs: it is stored in the store (so it survives a
restart and is deleted with the scenario) and kept in memory (``app.state.analysis``, an
:class:`service.api.caches.AnalysisCaches`, so deleting the scenario drops it). Building runs
in a worker thread, never on the event loop, under a per-key lock
(:class:`service.api.caches.BuildCache`), so concurrent first requests build once; requests
without the API token build within the anonymous limits (:mod:`service.api.budget`). A newer
placement job gives a new page.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import pandas as pd
from fastapi import APIRouter, Request, Response

import maps

from ...store import JobRecord
from ...workflow import assess
from ..caches import cached, cached_bytes, get_caches
from ..deps import ReadAccess, ServiceState, get_service
from ..params import DEFAULT_STANDARD, ScenarioId, StandardParam, check_standard
from ..problems import PROBLEM_RESPONSES

__all__ = ["MAP_CSP", "router"]

router = APIRouter(prefix="/scenarios/{scenario_id}", tags=["maps"], responses=PROBLEM_RESPONSES)

HTML = "text/html; charset=utf-8"
Page = Literal["map", "report"]
_HTML_DOC: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {}}, "description": "One self-contained HTML page."}
}
#: The pages inline their scripts and styles (one self-contained file); they fetch nothing but
#: map tiles (off by default) and may not be framed.
MAP_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob: https://tile.openstreetmap.org https://*.is.autonavi.com; font-src data:; "
    "connect-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def _latest(jobs: list[JobRecord], kind: str) -> JobRecord | None:
    """The newest succeeded job of ``kind`` with a result (``jobs`` are newest first)."""
    return next((j for j in jobs if j.kind == kind and j.has_result), None)


@dataclass(frozen=True)
class _StoredStationPlan:
    """A placement job's result as the maps read a :class:`planning.StationPlan`."""

    proposed: gpd.GeoDataFrame
    tradeoff: pd.DataFrame


@dataclass(frozen=True)
class _StoredDepotPlan:
    """A depots job's result as the maps read a :class:`planning.DepotPlan`."""

    served: pd.Series
    depots: pd.DataFrame

    def table(self) -> pd.DataFrame:
        """One row per depot, as :meth:`planning.DepotPlan.table`."""
        return self.depots


def _placement(service: ServiceState, job: JobRecord | None) -> dict[str, Any]:
    if job is None:
        return {}
    data = service.store.get_job_result(job.id)
    proposed = service.store.read_job_result_layer(job.id, "proposed").set_index("id")
    return {"station_plan": _StoredStationPlan(proposed, pd.DataFrame(data.get("tradeoff") or []))}


def _depots(service: ServiceState, job: JobRecord | None) -> dict[str, Any]:
    if job is None:
        return {}
    table = pd.DataFrame(service.store.get_job_result(job.id).get("table") or [])
    communities: gpd.GeoDataFrame = service.store.read_job_result_layer(job.id, "communities")
    served = communities["depot"].where(communities["depot"].astype(str) != "")
    table = table.set_index("depot") if "depot" in table.columns else table
    return {"depot_plan": _StoredDepotPlan(served.dropna().astype(str), table)}


def _build(request: Request, scenario_id: str, standard: str, page: Page) -> tuple[bytes, dict[str, str]]:
    """The page's HTML, from memory, the store, or built (once per key)."""
    service = get_service(request)
    caches = get_caches(request)
    jobs = service.store.list_jobs(scenario_id=scenario_id, status="succeeded")
    placement = _latest(jobs, "placement")
    depots = _latest(jobs, "depots") if page == "report" else None
    key = (scenario_id, standard, page, placement.id if placement else "", depots.id if depots else "")
    digest = hashlib.sha256("|".join(key).encode()).hexdigest()[:16]
    name = f"{page}_{re.sub(r'[^a-z0-9]+', '_', standard.lower()).strip('_')}_{digest}"

    def assessed() -> tuple[Any, Any]:
        scenario = service.scenarios.get(scenario_id)
        return assess(scenario, graph=service.graphs.graph(scenario_id, scenario), standard=standard)

    def render() -> tuple[bytes, str]:
        scenario = service.scenarios.get(scenario_id)
        coverage, risk = caches.assessments.get((scenario_id, standard), assessed)
        extra = _placement(service, placement)
        if page == "map":
            html = maps.risk_map(scenario, risk=risk, coverage=coverage, **extra).get_root().render()
        else:
            extra |= _depots(service, depots)
            html = maps.report_html(scenario, risk=risk, coverage=coverage, **extra)
        return html.encode("utf-8"), HTML

    body = cached(
        request,
        caches.pages,
        key,
        lambda: cached_bytes(service, scenario_id, name, render)[0],
        scenario_id=scenario_id,
        what=f"The {page} of scenario `{scenario_id}` under {standard}",
    )
    headers = {
        "Content-Security-Policy": MAP_CSP,
        "X-Riskplan-Placement-Job": placement.id if placement else "",
    }
    return body, headers


def _serve(request: Request, scenario_id: str, standard: str, page: Page) -> Response:
    check_standard(standard)
    get_service(request).store.get_scenario(scenario_id)  # 404 before any computation
    body, headers = _build(request, scenario_id, standard, page)
    return Response(body, media_type=HTML, headers=headers)


# Plain ``def`` routes: FastAPI runs them in its threadpool, so a first build (a few seconds)
# never blocks the event loop.


@router.get(
    "/map",
    response_class=Response,
    responses=_HTML_DOC,
    dependencies=[ReadAccess],
    summary="Interactive risk and coverage map (HTML)",
)
def scenario_map(
    scenario_id: ScenarioId, request: Request, standard: StandardParam = DEFAULT_STANDARD
) -> Response:
    """The interactive map of a scenario.

    Risk units, coverage, isochrones, districts, hazards, stations, and the proposed stations of
    the latest succeeded placement job (each with its reason).
    """
    return _serve(request, scenario_id, standard, "map")


@router.get(
    "/report",
    response_class=Response,
    responses=_HTML_DOC,
    dependencies=[ReadAccess],
    summary="Self-contained HTML report",
)
def scenario_report(
    scenario_id: ScenarioId, request: Request, standard: StandardParam = DEFAULT_STANDARD
) -> Response:
    """The report: key figures, the map, top risk units, gaps, proposed stations, depot plan."""
    return _serve(request, scenario_id, standard, "report")
