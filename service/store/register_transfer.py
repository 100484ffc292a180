"""Move a hidden-danger register kept in SQLite into PostgreSQL, whole, checked, in one transaction.

A server that moved to PostgreSQL before the register had a PostgreSQL backend kept its register
in ``DATA_DIR/register.sqlite3`` (:func:`service.store.postgres.open_store` still opens it there),
and a bureau that starts on the embedded store has its register in ``DATA_DIR/riskplan.sqlite3``.
:func:`transfer_register` copies such a register into the database's own tables
(``riskplan.register_*``): every item with its row, every event with its id (the audit log's
order and its keyset pages stay what they were), the yearly number counters, photos, accounts
(with their salted digests: tokens keep working) and the risk grades with their history.

It is all or nothing. The database's register must be empty (a register is never merged into
another: two registers' numbers and logs would collide), its tables are locked against writers
for the copy, each table is copied with ``COPY`` and then read back and compared row by row with
the source (a digest of every row in id order) before the one transaction commits; anything
else rolls the database back to the empty register it was. Only after the commit is
``register.sqlite3`` renamed (``register.sqlite3.moved-YYYYMMDD``, kept as the backup), so that
the next start of the server takes the register from PostgreSQL; ``riskplan.sqlite3`` is never
touched (it holds the embedded store's scenarios and jobs too).

Derived tables are not copied: SQLite's per-event states, R*Tree and bulk-load marks are
SQLite's own indexes; PostgreSQL's register version (the caches' key) is set past the last moved
event, as its migration sets it.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from gis import InputError

from ._postgres_support import shown

__all__ = ["TABLES", "TransferReport", "register_source", "transfer_register"]

#: The register's tables in copy order (items before the events that reference them), each with
#: the column that orders its rows (the digest's order) and its identity column, if any.
TABLES: tuple[tuple[str, str, str | None], ...] = (
    ("register_items", "row", "row"),
    ("register_events", "id", "id"),
    ("register_counters", "year", None),
    ("register_attachments", "ref", None),
    ("register_accounts", "id", None),
    ("register_risk_grades", "id", "id"),
)
#: PostgreSQL columns the database computes (never copied).
_GENERATED = frozenset({"geom"})
#: Tables ordered by a text key: PostgreSQL compares them byte by byte (``COLLATE "C"``), as SQLite does.
_TEXT_ORDERS = {"register_attachments": ("ref",), "register_accounts": ("id",)}
_REGISTER_FILE = "register.sqlite3"
_EMBEDDED_FILE = "riskplan.sqlite3"
_BATCH = 10_000


@dataclass(frozen=True)
class TransferReport:
    """What :func:`transfer_register` moved: rows per table, the source and where it was kept."""

    source: Path
    target: str
    rows: dict[str, int] = field(default_factory=dict)
    kept_as: Path | None = None

    @property
    def items(self) -> int:
        """The number of items moved."""
        return self.rows.get("register_items", 0)

    @property
    def events(self) -> int:
        """The number of events moved."""
        return self.rows.get("register_events", 0)


def register_source(path: Path) -> Path:
    """The SQLite file holding the register at ``path`` (a file, or a server's data directory).

    In a data directory ``register.sqlite3`` (a PostgreSQL server's old register) comes before
    ``riskplan.sqlite3`` (the embedded store's).

    Raises
    ------
    InputError
        Neither file exists, or the file holds no register, naming the path and the fix.
    """
    path = Path(path)
    if path.is_dir():
        for name in (_REGISTER_FILE, _EMBEDDED_FILE):
            if (path / name).is_file():
                path = path / name
                break
        else:
            msg = (
                f"Data directory `{path}`: neither `{_REGISTER_FILE}` nor `{_EMBEDDED_FILE}` is there, "
                "so there is no register to move. Fix: give the `--data-dir` of the server whose "
                "register it is (or the SQLite file itself)."
            )
            raise InputError(msg)
    if not path.is_file():
        msg = f"`{path}` does not exist. Fix: give the server's data directory or its register's SQLite file."
        raise InputError(msg)
    try:
        with _read_only(path) as conn:
            found = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        msg = f"`{path}` is not an SQLite database ({exc}). Fix: give the register's SQLite file."
        raise InputError(msg) from None
    missing = [t for t, _, _ in TABLES if t not in found]
    if missing:
        msg = (
            f"`{path}` holds no hidden-danger register (no table {', '.join(f'`{t}`' for t in missing)}). "
            "Fix: give the data directory of a riskplan server, or its `register.sqlite3`."
        )
        raise InputError(msg)
    return path


def transfer_register(
    source: Path,
    dsn: str,
    *,
    today: date | None = None,
    on_table: Callable[[str, int], None] | None = None,
) -> TransferReport:
    """Copy the register in ``source`` into the PostgreSQL database ``dsn``, checked, all or nothing.

    Parameters
    ----------
    source
        The server's data directory or the register's SQLite file (:func:`register_source`).
        Its schema is brought to this release's first, as the server would on start.
    dsn
        The PostgreSQL database (its riskplan schema is created or upgraded, as the server does).
    today
        The date in the backup's name (``register.sqlite3.moved-YYYYMMDD``); default today.
    on_table
        Called with each table's name and row count once it is copied (progress).

    Returns
    -------
    TransferReport
        The rows moved per table and, for ``register.sqlite3``, the backup's path.

    Raises
    ------
    InputError
        The source holds no register, the database's register is not empty, or the copy read
        back differs from the source (nothing is kept in the database then).
    """
    from ._postgres_connection import PostgresConnection
    from .migrations import migrate_sqlite

    path = register_source(source)
    migrate_sqlite(path)  # the columns of this release, as the server's start would make them
    PostgresConnection(dsn, min_connections=1, max_connections=1).close()  # schema made / upgraded
    import psycopg

    with _read_only(path) as src, psycopg.connect(dsn) as conn, conn.transaction():
        rows = _copy_all(src, conn, path=path, dsn=dsn, on_table=on_table)
    kept = None
    if path.name == _REGISTER_FILE:  # the server takes the register from the database from now on
        stamp = (today or date.today()).strftime("%Y%m%d")
        kept = _free_name(path.with_name(f"{path.name}.moved-{stamp}"))
        for suffix in ("", "-wal", "-shm"):
            side = Path(f"{path}{suffix}")
            if side.exists():
                side.rename(Path(f"{kept}{suffix}"))
    return TransferReport(source=path, target=shown(dsn), rows=rows, kept_as=kept)


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[sqlite3.Connection]:
    """The source file opened read-only (``mode=ro``): the copy only reads it."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        yield conn
    finally:
        conn.close()


def _copy_all(
    src: sqlite3.Connection,
    conn: Any,
    *,
    path: Path,
    dsn: str,
    on_table: Callable[[str, int], None] | None,
) -> dict[str, int]:
    """Every table of the register copied and checked, in the caller's one transaction."""
    conn.execute("SET LOCAL search_path TO riskplan, public")
    names = ", ".join(t for t, _, _ in TABLES)
    conn.execute(f"LOCK TABLE {names} IN SHARE ROW EXCLUSIVE MODE")  # no writer meanwhile
    _refuse_non_empty(conn, dsn)
    rows: dict[str, int] = {}
    for table, order, identity in TABLES:
        columns = _columns(src, conn, table)
        rows[table] = _copy(src, conn, table, columns, order)
        if identity is not None:  # the next id after the moved ones
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('riskplan.{table}', '{identity}'), "
                f"coalesce((SELECT max({identity}) FROM {table}), 0) + 1, false)"
            )
        if table == "register_events":  # the version the caches key on, as migration 0004 sets it
            conn.execute(
                "UPDATE register_version "
                "SET v = greatest(v, (SELECT coalesce(max(id), 0) FROM register_events))"
            )
        _check_equal(src, conn, table, columns=columns, order=order, path=path, dsn=dsn)
        if on_table is not None:
            on_table(table, rows[table])
    return rows


def _refuse_non_empty(conn: Any, dsn: str) -> None:
    counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t, _, _ in TABLES}
    held = {t: n for t, n in counts.items() if n}
    if held:
        listed = ", ".join(f"{n:,} in `{t}`" for t, n in held.items())
        msg = (
            f"PostgreSQL `{shown(dsn)}`: the register there is not empty ({listed}); a register is "
            "never merged into another (numbers and audit logs would collide). Fix: move it into "
            "a new database (`createdb`), or keep serving the register from its SQLite file."
        )
        raise InputError(msg)


def _columns(src: sqlite3.Connection, conn: Any, table: str) -> list[str]:
    """The columns both sides have (the target's generated ones left to the database)."""
    theirs = [r[1] for r in src.execute(f"PRAGMA table_info({table})")]
    ours = {
        r[0]
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'riskplan' AND table_name = %s",
            (table,),
        )
    }
    return [c for c in theirs if c in ours and c not in _GENERATED]


