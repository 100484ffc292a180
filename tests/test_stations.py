"""Station planning on the demo city: trade-off curve, before/after, siting, CLI."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import Point

from gis import load_scenario, scenario_graph, write_demo_scenario
from gis.errors import InputError
from gis.scenario import Scenario
from planning.names import MODELS
from planning.siting import load_norms
from planning.stations import plan_stations
from planning.travel import cost_matrix


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Scenario, object, object]:
    from risk_models import score_scenario

    path = write_demo_scenario(tmp_path_factory.mktemp("st") / "demo.gpkg", n_road_nodes=3000)
    scenario = load_scenario(path)
    graph = scenario_graph(scenario, cache=False)
    return path, scenario, graph, score_scenario(scenario, learn=False)


@pytest.fixture(scope="module")
def plan(demo):  # type: ignore[no-untyped-def]
    _, scenario, graph, risk = demo
    return plan_stations(scenario, graph, risk=risk, n_new=3)


def test_curve_monotone_and_existing_kept(demo, plan) -> None:  # type: ignore[no-untyped-def]
    t = plan.tradeoff
    assert t["n_new"].tolist() == list(range(len(t)))
    assert (np.diff(t["coverage_share"]) >= -1e-12).all()
    assert (t["marginal_gain"].iloc[1:] >= -1e-12).all()
    assert t["recommended"].sum() == 1 and t.loc[t["recommended"], "n_new"].item() == plan.recommended_n
    n_existing = len(demo[1]["fire_stations"])
    assert plan.result.is_existing.sum() == n_existing
    assert set(range(n_existing)) <= set(plan.result.selected.tolist())


def test_after_never_longer_and_columns_for_maps(plan) -> None:  # type: ignore[no-untyped-def]
    c = plan.communities
    assert (c["response_after_s"] <= c["response_before_s"] + 1e-9).all()
    assert plan.summary.loc["after", "coverage_share"] >= plan.summary.loc["before", "coverage_share"]
    assert {"name", "reason", "added_demand"} <= set(plan.proposed.columns)
    assert len(plan.proposed) == 3 and plan.proposed["added_demand"].gt(0).all()
    assert {"n_new", "coverage_share", "mean_response_s"} <= set(plan.tradeoff.columns)


def test_risk_draws_new_stations_east_of_the_river(demo, plan) -> None:  # type: ignore[no-untyped-def]
    _, scenario, graph, risk = demo
    east = scenario["barriers"].query("kind == 'river'").geometry.iloc[0].bounds[2]
    # as many people are uncovered west of the river as east of it, so with every resident
    # counting the plan goes both ways; weighted heavily, risk pulls it to the industrial east bank
    assert (plan.proposed.geometry.x > east).sum() >= 2, plan.proposed.geometry.x.tolist()
    heavy = plan_stations(
        scenario, graph, risk=risk, n_new=3, planning_norms={"demand": {"risk_uplift": 50.0}}
    )
    people = plan_stations(scenario, graph, n_new=3, demand="population")

    def risk_reached(p) -> float:  # type: ignore[no-untyped-def]
        c = p.communities
        new = c["covered_after"] & ~c["covered_before"]
        return float(np.average(risk.units.loc[c.index[new], "percentile"], weights=c.loc[new, "population"]))

    assert risk_reached(heavy) > risk_reached(people)


@settings(max_examples=6, deadline=None)
@given(model=st.sampled_from(MODELS), n=st.integers(0, 4))
def test_property_no_response_gets_longer(demo, model: str, n: int) -> None:  # type: ignore[no-untyped-def]
    _, scenario, graph, _ = demo
    p = plan_stations(
        scenario,
        graph,
        demand="population",
        model=model,
        n_new=n,
        max_new_curve=3,
        distance="euclidean",
        busy_fraction=0.3 if model == "mexclp" else None,
    )
    c = p.communities
    assert (c["response_after_s"] <= c["response_before_s"] + 1e-9).all()
    # each curve improves its own model's objective with every new station (LSCP's is MCLP's);
    # with demand = population the mean response is p-median's objective
    t = p.tradeoff
    if model == "backup":
        sources = _sources(scenario, p)
        cost = cost_matrix(
            None, sources, scenario["communities"], turnout_s=p.standard.turnout_s, distance="euclidean"
        )
        ids = [str(i) for i in sources.index]
        n_existing = len(scenario["fire_stations"])
        objective = [_backup_share(p, cost, sites, n_existing, ids) for sites in t["sites"]]
    else:
        column, sign = {
            "mclp": ("coverage_share", 1),
            "lscp": ("coverage_share", 1),
            "p-median": ("mean_response_s", -1),
            "p-center": ("max_response_s", -1),
            "mexclp": ("expected_coverage_share", 1),
        }[model]
        objective = (sign * t[column]).tolist()
    assert (np.diff(objective) >= -1e-9 * max(1.0, abs(objective[0]))).all(), (model, objective)


def _sources(scenario: Scenario, plan) -> gpd.GeoDataFrame:  # type: ignore[no-untyped-def]
    """Existing stations, then every eligible candidate: the columns of the plan's cost matrix."""
    eligible = plan.candidates[plan.candidates["eligible"]]
    return gpd.GeoDataFrame(
        pd.concat([scenario["fire_stations"][["geometry"]], eligible[["geometry"]]]),
        geometry="geometry",
        crs=scenario.crs,
    )


