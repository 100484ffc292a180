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

Adding a kind is one call in :func:`default_registry` (or in a plugin named by
``RISKPLAN_JOB_PLUGINS=module:function`` / ``riskplan serve --job-plugin``)::

    registry.register("placement", run_placement, description="...", check_params=check)

:class:`JobRunner` runs at most ``max_workers`` jobs at once in threads, records status and
progress in the :class:`~service.store.Store`, stores results before marking a job
succeeded, and on start marks jobs left ``queued`` or ``running`` by a previous process as
failed: ``interrupted by a server restart``.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis import InputError, Scenario

from .store import FINAL_STATUSES, JobRecord, Store

__all__ = [
    "INTERRUPTED",
    "BusyError",
    "JobCancelled",
    "JobFunction",
    "JobKind",
    "JobOutput",
    "JobRegistry",
    "JobRunner",
    "JobStateError",
    "Progress",
    "check_depots_params",
    "check_placement_params",
    "default_registry",
    "load_plugins",
    "run_depots_job",
    "run_network_job",
    "run_placement_job",
]

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted by a server restart"
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
    """A registered kind of job."""

    name: str
    func: JobFunction
    description: str
    check_params: ParamsCheck | None = None


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
    ) -> None:
        """Add the kind ``name``; ``check_params`` validates and normalises parameters."""
        if name in self._kinds:
            msg = f"Job kind `{name}` is registered twice. Fix: give the new kind another name."
            raise ValueError(msg)
        self._kinds[name] = JobKind(name, func, description, check_params)

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
    """A fresh registry with the built-in job kinds, then the ``plugins``' kinds."""
    registry = JobRegistry()
    registry.register(
        "network",
        run_network_job,
        description="Build the road network and snap stations, depots, hazards and communities to it.",
        check_params=check_network_params,
    )
    registry.register(
        "placement",
        run_placement_job,
        description=(
            "Propose new fire stations (lscp, mclp, p-median, p-center or backup) under a "
            "response standard, with the reason for each and the coverage trade-off curve."
        ),
        check_params=check_placement_params,
    )
    registry.register(
        "depots",
        run_depots_job,
        description="Assign communities to relief depots and size their stock for a number of days.",
        check_params=check_depots_params,
    )
    load_plugins(registry, plugins)
    return registry


# -- the built-in network job -------------------------------------------------------------------


