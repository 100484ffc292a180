"""The month-end states kept per ended month (SQLite migration 0008) never go stale.

The reference is the same store answering by the query (``SQLiteRegister(month_ends=False)``):
after any order of stored events (each item's events in its own order, items interleaved at
random, events dated before months already kept), every month's kept states and disclosure
equal the query's. An import (bulk: the per-event triggers stand aside) stores the states the
trigger would have written and clears the months its rows are dated in.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gis
from risk_models.register import Event, import_rows, synthetic_register
from service.register_outputs import disclosure_bytes
from service.store import SQLiteRegister


@pytest.fixture(scope="module")
def synthetic() -> tuple[list[Event], pd.DataFrame]:
    syn = synthetic_register(gis.demo_city(n_road_nodes=2000), seed=7, n_items=60)
    log, frame = syn.log_in_wgs84()
    return log, frame[["district"]]


def _months(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return sorted({r[0] for r in conn.execute("SELECT DISTINCT substr(at, 1, 7) FROM register_events")})
    finally:
        conn.close()


def _built(db: Path) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        return {r[0] for r in conn.execute("SELECT month FROM register_month_ends_built")}
    finally:
        conn.close()


def _window(month: str) -> dict[str, datetime]:
    period = pd.Period(month, freq="M")
    start = period.start_time.to_pydatetime()
    return {"active_since": start, "reported_before": (period + 1).start_time.to_pydatetime()}


def _check_all_months(db: Path, *, disclosures: int = 0) -> None:
    kept, query = SQLiteRegister(db), SQLiteRegister(db, month_ends=False)
    try:
        months = _months(db)
        for month in months:
            pd.testing.assert_frame_equal(kept.snapshot(**_window(month)), query.snapshot(**_window(month)))
            # a second read comes from the kept rows
            pd.testing.assert_frame_equal(kept.snapshot(**_window(month)), query.snapshot(**_window(month)))
        for month in months[-disclosures:] if disclosures else []:
            got, expected = kept.disclosure(month), query.disclosure(month)
            assert disclosure_bytes(got, "csv", label="L") == disclosure_bytes(expected, "csv", label="L")
    finally:
        kept.close()
        query.close()


def _given(events: list[Event]) -> Callable[[Mapping[int, int]], list[Event]]:
    """A ``make`` of ``append_events`` giving ``events`` whatever the counters."""

    def make(counters: Mapping[int, int]) -> list[Event]:
        return events

    return make


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_kept_month_ends_equal_the_query_after_any_event_order(
    synthetic: tuple[list[Event], pd.DataFrame], data: st.DataObject
) -> None:
    log, areas = synthetic
    by_item: dict[str, list[Event]] = {}
    for ev in log:
        by_item.setdefault(ev.number, []).append(ev)
    numbers = sorted(by_item)
    # the events stored first: a prefix of each item's events (maybe none), the months built
    first_n = {n: data.draw(st.integers(0, len(by_item[n])), label=n) for n in numbers}
    first = [ev for n in numbers for ev in by_item[n][: first_n[n]]]
    rest = {n: by_item[n][first_n[n] :] for n in numbers if first_n[n] < len(by_item[n])}
    with tempfile.TemporaryDirectory(prefix="month-ends-") as tmp:
        db = Path(tmp) / "r.sqlite3"
        reg = SQLiteRegister(db)
        # items without a report yet are stored later; areas of the items stored
        if first:
            reg.append_events(lambda counters: first, areas=areas)
            assert set(reg.build_month_ends()) >= set(_months(db)) - {pd.Timestamp.now().strftime("%Y-%m")}
            _check_all_months(db)
        # then the rest, items interleaved in a random order, each in its own order, in batches
        queue = [n for n, evs in rest.items() for _ in evs]
        order = data.draw(st.permutations(queue), label="order")
        cursors = dict.fromkeys(rest, 0)
        batch: list[Event] = []
        batches = 0
        for n in order:
            batch.append(rest[n][cursors[n]])
            cursors[n] += 1
            if len(batch) >= 40:
                reg.append_events(_given(batch), areas=areas)
                batch, batches = [], batches + 1
                if batches % 3 == 0:
                    _check_all_months(db)
        if batch:
            reg.append_events(_given(batch), areas=areas)
        _check_all_months(db, disclosures=3)
        reg.close()


def test_events_dated_before_a_kept_month_clear_it_and_later_ones_do_not(
    synthetic: tuple[list[Event], pd.DataFrame],
) -> None:
    log, areas = synthetic
    last = max(ev.at for ev in log)
    with tempfile.TemporaryDirectory(prefix="month-ends-") as tmp:
        db = Path(tmp) / "r.sqlite3"
        reg = SQLiteRegister(db)
        held = [ev for ev in log if ev.number == log[-1].number]
        reg.append_events(lambda counters: [ev for ev in log if ev.number != log[-1].number], areas=areas)
        months = reg.build_month_ends()
        assert months and _built(db) == set(months)
        assert reg.build_month_ends() == []  # kept: nothing to make again
        reg.append_events(lambda counters: held, areas=areas)  # dated up to `last`
        cleared = {m for m in months if pd.Period(m, freq="M").end_time >= held[0].at}
        assert cleared and _built(db) == set(months) - cleared
        _check_all_months(db)
        assert _built(db) >= set(_months(db)) & set(months)  # made again on their first request
        reg.close()
    assert last < pd.Timestamp.now()


def test_an_item_leaving_a_final_state_clears_the_months_since_it_became_final(
    synthetic: tuple[list[Event], pd.DataFrame],
) -> None:
    """No shipped workflow lets an item leave ``closed`` (load_workflow refuses it): the trigger's guard."""
    log, areas = synthetic
    with tempfile.TemporaryDirectory(prefix="month-ends-") as tmp:
        db = Path(tmp) / "r.sqlite3"
        reg = SQLiteRegister(db)
        reg.append_events(lambda counters: log, areas=areas)
        months = reg.build_month_ends()
        conn = sqlite3.connect(db)
        number, seq, closed_at = conn.execute(
            "SELECT number, max(seq), max(closed_at) FROM register_states WHERE closed_at IS NOT NULL "
            "GROUP BY number ORDER BY 3 LIMIT 1"
        ).fetchone()
        with conn:
            conn.execute(
                "INSERT INTO register_events (number, seq, action, at, actor, role, from_status, to_status) "
                "VALUES (?, ?, 'reopen', ?, 'x', 'admin', 'closed', 'rectifying')",
                (number, seq + 1, pd.Timestamp.now().isoformat()),
            )
        kept = {m for m in months if pd.Period(m, freq="M").start_time.isoformat() <= closed_at}
        assert _built(db) == kept and kept != set(months)
        conn.close()
        reg.close()


