"""Rows of the register's SQLite tables (private): schema, and items / events to and from rows."""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import fields
from datetime import UTC, date, datetime
from typing import Any

from risk_models.register import Event, Item, RegisterError
from risk_models.register.vocab import OPEN_STATUSES

from .register import StoredItem

__all__ = [
    "EVENT_COLUMNS",
    "FILTERS",
    "ITEM_FIELDS",
    "MONTH_SQL",
    "OPEN_SQL",
    "RTREE_BACKFILL",
    "RTREE_BULK_LOAD",
    "SCOPE_FIELDS",
    "STATES_BULK_LOAD",
    "clean_text",
    "event_of",
    "event_values",
    "item_of",
    "item_values",
    "items_frame_of",
    "month_bounds",
    "now_utc",
    "stored_of",
]

#: The fields of an Item, in order: one column each in ``register_items``.
ITEM_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Item))
LIST_FIELDS = ("criteria", "measures")
EVENT_COLUMNS = (
    "number", "seq", "action", "at", "actor", "role", "unit", "from_status", "to_status", "note",
    "attachments", "grade", "deadline", "authority", "territorial_unit", "department_unit", "data",
)  # fmt: skip
SCOPE_FIELDS = frozenset({"department_unit", "territorial_unit", "enterprise_id", "reported_by"})
FILTERS = (
    "status", "category", "grade", "source", "department_unit", "territorial_unit", "enterprise_id",
    "district", "street",
)  # fmt: skip


#: The month an item was reported in (``YYYY-MM``), as the month indexes hold it.
MONTH_SQL = "substr(reported_at, 1, 7)"
#: The open states as an SQL condition with literals (so that the partial index serves it).
OPEN_SQL = "status IN ({})".format(", ".join(f"'{s}'" for s in OPEN_STATUSES))
#: Fill the R*Tree of a store made before it existed (or by a bulk load that bypassed it).
#: Points go in by position: an R*Tree takes them several times faster than in row order.
RTREE_BACKFILL = (
    "INSERT OR REPLACE INTO register_items_rtree (id, west, east, south, north) "
    "SELECT row, x, x, y, y FROM register_items "
    "WHERE row > coalesce((SELECT max(id) FROM register_items_rtree), 0) ORDER BY x, y"
)
#: The R*Tree entries of the rows a bulk import added after row ``?`` (by position, as above).
RTREE_BULK_LOAD = (
    "INSERT OR REPLACE INTO register_items_rtree (id, west, east, south, north) "
    "SELECT row, x, x, y, y FROM register_items WHERE row > ? ORDER BY x, y"
)

#: Fill ``register_states`` for the events after id ``?`` of items that have no earlier events
#: (a bulk import's new items), in one pass in (number, seq) order: the fold of SQLite
#: migration 0006, whose trigger stands aside while ``register_bulk_load`` holds a row.
_STATES_LAST = ("to_status", "grade", "deadline", "authority", "territorial_unit", "department_unit")
_STATES_MILESTONES = (
    ("verify", "min"),
    ("hand_over", "min"),
    ("plan", "max"),
    ("claim", "max"),
    ("accept", "max"),
    ("reject", "max"),
    ("supervise", "min"),
)
STATES_BULK_LOAD = (
    "INSERT INTO register_states SELECT number, seq, at, "
    + ", ".join(
        f"substr(max(CASE WHEN {c} IS NOT NULL THEN (seq + 1000000000) || {c} END) OVER w, 11)"
        for c in _STATES_LAST
    )
    + ", min(at) OVER w, "
    + ", ".join(
        f"{how}(CASE WHEN action = '{action}' THEN at END) OVER w" for action, how in _STATES_MILESTONES
    )
    + ", sum(action = 'extend') OVER w, sum(action = 'reopen') OVER w, count(*) OVER w, max(at) OVER w "
    "FROM register_events WHERE id > ? "
    "WINDOW w AS (PARTITION BY number ORDER BY seq ROWS UNBOUNDED PRECEDING) ORDER BY number, seq"
)


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def item_values(item: Item) -> dict[str, Any]:
    """The columns of ``item`` in ``register_items`` (lists as JSON, times as ISO text)."""
    rec = item.to_record()
    for key in LIST_FIELDS:
        rec[key] = json.dumps(rec[key], ensure_ascii=False)
    return rec


