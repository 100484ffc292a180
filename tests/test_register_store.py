"""The hidden-danger register in the SQLite store: append-only log, projection, numbers, replay."""

from __future__ import annotations

import sqlite3
import threading
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
from register_factory import build

from risk_models.register import (
    Event,
    RoleError,
    TransitionError,
    assess,
    disclose,
    events_frame,
    items_frame,
    replay_many,
    report,
    transition,
)
from service.store import Attachment, ItemQuery, NotFoundError, Scope, SQLiteRegister, SQLiteStore


def _report(number: str, *, at: datetime = datetime(2026, 3, 1, 9), **kw: object) -> tuple:
    args = {
        "category": "gas",
        "x": 112.55,
        "y": 37.87,
        "description": "smell of gas",
        "source": "public_report",
    }
    args.update(kw)
    return report(number, at=at, actor="web", role="reporter", **args)  # type: ignore[arg-type]


@pytest.fixture
def reg(tmp_path: Path) -> SQLiteRegister:
    return SQLiteStore(tmp_path).register  # type: ignore[return-value]


def _raw(reg: SQLiteRegister) -> sqlite3.Connection:
    return sqlite3.connect(reg.db_path)


def test_events_refuse_update_and_delete_in_raw_sql(reg: SQLiteRegister) -> None:
    reg.report(_report, year=2026)
    conn = _raw(reg)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("UPDATE register_events SET note = 'rewritten'")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("DELETE FROM register_events")
        with pytest.raises(sqlite3.DatabaseError, match="never deleted"):
            conn.execute("DELETE FROM register_items")
        conn.rollback()
        assert conn.execute("SELECT count(*) FROM register_events").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM register_items").fetchone()[0] == 1
    finally:
        conn.close()


def test_move_updates_projection_and_appends_in_one_transaction(reg: SQLiteRegister) -> None:
    stored = reg.report(_report, year=2026)
    number = stored.item.number
    after = reg.move(
        number,
        lambda item: transition(item, "verify", at=datetime(2026, 3, 2), actor="u2", role="inspector"),
    )
    assert after.item.status == "verified" and after.item.version == 2
    assert reg.get(number).item == after.item
    assert [e.action for e in reg.events(number)] == ["report", "verify"]
    # the workflow refuses: nothing is written
    with pytest.raises(RoleError):
        reg.move(
            number,
            lambda item: transition(
                item, "hand_over", at=datetime(2026, 3, 3), actor="u9", role="reporter",
                data={"territorial_unit": "T", "department_unit": "D"},
            ),
        )  # fmt: skip
    with pytest.raises(TransitionError):
        reg.move(
            number, lambda item: transition(item, "claim", at=datetime(2026, 3, 3), actor="u2", role="admin")
        )
    assert reg.count() == (1, 2) and reg.get(number).item == after.item
    with pytest.raises(NotFoundError):
        reg.move("YH-2026-999999", lambda item: transition(item, "comment", at=datetime(2026, 3, 3),
                                                            actor="a", role="admin", note="x"))  # fmt: skip


def test_a_failing_write_leaves_no_number_used(reg: SQLiteRegister) -> None:
    with pytest.raises(TransitionError):
        reg.report(lambda n: _report(n, category="not-a-category"), year=2026)
    assert reg.count() == (0, 0)
    assert reg.report(_report, year=2026).item.number == "YH-2026-000001"


def test_numbers_are_unique_per_year_under_concurrency(reg: SQLiteRegister) -> None:
    numbers: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(year: int) -> None:
        try:
            for _ in range(15):
                at = datetime(year, 5, 1, 9)
                got = reg.report(lambda n, at=at: _report(n, at=at), year=year).item.number
                with lock:
                    numbers.append(got)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(2025 + k % 2,)) for k in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert len(numbers) == len(set(numbers)) == 120
    for year in (2025, 2026):
        mine = sorted(n for n in numbers if n.startswith(f"YH-{year}-"))
        assert mine == [f"YH-{year}-{k:06d}" for k in range(1, 61)]


