"""Routes: community safety surveys (issue 16): upload, the scoring job, its scores and plans.

Mounted under ``/api/v1/scenarios/{scenario_id}/communities``:

=============================================  ==============================================
endpoint                                       what
=============================================  ==============================================
``POST /surveys``                              a survey (CSV / .xlsx) checked at once, then the
                                               ``communities`` job queued (202); with
                                               ``register`` its failed items go to the register
``GET /assessments/{job_id}``                  counts, the summary lines, the tables held
``GET /assessments/{job_id}/scores``           every community's latest score, grade and failed
                                               items: JSON, or GeoJSON of the community layer
``GET /assessments/{job_id}/failed-items``     each failed item (filters: community, item)
``GET /assessments/{job_id}/districts``        the summary per district
``GET /assessments/{job_id}/upgrade-plan``     the measures within the budget, per community,
                                               the scores after them
``GET /assessments/{job_id}/demonstration``    the demonstration communities, reasons, quotas
``GET /assessments/{job_id}/changes``          re-surveys against the previous survey
=============================================  ==============================================

The survey is read and checked in the request, exactly as ``riskplan communities`` reads it
(:func:`risk_models.community_safety.read_survey` against the scenario's communities): a bad
survey is a 422 listing each problem with its spreadsheet rows and fix, and no job is made.
Files are limited as the register's import is (:data:`~.register_intake.MAX_IMPORT_BYTES`, 413
beyond) and to :data:`~service.jobs.kinds.MAX_SURVEY_ROWS` rows. The checked rows travel in
the job's parameters, so any server process runs it; the job
(:func:`service.jobs.kinds.run_communities_job`, through
:func:`service.communities.assess_communities`) stores its result in the store like every
job, so every process serves it.

Rights: a survey is a government inspection, so posting one takes the roles that may import
inspections (:func:`~.register_intake.import_roles`: inspector, territorial government,
supervisor, admin; the service's API token acts as admin). ``register=true`` also needs the
right to verify (the items are verified at once), and adds the failed items to the service's
register once each, following up the open items of earlier surveys of the same communities
(:func:`risk_models.community_safety.register_failed_items`: a still-failing item is noted on
the open one; a mended one is moved towards closure as far as the workflow lets the role).
Reading an assessment is a read of a job's result.
"""

from __future__ import annotations

import math
import re
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool

from gis import InputError

from ...community_results import survey_payload
from ...jobs import JobStateError
from ...jobs.kinds import MAX_SURVEY_ROWS
from ...store import ItemQuery, NotFoundError
from ..accounts import Actor
from ..auth import AuthError
from ..community_models import (
    AssessmentOut,
    ChangesOut,
    DemonstrationOut,
    FollowUpOut,
    SurveyJobOut,
    SurveyRegisterOut,
    UpgradePlanOut,
)
from ..deps import ReadAccess, ServiceState, get_service
from ..geojson import GEOJSON_DOC, RenderedLayer
from ..lang import LangQuery, request_lang
from ..models import JobOut
from ..params import BBox, ScenarioId, parse_bbox
from ..problems import PROBLEM_RESPONSES, problem
from ..register_access import require_actor, workflow_of
from ..uploads import read_sheet_form, sheet_suffix
from .register_intake import MAX_IMPORT_BYTES, import_roles

__all__ = ["KIND", "router", "survey_roles"]

router = APIRouter(
    prefix="/scenarios/{scenario_id}/communities", tags=["communities"], responses=PROBLEM_RESPONSES
)

