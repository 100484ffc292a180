"""Routes: the hidden-danger register (隐患台账) - report, list, read, move, disclose, assess.

Every change goes through :mod:`risk_models.register` (the workflow table decides who may do
what) and is stored by :class:`service.store.RegisterStore` in one transaction. Accounts
send their own token (:mod:`service.api.accounts`); the service's API token acts as admin.
Without a token a client may only report (``public_report``, rate-limited per address, size
limited), follow its own report with the key it got, and read the monthly disclosure.
Items an account may not see answer 404 (:mod:`service.api.register_access`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Header, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from gis import InputError
from gis.i18n import load_glossary
from risk_models.register import Item, TransitionError, assess, report, transition
from risk_models.register.disclosure import PUBLIC_STEPS

from ...assessment_outputs import ASSESSMENT_FORMATS, assessment_bytes
from ...register_outputs import DISCLOSURE_FORMATS, disclosure_bytes
from ...store import Attachment, NotFoundError, StoredItem
from ..accounts import Actor
from ..deps import get_service
from ..lang import LangQuery, request_lang
from ..params import BBOX_PATTERN
from ..photos import MAX_PHOTOS, clean_photo
from ..problems import PROBLEM_RESPONSES, BodyTooLargeError
from ..register_access import (
    RegisterState,
    actor_of,
    require_actor,
    visible,
    workflow_of,
)
from ..register_models import (
    AssessmentOut,
    EventOut,
    FollowOut,
    FollowStep,
    ItemDetail,
    ItemOut,
    MoveRequest,
    ReportOut,
    ReportRequest,
    VocabularyOut,
)
from ..register_pages import LIST_TEXT_LIMITS, MONTH_PATTERN, ListParams, list_response

__all__ = ["router"]

router = APIRouter(prefix="/register", tags=["register"], responses=PROBLEM_RESPONSES)

Number = Annotated[
    str, PathParam(description="Item number, e.g. YH-2026-000123.", pattern=r"^[A-Z]{1,8}-\d{4}-\d{1,12}$")
]
Month = Annotated[str, PathParam(description="YYYY-MM.", pattern=MONTH_PATTERN)]
#: The ``bbox`` parameter, as :func:`service.api.params.parse_bbox` documents it.
BBOX_DOC = (
    "west,south,east,north in degrees (EPSG:4326). A west greater than east crosses the "
    "antimeridian (RFC 7946); the two latitudes may come in either order."
)
#: OpenAPI: an account's token (or the API token) is needed; ``_OPTIONAL``: it may be sent.
_TOKEN: dict[str, Any] = {"security": [{"HTTPBearer": []}]}
_OPTIONAL: dict[str, Any] = {"security": [{"HTTPBearer": []}, {}]}
_DEFAULT_SOURCE = {"reporter": "public_report", "enterprise": "enterprise_self_check"}
_REPORT_FIELDS = set(ReportRequest.model_fields)


def _form_fields(schema: dict[str, Any]) -> dict[str, Any]:
    """The JSON model's fields as form fields: the same constraints, without null (a form leaves it out).

    An empty optional field counts as left out, as the JSON body's null does.
    """
    out = {}
    for name, prop in schema["properties"].items():
        options = [p for p in prop.get("anyOf", [prop]) if p.get("type") != "null"]
        out[name] = dict(options[0]) | {k: prop[k] for k in ("description", "title") if k in prop}
    return out


_REPORT_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": ReportRequest.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "description": "The fields of ReportRequest as form fields, and up to 3 `photo` files.",
                    "properties": {
                        **_form_fields(ReportRequest.model_json_schema()),
                        "photo": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    },
                    "required": ReportRequest.model_json_schema()["required"],
                }
            },
        },
    }
}


def _now() -> datetime:
    """The time of an event: the server's local time, to the second (as the command line)."""
    return datetime.now().replace(microsecond=0)


def _state(request: Request) -> RegisterState:
    state: RegisterState = request.app.state.register
    return state


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


