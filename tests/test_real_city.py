"""A scenario written the way the README says for a real city: every layer from an OSM file.

Regression tests for what broke on real extracts (issue 11): each ran into a traceback, a
wrong figure or a silent assumption before it was fixed. The city is written by
:mod:`osm_factory` (offline, a few hundred nodes).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
from osm_factory import write_city_scenario

from gis import InputError, load_scenario, scenario_graph
from planning import OFF_ROAD_RULE, analyse_coverage, plan_depots, plan_stations, unit_response_times
from risk_models import score_scenario
from service.cli import main


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_city_scenario(tmp_path_factory.mktemp("city"))


@pytest.fixture(scope="module")
def loaded(city: Path):  # type: ignore[no-untyped-def]
    scenario = load_scenario(city)
    return scenario, scenario_graph(scenario, cache=False)


def _id_of(scenario, name: str) -> str:  # type: ignore[no-untyped-def]
    com = scenario["communities"]
    return str(com.index[com["name"] == name][0])


def test_roads_come_from_the_osm_file_and_unnamed_features_take_their_id(loaded) -> None:  # type: ignore[no-untyped-def]
    scenario, graph = loaded
    assert scenario.roads.kind == "osm" and "roads" not in scenario
    com = scenario["communities"]
    unnamed = com.index[~com["name"].str.startswith(("Block", "Far", "Hill"))]
    assert len(unnamed) == 1 and com.loc[unnamed[0], "name"] == unnamed[0]
    assert graph.n_nodes > 60


def test_cli_place_depots_map_report_with_osm_roads(city: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    # `place` read scenario["roads"] (absent with OSM roads); `map` and `report` failed without a
    # study area or barriers ("Unknown column geometry")
    place = ["-q", "place", str(city), "--out", str(tmp_path / "st.gpkg"), "--new", "1", "--lang", "en"]
    assert main(place) == 0
    assert main(["-q", "map", str(city), "--out", str(tmp_path / "m.html")]) == 0
    assert main(["-q", "report", str(city), "--out", str(tmp_path / "r.html")]) == 0
    layers = {str(n) for n, _ in pyogrio.list_layers(tmp_path / "st.gpkg")}
    assert {"candidates", "proposed", "tradeoff", "uncoverable", "notes"} <= layers
    out = capsys.readouterr().out
    assert "Site on Main Road" in out or "Site on Cross Road" in out  # generated along the arterials
    assert "m from the nearest flammable/explosive hazard" in out  # the fuel station


def test_small_wording_fixes(loaded, city: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    scenario, graph = loaded
    layers = {k: v for k, v in scenario.layers.items() if k != "hazards"}
    bare = type(scenario)(scenario.name, layers, scenario.crs, scenario.roads)
    text = plan_stations(bare, graph, n_new=1, demand="population").report()
    assert "no flammable or explosive hazard in the scenario" in text and "inf m" not in text
    hazards = scenario["hazards"].copy()
    hazards["geometry"] = hazards.geometry.translate(0, -1500)  # south of every community
    moved = {**scenario.layers, "hazards": hazards}
    notes = score_scenario(moved, learn=False).notes  # no study area: say what stands in for it
    assert any("1 hazards lie outside the communities' extent (no study area given)" in n for n in notes)
    toml = tmp_path / "s.toml"
    toml.write_text(
        city.read_text().replace('path = "city.osm"', f'path = "{city.parent / "city.osm"}"')
        + '\n[layers.depots]\npath = "nope.csv"\n',
        encoding="utf-8",
    )
    with pytest.raises(InputError) as err:
        load_scenario(toml)
    line = next(x for x in str(err.value).splitlines() if "nope.csv" in x)
    assert line.count("Fix:") == 1 and line.count("nope.csv") == 1 and "does not exist" in line


def test_grid_units_take_their_response_time_from_the_road_network(loaded) -> None:  # type: ignore[no-untyped-def]
    scenario, graph = loaded
    stations = scenario["fire_stations"]

    def by_road(units):  # type: ignore[no-untyped-def]
        return unit_response_times(graph, stations, units)

    risk = score_scenario(scenario, units="grid:300", response_time_s=by_road, learn=False)
    u = risk.units
    expected = by_road(u)
    assert np.array_equal(u["response_time_s"].to_numpy(), expected.reindex(u.index).to_numpy())
    # cells whose centre lies in no community still get their own road time
    populated = u["population"] > 0
    assert np.isfinite(u.loc[populated, "response_time_s"]).sum() > populated.sum() // 2
    # community times cannot stand in for grid cells: that was the silent bug
    times = pd.Series(200.0, index=scenario["communities"].index)
    with pytest.raises(InputError, match="not from the community it lies in"):
        score_scenario(scenario, units="grid:300", response_time_s=times, learn=False)


def test_cli_risk_on_grid_units(city: Path, tmp_path: Path) -> None:
    out = tmp_path / "risk.gpkg"
    assert main(["-q", "risk", str(city), "--units", "grid:300", "--out", str(out)]) == 0
    units = pyogrio.read_dataframe(out, layer="risk_units", read_geometry=False)
    reached = units["response_time_s"].notna()  # unreached (inf) is written as NULL
    assert reached[units["population"] > 0].mean() > 0.5


def test_off_road_communities_follow_one_rule_in_coverage_and_plans(loaded) -> None:  # type: ignore[no-untyped-def]
    scenario, graph = loaded
    hamlet = _id_of(scenario, "Hill Hamlet")
    cov = analyse_coverage(scenario, graph, breaks_s=None, districts=False)
    assert bool(cov.communities.loc[hamlet, "flagged"]) and not bool(cov.communities.loc[hamlet, "covered"])
    assert any(OFF_ROAD_RULE in n for n in cov.notes)
    plan = plan_stations(scenario, graph, n_new=2, demand="population")
    c = plan.communities
    assert not c.loc[hamlet, "covered_before"] and not c.loc[hamlet, "covered_after"]
    assert any(OFF_ROAD_RULE in n for n in plan.notes)
    assert plan.uncoverable.loc[hamlet, "reason"] == "off road"
    covered = cov.communities["covered"].astype(bool)
    assert plan.summary.loc["before", "population_share"] == pytest.approx(
        scenario["communities"]["population"][covered].sum() / scenario["communities"]["population"].sum()
    )


def test_lscp_reports_the_demand_no_site_can_cover(loaded) -> None:  # type: ignore[no-untyped-def]
    scenario, graph = loaded
    far = _id_of(scenario, "Far Village")
    plan = plan_stations(scenario, graph, model="lscp", demand="population")
    u = plan.uncoverable
    assert far in u.index and u.loc[far, "population"] == 1000 and u.loc[far, "reason"] == "too far"
    assert u.loc[far, "best_response_s"] > plan.standard.response_s
    assert plan.recommended_n == len(plan.proposed)  # the LSCP's own count, not the curve's
    text = plan.report()
    assert "cannot be covered by any existing station or eligible candidate" in text and far in text
    assert "the fewest that cover all coverable demand" in text


def test_people_count_even_where_no_hazard_is_near(loaded) -> None:  # type: ignore[no-untyped-def]
    scenario, graph = loaded
    risk = score_scenario(scenario, learn=False)
    plan = plan_stations(scenario, graph, risk=risk, n_new=1)
    c = plan.communities
    assert (c["demand"] >= c["population"]).all()  # risk raises demand, never zeroes it
    assert plan.summary.loc["after", "coverage_share"] < 1.0  # uncovered residents count
    assert any("every resident counts once" in n for n in plan.notes)


def test_scenario_without_hazards_scores_on_exposure_vulnerability_and_response(city: Path) -> None:
    scenario = load_scenario(city)
    layers = {k: v for k, v in scenario.layers.items() if k != "hazards"}
    risk = score_scenario(layers, learn=False)
    assert (risk.units["hazard"] == 1.0).all() and risk.units["score"].gt(0).all()
    assert any("No hazard source reaches the study area" in n for n in risk.notes)
    assert "no hazard source nearby" in risk.top(1)["reasons"].iloc[0]


def test_missing_census_shares_take_documented_defaults_with_a_note(loaded, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    scenario, _ = loaded
    risk = score_scenario(scenario, learn=False)
    note = next(n for n in risk.notes if n.startswith("ASSUMED CENSUS"))
    assert "share_aged_65plus = 13.5%" in note and "risk_weights.toml" in note
    index = risk.units["vulnerability_index"]
    assert (index == index.iloc[0]).all()
    weights = tmp_path / "w.toml"
    weights.write_text("[vulnerability.indicators.share_gas_supply]\nweight = 0\n", encoding="utf-8")
    risk = score_scenario(scenario, learn=False, risk_weights=weights)
    assert "share_gas_supply" not in next(n for n in risk.notes if n.startswith("ASSUMED CENSUS"))


def test_place_depots_map_report_take_weights_and_snap_limit(city: Path, tmp_path: Path) -> None:
    weights = tmp_path / "w.toml"
    weights.write_text("[vulnerability.indicators.share_gas_supply]\nweight = 0\n", encoding="utf-8")
    common = ["--risk-weights", str(weights), "--max-snap-m", "2000"]
    place = ["-q", "place", str(city), "--out", str(tmp_path / "s.gpkg"), "--new", "1", "--lang", "en"]
    assert main([*place, *common]) == 0
    assert main(["-q", "map", str(city), "--out", str(tmp_path / "m.html"), *common]) == 0
    assert main(["-q", "report", str(city), "--out", str(tmp_path / "r.html"), *common]) == 0
    cov = tmp_path / "c.gpkg"
    assert main(["-q", "coverage", str(city), "--out", str(cov), "--max-snap-m", "2000"]) == 0
    com = pyogrio.read_dataframe(cov, layer="communities", read_geometry=False)
    assert not com["flagged"].any()  # the hamlet is within 2 km of a road


def test_flat_population_and_notes_reach_every_output(city: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["-q", "validate", str(city)]) == 0
    assert "FLAT POPULATION" in capsys.readouterr().out
    out = tmp_path / "run"
    assert main(["-q", "run", str(city), "--out", str(out), "--new", "1"]) == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert any(n.startswith("FLAT POPULATION") for n in summary["notes"])
    assert "depots" in summary["skipped"] and "stations" not in summary["skipped"]
    for gpkg in ("coverage", "risk"):
        layer = "notes" if gpkg == "coverage" else "risk_notes"
        notes = pyogrio.read_dataframe(out / f"{gpkg}.gpkg", layer=layer, read_geometry=False)["note"]
        assert notes.str.startswith("FLAT POPULATION").any(), gpkg
    for page in ("map.html", "report.html"):
        assert "FLAT POPULATION" in (out / page).read_text(encoding="utf-8"), page
    assert {"network", "coverage", "risk", "stations", "map", "report", "summary"} <= set(summary["outputs"])


def test_swapped_latitude_and_longitude_within_range_is_caught(tmp_path: Path) -> None:
    # Heidelberg: longitude 8.7, latitude 49.4 -- swapped, both values are still valid degrees
    toml = write_city_scenario(tmp_path, origin=(8.66, 49.40))
    csv = tmp_path / "stations.csv"
    csv.write_text("id,name,grade,lon,lat\nS1,Swapped,grade1,49.401,8.661\n", encoding="utf-8")
    text = toml.read_text(encoding="utf-8").replace(
        '[layers.fire_stations]\npath = "city.osm"\nosm_tags = { amenity = "fire_station" }\n'
        'points = "representative"\ndefaults = { grade = "grade1" }',
        '[layers.fire_stations]\npath = "stations.csv"',
    )
    toml.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match="latitude and longitude swapped") as err:
        load_scenario(toml)
    assert "fire_stations" in str(err.value) and "swap the coordinate columns" in str(err.value)
    assert main(["validate", str(toml)]) == 2


def test_utm_zone_comes_from_the_roads(tmp_path: Path) -> None:
    toml = write_city_scenario(tmp_path, origin=(8.66, 49.40))
    far = tmp_path / "depots.csv"  # a far provincial depot must not move the zone
    far.write_text("id,name,tier,lon,lat\nD1,Province,province,17.9,49.4\n", encoding="utf-8")
    toml.write_text(
        toml.read_text(encoding="utf-8") + '\n[layers.depots]\npath = "depots.csv"\n', encoding="utf-8"
    )
    assert load_scenario(toml).crs.to_epsg() == 32632


def test_depot_without_communities_reports_no_nan(loaded) -> None:  # type: ignore[no-untyped-def]
    import geopandas as gpd
    from shapely import Point

    scenario, graph = loaded
    station = scenario["fire_stations"].geometry.iloc[0]
    far = Point(station.x + 40_000, station.y)
    depots = gpd.GeoDataFrame(
        {"id": ["D1", "D2"], "name": ["Near", "Far"], "tier": ["county"] * 2, "capacity_people": [5e4] * 2},
        geometry=[station, far],
        crs=scenario.crs,
        index=pd.Index(["D1", "D2"]),
    )
    sc = type(scenario)(scenario.name, {**scenario.layers, "depots": depots}, scenario.crs, scenario.roads)
    text = plan_depots(sc, graph, distance="euclidean").report()
    assert "nan" not in text and "serves no community" in text


def test_population_raster_layer_gives_every_unit_its_residents(city: Path, tmp_path: Path) -> None:
    import shutil

    import rasterio
    from rasterio.transform import from_origin

    for f in city.parent.iterdir():
        shutil.copy(f, tmp_path / f.name)
    base = load_scenario(tmp_path / "scenario.toml")
    x0, y0, x1, y1 = base["communities"].total_bounds
    crs = base.crs  # 7 people on every 100 m pixel, over the whole city
    width, height = int((x1 - x0) / 100) + 40, int((y1 - y0) / 100) + 40
    with rasterio.open(
        tmp_path / "pop.tif",
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=1,
        dtype="float32",
        crs=crs.to_wkt(),
        transform=from_origin(x0 - 2000, y1 + 2000, 100, 100),
        nodata=-1,
    ) as dst:
        dst.write(np.full((height, width), 7.0, dtype="float32"), 1)
    toml = tmp_path / "scenario.toml"
    toml.write_text(toml.read_text() + '\n[layers.population]\npath = "pop.tif"\n', encoding="utf-8")
    scenario = load_scenario(toml)
    assert scenario.rasters["population"].name == "pop.tif"
    assert any("population raster `pop.tif`" in n for n in scenario.notes)
    for units in ("communities", "grid:300"):
        u = score_scenario(scenario, units=units, learn=False).units
        expected = 7.0 * u["area_km2"] * 100  # 100 pixels of 1 ha per km2
        assert np.allclose(u["population"], expected, rtol=1e-6), units
    toml.write_text(toml.read_text().replace("pop.tif", "missing.tif"), encoding="utf-8")
    with pytest.raises(InputError, match=r"layer `population`.*does not exist"):
        load_scenario(toml)


def test_no_station_is_proposed_that_adds_nothing(loaded) -> None:  # type: ignore[no-untyped-def]
    scenario, graph = loaded
    plan = plan_stations(scenario, graph, n_new=6, demand="population", max_new_curve=6)
    gained = plan.proposed["added_demand"]
    assert len(plan.proposed) < 6 and (gained > 0).all()  # the lattice needs fewer than six
    assert any("would add no demand covered" in n for n in plan.notes)
    best = plan.tradeoff["coverage_share"].max()
    assert plan.summary.loc["after", "coverage_share"] == pytest.approx(best)