#: The job kind that scores a survey (:mod:`service.jobs.kinds`).
KIND = "communities"
_TOKEN: dict[str, Any] = {"security": [{"HTTPBearer": []}]}
_FIELDS = {
    "sheet", "budget_cny", "demonstration", "time_limit_s", "safety_standard", "upgrade_measures", "register",
}  # fmt: skip
_SURVEY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "The survey: .csv (UTF-8 or GB18030) or .xlsx, one row per "
                            "community and survey date, Chinese or English headers (docs/communities.md).",
                        },
                        "sheet": {"type": "string", "maxLength": 100},
                        "budget_cny": {"type": "number", "minimum": 0, "maximum": 1e12},
                        "demonstration": {"type": "integer", "minimum": 0, "maximum": 1000, "default": 0},
                        "time_limit_s": {"type": "integer", "minimum": 1, "maximum": 300, "default": 30},
                        "safety_standard": {
                            "type": "string",
                            "maxLength": 100_000,
                            "description": "JSON object: overrides of community_safety.toml.",
                        },
                        "upgrade_measures": {
                            "type": "string",
                            "maxLength": 100_000,
                            "description": "JSON object: overrides of upgrade_measures.toml.",
                        },
                        "register": {"type": "boolean", "default": False},
                    },
                    "required": ["file"],
                    "additionalProperties": False,
                }
            }
        },
    }
}

JobId = Annotated[str, PathParam(description="The `communities` job's id.", max_length=64)]


def survey_roles(request: Request) -> tuple[str, ...]:
    """Roles that may post a survey: those that may import inspections (by the deployment's workflow)."""
    return import_roles(workflow_of(request), "government_inspection")


def _forbid(actor: Actor, what: str, roles: tuple[str, ...] | list[str]) -> None:
    if actor.role not in roles:
        msg = f"A `{actor.role}` account may not {what}. Fix: use an account of {sorted(roles)}."
        raise AuthError(
            msg, 403, key="role_may_not", values={"role": actor.role, "action": what, "roles": sorted(roles)}
        )


def _number(fields: dict[str, str], name: str, *, whole: bool) -> float | int | None:
    text = fields.get(name)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if math.isnan(value) or (whole and not value.is_integer()):  # or 2.5 for a count
        kind = "a whole number" if whole else "a number"
        msg = f"`{name}` {text!r} is not {kind}. Fix: e.g. `{name}=10`."
        raise InputError(msg)
    return int(value) if whole else value


def _table(fields: dict[str, str], name: str) -> dict[str, Any] | None:
    import json

    text = fields.get(name)
    if text is None:
        return None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"`{name}` is not valid JSON ({exc.msg}). Fix: send a JSON object of the entries to change."
        raise InputError(msg) from None
    if not isinstance(doc, dict):
        msg = f'`{name}` must be a JSON object of the entries to change. Fix: e.g. {{"scoring": {{...}}}}.'
        raise InputError(msg)
    return doc


def _register(service: ServiceState, actor: Actor, safety: Any, communities: Any) -> SurveyRegisterOut:
    """Add the survey's failed items to the service's register and follow up earlier ones."""
    from risk_models.community_safety import register_failed_items

    register = service.store.register
    areas = pd.DataFrame({"district": pd.Series(dtype=object), "street": pd.Series(dtype=object)})
    surveyed = set(safety.scores["community_id"].astype(str))
    updates = []

    def make(counters: Any) -> Any:
        # runs inside the register's write transaction: the events read are the latest, so two
        # imports of one survey at once cannot both add its items. Survey items are government
        # inspections of a community: only those of the surveyed communities are read.
        query = ItemQuery(source="government_inspection")
        numbers = [s.item.number for s in register.list_items(query) if s.item.community_id in surveyed]
        existing = [event for number in numbers for event in register.events(number)]
        update = register_failed_items(
            safety, communities, first_counter=counters, existing=existing,
            actor=actor.account, role=actor.role, unit=actor.unit,
        )  # fmt: skip
        for number, row in update.areas.iterrows():  # the store reads the areas after `make`
            areas.loc[number, list(row.index)] = row.to_numpy()
        updates.append(update)
        return update.events

    register.append_events(make, areas=areas)
    update = updates[-1]
    follow = [
        FollowUpOut(**{**rec, "survey_date": pd.Timestamp(rec["survey_date"]).strftime("%Y-%m-%d")})
        for rec in update.follow_ups.astype({"survey_date": object}).to_dict("records")
    ]
    return SurveyRegisterOut(
        added=len(update.items), numbers=list(update.items), followed_up=follow, already=len(update.skipped)
    )


