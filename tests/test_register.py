"""The hidden-danger register's core: workflow, events and replay, deadlines, grading.

The workflow is checked against the shipped TOML table read directly (an independent
reference to the code that loads it), on random sequences of actions by random roles.
"""

from __future__ import annotations

import tomllib
from datetime import date, datetime, timedelta
from importlib import resources
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from risk_models.register import (
    Event,
    Item,
    RegisterError,
    RoleError,
    TransitionError,
    grade_assessments,
    hazard_risk_grades,
    is_overdue,
    items_frame,
    load_criteria,
    load_risk_grading,
    load_workflow,
    major_grade,
    overdue,
    replay,
    replay_many,
    report,
    snapshot,
    transition,
)
from risk_models.register.vocab import ACTIONS, ROLES, STATUSES, TERMINAL_STATUSES

TABLE = tomllib.loads(
    resources.files("risk_models").joinpath("data/register_workflow.toml").read_text("utf-8")
)
T0 = datetime(2026, 3, 1, 9)


def _new(**kw: Any) -> Item:
    return _reported(**kw)[0]


def _reported(**kw: Any) -> tuple[Item, Event]:
    args: dict[str, Any] = {
        "at": T0,
        "actor": "insp-1",
        "role": "inspector",
        "category": "mining",
        "x": 0.0,
        "y": 0.0,
        "description": "gas over the limit",
        "source": "government_inspection",
        "reporter": "Wang",
        "hazard_id": "H1",
        "enterprise_id": "E1",
    }
    args.update(kw)
    return report("YH-2026-000001", **args)


# --------------------------------------------------------------------------------------------
# random walks through the workflow


def _data(action: str, item: Item, choice: int) -> dict[str, Any]:
    """Plausible data for ``action`` (``choice`` picks a variant, some of them wrong)."""
    start = (item.verified_at or item.updated_at).date()
    if action == "verify":
        return {"criteria": [[], ["CM-02"], ["XX-99"]][choice % 3]}
    if action == "reject":
        return [{"reason": "not_a_danger"}, {"reason": "duplicate", "duplicate_of": "YH-2026-000009"}, {}][
            choice % 3
        ]
    if action == "hand_over":
        return {"territorial_unit": "T1", "department_unit": ["D1", "D2"][choice % 2]}
    if action == "plan":
        deadline = item.deadline or start + timedelta(days=10)
        return {
            "plan": "p",
            "measures": ["m"],
            "funds_yuan": 100.0,
            "deadline": deadline - timedelta(days=choice % 3),
        }
    if action == "supervise":
        return {"authority": "City Safety Office"}
    if action == "extend":
        return {"deadline": start + timedelta(days=[45, 90, 120][choice % 3])}
    return {}


step = st.tuples(
    st.sampled_from([a for a in ACTIONS if a != "report"]),
    st.sampled_from(ROLES),
    st.sampled_from(["E1", "E2", "D1", "D2", "T1", None]),
    st.integers(0, 5),
    st.floats(0.0, 20.0),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=1, max_size=40), st.sampled_from(["mining", "gas"]))
def test_random_moves_stay_in_the_workflow_and_replay_gives_the_item(steps, category) -> None:
    item, first = _reported(category=category)
    log = [first]
    at = T0
    for action, role, unit, choice, days in steps:
        at = at + timedelta(days=days)
        before = item
        note = "why" if choice % 2 == 0 else ""
        try:
            item, event = transition(
                item,
                action,
                at=at,
                actor="a",
                role=role,
                unit=unit,
                data=_data(action, item, choice),
                note=note,
            )
        except TransitionError:
            assert item == before  # a refused move changes nothing
            continue
        spec = TABLE["transitions"][action]
        # the independent reference: the TOML table as written
        assert before.status in spec["from"]
        roles = spec.get("roles_if_supervised", spec["roles"]) if before.supervised_by else spec["roles"]
        assert role in roles
        assert item.status == spec.get("to", before.status)
        assert before.status not in TERMINAL_STATUSES
        assert item.status in STATUSES
        scope = TABLE["roles"][role]
        if scope.get("scope"):
            owner = getattr(before, scope["scope"])
            assert owner == unit if scope.get("scope_required") else owner in (None, unit)
        if item.supervised_by:
            assert item.grade == "major"
        assert item.extensions <= 1
        assert (event.from_status, event.to_status) == (before.status, item.status)
        log.append(event)
        assert replay(log) == item
    assert replay(log) == item
    assert replay_many(log) == {item.number: item}
    records = [Event.from_record(e.to_record()) for e in log]
    assert replay(records) == item  # what a store keeps and reads back replays the same


