"""The month's disclosure from SQL (month-end states, the listed majors) equals the domain's disclose.

The reference is :func:`risk_models.register.disclose` on the whole register's items and
events frames; the store's path reads the month-end states from SQL aggregates
(:meth:`SQLiteRegister.snapshot`), then only the listed majors' items and month events.
Checked on the hand-made register and on a synthetic one, month by month, table by table and
byte for byte in HTML, CSV and GeoJSON.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

import gis
from risk_models.register import disclose, snapshot, synthetic_register
from service.register_outputs import disclosure_bytes
from service.store import NotFoundError, SQLiteRegister
from tests.register_factory import build


def _hand(tmp_path: Path) -> SQLiteRegister:
    reg = SQLiteRegister(tmp_path / "hand.sqlite3")
    hand = build()
    reg.append_events(lambda counters: hand.log)
    return reg


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> SQLiteRegister:
    reg = SQLiteRegister(tmp_path_factory.mktemp("disc") / "syn.sqlite3")
    syn = synthetic_register(gis.demo_city(n_road_nodes=2000), seed=2, n_items=900)
    log, frame = syn.log_in_wgs84()
    reg.append_events(lambda counters: log, areas=frame[["district"]])
    return reg


def _months(reg: SQLiteRegister) -> list[str]:
    _, events = reg.frames()
    return sorted({t.strftime("%Y-%m") for t in events["at"]})


def _check(reg: SQLiteRegister, month: str) -> int:
    frame, events = reg.frames()  # the whole register
    expected = disclose(frame, events, month)
    got = reg.disclosure(month)
    assert got.month == expected.month and got.as_of == expected.as_of
    for name, table in expected.tables().items():
        pd.testing.assert_frame_equal(pd.DataFrame(got.tables()[name]), pd.DataFrame(table), obj=name)
    for fmt in ("html", "csv", "geojson"):
        assert disclosure_bytes(got, fmt, label="L") == disclosure_bytes(expected, fmt, label="L"), fmt
    return len(expected.majors)


def test_snapshot_in_sql_equals_the_domain_snapshot(tmp_path: Path, synthetic: SQLiteRegister) -> None:
    for reg in (_hand(tmp_path), synthetic):
        _, events = reg.frames()
        for month in _months(reg)[::2]:
            period = pd.Period(month, freq="M")
            start, end = period.start_time.to_pydatetime(), (period + 1).start_time.to_pydatetime()
            got = reg.snapshot(active_since=start, reported_before=end)
            expected = snapshot(events, pd.Timestamp(end) - pd.Timedelta(1, "ns"))
            assert len(got) and set(got.index) <= set(expected.index)
            # the window leaves out only items final before the month: they count nowhere
            left = expected.drop(got.index)
            assert left["status"].isin(["closed", "rejected"]).all()
            assert (left[["closed_at", "rejected_at"]].max(axis=1) < pd.Timestamp(start)).all()
            pd.testing.assert_frame_equal(got, expected.loc[got.index], obj=month)
        everything = reg.snapshot()
        pd.testing.assert_frame_equal(everything, snapshot(events))


def test_disclosure_from_sql_equals_disclose_on_the_hand_made_register(tmp_path: Path) -> None:
    reg = _hand(tmp_path)
    listed = {month: _check(reg, month) for month in ("2026-02", "2026-03", "2026-04")}
    assert listed["2026-03"] == 2  # items 1 (closed in March) and 4 (supervised, open)
    with pytest.raises(NotFoundError, match="no items in or before 1999-01"):
        reg.disclosure("1999-01")


def test_disclosure_from_sql_equals_disclose_on_a_synthetic_register(synthetic: SQLiteRegister) -> None:
    months = _months(synthetic)
    assert len(months) >= 12
    listed = [_check(synthetic, month) for month in [*months[::3], months[-1]]]
    assert sum(listed) > 20


def test_a_late_event_does_not_move_a_past_month(tmp_path: Path) -> None:
    reg = _hand(tmp_path)
    before = reg.disclosure("2026-03")
    from risk_models.register import transition

    reg.move(
        "YH-2026-000004",
        lambda item: transition(
            item, "claim", at=datetime(2026, 4, 20), actor="e2", role="enterprise", unit="E2"
        ),
    )
    after = reg.disclosure("2026-03")
    for name, table in before.tables().items():
        pd.testing.assert_frame_equal(pd.DataFrame(after.tables()[name]), pd.DataFrame(table), obj=name)
    _check(reg, "2026-04")