def check_network_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Check the parameters of a ``network`` job: ``max_snap_m`` (> 0), ``cache``, ``speeds``.

    Examples
    --------
    >>> check_network_params({"max_snap_m": 250})
    {'max_snap_m': 250.0, 'cache': True, 'speeds': None}
    """
    unknown = sorted(set(params) - {"max_snap_m", "cache", "speeds"})
    if unknown:
        msg = f"Unknown network job parameter(s) {unknown}. Fix: use `max_snap_m`, `cache`, `speeds`."
        raise InputError(msg)
    snap = params.get("max_snap_m")
    is_number = isinstance(snap, int | float) and not isinstance(snap, bool)
    if snap is not None and not (is_number and np.isfinite(snap) and 0 < snap <= 100_000):
        msg = "`max_snap_m` must be a number of metres in (0, 100000]. Fix: e.g. 500."
        raise InputError(msg)
    cache = params.get("cache", True)
    speeds = params.get("speeds")
    if not isinstance(cache, bool) or not (speeds is None or isinstance(speeds, Mapping)):
        msg = "`cache` must be true/false and `speeds` a table of road class speeds (not a path)."
        raise InputError(msg)
    return {"max_snap_m": None if snap is None else float(snap), "cache": cache, "speeds": speeds}


def run_network_job(
    scenario: Scenario, params: Mapping[str, Any], progress: Progress, cancel: threading.Event
) -> JobOutput:
    """Build the road network of ``scenario`` and report how its points snap to it."""
    from .pipeline import build_network

    progress(0.05, "building the road network")
    run = build_network(
        scenario, speeds=params.get("speeds"), max_snap_m=params.get("max_snap_m"), cache=params["cache"]
    )
    progress(0.9, "summarising the snapping report")
    frames = []
    summary: dict[str, dict[str, Any]] = {}
    for layer, table in run.snaps.items():
        points = scenario[layer].geometry.loc[table.index].representative_point()
        frames.append(
            gpd.GeoDataFrame(
                {
                    "layer": layer,
                    "id": table.index.astype(str),
                    "node": table["node"].astype(str).to_numpy(),
                    "snap_distance_m": table["snap_distance_m"].to_numpy(float),
                    "flagged": table["flagged"].to_numpy(bool),
                },
                geometry=points.to_numpy(),
                crs=scenario.crs,
            )
        )
        distance = table["snap_distance_m"]
        summary[layer] = {
            "points": len(table),
            "flagged": int(table["flagged"].sum()),
            "median_snap_m": round(float(distance.median()), 1) if len(table) else None,
            "max_snap_m": round(float(distance.max()), 1) if len(table) else None,
        }
    report = run.graph.graph.get("report")
    data = {
        "scenario": scenario.label,
        "synthetic": scenario.synthetic,
        "nodes": run.graph.number_of_nodes(),
        "edges": run.graph.number_of_edges(),
        "report": str(report) if report is not None else None,
        "snapping": summary,
        "flagged": run.flagged,
    }
    snapping = pd.concat(frames, ignore_index=True) if frames else None
    return JobOutput(data, {"snapping": gpd.GeoDataFrame(snapping, crs=scenario.crs)} if frames else {})


# -- the built-in planning jobs (placement, depots) ----------------------------------------------

PLACEMENT_MODELS = ("lscp", "mclp", "p-median", "p-center", "backup")
DISTANCES = ("network", "euclidean")


def _unknown_params(kind: str, params: Mapping[str, Any], known: Sequence[str]) -> None:
    unknown = sorted(set(params) - set(known))
    if unknown:
        names = ", ".join(f"`{k}`" for k in known)
        msg = f"Unknown {kind} job parameter(s) {unknown}. Fix: use {names}."
        raise InputError(msg)


def _choice(params: Mapping[str, Any], name: str, choices: Sequence[str], default: str) -> str:
    value = params.get(name, default)
    if value not in choices:
        msg = f"`{name}` is {value!r}. Fix: use one of {list(choices)}."
        raise InputError(msg)
    return str(value)


def _whole(params: Mapping[str, Any], name: str, low: int, high: int, default: int) -> int:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        msg = f"`{name}` is {value!r}. Fix: give a whole number from {low} to {high}."
        raise InputError(msg)
    return value


def check_placement_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Check the parameters of a ``placement`` job.

    ``model`` (lscp, mclp, p-median, p-center, backup; default mclp), ``n_new`` (1..50,
    default 3), ``distance`` (network, euclidean), ``standard`` (a shipped response profile),
    ``time_limit_s`` (1..300 s per solve, default 30).

    Examples
    --------
    >>> check_placement_params({"n_new": 2})
    {'model': 'mclp', 'n_new': 2, 'distance': 'network', 'standard': 'cn-gb51080', 'time_limit_s': 30}
    """
    from planning import standard_names

    _unknown_params("placement", params, ("model", "n_new", "distance", "standard", "time_limit_s"))
    return {
        "model": _choice(params, "model", PLACEMENT_MODELS, "mclp"),
        "n_new": _whole(params, "n_new", 1, 50, 3),
        "distance": _choice(params, "distance", DISTANCES, "network"),
        "standard": _choice(params, "standard", standard_names(), "cn-gb51080"),
        "time_limit_s": _whole(params, "time_limit_s", 1, 300, 30),
    }