def test_replay_of_the_synthetic_log_equals_its_items_and_snapshot_matches() -> None:
    import gis
    from risk_models.register import synthetic_register

    city = gis.demo_city(n_road_nodes=2000)
    reg = synthetic_register(city, seed=3, n_items=150)
    items = replay_many(reg.log)
    assert list(items) == sorted(items)
    frame = items_frame(items.values(), crs=reg.items.crs)
    cols = ["status", "grade", "deadline", "supervised_by", "extensions", "reopens", "closed_at", "version"]
    pd.testing.assert_frame_equal(frame[cols], reg.items[cols])
    cut = datetime(2024, 7, 1)
    then = items_frame(replay_many(reg.log, until=cut).values(), crs=reg.items.crs)
    snap = snapshot(reg.events, cut)
    assert list(snap.index) == list(then.index)
    for col in ("status", "grade", "supervised_by", "extensions", "reopens", "version"):
        assert snap[col].tolist() == then[col].tolist(), col
    for col in ("deadline", "verified_at", "closed_at", "rectified_at", "updated_at"):
        pd.testing.assert_series_equal(snap[col], then[col], check_names=False, check_freq=False)


# --------------------------------------------------------------------------------------------
# refusals name the item, the rule and the fix


def test_wrong_state_role_scope_and_data_are_refused_with_the_fix() -> None:
    item = _new()
    with pytest.raises(TransitionError, match=r"YH-2026-000001.*`accept` is allowed from \['rectified'\]"):
        transition(item, "accept", at=T0, actor="a", role="inspector")
    with pytest.raises(RoleError, match=r"role `reporter` may not `verify`.*Fix: act as one of"):
        transition(item, "verify", at=T0, actor="a", role="reporter")
    item, _ = transition(item, "verify", at=T0, actor="a", role="inspector")
    item, _ = transition(
        item,
        "hand_over",
        at=T0,
        actor="a",
        role="inspector",
        data={"territorial_unit": "T1", "department_unit": "D1"},
    )
    with pytest.raises(
        RoleError, match=r"`enterprise_id` is its unit; this item's is 'E1', the actor's unit 'E2'"
    ):
        transition(
            item,
            "plan",
            at=T0,
            actor="a",
            role="enterprise",
            unit="E2",
            data={"plan": "p", "measures": ["m"], "funds_yuan": 1.0, "deadline": date(2026, 3, 5)},
        )
    # a department acts only on the items handed to it
    with pytest.raises(RoleError, match="this item's is None"):
        transition(_new(), "comment", at=T0, actor="a", role="department", unit="D1", note="x")
    with pytest.raises(RoleError, match="department_unit"):
        transition(
            item,
            "extend",
            at=T0,
            actor="a",
            role="department",
            unit="D2",
            data={"deadline": date(2026, 4, 10)},
            note="late parts",
        )
    with pytest.raises(TransitionError, match=r"data lacks \['funds_yuan', 'measures'\]"):
        transition(
            item,
            "plan",
            at=T0,
            actor="a",
            role="enterprise",
            unit="E1",
            data={"plan": "p", "deadline": date(2026, 3, 5)},
        )
    with pytest.raises(TransitionError, match="older than the item's last event"):
        transition(item, "comment", at=T0 - timedelta(days=1), actor="a", role="inspector", note="x")
    with pytest.raises(TransitionError, match="needs a note"):
        transition(item, "comment", at=T0, actor="a", role="inspector")
    with pytest.raises(RoleError, match="may not report from source `enterprise_self_check`"):
        _new(source="enterprise_self_check")
    with pytest.raises(TransitionError, match="must name its reporter"):
        _new(reporter=None)
    with pytest.raises(TransitionError, match=r"criteria of checklist\('mining'\)"):
        transition(_new(), "verify", at=T0, actor="a", role="inspector", data={"criteria": ["HC-05"]})


