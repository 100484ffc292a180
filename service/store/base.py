"""The storage interface of the web service: scenarios, their results, and jobs.

:class:`Store` is what the API and the job runner talk to. The embedded default,
:class:`service.store.sqlite.SQLiteStore`, keeps metadata and jobs in SQLite and one
GeoPackage per scenario; it is the only backend so far, and any other must implement the
same methods and keep the same contract.

Contract every backend keeps:

* Ids are server-generated (UUID hex strings); nothing a client sends becomes a path.
* Writes are atomic: after a crash a scenario, a result or a job result is either
  wholly there or not there at all.
* A job's status moves ``queued -> running -> succeeded | failed | cancelled`` (or
  ``queued -> cancelled``); :meth:`Store.update_job` with ``expect`` only changes a job
  that is still in one of the expected states, so a worker that outlived a restart can
  never overwrite the verdict ``failed: interrupted by a server restart``.
"""

from __future__ import annotations

import re
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd

from gis import InputError, Scenario
from gis.i18n import Lang, load_glossary

from .coordination import LeaderLock, LocalLeaderLock, LocalWindows, WindowCount

if TYPE_CHECKING:
    from .register import RegisterStore

__all__ = [
    "ACTIVE_STATUSES",
    "FINAL_STATUSES",
    "After",
    "JobRecord",
    "JobStatus",
    "NotFoundError",
    "ScenarioRecord",
    "Store",
    "check_id",
    "check_result_name",
    "job_note",
    "job_update",
    "now",
]

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
#: Where a page of a list starts: the ``(created_at, id)`` of the last item of the page before.
After = tuple[str, str]
ACTIVE_STATUSES: tuple[JobStatus, ...] = ("queued", "running")
FINAL_STATUSES: tuple[JobStatus, ...] = ("succeeded", "failed", "cancelled")

# The glossary keys (``texts.input_<key>``) of an id that is no id, by what it should name.
_UNKNOWN_ID_KEYS = {"job": "unknown_job_id", "scenario": "unknown_scenario_id"}
_RESULT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class NotFoundError(InputError, LookupError):
    """An unknown scenario, job or result id (the API answers 404)."""


