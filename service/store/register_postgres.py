"""The hidden-danger register in PostgreSQL + PostGIS (``riskplan serve --store postgresql://...``).

The tables are those of SQLite's register (:mod:`.register_sqlite`), in schema ``riskplan``
(migration ``migrations/postgresql/0003_register.sql``), with the item's point as a PostGIS
``geometry(Point, 4326)`` column ``geom`` made from ``x`` / ``y`` by the database and a GiST
index on it: boxes are found by the index, and QGIS opens ``riskplan.register_items`` as a
point layer of the register straight from the database.

The contract is :class:`~service.store.register.RegisterStore`'s, kept by the database:

* the audit log ``register_events`` is append-only: triggers refuse UPDATE, DELETE and TRUNCATE
  (and DELETE on items, UPDATE / DELETE on photos and risk grades);
* every change is one transaction on a pooled connection; a move locks its item's row
  (``SELECT ... FOR UPDATE``), so two moves of one item are serialised and the second sees the
  first's result;
* numbers ``YH-<year>-<counter>`` come from one counter row per year, taken by an upsert whose
  row lock lasts to the end of the transaction: concurrent reports of a year (in any number of
  server processes) are numbered one after the other, without gaps, and a report that fails
  uses no number. A batch (an import) locks the counters table first, so nobody numbers
  meanwhile.

The write flows, accounts, grades and single-item reads are the backend-neutral
:class:`._register_base.RegisterBase`, the same code as SQLite's; the list, frames and
snapshot are written here for PostgreSQL (:mod:`._register_postgres_list`).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gis.tables import TableOverrides
from risk_models.register import Event, RegisterError, load_workflow

from ._register_base import RegisterBase
from ._register_postgres_list import page_sql, where_sql
from ._register_rows import IMPORT_ITEM_COLUMNS, event_rows, import_seqs, item_rows, last_counters
from ._register_sql import EVENT_COLUMNS, ITEM_FIELDS, OPEN_SQL, event_of, items_frame_of, stored_of
from .register import AREA_COLUMNS, ItemQuery, ListView, StoredItem

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd
    import psycopg
    from psycopg_pool import ConnectionPool

    from risk_models.register import ImportResult

__all__ = ["PostgresRegister"]

#: Events fetched per round trip when the whole log is read (:meth:`PostgresRegister.iter_events`).
EVENT_BATCH = 10_000


class Row:
    """A row read by column name or by position (as :class:`sqlite3.Row`)."""

    __slots__ = ("_index", "_values")

    def __init__(self, values: Sequence[Any], index: Mapping[str, int]) -> None:
        self._values = values
        self._index = index

    def __getitem__(self, key: int | str) -> Any:
        return self._values[self._index[key]] if isinstance(key, str) else self._values[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def keys(self) -> list[str]:
        return list(self._index)


def _rows(cursor: Any) -> Callable[[Sequence[Any]], Row]:
    """Psycopg row factory of :class:`Row`."""
    index = {c.name: k for k, c in enumerate(cursor.description or ())}
    return lambda values: Row(values, index)


class Connection:
    """A psycopg connection taking the register's ``?`` placeholders; rows are :class:`Row`."""

    __slots__ = ("conn",)

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    def execute(self, sql: str, values: Sequence[Any] = ()) -> Any:
        """A cursor of ``sql`` run with ``values`` (rows are :class:`Row`)."""
        cur = self.conn.cursor(row_factory=_rows)
        cur.execute(self._sql(sql), list(values))
        return cur

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run ``sql`` once per row (psycopg pipelines them)."""
        if rows:
            with self.conn.cursor() as cur:
                cur.executemany(self._sql(sql), rows)


class PostgresRegister(RegisterBase):
    """The register in the PostgreSQL database of a :class:`~service.store.PostgresStore`.

    Parameters
    ----------
    pool
        The store's connection pool (autocommit connections whose ``search_path`` starts with
        ``riskplan``); the schema is the store's (migration 0003).
    register_workflow
        Overrides of ``register_workflow.toml`` (or a loaded workflow): the numbering and the
        rules every stored event is checked against.
    """

    GREATEST = "greatest"

    def __init__(self, pool: ConnectionPool[Any], *, register_workflow: TableOverrides | Any = None) -> None:
        self._pool = pool
        self.workflow = load_workflow(register_workflow)

    def close(self) -> None:
        """Nothing of its own to close: the connections are the store's."""

    # -- plumbing --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._pool.connection() as conn, conn.transaction():
            yield Connection(conn)

    @contextlib.contextmanager
    def _reading(self) -> Iterator[Connection]:
        with self._pool.connection() as conn:
            yield Connection(conn)

    @staticmethod
    def _row(conn: Any, number: str, *, lock: bool = False) -> Any:
        sql = "SELECT * FROM register_items WHERE number = ?" + (" FOR UPDATE" if lock else "")
        return conn.execute(sql, (number,)).fetchone()

    def _lock_batch(self, conn: Any) -> None:
        # blocks the counter upserts of reports (ROW EXCLUSIVE) until the batch commits; reads go on
        conn.execute("LOCK TABLE register_counters IN SHARE ROW EXCLUSIVE MODE")

    # -- the import ------------------------------------------------------------------------

    _IMPORT_ITEM_SQL = (
        f"INSERT INTO register_items ({', '.join(IMPORT_ITEM_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(IMPORT_ITEM_COLUMNS))})"
    )
    _IMPORT_EVENT_SQL = (
        f"INSERT INTO register_events ({', '.join(EVENT_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(EVENT_COLUMNS))})"
    )

    def import_items(self, make: Callable[[Mapping[int, int]], ImportResult]) -> list[str]:
        """Store an import's new items and events: all or none (see the interface).

        ``make`` runs first outside the transaction on the counters as they are; inside it, with
        the counters locked, it runs again if another writer numbered items of those years.
        """
        import psycopg.errors

        def rows(result: ImportResult) -> tuple[list[str], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
            seqs = import_seqs(result.items, result.events)
            items = item_rows(result.items.values(), result.areas)
            return list(result.items), items, event_rows(result.events, seqs)

        with self._reading() as conn:
            counters = self._counters(conn)
        result = make(counters)
        numbers, items, events = rows(result)
        try:
            with self._write() as conn:
                self._lock_batch(conn)
                now = self._counters(conn)
                if any(now.get(y) != counters.get(y) for y in last_counters(numbers)):
                    numbers, items, events = rows(make(now))  # numbered meanwhile: number again
                conn.executemany(self._IMPORT_ITEM_SQL, items)
                conn.executemany(self._IMPORT_EVENT_SQL, events)
                self._raise_counters(conn, last_counters(numbers))
        except psycopg.errors.UniqueViolation:  # rolled back: a number was taken
            with self._reading() as conn:
                taken = [
                    r[0]
                    for r in conn.execute(
                        "SELECT number FROM register_items WHERE number = ANY(?)", (numbers,)
                    ).fetchall()
                ]
            msg = (
                f"Items {taken[:10]} are already stored; nothing was imported. Fix: number the import "
                "from the counters `import_items` passes to `make`."
            )
            raise RegisterError(msg) from None
        return numbers

    # -- reads -----------------------------------------------------------------------------

    @staticmethod
    def where(query: ItemQuery) -> tuple[str, list[Any]]:
        """The SQL condition (``?`` placeholders) and values of ``query`` on ``register_items``."""
        return where_sql(query)

    def list_items(
        self, query: ItemQuery, *, limit: int | None = None, after: int | None = None
    ) -> list[StoredItem]:
        """Items matching ``query``, newest stored first (keyset paging on the row)."""
        sql, values = page_sql(query, columns="*", limit=limit, after=after)
        with self._reading() as conn:
            return [stored_of(r) for r in conn.execute(sql, values).fetchall()]

    def list_json(
        self, query: ItemQuery, view: ListView, *, limit: int | None = None, after: int | None = None
    ) -> list[tuple[int, str]]:
        """Items matching ``query`` as ``(row, JSON)``, newest first (see the interface).

        The JSON is made here from each item's record, in ``ItemOut``'s order: ``overdue`` as
        SQLite computes it (open, deadline before ``view.today``), the actions of its state.
        """
        from risk_models.register.vocab import OPEN_STATUSES

        out = []
        for stored in self.list_items(query, limit=limit, after=after):
            item = stored.item
            rec = item.to_record()
            rec["lon"], rec["lat"] = rec.pop("x"), rec.pop("y")
            rec["district"], rec["street"] = stored.district, stored.street
            rec["overdue"] = bool(
                item.status in OPEN_STATUSES and item.deadline is not None and item.deadline < view.today
            )
            actions = view.actions.get(item.status or "")
            rec["allowed_actions"] = list(actions[int(bool(item.supervised_by))]) if actions else []
            text = json.dumps(rec, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
            out.append((stored.row, text))
        return out

    def last_event_id(self) -> int:
        """The register's version, committed in order (migration 0004), not ``max(id)``.

        Identity values may commit out of order under concurrent writers; the version row is bumped by
        every statement inserting events and locked to the end of its transaction, so the caches keyed
        by it (service.api.register_pages) never keep a page that misses an earlier commit.
        """
        with self._reading() as conn:
            row = conn.execute("SELECT v FROM register_version").fetchone()
        return int(row[0]) if row is not None else 0

    def iter_events(self) -> Iterator[Event]:
        """Every event in log order (a server-side cursor: the log is never held whole)."""
        with (
            self._pool.connection() as conn,
            conn.transaction(),
            conn.cursor(name="register_events_all", row_factory=_rows) as cur,
        ):
            cur.itersize = EVENT_BATCH
            cur.execute("SELECT * FROM register_events ORDER BY id")
            for row in cur:
                yield event_of(row)

    @staticmethod
    def _window(active_since: datetime | None, reported_before: datetime | None) -> tuple[str, list[Any]]:
        """The condition on items that matter for a window (as SQLite's ``_window`` selects them)."""
        end = (reported_before or datetime(9999, 1, 1)).isoformat()
        if active_since is None:
            return "reported_at < ?", [end]
        start = active_since.isoformat()
        cond = (
            f"reported_at < ? AND ({OPEN_SQL} OR status = 'reported' OR closed_at >= ? OR rejected_at >= ?)"
        )
        return cond, [end, start, start]

    def frames(
        self, *, active_since: datetime | None = None, reported_before: datetime | None = None
    ) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
        """Items and events frames of the items that matter for a window (see the interface)."""
        cond, values = self._window(active_since, reported_before)
        cols = ", ".join([*ITEM_FIELDS, *AREA_COLUMNS])
        end = (reported_before or datetime(9999, 1, 1)).isoformat()
        ev_cols = ", ".join(f"e.{c}" for c in EVENT_COLUMNS)
        with self._reading() as conn:
            rows = conn.execute(f"SELECT {cols} FROM register_items WHERE {cond} ORDER BY row", values)
            frame = items_frame_of([tuple(r) for r in rows.fetchall()])
            rows_ev = conn.execute(
                f"SELECT {ev_cols} FROM register_events e JOIN register_items i USING (number) "
                f"WHERE {cond.replace('reported_at', 'i.reported_at')} AND e.at < ? ORDER BY e.id",
                [*values, end],
            ).fetchall()
        return frame, self._events_frame(iter(rows_ev))

    def snapshot(
        self, *, active_since: datetime | None = None, reported_before: datetime | None = None
    ) -> pd.DataFrame:
        """The states before ``reported_before`` of the items that matter for a window.

        :func:`risk_models.register.snapshot` of :meth:`frames`' events (which stop before
        ``reported_before``): the domain's own replay of the month, not an SQL copy of it.
        """
        from risk_models.register import snapshot

        _, events = self.frames(active_since=active_since, reported_before=reported_before)
        return snapshot(events).sort_index()

    def items_of(self, numbers: Sequence[str]) -> gpd.GeoDataFrame:
        """The items frame of ``numbers`` (those stored), in the order they were stored."""
        cols = ", ".join([*ITEM_FIELDS, *AREA_COLUMNS])
        with self._reading() as conn:
            rows = conn.execute(
                f"SELECT {cols} FROM register_items WHERE number = ANY(?) ORDER BY row", (list(numbers),)
            ).fetchall()
        return items_frame_of([tuple(r) for r in rows])

    def events_of(
        self, numbers: Sequence[str], *, since: datetime | None = None, before: datetime | None = None
    ) -> pd.DataFrame:
        """The events frame of ``numbers`` at or after ``since`` and before ``before``, in log order."""
        lo = (since or datetime(1, 1, 1)).isoformat()
        hi = (before or datetime(9999, 1, 1)).isoformat()
        with self._reading() as conn:
            rows = conn.execute(
                f"SELECT {', '.join(EVENT_COLUMNS)} FROM register_events "
                "WHERE number = ANY(?) AND at >= ? AND at < ? ORDER BY id",
                (list(numbers), lo, hi),
            ).fetchall()
        return self._events_frame(iter(rows))