@router.post(
    "/surveys",
    status_code=202,
    response_model=SurveyJobOut,
    openapi_extra=_SURVEY_DOC | _TOKEN,
    summary="Upload a community safety survey: checked at once, scored and planned by a job",
)
async def post_survey(
    scenario_id: ScenarioId, request: Request, response: Response, lang: LangQuery = None
) -> Any:
    """Check the survey against the scenario's communities and queue the ``communities`` job.

    The job speaks the request's language (``lang``, $RISKPLAN_LANG, Accept-Language, the
    scenario's place, else English).

    Form fields: ``file`` (the survey), ``sheet`` (Excel sheet), ``budget_cny`` (plan upgrade
    measures within it), ``demonstration`` (choose this many demonstration communities; needs a
    budget), ``time_limit_s`` (per HiGHS solve), ``safety_standard`` / ``upgrade_measures``
    (JSON objects overriding the shipped tables) and ``register`` (also put the failed items in
    the register). A bad survey answers 422 listing its rows and fixes; nothing is queued or
    registered. Poll ``Location`` (the job), then read ``assessment_url``.
    """
    from risk_models.community_safety import load_safety_standard, read_survey, score_communities

    service = get_service(request)
    actor = require_actor(request, service)
    _forbid(actor, "post a community survey (a government inspection)", survey_roles(request))
    fields, data, name = await read_sheet_form(
        request, _FIELDS, what="A survey upload", max_bytes=MAX_IMPORT_BYTES
    )
    flag = fields.get("register", "false").lower()
    if flag not in ("true", "false", "1", "0"):
        msg = f"`register` {flag!r} is not a boolean. Fix: send true or false."
        raise InputError(msg)
    register = flag in ("true", "1")
    if register:
        _forbid(
            actor,
            "verify register items (survey items are verified)",
            sorted(workflow_of(request).rule("verify").roles),
        )
    params: dict[str, Any] = {
        key: value
        for key, value in {
            "budget_cny": _number(fields, "budget_cny", whole=False),
            "demonstration": _number(fields, "demonstration", whole=True),
            "time_limit_s": _number(fields, "time_limit_s", whole=True),
            "safety_standard": _table(fields, "safety_standard"),
            "upgrade_measures": _table(fields, "upgrade_measures"),
        }.items()
        if value is not None
    }
    scenario = service.scenarios.get(scenario_id)  # 404 for an unknown id
    if "communities" not in scenario:
        msg = f"Scenario `{scenario_id}` has no `communities` layer. Fix: upload one with communities."
        raise InputError(msg)
    communities = scenario["communities"]
    standard = load_safety_standard(params.get("safety_standard"))  # a bad override: 422 naming the key

    def check() -> Any:
        with tempfile.TemporaryDirectory(prefix="community-survey-") as tmp:
            path = Path(tmp) / f"survey{sheet_suffix(data)}"  # a server-chosen name
            path.write_bytes(data)
            try:
                return read_survey(path, standard, communities=communities, sheet=fields.get("sheet"))
            except InputError as exc:
                text = re.sub(re.escape(str(path)), f"`{name}`", str(exc))
                return text.replace(tmp + "/", "").replace(tmp, "")

    checked = await run_in_threadpool(check)
    if isinstance(checked, str):
        detail = f"`{name}`: nothing was queued or registered. {checked}"
        return problem(422, "Invalid survey", detail, slug="invalid-survey")
    rows = len(checked.frame)
    if rows > MAX_SURVEY_ROWS:
        msg = f"`{name}` has {rows:,} survey rows, over the {MAX_SURVEY_ROWS:,} a job takes. Fix: split it."
        raise InputError(msg)
    params["survey"] = survey_payload(checked.frame, items=checked.items, where=f"`{name}`")
    kind = service.registry.get(KIND)
    if kind.check_params is not None:
        kind.check_params(params)  # a bad parameter or override: 422, before anything is stored
    outcome = None
    if register:  # first: a job refused as busy leaves a register that a retry does not change

        def put() -> SurveyRegisterOut:
            safety = score_communities(checked, standard, communities=communities)
            return _register(service, actor, safety, communities)

        outcome = await run_in_threadpool(put)
    bounds = service.store.get_scenario(scenario_id).bounds_wgs84
    job = service.runner.submit(
        scenario_id, KIND, params, lang=request_lang(request, lang, bounds_wgs84=bounds)
    )
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    shown = JobOut.of(job)  # the answer names the survey; its rows are in the job's parameters
    shown.params["survey"] = {"where": params["survey"]["where"], "rows": rows}
    return SurveyJobOut(
        job=shown,
        assessment_url=f"/api/v1/scenarios/{scenario_id}/communities/assessments/{job.id}",
        surveys=rows,
        communities=int(checked.frame["community_id"].nunique()),
        synthetic=bool(checked.synthetic),
        notes=list(checked.notes),
        registered=outcome,
    )


