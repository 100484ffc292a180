"""Lists of register items in SQL (private): the filter, the page's rows, the page as JSON.

A page is found in two steps so that only its own rows are ever read whole: the rows of the
page (``row`` only, from the indexes: every filter has one, composite where filters come
together, an R*Tree for boxes), newest first, at most ``limit``; then those rows' JSON, built
by SQLite's ``json_object`` in the order of the API's ``ItemOut`` (floats by Python's
``repr``, as :func:`json.dumps` writes them, so the bytes equal the API's own encoding).

``overdue`` is computed in SQL from the stored deadline and the request's day; the
requester's ``allowed_actions`` come from the workflow as one JSON list per state
(:class:`~service.store.register.ListView`), chosen in SQL.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from risk_models.register import RegisterError

from ._register_sql import FILTERS, ITEM_FIELDS, MONTH_SQL, OPEN_SQL, SCOPE_FIELDS, month_bounds
from .register import ItemQuery, ListView, Scope

__all__ = ["FLOAT_JSON", "RTREE_PROBE", "install_functions", "json_sql", "page_sql", "where_sql"]

#: The SQL function that writes a REAL as :func:`json.dumps` does (``repr``).
FLOAT_JSON = "rp_float_json"
#: A box holding more items than this is served by walking the rows newest first (a page's
#: items are found long before the box's last); a smaller one by the R*Tree.
RTREE_PROBE = 4096
_FLOATS = frozenset({"x", "y", "funds_yuan"})
_LISTS = frozenset({"criteria", "measures"})


def _float_json(value: float | None) -> str | None:
    return None if value is None else repr(float(value))


def install_functions(conn: sqlite3.Connection) -> None:
    """Register the SQL functions the list needs on ``conn``."""
    conn.create_function(FLOAT_JSON, 1, _float_json, deterministic=True)


def _value_sql(name: str) -> str:
    if name in _FLOATS:
        return f"json({FLOAT_JSON}({name}))"
    if name in _LISTS:
        return f"json(coalesce({name}, '[]'))"
    return name


_JSON_SQL: dict[int, tuple[Any, str, list[Any]]] = {}


def json_sql(view: ListView) -> tuple[str, list[Any]]:
    """The SQL expression of an item's JSON object (the fields of ``ItemOut``, in order), and its values.

    The order is that of the API's ``item_record``: the item's fields but ``x``, ``y``, then
    ``lon``, ``lat``, ``district``, ``street``, ``overdue``, ``allowed_actions``. The text is
    made once per ``view.actions`` (the first value, the day, changes).
    """
    known = _JSON_SQL.get(id(view.actions))
    if known is None or known[0] is not view.actions:
        sql, values = _json_sql(view)
        if len(_JSON_SQL) > 256:
            _JSON_SQL.clear()
        known = _JSON_SQL[id(view.actions)] = (view.actions, sql, values[1:])
    return known[1], [view.today.isoformat(), *known[2]]


def _json_sql(view: ListView) -> tuple[str, list[Any]]:
    parts = [f"'{name}', {_value_sql(name)}" for name in ITEM_FIELDS if name not in ("x", "y")]
    parts += [
        f"'lon', {_value_sql('x')}",
        f"'lat', {_value_sql('y')}",
        "'district', district",
        "'street', street",
    ]
    parts.append(
        f"'overdue', json(CASE WHEN {OPEN_SQL} AND deadline IS NOT NULL AND deadline < ? "
        "THEN 'true' ELSE 'false' END)"
    )
    values: list[Any] = [view.today.isoformat()]
    branches = []
    for supervised in (False, True):
        cases = []
        for status, actions in view.actions.items():
            cases.append("WHEN ? THEN ?")
            values += [status, json.dumps(list(actions[int(supervised)]), separators=(",", ":"))]
        branches.append(f"CASE status {' '.join(cases)} ELSE '[]' END" if cases else "'[]'")
    parts.append(
        f"'allowed_actions', json(CASE WHEN coalesce(supervised_by, '') = '' THEN {branches[0]} "
        f"ELSE {branches[1]} END)"
    )
    return "json_object(" + ", ".join(parts) + ")", values


def _scope_sql(scope: Scope, part: str | None = None) -> tuple[str, list[Any]]:
    """The scope's condition: whole, or one of its two disjoint parts (``own``, ``unset``)."""
    if scope.field not in SCOPE_FIELDS:
        msg = f"Cannot scope items by `{scope.field}`. Fix: use one of {sorted(SCOPE_FIELDS)}."
        raise RegisterError(msg)
    cond, values = f"{scope.field} = ?", [scope.value]
    unset: list[str] = []
    unset_values: list[Any] = []
    if scope.unassigned:
        unset.append("1 = 1")
    if scope.area is not None:
        area, area_values = scope.area.sql()
        unset.append(area)
        unset_values += area_values
    if part == "own" or not unset:
        return cond, values
    rest = f"{scope.field} IS NULL AND ({' OR '.join(unset)})"
    if part == "unset":
        return rest, unset_values
    return f"({cond} OR ({rest}))", values + unset_values


