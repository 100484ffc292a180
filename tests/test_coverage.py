"""Response coverage: properties, the demo city, bad input, and Chengdu with its real fire stations."""

from __future__ import annotations

import math

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from gis import (
    InputError,
    NetworkError,
    RoadGraph,
    RoadsSource,
    Scenario,
    SnapError,
    demo_city,
    graph_from_lines,
)
from planning import analyse_coverage, layer_coverage
from planning.standards import response_standard
from planning.travel import nearest_sources, travel_times


@pytest.fixture(scope="module")
def city() -> tuple[Scenario, RoadGraph]:
    raw = demo_city(n_road_nodes=2000)
    sc = Scenario("Demo City (synthetic)", raw, raw["roads"].crs, RoadsSource("layer"), synthetic=True)
    return sc, graph_from_lines(raw["roads"])


@settings(max_examples=60, deadline=None)
@given(st.integers(3, 15), st.data())
def test_adding_a_station_never_lengthens(n: int, data: st.DataObject) -> None:
    edges = data.draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.integers(1, 90))))
    G = nx.MultiDiGraph()
    G.add_nodes_from(range(n))
    for u, v, w in edges:
        G.add_edge(u, v, travel_time_s=float(w))
    stations = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=3, unique=True))
    extra = data.draw(st.integers(0, n - 1))
    before, _ = nearest_sources(G, stations)
    after, _ = nearest_sources(G, [*stations, extra])
    assert (after <= before).all()
    # second-nearest as well: the k-th smallest time never grows when a column is added
    two = np.sort(travel_times(G, stations), axis=1)
    two_after = np.sort(travel_times(G, [*stations, extra]), axis=1)
    assert (two_after[:, : len(stations)] <= two).all()


def test_adding_a_station_on_the_demo_city(city: tuple[Scenario, RoadGraph]) -> None:
    sc, G = city
    st_ = sc["fire_stations"]
    com = sc["communities"]
    base = layer_coverage(G, st_, com, layer="communities")
    extra = sc["candidate_sites"].iloc[[0]].assign(name="new", grade="grade2")
    more = layer_coverage(G, gpd.GeoDataFrame(pd.concat([st_, extra]), crs=st_.crs), com)
    assert (more["response_time_s"] <= base["response_time_s"] + 1e-9).all()
    assert (more["n_stations_within"] >= base["n_stations_within"]).all()


def test_demo_city_coverage(city: tuple[Scenario, RoadGraph], tmp_path: object) -> None:
    sc, G = city
    res = analyse_coverage(sc, G, breaks_s=[180, 300])
    com = res.communities
    assert com.index.equals(sc["communities"].index)
    assert (com["second_response_time_s"] >= com["response_time_s"]).all()
    assert (com["response_time_s"] >= 60.0).all()
    assert com["covered"].equals((com["response_time_s"] <= 300.0) & ~com["flagged"])
    # the demo city's stations are all west of the river: the east is poorly covered
    share = res.summary.loc["communities", "share_weight"]
    assert 0.2 < share < 0.9
    assert not res.summary.loc["hazards", "meets_standard"]
    assert res.hazards_by_grade["hazards"].sum() == len(sc["hazards"])
    assert set(res.violations["kind"]) <= {"area_cap", "district_travel", "enclave"}
    assert len(res.districts) == len(sc["fire_stations"])
    out = res.write(tmp_path / "coverage.gpkg")  # type: ignore[operator]
    layers = {name for name, _ in pyogrio.list_layers(out)}
    assert {"communities", "hazards", "area_units", "isochrones", "districts", "summary"} <= layers
    assert "Demo City (synthetic)" in res.report()


def test_profiles_and_speed_factor(city: tuple[Scenario, RoadGraph]) -> None:
    sc, G = city
    gb = layer_coverage(G, sc["fire_stations"], sc["hazards"], standard="cn-gb51080")
    nfpa = layer_coverage(G, sc["fire_stations"], sc["hazards"], standard="nfpa-1710")
    assert np.allclose(nfpa["response_time_s"] - gb["response_time_s"], 20.0)
    assert "n_stations_full_alarm" in nfpa.columns
    slow = layer_coverage(G, sc["fire_stations"], sc["hazards"], speed_factor=0.5)
    assert np.allclose(slow["travel_time_s"], 2 * gb["travel_time_s"])
    custom = layer_coverage(G, sc["fire_stations"], sc["hazards"], standard={"turnout_s": 0, "travel_s": 60})
    assert np.allclose(custom["response_time_s"], gb["travel_time_s"])


