"""The register list's pages: made, cached per register version (one cache per process), answered.

:func:`list_response` answers ``GET /register/items`` for :class:`ListParams` already checked;
the route calls it after FastAPI checked the query, and :class:`RegisterListShortcut` before
routing for the queries :func:`parse_list_query` can check by hand exactly as the route's
declared parameters would (anything else goes on to the route, which answers it, errors
included). The shortcut saves most of a cached page's CPU: FastAPI's parameter checks and the
router's matching were about 2 ms of the 2.5 ms a page cost (issue 15). The OpenAPI document is
the route's, unchanged.

A page of ``GET /register/items`` is a pure function of the stored items, the filters, the
requester's scope and role (its ``allowed_actions``), the day (``overdue``), the page size and
cursor. Its JSON is kept under all of these and the store's change counter
(:meth:`~service.store.RegisterStore.last_event_id`), read before the page on every request:
every change to an item appends an event in the same transaction, so any write, by this
process or another one on the same store, makes a new version, and the pages of the old one
are never served again (the cache drops them as soon as it sees the new version).

Why the counter is enough: it is read before the page, each read being a fresh snapshot, so
a page kept under version ``v`` holds the register at ``v`` or later, never earlier; and a
reader never sees the counter go back. This needs the store's writes to be serialised (SQLite
takes the write lock at ``BEGIN IMMEDIATE``, so event ids are committed in order). A store
whose ids may commit out of order (PostgreSQL's identity under concurrent writers) gives a
counter that is committed in order instead: PostgresRegister's version row (its migration 0004).
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..store import ItemQuery
from .deps import get_service
from .params import BBOX_PATTERN, parse_bbox
from .register_access import list_view, require_actor, scope_of, workflow_of

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = [
    "LIST_TEXT_LIMITS",
    "MONTH_PATTERN",
    "ListPage",
    "ListPageCache",
    "ListParams",
    "RegisterListShortcut",
    "list_response",
    "parse_list_query",
]

log = logging.getLogger(__name__)

#: A month of the register, ``YYYY-MM`` (years 1900..2199).
MONTH_PATTERN = r"^(19|20|21)\d{2}-(0[1-9]|1[0-2])$"
#: The list's text filters and their ``max_length`` (the route declares the same).
LIST_TEXT_LIMITS: dict[str, int] = {
    "status": 32,
    "category": 64,
    "grade": 16,
    "source": 64,
    "department": 200,
    "territorial": 200,
    "enterprise": 200,
    "district": 200,
}


@dataclass(frozen=True)
class ListPage:
    """A page's JSON body and the row of its last item when there is a next page (else None)."""

    body: bytes
    next_row: int | None


class ListPageCache:
    """Pages of one register version, least recently used dropped beyond ``max_bytes``.

    Parameters
    ----------
    max_bytes
        Bound of the bodies kept (default 64 MB); pages larger than a quarter of it are not kept.

    Examples
    --------
    >>> cache = ListPageCache(max_bytes=1000)
    >>> cache.put(7, ("status=closed",), ListPage(b"[]", None))
    >>> cache.get(7, ("status=closed",))
    ListPage(body=b'[]', next_row=None)
    >>> cache.get(8, ("status=closed",)) is None  # a write since: a new version
    True
    """

    def __init__(self, *, max_bytes: int = 64_000_000) -> None:
        self.max_bytes = max_bytes
        self._version: int | None = None
        self._pages: OrderedDict[Hashable, ListPage] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def _see(self, version: int) -> bool:
        """Move to ``version`` if it is newer (dropping every page); whether pages of it may be kept."""
        if self._version is None or version > self._version:
            self._version = version
            self._pages.clear()
            self._bytes = 0
        return version == self._version

    def get(self, version: int, key: Hashable) -> ListPage | None:
        """The page under ``key`` at ``version``, or None."""
        with self._lock:
            page = self._pages.get(key) if self._see(version) else None
            if page is None:
                self.misses += 1
                return None
            self._pages.move_to_end(key)
            self.hits += 1
            return page

    def put(self, version: int, key: Hashable, page: ListPage) -> None:
        """Keep ``page`` under ``key`` for ``version`` (read before the page was)."""
        size = len(page.body)
        if size > self.max_bytes // 4:
            return
        with self._lock:
            if not self._see(version):
                return  # a newer version is known: this page may be older than it
            old = self._pages.pop(key, None)
            if old is not None:
                self._bytes -= len(old.body)
            self._pages[key] = page
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, dropped = self._pages.popitem(last=False)
                self._bytes -= len(dropped.body)


@dataclass(frozen=True)
class ListParams:
    """The list's query parameters, checked (the route's names and defaults)."""

    status: str | None = None
    category: str | None = None
    grade: str | None = None
    source: str | None = None
    overdue: bool = False
    department: str | None = None
    territorial: str | None = None
    enterprise: str | None = None
    district: str | None = None
    month: str | None = None
    bbox: str | None = None
    limit: int = 100
    cursor: str | None = None


def _now() -> datetime:
    """The time of a list: the server's local time, to the second (as the routes')."""
    return datetime.now().replace(microsecond=0)


