"""Road graph building: OSM files, line layers, osmnx graphs, GeoPackage and cache."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx as ox
import pandas as pd
import pyproj
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import LineString, MultiLineString, Point, Polygon

from gis import network
from gis.errors import CRSError, InputError, NetworkError
from gis.network import (
    MISSING_ID,
    NetworkReport,
    RoadGraph,
    _cache,
    graph_from_file,
    graph_from_lines,
    graph_from_osm,
    graph_from_osmnx,
    graph_from_query,
    load_graph,
    parse_maxspeed,
    parse_other_tags,
    save_graph,
    speed_table,
)
from gis.network._cache import cache_key, cached_graph
from gis.network._columns import decode
from gis.network._store import read_npz
from gis.osm import read_osm_ways

GEOD = pyproj.Geod(ellps="WGS84")
UTM49 = "EPSG:32649"
X0, Y0 = 500_000.0, 4_190_000.0  # metric test layers sit near Taiyuan in UTM 49N
ARRAYS = (
    "node_xy",
    "indptr",
    "targets",
    "key",
    "length_m",
    "speed_kph",
    "travel_time_s",
    "highway",
    "oneway",
    "osm_way_id",
    "name",
    "geometry_xy",
    "geometry_offsets",
    "osm_node_id",
    "labels",
)


def node_of(graph: RoadGraph) -> dict[int, int]:
    """OSM node id -> graph node."""
    assert graph.osm_node_id is not None
    return {k: i for i, k in enumerate(graph.osm_node_id.tolist())}


def edge_data(graph: RoadGraph, j: int) -> dict[str, Any]:
    """The attributes of edge ``j`` read from the arrays, absent where unknown (as in to_networkx)."""
    d: dict[str, Any] = {"oneway": bool(graph.oneway[j])}
    if graph.osm_way_id[j] != MISSING_ID:
        d["osmid"] = int(graph.osm_way_id[j])
    for name in ("highway", "name"):
        value = getattr(graph, name)[j]
        if isinstance(value, str):
            d[name] = value
    for name in ("length_m", "speed_kph", "travel_time_s"):
        d[name] = float(getattr(graph, name)[j])
    if graph.own_geometry[j]:
        d["geometry"] = graph.edge_geometries()[j]
    return d


def edges(graph: RoadGraph) -> list[tuple[int, int, dict[str, Any]]]:
    """``(u, v, data)`` of every edge, in edge order."""
    return [
        (u, v, edge_data(graph, j))
        for j, (u, v) in enumerate(zip(graph.sources.tolist(), graph.targets.tolist(), strict=True))
    ]


def keyed(graph: RoadGraph, u: int, v: int) -> dict[int, dict[str, Any]]:
    """``{key: data}`` of the edges from node ``u`` to node ``v``."""
    lo, hi = graph.indptr[u], graph.indptr[u + 1]
    return {int(graph.key[j]): edge_data(graph, j) for j in range(lo, hi) if graph.targets[j] == v}


def edge(graph: RoadGraph, u: int, v: int, key: int = 0) -> dict[str, Any]:
    return keyed(graph, u, v)[key]


def has_edge(graph: RoadGraph, u: int, v: int) -> bool:
    return bool(keyed(graph, u, v))


def edges_between(graph: RoadGraph, a: int, b: int) -> list[dict[str, Any]]:
    """Data of the edges from OSM node ``a`` to OSM node ``b``."""
    n = node_of(graph)
    return list(keyed(graph, n[a], n[b]).values())


def assert_same_arrays(a: RoadGraph, b: RoadGraph) -> None:
    """Same nodes, edges, keys, attributes and lines, array for array (exact)."""
    for name in ARRAYS:
        x, y = getattr(a, name), getattr(b, name)
        if x is None or y is None:
            assert x is y, name
        elif isinstance(x, pd.Categorical):
            assert decode(x).tolist() == decode(y).tolist(), name
        else:
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=name)
    assert (a.crs, a.source, a.report) == (b.crs, b.source, b.report)


def strongly_connected(graph: RoadGraph) -> bool:
    """networkx's verdict on the graph (the independent reference)."""
    return bool(nx.is_strongly_connected(graph.to_networkx()))


def metric_lines(rows: list[tuple[list[tuple[float, float]], dict[str, Any]]]) -> gpd.GeoDataFrame:
    """Lines in UTM 49N from local coordinates (metres from X0, Y0) and attributes."""
    geoms = [LineString([(X0 + x, Y0 + y) for x, y in coords]) for coords, _ in rows]
    cols = sorted({k for _, attrs in rows for k in attrs})
    data = {c: [attrs.get(c) for _, attrs in rows] for c in cols}
    return gpd.GeoDataFrame(data, geometry=geoms, crs=UTM49)


def at(graph: RoadGraph, x: float, y: float) -> int:
    """The node at local coordinates (x, y)."""
    near = np.flatnonzero((np.abs(graph.node_xy - [X0 + x, Y0 + y]) < 1e-6).all(axis=1))
    if len(near) == 1:
        return int(near[0])
    msg = f"no node at {x}, {y}"
    raise AssertionError(msg)


def geodesic_length(graph: RoadGraph, u: int, v: int, data: dict[str, Any]) -> float:
    line = data.get("geometry") or LineString([graph.node_xy[u], graph.node_xy[v]])
    ll = gpd.GeoSeries([line], crs=graph.crs).to_crs(4326).iloc[0]
    return GEOD.geometry_length(ll)


