"""Before and after (issue 19): identical inputs report no change; a hand-made change its reason."""

# ruff: noqa: RUF001 - the Chinese texts under test use Chinese (full-width) punctuation

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gis.errors import InputError
from planning.compare import compare_units


@pytest.fixture
def units() -> gpd.GeoDataFrame:
    n = 6
    return gpd.GeoDataFrame(
        {
            "score": np.linspace(1.0, 6.0, n),
            "level": ["blue", "blue", "yellow", "yellow", "orange", "red"],
            "hazard_mining": np.linspace(0.5, 3.0, n),
            "hazard_fuel_gas": np.linspace(0.1, 0.6, n),
            "exposure_factor": np.ones(n),
            "response_factor": np.ones(n),
        },
        index=[f"C{i}" for i in range(n)],
        geometry=[shapely.box(i * 100, 0, i * 100 + 100, 100) for i in range(n)],
        crs=32650,
    )


@pytest.fixture
def cover(units: gpd.GeoDataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "response_time_s": [200.0, 300.0, 400.0, 500.0, 600.0, np.inf],
            "covered": [True, True, True, True, False, False],
            "nearest_station": ["S1", "S1", "S2", "S2", "S3", "S3"],
            "population": [100, 200, 300, 400, 500, 600],
        },
        index=units.index,
    )


def test_identical_inputs_report_no_change(units: gpd.GeoDataFrame, cover: pd.DataFrame) -> None:
    c = compare_units(units, units.copy(), coverage_before=cover, coverage_after=cover.copy())
    assert c.counts() == {"better": 0, "worse": 0, "same": len(units)}
    assert (c.units["reasons"] == "").all()
    assert (c.units["score_change"] == 0).all() and (c.units["level_steps"] == 0).all()
    assert c.units["covered_residents_change"].sum() == 0


def test_a_hand_made_change_is_reported_with_its_reason(units: gpd.GeoDataFrame, cover: pd.DataFrame) -> None:
    after = units.copy()
    after.loc["C4", ["hazard_fuel_gas", "score"]] = [2.5, 7.2]  # more gas: orange -> red
    after.loc["C4", "level"] = "red"
    cov_after = cover.copy()
    cov_after.loc["C5", ["response_time_s", "covered", "nearest_station"]] = [
        420.0,
        True,
        "S9",
    ]  # a new station
    c = compare_units(units, after, coverage_before=cover, coverage_after=cov_after)
    u = c.units
    assert c.counts() == {"better": 1, "worse": 1, "same": 4}  # C5: the same score, newly covered
    assert u.loc["C4", "change"] == "worse" and u.loc["C4", "level_steps"] == 1
    assert "hazard fuel gas" in u.loc["C4", "reasons"] and "mining" not in u.loc["C4", "reasons"]
    assert "station district S3 -> S9" in u.loc["C5", "reasons"] and "now covered" in u.loc["C5", "reasons"]
    assert u.loc["C5", "covered_residents_change"] == 600
    assert (u.drop(index=["C4", "C5"])["reasons"] == "").all()


def test_units_that_do_not_match_name_both_sources_and_the_fix(units: gpd.GeoDataFrame) -> None:
    with pytest.raises(InputError, match=r"different units.*C5.*Fix"):
        compare_units(units, units.drop(index="C5"), labels=("a/risk.gpkg", "b/risk.gpkg"))
    with pytest.raises(InputError, match=r"EPSG:32650.*EPSG:3857.*Fix"):
        compare_units(units, units.set_crs(3857, allow_override=True))


