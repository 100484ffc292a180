"""Relief-depot planning: hand-computed stock arithmetic, capacity and time limits, demo run."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from shapely import Point

from gis import load_scenario, write_demo_scenario
from gis.errors import InputError
from gis.scenario import RoadsSource, Scenario
from planning.depots import assign_capacitated, plan_depots, stock_needs

CRS = "EPSG:32649"


def _tiny(capacity: float = 6000.0, depot_x: float = 0.0, stock_rice: float = 500.0) -> Scenario:
    """Two communities of 1,000 and 2,000 people beside one county depot."""
    com = gpd.GeoDataFrame(
        {"name": ["A", "B"], "population": [1000.0, 2000.0]},
        geometry=[Point(1000, 0).buffer(100), Point(0, 1000).buffer(100)],
        index=pd.Index(["A", "B"]),
        crs=CRS,
    )
    dep = gpd.GeoDataFrame(
        {
            "name": ["D"],
            "tier": ["county"],
            "capacity_people": [capacity],
            "stock_rice_kg": [stock_rice],
            "stock_water_l": [1000.0],
            "stock_tents": [30.0],
            "stock_quilts": [np.nan],
            "stock_family_kits": [40.0],
        },
        geometry=[Point(depot_x, 0)],
        index=pd.Index(["D"]),
        crs=CRS,
    )
    return Scenario("tiny (synthetic)", {"communities": com, "depots": dep}, com.crs, RoadsSource("layer"))


def test_stock_arithmetic_by_hand() -> None:
    # 5% of 3,000 people = 150 to relocate for 7 days:
    # rice 150 x 2.8 = 420 kg; water 150 x 17.5 = 2,625 L; family kits and tents 150/5 = 30;
    # quilts 150; toilets ceil(150/20) = 8
    plan = plan_depots(_tiny(), None, distance="euclidean")
    assert plan.communities["relocate_people"].tolist() == [50.0, 100.0]
    s = plan.stock.set_index("item")
    assert s.loc["rice_kg", "need"] == pytest.approx(420.0)
    assert s.loc["rice_kg", "overstock"] == pytest.approx(80.0) and s.loc["rice_kg", "shortfall"] == 0
    assert s.loc["drinking_water_l", "need"] == pytest.approx(2625.0)
    assert s.loc["drinking_water_l", "shortfall"] == pytest.approx(1625.0)
    assert s.loc["family_kits", "need"] == 30 and s.loc["family_kits", "overstock"] == 10
    assert s.loc["tents", "need"] == 30 and s.loc["tents", "shortfall"] == 0 == s.loc["tents", "overstock"]
    assert s.loc["toilets", "need"] == 8 and np.isnan(s.loc["toilets", "stock"])
    assert np.isnan(s.loc["quilts", "shortfall"])  # no stock recorded: nothing to compare
    assert plan.served.to_dict() == {"A": "D", "B": "D"}
    # three days: rice 150 x 0.4 x 3 = 180 kg
    assert stock_needs(150, 3).loc["rice_kg", "need"] == pytest.approx(180.0)


def test_unmet_when_capacity_short() -> None:
    plan = plan_depots(_tiny(capacity=120.0), None, distance="euclidean")
    c = plan.communities
    assert c.loc["B", "depot"] == "D" and c.loc["A", "unmet_reason"] == "capacity"
    assert plan.unmet_people == pytest.approx(50.0)
    assert plan.depots.loc["D", "tier_norm"] == "below"
    assert "capacity" in plan.report()


def test_unmet_when_beyond_delivery_time() -> None:
    # 300 km away at 32.5 km/h is 9.2 h > the county limit of 6 h
    plan = plan_depots(_tiny(depot_x=300_000.0), None, distance="euclidean")
    assert (plan.communities["unmet_reason"] == "time").all()
    assert plan.served.empty and plan.unmet_people == pytest.approx(150.0)


def test_relocation_by_risk_level_and_bad_input() -> None:
    risk = pd.Series({"A": "red", "B": "yellow"})
    plan = plan_depots(_tiny(), None, risk=risk, distance="euclidean")
    assert plan.communities["relocate_people"].tolist() == [150.0, 100.0]
    with pytest.raises(InputError, match="relocation rate"):
        plan_depots(_tiny(), None, risk=pd.Series({"A": "purple", "B": "red"}), distance="euclidean")
    with pytest.raises(InputError, match="`days`"):
        plan_depots(_tiny(), None, days=0, distance="euclidean")
    with pytest.raises(InputError, match="graph"):
        plan_depots(_tiny(), None)


def test_assignment_matches_brute_force() -> None:
    rng = np.random.default_rng(3)
    hours = rng.uniform(0.1, 9.0, (7, 3))
    people = rng.uniform(10, 100, 7)
    cap = np.array([150.0, 120.0, 100.0])
    lim = np.array([6.0, 8.0, 6.0])
    col, status = assign_capacitated(hours, people, cap, lim)
    best = (-1.0, np.inf)
    for combo in np.ndindex(*(4,) * 7):
        a = np.array(combo) - 1
        ok = a >= 0
        if (hours[ok, a[ok]] > lim[a[ok]]).any():
            continue
        if any(people[a == j].sum() > cap[j] for j in range(3)):
            continue
        key = (people[ok].sum(), -(people[ok] * hours[ok, a[ok]]).sum())
        if key > (best[0], -best[1]):
            best = (key[0], -key[1])
    ok = col >= 0
    assert status == "optimal"
    assert people[ok].sum() == pytest.approx(best[0])
    assert (people[ok] * hours[ok, col[ok]]).sum() == pytest.approx(best[1])


@pytest.mark.parametrize("seed", range(12))
def test_the_fixed_rows_give_the_full_models_optimum(seed: int) -> None:
    """The reduction (rows at never-binding depots fixed) keeps the full MILP's served and people x hours."""
    from planning.depot_assignment import _fixed_rows, _solve

    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(20, 60)), int(rng.integers(2, 7))
    hours = rng.uniform(0.1, 9.0, (n, k))
    hours[rng.random((n, k)) < 0.3] = np.inf  # some depots out of reach
    people = rng.uniform(10, 200, n)
    # some depots roomy (never binding), some tight (binding)
    cap = np.where(rng.random(k) < 0.5, people.sum() * 2, people.sum() / k * rng.uniform(0.3, 1.2, k))
    lim = rng.uniform(4.0, 9.0, k)
    col, status = assign_capacitated(hours, people, cap, lim, mip_rel_gap=1e-12)  # proven optimal
    allowed = np.isfinite(hours) & (hours <= lim[None, :])
    full, full_status = _solve(hours, people, cap, allowed, time_limit_s=30, mip_rel_gap=1e-12)
    assert "gap 0.00%" in status or status == "optimal"
    assert "gap 0.00%" in full_status or full_status == "optimal"
    for a in (col, full):  # both feasible
        ok = a >= 0
        assert (hours[ok, a[ok]] <= lim[a[ok]]).all()
        assert (np.bincount(a[ok], weights=people[ok], minlength=k) <= cap + 1e-6).all()
    served = [people[a >= 0].sum() for a in (col, full)]
    cost = [(people[a >= 0] * hours[a >= 0, a[a >= 0]]).sum() for a in (col, full)]
    assert served[0] == pytest.approx(served[1])
    assert cost[0] == pytest.approx(cost[1], rel=1e-7)
    roomy = np.full(k, people.sum() * 2)  # no depot binds: every row reaching one is fixed, no MILP
    fixed = _fixed_rows(hours, people, roomy, allowed)
    assert ((fixed >= 0) == allowed.any(axis=1)).all()
    assert (fixed[fixed >= 0] == np.argmin(np.where(allowed, hours, np.inf), axis=1)[fixed >= 0]).all()


