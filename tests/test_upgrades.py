"""Upgrade priority under a budget: the measure table, the candidates and the knapsack MILP.

The MILP is checked against brute force on tiny instances (hypothesis), against SciPy's LP
relaxation on larger ones, and for its invariants: the budget is never exceeded, one measure
per group at most, the bound never below the objective.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import upgrade_factory as uf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

import planning
from gis.errors import InputError
from planning import _knapsack as kn
from planning import upgrades as up
from planning.location._milp import MilpOutcome
from planning.upgrades import (
    CANDIDATE_COLUMNS,
    greedy_upgrades,
    load_upgrade_measures,
    plan_upgrades,
    scores_after_upgrades,
    upgrade_candidates,
)

# ------------------------------------------------------------------------ the measure table


def test_shipped_table_prices_every_item_of_the_issue() -> None:
    m = load_upgrade_measures()
    assert set(m.items) == {item for _, item, _ in uf.STANDARD_ITEMS}
    t = m.table
    assert (t["source"].str.len() > 0).all() and (t["title"].str.len() > 0).all()
    assert ((t["restores"] > 0) & (t["restores"] <= 1)).all()
    assert (t[["fixed_cny", "per_household_cny", "per_unit_cny"]].sum(axis=1) > 0).all()
    # the alternatives of one item share it
    assert m.for_item("elevator_age") == ["elevator_overhaul", "elevator_renewal"]
    assert load_upgrade_measures() is m  # built once, shared


def test_city_overrides_from_a_mapping_and_a_toml_file(tmp_path: Path) -> None:
    city = tmp_path / "city_measures.toml"
    city.write_text(
        "[measures.elevator_renewal]\nper_unit_cny = 520000\n\n"
        '[measures.fire_lane_gates]\nitem = "fire_lane_blocked"\ntitle = "Remote-opening gates"\n'
        'fixed_cny = 60000\nrestores = 1.0\nsource = "city quote 2025"\n',
        encoding="utf-8",
    )
    m = load_upgrade_measures(city)
    assert m.table.loc["elevator_renewal", "per_unit_cny"] == 520000
    assert m.for_item("fire_lane_blocked") == ["fire_lane_clearing", "fire_lane_gates"]
    assert load_upgrade_measures().table.loc["elevator_renewal", "per_unit_cny"] == 450000  # unchanged
    m2 = load_upgrade_measures({"risk": {"vulnerability_weight": 1.0}})
    assert m2.vulnerability_weight == 1.0 and load_upgrade_measures(m2) is m2


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ({"fire_lane_clearing": {"fixed_cny": -5}}, ["measures.fire_lane_clearing.fixed_cny", ">= 0"]),
        ({"fire_lane_clearing": {"restores": 1.5}}, ["measures.fire_lane_clearing.restores", "at most 1"]),
        ({"fire_lane_clearing": {"restores": 0}}, ["restores", "> 0"]),
        ({"fire_lane_clearing": {"source": ""}}, ["source", "riskplan default estimate"]),
        ({"fire_lane_clearing": {"colour": "red"}}, ["unknown keys", "colour"]),
        ({"x": {"item": "drills_this_year", "title": "t", "source": "s", "restores": 1}}, ["no cost"]),
        (
            {
                "x": {
                    "item": "drills_this_year",
                    "title": "t",
                    "source": "s",
                    "restores": 1,
                    "per_unit_cny": 5,
                    "unit": "u",
                }
            },
            ["no way to count units", "households_per_unit"],
        ),
        ({"Bad-Id": {"item": "drills_this_year"}}, ["snake_case"]),
    ],
)
def test_bad_measure_entries_name_the_entry_and_the_fix(entry: dict, words: list[str]) -> None:
    with pytest.raises(InputError) as err:
        load_upgrade_measures({"measures": entry})
    assert all(w in str(err.value) for w in words), str(err.value)
    assert "Fix:" in str(err.value)


def test_a_bad_city_file_is_named(tmp_path: Path) -> None:
    city = tmp_path / "taiyuan.toml"
    city.write_text("[measures.evacuation_drill]\nfixed_cny = 'a lot'\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"file `.*taiyuan\.toml`.*evacuation_drill\.fixed_cny"):
        load_upgrade_measures(city)


# ------------------------------------------------------------------------------ candidates


def _hand_items() -> tuple[pd.DataFrame, pd.DataFrame]:
    items = pd.DataFrame(
        {
            "community_id": ["A", "A", "A", "B", "B", "B", "A"],
            "survey_date": ["2025-04-01"] * 6 + ["2024-04-01"],
            "section": [
                "elevators",
                "fire_lanes_exits",
                "gas",
                "elevators",
                "fire_lanes_exits",
                "gas",
                "gas",
            ],
            "item": ["elevator_age", "fire_lane_blocked", "gas_alarm_valve"] * 2 + ["gas_alarm_valve"],
            "points": [0.0, 4.0, 20.0, 10.0, 0.0, 0.0, 0.0],
            "max_points": [40.0, 40.0, 20.0, 40.0, 40.0, 20.0, 20.0],
            "failed": [True, True, False, False, True, True, True],
        }
    )
    comms = pd.DataFrame(
        {"population": [1000.0, 260.0], "elevator_cars": [3.0, np.nan]},
        index=pd.Index(["A", "B"], name="id"),
    )
    comms["households"] = [400.0, np.nan]  # B: 260 / 2.62 = 99.2 -> 99 households
    return items, comms


def test_candidates_against_hand_computed_rows() -> None:
    items, comms = _hand_items()
    cand = upgrade_candidates(items, comms, risk_level=pd.Series({"A": 2.0, "B": 1.0}))
    assert tuple(cand.columns) == CANDIDATE_COLUMNS
    # A's 2024 survey (gas alarm failed) is superseded by its 2025 survey (passed)
    assert sorted(zip(cand["community_id"], cand["measure"], strict=True)) == [
        ("A", "elevator_overhaul"),
        ("A", "elevator_renewal"),
        ("A", "fire_lane_clearing"),
        ("B", "fire_lane_clearing"),
        ("B", "gas_alarm_valve"),
    ]
    row = cand.set_index(["community_id", "measure"])
    renew = row.loc[("A", "elevator_renewal")]
    assert renew["units"] == 3 and renew["cost_cny"] == 3 * 450000  # cars from the layer
    assert renew["points_restored"] == 40 and renew["score_points"] == pytest.approx(40.0)
    # residents x 0.3 x points / 100 x level
    assert renew["risk_reduction"] == pytest.approx(1000 * 0.3 * 0.40 * 2.0)
    overhaul = row.loc[("A", "elevator_overhaul")]
    assert overhaul["points_restored"] == 20 and overhaul["risk_reduction"] == pytest.approx(
        1000 * 0.3 * 0.2 * 2
    )
    assert overhaul["group"] == renew["group"]  # alternatives of one item
    lane = row.loc[("A", "fire_lane_clearing")]
    assert lane["points_restored"] == 36 and lane["cost_cny"] == 25000 and lane["group"] != renew["group"]
    gas = row.loc[("B", "gas_alarm_valve")]
    assert gas["households"] == 99 and gas["cost_cny"] == 99 * 450
    assert gas["risk_reduction"] == pytest.approx(260 * 0.3 * 0.20)
    assert cand["group"].nunique() == 4


def test_units_are_estimated_from_households_without_a_count() -> None:
    items, comms = _hand_items()
    items.loc[3, "failed"], items.loc[3, "points"] = True, 0.0  # B's elevators: no car count
    cand = upgrade_candidates(items, comms)
    b = cand[(cand["community_id"] == "B") & (cand["measure"] == "elevator_renewal")].iloc[0]
    assert b["units"] == math.ceil(99 / 40) and b["cost_cny"] == 3 * 450000


def test_the_score_scale_follows_the_standards_total() -> None:
    items, comms = _hand_items()
    items["max_points"] *= 2
    items["points"] *= 2
    cand = upgrade_candidates(items, comms)
    lane = cand[(cand["community_id"] == "A") & (cand["measure"] == "fire_lane_clearing")].iloc[0]
    assert lane["points_restored"] == 72 and lane["score_points"] == pytest.approx(36.0)


def test_failed_items_without_a_measure_are_listed() -> None:
    items, comms = _hand_items()
    items.loc[0, "item"] = "rooftop_solar"
    cand = upgrade_candidates(items, comms)
    assert cand.attrs["unpriced_items"] == ["rooftop_solar"]
    assert "rooftop_solar" not in set(cand["item"])


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda i, c: (i.drop(columns=["max_points"]), c), ["lacks the columns", "max_points"]),
        (lambda i, c: (i.assign(points=i["points"] + 100), c), ["outside 0..max_points", "rows [0, 1"]),
        (lambda i, c: (i, c.drop(index="B")), ["communities [B]", "not in `communities`"]),
        (lambda i, c: (i, c.assign(population=[-1.0, 5.0])), ["population", "['A']"]),
        (lambda i, c: (i, c.assign(elevator_cars=[-2.0, 1.0])), ["elevator_cars", "negative"]),
        (lambda i, c: (pd.concat([i, i.iloc[[0]]]), c), ["repeats items", "elevator_age"]),
    ],
)
def test_bad_inputs_name_the_rows(change, words: list[str]) -> None:
    items, comms = _hand_items()
    with pytest.raises(InputError) as err:
        upgrade_candidates(*change(items, comms))
    assert all(w in str(err.value) for w in words), str(err.value)


def test_bad_risk_levels_are_named() -> None:
    items, comms = _hand_items()
    with pytest.raises(InputError, match=r"`risk_level` .* \['B'\]"):
        upgrade_candidates(items, comms, risk_level=pd.Series({"A": 1.0}))


# --------------------------------------------------------------------------------- the MILP


def brute_force(cost: np.ndarray, value: np.ndarray, group: np.ndarray, budget: float) -> float:
    """Best total value over every choice of at most one candidate per group within the budget."""
    members = [np.flatnonzero(group == g) for g in np.unique(group)]
    best = 0.0
    for pick in itertools.product(*[[-1, *m.tolist()] for m in members]):
        chosen = [j for j in pick if j >= 0]
        if cost[chosen].sum() <= budget + 1e-9:
            best = max(best, float(value[chosen].sum()))
    return best


def _frame(cost, value, group) -> pd.DataFrame:
    n = len(cost)
    return pd.DataFrame(
        {
            "community_id": [f"C{g}" for g in group],
            "measure": [f"m{j}" for j in range(n)],
            "cost_cny": np.asarray(cost, dtype=float),
            "risk_reduction": np.asarray(value, dtype=float),
            "score_points": np.ones(n),
            "group": np.asarray(group),
        }
    )


def _check_plan(plan: up.UpgradePlan, frame: pd.DataFrame, budget: float) -> None:
    assert plan.budget_used_cny <= budget + 1e-6
    assert plan.chosen["cost_cny"].sum() == pytest.approx(plan.budget_used_cny)
    assert plan.chosen["group"].is_unique
    assert plan.objective == pytest.approx(plan.chosen["risk_reduction"].sum())
    assert plan.bound >= plan.objective - 1e-9
    assert plan.greedy_objective <= plan.objective + 1e-9
    assert plan.bound <= plan.lp_bound + 1e-6 * max(1.0, plan.lp_bound)
    assert set(plan.chosen.index) <= set(frame.index)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.lists(
        st.tuples(st.integers(0, 20), st.integers(0, 30), st.integers(0, 3)), min_size=1, max_size=8
    ),
    budget=st.integers(0, 45),
)
def test_plan_equals_brute_force_on_tiny_instances(data: list[tuple[int, int, int]], budget: int) -> None:
    cost, value, group = (np.array(c, dtype=float) for c in zip(*data, strict=True))
    frame = _frame(cost, value, group.astype(int))
    plan = plan_upgrades(frame, budget, mip_gap=0.0)
    best = brute_force(cost, value, group, budget)
    assert plan.objective == pytest.approx(best)
    assert plan.status == "optimal" and plan.gap <= 1e-9
    _check_plan(plan, frame, budget)
    greedy = greedy_upgrades(cost, value, group, budget)
    assert cost[greedy].sum() <= budget + 1e-9 and len(set(group[greedy])) == greedy.sum()


@pytest.mark.parametrize("seed", range(4))
def test_larger_plans_against_the_lp_bound(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 1500
    group = np.sort(rng.integers(0, 700, n))
    cost = np.round(rng.lognormal(10, 1.2, n))
    value = np.round(cost * rng.lognormal(-8, 0.8, n), 3)
    frame = _frame(cost, value, group)
    budget = float(cost.sum() * 0.15)
    plan = plan_upgrades(frame, budget)
    _check_plan(plan, frame, budget)
    assert plan.status == "optimal" and plan.gap <= 0.005
    # the LP relaxation, solved independently by SciPy (HiGHS's dual simplex through linprog)
    _, g = np.unique(group, return_inverse=True)
    a = np.zeros((1 + g.max() + 1, n))
    a[0] = cost
    a[1 + g, np.arange(n)] = 1.0
    lp = linprog(-value, A_ub=a, b_ub=np.concatenate([[budget], np.ones(g.max() + 1)]), bounds=(0, 1))
    assert lp.status == 0
    assert plan.lp_bound == pytest.approx(-lp.fun, rel=1e-6)
    assert plan.objective <= -lp.fun + 1e-6 and plan.bound <= -lp.fun * (1 + 1e-6) + 1e-6
    assert plan.greedy_objective <= plan.objective


def test_zero_budget_takes_only_what_is_free() -> None:
    frame = _frame([0, 5, 0, 3], [2, 9, 4, 1], [0, 0, 1, 2])
    plan = plan_upgrades(frame, 0)
    assert (
        sorted(plan.chosen["measure"]) == ["m0", "m2"] and plan.objective == 6 and plan.budget_used_cny == 0
    )
    none = plan_upgrades(_frame([4, 5], [2, 9], [0, 1]), 0)
    assert none.chosen.empty and none.objective == 0 and none.status == "optimal" and none.gap == 0


def test_no_candidates() -> None:
    plan = plan_upgrades(_frame([], [], []), 1e6)
    assert plan.chosen.empty and plan.objective == 0 and plan.status == "optimal"
    assert "0 measures" in plan.summary()


@pytest.mark.parametrize("budget", [-1.0, math.nan, math.inf, "lots"])
def test_bad_budget(budget) -> None:
    with pytest.raises(InputError, match="budget_cny"):
        plan_upgrades(_frame([1], [1], [0]), budget)


def test_bad_candidates_are_named() -> None:
    with pytest.raises(InputError, match=r"risk_reduction.*rows \[1\]"):
        plan_upgrades(_frame([1, 2], [1, -3], [0, 1]), 5)
    with pytest.raises(InputError, match="upgrade_candidates"):
        plan_upgrades(pd.DataFrame({"cost_cny": [1.0]}), 5)


def test_greedy_is_the_fallback_when_highs_stops_without_a_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    def stopped(model, **kw):
        return MilpOutcome(None, math.nan, math.nan, "time_limit", "highs", "Time limit reached")

    monkeypatch.setattr(up, "solve_milp", stopped)
    frame = _frame([4, 3, 3], [8, 5, 5], [0, 1, 2])
    plan = plan_upgrades(frame, 6)
    assert plan.chosen["measure"].tolist() == ["m0"] and plan.objective == plan.greedy_objective == 8
    assert plan.status == "time_limit" and plan.solver.startswith("greedy")
    # the bound is then the LP relaxation's: 5/3 x 6 + (8 - 5/3 x 4)
    assert plan.bound == pytest.approx(plan.lp_bound) and plan.bound == pytest.approx(10 + 8 - 20 / 3)
    assert any("time limit" in n for n in plan.notes)


def test_plan_on_a_synthetic_survey_end_to_end() -> None:
    comms = uf.communities(300, seed=3)
    items, scores = uf.survey(comms, seed=3)
    cand = upgrade_candidates(items, comms)
    assert len(cand) > 300 and cand["group"].nunique() == int(items["failed"].sum())
    budget = 0.1 * float(cand.groupby("group")["cost_cny"].min().sum())
    plan = plan_upgrades(cand, budget)
    _check_plan(plan, cand, budget)
    assert plan.status == "optimal" and plan.objective >= plan.greedy_objective
    by = plan.by_community
    assert by["cost_cny"].sum() == pytest.approx(plan.budget_used_cny)
    after = scores_after_upgrades(scores, items, plan, pass_mark=uf.PASS_MARK)
    assert (after["score_after"] >= after["score"] - 1e-9).all() and (after["score_after"] <= 100).all()
    gain = after["score_after"] - after["score"]
    assert gain.sum() == pytest.approx(plan.chosen["score_points"].sum())
    # a community whose every failed item gets a full measure scores 100 afterwards
    full = after[after["still_failed"] == ""]
    assert len(full) and np.allclose(full["score_after"], 100.0)


def test_public_names() -> None:
    for name in ("plan_upgrades", "upgrade_candidates", "choose_demonstration", "UpgradePlan"):
        assert getattr(planning, name) is getattr(up, name)


# ------------------------------------------------- the convex-hull LP and the fixing, proven


def _linprog_lp(cost: np.ndarray, value: np.ndarray, group: np.ndarray, budget: float) -> float:
    _, g = np.unique(group, return_inverse=True)
    n, k = len(cost), int(g.max()) + 1
    a = np.zeros((1 + k, n))
    a[0] = cost
    a[1 + g, np.arange(n)] = 1.0
    lp = linprog(-value, A_ub=a, b_ub=np.concatenate([[budget], np.ones(k)]), bounds=(0, 1), method="highs")
    assert lp.status == 0
    return float(-lp.fun)


@settings(max_examples=150, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.integers(0, 30), st.integers(1, 40), st.integers(0, 5)), min_size=1, max_size=14
    ),
    budget=st.integers(0, 80),
)
def test_hull_lp_equals_highs_lp_and_its_rounding_is_feasible(data, budget: int) -> None:
    cost, value, group = (np.array(c, dtype=float) for c in zip(*data, strict=True))
    group = group.astype(np.intp)
    keep = cost <= budget
    cost, value, group = cost[keep], value[keep], group[keep]
    lp = kn.lp_relaxation(cost, value, group, float(budget))
    expect = _linprog_lp(cost, value, group, float(budget)) if len(cost) else 0.0
    assert lp.bound == pytest.approx(expect, rel=1e-9, abs=1e-9)
    # any price gives an upper bound; the LP's price gives the least one
    for lam in (0.0, 0.5, 2.0, lp.lam * 1.1):
        assert kn.lagrangian_bound(cost, value, group, float(budget), lam) >= lp.bound - 1e-9
    r = lp.rounded
    assert cost[r].sum() <= budget + 1e-9 and len(set(group[r])) == r.sum()
    assert value[r].sum() <= lp.bound + 1e-9


@settings(max_examples=120, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.integers(0, 20), st.integers(1, 30), st.integers(0, 3)), min_size=1, max_size=8
    ),
    budget=st.integers(0, 45),
    worse=st.floats(0.0, 1.0),
)
def test_fixing_never_cuts_a_plan_better_than_the_incumbent(data, budget: int, worse: float) -> None:
    cost, value, group = (np.array(c, dtype=float) for c in zip(*data, strict=True))
    group = group.astype(np.intp)
    keep = cost <= budget
    cost, value, group = cost[keep], value[keep], group[keep]
    if not len(cost):
        return
    best = brute_force(cost, value, group, float(budget))
    lp = kn.lp_relaxation(cost, value, group, float(budget))
    incumbent = best * worse  # any value up to the optimum
    fix = kn.fix_by_reduced_profit(cost, value, group, lam=lp.lam, bound=lp.bound, incumbent=incumbent)
    # the best plan that respects the fixing is still the optimum
    members = [np.flatnonzero(group == g) for g in np.unique(group)]
    kept = 0.0
    for pick in itertools.product(*[[-1, *m.tolist()] for m in members]):
        x = np.zeros(len(cost), dtype=bool)
        x[[j for j in pick if j >= 0]] = True
        if cost[x].sum() <= budget and not (x & fix.zero).any() and x[fix.one].all():
            kept = max(kept, float(value[x].sum()))
    assert kept == pytest.approx(best)


def test_units_that_cannot_be_counted_are_named() -> None:
    items, comms = _hand_items()
    measures = {"measures": {"elevator_renewal": {"unit_column": "elevator_cars"}}}
    table = load_upgrade_measures(measures).table
    assert table.loc["elevator_renewal", "households_per_unit"] == 40  # kept from the shipped table
    city = {
        "measures": {
            "lift_count_only": {
                "item": "fire_lane_blocked",
                "title": "Per-car measure counted from the layer only",
                "per_unit_cny": 10.0,
                "unit": "car",
                "unit_column": "elevator_cars",
                "restores": 1.0,
                "source": "test",
            }
        }
    }
    with pytest.raises(InputError, match=r"lift_count_only \(`communities.elevator_cars`, e.g. B\)"):
        upgrade_candidates(items, comms, city)
    comms["elevator_cars"] = [3.0, 2.0]
    cand = upgrade_candidates(items, comms, city)
    row = cand[(cand["measure"] == "lift_count_only") & (cand["community_id"] == "B")].iloc[0]
    assert row["units"] == 2 and row["cost_cny"] == 20


def test_scores_after_a_partial_measure_by_hand() -> None:
    items, comms = _hand_items()
    cand = upgrade_candidates(items, comms)
    overhaul = cand[(cand["community_id"] == "A") & (cand["measure"] == "elevator_overhaul")]
    scores = pd.DataFrame(
        {
            "community_id": ["A", "B", "A"],
            "survey_date": ["2025-04-01", "2025-04-01", "2024-04-01"],
            "score": [24.0, 10.0, 5.0],
        }
    )
    after = scores_after_upgrades(scores, items, overhaul, pass_mark=60)
    a = after.loc["A"]
    # A lost 40 (elevators) + 36 (fire lane) of 100; the overhaul gives back half the 40
    assert a["score"] == 24 and a["score_after"] == 44 and a["points_to_pass"] == 16
    assert a["still_failed"] == "fire_lane_blocked (36), elevator_age (20)"
    assert a["upgrade_cost_cny"] == overhaul["cost_cny"].iloc[0] and not a["passed_after"]
    b = after.loc["B"]
    assert b["score_after"] == 10 and b["still_failed"] == "fire_lane_blocked (40), gas_alarm_valve (20)"


def test_shipped_vulnerability_weight_follows_the_risk_weights() -> None:
    """The risk a point of score removes is the one the risk model gives it (risk_weights.toml)."""
    from gis.tables import load_table

    v = load_table("risk_weights", package="risk_models")["vulnerability"]
    survey = float(v["community_safety"]["weight"])
    census = sum(float(ind["weight"]) for ind in v["indicators"].values())
    share = survey / (census + survey)
    expected = (float(v["factor_max"]) - float(v["factor_min"])) * share
    assert load_upgrade_measures().vulnerability_weight == pytest.approx(expected, rel=1e-9)
