"""Acceptance: a planner's whole path on every real OSM extract, as the README shows it.

``riskplan init CITY --out DIR`` then ``riskplan run DIR/scenario.toml --out DIR/results`` must
exit 0 on every OpenStreetMap file in ../shared/data (found by suffix, so a new extract is
covered when it is added), and the outputs must make sense. The Taiyuan layers go the TOML
way (its roads are a GeoJSON export, not an OSM file), and the demo city written as a
1M-road-node PBF checks init at size. Skipped with a reason when ../shared/data is absent.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pyogrio
import pytest

from gis import load_scenario
from gis.osm import is_osm_file, read_osm_features, read_osm_ways
from maps import read_map_layers
from service.cli import main

POPULATION = 250_000
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _extracts() -> list[str]:
    if not SHARED_DATA.is_dir():
        return ["(none)"]
    return sorted(str(p.relative_to(SHARED_DATA)) for p in SHARED_DATA.rglob("*") if is_osm_file(p))


def _station_near_roads(osm: Path, dest: Path) -> Path | None:
    """A synthetic station file at the middle of the drivable roads when the extract maps none."""
    if len(read_osm_features(osm, {"amenity": "fire_station"})):
        return None
    ways = read_osm_ways(osm)
    ways = ways[ways["highway"].isin(["primary", "secondary", "tertiary", "residential", "unclassified"])]
    lon, lat = np.median(np.concatenate([np.asarray(g.coords) for g in ways.geometry]), axis=0)
    dest.write_text(f"id,name,grade,lon,lat\nS1,Synthetic station,grade1,{lon},{lat}\n", encoding="utf-8")
    return dest


def _check_outputs(out: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    for name in summary["outputs"].values():
        path = out / name
        assert path.is_file() and path.stat().st_size > 0, name
        if path.suffix == ".gpkg":
            for layer, _ in pyogrio.list_layers(path):
                assert pyogrio.read_info(path, layer=layer)["features"] > 0, (name, layer)
    for layer, row in summary["coverage"]["by_layer"].items():
        if row["features"]:
            assert 0.0 <= row["share_weight"] <= 1.0, layer
        else:  # no hazards in the extract: no share to speak of
            assert row["share_weight"] is None, layer
    drawn = read_map_layers((out / "map.html").read_text(encoding="utf-8"))
    for layer in ("context", "units", "communities", "stations"):
        assert layer in drawn, layer
    assert len(drawn["units"]["data"]["features"]) == sum(summary["risk"]["levels"].values())
    if summary["layers"].get("hazards"):
        assert len(drawn["hazards"]["data"]["features"]) == summary["layers"]["hazards"]
    capsys.readouterr()
    return summary


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize("name", _extracts())
def test_init_then_run_on_every_real_extract(
    shared_data_dir: Path, tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    osm = shared_data_dir / name
    city = tmp_path / "city"
    args = ["-q", "init", str(osm), "--out", str(city), "--population-total", str(POPULATION)]
    stations = _station_near_roads(osm, tmp_path / "stations.csv")
    if stations is not None:  # OSM maps no fire station here: the flag the message names
        args += ["--stations", str(stations)]
    assert main(args) == 0, capsys.readouterr().err
    assert main(["-q", "validate", str(city / "scenario.toml")]) == 0, capsys.readouterr().err
    scenario = load_scenario(city / "scenario.toml")
    assert scenario["communities"]["population"].sum() == pytest.approx(POPULATION, rel=0.005)
    assert all(len(g) > 0 for g in scenario.layers.values())
    assert main(["-q", "run", str(city / "scenario.toml"), "--out", str(city / "results")]) == 0, (
        capsys.readouterr().err
    )
    summary = _check_outputs(city / "results", capsys)
    assert summary["layers"]["communities"] == len(scenario["communities"])
    assert any("--population-total" in n for n in summary["notes"])  # estimates say so everywhere


@pytest.mark.realdata
@pytest.mark.slow
def test_taiyuan_layers_through_a_toml_run_every_stage(
    shared_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    taiyuan = shared_data_dir / "taiyuan"
    stations = tmp_path / "stations_synthetic.csv"
    stations.write_text(
        "id,name,grade,lon,lat\nS1,synthetic station west,grade1,112.53,37.86\n"
        "S2,synthetic station east,grade2,112.58,37.87\n",
        encoding="utf-8",
    )
    toml = tmp_path / "taiyuan.toml"
    toml.write_text(
        textwrap.dedent(
            f"""\
            [scenario]
            name = "Taiyuan centre (real roads, synthetic stations)"
            notes = ["Fire stations are synthetic: there is no open data for Taiyuan's stations."]

            [layers.roads]
            path = "{taiyuan / "roads_osm.geojson.gz"}"

            [layers.hazards]
            path = "{shared_data_dir / "shanxi" / "gem_steel_units.geojson"}"
            id = "gem-unit-id"
            rename = {{ "plant-name-(other-language)" = "name" }}
            defaults = {{ category = "metallurgy" }}

            [layers.communities]
            path = "{taiyuan / "landuse_pois_osm.geojson.gz"}"
            where = "landuse = 'residential'"
            id = "osm_way_id"
            defaults = {{ population = 3000 }}

            [layers.fire_stations]
            path = "{stations.name}"
            """
        ),
        encoding="utf-8",
    )
    out = tmp_path / "results"
    assert main(["-q", "run", str(toml), "--out", str(out), "--units", "grid:500"]) == 0, (
        capsys.readouterr().err
    )
    summary = _check_outputs(out, capsys)
    assert summary["risk"]["units"] == "grid:500"
    assert any(n.startswith("FLAT POPULATION") for n in summary["notes"])
    assert any("synthetic" in n for n in summary["notes"])


@pytest.mark.slow
def test_init_on_the_demo_city_as_a_million_node_pbf(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    pbf = tmp_path / "demo_1m.osm.pbf"
    assert main(["-q", "demo", "--osm", str(pbf), "--nodes", "1000000"]) == 0
    assert main(["-q", "init", str(pbf), "--out", str(tmp_path / "city")]) == 0, capsys.readouterr().err
    scenario = load_scenario(tmp_path / "city" / "scenario.toml")
    assert len(scenario["fire_stations"]) == 6 and len(scenario["communities"]) == 150
    assert len(scenario["hazards"]) > 180 and len(scenario["sensitive_sites"]) > 70
