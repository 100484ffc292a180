"""Routes: the register's import of inspection results, traceability (一追溯) and risk grading.

- ``POST /register/imports``: a CSV (UTF-8 / GB18030) or Excel sheet of inspection results,
  checked as ``riskplan register import`` checks it (:func:`risk_models.register.import_rows`);
  a bad sheet answers 422 listing each kind of problem with its spreadsheet rows and fix, and
  nothing is stored. The import runs **synchronously** (in a worker thread): 100,000 rows take
  well under the 30 s target (``benchmarks/bench_register.py``), so a job would only add a
  poll. Files are limited to :data:`MAX_IMPORT_BYTES` (413 beyond) and
  :data:`MAX_IMPORT_ROWS` rows (422 beyond: split the sheet).
- ``GET /register/traceability``: for incidents given in the request or taken from a
  scenario's ``incidents`` layer, the items near them or at their source that were open,
  overdue, rejected or closed shortly before (:func:`~risk_models.register.trace_incidents`),
  and with the scenario's hazards the sources without a self-check for N months
  (:func:`~risk_models.register.unchecked_sources`).
- ``POST`` / ``GET /register/grades``: LEC or matrix assessments of a hazard source or a
  part of it graded by the shipped method table
  (:func:`~risk_models.register.grade_assessments`) and stored with their history; the GET
  answers the latest grades, or the four-colour map as GeoJSON (one feature per source, its
  worst part: :func:`~risk_models.register.hazard_risk_grades`).

Rights, from ``register_workflow.toml``: an import reports items, so the roles that may
report government inspections and may create items of no unit yet (a department acts only
on items handed to it, so it cannot create one): inspector, territorial government,
supervisor, admin (:func:`import_roles`); with ``verify`` the role must also be allowed to
verify. Traceability: territorial government (its own and unassigned items), supervisor,
admin. Grading: inspector, supervisor, admin; reading grades: any account.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import geopandas as gpd
import numpy as np
import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import Field

from gis import InputError
from gis.coords import COORDINATE_SYSTEMS
from gis.i18n import load_glossary
from risk_models.register import (
    ImportResult,
    SheetError,
    Workflow,
    grade_assessments,
    hazard_risk_grades,
    import_rows,
    read_rows,
    trace_incidents,
    unchecked_sources,
)
from risk_models.register.vocab import SOURCES

from ..accounts import Actor
from ..auth import AuthError
from ..deps import get_service
from ..problems import PROBLEM_RESPONSES, problem, problem_items, problem_lang
from ..register_access import RegisterState, require_actor, scope_of, workflow_of
from ..register_areas import GovernmentTable
from ..register_intake_models import (
    GradeOut,
    GradesRequest,
    ImportOut,
    TraceFinding,
    TraceOut,
    UncheckedSource,
)
from ..uploads import read_sheet_form, sheet_suffix
from .register import MONTH_PATTERN

__all__ = ["MAX_IMPORT_BYTES", "MAX_IMPORT_ROWS", "import_roles", "router"]

router = APIRouter(prefix="/register", tags=["register"], responses=PROBLEM_RESPONSES)

#: Largest import file (bytes): 413 beyond. A 100,000-row sheet is about 4 MB as .xlsx.
MAX_IMPORT_BYTES = 64 * 1024**2
#: Most rows one import takes (422 beyond: split the sheet).
MAX_IMPORT_ROWS = 200_000
#: Roles that may trace incidents, and grade risks.
TRACE_ROLES = ("territorial_government", "supervisor", "admin")
GRADE_ROLES = ("inspector", "supervisor", "admin")
_TOKEN: dict[str, Any] = {"security": [{"HTTPBearer": []}]}
_INSPECTION = "government_inspection"
_IMPORT_FIELDS = {"file", "coords", "source", "verify", "sheet", "scenario"}
_IMPORT_DOC: dict[str, Any] = {
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
                            "description": ".csv (UTF-8 or GB18030) or .xlsx, Chinese or English headers.",
                        },
                        "coords": {"type": "string", "enum": list(COORDINATE_SYSTEMS), "default": "wgs84"},
                        "source": {"type": "string", "enum": list(SOURCES), "default": _INSPECTION},
                        "verify": {"type": "boolean", "default": False},
                        "sheet": {"type": "string", "maxLength": 100},
                        "scenario": {"type": "string", "maxLength": 100},
                    },
                    "required": ["file"],
                    "additionalProperties": False,
                }
            }
        },
    }
}


def import_roles(wf: Workflow, source: str = "government_inspection") -> tuple[str, ...]:
    """Roles that may import items from ``source``.

    They may report from it, and their scope does not refuse a new item (a required scope
    needs an item already handed over to the role's unit).
    """
    return tuple(r for r in sorted(wf.source_roles[source]) if r not in wf.scopes or not wf.scopes[r][1])


def _forbid(actor: Actor, what: str, roles: tuple[str, ...] | list[str]) -> None:
    if actor.role not in roles:
        msg = f"A `{actor.role}` account may not {what}. Fix: use an account of {sorted(roles)}."
        raise AuthError(
            msg, 403, key="role_may_not", values={"role": actor.role, "action": what, "roles": sorted(roles)}
        )


async def _import_form(request: Request) -> tuple[dict[str, str], bytes, str]:
    """The form's fields and the file's bytes and name, at most :data:`MAX_IMPORT_BYTES`."""
    return await read_sheet_form(request, _IMPORT_FIELDS, what="An import", max_bytes=MAX_IMPORT_BYTES)


@router.post(
    "/imports",
    status_code=201,
    response_model=ImportOut,
    openapi_extra=_IMPORT_DOC | _TOKEN,
    summary="Import inspection results from a CSV or Excel sheet (all rows or none)",
)
async def import_items(request: Request) -> Any:
    """Check every row and store them all as new items, or answer 422 naming the bad rows.

    Form fields: ``file`` (the sheet), ``coords`` of rows without a 坐标系 value (wgs84,
    gcj02, bd09), ``source`` of rows without a 来源 value, ``verify`` (also verify each item:
    grade by 判定依据, deadline by 整改期限 or the grade's limit), ``sheet`` (Excel sheet name)
    and ``scenario`` (link each item to that scenario's nearest hazard source and community).
    """
    service = get_service(request)
    actor = require_actor(request, service)
    wf = workflow_of(request)
    fields, data, name = await _import_form(request)
    source = fields.get("source", "government_inspection")
    if source not in SOURCES:
        msg = f"`source` {source!r} is unknown. Fix: use one of {list(SOURCES)}."
        raise InputError(msg)
    _forbid(actor, f"import items from source `{source}`", import_roles(wf, source))
    coords = fields.get("coords", "wgs84").lower()
    if coords not in COORDINATE_SYSTEMS:
        msg = f"`coords` {coords!r} is unknown. Fix: use one of {list(COORDINATE_SYSTEMS)}."
        raise InputError(msg)
    verify_text = fields.get("verify", "false").lower()
    if verify_text not in ("true", "false", "1", "0"):
        msg = f"`verify` {verify_text!r} is not a boolean. Fix: send true or false."
        raise InputError(msg)
    verify = verify_text in ("true", "1")
    if verify:
        _forbid(actor, "verify items", sorted(wf.rule("verify").roles))
    layers: dict[str, Any] = {}
    if "scenario" in fields:
        scenario = service.scenarios.get(fields["scenario"])  # 404 for an unknown id
        layers = {k: scenario.layers.get(k) for k in ("hazards", "communities")}

    def run() -> list[str]:
        with tempfile.TemporaryDirectory(prefix="register-import-") as tmp:
            path = Path(tmp) / f"sheet{sheet_suffix(data)}"  # a server-chosen name
            path.write_bytes(data)
            rows = read_rows(path, sheet=fields.get("sheet"))
        if len(rows) > MAX_IMPORT_ROWS:
            msg = (
                f"`{name}` has {len(rows):,} rows, more than the {MAX_IMPORT_ROWS:,} one import takes. "
                "Fix: split the sheet."
            )
            raise InputError(msg)

        def make(counters: Mapping[int, int]) -> ImportResult:
            return import_rows(
                rows, first_counter=counters, actor=actor.account, role=actor.role, unit=actor.unit,
                source=source, coords=coords, verify=verify, where=f"`{name}`", **layers,
            )  # fmt: skip

        return service.store.register.import_items(make)

    try:
        numbers = await run_in_threadpool(run)
    except SheetError as exc:
        n = sum(len(p.rows) for p in exc.problems)
        lang = problem_lang(request)
        detail = (
            f"`{name}`: nothing was imported; {n} row problem{'s' if n != 1 else ''}, listed in `errors` "
            "with their spreadsheet rows (the header is row 1) and fix."
        )
        if lang != "en":
            detail = load_glossary().text("problem_invalid_import_detail", lang, name=name, count=n)
        title = load_glossary().text("problem_invalid_import", lang)
        errors = problem_items(exc.problems, lang)
        headers = {"Content-Language": lang, "Vary": "Accept-Language"}
        return problem(422, title, detail, slug="invalid-import", errors=errors, headers=headers)
    return ImportOut(
        count=len(numbers), first=numbers[0], last=numbers[-1], numbers=numbers,
        items_url="/api/v1/register/items/{number}",
    )  # fmt: skip


# -- traceability -----------------------------------------------------------------------------

#: One incident of the query, ``LON,LAT,TIME[,HAZARD_ID]``.
Incident = Annotated[
    str, Field(max_length=200, pattern=r"^-?[0-9.]+,-?[0-9.]+,[0-9]{4}-[0-9]{2}-[0-9]{2}[^,]*(,[^,]+)?$")
]
_INCIDENT = re.compile(r"^\s*(-?[0-9.]+)\s*,\s*(-?[0-9.]+)\s*,\s*([^,]+?)\s*(?:,\s*([^,]+?)\s*)?$")


def _incidents(given: list[str]) -> gpd.GeoDataFrame:
    rows = []
    for k, text in enumerate(given):
        m = _INCIDENT.match(text)
        t = pd.to_datetime(m.group(3), errors="coerce") if m else pd.NaT
        if m is None or pd.isna(t) or t.tzinfo is not None:
            msg = (
                f"`incident` number {k + 1} ({text[:80]!r}) is not LON,LAT,TIME[,HAZARD_ID]. Fix: e.g. "
                "`incident=112.55,37.87,2024-05-01T08:30` (local time, no offset)."
            )
            raise InputError(msg)
        lon, lat = float(m.group(1)), float(m.group(2))
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            msg = f"`incident` number {k + 1}: ({lon}, {lat}) is not a longitude / latitude. Fix: degrees."
            raise InputError(msg)
        rows.append({"id": f"incident-{k + 1}", "time": t, "hazard_id": m.group(4), "lon": lon, "lat": lat})
    frame = pd.DataFrame(rows).set_index("id")
    return gpd.GeoDataFrame(
        frame.drop(columns=["lon", "lat"]), geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs=4326
    )


def _month_end(month: str) -> datetime:
    return (pd.Period(month, freq="M") + 1).start_time.to_pydatetime()


def _scoped(
    actor: Actor,
    wf: Workflow,
    frame: gpd.GeoDataFrame,
    events: pd.DataFrame,
    governments: GovernmentTable | None,
) -> tuple[Any, Any]:
    """The items ``actor`` may see (as the list shows them: a government its area's too)."""
    scope = scope_of(actor, wf, governments)
    if scope is None:
        return frame, events
    col = frame[scope.field]
    keep = col.eq(scope.value).to_numpy().copy()
    if scope.area is not None:
        area = scope.area
        district = frame["district"] if "district" in frame else pd.Series(None, index=frame.index)
        street = frame["street"] if "street" in frame else pd.Series(None, index=frame.index)
        inside = [
            area.contains(None if pd.isna(d) else d, None if pd.isna(t) else t)
            for d, t in zip(district, street, strict=True)
        ]
        keep |= col.isna().to_numpy() & np.asarray(inside, dtype=bool)
    elif scope.unassigned:
        keep |= col.isna().to_numpy()
    frame = frame[keep]
    return frame, events[events["number"].isin(frame.index)]


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and not np.isfinite(value)) or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp | datetime):
        return None if pd.isna(value) else value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in rec.items()} for rec in table.to_dict("records")]