def test_demo_network_and_euclidean(tmp_path: Path) -> None:
    scenario = load_scenario(write_demo_scenario(tmp_path / "demo.gpkg", n_road_nodes=3000))
    from gis import scenario_graph

    graph = scenario_graph(scenario, cache=False)
    net = plan_depots(scenario, graph)
    eu = plan_depots(scenario, None, distance="euclidean", days=3)
    for plan in (net, eu):
        total = plan.communities["relocate_people"].sum()
        served = plan.depots["people_assigned"].sum()
        assert served + plan.unmet_people == pytest.approx(total)
        assert (plan.depots["people_assigned"] <= plan.depots["capacity_people"] + 1e-6).all()
    # short capacity: unmet demand and a suggested new depot
    small = plan_depots(
        scenario, graph, planning_norms=None, risk=pd.Series("red", index=scenario["communities"].index)
    )
    assert small.unmet_people > 0 and len(small.new_depots) >= 1
    out = small.write(tmp_path / "depots.gpkg")
    assert {"communities", "depots", "stock", "new_depots"} <= set(pyogrio.list_layers(out)[:, 0])
    t = small.table()
    assert {"shortfall", "overstock", "people_assigned"} <= set(t.columns)
    # `n_new` counts the new depots as it counts new stations: 0 suggests none, k suggests k
    red = pd.Series("red", index=scenario["communities"].index)
    none = plan_depots(scenario, graph, risk=red, n_new=0)
    assert none.unmet_people == pytest.approx(small.unmet_people) and len(none.new_depots) == 0
    one = plan_depots(scenario, graph, risk=red, n_new=1)
    assert len(one.new_depots) == 1
    with pytest.raises(InputError, match="`n_new`"):
        plan_depots(scenario, graph, n_new=-1)
