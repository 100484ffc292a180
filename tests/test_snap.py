"""Snapping points to the road graph (:func:`planning.snap_points`, the one snapping function)."""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely import LineString, Point, Polygon

from gis.errors import CRSError, InputError, NetworkError, SnapError
from gis.network import graph_from_osm
from gis.snap import edge_geometries, require_snapped
from planning.snapping import snap_points

UTM49 = "EPSG:32649"
X0, Y0 = 500_000.0, 4_190_000.0


@pytest.fixture(scope="module")
def square_graph() -> nx.MultiDiGraph:
    """0 (0,0) <-> 1 (100,0) straight; 1 -> 2 bent through (150, 50); 2 -> 0 via (0, 100).

    Edges carry ``travel_time_s`` (10 m/s), as every graph of :mod:`gis.network` does.
    """
    G = nx.MultiDiGraph(crs=UTM49)
    for n, (x, y) in enumerate([(0, 0), (100, 0), (100, 100)]):
        G.add_node(n, x=X0 + x, y=Y0 + y)
    G.add_edge(0, 1, length_m=100.0)
    G.add_edge(1, 0, length_m=100.0)
    bend = LineString([(X0 + 100, Y0), (X0 + 150, Y0 + 50), (X0 + 100, Y0 + 100)])
    G.add_edge(1, 2, geometry=bend, length_m=bend.length)
    back = LineString([(X0 + 100, Y0 + 100), (X0, Y0 + 100), (X0, Y0)])
    G.add_edge(2, 0, geometry=back, length_m=back.length)
    for *_, d in G.edges(data=True):
        d["travel_time_s"] = d["length_m"] / 10.0
    return G


def local(points: list[tuple[float, float]], index: list[str] | None = None) -> gpd.GeoSeries:
    return gpd.GeoSeries([Point(X0 + x, Y0 + y) for x, y in points], index=index, crs=UTM49)


def test_distances_by_hand(square_graph: nx.MultiDiGraph) -> None:
    pts = local([(30, 10), (80, -5), (130, 90), (20, 60)], index=["a", "b", "c", "d"])
    df = snap_points(square_graph, pts, max_snap_m=100)
    assert df.index.tolist() == ["a", "b", "c", "d"]
    assert list(df.columns[:4]) == ["node", "snap_distance_m", "node_distance_m", "flagged"]
    # a: 10 m above the 0-1 road, 30 m from node 0
    assert df.loc["a", "snap_distance_m"] == pytest.approx(10.0)
    assert df.loc["a", "node"] == 0
    assert df.loc["a", "node_distance_m"] == pytest.approx(np.hypot(30, 10))
    assert df.loc["a", "along_m"] == pytest.approx(30.0)
    # b: 5 m below, 80 m along: node 1 is nearer
    assert (df.loc["b", "snap_distance_m"], df.loc["b", "node"]) == (pytest.approx(5.0), 1)
    # c: beside the bend's second segment, on the line x + y = 200; foot at (120, 80)
    assert df.loc["c", "snap_distance_m"] == pytest.approx(20 / np.sqrt(2))
    assert (df.loc["c", "u"], df.loc["c", "v"]) == (1, 2) and df.loc["c", "node"] == 2
    assert df.loc["c", "along_m"] == pytest.approx(np.hypot(50, 50) + np.hypot(30, 30))
    # d: 20 m from the west side of 2 -> 0, 140 m along it: node 0 is nearer
    assert df.loc["d", "snap_distance_m"] == pytest.approx(20.0)
    assert (df.loc["d", "u"], df.loc["d", "node"], df.loc["d", "along_m"]) == (2, 0, 140.0)
    assert not df["flagged"].any()
    assert df.attrs["max_snap_m"] == 100


