"""Disclosure, assessment and traceability against the small hand-made register.

Every expected figure below is worked out by hand from the table in
``tests/register_factory.py`` (March 2026).
"""

from __future__ import annotations

import pandas as pd
import pytest
import register_factory as rf

from risk_models.register import (
    RegisterError,
    assess,
    disclose,
    public_view,
    trace_incidents,
    unchecked_sources,
)


@pytest.fixture(scope="module")
def hm() -> rf.HandMade:
    return rf.build()


def test_the_hand_made_register_is_as_described(hm: rf.HandMade) -> None:
    status = hm.frame["status"].to_dict()
    assert status == {
        rf.num(1): "closed",
        rf.num(2): "closed",
        rf.num(3): "rectifying",
        rf.num(4): "rectifying",
        rf.num(5): "rejected",
        rf.num(6): "verified",
        rf.num(7): "closed",
    }
    assert hm.frame.loc[rf.num(4), "supervised_by"] == "City Safety Office"
    assert hm.frame.loc[rf.num(2), "reopens"] == 1


def test_disclosure_of_march(hm: rf.HandMade) -> None:
    d = disclose(hm.frame, hm.events, "2026-03")
    expected = pd.DataFrame(
        {
            "found": [3, 1, 4],
            "closed": [1, 1, 2],
            "open": [2, 1, 3],
            "overdue": [1, 0, 1],
            "supervised_open": [0, 1, 1],
        },
        index=pd.Index(["general", "major", "all"], name="grade"),
    )
    pd.testing.assert_frame_equal(d.summary, expected)
    assert list(d.majors.index) == [rf.num(1), rf.num(4)]  # closed in March, open at its end
    assert d.majors.loc[rf.num(1), "public_summary"] == "tank farm shut-off"
    assert d.majors.loc[rf.num(4), "public_summary"] == "粉尘涉爆"  # no public wording: the category's label
    p = d.progress
    assert p.loc[rf.num(1), "steps_this_month"] == "2026-03-10 claim; 2026-03-12 accept"
    assert p.loc[rf.num(4), "steps_this_month"] == (
        "2026-03-10 report; 2026-03-10 verify; 2026-03-11 hand_over; 2026-03-12 supervise; 2026-03-13 plan"
    )
    assert p.loc[rf.num(1), "days_open"] == 20.0
    assert p.loc[rf.num(4), "days_open"] == pytest.approx(21.6)  # Mar 10 09:00 to Apr 1 00:00
    assert not p["overdue"].any()
    r = d.results
    assert list(r.index) == [rf.num(1)]
    assert (r.loc[rf.num(1), "days_to_close"], bool(r.loc[rf.num(1), "on_time"])) == (20.0, True)
    # February: item 7 closed, item 1 open (found in February)
    feb = disclose(hm.frame, hm.events, "2026-02")
    assert feb.summary.loc["all", ["found", "closed", "open"]].tolist() == [2, 1, 1]
    assert list(feb.majors.index) == [rf.num(1)] and feb.results.empty


def test_last_months_disclosure_does_not_move_when_new_events_arrive(hm: rf.HandMade) -> None:
    before = hm.events[hm.events["at"] < pd.Timestamp("2026-03-01")]
    a = disclose(hm.frame, before, "2026-02")
    b = disclose(hm.frame, hm.events, "2026-02")
    pd.testing.assert_frame_equal(a.summary, b.summary)
    pd.testing.assert_frame_equal(a.progress, b.progress)


