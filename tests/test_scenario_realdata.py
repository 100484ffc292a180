"""Real-data scenarios from ../shared/data (skipped when the folder is absent).

Fire stations for Taiyuan are not open data: the tests write a few clearly
synthetic ones next to the real layers, as SOURCES.md asks.
"""

import textwrap

import pytest

from gis import load_scenario, scenario_graph
from planning import snap_points

pytestmark = pytest.mark.realdata


def _write(path, text):
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_taiyuan_toml_mixes_real_layers(tmp_path, shared_data_dir):
    stations = _write(
        tmp_path / "stations_synthetic.csv",
        """\
        id,name,grade,lon,lat
        S1,synthetic station west,grade1,112.53,37.86
        S2,synthetic station east,grade2,112.58,37.87
        """,
    )
    toml = _write(
        tmp_path / "taiyuan.toml",
        f"""\
        [scenario]
        name = "Taiyuan centre (real roads, synthetic stations)"

        [layers.roads]
        path = "{shared_data_dir / "taiyuan" / "roads_osm.geojson.gz"}"

        [layers.hazards]
        path = "{shared_data_dir / "shanxi" / "gem_steel_units.geojson"}"
        id = "gem-unit-id"
        rename = {{ "plant-name-(other-language)" = "name" }}
        defaults = {{ category = "metallurgy" }}

        [layers.communities]
        path = "{shared_data_dir / "taiyuan" / "landuse_pois_osm.geojson.gz"}"
        where = "landuse = 'residential'"
        id = "osm_way_id"
        defaults = {{ name = "unnamed residential area", population = 0 }}

        [layers.fire_stations]
        path = "{stations.name}"
        """,
    )
    sc = load_scenario(toml)
    assert sc.crs.to_epsg() == 32649
    assert len(sc["hazards"]) == 175
    assert set(sc["hazards"]["category"]) == {"metallurgy"}
    assert 60 <= len(sc["communities"]) <= 90  # 76 residential areas in the extract
    G = scenario_graph(sc, cache=False)
    assert G.n_nodes > 3000
    snaps = snap_points(G, sc["fire_stations"], max_snap_m=300)
    assert not snaps["flagged"].any()
    # steel works across Shanxi are mostly far outside central Taiyuan's roads: flagged, not snapped
    far = snap_points(G, sc["hazards"], max_snap_m=1000)
    assert far["flagged"].sum() > 100
    assert (far.loc[far["flagged"], "snap_distance_m"] > 1000).all()


def test_chengdu_osm_scenario_with_real_fire_stations(tmp_path, shared_data_dir):
    osm = shared_data_dir / "chengdu" / "chengdu_osm.osm.bz2"
    toml = _write(
        tmp_path / "chengdu.toml",
        f"""\
        [scenario]
        name = "Chengdu centre"

        [layers.roads]
        path = "{osm}"

        [layers.fire_stations]
        path = "{osm}"
        osm_tags = {{ amenity = "fire_station" }}
        defaults = {{ grade = "grade1", name = "unnamed fire station" }}

        [layers.hazards]
        path = "{osm}"
        osm_tags = {{ amenity = "fuel" }}
        defaults = {{ category = "fuel_gas", name = "unnamed fuel station" }}

        [layers.communities]
        path = "{osm}"
        osm_tags = {{ landuse = "residential" }}
        defaults = {{ name = "unnamed residential area", population = 0 }}
        """,
    )
    sc = load_scenario(toml)
    assert sc.crs.to_epsg() == 32648  # Chengdu is in UTM 48N
    assert len(sc["fire_stations"]) == 3
    assert sc.roads.kind == "osm"
    G = scenario_graph(sc, cache=False)
    snaps = snap_points(G, sc["fire_stations"])
    assert not snaps["flagged"].any()
    assert snaps["snap_distance_m"].max() < 200
