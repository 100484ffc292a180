"""Risk grades of hazard sources in the register's SQLite store (private): a table with its history.

Migration ``register_risk_grades`` (issue 15, the API's risk grading; added beside the
register's tables, created when missing, nothing else changed)::

    register_risk_grades  one row per grading of a hazard source or a part of it: method,
                          factors, score, grade, colour, control level and measures, who and
                          when; append-only (triggers refuse UPDATE and DELETE): a re-grade
                          appends a row, the latest row of a (hazard_id, part) counts.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["GRADE_COLUMNS", "insert_grades", "select_grades"]

#: The columns of a stored grade, in order (``id`` is the store's).
GRADE_COLUMNS: tuple[str, ...] = (
    "id", "hazard_id", "part", "method", "factors", "score", "basis", "grade", "colour", "control_level",
    "control_measures", "lon", "lat", "graded_at", "actor", "role", "note",
)  # fmt: skip


def insert_grades(conn: sqlite3.Connection, records: Sequence[Mapping[str, Any]]) -> list[int]:
    """Append graded rows (fields of :data:`GRADE_COLUMNS` but ``id``); their new ids."""
    cols = GRADE_COLUMNS[1:]
    marks = ", ".join("?" * len(cols))
    sql = f"INSERT INTO register_risk_grades ({', '.join(cols)}) VALUES ({marks}) RETURNING id"
    ids = []
    for rec in records:
        values = [json.dumps(rec[c], sort_keys=True) if c == "factors" else rec.get(c) for c in cols]
        ids.append(int(conn.execute(sql, values).fetchone()[0]))
    return ids


def select_grades(
    conn: sqlite3.Connection,
    *,
    hazard_id: str | None = None,
    grade: str | None = None,
    method: str | None = None,
    history: bool = False,
) -> list[dict[str, Any]]:
    """Stored grades, the latest of each (hazard_id, part) unless ``history``; oldest first."""
    where, values = ["1 = 1"], []
    for name, value in (("hazard_id", hazard_id), ("grade", grade), ("method", method)):
        if value is not None:
            where.append(f"{name} = ?")
            values.append(value)
    if not history:
        where.append("id IN (SELECT max(id) FROM register_risk_grades GROUP BY hazard_id, part)")
    rows = conn.execute(
        f"SELECT {', '.join(GRADE_COLUMNS)} FROM register_risk_grades "
        f"WHERE {' AND '.join(where)} ORDER BY id",
        values,
    ).fetchall()
    out = []
    for row in rows:
        rec = dict(zip(GRADE_COLUMNS, tuple(row), strict=True))
        rec["factors"] = json.loads(rec["factors"])
        out.append(rec)
    return out