# -- reading an assessment ------------------------------------------------------------------------


def _result(request: Request, scenario_id: str, job_id: str) -> dict[str, Any]:
    """The stored result of a succeeded ``communities`` job of this scenario (404 / 409 otherwise)."""
    store = get_service(request).store
    job = store.get_job(job_id)
    if job.kind != KIND or job.scenario_id != scenario_id:
        msg = (
            f"Scenario `{scenario_id}` has no community assessment `{job_id}`. Fix: use its survey's job id."
        )
        raise NotFoundError(msg, key="no_assessment", values={"scenario": scenario_id, "id": job_id})
    if job.status != "succeeded" or not job.has_result:
        msg = f"Assessment `{job_id}` is {job.status}; it is read once its job succeeded. Fix: poll its job."
        raise JobStateError(msg, key="assessment_not_ready", values={"id": job_id, "status": job.status})
    return store.get_job_result(job_id)


def _rows(result: dict[str, Any], name: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = result["tables"].get(name, [])
    return rows


@router.get(
    "/assessments/{job_id}",
    response_model=AssessmentOut,
    dependencies=[ReadAccess],
    summary="A community assessment: counts, summary lines, tables held",
)
def get_assessment(scenario_id: ScenarioId, job_id: JobId, request: Request) -> AssessmentOut:
    """Surveys, communities, passes, mean score, failed items; the plan's and demonstration's summaries."""
    result = _result(request, scenario_id, job_id)
    keys = set(AssessmentOut.model_fields) - {"job_id", "scenario_id", "tables"}
    body = {k: result.get(k) for k in keys}
    body |= {"job_id": job_id, "scenario_id": scenario_id}
    body["tables"] = {name: len(rows) for name, rows in result["tables"].items()}
    return AssessmentOut.model_validate(body)


@router.get(
    "/assessments/{job_id}/scores",
    response_model=list[dict[str, Any]],
    dependencies=[ReadAccess],
    responses=GEOJSON_DOC,
    summary="Scores per community: JSON, or GeoJSON of the community layer",
)
def get_scores(
    scenario_id: ScenarioId,
    job_id: JobId,
    request: Request,
    bbox: Annotated[BBox | None, Depends(parse_bbox)],
    *,
    format: Annotated[
        Literal["json", "geojson"], Query(description="geojson: the community layer.")
    ] = "json",
    district: Annotated[str | None, Query(max_length=100)] = None,
    latest: Annotated[bool, Query(description="JSON: only each community's latest survey.")] = True,
) -> Any:
    """Each community's score, grade, pass, failed items (``; ``-separated) and section scores.

    ``format=geojson``: the latest survey of each surveyed community on its polygon (EPSG:4326),
    ``bbox`` to slice; JSON: every survey, or only the latest (default).
    """
    result = _result(request, scenario_id, job_id)
    if format == "geojson":
        gdf = get_service(request).store.read_job_result_layer(job_id, "communities")
        if district is not None and "district" in gdf.columns:
            gdf = gdf[gdf["district"].astype(str) == district]
        return RenderedLayer.of(gdf).response(bbox=bbox)
    rows = _rows(result, "scores")
    if latest:
        last: dict[str, dict[str, Any]] = {}
        for row in rows:
            seen = last.get(row["community_id"])
            if seen is None or str(row["survey_date"]) >= str(seen["survey_date"]):
                last[row["community_id"]] = row
        rows = list(last.values())
    return [r for r in rows if district is None or r.get("district") == district]


@router.get(
    "/assessments/{job_id}/failed-items",
    response_model=list[dict[str, Any]],
    dependencies=[ReadAccess],
    summary="The failed items of every survey, with their register category",
)
def get_failed_items(
    scenario_id: ScenarioId,
    job_id: JobId,
    request: Request,
    *,
    community_id: Annotated[str | None, Query(max_length=100)] = None,
    item: Annotated[str | None, Query(max_length=64)] = None,
) -> list[dict[str, Any]]:
    """Community, survey date, section, item, value, rule, category, label and veto of each failure."""
    rows = _rows(_result(request, scenario_id, job_id), "failed_items")
    if community_id is not None:
        rows = [r for r in rows if str(r["community_id"]) == community_id]
    return [r for r in rows if item is None or r["item"] == item]


@router.get(
    "/assessments/{job_id}/districts",
    response_model=list[dict[str, Any]],
    dependencies=[ReadAccess],
    summary="The latest surveys per district: mean score, passes, grades, most failed item",
)
def get_districts(scenario_id: ScenarioId, job_id: JobId, request: Request) -> list[dict[str, Any]]:
    """One row per district and a last row for the whole city (``(all)``)."""
    return _rows(_result(request, scenario_id, job_id), "districts")


@router.get(
    "/assessments/{job_id}/upgrade-plan",
    response_model=UpgradePlanOut,
    dependencies=[ReadAccess],
    summary="The upgrade measures chosen within the budget",
)
def get_upgrade_plan(scenario_id: ScenarioId, job_id: JobId, request: Request) -> UpgradePlanOut:
    """The measures, the plan per community and the scores after it; 404 for a survey without a budget."""
    result = _result(request, scenario_id, job_id)
    if result.get("plan") is None:
        msg = f"Assessment `{job_id}` was scored without a budget. Fix: post the survey with `budget_cny`."
        raise NotFoundError(msg, key="assessment_no_budget", values={"id": job_id})
    return UpgradePlanOut(
        budget_cny=float(result["budget_cny"]),
        summary=str(result["plan"]["summary"]),
        notes=list(result["plan"]["notes"]),
        chosen=_rows(result, "upgrade_plan"),
        by_community=_rows(result, "upgrade_by_community"),
        scores_after=_rows(result, "scores_after_upgrades"),
    )


@router.get(
    "/assessments/{job_id}/demonstration",
    response_model=DemonstrationOut,
    dependencies=[ReadAccess],
    summary="The demonstration communities with their reasons and quotas",
)
def get_demonstration(scenario_id: ScenarioId, job_id: JobId, request: Request) -> DemonstrationOut:
    """Each chosen community with its reasons and what it still needs to pass; 404 when none was asked."""
    result = _result(request, scenario_id, job_id)
    if result.get("demonstration") is None:
        msg = (
            f"Assessment `{job_id}` chose no demonstration communities. Fix: post `demonstration`, a budget."
        )
        raise NotFoundError(msg, key="assessment_no_demonstration", values={"id": job_id})
    return DemonstrationOut(
        summary=str(result["demonstration"]),
        chosen=_rows(result, "demonstration"),
        quotas=_rows(result, "demonstration_quotas"),
    )


@router.get(
    "/assessments/{job_id}/changes",
    response_model=ChangesOut,
    dependencies=[ReadAccess],
    summary="Re-surveys against the previous survey, per community, item and district",
)
def get_changes(scenario_id: ScenarioId, job_id: JobId, request: Request) -> ChangesOut:
    """Empty lists when no community was surveyed twice."""
    result = _result(request, scenario_id, job_id)
    return ChangesOut(
        communities=_rows(result, "changes"),
        items=_rows(result, "item_changes"),
        districts=_rows(result, "district_changes"),
        district_items=_rows(result, "district_item_changes"),
    )
