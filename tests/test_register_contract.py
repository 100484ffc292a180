"""The contract of :class:`service.store.RegisterStore`, run against both backends (SQLite, PostgreSQL).

Append-only events refused by the database itself, numbering under concurrent writers (threads
on one handle, and several handles as several server processes), the workflow's transitions
and refusals, filters and keyset paging against a plain Python filter, the list's JSON byte for
byte the API's, frames, snapshot and the month's disclosure equal to the domain's, photos,
accounts, risk grades and the bulk import. The PostgreSQL runs need a throwaway server
(``pg_server`` in conftest.py) and skip with the reason when none can be started.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import gis
from risk_models.register import (
    RoleError,
    TransitionError,
    disclose,
    import_rows,
    items_frame,
    load_workflow,
    replay_many,
    report,
    snapshot,
    synthetic_register,
    transition,
)
from service.api.accounts import Actor
from service.api.register_access import list_view
from service.api.register_models import item_record
from service.register_outputs import disclosure_bytes
from service.store import Account, AreaRule, Attachment, ItemQuery, NotFoundError, RegisterStore, Scope
from tests.register_factory import build
from tests.test_register_intake import _grade, _rows
from tests.test_register_list import _matches, _queries

WF = load_workflow()


def _report(number: str, *, at: datetime = datetime(2026, 3, 1, 9), **kw: Any) -> Any:
    args = {"category": "gas", "x": 112.55, "y": 37.87, "description": "smell of gas"}
    args["source"] = "public_report"
    args.update(kw)
    return report(number, at=at, actor="web", role="reporter", **args)


def _comment(note: str) -> Callable[[Any], Any]:
    return lambda i: transition(i, "comment", at=datetime(2026, 3, 2), actor="a", role="admin", note=note)


@pytest.fixture(params=["sqlite", "postgres"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], RegisterStore]]:
    """Opens the register of one store location; several calls are several server processes."""
    from service.store import SQLiteStore

    opened: list[Any] = []
    if request.param == "sqlite":

        def make() -> RegisterStore:
            opened.append(SQLiteStore(tmp_path / "data"))
            return opened[-1].register
    else:
        from service.store.postgres import PostgresStore

        dsn = request.getfixturevalue("pg_dsn")

        def make() -> RegisterStore:
            opened.append(PostgresStore(dsn, max_connections=8))
            return opened[-1].register

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def reg(opener: Callable[[], RegisterStore]) -> RegisterStore:
    return opener()


def _raw(reg: RegisterStore) -> Callable[[str], Any]:
    """Run one raw SQL statement outside the store (its own connection and transaction)."""
    if hasattr(reg, "db_path"):

        def run_sqlite(sql: str) -> Any:
            conn = sqlite3.connect(reg.db_path)  # type: ignore[attr-defined]
            try:
                with conn:
                    return conn.execute(sql).fetchall()
            finally:
                conn.close()

        return run_sqlite

    def run_pg(sql: str) -> Any:
        from psycopg.rows import tuple_row

        with reg._pool.connection() as conn, conn.transaction():  # type: ignore[attr-defined]
            cur = conn.cursor(row_factory=tuple_row).execute(sql)
            return cur.fetchall() if cur.description else None

    return run_pg


def test_events_refuse_update_and_delete_in_the_database(reg: RegisterStore) -> None:
    reg.report(_report, year=2026)
    reg.add_grades([_grade("H1", "tanks", "major", 540)])
    run = _raw(reg)
    for sql, match in [
        ("UPDATE register_events SET note = 'rewritten'", "append-only"),
        ("DELETE FROM register_events", "append-only"),
        ("DELETE FROM register_items", "never deleted"),
        ("UPDATE register_risk_grades SET grade = 'low'", "keeps its history"),
    ]:
        with pytest.raises(Exception, match=match):
            run(sql)
    if not hasattr(reg, "db_path"):
        with pytest.raises(Exception, match="append-only"):
            run("TRUNCATE register_events CASCADE")
    assert run("SELECT count(*) FROM register_events")[0][0] == 1
    assert reg.count() == (1, 1)


def test_the_workflow_moves_and_refuses_with_nothing_written(reg: RegisterStore) -> None:
    number = reg.report(_report, year=2026).item.number
    after = reg.move(
        number, lambda item: transition(item, "verify", at=datetime(2026, 3, 2), actor="u2", role="inspector")
    )
    assert after.item.status == "verified" and after.item.version == 2 and reg.get(number).item == after.item
    with pytest.raises(RoleError):
        reg.move(number, lambda item: transition(item, "hand_over", at=datetime(2026, 3, 3), actor="u9",
                 role="reporter", data={"territorial_unit": "T", "department_unit": "D"}))  # fmt: skip
    with pytest.raises(TransitionError):
        reg.move(number, lambda i: transition(i, "claim", at=datetime(2026, 3, 3), actor="u2", role="admin"))
    assert reg.count() == (1, 2) and [e.action for e in reg.events(number)] == ["report", "verify"]
    with pytest.raises(NotFoundError):
        reg.get("YH-2026-999999")
    with pytest.raises(TransitionError):  # a failing report uses no number
        reg.report(lambda n: _report(n, category="not-a-category"), year=2026)
    assert reg.report(_report, year=2026).item.number == "YH-2026-000002"


def test_numbers_are_gapless_per_year_under_concurrent_writers(opener: Callable[[], RegisterStore]) -> None:
    handles = [opener(), opener()]  # two handles: two server processes on one store
    numbers: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    first = handles[0].report(_report, year=2026).item.number

    def worker(k: int) -> None:
        reg, year = handles[k % 2], 2025 + k % 2
        try:
            for j in range(8):
                at = datetime(year, 5, 1, 9)
                got = reg.report(lambda n, at=at: _report(n, at=at), year=year).item.number
                if j % 4 == 0:  # moves of the same items meanwhile, serialised per item
                    reg.move(first, _comment(f"{k}-{j}"))
                with lock:
                    numbers.append(got)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert sorted(n for n in numbers if "2025" in n) == [f"YH-2025-{k:06d}" for k in range(1, 25)]
    assert sorted(n for n in numbers if "2026" in n) == [f"YH-2026-{k:06d}" for k in range(2, 26)]
    assert handles[1].get(first).item.version == 1 + 12 == len(handles[0].events(first))


def test_replay_frames_snapshot_and_disclosure_equal_the_domains(reg: RegisterStore) -> None:
    hand = build()
    assert sorted(reg.append_events(lambda counters: hand.log)) == sorted(hand.items)
    assert replay_many(reg.iter_events()) == {n: reg.get(n).item for n in hand.items} == hand.items
    assert reg.report(_report, year=2026).item.number == "YH-2026-000008"  # after the appended ones
    frame, events = reg.frames()
    expected = items_frame([reg.get(n).item for n in frame.index], crs="EPSG:4326")
    pd.testing.assert_frame_equal(
        pd.DataFrame(frame.drop(columns=["geometry", "district", "street"])),
        pd.DataFrame(expected.drop(columns="geometry")),
    )
    pd.testing.assert_frame_equal(reg.snapshot(), snapshot(events))
    for month in ("2026-03", "2026-04"):
        want, got = disclose(frame, events, month), reg.disclosure(month)
        for name, table in want.tables().items():
            pd.testing.assert_frame_equal(pd.DataFrame(got.tables()[name]), pd.DataFrame(table), obj=name)
        for fmt in ("html", "csv", "geojson"):
            assert disclosure_bytes(got, fmt, label="L") == disclosure_bytes(want, fmt, label="L")
    with pytest.raises(NotFoundError, match="no items in or before 1999-01"):
        reg.disclosure("1999-01")
    march = reg.frames(active_since=datetime(2026, 3, 1), reported_before=datetime(2026, 4, 1))[0]
    assert "YH-2026-000007" not in march.index and "YH-2026-000001" in march.index


def test_filters_paging_and_the_lists_json(reg: RegisterStore) -> None:
    hand = build()
    reg.append_events(lambda counters: hand.log)
    syn = synthetic_register(gis.demo_city(n_road_nodes=2000), seed=5, n_items=150)
    log, frame = syn.log_in_wgs84()
    reg.append_events(lambda counters: log, areas=frame[["district"]])
    stored = reg.list_items(ItemQuery())
    assert [s.row for s in stored] == sorted((s.row for s in stored), reverse=True) and len(stored) > 150
    now = datetime(2024, 7, 15, 10, 30)
    for role in ("admin", "department", "public"):
        view = list_view(Actor("x", role, "u"), WF, now)
        want = [json.dumps(item_record(s, role=role, wf=WF, now=now), ensure_ascii=False, allow_nan=False,
                           separators=(",", ":")) for s in stored]  # fmt: skip
        assert [r[1] for r in reg.list_json(ItemQuery(), view)] == want
    view = list_view(Actor("x", "admin"), WF, now)
    queries = _queries(stored)[:40]
    district = stored[0].district or "x"
    area = AreaRule(districts=(district,), except_streets=((district, "s"),))
    queries.append(ItemQuery(scope=Scope("territorial_unit", "T", area=area)))
    nonempty = 0
    for q in queries:
        expected = [s.row for s in stored if _matches(s, q)]
        assert [s.row for s in reg.list_items(q)] == expected, q
        page = [r[0] for r in reg.list_json(q, view, limit=5)]
        assert page == expected[:5], q
        if len(expected) > 5:
            assert [s.row for s in reg.list_items(q, limit=5, after=page[-1])] == expected[5:10], q
        nonempty += bool(expected)
    assert nonempty > 12
    assert reg.list_items(ItemQuery(bbox=(179.0, -90.0, -179.0, 90.0))) == []
    with pytest.raises(Exception, match="Fix: give it as 'YYYY-MM'"):
        reg.list_items(ItemQuery(month="March"))
    overdue = reg.list_items(ItemQuery(overdue_on=date(2026, 4, 1)))
    assert "YH-2026-000003" in {s.item.number for s in overdue}


def test_photos_accounts_and_grades(reg: RegisterStore) -> None:
    photo = Attachment("photo-" + "ab" * 32, "image/jpeg", b"\xff\xd8jpeg")
    stored = reg.report(lambda n: _report(n, attachments=[photo.ref]), year=2026, attachments=[photo],
                        follow_digest=b"\x01digest", reported_by="acc1")  # fmt: skip
    assert reg.attachment(photo.ref) == photo
    assert reg.events(stored.item.number)[0].attachments == (photo.ref,)
    assert reg.follow_digest(stored.item.number) == b"\x01digest" and stored.reported_by == "acc1"
    with pytest.raises(Exception, match="not named by the event"):
        reg.report(_report, year=2026, attachments=[photo])
    with pytest.raises(Exception, match="not stored"):
        reg.report(lambda n: _report(n, attachments=["photo-" + "cd" * 32]), year=2026)
    with pytest.raises(NotFoundError):
        reg.attachment("photo-none")
    account = Account("a" * 32, "department", "EMB", "Li Wei", "2026-03-01T09:00:00+00:00")
    reg.add_account(account, salt=b"salt", digest=b"hash")
    assert reg.account_secret(account.id) == (account, b"salt", b"hash") and reg.list_accounts() == [account]
    assert reg.disable_account(account.id) and not reg.disable_account("none")
    assert reg.list_accounts()[0].disabled and reg.account_secret("none") is None
    ids = reg.add_grades([_grade("H1", "tanks", "major", 540), _grade("H1", "office", "low", 3)])
    reg.add_grades([_grade("H1", "tanks", "high", 180)])
    assert [(g["part"], g["grade"]) for g in reg.grades()] == [("office", "low"), ("tanks", "high")]
    assert reg.grades(history=True)[0]["id"] == ids[0] and reg.grades(grade="major") == []
    assert reg.grades(hazard_id="H1", history=True, grade="major")[0]["factors"] == {"L": 6.0}


def test_the_import_is_all_or_nothing_and_numbered_after_reports(reg: RegisterStore) -> None:
    from risk_models.register import RegisterError, SheetError

    reg.report(_report, year=2026)
    with pytest.raises(SheetError):
        reg.import_items(lambda c: import_rows(_rows(60, 6, bad=True), first_counter=c, actor="insp-1"))
    assert reg.count() == (1, 1)
    calls: list[dict[int, int]] = []
    kept: dict[str, Any] = {}

    def make(counters: Any) -> Any:
        calls.append(dict(counters))
        if len(calls) == 1:  # someone reports while the sheet is being checked
            reg.report(_report, year=2026)
        kept["result"] = import_rows(_rows(40, 7, bad=False), first_counter=counters, actor="insp-1")
        return kept["result"]

    numbers = reg.import_items(make)
    assert [c.get(2026) for c in calls] == [2, 3] and "YH-2026-000002" not in numbers
    assert {n: reg.get(n).item for n in numbers} == dict(kept["result"].items)
    total = reg.count()
    with pytest.raises(RegisterError, match="already stored; nothing was imported"):
        reg.import_items(lambda c: kept["result"])
    assert reg.count() == total


def test_the_version_grows_with_every_write_and_waits_for_earlier_writers(reg: RegisterStore) -> None:
    """The list and disclosure caches' key: a write makes a new version, committed in order."""
    v0 = reg.last_event_id()
    number = reg.report(_report, year=2026).item.number
    v1 = reg.last_event_id()
    reg.move(number, _comment("again"))
    v2 = reg.last_event_id()
    assert v0 < v1 < v2
    if hasattr(reg, "db_path"):
        return  # SQLite writers are serialised by BEGIN IMMEDIATE
    # PostgreSQL: a writer holding the version row keeps the next one from committing before it
    pool = reg._pool  # type: ignore[attr-defined]
    done = threading.Event()
    with pool.connection() as conn, conn.transaction():
        conn.execute("UPDATE riskplan.register_version SET v = v + 1")  # as an event insert would
        th = threading.Thread(target=lambda: (reg.move(number, _comment("later")), done.set()))
        th.start()
        assert not done.wait(1.0)  # the later writer waits for the earlier transaction
    th.join(10)
    assert done.is_set() and reg.last_event_id() == v2 + 2
