"""Natural hazards in the risk map (issue 19): rasters and zones per unit, exceedance, the composite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely import Point, box

import gis
from gis.demo.natural import demo_natural_hazards, write_demo_natural_hazards
from gis.errors import InputError
from gis.rasters import zonal_means
from risk_models import score_scenario
from risk_models.natural import (
    NaturalExposure,
    NaturalHazards,
    expected_annual,
    impact_curve,
    load_natural_table,
    natural_exposure,
    natural_terms,
    read_natural_hazards,
)
from risk_models.sensitivity import Rescorer, apply_parameters, natural_overrides, uncertain_parameters

rasterio = pytest.importorskip("rasterio", reason="rasterio is not installed")
pytest.importorskip("exactextract", reason="exactextract is not installed")
from rasterio.transform import Affine  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CRS = 32649


def _tif(path: Path, grid: np.ndarray, *, x0: float = 0.0, y0: float = 0.0, px: float = 100.0) -> Path:
    """A float32 GeoTIFF with its top-left corner at (x0, y0 + rows x px)."""
    transform = Affine(px, 0, x0, 0, -px, y0 + grid.shape[0] * px)
    with rasterio.open(
        path, "w", driver="GTiff", width=grid.shape[1], height=grid.shape[0], count=1,
        dtype="float32", crs=f"EPSG:{CRS}", transform=transform, nodata=-9999.0,
    ) as dst:  # fmt: skip
        dst.write(grid.astype(np.float32), 1)
    return path


def _units(*boxes: tuple[float, float, float, float], population: float = 1000.0) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"population": [population] * len(boxes)},
        geometry=[box(*b) for b in boxes],
        crs=CRS,
        index=[f"U{i}" for i in range(len(boxes))],
    )


# -- rasters over polygons ---------------------------------------------------------------------


def test_zonal_means_weight_pixels_by_the_share_covered_and_fill_off_raster_parts(tmp_path: Path) -> None:
    tif = _tif(tmp_path / "d.tif", np.array([[1.0, 3.0], [-9999.0, 5.0]]))
    polys = _units(
        (0, 0, 200, 200),  # the whole raster: (1 + 3 + 0 + 5) / 4
        (0, 100, 150, 200),  # pixel 1 whole, half of pixel 3: (1 x 1 + 0.5 x 3) / 1.5
        (100, 0, 300, 100),  # pixel 5 and a pixel off the raster (fill 0)
        (500, 500, 600, 600),  # off the raster
    )
    out = zonal_means(polys, tif, {"v": lambda v: v, "wet": lambda v: (v > 0.15) * 1.0})
    np.testing.assert_allclose(out["v"], [9 / 4, 2.5 / 1.5, 2.5, 0.0])
    np.testing.assert_allclose(out["wet"], [3 / 4, 1.0, 0.5, 0.0])
    reprojected = zonal_means(polys.to_crs(4326), tif, {"v": lambda v: v})
    np.testing.assert_allclose(reprojected["v"], out["v"], rtol=1e-3, atol=1e-6)


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_a_missing_or_crs_less_raster_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"does not exist\. Fix"):
        zonal_means(
            _units((0, 0, 1, 1)), tmp_path / "none.tif", {"v": lambda v: v}, what="Flood depth raster"
        )
    bad = tmp_path / "nocrs.tif"
    with rasterio.open(bad, "w", driver="GTiff", width=1, height=1, count=1, dtype="float32") as dst:
        dst.write(np.ones((1, 1, 1), dtype=np.float32))
    with pytest.raises(gis.CRSError, match=r"no CRS\. Fix"):
        zonal_means(_units((0, 0, 1, 1)), bad, {"v": lambda v: v})


# -- the exceedance curve ----------------------------------------------------------------------


def test_expected_annual_impact_is_the_hand_computed_area_under_the_curve() -> None:
    # impacts 0.2 / 0.5 / 0.8 at 10 / 50 / 100 years; no harm at 2 years; constant beyond 100
    got = expected_annual({100: [0.8], 10: [0.2], 50: [0.5]})
    hand = (
        (0.5 - 0.1) * 0.2 / 2 + (0.1 - 0.02) * (0.2 + 0.5) / 2 + (0.02 - 0.01) * (0.5 + 0.8) / 2 + 0.01 * 0.8
    )
    assert got[0] == pytest.approx(hand, rel=1e-12)
    assert expected_annual({10: [0.0], 100: [0.0]})[0] == 0.0
    with pytest.raises(InputError, match="Return period `ten`"):
        expected_annual({"ten": [1.0]})


def test_flood_impacts_per_unit_integrate_the_curves(tmp_path: Path) -> None:
    # one pixel-sized unit under 1 m at 10 years and 2 m at 100 years, one dry unit
    d10 = _tif(tmp_path / "f10.tif", np.array([[1.0, 0.0]]))
    d100 = _tif(tmp_path / "f100.tif", np.array([[2.0, 0.1]]))
    units = _units((0, 0, 100, 100), (100, 0, 200, 100))
    exp = natural_exposure(units, NaturalHazards({10: d10, "100": d100}))
    u = exp.units
    t = load_natural_table()
    damage, deaths = impact_curve(t["flood"]["building_damage"]), impact_curve(t["flood"]["mortality"])
    ann = lambda i10, i100: (0.5 - 0.1) * i10 / 2 + (0.1 - 0.01) * (i10 + i100) / 2 + 0.01 * i100  # noqa: E731
    assert u.loc["U0", "eae_share_flood"] == pytest.approx(ann(1.0, 1.0))
    assert u.loc["U0", "eae_damage_flood"] == pytest.approx(ann(0.49, 0.72))
    d1, d2 = float(deaths(np.array([1.0]))[0]), float(deaths(np.array([2.0]))[0])
    assert u.loc["U0", "eae_deaths_flood"] == pytest.approx(1000 * ann(d1, d2))
    assert u.loc["U0", "eae_affected_flood"] == pytest.approx(1000 * ann(1.0, 1.0))
    assert u.loc["U1", "eae_share_flood"] == 0.0  # 0.1 m is below the 0.15 m threshold
    assert u.loc["U1", "eae_damage_flood"] > 0.0  # but wets the ground floor
    assert u.loc["U0", "flood_affected_rp10"] == 1.0 and "flood_damage_rp100" in u
    assert damage(np.array([1.0]))[0] == 0.49


def test_zones_count_the_higher_grade_where_they_overlap_and_points_as_circles() -> None:
    units = _units((0, 0, 1000, 1000), (5000, 5000, 6000, 6000))
    zones = gpd.GeoDataFrame(
        {"hazard_type": ["landslide", "collapse", "forest_fire"], "grade": ["high", "very_high", "V"]},
        geometry=[box(0, 0, 1000, 500), box(0, 0, 1000, 250), Point(5500, 5500)],
        crs=CRS,
    )
    exp = natural_exposure(units, NaturalHazards(zones=zones)).units
    # a quarter at very high (0.01), the next quarter at high (0.002)
    assert exp.loc["U0", "eae_share_geological"] == pytest.approx(0.25 * 0.01 + 0.25 * 0.002)
    circle = np.pi * 500.0**2 / 1e6  # the wildfire point's 500 m circle, inside U1
    assert exp.loc["U1", "eae_share_wildfire"] == pytest.approx(circle * 0.005, rel=3e-3)
    assert exp.loc["U0", "eae_affected_geological"] == pytest.approx(1000 * (0.0025 + 0.0005))


@pytest.mark.parametrize(
    ("zones", "message"),
    [
        ({"hazard_type": ["tsunami"], "grade": ["high"]}, "rows 0 have a `hazard_type`"),
        ({"hazard_type": ["landslide"], "grade": ["extreme"]}, r"rows 0 \(geological\) have a `grade`"),
        ({"grade": ["high"]}, "lack the column"),
    ],
)
def test_bad_zones_name_the_rows_and_the_fix(zones: dict, message: str) -> None:
    gdf = gpd.GeoDataFrame(zones, geometry=[box(0, 0, 10, 10)], crs=CRS)
    with pytest.raises(InputError, match=message) as err:
        natural_exposure(_units((0, 0, 10, 10)), NaturalHazards(zones=gdf))
    assert "Fix:" in str(err.value)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"flood": {"building_damage": {"kind": "table", "x": [0, 1], "y": [0.5, 0.2]}}}, "never fall"),
        ({"flood": {"mortality": {"kind": "spline"}}}, "use one of table, lognormal"),
        ({"zones": {"geological": {"annual_probability": {"high": 2.0}}}}, "probability in 0..1"),
        ({"integration": {"beyond_largest": "linear"}}, '"constant" or "none"'),
    ],
)
def test_a_bad_table_names_the_entry_and_the_fix(override: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        load_natural_table(override)


# -- the composite -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def city() -> dict[str, Any]:
    return gis.demo_city(n_road_nodes=2000)


@pytest.fixture(scope="module")
def demo_nat(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_demo_natural_hazards(tmp_path_factory.mktemp("natural"))


@pytest.fixture(scope="module")
def scored(city: dict[str, Any], demo_nat: Path):
    nat, _ = read_natural_hazards(demo_nat)
    return score_scenario(city, learn=False), score_scenario(city, learn=False, natural_hazards=nat)


def test_adding_natural_hazards_never_lowers_a_score_and_shows_in_the_breakdown(scored) -> None:
    base, both = scored
    assert (both.units["score"] >= base.units["score"] * (1 - 1e-12)).all()
    assert (both.units["hazard_flood"] > 0).any() and (both.units["hazard_geological"] > 0).any()
    parts = [c for c in both.units.columns if c.startswith("share_")]
    hazardous = both.units["hazard"] > 0
    np.testing.assert_allclose(both.units.loc[hazardous, parts].sum(axis=1), 1.0)
    wet = both.units["share_flood"].idxmax()
    assert "flood" in both.top(len(both.units)).loc[wet, "reasons"]
    assert any("Floods (synthetic)" in n for n in both.notes)


def test_zero_intensity_hazards_change_nothing(city: dict[str, Any], tmp_path: Path) -> None:
    base = score_scenario(city, learn=False, units="grid:1500")
    dry = np.zeros((3, 3))
    xmin, ymin, xmax, ymax = base.units.total_bounds
    px = max(xmax - xmin, ymax - ymin) / 3
    floods = {t: _tif(tmp_path / f"dry{t}.tif", dry, x0=xmin, y0=ymin, px=px) for t in (10, 100)}
    far = gpd.GeoDataFrame(
        {"hazard_type": ["landslide"], "grade": ["high"]}, geometry=[box(0, 0, 1, 1)], crs=CRS
    )
    res = score_scenario(city, learn=False, units="grid:1500", natural_hazards=NaturalHazards(floods, far))
    np.testing.assert_array_equal(res.units["score"].to_numpy(), base.units["score"].to_numpy())
    assert (res.units["level"] == base.units["level"]).all()
    assert (res.units["eae_affected_flood"] == 0).all()


def test_the_rescorer_keeps_the_natural_terms(scored) -> None:
    _, both = scored
    params, _ = uncertain_parameters(
        both.risk_weights, categories=list(both.inputs.hazards["category"].unique())
    )
    x = np.array([[p.value for p in params]])
    got = Rescorer(both, params).scores(x)[0]
    np.testing.assert_allclose(got, both.units["score"].to_numpy(float), rtol=1e-12)


def test_natural_terms_scale_by_their_weights() -> None:
    exp = NaturalExposure(pd.DataFrame({"eae_share_geological": [0.002]}), (), ("geological",))
    out = natural_terms(exp, table={"composite": {"weights": {"geological": 5.0}}})
    assert out["hazard_geological"].iloc[0] == pytest.approx(5.0 * 0.002 / 0.01)


# -- the demo city's synthetic layers and the command line -------------------------------------


def test_the_demo_city_floods_along_its_river_and_slides_in_its_hills(city: dict[str, Any]) -> None:
    nat = demo_natural_hazards()
    again = demo_natural_hazards()
    assert all(np.array_equal(nat.depth[t], again.depth[t]) for t in nat.depth)
    assert (nat.depth[100.0] >= nat.depth[50.0]).all() and (nat.depth[50.0] >= nat.depth[10.0]).all()
    river = city["barriers"].set_index("kind").geometry["river"]
    assert nat.zones.geometry.distance(river).min() > 3000  # the hills are far west of the river
    assert set(nat.zones["source"]) == {"synthetic (riskplan demo city)"}
    bounds = city["study_area"].total_bounds
    zb = nat.zones.total_bounds
    assert zb[0] >= bounds[0] - 1 and zb[2] <= bounds[0] + 4000


def test_riskplan_risk_takes_the_natural_hazards_and_refuses_a_bad_table(
    city: dict[str, Any], demo_nat: Path, tmp_path: Path
) -> None:
    scenario = gis.write_demo_scenario(tmp_path / "demo.gpkg", n_road_nodes=2000)
    out = tmp_path / "risk.gpkg"
    cmd = [sys.executable, "-m", "service.cli", "risk", str(scenario), "--out", str(out), "--no-learn"]
    cmd += ["--lang", "en"]
    run = subprocess.run(
        [*cmd, "--natural", str(demo_nat), "--standard", "none"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "Floods (synthetic)" in run.stdout
    layer = gpd.read_file(out, layer="risk_units")
    assert {"eae_affected_flood", "hazard_geological"} <= set(layer.columns)
    bad = tmp_path / "bad.toml"
    bad.write_text('[natural_hazards]\nzones = "nowhere.gpkg"\n')
    out2 = tmp_path / "risk2.gpkg"
    run = subprocess.run(
        [*cmd[:-3], "--out", str(out2), "--natural", str(bad)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert run.returncode == 2 and "nowhere.gpkg" in run.stderr and "Fix" in run.stderr
    assert not out2.exists()


def _scenario_toml(base: Path, natural: str) -> Path:
    gpkg = gis.write_demo_scenario(base / "demo_city.gpkg", n_road_nodes=2000)
    layers = ("roads", "hazards", "communities", "fire_stations")
    text = '[scenario]\nname = "Demo City (synthetic)"\nsynthetic = true\n\n'
    text += "".join(f'[layers.{n}]\npath = "{gpkg.name}"\nlayer = "{n}"\n' for n in layers)
    toml = base / "scenario.toml"
    toml.write_text(text + "\n" + natural, encoding="utf-8")
    return toml


def test_the_run_takes_the_scenario_tomls_natural_hazards(tmp_path: Path) -> None:
    from service.workflow import assess, natural_inputs, run_scenario

    nat = write_demo_natural_hazards(tmp_path)
    block = nat.read_text(encoding="utf-8").split("[natural_hazards]", 1)[1]
    toml = _scenario_toml(tmp_path, "[natural_hazards]" + block)
    scenario = gis.load_scenario(toml)
    natural = natural_inputs(scenario)
    assert natural[0] is not None and sorted(natural[0].flood_depth) == [10.0, 50.0, 100.0]
    _, risk = assess(scenario, natural=natural, learn=False, cache=False)
    assert (risk.units["eae_affected_flood"] > 0).any() and "hazard_geological" in risk.units
    bad = _scenario_toml(tmp_path / "bad", '[natural_hazards]\nzones = "missing.gpkg"\n')
    out = tmp_path / "out"
    with pytest.raises(InputError, match=r"missing\.gpkg"):
        run_scenario(bad, out, cache=False)
    assert not any(p.suffix in (".gpkg", ".html", ".json") for p in out.rglob("*"))
    worse = _scenario_toml(tmp_path / "worse", "[sensitivity]\nsamples = 0\n")  # also read first
    with pytest.raises(InputError, match="sensitivity"):
        run_scenario(worse, out, cache=False)
    assert not any(p.suffix in (".gpkg", ".html", ".json") for p in out.rglob("*"))


def test_the_natural_weights_are_sampled_and_rescored_exactly(city: dict[str, Any], scored, demo_nat) -> None:
    """The composite weights of the natural hazards are uncertain figures too; the re-scorer's
    answer at other weights is score_scenario's with those weights in the natural table."""
    _, both = scored
    inputs = both.inputs
    assert inputs.natural_weights == {"flood": 20.0, "geological": 20.0}
    params, _ = uncertain_parameters(
        both.risk_weights,
        categories=list(inputs.hazards["category"].unique()),
        natural=inputs.natural_weights,
    )
    names = [p.name for p in params]
    assert {"natural.flood.weight", "natural.geological.weight"} <= set(names)
    flood = params[names.index("natural.flood.weight")]
    assert (flood.low, flood.high, flood.value) == (10.0, 30.0, 20.0)
    r = Rescorer(both, params)
    nat, _ = read_natural_hazards(demo_nat)
    rng = np.random.default_rng(5)
    values = [p.value for p in params]
    for n in ("natural.flood.weight", "natural.geological.weight"):
        i = names.index(n)
        values[i] = rng.uniform(params[i].low, params[i].high)
    slow = score_scenario(
        city,
        learn=False,
        natural_hazards=nat,
        risk_weights=apply_parameters(both.risk_weights, params, values),
        natural_table=natural_overrides(params, values),
    ).units
    np.testing.assert_allclose(r.scores(np.array([values]))[0], slow["score"].to_numpy(float), rtol=1e-12)
    # without natural hazards the entry names nothing and is noted, not an error
    base, _ = scored
    params0, notes0 = uncertain_parameters(base.risk_weights, categories=["mining"])
    assert not any(p.name.startswith("natural.") for p in params0)
    assert any("no natural hazard" in n for n in notes0)