def test_an_import_stores_the_states_the_trigger_writes_and_clears_its_months(
    synthetic: tuple[list[Event], pd.DataFrame],
) -> None:
    log, areas = synthetic
    rows = pd.DataFrame({
        "隐患类别": ["燃气", "电梯", "燃气", "电气线路"], "隐患描述": ["a", "b", "c", "d"],
        "经度": ["112.5", "112.6", "112.7", "112.55"], "纬度": ["37.8", "37.9", "37.8", "37.85"],
        "发现时间": ["2024-01-03 10:00", "2024-02-03", "2024-03-04", "2024-03-05 08:00"],
        "检查人": ["王", "李", "张", "赵"],
    })  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="month-ends-") as tmp:
        bulk, single = SQLiteRegister(Path(tmp) / "bulk.sqlite3"), SQLiteRegister(Path(tmp) / "one.sqlite3")
        for reg in (bulk, single):
            reg.append_events(lambda counters: log, areas=areas)
        months = bulk.build_month_ends()
        numbers = bulk.import_items(
            lambda counters: import_rows(rows, first_counter=counters, actor="i-1", verify=True)
        )
        assert len(numbers) == 4
        imported = [ev for n in numbers for ev in bulk.events(n)]
        single.append_events(lambda counters: imported)  # the same events, by the per-event trigger
        states = "SELECT * FROM register_states ORDER BY number, seq"
        a = sqlite3.connect(bulk.db_path).execute(states).fetchall()
        b = sqlite3.connect(single.db_path).execute(states).fetchall()
        assert a == b and len(a) > len(log)
        assert _built(bulk.db_path) == {m for m in months if m < "2024-01"}
        _check_all_months(bulk.db_path, disclosures=2)
        bulk.close()
        single.close()