def check_depots_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Check the parameters of a ``depots`` job: ``days`` (1..90, default 7), ``distance``.

    Examples
    --------
    >>> check_depots_params({"distance": "euclidean"})
    {'days': 7, 'distance': 'euclidean'}
    """
    _unknown_params("depots", params, ("days", "distance"))
    return {
        "days": _whole(params, "days", 1, 90, 7),
        "distance": _choice(params, "distance", DISTANCES, "network"),
    }


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows (NaN and infinities as null)."""
    clean = table.replace([np.inf, -np.inf], np.nan).astype(object)
    return [
        {str(k): (None if pd.isna(v) else v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in clean.to_dict(orient="records")
    ]


def _plain(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Columns a GeoPackage stores: the index as ``id``, lists and objects as text."""
    out = gdf.copy()
    if "id" not in out.columns:
        out.insert(0, "id", out.index.astype(str))
    for col in out.columns:
        if col != out.geometry.name and out[col].dtype == object:
            out[col] = out[col].map(
                lambda v: (
                    None
                    if v is None
                    else "; ".join(map(str, v))
                    if isinstance(v, list | tuple | set)
                    else str(v)
                )
            )
    return out.reset_index(drop=True)


def _planning_inputs(scenario: Scenario, distance: str, standard: str, progress: Progress) -> tuple[Any, Any]:
    """The road graph (None for straight-line distances) and the risk result, in two stages."""
    from gis import scenario_graph

    from .pipeline import assess

    progress(0.05, "building the road network")
    graph = scenario_graph(scenario, cache=True)
    progress(0.2, "scoring risk (coverage, then risk per community)")
    _, risk = assess(scenario, graph=graph, standard=standard)
    return (graph if distance == "network" else None), risk


def _tradeoff_layer(tradeoff: pd.DataFrame, sites: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The trade-off table, each row with the new sites it adds as a multipoint."""
    points = sites.geometry
    geoms = []
    for value in tradeoff["sites"].astype(str):
        ids = [s.strip() for s in value.replace(",", ";").split(";") if s.strip() in points.index]
        geoms.append(shapely.MultiPoint([points.loc[i] for i in ids]) if ids else None)
    return gpd.GeoDataFrame(tradeoff.reset_index(drop=True), geometry=geoms, crs=sites.crs)


def run_placement_job(
    scenario: Scenario, params: Mapping[str, Any], progress: Progress, cancel: threading.Event
) -> JobOutput:
    """Propose ``n_new`` fire stations with :func:`planning.plan_stations`."""
    from planning import plan_stations

    graph, risk = _planning_inputs(scenario, params["distance"], params["standard"], progress)
    progress(0.5, f"solving {params['model']} for {params['n_new']} new station(s)")
    plan = plan_stations(
        scenario,
        graph,
        model=params["model"],
        n_new=params["n_new"],
        standard=params["standard"],
        risk=risk,
        distance=params["distance"],
        time_limit_s=params["time_limit_s"],
    )
    progress(0.9, "storing the plan")
    proposed = _plain(plan.proposed)
    tradeoff = plan.tradeoff
    data = {
        "scenario": scenario.label,
        "synthetic": scenario.synthetic,
        **params,
        "proposed": _records(pd.DataFrame(proposed.drop(columns=proposed.geometry.name))),
        "tradeoff": _records(tradeoff),
        "summary": {str(k): v for k, v in zip(plan.summary.index, _records(plan.summary), strict=True)},
        "recommended_n": int(plan.recommended_n),
        "notes": [str(n) for n in plan.notes],
    }
    layers = {
        "proposed": proposed,
        "candidates": _plain(plan.candidates),
        "communities": _plain(plan.communities),
        "tradeoff": _tradeoff_layer(tradeoff, plan.candidates),
    }
    return JobOutput(data, layers)


def run_depots_job(
    scenario: Scenario, params: Mapping[str, Any], progress: Progress, cancel: threading.Event
) -> JobOutput:
    """Assign communities to relief depots and size the stock with :func:`planning.plan_depots`."""
    from planning import plan_depots

    graph, risk = _planning_inputs(scenario, params["distance"], "cn-gb51080", progress)
    progress(0.5, f"assigning communities and sizing {params['days']} day(s) of stock")
    plan = plan_depots(scenario, graph, risk=risk, days=params["days"], distance=params["distance"])
    progress(0.9, "storing the plan")
    depots = _plain(plan.depots)
    stock = plan.stock.reset_index(drop=True)
    where = depots.set_index("id").geometry
    stock_layer = gpd.GeoDataFrame(
        stock, geometry=stock["depot"].astype(str).map(where).to_numpy(), crs=depots.crs
    )
    communities = _plain(plan.communities)
    data = {
        "scenario": scenario.label,
        "synthetic": scenario.synthetic,
        **params,
        "status": str(plan.status),
        "table": _records(plan.table().rename_axis("depot").reset_index()),
        "unmet_people": float(communities["unmet_people"].fillna(0).sum()),
        "notes": [str(n) for n in plan.notes],
    }
    return JobOutput(data, {"communities": communities, "depots": depots, "stock": _plain(stock_layer)})


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
    """

    def __init__(
        self,
        store: Store,
        registry: JobRegistry,
        load_scenario: Callable[[str], Scenario],
        *,
        max_workers: int = 2,
        max_queued: int = 100,
    ) -> None:
        self.store = store
        self.registry = registry
        self._load = load_scenario
        self.max_workers = max_workers
        self.max_queued = max_queued
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="riskplan-job")
        self._lock = threading.Lock()
        self._active: dict[str, tuple[Future[None], threading.Event]] = {}
        self._closing = threading.Event()
        store.mark_interrupted(INTERRUPTED)

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
        """Stop taking jobs, drop queued ones and ask running ones to stop."""
        self._closing.set()
        with self._lock:
            active = dict(self._active)
        for job_id, (_, event) in active.items():
            event.set()
            self.store.update_job(job_id, status="failed", message=SHUT_DOWN, expect=["queued"])
        self._pool.shutdown(wait=wait, cancel_futures=True)
