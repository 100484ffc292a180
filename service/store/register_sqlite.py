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
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gis.tables import TableOverrides
from risk_models.register import Event, Item, RegisterError, apply, item_number, load_workflow

from ._register_frames import snapshot_of, snapshot_sql
from ._register_grades import insert_grades, select_grades
from ._register_list import install_functions, json_sql, page_sql, where_sql
from ._register_rows import IMPORT_ITEM_COLUMNS, event_rows, import_seqs, item_rows, last_counters
from ._register_sql import (
    EVENT_COLUMNS,
    ITEM_FIELDS,
    OPEN_SQL,
    RTREE_BACKFILL,
    RTREE_BULK_LOAD,
    clean_text,
    event_of,
    event_values,
    item_of,
    item_values,
    items_frame_of,
    now_utc,
    stored_of,
)
from ._support import Reader
from .base import NotFoundError
from .migrations import migrate_sqlite
from .register import (
    AREA_COLUMNS,
    Account,
    Attachment,
    ItemQuery,
    ListView,
    RegisterStore,
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


class SQLiteRegister(RegisterStore):
    """The register in the SQLite database ``db_path`` (tables created when missing).

    Parameters
    ----------
    db_path
        The database file (the service's ``DATA_DIR/riskplan.sqlite3``).
    register_workflow
        Overrides of ``register_workflow.toml`` (or a loaded workflow): the numbering and the
        rules every stored event is checked against.

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

    def __init__(self, db_path: str | Path, *, register_workflow: TableOverrides | Any = None) -> None:
        self.db_path = Path(db_path)
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

    @staticmethod
    def _row(conn: sqlite3.Connection, number: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = conn.execute(
            "SELECT * FROM register_items WHERE number = ?", (number,)
        ).fetchone()
        return row

    @staticmethod
    def _put_item(conn: sqlite3.Connection, item: Item, extra: Mapping[str, Any] | None = None) -> None:
        values = item_values(item)
        values.update(extra or {})
        cols = list(values)
        updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c != "number")
        conn.execute(
            f"INSERT INTO register_items ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
            f"ON CONFLICT(number) DO UPDATE SET {updates}",
            [values[c] for c in cols],
        )

    @staticmethod
    def _put_event(conn: sqlite3.Connection, event: Event, seq: int) -> None:
        conn.execute(
            f"INSERT INTO register_events ({', '.join(EVENT_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(EVENT_COLUMNS))})",
            event_values(event, seq),
        )

    @staticmethod
    def _put_attachments(conn: sqlite3.Connection, event: Event, attachments: Sequence[Attachment]) -> None:
        missing = sorted({a.ref for a in attachments} - set(event.attachments))
        if missing:
            msg = f"Attachments {missing} are not named by the event. Fix: list their refs in `attachments`."
            raise RegisterError(msg)
        conn.executemany(
            "INSERT OR IGNORE INTO register_attachments VALUES (?, ?, ?, ?)",
            [(a.ref, a.media_type, a.data, now_utc()) for a in attachments],
        )
        known = {r[0] for r in conn.execute(
            f"SELECT ref FROM register_attachments WHERE ref IN ({', '.join('?' * len(event.attachments))})",
            list(event.attachments),
        )} if event.attachments else set()  # fmt: skip
        unknown = sorted(set(event.attachments) - known)
        if unknown:
            msg = (
                f"Event `{event.action}` of `{event.number}` names attachments {unknown} that are not stored."
            )
            raise RegisterError(msg)

    # -- changes ---------------------------------------------------------------------------

    def report(
        self,
        build: Callable[[str], tuple[Item, Event]],
        *,
        year: int,
        attachments: Sequence[Attachment] = (),
        areas: Mapping[str, str | None] | None = None,
        reported_by: str | None = None,
        follow_digest: bytes | None = None,
    ) -> StoredItem:
        """Take the year's next counter, build the report and store it (one transaction)."""
        wf = self.workflow
        extra: dict[str, Any] = {k: (areas or {}).get(k) for k in AREA_COLUMNS}
        extra.update(reported_by=reported_by, follow_digest=follow_digest)
        with self._write() as conn:
            counter = conn.execute(
                "INSERT INTO register_counters (year, last) VALUES (?, 1) "
                "ON CONFLICT(year) DO UPDATE SET last = last + 1 RETURNING last",
                (int(year),),
            ).fetchone()[0]
            number = item_number(year, counter, prefix=wf.prefix, digits=wf.digits)
            _, event = build(number)
            if event.number != number or event.action != "report":
                msg = (
                    f"`build` made a `{event.action}` event of `{event.number}`, "
                    f"not the report of `{number}`."
                )
                raise RegisterError(msg)
            item = apply(None, event, register_workflow=wf)
            self._put_attachments(conn, event, attachments)
            self._put_item(conn, item, extra)
            self._put_event(conn, event, item.version)
            row = self._row(conn, number)
        assert row is not None
        return stored_of(row)

    def move(
        self,
        number: str,
        build: Callable[[Item], tuple[Item, Event]],
        *,
        attachments: Sequence[Attachment] = (),
    ) -> StoredItem:
        """Read the item under the write lock, build the event, check it and store both."""
        with self._write() as conn:
            row = self._row(conn, number)
            if row is None:
                raise NotFoundError(self._unknown(number))
            current = item_of(row)
            _, event = build(current)
            item = apply(current, event, register_workflow=self.workflow)
            self._put_attachments(conn, event, attachments)
            self._put_item(conn, item)
            self._put_event(conn, event, item.version)
            row = self._row(conn, number)
        assert row is not None
        return stored_of(row)

    def append_events(
        self,
        make: Callable[[Mapping[int, int]], Sequence[Event]],
        *,
        areas: pd.DataFrame | None = None,
    ) -> list[str]:
        """Check a batch of events on the stored items and append them all, or none."""
        wf = self.workflow
        with self._write() as conn:
            counters = {
                int(r[0]): int(r[1]) + 1 for r in conn.execute("SELECT year, last FROM register_counters")
            }
            events = list(make(counters))
            items: dict[str, Item | None] = {}
            seqs: list[int] = []
            for event in events:
                if event.number not in items:
                    row = self._row(conn, event.number)
                    items[event.number] = None if row is None else item_of(row)
                new = apply(items[event.number], event, register_workflow=wf)
                items[event.number] = new
                seqs.append(new.version)
            for event, seq in zip(events, seqs, strict=True):
                self._put_event(conn, event, seq)
            used: dict[int, int] = {}
            for number, item in items.items():
                assert item is not None
                extra = None
                if areas is not None and number in areas.index:
                    extra = {c: clean_text(areas.loc[number, c]) for c in AREA_COLUMNS if c in areas.columns}
                self._put_item(conn, item, extra)
                _, year, counter = number.rsplit("-", 2)
                used[int(year)] = max(used.get(int(year), 0), int(counter))
            conn.executemany(
                "INSERT INTO register_counters (year, last) VALUES (?, ?) "
                "ON CONFLICT(year) DO UPDATE SET last = max(last, excluded.last)",
                sorted(used.items()),
            )
        return list(items)

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
                # the R*Tree is fed in one batch after the rows, in position order (migration 0003)
                since = conn.execute("SELECT coalesce(max(row), 0) FROM register_items").fetchone()[0]
                conn.execute("INSERT INTO register_bulk_load VALUES (?)", (since,))
                conn.executemany(self._IMPORT_ITEM_SQL, items)
                conn.execute("DELETE FROM register_bulk_load")
                conn.execute(RTREE_BULK_LOAD, (since,))
                conn.executemany(self._IMPORT_EVENT_SQL, events)
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

    @staticmethod
    def _counters(conn: sqlite3.Connection) -> dict[int, int]:
        """``{year: the next free counter}``."""
        return {int(r[0]): int(r[1]) + 1 for r in conn.execute("SELECT year, last FROM register_counters")}

    # -- reads -----------------------------------------------------------------------------

    @staticmethod
    def _unknown(number: str) -> str:
        return f"Unknown register item `{number}`. Fix: list items with GET /api/v1/register/items."

    def get(self, number: str) -> StoredItem:
        """One item; :class:`NotFoundError` when unknown."""
        row = self._row(self._read(), number)
        if row is None:
            raise NotFoundError(self._unknown(number))
        return stored_of(row)

    def events(self, number: str) -> list[Event]:
        """The item's events in order."""
        rows = (
            self._read()
            .execute("SELECT * FROM register_events WHERE number = ? ORDER BY seq", (number,))
            .fetchall()
        )
        return [event_of(r) for r in rows]

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

    def count(self) -> tuple[int, int]:
        """``(items, events)`` stored."""
        conn = self._read()
        items = conn.execute("SELECT count(*) FROM register_items").fetchone()[0]
        events = conn.execute("SELECT count(*) FROM register_events").fetchone()[0]
        return int(items), int(events)

    def last_event_id(self) -> int:
        """The id of the last stored event (0 for none)."""
        row = self._read().execute("SELECT max(id) FROM register_events").fetchone()
        return int(row[0] or 0)

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

    @staticmethod
    def _events_frame(rows: Iterator[Any]) -> pd.DataFrame:
        """As :func:`events_frame` makes them (same dtypes: pandas infers them from the same values)."""
        import pandas as pd

        rows_ev = [
            (
                *r[:10],
                None if r[10] == "[]" else "; ".join(json.loads(r[10])) or None,
                r[11],
                date.fromisoformat(r[12]) if r[12] else None,
                *r[13:],
            )
            for r in rows
        ]
        ev = pd.DataFrame(rows_ev, columns=list(EVENT_COLUMNS))
        ev["at"] = pd.to_datetime(ev["at"], format="ISO8601")
        ev["deadline"] = pd.to_datetime(ev["deadline"])
        ev["seq"] = ev["seq"].astype(int)
        return ev

    def snapshot(
        self, *, active_since: datetime | None = None, reported_before: datetime | None = None
    ) -> pd.DataFrame:
        """The states before ``reported_before`` of the items that matter for a window (SQL aggregates)."""
        window, values = self._window(active_since, reported_before)
        sql = snapshot_sql(window)
        end = (reported_before or datetime(9999, 1, 1)).isoformat()
        cur = self._read().execute(sql, [end, *values])
        cur.row_factory = None
        return snapshot_of(cur.fetchall())

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

    def attachment(self, ref: str) -> Attachment:
        """A stored photo; :class:`NotFoundError` when unknown."""
        row = (
            self._read()
            .execute("SELECT ref, media_type, data FROM register_attachments WHERE ref = ?", (ref,))
            .fetchone()
        )
        if row is None:
            msg = f"Unknown attachment `{ref}`."
            raise NotFoundError(msg)
        return Attachment(row["ref"], row["media_type"], bytes(row["data"]))

    def follow_digest(self, number: str) -> bytes | None:
        """The hash of the item's follow key."""
        row = (
            self._read()
            .execute("SELECT follow_digest FROM register_items WHERE number = ?", (number,))
            .fetchone()
        )
        return None if row is None or row[0] is None else bytes(row[0])

    # -- risk grades -----------------------------------------------------------------------

    def add_grades(self, records: Sequence[Mapping[str, Any]]) -> list[int]:
        """Append graded assessments (one transaction); their ids."""
        with self._write() as conn:
            return insert_grades(conn, records)

    def grades(
        self,
        *,
        hazard_id: str | None = None,
        grade: str | None = None,
        method: str | None = None,
        history: bool = False,
    ) -> list[dict[str, Any]]:
        """Stored grades: the latest of each (hazard source, part), or every one with ``history``."""
        return select_grades(self._read(), hazard_id=hazard_id, grade=grade, method=method, history=history)

    # -- accounts --------------------------------------------------------------------------

    def add_account(self, account: Account, *, salt: bytes, digest: bytes) -> None:
        """Store a new account with its token's salt and hash."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO register_accounts VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (account.id, account.role, account.unit, account.label, account.created_at, salt, digest,
                 int(account.disabled)),
            )  # fmt: skip

    @staticmethod
    def _account(row: sqlite3.Row) -> Account:
        return Account(
            row["id"], row["role"], row["unit"], row["label"], row["created_at"], bool(row["disabled"])
        )

    def account_secret(self, account_id: str) -> tuple[Account, bytes, bytes] | None:
        """``(account, salt, digest)``, or None."""
        row = self._read().execute("SELECT * FROM register_accounts WHERE id = ?", (account_id,)).fetchone()
        if row is None:
            return None
        return self._account(row), bytes(row["salt"]), bytes(row["digest"])

    def list_accounts(self) -> list[Account]:
        """Every account, oldest first."""
        rows = self._read().execute("SELECT * FROM register_accounts ORDER BY created_at, id").fetchall()
        return [self._account(r) for r in rows]

    def disable_account(self, account_id: str) -> bool:
        """Disable an account; True if it existed."""
        with self._write() as conn:
            n = conn.execute("UPDATE register_accounts SET disabled = 1 WHERE id = ?", (account_id,)).rowcount
        return n > 0
