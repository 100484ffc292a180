"""Long runs outside the request: a registry of job kinds and a bounded worker pool.

A *job kind* is a function ``(scenario, params, progress, cancel) -> result``:

* ``scenario`` is the loaded :class:`gis.Scenario`;
* ``params`` the JSON parameters, already checked by the kind's ``check_params``;
* ``progress(fraction, message="")`` reports progress (0..1); it raises
  :class:`JobCancelled` once cancellation was asked for, so a job that reports progress
  regularly stops by itself;
* ``cancel`` is a :class:`threading.Event`, set when the job should stop;
* the result is a JSON-serialisable mapping, or a :class:`JobOutput` that adds
  GeoDataFrames (served as GeoJSON by the API).

The built-in kinds are in :mod:`service.job_kinds`; adding one is one call there (or in a
plugin named by ``RISKPLAN_JOB_PLUGINS=module:function`` / ``riskplan serve --job-plugin``)::

    registry.register("placement", run_placement, description="...", check_params=check)

:class:`JobRunner` runs at most ``max_workers`` jobs at once in threads, records status and
progress in the :class:`~service.store.Store`, stores results before marking a job
succeeded, and on start marks jobs left ``queued`` or ``running`` by a previous process as
failed: ``interrupted by a server restart``. On shutdown (SIGTERM) it marks its own queued and
running jobs failed at once: ``interrupted by a server shutdown`` (they are not requeued; start
them again). Finished jobs older than the retention period are deleted.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import geopandas as gpd

from gis import InputError, Scenario

from ._graphs import GraphSource, bound_graphs
from .store import FINAL_STATUSES, JobRecord, Store

__all__ = [
    "INTERRUPTED",
    "SHUT_DOWN",
    "BusyError",
    "JobCancelled",
    "JobFunction",
    "JobKind",
    "JobOutput",
    "JobRegistry",
    "JobRunner",
    "JobStateError",
    "Progress",
    "default_registry",
    "load_plugins",
]

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted by a server restart"
#: What jobs still queued or running when the server shuts down (SIGTERM) end as: ``failed``.
SHUT_DOWN = "interrupted by a server shutdown"
_PROGRESS_INTERVAL_S = 0.2

Progress = Callable[..., None]


class JobCancelled(Exception):  # noqa: N818 - it is a signal, not an error
    """Raised inside a job (by ``progress``) once it should stop."""


class JobStateError(InputError):
    """The job cannot do that in its current state (cancel a finished job...): HTTP 409."""


class BusyError(InputError):
    """Too many jobs are waiting; try later (HTTP 503)."""


@dataclass(frozen=True)
class JobOutput:
    """What a job returns: JSON data plus optional layers (stored as a GeoPackage)."""

    data: Mapping[str, Any]
    layers: Mapping[str, gpd.GeoDataFrame] = field(default_factory=dict)


JobFunction = Callable[
    [Scenario, Mapping[str, Any], Progress, threading.Event], "JobOutput | Mapping[str, Any]"
]
ParamsCheck = Callable[[Mapping[str, Any]], Mapping[str, Any]]


@dataclass(frozen=True)
class JobKind:
    """A registered kind of job.

    ``params_schema`` is the JSON Schema of its parameters, published in the OpenAPI schema
    (``None``: any object); it must accept exactly what ``check_params`` accepts.
    """

    name: str
    func: JobFunction
    description: str
    check_params: ParamsCheck | None = None
    params_schema: Mapping[str, Any] | None = None


class JobRegistry:
    """The job kinds one app can run (each app has its own registry; nothing is global).

    Examples
    --------
    >>> registry = JobRegistry()
    >>> registry.register("noop", lambda sc, params, progress, cancel: {}, description="does nothing")
    >>> [k.name for k in registry.kinds()]
    ['noop']
    """

    def __init__(self) -> None:
        self._kinds: dict[str, JobKind] = {}

    def register(
        self,
        name: str,
        func: JobFunction,
        *,
        description: str,
        check_params: ParamsCheck | None = None,
        params_schema: Mapping[str, Any] | None = None,
    ) -> None:
        """Add the kind ``name``; ``check_params`` validates and normalises parameters, and
        ``params_schema`` (JSON Schema) documents them."""
        if name in self._kinds:
            msg = f"Job kind `{name}` is registered twice. Fix: give the new kind another name."
            raise ValueError(msg)
        self._kinds[name] = JobKind(name, func, description, check_params, params_schema)

    def get(self, name: str) -> JobKind:
        """The kind ``name``, or an :class:`InputError` listing the known kinds."""
        try:
            return self._kinds[name]
        except KeyError:
            msg = f"Unknown job kind `{name}`. Fix: use one of {sorted(self._kinds)}."
            raise InputError(msg) from None

    def kinds(self) -> list[JobKind]:
        """Every kind, by name."""
        return [self._kinds[n] for n in sorted(self._kinds)]


def load_plugins(registry: JobRegistry, specs: Sequence[str]) -> None:
    """Call each ``module:function`` in ``specs`` with ``registry`` so it can register kinds."""
    for spec in specs:
        module_name, _, func_name = spec.partition(":")
        try:
            hook = getattr(importlib.import_module(module_name), func_name or "register")
        except (ImportError, AttributeError) as exc:
            msg = f"Job plugin `{spec}` cannot be loaded ({exc}). Fix: give `module:function`."
            raise InputError(msg) from None
        hook(registry)


def default_registry(plugins: Sequence[str] = ()) -> JobRegistry:
    """A fresh registry with the built-in job kinds (:mod:`service.job_kinds`), then the ``plugins``'."""
    from . import job_kinds

    registry = JobRegistry()
    job_kinds.register_builtin(registry)
    load_plugins(registry, plugins)
    return registry


# -- the runner ----------------------------------------------------------------------------------


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
        :func:`service._graphs.job_graph` reads the service's graph cache.
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