def test_bad_profiles() -> None:
    with pytest.raises(InputError, match=r"`nfpa-1710`: `turnout_s` is -80"):
        response_standard("nfpa-1710", response_standards={"profiles": {"nfpa-1710": {"turnout_s": -80}}})
    with pytest.raises(InputError, match="Unknown response profile `gb`"):
        response_standard("gb")
    with pytest.raises(InputError, match="has no `travel_s`"):
        response_standard({"turnout_s": 60})


def test_bad_stations(city: tuple[Scenario, RoadGraph]) -> None:
    sc, G = city
    st_ = sc["fire_stations"]
    with pytest.raises(InputError, match="has no stations"):
        layer_coverage(G, st_.iloc[:0], sc["communities"])
    far = st_.copy()
    far.loc["FS2", "geometry"] = shapely.Point(far.geometry["FS2"].x - 30_000, far.geometry["FS2"].y)
    with pytest.raises(SnapError, match=r"FS2 \(2\d,\d{3} m\)"):
        layer_coverage(G, far, sc["communities"])


def test_community_far_from_roads_is_flagged(city: tuple[Scenario, RoadGraph]) -> None:
    sc, G = city
    com = sc["communities"].copy()
    first = com.index[0]
    com.loc[first, "geometry"] = shapely.Point(com.geometry[first].centroid.x - 30_000, 4240000).buffer(50)
    out = layer_coverage(G, sc["fire_stations"], com, layer="communities")
    assert out.loc[first, "flagged"] and not out.loc[first, "covered"]
    assert out.loc[first, "snap_distance_m"] > 20_000


def test_station_on_a_dropped_component() -> None:
    crs = "EPSG:32649"
    main = [shapely.LineString([(x, 0), (x + 100, 0)]) for x in range(0, 1000, 100)]
    island = [shapely.LineString([(0, 300), (100, 300)])]
    roads = gpd.GeoDataFrame({"highway": ["primary"] * 11}, geometry=main + island, crs=crs)
    G = graph_from_lines(roads, keep_largest=False)
    stations = gpd.GeoDataFrame(
        {"grade": ["grade1", "grade1"]},
        geometry=shapely.points([(500, 0), (50, 300)]),
        crs=crs,
        index=pd.Index(["ok", "island"], name="id"),
    )
    with pytest.raises(NetworkError, match=r"island \(node \d+, reaches a part of 2 of 13 nodes\)"):
        layer_coverage(G, stations, stations)


@pytest.mark.realdata
def test_chengdu_real_fire_stations(shared_data_dir: object) -> None:
    from gis.network import graph_from_osm
    from gis.osm import read_osm_features

    path = shared_data_dir / "chengdu" / "chengdu_osm.osm.bz2"  # type: ignore[operator]
    G = graph_from_osm(path)
    stations = read_osm_features(path, {"amenity": "fire_station"})
    assert len(stations) == 3
    stations = stations.to_crs(G.crs).reset_index(drop=True)
    stations.index = pd.Index([f"CD{i}" for i in range(len(stations))], name="id")
    stations.geometry = stations.geometry.representative_point()
    nodes = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy(G.node_xy[:, 0], G.node_xy[:, 1]),
        crs=G.crs,
    )
    out = layer_coverage(G, stations, nodes.iloc[::25], layer="nodes")
    finite = out["response_time_s"][np.isfinite(out["response_time_s"])]
    assert len(finite) == len(out)
    assert 0.05 < out["covered"].mean() < 1.0
    assert math.isclose(out["response_time_s"].min(), 60.0, abs_tol=60.0)


