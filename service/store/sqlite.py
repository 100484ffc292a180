"""The embedded store: SQLite for metadata and jobs, one GeoPackage per scenario.

Layout of the data directory::

    DATA_DIR/riskplan.sqlite3                    metadata and jobs (WAL mode)
    DATA_DIR/scenarios/<id>/scenario.gpkg        the validated scenario
    DATA_DIR/scenarios/<id>/results/<name>.*     results computed for it
    DATA_DIR/scenarios/<id>/jobs/<job id>.*      job results (JSON, optional GeoPackage)

Crash safety: files are written beside their target and renamed into place
(:func:`gis._atomic.atomic_path`); a new scenario is assembled in a ``.tmp-*`` folder and
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
import os
import shutil
import sqlite3
import threading
import uuid
import weakref
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
import pyproj

from gis import Scenario, load_scenario, write_scenario
from gis._atomic import atomic_path

from .base import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    JobRecord,
    JobStatus,
    NotFoundError,
    ScenarioRecord,
    Store,
    check_result_name,
)

__all__ = ["SQLiteStore"]

log = logging.getLogger(__name__)

DB_NAME = "riskplan.sqlite3"
SCENARIO_FILE = "scenario.gpkg"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS scenarios (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    label TEXT NOT NULL,
    synthetic INTEGER NOT NULL,
    crs TEXT NOT NULL,
    origin TEXT NOT NULL,
    created_at TEXT NOT NULL,
    layers TEXT NOT NULL,
    bounds TEXT
);
CREATE TABLE IF NOT EXISTS results (
    scenario_id TEXT NOT NULL REFERENCES scenarios(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    media_type TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (scenario_id, name)
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    scenario_id TEXT NOT NULL REFERENCES scenarios(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    params TEXT NOT NULL,
    status TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    has_result INTEGER NOT NULL DEFAULT 0,
    result_layers TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS jobs_scenario ON jobs (scenario_id, created_at);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _check_id(value: str, what: str) -> str:
    """Ids are UUID hex strings; anything else is unknown (and never reaches a path)."""
    try:
        if uuid.UUID(hex=value).hex == value:
            return value
    except (ValueError, TypeError, AttributeError):
        pass
    msg = f"Unknown {what} `{value}`. Fix: use an id returned by the API."
    raise NotFoundError(msg)


def _fsync(path: Path) -> None:
    """Flush a file or folder to disk (folders: so that a rename inside it is durable)."""
    flags = os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _bounds_wgs84(scenario: Scenario) -> tuple[float, float, float, float] | None:
    frames = [g.total_bounds for g in scenario.layers.values() if len(g)]
    if not frames:
        return None
    table = pd.DataFrame(frames, columns=["w", "s", "e", "n"])
    west, south, east, north = table["w"].min(), table["s"].min(), table["e"].max(), table["n"].max()
    transformer = pyproj.Transformer.from_crs(scenario.crs, 4326, always_xy=True)
    out = transformer.transform_bounds(west, south, east, north)
    return (round(out[0], 7), round(out[1], 7), round(out[2], 7), round(out[3], 7))


def _crs_text(crs: pyproj.CRS) -> str:
    code = crs.to_epsg()
    return f"EPSG:{code}" if code else crs.to_wkt()


class _Reader:
    """A thread's read-only connection; closed when the thread (its only owner) goes away."""

    __slots__ = ("__weakref__", "conn", "generation")

    def __init__(self, db_path: Path, generation: int) -> None:
        # check_same_thread=False only so that close() may close it from another thread;
        # it is used by the thread that opened it and by nobody else.
        self.conn = sqlite3.connect(db_path, timeout=30, check_same_thread=False)
        self.conn.execute("PRAGMA query_only=ON")  # reads only: every write has its own connection
        self.conn.row_factory = sqlite3.Row
        self.generation = generation

    def __del__(self) -> None:
        self.conn.close()


