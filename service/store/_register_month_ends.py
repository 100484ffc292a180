"""The month-end states of ended months, materialised in SQLite (private; migration 0008).

A month's disclosure reads the states at the month's end of the items that can count in it
(:func:`._register_frames.snapshot_sql` over ``SQLiteRegister._window``). For an ended month
those rows are kept in ``register_month_ends`` once made and read back as one range of its
primary key; triggers clear a month when an event dated before its end is stored, or when an
item leaves a final state (it then counts in months it did not count in); a bulk import
clears the months ending after its earliest event (:data:`CLEAR_AFTER_BULK_LOAD`).

A month is built from the read connection's query, then stored in a write transaction only
if no event that would have cleared it arrived meanwhile (:data:`_STALE_SINCE`): the rows are
always what the query gives at the time they are read.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import Any

from risk_models.register import SNAPSHOT_COLUMNS

__all__ = ["CLEAR_AFTER_BULK_LOAD", "ended_month", "read_month", "store_month"]

_COLUMNS = ", ".join(SNAPSHOT_COLUMNS)
#: After a bulk import's inserts (events after id ``?``): clear every month ending after its
#: earliest event (the per-event trigger stands aside while ``register_bulk_load`` has a row).
CLEAR_AFTER_BULK_LOAD = (
    "DELETE FROM register_month_ends_built WHERE month_end > "
    "(SELECT min(at) FROM register_events WHERE id > ?)"
)
#: Events after id ``?`` that would have cleared a month of start ``?`` and end ``?``.
_STALE_SINCE = (
    "SELECT 1 FROM register_events WHERE id > ? AND (at < ? OR ("
    "from_status IN ('closed', 'rejected') AND to_status IS NOT NULL "
    "AND to_status NOT IN ('closed', 'rejected'))) LIMIT 1"
)


def ended_month(active_since: datetime | None, reported_before: datetime | None, now: datetime) -> str | None:
    """``YYYY-MM`` when the window is exactly a calendar month that ended before ``now``."""
    if active_since is None or reported_before is None or active_since.tzinfo or reported_before.tzinfo:
        return None  # (the store's times are naive UTC)
    if reported_before > now:
        return None
    start = active_since
    if (start.day, start.hour, start.minute, start.second, start.microsecond) != (1, 0, 0, 0, 0):
        return None
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    if reported_before != datetime(year, month, 1):
        return None
    return f"{start.year:04d}-{start.month:02d}"


def read_month(conn: sqlite3.Connection, month: str) -> list[tuple[Any, ...]] | None:
    """The stored rows of ``month`` (``number`` then the snapshot columns), None if not built."""
    # one read of both tables: a month cleared between them reads as not built
    cur = conn.execute(
        f"SELECT number, {_COLUMNS} FROM register_month_ends WHERE month = ? "
        "AND EXISTS (SELECT 1 FROM register_month_ends_built WHERE month = ?) ORDER BY number",
        (month, month),
    )
    cur.row_factory = None
    rows = cur.fetchall()
    if (
        not rows
        and conn.execute("SELECT 1 FROM register_month_ends_built WHERE month = ?", (month,)).fetchone()
        is None
    ):
        return None
    return rows


def store_month(
    write: Callable[[], Any],
    *,
    month: str,
    start: str,
    end: str,
    rows: list[tuple[Any, ...]],
    read_up_to: int,
    built_at: str,
) -> bool:
    """Store ``rows`` (read when the last event id was ``read_up_to``) as ``month``'s; False if stale.

    ``write`` opens the store's write transaction (a context manager yielding the connection).
    """
    with write() as conn:
        if conn.execute(_STALE_SINCE, (read_up_to, end)).fetchone() is not None:
            return False
        if conn.execute("SELECT 1 FROM register_month_ends_built WHERE month = ?", (month,)).fetchone():
            return True  # another process built it meanwhile (from the same events)
        marks = ", ".join("?" * (len(SNAPSHOT_COLUMNS) + 2))
        conn.executemany(
            f"INSERT INTO register_month_ends (month, number, {_COLUMNS}) VALUES ({marks})",
            [(month, *r) for r in rows],
        )
        conn.execute(
            "INSERT INTO register_month_ends_built (month, month_start, month_end, items, built_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (month, start, end, len(rows), built_at),
        )
    return True