def _backup_share(plan, cost: np.ndarray, sites: str, n_existing: int, ids: list[str]) -> float:  # type: ignore[no-untyped-def]
    """Share of residents within the standard of at least two stations: the existing ones and ``sites``."""
    new = set(filter(None, sites.split(",")))
    cols = [i for i, sid in enumerate(ids) if i < n_existing or sid in new]
    covered = (cost[:, cols] <= plan.standard.response_s).sum(axis=1) >= 2
    pop = plan.communities["population"].to_numpy()
    return float(pop[covered].sum() / pop.sum())


def test_euclidean_and_network_both_run(demo) -> None:  # type: ignore[no-untyped-def]
    _, scenario, graph, _ = demo
    a = plan_stations(scenario, graph, n_new=2, demand="population", distance="euclidean", max_new_curve=2)
    b = plan_stations(scenario, graph, n_new=2, demand="population", distance="network", max_new_curve=2)
    assert len(a.proposed) == len(b.proposed) == 2
    assert "population" in a.notes[0]


def test_euclidean_cost_by_hand() -> None:
    src = gpd.GeoDataFrame(geometry=[Point(0, 0), Point(3000, 4000)], crs="EPSG:32649")
    dem = gpd.GeoDataFrame(geometry=[Point(0, 0)], crs="EPSG:32649")
    cost = cost_matrix(None, src, dem, turnout_s=60.0, distance="euclidean")
    eu = load_norms()["euclidean"]  # the documented engine speed and detour factor
    speed_mps = float(eu["speed_kph"]) / 3.6
    np.testing.assert_allclose(cost, [[60.0, 60.0 + 5000 * float(eu["detour_factor"]) / speed_mps]])


def test_bad_input_messages(demo) -> None:  # type: ignore[no-untyped-def]
    _, scenario, graph, _ = demo
    with pytest.raises(InputError, match="eligible"):
        plan_stations(scenario, graph, n_new=500)
    with pytest.raises(InputError, match="`model`"):
        plan_stations(scenario, graph, model="k-means")
    with pytest.raises(InputError, match="no candidate sites"):
        plan_stations(scenario, graph, candidates=scenario["candidate_sites"].iloc[:0])
    with pytest.raises(InputError, match="siting rule"):
        plan_stations(scenario, graph, planning_norms={"siting": {"hazard_min_m": 1e6}})
    with pytest.raises(InputError, match="Total demand is 0"):
        plan_stations(scenario, graph, demand=scenario["communities"]["population"] * 0)


def test_generated_candidates_and_wind(demo) -> None:  # type: ignore[no-untyped-def]
    _, scenario, graph, _ = demo
    layers = {k: v for k, v in scenario.layers.items() if k != "candidate_sites"}
    bare = Scenario(scenario.name, layers, scenario.crs, scenario.roads, synthetic=True)
    p = plan_stations(bare, graph, n_new=2, demand="population", wind_from_deg=270.0, max_new_curve=2)
    assert p.candidates.index.str.startswith("G").all()
    assert (
        "downwind_of" in p.candidates
        and p.proposed.index.isin(p.candidates.index[p.candidates["eligible"]]).all()
    )


def test_write_gpkg(plan, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = plan.write(tmp_path / "plan.gpkg")
    layers = set(pyogrio.list_layers(out)[:, 0])
    assert {"candidates", "proposed", "communities", "tradeoff", "summary"} <= layers


def _main(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> int:
    from service import cli
    from service.cli import depots, place

    assert place in cli.COMMANDS and depots in cli.COMMANDS
    try:
        lang = ["--lang", "en"] if argv[0] == "place" else []  # the demo city speaks Chinese by its place
        return cli.main(["-q", *argv, *lang])
    except SystemExit as exc:  # argparse rejects unknown choices with exit 2
        return int(exc.code or 0)


def test_cli_place_and_depots(  # type: ignore[no-untyped-def]
    demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(demo[0])
    out = tmp_path / "place.gpkg"
    assert (
        _main(monkeypatch, ["place", path, "--model", "mclp", "--new", "2", "--out", str(out), "--no-cache"])
        == 0
    )
    assert out.exists()
    out_m = tmp_path / "place_mexclp.gpkg"
    argv = ["place", path, "--model", "mexclp", "--busy-fraction", "0.3", "--new", "2", "--out", str(out_m)]
    assert _main(monkeypatch, [*argv, "--no-cache"]) == 0
    assert "expected covered" in capsys.readouterr().out
    assert "expected_coverage_share" in pyogrio.read_dataframe(out_m, layer="tradeoff")
    assert _main(monkeypatch, ["place", path, "--model", "mexclp", "--out", str(out_m)]) == 2
    out2 = tmp_path / "place_eu.gpkg"
    code = _main(
        monkeypatch,
        ["place", path, "--model", "p-median", "--new", "1", "--distance", "euclidean", "--out", str(out2)],
    )
    assert code == 0 and out2.exists()
    out3 = tmp_path / "depots.gpkg"
    assert _main(monkeypatch, ["depots", path, "--out", str(out3), "--days", "3"]) == 0
    assert out3.exists()


def test_cli_bad_input_exit_2(demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    path = str(demo[0])
    out = tmp_path / "bad.gpkg"
    assert _main(monkeypatch, ["place", path, "--new", "999", "--out", str(out)]) == 2
    assert _main(monkeypatch, ["place", path, "--model", "k-means", "--out", str(out)]) == 2
    assert _main(monkeypatch, ["depots", path, "--days", "0", "--out", str(out)]) == 2
    assert not out.exists()