def test_cli_compares_two_risk_geopackages_and_refuses_a_mismatch(
    units: gpd.GeoDataFrame, tmp_path, capsys
) -> None:
    import pyogrio

    from gis.atomic import write_gpkg
    from service.cli import main

    a = write_gpkg(tmp_path / "a.gpkg", {"risk_units": units.rename_axis("unit_id")}, {})
    after = units.copy()
    after.loc["C0", ["hazard_mining", "score"]] = [0.2, 0.7]
    b = write_gpkg(tmp_path / "b.gpkg", {"risk_units": after.rename_axis("unit_id")}, {})
    out = tmp_path / "cmp.gpkg"
    diff = tmp_path / "diff.html"
    assert main(["-q", "compare", str(a), str(b), "--out", str(out), "--map", str(diff)]) == 0
    assert "1 better" in capsys.readouterr().out
    from maps.interactive import read_map_layers

    feats = read_map_layers(diff.read_text(encoding="utf-8"))["change"]["data"]["features"]
    kinds = {f["properties"]["id"]: f["properties"]["k"] for f in feats}
    assert kinds["C0"] == "better" and set(kinds.values()) == {"better", "same"}
    got = gpd.read_file(out, layer="compare_units").set_index("unit_id")
    assert got.loc["C0", "change"] == "better" and "hazard mining -0.30" in got.loc["C0", "reasons"]
    assert "compare_summary" in set(pyogrio.list_layers(out)[:, 0])
    c = write_gpkg(tmp_path / "c.gpkg", {"risk_units": units.drop(index="C3").rename_axis("unit_id")}, {})
    assert main(["-q", "compare", str(a), str(c), "--out", str(tmp_path / "x.gpkg")]) == 2
    err = capsys.readouterr().err
    assert "c.gpkg" in err and "risk_units" in err and "Fix" in err
    assert main(["-q", "compare", str(a), str(tmp_path / "nope"), "--out", str(tmp_path / "y.gpkg")]) == 2


def test_cli_runs_two_scenarios_then_compares_them(
    units: gpd.GeoDataFrame, tmp_path, capsys, monkeypatch
) -> None:
    """Scenarios (a TOML, a GeoPackage without risk units) are run first, each into its folder."""
    from gis.atomic import write_gpkg
    from service import workflow
    from service.cli import main

    runs: list[tuple[str, str, str | None]] = []

    def fake_run(scenario, out_dir, *, units=None, standard=None, **_):  # the whole run is tested elsewhere
        runs.append((Path(scenario).name, Path(out_dir).name, units))
        risk = before if Path(scenario).suffix == ".toml" else after
        Path(out_dir).mkdir(parents=True)
        write_gpkg(Path(out_dir) / "risk.gpkg", {"risk_units": risk.rename_axis("unit_id")}, {})

    before = units
    after = units.copy()
    after.loc["C5", ["hazard_mining", "score", "level"]] = [0.5, 1.0, "blue"]
    monkeypatch.setattr(workflow, "run_scenario", fake_run)
    toml = tmp_path / "scenario.toml"
    toml.write_text('[scenario]\nname = "x"\n', encoding="utf-8")
    plain = write_gpkg(tmp_path / "plain.gpkg", {"fire_stations": units[["geometry"]]}, {})
    out = tmp_path / "cmp.gpkg"
    assert main(["-q", "compare", str(toml), str(plain), "--out", str(out), "--units", "grid:500"]) == 0
    printed = capsys.readouterr().out
    assert "Running the baseline scenario" in printed and "Running the other scenario" in printed
    assert runs == [("scenario.toml", "baseline", "grid:500"), ("plain.gpkg", "other", "grid:500")]
    assert (tmp_path / "cmp_runs" / "other" / "risk.gpkg").is_file()
    got = gpd.read_file(out, layer="compare_units").set_index("unit_id")
    assert got.loc["C5", "change"] == "better" and "level red -> blue" in got.loc["C5", "reasons"]


def test_grid_units_compare_their_own_response_times(units: gpd.GeoDataFrame) -> None:
    before = units.assign(response_time_s=[100.0, 200.0, 300.0, 400.0, 500.0, np.inf])
    after = before.assign(response_time_s=[100.0, 260.0, 300.0, 400.0, 500.0, 700.0])
    c = compare_units(before, after).units
    assert c["response_time_s_change"].tolist()[:5] == [0.0, 60.0, 0.0, 0.0, 0.0]
    assert c["response_time_s_after"].iloc[5] == 700.0