# -- relief depots plan for the residents a flood displaces -----------------------------------------


def test_relocation_demand_follows_the_flooded_population(
    city: dict[str, Any], scored, demo_nat: Path
) -> None:
    from planning import plan_depots, relocation_demand

    without, res = scored  # communities, without and with the demo's natural hazards
    com = city["communities"]
    base = relocation_demand(com, risk=res)
    flood = relocation_demand(com, risk=res, flood_return_period=100)
    displaced = com["population"].astype(float) * res.units["flood_affected_rp100"].reindex(com.index)
    np.testing.assert_allclose(flood["flood_displaced"], displaced.to_numpy())
    np.testing.assert_allclose(flood["relocate_people"], np.maximum(base["relocate_people"], displaced))
    by_flood = flood["relocate_basis"] == "flood 100-year"
    assert (
        by_flood.any()
        and (flood.loc[by_flood, "flood_displaced"] > base.loc[by_flood, "relocate_people"]).all()
    )
    assert (flood.loc[~by_flood, "relocate_people"] == base.loc[~by_flood, "relocate_people"]).all()
    # a rarer flood displaces at least as many
    ten = relocation_demand(com, risk=res, flood_return_period=10)
    assert flood["flood_displaced"].sum() >= ten["flood_displaced"].sum()
    with pytest.raises(InputError, match=r"25-year flood.*return periods 10, 50, 100 \(years\)"):
        relocation_demand(com, risk=res, flood_return_period=25)
    with pytest.raises(InputError, match="no flood figures"):
        relocation_demand(com, risk=without, flood_return_period=100)
    scenario = gis.load_scenario(
        gis.write_demo_scenario(Path(demo_nat).parent / "demo.gpkg", n_road_nodes=2000)
    )
    plan = plan_depots(scenario, None, risk=res, distance="euclidean", flood_return_period=100)
    np.testing.assert_allclose(plan.communities["relocate_people"], flood["relocate_people"].to_numpy())
    assert "100-year flood sets the demand" in plan.report()