def test_matches_brute_force(square_graph: nx.MultiDiGraph) -> None:
    rng = np.random.default_rng(7)
    xy = rng.uniform(-200, 300, size=(200, 2))
    pts = local([tuple(p) for p in xy])
    df = snap_points(square_graph, pts)
    _, geoms = edge_geometries(square_graph)
    brute = np.array([min(shapely.distance(g, p) for g in geoms) for p in pts])
    np.testing.assert_allclose(df["snap_distance_m"], brute, atol=1e-9)
    node_xy = np.array([(d["x"], d["y"]) for _, d in square_graph.nodes(data=True)])
    chosen = node_xy[df["node"].to_numpy()]
    np.testing.assert_allclose(df["node_distance_m"], np.hypot(*(shapely.get_coordinates(pts) - chosen).T))


def test_far_point_is_flagged_not_dropped(
    square_graph: nx.MultiDiGraph, caplog: pytest.LogCaptureFixture
) -> None:
    pts = local([(50, 1), (-5000, 0)], index=["near", "far-away"])
    with caplog.at_level(logging.WARNING, logger="gis.snap"):  # the shared flag rule logs there
        df = snap_points(square_graph, pts, max_snap_m=500, layer="fire_stations")
    assert df["flagged"].tolist() == [False, True]
    assert df.loc["far-away", "node"] == 0  # still has its nearest node
    assert df.loc["far-away", "snap_distance_m"] == pytest.approx(5000.0)
    assert "far-away" in caplog.text and "fire_stations" in caplog.text
    with pytest.raises(SnapError, match=r"layer `fire_stations`.*far-away \(5,000 m\).*max_snap_m"):
        require_snapped(df, layer="fire_stations", file="stations.gpkg")
    ok = require_snapped(df.loc[["near"]], layer="fire_stations")
    assert ok.index.tolist() == ["near"]


def test_default_limit_from_the_speed_table(square_graph: nx.MultiDiGraph) -> None:
    df = snap_points(square_graph, local([(50, -499), (50, -501)]))
    assert df.attrs["max_snap_m"] == 500.0
    assert df["flagged"].tolist() == [False, True]


def test_reprojects_geographic_points(tiny_city_osm: Path) -> None:
    G = graph_from_osm(tiny_city_osm)
    pts = gpd.GeoDataFrame(geometry=[Point(112.5505, 37.8502)], index=["s1"], crs=4326)
    df = snap_points(G, pts)
    # 0.0002 degree of latitude north of Yingze Street (lat 37.85): about 22.2 m
    assert df.loc["s1", "snap_distance_m"] == pytest.approx(22.2, abs=0.1)
    assert G.osm_node_id[df.loc["s1", "node"]] in {1, 2}


def test_polygons_use_a_point_inside(square_graph: nx.MultiDiGraph) -> None:
    square = Polygon([(X0 + 40, Y0 + 20), (X0 + 60, Y0 + 20), (X0 + 60, Y0 + 40), (X0 + 40, Y0 + 40)])
    df = snap_points(square_graph, gpd.GeoDataFrame(geometry=[square], crs=UTM49))
    inside = square.representative_point()
    assert df["snap_distance_m"].iloc[0] == pytest.approx(inside.y - Y0)


def test_errors(square_graph: nx.MultiDiGraph) -> None:
    with pytest.raises(CRSError, match="no CRS"):
        snap_points(square_graph, gpd.GeoSeries([Point(0, 0)]), layer="depots")
    with pytest.raises(InputError, match=r"rows \['b'\]"):
        snap_points(square_graph, gpd.GeoSeries([Point(X0, Y0), None], index=["a", "b"], crs=UTM49))
    with pytest.raises(NetworkError, match="no edges"):
        snap_points(nx.MultiDiGraph(crs=UTM49), local([(0, 0)]))


def test_empty_input(square_graph: nx.MultiDiGraph) -> None:
    df = snap_points(square_graph, gpd.GeoSeries([], crs=UTM49))
    assert df.empty and "flagged" in df.columns
    assert isinstance(require_snapped(df, layer="x"), pd.DataFrame)


