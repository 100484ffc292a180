"""Schema migrations of the stores: ordered, versioned SQL files, applied on open.

Each backend has a folder of plain SQL files (``sqlite/0001_initial.sql``,
``sqlite/0002_rate_windows.sql``, ...; ``postgresql/0001_initial.sql``, ...). :func:`migrate` applies the ones
a database has not had yet, in order, each in one transaction together with its row in the
``schema_version`` table (version, name, time applied), so a crash leaves a database at one
version or the next, never between. A database whose version is newer than the files the
code knows is refused (:class:`SchemaVersionError`, naming both versions and the fix): an
older riskplan never writes to a schema it does not know.

Why versioned SQL files and not alembic: the stores are written in raw SQL through DB-API
connections (no SQLAlchemy models for alembic to compare against, and no SQLAlchemy
dependency at all); the two backends need different SQL anyway (SQLite's R*Tree and
triggers, PostGIS's geometry columns and GiST indexes), so a migration is honestly one file
per backend; and a file of SQL can be read and reviewed by a bureau's database administrator
and applied by hand with ``sqlite3`` or ``psql``. What alembic would add (autogeneration,
downgrades, branches) either needs the models or is not wanted: a store is upgraded forward
only, after a backup.

A database made before migrations existed has no ``schema_version`` table; it holds the
schema of ``0001`` or an older subset of it, and ``0001`` is written with ``IF NOT EXISTS``
throughout, so it brings such a database to version 1 in place. Later files are plain
changes.

The runner is backend-neutral: it takes a DB-API connection, the backend's folder, its
parameter style (``qmark`` for sqlite3, ``format`` for psycopg), how to begin a transaction
and where the version table is (``schema_version`` in SQLite, ``riskplan.schema_version`` in
PostgreSQL: one table shape, ``version integer``, ``name text``, ``applied_at text`` (ISO 8601
UTC), on both). SQLite files are split into statements with SQLite's own
:func:`sqlite3.complete_statement` (so trigger bodies stay whole); a backend whose driver runs
several statements in one ``execute`` (psycopg) passes ``split=False``.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from gis import InputError

__all__ = [
    "POSTGRESQL_MIGRATIONS",
    "SQLITE_MIGRATIONS",
    "VERSION_TABLE",
    "Migration",
    "SchemaVersionError",
    "migrate",
    "migrate_sqlite",
    "migrations_in",
    "schema_version",
    "split_statements",
]

log = logging.getLogger(__name__)

#: The SQLite store's migrations (``service/store/migrations/sqlite``).
SQLITE_MIGRATIONS = Path(str(resources.files(__name__).joinpath("sqlite")))
#: The PostgreSQL store's migrations (``service/store/migrations/postgresql``).
POSTGRESQL_MIGRATIONS = Path(str(resources.files(__name__).joinpath("postgresql")))

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
#: The version table's DDL, ``{table}`` its (qualified) name: the same shape on every backend.
VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS {table} ("
    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
)
_TABLE_NAME = re.compile(r"^([a-z_][a-z0-9_]*\.)?[a-z_][a-z0-9_]*$")
_PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


class SchemaVersionError(InputError):
    """The database's schema is newer than this code knows, or a migration file is malformed."""


@dataclass(frozen=True)
class Migration:
    """One migration file: its version (the number it starts with), name and SQL."""

    version: int
    name: str
    path: Path

    @property
    def sql(self) -> str:
        """The file's SQL text."""
        return self.path.read_text(encoding="utf-8")


