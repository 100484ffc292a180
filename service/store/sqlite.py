"""The embedded store: SQLite for metadata and jobs, one GeoPackage per scenario.

Layout of the data directory::

    DATA_DIR/riskplan.sqlite3                    metadata, jobs, rate windows and the hidden-danger
                                                 register (WAL mode; :mod:`.register_sqlite`);
                                                 its schema is versioned (:mod:`.migrations`)
    DATA_DIR/jobs.leader                         the job leader's lock (``flock``) and process id
    DATA_DIR/scenarios/<id>/scenario.gpkg        the validated scenario
    DATA_DIR/scenarios/<id>/results/<name>.*     results computed for it
    DATA_DIR/scenarios/<id>/jobs/<job id>.*      job results (JSON, optional GeoPackage)

Crash safety: files are written beside their target and renamed into place
(:func:`gis.atomic.atomic_path`); a new scenario is assembled in a ``.tmp-*`` folder and
renamed to its id in one step, and only then recorded in SQLite, which is the commit point.
Deleting removes the row first, then renames the folder to ``.trash-*`` and removes it.
Opening the store sweeps whatever a crash left behind: ``.tmp-*`` and ``.trash-*`` folders
and scenario folders without a row.

Connections: every write opens a fresh connection (``synchronous=FULL``, foreign keys on) and
commits before it returns. Plain reads (a scenario's row, result and job rows, the lists) go
through one long-lived connection per thread (``query_only``), kept in thread-local storage: a
lookup then costs microseconds instead of opening a connection (about half a millisecond),
and it still reads the database, so it sees what other connections and other processes
committed (autocommit, so no read holds a snapshot between statements). A thread's reader
is closed when the thread ends, all of them by :meth:`SQLiteStore.close`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import sqlite3
import threading
import time
import uuid
import weakref
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd

from gis import Scenario, load_scenario, write_scenario
from gis.atomic import atomic_path, write_gpkg
from gis.i18n import Lang, resolve_lang
from gis.tables import TableOverrides

from ._support import Reader, crs_text, fsync, new_scenario_record, paged, read_layer, scenario_record
from .base import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    After,
    JobRecord,
    JobStatus,
    NotFoundError,
    ScenarioRecord,
    Store,
    check_id,
    check_result_name,
    job_note,
    job_update,
    now,
)
from .coordination import FileLeaderLock, WindowCount
from .migrations import migrate_sqlite
from .register import RegisterStore
from .register_sqlite import SQLiteRegister

__all__ = ["SQLiteStore"]

log = logging.getLogger(__name__)

DB_NAME = "riskplan.sqlite3"
#: The lock file of the anonymous readers' compute slot (:meth:`SQLiteStore.compute_slot`).
COMPUTE_FILE = "anonymous.compute"
#: The job leader's lock file (:class:`~service.store.coordination.FileLeaderLock`).
LEADER_FILE = "jobs.leader"
SCENARIO_FILE = "scenario.gpkg"


class SQLiteStore(Store):
    """The embedded store in ``data_dir`` (created when missing).

    Parameters
    ----------
    data_dir
        Folder holding ``riskplan.sqlite3`` and ``scenarios/``.
    register_workflow
        Overrides of ``register_workflow.toml`` (a TOML path or a mapping): the deployment's
        register workflow (:class:`SQLiteRegister`).

    Examples
    --------
    >>> import tempfile
    >>> store = SQLiteStore(tempfile.mkdtemp())
    >>> store.list_scenarios()
    []
    """

    def __init__(self, data_dir: str | Path, *, register_workflow: TableOverrides = None) -> None:
        self.data_dir = Path(data_dir)
        self.scenarios_dir = self.data_dir / "scenarios"
        self.scenarios_dir.mkdir(parents=True, exist_ok=True)
        self.db_path = self.data_dir / DB_NAME
        migrate_sqlite(self.db_path)  # the schema, brought to this release's version
        self._local = threading.local()
        self._readers: weakref.WeakSet[Reader] = weakref.WeakSet()
        self._readers_lock = threading.Lock()
        self._generation = 0
        self._register = SQLiteRegister(self.db_path, register_workflow=register_workflow)
        self._sweep()

    @property
    def register(self) -> RegisterStore:
        """The hidden-danger register in the same database (:class:`SQLiteRegister`)."""
        return self._register

    def close(self) -> None:
        """Close the per-thread read connections (a later read opens a new one)."""
        with self._readers_lock:
            self._generation += 1
            readers = list(self._readers)
            self._readers.clear()
        for reader in readers:
            reader.conn.close()
        self._register.close()

    # -- plumbing --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A fresh connection per call (threads never share one); commits on success."""
        conn = sqlite3.connect(self.db_path, timeout=30)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=FULL")
            with conn:
                yield conn
        finally:
            conn.close()

    def _read(self) -> sqlite3.Connection:
        """The long-lived read connection of this thread (opened on first use)."""
        reader: Reader | None = getattr(self._local, "reader", None)
        if reader is None or reader.generation != self._generation:
            with self._readers_lock:
                reader = Reader(self.db_path, self._generation)
                self._readers.add(reader)
            self._local.reader = reader
        return reader.conn

    def _sweep(self) -> None:
        """Remove what a crash left behind: temp and trash folders, folders without a row."""
        with self._connect() as conn:
            known = {r["id"] for r in conn.execute("SELECT id FROM scenarios")}
        for entry in self.scenarios_dir.iterdir():
            if entry.name.startswith((".tmp-", ".trash-")) or (entry.is_dir() and entry.name not in known):
                log.warning("removing leftover %s from an interrupted write", entry.name)
                shutil.rmtree(entry, ignore_errors=True)
        for sid in known:
            folder = self.scenarios_dir / sid
            for tmp in [*folder.glob("*/.*.part*"), *folder.glob(".*.part*")]:
                tmp.unlink(missing_ok=True)

    def _scenario_dir(self, scenario_id: str) -> Path:
        self.get_scenario(scenario_id)
        return self.scenarios_dir / scenario_id

    def _exists(self, scenario_id: str) -> bool:
        row = self._read().execute("SELECT 1 FROM scenarios WHERE id = ?", (scenario_id,)).fetchone()
        return row is not None

    @contextlib.contextmanager
    def _unless_deleted(self, scenario_id: str) -> Iterator[None]:
        """Turn any failure of a file operation into :class:`NotFoundError` if the scenario is gone.

        A read or write that started while the scenario existed can find its files deleted
        under it (a concurrent DELETE); that is an unknown scenario, not a server error. A
        write that recreated the folder after the deletion (:func:`atomic_path` makes
        parents) is cleaned up: it has no row, so it is an orphan.
        """
        try:
            yield
        except NotFoundError:
            raise
        except Exception:
            if self._exists(scenario_id):
                raise
            shutil.rmtree(self.scenarios_dir / scenario_id, ignore_errors=True)
            msg = (
                f"Unknown scenario `{scenario_id}`: it was deleted. "
                "Fix: list scenarios with GET /api/v1/scenarios."
            )
            raise NotFoundError(msg, key="scenario_deleted", values={"id": scenario_id}) from None

    # -- scenarios -------------------------------------------------------------------------

    def create_scenario(self, scenario: Scenario, *, origin: str, adopt_gpkg: bool = False) -> ScenarioRecord:
        """Write the scenario's GeoPackage into a new folder, rename it to its id, then record it."""
        sid = uuid.uuid4().hex
        tmp = self.scenarios_dir / f".tmp-{sid}"
        final = self.scenarios_dir / sid
        tmp.mkdir()
        try:
            target = tmp / SCENARIO_FILE
            if adopt_gpkg and scenario.source is not None:
                with atomic_path(target) as part:
                    shutil.copyfile(scenario.source, part)
            else:
                meta = {"metric_crs": crs_text(scenario.crs)}
                write_scenario(scenario, target, metadata=meta)
            fsync(target)
            fsync(tmp)
            tmp.rename(final)
            fsync(self.scenarios_dir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        record = new_scenario_record(sid, scenario, origin=origin)
        try:
            with self._connect() as conn:
                conn.execute(
                    "INSERT INTO scenarios VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        record.id,
                        record.name,
                        record.label,
                        int(record.synthetic),
                        record.crs,
                        record.origin,
                        record.created_at,
                        json.dumps(dict(record.layers)),
                        json.dumps(record.bounds_wgs84),
                    ),
                )
        except BaseException:
            shutil.rmtree(final, ignore_errors=True)
            raise
        log.info("stored scenario %s (%s) from %s", sid, record.label, origin)
        return record

    @staticmethod
    def _scenario_record(row: sqlite3.Row) -> ScenarioRecord:
        bounds = json.loads(row["bounds"]) if row["bounds"] else None
        return scenario_record(row, layers=json.loads(row["layers"]), bounds=bounds)

    def list_scenarios(self, *, limit: int | None = None, after: After | None = None) -> list[ScenarioRecord]:
        """Scenarios, newest first (``created_at``, then ``id``): at most ``limit``, from after ``after``."""
        query, values = paged("SELECT * FROM scenarios WHERE 1 = 1", [], limit, after)
        rows = self._read().execute(query, values).fetchall()
        return [self._scenario_record(r) for r in rows]

    def get_scenario(self, scenario_id: str) -> ScenarioRecord:
        """The record of one scenario; :class:`NotFoundError` when unknown."""
        check_id(scenario_id, "scenario")
        row = self._read().execute("SELECT * FROM scenarios WHERE id = ?", (scenario_id,)).fetchone()
        if row is None:
            msg = f"Unknown scenario `{scenario_id}`. Fix: list scenarios with GET /api/v1/scenarios."
            raise NotFoundError(msg, key="unknown_scenario", values={"id": scenario_id})
        return self._scenario_record(row)

    def load_scenario(self, scenario_id: str) -> Scenario:
        """Load the scenario's GeoPackage (validated, in its metric CRS)."""
        with self._unless_deleted(scenario_id):
            return load_scenario(self._scenario_dir(scenario_id) / SCENARIO_FILE)

    def delete_scenario(self, scenario_id: str) -> None:
        """Delete the scenario's row, then its folder (results and job results with it)."""
        self.get_scenario(scenario_id)
        with self._connect() as conn:
            conn.execute("DELETE FROM scenarios WHERE id = ?", (scenario_id,))
        trash = self.scenarios_dir / f".trash-{scenario_id}"
        with contextlib.suppress(FileNotFoundError):
            (self.scenarios_dir / scenario_id).rename(trash)
        shutil.rmtree(trash, ignore_errors=True)
        log.info("deleted scenario %s", scenario_id)

    # -- results ---------------------------------------------------------------------------

    def _record_result(self, scenario_id: str, name: str, kind: str, media_type: str) -> None:
        with self._connect() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?)",
                (scenario_id, name, kind, media_type, now()),
            )

    def _result_row(self, scenario_id: str, name: str) -> sqlite3.Row:
        self.get_scenario(scenario_id)
        row = (
            self._read()
            .execute("SELECT * FROM results WHERE scenario_id = ? AND name = ?", (scenario_id, name))
            .fetchone()
        )
        if row is None:
            msg = f"Scenario `{scenario_id}` has no result `{name}` yet. Fix: compute it first."
            raise NotFoundError(msg)
        return row

    def put_result(self, scenario_id: str, name: str, data: bytes, *, media_type: str) -> None:
        """Write the result ``name`` as bytes (atomically), then record it."""
        with self._unless_deleted(scenario_id):
            path = self._scenario_dir(scenario_id) / "results" / f"{check_result_name(name)}.bin"
            with atomic_path(path) as tmp:
                tmp.write_bytes(data)
            self._record_result(scenario_id, name, "bytes", media_type)

    def get_result(self, scenario_id: str, name: str) -> tuple[bytes, str]:
        """``(data, media_type)`` of a stored bytes result; :class:`NotFoundError` when absent."""
        with self._unless_deleted(scenario_id):
            row = self._result_row(scenario_id, check_result_name(name))
            if row["kind"] != "bytes":
                msg = f"Result `{name}` holds layers. Fix: read it with read_result_layer."
                raise NotFoundError(msg)
            path = self.scenarios_dir / scenario_id / "results" / f"{name}.bin"
            return path.read_bytes(), row["media_type"]

    def put_result_layers(self, scenario_id: str, name: str, layers: Mapping[str, gpd.GeoDataFrame]) -> None:
        """Write the result ``name`` as one GeoPackage (atomically), then record it."""
        with self._unless_deleted(scenario_id):
            path = self._scenario_dir(scenario_id) / "results" / f"{check_result_name(name)}.gpkg"
            write_layers(path, layers)
            self._record_result(scenario_id, name, "layers", "application/geopackage+sqlite3")

    def read_result_layer(
        self,
        scenario_id: str,
        name: str,
        layer: str,
        *,
        bbox: tuple[float, float, float, float] | None = None,
    ) -> gpd.GeoDataFrame:
        """Read one layer of a stored layer result, optionally within ``bbox`` (its own CRS)."""
        with self._unless_deleted(scenario_id):
            row = self._result_row(scenario_id, check_result_name(name))
            path = self.scenarios_dir / scenario_id / "results" / f"{name}.gpkg"
            if row["kind"] != "layers":
                msg = f"Result `{name}` is not a layer result."
                raise NotFoundError(msg)
            return read_layer(path, layer, bbox)

    def list_results(self, scenario_id: str) -> list[str]:
        """Names of the results recorded for a scenario, sorted."""
        self.get_scenario(scenario_id)
        rows = (
            self._read()
            .execute("SELECT name FROM results WHERE scenario_id = ? ORDER BY name", (scenario_id,))
            .fetchall()
        )
        return [r["name"] for r in rows]

    # -- jobs ------------------------------------------------------------------------------

    def create_job(
        self, scenario_id: str, kind: str, params: Mapping[str, Any], *, lang: Lang = "en"
    ) -> JobRecord:
        """Record a new ``queued`` job on an existing scenario, speaking ``lang``."""
        self.get_scenario(scenario_id)
        job = JobRecord(
            id=uuid.uuid4().hex,
            scenario_id=scenario_id,
            kind=kind,
            params=dict(params),
            status="queued",
            progress=0.0,
            message=job_note("job_queued", lang),
            created_at=now(),
            lang=resolve_lang(lang),
        )
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO jobs (id, scenario_id, kind, params, status, progress, message, created_at,"
                " lang) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job.id,
                    scenario_id,
                    kind,
                    json.dumps(job.params),
                    job.status,
                    0.0,
                    job.message,
                    job.created_at,
                    job.lang,
                ),
            )
        return job

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
        """Change a job in one statement; with ``expect``, only if its status is one of them."""
        check_id(job_id, "job")
        sets, values = job_update(
            status=status, progress=progress, message=message, cancel_requested=cancel_requested, mark="?"
        )
        if not sets:
            return False
        where = "id = ?"
        values.append(job_id)
        if expect is not None:
            states = list(expect)
            where += f" AND status IN ({', '.join('?' * len(states))})"
            values += states
        with self._connect() as conn:
            changed = conn.execute(f"UPDATE jobs SET {', '.join(sets)} WHERE {where}", values).rowcount
        return changed > 0

    @staticmethod
    def _job_record(row: sqlite3.Row) -> JobRecord:
        return JobRecord(
            id=row["id"],
            scenario_id=row["scenario_id"],
            kind=row["kind"],
            params=json.loads(row["params"]),
            status=row["status"],
            progress=row["progress"],
            message=row["message"],
            created_at=row["created_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            cancel_requested=bool(row["cancel_requested"]),
            has_result=bool(row["has_result"]),
            lang=row["lang"],
        )

    def _job_row(self, job_id: str) -> sqlite3.Row:
        check_id(job_id, "job")
        row = self._read().execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            msg = f"Unknown job `{job_id}`. Fix: list jobs with GET /api/v1/jobs."
            raise NotFoundError(msg, key="unknown_job", values={"id": job_id})
        return row

    def get_job(self, job_id: str) -> JobRecord:
        """One job; :class:`NotFoundError` when unknown."""
        return self._job_record(self._job_row(job_id))

    def list_jobs(
        self,
        *,
        scenario_id: str | None = None,
        status: JobStatus | None = None,
        limit: int | None = None,
        after: After | None = None,
    ) -> list[JobRecord]:
        """Jobs, newest first, optionally of one scenario or status; paged like :meth:`list_scenarios`."""
        query, values = "SELECT * FROM jobs WHERE 1 = 1", []
        if scenario_id is not None:
            query += " AND scenario_id = ?"
            values.append(scenario_id)
        if status is not None:
            query += " AND status = ?"
            values.append(status)
        query, values = paged(query, values, limit, after)
        rows = self._read().execute(query, values).fetchall()
        return [self._job_record(r) for r in rows]

    def purge_jobs(self, *, finished_before: str) -> int:
        """Delete the jobs (rows, then files) finished before an ISO 8601 UTC time; return how many."""
        placeholders = ", ".join("?" * len(FINAL_STATUSES))
        where = f"status IN ({placeholders}) AND finished_at IS NOT NULL AND finished_at < ?"
        values = (*FINAL_STATUSES, finished_before)
        rows = self._read().execute(f"SELECT id, scenario_id FROM jobs WHERE {where}", values).fetchall()
        if not rows:
            return 0
        with self._connect() as conn:
            n = conn.execute(f"DELETE FROM jobs WHERE {where}", values).rowcount
        for row in rows:
            folder = self.scenarios_dir / row["scenario_id"] / "jobs"
            for path in (folder / f"{row['id']}.json", folder / f"{row['id']}.gpkg"):
                path.unlink(missing_ok=True)
        log.info("purged %d finished job(s) older than %s", n, finished_before)
        return int(n)

    def _job_paths(self, job_id: str) -> tuple[Path, Path]:
        row = self._job_row(job_id)
        folder = self.scenarios_dir / row["scenario_id"] / "jobs"
        return folder / f"{job_id}.json", folder / f"{job_id}.gpkg"

    def put_job_result(
        self,
        job_id: str,
        data: Mapping[str, Any],
        layers: Mapping[str, gpd.GeoDataFrame] | None = None,
    ) -> None:
        """Write a job's JSON result (and layers) atomically, then record that it has one."""
        json_path, gpkg_path = self._job_paths(job_id)
        scenario_id = json_path.parent.parent.name
        if not json_path.parent.parent.is_dir():  # the scenario was deleted meanwhile
            msg = f"Job `{job_id}` lost its scenario; its result is dropped."
            raise NotFoundError(msg, key="job_lost_scenario", values={"id": job_id})
        with self._unless_deleted(scenario_id):
            if layers:
                write_layers(gpkg_path, layers)
            with atomic_path(json_path) as tmp:
                tmp.write_text(json.dumps(data, ensure_ascii=False, allow_nan=False), encoding="utf-8")
            with self._connect() as conn:
                changed = conn.execute(
                    "UPDATE jobs SET has_result = 1, result_layers = ? WHERE id = ?",
                    (json.dumps(sorted(layers or {})), job_id),
                ).rowcount
            if not changed:
                raise FileNotFoundError(job_id)  # the job went with its scenario

    def get_job_result(self, job_id: str) -> dict[str, Any]:
        """The JSON result of a job; :class:`NotFoundError` when it has none."""
        row = self._job_row(job_id)
        if not row["has_result"]:
            msg = f"Job `{job_id}` has no result (status `{row['status']}`). Fix: wait until it succeeded."
            raise NotFoundError(msg, key="job_no_result", values={"id": job_id, "status": row["status"]})
        json_path, _ = self._job_paths(job_id)
        with self._unless_deleted(row["scenario_id"]):
            return dict(json.loads(json_path.read_text(encoding="utf-8")))

    def job_result_layers(self, job_id: str) -> list[str]:
        """Names of the layers of a job's result (empty when it has none)."""
        return list(json.loads(self._job_row(job_id)["result_layers"]))

    def read_job_result_layer(
        self, job_id: str, layer: str, *, bbox: tuple[float, float, float, float] | None = None
    ) -> gpd.GeoDataFrame:
        """One layer of a job's result, optionally within ``bbox`` (its own CRS)."""
        if layer not in self.job_result_layers(job_id):
            msg = f"Job `{job_id}` has no result layer `{layer}`."
            raise NotFoundError(msg, key="job_no_layer", values={"id": job_id, "layer": layer})
        _, gpkg_path = self._job_paths(job_id)
        with self._unless_deleted(gpkg_path.parent.parent.name):
            return read_layer(gpkg_path, layer, bbox)

    # -- several processes ------------------------------------------------------------------

    def leader_lock(self) -> FileLeaderLock:
        """An ``flock`` on ``DATA_DIR/jobs.leader``: the kernel drops it when the holder dies."""
        return FileLeaderLock(self.data_dir / LEADER_FILE)

    def compute_slot(self) -> FileLeaderLock:
        """An ``flock`` on ``DATA_DIR/anonymous.compute``: one anonymous build at a time in all processes."""
        return FileLeaderLock(self.data_dir / COMPUTE_FILE)

    def take_window(
        self, bucket: str, key: str, *, limit: int, window_s: float, now: float | None = None
    ) -> WindowCount:
        """Count one event in the table ``rate_windows``, in one write transaction (all processes)."""
        t = time.time() if now is None else now
        conn = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA synchronous=NORMAL")  # a lost count after a power cut is harmless
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("DELETE FROM rate_windows WHERE bucket = ? AND at <= ?", (bucket, t - window_s))
                count, oldest = conn.execute(
                    "SELECT count(*), min(at) FROM rate_windows WHERE bucket = ? AND key = ?", (bucket, key)
                ).fetchone()
                if count >= limit:
                    conn.execute("ROLLBACK")
                    return WindowCount(False, int(count), float(oldest) + window_s - t)
                conn.execute("INSERT INTO rate_windows VALUES (?, ?, ?)", (bucket, key, t))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return WindowCount(True, int(count))
        finally:
            conn.close()

    def mark_interrupted(self, reason: str) -> int:
        """Mark every ``queued`` or ``running`` job failed with ``reason``; return how many."""
        placeholders = ", ".join("?" * len(ACTIVE_STATUSES))
        with self._connect() as conn:
            n = conn.execute(
                f"UPDATE jobs SET status = 'failed', message = ?, finished_at = ? "
                f"WHERE status IN ({placeholders})",
                (reason, now(), *ACTIVE_STATUSES),
            ).rowcount
        if n:
            log.warning("%d job(s) marked failed: %s", n, reason)
        return int(n)


def write_layers(path: Path, layers: Mapping[str, gpd.GeoDataFrame]) -> None:
    for name in layers:
        check_result_name(name)
    write_gpkg(path, layers, durable=True)
