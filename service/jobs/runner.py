"""Run jobs outside the request: a bounded worker pool, cancellation, restart and shutdown.

:class:`JobRunner` runs at most ``max_workers`` jobs at once in threads, records status and
progress in the :class:`~service.store.Store`, stores results before marking a job
succeeded, and on start marks jobs left ``queued`` or ``running`` by a previous process as
failed: ``interrupted by a server restart``. On shutdown (SIGTERM) it marks its own queued and
running jobs failed at once: ``interrupted by a server shutdown`` (they are not requeued; start
them again). Finished jobs older than the retention period are deleted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from gis import InputError, Scenario

from ..graphs import GraphSource, bound_graphs
from ..store import FINAL_STATUSES, JobRecord, Store
from .registry import JobCancelled, JobOutput, JobRegistry, Progress

__all__ = ["INTERRUPTED", "SHUT_DOWN", "BusyError", "JobRunner", "JobStateError"]

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted by a server restart"
#: What jobs still queued or running when the server shuts down (SIGTERM) end as: ``failed``.
SHUT_DOWN = "interrupted by a server shutdown"
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
        Jobs waiting or running before new ones are refused (:class:`BusyError`).
    graphs
        ``scenario id -> graph source`` bound to each job's thread, so that
        :func:`service.graphs.job_graph` reads the service's graph cache.
    retention_s
        Finished jobs older than this many seconds are deleted (at start and whenever a job
        ends); ``None`` keeps them.
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
    ) -> None:
        self.store = store
        self.registry = registry
        self._load = load_scenario
        self._graphs = graphs
        self.max_workers = max_workers
        self.max_queued = max_queued
        self.retention_s = retention_s
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="riskplan-job")
        self._lock = threading.Lock()
        self._active: dict[str, tuple[Future[None], threading.Event]] = {}
        self._closing = threading.Event()
        store.mark_interrupted(INTERRUPTED)
        self.purge()

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

    def submit(self, scenario_id: str, kind: str, params: Mapping[str, Any]) -> JobRecord:
        """Check ``params``, record a queued job and schedule it."""
        job_kind = self.registry.get(kind)
        checked = dict(job_kind.check_params(params) if job_kind.check_params else params)
        if self._closing.is_set():
            msg = "The server is shutting down. Fix: retry in a moment."
            raise BusyError(msg)
        with self._lock:
            if len(self._active) >= self.max_queued:
                msg = f"{len(self._active)} jobs are already waiting or running. Fix: retry later."
                raise BusyError(msg)
            job = self.store.create_job(scenario_id, kind, checked)
            event = threading.Event()
            future = self._pool.submit(self._run, job.id, event)
            self._active[job.id] = (future, event)
        job_id = job.id

        def forget(_done: Future[None]) -> None:
            self._forget(job_id)

        future.add_done_callback(forget)
        log.info("job %s (%s) queued for scenario %s", job.id, kind, scenario_id)
        return job

    def _forget(self, job_id: str) -> None:
        with self._lock:
            self._active.pop(job_id, None)
        try:
            self.purge()
        except Exception:  # housekeeping never fails a job
            log.warning("could not purge old jobs", exc_info=True)

    def cancel(self, job_id: str) -> JobRecord:
        """Cancel a queued job at once, or ask a running one to stop."""
        job = self.store.get_job(job_id)
        if job.status in FINAL_STATUSES:
            msg = f"Job `{job_id}` already {job.status}; it cannot be cancelled."
            raise JobStateError(msg)
        self.store.update_job(job_id, cancel_requested=True)
        with self._lock:
            future, event = self._active.get(job_id, (None, None))
        if event is not None:
            event.set()
        if self.store.update_job(
            job_id, status="cancelled", message="cancelled before it started", expect=["queued"]
        ):
            if future is not None:
                future.cancel()
        else:
            self.store.update_job(job_id, message="cancelling", expect=["running"])
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

    def _run(self, job_id: str, event: threading.Event) -> None:
        if event.is_set() or not self.store.update_job(
            job_id, status="running", message="started", expect=["queued"]
        ):
            return
        job = self.store.get_job(job_id)
        try:
            kind = self.registry.get(job.kind)
            scenario = self._load(job.scenario_id)
            source = self._graphs(job.scenario_id) if self._graphs is not None else None
            with bound_graphs(source):
                out = kind.func(scenario, job.params, self._progress(job_id, event), event)
            if event.is_set():
                raise JobCancelled
            output = out if isinstance(out, JobOutput) else JobOutput(dict(out))
            self.store.put_job_result(job_id, output.data, output.layers)
            self.store.update_job(
                job_id, status="succeeded", progress=1.0, message="done", expect=["running"]
            )
            log.info("job %s succeeded", job_id)
        except JobCancelled:
            if self._closing.is_set():
                self.store.update_job(job_id, status="failed", message=SHUT_DOWN, expect=["running"])
            else:
                self.store.update_job(
                    job_id, status="cancelled", message="cancelled on request", expect=["running"]
                )
        except InputError as exc:
            self.store.update_job(job_id, status="failed", message=str(exc), expect=["running"])
        except Exception as exc:
            log.exception("job %s (%s) crashed", job_id, job.kind)
            message = f"internal error ({type(exc).__name__}); the server log has the details"
            self.store.update_job(job_id, status="failed", message=message, expect=["running"])

    def shutdown(self, *, wait: bool = False) -> None:
        """Stop taking jobs, and end every queued or running one as failed: :data:`SHUT_DOWN`.

        Running jobs are marked at once, not when they next report progress: after a
        SIGTERM the process may end before they do. Their threads are asked to stop; a late
        result is never stored (the job is no longer ``running``).
        """
        self._closing.set()
        with self._lock:
            active = dict(self._active)
        for job_id, (_, event) in active.items():
            event.set()
            if self.store.update_job(
                job_id, status="failed", message=SHUT_DOWN, expect=["queued", "running"]
            ):
                log.warning("job %s: %s", job_id, SHUT_DOWN)
        self._pool.shutdown(wait=wait, cancel_futures=True)
