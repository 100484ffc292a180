"""Demonstration communities: quotas always met, the MILP against brute force, clear errors."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import upgrade_factory as uf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gis.errors import InputError, SolverError
from planning.upgrades import (
    choose_demonstration,
    plan_upgrades,
    scores_after_upgrades,
    upgrade_candidates,
)


def _layer(pop, district, kind) -> pd.DataFrame:
    ids = [f"C{k}" for k in range(len(pop))]
    return pd.DataFrame(
        {"population": np.asarray(pop, dtype=float), "district": district, "community_type": kind},
        index=pd.Index(ids, name="id"),
    )


def _met(demo, comms: pd.DataFrame) -> None:
    for q in demo.quotas.itertuples():
        k = int((comms.loc[demo.chosen.index, q.column].astype(str) == q.category).sum())
        assert q.minimum <= k <= q.maximum, q
        assert k == q.chosen


def brute_force(comms, after, n, quotas, *, pass_mark, margin) -> float | None:
    ok = after.index[after["score_after"] >= pass_mark - margin]
    best = None
    for pick in itertools.combinations(ok, n):
        sub = comms.loc[list(pick)]
        good = all(
            lo <= int((sub[col] == cat).sum()) <= hi
            for col, spec in quotas.items()
            for cat, (lo, hi) in spec.items()
        )
        if good:
            total = float(sub["population"].sum())
            best = total if best is None else max(best, total)
    return best


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(
            st.integers(1, 50),
            st.sampled_from("AB"),
            st.sampled_from(["old_town", "mixed"]),
            st.integers(60, 100),
        ),
        min_size=2,
        max_size=9,
    ),
    n=st.integers(1, 4),
    mins=st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 2)),
    cap=st.integers(1, 4),
)
def test_quotas_always_met_and_the_choice_equals_brute_force(rows, n, mins, cap) -> None:
    pop, district, kind, score = zip(*rows, strict=True)
    comms = _layer([p * 100 for p in pop], list(district), list(kind))
    after = pd.DataFrame({"score_after": np.asarray(score, dtype=float)}, index=comms.index)
    quotas: dict = {"district": {}, "community_type": {}}
    if "A" in district:
        quotas["district"]["A"] = (mins[0], max(mins[0], n))
    if "B" in district:
        quotas["district"]["B"] = (mins[1], max(mins[1], n))
    if "old_town" in kind:
        quotas["community_type"]["old_town"] = (mins[2], max(mins[2], cap))
    expect = brute_force(comms, after, n, quotas, pass_mark=80.0, margin=5.0) if n <= len(rows) else None
    given_quotas = {c: {k: list(v) for k, v in spec.items()} for c, spec in quotas.items()}
    if expect is None:
        with pytest.raises(SolverError, match="Fix:"):
            choose_demonstration(after, comms, n, quotas=given_quotas, pass_mark=80.0)
        return
    demo = choose_demonstration(after, comms, n, quotas=given_quotas, pass_mark=80.0)
    assert len(demo.chosen) == n and demo.chosen.index.is_unique
    assert (demo.chosen["score_after"] >= 75.0).all()
    assert demo.objective == pytest.approx(expect) and demo.status == "optimal"
    _met(demo, comms)


def test_proportional_quotas_on_a_synthetic_city() -> None:
    comms = uf.communities(400, seed=5)
    items, scores = uf.survey(comms, seed=5, fail_rate=0.12)
    cand = upgrade_candidates(items, comms)
    plan = plan_upgrades(cand, 0.2 * float(cand.groupby("group")["cost_cny"].min().sum()))
    after = scores_after_upgrades(scores, items, plan, pass_mark=uf.PASS_MARK)
    demo = choose_demonstration(after, comms, 24)  # pass mark carried by `after`
    assert len(demo.chosen) == 24 and demo.pass_mark == uf.PASS_MARK
    _met(demo, comms)
    assert set(demo.quotas["column"]) == {"district", "street", "community_type"}
    share = comms.groupby("district")["population"].sum() / comms["population"].sum()
    for district, s in share.items():
        assert (demo.chosen["district"] == district).sum() >= int(np.floor(24 * s))
    assert (demo.chosen["score_after"] >= uf.PASS_MARK - 5).all()
    # every choice says why, and what it still needs
    assert demo.chosen["reasons"].str.contains("residents").all()
    assert demo.chosen["reasons"].str.contains("district").all()
    needs = demo.chosen["still_needs"]
    passing = demo.chosen["points_to_pass"] == 0
    assert (needs[passing] == "passes after the planned measures").all()
    assert needs[~passing].str.contains("points more to pass").all()
    assert demo.bound >= demo.objective and demo.gap <= 1e-6
    # nobody eligible and left out could replace a chosen one within the same categories
    assert "communities" in demo.summary()


def test_reasons_and_needs_by_hand() -> None:
    comms = _layer([900, 800, 700, 600], ["A", "A", "B", "B"], ["old_town", "mixed", "mixed", "old_town"])
    after = pd.DataFrame(
        {
            "score": [70.0, 60.0, 50.0, 75.0],
            "score_after": [90.0, 85.0, 70.0, 83.0],
            "still_failed": [
                "",
                "",
                "drills_this_year (5)",
                "smoke_alarms_elderly (5), drills_this_year (4)",
            ],
        },
        index=comms.index,
    )
    demo = choose_demonstration(after, comms, 2, pass_mark=85.0, quotas={"district": {"A": 1, "B": 1}})
    assert demo.chosen.index.tolist() == ["C0", "C3"]
    assert (
        demo.chosen.loc["C3", "still_needs"]
        == "2 points more to pass: smoke_alarms_elderly (5), drills_this_year (4)"
    )
    assert demo.chosen.loc["C0", "still_needs"] == "passes after the planned measures"
    reason = demo.chosen.loc["C3", "reasons"]
    assert "score 83.0 after the planned measures (pass mark 85, feasible down to 80)" in reason
    assert "600 residents" in reason and "district B: 1 chosen, at least 1 required" in reason


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"n": 4}, ["Only 3 communities", "fewer than the 4", "widen `margin`"]),
        (
            {"n": 2, "quotas": {"district": {"B": 2}}},
            ["`district` = `B` needs at least 2 but has 1 eligible"],
        ),
        ({"n": 2, "quotas": {"district": {"A": 2, "B": 1}}}, ["add up to 3", "more than the 2"]),
        ({"n": 2, "quotas": {"district": {"A": [0, 0], "B": [0, 1]}}}, ["cannot all be met together"]),
        ({"n": 2, "quotas": {"district": {"C": 1}}}, ["categories ['C']", "present: ['A', 'B']"]),
        ({"n": 2, "quotas": {"district": {"A": [2, 1]}}}, ["minimum <= maximum"]),
        ({"n": 2, "quotas": {"district": "random"}}, ["'proportional'"]),
        ({"n": 0}, ["`n` is 0"]),
    ],
)
def test_infeasible_or_bad_quotas_give_a_clear_error(kwargs: dict, words: list[str]) -> None:
    comms = _layer([900, 800, 700, 600], ["A", "A", "B", "B"], ["old_town", "mixed", "mixed", "old_town"])
    after = pd.DataFrame({"score_after": [90.0, 85.0, 70.0, 83.0]}, index=comms.index)
    with pytest.raises(InputError) as err:
        choose_demonstration(after, comms, pass_mark=85.0, **kwargs)
    assert all(w in str(err.value) for w in words), str(err.value)
    assert "Fix:" in str(err.value)


def test_a_missing_community_type_is_named() -> None:
    comms = _layer([900, 800], ["A", "B"], ["old_town", "mixed"]).drop(columns=["community_type"])
    after = pd.DataFrame({"score_after": [90.0, 85.0]}, index=comms.index)
    with pytest.raises(InputError, match=r"`community_type`.*old_town, new_high_rise, mixed, resettlement"):
        choose_demonstration(after, comms, 1, pass_mark=85.0, quotas={"community_type": "proportional"})
    demo = choose_demonstration(after, comms, 2, pass_mark=85.0)  # default: quotas on what exists
    assert any("community_type" in note for note in demo.notes)
    with pytest.raises(InputError, match="pass_mark"):
        choose_demonstration(after, comms, 1)


def test_on_the_demo_city_with_community_types_given_as_a_column() -> None:
    from gis.demo.city import demo_city

    comms = demo_city(n_road_nodes=3000)["communities"]
    # the demo city has districts but no community type: the planner gives it as a column
    kind = {"Old Town": "old_town", "Hedong New District": "new_high_rise", "Outer District": "resettlement"}
    comms = comms.assign(community_type=comms["district"].map(kind).fillna("mixed"))
    items, scores = uf.survey(comms.set_index("id", drop=False), seed=11, fail_rate=0.12)
    cand = upgrade_candidates(items, comms)
    assert set(cand["community_id"]) <= set(comms["id"])
    plan = plan_upgrades(cand, 5_000_000)
    assert plan.budget_used_cny <= 5_000_000 and plan.status == "optimal"
    after = scores_after_upgrades(scores, items, plan, pass_mark=uf.PASS_MARK)
    demo = choose_demonstration(after, comms, 8)
    assert len(demo.chosen) == 8
    _met(demo, comms.set_index("id"))
    assert set(demo.quotas["column"]) == {"district", "community_type"}
    assert any("street" in note for note in demo.notes)
