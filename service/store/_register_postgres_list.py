"""Lists of register items in PostgreSQL (private): the filter of an :class:`ItemQuery` and a page.

The same filters as SQLite's (:mod:`._register_list`), in PostgreSQL's SQL: boxes by the GiST
index on ``geom`` (then checked exactly on ``x`` / ``y``), months by the expression index on
``substr(reported_at, 1, 7)``, a territorial government's area as the items not handed over yet
in its districts and streets. Placeholders are ``?`` (the register's connection turns them into
psycopg's).
"""

from __future__ import annotations

from typing import Any

from risk_models.register import RegisterError

from ._register_sql import FILTERS, MONTH_SQL, OPEN_SQL, SCOPE_FIELDS, month_bounds
from .register import AreaRule, ItemQuery, Scope

__all__ = ["page_sql", "where_sql"]


def _area_sql(area: AreaRule) -> tuple[str, list[Any]]:
    """The area's condition (as :meth:`AreaRule.sql`, in PostgreSQL's types)."""
    parts, values = [], []
    for district in area.districts:
        others = [s for d, s in area.except_streets if d == district]
        if others:
            marks = ", ".join("?" * len(others))
            parts.append(f"(district = ? AND (street IS NULL OR street NOT IN ({marks})))")
            values += [district, *others]
        else:
            parts.append("district = ?")
            values.append(district)
    for district, street in area.streets:
        parts.append("(district = ? AND street = ?)")
        values += [district, street]
    return ("(" + " OR ".join(parts) + ")" if parts else "false"), values


def _scope_sql(scope: Scope) -> tuple[str, list[Any]]:
    if scope.field not in SCOPE_FIELDS:
        msg = f"Cannot scope items by `{scope.field}`. Fix: use one of {sorted(SCOPE_FIELDS)}."
        raise RegisterError(msg)
    unset: list[str] = []
    values: list[Any] = [scope.value]
    if scope.unassigned:
        unset.append("true")
    if scope.area is not None:
        area, area_values = _area_sql(scope.area)
        unset.append(area)
        values += area_values
    if not unset:
        return f"{scope.field} = ?", values
    return f"({scope.field} = ? OR ({scope.field} IS NULL AND ({' OR '.join(unset)})))", values


def where_sql(query: ItemQuery) -> tuple[str, list[Any]]:
    """The SQL condition and values of ``query`` on ``riskplan.register_items``."""
    where, values = ["true"], []
    for name in FILTERS:
        value = getattr(query, name)
        if value is not None:
            where.append(f"{name} = ?")
            values.append(value)
    if query.month is not None:
        start, _ = month_bounds(query.month)  # checks it
        where.append(f"{MONTH_SQL} = ?")
        values.append(start[:7])
    if query.overdue_on is not None:
        where.append(f"{OPEN_SQL} AND deadline IS NOT NULL AND deadline < ?")
        values.append(query.overdue_on.isoformat())
    if query.bbox is not None:
        west, south, east, north = (float(v) for v in query.bbox)
        if west <= east:
            where.append("geom && ST_MakeEnvelope(?::float8, ?::float8, ?::float8, ?::float8, 4326)")
            values += [west, south, east, north]
            where.append("x >= ? AND x <= ? AND y >= ? AND y <= ?")
        else:  # the box crosses the antimeridian (RFC 7946)
            where.append("(x >= ? OR x <= ?) AND y >= ? AND y <= ?")
        values += [west, east, south, north]
    if query.scope is not None:
        cond, scope_values = _scope_sql(query.scope)
        where.append(cond)
        values += scope_values
    return " AND ".join(where), values


def page_sql(
    query: ItemQuery, *, columns: str, limit: int | None, after: int | None
) -> tuple[str, list[Any]]:
    """SQL of one page of ``query`` (``columns`` of each row), newest stored first (keyset on ``row``)."""
    cond, values = where_sql(query)
    if after is not None:
        cond += " AND row < ?"
        values.append(int(after))
    sql = f"SELECT {columns} FROM register_items WHERE {cond} ORDER BY row DESC"
    if limit is not None:
        sql += " LIMIT ?"
        values.append(int(limit))
    return sql, values