@pytest.fixture(scope="module")
def tiny(tiny_city_osm: Path) -> RoadGraph:
    return graph_from_osm(tiny_city_osm)


# ----------------------------------------------------------------------------- OSM file


def test_tiny_city_counts_and_report(tiny: RoadGraph) -> None:
    assert (tiny.n_nodes, tiny.n_edges) == (10, 19)
    assert tiny.nodes.tolist() == list(range(10)) and tiny.labels is None
    r = tiny.report
    assert isinstance(r, NetworkReport)
    assert (r.n_nodes, r.n_edges, r.n_dropped_nodes, r.n_dropped_edges, r.n_components) == (
        10,
        19,
        2,
        2,
        2,
    )
    assert (r.n_lines_in, r.n_lines_skipped) == (9, 1)  # the footway
    assert r.length_km == pytest.approx(
        sum(d["length_m"] for u, v, d in edges(tiny) if u < v or d["oneway"]) / 1000
    )
    assert "10 nodes, 19 edges" in str(r) and "dropping 2 nodes and 2 edges" in str(r)
    assert tiny.crs.to_epsg() == 32649
    assert tiny.source.endswith("tiny_city.osm.xml")
    assert strongly_connected(tiny)


def test_tiny_city_excludes_footway_and_island(tiny: RoadGraph) -> None:
    osm_nodes = set(node_of(tiny))
    assert osm_nodes == {1, 2, 3, 4, 5, 6, 7, 11, 14, 16}  # interior vertices 8, 9, 10, 12, 13 are not nodes
    assert "footway" not in {d["highway"] for *_, d in edges(tiny)}


def test_tiny_city_oneway_directions(tiny: RoadGraph) -> None:
    # North Street, oneway=yes: 6 -> 2 -> 7 only
    assert [d["osmid"] for d in edges_between(tiny, 6, 2)] == [101]
    assert [d["osmid"] for d in edges_between(tiny, 2, 7)] == [101]
    assert edges_between(tiny, 2, 6) == [] and edges_between(tiny, 7, 2) == []
    assert all(d["oneway"] for d in edges_between(tiny, 6, 2))
    # South Road, oneway=-1 drawn 6 -> 9 -> 3: travel 3 -> 6 only
    (south,) = edges_between(tiny, 3, 6)
    assert south["osmid"] == 103 and south["oneway"]
    assert edges_between(tiny, 6, 3) == []
    # Yingze Street is two-way, not oneway
    assert len(edges_between(tiny, 1, 2)) == len(edges_between(tiny, 2, 1)) == 1
    assert not edges_between(tiny, 1, 2)[0]["oneway"]


def test_tiny_city_roundabout(tiny: RoadGraph) -> None:
    (south_half,) = edges_between(tiny, 5, 11)  # counter-clockwise via node 10 (south)
    (north_half,) = edges_between(tiny, 11, 5)  # via node 12 (north)
    assert south_half["oneway"] and north_half["oneway"] and south_half["highway"] == "primary"
    s_y = shapely.get_coordinates(south_half["geometry"])[1, 1]
    n_y = shapely.get_coordinates(north_half["geometry"])[1, 1]
    assert s_y < tiny.node_xy[node_of(tiny)[5], 1] < n_y


def test_tiny_city_lengths_speeds_and_times(tiny: RoadGraph) -> None:
    for u, v, d in edges(tiny):
        assert d["length_m"] == pytest.approx(geodesic_length(tiny, u, v, d), rel=5e-4)
        assert d["travel_time_s"] == pytest.approx(d["length_m"] / (d["speed_kph"] / 3.6), rel=1e-12)
    (east,) = edges_between(tiny, 11, 14)
    assert east["speed_kph"] == pytest.approx(30 * 1.609344)  # maxspeed 30 mph under primary's 50
    assert edges_between(tiny, 1, 2)[0]["speed_kph"] == 25.0  # residential
    (sw,) = edges_between(tiny, 6, 16)
    assert sw["speed_kph"] == 15.0 and "name" not in sw  # service road without a name
    # 0.001 degree of longitude at 37.85 N, by hand: 111,320 m * cos(37.85) ~ 88.0 m
    assert edges_between(tiny, 1, 2)[0]["length_m"] == pytest.approx(88.0, abs=0.1)


def test_tiny_city_geometry_only_when_bent(tiny: RoadGraph) -> None:
    for u, v, d in edges(tiny):
        if "geometry" not in d:
            continue
        coords = shapely.get_coordinates(d["geometry"])
        assert len(coords) >= 3
        np.testing.assert_allclose(coords[0], tiny.node_xy[u])
        np.testing.assert_allclose(coords[-1], tiny.node_xy[v])
        assert d["geometry"].length == pytest.approx(d["length_m"])
    with_geom = {(d["osmid"]) for *_, d in edges(tiny) if "geometry" in d}
    assert with_geom == {102, 103, 104, 105}
    (loop_ab,) = edges_between(tiny, 4, 7)
    (loop_ba,) = edges_between(tiny, 7, 4)
    assert loop_ab["geometry"].equals(loop_ba["geometry"].reverse())


