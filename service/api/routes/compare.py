"""Route: before and after, ``GET /scenarios/{id}/compare/{other_id}`` (issue 19).

The two stored scenarios' risk layers (and, on communities, their coverage) are those of the
``risk`` and ``coverage`` routes (scored once, kept in the caches); the change per unit and its
reasons are :func:`planning.compare.compare_units`. Scenarios of other units or CRS answer 422
with the fix.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from gis.speech import speaking
from planning.compare import compare_units

from ...units import canonical_units
from ..deps import ReadAccess
from ..lang import LangQuery, request_lang
from ..params import DEFAULT_STANDARD, ScenarioId, StandardParam
from ..problems import PROBLEM_RESPONSES
from .coverage import coverage_entry, number
from .risk import UnitsParam, risk_entry

__all__ = ["router"]

router = APIRouter(prefix="/scenarios/{scenario_id}", tags=["results"], responses=PROBLEM_RESPONSES)


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

    Scores and levels always; response times and covered residents on ``communities``.
    """
    before = risk_entry(request, scenario_id, units, standard).units
    after = risk_entry(request, other_id, units, standard).units
    cover: dict[str, Any] = {}
    if canonical_units(units).kind == "communities":
        cover = {
            "coverage_before": coverage_entry(request, scenario_id, standard).layers["communities"],
            "coverage_after": coverage_entry(request, other_id, standard).layers["communities"],
        }
    with speaking(request_lang(request, lang)):  # the reasons in the request's language
        result = compare_units(
            before, after, labels=(f"scenario {scenario_id}", f"scenario {other_id}"), **cover
        )
    u = result.units
    changed = u[u["reasons"] != ""]
    order = changed["score_change"].abs().sort_values(ascending=False).index[:n]
    rows = [
        {
            "unit_id": str(uid),
            "change": str(changed.at[uid, "change"]),
            "score_change": number(changed.at[uid, "score_change"]),
            "level_before": str(changed.at[uid, "level_before"]),
            "level_after": str(changed.at[uid, "level_after"]),
            "response_time_s_change": number(changed.at[uid, "response_time_s_change"])
            if "response_time_s_change" in changed
            else None,
            "covered_residents_change": number(changed.at[uid, "covered_residents_change"])
            if "covered_residents_change" in changed
            else None,
            "reasons": str(changed.at[uid, "reasons"]),
        }
        for uid in order
    ]
    return {"counts": result.counts(), "summary": result.summary(), "units": rows}
