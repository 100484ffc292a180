"""What one anonymous request may cost: units built, bytes sent, seconds of computation.

Reads are public unless the server runs with ``--protect-reads``. A request that sends no
API token (an *anonymous reader*) gets what is already computed, and may start a computation
only within :class:`AnonymousLimits`:

* **units**: a risk layer that is not cached yet is built only when it makes at most
  ``max_units`` units (estimated before building);
* **bytes**: no answer larger than ``max_body_bytes``
  (:class:`service.api.problems.AnonymousBodyLimit`);
* **seconds**: analyses that are not in memory yet (coverage, risk, point-query tables,
  map and report pages) are built for anonymous readers by one worker at a time
  (:class:`AnonymousGate`), and one at a time across every server process sharing the store
  (the store's compute slot: :meth:`service.store.Store.compute_slot`, an ``flock`` or a
  PostgreSQL advisory lock), so ``--workers N`` does not multiply what anonymous readers may
  spend; a request waits at most ``max_compute_s`` for its build, and
  then gets a 429 with ``Retry-After`` while the build finishes into the cache, so the retry
  is served from memory. At most ``max_waiting`` anonymous builds wait at once.

Over a bound, the answer is a 4xx problem (``anonymous-limit``) that names the limit and how
to get more: send the API token, or run a job. Requests with the token are not bounded.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from fastapi import Request

from gis import InputError

from ..store.coordination import LeaderLock, LocalLeaderLock

__all__ = [
    "AnonymousGate",
    "AnonymousLimitError",
    "AnonymousLimits",
    "is_trusted",
    "mark_trusted",
]

log = logging.getLogger(__name__)

V = TypeVar("V")

_MIB = 1024**2
_FIX = "send the API token (`Authorization: Bearer <token>`)"


@dataclass(frozen=True)
class AnonymousLimits:
    """Bounds on what one request without the API token may cost.

    Attributes
    ----------
    max_units
        Most risk units (cells) an anonymous request may have built.
    max_body_bytes
        Largest answer sent to an anonymous reader.
    max_compute_s
        Longest an anonymous request waits for an analysis to be built (0: never build one
        for an anonymous reader, serve only what is cached).
    max_waiting
        Anonymous builds queued at once; more are refused with a 429.
    """

    max_units: int = 10_000
    max_body_bytes: int = 32 * _MIB
    max_compute_s: float = 20.0
    max_waiting: int = 32


class AnonymousLimitError(InputError):
    """A request without the API token went over one of the :class:`AnonymousLimits`.

    ``status`` is 403 for a request that is too big for anonymous readers (units, bytes)
    and 429 for one that may succeed later (the build is still running, or too many wait);
    ``retry_after_s`` is then set.
    """

    def __init__(
        self,
        message: str,
        *,
        limit: str,
        status: int = 403,
        retry_after_s: int | None = None,
        key: str | None = None,
        values: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message, key=key, values=values)
        self.limit = limit
        self.status = status
        self.retry_after_s = retry_after_s


def mark_trusted(request: Request, trusted: bool) -> None:
    """Record whether ``request`` carried the valid API token (set by the read dependency)."""
    request.state.trusted = trusted


def is_trusted(request: Request) -> bool:
    """True when ``request`` carried the valid API token."""
    return bool(getattr(request.state, "trusted", False))


def over_units(units: int, limits: AnonymousLimits, *, what: str, job: str) -> AnonymousLimitError:
    """The error for a layer of ``units`` units, over the anonymous limit."""
    msg = (
        f"{what} would build {units:,} units, over the limit of {limits.max_units:,} for requests "
        f"without the API token. Fix: use coarser units (e.g. grid:500), {_FIX}, or run a job: {job}."
    )
    words = {"units": f"{units:,}", "limit": f"{limits.max_units:,}", "job": job}
    return AnonymousLimitError(msg, limit="units", key="anonymous_units", values=words)


class AnonymousGate:
    """Builds for anonymous readers: one at a time, each waited for at most ``max_compute_s``.

    A build that outlives its request keeps running in the gate's worker and lands in the
    cache it was started for; the caller gets a 429 with ``Retry-After``.

    Parameters
    ----------
    limits
        The anonymous limits.
    slot
        The lock a build holds while it runs, shared by every process on the store
        (:meth:`service.store.Store.compute_slot`); by default one within this process.
    poll_s
        How often a build waiting for the slot tries it again.
    """

    def __init__(
        self, limits: AnonymousLimits, *, slot: LeaderLock | None = None, poll_s: float = 0.05
    ) -> None:
        self.limits = limits
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="riskplan-anon")
        self._lock = threading.Lock()
        self._waiting = 0
        self._local = threading.local()
        self._slot = slot if slot is not None else LocalLeaderLock()
        self._poll_s = poll_s
        self._closed = threading.Event()

    @property
    def inside(self) -> bool:
        """True in the gate's worker: a build that needs another build runs it directly."""
        return bool(getattr(self._local, "inside", False))

    def _wrap(self, build: Callable[[], V]) -> Callable[[], V]:
        def run() -> V:
            self._take_slot()
            self._local.inside = True
            try:
                return build()
            finally:
                self._local.inside = False
                self._slot.release()

        return run

    def _take_slot(self) -> None:
        """Wait (in the gate's worker) until no other process on the store builds for anonymous readers."""
        while not self._slot.try_acquire():
            if self._closed.wait(self._poll_s):
                raise RuntimeError("the anonymous gate was shut down")
        if self._closed.is_set():
            self._slot.release()
            raise RuntimeError("the anonymous gate was shut down")

    def _submit(self, what: str, build: Callable[[], V]) -> concurrent.futures.Future[V]:
        if self.limits.max_compute_s <= 0:
            msg = (
                f"{what} is not computed yet, and this server computes nothing for requests without "
                f"the API token. Fix: {_FIX}, or ask someone who has it to open it once."
            )
            raise AnonymousLimitError(msg, limit="seconds", key="anonymous_no_compute")
        with self._lock:
            if self._waiting >= self.limits.max_waiting:
                msg = (
                    f"{self._waiting} computations for requests without the API token are waiting. "
                    f"Fix: retry in a minute, or {_FIX}."
                )
                raise AnonymousLimitError(
                    msg,
                    limit="waiting",
                    status=429,
                    retry_after_s=60,
                    key="anonymous_waiting",
                    values={"waiting": self._waiting},
                )
            self._waiting += 1
        try:
            future = self._pool.submit(self._wrap(build))
        except RuntimeError:  # the gate was shut down
            with self._lock:
                self._waiting -= 1
            raise
        future.add_done_callback(self._done)
        return future

    def _done(self, _future: concurrent.futures.Future[V]) -> None:
        with self._lock:
            self._waiting -= 1

    def _too_slow(self, what: str) -> AnonymousLimitError:
        wait_s = self.limits.max_compute_s
        retry = max(1, math.ceil(wait_s / 2))
        msg = (
            f"{what} takes longer than the {wait_s:g} s a request without the API token may wait; "
            f"it is being computed and will be served from the cache. Fix: retry in {retry} s, "
            f"or {_FIX}."
        )
        return AnonymousLimitError(
            msg,
            limit="seconds",
            status=429,
            retry_after_s=retry,
            key="anonymous_too_slow",
            values={"wait_s": f"{wait_s:g}", "retry": retry},
        )

    def run(self, what: str, build: Callable[[], V]) -> V:
        """``build()`` in the gate's worker, waited for at most ``max_compute_s`` (blocking)."""
        if self.inside:
            return build()
        future = self._submit(what, build)
        try:
            return future.result(timeout=self.limits.max_compute_s)
        except concurrent.futures.TimeoutError:
            raise self._too_slow(what) from None

    async def run_async(self, what: str, build: Callable[[], V]) -> V:
        """:meth:`run` for the event loop: awaits the build without blocking the loop."""
        if self.inside:
            return build()
        future = self._submit(what, build)
        try:
            return await asyncio.wait_for(
                asyncio.shield(asyncio.wrap_future(future)), self.limits.max_compute_s
            )
        except TimeoutError:
            raise self._too_slow(what) from None

    def shutdown(self) -> None:
        """Drop queued builds; a running one finishes in the background (a waiting one gives up)."""
        self._closed.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