def test_a_forged_event_is_refused_by_apply() -> None:
    from risk_models.register import apply

    item = _new()
    forged = Event(
        item.number,
        "verify",
        T0,
        "a",
        "inspector",
        from_status="reported",
        to_status="closed",
        data={"deadline": date(2026, 3, 20)},
    )
    with pytest.raises(TransitionError, match="the event says reported -> closed but the item moves"):
        apply(item, forged)
    with pytest.raises(RegisterError, match="replay one item's log"):
        replay([_reported()[1], Event("YH-2026-000002", "comment", T0, "a", "inspector")])


# --------------------------------------------------------------------------------------------
# deadlines, extensions, overdue


def _handed(category: str = "gas", criteria: tuple[str, ...] = ()) -> Item:
    item = _new(category=category)
    item, _ = transition(
        item, "verify", at=T0, actor="a", role="inspector", data={"criteria": list(criteria)}
    )
    item, _ = transition(
        item,
        "hand_over",
        at=T0 + timedelta(hours=1),
        actor="a",
        role="inspector",
        data={"territorial_unit": "T1", "department_unit": "D1"},
    )
    return item


def test_deadlines_by_grade_and_one_extension_to_the_extended_limit() -> None:
    general = _handed()
    assert general.grade == "general" and general.deadline == date(2026, 3, 31)  # 30 days
    major = _handed("mining", ("CM-02",))
    assert major.grade == "major" and major.deadline == date(2026, 4, 30)  # 60 days
    at = T0 + timedelta(days=2)
    with pytest.raises(
        TransitionError, match=r"outside 2026-03-01 \.\. 2026-05-30 \(90 days from verification"
    ):
        transition(
            major,
            "extend",
            at=at,
            actor="a",
            role="department",
            unit="D1",
            data={"deadline": date(2026, 6, 1)},
            note="parts",
        )
    ext, _ = transition(
        major,
        "extend",
        at=at,
        actor="a",
        role="department",
        unit="D1",
        data={"deadline": date(2026, 5, 30)},
        note="parts",
    )
    assert ext.deadline == date(2026, 5, 30) and ext.extensions == 1
    with pytest.raises(TransitionError, match="extended 1 time"):
        transition(
            ext,
            "extend",
            at=at,
            actor="a",
            role="department",
            unit="D1",
            data={"deadline": date(2026, 5, 30)},
            note="again",
        )
    with pytest.raises(TransitionError, match=r"outside 2026-03-01 \.\. 2026-03-31"):
        transition(
            general,
            "plan",
            at=at,
            actor="a",
            role="enterprise",
            unit="E1",
            data={"plan": "p", "measures": ["m"], "funds_yuan": 0.0, "deadline": date(2026, 4, 2)},
        )
    # a general item extends to 45 days at most
    with pytest.raises(TransitionError, match="2026-04-15"):
        transition(
            general,
            "extend",
            at=at,
            actor="a",
            role="department",
            unit="D1",
            data={"deadline": date(2026, 4, 20)},
            note="parts",
        )


def test_supervision_only_for_majors_and_then_only_the_supervisor_extends_and_closes() -> None:
    with pytest.raises(TransitionError, match="only major items are put under supervision"):
        transition(
            _handed(),
            "supervise",
            at=T0 + timedelta(days=1),
            actor="s",
            role="supervisor",
            data={"authority": "Office"},
        )
    sup, ev = transition(
        _handed("mining", ("CM-02",)),
        "supervise",
        at=T0 + timedelta(days=1),
        actor="s",
        role="supervisor",
        data={"authority": "Office"},
    )
    assert sup.supervised_by == "Office" and ev.data["deadline"] == date(2026, 4, 30)
    with pytest.raises(RoleError, match="on a supervised item"):
        transition(
            sup,
            "extend",
            at=T0 + timedelta(days=2),
            actor="a",
            role="department",
            unit="D1",
            data={"deadline": date(2026, 5, 30)},
            note="x",
        )
    plan = {"plan": "p", "measures": ["m"], "funds_yuan": 1.0, "deadline": date(2026, 4, 30)}
    sup, _ = transition(
        sup, "plan", at=T0 + timedelta(days=3), actor="e", role="enterprise", unit="E1", data=plan
    )
    sup, _ = transition(sup, "claim", at=T0 + timedelta(days=9), actor="e", role="enterprise", unit="E1")
    with pytest.raises(RoleError, match="on a supervised item"):
        transition(sup, "accept", at=T0 + timedelta(days=10), actor="i", role="inspector")
    closed, _ = transition(sup, "accept", at=T0 + timedelta(days=10), actor="s", role="supervisor")
    assert closed.status == "closed" and not is_overdue(closed, date(2027, 1, 1))


