"""The register's states as of a time, from the states stored per event (private).

:func:`snapshot_sql` gives, per item, what :func:`risk_models.register.snapshot` gives from an
events frame: the last non-missing state, grade, deadline, authority and units, the first
event's time, the first or last time of each milestone, the counts of extensions and reopens,
the number of events and the last one's time. It reads them from ``register_states`` (the
state after each event, kept by a trigger: SQLite migration 0006); :func:`aggregate_snapshot_sql`
folds the events themselves (each "first" or "last" taken by ``seq``: ``max((seq + 1e9) ||
value)``; times by ``min`` and ``max``, since an item's events never go back in time), the
reference the stored states are tested against. :func:`snapshot_of` makes the frame with the
dtypes ``snapshot`` makes (tested against it).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from risk_models.register import SNAPSHOT_COLUMNS

__all__ = ["aggregate_snapshot_sql", "snapshot_of", "snapshot_sql"]

# seq + 1e9 has ten digits for any seq below 9e9: text order is seq order
_KEY = "(seq + 1000000000)"
_LAST = "substr(max(CASE WHEN {col} IS NOT NULL THEN " + _KEY + " || {col} END), 11)"
# an item's events never go back in time (``apply`` refuses an event older than the item's
# last), so the first or last time of an action is its min or max
_AT = "{how}(CASE WHEN action = '{action}' THEN at END)"
# as risk_models.register.frames._MILESTONES
_MILESTONES = (
    ("verified_at", "verify", "min"),
    ("handed_over_at", "hand_over", "min"),
    ("rectifying_at", "plan", "max"),
    ("rectified_at", "claim", "max"),
    ("closed_at", "accept", "max"),
    ("rejected_at", "reject", "max"),
    ("supervised_at", "supervise", "min"),
)
_TIMES = ("reported_at", *(c for c, _, _ in _MILESTONES), "updated_at")
_DATE_DTYPE = pd.to_datetime(pd.Series([date(2000, 1, 1)])).dtype
_TIME_DTYPE = pd.to_datetime(pd.Series(["2000-01-01T00:00:00"]), format="ISO8601").dtype
_NP_TIME = "datetime64[us]"
#: Snapshot columns under another name in ``register_items``.
_ITEM_COLUMN = {"status": "status"}


def snapshot_sql(rows_sql: str) -> str:
    """SQL of the states before ``?`` (the first value) of the item rows ``rows_sql`` selects.

    Columns: ``number`` then :data:`~risk_models.register.SNAPSHOT_COLUMNS`; ordered by number.
    An item with no event at or after that time is in the state its row keeps (the
    projection is the replay of its events: tested); the others are in the state stored with
    their last event before it (``register_states``, SQLite migration 0006: one short range
    of the item's own rows, where :func:`aggregate_snapshot_sql` folds every earlier event).
    """
    kept = ", ".join(_ITEM_COLUMN.get(c, c) for c in SNAPSHOT_COLUMNS)
    stored = ", ".join(f"s.{c}" for c in SNAPSHOT_COLUMNS)
    return (
        "WITH bound(t) AS (SELECT ?), "
        f"chosen AS MATERIALIZED (SELECT row FROM register_items WHERE row IN ({rows_sql})) "
        f"SELECT number, {kept} FROM register_items "
        "WHERE row IN (SELECT row FROM chosen) AND updated_at < (SELECT t FROM bound) "
        f"UNION ALL SELECT i.number, {stored} FROM register_items AS i JOIN register_states AS s "
        "ON s.number = i.number AND s.seq = (SELECT max(x.seq) FROM register_states AS x "
        "WHERE x.number = i.number AND x.at < (SELECT t FROM bound)) "
        "WHERE i.row IN (SELECT row FROM chosen) AND i.updated_at >= (SELECT t FROM bound) "
        "ORDER BY number"
    )


def aggregate_snapshot_sql(rows_sql: str) -> str:
    """:func:`snapshot_sql` by aggregates over the events (the reference of ``register_states``).

    Each "first" or "last" is taken by ``seq`` (``max((seq + 1e9) || value)``: the value of
    the greatest seq, in one pass of the item's events); times by ``min`` and ``max``.
    """
    cols = {
        "status": _LAST.format(col="to_status"),
        "grade": _LAST.format(col="grade"),
        "deadline": _LAST.format(col="deadline"),
        "supervised_by": _LAST.format(col="authority"),
        "territorial_unit": _LAST.format(col="territorial_unit"),
        "department_unit": _LAST.format(col="department_unit"),
        "reported_at": "min(at)",
        **{c: _AT.format(how=how, action=action) for c, action, how in _MILESTONES},
        "extensions": "sum(action = 'extend')",
        "reopens": "sum(action = 'reopen')",
        "version": "count(*)",
        "updated_at": "max(at)",
    }
    assert tuple(cols) == SNAPSHOT_COLUMNS
    select = ", ".join(f"{sql} AS {name}" for name, sql in cols.items())
    kept = ", ".join(_ITEM_COLUMN.get(c, c) for c in SNAPSHOT_COLUMNS)
    return (
        "WITH bound(t) AS (SELECT ?), "
        f"chosen AS MATERIALIZED (SELECT row FROM register_items WHERE row IN ({rows_sql})) "
        f"SELECT number, {kept} FROM register_items "
        "WHERE row IN (SELECT row FROM chosen) AND updated_at < (SELECT t FROM bound) "
        f"UNION ALL SELECT number, {select} FROM register_events WHERE number IN "
        "(SELECT number FROM register_items WHERE row IN (SELECT row FROM chosen) "
        "AND updated_at >= (SELECT t FROM bound)) "
        "AND at < (SELECT t FROM bound) GROUP BY number "
        "ORDER BY number"
    )


def snapshot_of(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    """The frame :func:`risk_models.register.snapshot` makes, from the rows of :func:`snapshot_sql`.

    Dtypes as ``snapshot`` gives them from the store's events frame: deadlines as dates were
    parsed there, times as ISO text (parsed here by numpy, in C, to the same unit).
    """
    names = ["number", *SNAPSHOT_COLUMNS]
    cols = dict(zip(names, zip(*rows, strict=True), strict=True)) if rows else dict.fromkeys(names, ())
    index = pd.Index(np.array(cols.pop("number"), dtype=object), dtype=object)
    data: dict[str, Any] = {}
    for name in SNAPSHOT_COLUMNS:
        values = cols[name]
        if name in _TIMES:
            data[name] = pd.Series(np.array(values, dtype=_NP_TIME), index=index).astype(_TIME_DTYPE)
        elif name == "deadline":
            data[name] = pd.Series(np.array(values, dtype="datetime64[D]"), index=index).astype(_DATE_DTYPE)
        elif name in ("extensions", "reopens", "version"):
            data[name] = pd.Series(np.array(values, dtype=np.int64), index=index).astype(int)
        elif name == "status":
            data[name] = pd.Series(list(values), index=index)  # the dtype pandas infers, as `snapshot`
        else:
            data[name] = pd.Series(np.array(values, dtype=object), index=index, dtype=object)
    return pd.DataFrame(data, index=index)