def test_layer_coverage_against_a_network_worked_by_hand() -> None:
    """Three streets worked by hand and by networkx: turnout + travel to the node + the snap fraction."""
    from gis.tables import load_table

    crs = "EPSG:32649"
    x0, y0 = 500_000.0, 4_190_000.0
    lines = [
        shapely.LineString([(x0, y0), (x0 + 1000, y0)]),  # 0 - 1, both ways
        shapely.LineString([(x0 + 1000, y0), (x0 + 2000, y0)]),  # 1 - 2, both ways
        shapely.LineString([(x0 + 2000, y0), (x0 + 2000, y0 + 800)]),  # 2 -> 3, one way north
    ]
    roads = gpd.GeoDataFrame(
        {"highway": ["primary", "primary", "secondary"], "oneway": ["no", "no", "yes"]},
        geometry=lines,
        crs=crs,
    )
    G = graph_from_lines(roads, keep_largest=False)
    speeds = load_table("road_speeds")["highway"]
    primary_s = 1000 / (float(speeds["primary"]["speed_kph"]) / 3.6)
    secondary_s = 800 / (float(speeds["secondary"]["speed_kph"]) / 3.6)
    stations = gpd.GeoDataFrame(geometry=[shapely.Point(x0, y0)], crs=crs, index=pd.Index(["S"]))
    places = gpd.GeoDataFrame(
        geometry=[
            shapely.Point(x0 + 1500, y0 + 30),  # halfway along 1 - 2, 30 m off the road
            shapely.Point(x0 + 2010, y0 + 200),  # a quarter up the one-way street
            shapely.Point(x0 + 1000, y0 + 900),  # 900 m from every road: off the network
        ],
        crs=crs,
        index=pd.Index(["mid", "north", "far"]),
    )
    std = response_standard("cn-gb51080")
    out = layer_coverage(G, stations, places, standard=std)
    by_hand = {
        "mid": std.turnout_s + primary_s * 1.5,
        "north": std.turnout_s + 2 * primary_s + 0.25 * secondary_s,
    }
    H = G.to_networkx()  # networkx Dijkstra as the independent reference
    source = next(n for n, d in H.nodes(data=True) if d["x"] == x0)
    dist = nx.single_source_dijkstra_path_length(H, source, weight="travel_time_s")
    node_at = {(d["x"], d["y"]): n for n, d in H.nodes(data=True)}
    by_networkx = {
        "mid": std.turnout_s + dist[node_at[(x0 + 1000, y0)]] + 0.5 * primary_s,
        "north": std.turnout_s + dist[node_at[(x0 + 2000, y0)]] + 0.25 * secondary_s,
    }
    for place in ("mid", "north"):
        assert out.loc[place, "response_time_s"] == pytest.approx(by_hand[place], abs=1e-6)
        assert out.loc[place, "response_time_s"] == pytest.approx(by_networkx[place], abs=1e-6)
        assert bool(out.loc[place, "covered"]) == (by_hand[place] <= std.response_s)
    assert out.loc["mid", "snap_distance_m"] == pytest.approx(30.0)
    assert bool(out.loc["far", "flagged"]) and not bool(out.loc["far", "covered"])


@pytest.mark.parametrize(
    "extent",
    [
        shapely.Point(500_123.4, 4_190_777.7).buffer(9_000.0, 32),  # curved boundary
        shapely.box(500_000.3, 4_190_000.9, 540_000.1, 4_215_000.7),  # a province's rectangle
        shapely.Polygon(  # a hole and a concave side
            [(0, 0), (20_000, 0), (20_000, 15_000), (9_000, 6_000), (0, 15_000)],
            [[(2_000, 1_000), (6_000, 1_000), (6_000, 4_000), (2_000, 4_000)]],
        ),
    ],
)
def test_area_grid_equals_clipping_every_box(extent: shapely.Polygon) -> None:
    """Boxes inside the extent are written, not clipped: the same cells, coordinates in the same order."""
    from planning.response import area_grid

    cell_m = 500.0
    got = area_grid(extent, cell_m=cell_m, crs=32649)
    x0, y0, x1, y1 = extent.bounds
    gx, gy = np.meshgrid(np.arange(x0, x1, cell_m), np.arange(y0, y1, cell_m))
    boxes = shapely.box(gx.ravel(), gy.ravel(), gx.ravel() + cell_m, gy.ravel() + cell_m)
    cells = shapely.intersection(boxes[shapely.intersects(boxes, extent)], extent)
    cells = cells[shapely.area(cells) > 0]  # the clip of every box, as area_grid did before
    assert len(got) == len(cells)
    assert shapely.equals_exact(got.geometry.to_numpy(), cells, tolerance=0).all()
    np.testing.assert_array_equal(got["area_km2"].to_numpy(), shapely.area(cells) / 1e6)
    assert not shapely.is_prepared(extent)