def test_overdue_is_computed_at_a_time_never_stored() -> None:
    item = _handed()
    assert not is_overdue(item, date(2026, 3, 31)) and is_overdue(item, date(2026, 4, 1))
    frame = items_frame([item], crs="EPSG:32650")
    assert overdue(frame, date(2026, 3, 31)).tolist() == [False]
    assert overdue(frame, datetime(2026, 4, 1, 0, 1)).tolist() == [True]
    assert "overdue" not in frame.columns
    reported = _new()
    assert not is_overdue(reported, date(2030, 1, 1))  # not verified: no deadline yet


def test_workflow_overrides_change_limits_and_bad_tables_name_the_entry() -> None:
    wf = load_workflow({"deadlines": {"general": {"limit_days": 10, "extended_limit_days": 20}}})
    item = _new(category="gas", register_workflow=wf)
    item, _ = transition(item, "verify", at=T0, actor="a", role="inspector", register_workflow=wf)
    assert item.deadline == date(2026, 3, 11)
    with pytest.raises(
        RegisterError, match=r"`transitions.accept.from` leaves the terminal states \['closed'\]"
    ):
        load_workflow({"transitions": {"accept": {"from": ["rectified", "closed"]}}})
    with pytest.raises(RegisterError, match="unknown roles"):
        load_workflow({"transitions": {"claim": {"roles": ["janitor"]}}})
    with pytest.raises(RegisterError, match="unreachable"):
        load_workflow({"transitions": {"reopen": {"to": "rectified"}}})
    shipped = load_workflow()
    assert (
        shipped is load_workflow() and shipped.deadlines["general"].limit_days == 30
    )  # overrides leak nowhere


def test_major_criteria_direct_and_indirect() -> None:
    crit = load_criteria()
    assert major_grade("mining", ["CM-02"]) == "major"
    assert major_grade("gas", []) == "general"
    n = crit.min_indirect["fire"]
    indirect = [c.id for c in crit.by_id.values() if c.industry == "fire" and c.kind == "indirect"]
    assert major_grade("fire_lane_blocked", indirect[: n - 1]) == "general"
    assert major_grade("fire_lane_blocked", indirect[:n]) == "major"
    with pytest.raises(RegisterError, match=r"not in the checklists \['coal_mine', 'metal_nonmetal_mine'\]"):
        major_grade("mining", ["HC-05"])


def test_records_round_trip_through_json() -> None:
    import json

    item = _handed("mining", ("CM-02",))
    assert Item.from_record(json.loads(json.dumps(item.to_record()))) == item
    ev = Event(
        "YH-2026-000001",
        "extend",
        T0,
        "a",
        "department",
        unit="D1",
        note="n",
        data={"deadline": "2026-05-01"},
    )
    assert ev.data["deadline"] == date(2026, 5, 1)
    assert Event.from_record(json.loads(json.dumps(ev.to_record()))) == ev
    with pytest.raises(RegisterError, match="unknown fields"):
        Item.from_record({**item.to_record(), "colour": "red"})


# --------------------------------------------------------------------------------------------
# risk grading: LEC and the matrix against hand-computed values