class SQLiteStore(Store):
    """The embedded store in ``data_dir`` (created when missing).

    Parameters
    ----------
    data_dir
        Folder holding ``riskplan.sqlite3`` and ``scenarios/``.

    Examples
    --------
    >>> import tempfile
    >>> store = SQLiteStore(tempfile.mkdtemp())
    >>> store.list_scenarios()
    []
    """

    def __init__(self, data_dir: str | Path) -> None:
        self.data_dir = Path(data_dir)
        self.scenarios_dir = self.data_dir / "scenarios"
        self.scenarios_dir.mkdir(parents=True, exist_ok=True)
        self.db_path = self.data_dir / DB_NAME
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
        self._local = threading.local()
        self._readers: weakref.WeakSet[_Reader] = weakref.WeakSet()
        self._readers_lock = threading.Lock()
        self._generation = 0
        self._sweep()

    def close(self) -> None:
        """Close the per-thread read connections (a later read opens a new one)."""
        with self._readers_lock:
            self._generation += 1
            readers = list(self._readers)
            self._readers.clear()
        for reader in readers:
            reader.conn.close()

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
        """This thread's long-lived read connection (opened on first use)."""
        reader: _Reader | None = getattr(self._local, "reader", None)
        if reader is None or reader.generation != self._generation:
            with self._readers_lock:
                reader = _Reader(self.db_path, self._generation)
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

    # -- scenarios -------------------------------------------------------------------------

    def create_scenario(self, scenario: Scenario, *, origin: str, adopt_gpkg: bool = False) -> ScenarioRecord:
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
                meta = {"metric_crs": _crs_text(scenario.crs)}
                write_scenario(scenario, target, metadata=meta)
            _fsync(target)
            _fsync(tmp)
            tmp.rename(final)
            _fsync(self.scenarios_dir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        record = ScenarioRecord(
            id=sid,
            name=scenario.name,
            label=scenario.label,
            synthetic=scenario.synthetic,
            crs=_crs_text(scenario.crs),
            origin=origin,
            created_at=_now(),
            layers={name: len(gdf) for name, gdf in scenario.layers.items()},
            bounds_wgs84=_bounds_wgs84(scenario),
        )
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
        return ScenarioRecord(
            id=row["id"],
            name=row["name"],
            label=row["label"],
            synthetic=bool(row["synthetic"]),
            crs=row["crs"],
            origin=row["origin"],
            created_at=row["created_at"],
            layers=json.loads(row["layers"]),
            bounds_wgs84=tuple(bounds) if bounds else None,
        )

    def list_scenarios(self) -> list[ScenarioRecord]:
        rows = self._read().execute("SELECT * FROM scenarios ORDER BY created_at DESC, id").fetchall()
        return [self._scenario_record(r) for r in rows]

    def get_scenario(self, scenario_id: str) -> ScenarioRecord:
        _check_id(scenario_id, "scenario")
        row = self._read().execute("SELECT * FROM scenarios WHERE id = ?", (scenario_id,)).fetchone()
        if row is None:
            msg = f"Unknown scenario `{scenario_id}`. Fix: list scenarios with GET /api/v1/scenarios."
            raise NotFoundError(msg)
        return self._scenario_record(row)

    def load_scenario(self, scenario_id: str) -> Scenario:
        return load_scenario(self._scenario_dir(scenario_id) / SCENARIO_FILE)

    def delete_scenario(self, scenario_id: str) -> None:
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
                (scenario_id, name, kind, media_type, _now()),
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
        path = self._scenario_dir(scenario_id) / "results" / f"{check_result_name(name)}.bin"
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
        self._record_result(scenario_id, name, "bytes", media_type)

    def get_result(self, scenario_id: str, name: str) -> tuple[bytes, str]:
        row = self._result_row(scenario_id, check_result_name(name))
        if row["kind"] != "bytes":
            msg = f"Result `{name}` holds layers. Fix: read it with read_result_layer."
            raise NotFoundError(msg)
        path = self.scenarios_dir / scenario_id / "results" / f"{name}.bin"
        return path.read_bytes(), row["media_type"]

    def put_result_layers(self, scenario_id: str, name: str, layers: Mapping[str, gpd.GeoDataFrame]) -> None:
        path = self._scenario_dir(scenario_id) / "results" / f"{check_result_name(name)}.gpkg"
        _write_layers(path, layers)
        self._record_result(scenario_id, name, "layers", "application/geopackage+sqlite3")

    def read_result_layer(
        self,
        scenario_id: str,
        name: str,
        layer: str,
        *,
        bbox: tuple[float, float, float, float] | None = None,
    ) -> gpd.GeoDataFrame:
        row = self._result_row(scenario_id, check_result_name(name))
        path = self.scenarios_dir / scenario_id / "results" / f"{name}.gpkg"
        if row["kind"] != "layers":
            msg = f"Result `{name}` is not a layer result."
            raise NotFoundError(msg)
        return _read_layer(path, layer, bbox)

    def list_results(self, scenario_id: str) -> list[str]:
        self.get_scenario(scenario_id)
        rows = (
            self._read()
            .execute("SELECT name FROM results WHERE scenario_id = ? ORDER BY name", (scenario_id,))
            .fetchall()
        )
        return [r["name"] for r in rows]

    # -- jobs ------------------------------------------------------------------------------

    def create_job(self, scenario_id: str, kind: str, params: Mapping[str, Any]) -> JobRecord:
        self.get_scenario(scenario_id)
        job = JobRecord(
            id=uuid.uuid4().hex,
            scenario_id=scenario_id,
            kind=kind,
            params=dict(params),
            status="queued",
            progress=0.0,
            message="queued",
            created_at=_now(),
        )
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO jobs (id, scenario_id, kind, params, status, progress, message, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job.id,
                    scenario_id,
                    kind,
                    json.dumps(job.params),
                    job.status,
                    0.0,
                    job.message,
                    job.created_at,
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
        _check_id(job_id, "job")
        sets: list[str] = []
        values: list[Any] = []
        if status is not None:
            sets.append("status = ?")
            values.append(status)
            if status == "running":
                sets.append("started_at = COALESCE(started_at, ?)")
                values.append(_now())
            if status in FINAL_STATUSES:
                sets.append("finished_at = ?")
                values.append(_now())
        if progress is not None:
            sets.append("progress = ?")
            values.append(min(1.0, max(0.0, float(progress))))
        if message is not None:
            sets.append("message = ?")
            values.append(message)
        if cancel_requested is not None:
            sets.append("cancel_requested = ?")
            values.append(int(cancel_requested))
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
        )

    def _job_row(self, job_id: str) -> sqlite3.Row:
        _check_id(job_id, "job")
        row = self._read().execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            msg = f"Unknown job `{job_id}`. Fix: list jobs with GET /api/v1/jobs."
            raise NotFoundError(msg)
        return row

    def get_job(self, job_id: str) -> JobRecord:
        return self._job_record(self._job_row(job_id))

    def list_jobs(
        self, *, scenario_id: str | None = None, status: JobStatus | None = None
    ) -> list[JobRecord]:
        query, values = "SELECT * FROM jobs WHERE 1 = 1", []
        if scenario_id is not None:
            query += " AND scenario_id = ?"
            values.append(scenario_id)
        if status is not None:
            query += " AND status = ?"
            values.append(status)
        rows = self._read().execute(query + " ORDER BY created_at DESC, id", values).fetchall()
        return [self._job_record(r) for r in rows]

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
        json_path, gpkg_path = self._job_paths(job_id)
        if not json_path.parent.parent.is_dir():  # the scenario was deleted meanwhile
            msg = f"Job `{job_id}` lost its scenario; its result is dropped."
            raise NotFoundError(msg)
        if layers:
            _write_layers(gpkg_path, layers)
        with atomic_path(json_path) as tmp:
            tmp.write_text(json.dumps(data, ensure_ascii=False, allow_nan=False), encoding="utf-8")
        with self._connect() as conn:
            conn.execute(
                "UPDATE jobs SET has_result = 1, result_layers = ? WHERE id = ?",
                (json.dumps(sorted(layers or {})), job_id),
            )

    def get_job_result(self, job_id: str) -> dict[str, Any]:
        row = self._job_row(job_id)
        if not row["has_result"]:
            msg = f"Job `{job_id}` has no result (status `{row['status']}`). Fix: wait until it succeeded."
            raise NotFoundError(msg)
        json_path, _ = self._job_paths(job_id)
        return dict(json.loads(json_path.read_text(encoding="utf-8")))

    def job_result_layers(self, job_id: str) -> list[str]:
        return list(json.loads(self._job_row(job_id)["result_layers"]))

    def read_job_result_layer(
        self, job_id: str, layer: str, *, bbox: tuple[float, float, float, float] | None = None
    ) -> gpd.GeoDataFrame:
        if layer not in self.job_result_layers(job_id):
            msg = f"Job `{job_id}` has no result layer `{layer}`."
            raise NotFoundError(msg)
        _, gpkg_path = self._job_paths(job_id)
        return _read_layer(gpkg_path, layer, bbox)

    def mark_interrupted(self, reason: str) -> int:
        placeholders = ", ".join("?" * len(ACTIVE_STATUSES))
        with self._connect() as conn:
            n = conn.execute(
                f"UPDATE jobs SET status = 'failed', message = ?, finished_at = ? "
                f"WHERE status IN ({placeholders})",
                (reason, _now(), *ACTIVE_STATUSES),
            ).rowcount
        if n:
            log.warning("%d job(s) marked failed: %s", n, reason)
        return int(n)


def _write_layers(path: Path, layers: Mapping[str, gpd.GeoDataFrame]) -> None:
    with atomic_path(path) as tmp:
        for name, gdf in layers.items():
            check_result_name(name)
            out = gdf.reset_index() if gdf.index.name and gdf.index.name not in gdf.columns else gdf
            out.reset_index(drop=True).to_file(tmp, layer=name, driver="GPKG", engine="pyogrio")
        _fsync(tmp)


def _read_layer(path: Path, layer: str, bbox: tuple[float, float, float, float] | None) -> gpd.GeoDataFrame:
    try:
        gdf = pyogrio.read_dataframe(path, layer=layer, bbox=bbox)
    except pyogrio.errors.DataLayerError:
        msg = f"No result layer `{layer}`."
        raise NotFoundError(msg) from None
    if "id" in gdf.columns:
        gdf = gdf.set_index("id", drop=False)
        gdf.index.name = None
    return gdf
