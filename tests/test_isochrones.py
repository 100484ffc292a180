"""Isochrones grow with the break, follow the reached road, and count the people inside."""

from __future__ import annotations

import itertools

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

from gis import RoadGraph, demo_city, graph_from_lines
from planning.isochrones import _pixel_polygon, _raster, band_population, isochrones
from planning.snapping import snap_stations
from planning.travel import road_matrix


@pytest.fixture(scope="module")
def demo() -> tuple[RoadGraph, pd.Series, gpd.GeoDataFrame]:
    raw = demo_city(n_road_nodes=2000)
    G = graph_from_lines(raw["roads"])
    nodes = snap_stations(G, raw["fire_stations"])["node"]
    return G, nodes, raw["communities"]


def test_areas_grow_with_the_break(demo: tuple[RoadGraph, pd.Series, gpd.GeoDataFrame]) -> None:
    G, nodes, communities = demo
    iso = isochrones(G, nodes, breaks_s=[120, 180, 300, 480], offset_s=60)
    for _, rows in iso.groupby("station"):
        assert rows["area_km2"].is_monotonic_increasing
        assert rows["area_km2"].iloc[-1] > rows["area_km2"].iloc[0] > 0
        polys = rows.geometry.to_numpy()
        for small, big in itertools.pairwise(polys):
            assert small.difference(big).area < 1e-6
    pop = band_population(iso, communities)
    assert (pop["population_band"] >= 0).all()
    per_station = pop.groupby("station")["population_band"].sum()
    last = pop.groupby("station")["population_within"].last()
    assert np.allclose(per_station, last)
    assert (last <= communities["population"].sum() + 1e-6).all()


def test_partial_edges_and_offset() -> None:
    G = nx.MultiDiGraph(crs="EPSG:32649")
    G.add_node(0, x=0.0, y=0.0)
    G.add_node(1, x=1000.0, y=0.0)
    G.add_edge(0, 1, travel_time_s=100.0)
    G.add_edge(1, 0, travel_time_s=100.0)
    src = pd.Series([0], index=["S"])
    iso = isochrones(G, src, breaks_s=[10, 60, 110], offset_s=10, buffer_m=50, pixel_m=10, max_hole_m2=0)
    assert iso["area_km2"].iloc[0] == 0
    # half the road (500 m) reached after 50 s of travel: a band about 500 m x 100 m plus the end cap
    half = iso.geometry.iloc[1]
    assert 0.045 < iso["area_km2"].iloc[1] < 0.065
    assert half.bounds[2] == pytest.approx(500, abs=20)
    assert iso.geometry.iloc[2].covers(shapely.Point(1000, 0))


def test_bad_breaks(demo: tuple[RoadGraph, pd.Series, gpd.GeoDataFrame]) -> None:
    G, nodes, _ = demo
    with pytest.raises(ValueError, match="breaks_s"):
        isochrones(G, nodes, breaks_s=[])


def test_run_polygons_equal_the_union_of_pixel_squares(
    demo: tuple[RoadGraph, pd.Series, gpd.GeoDataFrame],
) -> None:
    # isochrones merge each row's runs of pixels before the coverage union: same polygon as the squares
    G, _, _ = demo
    grid = _raster(road_matrix(G), 50.0, 100.0)
    rng = np.random.default_rng(3)
    x0, x1 = grid.x_edges[grid.col], grid.x_edges[grid.col + 1]
    y0, y1 = grid.y_edges[grid.row], grid.y_edges[grid.row + 1]
    for share in (0.0, 0.05, 0.5, 0.95, 1.0):
        inside = rng.random(len(grid.col)) < share
        got = _pixel_polygon(grid, inside)
        squares = shapely.box(x0[inside], y0[inside], x1[inside], y1[inside])
        want = shapely.coverage_union_all(squares) if inside.any() else shapely.Polygon()
        assert got.is_valid
        assert got.equals(want)
        assert got.area == pytest.approx(inside.sum() * 50.0**2, rel=1e-9)


def test_cached_raster_gives_the_same_isochrones(
    demo: tuple[RoadGraph, pd.Series, gpd.GeoDataFrame],
) -> None:
    # the pixel raster is built once per road matrix: a second call, and a call on a fresh copy
    # of the graph (a new matrix, so a new raster), give the same polygons
    G, nodes, _ = demo
    first = isochrones(G, nodes, breaks_s=[180, 300], offset_s=60)
    again = isochrones(G, nodes, breaks_s=[180, 300], offset_s=60)
    fresh = isochrones(G.with_travel_times(G.travel_time_s), nodes, breaks_s=[180, 300], offset_s=60)
    other = isochrones(G, nodes.iloc[:2], breaks_s=[300], offset_s=60, pixel_m=25)
    for out in (again, fresh):
        assert out["n_pixels"].tolist() == first["n_pixels"].tolist()
        assert shapely.equals(out.geometry.to_numpy(), first.geometry.to_numpy()).all()
    assert (other["n_pixels"] > first.loc[first["break_s"] == 300, "n_pixels"].iloc[:2].to_numpy()).all()
