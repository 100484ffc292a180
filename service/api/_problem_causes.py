"""What caused a problem answer (private to :mod:`service.api.problems`).

The drivers' errors of a store that cannot be reached (answered 503, not 500), and the methods
the API answers on a path (the ``Allow`` of a 405).
"""

from __future__ import annotations

import sqlite3

from fastapi import Request
from starlette.routing import compile_path

__all__ = ["STORE_ERRORS", "allowed_methods", "store_unreachable"]

_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def allowed_methods(request: Request) -> str | None:
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


def _store_errors() -> tuple[type[Exception], ...]:
    """The drivers' errors of a store that cannot be reached (answered 503, not 500)."""
    found: list[type[Exception]] = [sqlite3.OperationalError]
    try:
        import psycopg
    except ImportError:  # the PostgreSQL store is optional
        return tuple(found)
    found.append(psycopg.OperationalError)  # a lost or refused connection; the pool's timeout too
    return tuple(found)


#: The exceptions :func:`store_unreachable` sorts (sqlite3's, and psycopg's when installed).
STORE_ERRORS = _store_errors()
# sqlite3.OperationalError also reports bad SQL: only these mean the database is out of reach.
_SQLITE_UNREACHABLE = ("database is locked", "unable to open database", "disk i/o error")


def store_unreachable(exc: Exception) -> bool:
    """True when ``exc`` (one of :data:`STORE_ERRORS`) means the store is out of reach, not a bug."""
    if isinstance(exc, sqlite3.OperationalError):
        return any(words in str(exc).lower() for words in _SQLITE_UNREACHABLE)
    return True