def test_keep_largest_false_keeps_the_island(tiny_city_osm: Path) -> None:
    G = graph_from_osm(tiny_city_osm, keep_largest=False)
    assert (G.n_nodes, G.n_edges) == (12, 21)
    assert {20, 21} <= set(node_of(G))
    assert G.report.n_dropped_nodes == 0


def _osmnx_reference(path: Path, speeds: Any = None) -> nx.MultiDiGraph:
    """osmnx on the same XML: drivable classes only, simplified, largest SCC."""
    table = speed_table(speeds)
    drivable = {k for k, e in table["highway"].items() if e["drivable"]}
    H = ox.graph_from_xml(path, simplify=False, retain_all=True)
    bad = [(u, v, k) for u, v, k, hw in H.edges(keys=True, data="highway") if hw not in drivable]
    H.remove_edges_from(bad)
    H.remove_nodes_from(list(nx.isolates(H)))
    H = ox.simplify_graph(H)
    return ox.truncate.largest_component(H, strongly=True)


def test_tiny_city_matches_osmnx(tiny: RoadGraph, tiny_city_osm: Path) -> None:
    H = _osmnx_reference(tiny_city_osm)
    assert (tiny.n_nodes, tiny.n_edges) == (len(H), H.number_of_edges())
    assert set(node_of(tiny)) == set(H.nodes)
    ours = sum(d["length_m"] for *_, d in edges(tiny))
    theirs = sum(d["length"] for *_, d in H.edges(data=True))
    assert ours == pytest.approx(theirs, rel=1e-3)
    # same directed adjacency, in OSM ids
    osmid = tiny.osm_node_id
    assert osmid is not None
    ours_uv = zip(osmid[tiny.sources].tolist(), osmid[tiny.targets].tolist(), strict=True)
    assert sorted(ours_uv) == sorted(H.edges())


def test_osmnx_graph_to_gdfs_works(tiny: RoadGraph) -> None:
    nodes, edges = ox.graph_to_gdfs(tiny.to_networkx())
    assert len(nodes) == 10 and len(edges) == 19
    assert nodes.crs == edges.crs == tiny.crs
    assert {"length_m", "speed_kph", "travel_time_s", "oneway", "highway"} <= set(edges.columns)
    assert (edges.geometry.length - edges["length_m"]).abs().max() < 1e-6


def test_lines_from_osm_ways_join_like_node_ids(tiny_city_osm: Path, tiny: RoadGraph) -> None:
    ways = read_osm_ways(tiny_city_osm).drop(columns="node_ids")  # join on coordinates instead
    G = graph_from_lines(ways, source="ways")
    assert (G.n_nodes, G.n_edges) == (10, 19)
    assert G.osm_node_id is None
    assert sorted(d["length_m"] for *_, d in edges(G)) == pytest.approx(
        sorted(d["length_m"] for *_, d in edges(tiny))
    )


def test_pbf_builds_the_same_graph(tiny_city_osm: Path, tmp_path: Path, tiny: RoadGraph) -> None:
    import osmium

    pbf = tmp_path / "city.osm.pbf"
    with osmium.SimpleWriter(str(pbf)) as writer:
        for obj in osmium.FileProcessor(str(tiny_city_osm)):
            writer.add(obj)
    G = graph_from_osm(pbf)
    for name in ("indptr", "targets", "key", "osm_node_id", "osm_way_id", "length_m", "geometry_xy"):
        np.testing.assert_array_equal(getattr(G, name), getattr(tiny, name), err_msg=name)


# ------------------------------------------------------------------------------ lines


def test_lines_join_at_shared_interior_vertices() -> None:
    roads = metric_lines(
        [
            ([(0, 0), (100, 0), (200, 0)], {"highway": "primary"}),
            ([(100, -100), (100, 0), (100, 100)], {"highway": "secondary"}),
        ]
    )
    G = graph_from_lines(roads)
    assert (G.n_nodes, G.n_edges) == (5, 8)
    c = at(G, 100, 0)
    assert int((G.sources == c).sum() + (G.targets == c).sum()) == 8  # in 4 + out 4
    assert edge(G, at(G, 0, 0), c)["length_m"] == pytest.approx(100.0)
    assert edge(G, at(G, 0, 0), c)["travel_time_s"] == pytest.approx(100 / (50 / 3.6))
    assert G.crs.to_epsg() == 32649  # already metric: kept


def test_crossing_without_shared_vertex_does_not_join() -> None:
    roads = metric_lines(
        [
            ([(0, 0), (200, 0)], {"highway": "primary"}),
            ([(100, -100), (100, 100)], {"highway": "primary", "bridge": "yes"}),  # overpass
        ]
    )
    G = graph_from_lines(roads, keep_largest=False)
    assert G.n_nodes == 4 and G.n_edges == 4
    assert G.report.n_components == 2
    G2 = graph_from_lines(roads)
    assert G2.n_nodes == 2 and G2.report.n_dropped_nodes == 2


def test_join_tolerance_is_one_centimetre() -> None:
    roads = metric_lines(
        [
            ([(0, 0), (100, 0)], {"highway": "primary"}),
            ([(100.001, 0.001), (200, 0)], {"highway": "primary"}),  # 1 mm off: joins
            ([(200.05, 0), (300, 0)], {"highway": "primary"}),  # 5 cm off: does not join
        ]
    )
    G = graph_from_lines(roads, keep_largest=False)
    assert G.n_nodes == 5
    assert G.report.n_components == 2