def test_the_relocation_return_period_must_be_one_of_the_rasters(tmp_path: Path) -> None:
    nat = write_demo_natural_hazards(tmp_path)
    text = nat.read_text(encoding="utf-8")
    good = tmp_path / "good.toml"
    good.write_text(text.replace("[natural_hazards]", "[natural_hazards]\nrelocation_return_period = 50", 1))
    found = read_natural_hazards(good)
    assert found is not None and found[0].relocation_return_period == 50.0
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("[natural_hazards]", "[natural_hazards]\nrelocation_return_period = 20", 1))
    with pytest.raises(
        InputError, match=r"relocation_return_period` is 20\. Fix: .*\[10\.0, 50\.0, 100\.0\]"
    ):
        read_natural_hazards(bad)


def test_riskplan_depots_plans_for_the_scenarios_flood(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from service.cli import main

    nat = write_demo_natural_hazards(tmp_path)
    block = nat.read_text(encoding="utf-8").split("[natural_hazards]", 1)[1]
    toml = _scenario_toml(tmp_path, "[natural_hazards]\nrelocation_return_period = 100" + block)
    text = toml.read_text(encoding="utf-8")
    toml.write_text(text.replace('[layers.fire_stations]', '[layers.depots]\npath = "demo_city.gpkg"\n'
                                 'layer = "depots"\n\n[layers.fire_stations]'), encoding="utf-8")  # fmt: skip
    out = tmp_path / "depots.gpkg"
    assert (
        main(["-q", "depots", str(toml), "--out", str(out), "--distance", "euclidean", "--lang", "en"]) == 0
    )
    assert "100-year flood sets the demand" in capsys.readouterr().out
    assert "flood_displaced" in gpd.read_file(out, layer="communities")
    bad = tmp_path / "bad.gpkg"
    assert main(["-q", "depots", str(toml), "--out", str(bad), "--no-risk", "--lang", "en"]) == 2
    assert "drop `--no-risk`" in capsys.readouterr().err and not bad.exists()
