"""The composite risk model on the demo city: ranking, breakdown, output, bad input."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from shapely import Point

from gis import InputError, demo_city
from risk_models import LEVELS, score_scenario
from service.cli import main

X0, Y0 = 658640.0, 4233309.0  # south-west corner of the demo city's study area


@pytest.fixture(scope="module")
def city() -> dict[str, gpd.GeoDataFrame]:
    return demo_city(n_road_nodes=2000)


def _zone(units: gpd.GeoDataFrame) -> np.ndarray:
    p = units.geometry.representative_point()
    x, y = p.x - X0, p.y - Y0
    park = (x > 11500) & (x < 14700) & (y > 500) & (y < 4300)  # gis/data/demo_city.toml
    hills = (x < 2000) & (y > 5500)
    return np.where(park, "industrial", np.where(hills, "mining", "city"))


def test_industrial_park_and_mining_area_rank_highest(city: dict) -> None:
    res = score_scenario(city, units="grid:500", learn=False)
    zone = _zone(res.units)
    mean = res.units.groupby(zone)["score"].mean()
    assert mean["industrial"] > 5 * mean["city"]
    assert mean["mining"] > 5 * mean["city"]
    top = zone[np.argsort(-res.units["score"].to_numpy())[: len(zone) // 20]]
    assert np.isin(top, ["industrial", "mining"]).mean() >= 0.7
    by_district = (
        score_scenario(city, learn=False)
        .units.join(city["communities"]["district"])
        .groupby("district")["score"]
        .mean()
        .sort_values(ascending=False)
    )
    assert set(by_district.index[:2]) == {"Industrial Park", "Mining Area"}


def test_breakdown_adds_up_and_levels(city: dict) -> None:
    res = score_scenario(city, learn=False)
    u = res.units
    cats = [c for c in u.columns if c.startswith("hazard_") and c != "hazard_vs_median"]
    np.testing.assert_allclose(u[cats].sum(axis=1), u["hazard"])
    prod = u["hazard"] * u["exposure_factor"] * u["vulnerability_factor"] * u["response_factor"]
    np.testing.assert_allclose(prod, u["score"])
    shares = u[[c for c in u.columns if c.startswith("share_")]].sum(axis=1)
    assert np.allclose(shares[u["hazard"] > 0], 1.0)
    assert set(u["level"].astype(str)) <= set(LEVELS)
    assert u.loc[u["score"].idxmax(), "level"] == "red"
    top = res.top(5)
    assert top["rank"].tolist() == [1, 2, 3, 4, 5]
    assert top["reasons"].str.contains("hazard .*x median").all()
    assert any("Response capacity not included" in n for n in res.notes)


def test_response_times_raise_risk_where_slow(city: dict) -> None:
    base = score_scenario(city, learn=False)
    ids = city["communities"]["id"]
    times = pd.Series(300.0, index=ids.to_numpy())
    times.iloc[0] = 900.0
    times.iloc[1] = np.inf
    res = score_scenario(city, learn=False, response_time_s=times)
    u = res.units
    assert u.loc[ids.iloc[0], "response_factor"] == 2.0 and u.loc[ids.iloc[1], "response_factor"] == 2.0
    assert u.loc[ids.iloc[2], "score"] == pytest.approx(base.units.loc[ids.iloc[2], "score"])
    assert not any("not included" in n for n in res.notes)
    cell_times = []

    def per_cell(units):  # a function of the scored units, as planning.unit_response_times
        cell_times.append(pd.Series(np.arange(len(units), dtype=float) * 10.0, index=units.index))
        return cell_times[-1]

    grid = score_scenario(city, units="grid:1000", learn=False, response_time_s=per_cell)
    assert grid.units["response_time_s"].equals(cell_times[0].rename("response_time_s"))
    assert grid.units["response_factor"].notna().all()
    with pytest.raises(InputError, match="not from the community it lies in"):
        score_scenario(city, units="grid:1000", learn=False, response_time_s=times)


def test_learned_mode_reports_skill_and_hotspots(city: dict) -> None:
    res = score_scenario(city)
    assert list(res.skill.index) == ["index", "poisson_glm", "hist_gradient_boosting"]
    assert {"poisson_deviance", "spearman", "top_share_incidents"} <= set(res.skill.columns)
    assert res.skill["spearman"].min() > 0.3
    assert res.units["incidents"].sum() > 2500
    assert (res.units["hotspot"] == "hot").any()


def test_write_and_cli(city: dict, tmp_path) -> None:
    res = score_scenario(city, units="h3:8", learn=False)
    out = res.write(tmp_path / "risk.gpkg")
    layers = set(pyogrio.list_layers(out)[:, 0])
    assert {"risk_units", "risk_hazards", "risk_top", "risk_notes"} <= layers
    back = gpd.read_file(out, layer="risk_units")
    assert len(back) == len(res.units) and back["unit_id"].is_unique


def test_cli_risk(tmp_path, capsys) -> None:
    from gis import write_demo_scenario

    gpkg = write_demo_scenario(tmp_path / "demo.gpkg", n_road_nodes=2000)
    assert (
        main(
            [
                "risk",
                str(gpkg),
                "--units",
                "grid:1000",
                "--out",
                str(tmp_path / "r.gpkg"),
                "--top",
                "3",
                "--no-learn",
                "--lang",
                "en",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "Top 3 units" in out and "hazard" in out
    assert "Response capacity not included" not in out  # response times from cn-gb51080 by default
    args = [
        "risk",
        str(gpkg),
        "--out",
        str(tmp_path / "n.gpkg"),
        "--standard",
        "none",
        "--no-learn",
        "--lang",
        "en",
    ]
    assert main(args) == 0
    assert "note: Response capacity not included" in capsys.readouterr().out
    assert main(["risk", str(gpkg), "--units", "hex:9", "--out", str(tmp_path / "x.gpkg")]) == 2
    assert not (tmp_path / "x.gpkg").exists()


# ---------------------------------------------------------------------------- bad input


def test_unknown_category_is_named(city: dict) -> None:
    bad = dict(city)
    hz = city["hazards"].copy()
    hz.loc[hz.index[3], "category"] = "chemicals"
    bad["hazards"] = hz
    with pytest.raises(InputError, match=r"rows \['H0004'\], column `category`.*chemicals"):
        score_scenario(bad, learn=False)


def test_missing_census_column_takes_its_default_and_says_so(city: dict) -> None:
    bad = dict(city)
    bad["communities"] = city["communities"].drop(columns="share_gas_supply")
    res = score_scenario(bad, learn=False)
    note = next(n for n in res.notes if n.startswith("ASSUMED CENSUS"))
    assert "`share_gas_supply`" in note and "95.0%" in note and "weight to 0" in note
    assert (res.units["vuln_share_gas_supply"] == 0.95).all()  # default / saturation 1.0
    res = score_scenario(
        bad,
        learn=False,
        risk_weights={"vulnerability": {"indicators": {"share_gas_supply": {"weight": 0.0}}}},
    )
    assert "vuln_share_gas_supply" not in res.units.columns


def test_hazards_outside_study_area(city: dict) -> None:
    bad = dict(city)
    far = city["hazards"].copy()
    far["geometry"] = far.geometry.translate(200_000, 0)
    bad["hazards"] = far
    res = score_scenario(bad, learn=False)  # risk then rests on exposure, vulnerability, response
    assert (res.units["hazard"] == 1.0).all()
    assert any("No hazard source reaches the study area (nearest 1" in n for n in res.notes)
    some = city["hazards"].copy()
    some.loc[some.index[:2], "geometry"] = [Point(X0 - 50_000, Y0), Point(X0 - 300, Y0 + 5000)]
    bad["hazards"] = some
    res = score_scenario(bad, learn=False)
    assert any("2 hazards lie outside the study area; 1 of them" in n and "H0001" in n for n in res.notes)


def test_zero_population_units_are_reported(city: dict) -> None:
    bad = dict(city)
    comm = city["communities"].copy()
    comm.loc[comm.index[:3], "population"] = 0.0
    bad["communities"] = comm
    res = score_scenario(bad, learn=False)
    note = next(n for n in res.notes if "no residents" in n)
    assert "3 units" in note and "C001" in note
    assert (res.units.loc[["C001", "C002", "C003"], "score"] == 0).all()
    assert (res.units.loc[["C001", "C002", "C003"], "hazard"] >= 0).all()


def test_incidents_without_overlap(city: dict) -> None:
    bad = dict(city)
    bad["incidents"] = city["incidents"].set_geometry(city["incidents"].geometry.translate(0, 500_000))
    with pytest.raises(InputError, match=r"Layer `incidents`.*no point inside the units"):
        score_scenario(bad)


def test_bad_weights_and_units() -> None:
    from risk_models import load_weights

    with pytest.raises(InputError, match=r"categories.*chemicals"):
        load_weights({"categories": {"chemicals": {"weight": 1.0, "bandwidth_m": 100.0}}})
    with pytest.raises(InputError, match="bandwidth_m"):
        load_weights({"categories": {"mining": {"bandwidth_m": 0}}})
    with pytest.raises(InputError, match="grid:METRES"):
        score_scenario({}, units="grid:-5")
