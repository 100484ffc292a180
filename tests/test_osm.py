"""Reading OSM XML / PBF with pyosmium: road ways and tagged features."""

from __future__ import annotations

import bz2
import gzip
import json
from pathlib import Path

import numpy as np
import osmium
import pytest
import shapely

from gis.errors import InputError
from gis.osm import is_osm_file, read_osm_features, read_osm_ways


def _write_pbf(src: Path, dest: Path) -> Path:
    """Copy an OSM file into PBF with pyosmium (objects in file order)."""
    with osmium.SimpleWriter(str(dest)) as writer:
        for obj in osmium.FileProcessor(str(src)):
            writer.add(obj)
    return dest


def test_is_osm_file() -> None:
    assert all(is_osm_file(p) for p in ("a.osm", "a.OSM.BZ2", "a.osm.gz", "a.pbf", "a.osm.pbf"))
    assert not any(is_osm_file(p) for p in ("a.gpkg", "a.geojson.gz", "a.osm.zip"))


def test_read_osm_ways_columns_and_node_ids(tiny_city_osm: Path) -> None:
    ways = read_osm_ways(tiny_city_osm)
    assert ways.crs.to_epsg() == 4326
    assert ways["osm_id"].tolist() == [100, 101, 102, 103, 104, 105, 106, 107, 108]
    assert {"highway", "oneway", "maxspeed", "name", "junction", "node_ids"} <= set(ways.columns)
    row = ways.set_index("osm_id").loc[104]
    assert row["junction"] == "roundabout"
    assert row["node_ids"].tolist() == [5, 10, 11, 12, 5]
    assert ways.set_index("osm_id").loc[105, "maxspeed"] == "30 mph"
    # one node id per vertex, and the coordinates are those of the XML
    counts = shapely.get_num_coordinates(ways.geometry.to_numpy())
    assert counts.tolist() == [len(ids) for ids in ways["node_ids"]]
    first = shapely.get_coordinates(ways.geometry.iloc[0])
    np.testing.assert_allclose(first[:2], [[112.55, 37.85], [112.551, 37.85]], atol=1e-9)


def test_read_osm_ways_cuts_ways_at_missing_nodes(tmp_path: Path) -> None:
    xml = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6">
  <node id="1" lat="37.85" lon="112.55"/>
  <node id="2" lat="37.85" lon="112.551"/>
  <node id="4" lat="37.85" lon="112.553"/>
  <node id="5" lat="37.85" lon="112.554"/>
  <node id="7" lat="37.85" lon="112.556"/>
  <way id="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="5"/><nd ref="6"/>
    <nd ref="7"/><tag k="highway" v="primary"/></way>
