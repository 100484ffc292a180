"""A province planned city by city: subgraphs, per-city station plans, the tiered depot network."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

from gis import load_scenario, scenario_graph, write_demo_province, write_demo_scenario
from gis.errors import InputError
from planning import layer_coverage, plan_stations
from planning.cities import (
    CITY_COLUMN,
    box_subgraph,
    city_box,
    city_scenario,
    plan_stations_by_city,
    scenario_cities,
)
from planning.demand import demand_weights
from planning.depot_tiers import plan_depot_network
from planning.siting import load_norms
from planning.standards import response_standard
from planning.travel import cost_matrix
from risk_models import kernel_density, score_scenario
from risk_models.density import AUTO_TILE_BANDWIDTHS, AUTO_TILE_MIN_TARGETS

SMALL = 30_000  # the smallest demo province: about 10 s to generate
TIER_RANK = {"township": 0, "county": 1, "city": 2, "province": 3}


@pytest.fixture(scope="module")
def province(tmp_path_factory):
    folder = tmp_path_factory.mktemp("province")
    scenario = load_scenario(write_demo_province(folder / "p", n_road_nodes=SMALL, seed=7))
    return scenario, scenario_graph(scenario, cache=False)


@pytest.fixture(scope="module")
def demo_scenario(tmp_path_factory):
    return load_scenario(
        write_demo_scenario(tmp_path_factory.mktemp("city") / "demo.gpkg", n_road_nodes=2000)
    )


@pytest.fixture(scope="module")
def risk(province):
    scenario, _ = province
    return score_scenario(scenario, learn=False, at="point")


def test_a_province_has_cities_a_city_has_none(province, demo_scenario):
    scenario, _ = province
    cities = scenario_cities(scenario)
    assert len(cities) == 10
    assert set(cities) == set(scenario["communities"][CITY_COLUMN])
    assert scenario_cities(demo_scenario) == []


def test_city_subgraph_gives_the_province_times_within_the_standard(province):
    scenario, graph = province
    city = scenario_cities(scenario)[0]
    std = response_standard("cn-gb51080")
    reach = (std.response_s - std.turnout_s) * float(np.nanmax(graph.speed_kph)) / 3.6 + 1100.0
    box = city_box(scenario, city, margin_m=reach)
    sub = city_scenario(scenario, city, box=box)
    small = box_subgraph(graph, box)
    assert 0 < small.n_nodes < graph.n_nodes
    full = cost_matrix(graph, sub["fire_stations"], sub["communities"])
    part = cost_matrix(small, sub["fire_stations"], sub["communities"])
    within = full <= std.response_s - std.turnout_s
    assert within.sum() > 100
    # the same routes within the standard (summed in another order: 1e-15 relative)
    np.testing.assert_allclose(part[within], full[within], rtol=1e-12, atol=0)
    assert (part[~within] > std.response_s - std.turnout_s).all()


def test_city_plans_equal_plans_on_the_province_graph(province, risk):
    scenario, graph = province
    cities = scenario_cities(scenario)[:2]
    plans = plan_stations_by_city(scenario, graph, cities=cities, risk=risk, n_new=2)
    assert set(plans.plans) == set(cities)
    weights, _ = demand_weights(scenario["communities"], risk=risk, planning_norms=load_norms())
    for city, plan in plans.plans.items():
        cand = scenario["candidate_sites"]
        assert set(plan.proposed.index) <= set(cand.index[cand[CITY_COLUMN] == city])
        sub = city_scenario(scenario, city, box=city_box(scenario, city, margin_m=50_000.0))
        ref = plan_stations(sub, graph, n_new=2, demand=weights.reindex(sub["communities"].index))
        assert list(plan.proposed.index) == list(ref.proposed.index)
        for col in ("coverage_share", "population_share"):
            assert plan.summary[col].tolist() == pytest.approx(ref.summary[col].tolist(), abs=1e-12)
    table = plans.summary
    assert list(table.index) == cities
    assert (table["population_share_after"] >= table["population_share_before"]).all()
    curve = plans.tradeoff
    assert curve["coverage_share"].is_monotonic_increasing
    assert curve.loc[0, "n_new"] == 0 and curve["per_city"].tolist() == list(range(len(curve)))
    assert plans.proposed[CITY_COLUMN].isin(cities).all()


def test_city_plans_cover_before_exactly_what_the_coverage_stage_covers(province, risk):
    """The plan's "before" equals the coverage stage, community by community.

    Province communities are polygons; where a road runs through one whose point lies beyond the
    snap limit, the coverage stage counts it on the network (the feature's own distance) and the
    plan once left it unreached, so cities.csv showed a share after the plan below the share today.
    """
    scenario, graph = province
    com = layer_coverage(graph, scenario["fire_stations"], scenario["communities"], layer="communities")
    cities = scenario_cities(scenario)[:2]
    plans = plan_stations_by_city(scenario, graph, cities=cities, risk=risk, n_new=1)
    joined = plans.communities.join(com[["covered", "snap_distance_m"]], how="left")
    assert joined["covered"].notna().all()
    crossed = joined["covered"].astype(bool) & (joined["snap_distance_m"] > 500.0)
    assert crossed.sum() >= 3  # covered, with their point beyond the snap limit: the case that broke
    assert (joined["covered_before"] == joined["covered"].astype(bool)).all()
    assert (joined["covered_after"] >= joined["covered_before"]).all()


def test_no_cities_to_plan_is_an_input_error(demo_scenario):
    with pytest.raises(InputError, match="no cities to plan"):
        plan_stations_by_city(demo_scenario, None)
    with pytest.raises(InputError, match="needs a province"):
        plan_depot_network(demo_scenario, None)


def test_depot_network_serves_lowest_tiers_first_within_limits_and_capacities(province, risk, tmp_path):
    """The tiered plan's rules, on roads a local flood leaves open (issue 19: one plan, both checked).

    1 m of water 1.5 km around one community cuts it off from every depot of every tier; every
    other rule of the plan holds on the open roads around it.
    """
    rasterio = pytest.importorskip("rasterio", reason="rasterio is not installed")
    from rasterio.transform import from_origin

    scenario, graph = province
    near = scenario["communities"].to_crs(graph.crs)
    target = near.index[len(near) // 2]
    x0, y0, x1, y1 = near.loc[[target]].buffer(1500.0).total_bounds
    tif = tmp_path / "flood.tif"
    width, height = int((x1 - x0) // 50) + 1, int((y1 - y0) // 50) + 1
    with rasterio.open(
        tif, "w", driver="GTiff", width=width, height=height, count=1, dtype="float32",
        crs=graph.crs.to_wkt(), transform=from_origin(x0, y1, 50.0, 50.0),
    ) as dst:  # fmt: skip
        dst.write(np.ones((height, width), np.float32), 1)
    plan = plan_depot_network(scenario, graph, risk=risk, flood_depth=tif)
    com, dep = plan.communities, plan.depots
    assert bool(com.loc[target, "flood_cut_off"]) and com.loc[target, "depot"] is None
    assert com.loc[target, "unmet_reason"] == ("cut_off" if com.loc[target, "relocate_people"] > 0 else "")
    assert com["flood_cut_off"].sum() < len(com) // 10  # a local flood cuts off its neighbourhood only
    served = com[com["depot"].notna()]
    assert len(served) > 0.8 * len(com)
    assert (served["travel_h"] <= served["delivery_limit_h"] + 1e-9).all()
    assert (dep["people_assigned"] <= dep["capacity_people"] + 1e-6).all()
    # the city tiers serve their own city only; the province's depots anyone
    tier = served["depot"].map(dep["tier"])
    local = tier != "province"
    assert (served.loc[local, CITY_COLUMN] == served.loc[local, "depot"].map(dep[CITY_COLUMN])).all()
    assert (served["served_by_tier"] == tier).all()
    # every depot but the province's has a parent of a higher tier
    has = dep[dep["parent"].notna()]
    assert set(dep.index[dep["parent"].isna()]) == set(dep.index[dep["tier"] == "province"])
    assert (has["tier"].map(TIER_RANK) < has["parent"].map(dep["tier"]).map(TIER_RANK)).all()
    # backing: a share of everyone served below; stock sized on both
    share = load_norms()["depot_network"]["backup_share"]
    below = pd.Series(0.0, index=dep.index)
    for d in sorted(dep.index, key=lambda d: TIER_RANK[dep.loc[d, "tier"]]):
        if pd.notna(dep.loc[d, "parent"]):
            below[dep.loc[d, "parent"]] += dep.loc[d, "people_assigned"] + below[d]
    np.testing.assert_allclose(dep["people_backed"], share * below)
    total = com["relocate_people"].sum()
    assert dep["people_assigned"].sum() + plan.unmet_people == pytest.approx(total)
    assert plan.by_city["unmet_people"].sum() == pytest.approx(plan.unmet_people)
    assert list(plan.tiers.index) == ["township", "county", "city", "province"]
    unmet = com[com["unmet_people"] > 0]
    assert set(unmet["unmet_reason"]) <= {"time", "capacity", "cut_off"}
    rice = plan.stock[plan.stock["item"] == "rice_kg"].set_index("depot")["need"]
    np.testing.assert_allclose(rice, dep["stock_people"] * 2.8)
    path = plan.write(tmp_path / "depots.gpkg")
    assert path.exists()


def test_density_tiles_by_default_only_where_they_pay():
    rng = np.random.default_rng(5)
    h = 500.0
    small_t = rng.uniform(0, 20_000, (AUTO_TILE_MIN_TARGETS - 1, 2))
    big_t = rng.uniform(0, 40_000, (AUTO_TILE_MIN_TARGETS * 2, 2))
    src = rng.uniform(0, 40_000, (3000, 2))
    # small inputs: the untiled sum, bit for bit
    assert np.array_equal(
        kernel_density(src, small_t, bandwidth_m=h), kernel_density(src, small_t, bandwidth_m=h, tile_m=None)
    )
    auto = kernel_density(src, big_t, bandwidth_m=h)
    assert np.array_equal(auto, kernel_density(src, big_t, bandwidth_m=h, tile_m=AUTO_TILE_BANDWIDTHS * h))
    np.testing.assert_allclose(auto, kernel_density(src, big_t, bandwidth_m=h, tile_m=None), rtol=1e-12)
    with pytest.raises(InputError, match="'auto'"):
        kernel_density(src, big_t, bandwidth_m=h, tile_m="big")  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("RISKPLAN_PROVINCE_RUN"),
    reason="a whole province run takes 10-40 min (isochrones at province size); "
    "set RISKPLAN_PROVINCE_RUN=1 to run it",
)
def test_run_scenario_on_a_province_writes_per_city_outputs(province, tmp_path):
    from service.workflow import PROVINCE_UNITS, run_scenario

    scenario, _ = province
    result = run_scenario(scenario, tmp_path, cache=False)
    for name in ("stations", "depots", "cities", "map", "report", "summary"):
        assert result.outputs[name].exists(), name
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    cities = scenario_cities(scenario)
    assert summary["risk"]["units"] == PROVINCE_UNITS
    assert set(summary["cities"]) == set(cities)
    assert set(summary["plan"]["stations_by_city"]) == set(cities)
    assert set(summary["plan"]["depot_tiers"]) == {"township", "county", "city", "province"}
    table = pd.read_csv(tmp_path / "cities.csv", index_col=CITY_COLUMN)
    assert table["population"].sum() == pytest.approx(scenario["communities"]["population"].sum())
    assert {"stations_proposed", "depots_unmet_people", "communities_red"} <= set(table.columns)


@pytest.mark.dask
def test_city_plans_on_dask_equal_those_in_process(province, risk):
    from dask_factory import two_workers

    scenario, graph = province
    cities = scenario_cities(scenario)[2:4]
    here = plan_stations_by_city(scenario, graph, cities=cities, risk=risk, n_new=1)
    with two_workers() as ex:
        there = plan_stations_by_city(scenario, graph, cities=cities, risk=risk, n_new=1, executor=ex)
    pd.testing.assert_frame_equal(here.summary, there.summary, check_exact=True)
    pd.testing.assert_frame_equal(
        pd.DataFrame(here.communities), pd.DataFrame(there.communities), check_exact=True
    )
    assert list(here.proposed.index) == list(there.proposed.index)


def test_cut_off_searches_give_the_plans_of_the_full_matrix(province, risk, monkeypatch):
    """Candidates searched to the standard, stations to the latest best time: the same plans, exactly.

    (MCLP here; backup coverage, LSCP and MEXCLP read the matrix the same way: within the radius.)
    """
    import planning.stations

    scenario, graph = province
    cities = scenario_cities(scenario)[:1]
    kw = {"cities": cities, "risk": risk, "n_new": 2, "model": "mclp"}
    cut = plan_stations_by_city(scenario, graph, **kw)
    monkeypatch.setattr(planning.stations, "COVERAGE_MODELS", ())  # the whole matrix, as before
    full = plan_stations_by_city(scenario, graph, **kw)
    assert set(cut.plans) == set(full.plans) == set(cities)
    for city, a in cut.plans.items():
        b = full.plans[city]
        assert len(a.uncoverable) > 0  # communities beyond the standard: their best times are read
        for name in ("communities", "proposed", "tradeoff", "summary", "uncoverable", "candidates"):
            pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True, obj=name)
        assert a.notes == b.notes and a.recommended_n == b.recommended_n
