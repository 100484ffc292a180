"""The demo city written as OpenStreetMap (PBF and XML): read back by the OSM readers.

The reference is the demo's own layers: the road graph built from the file must equal the graph
built from the ``roads`` layer, and every station, hazard, community and sensitive site must come
back once, with its name, the tags of the mapping table and its position.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import geopandas as gpd
import numpy as np
import osmium
import pytest
import shapely

import gis.demo._osm as demo_osm
from gis.demo import demo_city, write_demo_osm
from gis.demo._osm import CATEGORY_TAGS, HAZARD_TAGS, SENSITIVE_TAGS
from gis.errors import InputError
from gis.network import MISSING_ID, graph_from_file, graph_from_lines
from gis.osm import read_osm_features, read_osm_ways

N = 3000
SEED = 42
UTM = "EPSG:32649"


@pytest.fixture(scope="module")
def layers() -> dict[str, gpd.GeoDataFrame]:
    return demo_city(seed=SEED, n_road_nodes=N)


@pytest.fixture(scope="module", params=["demo.osm.pbf", "demo.osm"], ids=["pbf", "xml"])
def osm_file(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("osm") / request.param
    return write_demo_osm(path, seed=SEED, n_road_nodes=N)


def _features(path: Path, tags: dict[str, object]) -> gpd.GeoDataFrame:
    return read_osm_features(path, tags).to_crs(UTM)  # type: ignore[arg-type]


def _tags(frame: gpd.GeoDataFrame) -> list[dict[str, str]]:
    return [json.loads(t) for t in frame["tags"]]


def _keys(*tables: dict[str, demo_osm.OsmShape]) -> dict[str, object]:
    return {k: True for table in tables for spec in table.values() for k in spec.tags}


# ------------------------------------------------------------------------------ roads


def test_graph_equals_the_graph_of_the_road_layer(
    osm_file: Path, layers: dict[str, gpd.GeoDataFrame]
) -> None:
    ref = graph_from_lines(layers["roads"])
    got = graph_from_file(osm_file, cache=False)
    assert got.n_nodes == ref.n_nodes
    assert got.n_edges == ref.n_edges
    len_ref = np.sort(ref.length_m)
    len_got = np.sort(got.length_m)
    assert abs(len_got.sum() / len_ref.sum() - 1) < 1e-3
    assert np.allclose(len_got, len_ref, atol=0.05)  # edge by edge, within 5 cm
    assert Counter(got.highway) == Counter(ref.highway)
    assert got.osm_node_id is not None and (got.osm_node_id != MISSING_ID).all()


def test_road_ways_carry_the_road_tags(osm_file: Path, layers: dict[str, gpd.GeoDataFrame]) -> None:
    roads = layers["roads"]
    ways = read_osm_ways(osm_file)
    assert len(ways) == len(roads)  # no road is longer than MAX_WAY_NODES at this size
    assert Counter(ways["highway"]) == Counter(roads["highway"])
    assert (ways["oneway"] == "yes").sum() == (roads["oneway"] == "yes").sum()
    assert set(ways.loc[ways["highway"] == "motorway", "oneway"]) == {"no"}  # two-way ring, said so
    assert Counter(ways["maxspeed"].dropna()) == Counter(roads["maxspeed"].dropna())
    assert Counter(ways["name"].dropna()) == Counter(roads["name"].dropna())
    bridges = _features(osm_file, {"bridge": "yes"})
    assert len(bridges) == (roads["bridge"] == "yes").sum() > 0
    assert all(t["layer"] == "1" and "highway" in t for t in _tags(bridges))


def test_long_ways_are_split_and_still_join(
    tmp_path: Path, layers: dict[str, gpd.GeoDataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo_osm, "MAX_WAY_NODES", 40)
    path = write_demo_osm(tmp_path / "split.osm.pbf", seed=SEED, n_road_nodes=N)
    ways = read_osm_ways(path)
    assert len(ways) > len(layers["roads"])
    assert max(len(ids) for ids in ways["node_ids"]) <= 40
    ref, got = graph_from_lines(layers["roads"]), graph_from_file(path, cache=False)
    total = [g.length_m.sum() for g in (ref, got)]
    assert abs(total[1] / total[0] - 1) < 1e-3
    # ways are cut at graph nodes where there is one within reach, so few nodes are added
    assert ref.n_nodes <= got.n_nodes <= ref.n_nodes * 1.02
    water = _features(path, {"natural": "water"})
    assert water["osm_type"].tolist() == ["relation"] and water.geom_type.tolist() == ["Polygon"]


# ------------------------------------------------------------------------------ features


def test_fire_stations_as_nodes_buildings_and_relations(
    osm_file: Path, layers: dict[str, gpd.GeoDataFrame]
) -> None:
    stations = layers["fire_stations"].set_index("name")
    got = _features(osm_file, {"amenity": "fire_station"}).set_index("name")
    assert sorted(got.index) == sorted(stations.index)
    assert Counter(got["osm_type"]) == {"node": 2, "way": 2, "relation": 2}
    assert all(
        t.get("building") == "fire_station"
        for t, k in zip(_tags(got), got["osm_type"], strict=True)
        if k != "node"
    )
    where = got.representative_point()  # a building's representative point is the station itself
    assert (where.distance(stations.geometry.loc[got.index]) < 1.0).all()


def test_every_hazard_comes_back_once_with_its_tags(
    osm_file: Path, layers: dict[str, gpd.GeoDataFrame]
) -> None:
    hazards = layers["hazards"].set_index("name")
    found = _features(osm_file, _keys(HAZARD_TAGS, CATEGORY_TAGS))
    got = found[found["name"].isin(hazards.index)].set_index("name")
    assert got.index.is_unique and len(got) == len(hazards)
    for name, tags in zip(got.index, _tags(got), strict=True):
        spec = HAZARD_TAGS[demo_osm._label(name)]
        assert spec.tags.items() <= tags.items(), name
    assert Counter(hazards.loc[got.index, "category"]) == Counter(hazards["category"])
    assert (got.centroid.distance(hazards.geometry.loc[got.index]) < 1.0).all()  # footprints are centred
    polygons = got[got.geom_type == "Polygon"]
    assert len(polygons) > len(hazards) / 3 and (got.geom_type == "Point").any()
    # area footprints tell the size class (0.5 ha and 5 ha, as in gis/data/osm_hazards.toml)
    squares = polygons[[HAZARD_TAGS[demo_osm._label(n)].shape == "area" for n in polygons.index]]
    by_area = np.select([squares.area < 5_000, squares.area < 50_000], ["small", "medium"], "large")
    assert (by_area == hazards.loc[squares.index, "size_class"].to_numpy()).all()
    tanks = polygons.index.difference(squares.index)
    assert len(tanks) and (polygons.loc[tanks].area < 10_000).all()  # realistic tanks and silos


def test_hazard_tags_are_common_osm_tags() -> None:
    expected = {"hazardous_chemicals", "mining", "metallurgy", "dust_explosion", "fuel_gas"}
    expected |= {"fireworks_explosives", "warehouse_logistics", "construction", "other"}
    assert set(CATEGORY_TAGS) == expected
    pairs = {(k, v) for spec in HAZARD_TAGS.values() for k, v in spec.tags.items()}
    for pair in [
        ("industrial", "chemical"),
        ("man_made", "storage_tank"),
        ("amenity", "fuel"),
        ("shop", "gas"),
        ("man_made", "mineshaft"),
        ("landuse", "quarry"),
        ("industrial", "steelmaker"),
        ("building", "warehouse"),
        ("landuse", "construction"),
        ("shop", "fireworks"),
    ]:
        assert pair in pairs


def test_communities_are_named_residential_areas(osm_file: Path, layers: dict[str, gpd.GeoDataFrame]) -> None:
    communities = layers["communities"].set_index("name")
    got = _features(osm_file, {"landuse": "residential"}).set_index("name")
    assert sorted(got.index) == sorted(communities.index)
    assert not any("population" in t for t in _tags(got))  # real OSM has no population here
    ratio = got.area / communities.geometry.loc[got.index].area
    assert np.allclose(ratio, 1.0, atol=2e-3)


def test_some_residential_buildings_with_levels(osm_file: Path, layers: dict[str, gpd.GeoDataFrame]) -> None:
    got = _features(osm_file, {"building": ["apartments", "residential"]})
    assert 0 < len(got) <= demo_osm.DEFAULT_BUILDINGS
    levels = np.array([int(t["building:levels"]) for t in _tags(got)])
    assert levels.min() >= 2 and levels.max() <= 18
    inside = shapely.STRtree(layers["communities"].geometry).query(got.geometry, predicate="within")
    assert set(inside[0]) == set(range(len(got)))  # each in a community ...
    roads = shapely.STRtree(layers["roads"].geometry).query(got.geometry, predicate="intersects")
    assert roads.size == 0  # ... and off the roads


def test_buildings_are_optional(tmp_path: Path) -> None:
    path = write_demo_osm(tmp_path / "none.osm", seed=SEED, n_road_nodes=N, n_buildings=0)
    assert read_osm_features(path, {"building": ["apartments", "residential"]}).empty
    few = write_demo_osm(tmp_path / "few.osm", seed=SEED, n_road_nodes=N, n_buildings=25)
    assert len(read_osm_features(few, {"building": ["apartments", "residential"]})) == 25
    with pytest.raises(InputError, match="n_buildings"):
        write_demo_osm(tmp_path / "bad.osm", n_road_nodes=N, n_buildings=-1)


def test_sensitive_sites_by_kind(osm_file: Path, layers: dict[str, gpd.GeoDataFrame]) -> None:
    sites = layers["sensitive_sites"].set_index("name")
    got = _features(osm_file, _keys(SENSITIVE_TAGS))
    got = got[got["name"].isin(sites.index)].set_index("name")
    assert got.index.is_unique and len(got) == len(sites)
    for name, tags in zip(got.index, _tags(got), strict=True):
        assert SENSITIVE_TAGS[sites.loc[name, "kind"]].tags.items() <= tags.items(), name
    assert (got.centroid.distance(sites.geometry.loc[got.index]) < 1.0).all()


def test_river_railway_and_a_synthetic_city(osm_file: Path, layers: dict[str, gpd.GeoDataFrame]) -> None:
    water = _features(osm_file, {"natural": "water"})
    river = _features(osm_file, {"waterway": "river"})
    assert _tags(water)[0]["water"] == "river" and len(river) == 1
    assert river.geometry.iloc[0].within(water.geometry.iloc[0].buffer(1.0))
    barrier = layers["barriers"].set_index("kind").geometry
    assert abs(water.area.iloc[0] / barrier["river"].area - 1) < 2e-3
    rail = _features(osm_file, {"railway": "rail"})
    assert rail.geometry.iloc[0].hausdorff_distance(barrier["railway"]) < 1.0
    place = _features(osm_file, {"place": "city"})
    assert "synthetic" in _tags(place)[0]["description"].lower()
    reader = osmium.io.Reader(str(osm_file))
    try:
        header = reader.header()
        generator, box = header.get("generator"), header.box()
    finally:
        reader.close()
    assert "SYNTHETIC" in generator
    everything = layers["roads"].to_crs(4326).total_bounds
    assert box.bottom_left.lon <= everything[0] and box.top_right.lat >= everything[3]
    if osm_file.suffix == ".osm":
        assert 'upload="false"' in osm_file.read_text()[:300]


# ------------------------------------------------------------------------------ the file


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    a = write_demo_osm(tmp_path / "a.osm.pbf", seed=3, n_road_nodes=N)
    b = write_demo_osm(tmp_path / "b.osm.pbf", seed=3, n_road_nodes=N)
    c = write_demo_osm(tmp_path / "c.osm.pbf", seed=4, n_road_nodes=N)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()


def test_written_atomically_over_an_old_file(tmp_path: Path) -> None:
    path = tmp_path / "city.osm.pbf"
    path.write_bytes(b"old")
    write_demo_osm(path, n_road_nodes=N, n_buildings=0)
    assert path.read_bytes()[:4] != b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["city.osm.pbf"]


def test_unknown_suffix_says_which_to_use(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"Fix: end the file name with one of \.osm\.pbf"):
        write_demo_osm(tmp_path / "city.geojson", n_road_nodes=N)
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_graph_equality_at_100k_nodes(tmp_path: Path) -> None:
    roads = demo_city(seed=SEED, n_road_nodes=100_000)["roads"]
    path = write_demo_osm(tmp_path / "big.osm.pbf", seed=SEED, n_road_nodes=100_000, n_buildings=0)
    ref, got = graph_from_lines(roads), graph_from_file(path, cache=False)
    assert (got.n_nodes, got.n_edges) == (ref.n_nodes, ref.n_edges)
    assert abs(got.report.length_km / ref.report.length_km - 1) < 1e-3
