"""Errors as RFC 9457 problem details, and the request body size limit.

Every error response of the API is ``application/problem+json``::

    {"type": "https://riskplan.invalid/problems/invalid-scenario", "title": "Invalid scenario",
     "status": 422, "detail": "...", "errors": [{"layer": "hazards", "rows": ["H1"],
     "column": "category", "message": "...", "fix": "..."}]}
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gis import InputError, Problem, ScenarioError
from risk_models.register.errors import RoleError, TransitionError

from ..jobs import BusyError, JobStateError
from ..store import NotFoundError
from .auth import AuthError
from .budget import AnonymousLimitError
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
    503: _doc("Too many jobs are waiting, or the server is busy unpacking uploads."),
}


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


def problem_items(problems: Iterable[Problem]) -> list[dict[str, Any]]:
    """JSON-ready ``errors`` entries from library problems."""
    return [
        {
            "layer": p.layer,
            "rows": [_json_safe(r) for r in p.rows[:_MAX_ROWS]],
            "column": p.column,
            "message": p.message,
            "fix": p.fix,
            "file": p.file,
        }
        for p in problems
    ]


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


_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def _allowed_methods(request: Request) -> str | None:
    """Every method the API answers on this path, from its OpenAPI schema.

    The router's 405 names only the methods of the first route that matched the path, not all.
    """
    matches: dict[int, set[str]] = {}
    for template, operations in request.app.openapi().get("paths", {}).items():
        regex, _, _ = compile_path(template)
        if regex.match(request.url.path):  # fewer parameters: a more specific path (`/demo`)
            methods = matches.setdefault(template.count("{"), set())
            methods |= {m.upper() for m in operations if m in _HTTP_METHODS}
    methods = matches[min(matches)] if matches else set()
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods)) or None


def _vanished(request: Request) -> str | None:
    """Why the request's scenario or job is gone, when it was deleted while the request ran."""
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
        return f"{exc} It was deleted while this request read it."
    except Exception:  # the store itself failing is for the crash handler to report
        return None
    return None


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

    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        return answer(request, 404, "Not found", str(exc), slug="not-found", instance=request.url.path)

    async def auth(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AuthError)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        title = "Authentication required" if exc.status == 401 else "Forbidden"
        return answer(request, exc.status, title, str(exc), slug="token", headers=headers)

    async def anonymous(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AnonymousLimitError)
        headers = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s else None
        errors = one_item(str(exc), "send the API token, or run a job")
        errors[0]["column"] = exc.limit
        return answer(
            request,
            exc.status,
            "Over the anonymous limit",
            str(exc),
            slug="anonymous-limit",
            errors=errors,
            headers=headers,
        )

    def gone(request: Request) -> JSONResponse | None:
        reason = _vanished(request)
        if reason is None:
            return None
        return answer(request, 404, "Not found", reason, slug="not-found", instance=request.url.path)

    async def invalid_scenario(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ScenarioError)
        if (vanished := gone(request)) is not None:
            return vanished
        n = len(exc.problems)
        detail = f"The scenario has {n} problem{'s' if n != 1 else ''}; `errors` lists each with its fix."
        return answer(
            request,
            422,
            "Invalid scenario",
            detail,
            slug="invalid-scenario",
            errors=problem_items(exc.problems),
        )

    async def conflict(request: Request, exc: Exception) -> JSONResponse:
        return answer(request, 409, "Conflict", str(exc), slug="job-state")

    async def busy(request: Request, exc: Exception) -> JSONResponse:
        return answer(request, 503, "Busy", str(exc), slug="busy", headers={"Retry-After": "30"})

    async def invalid_input(request: Request, exc: Exception) -> JSONResponse:
        if (vanished := gone(request)) is not None:
            return vanished
        errors = one_item(str(exc))
        if isinstance(exc, ParameterError):  # the parameter named, and its fix on its own
            message, _, fix = str(exc).partition(" Fix: ")
            errors = one_item(message, fix.rstrip(".") or None)
            errors[0]["column"] = exc.parameter
        return answer(request, 422, "Invalid input", str(exc), slug="invalid-input", errors=errors)

    async def too_large(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, BodyTooLargeError)
        return _too_large(exc.limit)

    async def validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        items: list[dict[str, Any]] = [
            {
                "layer": None,
                "rows": [],
                "column": ".".join(str(p) for p in err.get("loc", ())),
                "message": str(err.get("msg", "invalid")),
                "fix": parameter_fix(tuple(err.get("loc", ()))),
                "file": None,
            }
            for err in exc.errors()
        ]
        named = sorted(
            {f"`{i['column'].split('.')[-1]}`" for i in items if i["column"].startswith(("query.", "path."))}
        )
        detail = "The request does not match the API schema" + (
            f" (parameter {', '.join(named)}; `errors` says how to fix it)." if named else "."
        )
        return answer(request, 422, "Invalid request", detail, errors=items)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        headers = dict(exc.headers) if exc.headers else {}
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
        return answer(request, exc.status_code, str(exc.detail), str(exc.detail), headers=headers or None)

    async def crash(request: Request, exc: Exception) -> JSONResponse:
        if (vanished := gone(request)) is not None:
            log.info("%s %s: its scenario or job was deleted meanwhile", request.method, request.url.path)
            return vanished
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        # answered outside the middleware stack, so it carries the security headers itself
        return problem(
            500, "Internal error", "The server failed; its log has the details.", headers=SECURITY_HEADERS
        )

    async def register_role(request: Request, exc: Exception) -> JSONResponse:
        return answer(request, 403, "Not allowed by the register workflow", str(exc), slug="register-role")

    async def register_state(request: Request, exc: Exception) -> JSONResponse:
        return answer(request, 409, "Conflict with the register workflow", str(exc), slug="register-state")

    app.add_exception_handler(RoleError, register_role)
    app.add_exception_handler(TransitionError, register_state)
    app.add_exception_handler(NotFoundError, not_found)
    app.add_exception_handler(AuthError, auth)
    app.add_exception_handler(AnonymousLimitError, anonymous)
    app.add_exception_handler(ScenarioError, invalid_scenario)
    app.add_exception_handler(JobStateError, conflict)
    app.add_exception_handler(BusyError, busy)
    app.add_exception_handler(InputError, invalid_input)
    app.add_exception_handler(BodyTooLargeError, too_large)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, crash)


def _too_large(limit: int) -> JSONResponse:
    detail = (
        f"The request body is larger than the limit of {limit:,} bytes. "
        "Fix: send less, or raise --max-upload-mb."
    )
    return problem(413, "Request too large", detail, slug="too-large")


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
            await _too_large(self.max_bytes)(scope, receive, send)
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
            await _too_large(self.max_bytes)(scope, receive, send)


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
                    detail = (
                        f"The answer is {int(length):,} bytes, over the limit of {self.max_bytes:,} bytes "
                        "for requests without the API token. Fix: ask for less (`bbox`, `limit`, `level`, "
                        "coarser `units`), send the API token (`Authorization: Bearer <token>`), or run a "
                        "job and read its result layers."
                    )
                    item: dict[str, Any] = {"layer": None, "rows": [], "column": "bytes", "message": detail}
                    response = problem(
                        403,
                        "Over the anonymous limit",
                        detail,
                        slug="anonymous-limit",
                        errors=[item | {"fix": None, "file": None}],
                    )
                    await response(scope, receive, send)
                    return
            await send(message)

        await self.app(scope, receive, limited_send)