def _select(table: str, columns: Sequence[str], order: str) -> str:
    return f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}"


def _batches(cursor: Any) -> Iterator[list[tuple[Any, ...]]]:
    while True:
        batch = cursor.fetchmany(_BATCH)
        if not batch:
            return
        yield [tuple(r) for r in batch]


def _copy(src: sqlite3.Connection, conn: Any, table: str, columns: Sequence[str], order: str) -> int:
    """COPY the table's rows (identity values as they are: COPY writes them as given)."""
    n = 0
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for batch in _batches(src.execute(_select(table, columns, order))):
            for row in batch:
                copy.write_row(row)
            n += len(batch)
    return n


def _digest(rows: Iterator[list[tuple[Any, ...]]]) -> tuple[int, str]:
    h = hashlib.sha256()
    n = 0
    for batch in rows:
        for row in batch:
            h.update(repr(tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)).encode())
            h.update(b"\n")
        n += len(batch)
    return n, h.hexdigest()


def _check_equal(
    src: sqlite3.Connection,
    conn: Any,
    table: str,
    *,
    columns: Sequence[str],
    order: str,
    path: Path,
    dsn: str,
) -> None:
    """Read the copied table back and compare every row with the source's (rolls back on a difference)."""
    by = f'{order} COLLATE "C"' if order in _TEXT_ORDERS.get(table, ()) else order
    ours = _digest(_batches(conn.execute(_select(table, columns, by))))
    theirs = _digest(_batches(src.execute(_select(table, columns, order))))
    if ours != theirs:
        msg = (
            f"`{path}`, table `{table}`: the copy in PostgreSQL `{shown(dsn)}` reads back different "
            f"({ours[0]:,} rows against {theirs[0]:,}); nothing was kept there. Fix: check that the "
            "file is not being written (stop the server first) and run the move again."
        )
        raise InputError(msg)


def _free_name(path: Path) -> Path:
    if not path.exists():
        return path
    k = 2
    while Path(f"{path}.{k}").exists():
        k += 1
    return Path(f"{path}.{k}")