async def _read_capped(request: Request, limit: int) -> None:
    """Read the body, at most ``limit`` bytes (413 beyond), so that the form parser sees it."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError(limit)
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise BodyTooLargeError(limit)
        chunks.append(chunk)
    request._body = b"".join(chunks)


async def _report_body(request: Request, state: RegisterState) -> tuple[ReportRequest, list[Attachment]]:
    content_type = request.headers.get("content-type", "")
    await _read_capped(request, state.limits.max_report_bytes)
    if content_type.startswith("application/json"):
        try:
            return ReportRequest.model_validate_json(request._body), []
        except ValueError as exc:
            msg = f"The report is not valid: {exc}"
            raise InputError(msg, key="report_invalid", values={"reason": exc}) from None
    if not content_type.startswith("multipart/form-data"):
        msg = "A report is JSON or multipart/form-data. Fix: send one of them."
        raise InputError(msg, key="report_media_type")
    fields: dict[str, str] = {}
    raw: list[tuple[str, bytes]] = []
    async with request.form(max_files=MAX_PHOTOS + 1, max_fields=len(_REPORT_FIELDS) + 2) as form:
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                if key != "photo":
                    msg = f"File field `{key}` is not part of a report. Fix: send photos as `photo`."
                    raise InputError(msg, key="report_file_field", values={"field": key})
                data = await value.read(state.limits.max_photo_bytes + 1)
                if len(data) > state.limits.max_photo_bytes:
                    raise BodyTooLargeError(state.limits.max_photo_bytes)
                if data:
                    raw.append((value.filename or f"photo {len(raw) + 1}", data))
            elif key in _REPORT_FIELDS and value.strip():
                fields[key] = value.strip()
            elif key == "photo" and value.strip():
                msg = "Form field `photo` is text, not a file. Fix: send each photo as a file (JPEG or PNG)."
                raise InputError(msg, key="report_photo_text")
            elif key not in _REPORT_FIELDS and key != "photo":
                msg = f"Form field `{key}` is not part of a report. Fix: send {sorted(_REPORT_FIELDS)}."
                words = {"field": key, "fields": sorted(_REPORT_FIELDS)}
                raise InputError(msg, key="report_form_field", values=words)
    if len(raw) > MAX_PHOTOS:
        msg = f"A report takes at most {MAX_PHOTOS} photos, not {len(raw)}. Fix: pick the best {MAX_PHOTOS}."
        raise InputError(msg, key="report_too_many_photos", values={"most": MAX_PHOTOS, "count": len(raw)})
    try:
        body = ReportRequest.model_validate(fields)
    except ValueError as exc:
        msg = f"The report is not valid: {exc}"
        raise InputError(msg, key="report_invalid", values={"reason": exc}) from None
    photos = await run_in_threadpool(lambda: [clean_photo(data, name=name) for name, data in raw])
    return body, photos


@router.post(
    "/items",
    status_code=201,
    response_model=ReportOut,
    openapi_extra=_REPORT_DOC | _OPTIONAL,
    summary="Report a hidden danger (one-click report; anonymous allowed)",
)
async def create_item(request: Request, response: Response) -> ReportOut:
    """Report a danger: JSON, or a form with up to 3 photos (re-encoded, EXIF and GPS stripped).

    Without a token the report is a public, possibly anonymous one, limited per client address
    (429 with ``Retry-After``) and in size (413); the answer gives a follow key, shown once.
    """
    service = get_service(request)
    state = _state(request)
    actor = actor_of(request, service)
    if actor is None:
        host = request.client.host if request.client else "unknown"
        state.limiter.take(host)
    body, photos = await _report_body(request, state)
    me = actor or Actor("anonymous", "reporter")
    unit = me.unit
    source = body.source or _DEFAULT_SOURCE.get(me.role, "government_inspection")
    if actor is None and source != "public_report":
        msg = "A report without a token is a public report. Fix: leave `source` out, or use an account."
        raise InputError(msg, key="report_public_source")
    enterprise_id = body.enterprise_id or (unit if me.role == "enterprise" else None)
    reporter = body.reporter or (me.label if actor is not None else None)
    key = secrets.token_urlsafe(24) if actor is None else None
    at = _now()

    def build(number: str) -> tuple[Item, Any]:
        return report(
            number, at=at, actor=me.account, role=me.role, unit=unit, category=body.category,
            x=body.lon, y=body.lat, description=body.description, source=source, reporter=reporter,
            hazard_id=body.hazard_id, enterprise_id=enterprise_id, community_id=body.community_id,
            note=body.note, attachments=[p.ref for p in photos],
        )  # fmt: skip

    stored = await run_in_threadpool(
        service.store.register.report,
        build,
        year=at.year,
        attachments=photos,
        areas={"district": body.district, "street": body.street},
        reported_by=None if actor is None else me.account,
        follow_digest=None if key is None else _digest(key),
    )
    number = stored.item.number
    response.headers["Location"] = f"{request.url.path}/{number}"
    follow = f"/report/#{number}" + (f".{key}" if key else "")
    return ReportOut(
        number=number, status=stored.item.status, follow_url=follow, follow_key=key, photos=len(photos)
    )


@router.get(
    "/items",
    response_model=list[ItemOut],
    responses={
        200: {
            "description": "A page of items, newest first.",
            "headers": {
                "X-Next-Cursor": {"description": "Cursor of the next page.", "schema": {"type": "string"}},
                "Link": {"description": 'URL of the next page, rel="next".', "schema": {"type": "string"}},
            },
        }
    },
    summary="List items (those the account may see)",
    openapi_extra=_TOKEN,
)
async def list_items(
    request: Request,
    *,
    status: Annotated[str | None, Query(max_length=LIST_TEXT_LIMITS["status"])] = None,
    category: Annotated[str | None, Query(max_length=LIST_TEXT_LIMITS["category"])] = None,
    grade: Annotated[str | None, Query(max_length=LIST_TEXT_LIMITS["grade"])] = None,
    source: Annotated[str | None, Query(max_length=LIST_TEXT_LIMITS["source"])] = None,
    overdue: Annotated[bool, Query(description="Only items past their deadline now.")] = False,
    department: Annotated[
        str | None, Query(max_length=LIST_TEXT_LIMITS["department"], description="department_unit")
    ] = None,
    territorial: Annotated[
        str | None, Query(max_length=LIST_TEXT_LIMITS["territorial"], description="territorial_unit")
    ] = None,
    enterprise: Annotated[
        str | None, Query(max_length=LIST_TEXT_LIMITS["enterprise"], description="enterprise_id")
    ] = None,
    district: Annotated[str | None, Query(max_length=LIST_TEXT_LIMITS["district"])] = None,
    month: Annotated[str | None, Query(pattern=MONTH_PATTERN, description="Reported in.")] = None,
    bbox: Annotated[str | None, Query(description=BBOX_DOC, pattern=BBOX_PATTERN, max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,19}$")] = None,
) -> list[ItemOut]:
    """Items matching every filter given, newest first, a page at a time (``cursor``, ``Link``)."""
    # async, the store read in the event loop: a page costs about a millisecond of SQL, less
    # than two hops through the thread pool (a sync route and a sync dependency) would. The
    # requests whose parameters need no checking beyond what service.api.register_pages does
    # by hand are answered before routing (RegisterListShortcut), by the same list_response
    params = ListParams(
        status=status, category=category, grade=grade, source=source, overdue=overdue,
        department=department, territorial=territorial, enterprise=enterprise, district=district,
        month=month, bbox=bbox, limit=limit, cursor=cursor,
    )  # fmt: skip
    return list_response(request, params)  # type: ignore[return-value]


def _visible_item(request: Request, number: str) -> tuple[Actor, StoredItem]:
    service = get_service(request)
    actor = require_actor(request, service)
    try:
        stored = service.store.register.get(number)
    except NotFoundError:
        stored = None
    if stored is None or not visible(stored, actor, workflow_of(request), _state(request).governments()):
        msg = f"No register item `{number}` for this account. Fix: list your items with GET /register/items."
        raise NotFoundError(msg, key="no_register_item", values={"number": number})
    return actor, stored


@router.get(
    "/items/{number}",
    response_model=ItemDetail,
    openapi_extra=_TOKEN,
    summary="Get an item with its audit log",
)
def get_item(number: Number, request: Request) -> ItemDetail:
    """The item (if the account may see it) and every event of it, oldest first."""
    actor, stored = _visible_item(request, number)
    events = get_service(request).store.register.events(number)
    out = ItemOut.of(stored, role=actor.role, wf=workflow_of(request), now=_now())
    return ItemDetail(**out.model_dump(), events=[EventOut.of(e) for e in events])


@router.post(
    "/items/{number}/moves",
    response_model=ItemOut,
    openapi_extra=_TOKEN,
    summary="Move an item through the workflow",
)
def move_item(number: Number, body: MoveRequest, request: Request) -> ItemOut:
    """Make one step (verify, hand over, plan, claim, accept...); the workflow decides who may.

    403 when the account's role or unit may not make it, 409 when it does not fit the item's
    state (or ``expect_version`` is stale), 422 when its data is wrong.
    """
    actor, stored = _visible_item(request, number)
    wf = workflow_of(request)
    at = _now()
    governments = _state(request).governments()
    data = dict(body.data)
    if body.action == "hand_over" and not data.get("territorial_unit") and governments is not None:
        # the territorial government of the item's area, unless the handover names one
        unit = governments.unit_of(stored.district, stored.street)
        if unit is not None:
            data["territorial_unit"] = unit

    def build(item: Item) -> tuple[Item, Any]:
        # an item's areas never change: its stored row's, with its state now
        now = replace(stored, item=item)
        if not visible(now, actor, wf, governments) and actor.role != "reporter":
            msg = f"No register item `{number}` for this account."
            raise NotFoundError(msg, key="no_register_item_here", values={"number": number})
        if body.expect_version is not None and item.version != body.expect_version:
            msg = (
                f"Item `{number}` is at version {item.version}, not {body.expect_version}: someone moved it "
                "meanwhile. Fix: read it again and retry."
            )
            words = {"number": number, "version": item.version, "expected": body.expect_version}
            raise _StaleError(msg, key="item_moved", values=words)
        return transition(
            item, body.action, at=at, actor=actor.account, role=actor.role, unit=actor.unit,
            data=data, note=body.note,
        )  # fmt: skip

    stored = get_service(request).store.register.move(number, build)
    return ItemOut.of(stored, role=actor.role, wf=wf, now=at)


class _StaleError(TransitionError):
    """The item moved since the client read it (answered 409)."""


@router.get(
    "/items/{number}/attachments/{ref}",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "The photo (JPEG, no metadata)."}},
    summary="A photo of an item",
    openapi_extra=_TOKEN,
)
def get_attachment(
    number: Number, ref: Annotated[str, PathParam(pattern=r"^photo-[0-9a-f]{64}$")], request: Request
) -> Response:
    """A photo stored with one of the item's events."""
    _visible_item(request, number)
    register = get_service(request).store.register
    if not any(ref in e.attachments for e in register.events(number)):
        msg = f"Item `{number}` has no attachment `{ref}`."
        raise NotFoundError(msg, key="no_attachment", values={"number": number, "ref": ref})
    photo = register.attachment(ref)
    return Response(
        photo.data, media_type=photo.media_type, headers={"Cache-Control": "private, max-age=3600"}
    )