def test_oneway_and_maxspeed_from_other_tags() -> None:
    roads = metric_lines(
        [
            ([(0, 0), (100, 0)], {"highway": "primary", "other_tags": '"lanes"=>"2","oneway"=>"yes"'}),
            ([(100, 0), (100, 100)], {"highway": "primary", "other_tags": '"oneway"=>"-1"'}),
            ([(100, 100), (0, 100), (0, 0)], {"highway": "primary", "other_tags": '"maxspeed"=>"20"'}),
            ([(0, 0), (-100, 0)], {"highway": "footway", "other_tags": None}),
            ([(0, 100), (-100, 100)], {"highway": None, "other_tags": '"railway"=>"rail"'}),
            ([(100, 100), (200, 200)], {"highway": "service", "other_tags": '"area"=>"yes"'}),
        ]
    )
    G = graph_from_lines(roads, keep_largest=False)
    a, b, c = at(G, 0, 0), at(G, 100, 0), at(G, 100, 100)
    assert has_edge(G, a, b) and not has_edge(G, b, a)
    assert has_edge(G, c, b) and not has_edge(G, b, c)  # -1: against the drawing direction
    assert has_edge(G, c, a) and has_edge(G, a, c)
    assert edge(G, c, a)["speed_kph"] == 20.0
    assert edge(G, a, b)["speed_kph"] == 50.0
    r = G.report
    assert (r.n_lines_in, r.n_lines_skipped) == (6, 3)  # footway, railway, area
    assert G.n_nodes == 3


def test_own_columns_win_over_other_tags() -> None:
    roads = metric_lines(
        [
            ([(0, 0), (100, 0)], {"highway": "primary", "oneway": "no", "other_tags": '"oneway"=>"yes"'}),
        ]
    )
    G = graph_from_lines(roads)
    assert G.n_edges == 2


def test_roundabout_and_motorway_imply_oneway() -> None:
    roads = metric_lines(
        [
            ([(0, 0), (100, 0), (50, 80), (0, 0)], {"highway": "primary", "junction": "roundabout"}),
            ([(0, 0), (-100, 0)], {"highway": "motorway"}),
            ([(0, 0), (0, -100)], {"highway": "motorway", "oneway": "no"}),
        ]
    )
    G = graph_from_lines(roads, keep_largest=False)
    o = at(G, 0, 0)
    loops = keyed(G, o, o)
    assert len(loops) == 1 and loops[0]["oneway"]  # the ring is one self-loop edge, one way
    assert has_edge(G, o, at(G, -100, 0)) and not has_edge(G, at(G, -100, 0), o)
    assert has_edge(G, o, at(G, 0, -100)) and has_edge(G, at(G, 0, -100), o)


def test_multilinestrings_are_exploded_and_geographic_input_projected() -> None:
    ll = gpd.GeoDataFrame(
        {"highway": ["residential"]},
        geometry=[
            MultiLineString([[(112.55, 37.85), (112.551, 37.85)], [(112.551, 37.85), (112.551, 37.851)]])
        ],
        crs=4326,
    )
    G = graph_from_lines(ll)
    assert G.n_nodes == 3 and G.n_edges == 4
    assert G.crs.to_epsg() == 32649
    G2 = graph_from_lines(ll, crs="EPSG:32650")  # a given metric CRS is honoured
    assert G2.crs.to_epsg() == 32650
    with pytest.raises(CRSError, match="projected CRS in metres"):
        graph_from_lines(ll, crs=4326)


def test_distorting_metric_crs_is_reprojected() -> None:
    ll = gpd.GeoDataFrame(
        {"highway": ["primary"]}, geometry=[LineString([(112.55, 37.85), (112.56, 37.85)])], crs=4326
    )
    web = ll.to_crs(3857)  # metres, but 27 % too long at Taiyuan
    G = graph_from_lines(web)
    assert G.crs.to_epsg() == 32649
    geod = GEOD.inv(112.55, 37.85, 112.56, 37.85)[2]
    assert edge(G, 0, 1)["length_m"] == pytest.approx(geod, rel=5e-4)
    cgcs = graph_from_lines(ll.to_crs(4547))  # CGCS2000 3-degree Gauss-Kruger zone 38: kept
    assert cgcs.crs.to_epsg() == 4547


def test_layer_without_highway_column_is_all_roads() -> None:
    roads = metric_lines([([(0, 0), (100, 0)], {"name": "A"})])
    G = graph_from_lines(roads)
    d = edge(G, 0, 1)
    assert d["speed_kph"] == speed_table()["defaults"]["default_speed_kph"]
    assert d["name"] == "A" and "highway" not in d


def test_unknown_classes_skipped_unless_allowed() -> None:
    roads = metric_lines(
        [
            ([(0, 0), (100, 0)], {"highway": "primary"}),
            ([(100, 0), (200, 0)], {"highway": "hovercraft_lane"}),
        ]
    )
    assert graph_from_lines(roads).n_nodes == 2
    G = graph_from_lines(roads, road_speeds={"defaults": {"unknown_drivable": True}})
    assert G.n_nodes == 3
    assert edge(G, at(G, 100, 0), at(G, 200, 0))["speed_kph"] == 25.0


