"""`riskplan init`: a scenario from an OSM extract, against a little city whose figures are known.

The city (tests/osm_xml.py ``little_city``) is built in metres so that areas, footprints and
residents can be computed by hand; every message is checked for its wording and exit code 2.
"""

from __future__ import annotations

import bz2
import json
import tomllib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import rasterio
from osm_xml import OsmXml, little_city, lonlat, street_grid
from rasterio.transform import Affine
from shapely import Point, box

from gis import InputError, load_scenario
from gis.extract import scenario_from_osm
from gis.population import raster_population
from service.cli import main

# residents by hand (see little_city): A 10 x 1600 m2 x 6 levels / 40 m2; B 0.16 km2 x 10,000;
# C 0.08 km2 x 10,000 (its one office covers 0.5 % < 5 %: density)
EXPECTED = {"A": ("buildings", 2400.0), "B": ("density", 1600.0), "C": ("density", 800.0)}


@pytest.fixture(scope="module")
def city_osm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return little_city().write(tmp_path_factory.mktemp("osm") / "little.osm")


@pytest.fixture(scope="module")
def built(city_osm: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("init") / "little"
    report = scenario_from_osm(city_osm, out)
    return report, load_scenario(report.scenario_path)


def _layer(report, name: str) -> gpd.GeoDataFrame:  # type: ignore[no-untyped-def]
    return gpd.read_file(report.layers_path, layer=name, engine="pyogrio")


def test_layers_written_and_valid(built) -> None:  # type: ignore[no-untyped-def]
    report, scenario = built
    assert sorted(p.name for p in report.scenario_path.parent.iterdir()) == ["layers.gpkg", "scenario.toml"]
    assert scenario.roads.kind == "osm" and scenario.roads.path == report.osm_path.resolve()
    assert scenario.crs.to_epsg() == 32649
    assert report.counts["fire_stations"] == 3 and report.counts["communities"] == 3
    assert {"study_area", "barriers", "sensitive_sites", "hazards"} <= set(scenario.layers)
    assert "candidate_sites" not in scenario and "depots" not in scenario


def test_roads_are_the_osm_file_itself(built) -> None:  # type: ignore[no-untyped-def]
    report, _ = built
    doc = tomllib.loads(report.scenario_path.read_text(encoding="utf-8"))
    assert doc["layers"]["roads"] == {"path": str(report.osm_path.resolve())}
    assert Path(doc["layers"]["roads"]["path"]).is_absolute()
    assert doc["layers"]["communities"] == {"path": "layers.gpkg", "layer": "communities"}
    assert doc["scenario"]["metric_crs"] == "EPSG:32649"
    # drivable ways only: the footway is left out (the graph builder's filter)
    assert report.counts["roads (drivable ways)"] == 10 + 2


def test_fire_stations_are_points_inside_their_footprints(built) -> None:  # type: ignore[no-untyped-def]
    _, scenario = built
    st = scenario["fire_stations"]
    assert set(st.geom_type) == {"Point"} and (st["grade"] == "grade1").all()
    assert sorted(st["name"]) == sorted(["Station One", "Three", f"fire station {st.index[1]}"])
    assert any("no known grade: set to `grade1`" in n for n in scenario.notes)


def test_hazards_by_rule_with_size_by_footprint(built) -> None:  # type: ignore[no-untyped-def]
    _, scenario = built
    hz = scenario["hazards"].set_index("hazard_rule")
    got = hz[["category", "size_class"]].sort_index().to_dict("index")
    assert got == {
        "chemical_works": {"category": "hazardous_chemicals", "size_class": "medium"},  # 2 ha
        "fuel_station": {"category": "fuel_gas", "size_class": "small"},  # a node
        "lpg_shop": {"category": "fuel_gas", "size_class": "small"},
        "quarry": {"category": "mining", "size_class": "large"},  # 9 ha
        "tank_oil": {"category": "hazardous_chemicals", "size_class": "small"},  # 900 m2
    }
    assert hz.loc["lpg_shop", "name"].startswith("LPG shop n")  # untagged: label and id
    assert hz.loc["quarry", "footprint_m2"] == pytest.approx(90_000, rel=0.01)


def test_communities_and_population_by_hand(built) -> None:  # type: ignore[no-untyped-def]
    report, scenario = built
    com = scenario["communities"].set_index("name")
    assert report.community_method == "landuse=residential"
    for name, (source, residents) in EXPECTED.items():
        assert com.loc[name, "population_source"] == source
        assert com.loc[name, "population"] == pytest.approx(residents, rel=0.01), name
    assert report.population_sources == {"density": 2, "buildings": 1}
    note = next(n for n in scenario.notes if n.startswith("Population is an estimate"))
    assert "1 from OSM buildings" in note and "2 from their area x 10,000 residents per km2" in note


def test_population_total_is_met_and_said(city_osm: Path, tmp_path: Path) -> None:
    report = scenario_from_osm(city_osm, tmp_path / "out", population_total=12_345)
    com = _layer(report, "communities").set_index("name")
    assert com["population"].sum() == pytest.approx(12_345, rel=0.005)
    ratio = 12_345 / sum(r for _, r in EXPECTED.values())
    assert com.loc["A", "population"] == pytest.approx(2400 * ratio, rel=0.01)
    assert set(com["population_source"]) == {"buildings_scaled", "density_scaled"}
    assert any("to the given total of 12,345 (`--population-total`)" in n for n in report.notes)


def test_sensitive_sites_barriers_and_study_area(built) -> None:  # type: ignore[no-untyped-def]
    _, scenario = built
    ss = scenario["sensitive_sites"].set_index("kind")
    assert sorted(ss.index) == ["hospital", "school"]
    assert (
        ss.loc["school", "name"].startswith("school n") and ss.loc["hospital", "name"] == "People's Hospital"
    )
    kinds = scenario["barriers"]["kind"].value_counts().to_dict()
    assert kinds == {"river": 1, "railway": 1, "expressway": 1}  # the siding and the link are not barriers
    area = scenario["study_area"].geometry.iloc[0]
    assert area.contains(scenario["communities"].union_all())


def test_notes_reach_the_toml_and_the_scenario(built) -> None:  # type: ignore[no-untyped-def]
    report, scenario = built
    doc = tomllib.loads(report.scenario_path.read_text(encoding="utf-8"))
    assert tuple(doc["scenario"]["notes"]) == report.notes == scenario.notes
    text = " ".join(report.notes)
    assert "No candidate sites layer: the station-planning stage generates candidates" in text
    assert "No relief depots: OpenStreetMap does not map them; give `--depots FILE`" in text
    meta = pyogrio.read_dataframe(report.layers_path, layer="metadata", read_geometry=False)
    assert json.loads(meta.set_index("key").loc["notes", "value"]) == list(report.notes)


def test_cli_prints_found_and_estimated_then_validate_accepts(city_osm: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "cli"
    args = ["-q", "init", str(city_osm), "--out", str(out), "--population-total", "5000", "--lang", "en"]
    assert main(args) == 0  # English: the little city lies in China, so its default is Chinese
    text = capsys.readouterr().out
    assert "fire_stations" in text and "Population scaled" in text and "Notes" in text
    assert main(["-q", "validate", str(out / "scenario.toml")]) == 0


@pytest.mark.parametrize("suffix", [".osm.pbf", ".osm.bz2"])
def test_pbf_and_bz2_give_the_same_scenario(tmp_path: Path, built, suffix: str) -> None:  # type: ignore[no-untyped-def]
    report, _ = built
    if suffix == ".osm.pbf":
        path = little_city().write(tmp_path / f"city{suffix}")
    else:
        path = tmp_path / f"city{suffix}"
        path.write_bytes(bz2.compress(little_city().text().encode("utf-8")))
    other = scenario_from_osm(path, tmp_path / "out")
    assert other.counts == report.counts and other.population_total == pytest.approx(report.population_total)


# --------------------------------------------------------------- fallbacks and options


def test_no_residential_gives_cells_over_the_built_up_area(tmp_path: Path) -> None:
    report = scenario_from_osm(little_city(residential=False).write(tmp_path / "c.osm"), tmp_path / "out")
    com = _layer(report, "communities")
    assert report.community_method == "cells" and com["id"].str.startswith("cell_").all()
    assert (com.to_crs(32649).area > 0).all() and com["population"].gt(0).any()
    assert set(com["population_source"]) <= {"buildings", "density"}
    assert any(
        n.startswith("Communities:") and "cells of 500 m over the built-up area" in n for n in report.notes
    )


def _admin_city(path: Path, *, places: bool) -> Path:
    osm = OsmXml()
    street_grid(osm)
    osm.node(200, 210, {"amenity": "fire_station"})
    for k, x in enumerate((0, 800)):
        tags = {"place": "suburb", "name": f"Suburb {k}"} if places else {}
        ring = osm.rect(x, 0, x + 800, 1600, tags)
        if not places:
            osm.relation(
                [("way", ring, "outer")],
                {
                    "type": "boundary",
                    "boundary": "administrative",
                    "admin_level": "8",
                    "name": f"District {k}",
                },
            )
    return osm.write(path)


def test_places_then_admin_boundaries_stand_in_for_residential_land(tmp_path: Path) -> None:
    report = scenario_from_osm(_admin_city(tmp_path / "p.osm", places=True), tmp_path / "p")
    assert report.community_method == "place=suburb" and report.counts["communities"] == 2
    report = scenario_from_osm(_admin_city(tmp_path / "a.osm", places=False), tmp_path / "a")
    assert report.community_method == "admin_level=8"
    assert sorted(_layer(report, "communities")["name"]) == ["District 0", "District 1"]
    # density for areas that are not residential land: 1.28 km2 x 5,000 each
    assert _layer(report, "communities")["population"].tolist() == pytest.approx([6400.0, 6400.0], rel=0.01)
    report = scenario_from_osm(_admin_city(tmp_path / "b.osm", places=False), tmp_path / "b", admin_level=9)
    assert report.community_method == "cells"
    assert any("no administrative area at `--admin-level` 9" in n for n in report.notes)


def test_census_joined_by_name_with_match_report(city_osm: Path, tmp_path: Path) -> None:
    csv = tmp_path / "census.csv"
    csv.write_text(
        "社区名称,常住人口,share_aged_65plus\nA,5000,0.2\n b ,3000,0.1\nZ,700,0.3\n", encoding="gb18030"
    )
    report = scenario_from_osm(city_osm, tmp_path / "out", census=csv, census_key="社区名称")
    com = _layer(report, "communities").set_index("name")
    assert com.loc[["A", "B"], "population"].tolist() == [5000.0, 3000.0]
    assert com.loc[["A", "B", "C"], "population_source"].tolist() == ["census", "census", "density"]
    assert com.loc["A", "share_aged_65plus"] == pytest.approx(0.2)
    note = next(n for n in report.notes if n.startswith("Census census.csv"))
    assert "2 of 3 polygons matched" in note and "['Z'] (700 residents not on the map)" in note


def test_census_errors_name_the_flag(city_osm: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    csv = tmp_path / "census.csv"
    csv.write_text("name,people\nA,1\n", encoding="utf-8")
    args = ["init", str(city_osm), "--out", str(tmp_path / "o"), "--census", str(csv)]
    assert main(args) == 2
    assert "needs `--census-key`" in capsys.readouterr().err
    assert main([*args, "--census-key", "name"]) == 2
    assert "has no population column" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_population_raster_with_exact_fractions(city_osm: Path, tmp_path: Path) -> None:
    tif = tmp_path / "pop.tif"
    corner = gpd.GeoSeries([Point(*lonlat(-1000, 2500))], crs=4326).to_crs(32649).iloc[0]
    x0, y0 = np.floor(corner.x / 100) * 100, np.ceil(corner.y / 100) * 100  # covers the city whole
    with rasterio.open(
        tif,
        "w",
        driver="GTiff",
        width=60,
        height=60,
        count=1,
        dtype="float32",
        crs="EPSG:32649",
        transform=Affine(100, 0, x0, 0, -100, y0),
        nodata=-1,
    ) as dst:
        dst.write(np.full((60, 60), 25.0, dtype="float32"), 1)  # 2,500 people per km2
    report = scenario_from_osm(city_osm, tmp_path / "out", population=tif)
    com = _layer(report, "communities").set_index("id")
    assert set(com["population_source"]) == {"raster"}
    expected = raster_population(com.to_crs(32649), tif)
    np.testing.assert_allclose(com["population"], expected.round(1))
    assert com["population"].sum() == pytest.approx(2500 * (0.16 + 0.16 + 0.08), rel=0.01)
    scenario = load_scenario(report.scenario_path)  # the raster stays a layer, for grid units too
    assert scenario.rasters["population"] == tif.resolve()


def test_stations_and_depots_files(city_osm: Path, tmp_path: Path) -> None:
    stations = tmp_path / "stations.geojson"
    lon, lat = lonlat(800, 800)
    gpd.GeoDataFrame(
        {"name": ["Depot-built"], "grade": ["grade2"]},
        geometry=[box(lon, lat, lon + 0.0003, lat + 0.0003)],
        crs=4326,
    ).to_file(stations)
    depots = tmp_path / "depots.csv"
    depots.write_text(f"id,name,lon,lat\nD1,Main store,{lon},{lat}\n", encoding="utf-8")
    report = scenario_from_osm(city_osm, tmp_path / "out", stations=stations, depots=depots)
    st = _layer(report, "fire_stations")
    assert st["name"].tolist() == ["Depot-built"] and st["grade"].tolist() == ["grade2"]
    assert set(st.geom_type) == {"Point"}
    dp = _layer(report, "depots")
    assert dp["tier"].tolist() == ["city"] and any("no known tier: set to `city`" in n for n in report.notes)
    assert load_scenario(report.scenario_path)["depots"].index.tolist() == ["D1"]


def test_hazard_rules_override_from_the_cli(city_osm: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[rules.fuel_station]\ncategory = "other"\n\n[rules.hospital]\nmatch = { amenity = "hospital" }\n'
        'category = "other"\nlabel = "hospital"\npoint_size_class = "small"\n'
        'reason = "oxygen"\nsource = "local"\n'
        'before = "tank_gas"\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    assert main(["-q", "init", str(city_osm), "--out", str(out), "--osm-hazards", str(rules)]) == 0
    hz = load_scenario(out / "scenario.toml")["hazards"].set_index("hazard_rule")
    assert hz.loc["fuel_station", "category"] == "other" and hz.loc["hospital", "name"] == "People's Hospital"


def test_no_hazard_feature_leaves_the_layer_out_and_says_so(tmp_path: Path) -> None:
    report = scenario_from_osm(little_city(hazards=False).write(tmp_path / "c.osm"), tmp_path / "out")
    assert report.counts["hazards"] == 0
    doc = tomllib.loads(report.scenario_path.read_text(encoding="utf-8"))
    assert "hazards" not in doc["layers"]
    assert "hazards" not in {n for n, _ in pyogrio.list_layers(report.layers_path)}
    assert any(n.startswith("No hazard source:") and "left out" in n for n in report.notes)
    assert "hazards" not in load_scenario(report.scenario_path)


def test_boundary_clips_communities(city_osm: Path, tmp_path: Path) -> None:
    boundary = tmp_path / "boundary.geojson"
    (x0, y0), (x1, y1) = lonlat(-50, -50), lonlat(600, 700)
    gpd.GeoDataFrame({"name": ["West"]}, geometry=[box(x0, y0, x1, y1)], crs=4326).to_file(boundary)
    report = scenario_from_osm(city_osm, tmp_path / "out", boundary=boundary)
    com = _layer(report, "communities").set_index("name").to_crs(32649)
    assert com.loc["B"].geometry.area == pytest.approx(200 * 400, rel=0.02)  # half of B is inside
    assert any("`--boundary` boundary.geojson" in n for n in report.notes)


# ------------------------------------------------------------------- errors, exit code 2


def test_no_fire_station_names_the_flag_and_writes_nothing(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    osm = little_city(stations=False).write(tmp_path / "nostation.osm")
    out = tmp_path / "out"
    assert main(["init", str(osm), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"`{osm}` maps no fire station (no `amenity=fire_station` node, way or relation)" in err
    assert "Fix: give the stations with `--stations FILE`" in err
    assert not out.exists() and not list(tmp_path.glob(".out.init-*"))


def test_no_drivable_road_exit_2(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    osm = OsmXml()
    osm.line([(0, 0), (100, 0)], {"highway": "footway"})
    osm.line([(0, 0), (0, 100)], {"highway": "footway"})
    osm.node(0, 0, {"amenity": "fire_station"})
    path = osm.write(tmp_path / "paths.osm.pbf")
    assert main(["init", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert f"`{path}` has no drivable road: none of its 2 `highway` ways is of a drivable class" in err
    assert "{'footway': 2}" in err and "Fix: use an extract that covers the city's streets" in err
    bare = OsmXml()
    bare.node(0, 0, {"amenity": "fire_station"})
    path = bare.write(tmp_path / "bare.osm")
    assert main(["init", str(path), "--out", str(tmp_path / "o")]) == 2
    assert "has no way with a `highway` tag" in capsys.readouterr().err


def test_boundary_missing_the_data_exit_2(city_osm: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    boundary = tmp_path / "far.geojson"
    gpd.GeoDataFrame(geometry=[Point(10.0, 50.0).buffer(0.01)], crs=4326).to_file(boundary)
    assert main(["init", str(city_osm), "--out", str(tmp_path / "o"), "--boundary", str(boundary)]) == 2
    err = capsys.readouterr().err
    assert f"`--boundary` `{boundary}`" in err and f"does not overlap the roads of `{city_osm}`" in err
    assert "Fix: give the boundary of the area the extract covers" in err


def test_failed_init_leaves_an_existing_folder_untouched(tmp_path: Path) -> None:
    out = tmp_path / "city"
    out.mkdir()
    (out / "scenario.toml").write_text("# earlier\n", encoding="utf-8")
    (out / "results.txt").write_text("keep", encoding="utf-8")
    with pytest.raises(InputError, match="maps no fire station"):
        scenario_from_osm(little_city(stations=False).write(tmp_path / "n.osm"), out)
    assert (out / "scenario.toml").read_text(encoding="utf-8") == "# earlier\n"
    assert sorted(p.name for p in out.iterdir()) == ["results.txt", "scenario.toml"]
    assert not list(tmp_path.glob(".city.init-*"))
    report = scenario_from_osm(little_city().write(tmp_path / "ok.osm"), out)  # then a good run
    assert sorted(p.name for p in out.iterdir()) == ["layers.gpkg", "results.txt", "scenario.toml"]
    assert report.scenario_path.read_text(encoding="utf-8").startswith("# Written by `riskplan init`")


def test_out_is_a_file_exit_2(city_osm: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "file").write_text("x", encoding="utf-8")
    assert main(["init", str(city_osm), "--out", str(tmp_path / "file")]) == 2
    assert "`--out` `" in capsys.readouterr().err


# ------------------------------------------------------------------------------ real data


@pytest.mark.realdata
def test_chengdu_finds_its_stations_hazards_and_residential_areas(
    shared_data_dir: Path, tmp_path: Path
) -> None:
    osm = shared_data_dir / "chengdu" / "chengdu_osm.osm.bz2"
    report = scenario_from_osm(osm, tmp_path / "cd")
    assert report.counts["fire_stations"] == 3
    assert report.community_method == "landuse=residential" and report.counts["communities"] > 150
    hz = _layer(report, "hazards")
    assert (hz["category"] == "fuel_gas").sum() >= 4  # the four fuel stations
    assert report.counts["sensitive_sites"] > 80 and report.counts["barriers"] > 0
