"""The PostgreSQL + PostGIS store: metadata, results and jobs in tables, layers as PostGIS tables.

For a bureau that runs riskplan on a server next to its GIS. ``riskplan serve --store
postgresql://user@host/db`` selects it; the embedded :class:`~service.store.SQLiteStore`
stays the default.

Layout of the database::

    riskplan.schema_version           applied schema versions (migrations/postgresql/*.sql)
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
by the backend-neutral runner of :mod:`service.store.migrations` (the SQLite store's), under an
advisory lock, each in one transaction with its row in ``riskplan.schema_version`` (the same
table shape as SQLite's); an earlier release's ``riskplan.schema_migrations`` is adopted in
place, and a database with a newer schema than this code refuses to open.
The layer tables need PostGIS: ``CREATE EXTENSION postgis`` needs a superuser, so a DBA runs it
once when the riskplan role may not.

By job: this module holds the choice of a store (:func:`open_store`) and the scenarios and
results; the connections, schema and transactions are in ``_postgres_connection``, the jobs in
``_postgres_jobs``, the layer tables in ``_postgres_layers``, the leader's lock in
``_postgres_lock``, the migrations in ``_postgres_migrate`` and the vector tiles (``ST_AsMVT``
on a layer version's table) in ``_postgres_tiles``.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd

from gis import InputError, Scenario, scenario_from_layers
from gis.atomic import storable
from gis.tables import TableOverrides

from ._postgres_jobs import PostgresJobs
from ._postgres_layers import read_table, replace_tables, write_table
from ._postgres_lock import COMPUTE_KEY, AdvisoryLeaderLock
from ._postgres_migrate import MIGRATIONS_DIR, schema_version
from ._postgres_support import (
    by_id,
    check_id,
    locked_result_tables,
    paged,
    scenario_record,
    shown,
    unknown_scenario,
    upsert_result,
)
from ._postgres_tiles import PostgresTiles
from ._support import new_scenario_record
from .base import (
    After,
    NotFoundError,
    ScenarioRecord,
    Store,
    check_result_name,
)
from .coordination import WindowCount

if TYPE_CHECKING:
    import psycopg

    from .register import RegisterStore
    from .register_postgres import PostgresRegister
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

#: The register's SQLite file a server on PostgreSQL used before the register had a PostgreSQL backend.
REGISTER_FILE = "register.sqlite3"


def open_store(
    data_dir: str | Path, *, url: str | None = None, register_workflow: TableOverrides = None
) -> Store:
    """The store of a server: SQLite in ``data_dir``, or PostgreSQL at ``url`` when given.

    With ``url`` the hidden-danger register is in the same database
    (:class:`~service.store.register_postgres.PostgresRegister`), unless an earlier riskplan left
    it in ``DATA_DIR/register.sqlite3``: that one is kept. ``register_workflow``
    (overrides of ``register_workflow.toml``) is the deployment's workflow, which the register
    enforces.

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
    old = Path(data_dir) / REGISTER_FILE
    if old.exists():  # a register kept in SQLite by an earlier riskplan: keep it, lose nothing
        log.warning(
            "the hidden-danger register stays in %s (made before the register had a PostgreSQL "
            "backend); new deployments keep it in the database",
            old,
        )
        return PostgresStore(url, register_path=old, register_workflow=register_workflow)
    return PostgresStore(url, register_workflow=register_workflow)


def is_postgres_dsn(value: str) -> bool:
    """True for a PostgreSQL URL (``postgresql://...`` or ``postgres://...``).

    Examples
    --------
    >>> is_postgres_dsn("postgresql://riskplan@db/riskplan"), is_postgres_dsn("/srv/riskplan")
    (True, False)
    """
    return value.startswith(("postgresql://", "postgres://"))


class PostgresStore(PostgresTiles, PostgresJobs, Store):
    """The store in a PostgreSQL database with PostGIS (schema created or upgraded on open).

    Parameters
    ----------
    dsn
        libpq connection string or URL (``postgresql://riskplan@db.example/riskplan``).
    min_connections, max_connections
        Size bounds of the connection pool.
    register_path
        An SQLite file to keep the hidden-danger register in (:class:`SQLiteRegister`), as
        riskplan did before the register had a PostgreSQL backend; by default (None) the
        register is in this database (:class:`~service.store.register_postgres.PostgresRegister`).
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
        super().__init__(
            dsn,
            min_connections=min_connections,
            max_connections=max_connections,
            connect_timeout_s=connect_timeout_s,
        )
        self._register_path = None if register_path is None else Path(register_path)
        self._register_workflow = register_workflow
        self._register: PostgresRegister | SQLiteRegister | None = None

    @property
    def register(self) -> RegisterStore:
        """The hidden-danger register: in this database, or SQLite at ``register_path`` when given."""
        if self._register is None:
            if self._register_path is None:
                from .register_postgres import PostgresRegister

                self._register = PostgresRegister(self._pool, register_workflow=self._register_workflow)
            else:
                from .register_sqlite import SQLiteRegister

                self._register = SQLiteRegister(
                    self._register_path, register_workflow=self._register_workflow
                )
        return self._register

    def leader_lock(self) -> AdvisoryLeaderLock:
        """A new handle on the job leader's advisory lock, which every process on this database sees."""
        return AdvisoryLeaderLock(self._dsn)

    def compute_slot(self) -> AdvisoryLeaderLock:
        """The anonymous readers' compute slot: an advisory lock every process on this database sees."""
        return AdvisoryLeaderLock(self._dsn, key=COMPUTE_KEY, what="anonymous compute slot")

    def close(self) -> None:
        """Close the pool's connections (the store cannot be used afterwards)."""
        super().close()
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

    # -- scenarios -------------------------------------------------------------------------

    def create_scenario(self, scenario: Scenario, *, origin: str, adopt_gpkg: bool = False) -> ScenarioRecord:
        """Write the scenario's layers as tables of a new schema and its row, in one transaction.

        ``adopt_gpkg`` changes nothing here: the layers are always written as tables.
        """
        from psycopg import sql

        sid = uuid.uuid4().hex
        schema = f"scenario_{sid}"
        record = new_scenario_record(sid, scenario, origin=origin)
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
            old = locked_result_tables(cur, scenario_id, name)
            label = scenario["label"].replace("{", "{{").replace("}", "}}")
            tables = replace_tables(
                cur,
                schema,
                old.values(),
                layers or {},
                prefix=name,
                comment=f"riskplan scenario {label}: result {name}, layer {{layer}}",
            )
            upsert_result(
                cur,
                scenario_id,
                name,
                kind=kind,
                media_type=media_type,
                data=data,
                layers=None if layers is None else tables,
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