@router.get(
    "/traceability",
    response_model=TraceOut,
    openapi_extra=_TOKEN,
    summary="Traceability (一追溯): the register's items behind incidents; unchecked sources",
)
def traceability(
    request: Request,
    *,
    incident: Annotated[
        list[Incident] | None,
        Query(max_length=200, description="LON,LAT,TIME[,HAZARD_ID] (WGS84, local ISO time); repeatable."),
    ] = None,
    scenario: Annotated[
        str | None, Query(max_length=100, description="Trace its `incidents`; its hazards: unchecked.")
    ] = None,
    month: Annotated[
        str | None, Query(pattern=MONTH_PATTERN, description="Only incidents of this month (YYYY-MM).")
    ] = None,
    radius_m: Annotated[float, Query(ge=1, le=5000, description="Items within this distance.")] = 300.0,
    lookback_days: Annotated[
        float, Query(ge=0, le=3650, description="Rejected or closed at most this long before.")
    ] = 90.0,
    unchecked_months: Annotated[
        int, Query(ge=1, le=36, description="Sources without a self-check item for this many months.")
    ] = 6,
) -> TraceOut:
    """What the register knew before each incident, and which sources should have been checked.

    Incidents come from ``incident`` parameters or the scenario's ``incidents`` layer (with a
    ``time`` column), limited to ``month`` when given. The unchecked sources need the scenario
    (its hazards), counted over the ``unchecked_months`` before the month's end (or now).
    """
    service = get_service(request)
    actor = require_actor(request, service)
    _forbid(actor, "trace incidents", TRACE_ROLES)
    wf = workflow_of(request)
    register_state: RegisterState = request.app.state.register
    governments = register_state.governments()
    if len(incident or []) > 200:
        msg = "At most 200 `incident` parameters. Fix: trace a scenario's incidents layer instead."
        raise InputError(msg)
    hazards = None
    incidents = _incidents(incident) if incident else None
    if scenario is not None:
        layers = service.scenarios.get(scenario).layers  # 404 for an unknown id
        hazards = layers.get("hazards")
        if incidents is None:
            incidents = layers.get("incidents")
            if incidents is None:
                msg = f"Scenario `{scenario}` has no `incidents` layer. Fix: give `incident` parameters."
                raise InputError(msg)
    if incidents is None:
        msg = "No incidents to trace. Fix: give `incident=LON,LAT,TIME` parameters or a `scenario`."
        raise InputError(msg)
    if "time" not in incidents.columns:
        msg = "The `incidents` layer has no `time` column. Fix: give each incident its time."
        raise InputError(msg)
    times = pd.to_datetime(incidents["time"], errors="coerce")
    if times.dt.tz is not None:
        times = times.dt.tz_localize(None)
    incidents = incidents.assign(time=times)
    if month is not None:
        end = _month_end(month)
        incidents = incidents[(times >= end - pd.DateOffset(months=1)) & (times < end)]
    register = service.store.register
    findings: list[dict[str, Any]] = []
    ok = incidents["time"].notna()
    if ok.any():
        first, last = incidents.loc[ok, "time"].min(), incidents.loc[ok, "time"].max()
        frame, events = register.frames(
            active_since=(first - timedelta(days=lookback_days)).to_pydatetime(),
            reported_before=(last + timedelta(seconds=1)).to_pydatetime(),
        )
        frame, events = _scoped(actor, wf, frame, events, governments)
        if len(frame):
            hits = trace_incidents(
                incidents[ok], frame, events, radius_m=radius_m, lookback_days=lookback_days
            )
            hits["incident_id"] = hits["incident_id"].astype(str)
            hits["deadline"] = pd.to_datetime(hits["deadline"]).dt.strftime("%Y-%m-%d")
            findings = _records(hits)
    unchecked: list[dict[str, Any]] = []
    if hazards is not None and len(hazards):
        at = _month_end(month) if month is not None else datetime.now().replace(microsecond=0)
        start = (pd.Timestamp(at) - pd.DateOffset(months=unchecked_months)).to_pydatetime()
        frame, events = register.frames(active_since=start, reported_before=at)
        frame, _ = _scoped(actor, wf, frame, events, governments)
        quiet = unchecked_sources(hazards, frame, at=at, months=unchecked_months)
        quiet = quiet[quiet["unchecked"]].rename_axis("hazard_id").reset_index()
        quiet["hazard_id"] = quiet["hazard_id"].astype(str)
        unchecked = _records(quiet.drop(columns="unchecked"))
    return TraceOut(
        incidents=int(ok.sum()),
        findings=[TraceFinding(**f) for f in findings],
        unchecked=[UncheckedSource(**u) for u in unchecked],
    )