</osm>
"""
    path = tmp_path / "cut.osm"
    path.write_text(xml)
    ways = read_osm_ways(path)
    # [1 2] | missing 3 | [4 5] | missing 6 | [7] alone is dropped
    assert [ids.tolist() for ids in ways["node_ids"]] == [[1, 2], [4, 5]]
    assert ways["osm_id"].tolist() == [1, 1]
    assert shapely.get_num_coordinates(ways.geometry.to_numpy()).tolist() == [2, 2]


@pytest.mark.parametrize("kind", ["bz2", "gz", "pbf"])
def test_read_osm_ways_compressed_and_pbf(tiny_city_osm: Path, tmp_path: Path, kind: str) -> None:
    raw = tiny_city_osm.read_bytes()
    if kind == "bz2":
        path = tmp_path / "city.osm.bz2"
        path.write_bytes(bz2.compress(raw))
    elif kind == "gz":
        path = tmp_path / "city.osm.gz"
        path.write_bytes(gzip.compress(raw))
    else:
        path = _write_pbf(tiny_city_osm, tmp_path / "city.osm.pbf")
    ways = read_osm_ways(path)
    expected = read_osm_ways(tiny_city_osm)
    assert ways["osm_id"].tolist() == expected["osm_id"].tolist()
    assert ways.geometry.geom_equals_exact(expected.geometry, tolerance=1e-7).all()


def test_read_osm_features_node(tiny_city_osm: Path) -> None:
    f = read_osm_features(tiny_city_osm, {"amenity": "fire_station"})
    assert len(f) == 1
    row = f.iloc[0]
    assert (row["osm_id"], row["osm_type"], row["name"], row["amenity"]) == (
        900,
        "node",
        "第一消防站",
        "fire_station",
    )
    assert row.geometry.equals(shapely.Point(112.5525, 37.8505))
    assert json.loads(row["tags"]) == {"amenity": "fire_station", "name": "第一消防站"}
    assert f.crs.to_epsg() == 4326


def test_read_osm_features_ways_and_multipolygons(tiny_city_osm: Path) -> None:
    f = read_osm_features(tiny_city_osm, {"amenity": ["hospital", "school"]})
    assert f[["osm_type", "osm_id"]].to_numpy().tolist() == [
        ["node", 905],
        ["way", 901],
        ["relation", 902],
    ]
    hospital = f.geometry.iloc[1]
    assert hospital.geom_type == "Polygon"
    assert hospital.area == pytest.approx(0.001 * 0.001)
    school = f.geometry.iloc[2]
    assert school.geom_type == "Polygon"
    assert len(school.interiors) == 1  # the inner way is a hole
    assert school.area == pytest.approx(0.002 * 0.0015 - 0.0005 * 0.0005)
    assert json.loads(f["tags"].iloc[1])["building"] == "yes"


def test_read_osm_features_any_value_and_several_keys(tiny_city_osm: Path) -> None:
    f = read_osm_features(tiny_city_osm, {"landuse": True})
    assert f["osm_id"].tolist() == [906]
    assert f["landuse"].tolist() == ["residential"]
    g = read_osm_features(tiny_city_osm, {"landuse": True, "amenity": "fire_station"})
    assert g["osm_id"].tolist() == [900, 906]
    assert {"landuse", "amenity"} <= set(g.columns)
    assert read_osm_features(tiny_city_osm, {"amenity": "police"}).empty


def test_read_osm_features_from_pbf(tiny_city_osm: Path, tmp_path: Path) -> None:
    pbf = _write_pbf(tiny_city_osm, tmp_path / "city.pbf")
    f = read_osm_features(pbf, {"amenity": ["hospital", "school", "fire_station"]})
    assert f["osm_id"].tolist() == [900, 905, 901, 902]


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.osm.pbf"
    with pytest.raises(InputError, match=r"nowhere\.osm\.pbf.*does not exist.*Fix"):
        read_osm_ways(missing)
    with pytest.raises(InputError, match="does not exist"):
        read_osm_features(missing, {"amenity": "school"})


def test_corrupt_file_names_the_file_and_fix(tmp_path: Path, tiny_city_osm: Path) -> None:
    broken = tmp_path / "broken.osm"
    broken.write_text(tiny_city_osm.read_text(encoding="utf-8")[:1500], encoding="utf-8")
    with pytest.raises(InputError, match=r"broken\.osm.*corrupt.*Fix: download"):
        read_osm_ways(broken)
    garbage = tmp_path / "garbage.pbf"
    garbage.write_bytes(b"\x00\x01 not a pbf at all" * 10)
    with pytest.raises(InputError, match=r"garbage\.pbf"):
        read_osm_features(garbage, {"amenity": "school"})


def test_wrong_suffix_and_bad_tags(tmp_path: Path, tiny_city_osm: Path) -> None:
    other = tmp_path / "roads.gpkg"
    other.write_bytes(b"")
    with pytest.raises(InputError, match="not an OSM file"):
        read_osm_ways(other)
    with pytest.raises(InputError, match="`tags` is empty"):
        read_osm_features(tiny_city_osm, {})
    with pytest.raises(InputError, match=r"tags\['amenity'\]"):
        read_osm_features(tiny_city_osm, {"amenity": 3})  # type: ignore[dict-item]


@pytest.mark.realdata
def test_chengdu_fire_stations(shared_data_dir: Path) -> None:
    f = read_osm_features(shared_data_dir / "chengdu" / "chengdu_osm.osm.bz2", {"amenity": "fire_station"})
    assert len(f) == 3
    assert set(f["osm_type"]) <= {"node", "way", "relation"}
    assert f.crs.to_epsg() == 4326
    b = f.to_crs(4326).total_bounds
    assert b[0] > 104.0 and b[2] < 104.2
    assert b[1] > 30.6 and b[3] < 30.8


@pytest.mark.realdata
def test_aguascalientes_pbf_ways(shared_data_dir: Path) -> None:
    ways = read_osm_ways(shared_data_dir / "fixtures" / "aguascalientes.osm.pbf")
    assert len(ways) > 600
    counts = shapely.get_num_coordinates(ways.geometry.to_numpy())
    assert counts.tolist() == [len(ids) for ids in ways["node_ids"]]