def list_response(request: Request, params: ListParams) -> Response:
    """A page of ``GET /register/items`` for ``params`` (checked) as the account may see it.

    The page's JSON is made by the store from its rows (in ItemOut's order and encoding) and
    kept in the app's :class:`ListPageCache` under the register version read first.
    Raises what the route answers as problems: 401 / 403 for tokens, 422 for a bad ``bbox``.
    """
    service = get_service(request)
    actor = require_actor(request, service)
    wf = workflow_of(request)
    now = _now()
    query = ItemQuery(
        status=params.status, category=params.category, grade=params.grade, source=params.source,
        department_unit=params.department, territorial_unit=params.territorial,
        enterprise_id=params.enterprise, district=params.district, month=params.month,
        overdue_on=now.date() if params.overdue else None, bbox=parse_bbox(params.bbox),
        scope=scope_of(actor, wf, request.app.state.register.governments()),
    )  # fmt: skip
    view = list_view(actor, wf, now)
    limit = params.limit
    after = int(params.cursor) if params.cursor else None
    register = service.store.register
    # the page's JSON, kept per register version (read first: see the module's docstring)
    cache: ListPageCache = request.app.state.register_lists
    version = register.last_event_id()
    key = (query, view.today, actor.role, limit, after)
    page = cache.get(version, key)
    if page is None:
        rows = register.list_json(query, view, limit=limit + 1, after=after)
        next_row = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_row = int(rows[-1][0])
        # tests/test_register_list.py checks the store's JSON against ItemOut byte for byte
        page = ListPage(("[" + ",".join(r[1] for r in rows) + "]").encode("utf-8"), next_row)
        cache.put(version, key, page)
    headers = {}
    if page.next_row is not None:
        token = str(page.next_row)
        headers["X-Next-Cursor"] = token
        headers["Link"] = _next_link(request, token, limit)
    return Response(page.body, media_type="application/json", headers=headers)


_LINKS: OrderedDict[tuple[object, ...], str] = OrderedDict()
_LINKS_LOCK = threading.Lock()


def _next_link(request: Request, cursor: str, limit: int) -> str:
    """The ``Link`` header of the next page: the request's URL with ``cursor`` and ``limit`` set.

    Kept per request path and query (the same pages are asked for again and again: building
    the URL was a fifth of a cached page's CPU).
    """
    scope = request.scope
    key = (scope.get("root_path", ""), scope["path"], scope.get("query_string", b""), cursor, limit)
    with _LINKS_LOCK:
        link = _LINKS.get(key)
    if link is None:
        url = request.url.include_query_params(cursor=cursor, limit=limit)
        link = f'<{url.path}?{url.query}>; rel="next"'
        with _LINKS_LOCK:
            _LINKS[key] = link
            if len(_LINKS) > 4096:
                _LINKS.popitem(last=False)
    return link


#: The route's patterns (``bbox`` also has a ``max_length`` of 200, the others are shorter).
_PATTERNS = {
    "month": re.compile(MONTH_PATTERN),
    "bbox": re.compile(BBOX_PATTERN),
    "cursor": re.compile(r"[0-9]{1,19}"),
}
_LIMIT = re.compile(r"[1-9][0-9]{0,3}")
_OVERDUE = {"true": True, "false": False, "1": True, "0": False}


def parse_list_query(query: bytes) -> ListParams | None:
    """The list's parameters from a raw query string, or None when only the route may say.

    Takes a query only when every value passes the route's declared checks for certain: each
    name known and given once, as is (no percent-encoded names), values ASCII, printable,
    non-empty and within their ``max_length``; ``month``, ``bbox`` and ``cursor`` matching
    their patterns; ``overdue`` one of ``true`` / ``false`` / ``1`` / ``0``; ``limit`` 1..1000
    without a leading zero. Anything else (a value FastAPI might take in another spelling, or
    refuse with a 422) returns None, and the route decides.

    Examples
    --------
    >>> parse_list_query(b"status=closed&limit=50").limit
    50
    >>> parse_list_query(b"limit=5000") is None  # the route answers the 422
    True
    >>> parse_list_query(b"department=fire%20bureau&overdue=true").department
    'fire bureau'
    """
    values: dict[str, str | int | bool] = {}
    if not query:
        return ListParams()
    try:
        text = query.decode("ascii")
    except UnicodeDecodeError:
        return None
    for part in text.split("&"):
        name, eq, raw = part.partition("=")
        if not eq or name in values:
            return None
        try:
            value = unquote_plus(raw, errors="strict") if "%" in raw or "+" in raw else raw
        except UnicodeDecodeError:
            return None
        if not value or not value.isascii() or not value.isprintable():
            return None
        if name in LIST_TEXT_LIMITS:
            if len(value) > LIST_TEXT_LIMITS[name]:
                return None
            values[name] = value
        elif name in _PATTERNS and len(value) <= 200 and _PATTERNS[name].fullmatch(value):
            values[name] = value
        elif name == "limit" and _LIMIT.fullmatch(value) and int(value) <= 1000:
            values[name] = int(value)
        elif name == "overdue" and value in _OVERDUE:
            values[name] = _OVERDUE[value]
        else:
            return None
    return ListParams(**values)  # type: ignore[arg-type]


class RegisterListShortcut:
    """Answer ``GET {path}`` before routing when :func:`parse_list_query` takes its query.

    Any other request, and any request whose answer is not a page (a missing or wrong token,
    a bbox the route refuses, a store error), goes on to the app: the route answers it with
    the API's problem handlers, as without the shortcut.
    """

    def __init__(self, app: ASGIApp, path: str) -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A cached or new page for the list's plain queries; anything else to the app."""
        if scope["type"] == "http" and scope["path"] == self.path and scope["method"] == "GET":
            params = parse_list_query(scope.get("query_string", b""))
            if params is not None:
                try:  # in the thread pool, as the route's own body: a store query never blocks the loop
                    response = await run_in_threadpool(list_response, Request(scope, receive), params)
                except Exception:  # the route answers it, with the API's handlers
                    log.debug("register list: the route answers %s", self.path, exc_info=True)
                else:
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)