@pytest.mark.parametrize(
    ("L", "E", "C", "D", "grade"),
    [
        (10, 6, 15, 900, "major"),  # D > 320
        (1, 10, 40, 400, "major"),
        (0.5, 10, 100, 500, "major"),
        (1, 6, 40, 240, "high"),  # 160 <= D <= 320
        (0.5, 6, 100, 300, "high"),
        (1, 2, 100, 200, "high"),
        (3, 6, 7, 126, "moderate"),  # 70 <= D < 160
        (1, 10, 7, 70, "moderate"),
        (3, 6, 3, 54, "low"),
        (0.1, 0.5, 1, 0.05, "low"),
    ],
)
def test_lec_by_hand(L: float, E: float, C: float, D: float, grade: str) -> None:  # noqa: N803
    rows = pd.DataFrame({"hazard_id": ["H1"], "method": ["lec"], "L": [L], "E": [E], "C": [C]})
    out = grade_assessments(rows).iloc[0]
    assert out["score"] == pytest.approx(D) and out["grade"] == grade
    colour = {"major": "red", "high": "orange", "moderate": "yellow", "low": "blue"}[grade]
    level = {"major": "enterprise", "high": "workshop", "moderate": "team", "low": "post"}[grade]
    assert (out["colour"], out["control_level"]) == (colour, level)


def test_lec_bounds_320_and_160_and_the_matrix_by_hand() -> None:
    # no product of the scales is exactly 320 or 160: shift the bands to check the strict
    # (`above`) and inclusive (`at_least`) bounds on reachable products
    bands = load_risk_grading()["methods"]["lec"]["bands"]
    assert [b.get("above", b.get("at_least")) for b in bands[:-1]] == [320.0, 160.0, 70.0]
    custom = {
        "methods": {
            "lec": {
                "bands": [
                    {"grade": "major", "above": 240.0},
                    {"grade": "high", "at_least": 120.0},
                    {"grade": "moderate", "at_least": 60.0},
                    {"grade": "low"},
                ]
            }
        }
    }
    rows = pd.DataFrame(
        {"hazard_id": ["H1"] * 3, "method": ["lec"] * 3, "L": [1, 1, 1], "E": [6, 3, 6], "C": [40, 40, 15]}
    )
    got = grade_assessments(rows, risk_grading=custom)
    assert got["score"].tolist() == [240.0, 120.0, 90.0]
    assert got["grade"].tolist() == ["high", "high", "moderate"]  # 240 is not above 240; 120 is at least 120
    m = pd.DataFrame(
        {
            "hazard_id": ["H2"] * 5,
            "method": ["matrix"] * 5,
            "likelihood": [5, 4, 3, 3, 2],
            "severity": [4, 5, 5, 3, 4],
        }
    )
    got = grade_assessments(m)
    assert got["score"].tolist() == [20.0, 20.0, 15.0, 9.0, 8.0]
    assert got["grade"].tolist() == ["major", "major", "high", "moderate", "low"]
    assert got["basis"].iloc[2] == "MATRIX R = 3 x 5 = 15"


def test_grading_refuses_off_scale_values_naming_rows_and_scale() -> None:
    rows = pd.DataFrame(
        {"hazard_id": ["H1", "H1"], "method": ["lec", "LEC"], "L": [6, 4], "E": [6, 6], "C": [15, 15]}
    )
    with pytest.raises(RegisterError, match=r"rows \[1\], column `L` of method `lec`: values \['4'\]"):
        grade_assessments(rows)
    with pytest.raises(RegisterError, match=r"rows \[0\]: methods \['fmea'\] are unknown"):
        grade_assessments(pd.DataFrame({"hazard_id": ["H1"], "method": ["fmea"]}))


def test_hazard_grade_is_its_worst_part() -> None:
    rows = pd.DataFrame(
        {
            "hazard_id": ["H1", "H1", "H2"],
            "part": ["office", "tanks", "yard"],
            "method": ["lec", "matrix", "matrix"],
            "L": [1, None, None],
            "E": [3, None, None],
            "C": [1, None, None],
            "likelihood": [None, 3, 2],
            "severity": [None, 5, 2],
        }
    )
    g = hazard_risk_grades(grade_assessments(rows))
    assert g.loc["H1", ["grade", "part", "n_parts", "n_high", "n_low"]].tolist() == ["high", "tanks", 2, 1, 1]
    assert g.loc["H2", "grade"] == "low"
