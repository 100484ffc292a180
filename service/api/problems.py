"""Errors as RFC 9457 problem details, and the request body size limit.

Every error response of the API is ``application/problem+json``::

    {"type": "https://riskplan.invalid/problems/invalid-scenario", "title": "Invalid scenario",
     "status": 422, "detail": "...", "errors": [{"layer": "hazards", "rows": ["H1"],
     "column": "category", "message": "...", "fix": "..."}]}

Every problem speaks the request's language: ``?lang=``, then the server's ``$RISKPLAN_LANG``,
then ``Accept-Language``, else English (:func:`gis.i18n.resolve_lang`, as every answer) — bad
input, unknown ids and paths (404), tokens (401 / 403), methods (405), states (409), sizes (413),
limits (429), a busy server or an unreachable store (503) and the server's own failure (500).
Their ``title`` and ``detail`` (and each item's ``message`` and ``fix``) come from the glossary
(``problem_*``, and ``input_*`` through the error's ``key``: :meth:`gis.InputError.text`); each
answer says ``Content-Language`` and ``Vary: Accept-Language``. The English is what it always
was, byte for byte. An error without a glossary key (the register workflow's own messages from
``risk_models``) keeps its words in ``errors`` and says so in a ``detail`` of the language.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gis import InputError, Problem, ScenarioError
from gis.i18n import Lang, load_glossary
from risk_models.register.errors import RoleError, TransitionError

from ..jobs import BusyError, JobStateError
from ..store import NotFoundError
from ._problem_causes import STORE_ERRORS, allowed_methods, store_unreachable
from .auth import AuthError
from .budget import AnonymousLimitError
from .lang import answer_lang
from .models import ProblemOut
from .params import ParameterError, parameter_fix
from .security import SECURITY_HEADERS

__all__ = [
    "PROBLEM_RESPONSES",
    "AnonymousBodyLimit",
    "BodyLimitMiddleware",
    "BodyTooLargeError",
    "install_handlers",
    "problem",
    "problem_items",
    "problem_lang",
]

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
_TYPE_BASE = "https://riskplan.invalid/problems/"
_MAX_ROWS = 1000


def _doc(description: str) -> dict[str, Any]:
    return {"model": ProblemOut, "description": description, "content": {MEDIA_TYPE: {}}}


#: Error responses for the OpenAPI schema, by status code.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _doc("The request body is malformed (a multipart body that cannot be parsed)."),
    401: _doc("No API token was sent."),
    403: _doc(
        "The API token is wrong, or a request without the token is over the anonymous limits "
        "(`type` ends in `anonymous-limit`; the detail says which limit and how to get more)."
    ),
    404: _doc("Unknown id."),
    409: _doc("Not possible in the job's or the register item's current state."),
    413: _doc("The request body is larger than the upload limit."),
    422: _doc("Invalid input; `errors` lists every problem with its layer, rows and column."),
    429: _doc("A request without the API token waits for a computation; retry after `Retry-After`."),
    503: _doc(
        "Too many jobs are waiting, the server is busy unpacking uploads, or its store (the database) "
        "cannot be reached just now; retry after `Retry-After`."
    ),
}
#: Seconds a client is asked to wait after a 503 (`Retry-After`).
RETRY_AFTER_S = 30


class BodyTooLargeError(Exception):
    """The request body passed the configured limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"limit {limit}")
        self.limit = limit


def _json_safe(value: object) -> str | int:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | str):
        return value
    item = getattr(value, "item", None)
    if callable(item):
        out = item()
        if isinstance(out, int | str) and not isinstance(out, bool):
            return out
    return str(value)


def _problem_words(p: Problem, lang: Lang) -> tuple[str, str]:
    """A problem's message and fix in ``lang`` (its glossary key's texts; else as written)."""
    if lang == "en" or p.key is None:
        return p.message, p.fix
    g = load_glossary()
    key = f"input_{p.key}"
    message = g.text(key, lang, **p.values) if key in g.texts else p.message
    fix = g.text(f"{key}_fix", lang, **p.values) if f"{key}_fix" in g.texts else p.fix
    return message, fix


