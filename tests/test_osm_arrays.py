"""OSM straight to arrays: `graph_from_osm` without a shapely line per way equals the line path."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from gis.errors import NetworkError
from gis.network import RoadGraph, graph_from_lines, graph_from_osm
from gis.osm import read_osm_way_arrays, read_osm_ways

# Every OSM file of the shared data folder (Taiyuan's roads are GeoJSON, not OSM).
SHARED_OSM = (
    "fixtures/aguascalientes.osm.pbf",
    "osm_more/amsterdam.osm.pbf",
    "osm_more/heidelberg.osm.pbf",
    "osm_more/manhattan.osm.pbf",
    "osm_more/melbourne_outer.osm.pbf",
    "osm_more/paris.osm.pbf",
    "osm_more/rome.osm.pbf",
    "osm_more/west_oakland.osm.bz2",
    "chengdu/chengdu_osm.osm.bz2",
)

# Ways cut at the extract's edge (nodes 90, 91 are missing), oneway=-1, reversible, an area
# highway, a closed way, a self-crossing way, repeated nodes, a way through one node twice.
EDGE_CASES = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6">
  <node id="1" lat="37.850" lon="112.550"/>
  <node id="2" lat="37.850" lon="112.552"/>
  <node id="3" lat="37.850" lon="112.554"/>
  <node id="4" lat="37.852" lon="112.554"/>
  <node id="5" lat="37.852" lon="112.552"/>
  <node id="6" lat="37.852" lon="112.550"/>
  <node id="7" lat="37.854" lon="112.552"/>
  <node id="8" lat="37.851" lon="112.553"/>
  <node id="9" lat="37.853" lon="112.551"/>
  <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/><tag k="highway" v="primary"/></way>
  <way id="11"><nd ref="3"/><nd ref="4"/><nd ref="90"/><nd ref="5"/><nd ref="6"/>
    <tag k="highway" v="secondary"/></way>
  <way id="12"><nd ref="6"/><nd ref="1"/><tag k="highway" v="residential"/><tag k="oneway" v="-1"/></way>
  <way id="13"><nd ref="2"/><nd ref="5"/><tag k="highway" v="tertiary"/><tag k="oneway" v="reversible"/></way>
  <way id="14"><nd ref="5"/><nd ref="7"/><nd ref="9"/><nd ref="5"/>
    <tag k="highway" v="residential"/><tag k="name" v="Ring"/></way>
  <way id="15"><nd ref="2"/><nd ref="8"/><nd ref="8"/><nd ref="4"/><nd ref="5"/><nd ref="8"/><nd ref="3"/>
    <tag k="highway" v="living_street"/><tag k="maxspeed" v="10"/></way>
  <way id="16"><nd ref="1"/><nd ref="2"/><nd ref="5"/><nd ref="6"/><nd ref="1"/>
    <tag k="highway" v="pedestrian"/><tag k="area" v="yes"/></way>
  <way id="17"><nd ref="91"/><nd ref="6"/><tag k="highway" v="service"/></way>
  <way id="18"><nd ref="7"/><nd ref="9"/><nd ref="91"/><tag k="highway" v="unclassified"/>
    <tag k="oneway" v="yes"/><tag k="junction" v="roundabout"/></way>
  <way id="19"><nd ref="1"/><nd ref="3"/><tag k="railway" v="rail"/></way>
</osm>
"""


def assert_same_graph(got: RoadGraph, expected: RoadGraph) -> None:
    """Every array, category, CRS and report figure equal (the build time aside)."""
    for f in dataclasses.fields(RoadGraph):
        a, b = getattr(got, f.name), getattr(expected, f.name)
        if f.name == "report":
            assert dataclasses.replace(a, build_time_s=0) == dataclasses.replace(b, build_time_s=0)
        elif isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and np.array_equal(a, b), f.name
        elif isinstance(a, pd.Categorical):
            assert a.equals(b), f.name
        else:
            assert a == b, f.name


def line_path(path: Path, **kwargs) -> RoadGraph:
    """The graph through shapely lines, as `graph_from_osm` built it before."""
    return graph_from_lines(read_osm_ways(path), source=str(path), **kwargs)


@pytest.fixture
def edge_cases(tmp_path: Path) -> Path:
    path = tmp_path / "edges.osm"
    path.write_text(EDGE_CASES)
    return path


def test_the_arrays_are_the_lines_of_read_osm_ways(edge_cases: Path) -> None:
    arrays = read_osm_way_arrays(edge_cases, keys=("highway", "railway"))
    frame = read_osm_ways(edge_cases, keys=("highway", "railway"))
    assert arrays.n_cut == 3
    assert arrays.osm_id.tolist() == frame["osm_id"].tolist() == [10, 11, 11, 12, 13, 14, 15, 16, 18, 19]
    coords = shapely.get_coordinates(frame.geometry.to_numpy())
    assert np.array_equal(np.column_stack([arrays.lon, arrays.lat]), coords)
    assert np.array_equal(arrays.node_id, np.concatenate(frame["node_ids"].to_list()))
    assert np.array_equal(arrays.counts, shapely.get_num_coordinates(frame.geometry.to_numpy()))
    for key, values in arrays.tags.items():
        assert values.tolist() == [None if pd.isna(v) else v for v in frame[key]], key


@pytest.mark.parametrize("keep_largest", [True, False])
def test_edge_cases_build_the_graph_of_the_line_path(edge_cases: Path, keep_largest: bool) -> None:
    got = graph_from_osm(edge_cases, keep_largest=keep_largest)
    assert_same_graph(got, line_path(edge_cases, keep_largest=keep_largest))
    assert got.report.n_lines_in == 9 and got.report.n_lines_skipped == 1  # the area highway
    assert 16 not in got.osm_way_id.tolist()


def test_a_given_crs_and_speed_overrides_build_the_graph_of_the_line_path(tiny_city_osm: Path) -> None:
    speeds = {"highway": {"residential": {"speed_kph": 20.0}}, "defaults": {"maxspeed_policy": "replace"}}
    got = graph_from_osm(tiny_city_osm, crs=3857, road_speeds=speeds)
    assert got.crs.to_epsg() == 3857
    assert_same_graph(got, line_path(tiny_city_osm, crs=3857, road_speeds=speeds))


def test_no_drivable_way_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "paths.osm"
    path.write_text(
        '<osm version="0.6"><node id="1" lat="37.85" lon="112.55"/><node id="2" lat="37.85" lon="112.56"/>'
        '<way id="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="footway"/></way></osm>'
    )
    with pytest.raises(NetworkError, match=r"paths\.osm.*no drivable road.*footway"):
        graph_from_osm(path)


@pytest.mark.parametrize("name", SHARED_OSM)
def test_real_extracts_build_the_graph_of_the_line_path(shared_data_dir: Path, name: str) -> None:
    path = shared_data_dir / name
    if not path.is_file():
        pytest.skip(f"{name} not in ../shared/data")
    got = graph_from_osm(path)
    expected = line_path(path)
    assert_same_graph(got, expected)
    assert np.array_equal(got.travel_time_s, expected.travel_time_s)  # exactly, not close