@router.get("/follow/{number}", response_model=FollowOut, summary="Follow a report with its key")
def follow_item(
    number: Number,
    request: Request,
    x_follow_key: Annotated[str, Header(max_length=100, description="The key the report answered.")],
) -> FollowOut:
    """The public progress of one report, for whoever holds its follow key (no names, no notes)."""
    register = get_service(request).store.register
    digest = register.follow_digest(number)
    if digest is None or not hmac.compare_digest(digest, _digest(x_follow_key)):
        msg = f"No report `{number}` with this key. Fix: open the link the report answered."
        raise NotFoundError(msg, key="no_report_with_key", values={"number": number})
    item = register.get(number).item
    wf = workflow_of(request)
    steps = [
        FollowStep(action=e.action, at=e.at.isoformat(), status=e.to_status)
        for e in register.events(number)
        if e.action in PUBLIC_STEPS or e.action == "reject"
    ]
    return FollowOut(
        number=number, status=item.status, status_zh=wf.label("states", item.status),
        category_zh=wf.label("categories", item.category), grade=item.grade, deadline=item.deadline,
        closed_at=item.closed_at.isoformat() if item.closed_at else None, steps=steps,
    )  # fmt: skip


def _window(month: str, months: int) -> tuple[datetime, datetime]:
    period = pd.Period(month, freq="M")
    start = (period - (months - 1)).start_time.to_pydatetime()
    end = (period + 1).start_time.to_pydatetime()
    return start, end