def problem_items(problems: Iterable[Problem], lang: Lang = "en") -> list[dict[str, Any]]:
    """JSON-ready ``errors`` entries from library problems, their message and fix in ``lang``."""
    items = []
    for p in problems:
        message, fix = _problem_words(p, lang)
        items.append(
            {
                "layer": p.layer,
                "rows": [_json_safe(r) for r in p.rows[:_MAX_ROWS]],
                "column": p.column,
                "message": message,
                "fix": fix,
                "file": p.file,
            }
        )
    return items


def problem_lang(request: Request) -> Lang:
    """The language of a problem answer to ``request`` (:func:`service.api.lang.answer_lang`)."""
    return answer_lang(request)


def _say(key: str, lang: Lang, **values: object) -> str:
    return load_glossary().text(f"problem_{key}", lang, **values)


def _spoken(lang: Lang, headers: dict[str, str] | None = None) -> dict[str, str]:
    return {**(headers or {}), "Content-Language": lang, "Vary": "Accept-Language"}


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    slug: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    instance: str | None = None,
) -> JSONResponse:
    """A problem details response."""
    body = {
        "type": _TYPE_BASE + slug if slug else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        "errors": errors or [],
    }
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _scrubber(request: Request) -> Callable[[str], str]:
    """Replace the server's data directory in messages by ``DATA_DIR`` (no body holds a path)."""
    service = getattr(request.app.state, "service", None)
    if service is None:
        return lambda text: text
    data_dir = service.settings.data_dir
    roots = sorted({str(data_dir), str(data_dir.resolve())}, key=len, reverse=True)

    def scrub(text: str) -> str:
        for root in roots:
            text = text.replace(root, "DATA_DIR")
        return text

    return scrub


def _scrub_items(items: list[dict[str, Any]], scrub: Callable[[str], str]) -> list[dict[str, Any]]:
    return [
        {key: scrub(value) if isinstance(value, str) else value for key, value in item.items()}
        for item in items
    ]


def _vanished(request: Request, lang: Lang = "en") -> str | None:
    """Why the request's scenario or job is gone (in ``lang``), when it was deleted while the request ran."""
    service = getattr(request.app.state, "service", None)
    params = request.path_params
    if service is None:
        return None
    try:
        if "scenario_id" in params:
            service.store.get_scenario(str(params["scenario_id"]))
        if "job_id" in params:
            service.store.get_job(str(params["job_id"]))
    except NotFoundError as exc:
        return _say("vanished", lang, reason=exc.text(lang))
    except Exception:  # the store itself failing is for the crash handler to report
        return None
    return None


def _http_words(request: Request, status: int, lang: Lang, detail: str) -> tuple[str, str]:
    """Title and detail in ``lang`` of the router's own answers (an unknown path, a method refused)."""
    path = request.url.path
    if status == 404:
        return _say("not_found", lang), _say("route_not_found", lang, path=path)
    if status == 405:
        title = _say("method_not_allowed", lang)
        return title, _say("method_not_allowed_detail", lang, path=path, method=request.method)
    title = _say("bad_request" if status == 400 else "http_error", lang)
    return title, _say("http_error_detail", lang, reason=detail)