def migrations_in(directory: str | Path) -> list[Migration]:
    """The migration files of a backend's folder, by version (increasing, no repeats).

    Gaps are allowed: a version may be reserved by a change not merged yet (SQLite 0007 and
    PostgreSQL 0005 by the job language's migration while the register's 0008 / 0006 are in);
    :func:`migrate` applies every file a database has not had, so a lower number arriving later
    is applied then.

    Examples
    --------
    >>> [m.version for m in migrations_in(SQLITE_MIGRATIONS)][:2]
    [1, 2]
    """
    folder = Path(directory)
    found: list[Migration] = []
    for path in sorted(folder.glob("*.sql")):
        match = _FILE.match(path.name)
        if match is None:
            msg = f"Migration file `{path}` is not named NNNN_name.sql. Fix: rename it, e.g. 0003_add_x.sql."
            raise SchemaVersionError(msg)
        found.append(Migration(int(match.group(1)), match.group(2), path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions) or (versions and versions[0] < 1):
        msg = (
            f"Migrations in `{folder}` are numbered {versions}: a version is repeated (or below 1). "
            "Fix: give each file its own number, from 0001."
        )
        raise SchemaVersionError(msg)
    return found


def split_statements(sql: str) -> Iterator[str]:
    r"""The statements of an SQL script, each whole (SQLite's parser decides where one ends).

    Examples
    --------
    >>> list(split_statements("CREATE TABLE a (x);\nCREATE TRIGGER t AFTER INSERT ON a\n"
    ...     "BEGIN SELECT 1; SELECT 2; END;"))  # doctest: +NORMALIZE_WHITESPACE
    ['CREATE TABLE a (x);', 'CREATE TRIGGER t AFTER INSERT ON a\nBEGIN SELECT 1; SELECT 2; END;']
    """
    buffer = ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statement = buffer.strip()
            buffer = ""
            if _strip_comments(statement):
                yield statement
    if _strip_comments(buffer).strip():
        msg = f"The SQL script ends inside a statement: {buffer.strip()[:80]!r}. Fix: end it with `;`."
        raise SchemaVersionError(msg)


def _strip_comments(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--")).strip()


def _check_table(table: str) -> str:
    if not _TABLE_NAME.match(table):
        msg = f"Version table `{table}` is not a plain (schema.)name. Fix: use `riskplan.schema_version`."
        raise ValueError(msg)
    return table


def schema_version(conn: Any, *, table: str = "schema_version") -> int:
    """The version recorded in ``table`` (0: none recorded, or no such table)."""
    cur = conn.cursor()
    try:
        cur.execute(f"SELECT max(version) FROM {_check_table(table)}")
        row = cur.fetchone()
    except Exception as exc:  # no table yet, whatever the driver calls that error ...
        conn.rollback()
        if "schema_version" not in str(exc):  # ... but a locked or broken database is not version 0
            raise
        return 0
    finally:
        cur.close()
    return int(row[0]) if row and row[0] is not None else 0


def _too_new(found: int, known: int, where: str) -> SchemaVersionError:
    msg = (
        f"The database {where} has schema version {found}, newer than this riskplan knows "
        f"(up to {known}): it was upgraded by a newer release. Fix: run that release (or newer) "
        "again, or restore the backup taken before the upgrade; this release will not open it."
    )
    return SchemaVersionError(msg)


def migrate(
    conn: Any,
    directory: str | Path,
    *,
    paramstyle: str = "qmark",
    begin: str | None = "BEGIN IMMEDIATE",
    split: bool = True,
    target: int | None = None,
    where: str = "",
    table: str = "schema_version",
) -> list[int]:
    """Bring the database of ``conn`` to the newest version in ``directory`` (or to ``target``).

    Parameters
    ----------
    conn
        A DB-API connection. For sqlite3 it must be in manual transaction mode
        (``isolation_level=None``): the runner begins and commits each transaction itself.
    directory
        The backend's folder of ``NNNN_name.sql`` files (:func:`migrations_in`).
    paramstyle
        The driver's parameter style: ``qmark`` (sqlite3) or ``format`` / ``pyformat``
        (psycopg).
    begin
        The statement that begins a migration's transaction (``BEGIN IMMEDIATE`` takes
        SQLite's write lock first, so two processes opening one database migrate it once);
        ``None`` when the driver begins transactions itself (psycopg).
    split
        Run the file statement by statement (:func:`split_statements`); ``False`` runs it in
        one ``execute`` (drivers that accept several statements at once).
    target
        Stop at this version (tests build an older database with it); default: the newest.
    where
        The database's name in messages (its path).
    table
        The version table, schema-qualified where the backend has schemas
        (``riskplan.schema_version``); created when missing (:data:`VERSION_TABLE`).

    Returns
    -------
    list of int
        The versions applied now (empty when the database was up to date).

    Raises
    ------
    SchemaVersionError
        When the database's version is newer than the newest file, or a file is malformed.

    Examples
    --------
    >>> conn = sqlite3.connect(":memory:", isolation_level=None)
    >>> migrate(conn, SQLITE_MIGRATIONS, target=1), schema_version(conn)
    ([1], 1)
    >>> migrate(conn, SQLITE_MIGRATIONS)[:1], migrate(conn, SQLITE_MIGRATIONS)
    ([2], [])
    """
    mark = _PLACEHOLDERS.get(paramstyle)
    if mark is None:
        msg = f"Unknown `paramstyle` {paramstyle!r}. Fix: use one of {sorted(_PLACEHOLDERS)}."
        raise ValueError(msg)
    migrations = migrations_in(directory)
    newest = migrations[-1].version if migrations else 0
    known = {m.version for m in migrations}
    stop = newest if target is None else target
    label = f"`{where}`" if where else "being opened"
    cur = conn.cursor()
    try:
        cur.execute(VERSION_TABLE.format(table=_check_table(table)))
        conn.commit()
        applied: list[int] = []
        for migration in migrations:
            if migration.version > stop:
                break
            if begin:
                cur.execute(begin)
            try:
                cur.execute(f"SELECT version FROM {table}")  # again, under the lock
                done = {int(r[0]) for r in cur.fetchall()}
                current = max(done, default=0)
                if current > newest or done - known:
                    raise _too_new(max(done - known, default=current), newest, label)
                if migration.version in done:  # (a lower number merged later is not in it)
                    conn.rollback()
                    continue
                statements = split_statements(migration.sql) if split else [migration.sql]
                for statement in statements:
                    cur.execute(statement)
                cur.execute(
                    f"INSERT INTO {table} (version, name, applied_at) VALUES ({mark}, {mark}, {mark})",
                    (migration.version, migration.name, datetime.now(UTC).isoformat(timespec="seconds")),
                )
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
            applied.append(migration.version)
            log.info("database %s: applied migration %04d_%s", label, migration.version, migration.name)
        if not applied:
            cur.execute(f"SELECT version FROM {table}")
            done = {int(r[0]) for r in cur.fetchall()}
            conn.rollback()
            if max(done, default=0) > newest or done - known:
                raise _too_new(max(done - known, default=max(done, default=0)), newest, label)
        return applied
    finally:
        cur.close()


def migrate_sqlite(db_path: str | Path, *, target: int | None = None) -> list[int]:
    """Open the SQLite database ``db_path`` (WAL mode) and :func:`migrate` it; the versions applied."""
    conn = sqlite3.connect(db_path, timeout=30, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        return migrate(conn, SQLITE_MIGRATIONS, target=target, where=str(db_path))
    finally:
        conn.close()
