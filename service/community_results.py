"""A community safety survey carried into a job, and an assessment's result as the service stores it.

The web service checks an uploaded survey in the request (a bad one is a 422 before any job
exists) and hands the checked rows to the ``communities`` job as JSON (:func:`survey_payload`,
read back by :func:`survey_frame`), so the job runs in any server process from its parameters
alone. The job stores the assessment of :func:`service.communities.assess_communities` as
:func:`assessment_result` makes it: JSON tables by name (:data:`RESULT_TABLES`) and the
community layer (score, grade, failed items on each polygon), which the API serves as JSON and
GeoJSON.

Examples
--------
>>> from gis.demo import synthetic_survey
>>> from service.communities import assess_communities
>>> survey = synthetic_survey(city["communities"], seed=1)
>>> back = survey_frame(survey_payload(survey, items=["bottled_lpg"]))
>>> list(back["bottled_lpg"][:2]) == list(survey["bottled_lpg"][:2])
True
>>> run = assess_communities(city["communities"], survey, budget=1_000_000, demonstration=3)
>>> data, layers = assessment_result(run, city["communities"])
>>> len(data["tables"]["demonstration"]), len(layers["communities"]) == len(data["tables"]["scores"])
(3, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import geopandas as gpd

    from .communities import CommunityAssessment

__all__ = ["RESULT_TABLES", "assessment_result", "records", "survey_frame", "survey_payload"]

#: The tables of a stored assessment: name in the result -> what it holds.
RESULT_TABLES: Mapping[str, str] = {
    "scores": "every survey's score, grade, pass, failed items and section scores",
    "failed_items": "each failed item of every survey, with its register category",
    "districts": "per district (and `(all)`): the latest surveys counted, mean score, passes, grades",
    "changes": "each re-surveyed community: latest against previous survey",
    "item_changes": "each re-surveyed community and item: fixed, new failure, still failing",
    "district_changes": "per district: the re-surveyed communities' change",
    "district_item_changes": "per district and item: failing before / after, fixed, new failures",
    "upgrade_plan": "the measures chosen within the budget",
    "upgrade_by_community": "the plan per community: cost, points restored, risk removed",
    "scores_after_upgrades": "each community's latest score after the plan",
    "demonstration": "the demonstration communities with their reasons and what they still need",
    "demonstration_quotas": "the quotas per district and community type, and how they are met",
}
_FROM_SAFETY = {
    "scores": "community_surveys",
    "failed_items": "community_failed",
    "districts": "community_summary",
    "changes": "community_changes",
    "item_changes": "community_item_changes",
    "district_changes": "district_changes",
    "district_item_changes": "district_item_changes",
}


def _plain(value: Any) -> Any:
    """A JSON value: NaN / NaT / infinities as null, times as ISO text, numpy scalars as Python."""
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in value]
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp | datetime):
        if pd.isna(value):
            return None
        stamp = pd.Timestamp(value)
        return stamp.strftime("%Y-%m-%d") if stamp == stamp.normalize() else stamp.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows of ``table`` (its index as a column when it is named).

    Examples
    --------
    >>> records(pd.DataFrame({"a": [1.5, float("nan")], "t": pd.to_datetime(["2024-05-15", None])}))
    [{'a': 1.5, 't': '2024-05-15'}, {'a': None, 't': None}]
    """
    frame = table.reset_index() if table.index.name is not None else table
    cols = [str(c) for c in frame.columns]
    return [
        {c: _plain(v) for c, v in zip(cols, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]


def survey_payload(frame: pd.DataFrame, *, items: Sequence[str], where: str = "the survey") -> dict[str, Any]:
    """The checked survey's rows as JSON: ``{"columns", "data", "where"}``, n/a kept as ``"n/a"``.

    ``frame`` is a checked survey (:attr:`risk_models.community_safety.Survey.frame`, or a
    generated one); ``items`` its item columns, whose missing values mean n/a (不适用).
    """
    out = frame.copy()
    for col in items:
        if col in out.columns:
            out[col] = out[col].astype(object).where(out[col].notna(), "n/a")
    out["survey_date"] = pd.to_datetime(out["survey_date"]).dt.strftime("%Y-%m-%d")
    data = [[_plain(v) for v in row] for row in out.itertuples(index=False, name=None)]
    return {"columns": [str(c) for c in out.columns], "data": data, "where": where}


def survey_frame(payload: Mapping[str, Any]) -> pd.DataFrame:
    """The survey rows of :func:`survey_payload` as a frame, as the scoring reads a survey."""
    return pd.DataFrame(list(payload["data"]), columns=list(payload["columns"]))


def assessment_result(
    assessment: CommunityAssessment, communities: gpd.GeoDataFrame
) -> tuple[dict[str, Any], dict[str, gpd.GeoDataFrame]]:
    """The JSON data (summary, counts, :data:`RESULT_TABLES`) and the ``communities`` layer to store."""
    import geopandas as gpd

    from risk_models.community_safety import safety_tables

    layers, tables = safety_tables(assessment.safety, communities)
    out: dict[str, list[dict[str, Any]]] = {}
    for name, source in _FROM_SAFETY.items():
        if source in tables:
            out[name] = records(tables[source])
    for name, table in assessment.tables().items():
        if name in RESULT_TABLES:
            out[name] = records(table)
    layer = layers["community_safety"].reset_index()
    layer["community_id"] = layer["community_id"].astype(str)
    for col in layer.columns:  # days as text: GeoJSON has no dates
        if pd.api.types.is_datetime64_any_dtype(layer[col]):
            layer[col] = layer[col].dt.strftime("%Y-%m-%d")
    safety = assessment.safety
    latest = safety.latest()
    plan = assessment.plan
    data: dict[str, Any] = {
        "synthetic": bool(safety.synthetic),
        "survey": safety.where,
        "standard": assessment.standard.where,
        "pass_mark": float(assessment.standard.pass_mark),
        "surveys": len(safety.scores),
        "communities": len(latest),
        "passed": int(latest["passed"].sum()),
        "mean_score": _plain(float(latest["score"].mean())) if len(latest) else None,
        "failed_items": len(safety.failed()),
        "budget_cny": assessment.budget,
        "plan": None if plan is None else {"summary": plan.summary(), "notes": [str(n) for n in plan.notes]},
        "demonstration": None if assessment.demonstration is None else assessment.demonstration.summary(),
        "notes": list(assessment.notes),
        "lines": assessment.lines(),
        "tables": out,
    }
    return data, {"communities": gpd.GeoDataFrame(layer, geometry="geometry", crs=layer.crs)}
