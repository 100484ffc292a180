"""Same answers through networkx (issue 14): the RoadGraph and its ``to_networkx()`` agree exactly.

Travel times from the array graph (csgraph Dijkstra) equal networkx's Dijkstra on
``to_networkx()`` to the last bit; coverage and station districts computed on the RoadGraph
equal those computed on the networkx graph (converted back by ``as_road_graph``), on the demo
city and, when ``../shared/data`` is there, on Taiyuan and Chengdu.
"""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from gis import InputError, load_scenario, write_demo_scenario
from gis.network import RoadGraph, as_road_graph, graph_from_file, graph_from_osm
from gis.scenario import scenario_graph
from planning import analyse_coverage
from planning.districts import station_districts
from planning.snapping import snap_stations
from planning.travel import nearest_sources, travel_times


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, RoadGraph]:
    gpkg = tmp_path_factory.mktemp("demo") / "demo.gpkg"
    scenario = load_scenario(write_demo_scenario(gpkg, n_road_nodes=3000))
    return scenario, scenario_graph(scenario, cache=False)


def nx_times(nxg: nx.MultiDiGraph, sources: list[int]) -> np.ndarray:
    """networkx's Dijkstra from each source: ``(n_nodes, len(sources))``, inf where unreachable."""
    out = np.full((nxg.number_of_nodes(), len(sources)), np.inf)
    for j, s in enumerate(sources):
        for node, t in nx.single_source_dijkstra_path_length(nxg, s, weight="travel_time_s").items():
            out[node, j] = t
    return out


def assert_exact_travel_times(road: RoadGraph, n_sources: int) -> None:
    G = road
    rng = np.random.default_rng(14)
    sources = sorted(rng.choice(G.n_nodes, size=n_sources, replace=False).tolist())
    H = G.to_networkx()
    ours = travel_times(G, sources)
    np.testing.assert_array_equal(ours, nx_times(H, sources))
    np.testing.assert_array_equal(travel_times(H, sources), ours)  # networkx input: same engine
    nearest, _ = nearest_sources(G, sources)
    reference = nx.multi_source_dijkstra_path_length(H, sources, weight="travel_time_s")
    np.testing.assert_array_equal(nearest, [reference.get(i, np.inf) for i in range(G.n_nodes)])


def test_demo_travel_times_equal_networkx_dijkstra(demo: tuple[object, RoadGraph]) -> None:
    _, G = demo
    assert_exact_travel_times(G, 8)


def test_demo_round_trips_through_networkx(demo: tuple[object, RoadGraph]) -> None:
    _, G = demo
    back = RoadGraph.from_networkx(G.to_networkx())
    for name in ("node_xy", "indptr", "targets", "key", "length_m", "speed_kph", "travel_time_s"):
        np.testing.assert_array_equal(getattr(back, name), getattr(G, name), err_msg=name)
    for name in ("oneway", "osm_way_id", "geometry_xy", "geometry_offsets"):
        np.testing.assert_array_equal(getattr(back, name), getattr(G, name), err_msg=name)
    assert back.highway.tolist() == G.highway.tolist() and back.crs == G.crs
    assert back.report == G.report and not back.edge_attrs


def test_demo_coverage_equals_coverage_through_networkx(demo: tuple[object, RoadGraph]) -> None:
    scenario, G = demo
    H = G.to_networkx()
    ours = analyse_coverage(scenario, G)  # type: ignore[arg-type]
    theirs = analyse_coverage(scenario, H)  # type: ignore[arg-type]
    assert as_road_graph(H) is not G
    for name in ("stations", "communities", "hazards", "area_units", "summary", "hazards_by_grade"):
        pd.testing.assert_frame_equal(getattr(ours, name), getattr(theirs, name), obj=name)
    pd.testing.assert_frame_equal(ours.districts, theirs.districts, obj="districts")
    # the engine's node times are networkx's multi-source Dijkstra
    stations = ours.stations
    nearest = nx.multi_source_dijkstra_path_length(H, stations["node"].tolist(), weight="travel_time_s")
    got, _ = nearest_sources(G, stations["node"].tolist())
    np.testing.assert_array_equal(got, [nearest.get(i, np.inf) for i in range(G.n_nodes)])


def test_demo_districts_equal_districts_through_networkx(demo: tuple[object, RoadGraph]) -> None:
    scenario, G = demo
    st = scenario["fire_stations"].copy()  # type: ignore[index]
    st["node"] = snap_stations(G, st)["node"]
    H = G.to_networkx()
    ours = station_districts(G, st)
    theirs = station_districts(H, st)
    pd.testing.assert_series_equal(ours.node_station, theirs.node_station)
    pd.testing.assert_frame_equal(ours.districts, theirs.districts)
    pd.testing.assert_frame_equal(ours.violations, theirs.violations)
    # every node's district station is one at networkx's shortest time from any station
    times = nx_times(H, st["node"].tolist())
    best = times.min(axis=1)
    col = {sid: j for j, sid in enumerate(st.index)}
    reached = ours.node_station.notna().to_numpy()
    picked = times[np.flatnonzero(reached), [col[s] for s in ours.node_station[reached]]]
    np.testing.assert_array_equal(picked, best[reached])


@pytest.mark.realdata
def test_taiyuan_travel_times_equal_networkx(shared_data_dir: Path) -> None:
    path = shared_data_dir / "taiyuan" / "roads_osm.geojson.gz"
    if not path.exists():
        pytest.skip(f"{path} not found (real data lives in ../shared/data, beside the repository)")
    assert_exact_travel_times(graph_from_file(path, cache=False), 4)


@pytest.mark.realdata
def test_chengdu_travel_times_equal_networkx(shared_data_dir: Path) -> None:
    path = shared_data_dir / "chengdu" / "chengdu_osm.osm.bz2"
    if not path.exists():
        pytest.skip(f"{path} not found (real data lives in ../shared/data, beside the repository)")
    assert_exact_travel_times(graph_from_osm(path), 4)


def test_subgraph_equals_networkx_subgraph(demo: tuple[object, RoadGraph]) -> None:
    # RoadGraph.subgraph (the city boxes of a province run) against networkx's induced subgraph
    _, road = demo
    x = road.node_xy[:, 0]
    keep = x <= np.quantile(x, 0.4)
    sub = road.subgraph(keep)
    ref = road.to_networkx().subgraph(np.flatnonzero(keep).tolist())
    assert (sub.n_nodes, sub.n_edges) == (ref.number_of_nodes(), ref.number_of_edges())
    assert np.array_equal(sub.node_xy, road.node_xy[keep])
    old = np.flatnonzero(keep)
    got = sorted(
        (int(old[u]), int(old[v]), int(k), float(t))
        for u, v, k, t in zip(sub.sources, sub.targets, sub.key, sub.travel_time_s, strict=True)
    )
    want = sorted((u, v, k, float(d["travel_time_s"])) for u, v, k, d in ref.edges(keys=True, data=True))
    assert got == want
    # the lines stay with their edges
    assert np.array_equal(np.diff(sub.geometry_offsets), sub.edges_gdf().geometry.count_coordinates())
    # positions and the mask give the same graph; no node, no edge
    assert road.subgraph(old).n_edges == sub.n_edges
    assert road.subgraph(np.zeros(road.n_nodes, bool)).n_edges == 0
    with pytest.raises(InputError, match="one value per node"):
        road.subgraph(keep[:-1])
