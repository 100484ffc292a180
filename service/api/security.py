"""Security headers on every answer, and the API documentation served from local files.

:class:`SecurityHeaders` gives every response, JSON, GeoJSON, HTML pages and static files
alike, ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``,
``Referrer-Policy: no-referrer`` and a ``Content-Security-Policy``: the strictest
(:data:`API_CSP`: nothing may load, nothing may frame it) unless the route set its own (the
web page, the map and report pages, ``/docs``).

``/docs`` is Swagger UI from ``service/static/swagger`` (vendored from npm, Apache-2.0), started
by an external script, so it works offline under :data:`DOCS_CSP`.
"""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["API_CSP", "DOCS_CSP", "SECURITY_HEADERS", "SWAGGER_DIR", "SecurityHeaders", "add_docs"]

SWAGGER_DIR = Path(__file__).resolve().parents[1] / "static" / "swagger"
#: JSON and files: nothing loads, nothing frames them.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
#: Swagger UI: its own files, inline styles (React sets style attributes), calls to this API.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
#: The headers every answer carries.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": API_CSP,
}
_HEADERS = tuple(
    (k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items() if k != "Content-Security-Policy"
)
_DOCS_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>riskplan API</title>
<link rel="stylesheet" href="/static/swagger/swagger-ui.css">
<link rel="icon" type="image/png" href="/static/swagger/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/static/swagger/swagger-ui-bundle.js"></script>
<script src="/static/swagger/init.js"></script>
</body>
</html>
"""


class SecurityHeaders:
    """Add the security headers to every HTTP response (keeping a route's own CSP)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, adding the headers to the start of its response."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in _HEADERS if k not in present]
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", API_CSP.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


@functools.cache
def _bundle() -> tuple[bytes, bytes]:
    """Swagger UI's bundle, gzipped as shipped and unpacked."""
    packed = (SWAGGER_DIR / "swagger-ui-bundle.js.gz").read_bytes()
    return packed, gzip.decompress(packed)


def add_docs(app: FastAPI) -> None:
    """Serve ``/docs`` (Swagger UI on ``/openapi.json``) and its bundle from local files.

    Call before mounting ``/static``, so the bundle's route comes first.
    """

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(_DOCS_HTML, headers={"Content-Security-Policy": DOCS_CSP})

    @app.get("/static/swagger/swagger-ui-bundle.js", include_in_schema=False)
    def swagger_bundle(request: Request) -> Response:
        packed, plain = _bundle()
        headers = {"Vary": "Accept-Encoding", "Cache-Control": "public, max-age=86400"}
        if "gzip" in request.headers.get("accept-encoding", "").lower():
            headers["Content-Encoding"] = "gzip"
            return Response(packed, media_type="text/javascript", headers=headers)
        return Response(plain, media_type="text/javascript", headers=headers)
