"""Route: before and after, ``GET /scenarios/{id}/compare/{other_id}`` (issue 19).

The two stored scenarios' risk layers (and, on communities, their coverage) are those of the
``risk`` and ``coverage`` routes (scored once, kept in the caches); the change per unit and its
reasons are :func:`planning.compare.compare_units` (in ``lang``; each unit's station from the
station districts). ``/report`` gives the report section "Before and after" as one page.
Scenarios of other units or CRS answer 422 with the fix.
"""

from __future__ import annotations

from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Query, Request, Response

from gis.i18n import Lang
from planning.compare import Comparison, compare_units

from ...units import canonical_units
from ..deps import ReadAccess, get_service
from ..lang import LangQuery, request_lang
from ..params import DEFAULT_STANDARD, ScenarioId, StandardParam
from ..problems import PROBLEM_RESPONSES
from .coverage import coverage_entry, number
from .maps import MAP_CSP
from .risk import UnitsParam, risk_entry

__all__ = ["router"]

router = APIRouter(prefix="/scenarios/{scenario_id}", tags=["results"], responses=PROBLEM_RESPONSES)


def _comparison(
    request: Request, scenario_id: str, other_id: str, *, units: str, standard: str, lang: Lang
) -> Comparison:
    store = get_service(request).store
    store.get_scenario(scenario_id)  # both known before either is scored: an unknown one is a quick 404
    store.get_scenario(other_id)
    before = risk_entry(request, scenario_id, units, standard).units
    after = risk_entry(request, other_id, units, standard).units
    cover: dict[str, Any] = {}
    a = coverage_entry(request, scenario_id, standard).layers
    b = coverage_entry(request, other_id, standard).layers
    if canonical_units(units).kind == "communities":
        cover = {"coverage_before": a["communities"], "coverage_after": b["communities"]}
    if len(a.get("districts", ())) and len(b.get("districts", ())):
        cover |= {"districts_before": a["districts"], "districts_after": b["districts"]}
    labels = (f"scenario {scenario_id}", f"scenario {other_id}")
    return compare_units(before, after, labels=labels, lang=lang, **cover)


@router.get("/compare/{other_id}", dependencies=[ReadAccess], summary="Before and after")
def compare(
    scenario_id: ScenarioId,
    other_id: ScenarioId,
    request: Request,
    *,
    units: UnitsParam = "communities",
    standard: StandardParam = DEFAULT_STANDARD,
    n: Annotated[int, Query(ge=1, le=500, description="Changed units listed, largest first.")] = 50,
    lang: LangQuery = None,
) -> dict[str, Any]:
    """Per unit the change from ``scenario_id`` (baseline) to ``other_id``, with the reasons.

    Scores and levels always; response times and covered residents on ``communities``; each
    unit's station from the station districts. The reasons and summary in ``lang`` (else the
    request's Accept-Language, else English).
    """
    result = _comparison(
        request, scenario_id, other_id, units=units, standard=standard, lang=request_lang(request, lang)
    )
    u = result.units
    changed = u[u["reasons"] != ""]
    order = changed["score_change"].abs().fillna(0.0).sort_values(ascending=False, kind="stable").index[:n]
    rows = [
        {
            "unit_id": str(uid),
            "change": str(changed.loc[uid, "change"]),
            "score_change": number(changed.loc[uid, "score_change"]),
            "level_before": str(changed.loc[uid, "level_before"]),
            "level_after": str(changed.loc[uid, "level_after"]),
            "response_time_s_change": number(changed.loc[uid, "response_time_s_change"])
            if "response_time_s_change" in changed
            else None,
            "covered_residents_change": number(changed.loc[uid, "covered_residents_change"])
            if "covered_residents_change" in changed
            else None,
            "station_before": _text(changed, uid, "station_before"),
            "station_after": _text(changed, uid, "station_after"),
            "reasons": str(changed.loc[uid, "reasons"]),
        }
        for uid in order
    ]
    return {"counts": result.counts(), "summary": result.summary(), "units": rows}


def _text(frame: Any, uid: Any, column: str) -> str | None:
    if column not in frame:
        return None
    value = frame.loc[uid, column]
    return None if value is None or pd.isna(value) else str(value)


@router.get(
    "/compare/{other_id}/report",
    dependencies=[ReadAccess],
    response_class=Response,
    responses={200: {"content": {"text/html": {}}, "description": "One self-contained HTML page."}},
    summary='The report section "Before and after"',
)
def compare_report(
    scenario_id: ScenarioId,
    other_id: ScenarioId,
    request: Request,
    *,
    units: UnitsParam = "communities",
    standard: StandardParam = DEFAULT_STANDARD,
    lang: LangQuery = None,
) -> Response:
    """The section "Before and after" as a page: per level the moves, the largest changes, the diff map."""
    from maps.compare_map import compare_report_html

    chosen = request_lang(request, lang)
    result = _comparison(request, scenario_id, other_id, units=units, standard=standard, lang=chosen)
    page = compare_report_html(result, lang=chosen)
    headers = {"Content-Security-Policy": MAP_CSP, "Content-Language": chosen, "Vary": "Accept-Language"}
    return Response(page.encode("utf-8"), media_type="text/html; charset=utf-8", headers=headers)