def test_an_area_a_road_touches_is_on_the_network_though_its_inside_is_far(square_graph) -> None:
    # a long thin community from the 0-1 road southwards: its inside point is ~300 m from it
    strip = shapely.box(X0 + 40, Y0 - 600, X0 + 60, Y0)
    island = shapely.box(X0 + 40, Y0 - 900, X0 + 60, Y0 - 700)  # 700 m from every road
    areas = gpd.GeoSeries([strip, island], index=["strip", "island"], crs=UTM49)
    df = snap_points(square_graph, areas, max_snap_m=100)
    assert df.loc["strip", "snap_distance_m"] == pytest.approx(300.0, abs=1)  # time: to its inside
    assert df.loc["strip", "road_distance_m"] == pytest.approx(0.0)
    assert df.loc["island", "road_distance_m"] == pytest.approx(700.0)
    assert df["flagged"].tolist() == [False, True]


def test_the_engine_uses_the_same_snap(square_graph) -> None:
    """Coverage and plans snap with the engine's private helper: the same columns and values."""
    from planning.snapping import _snap_points
    from planning.travel import road_matrix

    pts = local([(30, 10), (80, -5), (130, 90), (20, 60)], index=["a", "b", "c", "d"])
    public = snap_points(square_graph, pts, max_snap_m=100)
    engine = _snap_points(road_matrix(square_graph), pts, layer=None, max_snap_m=100)
    pd.testing.assert_frame_equal(public, engine)
    assert list(public.columns) == [
        "node",
        "snap_distance_m",
        "node_distance_m",
        "flagged",
        "u",
        "v",
        "key",
        "along_m",
        "road_distance_m",
        "edge",
        "frac",
    ]


def test_road_distances_within_the_limit_flag_exactly_as_the_full_search() -> None:
    """The bounded search (coverage's layers) flags every feature as the unbounded one does.

    Includes a polygon at exactly the limit from the road, and polygons far beyond it.
    """
    from gis.snap import road_distances

    lines = np.array([LineString([(0, 0), (1000, 0)]), LineString([(0, 0), (0, 1000)])])
    tree = shapely.STRtree(lines)
    rng = np.random.default_rng(11)
    corner = rng.uniform(-3000, 3000, (400, 2))
    polys = np.array([shapely.box(x, y, x + 300, y + 300) for x, y in corner], dtype=object)
    polys = np.append(polys, shapely.box(200, -700, 400, -500))  # exactly 500 m below the road
    pts = shapely.centroid(polys)
    snap = shapely.distance(pts, shapely.union_all(lines))
    exact = road_distances(polys, pts, snap, tree)
    bounded = road_distances(polys, pts, snap, tree, within_m=500.0)
    assert exact[-1] == 500.0 and bounded[-1] == 500.0
    np.testing.assert_array_equal(exact > 500.0, bounded > 500.0)
    assert (exact > 500.0).any() and (exact <= 500.0).any()
    searched = (snap > 500.0) & (bounded <= 500.0)  # found within the limit: the exact distance
    np.testing.assert_array_equal(bounded[searched], exact[searched])
    assert (bounded >= exact).all()  # elsewhere an upper bound: the point's own distance


def test_nearest_distances_of_polygons_on_and_off_the_roads_equal_the_brute_force_minimum():
    from gis.snap import nearest_distances

    rng = np.random.default_rng(3)
    starts = rng.uniform(0, 1_000, (400, 2))
    lines = shapely.linestrings(np.stack([starts, starts + rng.uniform(-60, 60, (400, 2))], axis=1))
    centres = rng.uniform(-200, 1_200, (150, 2))
    polygons = shapely.buffer(shapely.points(centres), rng.uniform(5, 40, 150))
    tree = shapely.STRtree(lines)
    which, dist = nearest_distances(tree, polygons)
    brute = shapely.distance(polygons[:, None], lines[None, :]).min(axis=1)
    assert (which == np.arange(150)).all()
    assert (dist == brute).all()
    assert (dist == 0).sum() > 10 and (dist > 0).sum() > 10  # both kinds of feature were asked
    _, bounded = nearest_distances(tree, polygons, max_distance=50.0)
    assert (bounded == brute[brute <= 50.0]).all()