def install_handlers(app: FastAPI) -> None:
    """Register the exception handlers that turn every error into problem details.

    An error in a request whose scenario or job was deleted meanwhile (files gone under a
    read) is a 404, whatever the error was; no message carries a path of the server.
    """

    def answer(
        request: Request,
        status: int,
        title: str,
        detail: str,
        *,
        slug: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        instance: str | None = None,
    ) -> JSONResponse:
        scrub = _scrubber(request)
        return problem(
            status,
            title,
            scrub(detail),
            slug=slug,
            errors=_scrub_items(errors or [], scrub),
            headers=headers,
            instance=instance,
        )

    def one_item(message: str, fix: str | None = None) -> list[dict[str, Any]]:
        return [{"layer": None, "rows": [], "column": None, "message": message, "fix": fix, "file": None}]

    def worded(exc: Exception, lang: Lang, title: str) -> tuple[str, list[dict[str, Any]]]:
        """The detail of ``exc`` in ``lang`` and the ``errors`` that go with it.

        In English, or with a glossary key, the error's own text; else (in Chinese, an error
        without a key) a detail saying so and the error's own words as the one item.
        """
        if lang == "en" or getattr(exc, "key", None) is not None:
            return (exc.text(lang) if isinstance(exc, InputError) else str(exc)), []
        return _say("see_errors", lang, title=title), one_item(str(exc))

    def spoken(
        request: Request,
        status: int,
        title_key: str,
        exc: Exception,
        *,
        slug: str | None,
        headers: dict[str, str] | None = None,
        instance: str | None = None,
    ) -> JSONResponse:
        lang = problem_lang(request)
        title = _say(title_key, lang)
        detail, errors = worded(exc, lang, title)
        return answer(
            request,
            status,
            title,
            detail,
            slug=slug,
            errors=errors,
            headers=_spoken(lang, headers),
            instance=instance,
        )

    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        return spoken(request, 404, "not_found", exc, slug="not-found", instance=request.url.path)

    async def auth(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AuthError)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        title = "auth_required" if exc.status == 401 else "forbidden"
        return spoken(request, exc.status, title, exc, slug="token", headers=headers)

    async def anonymous(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AnonymousLimitError)
        lang = problem_lang(request)
        headers = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s else None
        text = exc.text(lang)
        errors = one_item(text, _say("anonymous_fix", lang))
        errors[0]["column"] = exc.limit
        return answer(
            request,
            exc.status,
            _say("anonymous_limit", lang),
            text,
            slug="anonymous-limit",
            errors=errors,
            headers=_spoken(lang, headers),
        )

    def gone(request: Request) -> JSONResponse | None:
        lang = problem_lang(request)
        reason = _vanished(request, lang)
        if reason is None:
            return None
        return answer(
            request,
            404,
            _say("not_found", lang),
            reason,
            slug="not-found",
            headers=_spoken(lang),
            instance=request.url.path,
        )

    async def invalid_scenario(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ScenarioError)
        if (vanished := gone(request)) is not None:
            return vanished
        lang, n = problem_lang(request), len(exc.problems)
        detail = _say("invalid_scenario_detail_one" if n == 1 else "invalid_scenario_detail", lang, count=n)
        return answer(
            request,
            422,
            _say("invalid_scenario", lang),
            detail,
            slug="invalid-scenario",
            errors=problem_items(exc.problems, lang),
            headers=_spoken(lang),
        )

    async def conflict(request: Request, exc: Exception) -> JSONResponse:
        return spoken(request, 409, "conflict", exc, slug="job-state")

    async def busy(request: Request, exc: Exception) -> JSONResponse:
        headers = {"Retry-After": str(RETRY_AFTER_S)}
        return spoken(request, 503, "busy", exc, slug="busy", headers=headers)

    async def store_down(request: Request, exc: Exception) -> JSONResponse:
        if not store_unreachable(exc):
            return await crash(request, exc)
        log.error("the store cannot be reached on %s %s: %s", request.method, request.url.path, exc)
        lang = problem_lang(request)
        return answer(
            request,
            503,
            _say("store_unavailable", lang),
            _say("store_unavailable_detail", lang, retry=RETRY_AFTER_S),
            slug="store-unavailable",
            headers=_spoken(lang, {"Retry-After": str(RETRY_AFTER_S)}),
        )

    async def invalid_input(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, InputError)
        if (vanished := gone(request)) is not None:
            return vanished
        lang = problem_lang(request)
        text = exc.text(lang)
        errors = one_item(text)
        if isinstance(exc, ParameterError):  # the parameter named, and its fix on its own
            message, _, fix = text.partition(" Fix: ")
            errors = one_item(message, fix.rstrip(".") or None)
            errors[0]["column"] = exc.parameter
        return answer(
            request,
            422,
            _say("invalid_input", lang),
            text,
            slug="invalid-input",
            errors=errors,
            headers=_spoken(lang),
        )

    async def too_large(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, BodyTooLargeError)
        return _too_large(exc.limit, problem_lang(request))

    async def validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        lang = problem_lang(request)
        items: list[dict[str, Any]] = [
            {
                "layer": None,
                "rows": [],
                "column": ".".join(str(p) for p in err.get("loc", ())),
                "message": str(err.get("msg", "invalid")),  # pydantic's own words (English)
                "fix": parameter_fix(tuple(err.get("loc", ())), lang),
                "file": None,
            }
            for err in exc.errors()
        ]
        named = sorted(
            {f"`{i['column'].split('.')[-1]}`" for i in items if i["column"].startswith(("query.", "path."))}
        )
        detail = (
            _say("invalid_request_named", lang, names=", ".join(named))
            if named
            else _say("invalid_request_detail", lang)
        )
        return answer(
            request, 422, _say("invalid_request", lang), detail, errors=items, headers=_spoken(lang)
        )

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        lang = problem_lang(request)
        headers = dict(exc.headers) if exc.headers else {}
        title = detail = str(exc.detail)
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request) or headers.get("Allow", "")
        if lang != "en":
            title, detail = _http_words(request, exc.status_code, lang, detail)
        return answer(request, exc.status_code, title, detail, headers=_spoken(lang, headers))

    async def crash(request: Request, exc: Exception) -> JSONResponse:
        if (vanished := gone(request)) is not None:
            log.info("%s %s: its scenario or job was deleted meanwhile", request.method, request.url.path)
            return vanished
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        lang = problem_lang(request)
        # answered outside the middleware stack, so it carries the security headers itself
        return problem(
            500,
            _say("internal", lang),
            _say("internal_detail", lang),
            headers=_spoken(lang, dict(SECURITY_HEADERS)),
        )

    async def register_role(request: Request, exc: Exception) -> JSONResponse:
        return spoken(request, 403, "register_role", exc, slug="register-role")

    async def register_state(request: Request, exc: Exception) -> JSONResponse:
        return spoken(request, 409, "register_state", exc, slug="register-state")

    app.add_exception_handler(RoleError, register_role)
    app.add_exception_handler(TransitionError, register_state)
    app.add_exception_handler(NotFoundError, not_found)
    app.add_exception_handler(AuthError, auth)
    app.add_exception_handler(AnonymousLimitError, anonymous)
    app.add_exception_handler(ScenarioError, invalid_scenario)
    app.add_exception_handler(JobStateError, conflict)
    app.add_exception_handler(BusyError, busy)
    for error in STORE_ERRORS:
        app.add_exception_handler(error, store_down)
    app.add_exception_handler(InputError, invalid_input)
    app.add_exception_handler(BodyTooLargeError, too_large)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, crash)


