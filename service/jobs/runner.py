"""Run jobs outside the request: one leader process, a bounded worker pool, cancel, restart, shutdown.

Every server process has a :class:`JobRunner`; exactly one of them, the *leader*, runs jobs.
The leader is whoever holds the store's leader lock (:meth:`Store.leader_lock
<service.store.Store.leader_lock>`: an ``flock`` with SQLite, an advisory lock with
PostgreSQL); the others poll for it every ``poll_s`` and one takes over within that time when
the leader dies (the lock goes with its process). The store is the queue:

* **submit** (any process) checks the parameters and records a ``queued`` job; the leader
  schedules it at once when it is the process that took the request, else within ``poll_s``.
  At most ``max_workers`` jobs run at once, and at most ``max_queued`` wait or run over all
  processes (:class:`BusyError` beyond).
* **cancel** (any process) sets the job's ``cancel_requested`` flag in the store and ends a
  queued job at once; the leader reads the flag of each of its running jobs every
  ``poll_s`` and stops the job (``progress`` raises :class:`~service.jobs.JobCancelled`).
* **progress and results** are written to the store, so every process serves them.
* **restart recovery** runs in a process when it becomes the leader, and only then: jobs left
  ``running`` by a leader that died are marked ``failed: interrupted by a server restart``
  (no live process can be running them: it would hold the lock). Jobs left ``queued`` are
  picked up and run.
* **shutdown** (SIGTERM) of the leader marks its running jobs ``failed: interrupted by a server
  shutdown`` at once (they are not restarted; start them again), leaves queued jobs queued
  for the next leader, and releases the lock.

Finished jobs older than the retention period are deleted by the leader.

Each job speaks the language it was submitted with (``submit(..., lang=)``, stored with the
job): its status messages (``job_*`` of the glossary), its progress texts, the notes and reasons
its computation makes (run inside :func:`gis.speech.speaking`, which the planning and risk
packages read, also in their own worker threads through :func:`gis.speech.in_language`) and its
error message (:meth:`gis.InputError.text`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from gis import InputError, Scenario
from gis.i18n import Lang
from gis.speech import speaking

from ..graphs import GraphSource, bound_graphs
from ..store import FINAL_STATUSES, JobRecord, JobStatus, Store
from ..store.base import job_note
from ..store.coordination import LeaderLock
from .registry import JobCancelled, JobOutput, JobRegistry, Progress

__all__ = ["DEPOSED", "INTERRUPTED", "SHUT_DOWN", "BusyError", "JobRunner", "JobStateError"]

log = logging.getLogger(__name__)

#: What jobs left running by a leader that died end as, when another process becomes leader
#: (English; a job speaking Chinese gets the glossary's ``job_interrupted`` in Chinese).
INTERRUPTED = job_note("job_interrupted", "en")
#: What jobs still queued or running when the server shuts down (SIGTERM) end as: ``failed``.
SHUT_DOWN = job_note("job_shut_down", "en")
#: What a running job ends as when its process loses the leader lock (a database lock can be).
DEPOSED = job_note("job_deposed", "en")
_PROGRESS_INTERVAL_S = 0.2


class JobStateError(InputError):
    """The job cannot do that in its current state (cancel a finished job...): HTTP 409."""


class BusyError(InputError):
    """Too many jobs are waiting; try later (HTTP 503)."""


class JobRunner:
    """Run jobs in a bounded thread pool, recording everything in ``store``.

    Parameters
    ----------
    store
        Where jobs, progress and results are recorded.
    registry
        The job kinds.
    load_scenario
        ``scenario id -> Scenario`` (the app's cache).
    max_workers
        Jobs running at once.
    max_queued
        Jobs waiting or running (over all processes) before new ones are refused
        (:class:`BusyError`).
    graphs
        ``scenario id -> graph source`` bound to each job's thread, so that
        :func:`service.graphs.job_graph` reads the service's graph cache.
    retention_s
        Finished jobs older than this many seconds are deleted (when a process becomes the
        leader, and whenever a job ends); ``None`` keeps them.
    leader
        The leader lock; default ``store.leader_lock()``.
    poll_s
        How often a follower tries for the lead, and the leader looks for queued jobs and
        cancel flags set by other processes.
    """

    def __init__(
        self,
        store: Store,
        registry: JobRegistry,
        load_scenario: Callable[[str], Scenario],
        *,
        max_workers: int = 2,
        max_queued: int = 100,
        graphs: Callable[[str], GraphSource] | None = None,
        retention_s: float | None = None,
        leader: LeaderLock | None = None,
        poll_s: float = 0.5,
    ) -> None:
        self.store = store
        self.registry = registry
        self._load = load_scenario
        self._graphs = graphs
        self.max_workers = max_workers
        self.max_queued = max_queued
        self.retention_s = retention_s
        self.poll_s = poll_s
        self._leader = store.leader_lock() if leader is None else leader
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="riskplan-job")
        self._lock = threading.Lock()
        self._active: dict[str, tuple[Future[None], threading.Event]] = {}
        self._langs: dict[str, Lang] = {}  # the language of each job scheduled here
        self._closing = threading.Event()
        self._deposed = threading.Event()
        self._is_leader = False
        self._elect()  # at once: a lone process leads before its first request
        self._watcher = threading.Thread(target=self._watch, name="riskplan-job-leader", daemon=True)
        self._watcher.start()

    @property
    def is_leader(self) -> bool:
        """True while this process runs the jobs."""
        return self._is_leader

    # -- leadership -------------------------------------------------------------------------

    def _elect(self) -> None:
        """Take the lead if it is free: recover the dead leader's jobs, then pick up the queue."""
        if self._closing.is_set() or not self._leader.try_acquire():
            return
        self._is_leader = True
        self._deposed.clear()
        log.info("this process (pid %d) now runs the jobs", os.getpid())
        self._recover()
        try:
            self.purge()
        except Exception:  # housekeeping never stops the leader
            log.warning("could not purge old jobs", exc_info=True)
        self._pick_up()

    def _recover(self) -> int:
        """Mark the jobs a dead leader left running failed (:data:`INTERRUPTED`); how many."""
        n = 0
        for job in self.store.list_jobs(status="running"):
            with self._lock:
                if job.id in self._active:
                    continue
            message = job_note("job_interrupted", job.lang)
            if self.store.update_job(job.id, status="failed", message=message, expect=["running"]):
                n += 1
        if n:
            log.warning("%d job(s) marked failed: %s", n, INTERRUPTED)
        return n

    def _pick_up(self) -> None:
        """Schedule the queued jobs this leader does not run yet, oldest first."""
        for job in reversed(self.store.list_jobs(status="queued", limit=self.max_queued)):
            self._schedule(job.id)

    def _check_cancels(self) -> None:
        """Stop the running jobs whose cancel flag another process set."""
        with self._lock:
            active = list(self._active.items())
        for job_id, (_, event) in active:
            if event.is_set():
                continue
            try:
                flagged = self.store.get_job(job_id).cancel_requested
            except InputError:  # deleted with its scenario
                flagged = True
            if flagged:
                event.set()

    def _watch(self) -> None:
        while not self._closing.wait(self.poll_s):
            try:
                if not self._is_leader:
                    self._elect()
                elif not self._leader.held:
                    self._depose()
                else:
                    self._check_cancels()
                    self._pick_up()
            except Exception:  # the watcher never dies of a store hiccup
                log.warning("job leader check failed", exc_info=True)

    def _depose(self) -> None:
        """The lock was lost (a dropped database session): stop running jobs, follow again."""
        log.error("this process lost the job leadership; its running jobs are stopped")
        self._is_leader = False
        self._deposed.set()
        with self._lock:
            active = dict(self._active)
        for job_id, (future, event) in active.items():
            event.set()
            future.cancel()
            message = job_note("job_deposed", self._lang(job_id))
            self.store.update_job(job_id, status="failed", message=message, expect=["running"])

    def purge(self) -> int:
        """Delete the finished jobs older than ``retention_s``; return how many."""
        if self.retention_s is None:
            return 0
        cutoff = datetime.now(UTC) - timedelta(seconds=self.retention_s)
        return self.store.purge_jobs(finished_before=cutoff.isoformat(timespec="milliseconds"))

    @property
    def active(self) -> int:
        """Jobs queued or running in this process."""
        with self._lock:
            return len(self._active)

    def submit(
        self, scenario_id: str, kind: str, params: Mapping[str, Any], *, lang: Lang = "en"
    ) -> JobRecord:
        """Check ``params`` and record a queued job speaking ``lang`` (the leader runs it)."""
        job_kind = self.registry.get(kind)
        checked = dict(job_kind.check_params(params) if job_kind.check_params else params)
        if self._closing.is_set():
            msg = "The server is shutting down. Fix: retry in a moment."
            raise BusyError(msg, key="jobs_shutting_down")
        with self._lock:
            waiting = sum(
                len(self.store.list_jobs(status=status, limit=self.max_queued))
                for status in ("queued", "running")
            )
            if waiting >= self.max_queued:
                msg = f"{waiting} jobs are already waiting or running. Fix: retry later."
                raise BusyError(msg, key="jobs_too_many", values={"waiting": waiting})
            job = self.store.create_job(scenario_id, kind, checked, lang=lang)
        if self._is_leader:
            self._schedule(job.id)
        log.info("job %s (%s) queued for scenario %s", job.id, kind, scenario_id)
        return job

    def _schedule(self, job_id: str) -> None:
        """Run ``job_id`` in the pool (once: a job already scheduled here is left alone)."""
        with self._lock:
            if job_id in self._active or self._closing.is_set():
                return
            event = threading.Event()
            future = self._pool.submit(self._run, job_id, event)
            self._active[job_id] = (future, event)

        def forget(_done: Future[None]) -> None:
            self._forget(job_id)

        future.add_done_callback(forget)

    def _forget(self, job_id: str) -> None:
        with self._lock:
            self._active.pop(job_id, None)
            self._langs.pop(job_id, None)
        try:
            self.purge()
        except Exception:  # housekeeping never fails a job
            log.warning("could not purge old jobs", exc_info=True)

    def cancel(self, job_id: str) -> JobRecord:
        """Cancel a queued job at once, or ask a running one to stop (the flag is in the store)."""
        job = self.store.get_job(job_id)
        if job.status in FINAL_STATUSES:
            msg = f"Job `{job_id}` already {job.status}; it cannot be cancelled."
            raise JobStateError(msg, key="job_not_cancellable", values={"id": job_id, "status": job.status})
        self.store.update_job(job_id, cancel_requested=True)
        with self._lock:
            future, event = self._active.get(job_id, (None, None))
        if event is not None:
            event.set()
        before = job_note("job_cancelled_before_start", job.lang)
        if self.store.update_job(job_id, status="cancelled", message=before, expect=["queued"]):
            if future is not None:
                future.cancel()
        else:
            self.store.update_job(job_id, message=job_note("job_cancelling", job.lang), expect=["running"])
        return self.store.get_job(job_id)

    def _progress(self, job_id: str, event: threading.Event) -> Progress:
        last_time = [0.0]
        last_message = [""]

        def progress(fraction: float, message: str = "") -> None:
            if event.is_set():
                raise JobCancelled
            now = time.monotonic()
            if now - last_time[0] >= _PROGRESS_INTERVAL_S or message != last_message[0] or fraction >= 1:
                last_time[0], last_message[0] = now, message
                self.store.update_job(job_id, progress=fraction, message=message or None, expect=["running"])

        return progress

    def _lang(self, job_id: str) -> Lang:
        """The language of a job scheduled here (English if it is not known here)."""
        with self._lock:
            return self._langs.get(job_id, "en")

    def _run(self, job_id: str, event: threading.Event) -> None:
        if event.is_set():
            return
        try:
            job = self.store.get_job(job_id)
        except InputError:  # deleted with its scenario before it started
            return
        with self._lock:
            self._langs[job_id] = job.lang
        if not self.store.update_job(
            job_id, status="running", message=job_note("job_started", job.lang), expect=["queued"]
        ):
            return
        try:
            kind = self.registry.get(job.kind)
            scenario = self._load(job.scenario_id)
            source = self._graphs(job.scenario_id) if self._graphs is not None else None
            with bound_graphs(source), speaking(job.lang):
                out = kind.func(scenario, job.params, self._progress(job_id, event), event)
            if event.is_set():
                raise JobCancelled
            output = out if isinstance(out, JobOutput) else JobOutput(dict(out))
            self.store.put_job_result(job_id, output.data, output.layers)
            self.store.update_job(
                job_id,
                status="succeeded",
                progress=1.0,
                message=job_note("job_done", job.lang),
                expect=["running"],
            )
            log.info("job %s succeeded", job_id)
        except JobCancelled:
            status: JobStatus = "failed"
            if self._deposed.is_set():
                message = job_note("job_deposed", job.lang)
            elif self._closing.is_set():
                message = job_note("job_shut_down", job.lang)
            else:
                status, message = "cancelled", job_note("job_cancelled_on_request", job.lang)
            self.store.update_job(job_id, status=status, message=message, expect=["running"])
        except InputError as exc:
            self.store.update_job(job_id, status="failed", message=exc.text(job.lang), expect=["running"])
        except Exception as exc:
            log.exception("job %s (%s) crashed", job_id, job.kind)
            message = job_note("job_internal_error", job.lang, error=type(exc).__name__)
            self.store.update_job(job_id, status="failed", message=message, expect=["running"])

    def shutdown(self, *, wait: bool = False) -> None:
        """Stop taking jobs; end running ones as failed (:data:`SHUT_DOWN`); give the lead up.

        Running jobs are marked at once, not when they next report progress: after a
        SIGTERM the process may end before they do. Their threads are asked to stop; a late
        result is never stored (the job is no longer ``running``). Queued jobs stay queued:
        the next leader (another process now, or this server when it starts again) runs them.
        """
        self._closing.set()
        with self._lock:
            active = dict(self._active)
        for job_id, (_, event) in active.items():
            event.set()
            message = job_note("job_shut_down", self._lang(job_id))
            if self.store.update_job(job_id, status="failed", message=message, expect=["running"]):
                log.warning("job %s: %s", job_id, SHUT_DOWN)
        self._pool.shutdown(wait=wait, cancel_futures=True)
        if self._watcher.is_alive() and threading.current_thread() is not self._watcher:
            self._watcher.join(timeout=max(1.0, 2 * self.poll_s))
        self._is_leader = False
        self._leader.release()
