"""Failed survey items into the hidden-danger register: category, place, deadline, once each."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from risk_models.community_safety import register_failed_items, score_communities, survey_key, survey_keys
from risk_models.register import load_workflow
from service.register_files import open_register
from tests.test_community_safety import _communities, _row


@pytest.fixture
def communities() -> gpd.GeoDataFrame:
    return _communities()


def _safety(communities: gpd.GeoDataFrame, rows: list[dict[str, object]]):
    return score_communities(pd.DataFrame(rows), communities=communities)


def test_failed_items_become_verified_register_items_with_category_place_and_deadline(
    communities: gpd.GeoDataFrame,
) -> None:
    safety = _safety(
        communities,
        [
            _row("C001", elevator_inspection_overdue="yes", bottled_lpg="yes"),
            _row("C002", fire_lane_blocked="yes", ebike_charging_points=2),
            _row("C003"),
        ],
    )
    update = register_failed_items(safety, communities, first_counter={2024: 41})
    assert list(update.items) == [f"YH-2024-{k:06d}" for k in (41, 42, 43, 44)]
    by_key = {update.keys[n]: item for n, item in update.items.items()}
    wf = load_workflow()
    lift = by_key[survey_key("C001", "2024-05-15", "elevator_inspection_overdue")]
    assert (lift.category, lift.status, lift.community_id) == ("elevator", "verified", "C001")
    assert lift.grade == "major" and lift.criteria == ("SE-01",)  # SE-01 is a direct criterion
    assert lift.deadline == date(2024, 5, 15) + pd.Timedelta(days=wf.deadlines["major"].limit_days)
    lpg = by_key[survey_key("C001", "2024-05-15", "bottled_lpg")]
    assert (lpg.category, lpg.grade) == ("gas", "general")
    assert lpg.deadline == date(2024, 5, 15) + pd.Timedelta(days=wf.deadlines["general"].limit_days)
    lane = by_key[survey_key("C002", "2024-05-15", "fire_lane_blocked")]
    assert lane.category == "fire_lane_blocked" and lane.grade == "general"  # FI-11 alone is indirect
    charge = by_key[survey_key("C002", "2024-05-15", "ebike_charging_points")]
    assert (
        charge.category == "ebike_indoor_charging" and "surveyed 2 per 100 households" in charge.description
    )
    polygon = communities.loc["C002", "geometry"]
    assert polygon.contains(shapely.Point(charge.x, charge.y))  # the community's point, WGS84
    assert update.areas.loc[lane.number, "district"] == "East"
    assert [e.action for e in update.events] == ["report", "verify"] * 4


def test_reimport_adds_nothing(tmp_path: Path, communities: gpd.GeoDataFrame) -> None:
    reg = open_register(tmp_path / "reg", create=True)
    first = _safety(communities, [_row("C001", bottled_lpg="yes", exits_locked="yes")])
    update = register_failed_items(first, communities, first_counter=reg.next_counters(), existing=reg.events)
    reg.append(update.events, update.areas)
    assert len(update.items) == 2 and not len(update.follow_ups)
    for _ in range(2):  # the same survey again, through a re-read register
        reg = open_register(tmp_path / "reg")
        again = register_failed_items(
            first, communities, first_counter=reg.next_counters(), existing=reg.events
        )
        assert not again.items and not again.events and len(again.skipped) == 2


MAY, NOVEMBER = "2024-05-15", "2024-11-20"


def _history(reg_dir: Path, number: str) -> list[tuple[str, str, str | None]]:
    reg = open_register(reg_dir)
    return [(e.action, e.note.split("\n", 1)[0], e.to_status) for e in reg.events if e.number == number]


def test_resurvey_notes_what_still_fails_and_moves_what_passes_towards_closure(
    tmp_path: Path, communities: gpd.GeoDataFrame
) -> None:
    """First survey; re-survey with LPG mended and the locked exit still failing; both re-imported."""
    reg_dir = tmp_path / "reg"
    reg = open_register(reg_dir, create=True)
    may = _safety(communities, [_row("C001", MAY, bottled_lpg="yes", exits_locked="yes")])
    update = register_failed_items(may, communities, first_counter=reg.next_counters(), existing=reg.events)
    reg.append(update.events, update.areas)
    by_key = {k: n for n, k in update.keys.items()}
    lpg, exits = (
        by_key[survey_key("C001", MAY, "bottled_lpg")],
        by_key[survey_key("C001", MAY, "exits_locked")],
    )
    both = _safety(
        communities,
        [
            _row("C001", MAY, bottled_lpg="yes", exits_locked="yes"),
            _row("C001", NOVEMBER, exits_locked="yes"),
        ],
    )
    for attempt in range(2):  # the re-survey, then both surveys again
        reg = open_register(reg_dir)
        update = register_failed_items(
            both, communities, first_counter=reg.next_counters(), existing=reg.events
        )
        reg.append(update.events, update.areas)
        assert not update.items  # no second item for the exit still locked
        if attempt:
            assert not update.events and not len(update.follow_ups)
            assert len(update.skipped) == 3  # the two May failures and November's
    reg = open_register(reg_dir)
    assert len(reg.items) == 2
    # still failing: one comment on the open item, keyed by the re-survey
    assert _history(reg_dir, exits) == [
        ("report", survey_key("C001", MAY, "exits_locked"), "reported"),
        ("verify", "", "verified"),
        ("comment", survey_key("C001", NOVEMBER, "exits_locked"), "verified"),
    ]
    still = [e for e in reg.events if e.number == exits][-1]
    assert still.role == "inspector" and "still failing at the re-survey of 2024-11-20" in still.note
    # passes, but the item was never handed over: an inspector may not claim, so it is noted
    history = _history(reg_dir, lpg)
    assert history[-1] == ("comment", survey_key("C001", NOVEMBER, "bottled_lpg"), "verified")
    note = [e for e in reg.events if e.number == lpg][-1].note
    assert "passed at the re-survey of 2024-11-20" in note and "left at `verified`" in note
    assert "`hand_over` by admin/inspector/supervisor/territorial_government" in note
    assert reg.items[lpg].status == reg.items[exits].status == "verified"
    assert set(survey_keys(reg.events)) == {
        survey_key("C001", MAY, "bottled_lpg"),
        survey_key("C001", MAY, "exits_locked"),
        survey_key("C001", NOVEMBER, "bottled_lpg"),
        survey_key("C001", NOVEMBER, "exits_locked"),
    }


def _rectify(reg_dir: Path, number: str, *, claim: bool, supervise: bool = False) -> None:
    """Take ``number`` through handover and plan (and the enterprise's claim) as its units would."""
    from datetime import datetime

    from risk_models.register import transition

    reg = open_register(reg_dir)
    item, events = reg.items[number], []
    steps: list[tuple[str, str, dict[str, object]]] = [
        ("hand_over", "inspector", {"territorial_unit": "East St", "department_unit": "Fire"}),
        ("plan", "territorial_government", {"plan": "p", "measures": ["m"], "funds_yuan": 1.0,
                                            "deadline": date(2024, 6, 10)}),
    ]  # fmt: skip
    if supervise:
        steps.append(("supervise", "supervisor", {"authority": "City", "deadline": date(2024, 6, 12)}))
    if claim:
        steps.append(("claim", "territorial_government", {}))
    for k, (action, role, data) in enumerate(steps):
        unit = "East St" if role == "territorial_government" else None
        item, ev = transition(
            item, action, at=datetime(2024, 6, 1 + k), actor=role, role=role, unit=unit, data=data
        )
        events.append(ev)
    reg.append(events)


@pytest.mark.parametrize(
    "case",
    [
        (True, False, "inspector", "closed", "closed", "accept"),  # the re-survey is the re-inspection
        (True, True, "inspector", "rectified", "passed", "comment"),  # 销号 of a supervised item: supervisor
        (True, True, "supervisor", "closed", "closed", "accept"),
        (False, False, "inspector", "rectifying", "passed", "comment"),  # the claim is the unit's
        (False, False, "admin", "closed", "closed", "claim; accept"),
    ],
)
def test_resurvey_closes_a_mended_item_as_far_as_the_workflow_lets_its_role(
    tmp_path: Path, communities: gpd.GeoDataFrame, case: tuple[bool, bool, str, str, str, str]
) -> None:
    claim, supervise, role, status, outcome, actions = case
    reg_dir = tmp_path / "reg"
    reg = open_register(reg_dir, create=True)
    may = _safety(communities, [_row("C001", MAY, elevator_inspection_overdue="yes")])
    first = register_failed_items(may, communities, first_counter={}, existing=())
    reg.append(first.events, first.areas)
    (number,) = first.items
    _rectify(reg_dir, number, claim=claim, supervise=supervise)
    before = open_register(reg_dir).items[number].status
    november = _safety(communities, [_row("C001", NOVEMBER)])
    for attempt in range(2):
        reg = open_register(reg_dir)
        update = register_failed_items(
            november,
            communities,
            first_counter=reg.next_counters(),
            existing=reg.events,
            actor="survey",
            role=role,
        )
        reg.append(update.events, update.areas)
        if attempt:  # idempotent
            assert not update.events
        else:
            cols = ["number", "outcome", "actions", "status_before", "status_after"]
            expected = {"number": number, "outcome": outcome, "actions": actions}
            expected |= {"status_before": before, "status_after": status}
            assert update.follow_ups[cols].to_dict("records") == [expected]
    reg = open_register(reg_dir)
    assert reg.items[number].status == status
    last = [e for e in reg.events if e.number == number][-1]
    assert (
        last.note.startswith(survey_key("C001", NOVEMBER, "elevator_inspection_overdue"))
        and last.actor == "survey"
    )
    if status == "closed":
        assert "number cancelled (销号)" in last.note
    elif supervise:
        assert "accepting (销号) a supervised item is for the supervising authority" in last.note
        assert "`accept` by admin/supervisor" in last.note
    else:
        assert "`claim` by admin/department/enterprise/territorial_government" in last.note


def test_resurvey_after_closure_reports_a_new_item_and_an_older_survey_adds_nothing(
    tmp_path: Path, communities: gpd.GeoDataFrame
) -> None:
    reg_dir = tmp_path / "reg"
    reg = open_register(reg_dir, create=True)
    may = _safety(communities, [_row("C001", MAY, bottled_lpg="yes")])
    first = register_failed_items(may, communities, first_counter={}, role="admin")
    reg.append(first.events, first.areas)
    (number,) = first.items
    _rectify(reg_dir, number, claim=True)
    mended = _safety(communities, [_row("C001", "2024-08-01")])
    reg = open_register(reg_dir)
    update = register_failed_items(
        mended, communities, first_counter=reg.next_counters(), existing=reg.events, role="admin"
    )
    reg.append(update.events)
    assert open_register(reg_dir).items[number].status == "closed"
    again = _safety(communities, [_row("C001", NOVEMBER, bottled_lpg="yes")])  # the danger is back
    reg = open_register(reg_dir)
    update = register_failed_items(again, communities, first_counter=reg.next_counters(), existing=reg.events)
    reg.append(update.events, update.areas)
    assert list(update.keys.values()) == [survey_key("C001", NOVEMBER, "bottled_lpg")]
    older = _safety(communities, [_row("C001", "2024-10-01", bottled_lpg="yes")])  # imported late
    reg = open_register(reg_dir)
    late = register_failed_items(older, communities, first_counter=reg.next_counters(), existing=reg.events)
    assert (
        not late.items
        and not late.events
        and late.skipped == (survey_key("C001", "2024-10-01", "bottled_lpg"),)
    )


def test_keys_survive_community_codes_with_spaces(tmp_path: Path) -> None:
    layer = _communities().rename(index={"C001": "Garden Estate 1"})
    safety = _safety(layer, [_row("Garden Estate 1", bottled_lpg="yes")])
    first = register_failed_items(safety, layer, first_counter={})
    assert set(survey_keys(first.events)) == {survey_key("Garden Estate 1", "2024-05-15", "bottled_lpg")}
    again = register_failed_items(safety, layer, first_counter={2024: 2}, existing=first.events)
    assert not again.items


def test_unverified_import_and_unknown_community(communities: gpd.GeoDataFrame) -> None:
    from gis.errors import InputError

    safety = _safety(None, [_row("C001", bottled_lpg="yes"), _row("Z9", bottled_lpg="yes")])  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"communities \['Z9'\]"):
        register_failed_items(safety, communities, first_counter={})
    ok = _safety(communities, [_row("C001", bottled_lpg="yes")])
    update = register_failed_items(ok, communities, first_counter={}, verify=False)
    assert [i.status for i in update.items.values()] == ["reported"]


