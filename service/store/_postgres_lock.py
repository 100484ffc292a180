"""The job leader among server processes sharing one PostgreSQL store (private).

:class:`AdvisoryLeaderLock` is a session advisory lock (``pg_try_advisory_lock``) taken on a
connection of its own, outside the pool: PostgreSQL drops it when that connection ends, so
when the leader process dies (or loses the server) another process's
:meth:`~AdvisoryLeaderLock.try_acquire` succeeds and it takes over. It has the methods of the
leader-lock interface the job runner polls (:class:`service.store.coordination.LeaderLock`:
``try_acquire``, ``release``, ``held``, a context manager).
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

from .coordination import LeaderLock

if TYPE_CHECKING:
    import psycopg

__all__ = ["COMPUTE_KEY", "LEADER_KEY", "AdvisoryLeaderLock"]

log = logging.getLogger(__name__)

#: The advisory lock key of the job leader (any constant; "rpleader" in ASCII).
LEADER_KEY = 0x72706C6561646572
#: The advisory lock key of the anonymous readers' compute slot ("rpanonym" in ASCII).
COMPUTE_KEY = 0x7270616E6F6E796D


class AdvisoryLeaderLock(LeaderLock):
    """A session advisory lock that at most one connection to the database holds.

    Parameters
    ----------
    dsn
        The store's connection string (the lock opens a connection of its own).
    key
        The advisory lock key.
    what
        What the lock is for, in the log's warnings.
    """

    def __init__(self, dsn: str, key: int = LEADER_KEY, *, what: str = "job leader lock") -> None:
        self._dsn = dsn
        self._key = key
        self._what = what
        self._conn: psycopg.Connection[Any] | None = None

    def try_acquire(self) -> bool:
        """Take the lock without waiting; True when this process now holds it."""
        import psycopg

        if self.held:
            return True
        self.release()
        try:
            conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=5)
        except psycopg.Error as exc:
            log.warning("%s: cannot reach the database (%s)", self._what, str(exc).strip())
            return False
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()
        if row and row[0]:
            self._conn = conn
            return True
        conn.close()
        return False

    def release(self) -> None:
        """Give the lock up (nothing when not held)."""
        import psycopg

        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.execute("SELECT pg_advisory_unlock(%s)", (self._key,))
            conn.close()

    @property
    def held(self) -> bool:
        """True while the lock's connection is alive (checked with a round trip, not assumed)."""
        import psycopg

        if self._conn is None or self._conn.closed:
            return False
        try:
            self._conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True
