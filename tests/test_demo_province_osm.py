"""`riskplan demo --province --osm`: the synthetic province as an OSM file for the OSM path."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import osmium
import pytest

from gis.network import graph_from_lines, graph_from_osm
from gis.osm import read_osm_features, read_osm_ways
from service.cli import main
from tests.test_osm_arrays import assert_same_graph

pytestmark = pytest.mark.slow

SMALL = 30_000


@pytest.fixture(scope="module")
def pbf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("province_osm") / "province.osm.pbf"
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["-q", "demo", "--province", "--osm", str(path), "--nodes", str(SMALL), "--seed", "7"])
    assert code == 0
    return path


def test_the_file_says_it_is_synthetic(pbf: Path) -> None:
    reader = osmium.io.Reader(str(pbf))
    try:
        header = reader.header()
        assert "SYNTHETIC" in header.get("generator")  # (upload=false is an XML attribute only)
    finally:
        reader.close()
    state = read_osm_features(pbf, {"place": "state"})
    assert len(state) == 1 and "SYNTHETIC" in state["tags"].iloc[0]


def test_stations_and_hazards_are_tagged_as_the_citys_file_tags_them(pbf: Path) -> None:
    stations = read_osm_features(pbf, {"amenity": "fire_station"})
    assert len(stations) >= 100 and set(stations.osm_type) == {"node", "way", "relation"}
    assert stations["name"].notna().all()
    mines = read_osm_features(pbf, {"landuse": "industrial"})
    assert len(mines) >= 100


def test_the_province_road_graph_from_osm_equals_the_line_path(pbf: Path) -> None:
    graph = graph_from_osm(pbf)
    assert abs(graph.n_nodes - SMALL) < 0.15 * SMALL
    assert_same_graph(graph, graph_from_lines(read_osm_ways(pbf), source=str(pbf)))


def test_out_with_osm_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["-q", "demo", "--province", "--osm", str(tmp_path / "p.osm.pbf"), "--out", str(tmp_path / "d")]
    assert main(argv) == 2
    assert "Fix:" in capsys.readouterr().err
    assert not (tmp_path / "p.osm.pbf").exists()
