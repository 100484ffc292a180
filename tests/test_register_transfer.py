"""Moving a register kept in SQLite into PostgreSQL (`riskplan store move-register`).

The moved register must be the same register: every item, event (with its id), counter, photo,
account and grade, read back through the PostgreSQL backend equal to the SQLite one; the next
report takes the next number; a non-empty database or a source without a register is refused
with nothing written; a failure in the middle leaves the database's register empty. Needs the
throwaway PostgreSQL server (``pg_dsn``; skipped with the reason when none can be started).
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

import gis
from risk_models.register import report, synthetic_register
from service.cli import main
from service.store import Account, Attachment, ItemQuery, RegisterStore
from service.store.register_sqlite import SQLiteRegister
from service.store.register_transfer import TABLES, transfer_register

pytest.importorskip("psycopg")


def _report(number: str) -> Any:
    return report(
        number, at=datetime(2026, 3, 1, 9), actor="web", role="reporter", category="gas", x=112.55,
        y=37.87, description="smell of gas\twith a tab\nand a line", source="public_report",
        attachments=["photo-" + "ab" * 32],
    )  # fmt: skip


def _grade(part: str, grade: str, score: float) -> dict[str, object]:
    return {
        "hazard_id": "H1", "part": part, "method": "lec", "factors": {"L": 6.0}, "score": score,
        "basis": "LEC", "grade": grade, "colour": "red", "control_level": "enterprise",
        "control_measures": "stop", "lon": 112.5, "lat": None, "graded_at": "2026-03-01T09:00:00",
        "actor": "a", "role": "admin", "note": "说明",
    }  # fmt: skip


@pytest.fixture(scope="module")
def synthetic() -> Any:
    return synthetic_register(gis.demo_city(n_road_nodes=2000), seed=5, n_items=120)


def _fill(reg: RegisterStore, synthetic: Any) -> None:
    log, frame = synthetic.log_in_wgs84()
    reg.append_events(lambda counters: log, areas=frame[["district"]])
    photo = Attachment("photo-" + "ab" * 32, "image/jpeg", b"\xff\xd8\x00\tjpeg\n")
    reg.report(_report, year=2026, attachments=[photo], follow_digest=b"\x00\x01", reported_by="acc1")
    account = Account("a" * 32, "department", "EMB", "李伟", "2026-03-01T09:00:00+00:00")
    reg.add_account(account, salt=b"\x00salt", digest=b"hash\xff")
    reg.disable_account(account.id)
    reg.add_grades([_grade("tanks", "major", 540), _grade("office", "low", 3)])
    reg.add_grades([_grade("tanks", "high", 180)])


def _view(reg: RegisterStore) -> dict[str, Any]:
    items = reg.list_items(ItemQuery(), limit=10_000)
    return {
        "items": [(s.item, s.district, s.street, s.reported_by) for s in items],
        "events": {s.item.number: reg.events(s.item.number) for s in items},
        "digests": {s.item.number: reg.follow_digest(s.item.number) for s in items},
        "count": reg.count(),
        "last": reg.last_event_id(),
        "accounts": [(a, reg.account_secret(a.id)) for a in reg.list_accounts()],
        "grades": reg.grades(history=True),
        "photo": reg.attachment("photo-" + "ab" * 32),
    }


def test_the_moved_register_is_the_same_register(tmp_path: Path, pg_dsn: str, synthetic: Any) -> None:
    from service.store.postgres import REGISTER_FILE, PostgresStore, open_store

    data = tmp_path / "data"
    source = SQLiteRegister(data / REGISTER_FILE)
    _fill(source, synthetic)
    before = _view(source)

    done = transfer_register(data, pg_dsn, today=date(2026, 12, 2))
    assert done.items == before["count"][0] and done.events == before["count"][1]
    assert set(done.rows) == {t for t, _, _ in TABLES}
    assert done.kept_as == data / "register.sqlite3.moved-20261202" and done.kept_as.exists()
    assert not (data / REGISTER_FILE).exists()

    store = open_store(data, url=pg_dsn)  # the server's next start: the register from PostgreSQL
    try:
        assert isinstance(store, PostgresStore)
        moved = store.register
        assert type(moved).__name__ == "PostgresRegister"
        assert _view(moved) == before
        nxt = moved.report(lambda n: report(n, at=datetime(2026, 4, 1), actor="web", role="reporter",
                           category="gas", x=112.5, y=37.8, description="d", source="public_report"),
                           year=2026)  # fmt: skip
        year_numbers = sorted(i.number for i, *_ in before["items"] if i.number.startswith("YH-2026-"))
        assert nxt.item.number > year_numbers[-1]
        assert moved.last_event_id() > before["last"]  # the ids go on after the moved ones
    finally:
        store.close()


def test_a_database_holding_a_register_is_refused_and_keeps_it(tmp_path: Path, pg_dsn: str) -> None:
    from service.store.postgres import PostgresStore

    pg = PostgresStore(pg_dsn)
    try:
        pg.register.report(lambda n: report(n, at=datetime(2026, 3, 1), actor="web", role="reporter",
                           category="gas", x=112.5, y=37.8, description="d", source="public_report"),
                           year=2026)  # fmt: skip
    finally:
        pg.close()
    reg = SQLiteRegister(tmp_path / "register.sqlite3")
    reg.add_grades([_grade("tanks", "major", 540)])
    with pytest.raises(gis.InputError, match=r"not empty \(1 in `register_items`.*Fix: move it into a new"):
        transfer_register(tmp_path, pg_dsn)
    assert (tmp_path / "register.sqlite3").exists()  # the source is kept where it was
    pg = PostgresStore(pg_dsn)
    try:
        assert pg.register.count() == (1, 1) and pg.register.grades() == []
    finally:
        pg.close()


def test_a_copy_that_fails_leaves_the_database_empty(
    tmp_path: Path, pg_dsn: str, synthetic: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.store import register_transfer
    from service.store.postgres import PostgresStore

    reg = SQLiteRegister(tmp_path / "register.sqlite3")
    _fill(reg, synthetic)
    real = register_transfer._digest
    calls: list[int] = []

    def corrupt(rows: Any) -> tuple[int, str]:  # the read-back of the third table differs
        calls.append(1)
        n, h = real(rows)
        return (n, "x" + h) if len(calls) == 5 else (n, h)

    monkeypatch.setattr(register_transfer, "_digest", corrupt)
    with pytest.raises(gis.InputError, match=r"reads back different.*nothing was kept there"):
        transfer_register(tmp_path, pg_dsn)
    assert (tmp_path / "register.sqlite3").exists()
    pg = PostgresStore(pg_dsn)
    try:
        assert pg.register.count() == (0, 0) and pg.register.list_accounts() == []
    finally:
        pg.close()


def test_a_source_without_a_register_is_refused(tmp_path: Path, pg_dsn: str) -> None:
    with pytest.raises(gis.InputError, match=r"neither `register\.sqlite3` nor `riskplan\.sqlite3`"):
        transfer_register(tmp_path, pg_dsn)
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(gis.InputError, match="holds no hidden-danger register"):
        transfer_register(other, pg_dsn)
    (tmp_path / "text.sqlite3").write_text("not a database")
    with pytest.raises(gis.InputError, match="is not an SQLite database"):
        transfer_register(tmp_path / "text.sqlite3", pg_dsn)


def test_the_command_moves_the_embedded_stores_register(
    tmp_path: Path, pg_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from service.store import SQLiteStore

    data = tmp_path / "data"
    store = SQLiteStore(data)
    store.register.add_grades([_grade("tanks", "major", 540)])
    store.register.report(lambda n: report(n, at=datetime(2026, 3, 1), actor="web", role="reporter",
                          category="gas", x=112.5, y=37.8, description="d", source="public_report"),
                          year=2026)  # fmt: skip
    assert main(["store", "move-register", "--data-dir", str(data), "--store", pg_dsn, "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "moved register_items: 1 rows" in out and "1 items and 1 events" in out
    assert (data / "riskplan.sqlite3").exists()  # the embedded store's file holds its scenarios too
    assert main(["store", "move-register", "--data-dir", str(data), "--store", pg_dsn]) == 2  # not empty now
    assert "not empty" in capsys.readouterr().err
    assert main(["store", "move-register", "--data-dir", str(data)]) == 2  # no database named