# -- risk grades ------------------------------------------------------------------------------


@router.post(
    "/grades",
    status_code=201,
    response_model=list[GradeOut],
    openapi_extra=_TOKEN,
    summary="Grade risks of hazard sources by LEC or the matrix (a re-grade appends)",
)
def post_grades(body: GradesRequest, request: Request) -> list[GradeOut]:
    """Grade each assessment by the shipped method table and store it with its history.

    Each answer row has the score, grade (major / high / moderate / low), colour (red /
    orange / yellow / blue), control level and measures. Factor values off the method's
    scale answer 422 naming the assessments (0-based positions in ``assessments``).
    """
    service = get_service(request)
    actor = require_actor(request, service)
    _forbid(actor, "grade risks", GRADE_ROLES)
    given = pd.DataFrame([a.model_dump() for a in body.assessments])
    graded = grade_assessments(given)
    at = datetime.now().replace(microsecond=0).isoformat()
    factor_cols = ("L", "E", "C", "likelihood", "severity")
    records = []
    for k, row in graded.iterrows():
        src = body.assessments[int(k)]
        records.append(
            {
                "hazard_id": row["hazard_id"], "part": row["part"], "method": row["method"],
                "factors": {f: getattr(src, f) for f in factor_cols if getattr(src, f) is not None},
                "score": float(row["score"]), "basis": row["basis"], "grade": row["grade"],
                "colour": row["colour"], "control_level": row["control_level"],
                "control_measures": str(row["control_measures"]), "lon": src.lon, "lat": src.lat,
                "graded_at": at, "actor": actor.account, "role": actor.role, "note": src.note,
            }
        )  # fmt: skip
    ids = service.store.register.add_grades(records)
    return [GradeOut(id=i, **r) for i, r in zip(ids, records, strict=True)]


