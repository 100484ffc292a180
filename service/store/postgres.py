"""The PostgreSQL + PostGIS store: metadata, results and jobs in tables, layers as PostGIS tables.

For a bureau that runs riskplan on a server next to its GIS. ``riskplan serve --store
postgresql://user@host/db`` selects it; the embedded :class:`~service.store.SQLiteStore`
stays the default.

Layout of the database::

    riskplan.schema_migrations        applied schema versions (migrations/postgresql/*.sql)
    riskplan.scenarios                one row per scenario
    riskplan.results                  bytes results (bytea) and layer results (their tables)
    riskplan.jobs                     jobs, their JSON result and their result tables
    scenario_<id>.<layer>             the scenario's layers: hazards, roads, fire_stations...
    scenario_<id>.<result>__<layer>   the layers of a result (coverage__units...)
    scenario_<id>.job_<job id>__<layer>  the layers of a job's result

Every layer table has a ``fid`` identity primary key, the attributes, and ``geom`` typed with
the layer's geometry type and SRID (``geometry(Point, 32649)``) with a GiST index, so QGIS
(Layer > Add Layer > PostgreSQL) lists a scenario's layers under its schema and opens them
straight from the database; ``COMMENT ON TABLE`` names the scenario. Names over 63 characters
are shortened with a digest (:func:`table_name`).

Crash safety and atomicity come from PostgreSQL transactions (DDL included): a scenario (its
schema, every layer table and its row), a result with its tables, or a job result is written
in one transaction, so after a crash it is wholly there or not there, and there is nothing to
sweep on start. Deleting a scenario deletes its row (cascading to results and jobs) and drops
its schema in one transaction.

Concurrency: reads of layer tables first take ``FOR KEY SHARE`` on the scenario's row and a
delete takes ``FOR UPDATE`` on it, so a delete waits for the reads in flight and a read that
comes after it finds no scenario (:class:`NotFoundError`), never a half-dropped schema; writers
lock the scenario row before any table, so a writer and a delete never deadlock.

Connections come from a :class:`psycopg_pool.ConnectionPool` (autocommit; explicit
transactions where several statements must hold together); several server processes may share
one database.

Schema: plain versioned SQL files in ``service/store/migrations/postgresql/`` applied in order
under an advisory lock, all in one transaction (DDL is transactional: an upgrade that fails
leaves the previous schema), each with its row in ``riskplan.schema_migrations``; a database
with a newer schema than this code refuses to open.
The layer tables need PostGIS: ``CREATE EXTENSION postgis`` needs a superuser, so a DBA runs it
once when the riskplan role may not.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd

from gis import InputError, MissingDependencyError, Scenario, scenario_from_layers
from gis.atomic import storable
from gis.tables import TableOverrides

from ._postgres_layers import drop_tables, read_table, replace_tables, write_table
from ._postgres_lock import AdvisoryLeaderLock
from ._postgres_migrate import MIGRATIONS_DIR, migrate, schema_version
from ._postgres_support import (
    by_id,
    check_id,
    job_record,
    now,
    paged,
    scenario_record,
    shown,
    unknown_scenario,
)
from ._support import bounds_wgs84, crs_text
from .base import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    After,
    JobRecord,
    JobStatus,
    NotFoundError,
    ScenarioRecord,
    Store,
    check_result_name,
    job_update,
)
from .coordination import WindowCount

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

    from .register import RegisterStore
    from .register_sqlite import SQLiteRegister

__all__ = [
    "MIGRATIONS_DIR",
    "REGISTER_FILE",
    "PostgresStore",
    "is_postgres_dsn",
    "open_store",
    "schema_version",
]

log = logging.getLogger(__name__)

#: How many times a read retries when a table it looked up was replaced under it.
_RETRIES = 3


#: The hidden-danger register's SQLite file in the data directory of a server on PostgreSQL.
REGISTER_FILE = "register.sqlite3"


def open_store(
    data_dir: str | Path, *, url: str | None = None, register_workflow: TableOverrides = None
) -> Store:
    """The store of a server: SQLite in ``data_dir``, or PostgreSQL at ``url`` when given.

    With ``url`` the hidden-danger register stays in ``DATA_DIR/register.sqlite3`` until it has
    a PostgreSQL backend. ``register_workflow`` (overrides of ``register_workflow.toml``) is the
    deployment's workflow, which the register enforces.

    Raises
    ------
    InputError
        ``url`` is not a PostgreSQL URL, or the store cannot be opened (the message says why).

    Examples
    --------
    >>> import tempfile
    >>> type(open_store(tempfile.mkdtemp())).__name__
    'SQLiteStore'
    """
    from .sqlite import SQLiteStore

    if url is None:
        return SQLiteStore(data_dir, register_workflow=register_workflow)
    if not is_postgres_dsn(url):
        msg = (
            f"`--store` is `{shown(url)}`, not a PostgreSQL URL. Fix: give "
            "`postgresql://user@host:5432/database` (the password in ~/.pgpass or $PGPASSWORD), "
            "or leave `--store` out for the SQLite store in the data directory."
        )
        raise InputError(msg)
    return PostgresStore(
        url, register_path=Path(data_dir) / REGISTER_FILE, register_workflow=register_workflow
    )


def is_postgres_dsn(value: str) -> bool:
    """True for a PostgreSQL URL (``postgresql://...`` or ``postgres://...``).

    Examples
    --------
    >>> is_postgres_dsn("postgresql://riskplan@db/riskplan"), is_postgres_dsn("/srv/riskplan")
    (True, False)
    """
    return value.startswith(("postgresql://", "postgres://"))


class PostgresStore(Store):
    """The store in a PostgreSQL database with PostGIS (schema created or upgraded on open).

    Parameters
    ----------
    dsn
        libpq connection string or URL (``postgresql://riskplan@db.example/riskplan``).
    min_connections, max_connections
        Size bounds of the connection pool.
    register_path
        SQLite file holding the hidden-danger register (:class:`SQLiteRegister`) until the
        register has a PostgreSQL backend; without it :attr:`register` raises.
    connect_timeout_s
        How long to wait for the first connection.
    register_workflow
        Overrides of ``register_workflow.toml``: the deployment's workflow the register enforces.

    Raises
    ------
    InputError
        The server cannot be reached, PostGIS is missing, or the schema is newer than the code.
    MissingDependencyError
        psycopg is not installed (``pip install "riskplan[postgres]"``).
    """

    def __init__(
        self,
        dsn: str,
        *,
        min_connections: int = 1,
        max_connections: int = 10,
        register_path: str | Path | None = None,
        connect_timeout_s: float = 30.0,
        register_workflow: TableOverrides = None,
    ) -> None:
        try:
            import psycopg
            from psycopg.rows import dict_row
            from psycopg_pool import ConnectionPool
        except ImportError as exc:
            raise MissingDependencyError(
                exc.name or "psycopg", "postgres", purpose="keep the store in PostgreSQL"
            ) from None
        self.where = shown(dsn)
        self._dsn = dsn
        try:  # one connection first: an unreachable server fails at once, not after the pool's retries
            timeout = max(1, round(connect_timeout_s))
            with psycopg.connect(dsn, autocommit=True, row_factory=dict_row, connect_timeout=timeout) as conn:
                self.version = migrate(conn, self.where)
        except psycopg.Error as exc:
            msg = (
                f"Cannot open the PostgreSQL store `{self.where}`: {str(exc).strip()}. Fix: check the "
                "connection string, that the server runs, and that PostGIS is installed "
                "(a superuser runs `CREATE EXTENSION postgis` once)."
            )
            raise InputError(msg) from None
        self._pool: ConnectionPool[Any] = ConnectionPool(
            dsn,
            min_size=min_connections,
            max_size=max_connections,
            kwargs={"autocommit": True, "row_factory": dict_row},
            open=False,
            name="riskplan",
        )
        try:
            self._pool.open(wait=True, timeout=connect_timeout_s)
        except Exception as exc:
            self._pool.close()
            msg = (
                f"Cannot open {min_connections} connection(s) to the PostgreSQL store `{self.where}` "
                f"({exc}). Fix: check the server's max_connections and that it runs."
            )
            raise InputError(msg) from None
        self._register_path = None if register_path is None else Path(register_path)
        self._register_workflow = register_workflow
        self._register: SQLiteRegister | None = None

    @property
    def register(self) -> RegisterStore:
        """The hidden-danger register: SQLite at ``register_path`` (no PostgreSQL backend yet)."""
        if self._register is None:
            if self._register_path is None:
                msg = (
                    "The PostgreSQL store keeps no hidden-danger register yet. Fix: give "
                    "`register_path` (riskplan serve puts it in DATA_DIR/register.sqlite3)."
                )
                raise NotImplementedError(msg)
            from .register_sqlite import SQLiteRegister

            self._register = SQLiteRegister(self._register_path, register_workflow=self._register_workflow)
        return self._register

    def leader_lock(self) -> AdvisoryLeaderLock:
        """A new handle on the job leader's advisory lock, which every process on this database sees."""
        return AdvisoryLeaderLock(self._dsn)

    def close(self) -> None:
        """Close the pool's connections (the store cannot be used afterwards)."""
        self._pool.close()
        if self._register is not None:
            self._register.close()

    def take_window(
        self, bucket: str, key: str, *, limit: int, window_s: float, now: float | None = None
    ) -> WindowCount:
        """Count one event in ``riskplan.rate_windows``, in one transaction (all processes, one budget)."""
        t = time.time() if now is None else now
        with self._transaction() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{bucket}\x1f{key}",))
            cur.execute(
                "DELETE FROM riskplan.rate_windows WHERE bucket = %s AND at <= %s", (bucket, t - window_s)
            )
            cur.execute(
                "SELECT count(*) AS n, min(at) AS oldest FROM riskplan.rate_windows "
                "WHERE bucket = %s AND key = %s",
                (bucket, key),
            )
            row = cur.fetchone()
            count = int(row["n"]) if row else 0
            if count >= limit:
                return WindowCount(False, count, float(row["oldest"]) + window_s - t if row else 0.0)
            cur.execute("INSERT INTO riskplan.rate_windows VALUES (%s, %s, %s)", (bucket, key, t))
        return WindowCount(True, count)

    # -- plumbing --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[psycopg.Cursor[Any]]:
        """A cursor inside one transaction, committed when the block ends without an error."""
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            yield cur

    def _one(self, query: str, values: tuple[Any, ...] = ()) -> dict[str, Any] | None:
        with self._pool.connection() as conn:
            row: dict[str, Any] | None = conn.execute(query, values).fetchone()
        return row

    def _all(self, query: str, values: Iterable[Any] = ()) -> list[dict[str, Any]]:
        with self._pool.connection() as conn:
            rows: list[dict[str, Any]] = conn.execute(query, list(values)).fetchall()
        return rows

    @staticmethod
    def _lock_scenario(cur: psycopg.Cursor[Any], scenario_id: str, mode: str = "KEY SHARE") -> dict[str, Any]:
        """Lock a scenario's row (``KEY SHARE`` for reads and writes of its tables, ``UPDATE`` to delete)."""
        check_id(scenario_id, "scenario")
        cur.execute(f"SELECT * FROM riskplan.scenarios WHERE id = %s FOR {mode}", (scenario_id,))
        row: dict[str, Any] | None = cur.fetchone()
        if row is None:
            raise unknown_scenario(scenario_id)
        return row

    def _retrying(self, read: Any) -> Any:
        """Run ``read`` (a function of a cursor in a transaction), again if a table moved under it."""
        import psycopg.errors

        for attempt in range(_RETRIES):
            try:
                with self._transaction() as cur:
                    return read(cur)
            except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName, LookupError) as exc:
                if isinstance(exc, NotFoundError):
                    raise
                if attempt == _RETRIES - 1:
                    raise NotFoundError(f"The table behind this layer is gone ({exc}).") from None
        return None  # pragma: no cover - the loop returns or raises

    # -- scenarios -------------------------------------------------------------------------

    def create_scenario(self, scenario: Scenario, *, origin: str, adopt_gpkg: bool = False) -> ScenarioRecord:
        """Write the scenario's layers as tables of a new schema and its row, in one transaction.

        ``adopt_gpkg`` changes nothing here: the layers are always written as tables.
        """
        from psycopg import sql

        sid = uuid.uuid4().hex
        schema = f"scenario_{sid}"
        record = ScenarioRecord(
            id=sid,
            name=scenario.name,
            label=scenario.label,
            synthetic=scenario.synthetic,
            crs=crs_text(scenario.crs),
            origin=origin,
            created_at=now(),
            layers={name: len(gdf) for name, gdf in scenario.layers.items()},
            bounds_wgs84=bounds_wgs84(scenario),
        )
        metadata = dict(scenario.metadata) | {
            "name": scenario.name,
            "synthetic": str(scenario.synthetic).lower(),
            "metric_crs": record.crs,
        }
        with self._transaction() as cur:
            cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
            cur.execute(
                sql.SQL("COMMENT ON SCHEMA {} IS {}").format(
                    sql.Identifier(schema), sql.Literal(f"riskplan scenario {record.label} ({origin})")
                )
            )
            for name, gdf in scenario.layers.items():
                comment = f"riskplan scenario {record.label}: layer {name}"
                write_table(cur, schema, name, storable(gdf.reset_index(drop=True)), comment=comment)
            cur.execute(
                "INSERT INTO riskplan.scenarios VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    record.id,
                    record.name,
                    record.label,
                    record.synthetic,
                    record.crs,
                    record.origin,
                    record.created_at,
                    json.dumps(dict(record.layers)),
                    json.dumps(record.bounds_wgs84),
                    schema,
                    json.dumps(metadata, ensure_ascii=False),
                    json.dumps(list(scenario.notes), ensure_ascii=False),
                ),
            )
        log.info("stored scenario %s (%s) from %s in schema %s", sid, record.label, origin, schema)
        return record

    def list_scenarios(self, *, limit: int | None = None, after: After | None = None) -> list[ScenarioRecord]:
        """Scenarios, newest first (``created_at``, then ``id``): at most ``limit``, from after ``after``."""
        query, values = paged("SELECT * FROM riskplan.scenarios WHERE true", [], limit, after)
        return [scenario_record(r) for r in self._all(query, values)]

    def get_scenario(self, scenario_id: str) -> ScenarioRecord:
        """The record of one scenario; :class:`NotFoundError` when unknown."""
        check_id(scenario_id, "scenario")
        row = self._one("SELECT * FROM riskplan.scenarios WHERE id = %s", (scenario_id,))
        if row is None:
            raise unknown_scenario(scenario_id)
        return scenario_record(row)

    def load_scenario(self, scenario_id: str) -> Scenario:
        """Read the scenario's tables and validate them as :func:`gis.load_scenario` does a GeoPackage.

        The layers are validated again because analysts may edit them in QGIS.
        """

        def read(cur: psycopg.Cursor[Any]) -> tuple[dict[str, Any], dict[str, gpd.GeoDataFrame]]:
            row = self._lock_scenario(cur, scenario_id)
            schema = row["layer_schema"]
            layers = {name: read_table(cur, schema, name, crs=row["crs"]) for name in row["layers"]}
            return row, layers

        row, layers = self._retrying(read)
        return scenario_from_layers(
            layers,
            name=row["name"],
            source=f"PostgreSQL {self.where} schema {row['layer_schema']}",
            metric_crs=row["crs"],
            synthetic=bool(row["synthetic"]),
            metadata=row["metadata"],
            notes=tuple(row["notes"]),
        )

    def delete_scenario(self, scenario_id: str) -> None:
        """Delete the scenario's row (results and jobs cascade) and drop its schema, in one transaction."""
        from psycopg import sql

        with self._transaction() as cur:
            row = self._lock_scenario(cur, scenario_id, "UPDATE")
            cur.execute("DELETE FROM riskplan.scenarios WHERE id = %s", (scenario_id,))
            cur.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(row["layer_schema"]))
            )
        log.info("deleted scenario %s", scenario_id)

    # -- results ---------------------------------------------------------------------------

    def _replace_result(
        self,
        scenario_id: str,
        name: str,
        *,
        kind: str,
        media_type: str,
        data: bytes | None = None,
        layers: Mapping[str, gpd.GeoDataFrame] | None = None,
    ) -> None:
        check_result_name(name)
        for layer in layers or {}:
            check_result_name(layer)
        with self._transaction() as cur:
            scenario = self._lock_scenario(cur, scenario_id)
            schema = scenario["layer_schema"]
            # writers of one result take turns (the first has no row to lock yet)
            cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{scenario_id}/{name}",))
            cur.execute(
                "SELECT layers FROM riskplan.results WHERE scenario_id = %s AND name = %s",
                (scenario_id, name),
            )
            old = cur.fetchone()
            label = scenario["label"].replace("{", "{{").replace("}", "}}")
            tables = replace_tables(
                cur,
                schema,
                (old["layers"] or {}).values() if old is not None else (),
                layers or {},
                prefix=name,
                comment=f"riskplan scenario {label}: result {name}, layer {{layer}}",
            )
            cur.execute(
                "INSERT INTO riskplan.results VALUES (%s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (scenario_id, name) DO UPDATE SET kind = EXCLUDED.kind, "
                "media_type = EXCLUDED.media_type, created_at = EXCLUDED.created_at, "
                "data = EXCLUDED.data, layers = EXCLUDED.layers",
                (
                    scenario_id,
                    name,
                    kind,
                    media_type,
                    now(),
                    data,
                    None if layers is None else json.dumps(tables),
                ),
            )

    def put_result(self, scenario_id: str, name: str, data: bytes, *, media_type: str) -> None:
        """Store (or replace) the result ``name`` as bytes, in one transaction."""
        self._replace_result(scenario_id, name, kind="bytes", media_type=media_type, data=bytes(data))

    def _result_row(self, cur: psycopg.Cursor[Any], scenario_id: str, name: str) -> dict[str, Any]:
        cur.execute(
            "SELECT * FROM riskplan.results WHERE scenario_id = %s AND name = %s",
            (scenario_id, check_result_name(name)),
        )
        row: dict[str, Any] | None = cur.fetchone()
        if row is None:
            msg = f"Scenario `{scenario_id}` has no result `{name}` yet. Fix: compute it first."
            raise NotFoundError(msg)
        return row

    def get_result(self, scenario_id: str, name: str) -> tuple[bytes, str]:
        """``(data, media_type)`` of a stored bytes result; :class:`NotFoundError` when absent."""
        self.get_scenario(scenario_id)
        with self._transaction() as cur:
            row = self._result_row(cur, scenario_id, name)
        if row["kind"] != "bytes":
            msg = f"Result `{name}` holds layers. Fix: read it with read_result_layer."
            raise NotFoundError(msg)
        return bytes(row["data"]), row["media_type"]

    def put_result_layers(self, scenario_id: str, name: str, layers: Mapping[str, gpd.GeoDataFrame]) -> None:
        """Store (or replace) a set of layers as tables of the scenario's schema, in one transaction."""
        self._replace_result(
            scenario_id, name, kind="layers", media_type="application/geopackage+sqlite3", layers=layers
        )

    def read_result_layer(
        self,
        scenario_id: str,
        name: str,
        layer: str,
        *,
        bbox: tuple[float, float, float, float] | None = None,
    ) -> gpd.GeoDataFrame:
        """Read one layer of a stored layer result, optionally within ``bbox`` (its own CRS)."""

        def read(cur: psycopg.Cursor[Any]) -> gpd.GeoDataFrame:
            scenario = self._lock_scenario(cur, scenario_id)
            row = self._result_row(cur, scenario_id, name)
            if row["kind"] != "layers":
                msg = f"Result `{name}` is not a layer result."
                raise NotFoundError(msg)
            if layer not in row["layers"]:
                msg = f"No result layer `{layer}`."
                raise NotFoundError(msg)
            gdf = read_table(
                cur, scenario["layer_schema"], row["layers"][layer], crs=scenario["crs"], bbox=bbox
            )
            return by_id(gdf)

        out: gpd.GeoDataFrame = self._retrying(read)
        return out

    def list_results(self, scenario_id: str) -> list[str]:
        """Names of the results recorded for a scenario, sorted."""
        self.get_scenario(scenario_id)
        rows = self._all(
            "SELECT name FROM riskplan.results WHERE scenario_id = %s ORDER BY name", (scenario_id,)
        )
        return [r["name"] for r in rows]

    # -- jobs ------------------------------------------------------------------------------

    def create_job(self, scenario_id: str, kind: str, params: Mapping[str, Any]) -> JobRecord:
        """Record a new ``queued`` job on an existing scenario."""
        import psycopg.errors

        self.get_scenario(scenario_id)
        job = JobRecord(
            id=uuid.uuid4().hex,
            scenario_id=scenario_id,
            kind=kind,
            params=dict(params),
            status="queued",
            progress=0.0,
            message="queued",
            created_at=now(),
        )
        try:
            with self._pool.connection() as conn:
                conn.execute(
                    "INSERT INTO riskplan.jobs (id, scenario_id, kind, params, status, progress, message,"
                    " created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
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
        except psycopg.errors.ForeignKeyViolation:
            raise unknown_scenario(scenario_id) from None
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
            status=status, progress=progress, message=message, cancel_requested=cancel_requested, mark="%s"
        )
        if not sets:
            return False
        where = "id = %s"
        values.append(job_id)
        if expect is not None:
            where += " AND status = ANY(%s)"
            values.append(list(expect))
        with self._pool.connection() as conn:
            changed = conn.execute(
                f"UPDATE riskplan.jobs SET {', '.join(sets)} WHERE {where}", values
            ).rowcount
        return changed > 0

    _JOB_COLUMNS = (
        "id, scenario_id, kind, params, status, progress, message, created_at, started_at, "
        "finished_at, cancel_requested, has_result, result_layers"
    )

    def _job_row(self, job_id: str, *, with_result: bool = False) -> dict[str, Any]:
        check_id(job_id, "job")
        columns = self._JOB_COLUMNS + (", result" if with_result else "")
        row = self._one(f"SELECT {columns} FROM riskplan.jobs WHERE id = %s", (job_id,))
        if row is None:
            msg = f"Unknown job `{job_id}`. Fix: list jobs with GET /api/v1/jobs."
            raise NotFoundError(msg)
        return row

    def get_job(self, job_id: str) -> JobRecord:
        """One job; :class:`NotFoundError` when unknown."""
        return job_record(self._job_row(job_id))

    def list_jobs(
        self,
        *,
        scenario_id: str | None = None,
        status: JobStatus | None = None,
        limit: int | None = None,
        after: After | None = None,
    ) -> list[JobRecord]:
        """Jobs, newest first, optionally of one scenario or status; paged like :meth:`list_scenarios`."""
        query, values = f"SELECT {self._JOB_COLUMNS} FROM riskplan.jobs WHERE true", []
        if scenario_id is not None:
            query += " AND scenario_id = %s"
            values.append(scenario_id)
        if status is not None:
            query += " AND status = %s"
            values.append(status)
        query, values = paged(query, values, limit, after)
        return [job_record(r) for r in self._all(query, values)]

    def purge_jobs(self, *, finished_before: str) -> int:
        """Delete the jobs (rows and result tables) finished before an ISO 8601 UTC time; return how many."""
        with self._transaction() as cur:
            cur.execute(
                "DELETE FROM riskplan.jobs j USING riskplan.scenarios s WHERE s.id = j.scenario_id "
                "AND j.status = ANY(%s) AND j.finished_at IS NOT NULL AND j.finished_at < %s "
                "RETURNING s.layer_schema, j.result_layers",
                (list(FINAL_STATUSES), finished_before),
            )
            rows = cur.fetchall()
            for row in rows:
                drop_tables(cur, row["layer_schema"], row["result_layers"].values())
        if rows:
            log.info("purged %d finished job(s) older than %s", len(rows), finished_before)
        return len(rows)

    def put_job_result(
        self,
        job_id: str,
        data: Mapping[str, Any],
        layers: Mapping[str, gpd.GeoDataFrame] | None = None,
    ) -> None:
        """Store a job's JSON result (and layers as tables) in one transaction."""
        for layer in layers or {}:
            check_result_name(layer)
        text = json.dumps(data, ensure_ascii=False, allow_nan=False)
        scenario_id = self._job_row(job_id)["scenario_id"]
        gone = f"Job `{job_id}` lost its scenario; its result is dropped."
        with self._transaction() as cur:
            try:
                scenario = self._lock_scenario(cur, scenario_id)
            except NotFoundError:
                raise NotFoundError(gone) from None
            cur.execute("SELECT result_layers FROM riskplan.jobs WHERE id = %s FOR UPDATE", (job_id,))
            row = cur.fetchone()
            if row is None:
                raise NotFoundError(gone)
            label = scenario["label"].replace("{", "{{").replace("}", "}}")
            tables = replace_tables(
                cur,
                scenario["layer_schema"],
                row["result_layers"].values(),
                layers or {},
                prefix=f"job_{job_id}",
                comment=f"riskplan scenario {label}: job {job_id}, layer {{layer}}",
            )
            cur.execute(
                "UPDATE riskplan.jobs SET has_result = true, result = %s, result_layers = %s WHERE id = %s",
                (text, json.dumps(dict(sorted(tables.items()))), job_id),
            )

    def get_job_result(self, job_id: str) -> dict[str, Any]:
        """The JSON result of a job; :class:`NotFoundError` when it has none."""
        row = self._job_row(job_id, with_result=True)
        if not row["has_result"]:
            msg = f"Job `{job_id}` has no result (status `{row['status']}`). Fix: wait until it succeeded."
            raise NotFoundError(msg)
        return dict(row["result"])

    def job_result_layers(self, job_id: str) -> list[str]:
        """Names of the layers of a job's result (empty when it has none)."""
        return sorted(self._job_row(job_id)["result_layers"])

    def read_job_result_layer(
        self, job_id: str, layer: str, *, bbox: tuple[float, float, float, float] | None = None
    ) -> gpd.GeoDataFrame:
        """One layer of a job's result, optionally within ``bbox`` (its own CRS)."""
        row = self._job_row(job_id)
        table = row["result_layers"].get(layer)
        if table is None:
            msg = f"Job `{job_id}` has no result layer `{layer}`."
            raise NotFoundError(msg)

        def read(cur: psycopg.Cursor[Any]) -> gpd.GeoDataFrame:
            scenario = self._lock_scenario(cur, row["scenario_id"])
            return by_id(read_table(cur, scenario["layer_schema"], table, crs=scenario["crs"], bbox=bbox))

        out: gpd.GeoDataFrame = self._retrying(read)
        return out

    def mark_interrupted(self, reason: str) -> int:
        """Mark every ``queued`` or ``running`` job failed with ``reason``; return how many."""
        with self._pool.connection() as conn:
            n = conn.execute(
                "UPDATE riskplan.jobs SET status = 'failed', message = %s, finished_at = %s "
                "WHERE status = ANY(%s)",
                (reason, now(), list(ACTIVE_STATUSES)),
            ).rowcount
        if n:
            log.warning("%d job(s) marked failed: %s", n, reason)
        return int(n)
