"""The schema of the PostgreSQL store, through the backend-neutral runner (private).

``service/store/migrations/postgresql/NNNN_name.sql`` are applied in number order by
:func:`service.store.migrations.migrate`, the runner the SQLite store uses: each file in one
transaction with its row in ``riskplan.schema_version`` (the same table shape as SQLite's
``schema_version``: ``version``, ``name``, ``applied_at`` as ISO 8601 UTC text). DDL is
transactional in PostgreSQL, so an upgrade that fails leaves the database at the last
version that succeeded. The whole upgrade runs under a session advisory lock: two server
processes starting at once migrate once. A database whose schema is newer than this code
refuses to open (:class:`~service.store.migrations.SchemaVersionError`).

A database made by an earlier release records its versions in ``riskplan.schema_migrations``
(``name`` the file name, ``applied_at`` a timestamptz); it is adopted in place on open: its
rows move to ``riskplan.schema_version`` and the old table is dropped, in one transaction.
Plain SQL files rather than alembic: see :mod:`service.store.migrations`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .migrations import POSTGRESQL_MIGRATIONS, VERSION_TABLE
from .migrations import migrate as run_migrations

if TYPE_CHECKING:
    import psycopg

__all__ = ["MIGRATIONS_DIR", "VERSION_TABLE_NAME", "migrate", "schema_version"]

log = logging.getLogger(__name__)

#: The versioned SQL files of the PostgreSQL schema (``0001_initial.sql``...).
MIGRATIONS_DIR = POSTGRESQL_MIGRATIONS
#: Where the applied versions are recorded.
VERSION_TABLE_NAME = "riskplan.schema_version"
_LEGACY_TABLE = "riskplan.schema_migrations"
#: Key of the advisory lock held while migrating (any constant; "riskplan" in ASCII).
_MIGRATION_LOCK = 0x7269736B706C616E


def _value(row: Any) -> Any:
    return next(iter(row.values())) if isinstance(row, dict) else row[0]


def _exists(conn: psycopg.Connection[Any], table: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
    return bool(row and _value(row))


def schema_version(conn: psycopg.Connection[Any]) -> int:
    """The schema version of the database (0 for one riskplan never touched).

    An earlier release's ``riskplan.schema_migrations`` counts until it is adopted.
    """
    for table in (VERSION_TABLE_NAME, _LEGACY_TABLE):
        if _exists(conn, table):
            found = conn.execute(f"SELECT COALESCE(max(version), 0) FROM {table}").fetchone()
            return int(_value(found)) if found else 0
    return 0


def _adopt_legacy_table(conn: psycopg.Connection[Any], where: str) -> None:
    """Move an earlier release's ``riskplan.schema_migrations`` rows to ``schema_version``."""
    if not _exists(conn, _LEGACY_TABLE):
        return
    with conn.transaction():
        conn.execute(VERSION_TABLE.format(table=VERSION_TABLE_NAME))
        conn.execute(
            f"INSERT INTO {VERSION_TABLE_NAME} (version, name, applied_at) "
            "SELECT version, regexp_replace(name, '^[0-9]{4}_(.*)[.]sql$', '\\1'), "
            """to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"') """
            f"FROM {_LEGACY_TABLE} ON CONFLICT (version) DO NOTHING"
        )
        conn.execute(f"DROP TABLE {_LEGACY_TABLE}")
    log.info("database %s: adopted the version table of an earlier release", where)


def migrate(conn: psycopg.Connection[Any], where: str) -> int:
    """Bring the schema up to date under an advisory lock; return the version.

    ``conn`` is an autocommit connection; it is returned in autocommit mode.

    Raises
    ------
    service.store.migrations.SchemaVersionError
        The database has a newer schema than this riskplan knows (a :class:`gis.InputError`).
    """
    from psycopg.rows import tuple_row

    conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
    factory = conn.row_factory
    try:
        conn.execute("CREATE SCHEMA IF NOT EXISTS riskplan")
        _adopt_legacy_table(conn, where)
        conn.row_factory = tuple_row
        conn.autocommit = False  # the runner commits each migration with its version row
        try:
            run_migrations(
                conn,
                MIGRATIONS_DIR,
                paramstyle="format",
                begin=None,
                split=False,
                where=where,
                table=VERSION_TABLE_NAME,
            )
        finally:
            conn.rollback()
            conn.autocommit = True
        return schema_version(conn)
    finally:
        conn.row_factory = factory
        conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))