def test_bad_inputs() -> None:
    roads = metric_lines([([(0, 0), (100, 0)], {"highway": "primary"})])
    with pytest.raises(CRSError, match="no CRS"):
        graph_from_lines(roads.set_crs(None, allow_override=True))
    polys = gpd.GeoDataFrame(
        {"highway": ["primary"]}, geometry=[Polygon([(0, 0), (1, 0), (1, 1)])], crs=UTM49
    )
    with pytest.raises(InputError, match=r"non-line geometries \(rows \[0\]\)"):
        graph_from_lines(polys)
    foot = metric_lines([([(0, 0), (100, 0)], {"highway": "footway"})])
    with pytest.raises(NetworkError, match=r"no drivable road.*footway"):
        graph_from_lines(foot)
    oneway_only = metric_lines([([(0, 0), (100, 0)], {"highway": "primary", "oneway": "yes"})])
    with pytest.raises(NetworkError, match="single node"):
        graph_from_lines(oneway_only)
    with pytest.raises(InputError, match="GeoDataFrame"):
        graph_from_lines(roads.drop(columns="geometry"))  # type: ignore[arg-type]


def test_empty_and_degenerate_lines_are_skipped() -> None:
    roads = gpd.GeoDataFrame(
        {"highway": ["primary"] * 4},
        geometry=[
            LineString([(X0, Y0), (X0 + 100, Y0)]),
            LineString([(X0 + 50, Y0 + 50), (X0 + 50, Y0 + 50)]),  # zero length
            None,  # missing
            LineString(),  # empty
        ],
        crs=UTM49,
    )
    G = graph_from_lines(roads)
    assert G.n_nodes == 2
    assert G.report.n_lines_skipped == 3


def test_parallel_edges_get_keys() -> None:
    roads = metric_lines(
        [
            ([(0, 0), (100, 0)], {"highway": "primary"}),
            ([(0, 0), (50, 30), (100, 0)], {"highway": "residential"}),
        ]
    )
    G = graph_from_lines(roads)
    a, b = at(G, 0, 0), at(G, 100, 0)
    assert sorted(keyed(G, a, b)) == [0, 1]
    assert [keyed(G, a, b)[k]["highway"] for k in (0, 1)] == ["primary", "residential"]


@st.composite
def random_streets(draw: st.DrawFn) -> gpd.GeoDataFrame:
    """Polylines on a 6 x 6 lattice of 100 m, so that they share vertices often."""
    n = draw(st.integers(1, 12))
    rows = []
    for _ in range(n):
        pts = draw(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=2, max_size=5))
        if len(set(pts)) < 2:
            pts = [(0, 0), (1, 0)]
        oneway = draw(st.sampled_from([None, "yes", "-1", "no"]))
        rows.append(([(100.0 * x, 100.0 * y) for x, y in pts], {"highway": "primary", "oneway": oneway}))
    return metric_lines(rows)


@settings(max_examples=40, deadline=None)
@given(roads=random_streets())
def test_random_streets_invariants(roads: gpd.GeoDataFrame) -> None:
    try:
        full = graph_from_lines(roads, keep_largest=False)
    except NetworkError:
        return  # every line collapsed or one way only: reported, fine
    # every road metre is in the graph once per direction of travel
    lines = roads.geometry.to_numpy()
    ways = np.where(roads["oneway"].isin(["yes", "-1"]), 1, 2)
    expected = float(np.sum(shapely.length(lines) * ways))
    assert sum(d["length_m"] for *_, d in edges(full)) == pytest.approx(expected)
    # the pruned graph is networkx's largest strongly connected component
    full_nx = full.to_networkx()
    biggest = max(nx.strongly_connected_components(full_nx), key=len)
    assert full.report.n_components == nx.number_strongly_connected_components(full_nx)
    try:
        pruned = graph_from_lines(roads)
    except NetworkError:
        assert len(biggest) == 1
        return
    assert pruned.n_nodes == len(biggest)
    assert pruned.n_edges == full_nx.subgraph(biggest).number_of_edges()
    assert strongly_connected(pruned)


# ------------------------------------------------------------------------- speeds, tags


def test_parse_maxspeed() -> None:
    values = [
        "50",
        "50 km/h",
        "30 mph",
        "50;60",
        "60; 40",
        "CN:urban",
        "cn:MOTORWAY",
        "none",
        "signals",
        "walk",
        None,
        float("nan"),
        80,
        ["70", "50"],
        "0",
        "-5",
        "fast",
        "10 knots",
    ]
    expected = [
        50,
        50,
        48.28032,
        50,
        40,
        50,
        120,
        np.nan,
        np.nan,
        5,
        np.nan,
        np.nan,
        80,
        50,
        np.nan,
        np.nan,
        np.nan,
        18.52,
    ]
    np.testing.assert_allclose(parse_maxspeed(values), expected, equal_nan=True)
    assert parse_maxspeed([]).shape == (0,)
    np.testing.assert_allclose(parse_maxspeed(["XX:zone"], named={"xx:zone": 15}), [15.0])


def test_parse_other_tags_handles_quotes_and_missing() -> None:
    s = gpd.pd.Series(['"name"=>"A \\"B\\"","oneway"=>"yes"', None, '"maxspeed"=>"40"'])
    out = parse_other_tags(s, ("oneway", "maxspeed", "name"))
    assert out["oneway"].tolist() == ["yes", None, None]
    assert out["maxspeed"].tolist() == [None, None, "40"]
    assert out["name"].tolist()[0] == 'A \\"B\\"'


