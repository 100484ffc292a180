"""What every backend of the hidden-danger register shares (private): the write flows and plain reads.

:class:`RegisterBase` holds the parts of a :class:`~service.store.register.RegisterStore` that
do not depend on the database: a report takes the year's next counter, lets the domain build the
report and checks it with :func:`risk_models.register.apply`; a move reads the item under the
write lock, lets the caller's ``build`` make the event and checks it; a batch of events is
checked on the items it changes and appended whole; photos are stored with the event that names
them; accounts, risk grades and single-item reads. Its SQL is written once, with ``?``
placeholders, in the dialect SQLite and PostgreSQL share.

A backend gives the connections and the few statements that differ:

* :meth:`RegisterBase._write`: one write transaction (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL:
  a pooled connection in a transaction), yielding a connection whose ``execute`` takes ``?``
  placeholders and whose rows are read by column name and by position;
* :meth:`RegisterBase._reading`: a connection for reads, the same way;
* :meth:`RegisterBase._row` with ``lock=True`` locks the item's row in the write transaction
  (PostgreSQL: ``FOR UPDATE``; SQLite holds the database's write lock already);
* :meth:`RegisterBase._lock_batch`: the lock a batch append takes before it reads the counters
  (PostgreSQL locks the counters table; SQLite's write lock covers it);
* :attr:`RegisterBase.GREATEST`: the name of the two-argument maximum (``max`` / ``greatest``).

The list, the frames and the month's snapshot are each backend's own: their SQL is tuned per
database (indexes, R*Tree or GiST).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from risk_models.register import Event, Item, RegisterError, apply, item_number

from ._register_grades import insert_grades, select_grades
from ._register_sql import (
    EVENT_COLUMNS,
    clean_text,
    event_of,
    event_values,
    item_of,
    item_values,
    now_utc,
    stored_of,
)
from .base import NotFoundError
from .register import AREA_COLUMNS, Account, Attachment, RegisterStore, StoredItem

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RegisterBase"]


class RegisterBase(RegisterStore):
    """The backend-neutral part of a register store (see the module docstring)."""

    #: The SQL function of the larger of two values.
    GREATEST = "max"

    # -- what a backend gives ----------------------------------------------------------------

    def _write(self) -> contextlib.AbstractContextManager[Any]:
        """One write transaction; its connection (``?`` placeholders, rows by name)."""
        raise NotImplementedError

    def _reading(self) -> contextlib.AbstractContextManager[Any]:
        """A connection for reads (``?`` placeholders, rows by name)."""
        raise NotImplementedError

    @staticmethod
    def _row(conn: Any, number: str, *, lock: bool = False) -> Any:
        """The item's row, or None; ``lock`` locks it until the write transaction ends."""
        return conn.execute("SELECT * FROM register_items WHERE number = ?", (number,)).fetchone()

    def _lock_batch(self, conn: Any) -> None:
        """Before a batch reads the counters: keep other writers from numbering meanwhile."""

    # -- plumbing --------------------------------------------------------------------------

    @staticmethod
    def _put_item(conn: Any, item: Item, extra: Mapping[str, Any] | None = None) -> None:
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
    def _put_event(conn: Any, event: Event, seq: int) -> None:
        conn.execute(
            f"INSERT INTO register_events ({', '.join(EVENT_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(EVENT_COLUMNS))})",
            event_values(event, seq),
        )

    @staticmethod
    def _put_attachments(conn: Any, event: Event, attachments: Sequence[Attachment]) -> None:
        missing = sorted({a.ref for a in attachments} - set(event.attachments))
        if missing:
            msg = f"Attachments {missing} are not named by the event. Fix: list their refs in `attachments`."
            raise RegisterError(msg)
        conn.executemany(
            "INSERT INTO register_attachments VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
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

    @staticmethod
    def _counters(conn: Any) -> dict[int, int]:
        """``{year: the next free counter}``."""
        return {int(r[0]): int(r[1]) + 1 for r in conn.execute("SELECT year, last FROM register_counters")}

    def _raise_counters(self, conn: Any, used: Mapping[int, int]) -> None:
        """Move each year's counter up to at least ``used[year]``."""
        conn.executemany(
            "INSERT INTO register_counters (year, last) VALUES (?, ?) "
            f"ON CONFLICT(year) DO UPDATE SET last = {self.GREATEST}(register_counters.last, excluded.last)",
            sorted(used.items()),
        )

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
        """Take the year's next counter, build the report and store it (one transaction).

        The counter's row stays locked until the transaction ends, so concurrent reports of a
        year are numbered one after the other, and a report that fails uses no number.
        """
        wf = self.workflow
        extra: dict[str, Any] = {k: (areas or {}).get(k) for k in AREA_COLUMNS}
        extra.update(reported_by=reported_by, follow_digest=follow_digest)
        with self._write() as conn:
            counter = conn.execute(
                "INSERT INTO register_counters (year, last) VALUES (?, 1) "
                "ON CONFLICT(year) DO UPDATE SET last = register_counters.last + 1 RETURNING last",
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
            row = self._row(conn, number, lock=True)
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
            self._lock_batch(conn)
            counters = self._counters(conn)
            events = list(make(counters))
            items: dict[str, Item | None] = {}
            seqs: list[int] = []
            for event in events:
                if event.number not in items:
                    row = self._row(conn, event.number, lock=True)
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
            self._raise_counters(conn, used)
        return list(items)

    # -- reads -----------------------------------------------------------------------------

    @staticmethod
    def _unknown(number: str) -> str:
        return f"Unknown register item `{number}`. Fix: list items with GET /api/v1/register/items."

    def get(self, number: str) -> StoredItem:
        """One item; :class:`NotFoundError` when unknown."""
        with self._reading() as conn:
            row = self._row(conn, number)
            if row is None:
                raise NotFoundError(self._unknown(number))
            return stored_of(row)

    def events(self, number: str) -> list[Event]:
        """The item's events in order."""
        with self._reading() as conn:
            rows = conn.execute("SELECT * FROM register_events WHERE number = ? ORDER BY seq", (number,))
            return [event_of(r) for r in rows.fetchall()]

    def count(self) -> tuple[int, int]:
        """``(items, events)`` stored."""
        with self._reading() as conn:
            items = conn.execute("SELECT count(*) FROM register_items").fetchone()[0]
            events = conn.execute("SELECT count(*) FROM register_events").fetchone()[0]
        return int(items), int(events)

    def last_event_id(self) -> int:
        """The id of the last stored event (0 for none)."""
        with self._reading() as conn:
            row = conn.execute("SELECT max(id) FROM register_events").fetchone()
        return int(row[0] or 0)

    def attachment(self, ref: str) -> Attachment:
        """A stored photo; :class:`NotFoundError` when unknown."""
        with self._reading() as conn:
            row = conn.execute(
                "SELECT ref, media_type, data FROM register_attachments WHERE ref = ?", (ref,)
            ).fetchone()
        if row is None:
            msg = f"Unknown attachment `{ref}`."
            raise NotFoundError(msg)
        return Attachment(row["ref"], row["media_type"], bytes(row["data"]))

    def follow_digest(self, number: str) -> bytes | None:
        """The hash of the item's follow key."""
        with self._reading() as conn:
            row = conn.execute(
                "SELECT follow_digest FROM register_items WHERE number = ?", (number,)
            ).fetchone()
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
        with self._reading() as conn:
            return select_grades(conn, hazard_id=hazard_id, grade=grade, method=method, history=history)

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
    def _account(row: Any) -> Account:
        return Account(
            row["id"], row["role"], row["unit"], row["label"], row["created_at"], bool(row["disabled"])
        )

    def account_secret(self, account_id: str) -> tuple[Account, bytes, bytes] | None:
        """``(account, salt, digest)``, or None."""
        with self._reading() as conn:
            row = conn.execute("SELECT * FROM register_accounts WHERE id = ?", (account_id,)).fetchone()
        if row is None:
            return None
        return self._account(row), bytes(row["salt"]), bytes(row["digest"])

    def list_accounts(self) -> list[Account]:
        """Every account, oldest first."""
        with self._reading() as conn:
            rows = conn.execute("SELECT * FROM register_accounts ORDER BY created_at, id").fetchall()
        return [self._account(r) for r in rows]

    def disable_account(self, account_id: str) -> bool:
        """Disable an account; True if it existed."""
        with self._write() as conn:
            n = conn.execute("UPDATE register_accounts SET disabled = 1 WHERE id = ?", (account_id,)).rowcount
        return int(n) > 0