@router.get(
    "/disclosure/{month}",
    response_class=Response,
    responses={
        200: {"content": {t: {} for t in DISCLOSURE_FORMATS.values()}, "description": "The disclosure."}
    },
    summary="The month's public disclosure (三公开): HTML, CSV, GeoJSON or GeoPackage",
)
def get_disclosure(
    month: Month,
    request: Request,
    format: Annotated[str, Query(pattern="^(html|csv|geojson|gpkg)$")] = "html",
    lang: LangQuery = None,
) -> Response:
    """Major dangers of the month, their progress and the results; public, no reporter or notes.

    The page and the CSV's headers in Chinese or English: ``lang``, else Accept-Language, else English.
    """
    register = get_service(request).store.register
    version = register.last_event_id()
    chosen = request_lang(request, lang)
    cache: dict[tuple[str, str, int, str], bytes] = request.app.state.register_pages
    key = (month, format, version, chosen)
    data = cache.get(key)
    if data is None:
        # the month's tables once per register version (the other formats reuse them), from
        # the month-end states in SQL: equal to disclose() on the window's frames (tested)
        tables: dict[tuple[str, int], Any] = request.app.state.register_disclosures
        d = tables.get((month, version))
        if d is None:
            d = register.disclosure(month)
            if len(tables) > 16:
                tables.clear()
            tables[(month, version)] = d
        label = load_glossary().text("disclosure_register_label", chosen)
        data = disclosure_bytes(d, format, label=label, lang=chosen)
        if len(cache) > 64:
            cache.clear()
        cache[key] = data
    headers = {"Cache-Control": "public, max-age=300", "Vary": "Accept-Language", "Content-Language": chosen}
    if format == "html":
        headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
        )
    else:
        ext = format
        headers["Content-Disposition"] = f'attachment; filename="disclosure-{month}.{ext}"'
    return Response(data, media_type=DISCLOSURE_FORMATS[format], headers=headers)