def test_a_resurvey_by_another_units_government_leaves_the_item_alone(
    tmp_path: Path, communities: gpd.GeoDataFrame
) -> None:
    """The workflow's scope holds: a street government acts only on the items handed to it."""
    reg_dir = tmp_path / "reg"
    reg = open_register(reg_dir, create=True)
    first = register_failed_items(_safety(communities, [_row("C001", MAY, bottled_lpg="yes")]), communities,
                                  first_counter={})  # fmt: skip
    reg.append(first.events, first.areas)
    (number,) = first.items
    _rectify(reg_dir, number, claim=False)  # handed over to "East St", rectifying
    reg = open_register(reg_dir)
    for values in ({}, {"bottled_lpg": "yes"}):  # mended, then still failing
        november = _safety(communities, [_row("C001", NOVEMBER, **values)])
        other = register_failed_items(
            november, communities, first_counter=reg.next_counters(), existing=reg.events,
            role="territorial_government", unit="West St",
        )  # fmt: skip
        assert not other.events and not other.items and not len(other.follow_ups)
    own = register_failed_items(
        _safety(communities, [_row("C001", NOVEMBER)]), communities, first_counter=reg.next_counters(),
        existing=reg.events, role="territorial_government", unit="East St",
    )  # fmt: skip
    # the workflow lets the street government claim and accept (销号) the items handed to it
    assert own.follow_ups[["actions", "status_after"]].to_dict("records") == [
        {"actions": "claim; accept", "status_after": "closed"}
    ]