def test_speed_table_overrides_and_validation(tmp_path: Path) -> None:
    t = speed_table({"highway": {"primary": {"speed_kph": 45.0}}})
    assert t["highway"]["primary"]["speed_kph"] == 45.0
    assert speed_table()["highway"]["primary"]["speed_kph"] == 50.0  # shipped table untouched
    toml = tmp_path / "speeds.toml"
    toml.write_text("[highway.residential]\nspeed_kph = 18.0\n")
    assert speed_table(toml)["highway"]["residential"]["speed_kph"] == 18.0
    with pytest.raises(InputError, match="maxspeed_policy"):
        speed_table({"defaults": {"maxspeed_policy": "fastest"}})
    with pytest.raises(InputError, match=r"highway\.foo\.speed_kph"):
        speed_table({"highway": {"foo": {"drivable": True}}})
    with pytest.raises(InputError, match="max_snap_m"):
        speed_table({"defaults": {"max_snap_m": -1}})
    for cls, e in speed_table()["highway"].items():
        assert isinstance(e["speed_kph"], float), cls
        assert e["source"], cls


def test_maxspeed_policies() -> None:
    roads = metric_lines(
        [
            ([(0, 0), (100, 0)], {"highway": "residential", "maxspeed": "60"}),
            ([(0, 0), (0, 100)], {"highway": "primary", "maxspeed": "30"}),
        ]
    )

    def speeds(policy: str, factor: float = 1.0) -> list[float]:
        G = graph_from_lines(
            roads, road_speeds={"defaults": {"maxspeed_policy": policy, "maxspeed_factor": factor}}
        )
        o = at(G, 0, 0)
        return [edge(G, o, at(G, 100, 0))["speed_kph"], edge(G, o, at(G, 0, 100))["speed_kph"]]

    assert speeds("cap") == [25.0, 30.0]
    assert speeds("ignore") == [25.0, 50.0]
    assert speeds("replace", 0.5) == [30.0, 15.0]


# ------------------------------------------------------------------------------ osmnx


def osmnx_style_graph() -> nx.MultiDiGraph:
    """A small graph as osmnx returns it (unprojected, simplified, list attributes)."""
    H = nx.MultiDiGraph(crs="epsg:4326")
    H.add_node(1001, x=112.550, y=37.850, street_count=3)
    H.add_node(1002, x=112.552, y=37.850, street_count=3)
    H.add_node(1003, x=112.551, y=37.852, street_count=2)
    bend = LineString([(112.552, 37.850), (112.5525, 37.851), (112.551, 37.852)])
    two_way = {
        "osmid": [11, 12],
        "highway": ["primary", "secondary"],
        "oneway": False,
        "maxspeed": ["60", "40"],
        "name": "Bing Street",
        "length": 176.0,
    }
    H.add_edge(1001, 1002, **two_way)
    H.add_edge(1002, 1001, **two_way)
    H.add_edge(1002, 1003, osmid=13, highway="residential", oneway=True, geometry=bend, length=1.0)
    H.add_edge(1003, 1001, osmid=14, highway="tertiary", oneway=True, length=1.0)
    H.add_edge(1003, 1002, osmid=15, highway="footway", oneway=False, length=1.0)
    return H


def test_graph_from_osmnx_conversion() -> None:
    G = graph_from_osmnx(osmnx_style_graph(), source="hand-made")
    n = node_of(G)
    assert set(n) == {1001, 1002, 1003}
    assert G.n_edges == 4  # the footway is dropped
    ab = edge(G, n[1001], n[1002])
    assert ab["osmid"] == 11 and ab["highway"] == "primary" and not ab["oneway"]
    assert ab["speed_kph"] == 40.0  # lowest of the maxspeed list caps primary's 50
    geod = GEOD.inv(112.550, 37.850, 112.552, 37.850)[2]
    assert ab["length_m"] == pytest.approx(geod, rel=5e-4)  # recomputed, not osmnx's 176
    bc = edge(G, n[1002], n[1003])
    assert bc["oneway"] and len(shapely.get_coordinates(bc["geometry"])) == 3
    assert not has_edge(G, n[1003], n[1002])
    assert G.crs.to_epsg() == 32649
    assert G.source == "hand-made"


def test_graph_from_osmnx_projected_and_non_int_ids() -> None:
    H = ox.project_graph(osmnx_style_graph(), to_crs="EPSG:32649")
    G = graph_from_osmnx(H)
    assert G.n_edges == 4 and G.crs.to_epsg() == 32649
    labelled = nx.relabel_nodes(osmnx_style_graph(), {1001: "a", 1002: "b", 1003: "c"})
    G2 = graph_from_osmnx(labelled)
    assert G2.n_edges == 4
    assert G2.osm_node_id is None


def test_graph_from_query_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    import requests

    def offline(*args: Any, **kwargs: Any) -> None:
        raise requests.ConnectionError("Failed to resolve 'nominatim.openstreetmap.org'")

    monkeypatch.setattr(ox, "graph_from_place", offline)
    with pytest.raises(NetworkError, match=r"Could not download.*Taiyuan.*graph_from_file"):
        graph_from_query(place="Taiyuan, China")
    monkeypatch.setattr(ox, "graph_from_bbox", lambda bbox, **kw: osmnx_style_graph())
    G = graph_from_query(bbox=(112.54, 37.84, 112.56, 37.86))
    assert G.n_edges == 4 and G.source.startswith("osmnx bbox")
    with pytest.raises(InputError, match="exactly one"):
        graph_from_query()