def _districts(split_x: float) -> gpd.GeoDataFrame:
    """Two station districts side by side, S1 west of ``split_x`` and S2 east of it."""
    return gpd.GeoDataFrame(
        {"station": ["S1", "S2"], "area_km2": [1.0, 1.0]},
        geometry=[shapely.box(-100, -100, split_x, 200), shapely.box(split_x, -100, 800, 200)],
        crs=32650,
    )


def test_the_serving_station_comes_from_the_station_districts(units: gpd.GeoDataFrame) -> None:
    """Grid-like units without coverage: the district a unit lies in gives its station."""
    c = compare_units(units, units.copy(), districts_before=_districts(300), districts_after=_districts(300))
    assert c.units["station_before"].tolist() == ["S1", "S1", "S1", "S2", "S2", "S2"]
    assert (c.units["reasons"] == "").all()
    # the districts in another CRS are reprojected; a moved border moves C3 (and only C3) to S1
    moved = _districts(400).to_crs(4326)
    c = compare_units(units, units.copy(), districts_before=_districts(300), districts_after=moved)
    assert c.units.loc["C3", "station_after"] == "S1"
    assert c.units.loc["C3", "reasons"] == "station district S2 -> S1"
    assert (c.units.drop(index="C3")["reasons"] == "").all()


def test_districts_take_the_place_of_the_nearest_station(
    units: gpd.GeoDataFrame, cover: pd.DataFrame
) -> None:
    """With coverage and districts both, the district decides the station (not ``nearest_station``)."""
    from planning.compare import Changes

    d_after = gpd.GeoDataFrame(
        {"station": ["S1", "S2", "N1"]},
        geometry=[
            shapely.box(-100, -100, 300, 200),
            shapely.box(300, -100, 500, 200),
            shapely.box(500, -100, 800, 200),
        ],
        crs=32650,
    )
    c = compare_units(
        units,
        units.copy(),
        coverage_before=cover,
        coverage_after=cover.copy(),
        districts_before=_districts(300),
        districts_after=d_after,
        changes=Changes(stations_added=("N1",)),
    )
    assert c.units.loc["C5", "station_before"] == "S2" and c.units.loc["C5", "station_after"] == "N1"
    assert c.units.loc["C5", "reasons"] == "served by the new station N1 (was S2)"
    assert c.in_lang("zh").units.loc["C5", "reasons"] == "由新建消防站N1服务（原S2）"


def test_reasons_name_the_measures_and_the_hazard_sources(units: gpd.GeoDataFrame) -> None:
    from planning.compare import Changes

    after = units.copy()
    after.loc["C1", ["vulnerability_factor", "score"]] = [0.9, 1.5]
    units = units.assign(vulnerability_factor=1.0)
    after["vulnerability_factor"] = after["vulnerability_factor"].fillna(1.0)
    after.loc["C4", ["hazard_mining", "score"]] = [1.0, 4.0]
    measures = pd.DataFrame(
        {
            "community_id": ["C1", "C1", "C9"],
            "measure": ["gas_alarm_valve", "city_own_thing", "fire_lane_clearing"],
        }
    ).assign(title=[None, "Fire blankets for every kitchen", None])
    hazards = gpd.GeoDataFrame(
        {
            "category": ["mining", "mining", "fuel_gas"],
            "name": ["West pit", "Far pit", "Gas"],
            "majors_closed": [2, 0, 1],
        },
        index=["M1", "M2", "G1"],
        geometry=[shapely.Point(450, 50), shapely.Point(5000, 50), shapely.Point(450, 60)],
        crs=32650,
    )
    c = compare_units(units, after, changes=Changes(measures=measures, hazards=hazards))
    why = c.units["reasons"]
    assert why["C1"] == (
        "measures: gas alarm fitted, Fire blankets for every kitchen; vulnerability factor 1.00 -> 0.90"
    )
    assert why["C4"].startswith(
        "hazard mining -1.50 (M1 West pit: open major hidden dangers closed (2), M2 Far pit)"
    )
    assert "G1" not in why["C4"]  # another category's source
    zh = c.in_lang("zh").units["reasons"]
    assert zh["C1"].startswith(
        "整改措施：安装燃气报警器及自动切断阀、Fire blankets for every kitchen；脆弱性系数"
    )
    assert zh["C4"].startswith("矿山危险源 -1.50（M1 West pit：2项重大事故隐患整改销号")