def event_values(event: Event, seq: int) -> tuple[Any, ...]:
    """The columns of ``event`` in ``register_events`` (:data:`EVENT_COLUMNS` order)."""
    d = event.data
    deadline = d.get("deadline")
    return (
        event.number,
        seq,
        event.action,
        event.at.isoformat(),
        event.actor,
        event.role,
        event.unit,
        event.from_status,
        event.to_status,
        event.note,
        json.dumps(list(event.attachments)),
        d.get("grade"),
        deadline.isoformat() if isinstance(deadline, date) else deadline,
        d.get("authority"),
        d.get("territorial_unit"),
        d.get("department_unit"),
        event.data_json(),
    )


def item_of(row: sqlite3.Row) -> Item:
    rec = {name: row[name] for name in ITEM_FIELDS}
    for key in LIST_FIELDS:
        rec[key] = json.loads(rec[key] or "[]")
    return Item.from_record(rec)


def stored_of(row: sqlite3.Row) -> StoredItem:
    return StoredItem(item_of(row), int(row["row"]), row["district"], row["street"], row["reported_by"])


def event_of(row: sqlite3.Row) -> Event:
    return Event.from_record(
        {
            "number": row["number"],
            "action": row["action"],
            "at": row["at"],
            "actor": row["actor"],
            "role": row["role"],
            "unit": row["unit"],
            "from_status": row["from_status"],
            "to_status": row["to_status"],
            "note": row["note"],
            "attachments": json.loads(row["attachments"]),
            "data": row["data"],
        }
    )


def month_bounds(month: str) -> tuple[str, str]:
    try:
        year, mon = (int(p) for p in month.split("-"))
        start = date(year, mon, 1)
    except ValueError:
        msg = f"Month {month!r} is not a month. Fix: give it as 'YYYY-MM'."
        raise RegisterError(msg) from None
    end = date(year + mon // 12, mon % 12 + 1, 1)
    return start.isoformat(), end.isoformat()


def clean_text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def items_frame_of(rows: list[tuple[Any, ...]]) -> Any:
    """The items frame of :func:`risk_models.register.items_frame` straight from table rows.

    ``rows`` hold :data:`ITEM_FIELDS` then the area columns; the frame is the one
    ``items_frame`` makes of the same items (tested), without building an Item per row.
    """
    import geopandas as gpd
    import pandas as pd

    from risk_models.register.items import DATETIME_FIELDS

    from .register import AREA_COLUMNS, REGISTER_CRS

    names = [*ITEM_FIELDS, *AREA_COLUMNS]
    df = pd.DataFrame(rows, columns=names)
    if not len(df):
        df = df.astype(object)
    for col in LIST_FIELDS:
        df[col] = (
            df[col]
            .map(lambda v: None if v in (None, "[]") else "; ".join(json.loads(v)) or None)
            .astype(object)
        )
    for col in DATETIME_FIELDS:
        df[col] = pd.to_datetime(df[col], format="ISO8601")
    df["deadline"] = pd.to_datetime(df["deadline"], format="ISO8601").astype("datetime64[s]")  # as of dates
    df["funds_yuan"] = df["funds_yuan"].astype(float)
    for col in ("version", "extensions", "reopens"):
        df[col] = df[col].astype(int)
    for col in df.columns:
        if df[col].dtype == object or pd.api.types.is_string_dtype(df[col].dtype):
            df[col] = df[col].astype(object).where(df[col].notna(), None)
    geometry = gpd.points_from_xy(df["x"].astype(float), df["y"].astype(float), crs=REGISTER_CRS)
    out = gpd.GeoDataFrame(df.drop(columns=["x", "y"]), geometry=geometry, crs=REGISTER_CRS)
    out.index = pd.Index(out["number"].astype(str).to_numpy(), dtype=object)
    for col in AREA_COLUMNS:  # after geometry, as the service adds them to an items frame
        out[col] = out.pop(col)
    return out