def _split_scope(scope: Scope | None) -> bool:
    """Whether the scope is an OR of two parts (its own items, or unassigned ones in its area)."""
    return scope is not None and (scope.unassigned or scope.area is not None)


def where_sql(
    query: ItemQuery, *, rtree: bool = False, scope_part: str | None = None
) -> tuple[str, list[Any]]:
    """The SQL condition and values of ``query`` on ``register_items``.

    ``rtree``: find the box's items by the R*Tree ``register_items_rtree`` (still checked
    exactly: the tree keeps 32-bit bounds rounded outwards). ``scope_part``: only the
    ``own`` or the ``unset`` part of a scope that is an OR of both (:func:`page_sql`). The
    ``unset`` part (items not handed over yet, in an area) is walked by the partial index
    ``register_items_unassigned`` only: its filters are written so that no other index
    serves them (``+column``), which bounds the walk by the area's unassigned items.
    """
    plain = scope_part == "unset"
    mark = "+" if plain else ""
    rtree = rtree and not plain
    where, values = ["1 = 1"], []
    for name in FILTERS:
        value = getattr(query, name)
        if value is not None:
            where.append(f"{mark}{name} = ?")
            values.append(value)
    if query.month is not None:
        start, _ = month_bounds(query.month)  # checks it
        where.append(f"{'substr(+reported_at, 1, 7)' if plain else MONTH_SQL} = ?")
        values.append(start[:7])
    if query.overdue_on is not None:
        where.append(f"{mark}{OPEN_SQL} AND deadline IS NOT NULL AND deadline < ?")
        values.append(query.overdue_on.isoformat())
    if query.bbox is not None:
        west, south, east, north = query.bbox
        across = west > east  # the box crosses the antimeridian (RFC 7946)
        if rtree and not across:
            where.append(
                "row IN (SELECT id FROM register_items_rtree "
                "WHERE west <= ? AND east >= ? AND south <= ? AND north >= ?)"
            )
            values += [east, west, north, south]
        # ``+x``: never an index on x; a large box is best served walking the rows newest first
        where.append(f"(+x >= ? {'OR' if across else 'AND'} +x <= ?) AND +y >= ? AND +y <= ?")
        values += [west, east, south, north]
    if query.scope is not None:
        cond, scope_values = _scope_sql(query.scope, scope_part)
        where.append(cond)
        values += scope_values
    return " AND ".join(where), values


def small_box(conn: sqlite3.Connection, query: ItemQuery) -> bool:
    """Whether ``query``'s box holds few enough items for the R*Tree (at most :data:`RTREE_PROBE`)."""
    if query.bbox is None or query.bbox[0] > query.bbox[2]:
        return False
    west, south, east, north = query.bbox
    n = conn.execute(
        "SELECT count(*) FROM (SELECT 1 FROM register_items_rtree "
        "WHERE west <= ? AND east >= ? AND south <= ? AND north >= ? LIMIT ?)",
        (east, west, north, south, RTREE_PROBE + 1),
    ).fetchone()[0]
    return int(n) <= RTREE_PROBE


def page_sql(
    conn: sqlite3.Connection, query: ItemQuery, *, limit: int | None, after: int | None
) -> tuple[str, list[Any]]:
    """SQL of the rows (``row`` only) of one page of ``query``, newest first.

    A scope that is an OR (a territorial government: the items handed over to it, or not yet
    handed over and in its area) is answered as the union of its two disjoint parts, each the
    newest ``limit`` rows of its own index walk, merged: one OR over the whole query would
    make SQLite collect every row of both parts and sort them (0.7 s on a 1M-item register
    with a box filter, against a few milliseconds).
    """
    rtree = small_box(conn, query)
    parts = ("own", "unset") if _split_scope(query.scope) else (None,)
    selects, values = [], []
    for part in parts:
        cond, part_values = where_sql(query, rtree=rtree, scope_part=part)
        if after is not None:
            cond += " AND row < ?"
            part_values.append(int(after))
        sql = f"SELECT row FROM register_items WHERE {cond} ORDER BY row DESC"
        if limit is not None:
            sql += " LIMIT ?"
            part_values.append(int(limit))
        selects.append(sql)
        values += part_values
    if len(selects) == 1:
        return selects[0], values
    sql = " UNION ALL ".join(f"SELECT row FROM ({s})" for s in selects) + " ORDER BY 1 DESC"
    if limit is not None:
        sql += " LIMIT ?"
        values.append(int(limit))
    return sql, values
