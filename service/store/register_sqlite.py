"""The hidden-danger register in the service's SQLite database (``DATA_DIR/riskplan.sqlite3``).

Tables (created on first use, beside the scenarios and jobs)::

    register_events       the audit log: append-only (triggers refuse UPDATE and DELETE)
    register_items        each item's current state, one column per Item field, plus its
                          areas, the reporting account and the follow key's hash (no DELETE)
    register_counters     the last counter used per year (item numbers)
    register_attachments  photos, re-encoded, by ref (append-only)
    register_risk_grades  risk grades of hazard sources, with their history (append-only;
                          a migration of its own: ._register_grades)
    register_accounts     accounts: role, unit, the token's salt and scrypt hash

Every change runs in one ``BEGIN IMMEDIATE`` transaction on a fresh connection: it takes the
database's write lock first, then reads the item, lets the domain build the event
(:func:`risk_models.register.transition`), checks it with :func:`risk_models.register.apply`
and writes event, item and photos; the counter of a number is taken in the same transaction,
so numbers are unique and gapless per year however many threads or processes report at once.
Reads use one read-only connection per thread.

The write flows, accounts, grades and single-item reads are the backend-neutral
:class:`._register_base.RegisterBase` (shared with
:class:`~service.store.register_postgres.PostgresRegister`); this module keeps SQLite's
connections, the import, the list, the frames and the snapshot.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gis.tables import TableOverrides
from risk_models.register import Event, RegisterError, load_workflow

from ._register_base import RegisterBase
from ._register_frames import snapshot_of, snapshot_sql
from ._register_list import install_functions, json_sql, page_sql, where_sql
from ._register_month_ends import CLEAR_AFTER_BULK_LOAD, ended_month, read_month, store_month
from ._register_rows import IMPORT_ITEM_COLUMNS, event_rows, import_seqs, item_rows, last_counters
from ._register_sql import (
    EVENT_COLUMNS,
    ITEM_FIELDS,
    OPEN_SQL,
    RTREE_BACKFILL,
    RTREE_BULK_LOAD,
    STATES_BULK_LOAD,
    event_of,
    items_frame_of,
    now_utc,
    stored_of,
)
from ._support import Reader
from .migrations import migrate_sqlite
from .register import (
    AREA_COLUMNS,
    ItemQuery,
    ListView,
    StoredItem,
)

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

    from risk_models.register import ImportResult

__all__ = ["READ_PRAGMAS", "SQLiteRegister"]  # the schema: migrations/sqlite/*.sql

#: Settings of each thread's read connection: map the database into memory (the OS page cache
#: is then shared by every connection and process, no copy per read), an 8 MiB page cache
#: each, sorts in memory.
READ_PRAGMAS: tuple[str, ...] = ("mmap_size = 17179869184", "cache_size = -8192", "temp_store = MEMORY")


class SQLiteRegister(RegisterBase):
    """The register in the SQLite database ``db_path`` (tables created when missing).

    Parameters
    ----------
    db_path
        The database file (the service's ``DATA_DIR/riskplan.sqlite3``).
    register_workflow
        Overrides of ``register_workflow.toml`` (or a loaded workflow): the numbering and the
        rules every stored event is checked against.
    month_ends
        Keep the month-end states of ended months once made (migration 0008; default). False
        answers every snapshot by the query (the reference the stored months are tested
        against, and the benchmark's "before").

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from datetime import datetime
    >>> from risk_models.register import report
    >>> reg = SQLiteRegister(pathlib.Path(tempfile.mkdtemp()) / "r.sqlite3")
    >>> stored = reg.report(lambda n: report(n, at=datetime(2026, 3, 1, 9), actor="web", role="reporter",
    ...     category="gas", x=112.5, y=37.8, description="smell of gas", source="public_report"), year=2026)
    >>> stored.item.number, reg.count()
    ('YH-2026-000001', (1, 1))
    """

    def __init__(
        self, db_path: str | Path, *, register_workflow: TableOverrides | Any = None, month_ends: bool = True
    ) -> None:
        self.db_path = Path(db_path)
        self.month_ends = month_ends
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self.workflow = load_workflow(register_workflow)
        migrate_sqlite(self.db_path)  # the schema, brought to this release's version
        conn = sqlite3.connect(self.db_path, timeout=30)
        try:
            self._backfill_rtree(conn)
            self._analyze_new_indexes(conn)
        finally:
            conn.close()
        self._local = threading.local()
        self._readers: weakref.WeakSet[Reader] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._generation = 0

    @staticmethod
    def _backfill_rtree(conn: sqlite3.Connection) -> None:
        """Fill the R*Tree of items stored before it existed (triggers keep it in step after)."""
        last = conn.execute("SELECT max(row) FROM register_items").fetchone()[0]
        indexed = conn.execute("SELECT max(id) FROM register_items_rtree").fetchone()[0]
        if last is not None and (indexed is None or indexed < last):
            with conn:
                conn.execute(RTREE_BACKFILL)

    @staticmethod
    def _analyze_new_indexes(conn: sqlite3.Connection) -> None:
        """Statistics for indexes added to a store analysed before them (the planner needs them)."""
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone():
            return
        analysed = {r[0] for r in conn.execute("SELECT idx FROM sqlite_stat1 WHERE tbl = 'register_items'")}
        if not analysed:
            return
        indexes = {
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'register_items' "
                "AND sql IS NOT NULL"
            )
        }
        if indexes - analysed:
            conn.execute("PRAGMA analysis_limit = 4000")
            conn.execute("ANALYZE register_items")

    def close(self) -> None:
        """Close the per-thread read connections."""
        with self._lock:
            self._generation += 1
            readers = list(self._readers)
            self._readers.clear()
        for reader in readers:
            reader.conn.close()

    # -- plumbing --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction holding the database's write lock from its start."""
        conn = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    def _read(self) -> sqlite3.Connection:
        reader: Reader | None = getattr(self._local, "reader", None)
        if reader is None or reader.generation != self._generation:
            with self._lock:
                reader = Reader(self.db_path, self._generation)
                self._readers.add(reader)
            for pragma in READ_PRAGMAS:
                reader.conn.execute(f"PRAGMA {pragma}")
            install_functions(reader.conn)
            self._local.reader = reader
        return reader.conn

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        yield self._read()

    _IMPORT_ITEM_SQL = (
        f"INSERT INTO register_items ({', '.join(IMPORT_ITEM_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(IMPORT_ITEM_COLUMNS))})"
    )
    _IMPORT_EVENT_SQL = (
        f"INSERT INTO register_events ({', '.join(EVENT_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(EVENT_COLUMNS))})"
    )

    def import_items(self, make: Callable[[Mapping[int, int]], ImportResult]) -> list[str]:
        """Store an import's new items and events with ``executemany``: all or none.

        ``make`` runs first outside the write lock, on the counters as they are (the checks
        and the items of a 100,000-row sheet take seconds, and a bad sheet never takes the
        lock); under the lock, if another writer has numbered items of those years meanwhile,
        it runs again on the new counters. The lock is held for the inserts only.
        """

        def rows(result: ImportResult) -> tuple[list[str], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
            seqs = import_seqs(result.items, result.events)
            items = item_rows(result.items.values(), result.areas)
            return list(result.items), items, event_rows(result.events, seqs)

        counters = self._counters(self._read())
        result = make(counters)
        numbers, items, events = rows(result)
        try:
            with self._write() as conn:
                # up to 1 GiB of page cache for this connection: the inserts touch every index
                # of a big register (1M items: 34 s with 1 GiB against 65 s with 256 MiB)
                conn.execute("PRAGMA cache_size = -1048576")
                now = self._counters(conn)
                if any(now.get(y) != counters.get(y) for y in last_counters(numbers)):
                    numbers, items, events = rows(make(now))  # numbered meanwhile: number again
                # the R*Tree is fed in one batch after the rows, in position order (migration
                # 0003), and the new items' states in one pass in key order (migration 0006)
                since = conn.execute("SELECT coalesce(max(row), 0) FROM register_items").fetchone()[0]
                since_event = conn.execute("SELECT coalesce(max(id), 0) FROM register_events").fetchone()[0]
                conn.execute("INSERT INTO register_bulk_load VALUES (?)", (since,))
                conn.executemany(self._IMPORT_ITEM_SQL, items)
                conn.executemany(self._IMPORT_EVENT_SQL, events)
                conn.execute("DELETE FROM register_bulk_load")
                conn.execute(RTREE_BULK_LOAD, (since,))
                conn.execute(STATES_BULK_LOAD, (since_event,))
                conn.execute(CLEAR_AFTER_BULK_LOAD, (since_event,))  # months it changes (0008)
                conn.executemany(
                    "INSERT INTO register_counters (year, last) VALUES (?, ?) "
                    "ON CONFLICT(year) DO UPDATE SET last = max(last, excluded.last)",
                    sorted(last_counters(numbers).items()),
                )
        except sqlite3.IntegrityError:  # rolled back: a number was taken
            conn = self._read()
            taken = []
            for k in range(0, len(numbers), 500):
                chunk = numbers[k : k + 500]
                sql = f"SELECT number FROM register_items WHERE number IN ({', '.join('?' * len(chunk))})"
                taken += [n for (n,) in conn.execute(sql, chunk)]
            msg = (
                f"Items {taken[:10]} are already stored; nothing was imported. Fix: number the import "
                "from the counters `import_items` passes to `make`."
            )
            raise RegisterError(msg) from None
        return numbers

    # -- reads -----------------------------------------------------------------------------

    @staticmethod
    def where(query: ItemQuery) -> tuple[str, list[Any]]:
        """The SQL condition and values of ``query`` on ``register_items``."""
        return where_sql(query)

    def list_items(
        self, query: ItemQuery, *, limit: int | None = None, after: int | None = None
    ) -> list[StoredItem]:
        """Items matching ``query``, newest stored first (keyset paging on the row)."""
        conn = self._read()
        page, values = page_sql(conn, query, limit=limit, after=after)
        sql = f"SELECT * FROM register_items WHERE row IN ({page}) ORDER BY row DESC"
        return [stored_of(r) for r in conn.execute(sql, values).fetchall()]

    def list_json(
        self, query: ItemQuery, view: ListView, *, limit: int | None = None, after: int | None = None
    ) -> list[tuple[int, str]]:
        """Items matching ``query`` as ``(row, JSON)``, newest first, made by SQLite (see the interface)."""
        conn = self._read()
        page, values = page_sql(conn, query, limit=limit, after=after)
        obj, obj_values = json_sql(view)
        sql = f"SELECT row, {obj} FROM register_items WHERE row IN ({page}) ORDER BY row DESC"
        cur = conn.execute(sql, [*obj_values, *values])
        cur.row_factory = None  # plain tuples: no Row per item
        return cur.fetchall()

    def iter_events(self) -> Iterator[Event]:
        """Every event in log order."""
        for row in self._read().execute("SELECT * FROM register_events ORDER BY id"):
            yield event_of(row)

    @staticmethod
    def _window(active_since: datetime | None, reported_before: datetime | None) -> tuple[str, list[Any]]:
        """SQL of the rows of the items that matter for a window, each part served by an index.

        An item matters unless it was reported after the window or reached a final state
        before it; so it is open now (or still reported), or closed or rejected since the
        window's start (a covering index on ``(closed_at, reported_at, row)``).
        """
        end = (reported_before or datetime(9999, 1, 1)).isoformat()
        if active_since is None:
            return "SELECT row FROM register_items WHERE reported_at < ?", [end]
        start = active_since.isoformat()
        sql = (
            "SELECT row FROM register_items INDEXED BY register_items_open "
            f"WHERE {OPEN_SQL} AND reported_at < ? "
            "UNION SELECT row FROM register_items WHERE status = 'reported' AND reported_at < ? "
            "UNION SELECT row FROM register_items WHERE closed_at >= ? AND reported_at < ? "
            "UNION SELECT row FROM register_items WHERE rejected_at >= ? AND reported_at < ?"
        )
        return sql, [end, end, start, end, start, end]

    def frames(
        self, *, active_since: datetime | None = None, reported_before: datetime | None = None
    ) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
        """Items and events frames of the items that matter for a window (see the interface)."""
        window, values = self._window(active_since, reported_before)
        conn = self._read()
        cols = ", ".join([*ITEM_FIELDS, *AREA_COLUMNS])
        rows = conn.execute(
            f"SELECT {cols} FROM register_items WHERE row IN ({window}) ORDER BY row", values
        ).fetchall()
        frame = items_frame_of([tuple(r) for r in rows])
        ev_cols = ", ".join(EVENT_COLUMNS)
        # as :func:`events_frame` makes them (same dtypes: pandas infers them from the same values)
        rows_ev = conn.execute(
            f"SELECT {ev_cols} FROM register_events WHERE number IN "
            f"(SELECT number FROM register_items WHERE row IN ({window})) AND at < ? ORDER BY id",
            [*values, (reported_before or datetime(9999, 1, 1)).isoformat()],
        )
        return frame, self._events_frame(rows_ev)

    def snapshot(
        self, *, active_since: datetime | None = None, reported_before: datetime | None = None
    ) -> pd.DataFrame:
        """The states before ``reported_before`` of the items that matter for a window (SQL aggregates)."""
        month = ended_month(active_since, reported_before, _utc_now()) if self.month_ends else None
        if month is None:
            return snapshot_of(self._snapshot_rows(active_since, reported_before))
        conn = self._read()
        rows = read_month(conn, month)
        if rows is None:  # the month's first request since it ended (or since it was cleared)
            read_up_to = self.last_event_id()
            rows = self._snapshot_rows(active_since, reported_before)
            assert active_since is not None and reported_before is not None
            store_month(
                self._write, month=month, start=active_since.isoformat(), end=reported_before.isoformat(),
                rows=rows, read_up_to=read_up_to, built_at=now_utc(),
            )  # fmt: skip
        return snapshot_of(rows)

    def _snapshot_rows(
        self, active_since: datetime | None, reported_before: datetime | None
    ) -> list[tuple[Any, ...]]:
        window, values = self._window(active_since, reported_before)
        sql = snapshot_sql(window)
        end = (reported_before or datetime(9999, 1, 1)).isoformat()
        cur = self._read().execute(sql, [end, *values])
        cur.row_factory = None
        return cur.fetchall()

    def build_month_ends(self, months: Sequence[str] | None = None) -> list[str]:
        """Make and keep the month-end states of ``months`` (default: every ended month of the register).

        Months already kept are left as they are; the months made are returned. The import
        and the first request of a month make them otherwise (see :meth:`snapshot`).
        """
        import pandas as pd

        conn = self._read()
        if months is None:
            first = conn.execute("SELECT min(reported_at) FROM register_items").fetchone()[0]
            if first is None:
                return []
            now = pd.Period(_utc_now(), freq="M")
            months = [str(p) for p in pd.period_range(pd.Period(first[:7], freq="M"), now - 1, freq="M")]
        built = {r[0] for r in conn.execute("SELECT month FROM register_month_ends_built")}
        made = []
        for month in months:
            if month in built:
                continue
            period = pd.Period(month, freq="M")
            start, end = period.start_time.to_pydatetime(), (period + 1).start_time.to_pydatetime()
            if ended_month(start, end, _utc_now()) is None:
                continue
            self.snapshot(active_since=start, reported_before=end)
            made.append(month)
        return made

    def items_of(self, numbers: Sequence[str]) -> gpd.GeoDataFrame:
        """The items frame of ``numbers`` (those stored), in the order they were stored."""
        cols = ", ".join([*ITEM_FIELDS, *AREA_COLUMNS])
        rows = self._read().execute(
            f"SELECT {cols} FROM register_items "
            "WHERE number IN (SELECT value FROM json_each(?)) ORDER BY row",
            (json.dumps(list(numbers)),),
        )
        return items_frame_of([tuple(r) for r in rows])

    def events_of(
        self, numbers: Sequence[str], *, since: datetime | None = None, before: datetime | None = None
    ) -> pd.DataFrame:
        """The events frame of ``numbers`` at or after ``since`` and before ``before``, in log order."""
        lo = (since or datetime(1, 1, 1)).isoformat()
        hi = (before or datetime(9999, 1, 1)).isoformat()
        rows = self._read().execute(
            f"SELECT {', '.join(EVENT_COLUMNS)} FROM register_events "
            "WHERE number IN (SELECT value FROM json_each(?)) AND at >= ? AND at < ? ORDER BY id",
            (json.dumps(list(numbers)), lo, hi),
        )
        return self._events_frame(rows)


def _utc_now() -> datetime:
    """Now as the register stores times: naive UTC (a server's local clock may be UTC+8)."""
    return datetime.now(UTC).replace(tzinfo=None)
