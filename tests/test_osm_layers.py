"""OSM layers of a scenario TOML: empty matches, empty files, points, category rules, clipped polygons.

Regression tests for issue 11, items 3, 9, 10 and 13 (part): each failed before the fix
(AttributeError traceback, a validate that passed an empty PBF, "Polygon where Point is
expected", one category for every hazard, polygons cut at the extract edge dropped silently).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import shapely
from osm_xml import OsmXml, little_city, street_grid

from gis import InputError, load_scenario
from gis.io import LayerSource, read_layer
from gis.osm import has_drivable_way, read_osm_features, read_osm_layers
from service.cli import main


def _toml(folder: Path, osm: Path, extra: str = "", stations: str = "") -> Path:
    toml = folder / "scenario.toml"
    toml.write_text(
        f'[layers.roads]\npath = "{osm.name}"\n\n'
        f'[layers.fire_stations]\npath = "{osm.name}"\nosm_tags = {{ amenity = "fire_station" }}\n'
        f'defaults = {{ grade = "grade1" }}\n{stations}\n'
        f'[layers.communities]\npath = "{osm.name}"\nosm_tags = {{ landuse = "residential" }}\n'
        "defaults = { population = 100 }\n\n" + extra,
        encoding="utf-8",
    )
    return toml


@pytest.fixture
def city(tmp_path: Path) -> Path:
    return little_city().write(tmp_path / "city.osm")


# ------------------------------------------------------------------ item 3: nothing matches


def test_osm_tags_matching_nothing_name_file_tags_layer_and_fix(city: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    extra = (
        '[layers.hazards]\npath = "city.osm"\nosm_tags = { amenity = "police" }\n'
        'defaults = { category = "other" }\n'
    )
    toml = _toml(tmp_path, city, extra)
    with pytest.raises(InputError) as err:
        load_scenario(toml)
    text = str(err.value)
    where = f"`{city}`, layer `hazards`: "
    assert f"{where}no feature of the file matches osm_tags {{'amenity': 'police'}}" in text
    assert text.count(str(city)) == 1  # the file is named once
    assert "Fix: check the tags" in text and "leave the layer out" in text
    assert main(["validate", str(toml)]) == 2
    assert f"{where}no feature of the file matches osm_tags" in capsys.readouterr().err


def test_read_layer_on_osm_without_tags_says_which_option_to_add(city: Path) -> None:
    with pytest.raises(InputError, match=r"needs `osm_tags`.*Fix: add for example.*category_rules"):
        read_layer(LayerSource("hazards", city))


def _pbf_without_roads(path: Path, *, footways: bool) -> Path:
    osm = OsmXml()
    if footways:
        osm.line([(0, 0), (100, 0)], {"highway": "footway"})
        osm.line([(0, 0), (0, 100)], {"highway": "steps"})
    else:
        osm.node(0, 0, {"amenity": "fire_station"})
    return osm.write(path)


@pytest.mark.parametrize("footways", [False, True])
def test_pbf_without_drivable_roads_fails_validate(tmp_path: Path, capsys, footways: bool) -> None:  # type: ignore[no-untyped-def]
    pbf = _pbf_without_roads(tmp_path / "empty.osm.pbf", footways=footways)
    assert not has_drivable_way(pbf)
    city = little_city().write(tmp_path / "layers.osm")
    toml = (
        _toml(tmp_path, city)
        .read_text(encoding="utf-8")
        .replace('path = "layers.osm"', 'path = "empty.osm.pbf"', 1)
    )
    (tmp_path / "s.toml").write_text(toml, encoding="utf-8")
    assert main(["validate", str(tmp_path / "s.toml")]) == 2
    err = capsys.readouterr().err
    assert f"`{pbf}`, layer `roads`: the OSM file holds no drivable road" in err
    assert "Fix: use an extract that covers the city's streets" in err


def test_has_drivable_way_stops_at_the_first(city: Path, tmp_path: Path) -> None:
    assert has_drivable_way(city)
    assert has_drivable_way(little_city().write(tmp_path / "c.osm.pbf"))
    with pytest.raises(InputError, match="does not exist"):
        has_drivable_way(tmp_path / "missing.osm.pbf")


# -------------------------------------------------------- item 9: stations mapped as areas


def test_osm_point_layers_take_representative_points_by_default(city: Path, tmp_path: Path) -> None:
    scenario = load_scenario(_toml(tmp_path, city))
    st = scenario["fire_stations"]
    assert len(st) == 3 and set(st.geom_type) == {"Point"}
    # each point lies inside the footprint it comes from
    raw = read_osm_features(city, {"amenity": "fire_station"}).to_crs(scenario.crs)
    for geom, point in zip(raw.geometry, st.geometry, strict=True):
        assert geom.buffer(1e-6).contains(point)


def test_points_keep_refuses_polygons_and_centroid_converts(city: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    toml = _toml(tmp_path, city, stations='points = "keep"\n')
    assert main(["validate", str(toml)]) == 2
    assert "Polygon" in capsys.readouterr().err
    gdf = read_layer(
        LayerSource("fire_stations", city, osm_tags={"amenity": "fire_station"}, points="centroid")
    )
    assert set(gdf.geom_type) == {"Point"}
    square = read_osm_features(city, {"amenity": "fire_station"}).geometry.iloc[1]
    assert gdf.geometry.iloc[1].distance(square.centroid) < 1e-9


def test_points_option_rejects_unknown_values(city: Path, tmp_path: Path) -> None:
    toml = _toml(tmp_path, city, stations='points = "middle"\n')
    with pytest.raises(
        InputError,
        match=r"`points = 'middle'` is unknown. Fix: use one of \['representative', 'centroid', 'keep'\]",
    ):
        load_scenario(toml)


# ---------------------------------------------------------------- item 10: category rules


def test_category_rules_give_each_osm_feature_its_own_category(city: Path, tmp_path: Path) -> None:
    extra = '[layers.hazards]\npath = "city.osm"\ncategory_rules = "osm_hazards"\n'
    hz = load_scenario(_toml(tmp_path, city, extra))["hazards"]
    by_name = hz.set_index("name")
    assert by_name.loc["Tank 1", ["category", "size_class"]].tolist() == ["hazardous_chemicals", "small"]
    assert by_name.loc["Fuel", ["category", "size_class"]].tolist() == ["fuel_gas", "small"]
    assert by_name.loc["ChemCo", ["category", "size_class"]].tolist() == ["hazardous_chemicals", "medium"]
    quarry = hz[hz["hazard_rule"] == "quarry"]
    assert quarry["size_class"].tolist() == ["large"] and quarry["name"].iloc[0].startswith("quarry w")
    assert hz.loc[hz["hazard_rule"] == "lpg_shop", "category"].tolist() == ["fuel_gas"]


def test_category_rules_with_osm_tags_keep_unmatched_for_defaults(city: Path, tmp_path: Path) -> None:
    extra = (
        '[layers.hazards]\npath = "city.osm"\ncategory_rules = "osm_hazards"\n'
        'osm_tags = { amenity = ["fuel", "hospital"] }\ndefaults = { category = "other" }\n'
    )
    hz = load_scenario(_toml(tmp_path, city, extra))["hazards"].set_index("name")
    assert hz.loc["Fuel", "category"] == "fuel_gas"
    assert hz.loc["People's Hospital", "category"] == "other"  # no rule: the default


def test_category_rules_from_a_toml_merged_over_the_shipped_table(city: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[rules.fuel_station]\ncategory = "other"\n', encoding="utf-8")
    extra = '[layers.hazards]\npath = "city.osm"\ncategory_rules = "rules.toml"\n'
    hz = load_scenario(_toml(tmp_path, city, extra))["hazards"].set_index("name")
    assert hz.loc["Fuel", "category"] == "other" and hz.loc["Tank 1", "category"] == "hazardous_chemicals"
    rules.write_text('[rules.fuel_station]\ncategory = "petrol"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"rules.fuel_station.category` is 'petrol'. Fix: use one of"):
        load_scenario(_toml(tmp_path, city, extra))


# ------------------------------------------------------ item 13: polygons cut at the edge


def _cut_city(path: Path) -> tuple[Path, dict[str, int]]:
    osm = OsmXml()
    street_grid(osm, n=3)
    ids: dict[str, int] = {}
    ring = [osm.node(x, y) for x, y in ((0, 0), (300, 0), (300, 300), (150, 400), (0, 300))]
    ids["closed"] = osm.way([*ring, ring[0]], {"landuse": "residential", "name": "Cut ring"})
    osm.drop_nodes({ring[3]})  # one node of a closed ring beyond the edge
    open_ring = [osm.node(x, y) for x, y in ((500, 0), (700, 0), (700, 200), (500, 200))]
    ids["open"] = osm.way(open_ring, {"landuse": "residential", "name": "Trimmed"})  # refs trimmed
    few = [osm.node(x, y) for x, y in ((0, 500), (100, 500), (100, 600), (0, 600))]
    ids["few"] = osm.way([*few, few[0]], {"landuse": "residential", "name": "Mostly gone"})
    osm.drop_nodes({few[1], few[2]})
    a = osm.line([(800, 800), (1000, 800), (1000, 1000)])
    b = osm.line([(1000, 1000), (800, 1000), (800, 800)])
    missing_member = 99_999
    ids["relation"] = osm.relation(
        [("way", a, "outer"), ("way", b, "outer"), ("way", missing_member, "outer")],
        {"type": "multipolygon", "landuse": "residential", "name": "Relation"},
    )
    return osm.write(path), ids


def test_polygons_cut_at_the_edge_are_rebuilt_or_reported(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    path, ids = _cut_city(tmp_path / "cut.osm")
    with caplog.at_level(logging.WARNING, logger="gis.osm"):
        f = read_osm_features(path, {"landuse": "residential"})
    polys = f.set_index("name")
    assert set(polys.geom_type) == {"Polygon"}
    assert f.attrs["repaired"] == [f"w{ids['closed']}", f"w{ids['open']}", f"r{ids['relation']}"]
    assert f.attrs["dropped"] == [f"w{ids['few']}"]
    # the ring is closed over the nodes present: a 300 x 300 m square is left of the pentagon
    assert polys.loc["Cut ring"].geometry.area == pytest.approx(
        shapely.box(*polys.loc["Cut ring"].geometry.bounds).area, rel=1e-9
    )
    assert shapely.get_num_coordinates(polys.loc["Trimmed"].geometry) == 5
    assert polys.loc["Relation"].geometry.area == pytest.approx(
        shapely.box(*polys.loc["Relation"].geometry.bounds).area
    )
    assert "Mostly gone" not in polys.index
    record = next(r for r in caplog.records if "cut at the edge" in r.getMessage())
    assert record.levelno == logging.WARNING
    assert f"w{ids['few']}" in record.getMessage() and "3 polygons" in record.getMessage()


def test_complete_polygons_are_not_reported(tiny_city_osm: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    with caplog.at_level(logging.WARNING, logger="gis.osm"):
        f = read_osm_features(tiny_city_osm, {"amenity": True, "landuse": True})
    assert f.attrs["repaired"] == [] and f.attrs["dropped"] == []
    assert not [r for r in caplog.records if "cut at the edge" in r.getMessage()]


# ---------------------------------------------------------------- several specs, one pass


def test_read_osm_layers_equals_one_read_per_spec(city: Path) -> None:
    specs = {
        "stations": {"amenity": "fire_station"},
        "homes": {"landuse": "residential"},
        "tanks": {"man_made": "storage_tank", "amenity": "fuel"},
    }
    got = read_osm_layers(city, specs)
    for name, tags in specs.items():
        alone = read_osm_features(city, tags)
        assert got[name]["osm_id"].tolist() == alone["osm_id"].tolist(), name
        assert got[name].geometry.geom_equals(alone.geometry).all(), name


def test_read_osm_layers_as_lines_and_bad_arguments(city: Path) -> None:
    got = read_osm_layers(city, {"roads": {"highway": True}, "rail": {"railway": "rail"}}, lines=["roads"])
    assert set(got["roads"].geom_type) == {"LineString"} and "motorway" in set(got["roads"]["highway"])
    with pytest.raises(InputError, match=r"`lines` names selections \['nope'\]"):
        read_osm_layers(city, {"roads": {"highway": True}}, lines=["nope"])
    with pytest.raises(InputError, match="`specs` is empty"):
        read_osm_layers(city, {})