def test_a_run_folder_brings_its_coverage_and_districts(
    units: gpd.GeoDataFrame, cover: pd.DataFrame, tmp_path
) -> None:
    from gis.atomic import write_gpkg
    from planning.compare import compare_results

    for name, split in (("a", 300), ("b", 400)):
        (tmp_path / name).mkdir()
        write_gpkg(tmp_path / name / "risk.gpkg", {"risk_units": units.rename_axis("unit_id")}, {})
        comm = gpd.GeoDataFrame(cover, geometry=units.geometry.values, crs=units.crs).rename_axis("id")
        write_gpkg(
            tmp_path / name / "coverage.gpkg", {"communities": comm, "districts": _districts(split)}, {}
        )
    c = compare_results(tmp_path / "a", tmp_path / "b")
    assert "covered_residents_change" in c.units and c.units["covered_residents_change"].sum() == 0
    assert c.units.loc["C3", "reasons"] == "station district S2 -> S1"


def _what_if_layer(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "population": [100, 200, 300, 400, 500, 600],
            "response_before_s": [200.0, 250.0, 280.0, 300.0, 250.0, 500.0],
            "response_after_s": [200.0, 320.0, np.inf, 300.0, 240.0, 500.0],
            "covered_before": [True, True, True, True, True, False],
            "covered_after": [True, False, False, True, True, False],
            "cut_off": [False, False, True, False, False, False],
            "on_closed_road": [False, True, False, False, False, False],
            "nearest_before": ["S1"] * 6,
            "nearest_after": ["S1", "S2", None, "S1", "S1", "S1"],
        },
        index=units.index.rename("id"),
        geometry=units.geometry.values,
        crs=units.crs,
    )


def test_a_what_if_output_compares_from_its_difference_layer(
    units: gpd.GeoDataFrame, tmp_path, capsys
) -> None:
    from gis.atomic import write_gpkg
    from planning.compare import compare_what_if
    from service.cli import main

    c = compare_what_if(_what_if_layer(units), risk=units)
    u = c.units
    assert c.counts() == {"worse": 2, "better": 1, "same": 3}
    assert (
        u.loc["C1", "reasons"]
        == "no longer covered; station district S1 -> S2; its road closed; response time +70 s"
    )
    assert "cut off from every station" in u.loc["C2", "reasons"] and u.loc["C4", "change"] == "better"
    assert u["covered_residents_change"].sum() == -500 and (u["level_steps"] == 0).all()
    assert u.loc["C5", "level_before"] == "red"  # the baseline's levels, not re-scored
    wi = write_gpkg(tmp_path / "what_if.gpkg", {"what_if_communities": _what_if_layer(units)}, {})
    out, page = tmp_path / "wi_cmp.gpkg", tmp_path / "wi.html"
    assert main(["-q", "compare", str(wi), "--out", str(out), "--report", str(page), "--lang", "en"]) == 0
    assert "2 units worse, 1 better" in capsys.readouterr().out
    got = gpd.read_file(out, layer="compare_units").set_index("unit_id")
    assert got.loc["C1", "change"] == "worse"
    assert "no longer covered" in page.read_text(encoding="utf-8")
    assert main(["-q", "compare", str(tmp_path / "nope.gpkg"), "--out", str(tmp_path / "z.gpkg")]) == 2
    assert "what-if" in capsys.readouterr().err