def test_assessment_by_district_of_march(hm: rf.HandMade) -> None:
    a = assess(hm.frame, hm.events, "2026-03", by="district")
    t = a.table
    assert list(t.index) == ["South", "North"]  # South ranks first
    north, south = t.loc["North"], t.loc["South"]
    assert north[["found", "closed", "closed_on_time", "open_now", "overdue_now"]].tolist() == [1, 2, 1, 0, 0]
    assert south[["found", "closed", "closed_on_time", "open_now", "overdue_now"]].tolist() == [3, 0, 0, 3, 1]
    assert north["on_time_rate"] == 0.5 and pd.isna(south["on_time_rate"])
    assert north["median_days_to_close"] == 20.5  # items 1 (20 days) and 2 (21 days)
    assert (north["reinspections"], north["reopened"]) == (3, 1)
    assert north["reopen_rate"] == pytest.approx(1 / 3)
    assert north["self_check_share"] == 0.0 and south["self_check_share"] == 0.5
    assert south["overdue_share"] == pytest.approx(1 / 3)
    # score = 100 x (0.35 on-time + 0.25 self-check + 0.25 (1 - overdue share) + 0.15 (1 - reopen rate));
    # a missing rate takes the city's (on-time 1/2, overdue 1/3, reopen 1/3)
    assert north["score"] == pytest.approx(
        100 * (0.35 * 0.5 + 0.25 * 0 + 0.25 * (2 / 3) + 0.15 * (2 / 3)), abs=0.01
    )
    assert south["score"] == pytest.approx(
        100 * (0.35 * 0.5 + 0.25 * 0.5 + 0.25 * (2 / 3) + 0.15 * (2 / 3)), abs=0.01
    )
    assert (south["rank"], north["rank"]) == (1, 2)
    city = a.city.loc["2026-03"]
    assert city[["found", "closed", "closed_on_time", "open_now", "overdue_now"]].tolist() == [4, 2, 1, 3, 1]
    assert city["on_time_rate"] == 0.5 and city["median_days_to_close"] == 20.5
    assert city["reopen_rate"] == pytest.approx(1 / 3) and city["self_check_share"] == pytest.approx(1 / 3)
    assert list(a.city.index) == ["2026-02", "2026-03"]
    # the trend: North found item 7 and item 1 in February, South nothing yet
    feb = a.trend.loc["2026-02"]
    assert feb.loc["North", "found"] == 2 and feb.loc["South", "found"] == 0
    assert t.loc["North", "found_change"] == -1


def test_assessment_by_enterprise_and_errors(hm: rf.HandMade) -> None:
    a = assess(hm.frame, hm.events, "2026-03", by="enterprise_id", trend_months=1)
    assert sorted(a.table.index) == ["E1", "E2"]
    assert a.table.loc["E1", "self_check_share"] == 0.0  # its March danger was found by inspectors
    with pytest.raises(RegisterError, match=r"no column `street`.*attach_areas"):
        assess(hm.frame, hm.events, "2026-03", by="street")
    with pytest.raises(RegisterError, match="'2026-13' is not a month"):
        disclose(hm.frame, hm.events, "2026-13")


def test_the_public_view_and_disclosure_leak_no_reporter_or_private_text(hm: rf.HandMade, tmp_path) -> None:
    public = public_view(hm.frame)
    assert not {"reporter", "description", "plan", "note", "actor"} & set(public.columns)
    d = disclose(hm.frame, hm.events, "2026-03")
    for name, table in d.tables().items():
        text = pd.DataFrame(table).drop(columns="geometry", errors="ignore").astype(str).to_csv()
        assert "SECRET" not in text, name
        assert "acct-" not in text and "insp-1" not in text, name
    snapped = public_view(hm.frame, location_precision_m=500)
    assert (snapped.geometry.x % 500 == 0).all()


def test_trace_incidents_finds_what_the_register_knew(hm: rf.HandMade) -> None:
    hits = trace_incidents(hm.incidents, hm.frame, hm.events, radius_m=100, lookback_days=30)
    found = {(r.incident_id, r.number): r for r in hits.itertuples()}
    assert set(found) == {
        ("I1", rf.num(3)),
        ("I2", rf.num(1)),
        ("I2", rf.num(2)),
        ("I3", rf.num(5)),
        ("I4", rf.num(4)),
        ("I5", rf.num(6)),
    }
    assert found["I1", rf.num(3)].finding == "overdue" and found["I1", rf.num(3)].days_overdue == 5
    assert found["I1", rf.num(3)].distance_m == pytest.approx(30)
    assert found["I2", rf.num(1)].finding == "closed_recently" and found["I2", rf.num(1)].days_since == 20
    assert found["I2", rf.num(2)].same_source and found["I2", rf.num(2)].days_since == 10
    assert found["I3", rf.num(5)].finding == "rejected" and found["I3", rf.num(5)].days_since == 4
    assert found["I4", rf.num(4)].finding == "open"
    assert found["I5", rf.num(6)].finding == "unverified"
    # a shorter look-back forgets the closure 20 days before I2
    short = trace_incidents(hm.incidents, hm.frame, hm.events, radius_m=100, lookback_days=15)
    assert set(short.loc[short["incident_id"] == "I2", "number"]) == {rf.num(2)}


def test_sources_without_self_checks(hm: rf.HandMade) -> None:
    end = pd.Timestamp("2026-03-31 23:59")
    one = unchecked_sources(hm.hazards, hm.frame, at=end, months=1)
    assert one["unchecked"].to_dict() == {"H1": True, "H2": False, "H3": True}
    assert one["found_by_others"].to_dict() == {"H1": 1, "H2": 0, "H3": 1}
    two = unchecked_sources(hm.hazards, hm.frame, at=end, months=2)
    assert two["unchecked"].to_dict() == {"H1": False, "H2": False, "H3": True}
    assert pd.isna(two.loc["H3", "last_self_check_at"])
