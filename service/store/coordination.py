"""What several server processes on one store agree through it: the job leader and rate windows.

``riskplan serve --workers N`` runs N processes on one store. Two things must then be held by
the store rather than by each process:

* **the job leader** (:class:`LeaderLock`, from :meth:`Store.leader_lock
  <service.store.Store.leader_lock>`): exactly one process runs jobs. The lock is held for the
  leader's life and dropped by the operating system (or the database) when the process dies,
  so a follower that polls :meth:`LeaderLock.try_acquire` takes over. The SQLite store uses
  an ``flock`` on ``DATA_DIR/jobs.leader`` (:class:`FileLeaderLock`); a PostgreSQL store uses
  a session advisory lock on a connection of its own. :class:`LocalLeaderLock`, the default
  of the interface, holds within one process only.
* **rate windows** (:meth:`Store.take_window <service.store.Store.take_window>`): at most
  ``limit`` events per key in any ``window_s`` seconds, counted in the store so that N
  processes enforce one budget. :class:`LocalWindows` is the one-process default.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass
from pathlib import Path

__all__ = ["FileLeaderLock", "LeaderLock", "LocalLeaderLock", "LocalWindows", "WindowCount"]


class LeaderLock(ABC):
    """A lock that at most one process (of all those sharing a store) holds at a time.

    It is released when the holder calls :meth:`release` or dies. Implementations must be
    safe to call from one thread at a time (the job runner's leader thread).
    """

    @abstractmethod
    def try_acquire(self) -> bool:
        """Take the lock without waiting; True when this process now holds it."""

    @abstractmethod
    def release(self) -> None:
        """Give the lock up (nothing when not held)."""

    @property
    @abstractmethod
    def held(self) -> bool:
        """True while this process holds the lock (a database lock is checked, not assumed)."""

    def __enter__(self) -> LeaderLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class LocalLeaderLock(LeaderLock):
    """A leader lock within one process (the default of a store that is not shared).

    Examples
    --------
    >>> a, b = LocalLeaderLock(), LocalLeaderLock()
    >>> a.try_acquire(), a.held
    (True, True)
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held = False

    def try_acquire(self) -> bool:
        """Take the lock without waiting; True when held."""
        if not self._held:
            self._held = self._lock.acquire(blocking=False)
        return self._held

    def release(self) -> None:
        """Give the lock up (nothing when not held)."""
        if self._held:
            self._held = False
            self._lock.release()

    @property
    def held(self) -> bool:
        """True while this instance holds the lock."""
        return self._held


class FileLeaderLock(LeaderLock):
    """An exclusive ``flock`` on ``path``, which the kernel drops when the holding process dies.

    The holder writes its process id into the file (for operators and tests: ``cat
    DATA_DIR/jobs.leader``). Each instance opens the file itself, so two instances conflict
    even within one process.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "jobs.leader"
    >>> first, second = FileLeaderLock(path), FileLeaderLock(path)
    >>> first.try_acquire(), second.try_acquire()
    (True, False)
    >>> first.release(); second.try_acquire()
    True
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        """Take the lock without waiting; True when held."""
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        """Give the lock up (nothing when not held)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing the descriptor drops the flock

    @property
    def held(self) -> bool:
        """True while this instance holds the lock."""
        return self._fd is not None


@dataclass(frozen=True)
class WindowCount:
    """The answer of one take on a rate window.

    Attributes
    ----------
    allowed
        True when the event was counted (the key was under its limit).
    count
        Events of the key in the window before this one.
    retry_after_s
        When refused: seconds until the oldest event leaves the window (0 when allowed).
    """

    allowed: bool
    count: int
    retry_after_s: float = 0.0


class LocalWindows:
    """Sliding windows held in this process: at most ``limit`` events per key in ``window_s``.

    Examples
    --------
    >>> windows = LocalWindows()
    >>> [windows.take("reports", "10.0.0.1", limit=2, window_s=60, now=t).allowed for t in (0, 1, 2, 61)]
    [True, True, False, True]
    """

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def take(
        self, bucket: str, key: str, *, limit: int, window_s: float, now: float | None = None
    ) -> WindowCount:
        """Count one event of ``key`` in ``bucket`` unless it already has ``limit`` in the window."""
        t = time.time() if now is None else now
        with self._lock:
            if len(self._seen) > 100_000:  # forget idle keys
                self._seen = {k: q for k, q in self._seen.items() if q and q[-1] > t - window_s}
            times = self._seen.setdefault((bucket, key), deque())
            while times and times[0] <= t - window_s:
                times.popleft()
            if len(times) >= limit:
                return WindowCount(False, len(times), times[0] + window_s - t)
            times.append(t)
            return WindowCount(True, len(times) - 1)