# ------------------------------------------------------------------------- GeoPackage


def test_save_load_round_trip(tiny: RoadGraph, tmp_path: Path) -> None:
    path = save_graph(tiny, tmp_path / "sub" / "net.gpkg")
    H = load_graph(path)
    # nodes, edges, keys, attributes (geometry exact), as arrays and as networkx sees them
    assert nx.utils.graphs_equal(tiny.to_networkx(), H.to_networkx())
    assert_same_arrays(tiny, H)
    assert H.crs == tiny.crs
    assert H.report == tiny.report
    assert H.source == tiny.source
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["net.gpkg"]
    nodes = gpd.read_file(path, layer="nodes")
    edges = gpd.read_file(path, layer="edges")
    assert len(nodes) == 10 and len(edges) == 19
    assert {"length_m", "speed_kph", "travel_time_s"} <= set(edges.columns)


def test_save_load_round_trip_lines_graph(tmp_path: Path) -> None:
    roads = metric_lines(
        [
            ([(0, 0), (100, 0), (100, 50)], {"highway": "primary", "name": None}),
            ([(100, 50), (0, 0)], {"highway": "residential", "name": "B"}),
        ]
    )
    G = graph_from_lines(roads).to_networkx()
    G.edges[0, 1, 0]["custom_list"] = [1, 2]  # an attribute added downstream, in networkx
    H = load_graph(save_graph(G, tmp_path / "lines.gpkg"))
    assert nx.utils.graphs_equal(G, H.to_networkx())
    assert H.edge_attrs["custom_list"][0] == [1, 2]


def test_load_graph_reads_files_of_the_networkx_version(tiny: RoadGraph) -> None:
    # written by riskplan before the graph became arrays (networkx MultiDiGraph, layout 1)
    H = load_graph(Path(__file__).parent / "fixtures" / "tiny_city_graph_v1.gpkg")
    assert_same_arrays(tiny, H._replace(report=tiny.report, source=tiny.source))  # saved elsewhere
    assert H.report is not None and H.report.n_nodes == 10
    assert H.source == "tests/fixtures/tiny_city.osm.xml"
    assert list(H.highway) == list(tiny.highway) and list(H.name) == list(tiny.name)
    assert not H.edge_attrs and not H.node_attrs


def test_networkx_round_trip(tiny: RoadGraph) -> None:
    H = tiny.to_networkx()
    back = RoadGraph.from_networkx(H)
    assert_same_arrays(tiny, back)
    assert list(back.highway) == list(tiny.highway) and list(back.name) == list(tiny.name)
    assert not back.edge_attrs and not back.node_attrs
    assert nx.utils.graphs_equal(H, back.to_networkx())
    assert list(H.edges(keys=True)) == list(back.to_networkx().edges(keys=True))  # same order


