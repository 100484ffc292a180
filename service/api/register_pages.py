"""The register list's pages, cached per request and register version (one per process).

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

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

__all__ = ["ListPage", "ListPageCache"]


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