_GEOJSON = "application/geo+json"


@router.get(
    "/grades",
    response_model=list[GradeOut],
    responses={
        200: {
            "description": "The grades (JSON), or the four-colour map (GeoJSON: a feature per source).",
            "content": {_GEOJSON: {"schema": {"type": "object"}}},
        }
    },
    openapi_extra=_TOKEN,
    summary="Stored risk grades, filterable; GeoJSON for the four-colour risk map",
)
def get_grades(
    request: Request,
    *,
    hazard_id: Annotated[str | None, Query(max_length=200)] = None,
    grade: Annotated[str | None, Query(pattern="^(major|high|moderate|low)$")] = None,
    method: Annotated[str | None, Query(max_length=32)] = None,
    history: Annotated[bool, Query(description="Every grading, not only the latest per part.")] = False,
    format: Annotated[str, Query(pattern="^(json|geojson)$")] = "json",
    scenario: Annotated[
        str | None, Query(max_length=100, description="Take the sources' geometry from this scenario.")
    ] = None,
) -> Any:
    """The latest grade of each hazard source part (``history``: all), oldest first.

    ``format=geojson``: one feature per hazard source with its worst latest part (grade,
    colour, control level, score, part), located by the scenario's hazards layer when given,
    else by the last lon / lat given with a grading of it (null geometry without either).
    """
    service = get_service(request)
    require_actor(request, service)
    rows = service.store.register.grades(hazard_id=hazard_id, grade=grade, method=method, history=history)
    if format == "json":
        return [GradeOut(**r) for r in rows]
    hazards = service.scenarios.get(scenario).layers.get("hazards") if scenario is not None else None
    features: list[dict[str, Any]] = []
    if rows:
        table = pd.DataFrame(rows)
        worst = hazard_risk_grades(table)
        everything = pd.DataFrame(service.store.register.grades(hazard_id=hazard_id, history=True))
        # the last place given for the source, by any of its gradings
        located = everything.dropna(subset=["lon", "lat"]).groupby("hazard_id")[["lon", "lat"]].last()
        shapes: dict[str, Any] = {}
        if hazards is not None:
            in_4326 = hazards.to_crs(4326)
            shapes = {str(i): g for i, g in zip(in_4326.index, in_4326.geometry, strict=True)}
        import shapely

        for hid, rec in worst.iterrows():
            geometry = None
            if str(hid) in shapes and shapes[str(hid)] is not None:
                geometry = shapely.geometry.mapping(shapes[str(hid)])
            elif hid in located.index:
                geometry = {"type": "Point", "coordinates": [float(v) for v in located.loc[hid]]}
            props = {"hazard_id": str(hid), **{k: _plain(v) for k, v in rec.items()}}
            features.append({"type": "Feature", "id": str(hid), "geometry": geometry, "properties": props})
    return JSONResponse({"type": "FeatureCollection", "features": features}, media_type=_GEOJSON)
