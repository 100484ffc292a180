"""A run's road network outputs: the whole GeoPackage for a city; arrays and main roads above the limit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from gis import load_scenario, scenario_graph, write_demo_scenario
from gis.errors import InputError
from gis.network import load_graph, save_graph
from service._network import MAIN_ROADS, write_network


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    scenario = load_scenario(write_demo_scenario(tmp_path_factory.mktemp("c") / "d.gpkg", n_road_nodes=3000))
    return scenario_graph(scenario, cache=False)


def _same_graph(a, b) -> None:
    assert (a.n_nodes, a.n_edges) == (b.n_nodes, b.n_edges)
    for name in ("node_xy", "indptr", "targets", "key", "length_m", "speed_kph", "travel_time_s"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert np.array_equal(a.geometry_xy, b.geometry_xy)
    assert np.array_equal(a.geometry_offsets, b.geometry_offsets)
    assert list(a.highway) == list(b.highway)
    assert a.crs == b.crs
    assert a.report == b.report


def test_npz_round_trip_is_the_same_graph(graph, tmp_path: Path) -> None:
    _same_graph(load_graph(save_graph(graph, tmp_path / "g.npz")), graph)
    _same_graph(load_graph(save_graph(graph, tmp_path / "g.gpkg")), load_graph(tmp_path / "g.npz"))


def test_a_broken_npz_is_a_clear_error(graph, tmp_path: Path) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(InputError, match=r"bad\.npz.*Fix: save the graph again"):
        load_graph(bad)
    with pytest.raises(InputError, match=r"`\.gpkg`.*`\.npz`"):
        save_graph(graph, tmp_path / "g.shp")


def test_a_city_network_is_one_geopackage(graph, tmp_path: Path) -> None:
    outputs, notes = write_network(graph, tmp_path)
    assert outputs == {"network": tmp_path / "network.gpkg"} and notes == []
    assert not (tmp_path / "network.npz").exists()
    _same_graph(load_graph(outputs["network"]), load_graph(save_graph(graph, tmp_path / "ref.gpkg")))


def test_above_the_limit_arrays_and_the_main_roads(graph, tmp_path: Path) -> None:
    outputs, notes = write_network(graph, tmp_path, max_gpkg_edges=graph.n_edges - 1)
    assert set(outputs) == {"network", "network_main_roads"}
    assert outputs["network"].name == "network.npz" and not (tmp_path / "network.gpkg").exists()
    _same_graph(load_graph(outputs["network"]), graph)
    assert len(notes) == 1 and "network.npz" in notes[0] and f"{graph.n_edges:,}" in notes[0]
    roads = pyogrio.read_dataframe(outputs["network_main_roads"], layer="edges")
    highway = pd.Series(graph.edge_attribute("highway"))
    main = np.flatnonzero(highway.isin(MAIN_ROADS).to_numpy())
    assert 0 < len(roads) == len(main) < graph.n_edges
    assert roads["edge"].tolist() == main.tolist()
    assert np.array_equal(roads["travel_time_s"].to_numpy(), graph.travel_time_s[main])
    assert roads["u"].tolist() == graph.nodes[graph.sources[main]].tolist()
    lines = graph.edge_geometries()[main]
    assert shapely.equals_exact(roads.geometry.to_numpy(), lines, 0).all()
    assert roads.crs == graph.crs
    note = pyogrio.read_dataframe(outputs["network_main_roads"], layer="notes")
    assert note["note"].tolist() == notes
