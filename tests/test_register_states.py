"""The state stored after each event (``register_states``, SQLite migration 0006) is the fold of the log.

The trigger writes a row per new event; the migration fills the rows of events stored before
it, by window aggregates. Both must equal the aggregates over the events themselves
(:func:`service.store._register_frames.aggregate_snapshot_sql`, the SQL the month's snapshot
used before the table) at every month's end, and the rows may never change.
"""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

import gis
from risk_models.register import import_rows, synthetic_register
from service.store import SQLiteRegister
from service.store._register_frames import aggregate_snapshot_sql, snapshot_sql
from service.store.migrations import SQLITE_MIGRATIONS, split_statements


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> SQLiteRegister:
    reg = SQLiteRegister(tmp_path_factory.mktemp("states") / "syn.sqlite3")
    syn = synthetic_register(gis.demo_city(n_road_nodes=2000), seed=5, n_items=400)
    log, frame = syn.log_in_wgs84()
    reg.append_events(lambda counters: log, areas=frame[["district"]])
    return reg


def _rows(conn: sqlite3.Connection, sql: str, values: list[str]) -> list[tuple[object, ...]]:
    return [tuple(r) for r in conn.execute(sql, values).fetchall()]


def _check_every_month_end(store: SQLiteRegister) -> None:
    conn = sqlite3.connect(store.db_path)
    months = sorted({r[0] for r in conn.execute("SELECT DISTINCT substr(at, 1, 7) FROM register_events")})
    assert len(months) >= 12
    window = "SELECT row FROM register_items WHERE reported_at < ?"
    for month in [*months, "2999-01"]:
        end = (pd.Period(month, freq="M") + 1).start_time.isoformat()
        got = _rows(conn, snapshot_sql(window), [end, end])
        assert got == _rows(conn, aggregate_snapshot_sql(window), [end, end]), month
    n_states, n_events = conn.execute(
        "SELECT (SELECT count(*) FROM register_states), (SELECT count(*) FROM register_events)"
    ).fetchone()
    assert n_states == n_events > 100


def test_the_stored_states_equal_the_aggregates_at_every_month_end(store: SQLiteRegister) -> None:
    _check_every_month_end(store)


def test_an_import_folds_its_states_in_one_pass(store: SQLiteRegister) -> None:
    reg = store
    rows = pd.DataFrame({
        "隐患类别": ["燃气", "电梯", "燃气"], "隐患描述": ["a", "b", "c"],
        "经度": ["112.5", "112.6", "112.7"], "纬度": ["37.8", "37.9", "37.8"],
        "发现时间": ["2025-01-03 10:00", "2025-02-03", "2026-03-04"],
        "检查人": ["王", "李", "张"],
    })  # fmt: skip
    numbers = reg.import_items(
        lambda counters: import_rows(rows, first_counter=counters, actor="i-1", verify=True)
    )
    assert len(numbers) == 3
    conn = sqlite3.connect(reg.db_path)
    got = conn.execute(
        "SELECT version, status FROM register_states WHERE number = ? ORDER BY seq", (numbers[0],)
    ).fetchall()
    assert got == [(1, "reported"), (2, "verified")]
    _check_every_month_end(reg)


def test_the_migration_fills_the_states_the_trigger_writes(store: SQLiteRegister) -> None:
    script = (SQLITE_MIGRATIONS / "0006_register_states.sql").read_text(encoding="utf-8")
    backfill = next(s for s in split_statements(script) if "WINDOW w AS" in s)
    conn = sqlite3.connect(":memory:")
    conn.execute(f"ATTACH DATABASE '{store.db_path}' AS src")
    conn.execute("CREATE TABLE register_states AS SELECT * FROM src.register_states WHERE 0")
    conn.execute("CREATE TEMP VIEW register_events AS SELECT * FROM src.register_events")
    conn.execute(backfill)
    order = "ORDER BY number, seq"
    assert (
        conn.execute(f"SELECT * FROM register_states {order}").fetchall()
        == conn.execute(f"SELECT * FROM src.register_states {order}").fetchall()
    )


def test_the_stored_states_never_change(store: SQLiteRegister) -> None:
    conn = sqlite3.connect(store.db_path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE register_states SET status = 'closed'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM register_states")
    assert conn.execute("SELECT count(*) FROM register_states").fetchone()[0] > 400