@router.get(
    "/assessment/{month}",
    response_model=AssessmentOut,
    responses={
        200: {
            "content": {t: {} for t in ASSESSMENT_FORMATS.values()},
            "description": "The assessment: JSON, or with `format` the HTML page or the CSV table.",
        }
    },
    openapi_extra=_TOKEN,
    summary="The month's assessment (四评估)",
)
def get_assessment(
    month: Month,
    request: Request,
    *,
    by: Annotated[
        str, Query(pattern="^(district|street|department_unit|territorial_unit|enterprise_id)$")
    ] = "district",
    trend: Annotated[int, Query(ge=1, le=36)] = 12,
    format: Annotated[str, Query(pattern="^(json|html|csv)$")] = "json",
    lang: LangQuery = None,
) -> AssessmentOut | Response:
    """Ranking by district, street, department or enterprise, with the city's monthly trend.

    ``format=html`` or ``csv``: the page or the table for people, in ``lang`` (else Accept-Language,
    else English): Chinese headings, column headers and months (2024年12月).
    """
    service = get_service(request)
    actor = require_actor(request, service)
    if actor.role in ("reporter", "enterprise"):
        msg = f"A `{actor.role}` account does not read the assessment. Fix: use a government account."
        from ..auth import AuthError

        raise AuthError(msg, 403, key="role_no_assessment", values={"role": actor.role})
    start, end = _window(month, trend)
    frame, events = service.store.register.frames(active_since=start, reported_before=end)
    if not len(events):
        msg = f"The register has no items in or before {month}. Fix: pick a month of the register."
        raise NotFoundError(msg, key="register_empty_month", values={"month": month})
    group = by
    if by in ("department_unit", "territorial_unit"):
        # assess() joins the as-of snapshot, which has these columns too: group by a copy
        group = f"{by}_group"
        frame = frame.assign(**{group: frame[by]})
    a = assess(frame, events, month, by=group, trend_months=trend)

    def records(table: pd.DataFrame) -> list[dict[str, Any]]:
        return list(json.loads(table.reset_index().to_json(orient="records", date_format="iso")))

    if format != "json":
        chosen = request_lang(request, lang)
        headers = {"Vary": "Accept-Language", "Content-Language": chosen}
        if format == "html":
            headers["Content-Security-Policy"] = (
                "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
            )
        else:
            headers["Content-Disposition"] = f'attachment; filename="assessment-{month}-by-{by}.csv"'
        data = assessment_bytes(a, format, chosen, by=by)
        return Response(data, media_type=ASSESSMENT_FORMATS[format], headers=headers)
    table = a.table.rename_axis(by)
    return AssessmentOut(month=a.month, by=by, table=records(table), city=records(a.city))


@router.get("/vocabulary", response_model=VocabularyOut, summary="Categories, sources, states, roles")
def vocabulary(request: Request) -> VocabularyOut:
    """The register's vocabulary with its Chinese labels (the report page's category list)."""
    wf = workflow_of(request)
    from risk_models.register.vocab import CATEGORIES, ROLES, SOURCES, STATUSES

    return VocabularyOut(
        categories={c: wf.label("categories", c) for c in CATEGORIES},
        sources={s: wf.label("sources", s) for s in SOURCES},
        statuses={s: wf.label("states", s) for s in STATUSES},
        roles={r: wf.label("roles", r) for r in ROLES},
    )
