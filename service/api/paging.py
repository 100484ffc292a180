"""Pagination of the list endpoints (``GET /scenarios``, ``GET /jobs``): ``limit`` and ``cursor``.

A list answers at most ``limit`` items (default :data:`DEFAULT_LIMIT`), newest first. When
there are more, the answer carries ``X-Next-Cursor: <cursor>`` and a ``Link: <...>; rel="next"``
header with the URL of the next page; pass the cursor back as ``cursor=`` to get it. A
cursor is opaque: the position ``(created_at, id)`` of the last item shown, so pages stay
stable while items are added (keyset pagination, no offsets).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import Query, Request, Response

from gis import InputError

from ..store import After

__all__ = [
    "CURSOR_PATTERN",
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "PAGE_HEADERS",
    "Cursor",
    "Limit",
    "decode_cursor",
    "encode_cursor",
    "page",
]

T = TypeVar("T")

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

Limit = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description=f"Most items to return (default {DEFAULT_LIMIT}).")
]
#: A cursor: the creation time (``YYYYMMDDhhmmssfff``, UTC) and the id of the last item shown.
CURSOR_PATTERN = r"^[0-9]{17}\.[0-9a-f]{32}$"
Cursor = Annotated[
    str | None,
    Query(
        description="Where the page starts: the `X-Next-Cursor` of the page before.", pattern=CURSOR_PATTERN
    ),
]

#: The response headers of a paged list, for the OpenAPI schema.
PAGE_HEADERS: dict[str, Any] = {
    "X-Next-Cursor": {
        "description": "Cursor of the next page (absent on the last).",
        "schema": {"type": "string"},
    },
    "Link": {
        "description": 'URL of the next page, `rel="next"` (absent on the last).',
        "schema": {"type": "string"},
    },
}


def encode_cursor(after: After) -> str:
    """The cursor of a position ``(created_at, id)``.

    Examples
    --------
    >>> encode_cursor(("2025-01-31T08:09:10.123+00:00", "ab" * 16))
    '20250131080910123.abababababababababababababababab'
    >>> decode_cursor(_) == ("2025-01-31T08:09:10.123+00:00", "ab" * 16)
    True
    """
    created_at, item_id = after
    return re.sub(r"[^0-9]", "", created_at.removesuffix("+00:00")) + "." + item_id


def decode_cursor(cursor: str | None) -> After | None:
    """The position of a cursor (any cursor of the documented form is a position), or a 422."""
    if cursor is None:
        return None
    if not re.fullmatch(CURSOR_PATTERN, cursor):
        msg = (
            "`cursor` is not a cursor of this API. Fix: pass the `X-Next-Cursor` of the page before, or none."
        )
        raise InputError(msg)
    t, item_id = cursor.split(".")
    return f"{t[0:4]}-{t[4:6]}-{t[6:8]}T{t[8:10]}:{t[10:12]}:{t[12:14]}.{t[14:17]}+00:00", item_id


def page(
    request: Request,
    response: Response,
    fetch: Callable[[int, After | None], Sequence[T]],
    position: Callable[[T], After],
    *,
    limit: int,
    cursor: str | None,
) -> list[T]:
    """One page of ``fetch(limit + 1, after)``; sets the next-page headers on ``response``."""
    rows = list(fetch(limit + 1, decode_cursor(cursor)))
    if len(rows) > limit:
        rows = rows[:limit]
        token = encode_cursor(position(rows[-1]))
        url = request.url.include_query_params(cursor=token, limit=limit)
        response.headers["X-Next-Cursor"] = token
        response.headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'
    return rows