def test_save_graph_is_atomic(tiny: RoadGraph, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pyogrio

    target = tmp_path / "net.gpkg"
    save_graph(tiny, target)
    before = target.read_bytes()
    real = pyogrio.write_dataframe

    def fail_on_edges(df: Any, path: Any, **kw: Any) -> None:
        if kw.get("layer") == "edges":
            raise OSError("disk full")
        real(df, path, **kw)

    monkeypatch.setattr(pyogrio, "write_dataframe", fail_on_edges)
    with pytest.raises(OSError, match="disk full"):
        save_graph(tiny, target)
    assert target.read_bytes() == before  # the old file is intact
    with pytest.raises(OSError, match="disk full"):
        save_graph(tiny, tmp_path / "new.gpkg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.gpkg"]


def test_load_graph_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_graph(tmp_path / "none.gpkg")
    other = tmp_path / "other.gpkg"
    gpd.GeoDataFrame({"a": [1]}, geometry=[Point(0, 0)], crs=4326).to_file(other, layer="nodes")
    with pytest.raises(InputError, match="not a road graph saved by riskplan"):
        load_graph(other)
    with pytest.raises(InputError, match=r"must end in `\.gpkg`"):
        save_graph(nx.MultiDiGraph(crs=UTM49), tmp_path / "net.shp")


# ------------------------------------------------------------------------------ cache


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("RISKPLAN_CACHE_DIR", str(d))
    return d


def test_cached_graph_hit_miss_and_corruption(
    cache_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    src = tmp_path / "roads.bin"
    src.write_bytes(b"version 1")
    calls: list[int] = []

    def build() -> nx.MultiDiGraph:  # builders may return networkx graphs: converted
        calls.append(1)
        return nx.MultiDiGraph([(0, len(calls))])

    key = {"input": src, "speeds": "table-1"}
    G1 = cached_graph(key, build)
    G2 = cached_graph(key, build)
    assert len(calls) == 1 and G2.targets.tolist() == G1.targets.tolist() == [1]
    src.write_bytes(b"version 2")  # file contents changed: miss
    cached_graph(key, build)
    assert len(calls) == 2
    cached_graph({"input": src, "speeds": "table-2"}, build)  # speed table changed: miss
    assert len(calls) == 3
    entry = cache_dir / f"{cache_key(key)}.npz"
    entry.write_bytes(b"\x80\x05garbage")  # corrupt: rebuilt, not fatal
    with caplog.at_level(logging.WARNING, logger="gis.network._cache"):
        G = cached_graph(key, build)
    assert len(calls) == 4 and "unreadable" in caplog.text
    assert (G.sources.tolist(), G.targets.tolist(), G.nodes.tolist()) == ([0], [1], [0, 4])
    assert read_npz(entry).n_edges == 1  # rewritten
    good = entry.read_bytes()
    entry.write_bytes(good[: len(good) // 2])  # truncated (a crash mid-copy): rebuilt
    assert cached_graph(key, build).targets.tolist() == [1] and len(calls) == 5
    np.savez(entry, meta=np.array(json.dumps({"format": "something else"})))  # foreign: rebuilt
    cached_graph(key, build)
    assert len(calls) == 6
    assert not list(cache_dir.glob("*.tmp"))


def test_cache_dir_unwritable_is_not_fatal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("RISKPLAN_CACHE_DIR", str(blocker / "sub"))  # parent is a file
    G = cached_graph(["a"], lambda: nx.MultiDiGraph([(0, 1)]))
    assert G.n_edges == 1


def test_cache_key_depends_on_model_version(monkeypatch: pytest.MonkeyPatch) -> None:
    k1 = cache_key(["a"])
    monkeypatch.setattr(_cache, "GRAPH_MODEL_VERSION", "999")
    assert cache_key(["a"]) != k1


def test_graph_from_file_uses_the_cache(
    cache_dir: Path, tiny_city_osm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    osm = tmp_path / "city.osm"
    osm.write_bytes(tiny_city_osm.read_bytes())
    G1 = graph_from_file(osm)
    assert len(list(cache_dir.glob("*.npz"))) == 1

    def boom(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("builder called on a cache hit")

    monkeypatch.setattr(network.build, "graph_from_osm", boom)  # where graph_from_file finds it
    G2 = graph_from_file(osm)
    assert_same_arrays(G1, G2)
    with pytest.raises(AssertionError, match="cache hit"):
        graph_from_file(osm, road_speeds={"highway": {"residential": {"speed_kph": 20.0}}})
    with pytest.raises(AssertionError, match="cache hit"):
        graph_from_file(osm, cache=False)


def test_graph_from_file_line_layers(tmp_path: Path, tiny_city_osm: Path) -> None:
    ways = read_osm_ways(tiny_city_osm).drop(columns="node_ids")
    gj = tmp_path / "roads.geojson"
    ways.to_file(gj, driver="GeoJSON")
    gz = tmp_path / "roads.geojson.gz"
    gz.write_bytes(gzip.compress(gj.read_bytes()))
    for path in (gj, gz):
        G = graph_from_file(path, cache=False)
        assert (G.n_nodes, G.n_edges) == (10, 19)
        assert G.source == str(path)
    with pytest.raises(InputError, match="does not exist"):
        graph_from_file(tmp_path / "missing.gpkg")
    junk = tmp_path / "junk.gpkg"
    junk.write_text("not a geopackage")
    with pytest.raises(InputError, match=r"Could not read road lines from `.*junk\.gpkg`"):
        graph_from_file(junk, cache=False)


# ---------------------------------------------------------------------------- real data


@pytest.mark.realdata
def test_taiyuan_lines(shared_data_dir: Path) -> None:
    G = graph_from_file(shared_data_dir / "taiyuan" / "roads_osm.geojson.gz", cache=False)
    r = G.report
    assert r.n_lines_in == 4412
    assert 3000 <= r.n_lines_in - r.n_lines_skipped <= 3300  # about 3,100 drivable lines
    assert 3000 < r.n_nodes < 10000
    assert r.n_nodes >= 0.8 * (r.n_nodes + r.n_dropped_nodes)
    assert G.crs.to_epsg() == 32649
    assert strongly_connected(G)
    oneway = sum(d["oneway"] for *_, d in edges(G))
    assert oneway > 1000  # other_tags oneway=yes is read (dual carriageways)


@pytest.mark.realdata
def test_chengdu_xml_matches_osmnx(shared_data_dir: Path) -> None:
    path = shared_data_dir / "chengdu" / "chengdu_osm.osm.bz2"
    G = graph_from_osm(path)
    H = _osmnx_reference(path)
    assert strongly_connected(G)
    ours = sum(d["length_m"] for *_, d in edges(G))
    theirs = sum(d["length"] for *_, d in H.edges(data=True))
    assert ours == pytest.approx(theirs, rel=1e-3)
    # we keep every osmnx node, plus nodes where two ways meet end to end (osmnx merges those)
    mine = set(node_of(G))
    assert len(set(H.nodes) - mine) <= 2
    assert G.n_nodes >= len(H)


@pytest.mark.realdata
def test_aguascalientes_pbf(shared_data_dir: Path) -> None:
    G = graph_from_osm(shared_data_dir / "fixtures" / "aguascalientes.osm.pbf")
    r = G.report
    assert 400 <= r.n_lines_in - r.n_lines_skipped <= 700  # about 580 drivable ways
    assert r.n_nodes > 500 and strongly_connected(G)
    assert G.crs.to_epsg() == 32613
    speeds = {d["speed_kph"] for *_, d in edges(G)}
    assert speeds <= {v["speed_kph"] for v in speed_table()["highway"].values()} | {20.0, 40.0, 50.0}
