"""The schema of the PostgreSQL store: versioned SQL files applied in order (private).

``service/store/migrations/postgresql/NNNN_name.sql`` are applied in number order, all in one
transaction (DDL is transactional in PostgreSQL: an upgrade that fails leaves the previous
schema) under an advisory lock (two server processes starting at once do not both migrate),
each recorded in ``riskplan.schema_migrations``. A database whose schema is newer than this
code refuses to open. Plain SQL files rather than alembic: the schema is a handful of tables,
the files are what a DBA reviews, and no ORM is involved.

This is the minimal apply loop of the PostgreSQL store; it is to be replaced by the
backend-neutral migration runner of ``service/store/migrations/`` when that lands, keeping
these files and this table.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gis import InputError

if TYPE_CHECKING:
    import psycopg

__all__ = ["MIGRATIONS_DIR", "migrate", "schema_version"]

log = logging.getLogger(__name__)

#: The versioned SQL files of the PostgreSQL schema (``0001_initial.sql``...).
MIGRATIONS_DIR = Path(__file__).parent / "migrations" / "postgresql"
_MIGRATION = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
#: Key of the advisory lock held while migrating (any constant; "riskplan" in ASCII).
_MIGRATION_LOCK = 0x7269736B706C616E


def _migrations() -> list[tuple[int, str, str]]:
    """``(version, file name, SQL)`` of every migration file, in order."""
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        match = _MIGRATION.match(path.name)
        if match is None:
            msg = f"Migration file `{path}` is not named NNNN_name.sql. Fix: rename it."
            raise InputError(msg)
        found.append((int(match.group(1)), path.name, path.read_text(encoding="utf-8")))
    versions = [v for v, _, _ in found]
    if versions != list(range(1, len(found) + 1)):
        msg = (
            f"Migrations in `{MIGRATIONS_DIR}` are numbered {versions}, not 1, 2, 3... "
            "Fix: number them in order."
        )
        raise InputError(msg)
    return found


def schema_version(conn: psycopg.Connection[Any]) -> int:
    """The schema version of the database (0 for one riskplan never touched)."""
    row = conn.execute("SELECT to_regclass('riskplan.schema_migrations') IS NOT NULL").fetchone()
    if not row or not _value(row):
        return 0
    found = conn.execute("SELECT COALESCE(max(version), 0) FROM riskplan.schema_migrations").fetchone()
    return int(_value(found)) if found else 0


def _value(row: Any) -> Any:
    return next(iter(row.values())) if isinstance(row, dict) else row[0]


def migrate(conn: psycopg.Connection[Any], where: str) -> int:
    """Bring the schema up to date (in one transaction, under an advisory lock); return the version.

    Raises
    ------
    InputError
        The database has a newer schema than this riskplan knows.
    """
    migrations = _migrations()
    latest = len(migrations)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        current = schema_version(conn)
        if current > latest:
            msg = (
                f"The database `{where}` has riskplan schema version {current}, newer than this "
                f"riskplan knows ({latest}). Fix: upgrade riskplan, or use another database."
            )
            raise InputError(msg)
        if current == latest:
            return current
        conn.execute(
            "CREATE SCHEMA IF NOT EXISTS riskplan; "
            "CREATE TABLE IF NOT EXISTS riskplan.schema_migrations ("
            "version integer PRIMARY KEY, name text NOT NULL, "
            "applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for version, name, text in migrations[current:]:
            conn.execute(text.encode("utf-8"))
            conn.execute(
                "INSERT INTO riskplan.schema_migrations (version, name) VALUES (%s, %s)", (version, name)
            )
            log.info("database %s: applied migration %s", where, name)
    return latest
