"""Station districts on a hand-made two-bank network with one bridge, and on the demo city."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from gis import graph_from_lines
from planning.districts import station_districts
from planning.snapping import snap_stations
from planning.travel import road_matrix

CRS = "EPSG:32649"


def _two_banks() -> tuple[object, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """West bank x 0..1000, river x 1000..1200, east bank x 1200..3000; one bridge at y = 0."""
    lines = []
    for x0, x1 in ((0, 1000), (1200, 3000)):  # 200 m street grid, one segment per block side
        for x in range(x0, x1 + 1, 200):
            for y in range(0, 1001, 200):
                if x < x1:
                    lines.append(shapely.LineString([(x, y), (x + 200, y)]))
                if y < 1000:
                    lines.append(shapely.LineString([(x, y), (x, y + 200)]))
    lines.append(shapely.LineString([(1000, 0), (1200, 0)]))  # the bridge
    roads = gpd.GeoDataFrame({"highway": ["primary"] * len(lines)}, geometry=lines, crs=CRS)
    graph = graph_from_lines(roads)
    stations = gpd.GeoDataFrame(
        {"grade": ["grade1", "small"]},
        geometry=shapely.points([(900, 0), (1800, 600)]),
        crs=CRS,
        index=pd.Index(["A", "B"], name="id"),
    )
    stations["node"] = snap_stations(graph, stations)["node"]
    river = gpd.GeoDataFrame({"kind": ["river"]}, geometry=[shapely.box(1000, -200, 1200, 1200)], crs=CRS)
    return graph, stations, river


def _node_at(graph: object, x: float, y: float) -> object:
    m = road_matrix(graph)
    return m.nodes[((m.xy - (x, y)) ** 2).sum(axis=1).argmin()]


def test_two_banks_districts_and_enclave() -> None:
    graph, stations, river = _two_banks()
    d = station_districts(graph, stations, barriers=river, extent=shapely.box(-100, -100, 3100, 1100))
    owner = d.node_station
    assert owner[_node_at(graph, 0, 1000)] == "A"
    assert owner[_node_at(graph, 1200, 0)] == "A"  # across the bridge, nearer to A than to B
    assert owner[_node_at(graph, 1400, 0)] == "A"
    assert owner[_node_at(graph, 3000, 0)] == "B"
    assert owner[_node_at(graph, 1200, 1000)] == "B"
    # A's district is the west bank plus a patch on the far bank: one enclave across the river
    assert d.districts.loc["A", "n_enclaves"] == 1
    assert d.enclaves["station"].tolist() == ["A"]
    assert d.enclaves["kind"].tolist() == ["across_barrier"]
    assert d.enclaves.geometry.iloc[0].centroid.x > 1200
    assert (d.violations["kind"] == "enclave").sum() == 1
    # areas: the west bank (minus river) and the east bank add up to the extent
    total = d.districts["area_km2"].sum()
    assert total == pytest.approx((3200 * 1200 - 200 * 1200) / 1e6, rel=1e-6)


def test_area_caps_and_farthest_edge() -> None:
    graph, stations, river = _two_banks()
    d = station_districts(graph, stations, barriers=river, standard="cn-gb51080")
    b = d.districts.loc["B"]
    assert b["cap_km2"] == 2.0
    assert b["area_km2"] > 0
    # B's farthest edge lies beyond its nodes only where it meets A: never below its farthest node
    m = road_matrix(graph)
    times = m.one_to_all(m.positions([stations.loc["B", "node"]]))[:, 0]
    mine = (d.node_station == "B").to_numpy()
    assert b["farthest_travel_s"] >= times[mine].max() - 1e-9
    assert b["farthest_travel_s"] <= times[mine].max() + m.edge_cost.max()  # at most one edge beyond
    assert bool(b["travel_ok"]) == (b["farthest_travel_s"] <= 240.0)
    kinds = set(d.violations["kind"])
    assert kinds <= {"area_cap", "district_travel", "enclave"}
    slow = station_districts(graph, stations, barriers=river, speed_factor=0.5)
    assert (slow.districts["farthest_travel_s"] >= d.districts["farthest_travel_s"] * 2 - 1e-6).all()
    assert m.n_nodes == len(d.node_station)


def test_suburban_cap_and_unknown_station() -> None:
    graph, stations, river = _two_banks()
    d = station_districts(graph, stations, barriers=river, suburban=["B"])
    assert d.districts.loc["B", "cap_km2"] == 15.0
    with pytest.raises(ValueError, match="not in the stations"):
        station_districts(graph, stations, suburban=["Z"])


def test_voronoi_reuse_across_calls_and_extents() -> None:
    # the Voronoi cells are cached per road matrix and clip envelope: results never depend on
    # what ran before (fresh graph copy = no cache)
    graph, stations, river = _two_banks()
    small = shapely.box(-100, -100, 3100, 1100)
    big = shapely.box(-500, -500, 3500, 1500)
    runs = [
        station_districts(graph, stations, barriers=river, extent=small),
        station_districts(graph, stations, barriers=river, extent=big),
        station_districts(graph, stations, barriers=river, extent=small),
    ]
    copy = graph.with_travel_times(graph.travel_time_s)  # same roads, a new graph: no cached matrix
    fresh = [station_districts(copy, stations, barriers=river, extent=e) for e in (small, big)]
    for got, want in zip(runs, [fresh[0], fresh[1], fresh[0]], strict=True):
        assert shapely.equals(got.districts.geometry.to_numpy(), want.districts.geometry.to_numpy()).all()
        pd.testing.assert_frame_equal(got.violations, want.violations)
    assert runs[1].districts["area_km2"].sum() == pytest.approx((4000 * 2000 - 200 * 1400) / 1e6, rel=1e-6)