def test_replaying_the_stored_events_gives_the_stored_items(reg: SQLiteRegister) -> None:
    hand = build()
    numbers = reg.append_events(lambda counters: hand.log)
    assert sorted(numbers) == sorted(hand.items)
    replayed = replay_many(reg.iter_events())
    stored = {n: reg.get(n).item for n in numbers}
    assert replayed == stored == hand.items
    # the next number follows the imported ones
    assert reg.report(_report, year=2026).item.number == "YH-2026-000008"


def test_frames_equal_the_domain_frames(reg: SQLiteRegister) -> None:
    hand = build()
    reg.append_events(lambda counters: hand.log)
    frame, events = reg.frames()
    expected = items_frame(hand.items.values(), crs="EPSG:4326")
    pd.testing.assert_frame_equal(
        pd.DataFrame(frame.drop(columns=["geometry", "district", "street"])),
        pd.DataFrame(expected.drop(columns="geometry")).loc[frame.index],
    )
    pd.testing.assert_frame_equal(events.reset_index(drop=True), events_frame(hand.log), check_dtype=False)
    # a window leaves out items closed before it (their state is final)
    since = datetime(2026, 3, 1)
    frame_m, events_m = reg.frames(active_since=since, reported_before=datetime(2026, 4, 1))
    assert "YH-2026-000007" not in frame_m.index and "YH-2026-000001" in frame_m.index
    assert set(events_m["number"]) == set(frame_m.index)
    assert events_m["at"].max() < pd.Timestamp("2026-04-01")
    # and the month's disclosure and assessment are those of the whole register
    full = disclose(frame, events, "2026-03")
    part = disclose(frame_m, events_m, "2026-03")
    for name, table in full.tables().items():
        pd.testing.assert_frame_equal(pd.DataFrame(part.tables()[name]), pd.DataFrame(table), obj=name)
    frame_a, events_a = reg.frames(active_since=datetime(2026, 2, 1), reported_before=datetime(2026, 4, 1))
    pd.testing.assert_frame_equal(
        assess(frame_a, events_a, "2026-03", by="enterprise_id", trend_months=2).table,
        assess(frame, events, "2026-03", by="enterprise_id", trend_months=2).table,
    )


def test_list_filters_scope_and_paging(reg: SQLiteRegister) -> None:
    hand = build()
    reg.append_events(lambda counters: hand.log)
    everything = reg.list_items(ItemQuery())
    assert [s.row for s in everything] == sorted((s.row for s in everything), reverse=True)
    overdue = reg.list_items(ItemQuery(overdue_on=date(2026, 4, 1)))
    assert {s.item.number for s in overdue} == {
        n for n, i in hand.items.items() if i.status in ("verified", "handed_over", "rectifying",
                                                         "rectified", "reopened")
        and i.deadline is not None and i.deadline < date(2026, 4, 1)
    }  # fmt: skip
    unit = next(i.department_unit for i in hand.items.values() if i.department_unit)
    mine = reg.list_items(ItemQuery(scope=Scope("department_unit", unit)))
    assert mine and all(s.item.department_unit == unit for s in mine)
    first = reg.list_items(ItemQuery(), limit=3)
    rest = reg.list_items(ItemQuery(), after=first[-1].row)
    assert [s.item.number for s in first + rest] == [s.item.number for s in everything]
    march = reg.list_items(ItemQuery(month="2026-03"))
    assert all(s.item.reported_at.month == 3 for s in march) and len(march) == 5


def test_attachments_are_stored_with_the_event(reg: SQLiteRegister) -> None:
    photo = Attachment("photo-" + "ab" * 32, "image/jpeg", b"\xff\xd8jpeg")
    stored = reg.report(lambda n: _report(n, attachments=[photo.ref]), year=2026, attachments=[photo])
    assert reg.events(stored.item.number)[0].attachments == (photo.ref,)
    assert reg.attachment(photo.ref) == photo
    with pytest.raises(Exception, match="not named by the event"):
        reg.report(_report, year=2026, attachments=[photo])
    with pytest.raises(Exception, match="not stored"):
        reg.report(lambda n: _report(n, attachments=["photo-" + "cd" * 32]), year=2026)
    assert reg.count() == (1, 1)
    assert isinstance(reg.events(stored.item.number)[0], Event)
