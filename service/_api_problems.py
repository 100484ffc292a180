"""Errors as RFC 9457 problem details, and the request body size limit.

Every error response of the API is ``application/problem+json``::

    {"type": "https://riskplan.invalid/problems/invalid-scenario", "title": "Invalid scenario",
     "status": 422, "detail": "...", "errors": [{"layer": "hazards", "rows": ["H1"],
     "column": "category", "message": "...", "fix": "..."}]}
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gis import InputError, Problem, ScenarioError

from ._api_models import ProblemOut
from .auth import AuthError
from .jobs import BusyError, JobStateError
from .store import NotFoundError

__all__ = ["PROBLEM_RESPONSES", "BodyLimitMiddleware", "BodyTooLargeError", "install_handlers", "problem"]

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
_TYPE_BASE = "https://riskplan.invalid/problems/"
_MAX_ROWS = 1000


def _doc(description: str) -> dict[str, Any]:
    return {"model": ProblemOut, "description": description, "content": {MEDIA_TYPE: {}}}


#: Error responses for the OpenAPI schema, by status code.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _doc("No API token was sent."),
    403: _doc("The API token is wrong."),
    404: _doc("Unknown id."),
    409: _doc("Not possible in the job's current state."),
    413: _doc("The request body is larger than the upload limit."),
    422: _doc("Invalid input; `errors` lists every problem with its layer, rows and column."),
    503: _doc("Too many jobs are waiting."),
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


def install_handlers(app: FastAPI) -> None:
    """Register the exception handlers that turn every error into problem details."""

    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        return problem(404, "Not found", str(exc), slug="not-found", instance=request.url.path)

    async def auth(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AuthError)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        title = "Authentication required" if exc.status == 401 else "Forbidden"
        return problem(exc.status, title, str(exc), slug="token", headers=headers)

    async def invalid_scenario(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ScenarioError)
        n = len(exc.problems)
        detail = f"The scenario has {n} problem{'s' if n != 1 else ''}; `errors` lists each with its fix."
        return problem(
            422, "Invalid scenario", detail, slug="invalid-scenario", errors=problem_items(exc.problems)
        )

    async def conflict(request: Request, exc: Exception) -> JSONResponse:
        return problem(409, "Conflict", str(exc), slug="job-state")

    async def busy(request: Request, exc: Exception) -> JSONResponse:
        return problem(503, "Busy", str(exc), slug="busy", headers={"Retry-After": "30"})

    async def invalid_input(request: Request, exc: Exception) -> JSONResponse:
        items: list[dict[str, Any]] = [
            {"layer": None, "rows": [], "column": None, "message": str(exc), "fix": None, "file": None}
        ]
        return problem(422, "Invalid input", str(exc), slug="invalid-input", errors=items)

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
                "fix": "see the OpenAPI schema at /openapi.json",
                "file": None,
            }
            for err in exc.errors()
        ]
        return problem(422, "Invalid request", "The request does not match the API schema.", errors=items)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        headers = dict(exc.headers) if exc.headers else None
        return problem(exc.status_code, str(exc.detail), str(exc.detail), headers=headers)

    async def crash(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem(500, "Internal error", "The server failed; its log has the details.")

    app.add_exception_handler(NotFoundError, not_found)
    app.add_exception_handler(AuthError, auth)
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