def now() -> str:
    """The time stores write: UTC, ISO 8601 to the millisecond."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def check_id(value: str, what: str) -> str:
    """Ids are UUID hex strings; anything else is unknown (and never reaches a path or a query)."""
    try:
        if uuid.UUID(hex=value).hex == value:
            return value
    except (ValueError, TypeError, AttributeError):
        pass
    msg = f"Unknown {what} `{value}`. Fix: use an id returned by the API."
    raise NotFoundError(msg, key=_UNKNOWN_ID_KEYS.get(what), values={"id": value})


def job_note(key: str, lang: Lang, **values: object) -> str:
    """A job's note (its status message) ``key`` of the glossary in the job's language ``lang``.

    Examples
    --------
    >>> job_note("job_queued", "en"), job_note("job_queued", "zh")
    ('queued', '排队中')
    """
    return load_glossary().text(key, lang, **values)


def job_update(
    *,
    status: JobStatus | None,
    progress: float | None,
    message: str | None,
    cancel_requested: bool | None,
    mark: str,
) -> tuple[list[str], list[Any]]:
    """The ``SET`` terms and their values of :meth:`Store.update_job`, with ``mark`` as placeholder.

    Starting sets ``started_at`` once; a final status sets ``finished_at``; progress is clipped
    to 0..1. Both stores build their one ``UPDATE`` from it.

    Examples
    --------
    >>> sets, values = job_update(status=None, progress=1.5, message="m", cancel_requested=None, mark="?")
    >>> sets, values
    (['progress = ?', 'message = ?'], [1.0, 'm'])
    """
    sets: list[str] = []
    values: list[Any] = []
    if status is not None:
        sets.append(f"status = {mark}")
        values.append(status)
        if status == "running":
            sets.append(f"started_at = COALESCE(started_at, {mark})")
            values.append(now())
        if status in FINAL_STATUSES:
            sets.append(f"finished_at = {mark}")
            values.append(now())
    if progress is not None:
        sets.append(f"progress = {mark}")
        values.append(min(1.0, max(0.0, float(progress))))
    if message is not None:
        sets.append(f"message = {mark}")
        values.append(message)
    if cancel_requested is not None:
        sets.append(f"cancel_requested = {mark}")
        values.append(bool(cancel_requested))
    return sets, values


def check_result_name(name: str) -> str:
    """Return ``name`` if it is a valid result name (``[a-z][a-z0-9_]{0,63}``), else raise.

    Result names are chosen by server code (``risk_units``, ``coverage``...), never by a
    client, but they still end up in file names, so they are checked.

    Examples
    --------
    >>> check_result_name("coverage_summary")
    'coverage_summary'
    """
    if not _RESULT_NAME.match(name):
        msg = f"Result name `{name!r}` is invalid. Fix: use lower-case letters, digits and `_`."
        raise ValueError(msg)
    return name


@dataclass(frozen=True)
class ScenarioRecord:
    """What the store knows about one scenario without loading its layers.

    Attributes
    ----------
    id
        Server-generated UUID (hex).
    name, label
        The scenario's name, and the name marked ``(synthetic)`` for generated data.
    synthetic
        True for generated data (the demo city).
    crs
        The scenario's metric CRS (``EPSG:32649``, or WKT when it has no code).
    origin
        How it was made: ``demo``, ``upload:geopackage``, ``upload:layers``...
    created_at
        ISO 8601 UTC timestamp.
    layers
        ``{layer name: feature count}``.
    bounds_wgs84
        ``(west, south, east, north)`` in degrees over every layer.
    """

    id: str
    name: str
    label: str
    synthetic: bool
    crs: str
    origin: str
    created_at: str
    layers: Mapping[str, int] = field(default_factory=dict)
    bounds_wgs84: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class JobRecord:
    """One job: what it runs on, its status and progress.

    Attributes
    ----------
    id, scenario_id
        Server-generated UUIDs (hex).
    kind
        Registered job kind (``network``, ``placement``...).
    params
        JSON parameters of the run.
    status
        ``queued``, ``running``, ``succeeded``, ``failed`` or ``cancelled``.
    progress
        Fraction done, 0..1.
    message
        Last progress message, or why the job failed.
    created_at, started_at, finished_at
        ISO 8601 UTC timestamps (``None`` until reached).
    cancel_requested
        True once someone asked to cancel it.
    has_result
        True when a result was stored.
    lang
        The language of its messages, notes and errors (``zh`` or ``en``): its request's,
        resolved at submission (:func:`gis.i18n.resolve_lang`); ``en`` for jobs of earlier releases.
    """

    id: str
    scenario_id: str
    kind: str
    params: Mapping[str, Any]
    status: JobStatus
    progress: float
    message: str
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    cancel_requested: bool = False
    has_result: bool = False
    lang: Lang = "en"


class Store(ABC):
    """Scenarios, named results per scenario, and jobs with their results."""

    # -- scenarios -------------------------------------------------------------------------

    @abstractmethod
    def create_scenario(self, scenario: Scenario, *, origin: str, adopt_gpkg: bool = False) -> ScenarioRecord:
        """Store a validated scenario under a new id and return its record.

        With ``adopt_gpkg``, ``scenario.source`` (a GeoPackage in the standard layout,
        such as one written by :func:`gis.write_demo_scenario`) is copied as is instead
        of being rewritten from the layers.
        """

    @abstractmethod
    def list_scenarios(self, *, limit: int | None = None, after: After | None = None) -> list[ScenarioRecord]:
        """Scenarios, newest first (``created_at``, then ``id``): at most ``limit``, from after ``after``."""

    @abstractmethod
    def get_scenario(self, scenario_id: str) -> ScenarioRecord:
        """The record of one scenario; :class:`NotFoundError` when unknown."""

    @abstractmethod
    def load_scenario(self, scenario_id: str) -> Scenario:
        """Load the layers of one scenario (validated, in its metric CRS)."""

    @abstractmethod
    def delete_scenario(self, scenario_id: str) -> None:
        """Delete a scenario with its results and jobs."""

    # -- results of a scenario -------------------------------------------------------------

    @abstractmethod
    def put_result(self, scenario_id: str, name: str, data: bytes, *, media_type: str) -> None:
        """Store (or replace) the result ``name`` of a scenario as bytes, atomically."""

    @abstractmethod
    def get_result(self, scenario_id: str, name: str) -> tuple[bytes, str]:
        """``(data, media_type)`` of a stored result; :class:`NotFoundError` when absent."""

    @abstractmethod
    def put_result_layers(self, scenario_id: str, name: str, layers: Mapping[str, gpd.GeoDataFrame]) -> None:
        """Store (or replace) a set of GeoDataFrames as the result ``name``, atomically."""

    @abstractmethod
    def read_result_layer(
        self,
        scenario_id: str,
        name: str,
        layer: str,
        *,
        bbox: tuple[float, float, float, float] | None = None,
    ) -> gpd.GeoDataFrame:
        """Read one layer of a stored layer result, optionally within ``bbox`` (its own CRS)."""

    @abstractmethod
    def list_results(self, scenario_id: str) -> list[str]:
        """Names of the results stored for a scenario."""

    # -- jobs ------------------------------------------------------------------------------

    @abstractmethod
    def create_job(
        self, scenario_id: str, kind: str, params: Mapping[str, Any], *, lang: Lang = "en"
    ) -> JobRecord:
        """Record a new ``queued`` job that speaks ``lang`` (its texts are written in it)."""

    @abstractmethod
    def update_job(
        self,
        job_id: str,
        *,
        status: JobStatus | None = None,
        progress: float | None = None,
        message: str | None = None,
        cancel_requested: bool | None = None,
        expect: Iterable[JobStatus] | None = None,
    ) -> bool:
        """Change a job; with ``expect``, only if its status is one of them. True if changed."""

    @abstractmethod
    def get_job(self, job_id: str) -> JobRecord:
        """One job; :class:`NotFoundError` when unknown."""

    @abstractmethod
    def list_jobs(
        self,
        *,
        scenario_id: str | None = None,
        status: JobStatus | None = None,
        limit: int | None = None,
        after: After | None = None,
    ) -> list[JobRecord]:
        """Jobs, newest first, optionally of one scenario or status; paged like :meth:`list_scenarios`."""

    @abstractmethod
    def purge_jobs(self, *, finished_before: str) -> int:
        """Delete the jobs (and results) that finished before an ISO 8601 UTC time; return how many."""

    @abstractmethod
    def put_job_result(
        self,
        job_id: str,
        data: Mapping[str, Any],
        layers: Mapping[str, gpd.GeoDataFrame] | None = None,
    ) -> None:
        """Store a job's JSON result (and optional layers) atomically, before it is marked done."""

    @abstractmethod
    def get_job_result(self, job_id: str) -> dict[str, Any]:
        """The JSON result of a job; :class:`NotFoundError` when it has none."""

    @abstractmethod
    def read_job_result_layer(
        self, job_id: str, layer: str, *, bbox: tuple[float, float, float, float] | None = None
    ) -> gpd.GeoDataFrame:
        """One layer of a job's result."""

    @abstractmethod
    def job_result_layers(self, job_id: str) -> list[str]:
        """Names of the layers of a job's result (empty when it has none)."""

    @abstractmethod
    def mark_interrupted(self, reason: str) -> int:
        """Mark every ``queued`` or ``running`` job failed with ``reason``; return how many."""

    @property
    def register(self) -> RegisterStore:
        """The hidden-danger register kept with this store (:mod:`service.store.register`)."""
        msg = f"{type(self).__name__} keeps no hidden-danger register. Fix: use SQLiteStore."
        raise NotImplementedError(msg)

    def leader_lock(self) -> LeaderLock:
        """A new handle on the lock that elects the one process running jobs (:mod:`.coordination`).

        The default holds within this process only, right for a store that one process
        opens; a store shared by several processes returns a lock they all see (SQLite: an
        ``flock`` next to the database; PostgreSQL: an advisory lock).
        """
        return LocalLeaderLock()

    def compute_slot(self) -> LeaderLock:
        """A new handle on the lock an anonymous reader's build holds while it runs (``service.api.budget``).

        At most one process sharing the store holds it at a time, so N server processes build
        for anonymous readers one at a time, as one process does. The default holds within this
        process only; SQLite: an ``flock`` next to the database; PostgreSQL: an advisory lock.
        """
        return LocalLeaderLock()

    def take_window(
        self, bucket: str, key: str, *, limit: int, window_s: float, now: float | None = None
    ) -> WindowCount:
        """Count one event of ``key`` in the rate window ``bucket``, unless it has ``limit`` already.

        The window slides: the events of the last ``window_s`` seconds (wall clock, ``now``
        default :func:`time.time`) count. The default counts in this process; a store shared
        by several processes counts in the store, atomically, so they enforce one budget.
        """
        windows = self.__dict__.setdefault("_local_windows", LocalWindows())
        return windows.take(bucket, key, limit=limit, window_s=window_s, now=now)

    def close(self) -> None:  # noqa: B027 - optional hook, most backends need nothing
        """Release connections."""