def _too_large(limit: int, lang: Lang = "en") -> JSONResponse:
    detail = _say("too_large_detail", lang, limit=f"{limit:,}")
    return problem(413, _say("too_large", lang), detail, slug="too-large", headers=_spoken(lang))


class BodyLimitMiddleware:
    """Refuse request bodies larger than ``max_bytes``, counted while they stream in."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, answering 413 once its body passes ``max_bytes``."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _too_large(self.max_bytes, problem_lang(Request(scope)))(scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLargeError(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLargeError:
            if started:
                raise
            await _too_large(self.max_bytes, problem_lang(Request(scope)))(scope, receive, send)


class AnonymousBodyLimit:
    """Refuse answers larger than ``max_bytes`` to API requests that carry no token (a 403).

    The check reads the ``Content-Length`` of the answer before its body is sent (every API
    answer has one), so nothing of the body goes out. Requests with an ``Authorization``
    header pass: the route checked the token.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, prefix: str = "/api/") -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, answering a 403 problem if an anonymous answer passes ``max_bytes``."""
        if (
            scope["type"] != "http"
            or not str(scope.get("path", "")).startswith(self.prefix)
            or any(name == b"authorization" for name, _ in scope.get("headers") or [])
        ):
            await self.app(scope, receive, send)
            return
        refused = False

        async def limited_send(message: Message) -> None:
            nonlocal refused
            if refused:
                return
            if message["type"] == "http.response.start":
                length = dict(message.get("headers") or []).get(b"content-length", b"")
                if length.isdigit() and int(length) > self.max_bytes:
                    refused = True
                    lang = problem_lang(Request(scope))
                    size, limit = f"{int(length):,}", f"{self.max_bytes:,}"
                    detail = _say("anonymous_bytes", lang, size=size, limit=limit)
                    item: dict[str, Any] = {"layer": None, "rows": [], "column": "bytes", "message": detail}
                    response = problem(
                        403,
                        _say("anonymous_limit", lang),
                        detail,
                        slug="anonymous-limit",
                        errors=[item | {"fix": None, "file": None}],
                        headers=_spoken(lang),
                    )
                    await response(scope, receive, send)
                    return
            await send(message)

        await self.app(scope, receive, limited_send)
